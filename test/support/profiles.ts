/**
 * Rule-suite profiles: what the shared rule tests (test/support/rule-suite.ts) need to know about
 * the URI they run on. The test driver's profiles (test:///default, test:///session) keep the
 * simulator's instant semantics; the QEMU profile (qemu:///session) runs real TCG guests, each
 * with its own fresh qcow2 disk so that snapshots are real, and waits where a real guest takes
 * time. Where the two differ legitimately (error domain, function names in flag errors, events),
 * the expectation is a named field of the profile.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ConnectListAllDomainsFlags,
  DomainEventID,
  DomainEventResumedDetailType,
  DomainEventShutdownDetailType,
  DomainEventStartedDetailType,
  DomainEventStoppedDetailType,
  DomainEventSuspendedDetailType,
  DomainEventType,
  DomainState,
  ErrorDomain,
  ErrorNumber,
  VirError,
  connect,
  type Connection,
  type Domain,
} from '../../src/index.js';
import { Reaper, buildTestGuest, guestXML, pidAlive, qemuSkipReason, readText, type TestGuest } from '../qemu-harness.js';
import { domainXML, withConnection, type DomainXMLOptions } from './fixtures.js';

/** A lifecycle event without its domain: [event, detail]. */
export type EventPair = [DomainEventType, number];

/**
 * The lifecycle events a profile's driver emits for each change the rule tests make, in order.
 * Named, so that a difference between drivers is visible where it is declared.
 */
export interface ProfileEvents {
  /** A shut-off domain booted (create, createWithFlags FORCE_BOOT). */
  booted: EventPair[];
  /** destroy of a running domain. */
  destroyed: EventPair[];
  /** shutdown of a guest that obeys the power button, up to the moment it is shut off. */
  shutdownObeyed: EventPair[];
  /** managedSave of a running domain. */
  managedSaved: EventPair[];
  /** create of a domain with a managed save image (the restore). */
  restored: EventPair[];
}

/** What the shared rule suite needs to know about the URI it runs on. */
export interface RuleProfile {
  readonly uri: string;
  /** Why the suite cannot run here (node:test's `skip`), or false. */
  readonly skip: string | false;
  /** Per-test timeout in ms. */
  readonly timeoutMs: number;
  /** Error domain of the driver's own errors (VIR_FROM_TEST, VIR_FROM_QEMU). */
  readonly errorDomain: ErrorDomain;
  /** Whether state outlives a connection, so that a second client shares it. */
  readonly durable: boolean;
  /** libvirt's name, in this driver, of the function named `testName` in libvirt's test driver. */
  functionName(testName: string): string;
  /**
   * What the undefine flags libvirt's test driver does not know (NVRAM 4, KEEP_NVRAM 8, TPM 32,
   * KEEP_TPM 64) do here: refused as unsupported, or accepted (then the rules decide, as for
   * flag 0). CHECKPOINTS_METADATA 16 is accepted by every tsvirt driver with checkpoints.
   */
  readonly laterUndefineFlags: 'unsupported' | 'accepted';
  readonly events: ProfileEvents;
  /** A domain's XML for this driver (a new call may create files, e.g. a fresh disk). */
  domainXML(name: string, options?: DomainXMLOptions): string;
  /** Once per test file, before any test (builds the guest). */
  setup(): Promise<void>;
  /** Once per test file, after every test, also after failures (removes temp state). */
  teardown(): Promise<void>;
  /**
   * Opens the profile's URI with private state, runs `fn`, and then — also when `fn` fails —
   * stops every guest it left, closes and removes the state.
   */
  withConnection<T>(fn: (conn: Connection) => Promise<T>): Promise<T>;
  /** Returns once a freshly booted guest is ready (it answers the power button when it obeys it). */
  booted(dom: Domain): Promise<void>;
  /** Returns once a guest that obeys the power button has stopped after `shutdown`. */
  stopped(dom: Domain): Promise<void>;
  /** Returns once a running guest has had time (its own time) to react to the power button. */
  reacted(dom: Domain): Promise<void>;
}

const { STARTED, STOPPED, SHUTDOWN, RESUMED, SUSPENDED } = DomainEventType;

/** Events of tsvirt's test driver (libvirt's, except restore: tsvirt follows qemu, STARTED/RESTORED). */
const TEST_EVENTS: ProfileEvents = {
  booted: [[STARTED, DomainEventStartedDetailType.BOOTED]],
  destroyed: [[STOPPED, DomainEventStoppedDetailType.DESTROYED]],
  // The simulator's guest stops within the call.
  shutdownObeyed: [[STOPPED, DomainEventStoppedDetailType.SHUTDOWN]],
  managedSaved: [[STOPPED, DomainEventStoppedDetailType.SAVED]],
  restored: [[STARTED, DomainEventStartedDetailType.RESTORED]],
};

/**
 * A profile of tsvirt's test driver: the simulator is instant, so nothing waits, and the tests
 * assert right after each call that its effect is there.
 */
