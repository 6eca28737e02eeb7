/**
 * What a hypervisor supplies to the metadata driver: the guest actions. Everything else — records,
 * snapshot metadata, the rules of src/rules, events — is the metadata driver's.
 */
import type { Duplex } from 'node:stream';
import type { ErrorDomain } from '../../core/enums.generated.js';
import type { DomainScreenshot, JobOptions } from '../../core/driver.js';
import type { DomainDef } from '../../conf/domain.js';
import type { SnapshotDef } from '../../conf/snapshot.js';
import type { CheckpointDef, CheckpointDiskDef } from '../../conf/checkpoint.js';
import type { Capabilities, Sysinfo } from '../../conf/capabilities.js';
import type { NodeInfo } from '../../core/driver.js';
import type { DomainRecord } from '../../store/store.js';

/** The flag bits each driver call accepts (R7); calls not listed accept 0 only. */
export interface SupportedFlags {
  defineXML: number;
  createXML: number;
  create: number;
  shutdown: number;
  destroy: number;
  reboot: number;
  undefine: number;
  getXMLDesc: number;
  managedSave: number;
  snapshotCreateXML: number;
  snapshotGetXMLDesc: number;
  revertToSnapshot: number;
  snapshotDelete: number;
}

/** What a hypervisor says about its host. */
export interface GuestHost {
  capabilities(): Capabilities;
  nodeInfo(): NodeInfo;
  /** SMBIOS data; undefined when the host has none. */
  sysinfo(): Sysinfo | undefined;
}

/** How a guest starts. */
export interface GuestStartOptions {
  /** Stay paused once loaded. */
  paused: boolean;
  /** Resume from this managed save image (or save file). */
  image: string | null;
  /** Where the memory stream starts in `image` (a save file's header precedes it); 0 by default. */
  imageOffset?: number;
  /** Start from this hypervisor snapshot (memory and disks), as a revert does. */
  snapshot?: string;
  /**
   * Receive the guest from a migration instead of booting it: the hypervisor listens on this URI
   * (`tcp:ADDR:PORT`) and stays paused until the driver resumes it once the state has arrived.
   */
  incoming?: string;
}

/**
 * A hypervisor's snapshots. The metadata driver keeps the tree and the rules; these keep the
 * guest's state. A snapshot's `disks` are aligned with the domain (every disk named). A backend
 * whose snapshot is its metadata (the simulator) uses `metadataOnlySnapshots` of ./snapshots.ts.
 */
export interface GuestSnapshots {
  /** Refuses, with libvirt's error, a snapshot this hypervisor cannot take of the domain. */
  check(def: DomainDef, snap: SnapshotDef, active: boolean): void;
  /** Takes it: disks, and memory when `active` and the snapshot asks for it. */
  create(rec: DomainRecord, def: DomainDef, snap: SnapshotDef, active: boolean, options?: JobOptions): Promise<void>;
  /**
   * Refuses, with libvirt's error, a revert this hypervisor cannot do. Called under the domain's
   * job before the guest is touched: `running` when its process still holds the images;
   * `withMemory` when the revert will start the guest from the snapshot's memory.
   */
  checkRevert(def: DomainDef, snap: SnapshotDef, opts: { withMemory: boolean; running: boolean }): Promise<void>;
  /**
   * With the domain's guest stopped: puts its state back to the snapshot and, when `run`, starts
   * it (paused when asked) with the snapshot's definition `def`; `withMemory` when the snapshot
   * holds the memory of a running guest, to start from. Returns the runtime record, as `start`.
   */
  revert(rec: DomainRecord, def: DomainDef, snap: SnapshotDef, opts: RevertOptions): Promise<string | null>;
  /**
   * Removes these snapshots' state from the hypervisor (missing is fine); `running` when the
   * guest runs, whose images its process holds. `def` parses the definition the domain has now,
   * for a backend that needs it.
   */
  discard(rec: DomainRecord, def: () => DomainDef, snaps: readonly SnapshotRef[], running: boolean): Promise<void>;
}

/**
 * A hypervisor's checkpoints (libvirt's virDomainCheckpoint*): the metadata driver keeps the tree
 * and its rules; these keep the guest's dirty bitmaps. A backend without them has no checkpoints
 * (the public API answers VIR_ERR_NO_SUPPORT).
 */
