/**
 * The remote driver: a HypervisorDriver that forwards every call over libvirt's remote protocol
 * to a daemon (tsvirtd or libvirtd) on a unix socket. The handshake is libvirt's client's
 * (AUTH_LIST with AUTH_NONE, SUPPORTS_FEATURE(keepalive), CONNECT_OPEN with the inner URI, then
 * CONNECT_GET_TYPE); errors come back as the daemon's own VirError; lifecycle events arrive
 * through one CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY registration fanned out to subscribers.
 */
import { closeSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import type {
  BlockInfo,
  BlockStats,
  DomainDeviceEvent,
  CpuStats,
  DomainStatsRecord,
  InterfaceStats,
  JobInfo,
  JobStats,
  DomainFSInfo,
  DomainInterface,
  DomainControlInfo,
  DomainInfo,
  DomainLifecycleEvent,
  DomainRef,
  DomainScreenshot,
  DomainTime,
  DriverEventListener,
  DriverOpener,
  HypervisorDriver,
  MemoryStat,
  MigrationBegin,
  MigrationFinish,
  MigrationPrepare,
  NodeInfo,
  SecurityLabel,
  SecurityModel,
  NodeStat,
  TypedParameter,
  VcpuInfo,
} from '../../core/driver.js';
import { DomainEventID, ErrorDomain, ErrorNumber, type DomainEventType, type DomainState } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import type { Frame } from '../../rpc/message.js';
import {
  DrvFeature,
  REMOTE_DOMAIN_SNAPSHOT_LIST_MAX,
  REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX,
  REMOTE_DOMAIN_BLOCK_PEEK_BUFFER_MAX,
  REMOTE_DOMAIN_MEMORY_PEEK_BUFFER_MAX,
  REMOTE_DOMAIN_GET_CPU_STATS_NCPUS_MAX,
  REMOTE_NODE_CPU_STATS_MAX,
  RemoteAuthType,
  VIR_CONNECT_RO,
  uuidFromString,
  uuidToString,
  type WireDomain,
  type WireSnapshot,
} from '../../rpc/protocol.js';
import {
  Proc,
  legacyLifecycleMsg,
  deviceEventMsg,
  metadataChangeMsg,
  lifecycleMsg,
  readOnlyRefusal,
  type ArgsOf,
  type RetOf,
  type TableProc,
} from '../../rpc/procedures.js';
import { decode } from '../../rpc/xdr.js';
import { RpcClient } from './client.js';
import { RemoteStreamChannel } from './stream.js';
import { RemoteNetworks } from './network.js';
import { parseRemoteURI } from './uri.js';
import { openTransport } from './transport.js';
import { RemoteStorage } from './storage.js';

/** How long the socket connect and each handshake call may take. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface RemoteDriverOptions {
  readonly?: boolean;
  /** Bound on connect and handshake (default 10 s, or $TSVIRT_REMOTE_TIMEOUT_MS). */
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveCount?: number;
}

/** A cpumap for the wire: bit c of byte c/8 for host CPU c. */
function packCpumap(map: readonly boolean[]): Buffer {
  const out = Buffer.alloc(Math.ceil(map.length / 8));
  map.forEach((on, c) => {
    if (on) out[c >> 3]! |= 1 << (c & 7);
  });
  return out;
}

/** libvirt's remote driver: a peek the protocol's reply could not carry. */
function peekTooLarge(kind: 'block' | 'memory', size: number, max: number): VirError {
  return VirError.report(ErrorDomain.RPC, ErrorNumber.RPC, `${kind} peek request too large for remote protocol, ${size} > ${max}`);
}
function peekMismatch(): VirError {
  return VirError.report(ErrorDomain.RPC, ErrorNumber.RPC, 'returned buffer is not same size as requested');
}
function wire(d: DomainRef): WireDomain {
  return { name: d.name, uuid: uuidFromString(d.uuid), id: d.id };
}
function ref(w: WireDomain): DomainRef {
  return { name: w.name, uuid: uuidToString(w.uuid), id: w.id };
}
function snap(d: DomainRef, name: string): WireSnapshot {
  return { name, dom: wire(d) };
}

type R<T> = Promise<T>;

/** Opens a remote connection for a `+unix` or `+tls` URI. */
export async function openRemoteDriver(uri: string, options: RemoteDriverOptions = {}): Promise<RemoteDriver> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw VirError.report(ErrorDomain.NONE, ErrorNumber.NO_CONNECT, uri);
  }
  const target = parseRemoteURI(url, { readonly: options.readonly === true });
  const envTimeout = Number(process.env.TSVIRT_REMOTE_TIMEOUT_MS);
  const timeout = options.connectTimeoutMs ?? (Number.isFinite(envTimeout) && envTimeout > 0 ? envTimeout : DEFAULT_CONNECT_TIMEOUT_MS);
  const driver = new RemoteDriver(uri);
  const client = await openTransport(target, timeout, {
    keepaliveIntervalMs: options.keepaliveIntervalMs,
    keepaliveCount: options.keepaliveCount,
    onMessage: (f) => driver.onMessage(f),
    onClose: () => driver.onClosed(),
  });
  try {
    await driver.handshake(client, target.inner, options.readonly === true, timeout);
  } catch (err) {
    client.close();
    throw err;
  }
  return driver;
}

