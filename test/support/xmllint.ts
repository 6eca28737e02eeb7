/**
 * Validation of formatted XML against libvirt's own RelaxNG schemas (Debian's libvirt0
 * ships them in /usr/share/libvirt/schemas), using xmllint from libxml2-utils: the schemas
 * are the contract with libvirt tools, so tests check output against them, not against our
 * reading of them.
 */
import { spawnSync } from 'node:child_process';
import { AssertionError } from 'node:assert';
import { beforeEach, type TestContext } from 'node:test';
import { missing } from './host-tools.js';

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

/** Why schema checks cannot run here ("xmllint is missing (Debian package libxml2-utils)"), or false. */
export function xmllintSkip(): string | false {
  return missing('xmllint', "libvirt's RelaxNG schemas");
}

// The test running now, so that a check that cannot run here marks its own test skipped (with
// the package to install) while the test's other assertions still run, and no call site passes
// its test context. Registered on the file's root test when a test file imports this module.
// Tests that validate XML run one at a time (node:test's default), so the last test started is
// the one asking.
let current: TestContext | undefined;
beforeEach((t) => {
  if ('skip' in t) current = t;
});

/**
 * Asserts that `xml` validates against libvirt's `<schema>.rng` (after
 * {@link stripTestNamespace}), running `xmllint --noout --relaxng SCHEMA -` with the document
 * on standard input.
 *
 * Where xmllint or the schemas are missing, the running test is marked skipped with the Debian
 * package to install and nothing is checked (outside a test, this throws the same words).
 *
 * @throws AssertionError with xmllint's report when it does not validate.
 */
export function assertValidXML(xml: string, schema: 'domain' | 'domainsnapshot' | 'domaincaps'): void {
  const doc = stripTestNamespace(xml);
  const skip = xmllintSkip();
  if (skip !== false) {
    if (current === undefined) throw new Error(`cannot validate against ${schema}.rng: ${skip}`);
    current.skip(skip);
    return;
  }
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