export interface GuestCheckpoints {
  /** Flag bits accepted by create, getXMLDesc and delete (R7). */
  readonly supported: { create: number; getXMLDesc: number; delete: number };
  /**
   * Refuses, with libvirt's error, a checkpoint this hypervisor cannot make (or, `redefine`,
   * record) now: an inactive domain, a disk format without bitmaps, QUIESCE without an agent.
   * `cp.disks` are aligned with the domain.
   */
  check(def: DomainDef, cp: CheckpointDef, opts: { active: boolean; redefine: boolean; flags: number }): void;
  /** Makes it: a persistent dirty bitmap on each disk with checkpoint='bitmap'. */
  create(rec: DomainRecord, def: DomainDef, cp: CheckpointDef): Promise<void>;
  /** Refuses, with libvirt's error, a delete of bitmaps it cannot do now (an inactive domain). */
  checkDelete(opts: { active: boolean }): void;
  /** Removes these checkpoints' bitmaps (a bitmap already gone is fine). */
  discard(rec: DomainRecord, def: () => DomainDef, disks: readonly CheckpointDiskDef[][]): Promise<void>;
  /** VIR_DOMAIN_CHECKPOINT_XML_SIZE: the bytes each bitmap marks dirty, by disk (running guest). */
  sizes?(rec: DomainRecord, disks: readonly CheckpointDiskDef[]): Promise<Map<string, number>>;
}

/**
 * A recorded snapshot as a hypervisor finds it again: its name and when tsvirt took it (seconds),
 * which tells apart two snapshots of one name in an image.
 */
export interface SnapshotRef {
  name: string;
  creationTime: number;
}

/** How a revert leaves the guest (see GuestSnapshots.revert). */
export interface RevertOptions {
  run: boolean;
  paused: boolean;
  withMemory: boolean;
}

/** The answer of the power button: did the guest stop at once? */
export type PowerButtonResult = 'stopped' | 'requested' | 'ignored';

/** How a guest stopped without being asked by a call (noticed by the backend). */
export type GuestExit =
  /** The guest powered itself off (QEMU's SHUTDOWN event with guest=true). */
  | 'shutdown'
  /** The hypervisor process died or was killed from outside. */
  | 'crashed';

/**
 * Guest actions. Every action answers with a promise: the simulator's at once, a real
 * hypervisor's later. The metadata driver runs each call the same way for both (./jobs.ts): it
 * takes the domain's job in a first store transaction, awaits the action outside any
 * transaction, and records the outcome in a second one.
 */
