/**
 * The test driver: a simulated hypervisor whose guests change state at once, on the metadata
 * driver. `test:///default` is in memory, fresh per connection and preset like libvirt's;
 * `test:///session` is durable under the state directory.
 */
import { join } from 'node:path';
import {
  DomainCreateFlags,
  DomainDefineFlags,
  DomainDestroyFlags,
  DomainRebootFlags,
  DomainSaveRestoreFlags,
  DomainShutdownFlags,
  DomainSnapshotCreateFlags as SnapCreate,
  DomainSnapshotDeleteFlags,
  DomainSnapshotRevertFlags,
  DomainSnapshotXMLFlags,
  DomainUndefineFlags,
  DomainXMLFlags,
  ErrorDomain,
  ErrorNumber,
} from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import type { DriverOpener } from '../../core/driver.js';
import type { DomainDef } from '../../conf/domain.js';
import { TEST_DEFAULT_DOMAIN_XML, TEST_NODE_INFO, TEST_SYSINFO, testCapabilities, testDefaultDomainDef } from './presets.js';
import { Store } from '../../store/store.js';
import { stateDir } from '../../core/paths.js';
import { TestDriver } from './resources.js';
import { SIMULATED_NETWORKS, StoreNetworkDriver, presetDefaultNetwork } from '../network/driver.js';
import { metadataOnlySnapshots } from '../metadata/snapshots.js';
import { metadataOnlyCheckpoints } from '../metadata/checkpoints.js';
import type { JobOptions } from '../../core/driver.js';
import type { GuestBackend, GuestHost, PowerButtonResult, SupportedFlags } from '../metadata/guest.js';

/** libvirt's test driver reports hypervisor version 2 (0.0.2). */
const TEST_VERSION = 2;

const SUPPORTED: SupportedFlags = {
  defineXML: DomainDefineFlags.VALIDATE,
  createXML: DomainCreateFlags.START_PAUSED | DomainCreateFlags.START_VALIDATE,
  create: DomainCreateFlags.START_PAUSED | DomainCreateFlags.START_FORCE_BOOT,
  shutdown: DomainShutdownFlags.ACPI_POWER_BTN,
  destroy: DomainDestroyFlags.GRACEFUL,
  // As libvirt's test driver: every reboot mode is accepted (the simulator has nothing to pick).
  reboot:
    DomainRebootFlags.ACPI_POWER_BTN | DomainRebootFlags.GUEST_AGENT | DomainRebootFlags.INITCTL |
    DomainRebootFlags.SIGNAL | DomainRebootFlags.PARAVIRT,
  // As libvirt's test driver: NVRAM and TPM flags are refused (R7). CHECKPOINTS_METADATA is
  // accepted, unlike libvirt's test driver: tsvirt's test driver keeps the qemu driver's
  // checkpoint rule for undefine, and the flag is how a caller satisfies it.
  undefine: DomainUndefineFlags.MANAGED_SAVE | DomainUndefineFlags.SNAPSHOTS_METADATA | DomainUndefineFlags.CHECKPOINTS_METADATA,
  // As libvirt's test driver: UPDATE_CPU is refused (it has no host CPU to update to).
  getXMLDesc: DomainXMLFlags.SECURE | DomainXMLFlags.INACTIVE | DomainXMLFlags.MIGRATABLE,
  managedSave: DomainSaveRestoreFlags.BYPASS_CACHE | DomainSaveRestoreFlags.RUNNING | DomainSaveRestoreFlags.PAUSED,
  // As libvirt's test driver: snapshots are metadata only, so NO_METADATA, DISK_ONLY and
  // REUSE_EXT are refused.
  snapshotCreateXML:
    SnapCreate.REDEFINE | SnapCreate.CURRENT | SnapCreate.HALT | SnapCreate.QUIESCE | SnapCreate.ATOMIC |
    SnapCreate.LIVE | SnapCreate.VALIDATE,
  snapshotGetXMLDesc: DomainSnapshotXMLFlags.SECURE,
  revertToSnapshot: DomainSnapshotRevertFlags.RUNNING | DomainSnapshotRevertFlags.PAUSED | DomainSnapshotRevertFlags.FORCE,
  // Every test snapshot is metadata only, so METADATA_ONLY is the same as a plain delete
  // (libvirt's qemu driver accepts it; its test driver does not — tsvirt follows qemu).
  snapshotDelete:
    DomainSnapshotDeleteFlags.CHILDREN | DomainSnapshotDeleteFlags.METADATA_ONLY | DomainSnapshotDeleteFlags.CHILDREN_ONLY,
};

/**
 * Guests of the simulator: each action completes at once, except that a guest marked to ignore
 * the power button does. The metadata driver runs them through the same job sequence as real
 * QEMU's (src/drivers/metadata/jobs.ts).
 */
