/**
 * The rules R1–R12 of docs/design.md, each proved on both test URIs (the shared suite of
 * test/support/rule-suite.ts; the same suite runs on real QEMU guests in rules-qemu.test.ts), and
 * what is particular to the test driver's URIs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainRunningReason, DomainState, connect } from '../src/index.js';
import { TEST_URIS, domainXML, snapshotXML, withConnection } from './support/fixtures.js';
import { testProfile } from './support/profiles.js';
import { ruleSuite } from './support/rule-suite.js';

for (const uri of TEST_URIS) ruleSuite(testProfile(uri));

test('test:///default is preset like libvirt and fresh per connection', async () => {
  const a = await connect('test:///default');
  const b = await connect('test:///default');
  try {
    const dom = await a.lookupByName('test');
    assert.equal(dom.UUIDString(), '6695eb01-f6a4-8304-79aa-97f2502e193f');
    assert.equal(dom.ID(), 1);
    assert.deepEqual(await dom.state(), [DomainState.RUNNING, DomainRunningReason.UNKNOWN]);
    assert.equal((await a.lookupByID(1)).name(), 'test');
    await a.defineXML(domainXML('only-in-a'));
    assert.equal((await b.listAllDomains()).length, 1);
    assert.equal(a.getType(), 'TEST');
    assert.equal(a.getURI(), 'test:///default');
  } finally {
    await a.close();
    await b.close();
  }
});

test('test:///session is durable across connections', () =>
  withConnection('test:///session', async (a) => {
    const dom = await a.defineXML(domainXML('durable'));
    for (const name of ['s0', 's1']) await dom.snapshotCreateXML(snapshotXML(name));
    await dom.create();
    const b = await connect('test:///session');
    try {
      const seen = await b.lookupByName('durable');
      assert.equal(await seen.snapshotNum(), 2);
      assert.equal(await seen.isActive(), true);
      assert.equal(seen.ID(), (await a.lookupByName('durable')).ID());
      assert.ok(seen.ID() > 0);
    } finally {
      await b.close();
    }
  }));

test('R12: the event iterator ends when the connection closes or its signal aborts', async () => {
  const conn = await connect('test:///default');
  const controller = new AbortController();
  const aborted = conn.events({ signal: controller.signal });
  const pendingAbort = aborted.next();
  controller.abort();
  assert.deepEqual(await pendingAbort, { value: undefined, done: true });
  const closing = conn.events();
  const pendingClose = closing.next();
  await conn.close();
  assert.deepEqual(await pendingClose, { value: undefined, done: true });
});
