/**
 * The ESX driver: libvirt's domain and snapshot API over vSphere's Web Services API (vim25), for
 * a standalone ESX(i) host (`esx://host/`) or a host managed by a vCenter
 * (`vpx://vcenter/DC/cluster/host`).
 *
 * The hypervisor owns all state here: VMs are always persistent, snapshots live in vSphere's
 * snapshot tree, and there is no managed save. So this driver implements HypervisorDriver
 * directly (docs/design.md) and takes the seed's rules for such hypervisors from
 * src/rules/hypervisor-owned.ts (R9). Errors and flags follow libvirt 9.0's esx_driver.c.
 */
import { PolledLifecycleEvents, type PolledState } from '../polled-events.js';
import type { ConnectAuthCallback } from '../../core/auth.js';
import type { DomainInfo, DomainRef, DriverEventListener, DriverOpener, HypervisorDriver } from '../../core/driver.js';
import {
  DomainEventResumedDetailType,
  DomainEventStartedDetailType,
  DomainEventStoppedDetailType,
  DomainEventSuspendedDetailType,
  DomainEventType,
  DomainSnapshotCreateFlags as SnapCreate,
  DomainSnapshotDeleteFlags,
  DomainState,
  DomainXMLFlags,
  ErrorDomain,
  ErrorNumber,
} from '../../core/enums.generated.js';
import { VirError, configUnsupported, noDomain, noDomainSnapshot, noSupport, operationInvalid } from '../../core/errors.js';
import { formatSnapshotXML, parseSnapshotXML } from '../../conf/snapshot.js';
import { checkFlags } from '../../rules/flags.js';
import { HYPERVISOR_OWNED_UNDEFINE_FLAGS, checkHypervisorOwnedUndefine, refuseOnHypervisorOwned } from '../../rules/hypervisor-owned.js';
import { LIST_DOMAINS_SUPPORTED, filterNeedsSnapshots, matchesListFilter } from '../../rules/listing.js';
import { SNAPSHOT_LIST_SUPPORTED } from '../../rules/snapshots.js';
import { findCredentials, terminalPrompt } from './auth.js';
import { vmDomainXML } from './domain-xml.js';
import { SoapClient, VimFaultError, moRef, textElement, type MoRef } from './soap.js';
import { filterChildren, filterSnapshots, parseSnapshotInfo, requireSnapshot, type EsxSnapshotTree } from './snapshots.js';
import { parseEsxURI, type EsxURI } from './uri.js';
import { VimSession, type ObjectContent, type TaskOutcome } from './vim.js';
import { child, type VimNode } from './xml.js';

const E = ErrorDomain.ESX;

/** Options of {@link openEsxDriver}. */
export interface EsxDriverOptions {
  auth?: ConnectAuthCallback | undefined;
  env?: NodeJS.ProcessEnv;
}

type PowerState = 'poweredOn' | 'poweredOff' | 'suspended';

/** A VM as a listing sees it. */
interface VmSummary {
  ref: MoRef;
  name: string;
  uuid: string;
  power: PowerState;
}

const LIST_PROPS = ['name', 'config.uuid', 'runtime.powerState'] as const;

/** Default bound on one SOAP call; `TSVIRT_ESX_TIMEOUT_MS` overrides it. */
const DEFAULT_TIMEOUT_MS = 30_000;
/** Default bound on waiting for one task (power on, snapshot…); vSphere tasks can be slow. */
const DEFAULT_TASK_TIMEOUT_MS = 30 * 60_000;
/** How often lifecycle events are polled for while someone listens. */
const EVENT_POLL_MS = 2_000;

function powerState(node: VimNode | undefined): PowerState {
  const text = node?.text;
  return text === 'poweredOn' || text === 'suspended' ? text : 'poweredOff';
}

/** libvirt's esxVI_VirtualMachinePowerState_ConvertToLibvirt. */
function libvirtState(power: PowerState): DomainState {
  return power === 'poweredOn' ? DomainState.RUNNING : power === 'suspended' ? DomainState.PAUSED : DomainState.SHUTOFF;
}

/**
 * The domain ID: the number in the VM's managed object id (`42` on ESX, `vm-42` on vCenter and
 * vcsim), for active VMs only; -1 otherwise.
 */
function vmID(ref: MoRef, power: PowerState): number {
  if (power === 'poweredOff') return -1;
  const m = /^(?:vm-)?(\d+)$/.exec(ref.value);
  return m === null ? -1 : Number(m[1]);
}

