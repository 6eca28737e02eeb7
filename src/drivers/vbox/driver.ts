/**
 * The VirtualBox driver (`vbox:///session`): VirtualBox owns its machines and their snapshots,
 * so this driver implements the driver interface directly (docs/design.md) by running VBoxManage,
 * the per-user front end of VirtualBox. Nothing is stored by tsvirt: every call asks VirtualBox,
 * so a change made behind tsvirt's back (the GUI, another VBoxManage) is what the next call
 * sees. Behaviour and error wording follow libvirt 9.0's vbox driver (src/vbox/vbox_common.c);
 * the seed's rules for hypervisor-owned state (R9) come from src/rules/hypervisor-owned.ts.
 */
import { PolledLifecycleEvents } from '../polled-events.js';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { DomainInfo, DomainRef, DriverEventListener, DriverOpener, HypervisorDriver } from '../../core/driver.js';
import {
  ConnectListAllDomainsFlags as L,
  DomainEventResumedDetailType as Resumed,
  DomainEventStartedDetailType as Started,
  DomainEventStoppedDetailType as Stopped,
  DomainEventSuspendedDetailType as Suspended,
  DomainEventType,
  DomainEventUndefinedDetailType as Undefined,
  DomainSnapshotCreateFlags as SnapCreate,
  DomainSnapshotDeleteFlags as SnapDelete,
  DomainSnapshotListFlags as SnapList,
  DomainSnapshotRevertFlags as Revert,
  DomainSnapshotXMLFlags,
  DomainState,
  DomainXMLFlags,
  ErrorDomain,
  ErrorNumber,
} from '../../core/enums.generated.js';
import { VirError, configUnsupported, noDomain, noDomainSnapshot, operationFailed, operationInvalid } from '../../core/errors.js';
import { parseSnapshotXML } from '../../conf/snapshot.js';
import { checkFlags } from '../../rules/flags.js';
import { checkHypervisorOwnedUndefine, refuseOnHypervisorOwned } from '../../rules/hypervisor-owned.js';
import { LIST_DOMAINS_SUPPORTED, filterNeedsSnapshots, matchesListFilter } from '../../rules/listing.js';
import { SNAPSHOT_LIST_SUPPORTED, SnapshotTree, type SnapshotNode } from '../../rules/snapshots.js';
import {
  domainStateOf,
  isOnline,
  parseMachineList,
  parseSettingsSnapshots,
  parseShowVMInfo,
  parseVersion,
  type MachineInfo,
  type MachineListEntry,
  type MachineSnapshot,
  type SnapshotSettings,
} from './machine.js';
import { VBoxManage, cannotInitialize, errorText, type VBoxManageOptions } from './vboxmanage.js';
import { machineDomainXML, snapshotXML } from './xml.js';

const D = ErrorDomain.VBOX;

/** The flags libvirt's vbox driver accepts on virDomainGetXMLDesc (VIR_DOMAIN_XML_COMMON_FLAGS). */
const XML_FLAGS = DomainXMLFlags.SECURE | DomainXMLFlags.INACTIVE | DomainXMLFlags.MIGRATABLE;
/**
 * Snapshot creation through `VBoxManage snapshot take`: LIVE (`--live`, the VM keeps running
 * while its memory is saved), HALT (power off after), VALIDATE, and NO_METADATA (VirtualBox keeps
 * no metadata of tsvirt's, so it changes nothing, as in libvirt). REDEFINE/CURRENT would need
 * VirtualBox's settings file rewritten, which VBoxManage cannot do: refused as unsupported (R7).
 */
const SNAPSHOT_CREATE_FLAGS = SnapCreate.LIVE | SnapCreate.HALT | SnapCreate.VALIDATE | SnapCreate.NO_METADATA;
/** Revert, then start (RUNNING) or start paused (PAUSED). */
const REVERT_FLAGS = Revert.RUNNING | Revert.PAUSED;
/** Delete with or without the descendants; VirtualBox deletes one snapshot at a time. */
const DELETE_FLAGS = SnapDelete.CHILDREN | SnapDelete.CHILDREN_ONLY;

/** Options of {@link openVBoxDriver}. */
export interface VBoxDriverOptions extends VBoxManageOptions {
  /** How often, while someone listens for events, machines are polled for outside changes (ms). */
  pollMs?: number;
}

