/**
 * The rules R1–R12 of docs/design.md as one suite, run on every profile (test/support/profiles.ts):
 * the test driver's URIs (test/rules.test.ts) and qemu:///session with real TCG guests
 * (test/rules-qemu.test.ts). A test asserts the same rule on each; where a real guest takes time
 * the profile waits (booted, stopped, reacted — no-ops on the instant simulator, so there the
 * assertions right after each call still prove that its effect is immediate), and where drivers
 * differ legitimately the expectation is a named field of the profile.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  DomainCreateFlags,
  DomainEventDefinedDetailType,
  DomainEventID,
  DomainEventResumedDetailType,
  DomainEventStartedDetailType,
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
} from '../../src/index.js';
import { buildCaptureTree, flagProbeCalls, rejectsVir, snapshotTreeOf, snapshotXML, stateOf } from './fixtures.js';
import type { EventPair, RuleProfile } from './profiles.js';

const { MANAGED_SAVE, SNAPSHOTS_METADATA } = DomainUndefineFlags;

/** A lifecycle event as the tests compare them: [domain name, event, detail]. */
type Seen = [string, number, number];

/** Collects lifecycle events as [name, event, detail]. */
export function recordEvents(conn: Connection): Seen[] {
  const seen: Seen[] = [];
  conn.domainEventRegisterAny(null, DomainEventID.LIFECYCLE, (_c, dom, event, detail) => {
    seen.push([dom.name(), event, detail]);
  });
  return seen;
}

/** A profile's named events, for one domain. */
function named(name: string, ...groups: EventPair[][]): Seen[] {
  return groups.flat().map(([event, detail]) => [name, event, detail]);
}

