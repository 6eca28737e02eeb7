/**
 * QemuGuests: the GuestBackend of real QEMU guests, for the metadata driver (`qemu:///session`).
 *
 * State lives under a root given to the constructor, every file named from the UUID, never the
 * name:
 *   <runRoot>/<uuid>/monitor.sock, qemu.pid   runtime directory (runRoot defaults to <root>/run)
 *   <root>/log/<uuid>.log                     QEMU's stdout/stderr, appended per start
 *   <runRoot>/<uuid>/serial<N>.sock           a pty serial port's console socket (console.ts)
 *   <root>/log/<uuid>.serial<N>.log           serial ports whose host side is not a file (0600);
 *                                             a pty's log unless the domain names one
 *   <root>/save/<uuid>.save                   managed save images
 *
 * Exits the backend notices on its own are reported through {@link QemuGuests.onExit}: a
 * SHUTDOWN event with guest=true is 'shutdown' (QEMU runs with -no-shutdown, so the backend
 * quits it once it has seen the event); a monitor EOF or a vanished pid otherwise is 'crashed'.
 * Exits the backend causes itself (kill, saveMemory) are not reported.
 */
import { cpuElement } from './cpu-args.js';
import { qemuCpuModelNames } from './cpu-models.js';
import { applyStartPins } from './pinning.js';
import { setupBalloon } from './guest-resources.js';
import type { NetworkDriver } from '../../core/network-driver.js';
import { createTap, deleteTaps, recordTaps } from './taps.js';
import type { StorageDriver } from '../../core/storage-driver.js';
import { withVolumesResolved } from './volumes.js';
import { SAVE_HEADER_FIXED, formatSaveHeader, parseSaveHeader, saveHeaderXmlLength, type SaveImageHeader } from '../../conf/save-image.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { open, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DomainConsoleFlags,
  DomainCreateFlags,
  DomainDefineFlags,
  DomainDestroyFlags,
  DomainSaveRestoreFlags,
  DomainShutdownFlags,
  DomainSnapshotCreateFlags as SnapCreate,
  DomainSnapshotDeleteFlags,
  DomainSnapshotRevertFlags,
  DomainSnapshotXMLFlags,
  DomainState,
  DomainUndefineFlags,
  DomainXMLFlags,
  ErrorDomain,
  ErrorNumber,
} from '../../core/enums.generated.js';
import type { DomainScreenshot, JobOptions } from '../../core/driver.js';
import type { Duplex } from 'node:stream';
import { VirError, internalError, operationFailed, operationInvalid } from '../../core/errors.js';
import { parseDomainXML, type DomainDef } from '../../conf/domain.js';
import type { DomainRecord } from '../../store/store.js';
import type { SnapshotDef } from '../../conf/snapshot.js';
import type { GuestBackend, GuestCheckpoints, GuestExit, GuestHost, GuestSnapshots, GuestStartOptions, PowerButtonResult, RevertOptions, SnapshotRef, SupportedFlags } from '../metadata/guest.js';
import { isExternal } from '../metadata/snapshots.js';
import {
  QEMU_CHECKPOINT_FLAGS,
  addActions,
  bitmapTargets,
  bitmapsByNode,
  checkQemuCheckpoint,
  checkQemuCheckpointDelete,
  removeActions,
} from './checkpoint.js';
import { accelFor, assignAliases, assignPciAddresses, buildQemuArgv, checkQemuDefinition, type QemuArgvPaths } from './argv.js';
import { findConsoleDevice, openConsoleSession, restrictSocket, type ConsoleChannel } from './console.js';
import {
  MAX_SOCKET_PATH,
  attachQemu,
  checkKvm,
  findEmulator,
  qemuMachineCanonical,
  qemuMachineTypes,
  isProcessAlive,
  launchQemu,
  logSize,
  precreateSerialFiles,
  parseRuntime,
  processStartTime,
  readLogFrom,
  removeRuntimeFiles,
  signalGuest,
  waitForProcessExit,
  type QemuRuntime,
} from './process.js';
import type { QmpClient, QmpEvent } from './qmp.js';
import {
  findQemuImg,
  formatNodesOf,
  internalSnapshotTargets,
  isMissingSnapshotError,
  checkLoadvmTarget,
  checkNewSnapshotName,
  listImageSnapshots,
  qemuImgSnapshot,
  resolveImageSnapshot,
  runSnapshotJob,
  snapshotCapableDisks,
} from './snapshot.js';

const DOM = ErrorDomain.QEMU;

/** Flags as libvirt's qemu driver accepts them, less what tsvirt does not implement. */
export const QEMU_SUPPORTED_FLAGS: SupportedFlags = {
  defineXML: DomainDefineFlags.VALIDATE,
  createXML: DomainCreateFlags.START_PAUSED | DomainCreateFlags.START_VALIDATE,
  create: DomainCreateFlags.START_PAUSED | DomainCreateFlags.START_FORCE_BOOT,
  shutdown: DomainShutdownFlags.ACPI_POWER_BTN,
  destroy: DomainDestroyFlags.GRACEFUL,
  // reboot is QEMU's system_reset: no mode to choose.
  reboot: 0,
  // NVRAM/TPM/checkpoint flags: accepted as libvirt's qemu driver does; tsvirt's domains have none.
  undefine:
    DomainUndefineFlags.MANAGED_SAVE |
    DomainUndefineFlags.SNAPSHOTS_METADATA |
    DomainUndefineFlags.NVRAM |
    DomainUndefineFlags.KEEP_NVRAM |
    DomainUndefineFlags.CHECKPOINTS_METADATA |
    DomainUndefineFlags.TPM |
    DomainUndefineFlags.KEEP_TPM,
  getXMLDesc: DomainXMLFlags.SECURE | DomainXMLFlags.INACTIVE | DomainXMLFlags.UPDATE_CPU | DomainXMLFlags.MIGRATABLE,
  managedSave: DomainSaveRestoreFlags.BYPASS_CACHE | DomainSaveRestoreFlags.RUNNING | DomainSaveRestoreFlags.PAUSED,
  // DISK_ONLY and REUSE_EXT ask for external snapshots, which tsvirt does not make (snapshot.ts).
  snapshotCreateXML:
    SnapCreate.REDEFINE |
    SnapCreate.CURRENT |
    SnapCreate.NO_METADATA |
    SnapCreate.HALT |
    SnapCreate.ATOMIC |
    SnapCreate.LIVE |
    SnapCreate.VALIDATE,
  snapshotGetXMLDesc: DomainSnapshotXMLFlags.SECURE,
  revertToSnapshot: DomainSnapshotRevertFlags.RUNNING | DomainSnapshotRevertFlags.PAUSED | DomainSnapshotRevertFlags.FORCE,
  snapshotDelete:
    DomainSnapshotDeleteFlags.CHILDREN | DomainSnapshotDeleteFlags.METADATA_ONLY | DomainSnapshotDeleteFlags.CHILDREN_ONLY,
};

/** QEMU 7.2's default migration bandwidth is 128 MiB/s; a managed save goes as fast as it can. */
const SAVE_BANDWIDTH = 1_000_000_000_000;

/** In a guest's runtime directory while a managed save has (or may have) its vCPUs stopped. */
const SAVE_MARKER = 'saving';
/**
 * Managed save images are `UUID.save`, or `UUID.paused.save` for one a start leaves paused: the
 * name carries what libvirt's save header keeps (was the guest to run), so no other record can
 * disagree with the image.
 */
const SAVE_SUFFIX = '.save';
const PAUSED_SAVE_SUFFIX = '.paused.save';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Options of {@link QemuGuests}. */
export interface QemuGuestsOptions {
  /** State root (logs, managed save images; runtime directories unless runRoot is given). */
  root: string;
  /** Where per-domain runtime directories go; keep it short (unix socket paths ≤ 107 bytes). */
  runRoot?: string;
  /** Environment for the binary lookup (PATH) and QEMU itself. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** How long QEMU may take to open its monitor (default 30 s). */
  startTimeoutMs?: number;
  /** The KVM device checked for type='kvm' (default /dev/kvm). */
  kvmDevice?: string;
}

