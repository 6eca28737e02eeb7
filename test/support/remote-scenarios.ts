/**
 * The core rule scenarios (R1–R12 of docs/design.md, as test/rules.test.ts proves them on the embedded
 * URIs), written once against an opener so that they run on an embedded URI, through tsvirtd and
 * through a real libvirtd. Each scenario asserts the rule and also records every error it saw
 * (code, domain, message) and the values it read, so that two runs can be compared step for step.
 *
 * `target: 'libvirtd'` switches to libvirt's own test-driver behaviour where it differs from
 * tsvirt's; each such place names the difference (LIBVIRT_DIFFERENCES).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  DomainCreateFlags,
  DomainEventID,
  DomainEventStartedDetailType,
  DomainEventType,
  DomainRunningReason,
  DomainSnapshotCreateFlags,
  DomainState,
  DomainUndefineFlags,
  ErrorDomain,
  ErrorNumber,
  type Connection,
  type Domain,
} from '../../src/index.js';
import { buildCaptureTree, domainXML, flagProbeCalls, snapshotTreeOf, rejectsVir, snapshotXML, stateOf, type ExpectedError } from './fixtures.js';

const { MANAGED_SAVE, SNAPSHOTS_METADATA } = DomainUndefineFlags;

export type Target = 'tsvirt' | 'libvirtd';

/** Where libvirt 9.0's test driver (through libvirtd) behaves otherwise than tsvirt. */
export const LIBVIRT_DIFFERENCES = {
  deviceCalls:
    "libvirt 9.0's test driver has no device calls (attach, detach, update, detach by alias: VIR_ERR_NO_SUPPORT); tsvirt's test driver edits the live and persistent definitions as the qemu driver's config code does",
  transientUndefine: "libvirt's test driver allows undefine of a transient domain (returns 0, emits UNDEFINED, the domain runs on, still transient); tsvirt refuses it like the qemu driver (R1)",
  managedSaveFirst: "libvirt's test driver reports the managed-save image before the snapshots when both block an undefine with flags 0; tsvirt checks snapshots first, like the qemu driver",
  restoreBooted: "libvirt's test driver reports a start from a managed save image as STARTED/BOOTED and running/BOOTED; tsvirt reports STARTED/RESTORED and running/RESTORED like the qemu driver",
  noIgnorePowerButton: "libvirt's test driver has no guest that ignores the power button (tsvirt's <test:ignorepowerbutton/>): its shutdown always stops the guest",
  lookupMessage: "libvirt's test driver answers a failed lookupByName with the bare 'Domain not found'; tsvirt adds \": no domain with matching name 'NAME'\" like the qemu driver",
  createFlags:
    "libvirt's test driver's create accepts no flags: START_PAUSED and START_FORCE_BOOT fail with 'unsupported flags (0x1|0x8) in function testDomainCreateWithFlags'; tsvirt accepts them like the qemu driver",
  deleteMetadataOnly: "libvirt's test driver refuses snapshot delete with METADATA_ONLY; tsvirt accepts it like the qemu driver",
  checkpointsMetadataFlag:
    "libvirt's test driver refuses VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA (0x10); tsvirt's test driver accepts it like the qemu driver, because it keeps the qemu driver's checkpoint rule for undefine",
  checkpointUndefine:
    "libvirt's test driver undefines an inactive domain with checkpoints without any flag; tsvirt refuses it like the qemu driver: 'cannot delete inactive domain with N checkpoints' unless CHECKPOINTS_METADATA",
} as const;

/** What a scenario is given. */
export interface ScenarioContext {
  conn: Connection;
  /** Opens one more connection on the same URI (closed by the runner). */
  another(): Promise<Connection>;
  target: Target;
  /** Steps seen, for comparing two runs. */
  log: unknown[];
}

export interface Scenario {
  name: string;
  /** Needs two connections that see one state (not so on the embedded test:///default). */
  needsSharedState?: boolean;
  run(ctx: ScenarioContext): Promise<void>;
}

