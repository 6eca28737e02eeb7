/**
 * tsvirt's remote driver against a real libvirtd (Debian's libvirt-daemon) on the test driver:
 * the core rule scenarios on test:///default, expecting libvirt's own behaviour where it differs
 * from tsvirt's — each difference is named in LIBVIRT_DIFFERENCES and at the place it applies.
 * Skips, saying why, when libvirtd cannot be started here.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorDomain, ErrorNumber, connect } from '../src/index.js';
import { domainXML, rejectsVir } from './support/fixtures.js';
import { startLibvirtd, type RunningLibvirtd } from './support/libvirtd-harness.js';
import { LIBVIRT_DIFFERENCES, SCENARIOS, type ScenarioContext } from './support/remote-scenarios.js';

let lv: RunningLibvirtd | null = null;
let skip: string | false = false;

before(async () => {
  const r = await startLibvirtd();
  if ('skip' in r) skip = r.skip;
  else lv = r;
});
after(async () => {
  await lv?.dispose();
});

describe('test+unix:///default through libvirtd', () => {
  for (const s of SCENARIOS) {
    test(s.name, async (t) => {
      if (skip !== false || lv === null) {
        t.skip(skip || 'libvirtd not started');
        return;
      }
      const conns: Awaited<ReturnType<typeof connect>>[] = [];
      const open = async () => {
        const c = await connect(lv!.uri('/default'));
        conns.push(c);
        return c;
      };
      // libvirtd's shared test:///default lives while a connection to it is open: each scenario
      // opens its own and closes them all, so it starts from the preset state.
      const ctx: ScenarioContext = { conn: await open(), another: open, target: 'libvirtd', log: [] };
      try {
        await s.run(ctx);
      } finally {
        for (const c of conns.reverse()) await c.close();
      }
    });
  }

  test('the connection reports what libvirtd reports; its errors arrive as libvirt sends them', async (t) => {
    if (skip !== false || lv === null) {
      t.skip(skip || 'libvirtd not started');
      return;
    }
    const conn = await connect(lv.uri('/default'));
    try {
      assert.equal(conn.getType(), 'TEST');
      assert.equal(await conn.getVersion(), 2);
      const dom = await conn.lookupByName('test');
      assert.equal(dom.UUIDString(), '6695eb01-f6a4-8304-79aa-97f2502e193f');
      // LIBVIRT_DIFFERENCES.lookupMessage
      const err = await rejectsVir(conn.lookupByName('nosuch'), { code: ErrorNumber.NO_DOMAIN, domain: ErrorDomain.TEST, message: 'Domain not found' });
      assert.equal(err.str1, 'Domain not found');
      assert.equal(err.str2, null);
      const d = await conn.defineXML(domainXML('lvro'));
      const ro = await connect(lv.uri('/default'), { readonly: true });
      try {
        await rejectsVir((await ro.lookupByName('lvro')).undefine(), {
          code: ErrorNumber.OPERATION_DENIED,
          message: 'operation forbidden: read only access prevents virDomainUndefine',
        });
      } finally {
        await ro.close();
      }
      await d.undefine();
    } finally {
      await conn.close();
    }
  });

  test('the differences from tsvirt are named', () => {
    assert.ok(Object.keys(LIBVIRT_DIFFERENCES).length >= 5);
  });
});