/** Timings of the last start of a guest, in ms. */
export interface QemuStartTimings {
  /** spawn → negotiated QMP monitor. */
  monitorMs: number;
  /** migrate-incoming → loaded (restores only). */
  restoreMs?: number;
  /** start() call → returned. */
  totalMs: number;
}

/** What QMP's query-status says. */
export interface QemuStatus {
  status: string;
  running: boolean;
}

interface Guest {
  uuid: string;
  rt: QemuRuntime;
  qmp: QmpClient;
  /** An exit caused by this backend (kill, save) is under way: do not report it. */
  stopping: boolean;
  /** SHUTDOWN with guest=true was seen. */
  guestShutdown: boolean;
  /** The backend closed the monitor on purpose (close()): the guest goes on. */
  detached: boolean;
  /** start() has not returned yet: a failure there is its error, not an exit to report. */
  starting: boolean;
  /**
   * Settles when the process exits, if this backend launched it (Node reaps its children): the
   * exit is then seen at once rather than at the next poll of /proc. Undefined after an attach.
   */
  exited?: Promise<unknown>;
}

/**
 * The QEMU guest backend. One instance per open `qemu:///…` connection; several instances (in
 * this or other processes) may share a root — the metadata driver's per-domain job keeps them
 * from driving one guest at once, and QEMU's single monitor client makes a second attach fail
 * with a timeout rather than interfere.
 */
export class QemuGuests implements GuestBackend {
  readonly functionPrefix = 'qemu';
  // libvirt 9.0 checks the snapshot calls' flags in qemu_snapshot.c.
  readonly functionNames = {
    DomainSnapshotCreateXML: 'qemuSnapshotCreateXML',
    DomainRevertToSnapshot: 'qemuSnapshotRevert',
    DomainSnapshotDelete: 'qemuSnapshotDelete',
  };
  readonly errorDomain = ErrorDomain.QEMU;
  readonly type = 'QEMU';
  readonly supported = QEMU_SUPPORTED_FLAGS;
  readonly monitorEvents = true;
  /** The connection's storage driver, which `<disk type='volume'>` sources are resolved through (set by QemuDriver). */
  storage: StorageDriver | undefined = undefined;
  /** This machine, as QEMU sees it: CPU, NUMA cells, the qemu-system binaries on PATH, KVM. */
  async host(): Promise<GuestHost> {
    const probe = await import('./host.js');
    return {
      capabilities: () => probe.probeQemuCapabilities(this.env),
      nodeInfo: () => probe.probeNodeInfo(),
      sysinfo: () => probe.probeSysinfo(),
    };
  }
  /** QEMU's internal snapshots (qcow2): disks, and memory of a running guest. */
  readonly snapshots: GuestSnapshots = {
    check: (def, snap) => void internalSnapshotTargets(def, snap),
    create: (rec, def, snap, active, options) => this.snapshotCreate(rec, def, snap, active, options),
    checkRevert: async (def, snap, opts) => {
      if (isExternal(snap)) {
        throw VirError.report(DOM, ErrorNumber.OPERATION_UNSUPPORTED, 'revert to external snapshot not supported yet');
      }
      if (opts.withMemory) await this.checkLoadvm(def, snap.name ?? '', opts.running);
    },
    revert: (rec, def, snap, opts) => this.snapshotRevert(rec, def, snap, opts),
    discard: (rec, def, snaps, running) => this.snapshotDiscard(rec, def, snaps, running),
  };

  /** Checkpoints: persistent dirty bitmaps in the qcow2 disks, through the monitor (./checkpoint.ts). */
  readonly checkpoints: GuestCheckpoints = {
    supported: QEMU_CHECKPOINT_FLAGS,
    check: checkQemuCheckpoint,
    create: async (rec, def, cp) => {
      const g = await this.require(rec);
      const actions = addActions(bitmapTargets(def, cp.disks, await formatNodesOf(g.qmp)));
      if (actions.length > 0) await g.qmp.execute('transaction', { actions });
    },
    checkDelete: checkQemuCheckpointDelete,
    discard: async (rec, def, disks) => {
      const g = await this.require(rec);
      const domainDef = def();
      const present = bitmapsByNode(await g.qmp.execute('query-named-block-nodes', { flat: true }));
      const nodeOf = await formatNodesOf(g.qmp);
      const actions = removeActions(disks.flatMap((d) => bitmapTargets(domainDef, d, nodeOf)), present);
      if (actions.length > 0) await g.qmp.execute('transaction', { actions });
    },
    sizes: async (rec, disks) => {
      const g = await this.require(rec);
      const def = parseDomainXML(rec.liveXml ?? rec.configXml ?? '', { stored: true });
      const present = bitmapsByNode(await g.qmp.execute('query-named-block-nodes', { flat: true }));
      const out = new Map<string, number>();
      for (const t of bitmapTargets(def, disks, await formatNodesOf(g.qmp))) {
        const bm = (present.get(t.node) ?? []).find((b) => b.name === t.bitmap);
        if (bm !== undefined) out.set(t.disk, bm.count);
      }
      return out;
    },
  };

  readonly root: string;
  readonly runRoot: string;
  readonly logDir: string;
  readonly saveDir: string;
  /** Timings of the last start, by UUID. */
  readonly startTimings = new Map<string, QemuStartTimings>();

  /** Where binaries are looked up (PATH) and what QEMU runs with. */
  readonly env: NodeJS.ProcessEnv;
  private readonly startTimeoutMs: number;
  private readonly kvmDevice: string;
  private readonly guests = new Map<string, Guest>();
  private readonly exitListeners: ((uuid: string, how: GuestExit) => void)[] = [];
  private readonly lastExits = new Map<string, GuestExit>();
  /** Console sessions opened through this backend: they end when it closes. */
  private readonly consoles = new Set<ConsoleChannel>();
  private closed = false;
  /** The driver's networks: where a `type='network'` interface finds its bridge. */
  networks: NetworkDriver | undefined;

  constructor(options: QemuGuestsOptions) {
    this.root = resolve(options.root);
    this.runRoot = resolve(options.runRoot ?? join(this.root, 'run'));
    this.logDir = join(this.root, 'log');
    this.saveDir = join(this.root, 'save');
    this.env = options.env ?? process.env;
    this.startTimeoutMs = options.startTimeoutMs ?? 30_000;
    this.kvmDevice = options.kvmDevice ?? '/dev/kvm';
  }

  /** Refuses at define what libvirt refuses then: domain type, architecture, OS and machine type (no I/O). */
  checkDefinition(def: DomainDef): void {
    // As libvirt: devices QEMU cannot run here are refused at start, not at define.
    const machines = this.machinesFor(def);
    checkQemuDefinition(def, machines);
    // As libvirt's qemu driver, a guest without a <memballoon> gets a virtio one (model='none' opts out).
    def.devices.memballoon ??= { model: 'virtio' };
    // libvirt stores the machine type an alias stands for (pc → pc-i440fx-7.2), `pc` when none is given.
    if (machines !== undefined) def.os.machine = qemuMachineCanonical(machines.emulator, def.os.machine ?? 'pc');
  }

  /** The machine types of the domain's emulator, when it is here to ask (else start reports it). */
  private machinesFor(def: DomainDef): { emulator: string; types: readonly string[] } | undefined {
    let emulator: string;
    try {
      accelFor(def);
      emulator = findEmulator(def, this.env);
    } catch {
      return undefined;
    }
    const types = qemuMachineTypes(emulator);
    return types === undefined ? undefined : { emulator, types };
  }