export function testProfile(uri: 'test:///default' | 'test:///session'): RuleProfile {
  const done = async (): Promise<void> => undefined;
  return {
    uri,
    skip: false,
    timeoutMs: 30_000,
    errorDomain: ErrorDomain.TEST,
    durable: uri === 'test:///session',
    functionName: (name) => name,
    laterUndefineFlags: 'unsupported',
    events: TEST_EVENTS,
    domainXML,
    setup: done,
    teardown: done,
    withConnection: (fn) => withConnection(uri, (conn) => fn(conn)),
    booted: done,
    stopped: done,
    reacted: done,
  };
}

/**
 * Events of tsvirt's QEMU driver, as libvirt's qemu driver emits them (notes/libvirt-behaviour.md,
 * Events): the monitor's own vCPU and shutdown events beside the lifecycle change — RESUMED/UNPAUSED
 * after STARTED, SHUTDOWN/HOST before STOPPED/DESTROYED, SUSPENDED/PAUSED before STOPPED/SAVED — and
 * a guest that obeys the power button powers itself off, so SHUTDOWN/GUEST comes first.
 */
const QEMU_EVENTS: ProfileEvents = {
  booted: [
    [STARTED, DomainEventStartedDetailType.BOOTED],
    [RESUMED, DomainEventResumedDetailType.UNPAUSED],
  ],
  destroyed: [
    [SHUTDOWN, DomainEventShutdownDetailType.HOST],
    [STOPPED, DomainEventStoppedDetailType.DESTROYED],
  ],
  shutdownObeyed: [
    [SHUTDOWN, DomainEventShutdownDetailType.GUEST],
    [STOPPED, DomainEventStoppedDetailType.SHUTDOWN],
  ],
  managedSaved: [
    [SUSPENDED, DomainEventSuspendedDetailType.PAUSED],
    [STOPPED, DomainEventStoppedDetailType.SAVED],
  ],
  restored: [
    [STARTED, DomainEventStartedDetailType.RESTORED],
    [RESUMED, DomainEventResumedDetailType.UNPAUSED],
  ],
};

/** libvirt 9.0 checks the snapshot calls' flags in qemu_snapshot.c, the others in qemu_driver.c. */
const QEMU_FUNCTION_NAMES: Readonly<Record<string, string>> = {
  testDomainSnapshotCreateXML: 'qemuSnapshotCreateXML',
  testDomainRevertToSnapshot: 'qemuSnapshotRevert',
  testDomainSnapshotDelete: 'qemuSnapshotDelete',
};

/** How long a TCG guest may take to boot or stop on a busy 2-core machine. */
const GUEST_TIMEOUT_MS = 120_000;

/**
 * The qemu:///session profile: real TCG guests from the test guest (test/qemu-harness.ts), built
 * once per file by `setup`. Each `domainXML` call gives the domain a fresh 16 MiB qcow2 disk
 * (`qemu-img create`) and its own serial log; `ignorePowerButton` picks the guest's mode B,
 * otherwise mode A (powers off on the power button). Every guest prints GUEST-ALIVE n each second,
 * which `reacted` uses as the guest's own clock.
 */