export class RemoteDriver implements HypervisorDriver {
  type = 'remote';
  /** Relays to a daemon: a peer-to-peer Perform goes there whole. */
  readonly remote = true;
  /** The daemon's answers to CONNECT_SUPPORTS_FEATURE, asked once each. */
  private readonly features = new Map<number, Promise<boolean>>();
  /** The daemon's storage driver, through the storage procedures. */
  readonly storage: RemoteStorage = new RemoteStorage({
    call: (proc, args) => this.call(proc, args),
    streamChannel: (proc) => {
      const rpc = this.rpc;
      if (rpc === null) throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'client socket is closed');
      return new RemoteStreamChannel(rpc, proc);
    },
    callStream: (proc, args, channel) => this.callStream(proc, args, channel),
  });
  private rpc: RpcClient | null = null;
  private readonly listeners = new Set<DriverEventListener>();
  /** The daemon-side callback ID of our one lifecycle registration, once registered. */
  private callbackID: number | null = null;
  /** Registered with the legacy procedure (105): the daemon lacks REMOTE_EVENT_CALLBACK. */
  private legacyRegistered = false;
  /** Whether the daemon advertises REMOTE_EVENT_CALLBACK (14); asked at the first registration. */
  private eventCallbackFeature: boolean | null = null;
  /** A registration or deregistration in flight: later calls wait for it, so no event is missed. */
  private eventBarrier: Promise<void> = Promise.resolve();
  private closing = false;
  /** Opened with VIR_CONNECT_RO. */
  private readonly = false;

  /** The daemon's networks, through their remote procedures. */
  readonly network: RemoteNetworks;

  /** @internal Use {@link openRemoteDriver}. */
  constructor(readonly uri: string) {
    this.network = new RemoteNetworks((proc, args) => this.call(proc, args));
  }

  /** @internal */
  async handshake(rpc: RpcClient, inner: string, readonly: boolean, timeoutMs: number): Promise<void> {
    this.rpc = rpc;
    this.readonly = readonly;
    const auth = await rpc.call(Proc.AUTH_LIST, undefined, timeoutMs);
    if (auth.types.length > 0 && !auth.types.includes(RemoteAuthType.NONE)) {
      throw VirError.report(ErrorDomain.REMOTE, ErrorNumber.AUTH_FAILED, `unsupported authentication type ${auth.types[0]}`);
    }
    // Asking is how a client announces keepalive support, before CONNECT_OPEN (as virsh).
    const ka = await rpc.call(Proc.CONNECT_SUPPORTS_FEATURE, { feature: DrvFeature.PROGRAM_KEEPALIVE }, timeoutMs);
    await rpc.call(Proc.CONNECT_OPEN, { name: inner, flags: readonly ? VIR_CONNECT_RO : 0 }, timeoutMs);
    this.type = (await rpc.call(Proc.CONNECT_GET_TYPE, undefined, timeoutMs)).value;
    if (ka.supported !== 0) rpc.startKeepalive();
  }

  /**
   * One call to the daemon, typed by the procedure table. On a read-only connection a call the
   * read-only rule refuses fails here, before it goes out, as in libvirt's client library.
   */
  private async call<P extends TableProc>(proc: P, args: ArgsOf<P>): Promise<RetOf<P>> {
    if (this.readonly) {
      const refusal = readOnlyRefusal(proc);
      if (refusal !== null) throw refusal;
    }
    await this.eventBarrier;
    const rpc = this.rpc;
    if (rpc === null) throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'client socket is closed');
    return rpc.call(proc, args);
  }

  /**
   * A call that opens a stream: `channel` receives the stream's packets from before the call
   * goes out. Read-only refusal as {@link RemoteDriver.call}.
   */
  private async callStream<P extends TableProc>(proc: P, args: ArgsOf<P>, channel: RemoteStreamChannel): Promise<RetOf<P>> {
    if (this.readonly) {
      const refusal = readOnlyRefusal(proc);
      if (refusal !== null) throw refusal;
    }
    await this.eventBarrier;
    const rpc = this.rpc;
    if (rpc === null) throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'client socket is closed');
    return rpc.call(proc, args, 0, channel);
  }

  /** virDomainOpenConsole over the wire: the stream as a Duplex (see ./stream.ts). */
  async domainOpenConsole(dom: DomainRef, devName: string | null, flags: number): R<Duplex> {
    const rpc = this.rpc;
    if (rpc === null) throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'client socket is closed');
    const channel = new RemoteStreamChannel(rpc, Proc.DOMAIN_OPEN_CONSOLE);
    await this.callStream(Proc.DOMAIN_OPEN_CONSOLE, { dom: wire(dom), devName, flags }, channel);
    return channel;
  }

  /**
   * virDomainOpenGraphicsFD through the daemon: asks whether descriptors pass (as libvirt's
   * client does), then calls 343 and takes the descriptor its REPLY_WITH_FDS carries
   * (RpcClient.callWithFds).
   */
  async domainOpenGraphicsFD(dom: DomainRef, idx: number, flags: number): R<number> {
    const rpc = await this.fdRpc();
    const { fds } = await rpc.callWithFds(Proc.DOMAIN_OPEN_GRAPHICS_FD, { dom: wire(dom), idx, flags }, []);
    const [fd, ...extra] = fds;
    for (const e of extra) closeSync(e);
    if (fd === undefined) throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'No FD available at slot 0');
    return fd;
  }

  /** virDomainOpenGraphics through the daemon: CALL_WITH_FDS with `fd` (it stays the caller's). */
  async domainOpenGraphics(dom: DomainRef, idx: number, fd: number, flags: number): R<void> {
    const rpc = await this.fdRpc();
    await rpc.callWithFds(Proc.DOMAIN_OPEN_GRAPHICS, { dom: wire(dom), idx, flags }, [fd]);
  }

  /** The RPC client, once the daemon said descriptors pass (VIR_DRV_FEATURE_FD_PASSING). */
  private async fdRpc(): Promise<RpcClient> {
    const rpc = this.rpc;
    if (rpc === null) throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'client socket is closed');
    // As libvirt's client: over TLS it does not even ask (the daemon says yes to anyone).
    const supported = rpc.passesFds() ? (await rpc.call(Proc.CONNECT_SUPPORTS_FEATURE, { feature: DrvFeature.FD_PASSING })).supported : 0;
    if (supported === 0) throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.ARGUMENT_UNSUPPORTED, 'fd passing is not supported by this connection');
    return rpc;
  }

  /**
   * virDomainScreenshot over the wire: the image is read to the daemon's end of data, then the
   * stream is finished (as virsh does), and returned whole with the daemon's MIME type.
   */
  async domainScreenshot(dom: DomainRef, screen: number, flags: number): R<DomainScreenshot> {
    const rpc = this.rpc;
    if (rpc === null) throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'client socket is closed');
    const channel = new RemoteStreamChannel(rpc, Proc.DOMAIN_SCREENSHOT);
    const r = await this.callStream(Proc.DOMAIN_SCREENSHOT, { dom: wire(dom), screen, flags }, channel);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of channel.iterator({ destroyOnReturn: false })) chunks.push(chunk as Buffer);
      await new Promise<void>((resolve, reject) => {
        channel.once('error', reject);
        channel.end((err?: Error | null) => (err ? reject(err) : resolve()));
      });
    } finally {
      channel.destroy();
    }
    return { mimeType: r.mime ?? '', data: Buffer.concat(chunks) };
  }

  /** @internal An asynchronous message from the daemon. */
  onMessage(f: Frame): void {
    if (this.onDeviceMessage(f)) return;
    let msg: { dom: WireDomain; event: number; detail: number };
    try {
      if (f.header.proc === Proc.DOMAIN_EVENT_CALLBACK_LIFECYCLE) {
        const m = decode(lifecycleMsg, f.payload);
        if (m.callbackID !== this.callbackID) return;
        msg = m;
      } else if (f.header.proc === Proc.DOMAIN_EVENT_LIFECYCLE && this.legacyRegistered) {
        msg = decode(legacyLifecycleMsg, f.payload);
      } else {
        return;
      }
    } catch {
      return;
    }
    const ev: DomainLifecycleEvent = { domain: ref(msg.dom), event: msg.event as DomainEventType, detail: msg.detail };
    for (const l of [...this.listeners]) l(ev);
  }

  // Device and metadata events: one daemon registration per event ID while anyone listens.

  private readonly deviceListeners = new Set<(event: DomainDeviceEvent) => void>();
  /** The daemon's callback ID of each registered device/metadata event ID. */
  private deviceCallbacks = new Map<number, DomainDeviceEvent['eventID']>();

  subscribeDeviceEvents(listener: (event: DomainDeviceEvent) => void): () => void {
    this.deviceListeners.add(listener);
    if (this.deviceListeners.size === 1) this.syncDeviceRegistrations();
    return () => {
      if (!this.deviceListeners.delete(listener)) return;
      if (this.deviceListeners.size === 0) this.syncDeviceRegistrations();
    };
  }

  private syncDeviceRegistrations(): void {
    this.eventBarrier = this.eventBarrier.then(async () => {
      const rpc = this.rpc;
      if (rpc === null || !rpc.isOpen()) return;
      try {
        if (this.deviceListeners.size > 0 && this.deviceCallbacks.size === 0) {
          this.eventCallbackFeature ??=
            (await rpc.call(Proc.CONNECT_SUPPORTS_FEATURE, { feature: DrvFeature.REMOTE_EVENT_CALLBACK })).supported !== 0;
          // A daemon without per-callback events has no device events to send.
          if (!this.eventCallbackFeature) return;
          for (const eventID of [15, 19, 22, 23] as const) {
            const r = await rpc.call(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, { eventID, dom: null });
            this.deviceCallbacks.set(r.callbackID, eventID);
          }
        } else if (this.deviceListeners.size === 0 && this.deviceCallbacks.size > 0) {
          const ids = [...this.deviceCallbacks.keys()];
          this.deviceCallbacks = new Map();
          for (const callbackID of ids) await rpc.call(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, { callbackID });
        }
      } catch {
        // A dead socket: the calls that follow report it.
      }
    });
  }

  /** A device or metadata event message: delivered, and true; false for any other message. */
  private onDeviceMessage(f: Frame): boolean {
    const proc = f.header.proc;
    try {
      if (proc === Proc.DOMAIN_EVENT_CALLBACK_METADATA_CHANGE) {
        const m = decode(metadataChangeMsg, f.payload);
        if (this.deviceCallbacks.get(m.callbackID) === 23) this.deliverDevice({ eventID: 23, domain: ref(m.dom), type: m.type, nsuri: m.nsuri });
        return true;
      }
      if (
        proc === Proc.DOMAIN_EVENT_CALLBACK_DEVICE_ADDED ||
        proc === Proc.DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED ||
        proc === Proc.DOMAIN_EVENT_CALLBACK_DEVICE_REMOVAL_FAILED
      ) {
        const m = decode(deviceEventMsg, f.payload);
        const eventID = this.deviceCallbacks.get(m.callbackID);
        if (eventID !== undefined && eventID !== 23) this.deliverDevice({ eventID, domain: ref(m.dom), devAlias: m.devAlias });
        return true;
      }
    } catch {
      return true;
    }
    return false;
  }

  private deliverDevice(ev: DomainDeviceEvent): void {
    for (const l of [...this.deviceListeners]) l(ev);
  }

  /** @internal The socket went away. */
  onClosed(): void {
    this.deviceCallbacks = new Map();
    this.callbackID = null;
    this.legacyRegistered = false;
  }

  async close(): Promise<void> {
    const rpc = this.rpc;
    if (rpc === null || this.closing) return;
    this.closing = true;
    try {
      await this.eventBarrier;
      if (rpc.isOpen()) await rpc.call(Proc.CONNECT_CLOSE, undefined, DEFAULT_CONNECT_TIMEOUT_MS);
    } catch {
      // The daemon is gone already: closing our end is all that is left.
    } finally {
      rpc.close();
      this.rpc = null;
      this.listeners.clear();
      this.deviceListeners.clear();
    }
  }

  async getHostname(): R<string> {
    return (await this.call(Proc.CONNECT_GET_HOSTNAME, undefined)).value;
  }
  async getVersion(): R<number> {
    return (await this.call(Proc.CONNECT_GET_VERSION, undefined)).value;
  }
  async isAlive(): R<boolean> {
    return this.rpc !== null && this.rpc.isOpen();
  }
  async connectGetCapabilities(): R<string> {
    return (await this.call(Proc.CONNECT_GET_CAPABILITIES, undefined)).value;
  }
  async connectGetDomainCapabilities(emulatorbin: string | null, arch: string | null, machine: string | null, virttype: string | null, flags: number): R<string> {
    return (await this.call(Proc.CONNECT_GET_DOMAIN_CAPABILITIES, { emulatorbin, arch, machine, virttype, flags })).value;
  }
  async nodeGetSecurityModel(): R<SecurityModel> {
    const r = await this.call(Proc.NODE_GET_SECURITY_MODEL, undefined);
    return { model: r.model, doi: r.doi };
  }
  async domainGetSecurityLabel(dom: DomainRef): R<SecurityLabel> {
    const r = await this.call(Proc.DOMAIN_GET_SECURITY_LABEL, { dom: wire(dom) });
    return { label: r.label, enforcing: r.enforcing !== 0 };
  }
  async nodeGetInfo(): R<NodeInfo> {
    const r = await this.call(Proc.NODE_GET_INFO, undefined);
    return { model: r.model, memory: r.memory, cpus: r.cpus, mhz: r.mhz, nodes: r.nodes, sockets: r.sockets, cores: r.cores, threads: r.threads };
  }
  async connectGetSysinfo(flags: number): R<string> {
    return (await this.call(Proc.CONNECT_GET_SYSINFO, { flags })).value;
  }

  async connectGetMaxVcpus(type: string | null): R<number> {
    return (await this.call(Proc.CONNECT_GET_MAX_VCPUS, { type })).maxVcpus;
  }
  async nodeGetCellsFreeMemory(startCell: number, maxCells: number): R<number[]> {
    return (await this.call(Proc.NODE_GET_CELLS_FREE_MEMORY, { startCell, maxcells: maxCells })).cells;
  }
  async nodeGetFreeMemory(): R<number> {
    return (await this.call(Proc.NODE_GET_FREE_MEMORY, undefined)).freeMem;
  }
  async nodeGetCPUStats(cpuNum: number, flags: number): R<NodeStat[]> {
    // As libvirt's client: how many first, then that many.
    const { nparams } = await this.call(Proc.NODE_GET_CPU_STATS, { num: cpuNum, nparams: 0, flags });
    if (nparams <= 0) return [];
    return (await this.call(Proc.NODE_GET_CPU_STATS, { num: cpuNum, nparams, flags })).params;
  }
  async nodeGetMemoryStats(cellNum: number, flags: number): R<NodeStat[]> {
    // As libvirt's client: how many first, then that many.
    const { nparams } = await this.call(Proc.NODE_GET_MEMORY_STATS, { nparams: 0, cellNum, flags });
    if (nparams <= 0) return [];
    return (await this.call(Proc.NODE_GET_MEMORY_STATS, { nparams, cellNum, flags })).params;
  }
  async nodeGetCPUMap(flags: number): R<boolean[]> {
    const r = await this.call(Proc.NODE_GET_CPU_MAP, { needMap: 1, needOnline: 1, flags });
    return Array.from({ length: r.ret }, (_, c) => ((r.cpumap[c >> 3] ?? 0) & (1 << (c & 7))) !== 0);
  }
  async domainGetMaxVcpus(dom: DomainRef): R<number> {
    return (await this.call(Proc.DOMAIN_GET_MAX_VCPUS, { dom: wire(dom) })).num;
  }
  async domainGetVcpusFlags(dom: DomainRef, flags: number): R<number> {
    return (await this.call(Proc.DOMAIN_GET_VCPUS_FLAGS, { dom: wire(dom), flags })).num;
  }
  async domainSetVcpus(dom: DomainRef, nvcpus: number): R<void> {
    await this.call(Proc.DOMAIN_SET_VCPUS, { dom: wire(dom), nvcpus });
  }
  async domainSetVcpusFlags(dom: DomainRef, nvcpus: number, flags: number): R<void> {
    await this.call(Proc.DOMAIN_SET_VCPUS_FLAGS, { dom: wire(dom), nvcpus, flags });
  }
  async domainAttachDevice(dom: DomainRef, xml: string): R<void> {
    await this.call(Proc.DOMAIN_ATTACH_DEVICE, { dom: wire(dom), xml });
  }
  async domainAttachDeviceFlags(dom: DomainRef, xml: string, flags: number): R<void> {
    await this.call(Proc.DOMAIN_ATTACH_DEVICE_FLAGS, { dom: wire(dom), xml, flags });
  }
  async domainDetachDevice(dom: DomainRef, xml: string): R<void> {
    await this.call(Proc.DOMAIN_DETACH_DEVICE, { dom: wire(dom), xml });
  }
  async domainDetachDeviceFlags(dom: DomainRef, xml: string, flags: number): R<void> {
    await this.call(Proc.DOMAIN_DETACH_DEVICE_FLAGS, { dom: wire(dom), xml, flags });
  }
  async domainUpdateDeviceFlags(dom: DomainRef, xml: string, flags: number): R<void> {
    await this.call(Proc.DOMAIN_UPDATE_DEVICE_FLAGS, { dom: wire(dom), xml, flags });
  }
  async domainDetachDeviceAlias(dom: DomainRef, alias: string, flags: number): R<void> {
    await this.call(Proc.DOMAIN_DETACH_DEVICE_ALIAS, { dom: wire(dom), alias, flags });
  }
  async domainGetVcpus(dom: DomainRef, maxinfo: number, maxCpus: number): R<VcpuInfo[]> {
    const maplen = Math.ceil(maxCpus / 8);
    const r = await this.call(Proc.DOMAIN_GET_VCPUS, { dom: wire(dom), maxinfo, maplen });
    return r.info.map((v, i) => ({
      ...v,
      affinity: Array.from({ length: maxCpus }, (_, c) => ((r.cpumaps[i * maplen + (c >> 3)] ?? 0) & (1 << (c & 7))) !== 0),
    }));
  }
  async domainGetVcpuPinInfo(dom: DomainRef, ncpumaps: number, maxCpus: number, flags: number): R<boolean[][]> {
    const maplen = Math.ceil(maxCpus / 8);
    const r = await this.call(Proc.DOMAIN_GET_VCPU_PIN_INFO, { dom: wire(dom), ncpumaps, maplen, flags });
    return Array.from({ length: r.num }, (_, i) =>
      Array.from({ length: maxCpus }, (_, c) => ((r.cpumaps[i * maplen + (c >> 3)] ?? 0) & (1 << (c & 7))) !== 0),
    );
  }
  async domainGetSchedulerType(dom: DomainRef): R<[string, number]> {
    const r = await this.call(Proc.DOMAIN_GET_SCHEDULER_TYPE, { dom: wire(dom) });
    return [r.type, r.nparams];
  }
  async domainGetSchedulerParameters(dom: DomainRef, nparams: number, flags: number | null): R<TypedParameter[]> {
    const r =
      flags === null
        ? await this.call(Proc.DOMAIN_GET_SCHEDULER_PARAMETERS, { dom: wire(dom), nparams })
        : await this.call(Proc.DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS, { dom: wire(dom), nparams, flags });
    return r.params;
  }
  async domainSetSchedulerParameters(dom: DomainRef, params: TypedParameter[], flags: number | null): R<void> {
    if (flags === null) await this.call(Proc.DOMAIN_SET_SCHEDULER_PARAMETERS, { dom: wire(dom), params });
    else await this.call(Proc.DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS, { dom: wire(dom), params, flags });
  }
  async domainSetMemory(dom: DomainRef, memory: number): R<void> {
    await this.call(Proc.DOMAIN_SET_MEMORY, { dom: wire(dom), memory });
  }
  async domainSetMaxMemory(dom: DomainRef, memory: number): R<void> {
    await this.call(Proc.DOMAIN_SET_MAX_MEMORY, { dom: wire(dom), memory });
  }
  async domainSetMemoryFlags(dom: DomainRef, memory: number, flags: number): R<void> {
    await this.call(Proc.DOMAIN_SET_MEMORY_FLAGS, { dom: wire(dom), memory, flags });
  }
  async domainMemoryStats(dom: DomainRef, nrStats: number, flags: number): R<MemoryStat[]> {
    return (await this.call(Proc.DOMAIN_MEMORY_STATS, { dom: wire(dom), maxStats: nrStats, flags })).stats;
  }
  async domainIsUpdated(dom: DomainRef): R<boolean> {
    return (await this.call(Proc.DOMAIN_IS_UPDATED, { dom: wire(dom) })).updated !== 0;
  }
  async domainGetControlInfo(dom: DomainRef, flags: number): R<DomainControlInfo> {
    return this.call(Proc.DOMAIN_GET_CONTROL_INFO, { dom: wire(dom), flags });
  }
  async domainReset(dom: DomainRef, flags: number): R<void> {
    await this.call(Proc.DOMAIN_RESET, { dom: wire(dom), flags });
  }
  async domainSetMetadata(dom: DomainRef, type: number, metadata: string | null, key: string | null, uri: string | null, flags: number): R<void> {
    await this.call(Proc.DOMAIN_SET_METADATA, { dom: wire(dom), type, metadata, key, uri, flags });
  }
  async domainGetMetadata(dom: DomainRef, type: number, uri: string | null, flags: number): R<string> {
    return (await this.call(Proc.DOMAIN_GET_METADATA, { dom: wire(dom), type, uri, flags })).metadata;
  }
  async domainRename(dom: DomainRef, newName: string, flags: number): R<DomainRef> {
    await this.call(Proc.DOMAIN_RENAME, { dom: wire(dom), newName, flags });
    // As libvirt's remote driver: the handle takes the new name.
    return { ...dom, name: newName };
  }
  async domainPinVcpuFlags(dom: DomainRef, vcpu: number, cpumap: boolean[], flags: number | null): R<void> {
    if (flags === null) await this.call(Proc.DOMAIN_PIN_VCPU, { dom: wire(dom), vcpu, cpumap: packCpumap(cpumap) });
    else await this.call(Proc.DOMAIN_PIN_VCPU_FLAGS, { dom: wire(dom), vcpu, cpumap: packCpumap(cpumap), flags });
  }
  async domainPinEmulator(dom: DomainRef, cpumap: boolean[], flags: number): R<void> {
    await this.call(Proc.DOMAIN_PIN_EMULATOR, { dom: wire(dom), cpumap: packCpumap(cpumap), flags });
  }
  async domainGetEmulatorPinInfo(dom: DomainRef, maxCpus: number, flags: number): R<boolean[]> {
    const maplen = Math.ceil(maxCpus / 8);
    const r = await this.call(Proc.DOMAIN_GET_EMULATOR_PIN_INFO, { dom: wire(dom), maplen, flags });
    return Array.from({ length: maxCpus }, (_, c) => ((r.cpumaps[c >> 3] ?? 0) & (1 << (c & 7))) !== 0);
  }
  async domainGetFSInfo(dom: DomainRef, flags: number): R<DomainFSInfo[]> {
    return (await this.call(Proc.DOMAIN_GET_FSINFO, { dom: wire(dom), flags })).info;
  }
  async domainInterfaceAddresses(dom: DomainRef, source: number, flags: number): R<DomainInterface[]> {
    return (await this.call(Proc.DOMAIN_INTERFACE_ADDRESSES, { dom: wire(dom), source, flags })).ifaces;
  }
  async domainSave(dom: DomainRef, to: string, dxml: string | null, flags: number | null): R<void> {
    if (flags === null && dxml === null) await this.call(Proc.DOMAIN_SAVE, { dom: wire(dom), to });
    else await this.call(Proc.DOMAIN_SAVE_FLAGS, { dom: wire(dom), to, dxml, flags: flags ?? 0 });
  }
  async domainRestore(from: string, dxml: string | null, flags: number | null): R<void> {
    if (flags === null && dxml === null) await this.call(Proc.DOMAIN_RESTORE, { from });
    else await this.call(Proc.DOMAIN_RESTORE_FLAGS, { from, dxml, flags: flags ?? 0 });
  }
  async domainSaveImageGetXMLDesc(file: string, flags: number): R<string> {
    return (await this.call(Proc.DOMAIN_SAVE_IMAGE_GET_XML_DESC, { file, flags })).value;
  }
  async domainSaveImageDefineXML(file: string, dxml: string, flags: number): R<void> {
    await this.call(Proc.DOMAIN_SAVE_IMAGE_DEFINE_XML, { file, dxml, flags });
  }
  async connectGetCPUModelNames(arch: string, flags: number): R<string[]> {
    return (await this.call(Proc.CONNECT_GET_CPU_MODEL_NAMES, { arch, needResults: 1, flags })).models;
  }
  async domainGetHostname(dom: DomainRef, flags: number): R<string> {
    return (await this.call(Proc.DOMAIN_GET_HOSTNAME, { dom: wire(dom), flags })).value;
  }
  async domainGetTime(dom: DomainRef, flags: number): R<DomainTime> {
    return this.call(Proc.DOMAIN_GET_TIME, { dom: wire(dom), flags });
  }

  // Statistics, tuning, jobs and migration speed.

  async domainBlockStats(dom: DomainRef, path: string): R<BlockStats> {
    return this.call(Proc.DOMAIN_BLOCK_STATS, { dom: wire(dom), path });
  }
  async domainBlockStatsFlags(dom: DomainRef, path: string, flags: number): R<TypedParameter[]> {
    // As libvirt's client: how many first, then that many.
    const { nparams } = await this.call(Proc.DOMAIN_BLOCK_STATS_FLAGS, { dom: wire(dom), path, nparams: 0, flags });
    if (nparams <= 0) return [];
    return (await this.call(Proc.DOMAIN_BLOCK_STATS_FLAGS, { dom: wire(dom), path, nparams, flags })).params;
  }
  async domainInterfaceStats(dom: DomainRef, device: string): R<InterfaceStats> {
    return this.call(Proc.DOMAIN_INTERFACE_STATS, { dom: wire(dom), device });
  }
  async domainGetBlockInfo(dom: DomainRef, path: string, flags: number): R<BlockInfo> {
    const r = await this.call(Proc.DOMAIN_GET_BLOCK_INFO, { dom: wire(dom), path, flags });
    return { capacity: r.capacity, allocation: r.allocation, physical: r.physical };
  }
  async domainBlockResize(dom: DomainRef, disk: string, size: number, flags: number): R<void> {
    await this.call(Proc.DOMAIN_BLOCK_RESIZE, { dom: wire(dom), disk, size, flags });
  }
  // As libvirt's remote driver: a request the reply could not carry is refused before sending.
  async domainBlockPeek(dom: DomainRef, path: string, offset: number, size: number, flags: number): R<Buffer> {
    if (size > REMOTE_DOMAIN_BLOCK_PEEK_BUFFER_MAX) {
      throw peekTooLarge('block', size, REMOTE_DOMAIN_BLOCK_PEEK_BUFFER_MAX);
    }
    const { buffer } = await this.call(Proc.DOMAIN_BLOCK_PEEK, { dom: wire(dom), path, offset, size, flags });
    if (buffer.length !== size) throw peekMismatch();
    return buffer;
  }
  async domainMemoryPeek(dom: DomainRef, start: number, size: number, flags: number): R<Buffer> {
    if (size > REMOTE_DOMAIN_MEMORY_PEEK_BUFFER_MAX) {
      throw peekTooLarge('memory', size, REMOTE_DOMAIN_MEMORY_PEEK_BUFFER_MAX);
    }
    const { buffer } = await this.call(Proc.DOMAIN_MEMORY_PEEK, { dom: wire(dom), offset: start, size, flags });
    if (buffer.length !== size) throw peekMismatch();
    return buffer;
  }
  // The Get*Parameters calls ask for the protocol's most at once: a daemon answers what it has.
  async domainGetMemoryParameters(dom: DomainRef, flags: number): R<TypedParameter[]> {
    return (await this.call(Proc.DOMAIN_GET_MEMORY_PARAMETERS, { dom: wire(dom), nparams: REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX, flags })).params;
  }
  async domainSetMemoryParameters(dom: DomainRef, params: TypedParameter[], flags: number): R<void> {
    await this.call(Proc.DOMAIN_SET_MEMORY_PARAMETERS, { dom: wire(dom), params, flags });
  }
  async domainGetBlkioParameters(dom: DomainRef, flags: number): R<TypedParameter[]> {
    return (await this.call(Proc.DOMAIN_GET_BLKIO_PARAMETERS, { dom: wire(dom), nparams: REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX, flags })).params;
  }
  async domainSetBlkioParameters(dom: DomainRef, params: TypedParameter[], flags: number): R<void> {
    await this.call(Proc.DOMAIN_SET_BLKIO_PARAMETERS, { dom: wire(dom), params, flags });
  }
  async domainGetNumaParameters(dom: DomainRef, flags: number): R<TypedParameter[]> {
    return (await this.call(Proc.DOMAIN_GET_NUMA_PARAMETERS, { dom: wire(dom), nparams: REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX, flags })).params;
  }
  async domainSetNumaParameters(dom: DomainRef, params: TypedParameter[], flags: number): R<void> {
    await this.call(Proc.DOMAIN_SET_NUMA_PARAMETERS, { dom: wire(dom), params, flags });
  }
  async domainGetInterfaceParameters(dom: DomainRef, device: string, flags: number): R<TypedParameter[]> {
    const nparams = REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX;
    return (await this.call(Proc.DOMAIN_GET_INTERFACE_PARAMETERS, { dom: wire(dom), device, nparams, flags })).params;
  }
  async domainSetInterfaceParameters(dom: DomainRef, device: string, params: TypedParameter[], flags: number): R<void> {
    await this.call(Proc.DOMAIN_SET_INTERFACE_PARAMETERS, { dom: wire(dom), device, params, flags });
  }
  async domainGetCPUStats(dom: DomainRef, startCpu: number, ncpus: number, flags: number): R<CpuStats> {
    const d = wire(dom);
    const cpus = (await this.call(Proc.DOMAIN_GET_CPU_STATS, { dom: d, nparams: 0, startCpu: 0, ncpus: 0, flags })).nparams;
    const first = startCpu === -1 ? -1 : startCpu;
    const count = startCpu === -1 ? 1 : Math.max(0, Math.min(ncpus, cpus - startCpu));
    const stats: TypedParameter[][] = [];
    if (count === 0) return { cpus, stats };
    const nparams = Math.min(REMOTE_NODE_CPU_STATS_MAX, (await this.call(Proc.DOMAIN_GET_CPU_STATS, { dom: d, nparams: 0, startCpu: first, ncpus: 1, flags })).nparams);
    if (nparams <= 0) return { cpus, stats };
    // In chunks the protocol allows, as virsh asks.
    for (let at = 0; at < count; at += REMOTE_DOMAIN_GET_CPU_STATS_NCPUS_MAX) {
      const n = Math.min(REMOTE_DOMAIN_GET_CPU_STATS_NCPUS_MAX, count - at);
      const r = await this.call(Proc.DOMAIN_GET_CPU_STATS, { dom: d, nparams, startCpu: first === -1 ? -1 : first + at, ncpus: n, flags });
      const per = Math.max(1, r.nparams);
      for (let i = 0; i < r.params.length; i += per) stats.push(r.params.slice(i, i + per));
    }
    return { cpus, stats };
  }
  async connectGetAllDomainStats(doms: DomainRef[], stats: number, flags: number): R<DomainStatsRecord[]> {
    const r = await this.call(Proc.CONNECT_GET_ALL_DOMAIN_STATS, { doms: doms.map(wire), stats, flags });
    return r.retStats.map((rec) => ({ dom: ref(rec.dom), params: rec.params }));
  }
  async domainGetJobInfo(dom: DomainRef): R<JobInfo> {
    return this.call(Proc.DOMAIN_GET_JOB_INFO, { dom: wire(dom) });
  }
  async domainGetJobStats(dom: DomainRef, flags: number): R<JobStats> {
    return this.call(Proc.DOMAIN_GET_JOB_STATS, { dom: wire(dom), flags });
  }
  async domainAbortJob(dom: DomainRef): R<void> {
    await this.call(Proc.DOMAIN_ABORT_JOB, { dom: wire(dom) });
  }
  async domainMigrateGetMaxSpeed(dom: DomainRef, flags: number): R<number> {
    return (await this.call(Proc.DOMAIN_MIGRATE_GET_MAX_SPEED, { dom: wire(dom), flags })).bandwidth;
  }
  async domainMigrateSetMaxSpeed(dom: DomainRef, bandwidth: number, flags: number): R<void> {
    await this.call(Proc.DOMAIN_MIGRATE_SET_MAX_SPEED, { dom: wire(dom), bandwidth, flags });
  }

  /** VIR_DRV_SUPPORTS_FEATURE through the daemon (libvirt's remote driver asks it too). */
  async connectSupportsFeature(feature: number): R<boolean> {
    let answer = this.features.get(feature);
    if (answer === undefined) {
      answer = this.call(Proc.CONNECT_SUPPORTS_FEATURE, { feature }).then((r) => r.supported !== 0);
      this.features.set(feature, answer);
      answer.catch(() => this.features.delete(feature));
    }
    return answer;
  }
  async domainMigrateBegin3Params(dom: DomainRef, params: TypedParameter[], flags: number): R<MigrationBegin> {
    return this.call(Proc.DOMAIN_MIGRATE_BEGIN3_PARAMS, { dom: wire(dom), params, flags });
  }
  async domainMigratePrepare3Params(params: TypedParameter[], cookieIn: Buffer, flags: number): R<MigrationPrepare> {
    return this.call(Proc.DOMAIN_MIGRATE_PREPARE3_PARAMS, { params, cookieIn, flags });
  }
  async domainMigratePerform3Params(dom: DomainRef, dconnuri: string | null, params: TypedParameter[], cookieIn: Buffer, flags: number): R<Buffer> {
    return (await this.call(Proc.DOMAIN_MIGRATE_PERFORM3_PARAMS, { dom: wire(dom), dconnuri, params, cookieIn, flags })).cookieOut;
  }
  async domainMigrateFinish3Params(params: TypedParameter[], cookieIn: Buffer, flags: number, cancelled: boolean): R<MigrationFinish> {
    const r = await this.call(Proc.DOMAIN_MIGRATE_FINISH3_PARAMS, { params, cookieIn, flags, cancelled: cancelled ? 1 : 0 });
    return { dom: ref(r.dom), cookieOut: r.cookieOut };
  }
  async domainMigrateConfirm3Params(dom: DomainRef, params: TypedParameter[], cookieIn: Buffer, flags: number, cancelled: boolean): R<void> {
    await this.call(Proc.DOMAIN_MIGRATE_CONFIRM3_PARAMS, { dom: wire(dom), params, cookieIn, flags, cancelled: cancelled ? 1 : 0 });
  }

  async listAllDomains(flags: number): R<DomainRef[]> {
    const r = await this.call(Proc.CONNECT_LIST_ALL_DOMAINS, { needResults: 1, flags });
    return r.domains.map(ref);
  }
  async numOfDomains(): R<number> {
    return (await this.call(Proc.CONNECT_NUM_OF_DOMAINS, undefined)).num;
  }
  async numOfDefinedDomains(): R<number> {
    return (await this.call(Proc.CONNECT_NUM_OF_DEFINED_DOMAINS, undefined)).num;
  }
  async lookupByName(name: string): R<DomainRef> {
    return ref((await this.call(Proc.DOMAIN_LOOKUP_BY_NAME, { name })).dom);
  }
  async lookupByUUID(uuid: string): R<DomainRef> {
    return ref((await this.call(Proc.DOMAIN_LOOKUP_BY_UUID, { uuid: uuidFromString(uuid) })).dom);
  }
  async lookupByID(id: number): R<DomainRef> {
    return ref((await this.call(Proc.DOMAIN_LOOKUP_BY_ID, { id })).dom);
  }
  async defineXML(xml: string, flags: number): R<DomainRef> {
    // virDomainDefineXML goes out as DEFINE_XML, as libvirt's client sends it (older daemons lack 350).
    const r =
      flags === 0
        ? await this.call(Proc.DOMAIN_DEFINE_XML, { xml })
        : await this.call(Proc.DOMAIN_DEFINE_XML_FLAGS, { xml, flags });
    return ref(r.dom);
  }
  async createXML(xml: string, flags: number): R<DomainRef> {
    return ref((await this.call(Proc.DOMAIN_CREATE_XML, { xml, flags })).dom);
  }

  async domainCreate(dom: DomainRef, flags: number): R<DomainRef> {
    return ref((await this.call(Proc.DOMAIN_CREATE_WITH_FLAGS, { dom: wire(dom), flags })).dom);
  }
  async domainShutdown(dom: DomainRef, flags: number): R<void> {
    if (flags === 0) await this.call(Proc.DOMAIN_SHUTDOWN, { dom: wire(dom) });
    else await this.call(Proc.DOMAIN_SHUTDOWN_FLAGS, { dom: wire(dom), flags });
  }
  async domainDestroy(dom: DomainRef, flags: number): R<void> {
    if (flags === 0) await this.call(Proc.DOMAIN_DESTROY, { dom: wire(dom) });
    else await this.call(Proc.DOMAIN_DESTROY_FLAGS, { dom: wire(dom), flags });
  }
  async domainReboot(dom: DomainRef, flags: number): R<void> {
    await this.call(Proc.DOMAIN_REBOOT, { dom: wire(dom), flags });
  }
  async domainSuspend(dom: DomainRef): R<void> {
    await this.call(Proc.DOMAIN_SUSPEND, { dom: wire(dom) });
  }
  async domainResume(dom: DomainRef): R<void> {
    await this.call(Proc.DOMAIN_RESUME, { dom: wire(dom) });
  }
  async domainUndefine(dom: DomainRef, flags: number): R<void> {
    await this.call(Proc.DOMAIN_UNDEFINE_FLAGS, { dom: wire(dom), flags });
  }
  async domainIsActive(dom: DomainRef): R<boolean> {
    return (await this.call(Proc.DOMAIN_IS_ACTIVE, { dom: wire(dom) })).active !== 0;
  }
  async domainIsPersistent(dom: DomainRef): R<boolean> {
    return (await this.call(Proc.DOMAIN_IS_PERSISTENT, { dom: wire(dom) })).persistent !== 0;
  }
  async domainGetState(dom: DomainRef, flags: number): R<[state: DomainState, reason: number]> {
    const r = await this.call(Proc.DOMAIN_GET_STATE, { dom: wire(dom), flags });
    return [r.state as DomainState, r.reason];
  }
  async domainGetInfo(dom: DomainRef): R<DomainInfo> {
    const r = await this.call(Proc.DOMAIN_GET_INFO, { dom: wire(dom) });
    return { state: r.state as DomainState, maxMem: r.maxMem, memory: r.memory, nrVirtCpu: r.nrVirtCpu, cpuTime: r.cpuTime };
  }
  async domainGetXMLDesc(dom: DomainRef, flags: number): R<string> {
    return (await this.call(Proc.DOMAIN_GET_XML_DESC, { dom: wire(dom), flags })).value;
  }
  async domainGetAutostart(dom: DomainRef): R<boolean> {
    return (await this.call(Proc.DOMAIN_GET_AUTOSTART, { dom: wire(dom) })).autostart !== 0;
  }
  async domainSetAutostart(dom: DomainRef, autostart: boolean): R<void> {
    await this.call(Proc.DOMAIN_SET_AUTOSTART, { dom: wire(dom), autostart: autostart ? 1 : 0 });
  }
  async domainGetID(dom: DomainRef): R<number> {
    return (await this.lookupByUUID(dom.uuid)).id;
  }

  async managedSave(dom: DomainRef, flags: number): R<void> {
    await this.call(Proc.DOMAIN_MANAGED_SAVE, { dom: wire(dom), flags });
  }
  async hasManagedSaveImage(dom: DomainRef, flags: number): R<boolean> {
    return (await this.call(Proc.DOMAIN_HAS_MANAGED_SAVE_IMAGE, { dom: wire(dom), flags })).result !== 0;
  }
  async managedSaveRemove(dom: DomainRef, flags: number): R<void> {
    await this.call(Proc.DOMAIN_MANAGED_SAVE_REMOVE, { dom: wire(dom), flags });
  }

  async snapshotCreateXML(dom: DomainRef, xml: string, flags: number): R<string> {
    return (await this.call(Proc.DOMAIN_SNAPSHOT_CREATE_XML, { dom: wire(dom), xml, flags })).snap.name;
  }
  async snapshotNum(dom: DomainRef, flags: number): R<number> {
    return (await this.call(Proc.DOMAIN_SNAPSHOT_NUM, { dom: wire(dom), flags })).num;
  }
  async snapshotListNames(dom: DomainRef, flags: number): R<string[]> {
    const r = await this.call(Proc.DOMAIN_SNAPSHOT_LIST_NAMES, {
      dom: wire(dom),
      maxnames: REMOTE_DOMAIN_SNAPSHOT_LIST_MAX,
      flags,
    });
    return r.names;
  }
  async listAllSnapshots(dom: DomainRef, flags: number): R<string[]> {
    const r = await this.call(Proc.DOMAIN_LIST_ALL_SNAPSHOTS, { dom: wire(dom), needResults: 1, flags });
    return r.snapshots.map((s) => s.name);
  }
  async snapshotLookupByName(dom: DomainRef, name: string, flags: number): R<string> {
    return (await this.call(Proc.DOMAIN_SNAPSHOT_LOOKUP_BY_NAME, { dom: wire(dom), name, flags })).snap.name;
  }
  async snapshotCurrent(dom: DomainRef, flags: number): R<string> {
    return (await this.call(Proc.DOMAIN_SNAPSHOT_CURRENT, { dom: wire(dom), flags })).snap.name;
  }
  async hasCurrentSnapshot(dom: DomainRef, flags: number): R<boolean> {
    return (await this.call(Proc.DOMAIN_HAS_CURRENT_SNAPSHOT, { dom: wire(dom), flags })).result !== 0;
  }
  async revertToSnapshot(dom: DomainRef, snapshot: string, flags: number): R<void> {
    await this.call(Proc.DOMAIN_REVERT_TO_SNAPSHOT, { snap: snap(dom, snapshot), flags });
  }
  async snapshotGetXMLDesc(dom: DomainRef, snapshot: string, flags: number): R<string> {
    return (await this.call(Proc.DOMAIN_SNAPSHOT_GET_XML_DESC, { snap: snap(dom, snapshot), flags })).value;
  }
  async snapshotGetParent(dom: DomainRef, snapshot: string, flags: number): R<string> {
    return (await this.call(Proc.DOMAIN_SNAPSHOT_GET_PARENT, { snap: snap(dom, snapshot), flags })).snap.name;
  }
  async snapshotNumChildren(dom: DomainRef, snapshot: string, flags: number): R<number> {
    return (await this.call(Proc.DOMAIN_SNAPSHOT_NUM_CHILDREN, { snap: snap(dom, snapshot), flags })).num;
  }
  async snapshotListAllChildren(dom: DomainRef, snapshot: string, flags: number): R<string[]> {
    const r = await this.call(Proc.DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN, {
      snap: snap(dom, snapshot),
      needResults: 1,
      flags,
    });
    return r.snapshots.map((s) => s.name);
  }
  async snapshotIsCurrent(dom: DomainRef, snapshot: string, flags: number): R<boolean> {
    return (await this.call(Proc.DOMAIN_SNAPSHOT_IS_CURRENT, { snap: snap(dom, snapshot), flags })).current !== 0;
  }
  async snapshotHasMetadata(dom: DomainRef, snapshot: string, flags: number): R<boolean> {
    return (await this.call(Proc.DOMAIN_SNAPSHOT_HAS_METADATA, { snap: snap(dom, snapshot), flags })).metadata !== 0;
  }
  async snapshotDelete(dom: DomainRef, snapshot: string, flags: number): R<void> {
    await this.call(Proc.DOMAIN_SNAPSHOT_DELETE, { snap: snap(dom, snapshot), flags });
  }

  // Checkpoints (a checkpoint handle has a snapshot handle's layout: name, then domain).

  async checkpointCreateXML(dom: DomainRef, xml: string, flags: number): R<string> {
    return (await this.call(Proc.DOMAIN_CHECKPOINT_CREATE_XML, { dom: wire(dom), xml, flags })).checkpoint.name;
  }
  async listAllCheckpoints(dom: DomainRef, flags: number): R<string[]> {
    const r = await this.call(Proc.DOMAIN_LIST_ALL_CHECKPOINTS, { dom: wire(dom), needResults: 1, flags });
    return r.checkpoints.map((c) => c.name);
  }
  async checkpointListAllChildren(dom: DomainRef, checkpoint: string, flags: number): R<string[]> {
    const r = await this.call(Proc.DOMAIN_CHECKPOINT_LIST_ALL_CHILDREN, { checkpoint: snap(dom, checkpoint), needResults: 1, flags });
    return r.checkpoints.map((c) => c.name);
  }
  async checkpointLookupByName(dom: DomainRef, name: string, flags: number): R<string> {
    return (await this.call(Proc.DOMAIN_CHECKPOINT_LOOKUP_BY_NAME, { dom: wire(dom), name, flags })).checkpoint.name;
  }
  async checkpointGetParent(dom: DomainRef, checkpoint: string, flags: number): R<string> {
    return (await this.call(Proc.DOMAIN_CHECKPOINT_GET_PARENT, { checkpoint: snap(dom, checkpoint), flags })).checkpoint.name;
  }
  async checkpointGetXMLDesc(dom: DomainRef, checkpoint: string, flags: number): R<string> {
    return (await this.call(Proc.DOMAIN_CHECKPOINT_GET_XML_DESC, { checkpoint: snap(dom, checkpoint), flags })).value;
  }
  async checkpointDelete(dom: DomainRef, checkpoint: string, flags: number): R<void> {
    await this.call(Proc.DOMAIN_CHECKPOINT_DELETE, { checkpoint: snap(dom, checkpoint), flags });
  }

  /**
   * The first subscriber registers one lifecycle callback with the daemon; the last one to leave
   * deregisters it. Calls issued after subscribe() wait for the registration, so every event
   * their effects raise is delivered.
   */
  subscribe(listener: DriverEventListener): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.syncRegistration();
    return () => {
      if (!this.listeners.delete(listener)) return;
      if (this.listeners.size === 0) this.syncRegistration();
    };
  }

  /** Brings the daemon-side registration in line with whether anyone listens. */
  private syncRegistration(): void {
    this.eventBarrier = this.eventBarrier.then(async () => {
      const rpc = this.rpc;
      if (rpc === null || !rpc.isOpen()) return;
      const want = this.listeners.size > 0;
      try {
        const registered = this.callbackID !== null || this.legacyRegistered;
        if (want && !registered) {
          // As libvirt's client: the per-callback procedures when the daemon has them (libvirt
          // 1.2.1 and later), else the legacy lifecycle registration.
          this.eventCallbackFeature ??=
            (await rpc.call(Proc.CONNECT_SUPPORTS_FEATURE, { feature: DrvFeature.REMOTE_EVENT_CALLBACK })).supported !== 0;
          if (this.eventCallbackFeature) {
            const r = await rpc.call(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, {
              eventID: DomainEventID.LIFECYCLE,
              dom: null,
            });
            this.callbackID = r.callbackID;
          } else {
            await rpc.call(Proc.CONNECT_DOMAIN_EVENT_REGISTER, undefined);
            this.legacyRegistered = true;
          }
        } else if (!want && this.legacyRegistered) {
          this.legacyRegistered = false;
          await rpc.call(Proc.CONNECT_DOMAIN_EVENT_DEREGISTER, undefined);
        } else if (!want && this.callbackID !== null) {
          const id = this.callbackID;
          this.callbackID = null;
          await rpc.call(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, { callbackID: id });
        }
      } catch {
        // A dead socket: the calls that follow report it.
      }
    });
  }
}

/**
 * connect()'s entry to the remote driver (`test+unix:`, `qemu+unix:`). Never shared: each
 * connection is its own connection to the daemon, with its own read-only flag.
 */
export const remoteOpener: DriverOpener = {
  shareable: false,
  canonical: (_uri, resolved) => resolved,
  open: (_uri, resolved, options) => openRemoteDriver(resolved, { readonly: options.readonly }),
};
