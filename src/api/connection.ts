/**
 * Connection: an open hypervisor connection, with python-libvirt's method names, async.
 */
import type { DomainLifecycleEvent, HypervisorDriver, NodeInfo } from '../core/driver.js';
import { Domain } from './domain.js';
import { DomainEventID, ErrorDomain, ErrorNumber, type ConnectListAllDomainsFlags } from '../core/enums.generated.js';
import { VirError, noSupport } from '../core/errors.js';
import { parseUUID } from '../conf/values.js';

/** python-libvirt's lifecycle callback: (conn, dom, event, detail, opaque). */
export type DomainEventLifecycleCallback<T = unknown> = (
  conn: Connection,
  dom: Domain,
  event: number,
  detail: number,
  opaque: T,
) => void;

/** One lifecycle event, as the async iterator yields it. */
export interface DomainEvent {
  domain: Domain;
  /** DomainEventType. */
  event: number;
  /** The detail code for `event` (DomainEventStartedDetailType, …). */
  detail: number;
}

/** Options of {@link Connection.events}. */
export interface DomainEventsOptions {
  /** Only events of this domain. */
  domain?: Domain;
  /** Stops the iteration when aborted. */
  signal?: AbortSignal;
}

interface Registration {
  domainUUID: string | null;
  unsubscribe: () => void;
}

/** An open connection. Close it with {@link Connection.close}. */
export class Connection {
  private drv: HypervisorDriver | null;
  private readonly readonly: boolean;
  private readonly registrations = new Map<number, Registration>();
  /** Open event iterators, ended when the connection closes. */
  private readonly iterators = new Set<() => void>();
  private nextCallbackID = 1;

  /** Gives a pooled driver back instead of closing it (connect() with a pool). */
  private readonly release: (() => Promise<void>) | undefined;

  /** @internal Use {@link connect}. */
  constructor(driver: HypervisorDriver, options: { readonly: boolean; release?: () => Promise<void> }) {
    this.drv = driver;
    this.readonly = options.readonly;
    this.release = options.release;
  }

  /** @internal The driver, or VIR_ERR_INVALID_CONN once closed. */
  driverFor(api: string): HypervisorDriver {
    if (this.drv === null) {
      throw VirError.report(ErrorDomain.NONE, ErrorNumber.INVALID_CONN, api);
    }
    return this.drv;
  }

  /**
   * @internal The driver for a mutating call, or VIR_ERR_OPERATION_DENIED when read-only, from
   * the error domain of the API's module as in libvirt (VIR_FROM_DOMAIN, or
   * VIR_FROM_DOMAIN_SNAPSHOT for snapshot calls).
   */
  writableDriver(api: string, domain: ErrorDomain = ErrorDomain.DOMAIN): HypervisorDriver {
    const drv = this.driverFor(api);
    if (this.readonly) {
      throw VirError.report(domain, ErrorNumber.OPERATION_DENIED, `read only access prevents ${api}`);
    }
    return drv;
  }