/** The VirtualBox driver (see the file comment). */
export class VBoxDriver implements HypervisorDriver {
  readonly uri = 'vbox:///session';
  readonly type = 'VBOX';
  private closed = false;
  /**
   * Lifecycle events: this connection's own at once; changes made outside it (another program,
   * the guest powering off) by comparing VirtualBox's machine lists — DEFINED, UNDEFINED, STARTED
   * and STOPPED. Pauses done elsewhere are not seen (a poll tells running from not only); the
   * state read next is always VirtualBox's own (R12).
   */
  private readonly events: PolledLifecycleEvents;

  constructor(
    private readonly vbm: VBoxManage,
    private readonly version: number,
    pollMs: number,
  ) {
    this.events = new PolledLifecycleEvents(async () => {
      const [all, running] = await Promise.all([this.machines(), this.runningUUIDs()]);
      return all.map((m, i) => {
        const active = running.has(m.uuid);
        return { ref: { name: m.name, uuid: m.uuid, id: active ? i + 1 : -1 }, state: active ? 'running' : 'shutoff' };
      });
    }, pollMs);
  }

  // Connection.

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.events.close();
    this.vbm.killAll();
  }
  async getHostname(): Promise<string> {
    return hostname();
  }
  async getVersion(): Promise<number> {
    return this.version;
  }
  async isAlive(): Promise<boolean> {
    return !this.closed;
  }

  // What VirtualBox says.

  private async machines(): Promise<MachineListEntry[]> {
    return parseMachineList(await this.vbm.check(['list', 'vms']));
  }
  private async runningUUIDs(): Promise<Set<string>> {
    return new Set(parseMachineList(await this.vbm.check(['list', 'runningvms'])).map((m) => m.uuid));
  }

  /** showvminfo of the handle's machine, or libvirt's stale-handle error. */
  private async info(dom: DomainRef): Promise<MachineInfo> {
    try {
      return parseShowVMInfo(await this.vbm.check(['showvminfo', dom.uuid, '--machinereadable']));
    } catch (err) {
      if (err instanceof VirError && err.code === ErrorNumber.NO_DOMAIN) {
        throw noDomain(D, `no domain with matching uuid '${dom.uuid}' (${dom.name})`);
      }
      throw err;
    }
  }

  /**
   * libvirt's vbox IDs: an online machine's ID is its position in VirtualBox's machine list plus
   * one; an offline machine has none (-1).
   */
  private async refOf(uuid: string, online: boolean, list?: MachineListEntry[]): Promise<DomainRef> {
    const all = list ?? (await this.machines());
    const index = all.findIndex((m) => m.uuid === uuid);
    const entry = all[index];
    if (entry === undefined) throw noDomain(D, `no domain with matching uuid '${uuid}'`);
    return { name: entry.name, uuid, id: online ? index + 1 : -1 };
  }

  private fn(name: string): string {
    return `vbox${name}`;
  }
  private check(flags: number, supported: number, name: string): void {
    checkFlags(flags, supported, this.fn(name), D);
  }

  // Lookups.

  async listAllDomains(flags: number): Promise<DomainRef[]> {
    this.check(flags, LIST_DOMAINS_SUPPORTED, 'ConnectListAllDomains');
    const [all, running] = await Promise.all([this.machines(), this.runningUUIDs()]);
    const refs = all.map((m, i): DomainRef => ({ name: m.name, uuid: m.uuid, id: running.has(m.uuid) ? i + 1 : -1 }));
    if (flags === 0) return refs;
    // Only the state, autostart and snapshot filters need each machine's details.
    const detailBits = L.RUNNING | L.PAUSED | L.SHUTOFF | L.OTHER | L.AUTOSTART | L.NO_AUTOSTART;
    const needsDetails = (flags & detailBits) !== 0 || filterNeedsSnapshots(flags);
    const out: DomainRef[] = [];
    for (const ref of refs) {
      let state: DomainState = ref.id > 0 ? DomainState.RUNNING : DomainState.SHUTOFF;
      let autostart = false;
      let hasSnapshot = false;
      if (needsDetails) {
        let m: MachineInfo;
        try {
          m = await this.info(ref);
        } catch (err) {
          // Removed while listing: it is not there any more.
          if (err instanceof VirError && err.code === ErrorNumber.NO_DOMAIN) continue;
          throw err;
        }
        state = domainStateOf(m.state);
        autostart = m.autostart;
        hasSnapshot = m.snapshots.length > 0;
      }
      const subject = { active: ref.id > 0, persistent: true, state, hasManagedSave: false, autostart, hasSnapshot };
      if (matchesListFilter(subject, flags)) out.push(ref);
    }
    return out;
  }
  async numOfDomains(): Promise<number> {
    return (await this.runningUUIDs()).size;
  }
  async numOfDefinedDomains(): Promise<number> {
    const [all, running] = await Promise.all([this.machines(), this.runningUUIDs()]);
    return all.filter((m) => !running.has(m.uuid)).length;
  }
  async lookupByName(name: string): Promise<DomainRef> {
    const [all, running] = await Promise.all([this.machines(), this.runningUUIDs()]);
    const index = all.findIndex((m) => m.name === name);
    const entry = all[index];
    if (entry === undefined) throw noDomain(D, `no domain with matching name '${name}'`);
    return { name, uuid: entry.uuid, id: running.has(entry.uuid) ? index + 1 : -1 };
  }
  async lookupByUUID(uuid: string): Promise<DomainRef> {
    const [all, running] = await Promise.all([this.machines(), this.runningUUIDs()]);
    const index = all.findIndex((m) => m.uuid === uuid.toLowerCase());
    const entry = all[index];
    if (entry === undefined) throw noDomain(D, `no domain with matching uuid '${uuid}'`);
    return { name: entry.name, uuid: entry.uuid, id: running.has(entry.uuid) ? index + 1 : -1 };
  }
  async lookupByID(id: number): Promise<DomainRef> {
    // libvirt: VirtualBox's list index plus one, for a machine that is online.
    const [all, running] = await Promise.all([this.machines(), this.runningUUIDs()]);
    const entry = Number.isInteger(id) && id > 0 ? all[id - 1] : undefined;
    if (entry === undefined || !running.has(entry.uuid)) throw noDomain(D, `no domain with matching id ${id}`);
    return { name: entry.name, uuid: entry.uuid, id };
  }

  /**
   * Defining a VirtualBox machine from libvirt XML needs createvm, modifyvm and storageattach;
   * tsvirt's driver does not do it (yet): VIR_ERR_NO_SUPPORT.
   */
  async defineXML(): Promise<DomainRef> {
    throw VirError.report(D, ErrorNumber.NO_SUPPORT, 'virDomainDefineXMLFlags');
  }
  /**
   * R9: VirtualBox domains are never transient. libvirt's vbox driver emulates createXML by
   * define + start, which leaves a persistent machine behind; tsvirt refuses it instead.
   */
  async createXML(): Promise<DomainRef> {
    refuseOnHypervisorOwned('virDomainCreateXML', D);
  }

  // Lifecycle.

  async domainCreate(dom: DomainRef, flags: number): Promise<DomainRef> {
    this.check(flags, 0, 'DomainCreateWithFlags');
    const m = await this.info(dom);
    if (isOnline(m.state)) {
      throw operationFailed(D, "machine is not in poweroff|saved|aborted state, so couldn't start it");
    }
    await this.vbm.check(['startvm', m.uuid, '--type', 'headless'], { slow: true });
    const ref = await this.refOf(m.uuid, true);
    this.emit(ref, DomainEventType.STARTED, m.state === 'saved' ? Started.RESTORED : Started.BOOTED, true);
    return ref;
  }

  async domainShutdown(dom: DomainRef, flags: number): Promise<void> {
    this.check(flags, 0, 'DomainShutdownFlags');
    const m = await this.info(dom);
    if (m.state === 'paused') throw operationFailed(D, "machine paused, so can't power it down");
    if (!isOnline(m.state)) throw operationFailed(D, 'machine already powered down');
    // R8: the ACPI power button only asks; the guest may ignore it.
    await this.vbm.check(['controlvm', m.uuid, 'acpipowerbutton']);
  }

  async domainDestroy(dom: DomainRef, flags: number): Promise<void> {
    this.check(flags, 0, 'DomainDestroyFlags');
    const m = await this.info(dom);
    if (!isOnline(m.state)) throw operationFailed(D, 'machine already powered down');
    // R8: poweroff returns when the VM process is gone.
    await this.vbm.check(['controlvm', m.uuid, 'poweroff'], { slow: true });
    this.emit({ name: m.name, uuid: m.uuid, id: -1 }, DomainEventType.STOPPED, Stopped.DESTROYED, false);
  }

  async domainReboot(dom: DomainRef, flags: number): Promise<void> {
    this.check(flags, 0, 'DomainReboot');
    const m = await this.info(dom);
    if (m.state !== 'running') throw operationFailed(D, "machine not running, so can't reboot it");
    await this.vbm.check(['controlvm', m.uuid, 'reset']);
  }

  async domainSuspend(dom: DomainRef): Promise<void> {
    const m = await this.info(dom);
    if (m.state !== 'running') throw operationFailed(D, 'machine not in running state to suspend it');
    await this.vbm.check(['controlvm', m.uuid, 'pause']);
    this.emit(dom, DomainEventType.SUSPENDED, Suspended.PAUSED, true);
  }

  async domainResume(dom: DomainRef): Promise<void> {
    const m = await this.info(dom);
    if (m.state !== 'paused') throw operationFailed(D, "machine not paused, so can't resume it");
    await this.vbm.check(['controlvm', m.uuid, 'resume']);
    this.emit(dom, DomainEventType.RESUMED, Resumed.UNPAUSED, true);
  }

  /**
   * R9 through src/rules/hypervisor-owned.ts: MANAGED_SAVE is an unsupported flag,
   * SNAPSHOTS_METADATA is accepted and changes nothing (the snapshots go with the machine's
   * registration, their files stay), a machine with a running VM process cannot be unregistered.
   * `unregistervm` without `--delete`: the machine's files stay on disk, as libvirt's undefine
   * leaves disk images alone.
   */
  async domainUndefine(dom: DomainRef, flags: number): Promise<void> {
    const fn = this.fn('DomainUndefineFlags');
    // The flags first, before VirtualBox is asked anything (R7, libvirt's virCheckFlags order).
    checkHypervisorOwnedUndefine({ poweredOn: false }, flags, fn, D);
    const m = await this.info(dom);
    checkHypervisorOwnedUndefine({ poweredOn: isOnline(m.state) }, flags, fn, D);
    await this.vbm.check(['unregistervm', m.uuid]);
    this.emit({ name: m.name, uuid: m.uuid, id: -1 }, DomainEventType.UNDEFINED, Undefined.REMOVED, null);
  }

  async domainIsActive(dom: DomainRef): Promise<boolean> {
    return isOnline((await this.info(dom)).state);
  }
  async domainIsPersistent(dom: DomainRef): Promise<boolean> {
    // All VirtualBox machines are persistent (R9); the call still checks the machine exists.
    await this.info(dom);
    return true;
  }
  async domainGetState(dom: DomainRef, flags: number): Promise<[state: DomainState, reason: number]> {
    this.check(flags, 0, 'DomainGetState');
    // libvirt's vbox driver has no reasons: 0.
    return [domainStateOf((await this.info(dom)).state), 0];
  }
  async domainGetInfo(dom: DomainRef): Promise<DomainInfo> {
    const m = await this.info(dom);
    const kib = m.memoryMiB * 1024;
    // libvirt reports VirtualBox's host-wide maximum guest RAM as maxMem; tsvirt reports the
    // machine's own memory (what `dominfo` users expect to read), and no CPU time.
    return { state: domainStateOf(m.state), maxMem: kib, memory: kib, nrVirtCpu: m.cpus, cpuTime: 0 };
  }
  async domainGetXMLDesc(dom: DomainRef, flags: number): Promise<string> {
    this.check(flags, XML_FLAGS, 'DomainGetXMLDesc');
    const m = await this.info(dom);
    const online = isOnline(m.state);
    const ref = online ? await this.refOf(m.uuid, true) : dom;
    return machineDomainXML(m, ref.id, (flags & DomainXMLFlags.INACTIVE) !== 0);
  }
  async domainGetAutostart(dom: DomainRef): Promise<boolean> {
    return (await this.info(dom)).autostart;
  }
  async domainSetAutostart(): Promise<void> {
    throw VirError.report(D, ErrorNumber.NO_SUPPORT, 'virDomainSetAutostart');
  }
  async domainGetID(dom: DomainRef): Promise<number> {
    const m = await this.info(dom);
    return (await this.refOf(m.uuid, isOnline(m.state))).id;
  }

  // Managed save: R9, there is none.

  async managedSave(): Promise<void> {
    refuseOnHypervisorOwned('virDomainManagedSave', D);
  }
  /** As libvirt's vbox driver: 0 for an existing machine (VirtualBox's "saved" state is not a managed save image). */
  async hasManagedSaveImage(dom: DomainRef, flags: number): Promise<boolean> {
    this.check(flags, 0, 'DomainHasManagedSaveImage');
    await this.info(dom);
    return false;
  }
  async managedSaveRemove(): Promise<void> {
    refuseOnHypervisorOwned('virDomainManagedSaveRemove', D);
  }

  // Snapshots: VirtualBox's own.

  private tree(m: MachineInfo, settings?: Map<string, SnapshotSettings>): SnapshotTree {
    const nodes: SnapshotNode[] = [];
    const names = new Set<string>();
    for (const s of m.snapshots) {
      // VirtualBox allows two snapshots with one name; libvirt addresses them by name, so the
      // first (closest to the root) is the one tsvirt shows.
      if (names.has(s.name)) continue;
      names.add(s.name);
      const online = settings?.get(s.uuid)?.online;
      nodes.push({ name: s.name, parent: s.parent, seq: s.order, state: online === true ? 'running' : 'shutoff', external: false });
    }
    return new SnapshotTree(nodes);
  }

  private snapshotOf(m: MachineInfo, name: string): MachineSnapshot {
    const snap = m.snapshots.find((s) => s.name === name);
    if (snap === undefined) {
      throw noDomainSnapshot(ErrorDomain.DOMAIN_SNAPSHOT, `no domain snapshot with matching name '${name}'`);
    }
    return snap;
  }

  /** Snapshot times and kinds from the machine's settings file; empty when it cannot be read. */
  private async settings(m: MachineInfo): Promise<Map<string, SnapshotSettings>> {
    if (m.cfgFile === null || m.snapshots.length === 0) return new Map();
    try {
      return parseSettingsSnapshots(await readFile(m.cfgFile, 'utf8'));
    } catch {
      return new Map();
    }
  }

  async snapshotCreateXML(dom: DomainRef, xml: string, flags: number): Promise<string> {
    this.check(flags, SNAPSHOT_CREATE_FLAGS, 'DomainSnapshotCreateXML');
    const def = parseSnapshotXML(xml);
    if (def.memory?.snapshot === 'external' || def.disks.some((d) => d.snapshot === 'external' || d.snapshot === 'manual')) {
      throw configUnsupported(D, 'VirtualBox snapshots are internal: external disk or memory snapshots are not supported');
    }
    const m = await this.info(dom);
    const name = def.name ?? String(Math.floor(Date.now() / 1000));
    if (m.snapshots.some((s) => s.name === name)) {
      throw operationFailed(ErrorDomain.DOMAIN, `domain moment ${name} already exists`);
    }
    const args = ['snapshot', m.uuid, 'take', name];
    if (def.description !== undefined) args.push('--description', def.description);
    if ((flags & SnapCreate.LIVE) !== 0 && isOnline(m.state)) args.push('--live');
    await this.vbm.check(args, { slow: true });
    if ((flags & SnapCreate.HALT) !== 0 && isOnline(m.state)) {
      await this.vbm.check(['controlvm', m.uuid, 'poweroff'], { slow: true });
      this.emit({ name: m.name, uuid: m.uuid, id: -1 }, DomainEventType.STOPPED, Stopped.FROM_SNAPSHOT, false);
    }
    return name;
  }

  /** The snapshots passing the list flags; VirtualBox snapshots have no metadata of tsvirt's. */
  private async listed(dom: DomainRef, flags: number, from: string | null): Promise<string[]> {
    const m = await this.info(dom);
    const needsKind = (flags & (SnapList.ACTIVE | SnapList.INACTIVE | SnapList.DISK_ONLY)) !== 0;
    const tree = this.tree(m, needsKind ? await this.settings(m) : undefined);
    if (from !== null) tree.require(from);
    const metadata = (flags & SnapList.METADATA) !== 0;
    const noMetadata = (flags & SnapList.NO_METADATA) !== 0;
    // libvirt's vbox driver: no snapshot has metadata, so METADATA alone lists none.
    if (metadata && !noMetadata) return [];
    const rest = flags & ~(SnapList.METADATA | SnapList.NO_METADATA);
    const nodes = from === null ? tree.list(rest) : tree.listChildren(from, rest);
    return nodes.map((n) => n.name);
  }

  async snapshotNum(dom: DomainRef, flags: number): Promise<number> {
    this.check(flags, SNAPSHOT_LIST_SUPPORTED, 'DomainSnapshotNum');
    return (await this.listed(dom, flags, null)).length;
  }
  async snapshotListNames(dom: DomainRef, flags: number): Promise<string[]> {
    this.check(flags, SNAPSHOT_LIST_SUPPORTED, 'DomainSnapshotListNames');
    return this.listed(dom, flags, null);
  }
  async listAllSnapshots(dom: DomainRef, flags: number): Promise<string[]> {
    this.check(flags, SNAPSHOT_LIST_SUPPORTED, 'DomainListAllSnapshots');
    return this.listed(dom, flags, null);
  }
  async snapshotLookupByName(dom: DomainRef, name: string, flags: number): Promise<string> {
    this.check(flags, 0, 'DomainSnapshotLookupByName');
    return this.snapshotOf(await this.info(dom), name).name;
  }
  async snapshotCurrent(dom: DomainRef, flags: number): Promise<string> {
    this.check(flags, 0, 'DomainSnapshotCurrent');
    const current = (await this.info(dom)).currentSnapshot;
    if (current === null) {
      throw VirError.report(ErrorDomain.DOMAIN_SNAPSHOT, ErrorNumber.NO_DOMAIN_SNAPSHOT, 'the domain does not have a current snapshot');
    }
    return current;
  }
  async hasCurrentSnapshot(dom: DomainRef, flags: number): Promise<boolean> {
    this.check(flags, 0, 'DomainHasCurrentSnapshot');
    return (await this.info(dom)).currentSnapshot !== null;
  }

  async revertToSnapshot(dom: DomainRef, snapshot: string, flags: number): Promise<void> {
    this.check(flags, REVERT_FLAGS, 'DomainRevertToSnapshot');
    const m = await this.info(dom);
    const snap = this.snapshotOf(m, snapshot);
    // VirtualBox restores only into a machine without a VM process (libvirt's wording).
    if (isOnline(m.state)) throw operationInvalid(D, 'cannot revert snapshot of running domain');
    await this.vbm.check(['snapshot', m.uuid, 'restore', snap.uuid], { slow: true });
    if ((flags & (Revert.RUNNING | Revert.PAUSED)) !== 0) {
      await this.vbm.check(['startvm', m.uuid, '--type', 'headless'], { slow: true });
      const ref = await this.refOf(m.uuid, true);
      this.emit(ref, DomainEventType.STARTED, Started.FROM_SNAPSHOT, true);
      if ((flags & Revert.PAUSED) !== 0) {
        await this.vbm.check(['controlvm', m.uuid, 'pause']);
        this.emit(ref, DomainEventType.SUSPENDED, Suspended.FROM_SNAPSHOT, true);
      }
    }
  }

  async snapshotGetXMLDesc(dom: DomainRef, snapshot: string, flags: number): Promise<string> {
    this.check(flags, DomainSnapshotXMLFlags.SECURE, 'DomainSnapshotGetXMLDesc');
    const m = await this.info(dom);
    const snap = this.snapshotOf(m, snapshot);
    return snapshotXML(m, snap, (await this.settings(m)).get(snap.uuid));
  }
  async snapshotGetParent(dom: DomainRef, snapshot: string, flags: number): Promise<string> {
    this.check(flags, 0, 'DomainSnapshotGetParent');
    const snap = this.snapshotOf(await this.info(dom), snapshot);
    if (snap.parent === null) {
      throw noDomainSnapshot(ErrorDomain.DOMAIN_SNAPSHOT, `snapshot '${snapshot}' does not have a parent`);
    }
    return snap.parent;
  }
  async snapshotNumChildren(dom: DomainRef, snapshot: string, flags: number): Promise<number> {
    this.check(flags, SNAPSHOT_LIST_SUPPORTED, 'DomainSnapshotNumChildren');
    return (await this.listed(dom, flags, snapshot)).length;
  }
  async snapshotListAllChildren(dom: DomainRef, snapshot: string, flags: number): Promise<string[]> {
    this.check(flags, SNAPSHOT_LIST_SUPPORTED, 'DomainSnapshotListAllChildren');
    return this.listed(dom, flags, snapshot);
  }
  async snapshotIsCurrent(dom: DomainRef, snapshot: string, flags: number): Promise<boolean> {
    this.check(flags, 0, 'DomainSnapshotIsCurrent');
    const m = await this.info(dom);
    this.snapshotOf(m, snapshot);
    return m.currentSnapshot === snapshot;
  }
  /** As libvirt's vbox driver: the snapshot exists, and tsvirt holds no metadata for it. */
  async snapshotHasMetadata(dom: DomainRef, snapshot: string, flags: number): Promise<boolean> {
    this.check(flags, 0, 'DomainSnapshotHasMetadata');
    this.snapshotOf(await this.info(dom), snapshot);
    return false;
  }

  /**
   * Deletes through VirtualBox, one snapshot per `snapshot delete` (VirtualBox merges one
   * snapshot's disks at a time). With CHILDREN or CHILDREN_ONLY the descendants go first, leaves
   * before their parents, so that each deletion is of a snapshot with no children left. Without
   * them, VirtualBox itself refuses a snapshot with more than one child, and its message is
   * carried in the error.
   */
  async snapshotDelete(dom: DomainRef, snapshot: string, flags: number): Promise<void> {
    this.check(flags, DELETE_FLAGS, 'DomainSnapshotDelete');
    const m = await this.info(dom);
    const target = this.snapshotOf(m, snapshot);
    const victims: MachineSnapshot[] = [];
    if ((flags & (SnapDelete.CHILDREN | SnapDelete.CHILDREN_ONLY)) !== 0) {
      const byParent = new Map<string | null, MachineSnapshot[]>();
      for (const s of m.snapshots) {
        const list = byParent.get(s.parent) ?? [];
        list.push(s);
        byParent.set(s.parent, list);
      }
      const walk = (s: MachineSnapshot) => {
        for (const c of byParent.get(s.name) ?? []) walk(c);
        victims.push(s);
      };
      for (const c of byParent.get(target.name) ?? []) walk(c);
    }
    if ((flags & SnapDelete.CHILDREN_ONLY) === 0) victims.push(target);
    for (const s of victims) {
      await this.vbm.check(['snapshot', m.uuid, 'delete', s.uuid], { slow: true });
    }
  }

  // Events.

  subscribe(listener: DriverEventListener): () => void {
    return this.events.subscribe(listener);
  }

  /**
   * Delivers an event of this driver's own doing, and records whether the machine now runs
   * (`active`, or null when it is gone) so that the poll does not report it a second time.
   */
  private emit(domain: DomainRef, event: DomainEventType, detail: number, active: boolean | null): void {
    this.events.emit(domain, event, detail, active === null ? null : active ? 'running' : 'shutoff');
  }
}

