/**
 * Domain: a handle on one domain, with python-libvirt's method names, async. Each method has the
 * shape of libvirt's public entry points: check the handle and arguments (and read-only access),
 * check flag combinations the API itself forbids, dispatch to the driver.
 */
import type { Connection } from './connection.js';
import type { DomainInfo, DomainRef, JobOptions } from '../core/driver.js';
import {
  DomainSaveRestoreFlags,
  DomainXMLFlags,
  ErrorDomain,
  ErrorNumber,
  type DomainSnapshotListFlags,
  type DomainState,
  type DomainUndefineFlags,
} from '../core/enums.generated.js';
import { VirError } from '../core/errors.js';
import { exclusiveFlags } from '../rules/flags.js';
import { DomainSnapshot } from './snapshot.js';
import { DomainCheckpoint, checkpointCall } from './checkpoint.js';
import type { DomainCheckpointListFlags } from '../core/enums.generated.js';

/**
 * [state, reason] as python-libvirt's `dom.state()` returns it: a {@link DomainState} and the
 * reason code of that state (e.g. {@link DomainShutoffReason}).
 */
export type DomainStateReason = [state: DomainState, reason: number];

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
  /** @internal */
  readonly ref: DomainRef;

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