  /** True when opened read-only. */
  isReadOnly(): boolean {
    return this.readonly;
  }
  /** The canonical URI of the connection. */
  getURI(): string {
    return this.driverFor('virConnectGetURI').uri;
  }
  /** The hypervisor type name: 'Test', 'QEMU', 'ESX', 'VBOX'. */
  getType(): string {
    return this.driverFor('virConnectGetType').type;
  }
  /** The host's name. */
  async getHostname(): Promise<string> {
    return this.driverFor('virConnectGetHostname').getHostname();
  }
  /** Hypervisor version, libvirt-encoded (major * 1,000,000 + minor * 1,000 + release). */
  async getVersion(): Promise<number> {
    return this.driverFor('virConnectGetVersion').getVersion();
  }
  /** tsvirt's own version, libvirt-encoded. */
  getLibVersion(): number {
    return 9_000_000;
  }
  /**
   * The capabilities XML (libvirt's capabilities format, valid against capability.rng): the host
   * (CPU, NUMA topology) and the guests the driver runs (os type, arch, emulator, domain types).
   * Errors: VIR_ERR_NO_SUPPORT when the driver cannot describe its host.
   */
  async getCapabilities(): Promise<string> {
    const drv = this.driverFor('virConnectGetCapabilities');
    if (drv.connectGetCapabilities === undefined) throw noSupport(ErrorDomain.NONE, 'virConnectGetCapabilities');
    return drv.connectGetCapabilities();
  }
  /**
   * The host's node information (virNodeGetInfo) as a record, memory in KiB.
   * Errors: VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async getNodeInfo(): Promise<NodeInfo> {
    const drv = this.driverFor('virNodeGetInfo');
    if (drv.nodeGetInfo === undefined) throw noSupport(ErrorDomain.NONE, 'virNodeGetInfo');
    return drv.nodeGetInfo();
  }
  /**
   * python-libvirt's `getInfo()`: virNodeGetInfo as a list, `[model, memory in MiB, cpus, mhz,
   * nodes, sockets, cores, threads]`. Errors: VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async getInfo(): Promise<[model: string, memoryMiB: number, cpus: number, mhz: number, nodes: number, sockets: number, cores: number, threads: number]> {
    const i = await this.getNodeInfo();
    return [i.model, Math.floor(i.memory / 1024), i.cpus, i.mhz, i.nodes, i.sockets, i.cores, i.threads];
  }
  /**
   * The host's SMBIOS information as libvirt's `<sysinfo>` XML (flags: 0).
   * Errors: VIR_ERR_NO_SUPPORT when the driver lacks it; VIR_ERR_CONFIG_UNSUPPORTED when the
   * host firmware gives none.
   */
  async getSysinfo(flags = 0): Promise<string> {
    const drv = this.driverFor('virConnectGetSysinfo');
    if (drv.connectGetSysinfo === undefined) throw noSupport(ErrorDomain.NONE, 'virConnectGetSysinfo');
    return drv.connectGetSysinfo(flags);
  }
  /** True while the connection is open and its driver answers. */
  async isAlive(): Promise<boolean> {
    return this.drv !== null && (await this.drv.isAlive());
  }
  /**
   * Closes the connection; its event registrations end with it. A driver shared through a
   * driver pool (connect()'s `pool`) closes with the last connection using it. Safe to call twice.
   */
  async close(): Promise<void> {
    const drv = this.drv;
    if (drv === null) return;
    for (const reg of this.registrations.values()) reg.unsubscribe();
    this.registrations.clear();
    this.drv = null;
    for (const finish of [...this.iterators]) finish();
    await (this.release !== undefined ? this.release() : drv.close());
  }

