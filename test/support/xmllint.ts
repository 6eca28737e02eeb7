/**
 * Validation of formatted XML against libvirt's own RelaxNG schemas (Debian's libvirt0
 * ships them in /usr/share/libvirt/schemas), using xmllint from libxml2-utils: the schemas
 * are the contract with libvirt tools, so tests check output against them, not against our
 * reading of them.
 */
import { spawnSync } from 'node:child_process';
import { AssertionError } from 'node:assert';

/** Where libvirt's schemas are installed. */
export const SCHEMA_DIR = '/usr/share/libvirt/schemas';

const TEST_NS = 'http://libvirt.org/schemas/domain/test/1.0';

/**
 * Removes the libvirt test driver's namespace from a document: the `xmlns:P` declaration
 * for it and every element with prefix P. libvirt's domain.rng does not know the test
 * driver's namespace (libvirt itself never writes it back), so a document that uses it can
 * only be checked against the schema without it. The elements are leaves, as the formatter
 * writes them, so removing them textually is enough.
 */
export function stripTestNamespace(xml: string): string {
  let out = xml;
  const decl = /\s+xmlns:([A-Za-z_][\w.-]*)=(?:'([^']*)'|"([^"]*)")/g;
  for (const m of xml.matchAll(decl)) {
    if ((m[2] ?? m[3]) !== TEST_NS) continue;
    const p = m[1] ?? '';
    out = out.replace(m[0], '');
    const element = new RegExp(`[ \\t]*<${p}:([\\w.-]+)\\b[^>]*?(?:/>|>[\\s\\S]*?</${p}:\\1>)[ \\t]*\\n?`, 'g');
    out = out.replace(element, '');
  }
  return out;
}

/**
 * Asserts that `xml` validates against libvirt's `<schema>.rng` (after
 * {@link stripTestNamespace}), running `xmllint --noout --relaxng SCHEMA -` with the document
 * on standard input.
 *
 * @throws AssertionError with xmllint's report when it does not validate.
 */
export function assertValidXML(xml: string, schema: 'domain' | 'domainsnapshot'): void {
  const doc = stripTestNamespace(xml);
  const r = spawnSync('xmllint', ['--noout', '--relaxng', `${SCHEMA_DIR}/${schema}.rng`, '-'], {
    input: doc,
    encoding: 'utf8',
  });
  if (r.error !== undefined) throw r.error;
  if (r.status !== 0) {
    throw new AssertionError({
      message: `XML does not validate against ${schema}.rng:\n${r.stderr}\n--- document ---\n${doc}`,
    });
  }
}