export interface GuestBackend {
  /** libvirt's driver prefix in function names: 'test' gives `testDomainUndefineFlags`. */
  readonly functionPrefix: string;
  /** Where libvirt's driver checks a call's flags in a function not named prefix+call. */
  readonly functionNames?: Readonly<Record<string, string>>;
  /** Error domain of the driver's own errors (VIR_FROM_TEST, VIR_FROM_QEMU). */
  readonly errorDomain: ErrorDomain;
  /** libvirt's hypervisor type name ('TEST', 'QEMU'). */
  readonly type: string;
  readonly supported: SupportedFlags;
  /**
   * libvirt's qemu driver also reports the monitor's own vCPU and shutdown events: RESUMED when a
   * started (or restored, or reverted) guest's vCPUs run, SUSPENDED/PAUSED when a managed save
   * stops them, SHUTDOWN/HOST when destroy quits the process, DEFINED/FROM_SNAPSHOT when a revert
   * replaces the config. The simulator reports only the lifecycle change, as libvirt's test driver.
   */
  readonly monitorEvents?: boolean;
  /** Describes the host (capabilities, node info, sysinfo); loaded on demand by the driver. */
  host?(): Promise<GuestHost>;
  /** The hypervisor's snapshots (disk and memory state, or nothing beyond the metadata). */
  readonly snapshots: GuestSnapshots;
  /** The hypervisor's checkpoints; absent where it has none. */
  readonly checkpoints?: GuestCheckpoints;
  /** Refuses a definition this hypervisor cannot run (domain type, emulator, devices). */
  checkDefinition(def: DomainDef): void;
  /**
   * Boots (or, with `image`, resumes from a managed save image) a guest. Returns the runtime
   * record to keep while it runs — a JSON object (pid, monitor socket, …) — or null. The driver
   * adds `startedAt` to it and stores it as `rec.runtime`, where later actions find it. The
   * backend may write live-only values into `def` (the VNC port it got), which the live XML
   * then shows; the driver keeps them out of the persistent config.
   */
  start(rec: DomainRecord, def: DomainDef, opts: GuestStartOptions): Promise<string | null>;
  /**
   * ACPI power button (R8): asks; the guest may ignore it. `def` parses the definition the guest
   * runs with, for a backend that needs it (a real guest decides for itself): parsing it costs
   * a millisecond or more before the button is pressed.
   */
  powerButton(rec: DomainRecord, def: () => DomainDef): Promise<PowerButtonResult>;
  /** Pulls the power cord (R8); returns when the guest is gone. */
  kill(rec: DomainRecord): Promise<void>;
  suspend(rec: DomainRecord): Promise<void>;
  resume(rec: DomainRecord): Promise<void>;
  reboot(rec: DomainRecord, def: DomainDef): Promise<void>;
  /**
   * An image of screen `screen` of the running guest whose live definition is `def`
   * (virDomainScreenshot). A backend without it: the driver answers VIR_ERR_NO_SUPPORT.
   */
  screenshot?(rec: DomainRecord, def: DomainDef, screen: number): Promise<DomainScreenshot>;
  /**
   * Saves memory and stops the guest, reporting progress to `options`; returns the image reference
   * to record. `runOnRestore` is what libvirt's save image header keeps: whether a start from the
   * image resumes the vCPUs (VIR_DOMAIN_SAVE_RUNNING / PAUSED, else whether they ran).
   */
  saveMemory(rec: DomainRecord, options: JobOptions | undefined, runOnRestore: boolean): Promise<string>;
  /**
   * Whether a start from this managed save image leaves the vCPUs paused (saved with
   * VIR_DOMAIN_SAVE_PAUSED, or from a paused guest). A backend without it (the simulator, like
   * libvirt's test driver) always resumes.
   */
  imageStartsPaused?(image: string): boolean;
  /** Forgets a managed save image. */
  removeImage(image: string): Promise<void>;
  /**
   * virDomainSave: writes `header` then the guest's memory into the file `path` (replaced only
   * once complete) and stops the guest, as saveMemory does. A backend without it cannot save to
   * a file (the driver answers VIR_ERR_NO_SUPPORT).
   */
  saveToFile?(rec: DomainRecord, path: string, header: Buffer, options: JobOptions | undefined): Promise<void>;
  /**
   * Whether a guest recorded as running still runs (at open, for reconciliation, §5). A backend
   * without it (the simulator, whose guests live in the store) never loses a guest; with it, a
   * run-state commit may skip the fsync, since reconciliation repairs its loss (see ./jobs.ts).
   */
  isRunning?(rec: DomainRecord): Promise<boolean>;
  /**
   * After `isRunning` answered true at open, with no live owner of the domain's job: finishes
   * what a job of a manager that died left in the guest (a migration to a file, a snapshot job,
   * vCPUs stopped for them) and removes the image files no record names. 'resumed' when it
   * resumed vCPUs such a job had stopped (the store says the guest ran before it); else, when
   * the guest's run state differs from the store's, that state ('paused', 'running').
   */
  recoverJob?(rec: DomainRecord): Promise<'resumed' | 'paused' | 'running' | undefined>;
  /**
   * After `isRunning` answered false at open, with no live owner of the domain's job: the
   * complete managed save image a save left when its manager died after the guest was saved and
   * quit but before the store recorded the image, if any.
   */
  completedSave?(rec: DomainRecord): string | undefined;
  /**
   * At open: the guests of this backend whose runtime state is on the host (UUID, and how to
   * stop one). Those the store does not record as running, with no live owner of their job, were
   * started by a manager that died before recording them; reconcile stops them.
   */
  strayGuests?(): { uuid: string; stop: () => Promise<void> }[];
  /** After `isRunning` answered false: how the guest ended, if the backend knows. */
  takeExitReason?(uuid: string): GuestExit | undefined;
  /**
   * Opens a console session on a running guest's character device `devName` (null: the first
   * console), as virDomainOpenConsole; `def` is the definition the guest runs with, `flags`
   * already checked (VIR_DOMAIN_CONSOLE_FORCE ends a session open on the device). A backend
   * without it has no consoles (the driver answers VIR_ERR_NO_SUPPORT).
   */
  openConsole?(rec: DomainRecord, def: DomainDef, devName: string | null, flags: number): Promise<Duplex>;
  /** Tells the driver about guests that stop on their own (R5, R12). */
  onExit?(listener: (uuid: string, how: GuestExit) => void): void;
  /** Releases what the backend holds (monitor connections); guests keep running. */
  close?(): Promise<void> | void;
}