  /** Handles on the domains passing libvirt's filter flags (ConnectListAllDomainsFlags). */
  async listAllDomains(flags: ConnectListAllDomainsFlags | number = 0): Promise<Domain[]> {
    const refs = await this.driverFor('virConnectListAllDomains').listAllDomains(flags);
    return refs.map((r) => new Domain(this, r));
  }
  /** The number of active domains. */
  async numOfDomains(): Promise<number> {
    return this.driverFor('virConnectNumOfDomains').numOfDomains();
  }
  /** The number of inactive (defined) domains. */
  async numOfDefinedDomains(): Promise<number> {
    return this.driverFor('virConnectNumOfDefinedDomains').numOfDefinedDomains();
  }
  /** IDs of the active domains (python-libvirt's listDomainsID). */
  async listDomainsID(): Promise<number[]> {
    const refs = await this.driverFor('virConnectListDomains').listAllDomains(1);
    return refs.map((r) => r.id).sort((a, b) => a - b);
  }
  /** Names of the inactive domains (python-libvirt's listDefinedDomains). */
  async listDefinedDomains(): Promise<string[]> {
    const refs = await this.driverFor('virConnectListDefinedDomains').listAllDomains(2);
    return refs.map((r) => r.name);
  }
  /** The domain with this name. Errors: VIR_ERR_NO_DOMAIN. */
  async lookupByName(name: string): Promise<Domain> {
    return new Domain(this, await this.driverFor('virDomainLookupByName').lookupByName(name));
  }
  /** The domain with this UUID. Errors: VIR_ERR_NO_DOMAIN. */
  async lookupByUUIDString(uuid: string): Promise<Domain> {
    const drv = this.driverFor('virDomainLookupByUUIDString');
    const canonical = typeof uuid === 'string' ? parseUUID(uuid) : undefined;
    if (canonical === undefined) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, 'uuidstr in virDomainLookupByUUIDString must be a valid UUID');
    }
    return new Domain(this, await drv.lookupByUUID(canonical));
  }
  /** The active domain with this ID. Errors: VIR_ERR_NO_DOMAIN. */
  async lookupByID(id: number): Promise<Domain> {
    return new Domain(this, await this.driverFor('virDomainLookupByID').lookupByID(id));
  }
  /** Defines (or redefines) a persistent domain from XML. */
  async defineXML(xml: string): Promise<Domain> {
    return this.defineXMLFlags(xml, 0);
  }
  /**
   * Defines (or redefines) a persistent domain from XML.
   * Errors: VIR_ERR_XML_ERROR / VIR_ERR_XML_DETAIL for bad XML; VIR_ERR_OPERATION_FAILED when the
   * name or UUID belongs to another domain. On failure nothing changes.
   */
  async defineXMLFlags(xml: string, flags: number): Promise<Domain> {
    checkString(xml, 'xml', 'virDomainDefineXMLFlags');
    return new Domain(this, await this.writableDriver('virDomainDefineXMLFlags').defineXML(xml, flags));
  }
  /** Creates and starts a transient domain from XML (DomainCreateFlags: START_PAUSED). */
  async createXML(xml: string, flags = 0): Promise<Domain> {
    checkString(xml, 'xml', 'virDomainCreateXML');
    return new Domain(this, await this.writableDriver('virDomainCreateXML').createXML(xml, flags));
  }

  /**
   * Registers a lifecycle callback (VIR_DOMAIN_EVENT_ID_LIFECYCLE), for one domain or all
   * (`dom` null). Returns the callback ID for {@link Connection.domainEventDeregisterAny}.
   */
  domainEventRegisterAny<T>(
    dom: Domain | null,
    eventID: DomainEventID,
    cb: DomainEventLifecycleCallback<T>,
    opaque?: T,
  ): number {
    const drv = this.driverFor('virConnectDomainEventRegisterAny');
    if (eventID !== DomainEventID.LIFECYCLE) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, `unsupported event ID ${eventID}`);
    }
    const domainUUID = dom?.UUIDString() ?? null;
    const unsubscribe = drv.subscribe((ev) => {
      if (domainUUID !== null && ev.domain.uuid !== domainUUID) return;
      cb(this, new Domain(this, ev.domain), ev.event, ev.detail, opaque as T);
    });
    const id = this.nextCallbackID++;
    this.registrations.set(id, { domainUUID, unsubscribe });
    return id;
  }

  /** Removes a callback registered with {@link Connection.domainEventRegisterAny}. */
  domainEventDeregisterAny(callbackID: number): void {
    const reg = this.registrations.get(callbackID);
    if (reg === undefined) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, `could not find event callback ${callbackID} for deletion`);
    }
    reg.unsubscribe();
    this.registrations.delete(callbackID);
  }

  /**
   * Lifecycle events as an async iterator; events arriving between reads are queued. The
   * iteration ends when the loop breaks, the signal aborts or the connection closes.
   */
  events(options: DomainEventsOptions = {}): AsyncIterableIterator<DomainEvent> {
    const queue: DomainEvent[] = [];
    let wake: (() => void) | null = null;
    let done = false;
    const callbackID = this.domainEventRegisterAny(options.domain ?? null, DomainEventID.LIFECYCLE, (_c, dom, event, detail) => {
      queue.push({ domain: dom, event, detail });
      wake?.();
    });
    const finish = () => {
      if (done) return;
      done = true;
      this.iterators.delete(finish);
      if (this.registrations.has(callbackID)) this.domainEventDeregisterAny(callbackID);
      wake?.();
    };
    this.iterators.add(finish);
    options.signal?.addEventListener('abort', finish, { once: true });
    const iterator: AsyncIterableIterator<DomainEvent> = {
      next: async (): Promise<IteratorResult<DomainEvent>> => {
        for (;;) {
          const ev = queue.shift();
          if (ev !== undefined) return { value: ev, done: false };
          if (done || this.drv === null) return { value: undefined, done: true };
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      },
      return: async (): Promise<IteratorResult<DomainEvent>> => {
        finish();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }
}

function checkString(value: unknown, name: string, api: string): void {
  if (typeof value !== 'string') {
    throw VirError.invalidArg(ErrorDomain.DOMAIN, `${name} in ${api} must not be NULL`);
  }
}

/** @internal The event of a driver, re-exported for drivers. */
export type { DomainLifecycleEvent };
