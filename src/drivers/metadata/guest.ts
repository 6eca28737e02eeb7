/**
 * What a hypervisor supplies to the metadata driver: the guest actions. Everything else — records,
 * snapshot metadata, the rules of src/rules, events — is the metadata driver's.
 */
import type { ErrorDomain } from '../../core/enums.generated.js';
import type { JobOptions } from '../../core/driver.js';
import type { DomainDef } from '../../conf/domain.js';
import type { SnapshotDef } from '../../conf/snapshot.js';
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
  /** Resume from this managed save image. */
  image: string | null;
  /** Start from this hypervisor snapshot (memory and disks), as a revert does. */
  snapshot?: string;
}

/**
 * A hypervisor's own snapshots. The metadata driver keeps the tree and the rules; these keep the
 * guest's state. A snapshot's `disks` are aligned with the domain (every disk named).
 */
export interface GuestSnapshots {
  /** Refuses, with libvirt's error, a snapshot this hypervisor cannot take of the domain. */
  check(def: DomainDef, snap: SnapshotDef, active: boolean): void;
  /** Takes it: disks, and memory when `active` and the snapshot asks for it. */
  create(rec: DomainRecord, def: DomainDef, snap: SnapshotDef, active: boolean, options?: JobOptions): MaybePromise<void>;
  /** Puts the disks of a shut-off domain back to a snapshot of the shut-off domain. */
  revertDisks(def: DomainDef, snap: SnapshotDef): MaybePromise<void>;
  /**
   * Removes snapshots' state from the hypervisor (missing is fine); `running` when the guest
   * described by `def` runs, whose images its process holds.
   */
  discard(rec: DomainRecord, def: DomainDef, snaps: SnapshotDef[], running: boolean): MaybePromise<void>;
}

/** The answer of the power button: did the guest stop at once? */
export type PowerButtonResult = 'stopped' | 'requested' | 'ignored';

/** A value, or a promise of it: the simulator answers at once, a real hypervisor later. */
export type MaybePromise<T> = T | Promise<T>;

/** How a guest stopped without being asked by a call (noticed by the backend). */
export type GuestExit =
  /** The guest powered itself off (QEMU's SHUTDOWN event with guest=true). */
  | 'shutdown'
  /** The hypervisor process died or was killed from outside. */
  | 'crashed';

/**
 * Guest actions. An `instant` backend (the simulator) answers synchronously and its actions run
 * inside the store transaction of the call, so the whole call commits or fails as one. A real
 * backend returns promises; the metadata driver then holds the domain's job across the action
 * and records the outcome in a second transaction.
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
  /** True when every action completes synchronously (see the interface comment). */
  readonly instant: boolean;
  /**
   * True when a snapshot is its metadata and a revert restores definition and run state (the
   * simulator). False where snapshots need the hypervisor's own support (disk and memory state):
   * then `snapshots` supplies it, and without it only REDEFINE, listing and delete of metadata work.
   */
  readonly metadataSnapshots: boolean;
  /**
   * libvirt's qemu driver also reports the monitor's own vCPU and shutdown events: RESUMED when a
   * started (or restored, or reverted) guest's vCPUs run, SUSPENDED/PAUSED when a managed save
   * stops them, SHUTDOWN/HOST when destroy quits the process, DEFINED/FROM_SNAPSHOT when a revert
   * replaces the config. The simulator reports only the lifecycle change, as libvirt's test driver.
   */
  readonly monitorEvents?: boolean;
  /** Describes the host (capabilities, node info, sysinfo); loaded on demand by the driver. */
  host?(): Promise<GuestHost>;
  /** The hypervisor's own snapshots (disk and memory state), when it keeps them. */
  readonly snapshots?: GuestSnapshots;
  /** Refuses a definition this hypervisor cannot run (domain type, emulator, devices). */
  checkDefinition(def: DomainDef): void;
  /**
   * Boots (or, with `image`, resumes from a managed save image) a guest. Returns the runtime
   * record to keep while it runs — a JSON object (pid, monitor socket, …) — or null. The driver
   * adds `startedAt` to it and stores it as `rec.runtime`, where later actions find it.
   */
  start(rec: DomainRecord, def: DomainDef, opts: GuestStartOptions): MaybePromise<string | null>;
  /**
   * ACPI power button (R8): asks; the guest may ignore it. `def` parses the definition the guest
   * runs with, for a backend that needs it (a real guest decides for itself): parsing it costs
   * a millisecond or more before the button is pressed.
   */
  powerButton(rec: DomainRecord, def: () => DomainDef): MaybePromise<PowerButtonResult>;
  /** Pulls the power cord (R8); returns when the guest is gone. */
  kill(rec: DomainRecord): MaybePromise<void>;
  suspend(rec: DomainRecord): MaybePromise<void>;
  resume(rec: DomainRecord): MaybePromise<void>;
  reboot(rec: DomainRecord, def: DomainDef): MaybePromise<void>;
  /** Saves memory and stops the guest; returns the image reference to record. */
  saveMemory(rec: DomainRecord, options?: JobOptions): MaybePromise<string>;
  /** Forgets a managed save image. */
  removeImage(image: string): MaybePromise<void>;
  /**
   * Whether a guest recorded as running still runs (at open, for reconciliation, §5).
   * The simulator's guests live in the store, so they always do.
   */
  isRunning?(rec: DomainRecord): MaybePromise<boolean>;
  /** After `isRunning` answered false: how the guest ended, if the backend knows. */
  takeExitReason?(uuid: string): GuestExit | undefined;
  /** Tells the driver about guests that stop on their own (R5, R12). */
  onExit?(listener: (uuid: string, how: GuestExit) => void): void;
  /** Releases what the backend holds (monitor connections); guests keep running. */
  close?(): MaybePromise<void>;
}
