/**
 * 32 clients at once doing define / snapshot / undefine on test:///session through tsvirtd: every
 * call answered, the store's invariants hold afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { MessageStatus } from '../src/rpc/message.js';
import { PROCEDURES, Proc, openArgs, retDom } from '../src/rpc/procedures.js';
import { decode } from '../src/rpc/xdr.js';
import { RawClient, errorOf, startDaemon } from './support/daemon-harness.js';
import { sessionViolations } from './support/invariants.js';

test('32 concurrent clients define, snapshot and undefine on test:///session; invariants hold', async () => {
  const d = await startDaemon();
  const clients: RawClient[] = [];
  try {
    const work = Array.from({ length: 32 }, async (_, k) => {
      const c = await RawClient.connect(d.rw);
      clients.push(c);
      await c.call(Proc.AUTH_LIST);
      const open = await c.callWith(Proc.CONNECT_OPEN, openArgs, { name: 'test:///session', flags: 0 });
      assert.equal(open.header.status, MessageStatus.OK);
      for (let i = 0; i < 5; i++) {
        const name = `c${k}_${i}`;
        const xml = `<domain type='test'><name>${name}</name><uuid>${randomUUID()}</uuid><memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`;
        const def = await c.callWith(Proc.DOMAIN_DEFINE_XML, PROCEDURES.get(Proc.DOMAIN_DEFINE_XML)!.args, { xml });
        assert.equal(def.header.status, MessageStatus.OK, def.header.status === MessageStatus.OK ? '' : errorOf(def).message ?? '');
        const dom = decode(retDom, def.payload).dom;
        const snap = await c.callWith(Proc.DOMAIN_SNAPSHOT_CREATE_XML, PROCEDURES.get(Proc.DOMAIN_SNAPSHOT_CREATE_XML)!.args, {
          dom,
          xml: `<domainsnapshot><name>s${i}</name></domainsnapshot>`,
          flags: 0,
        });
        assert.equal(snap.header.status, MessageStatus.OK, snap.header.status === MessageStatus.OK ? '' : errorOf(snap).message ?? '');
        const refused = await c.callWith(Proc.DOMAIN_UNDEFINE_FLAGS, PROCEDURES.get(Proc.DOMAIN_UNDEFINE_FLAGS)!.args, { dom, flags: 0 });
        assert.equal(errorOf(refused).code, 55);
        const undef = await c.callWith(Proc.DOMAIN_UNDEFINE_FLAGS, PROCEDURES.get(Proc.DOMAIN_UNDEFINE_FLAGS)!.args, { dom, flags: 2 });
        assert.equal(undef.header.status, MessageStatus.OK, undef.header.status === MessageStatus.OK ? '' : errorOf(undef).message ?? '');
      }
      await c.call(Proc.CONNECT_CLOSE);
    });
    await Promise.all(work);
  } finally {
    for (const c of clients) c.close();
    await d.stop();
  }
  try {
    assert.deepEqual(await sessionViolations(d.stateDir), []);
  } finally {
    await d.dispose();
  }
});