/** rejectsVir, recording what was seen. */
async function fails(ctx: ScenarioContext, p: Promise<unknown>, expected: ExpectedError): Promise<void> {
  const err = await rejectsVir(p, expected);
  ctx.log.push(['error', err.code, err.domain, err.message]);
}
function saw<T>(ctx: ScenarioContext, label: string, v: T): T {
  ctx.log.push([label, v]);
  return v;
}

async function defineWithSnapshots(conn: Connection, name: string, n: number, uuid = randomUUID()): Promise<Domain> {
  const dom = await conn.defineXML(domainXML(name, { uuid }));
  for (let i = 0; i < n; i++) await dom.snapshotCreateXML(snapshotXML(`s${i}`));
  return dom;
}

/** Lifecycle events as [name, event, detail]; `settle` waits until `n` arrived (libvirtd queues them). */
export function recordEvents(conn: Connection): { seen: [string, number, number][]; settle(n: number): Promise<[string, number, number][]> } {
  const seen: [string, number, number][] = [];
  conn.domainEventRegisterAny(null, DomainEventID.LIFECYCLE, (_c, dom, event, detail) => {
    seen.push([dom.name(), event, detail]);
  });
  return {
    seen,
    async settle(n) {
      const deadline = Date.now() + 3000;
      while (seen.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      // A moment more for anything unexpected to show up.
      await new Promise((r) => setTimeout(r, 30));
      return seen;
    },
  };
}

/** Names are unique per run, so that scenarios can share one durable daemon state. */
export const SCENARIOS: Scenario[] = [
  {
    name: 'R1: undefine of a transient domain fails with "cannot undefine transient domain"',
    async run(ctx) {
      const dom = await ctx.conn.createXML(domainXML('t1'));
      for (const flags of [0, MANAGED_SAVE, SNAPSHOTS_METADATA, MANAGED_SAVE | SNAPSHOTS_METADATA]) {
        if (ctx.target === 'libvirtd') {
          // LIBVIRT_DIFFERENCES.transientUndefine
          await dom.undefineFlags(flags);
          saw(ctx, 'undefined transient', flags);
        } else {
          await fails(ctx, dom.undefineFlags(flags), {
            code: ErrorNumber.OPERATION_INVALID,
            domain: ErrorDomain.TEST,
            message: 'Requested operation is not valid: cannot undefine transient domain',
          });
        }
      }
      assert.equal(saw(ctx, 'active', await dom.isActive()), true);
      assert.equal(saw(ctx, 'persistent', await dom.isPersistent()), false);
    },
  },
  {
    name: 'R2: undefine with a managed save image fails without MANAGED_SAVE and removes the image with it',
    async run(ctx) {
      const dom = await ctx.conn.defineXML(domainXML('ms1'));
      await dom.create();
      await dom.managedSave();
      assert.equal(await dom.hasManagedSaveImage(), true);
      for (const flags of [0, SNAPSHOTS_METADATA]) {
        await fails(ctx, dom.undefineFlags(flags), {
          code: ErrorNumber.OPERATION_INVALID,
          message: 'Requested operation is not valid: Refusing to undefine while domain managed save image exists',
        });
      }
      assert.equal(await dom.hasManagedSaveImage(), true);
      await dom.undefineFlags(MANAGED_SAVE);
      await fails(ctx, ctx.conn.lookupByName('ms1'), { code: ErrorNumber.NO_DOMAIN });
    },
  },
  {
    name: 'R3: undefine of an inactive domain with N snapshots is refused and changes nothing',
    async run(ctx) {
      const dom = await defineWithSnapshots(ctx.conn, 'web1', 3);
      const before = await stateOf(ctx.conn);
      for (const flags of [0, MANAGED_SAVE]) {
        await fails(ctx, dom.undefineFlags(flags), {
          code: ErrorNumber.OPERATION_INVALID,
          domain: ErrorDomain.TEST,
          message: 'Requested operation is not valid: cannot delete inactive domain with 3 snapshots',
        });
      }
      await fails(ctx, dom.undefine(), { code: ErrorNumber.OPERATION_INVALID });
      assert.deepEqual(await stateOf(ctx.conn), before);
    },
  },
  {
    name: 'R3: with SNAPSHOTS_METADATA the domain and all its snapshot metadata go',
    async run(ctx) {
      const uuid = randomUUID();
      const dom = await defineWithSnapshots(ctx.conn, 'web2', 4, uuid);
      await dom.undefineFlags(SNAPSHOTS_METADATA);
      await fails(ctx, ctx.conn.lookupByUUIDString(uuid), { code: ErrorNumber.NO_DOMAIN });
      const again = await ctx.conn.defineXML(domainXML('web2', { uuid }));
      assert.equal(saw(ctx, 'snapshots', await again.snapshotNum()), 0);
      assert.equal(saw(ctx, 'current', await again.hasCurrentSnapshot()), false);
    },
  },
  {
    name: 'R3: managed save and snapshots together need both flags',
    async run(ctx) {
      const dom = await defineWithSnapshots(ctx.conn, 'both', 1);
      await dom.create();
      await dom.managedSave();
      // LIBVIRT_DIFFERENCES.managedSaveFirst (flags 0 only).
      const first = ctx.target === 'libvirtd' ? /managed save image exists/ : /cannot delete inactive domain with 1 snapshots/;
      await fails(ctx, dom.undefineFlags(0), { message: first, code: 55 });
      await fails(ctx, dom.undefineFlags(MANAGED_SAVE), { message: /cannot delete inactive domain with 1 snapshots/, code: 55 });
      await fails(ctx, dom.undefineFlags(SNAPSHOTS_METADATA), { message: /managed save image exists/, code: 55 });
      await dom.undefineFlags(MANAGED_SAVE | SNAPSHOTS_METADATA);
      assert.equal((await ctx.conn.listAllDomains()).some((d) => d.name() === 'both'), false);
    },
  },
  {
    name: 'R4: undefine of an active domain makes it transient and keeps its metadata until it halts',
    async run(ctx) {
      const uuid = randomUUID();
      const dom = await defineWithSnapshots(ctx.conn, 'live', 2, uuid);
      await dom.create();
      await dom.undefineFlags(SNAPSHOTS_METADATA);
      assert.equal(await dom.isActive(), true);
      assert.equal(await dom.isPersistent(), false);
      assert.equal(saw(ctx, 'snapshots', await dom.snapshotNum()), 2);
      assert.equal((await dom.snapshotCurrent()).getName(), 's1');
      await dom.destroy();
      await fails(ctx, dom.isActive(), {
        code: ErrorNumber.NO_DOMAIN,
        message: `Domain not found: no domain with matching uuid '${uuid}' (live)`,
      });
      const again = await ctx.conn.defineXML(domainXML('live', { uuid }));
      assert.equal(saw(ctx, 'snapshots again', await again.snapshotNum()), 0);
    },
  },
  {
    name: 'R4: an undefined running domain that shuts down is gone too',
    async run(ctx) {
      const dom = await defineWithSnapshots(ctx.conn, 'live2', 1);
      await dom.create();
      await dom.undefine();
      assert.equal(await dom.snapshotNum(), 1);
      await dom.shutdown();
      await fails(ctx, ctx.conn.lookupByUUIDString(dom.UUIDString()), { code: ErrorNumber.NO_DOMAIN });
    },
  },
  {
    name: 'R5: a transient domain that quits by destroy or shutdown loses its snapshots',
    async run(ctx) {
      for (const how of ['destroy', 'shutdown'] as const) {
        const uuid = randomUUID();
        const dom = await ctx.conn.createXML(domainXML(`tr-${how}`, { uuid }));
        await dom.snapshotCreateXML(snapshotXML('a'));
        await dom.snapshotCreateXML(snapshotXML('b'));
        const events = recordEvents(ctx.conn);
        await (how === 'destroy' ? dom.destroy() : dom.shutdown());
        assert.deepEqual(saw(ctx, 'events', await events.settle(1)), [
          [`tr-${how}`, DomainEventType.STOPPED, how === 'destroy' ? 1 : 0],
        ]);
        await fails(ctx, dom.snapshotNum(), { code: ErrorNumber.NO_DOMAIN });
        const again = await ctx.conn.createXML(domainXML(`tr-${how}`, { uuid }));
        assert.equal(await again.snapshotNum(), 0);
        assert.equal(await again.hasCurrentSnapshot(), false);
        await again.destroy();
      }
    },
  },
  {
    name: 'R6: nothing of a removed domain survives into a new one with the same name and UUID',
    async run(ctx) {
      const uuid = randomUUID();
      const dom = await defineWithSnapshots(ctx.conn, 'phoenix', 3, uuid);
      await dom.create();
      await dom.managedSave();
      await dom.undefineFlags(MANAGED_SAVE | SNAPSHOTS_METADATA);
      for (const make of ['define', 'create'] as const) {
        const again =
          make === 'define' ? await ctx.conn.defineXML(domainXML('phoenix', { uuid })) : await ctx.conn.createXML(domainXML('phoenix', { uuid }));
        assert.equal(saw(ctx, `${make} snapshots`, await again.snapshotNum()), 0);
        assert.equal(await again.hasCurrentSnapshot(), false);
        assert.equal(await again.hasManagedSaveImage(), false);
        if (make === 'define') await again.undefine();
        else await again.destroy();
      }
    },
  },
  {
    name: 'R7: an unknown flag bit fails with "unsupported flags" before anything changes',
    async run(ctx) {
      const dom = await defineWithSnapshots(ctx.conn, 'flags', 1);
      const snap = await dom.snapshotLookupByName('s0');
      const bad = 1 << 20;
      const before = await stateOf(ctx.conn);
      const calls = flagProbeCalls(ctx.conn, dom, snap, bad);
      for (const [fn, call] of calls) {
        await fails(ctx, call(), {
          code: ErrorNumber.INVALID_ARG,
          domain: ErrorDomain.TEST,
          message: `unsupported flags (0x100000) in function ${fn}`,
        });
      }
      for (const flag of [4, 8, 32, 64]) {
        await fails(ctx, dom.undefineFlags(flag), {
          code: ErrorNumber.INVALID_ARG,
          message: `unsupported flags (0x${flag.toString(16)}) in function testDomainUndefineFlags`,
        });
      }
      // LIBVIRT_DIFFERENCES.checkpointsMetadataFlag
      await fails(
        ctx,
        dom.undefineFlags(DomainUndefineFlags.CHECKPOINTS_METADATA),
        ctx.target === 'libvirtd'
          ? { code: ErrorNumber.INVALID_ARG, message: 'unsupported flags (0x10) in function testDomainUndefineFlags' }
          : { code: ErrorNumber.OPERATION_INVALID, message: 'Requested operation is not valid: cannot delete inactive domain with 1 snapshots' },
      );
      await fails(ctx, dom.snapshotCreateXML(snapshotXML('x'), DomainSnapshotCreateFlags.CURRENT), {
        code: ErrorNumber.INVALID_ARG,
        domain: ErrorDomain.DOMAIN_SNAPSHOT,
        message: "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' is required by flag 'VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT'",
      });
      await fails(ctx, snap.delete(1 | 4), {
        code: ErrorNumber.INVALID_ARG,
        message: "Flags 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN' and 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY' are mutually exclusive",
      });
      await fails(ctx, snap.revert(1 | 2), { code: ErrorNumber.INVALID_ARG, message: /mutually exclusive/ });
      if (ctx.target === 'libvirtd') {
        // LIBVIRT_DIFFERENCES.deleteMetadataOnly
        await fails(ctx, snap.delete(2), { code: ErrorNumber.INVALID_ARG, message: 'unsupported flags (0x2) in function testDomainSnapshotDelete' });
      }
      assert.deepEqual(await stateOf(ctx.conn), before);
    },
  },
  {
    name: 'R8: shutdown only asks; destroy stops the guest',
    async run(ctx) {
      if (ctx.target === 'tsvirt') {
        // LIBVIRT_DIFFERENCES.noIgnorePowerButton: only tsvirt has a guest that ignores it.
        const dom = await ctx.conn.defineXML(domainXML('stubborn', { ignorePowerButton: true }));
        await dom.create();
        const events = recordEvents(ctx.conn);
        await dom.shutdown();
        assert.deepEqual(saw(ctx, 'state', await dom.state()), [DomainState.RUNNING, 1]);
        await dom.destroy();
        assert.deepEqual(saw(ctx, 'events', await events.settle(1)), [['stubborn', DomainEventType.STOPPED, 1]]);
        assert.deepEqual(saw(ctx, 'state', await dom.state()), [DomainState.SHUTOFF, 2]);
      }
      const polite = await ctx.conn.defineXML(domainXML('polite'));
      await polite.create();
      await polite.shutdown();
      assert.deepEqual(saw(ctx, 'state', await polite.state()), [DomainState.SHUTOFF, 1]);
      await fails(ctx, polite.destroy(), {
        code: ErrorNumber.OPERATION_INVALID,
        domain: ErrorDomain.DOMAIN,
        message: 'Requested operation is not valid: domain is not running',
      });
    },
  },
  {
    name: 'R10: every snapshot XML captured and REDEFINEd restores the tree and the current snapshot',
    async run(ctx) {
      const uuid = randomUUID();
      const dom = await ctx.conn.defineXML(domainXML('cap', { uuid }));
      await buildCaptureTree(dom);
      const captured = new Map<string, string>();
      for (const s of await dom.listAllSnapshots(1024 /* TOPOLOGICAL */)) captured.set(s.getName(), await s.getXMLDesc());
      const current = (await dom.snapshotCurrent()).getName();
      const treeOf = snapshotTreeOf;
      const before = saw(ctx, 'tree', await treeOf(dom));
      await dom.undefineFlags(SNAPSHOTS_METADATA);
      const again = await ctx.conn.defineXML(domainXML('cap', { uuid }));
      assert.equal(await again.snapshotNum(), 0);
      for (const [name, xml] of captured) {
        const flags = DomainSnapshotCreateFlags.REDEFINE | (name === current ? DomainSnapshotCreateFlags.CURRENT : 0);
        await again.snapshotCreateXML(xml, flags);
      }
      assert.deepEqual(await treeOf(again), before);
      for (const [name, xml] of captured) assert.equal(await (await again.snapshotLookupByName(name)).getXMLDesc(), xml);
      assert.equal((await again.snapshotCurrent()).getName(), 'a');
    },
  },
  {
    name: 'R10: REDEFINE needs the full XML',
    async run(ctx) {
      const dom = await ctx.conn.defineXML(domainXML('redef'));
      await fails(ctx, dom.snapshotCreateXML(snapshotXML('x'), DomainSnapshotCreateFlags.REDEFINE), {
        code: ErrorNumber.INTERNAL_ERROR,
        message: 'internal error: missing creationTime from existing snapshot',
      });
      assert.equal(await dom.snapshotNum(), 0);
    },
  },
  {
    name: 'R11: managed save is refused for transient domains; start resumes from the image and removes it',
    async run(ctx) {
      const tr = await ctx.conn.createXML(domainXML('tr-ms'));
      await fails(ctx, tr.managedSave(), {
        code: ErrorNumber.OPERATION_INVALID,
        domain: ErrorDomain.TEST,
        message: 'Requested operation is not valid: cannot do managed save for transient domain',
      });
      const dom = await ctx.conn.defineXML(domainXML('saver'));
      await fails(ctx, dom.managedSave(), {
        code: ErrorNumber.OPERATION_INVALID,
        domain: ErrorDomain.DOMAIN,
        message: 'Requested operation is not valid: domain is not running',
      });
      await dom.create();
      const events = recordEvents(ctx.conn);
      await dom.managedSave();
      assert.deepEqual(saw(ctx, 'state', await dom.state()), [DomainState.SHUTOFF, 5 /* SAVED */]);
      assert.equal(await dom.hasManagedSaveImage(), true);
      await dom.create();
      assert.equal(await dom.hasManagedSaveImage(), false);
      // LIBVIRT_DIFFERENCES.restoreBooted
      const lv = ctx.target === 'libvirtd';
      assert.deepEqual(saw(ctx, 'state', await dom.state()), [DomainState.RUNNING, lv ? DomainRunningReason.BOOTED : DomainRunningReason.RESTORED]);
      await dom.managedSave();
      if (lv) {
        // LIBVIRT_DIFFERENCES.createFlags: no FORCE_BOOT; remove the image, then boot.
        await fails(ctx, dom.createWithFlags(DomainCreateFlags.START_FORCE_BOOT), {
          code: ErrorNumber.INVALID_ARG,
          message: 'unsupported flags (0x8) in function testDomainCreateWithFlags',
        });
        await dom.managedSaveRemove();
        await dom.create();
      } else {
        await dom.createWithFlags(DomainCreateFlags.START_FORCE_BOOT);
      }
      assert.equal(await dom.hasManagedSaveImage(), false);
      assert.deepEqual(saw(ctx, 'state', await dom.state()), [DomainState.RUNNING, 1 /* BOOTED */]);
      assert.deepEqual(saw(ctx, 'events', await events.settle(4)), [
        ['saver', DomainEventType.STOPPED, 4],
        ['saver', DomainEventType.STARTED, lv ? DomainEventStartedDetailType.BOOTED : DomainEventStartedDetailType.RESTORED],
        ['saver', DomainEventType.STOPPED, 4],
        ['saver', DomainEventType.STARTED, 0],
      ]);
    },
  },
  {
    name: 'R12: lifecycle events with libvirt detail codes, through callbacks and the async iterator',
    async run(ctx) {
      const events = recordEvents(ctx.conn);
      const iter = ctx.conn.events();
      const dom = await ctx.conn.defineXML(domainXML('ev'));
      await ctx.conn.defineXML(domainXML('ev', { uuid: dom.UUIDString() }));
      if (ctx.target === 'libvirtd') {
        // LIBVIRT_DIFFERENCES.createFlags: no START_PAUSED; boot, then pause (same events).
        await fails(ctx, dom.createWithFlags(DomainCreateFlags.START_PAUSED), {
          code: ErrorNumber.INVALID_ARG,
          message: 'unsupported flags (0x1) in function testDomainCreateWithFlags',
        });
        await dom.create();
        await dom.suspend();
      } else {
        await dom.createWithFlags(DomainCreateFlags.START_PAUSED);
      }
      await dom.resume();
      await dom.suspend();
      await dom.destroy();
      await dom.undefine();
      const expected: [string, number, number][] = [
        ['ev', DomainEventType.DEFINED, 0],
        ['ev', DomainEventType.DEFINED, 1],
        ['ev', DomainEventType.STARTED, 0],
        ['ev', DomainEventType.SUSPENDED, 0],
        ['ev', DomainEventType.RESUMED, 0],
        ['ev', DomainEventType.SUSPENDED, 0],
        ['ev', DomainEventType.STOPPED, 1],
        ['ev', DomainEventType.UNDEFINED, 0],
      ];
      assert.deepEqual(saw(ctx, 'events', await events.settle(expected.length)), expected);
      const fromIterator: [string, number, number][] = [];
      for await (const ev of iter) {
        fromIterator.push([ev.domain.name(), ev.event, ev.detail]);
        if (fromIterator.length === expected.length) break;
      }
      assert.deepEqual(fromIterator, expected);
    },
  },
  {
    name: 'R12: a client that was away reads the state others changed, and sees their events',
    needsSharedState: true,
    async run(ctx) {
      const b = await ctx.another();
      const events = recordEvents(ctx.conn);
      // A round trip on the listening connection: its registration is in place before b acts.
      await ctx.conn.numOfDomains();
      const dom = await b.defineXML(domainXML('shared'));
      await dom.create();
      await dom.destroy();
      const seen = await ctx.conn.lookupByName('shared');
      assert.deepEqual(saw(ctx, 'state', await seen.state()), [DomainState.SHUTOFF, 2]);
      assert.deepEqual(saw(ctx, 'events', await events.settle(3)), [
        ['shared', DomainEventType.DEFINED, 0],
        ['shared', DomainEventType.STARTED, 0],
        ['shared', DomainEventType.STOPPED, 1],
      ]);
    },
  },
];