  /**
   * Boots a guest, or with `image` resumes it from a managed save image (`-incoming`), and
   * returns the runtime record (JSON of {@link QemuRuntime}).
   *
   * Prerequisites: the domain is not running. Effects on success: a QEMU process in its own
   * session, running (or paused when asked), its monitor held by this backend; the image is
   * left for the caller to remove once the guest runs. Effects on failure: nothing left behind
   * (no process, socket, pidfile); QEMU's messages stay in the per-domain log.
   *
   * Errors: VIR_ERR_OPERATION_INVALID when the guest runs already; VIR_ERR_CONFIG_UNSUPPORTED
   * for what the driver cannot run or type='kvm' without a usable /dev/kvm;
   * VIR_ERR_SYSTEM_ERROR when no QEMU binary is found; VIR_ERR_INTERNAL_ERROR with QEMU's own
   * message when QEMU fails at start or cannot load the image; VIR_ERR_OPERATION_FAILED when a
   * saved image is missing.
   */
  async start(rec: DomainRecord, def: DomainDef, opts: GuestStartOptions): Promise<string> {
    const began = performance.now();
    const uuid = this.checkUUID(rec.uuid);
    const existing = this.guests.get(uuid);
    if (existing !== undefined && isProcessAlive(existing.rt.pid, existing.rt.pidStart)) {
      throw operationInvalid(DOM, 'domain is already running');
    }
    const accel = accelFor(def);
    if (accel === 'kvm') checkKvm(this.kvmDevice);
    const emulator = findEmulator(def, this.env);
    if (opts.image !== null) {
      try {
        statSync(opts.image);
      } catch {
        throw operationFailed(DOM, `cannot restore domain '${def.name}': saved image '${opts.image}' does not exist`);
      }
    }

    const runDir = join(this.runRoot, uuid);
    const paths: QemuArgvPaths = {
      monitorSocket: join(runDir, 'monitor.sock'),
      pidFile: join(runDir, 'qemu.pid'),
      serialLog: (port) => join(this.logDir, `${uuid}.serial${port}.log`),
      serialSocket: (port) => join(runDir, `serial${port}.sock`),
      vncSocket: join(runDir, 'vnc.sock'),
    };
    const consoleSockets = def.devices.serials.filter((s) => s.type === 'pty').map((s) => paths.serialSocket(s.targetPort));
    if (def.devices.graphics.some((g) => g.listenType === 'socket' && g.socket === undefined)) consoleSockets.push(join(runDir, 'vnc.sock'));
    for (const sock of consoleSockets) {
      if (Buffer.byteLength(sock) > MAX_SOCKET_PATH) throw internalError(DOM, `UNIX socket path '${sock}' too long`);
    }
    const types = qemuMachineTypes(emulator);
    // Device ids are the aliases the live XML shows (hotplug and detach find devices by them).
    assignAliases(def);
    // And PCI addresses, kept in the live definition: a QEMU started from it again (a restore)
    // must have every device in the same slot as the one whose state it loads.
    assignPciAddresses(def);
    // Volume disks run on their volume's file; the definition keeps naming the volume.
    const runDef = await withVolumesResolved(def, this.storage);
    // A volume disk becomes a file disk only now: it takes its slot here, after every device
    // the live definition placed, so the same definition always gives the same slots.
    if (runDef !== def) assignPciAddresses(runDef);
    const bridges = await this.bridgesOf(def);
    const argvOptions = {
      paths,
      incomingDefer: opts.image !== null || opts.incoming !== undefined,
      loadSnapshot: opts.snapshot,
      machines: types === undefined ? undefined : { emulator, types },
      // Only a custom <cpu><model> needs the emulator's list (asked once per binary).
      cpuModels: cpuElement(def)?.children.some((c) => c.name === 'model') === true ? await qemuCpuModelNames(def.os.arch ?? 'x86_64') : undefined,
    };
    // Checked before any tap exists: a definition QEMU cannot run leaves nothing behind.
    buildQemuArgv(runDef, { ...argvOptions, taps: bridges.map((b) => (b === undefined ? undefined : 'vnet0')) });
    mkdirSync(this.logDir, { recursive: true, mode: 0o700 });
    precreateSerialFiles(
      def.devices.serials.flatMap((port): { path: string; ours: boolean }[] => {
        const files: { path: string; ours: boolean }[] = [];
        // A pty logs to the domain's <log> when it names one, else to the driver's own file.
        if (port.log !== undefined) files.push({ path: port.log.file, ours: false });
        else if (port.type === 'pty') files.push({ path: paths.serialLog(port.targetPort), ours: true });
        if (port.type === 'vc') files.push({ path: paths.serialLog(port.targetPort), ours: true });
        if (port.type === 'file' && port.sourcePath !== undefined) files.push({ path: port.sourcePath, ours: false });
        return files;
      }),
    );
    rmSync(runDir, { recursive: true, force: true });
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    const logFile = join(this.logDir, `${uuid}.log`);

    let launched;
    const taps: string[] = [];
    try {
      const tapOf: (string | undefined)[] = [];
      for (const [i, bridge] of bridges.entries()) {
        if (bridge === undefined) {
          tapOf.push(undefined);
          continue;
        }
        const iface = def.devices.interfaces[i];
        const tap = await createTap(bridge, iface?.mac ?? '52:54:00:00:00:00');
        taps.push(tap);
        recordTaps(runDir, taps);
        tapOf.push(tap);
        // The live definition names the tap, as libvirt's does.
        if (iface !== undefined) iface.targetDev = tap;
      }
      const cmd = buildQemuArgv(runDef, { ...argvOptions, taps: tapOf });
      launched = await launchQemu({
        emulator,
        argv: cmd.argv,
        env: cmd.env,
        logFile,
        monitor: paths.monitorSocket,
        pidFile: paths.pidFile,
        runDir,
        accel,
        timeoutMs: this.startTimeoutMs,
      });
    } catch (err) {
      deleteTaps(taps);
      rmSync(runDir, { recursive: true, force: true });
      throw err;
    }
    const logOffset = logSize(logFile);
    for (const sock of consoleSockets) restrictSocket(sock);
    const guest = this.watch(uuid, launched.runtime, launched.qmp, launched.exited);
    guest.starting = true;
    const timings: QemuStartTimings = { monitorMs: launched.monitorMs, totalMs: 0 };
    try {
      await setGraphicsPasswords(guest.qmp, def);
      await fillLiveGraphics(guest.qmp, def, paths);
      // A restored or migrated guest brings its balloon state along.
      if (opts.image === null && opts.incoming === undefined) await setupBalloon(guest.qmp, def);
      if (opts.incoming !== undefined) {
        // Listening only: the state arrives later, and the driver resumes the vCPUs (Finish).
        await guest.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
        await guest.qmp.execute('migrate-incoming', { uri: opts.incoming });
      }
      if (opts.image !== null) {
        const t0 = performance.now();
        await this.restoreFrom(guest, opts.image, opts.imageOffset ?? readImageHeader(opts.image)?.dataOffset ?? 0);
        timings.restoreMs = performance.now() - t0;
      }
      // <cputune>'s pins, before the vCPUs run (libvirt's qemuProcessSetupVcpus / SetupEmulator).
      await applyStartPins(guest.qmp, launched.runtime.pid, def);
      if (!opts.paused && opts.incoming === undefined) await guest.qmp.execute('cont');
    } catch (err) {
      guest.stopping = true;
      await this.terminate(guest);
      const tail = readLogFrom(logFile, logOffset);
      if (err instanceof VirError && tail !== '') {
        throw internalError(DOM, `${opts.image !== null ? 'failed to restore the saved state' : 'failed to start the guest'}: ${tail}`);
      }
      throw err;
    }
    guest.starting = false;
    if (guest.qmp.isClosed) {
      // It died between the last command and here: let the exit be reported like every other one.
      void this.gone(guest);
    }
    timings.totalMs = performance.now() - began;
    this.startTimings.set(uuid, timings);
    this.lastExits.delete(uuid);
    return JSON.stringify(launched.runtime);
  }