/** Runs R1–R12 on `profile`'s URI. */
export function ruleSuite(profile: RuleProfile): void {
  const { uri, errorDomain, events: ev } = profile;
  const xml = (name: string, options?: Parameters<RuleProfile['domainXML']>[1]) => profile.domainXML(name, options);
  const run = (name: string, fn: (conn: Connection) => Promise<void>) =>
    test(name, { timeout: profile.timeoutMs }, () => profile.withConnection(fn));

  async function defineWithSnapshots(conn: Connection, name: string, n: number, uuid = randomUUID()): Promise<Domain> {
    const dom = await conn.defineXML(xml(name, { uuid }));
    for (let i = 0; i < n; i++) await dom.snapshotCreateXML(snapshotXML(`s${i}`));
    return dom;
  }

  describe(uri, { skip: profile.skip }, () => {
    before(() => profile.setup());
    after(() => profile.teardown());

    run('R1: undefine of a transient domain fails with "cannot undefine transient domain"', async (conn) => {
      const dom = await conn.createXML(xml('t1'));
      for (const flags of [0, MANAGED_SAVE, SNAPSHOTS_METADATA, MANAGED_SAVE | SNAPSHOTS_METADATA]) {
        await rejectsVir(dom.undefineFlags(flags), {
          code: ErrorNumber.OPERATION_INVALID,
          domain: errorDomain,
          message: 'Requested operation is not valid: cannot undefine transient domain',
        });
      }
      assert.equal(await dom.isActive(), true);
      assert.equal(await dom.isPersistent(), false);
    });

    run('R2: undefine with a managed save image fails without MANAGED_SAVE and removes the image with it', async (conn) => {
      const dom = await conn.defineXML(xml('ms1'));
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
    });

    run('R3: undefine of an inactive domain with N snapshots is refused and changes nothing', async (conn) => {
      const dom = await defineWithSnapshots(conn, 'web1', 3);
      const before = await stateOf(conn);
      for (const flags of [0, MANAGED_SAVE]) {
        await rejectsVir(dom.undefineFlags(flags), {
          code: ErrorNumber.OPERATION_INVALID,
          domain: errorDomain,
          message: 'Requested operation is not valid: cannot delete inactive domain with 3 snapshots',
        });
      }
      await rejectsVir(dom.undefine(), { code: ErrorNumber.OPERATION_INVALID });
      assert.deepEqual(await stateOf(conn), before);
    });

    run('R3: with SNAPSHOTS_METADATA the domain and all its snapshot metadata go', async (conn) => {
      const uuid = randomUUID();
      const dom = await defineWithSnapshots(conn, 'web2', 4, uuid);
      await dom.undefineFlags(SNAPSHOTS_METADATA);
      await rejectsVir(conn.lookupByName('web2'), { code: ErrorNumber.NO_DOMAIN });
      const again = await conn.defineXML(xml('web2', { uuid }));
      assert.equal(await again.snapshotNum(), 0);
      assert.equal(await again.hasCurrentSnapshot(), false);
    });

    run('R3: managed save and snapshots together need both flags (snapshots checked first, as qemu)', async (conn) => {
      const dom = await defineWithSnapshots(conn, 'both', 1);
      await dom.create();
      await dom.managedSave();
      await rejectsVir(dom.undefineFlags(0), { message: /cannot delete inactive domain with 1 snapshots/, code: 55 });
      await rejectsVir(dom.undefineFlags(MANAGED_SAVE), { message: /cannot delete inactive domain with 1 snapshots/, code: 55 });
      await rejectsVir(dom.undefineFlags(SNAPSHOTS_METADATA), { message: /managed save image exists/, code: 55 });
      await dom.undefineFlags(MANAGED_SAVE | SNAPSHOTS_METADATA);
      assert.equal((await conn.listAllDomains()).some((d) => d.name() === 'both'), false);
    });

    run('R4: undefine of an active domain makes it transient and keeps its metadata until it halts', async (conn) => {
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
      const again = await conn.defineXML(xml('live', { uuid }));
      assert.equal(await again.snapshotNum(), 0);
    });

    run('R4: an undefined running domain that shuts down is gone too', async (conn) => {
      const dom = await defineWithSnapshots(conn, 'live2', 1);
      await dom.create();
      await profile.booted(dom);
      await dom.undefine();
      assert.equal(await dom.snapshotNum(), 1);
      await dom.shutdown();
      await profile.stopped(dom);
      await rejectsVir(conn.lookupByName('live2'), { code: ErrorNumber.NO_DOMAIN });
    });

    run('R5: a transient domain that quits by destroy or shutdown loses its snapshots', async (conn) => {
      for (const how of ['destroy', 'shutdown'] as const) {
        const uuid = randomUUID();
        const name = `tr-${how}`;
        const dom = await conn.createXML(xml(name, { uuid }));
        await dom.snapshotCreateXML(snapshotXML('a'));
        await dom.snapshotCreateXML(snapshotXML('b'));
        if (how === 'shutdown') await profile.booted(dom);
        const events = recordEvents(conn);
        if (how === 'destroy') {
          await dom.destroy();
        } else {
          await dom.shutdown();
          await profile.stopped(dom);
        }
        assert.deepEqual(events, named(name, how === 'destroy' ? ev.destroyed : ev.shutdownObeyed));
        await rejectsVir(dom.snapshotNum(), { code: ErrorNumber.NO_DOMAIN });
        const again = await conn.createXML(xml(name, { uuid }));
        assert.equal(await again.snapshotNum(), 0);
        assert.equal(await again.hasCurrentSnapshot(), false);
        await again.destroy();
      }
    });

    run('R6: nothing of a removed domain survives into a new one with the same name and UUID', async (conn) => {
      const uuid = randomUUID();
      const dom = await defineWithSnapshots(conn, 'phoenix', 3, uuid);
      await dom.create();
      await dom.managedSave();
      await dom.undefineFlags(MANAGED_SAVE | SNAPSHOTS_METADATA);
      for (const make of ['define', 'create'] as const) {
        const again = make === 'define' ? await conn.defineXML(xml('phoenix', { uuid })) : await conn.createXML(xml('phoenix', { uuid }));
        assert.equal(await again.snapshotNum(), 0);
        assert.equal(await again.hasCurrentSnapshot(), false);
        assert.equal(await again.hasManagedSaveImage(), false);
        if (make === 'define') await again.undefine();
        else await again.destroy();
      }
    });

    run('R7: an unknown flag bit fails with "unsupported flags" before anything changes', async (conn) => {
      const dom = await defineWithSnapshots(conn, 'flags', 1);
      const snap = await dom.snapshotLookupByName('s0');
      const bad = 1 << 20;
      const before = await stateOf(conn);
      for (const [fn, call] of flagProbeCalls(conn, dom, snap, bad, (name) => xml(name))) {
        await rejectsVir(call(), {
          code: ErrorNumber.INVALID_ARG,
          domain: errorDomain,
          message: `unsupported flags (0x100000) in function ${profile.functionName(fn)}`,
        });
      }
      // The later undefine flags, which libvirt's test driver does not support. CHECKPOINTS_METADATA
      // (16) is accepted everywhere: tsvirt's test driver keeps the qemu driver's checkpoint rule,
      // which the flag satisfies.
      for (const flag of [4, 8, 16, 32, 64]) {
        await rejectsVir(
          dom.undefineFlags(flag),
          profile.laterUndefineFlags === 'unsupported' && flag !== 16
            ? {
                code: ErrorNumber.INVALID_ARG,
                message: `unsupported flags (0x${flag.toString(16)}) in function ${profile.functionName('testDomainUndefineFlags')}`,
              }
            : { code: ErrorNumber.OPERATION_INVALID, message: /cannot delete inactive domain with 1 snapshots/ },
        );
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
    });

    run('R8: shutdown only asks; a guest that ignores the power button keeps running; destroy stops it', async (conn) => {
      const dom = await conn.defineXML(xml('stubborn', { ignorePowerButton: true }));
      await dom.create();
      await profile.booted(dom);
      const events = recordEvents(conn);
      await dom.shutdown();
      await profile.reacted(dom);
      assert.deepEqual(await dom.state(), [DomainState.RUNNING, DomainRunningReason.BOOTED]);
      assert.deepEqual(events, []);
      await dom.destroy();
      assert.deepEqual(await dom.state(), [DomainState.SHUTOFF, DomainShutoffReason.DESTROYED]);
      const polite = await conn.defineXML(xml('polite'));
      await polite.create();
      await profile.booted(polite);
      await polite.shutdown();
      await profile.stopped(polite);
      assert.deepEqual(await polite.state(), [DomainState.SHUTOFF, DomainShutoffReason.SHUTDOWN]);
      await rejectsVir(polite.shutdown(), {
        code: ErrorNumber.OPERATION_INVALID,
        message: 'Requested operation is not valid: domain is not running',
      });
      await rejectsVir(polite.destroy(), { code: ErrorNumber.OPERATION_INVALID, domain: ErrorDomain.DOMAIN });
    });

    run('R10: every snapshot XML captured and REDEFINEd restores the tree and the current snapshot', async (conn) => {
      const uuid = randomUUID();
      const dom = await conn.defineXML(xml('cap', { uuid }));
      await buildCaptureTree(dom);
      const captured = new Map<string, string>();
      for (const s of await dom.listAllSnapshots(1024 /* TOPOLOGICAL */)) captured.set(s.getName(), await s.getXMLDesc());
      const current = (await dom.snapshotCurrent()).getName();
      const before = await snapshotTreeOf(dom);
      await dom.undefineFlags(SNAPSHOTS_METADATA);

      const again = await conn.defineXML(xml('cap', { uuid }));
      assert.equal(await again.snapshotNum(), 0);
      for (const [name, snapXML] of captured) {
        const flags = DomainSnapshotCreateFlags.REDEFINE | (name === current ? DomainSnapshotCreateFlags.CURRENT : 0);
        await again.snapshotCreateXML(snapXML, flags);
      }
      assert.deepEqual(await snapshotTreeOf(again), before);
      for (const [name, snapXML] of captured) {
        assert.equal(await (await again.snapshotLookupByName(name)).getXMLDesc(), snapXML);
      }
      assert.equal((await again.snapshotCurrent()).getName(), 'a');
    });

    run('R10: REDEFINE needs the full XML and an existing parent', async (conn) => {
      const dom = await conn.defineXML(xml('redef'));
      await rejectsVir(dom.snapshotCreateXML(snapshotXML('x'), DomainSnapshotCreateFlags.REDEFINE), {
        code: ErrorNumber.INTERNAL_ERROR,
        message: 'internal error: missing creationTime from existing snapshot',
      });
      const orphan = `<domainsnapshot><name>child</name><state>shutoff</state><parent><name>nope</name></parent><creationTime>1700000000</creationTime></domainsnapshot>`;
      await rejectsVir(dom.snapshotCreateXML(orphan, DomainSnapshotCreateFlags.REDEFINE), {
        code: ErrorNumber.INVALID_ARG,
        message: 'invalid argument: parent nope for snapshot child not found',
      });
      assert.equal(await dom.snapshotNum(), 0);
    });

    run('R11: managed save is refused for transient domains; start resumes from the image and removes it', async (conn) => {
      const tr = await conn.createXML(xml('tr-ms'));
      await rejectsVir(tr.managedSave(), {
        code: ErrorNumber.OPERATION_INVALID,
        domain: errorDomain,
        message: 'Requested operation is not valid: cannot do managed save for transient domain',
      });
      const dom = await conn.defineXML(xml('saver'));
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
      assert.deepEqual(events, named('saver', ev.managedSaved, ev.restored, ev.managedSaved, ev.booted));
    });

    run('R11: revert of a domain with a managed save image needs FORCE, which removes the image', async (conn) => {
      const dom = await conn.defineXML(xml('rv'));
      await dom.snapshotCreateXML(snapshotXML('off'));
      await dom.create();
      await dom.managedSave();
      const snap = await dom.snapshotLookupByName('off');
      await rejectsVir(snap.revert(0), { code: ErrorNumber.SNAPSHOT_REVERT_RISKY, message: /^revert requires force: / });
      assert.equal(await dom.hasManagedSaveImage(), true);
      await snap.revert(4 /* FORCE */);
      assert.equal(await dom.hasManagedSaveImage(), false);
    });

    run('R12: lifecycle events with libvirt detail codes, through callbacks and the async iterator', async (conn) => {
      const events = recordEvents(conn);
      const iter = conn.events();
      const dom = await conn.defineXML(xml('ev'));
      await conn.defineXML(xml('ev', { uuid: dom.UUIDString() }));
      await dom.createWithFlags(DomainCreateFlags.START_PAUSED);
      await dom.resume();
      await dom.suspend();
      await dom.destroy();
      await dom.undefine();
      const expected: Seen[] = [
        ['ev', DomainEventType.DEFINED, DomainEventDefinedDetailType.ADDED],
        ['ev', DomainEventType.DEFINED, DomainEventDefinedDetailType.UPDATED],
        ['ev', DomainEventType.STARTED, DomainEventStartedDetailType.BOOTED],
        ['ev', DomainEventType.SUSPENDED, DomainEventSuspendedDetailType.PAUSED],
        ['ev', DomainEventType.RESUMED, DomainEventResumedDetailType.UNPAUSED],
        ['ev', DomainEventType.SUSPENDED, DomainEventSuspendedDetailType.PAUSED],
        ...named('ev', ev.destroyed),
        ['ev', DomainEventType.UNDEFINED, DomainEventUndefinedDetailType.REMOVED],
      ];
      assert.deepEqual(events, expected);
      const fromIterator: Seen[] = [];
      for await (const e of iter) {
        fromIterator.push([e.domain.name(), e.event, e.detail]);
        if (fromIterator.length === expected.length) break;
      }
      assert.deepEqual(fromIterator, expected);
    });

    if (profile.durable) {
      run(`R12: a client that was away reads the state others changed, and sees their events (${uri})`, async (a) => {
        const b = await connect(uri);
        try {
          const events = recordEvents(a);
          const dom = await b.defineXML(xml('shared'));
          await dom.create();
          await dom.destroy();
          const seen = await a.lookupByName('shared');
          assert.deepEqual(await seen.state(), [DomainState.SHUTOFF, DomainShutoffReason.DESTROYED]);
          const expected: Seen[] = [
            ['shared', DomainEventType.DEFINED, DomainEventDefinedDetailType.ADDED],
            ...named('shared', ev.booted, ev.destroyed),
          ];
          // Another connection's events arrive through the store's event log, polled.
          const deadline = Date.now() + 5000;
          while (events.length < expected.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
          assert.deepEqual(events, expected);
        } finally {
          await b.close();
        }
      });
    }
  });
}
