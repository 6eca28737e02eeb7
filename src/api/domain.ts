/**
 * Domain: a handle on one domain, with python-libvirt's method names, async. Each method has the
 * shape of libvirt's public entry points: check the handle and arguments (and read-only access),
 * check flag combinations the API itself forbids, dispatch to the driver.
 */
import { resolve as resolvePath } from 'node:path';
import { Duplex } from 'node:stream';
import { fstatSync, type Stats } from 'node:fs';
import type { Connection } from './connection.js';
import type {
  BlockInfo,
  BlockStats,
  CpuStats,
  DomainControlInfo,
  DomainInfo,
  DomainRef,
  DomainTime,
  HypervisorDriver,
  InterfaceStats,
  JobInfo,
  JobOptions,
  JobStats,
  SecurityLabel,
  TypedParameter,
  VcpuInfo,
  DomainFSInfo,
  DomainInterface,
} from '../core/driver.js';
import { Stream } from './stream.js';
import {
  DomainInterfaceAddressesSource,
  DomainMetadataType,
  DomainSaveRestoreFlags,
  DomainVcpuFlags,
  type DomainConsoleFlags,
  DomainXMLFlags,
  ErrorDomain,
  DomainOpenGraphicsFlags,
  ErrorNumber,
  type DomainSnapshotListFlags,
  type DomainState,
  type DomainUndefineFlags,
  DomainMemoryFlags,
} from '../core/enums.generated.js';
import { VirError, noSupport } from '../core/errors.js';
import { exclusiveFlags, requireFlag } from '../rules/flags.js';
import { DomainSnapshot } from './snapshot.js';
import { migrate3, migrateToURI3, type MigrateParams } from './migration.js';
import { DomainCheckpoint, checkpointCall } from './checkpoint.js';
import type { DomainCheckpointListFlags } from '../core/enums.generated.js';

/**
 * [state, reason] as python-libvirt's `dom.state()` returns it: a {@link DomainState} and the
 * reason code of that state (e.g. {@link DomainShutoffReason}).
 */
export type DomainStateReason = [state: DomainState, reason: number];

/** The optional driver methods of the resource calls. */
type Optional<K extends keyof HypervisorDriver> = NonNullable<HypervisorDriver[K]>;

/** The names python-libvirt gives {@link DomainMemoryStatTags} in `dom.memoryStats()`. */
const MEMORY_STAT_NAMES: Readonly<Record<number, string>> = {
  0: 'swap_in',
  1: 'swap_out',
  2: 'major_fault',
  3: 'minor_fault',
  4: 'unused',
  5: 'available',
  6: 'actual',
  7: 'rss',
  8: 'usable',
  9: 'last_update',
  10: 'disk_caches',
  11: 'hugetlb_pgalloc',
  12: 'hugetlb_pgfail',
};
/** VIR_TYPED_PARAM_STRING_OKAY: the caller takes string parameters. */
const TYPED_PARAM_STRING_OKAY = 4;
/** VIR_DOMAIN_MEMORY_STAT_NR: how many statistics libvirt knows. */
const MEMORY_STAT_NR = 13;

/** libvirt's virCheckNonZeroArg: VIR_ERR_INVALID_ARG "NAME in API must not be zero". */
function nonZero(value: number, name: string, api: string): void {
  if (value === 0) throw VirError.invalidArg(ErrorDomain.DOMAIN, `${name} in ${api} must not be zero`);
}

/** libvirt's virCheckNonNullArg: VIR_ERR_INVALID_ARG "NAME in API must not be NULL". */
function nonNull(value: unknown, name: string, api: string): void {
  if (typeof value !== 'string') throw VirError.invalidArg(ErrorDomain.DOMAIN, `${name} in ${api} must not be NULL`);
}

/** virTypedParameterValidateSet: names fit VIR_TYPED_PARAM_FIELD_LENGTH, types are known. */
function checkParams(params: TypedParameter[], api: string): void {
  if (!Array.isArray(params)) throw VirError.invalidArg(ErrorDomain.DOMAIN, `params in ${api} must not be NULL`);
  for (const p of params) {
    if (Buffer.byteLength(p.field) >= 80) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, `string parameter name '${p.field}' too long`);
    }
    if (!Number.isInteger(p.type) || p.type < 1 || p.type > 7) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, `invalid type ${p.type} for parameter '${p.field}'`);
    }
  }
}

/**
 * A handle on a domain (libvirt's virDomainPtr), with python-libvirt's method names, async. Its
 * name, UUID and ID are as of lookup; every other method asks the driver for current state.
 * Get handles from the {@link Connection}'s lookups, listings and define/create calls.
 *
 * Besides the codes each method lists, every method that reaches the driver can raise
 * VIR_ERR_INVALID_CONN once the connection is closed, and VIR_ERR_NO_DOMAIN when the domain was
 * removed since the lookup (a stale handle; a new domain with the same UUID is found again).
 * On the qemu driver a call that changes a domain waits while another call holds the domain's
 * job, up to 30 s, then raises VIR_ERR_OPERATION_TIMEOUT ("cannot acquire state change lock").
 * Through a daemon, the daemon's errors arrive code for code.
 *
 * Every call checks its flags first: a bit the driver does not support fails with
 * VIR_ERR_INVALID_ARG "unsupported flags (0x…) in function NAME" before anything changes. Where
 * a method lists accepted flags per driver, "test, qemu" are the metadata-keeping drivers and
 * ESX and VirtualBox accept only what is named for them. Queries say "Effects: none": they
 * change nothing, whether they succeed or fail.
 */
export class Domain {
  /** @internal Replaced only by {@link Domain.rename}, as libvirt renames its virDomainPtr. */
  ref: DomainRef;

  /** @internal Use the Connection's lookups to get handles. */
  constructor(
    /** The connection this handle belongs to. */
    readonly connection: Connection,
    ref: DomainRef,
  ) {
    this.ref = ref;
  }

  /** The domain's name (virDomainGetName), as of lookup. Never fails; asks no driver. */
  name(): string {
    return this.ref.name;
  }
  /**
   * The domain's UUID in canonical form (virDomainGetUUIDString). Never fails; asks no driver.
   */
  UUIDString(): string {
    return this.ref.uuid;
  }
  /**
   * The runtime ID as of lookup (virDomainGetID), or -1 if the domain was inactive then; look
   * the domain up again for its current ID. Never fails; asks no driver.
   */
  ID(): number {
    return this.ref.id;
  }
  /** The Connection this handle belongs to (python-libvirt's `connect()`). Never fails. */
  connect(): Connection {
    return this.connection;
  }

  private get drv() {
    return this.connection.driverFor('virDomain');
  }
  private writable(api: string) {
    return this.connection.writableDriver(api);
  }

  /**
   * Starts an inactive persistent domain (virDomainCreate): same as
   * {@link Domain.createWithFlags} with flags 0.
   *
   * Prerequisites: a writable connection; the domain is inactive.
   *
   * Effects on success: the guest runs. When the domain has a managed save image, the guest
   * resumes from it and the image is removed (state RUNNING/RESTORED, event STARTED/RESTORED);
   * otherwise it boots (RUNNING/BOOTED, event STARTED/BOOTED). qemu also emits RESUMED/UNPAUSED.
   *
   * Effects on failure: nothing changes; a managed save image is kept.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is already running".
   * @throws {@link VirError} the hypervisor's error (qemu, ESX, VirtualBox) when the guest does
   * not start.
   */
  async create(): Promise<void> {
    await this.writable('virDomainCreate').domainCreate(this.ref, 0);
  }
  /**
   * Starts an inactive persistent domain (virDomainCreateWithFlags). Flags:
   * {@link DomainCreateFlags} START_PAUSED (stay paused once loaded; event SUSPENDED/PAUSED
   * follows STARTED) and START_FORCE_BOOT (boot afresh; a managed save image is discarded),
   * test and qemu; ESX and VirtualBox accept 0 only.
   *
   * Prerequisites, effects and errors: as {@link Domain.create}, plus VIR_ERR_INVALID_ARG for
   * flags the driver does not support.
   */
  async createWithFlags(flags: number, options?: JobOptions): Promise<void> {
    await this.writable('virDomainCreateWithFlags').domainCreate(this.ref, flags, options);
  }

  /**
   * Asks the guest to shut down (virDomainShutdown): presses the ACPI power button and returns
   * at once; the guest may ignore it. Same as {@link Domain.shutdownFlags} with flags 0.
   *
   * Prerequisites: a writable connection; the domain is active.
   *
   * Effects on success: the request is delivered. When the guest powers off (at once on the test
   * driver, unless its definition ignores the button; whenever the guest decides on qemu) the
   * domain is shut off with events STOPPED/SHUTDOWN (qemu: SHUTDOWN/GUEST first); a transient
   * domain then vanishes with its snapshot metadata, and nothing of it survives into a later
   * domain with the same name and UUID.
   *
   * Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   */
  async shutdown(): Promise<void> {
    await this.writable('virDomainShutdown').domainShutdown(this.ref, 0);
  }
  /**
   * Asks the guest to shut down (virDomainShutdownFlags). Flags: {@link DomainShutdownFlags}
   * ACPI_POWER_BTN (test, qemu; the only method they have); ESX and VirtualBox accept 0 only.
   *
   * Prerequisites, effects and errors: as {@link Domain.shutdown}, plus VIR_ERR_INVALID_ARG for
   * flags the driver does not support (e.g. GUEST_AGENT).
   */
  async shutdownFlags(flags: number): Promise<void> {
    await this.writable('virDomainShutdownFlags').domainShutdown(this.ref, flags);
  }

  /**
   * Pulls the power cord (virDomainDestroy); returns when the guest is gone. Same as
   * {@link Domain.destroyFlags} with flags 0.
   *
   * Prerequisites: a writable connection; the domain is active.
   *
   * Effects on success: the guest is stopped: a persistent domain is shut off (SHUTOFF/DESTROYED,
   * event STOPPED/DESTROYED; qemu emits SHUTDOWN/HOST first); a transient domain vanishes with
   * its snapshot metadata, and nothing of it survives into a later domain with the same name
   * and UUID.
   *
   * Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   */
  async destroy(): Promise<void> {
    await this.writable('virDomainDestroy').domainDestroy(this.ref, 0);
  }
  /**
   * Pulls the power cord (virDomainDestroyFlags). Flags: {@link DomainDestroyFlags} GRACEFUL
   * (test, qemu); ESX and VirtualBox accept 0 only.
   *
   * Prerequisites, effects and errors: as {@link Domain.destroy}, plus VIR_ERR_INVALID_ARG for
   * flags the driver does not support.
   */
  async destroyFlags(flags: number): Promise<void> {
    await this.writable('virDomainDestroyFlags').domainDestroy(this.ref, flags);
  }

  /**
   * Reboots the guest (virDomainReboot). Flags: {@link DomainRebootFlags}: the test driver
   * accepts every mode and simulates nothing; qemu resets the machine and accepts 0 only, as do
   * ESX and VirtualBox.
   *
   * Prerequisites: a writable connection; the domain is active.
   *
   * Effects on success: the guest restarts; the domain stays active with the same ID and no
   * lifecycle event is emitted. Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for flags the driver does not support.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   */
  async reboot(flags = 0): Promise<void> {
    await this.writable('virDomainReboot').domainReboot(this.ref, flags);
  }
  /**
   * Pauses the guest's virtual CPUs (virDomainSuspend).
   *
   * Prerequisites: a writable connection; the domain is active.
   *
   * Effects on success: state PAUSED/USER, event SUSPENDED/PAUSED; a paused guest stays as it is
   * (no event). Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   */
  async suspend(): Promise<void> {
    await this.writable('virDomainSuspend').domainSuspend(this.ref);
  }
  /**
   * Resumes a paused guest (virDomainResume).
   *
   * Prerequisites: a writable connection; the domain is active.
   *
   * Effects on success: state RUNNING/UNPAUSED, event RESUMED/UNPAUSED; a running guest stays as
   * it is (no event). Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   */
  async resume(): Promise<void> {
    await this.writable('virDomainResume').domainResume(this.ref);
  }

