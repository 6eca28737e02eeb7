/**
 * The rules R1–R12 of DESIGN §1, each proved on both test URIs.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  DomainCreateFlags,
  DomainEventDefinedDetailType,
  DomainEventID,
  DomainEventStartedDetailType,
  DomainEventStoppedDetailType,
  DomainEventSuspendedDetailType,
  DomainEventType,
  DomainEventUndefinedDetailType,
  DomainRunningReason,
  DomainShutoffReason,
  DomainSnapshotCreateFlags,
  DomainState,
  DomainUndefineFlags,
  ErrorDomain,
  ErrorNumber,
  connect,
  type Connection,
  type Domain,
} from '../src/index.js';
import { TEST_URIS, buildCaptureTree, domainXML, flagProbeCalls, snapshotTreeOf, rejectsVir, snapshotXML, stateOf, withConnection } from './support/fixtures.js';

const { MANAGED_SAVE, SNAPSHOTS_METADATA } = DomainUndefineFlags;

async function defineWithSnapshots(conn: Connection, name: string, n: number, uuid = randomUUID()): Promise<Domain> {
  const dom = await conn.defineXML(domainXML(name, { uuid }));
  for (let i = 0; i < n; i++) await dom.snapshotCreateXML(snapshotXML(`s${i}`));
  return dom;
}

/** Collects lifecycle events as [name, event, detail]. */
function recordEvents(conn: Connection): [string, number, number][] {
  const seen: [string, number, number][] = [];
  conn.domainEventRegisterAny(null, DomainEventID.LIFECYCLE, (_c, dom, event, detail) => {
    seen.push([dom.name(), event, detail]);
  });
  return seen;
}

