/**
 * Name rules for domains and snapshots. Names are data, never paths: whatever stores or
 * derives file names from them can rely on these checks (docs/design.md), and every way a name
 * enters (XML, API arguments, the wire) goes through the same function.
 */
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { confError } from './xml.js';

/** What a name belongs to: decides the error domain of the report. */
export type NameKind = 'domain' | 'snapshot' | 'checkpoint' | 'network' | 'pool' | 'volume';

/**
 * Longest name accepted, in UTF-8 bytes: the usual file name limit (NAME_MAX), so that a
 * driver that does keep per-name files never meets a name its file system refuses.
 */
export const MAX_NAME_BYTES = 255;

/**
 * Checks a domain or snapshot name.
 *
 * - missing or empty: VIR_ERR_NO_NAME, "missing name information" (libvirt's report for a
 *   domain without `<name>`);
 * - a '/': VIR_ERR_XML_ERROR, "XML error: name a/b cannot contain '/'" (libvirt's wording; for
 *   snapshots libvirt 9.0 has no such check, tsvirt applies the domain rule to both);
 * - a newline: VIR_ERR_XML_DETAIL, "invalid char in name: \n" (libvirt's virXMLCheckIllegalChars);
 *   other control characters (NUL included) and unpaired surrogates are refused the same way,
 *   shown as `0xNN` since they would garble a terminal;
 * - more than {@link MAX_NAME_BYTES} UTF-8 bytes: VIR_ERR_XML_ERROR.
 *
 * @throws VirError as listed above.
 */
export function validateName(kind: NameKind, name: string | null | undefined): asserts name is string {
  const domain =
    kind === 'domain'
      ? ErrorDomain.DOMAIN
      : kind === 'checkpoint'
        ? ErrorDomain.DOMAIN_CHECKPOINT
        : kind === 'network'
          ? ErrorDomain.NETWORK
        : kind === 'pool' || kind === 'volume'
          ? ErrorDomain.STORAGE
          : ErrorDomain.DOMAIN_SNAPSHOT;
  if (name === undefined || name === null || name === '') {
    throw confError(domain, ErrorNumber.NO_NAME);
  }
  if (name.includes('\n')) {
    throw confError(ErrorDomain.XML, ErrorNumber.XML_DETAIL, 'invalid char in name: \n');
  }
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  const bad = /[\x00-\x1F\x7F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.exec(name);
  if (bad !== null) {
    const code = bad[0].charCodeAt(0);
    const shown = `0x${code.toString(16).padStart(2, '0')}`;
    throw confError(ErrorDomain.XML, ErrorNumber.XML_DETAIL, `invalid char in name: ${shown}`);
  }
  if (name.includes('/')) {
    throw confError(domain, ErrorNumber.XML_ERROR, `name ${name} cannot contain '/'`);
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) {
    throw confError(
      domain,
      ErrorNumber.XML_ERROR,
      `name is too long (${bytes} bytes, the limit is ${MAX_NAME_BYTES})`,
    );
  }
}