  /**
   * Removes the domain's configuration (virDomainUndefine): same as
   * {@link Domain.undefineFlags} with flags 0, so a domain with a managed save image, or an
   * inactive one with snapshot metadata, is refused.
   */
  async undefine(): Promise<void> {
    await this.writable('virDomainUndefine').domainUndefine(this.ref, 0);
  }
  /**
   * Removes the domain's configuration (virDomainUndefineFlags). Flags:
   * {@link DomainUndefineFlags} MANAGED_SAVE and SNAPSHOTS_METADATA (test, qemu; qemu also
   * accepts NVRAM, KEEP_NVRAM, CHECKPOINTS_METADATA, TPM and KEEP_TPM, which have nothing to
   * remove). ESX and VirtualBox accept SNAPSHOTS_METADATA only, and it changes nothing: their
   * snapshots live in the hypervisor; they have no managed save, so MANAGED_SAVE is an
   * unsupported flag.
   *
   * Checked in this order: the flags; the domain is persistent (a transient one cannot be
   * undefined); an inactive domain with snapshot metadata needs SNAPSHOTS_METADATA; a domain
   * with a managed save image needs MANAGED_SAVE. ESX and VirtualBox also refuse a VM that is
   * powered on.
   *
   * Prerequisites: a writable connection; the domain is persistent; the flags above as needed.
   *
   * Effects on success: an inactive domain goes, with its managed save image and all its
   * snapshot metadata, in one atomic step (after a crash either all of it is still there or none
   * is; the image file is deleted after the step commits); nothing of it survives into a later
   * domain with the same name and UUID. An active domain loses only its configuration: it runs
   * on as a transient domain and keeps its snapshot metadata, whatever the flags, until it
   * stops. Event UNDEFINED/REMOVED.
   *
   * Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for flags the driver does not support.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "cannot undefine transient domain",
   * "cannot delete inactive domain with N snapshots" (without SNAPSHOTS_METADATA), "Refusing to
   * undefine while domain managed save image exists" (without MANAGED_SAVE); on ESX and
   * VirtualBox, "Domain is not suspended or powered off".
   */
  async undefineFlags(flags: DomainUndefineFlags | number): Promise<void> {
    await this.writable('virDomainUndefineFlags').domainUndefine(this.ref, flags);
  }