class SimulatedGuests implements GuestBackend {
  readonly functionPrefix = 'test';
  readonly errorDomain = ErrorDomain.TEST;
  readonly type = 'TEST';
  readonly supported = SUPPORTED;
  // A snapshot is its metadata; a revert restores definition and run state.
  readonly snapshots = metadataOnlySnapshots(this);
  readonly checkpoints = metadataOnlyCheckpoints();

  /** libvirt's fixed test host (its test driver's node info, capabilities and BIOS). */
  async host(): Promise<GuestHost> {
    return { capabilities: () => testCapabilities(), nodeInfo: () => ({ ...TEST_NODE_INFO }), sysinfo: () => TEST_SYSINFO };
  }

  checkDefinition(def: DomainDef): void {
    if (def.type !== 'test') {
      throw VirError.report(
        ErrorDomain.TEST,
        ErrorNumber.NO_SUPPORT,
        `Emulator '${def.type}' is not supported by the test driver`,
      );
    }
  }
  async start(): Promise<null> {
    return null;
  }
  async powerButton(_rec: unknown, def: () => DomainDef): Promise<PowerButtonResult> {
    return def().testNamespace?.ignorePowerButton === true ? 'ignored' : 'stopped';
  }
  async kill(): Promise<void> {}
  async suspend(): Promise<void> {}
  async resume(): Promise<void> {}
  async reboot(): Promise<void> {}
  async saveMemory(_rec: unknown, options?: JobOptions): Promise<string> {
    // The simulator saves at once: one report, complete. Its memory is nothing; the record is the image.
    // Like libvirt's test driver it always resumes on start (no imageStartsPaused).
    options?.onProgress?.({ processed: 1, total: 1 });
    return 'memory';
  }
  async removeImage(): Promise<void> {}
}

/** Where test:///session keeps its store: TSVIRT_STATE_DIR, else the XDG state directory. */
export function testSessionStorePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), 'test', 'session.db');
}

/**
 * Opens the test driver for `test:///default` or `test:///session`. `groupCommit` (tsvirtd's
 * shared session driver) makes the store batch concurrent commits, `nonBlocking` makes it wait
 * for another process's write lock without blocking the event loop; see StoreOptions.
 */
export function openTestDriver(path: '/default' | '/session', uri: string, opts: { groupCommit?: boolean; nonBlocking?: boolean } = {}): TestDriver {
  const store = new Store({ path: path === '/default' ? ':memory:' : testSessionStorePath(), groupCommit: opts.groupCommit, nonBlocking: opts.nonBlocking });
  const driver = new TestDriver({
    uri,
    store,
    backend: new SimulatedGuests(),
    version: TEST_VERSION,
    network: (s) => new StoreNetworkDriver({ store: s, backend: SIMULATED_NETWORKS }),
    storage: 'simulated',
  });
  if (path === '/default') presetDefault(store);
  presetDefaultNetwork(store, true);
  // libvirt's test driver's `default-pool`, in memory for /default, durable (made once) for /session.
  driver.storage?.presetTestPool();
  return driver;
}

/** `/default` or `/session` for the test driver's URIs (test:///default, test:///session); else null. */
function testPath(uri: URL): '/default' | '/session' | null {
  if (uri.host !== '') return null;
  return uri.pathname === '/default' || uri.pathname === '/session' ? uri.pathname : null;
}

/**
 * connect()'s entry to the test driver. Shared (tsvirtd), test:///session groups the commits of
 * concurrent calls: one fsync for a burst, each client awaiting `durable()` before its reply.
 */
export const testOpener: DriverOpener = {
  shareable: true,
  canonical(uri) {
    const path = testPath(uri);
    return path === null ? null : `test://${path}`;
  },
  async open(uri, resolved, options) {
    const path = testPath(uri);
    if (path === null) throw VirError.report(ErrorDomain.NONE, ErrorNumber.NO_CONNECT, resolved);
    const shared = options.shared && path === '/session';
    return openTestDriver(path, `test://${path}`, { groupCommit: shared, nonBlocking: shared });
  },
};

/** libvirt's test:///default holds one running domain, 'test', with ID 1. */
function presetDefault(store: Store): void {
  const def = testDefaultDomainDef();
  const xml = TEST_DEFAULT_DOMAIN_XML;
  store.mutate(() => {
    store.insertDomain({
      uuid: def.uuid,
      name: def.name,
      persistent: true,
      configXml: xml,
      liveXml: xml,
      id: store.allocateID(),
      state: 1, // VIR_DOMAIN_RUNNING
      reason: 0, // VIR_DOMAIN_RUNNING_UNKNOWN, as libvirt's preset
      autostart: false,
      maxMem: def.memory,
      memory: def.currentMemory ?? def.memory,
      vcpus: def.vcpu.count,
      managedSave: null,
      currentSnapshot: null,
      runtime: JSON.stringify({ startedAt: Date.now() }),
    });
  });
}

