/**
 * The *_VALIDATE flags check the XML against libvirt's RelaxNG schemas (domain.rng,
 * domainsnapshot.rng, network.rng, storagepool.rng, storagevol.rng) with libvirt's error
 * (VIR_ERR_XML_INVALID_SCHEMA, "Unable to validate doc against FILE" and libxml2's lines): the
 * same answers through tsvirtd as from libvirt's own test driver (python-libvirt on
 * test:///default, in-process); syntax and root-element errors first, as libvirt; a missing
 * schema or xmllint; virsh's define --validate and edit (validated unless --skip-validate).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DomainCreateFlags, DomainDefineFlags, ErrorDomain, ErrorNumber, connect, type Connection } from '../src/index.js';
import { python, pythonLibvirtSkip, startDaemon, type RunningDaemon } from './support/daemon-harness.js';
import { rejectsVir } from './support/fixtures.js';
import { cleanEnv, tsvirt } from './cli-harness.js';
import { missing } from './support/host-tools.js';

const SCHEMAS = '/usr/share/libvirt/schemas';
const D = (extra: string) => `<domain type='test'><name>val1</name><memory>1024</memory><os><type>hvm</type></os>${extra}</domain>`;

/** The same calls on any URI; every answer printed. */
const PY = `
import sys, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
def t(label, f):
    try:
        f(); print(label, 'ok')
    except libvirt.libvirtError as e:
        print(label, 'ERR', e.get_error_code(), e.get_error_domain(), repr(e.get_error_message()))
D = "<domain type='test'><name>val1</name><memory>1024</memory><os><type>hvm</type></os>%s</domain>"
t('extra', lambda: c.defineXMLFlags(D % '<foo/>', 1))
t('extra unvalidated', lambda: (c.defineXMLFlags(D % '<foo/>', 0), c.lookupByName('val1').undefine()))
t('bad value', lambda: c.defineXMLFlags("<domain type='test'><name>val1</name><memory>abc</memory><os><type>hvm</type></os></domain>", 1))
t('no type', lambda: c.defineXMLFlags("<domain><name>val1</name></domain>", 1))
t('root', lambda: c.defineXMLFlags("<notdomain/>", 1))
t('syntax', lambda: c.defineXMLFlags("<domain", 1))
t('good', lambda: (c.defineXMLFlags(D % '', 1), c.lookupByName('val1').undefine()))
t('create', lambda: c.createXML(D % '<bar a="1"/>', libvirt.VIR_DOMAIN_START_VALIDATE))
t('net', lambda: c.networkDefineXMLFlags("<network><name>valnet</name><foo/></network>", 1))
t('net create', lambda: c.networkCreateXMLFlags("<network><name>valnet</name><foo/></network>", 1))
t('pool', lambda: c.storagePoolDefineXML("<pool type='dir'><name>valpool</name><target><path>/tmp/x</path></target><zz/></pool>", 1))
p = c.storagePoolLookupByName('default-pool')
t('vol', lambda: p.createXML("<volume><name>valvol</name><capacity>1024</capacity><zz/></volume>", libvirt.VIR_STORAGE_VOL_CREATE_VALIDATE))
d = c.lookupByName('test')
t('snap', lambda: d.snapshotCreateXML("<domainsnapshot><name>s1</name><zz/></domainsnapshot>", libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE))
t('snap good', lambda: d.snapshotCreateXML("<domainsnapshot><name>s1</name></domainsnapshot>", libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE))
`;