  /**
   * True when the domain is active: running or paused (virDomainIsActive).
   *
   * Prerequisites: the domain exists. Effects: none. Raises only the common errors (see
   * {@link Domain}).
   */
  async isActive(): Promise<boolean> {
    return this.drv.domainIsActive(this.ref);
  }
  /**
   * The security label of the domain's process and whether it is enforced
   * (virDomainGetSecurityLabel; python's `securityLabel()` gives the two as a list). tsvirt's own
   * drivers run no security driver (their security model is 'none' or empty): an empty label, not
   * enforced, as libvirt's qemu driver with security model 'none'; through a daemon, its answer.
   *
   * Prerequisites: the domain exists. Effects: none. Raises only the common errors (see
   * {@link Domain}).
   */
  async securityLabel(): Promise<SecurityLabel> {
    const drv = this.drv;
    if (drv.domainGetSecurityLabel !== undefined) return drv.domainGetSecurityLabel(this.ref);
    await drv.domainIsActive(this.ref); // VIR_ERR_NO_DOMAIN for a domain that is gone
    return { label: '', enforcing: false };
  }
  /**
   * True when the domain has a persistent configuration (virDomainIsPersistent); false for a
   * transient one.
   *
   * Prerequisites: the domain exists. Effects: none. Raises only the common errors.
   */
  async isPersistent(): Promise<boolean> {
    return this.drv.domainIsPersistent(this.ref);
  }
  /**
   * The domain's [state, reason] (virDomainGetState), with libvirt's numbers.
   *
   * Prerequisites: the domain exists; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   */
  async state(flags = 0): Promise<DomainStateReason> {
    return this.drv.domainGetState(this.ref, flags);
  }
  /**
   * python-libvirt's `info()`: virDomainGetInfo as a list, [state, maxMem KiB, memory KiB,
   * nrVirtCpu, cpuTime ns].
   *
   * Prerequisites: the domain exists. Effects: none. Raises only the common errors.
   */
  async info(): Promise<[number, number, number, number, number]> {
    const i = await this.drv.domainGetInfo(this.ref);
    return [i.state, i.maxMem, i.memory, i.nrVirtCpu, i.cpuTime];
  }
  /**
   * virDomainGetInfo as a record.
   *
   * Prerequisites: the domain exists. Effects: none. Raises only the common errors.
   */
  async getInfo(): Promise<DomainInfo> {
    return this.drv.domainGetInfo(this.ref);
  }
  /**
   * The domain XML (virDomainGetXMLDesc): the live definition of an active domain (with its
   * `id`), else the persistent configuration; with {@link DomainXMLFlags} INACTIVE the
   * configuration even while active (a transient domain has only its live definition). Flags:
   * SECURE, INACTIVE, MIGRATABLE (test, qemu), UPDATE_CPU (qemu; the test driver refuses it as libvirt's does).
   *
   * Prerequisites: the domain exists. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for flags the driver does not support.
   */
  async XMLDesc(flags = 0): Promise<string> {
    // libvirt refuses secrets to a read-only connection before asking the driver.
    if (this.connection.isReadOnly() && (flags & DomainXMLFlags.SECURE) !== 0) {
      throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.OPERATION_DENIED, 'virDomainGetXMLDesc with secure flag');
    }
    return this.drv.domainGetXMLDesc(this.ref, flags);
  }
  /**
   * Whether the domain is marked to start with the host (virDomainGetAutostart).
   *
   * Prerequisites: the domain exists. Effects: none. Raises only the common errors.
   */
  async autostart(): Promise<boolean> {
    return this.drv.domainGetAutostart(this.ref);
  }
  /**
   * Marks the domain to start with the host, or not (virDomainSetAutostart).
   *
   * Prerequisites: a writable connection; the domain is persistent.
   *
   * Effects on success: the mark is stored (undefine clears it). Effects on failure: nothing
   * changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "cannot set autostart for transient
   * domain".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT on ESX and VirtualBox.
   */
  async setAutostart(autostart: boolean): Promise<void> {
    await this.writable('virDomainSetAutostart').domainSetAutostart(this.ref, autostart);
  }

  /**
   * Saves the guest's memory to a managed save image and stops it (virDomainManagedSave); the
   * next start resumes from it. Flags: {@link DomainSaveRestoreFlags} BYPASS_CACHE, RUNNING,
   * PAUSED (test, qemu); RUNNING and PAUSED exclude each other. `options.onProgress` reports
   * progress (qemu: bytes of memory written).
   *
   * Prerequisites: a writable connection; the domain is active and persistent (a transient
   * domain would vanish when it stops, leaving an image nobody can resume).
   *
   * Effects on success: the image is recorded, the guest is stopped: state SHUTOFF/SAVED, event
   * STOPPED/SAVED (qemu: SUSPENDED/PAUSED first); {@link Domain.hasManagedSaveImage} is true.
   *
   * Effects on failure: nothing changes; the guest keeps running.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG when RUNNING and PAUSED are both set, or for
   * flags the driver does not support.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running", "cannot do
   * managed save for transient domain".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT on ESX and VirtualBox (no managed save).
   */
  async managedSave(flags = 0, options?: JobOptions): Promise<void> {
    exclusiveFlags(
      flags,
      DomainSaveRestoreFlags.RUNNING,
      'VIR_DOMAIN_SAVE_RUNNING',
      DomainSaveRestoreFlags.PAUSED,
      'VIR_DOMAIN_SAVE_PAUSED',
      ErrorDomain.DOMAIN,
    );
    await this.writable('virDomainManagedSave').managedSave(this.ref, flags, options);
  }
  /**
   * Saves a running domain's memory to the file `to` and stops it (virDomainSave): same as
   * {@link Domain.saveFlags} with no XML and flags 0.
   *
   * Prerequisites, effects and errors: as {@link Domain.saveFlags}.
   */
  async save(to: string, options?: JobOptions): Promise<void> {
    const drv = this.writable('virDomainSave');
    await this.optional(drv, 'domainSave', 'virDomainSave')(this.ref, absolutePath(to), null, null, options);
  }
  /**
   * Saves a running domain's memory to the file `to` (made absolute against the caller's working
   * directory) and stops it (virDomainSaveFlags); {@link Connection.restore} brings it back. The
   * file starts with a header holding the domain XML (`dxml` replaces it: qemu only, same name
   * and UUID). Flags (qemu): {@link DomainSaveRestoreFlags} BYPASS_CACHE (accepted), RUNNING or
   * PAUSED (how a restore leaves the vCPUs; else as they were); the test driver, as libvirt's,
   * takes none and always restores running.
   *
   * Prerequisites: a writable connection; the domain runs; the file's directory exists and is
   * writable.
   *
   * Effects on success: the file holds the guest (written aside and renamed into place once on
   * disk); the domain is shut off (SHUTOFF/SAVED, event STOPPED/SAVED; qemu SUSPENDED/PAUSED
   * first); a transient domain is gone, as in libvirt, with its snapshot metadata (R5).
   *
   * Effects on failure: no file is left; the guest runs on as it was.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for RUNNING with PAUSED, or flags the driver
   * does not support.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_SYSTEM_ERROR when the file cannot be created (no such
   * directory, no permission).
   * @throws {@link VirError} VIR_ERR_ARGUMENT_UNSUPPORTED "xml modification unsupported" (test,
   * with `dxml`); VIR_ERR_CONFIG_UNSUPPORTED when `dxml` names another domain.
   * @throws {@link VirError} VIR_ERR_OPERATION_FAILED when the hypervisor's save fails.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async saveFlags(to: string, dxml: string | null = null, flags = 0, options?: JobOptions): Promise<void> {
    const drv = this.writable('virDomainSaveFlags');
    exclusiveFlags(flags, DomainSaveRestoreFlags.RUNNING, 'VIR_DOMAIN_SAVE_RUNNING', DomainSaveRestoreFlags.PAUSED, 'VIR_DOMAIN_SAVE_PAUSED', ErrorDomain.DOMAIN);
    await this.optional(drv, 'domainSave', 'virDomainSaveFlags')(this.ref, absolutePath(to), dxml, flags, options);
  }
  /**
   * True when the domain has a managed save image (virDomainHasManagedSaveImage); always false
   * on ESX and VirtualBox.
   *
   * Prerequisites: the domain exists; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   */
  async hasManagedSaveImage(flags = 0): Promise<boolean> {
    return this.drv.hasManagedSaveImage(this.ref, flags);
  }
  /**
   * Removes the domain's managed save image, if any (virDomainManagedSaveRemove); without one
   * it does nothing and succeeds.
   *
   * Prerequisites: a writable connection; `flags` is 0.
   *
   * Effects on success: the image is forgotten (its file deleted after the record); the next
   * start boots afresh. The shut-off reason stays SAVED, as in libvirt.
   *
   * Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT on ESX and VirtualBox (no managed save).
   */
  async managedSaveRemove(flags = 0): Promise<void> {
    await this.writable('virDomainManagedSaveRemove').managedSaveRemove(this.ref, flags);
  }

  /**
   * Creates a snapshot from domainsnapshot XML, or with REDEFINE recreates metadata captured with
   * {@link DomainSnapshot.getXMLDesc} (virDomainSnapshotCreateXML). Flags:
   * {@link DomainSnapshotCreateFlags}: REDEFINE, CURRENT, HALT, ATOMIC, LIVE, VALIDATE (test and
   * qemu), QUIESCE (test), NO_METADATA (qemu); ESX accepts DISK_ONLY and QUIESCE, VirtualBox
   * LIVE, HALT, VALIDATE and NO_METADATA. CURRENT needs REDEFINE; REDEFINE excludes NO_METADATA;
   * HALT excludes LIVE.
   *
   * Prerequisites: a writable connection. Without REDEFINE: no snapshot of that name exists; on
   * qemu the domain has a qcow2 disk to hold it (internal snapshots; with memory when running).
   * With REDEFINE: the full XML of a snapshot (name, state, creation time), the same domain UUID,
   * a parent that exists and no cycle; this recreates a snapshot tree, current snapshot
   * included, on a domain with the same name and UUID.
   *
   * Effects on success: without REDEFINE, the snapshot is taken and recorded as the current one,
   * child of the previous current (test: metadata only; qemu: internal qcow2 snapshot, not
   * recorded with NO_METADATA); with HALT the domain is then stopped (event
   * STOPPED/FROM_SNAPSHOT). With REDEFINE only metadata changes (a snapshot of that name is
   * replaced), and it becomes current with CURRENT.
   *
   * Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for the flag combinations above, flags the
   * driver does not support, or a REDEFINE whose parent is missing, would make a cycle, or names
   * another domain's UUID.
   * @throws {@link VirError} VIR_ERR_XML_ERROR or VIR_ERR_XML_DETAIL for XML that does not parse;
   * VIR_ERR_INTERNAL_ERROR "missing creationTime from existing snapshot" for a REDEFINE of partial
   * XML.
   * @throws {@link VirError} VIR_ERR_OPERATION_FAILED "domain moment NAME already exists".
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "cannot halt after transient domain
   * snapshot" (HALT on an active transient domain).
   * @throws {@link VirError} VIR_ERR_CONFIG_UNSUPPORTED "nothing selected for snapshot" (qemu, a
   * domain without disks) or a disk that cannot hold an internal snapshot;
   * VIR_ERR_OPERATION_UNSUPPORTED for LIVE on an active domain without an external memory
   * target, and on qemu for external targets.
   */
  async snapshotCreateXML(xml: string, flags = 0, options?: JobOptions): Promise<DomainSnapshot> {
    const name = await this.connection
      .writableDriver('virDomainSnapshotCreateXML', ErrorDomain.DOMAIN_SNAPSHOT)
      .snapshotCreateXML(this.ref, xml, DomainSnapshot.checkCreateFlags(flags), options);
    return new DomainSnapshot(this, name);
  }
  /**
   * The number of the domain's snapshots passing the filter flags (virDomainSnapshotNum).
   * Flags: {@link DomainSnapshotListFlags}, in groups as {@link Domain.listAllSnapshots}.
   *
   * Prerequisites: the domain exists. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a bit outside DomainSnapshotListFlags.
   */
  async snapshotNum(flags: DomainSnapshotListFlags | number = 0): Promise<number> {
    return this.drv.snapshotNum(this.ref, flags);
  }
  /**
   * The names of the domain's snapshots passing the filter flags
   * (virDomainSnapshotListNames), in the order of {@link Domain.listAllSnapshots}.
   *
   * Prerequisites: the domain exists. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a bit outside DomainSnapshotListFlags.
   */
  async snapshotListNames(flags: DomainSnapshotListFlags | number = 0): Promise<string[]> {
    return this.drv.snapshotListNames(this.ref, flags);
  }
  /**
   * Handles on the domain's snapshots passing the filter flags (virDomainListAllSnapshots).
   * Flags: {@link DomainSnapshotListFlags}: ROOTS (only roots), TOPOLOGICAL (parents before
   * children), and filter pairs LEAVES/NO_LEAVES, METADATA/NO_METADATA, INTERNAL/EXTERNAL and the
   * state group INACTIVE/ACTIVE/DISK_ONLY (a group with no bit set matches all); 0 lists all in
   * creation order.
   *
   * Prerequisites: the domain exists. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a bit outside DomainSnapshotListFlags.
   */
  async listAllSnapshots(flags: DomainSnapshotListFlags | number = 0): Promise<DomainSnapshot[]> {
    const names = await this.drv.listAllSnapshots(this.ref, flags);
    return names.map((n) => new DomainSnapshot(this, n));
  }
  /**
   * A handle on the domain's snapshot with this name (virDomainSnapshotLookupByName).
   *
   * Prerequisites: the domain exists; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN_SNAPSHOT when the domain has no snapshot of this
   * name.
   */
  async snapshotLookupByName(name: string, flags = 0): Promise<DomainSnapshot> {
    return new DomainSnapshot(this, await this.drv.snapshotLookupByName(this.ref, name, flags));
  }
  /**
   * A handle on the domain's current snapshot (virDomainSnapshotCurrent): the last one taken,
   * reverted to, or redefined with CURRENT.
   *
   * Prerequisites: the domain exists; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN_SNAPSHOT "the domain does not have a current
   * snapshot".
   */
  async snapshotCurrent(flags = 0): Promise<DomainSnapshot> {
    return new DomainSnapshot(this, await this.drv.snapshotCurrent(this.ref, flags));
  }
  /**
   * True when the domain has a current snapshot (virDomainHasCurrentSnapshot).
   *
   * Prerequisites: the domain exists; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   */
  async hasCurrentSnapshot(flags = 0): Promise<boolean> {
    return this.drv.hasCurrentSnapshot(this.ref, flags);
  }
  /**
   * Reverts to a snapshot (python-libvirt's `dom.revertToSnapshot(snap, flags)`): same as
   * `snapshot.revert(flags, options)`, which see; the domain reverted is the snapshot's.
   */
  async revertToSnapshot(snapshot: DomainSnapshot, flags = 0, options?: JobOptions): Promise<void> {
    await snapshot.revert(flags, options);
  }

  /**
   * Connects `stream` to the guest's console or serial device (virDomainOpenConsole): what the
   * guest writes arrives through {@link Stream.recv}, what is sent with {@link Stream.send}
   * reaches the guest. `devName` is the device's alias (e.g. 'serial0', 'console0'), or null for
   * the first console. Flags: {@link DomainConsoleFlags} FORCE (end another session on the same
   * device) and SAFE (qemu). The test driver has no consoles, as libvirt's.
   *
   * Prerequisites: a writable connection (libvirt refuses consoles to read-only ones); `stream`
   * is a new stream of this connection; the domain is running and has the device; no other
   * session holds it (unless FORCE).
   *
   * Effects on success: the stream is bound to the console until finished or aborted (which
   * detaches it; the guest runs on) or the guest stops (the end of data). With FORCE an earlier
   * session's stream reaches its end. Effects on failure: nothing changes; the stream stays
   * unused.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG when `stream` is of another connection, or for
   * flags the driver does not support.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "stream is already in use"; "domain is
   * not running".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver has no consoles (test, ESX,
   * VirtualBox).
   * @throws {@link VirError} VIR_ERR_OPERATION_FAILED "Active console session exists for this
   * domain" without FORCE; the driver's error when the device does not exist.
   */
  async openConsole(devName: string | null, stream: Stream, flags: DomainConsoleFlags | number = 0): Promise<void> {
    const drv = this.writable('virDomainOpenConsole');
    checkStream(stream, 'virDomainOpenConsole');
    stream.checkUnused(this.connection, this.ref.name);
    if (devName !== null && typeof devName !== 'string') {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, 'invalid argument: dev_name in virDomainOpenConsole must be a string or null');
    }
    if (drv.domainOpenConsole === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virDomainOpenConsole');
    stream.attach(await drv.domainOpenConsole(this.ref, devName, flags));
  }

  /**
   * Takes a screenshot of screen `screen` (virDomainScreenshot): resolves with the image's MIME
   * type ('image/png' on the test driver, as libvirt's; qemu gives 'image/x-portable-pixmap' or
   * 'image/png'), and the image then arrives on `stream`: read it to the end of data
   * ({@link Stream.recvAll}, {@link Stream.recv} until empty), then {@link Stream.finish}.
   * Sending on this stream fails it (VIR_ERR_RPC "stream had unexpected termination", as
   * libvirtd answers).
   *
   * Prerequisites: a writable connection (libvirt refuses screenshots to read-only ones);
   * `stream` is a new stream of this connection; `flags` is 0; on qemu, the domain runs with a
   * display. libvirt's test driver answers for any domain, and so does tsvirt's.
   *
   * Effects on success: the stream carries the image. Effects on failure: nothing changes; the
   * stream stays unused.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG when `stream` is of another connection, or for
   * any flag.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "stream is already in use"; (qemu) "domain
   * is not running".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver takes no screenshots (ESX,
   * VirtualBox).
   */
  async screenshot(stream: Stream, screen: number, flags = 0): Promise<string> {
    const drv = this.writable('virDomainScreenshot');
    checkStream(stream, 'virDomainScreenshot');
    stream.checkUnused(this.connection, this.ref.name);
    if (!Number.isInteger(screen) || screen < 0 || screen > 0xffffffff) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, 'invalid argument: screen in virDomainScreenshot must be an unsigned integer');
    }
    if (drv.domainScreenshot === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virDomainScreenshot');
    const shot = await drv.domainScreenshot(this.ref, screen, flags);
    stream.attach(imageChannel(shot.data));
    return shot.mimeType;
  }

  /**
   * A socket connected to graphics device `idx` (virDomainOpenGraphicsFD): resolves with a file
   * descriptor on which the guest's display server (QEMU's VNC or SPICE) talks to you, as to a
   * client that connected to its listening socket — a VNC server greets with `RFB 003.008`.
   * Wrap it with `new net.Socket({ fd })`, or close it with `fs.closeSync(fd)`: it is yours.
   * Through a daemon the descriptor crosses the unix socket (SCM_RIGHTS), as with libvirtd.
   *
   * Prerequisites: a writable connection whose driver passes file descriptors (qemu, locally or
   * over a unix socket to tsvirtd or libvirtd); the domain runs; `idx` (0-based, in the order of
   * the `<graphics>` elements) names a VNC or SPICE device; `flags` is 0 or
   * VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH (the display's password, if any, is not asked).
   *
   * Effects on success: QEMU has one more display client; it goes when the descriptor is
   * closed. Effects on failure: nothing changes (no descriptor is left open).
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver has no such call (test, ESX,
   * VirtualBox, as libvirt's test driver), or tsvirt's fdpass addon is not available (not built,
   * or TSVIRT_NO_FDPASS=1; the message says which, also through tsvirtd).
   * @throws {@link VirError} VIR_ERR_ARGUMENT_UNSUPPORTED "fd passing is not supported by this
   * connection" from a daemon that does not pass descriptors.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for other flags or a bad `idx`.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_INTERNAL_ERROR "No graphics backend with index N";
   * VIR_ERR_CONFIG_UNSUPPORTED "Can only open VNC or SPICE graphics backends, not TYPE".
   */
  async openGraphicsFD(idx: number, flags: DomainOpenGraphicsFlags | number = 0): Promise<number> {
    const drv = this.writable('virDomainOpenGraphicsFD');
    checkGraphicsIndex(idx, 'virDomainOpenGraphicsFD');
    if (drv.domainOpenGraphicsFD === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virDomainOpenGraphicsFD');
    return drv.domainOpenGraphicsFD(this.ref, idx, flags);
  }

  /**
   * Makes the connected socket `fd` a client of graphics device `idx` (virDomainOpenGraphics):
   * the display server talks on it as on a socket it accepted. `fd` stays yours (the hypervisor
   * keeps its own copy): close it when done. Typically one end of a socket pair whose other end
   * a VNC viewer uses.
   *
   * Prerequisites: as {@link Domain.openGraphicsFD}; `fd` is an open socket.
   *
   * Effects on success: QEMU has one more display client on its copy of `fd`. Effects on
   * failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG when `fd` is negative or not a socket
   * ("fd N must be a socket"); VIR_ERR_SYSTEM_ERROR "Unable to access file descriptor N" when
   * it is not open.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT and VIR_ERR_ARGUMENT_UNSUPPORTED as
   * {@link Domain.openGraphicsFD}.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG, VIR_ERR_OPERATION_INVALID, VIR_ERR_INTERNAL_ERROR
   * and VIR_ERR_CONFIG_UNSUPPORTED as {@link Domain.openGraphicsFD} for flags, state and `idx`.
   */
  async openGraphics(idx: number, fd: number, flags: DomainOpenGraphicsFlags | number = 0): Promise<void> {
    if (!Number.isInteger(fd) || fd < 0) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, `invalid argument: fd in virDomainOpenGraphics must be greater than or equal to 0`);
    }
    let st: Stats;
    try {
      st = fstatSync(fd);
    } catch (err) {
      throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.SYSTEM_ERROR, `Unable to access file descriptor ${fd}: ${strerror(err)}`);
    }
    if (!st.isSocket()) throw VirError.invalidArg(ErrorDomain.DOMAIN, `invalid argument: fd ${fd} must be a socket`);
    const drv = this.writable('virDomainOpenGraphics');
    checkGraphicsIndex(idx, 'virDomainOpenGraphics');
    if (drv.domainOpenGraphics === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virDomainOpenGraphics');
    await drv.domainOpenGraphics(this.ref, idx, fd, flags);
  }

  // vCPUs and memory, guest facts (drivers that lack one answer VIR_ERR_NO_SUPPORT).

  /** The driver's method `key`, bound, or VIR_ERR_NO_SUPPORT naming `api`. */
  private optional<K extends keyof HypervisorDriver>(drv: HypervisorDriver, key: K, api: string): Optional<K> {
    const fn = drv[key];
    if (typeof fn !== 'function') throw noSupport(ErrorDomain.DOMAIN, api);
    return (fn as (...args: unknown[]) => unknown).bind(drv) as Optional<K>;
  }

  /**
   * The most vCPUs the running domain may have (virDomainGetMaxVcpus): its live `<vcpu>` count.
   *
   * Prerequisites: the domain is active. Effects: none.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it (ESX, VirtualBox).
   */
  async maxVcpus(): Promise<number> {
    return this.optional(this.drv, 'domainGetMaxVcpus', 'virDomainGetMaxVcpus')(this.ref);
  }
  /**
   * A vCPU count (virDomainGetVcpusFlags). Flags: {@link DomainVcpuFlags} LIVE or CONFIG (which
   * definition; neither: the live one of a running domain, else the persistent one) and MAXIMUM
   * (the `<vcpu>` maximum rather than the vCPUs online).
   *
   * Prerequisites: LIVE needs a running domain, CONFIG a persistent one. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for LIVE with CONFIG, and for flags the driver
   * does not support (the test driver: GUEST, HOTPLUGGABLE).
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running" (LIVE on an
   * inactive domain), "transient domains do not have any persistent config" (CONFIG on one).
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED for GUEST on a read-only connection.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async vcpusFlags(flags = 0): Promise<number> {
    const drv = (flags & DomainVcpuFlags.GUEST) !== 0 ? this.writable('virDomainGetVcpusFlags') : this.drv;
    exclusiveFlags(flags, DomainVcpuFlags.LIVE, 'VIR_DOMAIN_AFFECT_LIVE', DomainVcpuFlags.CONFIG, 'VIR_DOMAIN_AFFECT_CONFIG', ErrorDomain.DOMAIN);
    return this.optional(drv, 'domainGetVcpusFlags', 'virDomainGetVcpusFlags')(this.ref, flags);
  }
  /**
   * Sets the running domain's online vCPUs (virDomainSetVcpus): as {@link Domain.setVcpusFlags}
   * with LIVE.
   *
   * Prerequisites: a writable connection; the domain is active; `nvcpus` is 1 to its maximum.
   * Effects on success: the live definition has `nvcpus` vCPUs online (dominfo's CPU(s)).
   * Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for 0, or more than the maximum ("requested cpu
   * amount exceeds maximum").
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async setVcpus(nvcpus: number): Promise<void> {
    const drv = this.writable('virDomainSetVcpus');
    nonZero(nvcpus, 'nvcpus', 'virDomainSetVcpus');
    await this.optional(drv, 'domainSetVcpus', 'virDomainSetVcpus')(this.ref, nvcpus);
  }
  /**
   * Sets a vCPU count (virDomainSetVcpusFlags). Flags: {@link DomainVcpuFlags} LIVE and/or
   * CONFIG (neither: the live definition of a running domain, else the persistent one), MAXIMUM
   * (set the persistent `<vcpu>` maximum; needs CONFIG; online vCPUs above it go).
   *
   * Prerequisites: a writable connection; LIVE needs a running domain, CONFIG a persistent one;
   * `nvcpus` is 1 to the maximum (to the driver's limit, 32 on the test driver, with MAXIMUM).
   * Effects on success: the named definitions change. Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for 0, MAXIMUM without CONFIG, GUEST with CONFIG,
   * a count over the maximum, or flags the driver does not support.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID as {@link Domain.vcpusFlags}.
   * @throws {@link VirError} (qemu) VIR_ERR_CONFIG_UNSUPPORTED when unplugging vCPUs the driver did not
   * hot-add; VIR_ERR_OPERATION_UNSUPPORTED for unplug under TCG (QEMU 7.2 crashes);
   * VIR_ERR_ARGUMENT_UNSUPPORTED for GUEST (no guest agent); VIR_ERR_OPERATION_TIMEOUT when the
   * guest does not release an unplugged vCPU within 5 s.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async setVcpusFlags(nvcpus: number, flags = 0): Promise<void> {
    const drv = this.writable('virDomainSetVcpusFlags');
    nonZero(nvcpus, 'nvcpus', 'virDomainSetVcpusFlags');
    requireFlag(flags, DomainVcpuFlags.MAXIMUM, 'VIR_DOMAIN_VCPU_MAXIMUM', DomainVcpuFlags.CONFIG, 'VIR_DOMAIN_AFFECT_CONFIG', ErrorDomain.DOMAIN);
    exclusiveFlags(flags, DomainVcpuFlags.GUEST, 'VIR_DOMAIN_VCPU_GUEST', DomainVcpuFlags.CONFIG, 'VIR_DOMAIN_AFFECT_CONFIG', ErrorDomain.DOMAIN);
    await this.optional(drv, 'domainSetVcpusFlags', 'virDomainSetVcpusFlags')(this.ref, nvcpus, flags);
  }
  /**
   * Hot-plugs a device into the running domain (virDomainAttachDevice): as
   * {@link Domain.attachDeviceFlags} with LIVE.
   *
   * Prerequisites: a writable connection; the domain is active. Effects on success: the device is
   * in the live definition (and in the guest). Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running", and the other
   * codes of {@link Domain.attachDeviceFlags}.
   */
  async attachDevice(xml: string): Promise<void> {
    const drv = this.writable('virDomainAttachDevice');
    nonNull(xml, 'xml', 'virDomainAttachDevice');
    await this.optional(drv, 'domainAttachDevice', 'virDomainAttachDevice')(this.ref, xml);
  }
  /**
   * Adds one device, given as its XML (`<disk>`, `<interface>`, `<controller>`, …), to the
   * domain (virDomainAttachDeviceFlags). Flags: {@link DomainDeviceModifyFlags} LIVE (the running
   * guest: hotplug) and/or CONFIG (the persistent definition); neither: the live definition of a
   * running domain, else the persistent one. The QEMU driver hot-plugs virtio disks
   * (`blockdev-add` + `device_add`) and user-mode interfaces (`netdev_add` + `device_add`); a kind
   * tsvirt does not model can only go into the persistent definition, as written.
   *
   * Prerequisites: a writable connection; LIVE needs a running domain, CONFIG a persistent one.
   * Effects on success: the device is in each definition named (live: with its alias, e.g.
   * `virtio-disk1`, `net1`, or the user's `ua-…`). Effects on failure: nothing changes (what a
   * failed hotplug added to the guest is removed again).
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for unsupported flags, a null `xml`.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running" (LIVE on an inactive
   * domain), "transient domains do not have any persistent config", "target vdb already exists".
   * @throws {@link VirError} VIR_ERR_CONFIG_UNSUPPORTED "non unique alias detected: ua-…".
   * @throws {@link VirError} VIR_ERR_XML_DETAIL for malformed device XML; VIR_ERR_CONFIG_UNSUPPORTED
   * "unknown device type '…'"; the domain parser's errors for a device it refuses (VIR_ERR_NO_TARGET
   * for a disk without target).
   * @throws {@link VirError} VIR_ERR_OPERATION_UNSUPPORTED for a device the hypervisor cannot
   * hot-plug ("live attach of device 'controller' is not supported", a CD-ROM, an IDE disk) or a
   * kind the persistent definition cannot take.
   * @throws {@link VirError} VIR_ERR_INTERNAL_ERROR with QEMU's words when QEMU refuses the device.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it (ESX, VirtualBox).
   */
  async attachDeviceFlags(xml: string, flags = 0): Promise<void> {
    const drv = this.writable('virDomainAttachDeviceFlags');
    nonNull(xml, 'xml', 'virDomainAttachDeviceFlags');
    await this.optional(drv, 'domainAttachDeviceFlags', 'virDomainAttachDeviceFlags')(this.ref, xml, flags);
  }
  /**
   * Unplugs a device from the running domain (virDomainDetachDevice): as
   * {@link Domain.detachDeviceFlags} with LIVE.
   *
   * Prerequisites: a writable connection; the domain is active. Effects on success: the device
   * left the live definition, or its removal is under way in the guest. Effects on failure:
   * nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running", and the other
   * codes of {@link Domain.detachDeviceFlags}.
   */
  async detachDevice(xml: string): Promise<void> {
    const drv = this.writable('virDomainDetachDevice');
    nonNull(xml, 'xml', 'virDomainDetachDevice');
    await this.optional(drv, 'domainDetachDevice', 'virDomainDetachDevice')(this.ref, xml);
  }
  /**
   * Removes the device `xml` names from the domain (virDomainDetachDeviceFlags): a disk by its
   * target (`<target dev=…>`), an interface by its MAC (any when the XML gives none, if there is
   * only one), another device by its exact XML. Flags as {@link Domain.attachDeviceFlags}. Live,
   * the QEMU driver asks the guest to release the device (`device_del`) and waits up to 5 s for
   * it; if the guest has not let go by then the call still succeeds, the device stays in the live
   * XML and leaves it when the guest completes the unplug (as libvirt).
   *
   * Prerequisites: a writable connection; LIVE needs a running domain, CONFIG a persistent one.
   * Effects on success: the device left each definition named. Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for unsupported flags, a null `xml`.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID as {@link Domain.attachDeviceFlags}.
   * @throws {@link VirError} VIR_ERR_DEVICE_MISSING "no target device vdz" (config), "disk vdz not
   * found" (live), "no device found at address … matching MAC address … and alias …", "device not
   * present in domain configuration".
   * @throws {@link VirError} VIR_ERR_OPERATION_FAILED "multiple devices matching MAC address … found".
   * @throws {@link VirError} VIR_ERR_XML_DETAIL for malformed device XML; VIR_ERR_CONFIG_UNSUPPORTED "unknown device type".
   * @throws {@link VirError} VIR_ERR_OPERATION_UNSUPPORTED for a device the hypervisor cannot unplug.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async detachDeviceFlags(xml: string, flags = 0): Promise<void> {
    const drv = this.writable('virDomainDetachDeviceFlags');
    nonNull(xml, 'xml', 'virDomainDetachDeviceFlags');
    await this.optional(drv, 'domainDetachDeviceFlags', 'virDomainDetachDeviceFlags')(this.ref, xml, flags);
  }
  /**
   * Changes a device in place (virDomainUpdateDeviceFlags): the disk with the same target, the
   * interface with the same MAC, replaced by `xml`. Live, the QEMU driver changes a CD-ROM's or
   * floppy's media (`blockdev-change-medium`; a disk without source ejects it). Flags as
   * {@link Domain.attachDeviceFlags}, plus FORCE (eject even a locked tray).
   *
   * Prerequisites: a writable connection; LIVE needs a running domain, CONFIG a persistent one.
   * Effects on success: the device is changed in each definition named. Effects on failure:
   * nothing changes.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for unsupported flags, a null `xml`, "target hdc
   * doesn't exist.".
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID as {@link Domain.attachDeviceFlags}.
   * @throws {@link VirError} VIR_ERR_DEVICE_MISSING / VIR_ERR_OPERATION_FAILED as {@link Domain.detachDeviceFlags}.
   * @throws {@link VirError} VIR_ERR_OPERATION_UNSUPPORTED for a change the hypervisor cannot make
   * live ("cannot modify field 'source' of the disk") or a kind that cannot be updated.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async updateDeviceFlags(xml: string, flags = 0): Promise<void> {
    const drv = this.writable('virDomainUpdateDeviceFlags');
    nonNull(xml, 'xml', 'virDomainUpdateDeviceFlags');
    await this.optional(drv, 'domainUpdateDeviceFlags', 'virDomainUpdateDeviceFlags')(this.ref, xml, flags);
  }
  /**
   * Removes the device whose alias is `alias` (virDomainDetachDeviceAlias): `ua-…` user aliases
   * and those the hypervisor gave (`virtio-disk0`, `net0`, as the live XML shows them). Flags as
   * {@link Domain.attachDeviceFlags}. Live, the request is sent and the call returns at once; the
   * device leaves the live XML when the guest releases it.
   *
   * Prerequisites: a writable connection; LIVE needs a running domain, CONFIG a persistent one.
   * Effects on success: the device left the persistent definition, and its live removal is done or
   * under way. Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for unsupported flags, a null `alias`.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID as {@link Domain.attachDeviceFlags}.
   * @throws {@link VirError} VIR_ERR_INTERNAL_ERROR "no device found with alias …" (libvirt 9.0's code).
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async detachDeviceAlias(alias: string, flags = 0): Promise<void> {
    const drv = this.writable('virDomainDetachDeviceAlias');
    nonNull(alias, 'alias', 'virDomainDetachDeviceAlias');
    await this.optional(drv, 'domainDetachDeviceAlias', 'virDomainDetachDeviceAlias')(this.ref, alias, flags);
  }
  /**
   * The running domain's vCPUs (virDomainGetVcpus): number, state ({@link VcpuState}), CPU time
   * (ns), host CPU, and the host CPUs each may run on (one entry per host CPU of
   * virNodeGetCPUMap). python-libvirt's `vcpus()` returns the same as two lists. `maxinfo`
   * (default: all of them) limits the vCPUs listed, `maxCpus` (default: the host's) the host
   * CPUs of each affinity.
   *
   * Prerequisites: the domain is active. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for `maxinfo` ≤ 0.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "cannot list vcpus for an inactive domain"
   * (test), "cannot retrieve vcpu information for inactive domain" (qemu).
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async vcpus(maxinfo?: number, maxCpus?: number): Promise<VcpuInfo[]> {
    const drv = this.drv;
    if (maxinfo !== undefined && maxinfo <= 0) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, 'maxinfo in virDomainGetVcpus must be greater than zero');
    }
    const getVcpus = this.optional(drv, 'domainGetVcpus', 'virDomainGetVcpus');
    maxinfo ??= Math.max(1, (await drv.domainGetInfo(this.ref)).nrVirtCpu);
    maxCpus ??= (await this.connection.getCPUMap())[0];
    return getVcpus(this.ref, maxinfo, maxCpus);
  }
  /**
   * Which host CPUs each vCPU may run on (virDomainGetVcpuPinInfo), from the live or persistent
   * definition ({@link DomainVcpuFlags} LIVE or CONFIG; neither: the current one), one list per
   * vCPU up to the maximum (`ncpumaps`, default: all), each over `maxCpus` host CPUs (default:
   * the host's, virNodeGetCPUMap).
   *
   * Prerequisites: LIVE needs a running domain, CONFIG a persistent one. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for LIVE with CONFIG, `ncpumaps` or `maxCpus`
   * ≤ 0, or flags the driver does not support.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running" (LIVE on an
   * inactive domain), "transient domains do not have any persistent config".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async vcpuPinInfo(flags = 0, ncpumaps?: number, maxCpus?: number): Promise<boolean[][]> {
    const drv = this.drv;
    if (ncpumaps !== undefined && ncpumaps <= 0) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, 'ncpumaps in virDomainGetVcpuPinInfo must be greater than zero');
    }
    if (maxCpus !== undefined && maxCpus <= 0) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, 'maplen in virDomainGetVcpuPinInfo must be greater than zero');
    }
    exclusiveFlags(flags, DomainVcpuFlags.LIVE, 'VIR_DOMAIN_AFFECT_LIVE', DomainVcpuFlags.CONFIG, 'VIR_DOMAIN_AFFECT_CONFIG', ErrorDomain.DOMAIN);
    const pinInfo = this.optional(drv, 'domainGetVcpuPinInfo', 'virDomainGetVcpuPinInfo');
    ncpumaps ??= await this.vcpusFlags(flags | DomainVcpuFlags.MAXIMUM);
    maxCpus ??= (await this.connection.getCPUMap())[0];
    return pinInfo(this.ref, ncpumaps, maxCpus, flags);
  }
  /**
   * The domain's CPU scheduler (virDomainGetSchedulerType), as python-libvirt's
   * `schedulerType()`: its name ('fair' on the test driver) and how many parameters it has.
   *
   * Prerequisites: the domain exists. Effects: none.
   * @throws {@link VirError} (qemu) VIR_ERR_OPERATION_UNSUPPORTED "CPU tuning is not available in
   * session mode" on qemu:///session; VIR_ERR_OPERATION_INVALID "cgroup CPU controller is not
   * mounted" on qemu:///system (tsvirt places guests in no cgroup).
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async schedulerType(): Promise<[type: string, nparams: number]> {
    return this.optional(this.drv, 'domainGetSchedulerType', 'virDomainGetSchedulerType')(this.ref);
  }
  /**
   * The scheduler's parameters (virDomainGetSchedulerParameters) as typed parameters; the test
   * driver has one, `weight` (unsigned int, 50).
   *
   * Prerequisites: the domain exists. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async schedulerParameters(): Promise<TypedParameter[]> {
    const drv = this.drv;
    const get = this.optional(drv, 'domainGetSchedulerParameters', 'virDomainGetSchedulerParameters');
    const [, nparams] = await this.schedulerType();
    return get(this.ref, nparams, null);
  }
  /**
   * The scheduler's parameters of the live or persistent definition
   * (virDomainGetSchedulerParametersFlags; {@link DomainModificationImpact} flags). Like
   * libvirt's, the call asks for string parameters too (VIR_TYPED_PARAM_STRING_OKAY, 4), which
   * the test driver refuses: there it fails as libvirt's does.
   *
   * Prerequisites: the domain exists. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for LIVE with CONFIG, or flags the driver does
   * not support (the test driver supports none).
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async schedulerParametersFlags(flags = 0): Promise<TypedParameter[]> {
    const drv = this.drv;
    exclusiveFlags(flags, DomainVcpuFlags.LIVE, 'VIR_DOMAIN_AFFECT_LIVE', DomainVcpuFlags.CONFIG, 'VIR_DOMAIN_AFFECT_CONFIG', ErrorDomain.DOMAIN);
    const get = this.optional(drv, 'domainGetSchedulerParameters', 'virDomainGetSchedulerParametersFlags');
    const [, nparams] = await this.schedulerType();
    return get(this.ref, nparams, flags | TYPED_PARAM_STRING_OKAY);
  }
  /**
   * Sets scheduler parameters (virDomainSetSchedulerParameters). The test driver accepts
   * `weight` (unsigned int) and, as libvirt's, keeps nothing.
   *
   * Prerequisites: a writable connection; parameters the scheduler has, of their types.
   * Effects on success: the parameters are set. Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_ARGUMENT_UNSUPPORTED for a parameter the scheduler lacks.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a parameter of the wrong type.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async setSchedulerParameters(params: TypedParameter[]): Promise<void> {
    const drv = this.writable('virDomainSetSchedulerParameters');
    await this.optional(drv, 'domainSetSchedulerParameters', 'virDomainSetSchedulerParameters')(this.ref, params, null);
  }
  /**
   * Sets scheduler parameters of the live or persistent definition
   * (virDomainSetSchedulerParametersFlags; {@link DomainModificationImpact} flags).
   *
   * Prerequisites, effects and errors: as {@link Domain.setSchedulerParameters}, plus
   * VIR_ERR_INVALID_ARG for flags the driver does not support (the test driver supports none).
   */
  async setSchedulerParametersFlags(params: TypedParameter[], flags = 0): Promise<void> {
    const drv = this.writable('virDomainSetSchedulerParametersFlags');
    await this.optional(drv, 'domainSetSchedulerParameters', 'virDomainSetSchedulerParametersFlags')(this.ref, params, flags);
  }
  /**
   * Sets the running domain's memory (virDomainSetMemory), KiB: as {@link Domain.setMemoryFlags}
   * with LIVE.
   *
   * Prerequisites: a writable connection; the domain is active; `memory` is at most its maximum.
   * Effects on success: the live current memory (balloon) is `memory`. On failure: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for 0, or "cannot set memory higher than max memory".
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async setMemory(memory: number): Promise<void> {
    const drv = this.writable('virDomainSetMemory');
    nonZero(memory, 'memory', 'virDomainSetMemory');
    await this.optional(drv, 'domainSetMemory', 'virDomainSetMemory')(this.ref, memory);
  }
  /**
   * Sets the maximum memory (virDomainSetMaxMemory), KiB: as {@link Domain.setMemoryFlags} with
   * MAXIMUM: the live definition of a running domain (refused by the test driver), else the
   * persistent one.
   *
   * Prerequisites: a writable connection. Effects on success: `<memory>` is `memory`, the
   * current memory at most that. Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for 0.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "cannot resize the maximum memory on an
   * active domain" (test driver).
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async setMaxMemory(memory: number): Promise<void> {
    const drv = this.writable('virDomainSetMaxMemory');
    nonZero(memory, 'memory', 'virDomainSetMaxMemory');
    await this.optional(drv, 'domainSetMaxMemory', 'virDomainSetMaxMemory')(this.ref, memory);
  }
  /**
   * Sets the current or maximum memory (virDomainSetMemoryFlags), KiB. Flags:
   * {@link DomainMemoryModFlags} LIVE and/or CONFIG (neither: the live definition of a running
   * domain, else the persistent one) and MAXIMUM (`<memory>` rather than `<currentMemory>`).
   *
   * Prerequisites: a writable connection; LIVE needs a running domain, CONFIG a persistent one.
   * Effects on success: the named definitions change. Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for 0, for flags the driver does not support,
   * "cannot set memory higher than max memory".
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running", "transient domains
   * do not have any persistent config", "cannot resize the maximum memory on an active domain".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async setMemoryFlags(memory: number, flags = 0): Promise<void> {
    const drv = this.writable('virDomainSetMemoryFlags');
    nonZero(memory, 'memory', 'virDomainSetMemoryFlags');
    await this.optional(drv, 'domainSetMemoryFlags', 'virDomainSetMemoryFlags')(this.ref, memory, flags);
  }
  /**
   * The running guest's memory statistics (virDomainMemoryStats) by python-libvirt's names
   * ('actual', 'swap_in', …, 'rss'), in KiB ('last_update' in seconds, faults as counts).
   *
   * Prerequisites: the domain is active; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async memoryStats(flags = 0): Promise<Record<string, number>> {
    const stats = await this.optional(this.drv, 'domainMemoryStats', 'virDomainMemoryStats')(this.ref, MEMORY_STAT_NR, flags);
    const out: Record<string, number> = {};
    for (const s of stats) {
      const name = MEMORY_STAT_NAMES[s.tag];
      if (name !== undefined) out[name] = s.val;
    }
    return out;
  }
  /**
   * Whether the persistent definition was changed while the domain runs, so that it differs
   * from the live one (virDomainIsUpdated); the test driver always answers false.
   *
   * Prerequisites: the domain exists. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async isUpdated(): Promise<boolean> {
    return this.optional(this.drv, 'domainIsUpdated', 'virDomainIsUpdated')(this.ref);
  }
  /**
   * The state of the driver's control of the domain (virDomainGetControlInfo): state
   * ({@link DomainControlState}), details, and milliseconds in that state. python-libvirt's
   * `controlInfo()` returns the same as a list.
   *
   * Prerequisites: the domain is active; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async controlInfo(flags = 0): Promise<DomainControlInfo> {
    return this.optional(this.drv, 'domainGetControlInfo', 'virDomainGetControlInfo')(this.ref, flags);
  }
  /**
   * Resets the guest like the reset button (virDomainReset): no shutdown, no lifecycle event.
   *
   * Prerequisites: a writable connection; the domain is active; `flags` is 0.
   * Effects on success: the guest restarts at once (nothing to see on the test driver).
   * Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async reset(flags = 0): Promise<void> {
    const drv = this.writable('virDomainReset');
    await this.optional(drv, 'domainReset', 'virDomainReset')(this.ref, flags);
  }
  /**
   * The guest's hostname (virDomainGetHostname); the test driver answers 'testhost'.
   *
   * Prerequisites: a writable connection (libvirt asks the guest); the domain is active; `flags`
   * is 0 on the test driver. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for flags the driver does not support.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} (qemu) VIR_ERR_ARGUMENT_UNSUPPORTED "QEMU guest agent is not configured"
   * (tsvirt runs no agent channel); VIR_ERR_NO_HOSTNAME with LEASE.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async hostname(flags = 0): Promise<string> {
    const drv = this.writable('virDomainGetHostname');
    return this.optional(drv, 'domainGetHostname', 'virDomainGetHostname')(this.ref, flags);
  }
  /**
   * The guest's clock (virDomainGetTime): seconds since the epoch and nanoseconds; the test
   * driver's guests all say 627319920.
   *
   * Prerequisites: a writable connection (libvirt asks the guest agent); the domain is active;
   * `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} (qemu) VIR_ERR_ARGUMENT_UNSUPPORTED "QEMU guest agent is not configured".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async getTime(flags = 0): Promise<DomainTime> {
    const drv = this.writable('virDomainGetTime');
    return this.optional(drv, 'domainGetTime', 'virDomainGetTime')(this.ref, flags);
  }

  // Statistics and tuning.

  /**
   * I/O statistics of one disk (virDomainBlockStats), named by its target ('vda') or its source
   * path: read/write requests and bytes, and errors; -1 for a figure the hypervisor does not know.
   *
   * Prerequisites: the domain is active; `path` names one of its disks. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for an unknown disk (test: "invalid path: X";
   * qemu: "invalid path: X").
   * @throws {@link VirError} VIR_ERR_OPERATION_UNSUPPORTED for an empty `path` (summary
   * statistics).
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async blockStats(path: string): Promise<BlockStats> {
    const drv = this.drv;
    nonNull(path, 'disk', 'virDomainBlockStats');
    return this.optional(drv, 'domainBlockStats', 'virDomainBlockStats')(this.ref, path);
  }
  /**
   * I/O statistics of one disk as typed parameters (virDomainBlockStatsFlags): rd_operations,
   * rd_bytes, rd_total_times, wr_*, flush_operations, flush_total_times, errs (qemu; libvirt's
   * test driver lacks the call).
   *
   * Prerequisites: as {@link Domain.blockStats}; `flags` 0 or VIR_TYPED_PARAM_STRING_OKAY.
   * Effects: none.
   * @throws {@link VirError} as {@link Domain.blockStats}, plus VIR_ERR_INVALID_ARG for flags.
   */
  async blockStatsFlags(path: string, flags = 0): Promise<TypedParameter[]> {
    const drv = this.drv;
    nonNull(path, 'disk', 'virDomainBlockStatsFlags');
    return this.optional(drv, 'domainBlockStatsFlags', 'virDomainBlockStatsFlags')(this.ref, path, flags | TYPED_PARAM_STRING_OKAY);
  }
  /**
   * Traffic statistics of one network interface (virDomainInterfaceStats), named by its target
   * device ('vnet0', 'testnet0') or its MAC address; -1 for a figure the hypervisor does not know.
   *
   * Prerequisites: the domain is active; `device` names one of its interfaces. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG "'X' is not a known interface".
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async interfaceStats(device: string): Promise<InterfaceStats> {
    const drv = this.drv;
    nonNull(device, 'device', 'virDomainInterfaceStats');
    return this.optional(drv, 'domainInterfaceStats', 'virDomainInterfaceStats')(this.ref, device);
  }
  /**
   * Sizes of one disk in bytes (virDomainGetBlockInfo): capacity (what the guest sees),
   * allocation (host storage in use) and physical (the image's size on the host).
   *
   * Prerequisites: `disk` (target or source path) names a disk with a source; `flags` is 0.
   * Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for an empty name, an unknown disk ("invalid path
   * X not assigned to domain"), or any flag.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async blockInfo(disk: string, flags = 0): Promise<BlockInfo> {
    const drv = this.drv;
    if (typeof disk !== 'string' || disk === '') {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, 'disk in virDomainGetBlockInfo must not be empty string');
    }
    return this.optional(drv, 'domainGetBlockInfo', 'virDomainGetBlockInfo')(this.ref, disk, flags);
  }
  /**
   * Resizes one disk of a running domain (virDomainBlockResize): the image grows or shrinks to
   * `size` KiB, or bytes with VIR_DOMAIN_BLOCK_RESIZE_BYTES (qcow2 rounds up to 512 bytes).
   * The guest sees the new capacity at once.
   *
   * Prerequisites: a writable connection; the domain is active; `disk` (target or source path)
   * names a disk with a writable source.
   *
   * Effects on success: the image has the new size. Effects on failure: the image is unchanged.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a null disk, an unknown disk ("disk 'X' was
   * not found in the domain config") or flags other than BYTES.
   * @throws {@link VirError} VIR_ERR_OVERFLOW when `size` KiB does not fit in bytes.
   * @throws {@link VirError} VIR_ERR_OPERATION_UNSUPPORTED for an empty or read-only disk.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it (the test driver, as libvirt's).
   */
  async blockResize(disk: string, size: number, flags = 0): Promise<void> {
    const drv = this.writable('virDomainBlockResize');
    nonNull(disk, 'disk', 'virDomainBlockResize');
    await this.optional(drv, 'domainBlockResize', 'virDomainBlockResize')(this.ref, disk, size, flags);
  }
  /**
   * Reads `size` bytes of a disk's image from `offset` (virDomainBlockPeek), as the host sees the
   * file (no guest format is interpreted: only raw disks are allowed). `size` 0 is an access test.
   * Through a daemon one call reads at most 4 MiB.
   *
   * Prerequisites: a writable connection (as libvirt: the bytes may be sensitive); `disk` (target
   * or source path) names a raw disk with a source; `flags` is 0. The domain may be inactive.
   *
   * Effects on success: none; the bytes are returned. Effects on failure: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for an empty disk name, an unknown disk, a range
   * past the end ("'X' starting from N has only M bytes available") or any flag.
   * @throws {@link VirError} VIR_ERR_OPERATION_UNSUPPORTED for a disk that is not raw.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_RPC for more than 4 MiB through a daemon.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it (the test driver, as libvirt's).
   */
  async blockPeek(disk: string, offset: number, size: number, flags = 0): Promise<Buffer> {
    const drv = this.writable('virDomainBlockPeek');
    if (typeof disk !== 'string' || disk === '') {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, 'disk in virDomainBlockPeek must not be empty string');
    }
    return this.optional(drv, 'domainBlockPeek', 'virDomainBlockPeek')(this.ref, disk, offset, size, flags);
  }
  /**
   * Reads `size` bytes of the running guest's memory from `start` (virDomainMemoryPeek): guest
   * virtual addresses ({@link DomainMemoryFlags}.VIRTUAL, as the first vCPU translates them) or
   * physical ones (PHYSICAL). Through a daemon one call reads at most 4 MiB.
   *
   * Prerequisites: a writable connection; the domain is active; exactly one of VIRTUAL and
   * PHYSICAL.
   *
   * Effects on success: none; the bytes are returned. Effects on failure: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for both flags ("Flags 'VIR_MEMORY_VIRTUAL' and
   * 'VIR_MEMORY_PHYSICAL' are mutually exclusive"), neither, or any other flag.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_RPC for more than 4 MiB through a daemon.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async memoryPeek(start: number, size: number, flags: number): Promise<Buffer> {
    const drv = this.writable('virDomainMemoryPeek');
    exclusiveFlags(flags, DomainMemoryFlags.VIRTUAL, 'VIR_MEMORY_VIRTUAL', DomainMemoryFlags.PHYSICAL, 'VIR_MEMORY_PHYSICAL', ErrorDomain.DOMAIN);
    return this.optional(drv, 'domainMemoryPeek', 'virDomainMemoryPeek')(this.ref, start, size, flags);
  }
  /**
   * The memory tuning parameters (virDomainGetMemoryParameters): hard_limit, soft_limit,
   * swap_hard_limit, KiB as unsigned long long (9007199254740991: unlimited). Flags:
   * {@link DomainModificationImpact} (LIVE or CONFIG; neither: the current definition).
   *
   * Prerequisites: LIVE needs a running domain, CONFIG a persistent one. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for LIVE with CONFIG, or other flags.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running" (LIVE on an
   * inactive domain), or (qemu, running) "cgroup memory controller is not mounted".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async memoryParameters(flags = 0): Promise<TypedParameter[]> {
    return this.tuningGet('domainGetMemoryParameters', 'virDomainGetMemoryParameters', flags);
  }
  /**
   * Sets memory tuning parameters (virDomainSetMemoryParameters): hard_limit, soft_limit,
   * swap_hard_limit, each an unsigned long long in KiB. The definition keeps them as `<memtune>`.
   *
   * Prerequisites: a writable connection; as {@link Domain.memoryParameters}.
   * Effects on success: the named definitions change. Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a parameter of another name or type, a
   * hard_limit above swap_hard_limit, or flags.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID as {@link Domain.memoryParameters}.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async setMemoryParameters(params: TypedParameter[], flags = 0): Promise<void> {
    await this.tuningSet('domainSetMemoryParameters', 'virDomainSetMemoryParameters', params, flags);
  }
  /**
   * The block I/O tuning parameters (virDomainGetBlkioParameters): weight (unsigned int) and
   * the per-device lists device_weight, device_read_iops_sec, device_write_iops_sec,
   * device_read_bytes_sec, device_write_bytes_sec ("path,value,…" strings).
   *
   * Prerequisites, effects and errors: as {@link Domain.memoryParameters} ("blkio cgroup
   * isn't mounted" on a running qemu guest without cgroups).
   */
  async blkioParameters(flags = 0): Promise<TypedParameter[]> {
    return this.tuningGet('domainGetBlkioParameters', 'virDomainGetBlkioParameters', flags);
  }
  /**
   * Sets block I/O tuning parameters (virDomainSetBlkioParameters); kept as `<blkiotune>`.
   *
   * Prerequisites, effects and errors: as {@link Domain.setMemoryParameters} (qemu: weight 100
   * to 1000).
   */
  async setBlkioParameters(params: TypedParameter[], flags = 0): Promise<void> {
    await this.tuningSet('domainSetBlkioParameters', 'virDomainSetBlkioParameters', params, flags);
  }
  /**
   * The NUMA memory parameters (virDomainGetNumaParameters): numa_mode (int, a
   * {@link DomainNumatuneMemMode}) and numa_nodeset (string, '' when unset).
   *
   * Prerequisites, effects and errors: as {@link Domain.memoryParameters}.
   */
  async numaParameters(flags = 0): Promise<TypedParameter[]> {
    return this.tuningGet('domainGetNumaParameters', 'virDomainGetNumaParameters', flags);
  }
  /**
   * Sets NUMA memory parameters (virDomainSetNumaParameters); kept as `<numatune>`.
   *
   * Prerequisites, effects and errors: as {@link Domain.setMemoryParameters}, plus
   * VIR_ERR_INVALID_ARG "unsupported numatune mode: 'N'" and VIR_ERR_OPERATION_INVALID
   * "can't change numatune mode for running domain".
   */
  async setNumaParameters(params: TypedParameter[], flags = 0): Promise<void> {
    await this.tuningSet('domainSetNumaParameters', 'virDomainSetNumaParameters', params, flags);
  }
  /**
   * The bandwidth parameters of one interface (virDomainGetInterfaceParameters):
   * inbound.average, inbound.peak, inbound.burst, inbound.floor, outbound.average,
   * outbound.peak, outbound.burst (unsigned int; KiB/s, KiB for bursts; 0: unset).
   *
   * Prerequisites: `device` (target dev or MAC) names an interface; as
   * {@link Domain.memoryParameters}. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG "'X' is not a known interface", flags.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID as {@link Domain.memoryParameters}.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async interfaceParameters(device: string, flags = 0): Promise<TypedParameter[]> {
    const drv = this.drv;
    nonNull(device, 'device', 'virDomainGetInterfaceParameters');
    exclusiveFlags(flags, DomainVcpuFlags.LIVE, 'VIR_DOMAIN_AFFECT_LIVE', DomainVcpuFlags.CONFIG, 'VIR_DOMAIN_AFFECT_CONFIG', ErrorDomain.DOMAIN);
    const get = this.optional(drv, 'domainGetInterfaceParameters', 'virDomainGetInterfaceParameters');
    return get(this.ref, device, flags | TYPED_PARAM_STRING_OKAY);
  }
  /**
   * Sets bandwidth parameters of one interface (virDomainSetInterfaceParameters); kept as the
   * interface's `<bandwidth>`. An average (or inbound floor) of 0 clears that direction.
   *
   * Prerequisites, effects and errors: as {@link Domain.setMemoryParameters}, plus
   * VIR_ERR_INVALID_ARG "'X' is not a known interface".
   */
  async setInterfaceParameters(device: string, params: TypedParameter[], flags = 0): Promise<void> {
    const drv = this.writable('virDomainSetInterfaceParameters');
    nonNull(device, 'device', 'virDomainSetInterfaceParameters');
    checkParams(params, 'virDomainSetInterfaceParameters');
    await this.optional(drv, 'domainSetInterfaceParameters', 'virDomainSetInterfaceParameters')(this.ref, device, params, flags);
  }
  /**
   * CPU time of the running domain (virDomainGetCPUStats), as python-libvirt's
   * `getCPUStats(total)`: with `total`, one record {cpu_time, user_time, system_time} (ns);
   * otherwise one record per host CPU ({cpu_time, vcpu_time} on the test driver; qemu reports
   * the guest's vCPU threads' time per host CPU they last ran on).
   *
   * Prerequisites: the domain is active. Effects: none.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for flags other than VIR_TYPED_PARAM_STRING_OKAY.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async getCPUStats(total: boolean, flags = 0): Promise<Record<string, number>[]> {
    return (await this.cpuStats(total ? -1 : 0, total ? 1 : 0, flags)).stats.map((list) => Object.fromEntries(list.map((p) => [p.field, Number(p.value)])));
  }
  /**
   * virDomainGetCPUStats with libvirt's arguments: `startCpu` -1 (with `ncpus` 1) for the
   * totals, else host CPUs `startCpu`.. (`ncpus` 0: all of them from there). Returns how many
   * host CPUs there are and the typed parameters of each CPU asked for.
   *
   * Prerequisites, effects and errors: as {@link Domain.getCPUStats}, plus VIR_ERR_INVALID_ARG
   * "ncpus must be 1 when start_cpu is -1" and for another negative `startCpu`.
   */
  async cpuStats(startCpu: number, ncpus: number, flags = 0): Promise<CpuStats> {
    const drv = this.drv;
    if (startCpu === -1) {
      if (ncpus !== 1) throw VirError.invalidArg(ErrorDomain.DOMAIN, 'ncpus must be 1 when start_cpu is -1');
    } else if (!Number.isInteger(startCpu) || startCpu < 0) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, 'start_cpu in virDomainGetCPUStats must be non-negative');
    }
    const get = this.optional(drv, 'domainGetCPUStats', 'virDomainGetCPUStats');
    const all = await get(this.ref, startCpu, ncpus === 0 ? Number.MAX_SAFE_INTEGER : ncpus, flags | TYPED_PARAM_STRING_OKAY);
    return all;
  }
  /**
   * The domain's current job (virDomainGetJobInfo), as python-libvirt's `jobInfo()` fields:
   * type ({@link DomainJobType}: NONE when idle, UNBOUNDED for a managed save or memory snapshot
   * in progress), time elapsed (ms) and data/memory/file totals, processed and remaining (bytes).
   *
   * Prerequisites: the domain exists. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it (libvirt's test driver).
   */
  async jobInfo(): Promise<JobInfo> {
    return this.optional(this.drv, 'domainGetJobInfo', 'virDomainGetJobInfo')(this.ref);
  }
  /**
   * The current job's statistics as typed parameters (virDomainGetJobStats): time_elapsed,
   * data_total, data_processed, data_remaining, memory_* … With
   * {@link DomainGetJobStatsFlags} COMPLETED, the last completed job's (KEEP_COMPLETED keeps it
   * for the next call).
   *
   * Prerequisites: the domain exists. Effects: without KEEP_COMPLETED, COMPLETED forgets the
   * completed job's statistics.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for KEEP_COMPLETED without COMPLETED, or flags.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async jobStats(flags = 0): Promise<JobStats> {
    const drv = this.drv;
    requireFlag(flags, 2, 'VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED', 1, 'VIR_DOMAIN_JOB_STATS_COMPLETED', ErrorDomain.DOMAIN);
    return this.optional(drv, 'domainGetJobStats', 'virDomainGetJobStats')(this.ref, flags);
  }
  /**
   * Aborts the domain's current job (virDomainAbortJob): on qemu a managed save in progress
   * (migrate_cancel); the save call then fails with VIR_ERR_OPERATION_ABORTED and the guest runs on.
   *
   * Prerequisites: a writable connection; the domain is active and has a job that can be aborted.
   * Effects on success: the job stops, and its call fails; the guest is as before the job.
   * Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "no job is active on the domain",
   * "domain is not running".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async abortJob(): Promise<void> {
    const drv = this.writable('virDomainAbortJob');
    await this.optional(drv, 'domainAbortJob', 'virDomainAbortJob')(this.ref);
  }
  /**
   * The migration bandwidth limit in MiB/s (virDomainMigrateGetMaxSpeed); flag
   * VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY (1): the post-copy phase's.
   *
   * Prerequisites: the domain exists. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for flags the driver does not support.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it (libvirt's test driver).
   */
  async migrateGetMaxSpeed(flags = 0): Promise<number> {
    return this.optional(this.drv, 'domainMigrateGetMaxSpeed', 'virDomainMigrateGetMaxSpeed')(this.ref, flags);
  }
  /**
   * Sets the migration bandwidth limit in MiB/s (virDomainMigrateSetMaxSpeed).
   *
   * Prerequisites: a writable connection. Effects on success: later migrations (and, on qemu,
   * the running guest's migration parameters) use it. Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OVERFLOW "bandwidth must be less than N" for a limit beyond
   * what the hypervisor takes (qemu).
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for flags the driver does not support.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async migrateSetMaxSpeed(bandwidth: number, flags = 0): Promise<void> {
    const drv = this.writable('virDomainMigrateSetMaxSpeed');
    if (!Number.isSafeInteger(bandwidth) || bandwidth < 0) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, 'bandwidth in virDomainMigrateSetMaxSpeed must be a non-negative integer');
    }
    await this.optional(drv, 'domainMigrateSetMaxSpeed', 'virDomainMigrateSetMaxSpeed')(this.ref, bandwidth, flags);
  }

  /**
   * Live-migrates the domain to the host `dconn` is connected to (virDomainMigrate3), this
   * process driving libvirt's version-3 steps: Begin here, Prepare on `dconn`, Perform here (the
   * guest's state goes to the URI Prepare gave), Finish on `dconn`, Confirm here. `params` are
   * VIR_MIGRATE_PARAM_* (`migrate_uri`, `destination_name`, `destination_xml`, `bandwidth`, …;
   * see ./migration.ts), `flags` {@link DomainMigrateFlags} (LIVE, PERSIST_DEST, UNDEFINE_SOURCE,
   * PAUSED, OFFLINE, …). python-libvirt's `dom.migrate3(dconn, params, flags)`.
   *
   * Prerequisites: writable connections on both sides, whose drivers speak version 3 with
   * parameters (qemu, locally or through tsvirtd/libvirtd); the domain is active (or OFFLINE
   * with a persistent domain); no domain of the name is active on the destination.
   * Effects on success: the domain runs on the destination (persistent there with PERSIST_DEST)
   * and is gone from the source (its definition too with UNDEFINE_SOURCE); both sides emit
   * lifecycle events (source STOPPED/MIGRATED, destination STARTED/MIGRATED, RESUMED/MIGRATED).
   * Effects on failure: the guest goes on running on the source; the destination keeps nothing.
   * The error is the first failed step's, as libvirt reports it.
   * @returns the domain on `dconn`.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED when either connection is read-only.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for PEER2PEER ("use virDomainMigrateToURI3 for
   * peer-to-peer migration"), TUNNELLED, NON_SHARED_DISK with NON_SHARED_INC, or an unknown
   * parameter name.
   * @throws {@link VirError} VIR_ERR_ARGUMENT_UNSUPPORTED for OFFLINE or CHANGE_PROTECTION a side
   * lacks, or extended parameters to drivers without parameter support.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when a side's driver does not migrate (test, esx, vbox).
   * @throws {@link VirError} the failing step's error: VIR_ERR_OPERATION_INVALID (domain not
   * running, name in use on the destination), VIR_ERR_OPERATION_FAILED, VIR_ERR_OPERATION_ABORTED
   * (the job was aborted), VIR_ERR_SYSTEM_ERROR (a daemon went away).
   */
  async migrate3(dconn: Connection, params: MigrateParams | null = null, flags = 0): Promise<Domain> {
    return migrate3(this, dconn, params, flags);
  }
  /**
   * Migrates the domain without a destination connection of the caller's
   * (virDomainMigrateToURI3). With {@link DomainMigrateFlags} PEER2PEER, `dconnuri` is the
   * destination daemon's URI and the source side runs the migration: through a daemon
   * (tsvirtd or libvirtd) one call does it all there; on a local driver (qemu:///session in this
   * process) this call opens `dconnuri` with `connect()` and runs the five steps itself.
   * Without PEER2PEER it is libvirt's direct migration, which no tsvirt driver offers.
   * python-libvirt's `dom.migrateToURI3(dconnuri, params, flags)`.
   *
   * Prerequisites: a writable connection whose driver migrates peer to peer; `dconnuri` names
   * another host, or a unix socket (`qemu+unix:///session?socket=…`), whose daemon speaks
   * version 3 with parameters; the domain is active (or OFFLINE with a persistent domain).
   * Effects on success and on failure: as {@link Domain.migrate3}.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_ARGUMENT_UNSUPPORTED "p2p migration is not supported by the
   * source host" / "direct migration is not supported by the source host", or OFFLINE unsupported.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG "Attempt to migrate guest to the same host", a
   * missing `dconnuri` with PEER2PEER, NON_SHARED_DISK with NON_SHARED_INC, an unknown parameter.
   * @throws {@link VirError} VIR_ERR_OPERATION_FAILED when `dconnuri` cannot be opened or its
   * daemon does not migrate peer to peer; the failing step's error (see {@link Domain.migrate3}).
   */
  async migrateToURI3(dconnuri: string | null, params: MigrateParams | null = null, flags = 0): Promise<void> {
    await migrateToURI3(this, dconnuri, params, flags);
  }

  private async tuningGet(
    key: 'domainGetMemoryParameters' | 'domainGetBlkioParameters' | 'domainGetNumaParameters',
    api: string,
    flags: number,
  ): Promise<TypedParameter[]> {
    const drv = this.drv;
    exclusiveFlags(flags, DomainVcpuFlags.LIVE, 'VIR_DOMAIN_AFFECT_LIVE', DomainVcpuFlags.CONFIG, 'VIR_DOMAIN_AFFECT_CONFIG', ErrorDomain.DOMAIN);
    return this.optional(drv, key, api)(this.ref, flags | TYPED_PARAM_STRING_OKAY);
  }
  private async tuningSet(
    key: 'domainSetMemoryParameters' | 'domainSetBlkioParameters' | 'domainSetNumaParameters',
    api: string,
    params: TypedParameter[],
    flags: number,
  ): Promise<void> {
    const drv = this.writable(api);
    checkParams(params, api);
    await this.optional(drv, key, api)(this.ref, params, flags);
  }

  // Metadata, rename, pinning.

  /**
   * Sets or removes one piece of the domain's metadata (virDomainSetMetadata). `type` is a
   * {@link DomainMetadataType}: TITLE (one line) or DESCRIPTION, `metadata` the text (null or ''
   * removes it), `key` and `uri` null; or ELEMENT: `metadata` one XML element (null removes the
   * element of namespace `uri`), stored in namespace `uri` with prefix `key`, replacing the
   * element of that namespace. Flags: {@link DomainModificationImpact} LIVE, CONFIG (both:
   * both definitions), neither: the current one. The domain XML carries it (`<title>`,
   * `<description>`, `<metadata>`).
   *
   * Prerequisites: a writable connection; LIVE needs a running domain, CONFIG a persistent one.
   *
   * Effects on success: the definitions named change (and are stored). Effects on failure:
   * nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a title with a newline, a `uri` or `key`
   * given where it must be null or missing where it is needed, an unknown `type`, or flags the
   * driver does not support.
   * @throws {@link VirError} VIR_ERR_XML_DETAIL when `metadata` is not one well-formed element;
   * VIR_ERR_INTERNAL_ERROR (VIR_FROM_XML) when `key` is not an XML name.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running", "transient
   * domains do not have any persistent config".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async setMetadata(type: DomainMetadataType | number, metadata: string | null, key: string | null = null, uri: string | null = null, flags = 0): Promise<void> {
    const drv = this.writable('virDomainSetMetadata');
    const api = 'virDomainSetMetadata';
    if (type === DomainMetadataType.TITLE || type === DomainMetadataType.DESCRIPTION) {
      if (type === DomainMetadataType.TITLE && metadata !== null && metadata.includes('\n')) {
        throw VirError.invalidArg(ErrorDomain.DOMAIN, "metadata title can't contain newlines");
      }
      if (uri !== null) throw VirError.invalidArg(ErrorDomain.DOMAIN, `uri in ${api} must be NULL`);
      if (key !== null) throw VirError.invalidArg(ErrorDomain.DOMAIN, `key in ${api} must be NULL`);
    } else if (type === DomainMetadataType.ELEMENT) {
      if (uri === null) throw VirError.invalidArg(ErrorDomain.DOMAIN, `uri in ${api} must not be NULL`);
      if (metadata !== null && key === null) throw VirError.invalidArg(ErrorDomain.DOMAIN, `key in ${api} must not be NULL`);
    }
    await this.optional(drv, 'domainSetMetadata', api)(this.ref, type, metadata, key, uri, flags);
  }
  /**
   * One piece of the domain's metadata (virDomainGetMetadata): the title, the description, or
   * (ELEMENT) the `<metadata>` element of namespace `uri`, without its namespace prefix. Flags:
   * LIVE or CONFIG (not both); neither: the current definition.
   *
   * Prerequisites: LIVE needs a running domain, CONFIG a persistent one. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN_METADATA "Requested metadata element is not
   * present".
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for LIVE with CONFIG, a `uri` with TITLE or
   * DESCRIPTION or none with ELEMENT, an unknown `type`, or flags the driver does not support.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async metadata(type: DomainMetadataType | number, uri: string | null = null, flags = 0): Promise<string> {
    const drv = this.drv;
    const api = 'virDomainGetMetadata';
    exclusiveFlags(flags, DomainVcpuFlags.LIVE, 'VIR_DOMAIN_AFFECT_LIVE', DomainVcpuFlags.CONFIG, 'VIR_DOMAIN_AFFECT_CONFIG', ErrorDomain.DOMAIN);
    if (type === DomainMetadataType.TITLE || type === DomainMetadataType.DESCRIPTION) {
      if (uri !== null) throw VirError.invalidArg(ErrorDomain.DOMAIN, `uri in ${api} must be NULL`);
    } else if (type === DomainMetadataType.ELEMENT && uri === null) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, `uri in ${api} must not be NULL`);
    }
    return this.optional(drv, 'domainGetMetadata', api)(this.ref, type, uri, flags);
  }
  /**
   * Renames an inactive persistent domain (virDomainRename); this handle takes the new name.
   * Its UUID, snapshots, checkpoints and managed save image stay with it. `flags` is 0.
   *
   * Prerequisites: a writable connection; the domain is persistent and shut off; no other
   * domain has `newName`; on qemu the domain has no snapshots, checkpoints or managed save
   * image (the test driver, as libvirt's, allows them).
   *
   * Effects on success: the domain is found by its new name only; events UNDEFINED/RENAMED
   * (old name) and DEFINED/RENAMED (new name). Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for an empty `newName` or any flag.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "cannot rename active domain", "cannot
   * rename a transient domain", "domain with name 'X' already exists", "Can't rename domain to
   * itself", and on qemu "cannot rename domain with snapshots" / "with checkpoints", "domain with
   * a managed saved state can't be renamed".
   * @throws {@link VirError} VIR_ERR_XML_ERROR for a name with '/' (or too long).
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async rename(newName: string, flags = 0): Promise<void> {
    const drv = this.writable('virDomainRename');
    if (newName === '') throw VirError.invalidArg(ErrorDomain.DOMAIN, 'string new_name in virDomainRename must not be empty');
    this.ref = await this.optional(drv, 'domainRename', 'virDomainRename')(this.ref, newName, flags);
  }
  /**
   * Pins a running domain's vCPU `vcpu` to the host CPUs `cpumap` names (one entry per host CPU)
   * (virDomainPinVcpu): same as {@link Domain.pinVcpuFlags} with LIVE.
   *
   * Prerequisites, effects and errors: as {@link Domain.pinVcpuFlags}.
   */
  async pinVcpu(vcpu: number, cpumap: boolean[]): Promise<void> {
    const drv = this.writable('virDomainPinVcpu');
    checkCpumap(cpumap, 'virDomainPinVcpu');
    await this.optional(drv, 'domainPinVcpuFlags', 'virDomainPinVcpu')(this.ref, vcpu, cpumap, null);
  }
  /**
   * Pins vCPU `vcpu` to the host CPUs `cpumap` names, one entry per host CPU
   * (virDomainPinVcpuFlags). Flags: LIVE (qemu: the vCPU thread's affinity changes at once),
   * CONFIG (qemu: the persistent definition); the test driver, as libvirt's, pins live vCPUs
   * only. The pin is kept as `<cputune><vcpupin>` in the domain XML.
   *
   * Prerequisites: a writable connection; LIVE needs a running domain (the test driver: "cannot
   * pin vcpus on an inactive domain"); `vcpu` exists; `cpumap` names at least one CPU (qemu).
   *
   * Effects on success: the pin is recorded (and applied to the running guest). Effects on
   * failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for an empty `cpumap`, a vCPU out of range,
   * "Empty cpu list for pinning", or flags the driver does not support.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_SYSTEM_ERROR when the host refuses the affinity (qemu).
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async pinVcpuFlags(vcpu: number, cpumap: boolean[], flags = 0): Promise<void> {
    const drv = this.writable('virDomainPinVcpuFlags');
    checkCpumap(cpumap, 'virDomainPinVcpuFlags');
    await this.optional(drv, 'domainPinVcpuFlags', 'virDomainPinVcpuFlags')(this.ref, vcpu, cpumap, flags);
  }
  /**
   * Pins the domain's emulator threads (QEMU's own, not the vCPUs') to the host CPUs `cpumap`
   * names (virDomainPinEmulator). Flags: LIVE, CONFIG, neither: the current definition. Kept as
   * `<cputune><emulatorpin>`.
   *
   * Prerequisites: a writable connection; `cpumap` names at least one CPU; LIVE needs a running
   * domain, CONFIG a persistent one.
   *
   * Effects on success: the pin is recorded (qemu: applied to the running process's threads).
   * Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG "Empty cpu list for pinning", or flags the
   * driver does not support.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_SYSTEM_ERROR when the host refuses the affinity (qemu).
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async pinEmulator(cpumap: boolean[], flags = 0): Promise<void> {
    const drv = this.writable('virDomainPinEmulator');
    checkCpumap(cpumap, 'virDomainPinEmulator');
    await this.optional(drv, 'domainPinEmulator', 'virDomainPinEmulator')(this.ref, cpumap, flags);
  }
  /**
   * The host CPUs the emulator threads may run on (virDomainGetEmulatorPinInfo): the pin, or
   * every host CPU; one entry per host CPU (`maxCpus`, default: the host's). Flags: LIVE or
   * CONFIG (not both).
   *
   * Prerequisites: LIVE needs a running domain, CONFIG a persistent one. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for LIVE with CONFIG or flags the driver does
   * not support.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async emulatorPinInfo(flags = 0, maxCpus?: number): Promise<boolean[]> {
    const drv = this.drv;
    exclusiveFlags(flags, DomainVcpuFlags.LIVE, 'VIR_DOMAIN_AFFECT_LIVE', DomainVcpuFlags.CONFIG, 'VIR_DOMAIN_AFFECT_CONFIG', ErrorDomain.DOMAIN);
    const info = this.optional(drv, 'domainGetEmulatorPinInfo', 'virDomainGetEmulatorPinInfo');
    maxCpus ??= (await this.connection.getCPUMap())[0];
    return info(this.ref, maxCpus, flags);
  }

  /**
   * The guest's mounted file systems (virDomainGetFSInfo): mount point, device, type and the
   * domain's disks under each. The test driver answers libvirt's fixed two (/ and /boot on the
   * first disk); qemu needs a guest agent, which tsvirt's QEMU guests do not have.
   *
   * Prerequisites: a writable connection (libvirt asks the guest); the domain runs; `flags` is
   * 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_ARGUMENT_UNSUPPORTED "QEMU guest agent is not configured"
   * (qemu); VIR_ERR_AGENT_UNRESPONSIVE when one is configured but not connected.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async fsInfo(flags = 0): Promise<DomainFSInfo[]> {
    const drv = this.writable('virDomainGetFSInfo');
    return this.optional(drv, 'domainGetFSInfo', 'virDomainGetFSInfo')(this.ref, flags);
  }
  /**
   * The guest's interfaces and their IP addresses (virDomainInterfaceAddresses), from `source`
   * {@link DomainInterfaceAddressesSource}: LEASE (the DHCP leases of libvirt networks: on qemu
   * only interfaces of type network have any), AGENT (the guest agent; qemu: none), ARP (qemu:
   * the host's ARP table, /proc/net/arp, matched by MAC). The test driver answers libvirt's
   * fixed addresses whatever the source.
   *
   * Prerequisites: the domain runs; a writable connection for AGENT; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED for AGENT on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain is not running".
   * @throws {@link VirError} VIR_ERR_ARGUMENT_UNSUPPORTED "Unknown IP address data source N",
   * or (qemu, AGENT) "QEMU guest agent is not configured".
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async interfaceAddresses(source: DomainInterfaceAddressesSource | number, flags = 0): Promise<DomainInterface[]> {
    const drv = source === DomainInterfaceAddressesSource.AGENT ? this.writable('virDomainInterfaceAddresses') : this.drv;
    return this.optional(drv, 'domainInterfaceAddresses', 'virDomainInterfaceAddresses')(this.ref, source, flags);
  }

  // Checkpoints (src/api/checkpoint.ts).

  /**
   * Creates a checkpoint from domaincheckpoint XML (virDomainCheckpointCreateXML): from now on
   * the hypervisor tracks which blocks of each disk change (qemu: a persistent dirty bitmap per
   * qcow2 disk, added in one QMP transaction). A name absent from the XML is the current time
   * in seconds, as libvirt names it; a parent and creationTime in the XML are ignored (the new
   * checkpoint is the child of the current one). Disks not named get a bitmap named after the
   * checkpoint, except read-only ones. Flags: {@link DomainCheckpointCreateFlags} REDEFINE
   * (record a checkpoint from {@link DomainCheckpoint.getXMLDesc} output: metadata only),
   * QUIESCE (test: accepted; qemu: needs a guest agent, refused), REDEFINE_VALIDATE (qemu; needs
   * REDEFINE).
   *
   * Prerequisites: a writable connection; a driver with checkpoints (test, qemu); without
   * REDEFINE a running domain (also with REDEFINE on test, as libvirt's test driver); on qemu
   * every disk with a bitmap is qcow2.
   *
   * Effects on success: the checkpoint is recorded and becomes current (REDEFINE records it as
   * given and leaves the current one). No lifecycle event.
   *
   * Effects on failure: nothing changes (on qemu the bitmaps of one checkpoint are added in one
   * QMP transaction, all or none). A crash between adding the bitmaps and recording the
   * checkpoint leaves bitmaps without metadata in the images.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for REDEFINE_VALIDATE without REDEFINE, flags the
   * driver does not support, or a REDEFINE whose parent is missing or names another domain's UUID.
   * @throws {@link VirError} VIR_ERR_OPERATION_UNSUPPORTED "cannot create checkpoint for inactive
   * domain".
   * @throws {@link VirError} VIR_ERR_OPERATION_FAILED "domain moment NAME already exists".
   * @throws {@link VirError} VIR_ERR_CONFIG_UNSUPPORTED "no disk named 'X'", or (qemu) "checkpoint
   * for disk X unsupported for storage type raw".
   * @throws {@link VirError} VIR_ERR_XML_ERROR or VIR_ERR_XML_DETAIL for XML that does not parse;
   * VIR_ERR_INTERNAL_ERROR "missing creationTime from existing checkpoint" for a REDEFINE of
   * partial XML.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a driver without checkpoints.
   */
  async checkpointCreateXML(xml: string, flags = 0): Promise<DomainCheckpoint> {
    const call = checkpointCall(this, 'checkpointCreateXML', 'virDomainCheckpointCreateXML', true);
    return new DomainCheckpoint(this, await call(this.ref, xml, DomainCheckpoint.checkCreateFlags(flags)));
  }
  /**
   * Handles on the domain's checkpoints passing the filter flags (virDomainListAllCheckpoints).
   * Flags: {@link DomainCheckpointListFlags} ROOTS (only roots), TOPOLOGICAL (parents before
   * children), LEAVES / NO_LEAVES; 0 lists all in creation order.
   *
   * Prerequisites: the domain exists. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a bit outside those flags.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a driver without checkpoints.
   */
  async listAllCheckpoints(flags: DomainCheckpointListFlags | number = 0): Promise<DomainCheckpoint[]> {
    const call = checkpointCall(this, 'listAllCheckpoints', 'virDomainListAllCheckpoints', false);
    return (await call(this.ref, flags)).map((n) => new DomainCheckpoint(this, n));
  }
  /**
   * A handle on the domain's checkpoint with this name (virDomainCheckpointLookupByName).
   *
   * Prerequisites: the domain exists; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN_CHECKPOINT when the domain has no checkpoint of
   * this name.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a driver without checkpoints.
   */
  async checkpointLookupByName(name: string, flags = 0): Promise<DomainCheckpoint> {
    const call = checkpointCall(this, 'checkpointLookupByName', 'virDomainCheckpointLookupByName', false);
    return new DomainCheckpoint(this, await call(this.ref, name, flags));
  }
}