function summaryOf(oc: ObjectContent): VmSummary | undefined {
  const name = oc.props.get('name')?.text;
  const uuid = oc.props.get('config.uuid')?.text;
  // A VM whose configuration cannot be read (inaccessible datastore) has no UUID: libvirt
  // cannot address it either, so it is left out.
  if (name === undefined || uuid === undefined || uuid === '') return undefined;
  return { ref: oc.obj, name, uuid: uuid.toLowerCase(), power: powerState(oc.props.get('runtime.powerState')) };
}

function toRef(vm: VmSummary): DomainRef {
  return { name: vm.name, uuid: vm.uuid, id: vmID(vm.ref, vm.power) };
}

function envNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = Number(env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/** Where the VMs of this connection live. */
interface Scope {
  /** Where listings start: the root folder (ESX) or the datacenter's VM folder (vpx). */
  vmRoot: MoRef;
  /** vpx: the datacenter, for FindByUuid. */
  datacenter: MoRef | undefined;
  /** The host addressed (ESX: its only host; vpx: the one in the URI's path). */
  host: MoRef | undefined;
}

/**
 * Opens an esx:// or vpx:// URI: connects, checks the endpoint is what the scheme says, logs
 * in, and resolves the vpx inventory path. Errors: see {@link parseEsxURI}, the SOAP client's
 * connection errors, VIR_ERR_AUTH_FAILED for a wrong password, VIR_ERR_INTERNAL_ERROR "Expecting
 * 'HOST' to be a ESX(i) host but found a vCenter/VPX host" for the wrong scheme.
 */
export async function openEsxDriver(uri: URL, options: EsxDriverOptions = {}): Promise<EsxDriver> {
  const env = options.env ?? process.env;
  const parsed = parseEsxURI(uri);
  const client = new SoapClient({
    url: new URL(`${parsed.transport}://${uri.host}/sdk`),
    verify: parsed.verify,
    timeoutMs: envNumber(env, 'TSVIRT_ESX_TIMEOUT_MS', DEFAULT_TIMEOUT_MS),
  });
  let session: VimSession | undefined;
  let loggedIn = false;
  try {
    session = await VimSession.connect(client);
    const isVpx = session.content.apiType === 'VirtualCenter';
    const isEsx = session.content.apiType === 'HostAgent';
    if (parsed.scheme === 'esx' && !isEsx) {
      throw VirError.report(E, ErrorNumber.INTERNAL_ERROR, `Expecting '${parsed.host}' to be a ESX(i) host but found a ${isVpx ? 'vCenter/VPX' : session.content.apiType} host`);
    }
    if (parsed.scheme === 'vpx' && !isVpx) {
      throw VirError.report(E, ErrorNumber.INTERNAL_ERROR, `Expecting '${parsed.host}' to be a vCenter/VPX host but found a ${isEsx ? 'ESX(i)' : session.content.apiType} host`);
    }
    const creds = await findCredentials(parsed.host, parsed.user, parsed.scheme === 'esx' ? 'root' : 'administrator', {
      callback: options.auth,
      env,
      uriAuthFile: uri.searchParams.get('authfile') ?? undefined,
      prompt: options.auth === undefined ? terminalPrompt() : undefined,
    });
    await session.login(creds.username, creds.password);
    loggedIn = true;
    const scope = parsed.scheme === 'vpx' ? await resolveVpxPath(session, parsed) : esxScope(session);
    return new EsxDriver(parsed, session, scope, envNumber(env, 'TSVIRT_ESX_TASK_TIMEOUT_MS', DEFAULT_TASK_TIMEOUT_MS));
  } catch (e) {
    if (loggedIn) await session?.logout().catch(() => undefined);
    client.close();
    throw e;
  }
}

function esxScope(session: VimSession): Scope {
  // An ESX host is its own only host; its HostSystem is looked up when needed (getHostname),
  // not at every open, which would cost each command-line run a round trip.
  return { vmRoot: session.content.rootFolder, datacenter: undefined, host: undefined };
}

/** The HostSystem of a standalone ESX host: ha-datacenter → hostFolder → compute resource → host. */
async function esxHost(session: VimSession): Promise<MoRef | undefined> {
  const crs = await session.retrieve('ComputeResource', ['host'], session.content.rootFolder, 'hosts');
  for (const cr of crs) {
    const host = moRef(cr.props.get('host')?.children[0]);
    if (host !== undefined) return host;
  }
  return undefined;
}

/** vpx://vcenter/DC/COMPUTE_RESOURCE[/HOST]: the datacenter, compute resource and host by name. */
async function resolveVpxPath(session: VimSession, uri: EsxURI): Promise<Scope> {
  const [dcName, crName, hostName] = uri.path;
  const dcs = await session.retrieve('Datacenter', ['name', 'vmFolder', 'hostFolder'], session.content.rootFolder, 'inventory');
  const dc = dcs.find((d) => d.props.get('name')?.text === dcName);
  if (dc === undefined) throw VirError.report(E, ErrorNumber.INTERNAL_ERROR, `Could not find Datacenter with name '${dcName}'`);
  const vmFolder = moRef(dc.props.get('vmFolder'));
  const hostFolder = moRef(dc.props.get('hostFolder'));
  if (vmFolder === undefined || hostFolder === undefined) {
    throw VirError.report(E, ErrorNumber.INTERNAL_ERROR, `Missing property 'vmFolder' in answer`);
  }
  // ComputeResource matches its subtype ClusterComputeResource too.
  const crs = await session.retrieve('ComputeResource', ['name', 'host'], hostFolder, 'inventory');
  const cr = crs.find((c) => c.props.get('name')?.text === crName);
  if (cr === undefined) throw VirError.report(E, ErrorNumber.INTERNAL_ERROR, `Could not find ComputeResource with name '${crName}'`);
  const hostRefs = (cr.props.get('host')?.children ?? []).map(moRef).filter((r): r is MoRef => r !== undefined);
  let host: MoRef | undefined;
  if (hostName !== undefined) {
    for (const ref of hostRefs) {
      const h = await session.retrieveOne(ref, ['name']);
      if (h?.props.get('name')?.text === hostName) host = ref;
    }
    if (host === undefined) throw VirError.report(E, ErrorNumber.INTERNAL_ERROR, `Could not find HostSystem with name '${hostName}'`);
  } else if (cr.obj.type === 'ClusterComputeResource') {
    throw VirError.invalidArg(E, 'Path has to specify the host system');
  } else {
    host = hostRefs[0];
  }
  return { vmRoot: vmFolder, datacenter: dc.obj, host };
}

/** The ESX driver (see the file comment). */
/** How long a listing's power states answer domainGetState (see EsxDriver.listed). */
const LISTED_STATE_MS = 1000;

export class EsxDriver implements HypervisorDriver {
  readonly uri: string;
  readonly type = 'ESX';
  private closed = false;
  /** UUID → the VM's managed object, learnt from listings and lookups; checked on each use. */
  private readonly refs = new Map<string, MoRef>();
  /**
   * Power states read by the last listing, and when. A state asked within LISTED_STATE_MS of it
   * (virsh's and tsvirt's `list` ask each domain's state right after listing) comes from that one
   * RetrieveProperties instead of a round trip per domain: a picture of one instant, as a listing
   * is. Any change made through this connection forgets it.
   */
  private listed: { at: number; power: Map<string, PowerState> } | undefined;
  /**
   * Lifecycle events: changes made through this connection are reported at once; changes made
   * elsewhere (another client, the guest powering off) are found by polling the VMs' power
   * states every two seconds while someone listens.
   */
  private readonly events = new PolledLifecycleEvents(
    async () => (await this.listVms()).map(({ vm }) => ({ ref: toRef(vm), state: polledState(vm.power) })),
    EVENT_POLL_MS,
  );

  /** @internal Use {@link openEsxDriver}. */
  constructor(
    private readonly parsed: EsxURI,
    /** @internal The vim25 session (the bench times raw calls on it). */
    readonly session: VimSession,
    /** @internal Where this connection's VMs are. */
    readonly scope: Scope,
    private readonly taskTimeoutMs: number,
  ) {
    this.uri = parsed.canonical;
  }

  // ---- connection ----

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.events.close();
    try {
      await this.session.logout();
    } catch {
      // The session ends when the server times it out; closing must not fail for it.
    } finally {
      this.session.client.close();
    }
  }

  async getHostname(): Promise<string> {
    const host = this.scope.host ?? (await esxHost(this.session));
    if (host === undefined) return this.parsed.host;
    const oc = await this.session.retrieveOne(host, ['name', 'config.network.dnsConfig.hostName', 'config.network.dnsConfig.domainName']);
    const hostName = oc?.props.get('config.network.dnsConfig.hostName')?.text;
    const domainName = oc?.props.get('config.network.dnsConfig.domainName')?.text;
    if (hostName !== undefined && hostName !== '') return domainName !== undefined && domainName !== '' ? `${hostName}.${domainName}` : hostName;
    return oc?.props.get('name')?.text ?? this.parsed.host;
  }

  async getVersion(): Promise<number> {
    const [major = 0, minor = 0, release = 0] = this.session.content.version.split('.').map((p) => Number.parseInt(p, 10) || 0);
    return major * 1_000_000 + minor * 1_000 + release;
  }

  async isAlive(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.session.invoke('CurrentTime', { type: 'ServiceInstance', value: 'ServiceInstance' });
      return true;
    } catch {
      return false;
    }
  }

  // ---- listing and lookup ----

  private async listVms(extra: readonly string[] = []): Promise<{ vm: VmSummary; props: Map<string, VimNode> }[]> {
    const found = await this.session.retrieve('VirtualMachine', [...LIST_PROPS, ...extra], this.scope.vmRoot, 'vms');
    const out: { vm: VmSummary; props: Map<string, VimNode> }[] = [];
    for (const oc of found) {
      const vm = summaryOf(oc);
      if (vm === undefined) continue;
      this.refs.set(vm.uuid, vm.ref);
      out.push({ vm, props: oc.props });
    }
    return out;
  }

  async listAllDomains(flags: number): Promise<DomainRef[]> {
    checkFlags(flags, LIST_DOMAINS_SUPPORTED, 'esxConnectListAllDomains', E);
    const needSnapshots = filterNeedsSnapshots(flags);
    const vms = await this.listVms(needSnapshots ? ['snapshot.currentSnapshot'] : []);
    this.listed = { at: performance.now(), power: new Map(vms.map(({ vm }) => [vm.uuid, vm.power])) };
    return vms
      .filter(({ vm, props }) =>
        matchesListFilter(
          {
            active: vm.power !== 'poweredOff',
            persistent: true,
            state: libvirtState(vm.power),
            hasManagedSave: false,
            autostart: false,
            // A VM with snapshots always has a current one in vSphere.
            hasSnapshot: props.has('snapshot.currentSnapshot'),
          },
          flags,
        ),
      )
      .map(({ vm }) => toRef(vm));
  }

  async numOfDomains(): Promise<number> {
    return (await this.listVms()).filter(({ vm }) => vm.power !== 'poweredOff').length;
  }
  async numOfDefinedDomains(): Promise<number> {
    return (await this.listVms()).filter(({ vm }) => vm.power === 'poweredOff').length;
  }

  async lookupByName(name: string): Promise<DomainRef> {
    const found = (await this.listVms()).find(({ vm }) => vm.name === name);
    if (found === undefined) throw noDomain(E, `Could not find domain with name '${name}'`);
    return toRef(found.vm);
  }

  async lookupByUUID(uuid: string): Promise<DomainRef> {
    const vm = await this.vm({ name: '', uuid, id: -1 }, []);
    return toRef(vm.vm);
  }

  async lookupByID(id: number): Promise<DomainRef> {
    const found = (await this.listVms()).find(({ vm }) => vmID(vm.ref, vm.power) === id);
    if (found === undefined) throw noDomain(E, `No domain with ID ${id}`);
    return toRef(found.vm);
  }

  /**
   * The VM of a handle with the properties asked for. The remembered managed object is tried
   * first; if vSphere no longer knows it, or it now holds another VM, the UUID is searched
   * afresh. Errors: VIR_ERR_NO_DOMAIN "Could not find domain with UUID '…'" when the VM is gone
   * (unregistered or destroyed behind tsvirt's back).
   */
  private async vm(dom: DomainRef, extra: readonly string[]): Promise<{ vm: VmSummary; props: Map<string, VimNode> }> {
    const paths = [...LIST_PROPS, ...extra];
    const attempt = async (ref: MoRef) => {
      const oc = await this.session.retrieveOne(ref, paths);
      const vm = oc === undefined ? undefined : summaryOf(oc);
      return vm !== undefined && oc !== undefined && vm.uuid === dom.uuid ? { vm, props: oc.props } : undefined;
    };
    const known = this.refs.get(dom.uuid);
    if (known !== undefined) {
      const hit = await attempt(known);
      if (hit !== undefined) return hit;
      this.refs.delete(dom.uuid);
    }
    const ref = await this.session.findVmByUuid(dom.uuid, this.scope.datacenter);
    const hit = ref === undefined ? undefined : await attempt(ref);
    if (hit === undefined) throw noDomain(E, `Could not find domain with UUID '${dom.uuid}'`);
    this.refs.set(dom.uuid, hit.vm.ref);
    return hit;
  }

  // ---- definition ----

  async defineXML(_xml: string, _flags: number): Promise<DomainRef> {
    // libvirt writes a .vmx file to a datastore and registers it; tsvirt does not (yet).
    throw noSupport(E, 'virDomainDefineXML');
  }

  async createXML(_xml: string, _flags: number): Promise<DomainRef> {
    // R9: no transient domains on ESX.
    refuseOnHypervisorOwned('virDomainCreateXML', E);
  }

  async domainUndefine(dom: DomainRef, flags: number): Promise<void> {
    // Flags first, before any call to the server (R7).
    checkFlags(flags, HYPERVISOR_OWNED_UNDEFINE_FLAGS, 'esxDomainUndefineFlags', E);
    const { vm } = await this.vm(dom, []);
    // R9 (and R7): MANAGED_SAVE is an unsupported flag; SNAPSHOTS_METADATA is accepted and the
    // snapshots stay with the VM; a powered-on VM cannot be unregistered.
    checkHypervisorOwnedUndefine({ poweredOn: vm.power === 'poweredOn' }, flags, 'esxDomainUndefineFlags', E);
    // UnregisterVM, as libvirt does: the VM leaves the inventory, its files stay on the datastore.
    this.listed = undefined;
    await this.session.invoke('UnregisterVM', vm.ref);
    this.refs.delete(vm.uuid);
  }

  // ---- lifecycle ----

  private async task(method: string, target: MoRef, args: string): Promise<TaskOutcome> {
    this.listed = undefined;
    const res = await this.session.invoke(method, target, args);
    const task = moRef(child(res, 'returnval'));
    if (task === undefined) {
      throw VirError.report(E, ErrorNumber.INTERNAL_ERROR, `Malformed response for call to '${method}': missing task`);
    }
    return this.session.waitForTask(task, this.taskTimeoutMs);
  }

  /** Runs a task and turns failure into libvirt's "Could not … : message". */
  private async runTask(method: string, target: MoRef, args: string, failure: string): Promise<TaskOutcome> {
    let outcome: TaskOutcome;
    try {
      outcome = await this.task(method, target, args);
    } catch (e) {
      if (e instanceof VimFaultError) throw VirError.report(E, ErrorNumber.INTERNAL_ERROR, `${failure}: ${e.faultString}`);
      throw e;
    }
    if (outcome.state !== 'success') throw VirError.report(E, ErrorNumber.INTERNAL_ERROR, `${failure}: ${outcome.errorMessage ?? ''}`);
    return outcome;
  }

  async domainCreate(dom: DomainRef, flags: number): Promise<DomainRef> {
    checkFlags(flags, 0, 'esxDomainCreateWithFlags', E);
    const { vm } = await this.vm(dom, []);
    if (vm.power !== 'poweredOff') throw operationInvalid(E, 'Domain is not powered off');
    await this.runTask('PowerOnVM_Task', vm.ref, '', 'Could not start domain');
    this.emit(vm, 'poweredOn', DomainEventType.STARTED, DomainEventStartedDetailType.BOOTED);
    return toRef({ ...vm, power: 'poweredOn' });
  }

  async domainShutdown(dom: DomainRef, flags: number): Promise<void> {
    checkFlags(flags, 0, 'esxDomainShutdownFlags', E);
    const { vm } = await this.vm(dom, []);
    if (vm.power !== 'poweredOn') throw operationInvalid(E, 'Domain is not powered on');
    // ShutdownGuest asks the guest OS (through VMware Tools) and returns at once; it may ignore it (R8).
    this.listed = undefined;
    await this.session.invoke('ShutdownGuest', vm.ref);
  }

  async domainDestroy(dom: DomainRef, flags: number): Promise<void> {
    checkFlags(flags, 0, 'esxDomainDestroyFlags', E);
    const { vm } = await this.vm(dom, []);
    if (vm.power !== 'poweredOn') throw operationInvalid(E, 'Domain is not powered on');
    await this.runTask('PowerOffVM_Task', vm.ref, '', 'Could not destroy domain');
    this.emit(vm, 'poweredOff', DomainEventType.STOPPED, DomainEventStoppedDetailType.DESTROYED);
  }

  async domainReboot(dom: DomainRef, flags: number): Promise<void> {
    checkFlags(flags, 0, 'esxDomainReboot', E);
    const { vm } = await this.vm(dom, []);
    if (vm.power !== 'poweredOn') throw operationInvalid(E, 'Domain is not powered on');
    await this.session.invoke('RebootGuest', vm.ref);
  }

  async domainSuspend(dom: DomainRef): Promise<void> {
    const { vm } = await this.vm(dom, []);
    if (vm.power !== 'poweredOn') throw operationInvalid(E, 'Domain is not powered on');
    await this.runTask('SuspendVM_Task', vm.ref, '', 'Could not suspend domain');
    this.emit(vm, 'suspended', DomainEventType.SUSPENDED, DomainEventSuspendedDetailType.PAUSED);
  }

  async domainResume(dom: DomainRef): Promise<void> {
    const { vm } = await this.vm(dom, []);
    if (vm.power !== 'suspended') throw operationInvalid(E, 'Domain is not suspended');
    await this.runTask('PowerOnVM_Task', vm.ref, '', 'Could not resume domain');
    this.emit(vm, 'poweredOn', DomainEventType.RESUMED, DomainEventResumedDetailType.UNPAUSED);
  }

  async domainIsActive(dom: DomainRef): Promise<boolean> {
    return (await this.vm(dom, [])).vm.power !== 'poweredOff';
  }

  async domainIsPersistent(dom: DomainRef): Promise<boolean> {
    await this.vm(dom, []);
    // ESX has no transient domains (R9).
    return true;
  }

  async domainGetState(dom: DomainRef, flags: number): Promise<[DomainState, number]> {
    checkFlags(flags, 0, 'esxDomainGetState', E);
    const listed = this.listed !== undefined && performance.now() - this.listed.at < LISTED_STATE_MS ? this.listed.power.get(dom.uuid) : undefined;
    return [libvirtState(listed ?? (await this.vm(dom, [])).vm.power), 0];
  }

  async domainGetInfo(dom: DomainRef): Promise<DomainInfo> {
    const { vm, props } = await this.vm(dom, ['config.hardware.memoryMB', 'config.hardware.numCPU', 'config.memoryAllocation.limit']);
    const maxMem = Number(props.get('config.hardware.memoryMB')?.text ?? 0) * 1024;
    const limitMB = Number(props.get('config.memoryAllocation.limit')?.text ?? -1);
    return {
      state: libvirtState(vm.power),
      maxMem,
      // A memory limit below the configured size is what the guest can use (as libvirt reports).
      memory: limitMB >= 0 && limitMB * 1024 < maxMem ? limitMB * 1024 : maxMem,
      nrVirtCpu: Number(props.get('config.hardware.numCPU')?.text ?? 1),
      cpuTime: 0,
    };
  }

  async domainGetXMLDesc(dom: DomainRef, flags: number): Promise<string> {
    checkFlags(flags, DomainXMLFlags.SECURE | DomainXMLFlags.INACTIVE | DomainXMLFlags.UPDATE_CPU, 'esxDomainGetXMLDesc', E);
    const { vm, props } = await this.vm(dom, ['config.hardware', 'config.annotation', 'config.guestId']);
    return vmDomainXML(
      {
        name: vm.name,
        uuid: vm.uuid,
        annotation: props.get('config.annotation')?.text,
        hardware: props.get('config.hardware'),
        guestId: props.get('config.guestId')?.text,
      },
      vmID(vm.ref, vm.power),
      (flags & DomainXMLFlags.INACTIVE) !== 0,
    );
  }

  async domainGetAutostart(dom: DomainRef): Promise<boolean> {
    await this.vm(dom, []);
    // Autostart is the host's HostAutoStartManager setting; tsvirt does not read it yet.
    return false;
  }

  async domainSetAutostart(_dom: DomainRef, _autostart: boolean): Promise<void> {
    throw noSupport(E, 'virDomainSetAutostart');
  }

  async domainGetID(dom: DomainRef): Promise<number> {
    const { vm } = await this.vm(dom, []);
    return vmID(vm.ref, vm.power);
  }

  // ---- managed save (R9: none on ESX) ----

  async managedSave(_dom: DomainRef, _flags: number): Promise<void> {
    refuseOnHypervisorOwned('virDomainManagedSave', E);
  }

  async hasManagedSaveImage(dom: DomainRef, flags: number): Promise<boolean> {
    // As libvirt's esxDomainHasManagedSaveImage: the VM must exist; the answer is always no.
    checkFlags(flags, 0, 'esxDomainHasManagedSaveImage', E);
    await this.vm(dom, []);
    return false;
  }

  async managedSaveRemove(_dom: DomainRef, _flags: number): Promise<void> {
    refuseOnHypervisorOwned('virDomainManagedSaveRemove', E);
  }

  // ---- snapshots (in vSphere's tree; tsvirt keeps no metadata) ----

  private async snapshotTree(dom: DomainRef): Promise<{ vm: VmSummary; tree: EsxSnapshotTree }> {
    const { vm, props } = await this.vm(dom, ['snapshot']);
    return { vm, tree: parseSnapshotInfo(props.get('snapshot')) };
  }

  async snapshotCreateXML(dom: DomainRef, xml: string, flags: number): Promise<string> {
    checkFlags(flags, SnapCreate.DISK_ONLY | SnapCreate.QUIESCE, 'esxDomainSnapshotCreateXML', E);
    const def = parseSnapshotXML(xml);
    if (def.disks.length > 0) throw configUnsupported(E, 'disk snapshots not supported yet');
    const name = def.name ?? String(Math.floor(Date.now() / 1000));
    const { vm, tree } = await this.snapshotTree(dom);
    if (tree.list.some((s) => s.name === name)) throw operationInvalid(E, `Snapshot '${name}' already exists`);
    // The guest's memory is saved unless DISK_ONLY or <memory snapshot='no'/> says otherwise.
    const memory = (flags & SnapCreate.DISK_ONLY) === 0 && def.memory?.snapshot !== 'no';
    await this.runTask(
      'CreateSnapshot_Task',
      vm.ref,
      textElement('name', name) +
        (def.description !== undefined ? textElement('description', def.description) : '') +
        textElement('memory', memory) +
        textElement('quiesce', (flags & SnapCreate.QUIESCE) !== 0),
      'Could not create snapshot',
    );
    return name;
  }

  async snapshotNum(dom: DomainRef, flags: number): Promise<number> {
    checkFlags(flags, SNAPSHOT_LIST_SUPPORTED, 'esxDomainSnapshotNum', E);
    return filterSnapshots((await this.snapshotTree(dom)).tree, flags).length;
  }
  async snapshotListNames(dom: DomainRef, flags: number): Promise<string[]> {
    checkFlags(flags, SNAPSHOT_LIST_SUPPORTED, 'esxDomainSnapshotListNames', E);
    return filterSnapshots((await this.snapshotTree(dom)).tree, flags);
  }
  async listAllSnapshots(dom: DomainRef, flags: number): Promise<string[]> {
    checkFlags(flags, SNAPSHOT_LIST_SUPPORTED, 'esxDomainListAllSnapshots', E);
    return filterSnapshots((await this.snapshotTree(dom)).tree, flags);
  }
  async snapshotLookupByName(dom: DomainRef, name: string, flags: number): Promise<string> {
    checkFlags(flags, 0, 'esxDomainSnapshotLookupByName', E);
    return requireSnapshot((await this.snapshotTree(dom)).tree, name).name;
  }
  async snapshotCurrent(dom: DomainRef, flags: number): Promise<string> {
    checkFlags(flags, 0, 'esxDomainSnapshotCurrent', E);
    const current = (await this.snapshotTree(dom)).tree.current;
    if (current === undefined) throw noDomainSnapshot(E, 'Domain has no current snapshot');
    return current.name;
  }
  async hasCurrentSnapshot(dom: DomainRef, flags: number): Promise<boolean> {
    checkFlags(flags, 0, 'esxDomainHasCurrentSnapshot', E);
    return (await this.snapshotTree(dom)).tree.current !== undefined;
  }

  async revertToSnapshot(dom: DomainRef, snapshot: string, flags: number): Promise<void> {
    checkFlags(flags, 0, 'esxDomainRevertToSnapshot', E);
    const { tree } = await this.snapshotTree(dom);
    const snap = requireSnapshot(tree, snapshot);
    await this.runTask('RevertToSnapshot_Task', snap.ref, '', `Could not revert to snapshot '${snapshot}'`);
  }

  async snapshotGetXMLDesc(dom: DomainRef, snapshot: string, flags: number): Promise<string> {
    checkFlags(flags, 0, 'esxDomainSnapshotGetXMLDesc', E);
    const snap = requireSnapshot((await this.snapshotTree(dom)).tree, snapshot);
    // What libvirt's esx driver writes: no memory or disk elements, the domain by UUID only.
    return formatSnapshotXML({
      name: snap.name,
      description: snap.description === '' ? undefined : snap.description,
      state: snap.state,
      parent: snap.parent ?? undefined,
      creationTime: snap.createTime,
      disks: [],
      domainUuid: dom.uuid,
    });
  }

  async snapshotGetParent(dom: DomainRef, snapshot: string, flags: number): Promise<string> {
    checkFlags(flags, 0, 'esxDomainSnapshotGetParent', E);
    const snap = requireSnapshot((await this.snapshotTree(dom)).tree, snapshot);
    if (snap.parent === null) throw noDomainSnapshot(E, `snapshot '${snapshot}' does not have a parent`);
    return snap.parent;
  }

  async snapshotNumChildren(dom: DomainRef, snapshot: string, flags: number): Promise<number> {
    checkFlags(flags, SNAPSHOT_LIST_SUPPORTED, 'esxDomainSnapshotNumChildren', E);
    return filterChildren((await this.snapshotTree(dom)).tree, snapshot, flags).length;
  }
  async snapshotListAllChildren(dom: DomainRef, snapshot: string, flags: number): Promise<string[]> {
    checkFlags(flags, SNAPSHOT_LIST_SUPPORTED, 'esxDomainSnapshotListAllChildren', E);
    return filterChildren((await this.snapshotTree(dom)).tree, snapshot, flags);
  }

  async snapshotIsCurrent(dom: DomainRef, snapshot: string, flags: number): Promise<boolean> {
    checkFlags(flags, 0, 'esxDomainSnapshotIsCurrent', E);
    const { tree } = await this.snapshotTree(dom);
    const snap = requireSnapshot(tree, snapshot);
    return tree.current?.ref.value === snap.ref.value;
  }

  async snapshotHasMetadata(dom: DomainRef, snapshot: string, flags: number): Promise<boolean> {
    checkFlags(flags, 0, 'esxDomainSnapshotHasMetadata', E);
    requireSnapshot((await this.snapshotTree(dom)).tree, snapshot);
    // The snapshot lives in vSphere; tsvirt holds no metadata for it (libvirt answers the same).
    return false;
  }

  async snapshotDelete(dom: DomainRef, snapshot: string, flags: number): Promise<void> {
    checkFlags(flags, DomainSnapshotDeleteFlags.CHILDREN | DomainSnapshotDeleteFlags.METADATA_ONLY, 'esxDomainSnapshotDelete', E);
    const snap = requireSnapshot((await this.snapshotTree(dom)).tree, snapshot);
    // There is no tsvirt metadata to remove: METADATA_ONLY does nothing once the snapshot exists.
    if ((flags & DomainSnapshotDeleteFlags.METADATA_ONLY) !== 0) return;
    const removeChildren = (flags & DomainSnapshotDeleteFlags.CHILDREN) !== 0;
    await this.runTask('RemoveSnapshot_Task', snap.ref, textElement('removeChildren', removeChildren), `Could not delete snapshot '${snapshot}'`);
  }

  // ---- events ----

  subscribe(listener: DriverEventListener): () => void {
    return this.events.subscribe(listener);
  }

  private emit(vm: VmSummary, power: PowerState, event: DomainEventType, detail: number): void {
    this.events.emit(toRef({ ...vm, power }), event, detail, polledState(power));
  }
}

/** A power state as the event poll compares it. */
function polledState(power: PowerState): PolledState {
  return power === 'poweredOff' ? 'shutoff' : power === 'suspended' ? 'paused' : 'running';
}

/**
 * connect()'s entry to the ESX driver (esx:// and vpx://). The whole URI names the endpoint, the
 * user and the auth file, so connections share a login only when they name the same one;
 * parseEsxURI checks the rest when the driver opens.
 */
export const esxOpener: DriverOpener = {
  shareable: true,
  canonical: (uri) => uri.href,
  open: (uri, _resolved, options) => openEsxDriver(uri, { auth: options.auth }),
};