export function qemuProfile(): RuleProfile {
  /** Holds the file's temp dir (guest, disks, serial logs), removed by teardown. */
  const files = new Reaper();
  let root: string | undefined;
  let guest: TestGuest | undefined;
  /** Serial log of each domain name, from its latest XML. */
  const serials = new Map<string, string>();
  /** GUEST-READY markers already consumed by `booted`, per serial log. */
  const readySeen = new Map<string, number>();
  let made = 0;

  const serialOf = (dom: Domain): string => {
    const serial = serials.get(dom.name());
    if (serial === undefined) throw new Error(`no serial log known for domain '${dom.name()}' (not made by this profile)`);
    return serial;
  };

  return {
    uri: 'qemu:///session',
    skip: qemuSkipReason(),
    // A test boots up to five guests one after the other.
    timeoutMs: 600_000,
    errorDomain: ErrorDomain.QEMU,
    durable: true,
    functionName: (name) => QEMU_FUNCTION_NAMES[name] ?? name.replace(/^test/, 'qemu'),
    // Accepted, as libvirt's qemu driver does (nothing to do for a guest without NVRAM or TPM).
    laterUndefineFlags: 'accepted',
    events: QEMU_EVENTS,

    domainXML(name, options = {}) {
      if (root === undefined || guest === undefined) throw new Error('qemuProfile: domainXML before setup()');
      made += 1;
      const disk = join(root, `disk-${made}.qcow2`);
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
      const serial = join(root, `serial-${made}.log`);
      serials.set(name, serial);
      const xml = guestXML({
        name,
        uuid: options.uuid ?? randomUUID(),
        guest,
        mode: options.ignorePowerButton === true ? 'B' : 'A',
        tick: 1,
        memMiB: options.memoryKiB === undefined ? 128 : Math.ceil(options.memoryKiB / 1024),
        serial,
        extraDevices: `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>`,
      });
      return options.vcpus === undefined ? xml : xml.replace('<vcpu>1</vcpu>', `<vcpu>${options.vcpus}</vcpu>`);
    },

    async setup() {
      root = files.tempDir('tsvrq-');
      guest = await buildTestGuest(join(root, 'guest'));
    },

    async teardown() {
      await files.cleanup();
      root = undefined;
      guest = undefined;
      serials.clear();
      readySeen.clear();
    },

    async withConnection(fn) {
      // Per test: the store, logs, images and runtime directories (short: unix socket paths).
      const reaper = new Reaper();
      const state = reaper.tempDir('tsvrs-');
      const previous = process.env.TSVIRT_STATE_DIR;
      process.env.TSVIRT_STATE_DIR = state;
      let conn: Connection | undefined;
      try {
        conn = await connect('qemu:///session');
        return await fn(conn);
      } finally {
        try {
          if (conn !== undefined) {
            // Whatever the test left running is destroyed through the API first.
            const active = await conn.listAllDomains(ConnectListAllDomainsFlags.ACTIVE).catch(() => []);
            for (const dom of active) await dom.destroy().catch(() => undefined);
            await conn.close();
          }
        } finally {
          if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
          else process.env.TSVIRT_STATE_DIR = previous;
          // Then any QEMU still named by a pidfile is killed outright, and the state removed.
          for (const pid of leftoverGuests(join(state, 'qemu', 'run'))) reaper.track(pid);
          await reaper.cleanup();
        }
      }
    },

    async booted(dom) {
      // The log is appended to across boots: wait for a marker beyond those already consumed.
      const serial = serialOf(dom);
      const seen = readySeen.get(serial) ?? 0;
      const deadline = Date.now() + GUEST_TIMEOUT_MS;
      for (;;) {
        const text = readText(serial);
        const count = text.split('GUEST-READY').length - 1;
        if (count > seen) {
          readySeen.set(serial, count);
          return;
        }
        if (Date.now() > deadline) {
          throw new Error(`'${dom.name()}' printed no new GUEST-READY within ${GUEST_TIMEOUT_MS} ms; ${serial} holds:\n${text.slice(-2000)}`);
        }
        await sleep(20);
      }
    },

    async stopped(dom) {
      await waitUntilStopped(dom, GUEST_TIMEOUT_MS);
    },

    async reacted(dom) {
      // Two more ticks of the guest's own clock: a guest that obeys the button (mode A) has
      // powered off long before (its acpid handler runs within milliseconds of guest time). A
      // guest that stops meanwhile ends the wait at once; the caller's assertions say what is wrong.
      const serial = serialOf(dom);
      const target = highestTick(readText(serial)) + 2;
      const deadline = Date.now() + GUEST_TIMEOUT_MS;
      while (highestTick(readText(serial)) < target) {
        if (!(await dom.isActive().catch(() => false))) return;
        if (Date.now() > deadline) throw new Error(`'${dom.name()}' did not reach GUEST-ALIVE ${target} within ${GUEST_TIMEOUT_MS} ms`);
        await sleep(20);
      }
    },
  };
}

function highestTick(text: string): number {
  const ticks = [...text.matchAll(/GUEST-ALIVE (\d+)/g)].map((m) => Number(m[1]));
  return ticks.length === 0 ? 0 : Math.max(...ticks);
}

/**
 * Waits for the STOPPED lifecycle event of `dom`, or for it to be shut off (or gone, when it was
 * transient), whichever is seen first. Fails after `timeoutMs` with the state it last read.
 */
export async function waitUntilStopped(dom: Domain, timeoutMs: number): Promise<void> {
  const conn = dom.connect();
  let stopped = false;
  const id = conn.domainEventRegisterAny(dom, DomainEventID.LIFECYCLE, (_c, _d, event) => {
    if (event === DomainEventType.STOPPED) stopped = true;
  });
  const deadline = Date.now() + timeoutMs;
  let last: string;
  try {
    for (;;) {
      if (stopped) return;
      try {
        const [state, reason] = await dom.state();
        if (state === DomainState.SHUTOFF) return;
        last = `state ${state}, reason ${reason}`;
      } catch (err) {
        if (err instanceof VirError && err.code === ErrorNumber.NO_DOMAIN) return;
        throw err;
      }
      if (Date.now() > deadline) throw new Error(`domain '${dom.name()}' did not stop within ${timeoutMs} ms (${last})`);
      await sleep(50);
    }
  } finally {
    conn.domainEventDeregisterAny(id);
  }
}

/** The pids of the QEMU processes still named by pidfiles under `runRoot`. */
function leftoverGuests(runRoot: string): number[] {
  let dirs: string[];
  try {
    dirs = readdirSync(runRoot);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const d of dirs) {
    const pid = Number(readText(join(runRoot, d, 'qemu.pid')).trim());
    if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) continue;
    // Only that QEMU (its command line names its runtime directory): a stale pidfile must not
    // make the cleanup kill an unrelated process that reused the pid.
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes('qemu-system') && cmdline.includes(d)) pids.push(pid);
  }
  return pids;
}