for (const uri of TEST_URIS) {
  describe(uri, () => {
    test('R1: undefine of a transient domain fails with "cannot undefine transient domain"', () =>
      withConnection(uri, async (conn) => {
        const dom = await conn.createXML(domainXML('t1'));
        for (const flags of [0, MANAGED_SAVE, SNAPSHOTS_METADATA, MANAGED_SAVE | SNAPSHOTS_METADATA]) {
          await rejectsVir(dom.undefineFlags(flags), {
            code: ErrorNumber.OPERATION_INVALID,
            domain: ErrorDomain.TEST,
            message: 'Requested operation is not valid: cannot undefine transient domain',
          });
        }
        assert.equal(await dom.isActive(), true);
        assert.equal(await dom.isPersistent(), false);
      }));

    test('R2: undefine with a managed save image fails without MANAGED_SAVE and removes the image with it', () =>
      withConnection(uri, async (conn) => {
        const dom = await conn.defineXML(domainXML('ms1'));
        await dom.create();
        await dom.managedSave();
        assert.equal(await dom.hasManagedSaveImage(), true);
        for (const flags of [0, SNAPSHOTS_METADATA]) {
          await rejectsVir(dom.undefineFlags(flags), {
            code: ErrorNumber.OPERATION_INVALID,
            message: 'Requested operation is not valid: Refusing to undefine while domain managed save image exists',
          });
        }
        assert.equal(await dom.hasManagedSaveImage(), true);
        await dom.undefineFlags(MANAGED_SAVE);
        await rejectsVir(conn.lookupByName('ms1'), { code: ErrorNumber.NO_DOMAIN });
      }));

    test('R3: undefine of an inactive domain with N snapshots is refused and changes nothing', () =>
      withConnection(uri, async (conn) => {
        const dom = await defineWithSnapshots(conn, 'web1', 3);
        const before = await stateOf(conn);
        for (const flags of [0, MANAGED_SAVE]) {
          await rejectsVir(dom.undefineFlags(flags), {
            code: ErrorNumber.OPERATION_INVALID,
            domain: ErrorDomain.TEST,
            message: 'Requested operation is not valid: cannot delete inactive domain with 3 snapshots',
          });
        }
        await rejectsVir(dom.undefine(), { code: ErrorNumber.OPERATION_INVALID });
        assert.deepEqual(await stateOf(conn), before);
      }));

    test('R3: with SNAPSHOTS_METADATA the domain and all its snapshot metadata go', () =>
      withConnection(uri, async (conn) => {
        const uuid = randomUUID();
        const dom = await defineWithSnapshots(conn, 'web2', 4, uuid);
        await dom.undefineFlags(SNAPSHOTS_METADATA);
        await rejectsVir(conn.lookupByName('web2'), { code: ErrorNumber.NO_DOMAIN });
        const again = await conn.defineXML(domainXML('web2', { uuid }));
        assert.equal(await again.snapshotNum(), 0);
        assert.equal(await again.hasCurrentSnapshot(), false);
      }));

    test('R3: managed save and snapshots together need both flags (snapshots checked first, as qemu)', () =>
      withConnection(uri, async (conn) => {
        const dom = await defineWithSnapshots(conn, 'both', 1);
        await dom.create();
        await dom.managedSave();
        await rejectsVir(dom.undefineFlags(0), { message: /cannot delete inactive domain with 1 snapshots/, code: 55 });
        await rejectsVir(dom.undefineFlags(MANAGED_SAVE), { message: /cannot delete inactive domain with 1 snapshots/, code: 55 });
        await rejectsVir(dom.undefineFlags(SNAPSHOTS_METADATA), { message: /managed save image exists/, code: 55 });
        await dom.undefineFlags(MANAGED_SAVE | SNAPSHOTS_METADATA);
        assert.equal((await conn.listAllDomains()).some((d) => d.name() === 'both'), false);
      }));

    test('R4: undefine of an active domain makes it transient and keeps its metadata until it halts', () =>
      withConnection(uri, async (conn) => {
        const uuid = randomUUID();
        const dom = await defineWithSnapshots(conn, 'live', 2, uuid);
        await dom.create();
        await dom.undefineFlags(SNAPSHOTS_METADATA);
        assert.equal(await dom.isActive(), true);
        assert.equal(await dom.isPersistent(), false);
        assert.equal(await dom.snapshotNum(), 2);
        assert.equal((await dom.snapshotCurrent()).getName(), 's1');
        await dom.destroy();
        await rejectsVir(dom.isActive(), {
          code: ErrorNumber.NO_DOMAIN,
          message: `Domain not found: no domain with matching uuid '${uuid}' (live)`,
        });
        const again = await conn.defineXML(domainXML('live', { uuid }));
        assert.equal(await again.snapshotNum(), 0);
      }));

    test('R4: an undefined running domain that shuts down is gone too', () =>
      withConnection(uri, async (conn) => {
        const dom = await defineWithSnapshots(conn, 'live2', 1);
        await dom.create();
        await dom.undefine();
        assert.equal(await dom.snapshotNum(), 1);
        await dom.shutdown();
        await rejectsVir(conn.lookupByName('live2'), { code: ErrorNumber.NO_DOMAIN });
      }));

    test('R5: a transient domain that quits by destroy, shutdown or managed-save refusal loses its snapshots', () =>
      withConnection(uri, async (conn) => {
        for (const how of ['destroy', 'shutdown'] as const) {
          const uuid = randomUUID();
          const dom = await conn.createXML(domainXML(`tr-${how}`, { uuid }));
          await dom.snapshotCreateXML(snapshotXML('a'));
          await dom.snapshotCreateXML(snapshotXML('b'));
          const events = recordEvents(conn);
          await (how === 'destroy' ? dom.destroy() : dom.shutdown());
          assert.deepEqual(events, [
            [
              `tr-${how}`,
              DomainEventType.STOPPED,
              how === 'destroy' ? DomainEventStoppedDetailType.DESTROYED : DomainEventStoppedDetailType.SHUTDOWN,
            ],
          ]);
          await rejectsVir(dom.snapshotNum(), { code: ErrorNumber.NO_DOMAIN });
          const again = await conn.createXML(domainXML(`tr-${how}`, { uuid }));
          assert.equal(await again.snapshotNum(), 0);
          assert.equal(await again.hasCurrentSnapshot(), false);
          await again.destroy();
        }
      }));

    test('R6: nothing of a removed domain survives into a new one with the same name and UUID', () =>
      withConnection(uri, async (conn) => {
        const uuid = randomUUID();
        const dom = await defineWithSnapshots(conn, 'phoenix', 3, uuid);
        await dom.create();
        await dom.managedSave();
        await dom.undefineFlags(MANAGED_SAVE | SNAPSHOTS_METADATA);
        for (const make of ['define', 'create'] as const) {
          const again =
            make === 'define'
              ? await conn.defineXML(domainXML('phoenix', { uuid }))
              : await conn.createXML(domainXML('phoenix', { uuid }));
          assert.equal(await again.snapshotNum(), 0);
          assert.equal(await again.hasCurrentSnapshot(), false);
          assert.equal(await again.hasManagedSaveImage(), false);
          if (make === 'define') await again.undefine();
          else await again.destroy();
        }
      }));

    test('R7: an unknown flag bit fails with "unsupported flags" before anything changes', () =>
      withConnection(uri, async (conn) => {
        const dom = await defineWithSnapshots(conn, 'flags', 1);
        const snap = await dom.snapshotLookupByName('s0');
        const bad = 1 << 20;
        const before = await stateOf(conn);
        const calls = flagProbeCalls(conn, dom, snap, bad);
        for (const [fn, call] of calls) {
          await rejectsVir(call(), {
            code: ErrorNumber.INVALID_ARG,
            domain: ErrorDomain.TEST,
            message: `unsupported flags (0x100000) in function ${fn}`,
          });
        }
        // The later undefine flags libvirt's test driver does not support.
        for (const flag of [4, 8, 16, 32, 64]) {
          await rejectsVir(dom.undefineFlags(flag), {
            code: ErrorNumber.INVALID_ARG,
            message: `unsupported flags (0x${flag.toString(16)}) in function testDomainUndefineFlags`,
          });
        }
        // Flag combinations the public API refuses, with libvirt's words and error domain.
        await rejectsVir(dom.snapshotCreateXML(snapshotXML('x'), DomainSnapshotCreateFlags.CURRENT), {
          code: ErrorNumber.INVALID_ARG,
          domain: ErrorDomain.DOMAIN_SNAPSHOT,
          message: "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' is required by flag 'VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT'",
        });
        await rejectsVir(snap.delete(1 | 4), {
          code: ErrorNumber.INVALID_ARG,
          message: "Flags 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN' and 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY' are mutually exclusive",
        });
        await rejectsVir(snap.revert(1 | 2), { code: ErrorNumber.INVALID_ARG, message: /mutually exclusive/ });
        assert.deepEqual(await stateOf(conn), before);
      }));

    test('R8: shutdown only asks; a guest that ignores the power button keeps running; destroy stops it', () =>
      withConnection(uri, async (conn) => {
        const dom = await conn.defineXML(domainXML('stubborn', { ignorePowerButton: true }));
        await dom.create();
        const events = recordEvents(conn);
        await dom.shutdown();
        assert.deepEqual(await dom.state(), [DomainState.RUNNING, DomainRunningReason.BOOTED]);
        assert.deepEqual(events, []);
        await dom.destroy();
        assert.deepEqual(await dom.state(), [DomainState.SHUTOFF, DomainShutoffReason.DESTROYED]);
        const polite = await conn.defineXML(domainXML('polite'));
        await polite.create();
        await polite.shutdown();
        assert.deepEqual(await polite.state(), [DomainState.SHUTOFF, DomainShutoffReason.SHUTDOWN]);
        await rejectsVir(polite.shutdown(), {
          code: ErrorNumber.OPERATION_INVALID,
          message: 'Requested operation is not valid: domain is not running',
        });
        await rejectsVir(polite.destroy(), { code: ErrorNumber.OPERATION_INVALID, domain: ErrorDomain.DOMAIN });
      }));

    test('R10: every snapshot XML captured and REDEFINEd restores the tree and the current snapshot', () =>
      withConnection(uri, async (conn) => {
        const uuid = randomUUID();
        const dom = await conn.defineXML(domainXML('cap', { uuid }));
        await buildCaptureTree(dom);
        const captured = new Map<string, string>();
        for (const s of await dom.listAllSnapshots(1024 /* TOPOLOGICAL */)) captured.set(s.getName(), await s.getXMLDesc());
        const current = (await dom.snapshotCurrent()).getName();
        const treeOf = snapshotTreeOf;
        const before = await treeOf(dom);
        await dom.undefineFlags(SNAPSHOTS_METADATA);

        const again = await conn.defineXML(domainXML('cap', { uuid }));
        assert.equal(await again.snapshotNum(), 0);
        for (const [name, xml] of captured) {
          const flags = DomainSnapshotCreateFlags.REDEFINE | (name === current ? DomainSnapshotCreateFlags.CURRENT : 0);
          await again.snapshotCreateXML(xml, flags);
        }
        assert.deepEqual(await treeOf(again), before);
        for (const [name, xml] of captured) {
          assert.equal(await (await again.snapshotLookupByName(name)).getXMLDesc(), xml);
        }
        assert.equal((await again.snapshotCurrent()).getName(), 'a');
      }));

    test('R10: REDEFINE needs the full XML and an existing parent', () =>
      withConnection(uri, async (conn) => {
        const dom = await conn.defineXML(domainXML('redef'));
        await rejectsVir(dom.snapshotCreateXML(snapshotXML('x'), DomainSnapshotCreateFlags.REDEFINE), {
          code: ErrorNumber.INTERNAL_ERROR,
          message: 'internal error: missing creationTime from existing snapshot',
        });
        const xml = `<domainsnapshot><name>child</name><state>shutoff</state><parent><name>nope</name></parent><creationTime>1700000000</creationTime></domainsnapshot>`;
        await rejectsVir(dom.snapshotCreateXML(xml, DomainSnapshotCreateFlags.REDEFINE), {
          code: ErrorNumber.INVALID_ARG,
          message: 'invalid argument: parent nope for snapshot child not found',
        });
        assert.equal(await dom.snapshotNum(), 0);
      }));

    test('R11: managed save is refused for transient domains; start resumes from the image and removes it', () =>
      withConnection(uri, async (conn) => {
        const tr = await conn.createXML(domainXML('tr-ms'));
        await rejectsVir(tr.managedSave(), {
          code: ErrorNumber.OPERATION_INVALID,
          domain: ErrorDomain.TEST,
          message: 'Requested operation is not valid: cannot do managed save for transient domain',
        });
        const dom = await conn.defineXML(domainXML('saver'));
        await rejectsVir(dom.managedSave(), {
          code: ErrorNumber.OPERATION_INVALID,
          domain: ErrorDomain.DOMAIN,
          message: 'Requested operation is not valid: domain is not running',
        });
        await dom.create();
        const events = recordEvents(conn);
        await dom.managedSave();
        assert.deepEqual(await dom.state(), [DomainState.SHUTOFF, DomainShutoffReason.SAVED]);
        assert.equal(await dom.hasManagedSaveImage(), true);
        await dom.create();
        assert.equal(await dom.hasManagedSaveImage(), false);
        assert.deepEqual(await dom.state(), [DomainState.RUNNING, DomainRunningReason.RESTORED]);
        await dom.managedSave();
        await dom.createWithFlags(DomainCreateFlags.START_FORCE_BOOT);
        assert.equal(await dom.hasManagedSaveImage(), false);
        assert.deepEqual(await dom.state(), [DomainState.RUNNING, DomainRunningReason.BOOTED]);
        assert.deepEqual(events, [
          ['saver', DomainEventType.STOPPED, DomainEventStoppedDetailType.SAVED],
          ['saver', DomainEventType.STARTED, DomainEventStartedDetailType.RESTORED],
          ['saver', DomainEventType.STOPPED, DomainEventStoppedDetailType.SAVED],
          ['saver', DomainEventType.STARTED, DomainEventStartedDetailType.BOOTED],
        ]);
      }));

    test('R11: revert of a domain with a managed save image needs FORCE, which removes the image', () =>
      withConnection(uri, async (conn) => {
        const dom = await conn.defineXML(domainXML('rv'));
        await dom.snapshotCreateXML(snapshotXML('off'));
        await dom.create();
        await dom.managedSave();
        const snap = await dom.snapshotLookupByName('off');
        await rejectsVir(snap.revert(0), { code: ErrorNumber.SNAPSHOT_REVERT_RISKY, message: /^revert requires force: / });
        assert.equal(await dom.hasManagedSaveImage(), true);
        await snap.revert(4 /* FORCE */);
        assert.equal(await dom.hasManagedSaveImage(), false);
      }));

    test('R12: lifecycle events with libvirt detail codes, through callbacks and the async iterator', () =>
      withConnection(uri, async (conn) => {
        const events = recordEvents(conn);
        const iter = conn.events();
        const dom = await conn.defineXML(domainXML('ev'));
        await conn.defineXML(domainXML('ev', { uuid: dom.UUIDString() }));
        await dom.createWithFlags(DomainCreateFlags.START_PAUSED);
        await dom.resume();
        await dom.suspend();
        await dom.destroy();
        await dom.undefine();
        const expected: [string, number, number][] = [
          ['ev', DomainEventType.DEFINED, DomainEventDefinedDetailType.ADDED],
          ['ev', DomainEventType.DEFINED, DomainEventDefinedDetailType.UPDATED],
          ['ev', DomainEventType.STARTED, DomainEventStartedDetailType.BOOTED],
          ['ev', DomainEventType.SUSPENDED, DomainEventSuspendedDetailType.PAUSED],
          ['ev', DomainEventType.RESUMED, 0],
          ['ev', DomainEventType.SUSPENDED, DomainEventSuspendedDetailType.PAUSED],
          ['ev', DomainEventType.STOPPED, DomainEventStoppedDetailType.DESTROYED],
          ['ev', DomainEventType.UNDEFINED, DomainEventUndefinedDetailType.REMOVED],
        ];
        assert.deepEqual(events, expected);
        const fromIterator: [string, number, number][] = [];
        for await (const ev of iter) {
          fromIterator.push([ev.domain.name(), ev.event, ev.detail]);
          if (fromIterator.length === expected.length) break;
        }
        assert.deepEqual(fromIterator, expected);
      }));
  });
}

test('R12: a client that was away reads the state others changed, and sees their events (test:///session)', () =>
  withConnection('test:///session', async (a) => {
    const b = await connect('test:///session');
    try {
      const events = recordEvents(a);
      const dom = await b.defineXML(domainXML('shared'));
      await dom.create();
      await dom.destroy();
      const seen = await a.lookupByName('shared');
      assert.deepEqual(await seen.state(), [DomainState.SHUTOFF, DomainShutoffReason.DESTROYED]);
      const deadline = Date.now() + 5000;
      while (events.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(events, [
        ['shared', DomainEventType.DEFINED, DomainEventDefinedDetailType.ADDED],
        ['shared', DomainEventType.STARTED, DomainEventStartedDetailType.BOOTED],
        ['shared', DomainEventType.STOPPED, DomainEventStoppedDetailType.DESTROYED],
      ]);
    } finally {
      await b.close();
    }
  }));

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
    const dom = await defineWithSnapshots(a, 'durable', 2);
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