  /**
   * The bridge of each interface (by index) that needs a tap: a `type='network'` interface's
   * network's (it must be active), a `type='bridge'` interface's own.
   *
   * Errors: VIR_ERR_NO_NETWORK / VIR_ERR_OPERATION_INVALID from the network driver;
   * VIR_ERR_NO_SUPPORT when this driver has no networks.
   */
  private async bridgesOf(def: DomainDef): Promise<(string | undefined)[]> {
    const out: (string | undefined)[] = [];
    for (const net of def.devices.interfaces) {
      if (net.type === 'bridge') out.push(net.sourceBridge);
      else if (net.type === 'network') {
        if (this.networks === undefined) throw VirError.report(DOM, ErrorNumber.NO_SUPPORT, 'virtual networks');
        out.push(await this.networks.bridgeForGuest(net.sourceNetwork ?? ''));
      } else out.push(undefined);
    }
    return out;
  }

  /**
   * Opens a console session on a running guest's pty serial port (console.ts): `devName` as
   * libvirt's qemuDomainOpenConsole finds it in `def`, the definition the guest runs with.
   *
   * Prerequisites: the guest runs (the caller checked), flags checked (FORCE, SAFE). Effects on
   * success: a channel to the port; with FORCE, an open session on it ends first. Effects on
   * failure: none (an existing session stays unless FORCE ended it).
   *
   * Errors: VIR_ERR_INTERNAL_ERROR "cannot find character device NAME", "character device NAME
   * is not using a PTY"; VIR_ERR_OPERATION_FAILED "Active console session exists for this
   * domain" without FORCE; VIR_ERR_OPERATION_INVALID when the guest has no runtime record;
   * VIR_ERR_SYSTEM_ERROR when the socket cannot be connected.
   */
  async openConsole(rec: DomainRecord, def: DomainDef, devName: string | null, flags: number): Promise<Duplex> {
    const dev = findConsoleDevice(def, devName);
    const rt = this.guests.get(rec.uuid)?.rt ?? parseRuntime(rec.runtime);
    if (rt === null) throw operationInvalid(DOM, 'domain is not running');
    const channel = await openConsoleSession(join(rt.runDir, `serial${dev.port}.sock`), (flags & DomainConsoleFlags.FORCE) !== 0);
    this.consoles.add(channel);
    channel.once('close', () => this.consoles.delete(channel));
    return channel;
  }

  /** ACPI power button (`system_powerdown`): asks and returns; the guest may ignore it (R8). */
  async powerButton(rec: DomainRecord): Promise<PowerButtonResult> {
    const g = await this.require(rec);
    await g.qmp.execute('system_powerdown');
    return 'requested';
  }

  /**
   * Pulls the power cord: `quit`, then SIGTERM, then SIGKILL (to the process group); returns
   * when the process is gone. Not reported through onExit. A guest already gone is fine.
   *
   * Errors: VIR_ERR_OPERATION_FAILED when the process survives SIGKILL.
   */
  async kill(rec: DomainRecord): Promise<void> {
    let g = this.guests.get(rec.uuid);
    if (g === undefined) {
      const rt = parseRuntime(rec.runtime);
      if (rt === null) return;
      try {
        g = (await this.attach(rec.uuid, rt, 2000)) ?? undefined;
      } catch {
        // Monitor unreachable (held elsewhere, or hung): signals will do.
      }
      if (g === undefined) {
        await this.terminatePid(rt);
        removeRuntimeFiles(rt);
        return;
      }
    }
    g.stopping = true;
    await this.terminate(g);
  }