/** A path made absolute against this process's working directory, as libvirt's client does. */
export function absolutePath(path: string): string {
  return resolvePath(path);
}

/** libvirt's virCheckPositiveArg on a cpumap's length. */
function checkCpumap(cpumap: readonly boolean[], api: string): void {
  if (cpumap.length === 0) throw VirError.invalidArg(ErrorDomain.DOMAIN, `maplen in ${api} must be greater than zero`);
}

function checkStream(stream: unknown, api: string): asserts stream is Stream {
  if (!(stream instanceof Stream)) {
    const message = `invalid stream pointer in ${api}`;
    throw new VirError({ code: ErrorNumber.INVALID_STREAM, domain: ErrorDomain.STREAMS, message, str1: 'invalid stream pointer in %s', str2: api });
  }
}

/**
 * A screenshot as a stream's channel: the image to read, then the end of data. It takes no
 * input: data sent into it fails the stream with what libvirtd answers then (its image is a
 * read-only file stream), VIR_ERR_RPC "stream had unexpected termination".
 */
function imageChannel(data: Buffer): Duplex {
  let offset = 0;
  return new Duplex({
    read(size) {
      if (offset >= data.length) {
        this.push(null);
        return;
      }
      const n = Math.max(size, 65536);
      this.push(data.subarray(offset, offset + n));
      offset += n;
    },
    write(_chunk, _encoding, callback) {
      callback(VirError.report(ErrorDomain.STREAMS, ErrorNumber.RPC, 'stream had unexpected termination'));
    },
  });
}

/** A graphics index is an unsigned int on the wire. */
function checkGraphicsIndex(idx: number, api: string): void {
  if (!Number.isInteger(idx) || idx < 0 || idx > 0xffffffff) {
    throw VirError.invalidArg(ErrorDomain.DOMAIN, `invalid argument: idx in ${api} must be an unsigned integer`);
  }
}

/** The C library's words for a failed system call's errno (what libvirt appends). */
function strerror(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EBADF' ? 'Bad file descriptor' : ((err as Error).message ?? String(err));
}
