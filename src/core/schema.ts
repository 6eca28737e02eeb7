/**
 * Validation of an XML document against libvirt's RelaxNG schemas, for the *_VALIDATE flags
 * (virXMLValidateAgainstSchema). The schemas are libvirt's own, where libvirt finds them
 * (PKGDATADIR/schemas: Debian's package libvirt0 installs /usr/share/libvirt/schemas).
 *
 * The check runs `xmllint --relaxng` (Debian's libxml2-utils, libvirt's own libxml2) as a
 * subprocess rather than a RelaxNG engine in this process: measured on a typical domain XML,
 * xmllint costs ~65 ms a call with nothing to load, where libxml2-wasm costs ~770 ms on its first
 * call (module load and compiling domain.rng) and ~3 ms warm, blocking the event loop while it
 * runs. The flag is rare and mostly used by one-shot CLI calls, so the subprocess wins.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ErrorDomain, ErrorNumber } from './enums.generated.js';
import { VirError } from './errors.js';

/** libvirt's schema directory (PKGDATADIR/schemas); TSVIRT_SCHEMA_DIR overrides it for tests. */
export function schemaDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.TSVIRT_SCHEMA_DIR;
  return dir !== undefined && dir !== '' ? dir : '/usr/share/libvirt/schemas';
}

/** The RelaxNG schemas the validate flags use. */
export type SchemaName = 'domain' | 'domainsnapshot' | 'network' | 'storagepool' | 'storagevol';

/** The root element each schema describes. */
const ROOTS: Readonly<Record<SchemaName, string>> = {
  domain: 'domain',
  domainsnapshot: 'domainsnapshot',
  network: 'network',
  storagepool: 'pool',
  storagevol: 'volume',
};

/** The document's root element name, past the XML declaration, comments and processing instructions. */
function rootName(xml: string): string | undefined {
  const m = /^\uFEFF?\s*(?:(?:<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>]*>)\s*)*<([A-Za-z_][\w.:-]*)/.exec(xml);
  return m?.[1];
}

/** Collects a child's output and exit status; `error` when it could not be started. */
function runXmllint(args: string[], input: string): Promise<{ status: number | null; stderr: string; error?: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    const child = spawn('xmllint', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (stderr += d));
    child.on('error', (error: NodeJS.ErrnoException) => resolve({ status: null, stderr, error }));
    child.on('close', (status) => resolve({ status, stderr }));
    // A child that exits before reading everything (a schema it cannot load) must not crash us.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/**
 * Validates `xml` against libvirt's schema `name` (the document's syntax and root element are
 * checked by the caller first, as libvirt parses before it validates). VIR_ERR_XML_INVALID_SCHEMA
 * with libvirt's message ("Unable to validate doc against FILE" and libxml2's lines, one per
 * problem) when it does not validate; VIR_ERR_INTERNAL_ERROR when the schema cannot be loaded
 * ("Unable to parse RNG FILE: …", libvirt's words) or xmllint cannot run.
 */
export async function validateAgainstSchema(name: SchemaName, xml: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // libvirt parses and checks the root element before it validates: a document that is not
  // well-formed or has another root is left to the caller's parser, which reports it.
  if (rootName(xml) !== ROOTS[name]) return;
  const file = join(schemaDir(env), `${name}.rng`);
  const r = await runXmllint(['--noout', '--relaxng', file, '-'], xml);
  if (r.error !== undefined) {
    const why = r.error.code === 'ENOENT' ? 'xmllint is not installed (Debian package libxml2-utils)' : r.error.message;
    throw VirError.report(ErrorDomain.XML, ErrorNumber.INTERNAL_ERROR, `Unable to validate doc against ${file}: ${why}`);
  }
  // 1: not well-formed (left to the caller's parser, as above).
  if (r.status === 0 || r.status === 1) return;
  // libxml2's messages without xmllint's location prefix, as libvirt's error callback gets them.
  const lines = r.stderr
    .split('\n')
    .filter((l) => l !== '' && l !== '- fails to validate' && l !== '- validates')
    .map((l) => l.replace(/^(?:.*?: )?Relax-NG validity error : /, ''));
  if (r.status === 3) {
    throw VirError.report(ErrorDomain.XML, ErrorNumber.XML_INVALID_SCHEMA, `Unable to validate doc against ${file}\n${lines.map((l) => `${l}\n`).join('')}`);
  }
  // 5: the schema did not load or compile (a missing file among them).
  throw VirError.report(ErrorDomain.XML, ErrorNumber.INTERNAL_ERROR, `Unable to parse RNG ${file}: ${lines.join('\n')}`);
}