  /**
   * An image of screen `screen` of a running guest, as libvirt 9.0's qemuDomainScreenshot takes
   * it: QMP `screendump` in PNG into a file in the guest's private runtime directory, read, then
   * removed. Screens are counted across the video cards' heads; screen 0 is QEMU's first console.
   *
   * Errors: VIR_ERR_OPERATION_INVALID "no screens to take screenshot from" without a video card,
   * "no such screen ID" past the last head, "domain is not running" when its monitor is gone;
   * VIR_ERR_INTERNAL_ERROR with QEMU's words when screendump fails (a 'none' card has no console).
   */
  async screenshot(rec: DomainRecord, def: DomainDef, screen: number): Promise<DomainScreenshot> {
    const videos = def.devices.videos ?? [];
    if (videos.length === 0) throw operationInvalid(DOM, 'no screens to take screenshot from');
    const args: Record<string, unknown> = { format: 'png' };
    if (screen !== 0) {
      let rest = screen;
      const index = videos.findIndex((v) => {
        if (rest < (v.heads ?? 0)) return true;
        rest -= v.heads ?? 0;
        return false;
      });
      if (index < 0) throw operationInvalid(DOM, 'no such screen ID');
      args.device = `video${index}`;
      args.head = rest;
    }
    const g = await this.require(rec);
    // The runtime directory is 0700 and this process's alone: QEMU writes there, nobody else can.
    const file = join(g.rt.runDir, `screendump-${randomBytes(8).toString('hex')}.png`);
    try {
      await g.qmp.execute('screendump', { ...args, filename: file });
      return { mimeType: 'image/png', data: await readFile(file) };
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** Pauses the guest's vCPUs (`stop`). */
  async suspend(rec: DomainRecord): Promise<void> {
    await (await this.require(rec)).qmp.execute('stop');
  }

  /** Resumes the guest's vCPUs (`cont`). */
  async resume(rec: DomainRecord): Promise<void> {
    await (await this.require(rec)).qmp.execute('cont');
  }

  /** Resets the guest (`system_reset`): a hard reboot. */
  async reboot(rec: DomainRecord): Promise<void> {
    await (await this.require(rec)).qmp.execute('system_reset');
  }

  /**
   * Managed save: stops the vCPUs, migrates the guest's state into `<root>/save/<uuid>.save`
   * (bandwidth limit raised; QEMU streams into a unix socket, `cat` copies it to the file),
   * then quits QEMU. Progress (bytes of RAM) from query-migrate goes to `options.onProgress`.
   * Returns the image path.
   *
   * Effects on failure: no image; the guest runs on in the state it had (resumed if it ran).
   *
   * Errors: VIR_ERR_OPERATION_INVALID when not running; VIR_ERR_OPERATION_FAILED when the
   * migration fails (QEMU's error-desc) or QEMU dies meanwhile.
   */
  async saveMemory(rec: DomainRecord, options: JobOptions | undefined, runOnRestore: boolean): Promise<string> {
    const uuid = this.checkUUID(rec.uuid);
    mkdirSync(this.saveDir, { recursive: true, mode: 0o700 });
    const image = join(this.saveDir, `${uuid}${runOnRestore ? SAVE_SUFFIX : PAUSED_SAVE_SUFFIX}`);
    // The live XML goes first, as libvirt's image header: the restore must run the same devices.
    const header = rec.liveXml === null ? undefined : formatSaveHeader(rec.liveXml, runOnRestore);
    await this.saveInto(rec, image, header, options);
    return image;
  }

  /** The live XML in a managed save image's header (see GuestBackend.imageXml). */
  imageXml(image: string): string | undefined {
    return readImageHeader(image)?.xml;
  }

  /**
   * virDomainSave to a file: `header`, then the migration stream, into `path` (written as
   * `path.part`, renamed when complete and on disk); the guest then quits, as for a managed save.
   *
   * Errors: those of saveMemory; VIR_ERR_OPERATION_FAILED when the file cannot be written.
   */
  async saveToFile(rec: DomainRecord, path: string, header: Buffer, options: JobOptions | undefined): Promise<void> {
    await this.saveInto(rec, path, header, options);
  }

  private async saveInto(rec: DomainRecord, image: string, header: Buffer | undefined, options: JobOptions | undefined): Promise<void> {
    const g = await this.require(rec);
    const partial = `${image}.part`;
    const sockPath = join(g.rt.runDir, 'save.sock');
    if (Buffer.byteLength(sockPath) > MAX_SOCKET_PATH) throw internalError(DOM, `UNIX socket path '${sockPath}' too long`);
    rmSync(sockPath, { force: true });

    const status = await g.qmp.execute<QemuStatus>('query-status');
    const wasRunning = status.running;
    await g.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
    await g.qmp.execute('migrate-set-parameters', { 'max-bandwidth': SAVE_BANDWIDTH });

    const sink = await receiveToFile(sockPath, partial, header);
    // Marks, for a reattach after this process died, that the vCPUs were stopped for a save.
    const marker = join(g.rt.runDir, SAVE_MARKER);
    try {
      writeFileSync(marker, '');
      if (wasRunning) await g.qmp.execute('stop');
      // Completion comes as a MIGRATION event (events capability); query-migrate, polled
      // meanwhile, gives progress and the error text.
      let finished = false;
      const ended = g.qmp
        .waitForEvent((ev) => ev.event === 'MIGRATION' && ['completed', 'failed', 'cancelled'].includes(String(ev.data.status)), 60_000)
        .finally(() => (finished = true));
      ended.catch(() => undefined);
      await g.qmp.execute('migrate', { uri: `unix:${sockPath}` });
      for (;;) {
        const q = await g.qmp.execute<{
          status?: string;
          'error-desc'?: string;
          ram?: { transferred: number; total: number };
        }>('query-migrate');
        if (q.ram !== undefined) options?.onProgress?.({ processed: q.ram.transferred, total: q.ram.total });
        if (q.status === 'completed') break;
        // Cancelled: virDomainAbortJob (migrate_cancel), with libvirt's error for it.
        if (q.status === 'cancelled') throw VirError.report(DOM, ErrorNumber.OPERATION_ABORTED, 'domain save job: canceled by client');
        if (q.status === 'failed') throw operationFailed(DOM, `migration to file failed: ${q['error-desc'] ?? q.status}`);
        if (!finished) await Promise.race([ended.catch(() => undefined), sleep(100)]);
      }
      await sink.done;
      // On disk before the store records it and the guest is quit: else a power loss could
      // leave a record of an image whose tail never reached the disk (libvirt's iohelper
      // fdatasyncs its save images too).
      await syncFile(partial);
    } catch (err) {
      sink.abort();
      rmSync(partial, { force: true });
      rmSync(marker, { force: true });
      if (wasRunning && !g.qmp.isClosed) {
        await g.qmp.execute('cont').catch(() => undefined);
      }
      throw err;
    } finally {
      rmSync(sockPath, { force: true });
    }
    renameSync(partial, image);
    rmSync(marker, { force: true });
    await syncFile(dirname(image));
    g.stopping = true;
    await this.terminate(g);
  }

  /**
   * Removes a managed save image this backend wrote (missing is fine).
   *
   * Errors: VIR_ERR_INTERNAL_ERROR for a path outside the save directory (never deleted).
   */
  async removeImage(image: string): Promise<void> {
    const abs = resolve(image);
    if (!abs.startsWith(this.saveDir + sep)) {
      throw internalError(DOM, `refusing to remove '${image}': not a managed save image of this driver`);
    }
    rmSync(abs, { force: true });
    rmSync(`${abs}.part`, { force: true });
  }

  /**
   * Takes an internal snapshot: with the guest running, QEMU's `snapshot-save` job (memory into
   * the first disk; the vCPUs pause meanwhile and run on after); shut off, `qemu-img snapshot
   * -c` on each image.
   *
   * Errors: libvirt's configuration errors (see internalSnapshotTargets); VIR_ERR_OPERATION_FAILED
   * with QEMU's or qemu-img's message. On failure the images keep no part of it.
   */
  private async snapshotCreate(
    rec: DomainRecord,
    def: DomainDef,
    snap: SnapshotDef,
    active: boolean,
    options?: JobOptions,
  ): Promise<void> {
    const name = snap.name ?? '';
    const g = active ? await this.require(rec) : undefined;
    const targets = internalSnapshotTargets(def, snap, g === undefined ? undefined : await formatNodesOf(g.qmp));
    const qemuImg = findQemuImg(def.devices.emulator, this.env);
    // Every image first, so that a refusal changes none of them (QEMU's snapshot-save would
    // refuse a running guest's too, in words that do not say which image).
    for (const file of targets.files) checkNewSnapshotName(await listImageSnapshots(qemuImg, file, active), name, file);
    if (g !== undefined) {
      const memory = snap.memory?.snapshot === 'internal';
      await runSnapshotJob(g.qmp, 'snapshot-save', {
        tag: name,
        devices: targets.nodes,
        ...(memory ? { vmstate: targets.nodes[0] } : {}),
      }, options);
      return;
    }
    const done: string[] = [];
    try {
      for (const file of targets.files) {
        await qemuImgSnapshot(qemuImg, '-c', name, file);
        done.push(file);
      }
    } catch (err) {
      for (const file of done) await qemuImgSnapshot(qemuImg, '-d', name, file).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Reverts the stopped guest: one with memory starts from it (`-loadvm`, checked by
   * checkLoadvm); otherwise the images are put back to a snapshot of the shut-off domain with
   * `qemu-img snapshot -a ID`, the image's own ID of the snapshot tsvirt recorded (qemu-img would
   * take a name that equals another snapshot's ID as that ID; every image is resolved before any
   * is changed), and the guest, when asked to run, boots afresh from them.
   */
  private async snapshotRevert(rec: DomainRecord, def: DomainDef, snap: SnapshotDef, opts: RevertOptions): Promise<string | null> {
    const name = snap.name ?? '';
    if (opts.withMemory) return this.start(rec, def, { paused: opts.paused, image: null, snapshot: name });
    const qemuImg = findQemuImg(def.devices.emulator, this.env);
    const plan: [file: string, id: string][] = [];
    for (const file of snapshotCapableDisks(def, snap).files) {
      const target = resolveImageSnapshot(await listImageSnapshots(qemuImg, file), name, file, snap.creationTime);
      if (target === undefined) {
        throw operationFailed(DOM, `failed to revert to internal snapshot '${name}' of '${file}': the image does not hold it`);
      }
      plan.push([file, target.id]);
    }
    for (const [file, id] of plan) await qemuImgSnapshot(qemuImg, '-a', id, file);
    return opts.run ? this.start(rec, def, { paused: opts.paused, image: null }) : null;
  }

  /**
   * Refuses a start from an internal snapshot (`-loadvm`) that QEMU would take from another
   * snapshot of the images (see checkLoadvmTarget), before the running guest is stopped for the
   * revert (`running`: its process holds the images, which are then read with -U).
   */
  private async checkLoadvm(def: DomainDef, name: string, running: boolean): Promise<void> {
    const disks = snapshotCapableDisks(def);
    if (disks.files.length === 0) return;
    const qemuImg = findQemuImg(def.devices.emulator, this.env);
    for (const file of disks.files) checkLoadvmTarget(await listImageSnapshots(qemuImg, file, running), name, file);
  }

  /**
   * Removes snapshots from the images, each resolved to the image's own ID first (see
   * resolveImageSnapshot): while the guest runs (QEMU holds the images) with QMP
   * `blockdev-snapshot-delete-internal-sync` by ID and name, else `qemu-img snapshot -d`. A
   * snapshot the images do not hold (metadata that was REDEFINEd) is fine.
   */
  private async snapshotDiscard(rec: DomainRecord, currentDef: () => DomainDef, snaps: readonly SnapshotRef[], running: boolean): Promise<void> {
    const def = currentDef();
    const g = running ? await this.require(rec) : undefined;
    const disks = snapshotCapableDisks(def, undefined, g === undefined ? undefined : await formatNodesOf(g.qmp));
    if (disks.nodes.length === 0) return;
    const qemuImg = g === undefined ? findQemuImg(def.devices.emulator, this.env) : '';
    const lister = g === undefined ? qemuImg : findQemuImg(def.devices.emulator, this.env);
    for (const snap of snaps) {
      const name = snap.name;
      for (const [i, file] of disks.files.entries()) {
        // Read while QEMU holds the image (-U): the table changes only through this monitor.
        const list = await listImageSnapshots(lister, file, g !== undefined);
        const target = resolveImageSnapshot(list, name, file, snap.creationTime);
        if (target === undefined) continue; // REDEFINEd metadata, or not on this disk
        if (g !== undefined) {
          // By ID and name: exactly the one resolved, whatever else carries that name.
          await g.qmp.execute('blockdev-snapshot-delete-internal-sync', { device: disks.nodes[i], id: target.id, name: target.name });
          continue;
        }
        // qemu-img 7.2 deletes the first snapshot of a name and cannot be given an ID.
        if (list.find((sn) => sn.name === name) !== target) {
          throw operationFailed(
            DOM,
            `cannot delete internal snapshot '${name}' (ID ${target.id}) of '${file}' with qemu-img: an earlier snapshot of the same name is in the way; remove it first with 'qemu-img snapshot -d'`,
          );
        }
        await qemuImgSnapshot(qemuImg, '-d', name, file).catch((err: unknown) => {
          if (!isMissingSnapshotError(err)) throw err;
        });
      }
    }
  }

  /**
   * Whether a guest recorded as running still runs (reconciliation at open): the pid is alive
   * with its recorded start time, and QMP's query-status is not `shutdown`. A guest that
   * powered off while nobody watched (-no-shutdown keeps it in status `shutdown`) is quit here;
   * {@link takeExitReason} then says how it ended. Attaches the monitor of a guest that runs.
   */
  async isRunning(rec: DomainRecord): Promise<boolean> {
    const rt = parseRuntime(rec.runtime);
    if (rt === null) return false;
    let g = this.guests.get(rec.uuid);
    if (g === undefined) {
      if (!isProcessAlive(rt.pid, rt.pidStart)) {
        removeRuntimeFiles(rt);
        // A save cut short with its guest: its partial image is of no use.
        for (const suffix of [SAVE_SUFFIX, PAUSED_SAVE_SUFFIX]) rmSync(join(this.saveDir, `${this.checkUUID(rec.uuid)}${suffix}.part`), { force: true });
        this.lastExits.set(rec.uuid, 'crashed');
        return false;
      }
      try {
        g = (await this.attach(rec.uuid, rt, 3000)) ?? undefined;
      } catch {
        // Alive, but its monitor is held elsewhere or does not answer: it runs.
        return isProcessAlive(rt.pid, rt.pidStart);
      }
      if (g === undefined) {
        removeRuntimeFiles(rt);
        this.lastExits.set(rec.uuid, 'crashed');
        return false;
      }
    }
    let st: QemuStatus;
    try {
      st = await g.qmp.execute<QemuStatus>('query-status', undefined, { timeoutMs: 5000 });
    } catch {
      return isProcessAlive(rt.pid, rt.pidStart);
    }
    if (st.status === 'shutdown') {
      g.stopping = true;
      await this.terminate(g);
      this.lastExits.set(rec.uuid, 'shutdown');
      return false;
    }
    return true;
  }

  /**
   * Finishes, at open, what a job of a manager that died left in a guest that runs (after
   * {@link isRunning} attached its monitor), as libvirt's reconnect recovers an interrupted job:
   *
   * - a managed save (a migration to a file; the file `saving` in the runtime directory, made
   *   before the vCPUs are stopped and removed when the save ends, marks it): a migration still under way is cancelled
   *   (`migrate_cancel`) and awaited; the image it was writing, which no record names
   *   (`rec.managedSave` is null while the guest runs), is removed, complete or not;
   * - a snapshot job (`snapshot-save`, …): QEMU finishes it and restarts the vCPUs itself; a job
   *   still running is awaited, and concluded ones of tsvirt are dismissed;
   * - then, after either, when the store says the guest ran before the job (`rec.state` RUNNING)
   *   and QEMU holds it stopped (`paused`, `postmigrate`), its vCPUs are resumed (`cont`):
   *   'resumed'. A guest the user had paused stays paused.
   *
   * Without such a job, QEMU's run state is the truth, as libvirt's reconnect updates its state
   * from query-status (a suspend or resume whose record was never written): 'paused' when QEMU
   * holds the vCPUs stopped but the store says running, 'running' for the reverse; undefined
   * when the store is right.
   *
   * Prerequisites: no live process holds the domain's job. Errors: VIR_ERR_OPERATION_FAILED
   * (QEMU's error) when a monitor command fails.
   */
  async recoverJob(rec: DomainRecord): Promise<'resumed' | 'paused' | 'running' | undefined> {
    const g = this.guests.get(rec.uuid);
    if (g === undefined || g.qmp.isClosed) return undefined;
    const uuid = this.checkUUID(rec.uuid);
    const migrating = (st: string | undefined) =>
      st !== undefined && ['setup', 'active', 'pre-switchover', 'device', 'wait-unplug', 'cancelling'].includes(st);
    const saveSock = join(g.rt.runDir, 'save.sock');
    const marker = join(g.rt.runDir, SAVE_MARKER);
    let mig = await g.qmp.execute<{ status?: string }>('query-migrate');
    let interrupted = existsSync(marker) || migrating(mig.status);
    if (migrating(mig.status)) {
      if (mig.status !== 'cancelling') await g.qmp.execute('migrate_cancel');
      const deadline = Date.now() + 30_000;
      while (migrating(mig.status) && Date.now() < deadline) {
        await sleep(20);
        mig = await g.qmp.execute<{ status?: string }>('query-migrate');
      }
    }
    if (await this.settleSnapshotJobs(g)) interrupted = true;
    if (rec.managedSave === null) {
      for (const suffix of [SAVE_SUFFIX, PAUSED_SAVE_SUFFIX]) {
        const image = join(this.saveDir, `${uuid}${suffix}`);
        rmSync(image, { force: true });
        rmSync(`${image}.part`, { force: true });
      }
    }
    rmSync(saveSock, { force: true });
    rmSync(marker, { force: true });
    rmSync(join(g.rt.runDir, 'restore.sock'), { force: true });
    const st = await g.qmp.execute<QemuStatus>('query-status');
    if (st.status === 'postmigrate') interrupted = true;
    const recordedRunning = rec.state === DomainState.RUNNING;
    const stopped = !st.running && (st.status === 'paused' || st.status === 'postmigrate');
    if (recordedRunning && stopped && interrupted) {
      await g.qmp.execute('cont');
      return 'resumed';
    }
    if (recordedRunning && stopped) return 'paused';
    if (rec.state === DomainState.PAUSED && st.running) return 'running';
    return undefined;
  }

  /**
   * At open, for a guest {@link isRunning} found gone: the managed save image a save of this
   * run completed when its manager died after QEMU quit but before the store recorded it — the
   * image at the domain's managed-save path, which no record names, written after the guest
   * started. It is complete: the save renames it there only after it is on disk. Undefined
   * otherwise (an image older than the start is a leftover of the restore that started it).
   */
  completedSave(rec: DomainRecord): string | undefined {
    if (rec.managedSave !== null || !rec.persistent) return undefined;
    const uuid = this.checkUUID(rec.uuid);
    const startedAt = (parseRuntime(rec.runtime) as { startedAt?: number } | null)?.startedAt;
    for (const suffix of [SAVE_SUFFIX, PAUSED_SAVE_SUFFIX]) {
      const image = join(this.saveDir, `${uuid}${suffix}`);
      try {
        const st = statSync(image);
        if (startedAt !== undefined && st.isFile() && st.mtimeMs >= startedAt) return image;
      } catch {
        // not this one
      }
    }
    return undefined;
  }

  /** The image's name says whether it was saved to start paused (see saveMemory). */
  imageStartsPaused(image: string): boolean {
    return image.endsWith(PAUSED_SAVE_SUFFIX);
  }

  /**
   * The guests whose runtime directory is here, found at open (see GuestBackend.strayGuests):
   * with those the store records as running left out by the caller, what is left is a start (a
   * boot, a restore from a managed save image, a revert from memory) whose manager died before
   * recording it, or one under way in another process, which the caller tells apart by the
   * domain's job. Each QEMU process is read from its pidfile, and only a process whose command
   * line names that pidfile counts, so a recycled pid is never taken for it. `stop` ends it and
   * removes its runtime directory, as libvirt's reconnect kills a guest that had not finished
   * starting; a managed save image a restore was loading stays, still recorded.
   */
  strayGuests(): { uuid: string; stop: () => Promise<void> }[] {
    let entries: string[];
    try {
      entries = readdirSync(this.runRoot).filter((e) => UUID_RE.test(e) && !this.guests.has(e));
    } catch {
      return [];
    }
    return entries.map((uuid) => {
      const runDir = join(this.runRoot, uuid);
      const pidFile = join(runDir, 'qemu.pid');
      const rt = { monitor: join(runDir, 'monitor.sock'), pidFile, runDir };
      const owner = (): string => {
        try {
          return readFileSync(pidFile, 'utf8').trim();
        } catch {
          return '';
        }
      };
      const pid = Number(owner());
      let cmdline = '';
      try {
        cmdline = pid > 0 ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
      } catch {
        // gone
      }
      const pidStart = cmdline.split('\0').includes(pidFile) ? processStartTime(pid) : null;
      return {
        uuid,
        stop: async () => {
          if (pidStart !== null) await this.terminatePid({ pid, pidStart });
          // A new start may have made the directory its own meanwhile: only the stray's goes.
          const now = owner();
          if (now === '' || now === String(pid)) removeRuntimeFiles(rt);
        },
      };
    });
  }

  /**
   * Awaits snapshot jobs of tsvirt still running in the guest (up to 10 min), then dismisses
   * them; true when there were any (a snapshot was interrupted).
   */
  private async settleSnapshotJobs(g: Guest): Promise<boolean> {
    const deadline = Date.now() + 600_000;
    let found = false;
    for (;;) {
      const jobs = (await g.qmp.execute<{ id: string; status: string }[]>('query-jobs')).filter((j) => j.id.startsWith('tsvirt-'));
      if (jobs.length > 0) found = true;
      const open = jobs.filter((j) => j.status !== 'concluded' && j.status !== 'null');
      for (const j of jobs) if (j.status === 'concluded') await g.qmp.execute('job-dismiss', { id: j.id }).catch(() => undefined);
      if (open.length === 0 || Date.now() > deadline) return found;
      await sleep(50);
    }
  }


  /**
   * How a guest that {@link isRunning} found stopped ended ('shutdown' when it powered itself
   * off, 'crashed' when its process was gone), once; undefined when not known.
   */
  takeExitReason(uuid: string): GuestExit | undefined {
    const how = this.lastExits.get(uuid);
    this.lastExits.delete(uuid);
    return how;
  }

  /** QMP's run state of a running guest (`running`, `paused`, `shutdown`, `postmigrate`…). */
  async status(rec: DomainRecord): Promise<QemuStatus> {
    return (await this.require(rec)).qmp.execute<QemuStatus>('query-status');
  }

  /** The runtime record of a guest this backend holds (tests, diagnostics). */
  runtimeOf(uuid: string): QemuRuntime | undefined {
    return this.guests.get(uuid)?.rt;
  }

  /** Registers a listener for guests that stop on their own (R5, R12). */
  onExit(listener: (uuid: string, how: GuestExit) => void): void {
    this.exitListeners.push(listener);
  }

  /** Drops every monitor connection; the guests keep running and can be attached again. */
  close(): void {
    this.closed = true;
    for (const c of this.consoles) c.endSession();
    this.consoles.clear();
    for (const g of this.guests.values()) {
      g.detached = true;
      g.qmp.close();
    }
    this.guests.clear();
  }

  // ---------------------------------------------------------------------------------------------

  private checkUUID(uuid: string): string {
    if (!UUID_RE.test(uuid)) throw internalError(DOM, `malformed domain UUID '${uuid}'`);
    return uuid;
  }

  /**
   * The running guest's QMP monitor and process, for the QEMU driver's calls that ask QEMU
   * directly (statistics, hotplug, tuning). VIR_ERR_OPERATION_INVALID "domain is not running"
   * when the record has no live process.
   */
  async monitor(rec: DomainRecord): Promise<{ qmp: QmpClient; runtime: QemuRuntime }> {
    const g = await this.require(rec);
    return { qmp: g.qmp, runtime: g.rt };
  }

  /** The monitor of a guest this backend holds open now; undefined otherwise (it never attaches). */
  heldMonitor(uuid: string): QmpClient | undefined {
    const g = this.guests.get(uuid);
    return g !== undefined && !g.qmp.isClosed ? g.qmp : undefined;
  }

  /** The guest's monitor, attaching when this backend does not hold it yet. */
  private async require(rec: DomainRecord): Promise<Guest> {
    const g = this.guests.get(rec.uuid);
    if (g !== undefined && !g.qmp.isClosed) return g;
    const rt = parseRuntime(rec.runtime);
    const attached = rt === null ? null : await this.attach(rec.uuid, rt, 5000);
    if (attached === null) throw operationInvalid(DOM, 'domain is not running');
    return attached;
  }

  private async attach(uuid: string, rt: QemuRuntime, timeoutMs: number): Promise<Guest | null> {
    if (this.closed) throw internalError(DOM, 'the QEMU backend is closed');
    const qmp = await attachQemu(rt, { timeoutMs });
    if (qmp === null) return null;
    return this.watch(uuid, rt, qmp);
  }

  private watch(uuid: string, rt: QemuRuntime, qmp: QmpClient, exited?: Promise<unknown>): Guest {
    const g: Guest = { uuid, rt, qmp, stopping: false, guestShutdown: false, detached: false, starting: false, exited };
    this.guests.set(uuid, g);
    qmp.onEvent((ev: QmpEvent) => {
      if (ev.event !== 'SHUTDOWN') return;
      if (ev.data.guest === true) g.guestShutdown = true;
      // -no-shutdown keeps QEMU around after the guest powered off: finish it.
      if (g.guestShutdown && !g.stopping) qmp.execute('quit', undefined, { timeoutMs: 5000 }).catch(() => undefined);
    });
    qmp.onClose(() => {
      if (g.detached || g.stopping || g.starting) return;
      void this.gone(g);
    });
    return g;
  }

  /** The monitor closed without our asking: wait for the process, clean up, report. */
  private async gone(g: Guest): Promise<void> {
    if (!(await waitForProcessExit(g.rt.pid, g.rt.pidStart, 10_000, g.exited))) {
      // The monitor is gone but the process lingers: it is of no use any more.
      signalGuest(g.rt.pid, g.rt.pidStart, 'SIGKILL');
      await waitForProcessExit(g.rt.pid, g.rt.pidStart, 10_000, g.exited);
    }
    if (g.stopping || g.detached || g.starting) return;
    if (this.guests.get(g.uuid) === g) this.guests.delete(g.uuid);
    removeRuntimeFiles(g.rt);
    const how: GuestExit = g.guestShutdown ? 'shutdown' : 'crashed';
    for (const l of this.exitListeners) {
      try {
        l(g.uuid, how);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /** quit → SIGTERM → SIGKILL until the process is gone; then forget the guest. */
  private async terminate(g: Guest): Promise<void> {
    if (!g.qmp.isClosed) {
      await g.qmp.execute('quit', undefined, { timeoutMs: 3000 }).catch(() => undefined);
    }
    await this.terminatePid(g.rt, 3000, g.exited);
    g.qmp.close();
    if (this.guests.get(g.uuid) === g) this.guests.delete(g.uuid);
    removeRuntimeFiles(g.rt);
  }

  private async terminatePid(rt: Pick<QemuRuntime, 'pid' | 'pidStart'>, graceMs = 0, exited?: Promise<unknown>): Promise<void> {
    if (await waitForProcessExit(rt.pid, rt.pidStart, graceMs, exited)) return;
    signalGuest(rt.pid, rt.pidStart, 'SIGTERM');
    if (await waitForProcessExit(rt.pid, rt.pidStart, 5000, exited)) return;
    signalGuest(rt.pid, rt.pidStart, 'SIGKILL');
    if (await waitForProcessExit(rt.pid, rt.pidStart, 10_000, exited)) return;
    throw operationFailed(DOM, `failed to terminate process ${rt.pid} with SIGKILL`);
  }

  /** Loads a saved state into a QEMU started with `-incoming defer`. */
  private async restoreFrom(g: Guest, image: string, offset = 0): Promise<void> {
    await g.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
    // The end comes as a MIGRATION event (QEMU sets the run state first); query-status, asked
    // now and then, is the fallback. Polling every 5 ms asked a main loop busy loading the state.
    const ended = g.qmp.waitForEvent(
      (ev) => ev.event === 'MIGRATION' && ['completed', 'failed', 'cancelled'].includes(String(ev.data.status)),
      60_000,
    );
    let settled = false;
    const over = ended.then(
      () => (settled = true),
      () => (settled = true),
    );
    // QEMU listens on a unix socket that `cat` feeds from the image (see sendFileTo).
    const sockPath = join(g.rt.runDir, 'restore.sock');
    if (Buffer.byteLength(sockPath) > MAX_SOCKET_PATH) throw internalError(DOM, `UNIX socket path '${sockPath}' too long`);
    rmSync(sockPath, { force: true });
    await g.qmp.execute('migrate-incoming', { uri: `unix:${sockPath}` });
    const feed = await sendFileTo(sockPath, image, offset);
    try {
      for (;;) {
        const st = await g.qmp.execute<QemuStatus>('query-status');
        if (st.status !== 'inmigrate') break;
        await (settled ? sleep(5) : Promise.race([over, sleep(100)]));
      }
    } catch (err) {
      feed.abort();
      throw err;
    } finally {
      rmSync(sockPath, { force: true });
    }
    const q = await g.qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
    if (q.status === 'failed') {
      throw VirError.report(DOM, ErrorNumber.OPERATION_FAILED, `failed to load the saved state: ${q['error-desc'] ?? 'failed'}`);
    }
  }
}

/**
 * fdatasync of a file, or fsync of a directory (after a rename in it).
 *
 * Errors: VIR_ERR_OPERATION_FAILED naming the path.
 */
async function syncFile(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
    await handle.datasync();
  } catch (e) {
    throw operationFailed(DOM, `cannot sync '${path}' to disk: ${(e as Error).message}`);
  } finally {
    await handle?.close();
  }
}

/**
 * Connects to QEMU's incoming-migration socket and has `cat` send the image into it. Through
 * `exec:cat FILE` the stream crosses a 64 KiB pipe, and a 512 MiB restore took ~40 % longer
 * under TCG here (bench/qemu.ts). QEMU reports the outcome; `abort` stops the copy.
 *
 * Errors: VIR_ERR_OPERATION_FAILED when the socket cannot be connected or the image opened.
 */
async function sendFileTo(sockPath: string, file: string, offset = 0): Promise<{ abort: () => void }> {
  const sock = createConnection({ path: sockPath });
  // Nothing comes back on this channel; this process must not hold bytes cat should see.
  sock.pause();
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', (e) => reject(operationFailed(DOM, `cannot connect to the incoming migration socket: ${e.message}`)));
  });
  let fd: number;
  try {
    fd = openSync(file, 'r');
    // Past a save file's header: a read with no position moves the descriptor's offset, which
    // cat inherits.
    if (offset > 0) readSync(fd, Buffer.alloc(offset), 0, offset, null);
  } catch (e) {
    sock.destroy();
    throw operationFailed(DOM, `cannot read saved image '${file}': ${(e as Error).message}`);
  }
  let copier: ChildProcess;
  try {
    copier = spawn('cat', [], { stdio: [fd, sock, 'ignore'] });
  } finally {
    closeSync(fd);
    // cat holds its own copy of the connection.
    sock.destroy();
  }
  copier.once('error', () => undefined);
  return { abort: () => copier.kill('SIGKILL') };
}

/**
 * A unix socket that accepts one connection (QEMU's migration stream) and has `cat` copy it into
 * a file: the kernel moves the bytes, not this process's event loop — through a Node stream a
 * 128 MiB save took ~150 ms longer under TCG (bench/qemu.ts). `done` resolves once cat has
 * exited 0, i.e. when the whole stream is in the file.
 */
async function receiveToFile(sockPath: string, file: string, header?: Buffer): Promise<{ done: Promise<void>; abort: () => void }> {
  let conn: Socket | null = null;
  let copier: ChildProcess | null = null;
  // pauseOnConnect: this process must not read a byte of the stream; cat gets all of it.
  const server: Server = createServer({ pauseOnConnect: true });
  let settle!: { resolve: () => void; reject: (e: Error) => void };
  const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  done.catch(() => undefined);
  server.maxConnections = 1;
  server.on('connection', (c) => {
    conn = c;
    server.close();
    let fd: number;
    try {
      fd = openSync(file, 'w', 0o600);
      // A save file's header first: cat appends the stream after it (the descriptor's offset).
      if (header !== undefined) writeSync(fd, header);
    } catch (e) {
      c.destroy();
      settle.reject(operationFailed(DOM, `cannot write '${file}': ${(e as Error).message}`));
      return;
    }
    let stderr = '';
    try {
      copier = spawn('cat', [], { stdio: [c, fd, 'pipe'] });
    } finally {
      closeSync(fd);
      // cat holds its own copy of the connection.
      c.destroy();
    }
    copier.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    copier.once('error', (e) => settle.reject(operationFailed(DOM, `cannot run cat to write '${file}': ${e.message}`)));
    copier.once('exit', (code, signal) => {
      if (code === 0) settle.resolve();
      else settle.reject(operationFailed(DOM, `cannot write '${file}': ${stderr.trim() || `cat ended with ${signal ?? `status ${code}`}`}`));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(sockPath, () => resolve());
  });
  return {
    done,
    abort: () => {
      server.close();
      (conn as Socket | null)?.destroy();
      (copier as ChildProcess | null)?.kill('SIGKILL');
    },
  };
}

/**
 * Writes into the definition the guest runs with what its display got at start, as libvirt's
 * live XML shows it: the port QEMU bound for autoport (query-vnc), the address it listens on
 * when none was given (127.0.0.1), the socket path it picked.
 */
async function fillLiveGraphics(qmp: QmpClient, def: DomainDef, paths: QemuArgvPaths): Promise<void> {
  const g = def.devices.graphics[0];
  if (g === undefined || g.type !== 'vnc') return;
  if (g.listenType === 'socket') {
    g.socket ??= paths.vncSocket;
    return;
  }
  g.listen ??= '127.0.0.1';
  if (g.autoport !== true && g.port !== undefined) return;
  const info = await qmp.execute<{ enabled: boolean; service?: string }>('query-vnc');
  const port = Number(info.service);
  if (!info.enabled || !Number.isInteger(port) || port <= 0) {
    throw internalError(DOM, `QEMU did not report the VNC port it listens on (query-vnc: ${JSON.stringify(info)})`);
  }
  g.port = port;
}

/**
 * Gives QEMU the VNC password (`-vnc …,password=on` leaves it unset, which lets nobody in) and
 * its expiry, over QMP so that it never shows on the command line. Runs while the guest is still
 * stopped (-S), as libvirt does before it starts the vCPUs.
 */
async function setGraphicsPasswords(qmp: QmpClient, def: DomainDef): Promise<void> {
  for (const g of def.devices.graphics) {
    if (g.type !== 'vnc' || g.passwd === undefined) continue;
    await qmp.execute('set_password', { protocol: 'vnc', password: g.passwd });
    await qmp.execute('expire_password', { protocol: 'vnc', time: g.passwdValidTo === undefined ? 'never' : String(g.passwdValidTo) });
  }
}

/**
 * The tsvirt header at the start of a save image, or undefined when the file has none (a managed
 * save image written before tsvirt kept the XML there holds the bare migration stream).
 */
function readImageHeader(path: string): SaveImageHeader | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const fixed = Buffer.alloc(SAVE_HEADER_FIXED);
    const n = readSync(fd, fixed, 0, SAVE_HEADER_FIXED, 0);
    const len = saveHeaderXmlLength(fixed.subarray(0, n));
    if (typeof len !== 'number') return undefined;
    const all = Buffer.alloc(SAVE_HEADER_FIXED + len);
    const header = parseSaveHeader(all.subarray(0, readSync(fd, all, 0, all.length, 0)));
    return typeof header === 'string' ? undefined : header;
  } finally {
    closeSync(fd);
  }
}
