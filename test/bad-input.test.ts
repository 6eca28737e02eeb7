/**
 * Bad input gets a clear VirError and loses nothing: the state compared before and after each
 * refused call is the same.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect, ErrorDomain, ErrorNumber, VirError, type Connection } from '../src/index.js';
import { TEST_URIS, domainXML, rejectsVir, snapshotXML, stateOf, withConnection } from './support/fixtures.js';

async function unchanged(conn: Connection, call: () => Promise<unknown>, expected: Parameters<typeof rejectsVir>[1]): Promise<VirError> {
  const before = await stateOf(conn);
  const err = await rejectsVir(call(), expected);
  assert.deepEqual(await stateOf(conn), before);
  return err;
}

for (const uri of TEST_URIS) {
  describe(`bad input on ${uri}`, () => {
    test('malformed XML: VIR_ERR_XML_DETAIL naming the line', () =>
      withConnection(uri, async (conn) => {
        await conn.defineXML(domainXML('keep'));
        const err = await unchanged(conn, () => conn.defineXML('<domain type="test">\n<name>x</name'), {
          code: ErrorNumber.XML_DETAIL,
          domain: ErrorDomain.DOMAIN,
        });
        assert.match(err.message, /\(domain_definition\):2:/);
        await unchanged(conn, () => conn.defineXML(''), { code: ErrorNumber.XML_DETAIL });
        await unchanged(conn, () => conn.createXML('<domain'), { code: ErrorNumber.XML_DETAIL });
        const dom = await conn.lookupByName('keep');
        await unchanged(conn, () => dom.snapshotCreateXML('<domainsnapshot><name>a</name>'), { code: ErrorNumber.XML_DETAIL });
      }));

    test('oversized XML is refused before parsing', () =>
      withConnection(uri, async (conn) => {
        const huge = domainXML('huge').replace('</domain>', `<description>${'x'.repeat(11 * 1024 * 1024)}</description></domain>`);
        await unchanged(conn, () => conn.defineXML(huge), { code: ErrorNumber.XML_ERROR });
      }));

    test("names with '/', NUL or nothing are refused", () =>
      withConnection(uri, async (conn) => {
        await unchanged(conn, () => conn.defineXML(domainXML('a/b')), {
          code: ErrorNumber.XML_ERROR,
          domain: ErrorDomain.DOMAIN,
          message: "XML error: name a/b cannot contain '/'",
        });
        await unchanged(conn, () => conn.defineXML(domainXML('nul\u0000name')), { code: ErrorNumber.XML_DETAIL });
        await unchanged(conn, () => conn.defineXML(domainXML('')), { code: ErrorNumber.NO_NAME });
        await unchanged(conn, () => conn.defineXML(domainXML('n'.repeat(300))), { code: ErrorNumber.XML_ERROR });
        const dom = await conn.defineXML(domainXML('snapnames'));
        await unchanged(conn, () => dom.snapshotCreateXML(snapshotXML('x/y')), { code: ErrorNumber.XML_ERROR });
      }));

    test('a second domain with the same name and another UUID, or the same UUID and another name', () =>
      withConnection(uri, async (conn) => {
        const uuid = randomUUID();
        await conn.defineXML(domainXML('dup', { uuid }));
        const other = randomUUID();
        await unchanged(conn, () => conn.defineXML(domainXML('dup', { uuid: other })), {
          code: ErrorNumber.OPERATION_FAILED,
          domain: ErrorDomain.DOMAIN,
          message: `operation failed: domain 'dup' already exists with uuid ${uuid}`,
        });
        await unchanged(conn, () => conn.createXML(domainXML('dup', { uuid: other })), { code: ErrorNumber.OPERATION_FAILED });
        await unchanged(conn, () => conn.defineXML(domainXML('dup2', { uuid })), {
          code: ErrorNumber.OPERATION_FAILED,
          message: `operation failed: domain 'dup' is already defined with uuid ${uuid}`,
        });
      }));

    test('a duplicate snapshot name', () =>
      withConnection(uri, async (conn) => {
        const dom = await conn.defineXML(domainXML('snapdup'));
        await dom.snapshotCreateXML(snapshotXML('f0'));
        await unchanged(conn, () => dom.snapshotCreateXML(snapshotXML('f0')), {
          code: ErrorNumber.OPERATION_FAILED,
          domain: ErrorDomain.DOMAIN,
          message: 'operation failed: domain moment f0 already exists',
        });
      }));

    test('a stale handle after undefine: VIR_ERR_NO_DOMAIN on every call', () =>
      withConnection(uri, async (conn) => {
        const dom = await conn.defineXML(domainXML('stale'));
        await dom.undefine();
        const expected = {
          code: ErrorNumber.NO_DOMAIN,
          message: `Domain not found: no domain with matching uuid '${dom.UUIDString()}' (stale)`,
        };
        for (const call of [
          () => dom.undefine(),
          () => dom.create(),
          () => dom.state(),
          () => dom.XMLDesc(),
          () => dom.snapshotCreateXML(snapshotXML('a')),
          () => dom.managedSave(),
          () => dom.snapshotNum(),
        ]) {
          await unchanged(conn, call, expected);
        }
      }));

    test('lookups of what does not exist', () =>
      withConnection(uri, async (conn) => {
        await rejectsVir(conn.lookupByName('nope'), {
          code: ErrorNumber.NO_DOMAIN,
          message: "Domain not found: no domain with matching name 'nope'",
        });
        await rejectsVir(conn.lookupByUUIDString(randomUUID()), { code: ErrorNumber.NO_DOMAIN });
        await rejectsVir(conn.lookupByUUIDString('not-a-uuid'), {
          code: ErrorNumber.INVALID_ARG,
          domain: ErrorDomain.DOMAIN,
          message: 'uuidstr in virDomainLookupByUUIDString must be a valid UUID',
        });
        const known = await conn.defineXML(domainXML('byuuid'));
        const bare = known.UUIDString().replace(/-/g, '').toUpperCase();
        assert.equal((await conn.lookupByUUIDString(bare)).name(), 'byuuid');
        await rejectsVir(conn.lookupByID(4242), { code: ErrorNumber.NO_DOMAIN });
        const dom = await conn.defineXML(domainXML('nosnap'));
        await rejectsVir(dom.snapshotLookupByName('x'), {
          code: ErrorNumber.NO_DOMAIN_SNAPSHOT,
          message: "Domain snapshot not found: no domain snapshot with matching name 'x'",
        });
        await dom.snapshotCreateXML(snapshotXML('root'));
        await rejectsVir((await dom.snapshotLookupByName('root')).getParent(), {
          code: ErrorNumber.NO_DOMAIN_SNAPSHOT,
          message: "Domain snapshot not found: snapshot 'root' does not have a parent",
        });
      }));

    test('state rules: start twice, resume a running guest, a non-test domain type', () =>
      withConnection(uri, async (conn) => {
        const dom = await conn.defineXML(domainXML('twice'));
        await dom.create();
        await unchanged(conn, () => dom.create(), { code: ErrorNumber.OPERATION_INVALID, message: /domain is already running/ });
        await dom.resume(); // a no-op on a running guest, as in libvirt's qemu driver
        await unchanged(conn, () => conn.defineXML(domainXML('kvm').replace("type='test'", "type='kvm'")), {
          code: ErrorNumber.NO_SUPPORT,
        });
      }));
  });
}

test('unknown URIs and closed connections', async () => {
  await rejectsVir(connect('bogus:///x'), { code: ErrorNumber.NO_CONNECT });
  await rejectsVir(connect('test:///elsewhere'), { code: ErrorNumber.NO_CONNECT });
  const conn = await connect('test:///default');
  await conn.close();
  await rejectsVir(conn.listAllDomains(), { code: ErrorNumber.INVALID_CONN });
});

test('a read-only connection refuses every mutation with VIR_ERR_OPERATION_DENIED', async () => {
  const conn = await connect('test:///default', { readonly: true });
  try {
    const dom = await conn.lookupByName('test');
    await rejectsVir(dom.destroy(), {
      code: ErrorNumber.OPERATION_DENIED,
      domain: ErrorDomain.DOMAIN,
      message: 'operation forbidden: read only access prevents virDomainDestroy',
    });
    await rejectsVir(conn.defineXML(domainXML('ro')), { code: ErrorNumber.OPERATION_DENIED });
    assert.equal(await dom.isActive(), true);
  } finally {
    await conn.close();
  }
});