describe('schema validation (the *_VALIDATE flags)', { skip: missing('xmllint') }, () => {
  let conn: Connection;
  before(async () => {
    conn = await connect('test:///default');
  });
  after(async () => {
    await conn.close();
  });

  test("defineXMLFlags(VALIDATE): libvirt's error and wording; without the flag the same XML is accepted", async () => {
    await rejectsVir(conn.defineXMLFlags(D('<foo/>'), DomainDefineFlags.VALIDATE), {
      code: ErrorNumber.XML_INVALID_SCHEMA,
      domain: ErrorDomain.XML,
      message: `XML document failed to validate against schema: Unable to validate doc against ${SCHEMAS}/domain.rng\nElement domain has extra content: foo\n`,
    });
    assert.equal(await conn.lookupByName('val1').then(() => true, () => false), false, 'nothing was defined');
    const dom = await conn.defineXMLFlags(D('<foo/>'), 0);
    await dom.undefine();
    const ok = await conn.defineXMLFlags(D(''), DomainDefineFlags.VALIDATE);
    await ok.undefine();
    await rejectsVir(conn.createXML(D('<bar/>'), DomainCreateFlags.START_VALIDATE), { code: ErrorNumber.XML_INVALID_SCHEMA });
  });

  test("a schema that cannot be loaded, or no xmllint: an internal error, nothing defined", async () => {
    const saved = { dir: process.env.TSVIRT_SCHEMA_DIR, path: process.env.PATH };
    const empty = mkdtempSync(join(tmpdir(), 'tsv-schema-'));
    try {
      process.env.TSVIRT_SCHEMA_DIR = empty;
      await rejectsVir(conn.defineXMLFlags(D(''), DomainDefineFlags.VALIDATE), {
        code: ErrorNumber.INTERNAL_ERROR,
        domain: ErrorDomain.XML,
        message: new RegExp(`^internal error: Unable to parse RNG ${empty}/domain\\.rng: `),
      });
      delete process.env.TSVIRT_SCHEMA_DIR;
      process.env.PATH = empty;
      await rejectsVir(conn.defineXMLFlags(D(''), DomainDefineFlags.VALIDATE), {
        code: ErrorNumber.INTERNAL_ERROR,
        message: `internal error: Unable to validate doc against ${SCHEMAS}/domain.rng: xmllint is not installed (Debian package libxml2-utils)`,
      });
    } finally {
      if (saved.dir === undefined) delete process.env.TSVIRT_SCHEMA_DIR;
      else process.env.TSVIRT_SCHEMA_DIR = saved.dir;
      process.env.PATH = saved.path;
      rmSync(empty, { recursive: true, force: true });
    }
    assert.equal(await conn.lookupByName('val1').then(() => true, () => false), false);
  });

  describe('through tsvirtd, beside libvirt’s own test driver', { skip: pythonLibvirtSkip() }, () => {
    let d: RunningDaemon;
    before(async () => {
      d = await startDaemon();
    });
    after(async () => {
      await d?.dispose();
    });
    test('python-libvirt: the same answers for domains, snapshots, networks, pools and volumes', () => {
      const lv = python(PY, 'test:///default');
      const ts = python(PY, d.uri('/default'));
      assert.equal(lv.code, 0, lv.stderr);
      assert.equal(ts.code, 0, ts.stderr);
      assert.deepEqual(ts.stdout.split('\n'), lv.stdout.split('\n'));
      // The comparison saw schema errors of each kind, and accepted documents.
      for (const rng of ['domain', 'domainsnapshot', 'network', 'storagepool', 'storagevol']) {
        assert.match(ts.stdout, new RegExp(`ERR 92 5 'XML document failed to validate against schema: Unable to validate doc against ${SCHEMAS}/${rng}\\.rng\\\\n`));
      }
      assert.match(ts.stdout, /^good ok$/m);
      assert.match(ts.stdout, /^snap good ok$/m);
    });
  });

  describe('tsvirt define --validate and edit', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'tsv-edit-'));
      writeFileSync(join(dir, 'bad.sh'), '#!/bin/sh\nsed -i "s#</os>#</os><foo/>#" "$1"\n');
      writeFileSync(join(dir, 'good.sh'), '#!/bin/sh\nsed -i "s#<on_crash>destroy#<on_crash>restart#" "$1"\n');
      chmodSync(join(dir, 'bad.sh'), 0o755);
      chmodSync(join(dir, 'good.sh'), 0o755);
      writeFileSync(join(dir, 'bad.xml'), D('<foo/>'));
    });
    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const run = (editor: string, ...args: string[]) => tsvirt(['-c', 'test:///default', ...args], { cwd: dir, env: cleanEnv(dir, { EDITOR: editor }) });

    test('define --validate refuses with the schema error; without it the XML is defined', async () => {
      const bad = await run('true', 'define', 'bad.xml', '--validate');
      assert.equal(bad.status, 1);
      assert.equal(bad.stderr, `error: Failed to define domain from bad.xml\nerror: XML document failed to validate against schema: Unable to validate doc against ${SCHEMAS}/domain.rng\nElement domain has extra content: foo\n\n`);
      const ok = await run('true', 'define', 'bad.xml');
      assert.equal(ok.status, 0, ok.stderr);
    });

    test('edit: validated (refused with the error), --skip-validate, unchanged, changed', async () => {
      const bad = await run('./bad.sh', 'edit', 'test');
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /^error: XML document failed to validate against schema: .*\nElement domain has extra content: foo\n/);
      const skip = await run('./bad.sh', 'edit test --skip-validate; dumpxml test --inactive');
      assert.equal(skip.status, 0, skip.stderr);
      assert.match(skip.stdout, /^Domain 'test' XML configuration edited\.\n\n/);
      const same = await run('true', 'edit', 'test');
      assert.equal(same.stdout, "Domain 'test' XML configuration not changed.\n\n");
      const good = await run('./good.sh', 'edit test; dumpxml test --inactive');
      assert.equal(good.status, 0, good.stderr);
      assert.match(good.stdout, /<on_crash>restart<\/on_crash>/);
    });
  });
});