/**
 * Opens `vbox:///session`: finds VBoxManage and asks its version, as libvirt's vbox driver
 * initialises VirtualBox's API on connect. Errors: VIR_ERR_INTERNAL_ERROR "unable to initialize
 * VirtualBox driver API: …" when VBoxManage is missing or does not answer.
 */
export async function openVBoxDriver(options: VBoxDriverOptions = {}): Promise<VBoxDriver> {
  const env = options.env ?? process.env;
  const vbm = new VBoxManage(options);
  let version: number;
  try {
    const r = await vbm.run(['--version']);
    if (r.status !== 0) throw cannotInitialize(`VBoxManage --version failed: ${errorText(r.stderr) || `exit status ${r.status}`}`);
    version = parseVersion(r.stdout);
  } catch (err) {
    vbm.killAll();
    if (err instanceof VirError && err.code === ErrorNumber.INTERNAL_ERROR && err.message.includes('unable to initialize')) throw err;
    throw cannotInitialize(err instanceof Error ? err.message : String(err));
  }
  const pollMs = options.pollMs ?? (/^[0-9]+$/.test(env.TSVIRT_VBOX_POLL_MS ?? '') ? Number(env.TSVIRT_VBOX_POLL_MS) : 2000);
  return new VBoxDriver(vbm, version, pollMs);
}

/** connect()'s entry to the VirtualBox driver: `vbox:///session` only. */
export const vboxOpener: DriverOpener = {
  shareable: true,
  canonical: (uri) => (uri.host === '' && uri.pathname === '/session' ? 'vbox:///session' : null),
  open: () => openVBoxDriver(),
};
