/**
 * One handler per remote procedure: decode nothing (the table did), call tsvirt's public API on
 * the client's Connection, return the reply value. Each handler's argument and reply types come
 * from its entry in the procedure table (src/rpc/procedures.ts). Errors propagate as VirError and
 * become error replies. Handlers never touch the socket.
 */
import { Domain, DomainCheckpoint, DomainSnapshot, Network, VirError, type Connection, type Stream } from '../index.js';
import type { DomainRef, TypedParameter } from '../core/driver.js';
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { fdPassingUnavailable } from '../core/fdpass.js';
import { STORAGE_HANDLERS } from './handlers-storage.js';
import {
  MIGRATION_FEATURES,
  migrateBegin3Params,
  migrateConfirm3Params,
  migrateFinish3Params,
  migratePerform3Params,
  migratePrepare3Params,
  migrationFeature,
} from '../api/migration.js';
import { Proc, REMOTE_CONNECT_CPU_MODELS_MAX, REMOTE_DOMAIN_FSINFO_MAX, REMOTE_DOMAIN_INTERFACE_MAX, type ArgsOf, type RetOf, type TableProc } from '../rpc/procedures.js';
import {
  DrvFeature,
  REMOTE_CPUMAPS_MAX,
  REMOTE_DOMAIN_ID_LIST_MAX,
  REMOTE_DOMAIN_MEMORY_STATS_MAX,
  REMOTE_DOMAIN_SCHEDULER_PARAMETERS_MAX,
  REMOTE_DOMAIN_BLKIO_PARAMETERS_MAX,
  REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX,
  REMOTE_DOMAIN_NUMA_PARAMETERS_MAX,
  REMOTE_DOMAIN_INTERFACE_PARAMETERS_MAX,
  REMOTE_DOMAIN_BLOCK_STATS_PARAMETERS_MAX,
  REMOTE_DOMAIN_BLOCK_PEEK_BUFFER_MAX,
  REMOTE_DOMAIN_MEMORY_PEEK_BUFFER_MAX,
  REMOTE_DOMAIN_GET_CPU_STATS_NCPUS_MAX,
  REMOTE_DOMAIN_LIST_MAX,
  TypedParamType,
  REMOTE_NODE_CPU_STATS_MAX,
  REMOTE_NODE_MEMORY_STATS_MAX,
  REMOTE_NODE_MAX_CELLS,
  REMOTE_VCPUINFO_MAX,
  REMOTE_DOMAIN_NAME_LIST_MAX,
  REMOTE_DOMAIN_SNAPSHOT_LIST_MAX,
  REMOTE_DOMAIN_CHECKPOINT_LIST_MAX,
  REMOTE_NETWORK_DHCP_LEASES_MAX,
  REMOTE_NETWORK_LIST_MAX,
  REMOTE_NETWORK_NAME_LIST_MAX,
  RemoteAuthType,
  uuidFromString,
  uuidToString,
  type WireDomain,
  type WireSnapshot,
  type WireCheckpoint,
  type WireNetwork,
} from '../rpc/protocol.js';

/** What a handler may ask of its client. */
export interface HandlerContext {
  /** The open Connection; VIR_ERR_INTERNAL_ERROR "hypervisor connection not open" otherwise. */
  conn(): Connection;
  open(name: string | null, flags: number): Promise<void>;
  close(): Promise<void>;
  registerEvent(eventID: number, dom: WireDomain | null): number;
  deregisterEvent(callbackID: number): void;
  /**
   * The legacy lifecycle registration (proc 105), one per client: events go out as proc 107.
   * A second: VIR_ERR_INVALID_ARG "event callback already tracked", as libvirtd.
   */
  registerLegacyEvent(): void;
  /** Proc 106: VIR_ERR_INTERNAL_ERROR "domain event 0 not registered" without a registration. */
  deregisterLegacyEvent(): void;
  /** Whether this daemon advertises a VIR_DRV_FEATURE_* to this client. */
  supportsFeature(feature: number): boolean;
  /** The client asked for keepalive (feature 10). */
  wantsKeepalive(): void;
  /**
   * A new stream for the call being served (a procedure marked STREAM in the table): once the
   * handler has bound it and the OK reply has gone out, the client's STREAM packets on the call's
   * serial are its data. Unbound, or after an error reply, it is dropped. VIR_ERR_OPERATION_FAILED
   * when the client holds its limit of streams.
   */
  callStream(): Stream;
  /**
   * Descriptor `slot` received with the call (CALL_WITH_FDS); the daemon closes it after the
   * call. VIR_ERR_INTERNAL_ERROR "No FD available at slot N" when it did not arrive (libvirtd's
   * words), as when libuv read the call and the kernel dropped the descriptor.
   */
  callFd(slot: number): number;
  /** Sends `fd` with the call's reply (REPLY_WITH_FDS), then closes it; closed on an error reply too. */
  replyFd(fd: number): void;
  /** Whether descriptors pass on this client's socket (the fdpass addon is loaded). */
  canPassFds(): boolean;
}

/** The handler of procedure `P`: exactly its arguments in, exactly its reply value out. */
export type Handler<P extends TableProc> = (ctx: HandlerContext, args: ArgsOf<P>) => Promise<RetOf<P>>;
/** One handler for every procedure of the table; a missing or mismatched one does not compile. */
export type HandlerTable = { [P in TableProc]: Handler<P> };

/** A wire domain from a tsvirt handle. */
export function wireDomain(d: Domain | DomainRef): WireDomain {
  const ref = d instanceof Domain ? d.ref : d;
  return { name: ref.name, uuid: uuidFromString(ref.uuid), id: ref.id };
}

/**
 * A tsvirt handle for a wire domain. Like libvirtd's get_nonnull_domain, it builds the handle
 * from the name, UUID and ID the client holds, without a lookup: the driver resolves it by UUID
 * on each call and answers VIR_ERR_NO_DOMAIN itself when it is gone.
 */
function domainOf(ctx: HandlerContext, w: WireDomain): Domain {
  return new Domain(ctx.conn(), { name: w.name, uuid: uuidToString(w.uuid), id: w.id });
}
function snapshotOf(ctx: HandlerContext, w: WireSnapshot): DomainSnapshot {
  return new DomainSnapshot(domainOf(ctx, w.dom), w.name);
}
function wireSnapshot(s: DomainSnapshot): WireSnapshot {
  return { name: s.getName(), dom: wireDomain(s.getDomain()) };
}
function checkpointOf(ctx: HandlerContext, w: WireCheckpoint): DomainCheckpoint {
  return new DomainCheckpoint(domainOf(ctx, w.dom), w.name);
}
function wireCheckpoint(c: DomainCheckpoint): WireCheckpoint {
  return { name: c.getName(), dom: wireDomain(c.getDomain()) };
}
function wireNetwork(n: Network): WireNetwork {
  return { name: n.ref.name, uuid: uuidFromString(n.ref.uuid) };
}
/** A tsvirt handle for a wire network, without a lookup (as domainOf). */
function networkOf(ctx: HandlerContext, w: WireNetwork): Network {
  return new Network(ctx.conn(), { name: w.name, uuid: uuidToString(w.uuid) });
}
/** VIR_ERR_MIGRATE_FINISH_OK "migration successfully aborted", from the driver's error domain. */
function migrationAborted(conn: Connection): VirError {
  const domain = conn.getType() === 'QEMU' ? ErrorDomain.QEMU : ErrorDomain.DOMAIN;
  return new VirError({ code: ErrorNumber.MIGRATE_FINISH_OK, domain, message: 'migration successfully aborted', str1: 'migration successfully aborted' });
}
function tooMany(what: string, n: number, max: number): VirError {
  return VirError.report(ErrorDomain.RPC, ErrorNumber.RPC, `too many remote ${what}: ${n} > ${max}`);
}
/** A fresh handle (current ID) after a call that may change it. */
async function refreshed(ctx: HandlerContext, d: Domain): Promise<WireDomain> {
  return wireDomain(await ctx.conn().lookupByUUIDString(d.UUIDString()));
}

/** libvirtd's refusal of an argument beyond the protocol's limit ("maxinfo > REMOTE_VCPUINFO_MAX"). */
function overLimit(what: string): VirError {
  return VirError.report(ErrorDomain.RPC, ErrorNumber.RPC, what);
}
/** python-libvirt's memory stat names back to virDomainMemoryStatTags, in libvirt's order. */
const MEMORY_STAT_TAGS: Readonly<Record<string, number>> = {
  swap_in: 0,
  swap_out: 1,
  major_fault: 2,
  minor_fault: 3,
  unused: 4,
  available: 5,
  actual: 6,
  rss: 7,
  usable: 8,
  last_update: 9,
  disk_caches: 10,
  hugetlb_pgalloc: 11,
  hugetlb_pgfail: 12,
};
/** Affinity lists as libvirt's cpumaps: `maplen` bytes per vCPU, bit c of byte c/8 for host CPU c. */
function packCpumaps(maps: boolean[][], maxinfo: number, maplen: number): Buffer {
  const out = Buffer.alloc(maxinfo * maplen);
  maps.forEach((m, v) =>
    m.forEach((on, c) => {
      if (on && c < maplen * 8) out[v * maplen + (c >> 3)]! |= 1 << (c & 7);
    }),
  );
  return out;
}

/** VIR_TYPED_PARAM_STRING_OKAY: the client takes string parameters. */
const STRING_OKAY = 4;
/**
 * A Get*Parameters answer as libvirtd gives it: asked with nparams 0, how many there are and no
 * values; else at most `nparams` of them, string ones left out unless the client takes them.
 */
function paramsReply(all: TypedParameter[], nparams: number, flags: number): { params: TypedParameter[]; nparams: number } {
  if (nparams <= 0) return { params: [], nparams: all.length };
  const params = all.slice(0, nparams).filter((p) => (flags & STRING_OKAY) !== 0 || p.type !== TypedParamType.STRING);
  return { params, nparams: params.length };
}
function paramsLimit(nparams: number, max: number): void {
  if (nparams > max) throw overLimit('nparams too large');
}
/**
 * libvirt's test driver answers how many tuning parameters it has (nparams 0) before it even
 * looks the domain up; virsh's messages tell the two calls apart, so tsvirtd answers the same.
 */
const TEST_PARAM_COUNTS = { memory: 3, blkio: 6, numa: 2, interface: 7 } as const;
function testCount(ctx: HandlerContext, nparams: number, which: keyof typeof TEST_PARAM_COUNTS): { params: TypedParameter[]; nparams: number } | null {
  if (nparams !== 0 || ctx.conn().getType() !== 'TEST') return null;
  return { params: [], nparams: TEST_PARAM_COUNTS[which] };
}

/** A cpumap off the wire: one entry per bit. */
function unpackCpumap(map: Buffer): boolean[] {
  return Array.from({ length: map.length * 8 }, (_, c) => ((map[c >> 3] ?? 0) & (1 << (c & 7))) !== 0);
}

export const HANDLERS: HandlerTable = {
  [Proc.CONNECT_OPEN]: async (ctx, a) => ctx.open(a.name, a.flags),
  [Proc.CONNECT_CLOSE]: async (ctx) => ctx.close(),
  [Proc.AUTH_LIST]: async () => ({ types: [RemoteAuthType.NONE] }),
  [Proc.CONNECT_SUPPORTS_FEATURE]: async (ctx, a) => {
    if (a.feature === DrvFeature.PROGRAM_KEEPALIVE) {
      // Asking is how a client announces keepalive support (before CONNECT_OPEN).
      ctx.wantsKeepalive();
      return { supported: 1 };
    }
    const conn = ctx.conn();
    // The migration features are the driver's (libvirtd asks its driver too).
    if (MIGRATION_FEATURES.has(a.feature)) return { supported: (await migrationFeature(conn, a.feature)) ? 1 : 0 };
    return { supported: ctx.supportsFeature(a.feature) ? 1 : 0 };
  },
  [Proc.CONNECT_GET_TYPE]: async (ctx) => ({ value: ctx.conn().getType() }),
  [Proc.CONNECT_GET_VERSION]: async (ctx) => ({ value: await ctx.conn().getVersion() }),
  [Proc.CONNECT_GET_LIB_VERSION]: async (ctx) => ({ value: ctx.conn().getLibVersion() }),
  [Proc.CONNECT_GET_HOSTNAME]: async (ctx) => ({ value: await ctx.conn().getHostname() }),
  [Proc.CONNECT_GET_URI]: async (ctx) => ({ value: ctx.conn().getURI() }),
  // The driver describes its host: libvirt's fixed test host for test:///, this machine for qemu.
  [Proc.NODE_GET_INFO]: async (ctx) => ctx.conn().getNodeInfo(),
  [Proc.CONNECT_GET_CAPABILITIES]: async (ctx) => ({ value: await ctx.conn().getCapabilities() }),
  [Proc.CONNECT_GET_DOMAIN_CAPABILITIES]: async (ctx, a) => ({
    value: await ctx.conn().getDomainCapabilities(a.emulatorbin, a.arch, a.machine, a.virttype, a.flags),
  }),
  [Proc.CONNECT_GET_SYSINFO]: async (ctx, a) => ({ value: await ctx.conn().getSysinfo(a.flags) }),
  [Proc.CONNECT_IS_SECURE]: async (ctx) => (ctx.conn(), { secure: 1 }), // unix sockets only
  // The driver's capabilities' <secmodel>: qemu 'none'/'0' as libvirtd's qemu:///session; none on test:///.
  [Proc.NODE_GET_SECURITY_MODEL]: async (ctx) => ctx.conn().getSecurityModel(),
  [Proc.DOMAIN_GET_SECURITY_LABEL]: async (ctx, a) => {
    const { label, enforcing } = await domainOf(ctx, a.dom).securityLabel();
    return { label, enforcing: enforcing ? 1 : 0 };
  },
  [Proc.CONNECT_REGISTER_CLOSE_CALLBACK]: async (ctx) => void ctx.conn(),
  [Proc.CONNECT_UNREGISTER_CLOSE_CALLBACK]: async (ctx) => void ctx.conn(),

  [Proc.CONNECT_NUM_OF_DOMAINS]: async (ctx) => ({ num: await ctx.conn().numOfDomains() }),
  [Proc.CONNECT_NUM_OF_DEFINED_DOMAINS]: async (ctx) => ({ num: await ctx.conn().numOfDefinedDomains() }),
  [Proc.CONNECT_LIST_DOMAINS]: async (ctx, a) => {
    if (a.maxids > REMOTE_DOMAIN_ID_LIST_MAX) throw tooMany('domain IDs', a.maxids, REMOTE_DOMAIN_ID_LIST_MAX);
    return { ids: (await ctx.conn().listDomainsID()).slice(0, Math.max(0, a.maxids)) };
  },
  [Proc.CONNECT_LIST_DEFINED_DOMAINS]: async (ctx, a) => {
    if (a.maxnames > REMOTE_DOMAIN_NAME_LIST_MAX) throw tooMany('domain names', a.maxnames, REMOTE_DOMAIN_NAME_LIST_MAX);
    return { names: (await ctx.conn().listDefinedDomains()).slice(0, Math.max(0, a.maxnames)) };
  },
  [Proc.CONNECT_LIST_ALL_DOMAINS]: async (ctx, a) => {
    const doms = await ctx.conn().listAllDomains(a.flags);
    return { domains: a.needResults !== 0 ? doms.map(wireDomain) : [], ret: doms.length };
  },
  [Proc.DOMAIN_LOOKUP_BY_ID]: async (ctx, a) => ({ dom: wireDomain(await ctx.conn().lookupByID(a.id)) }),
  [Proc.DOMAIN_LOOKUP_BY_NAME]: async (ctx, a) => ({ dom: wireDomain(await ctx.conn().lookupByName(a.name)) }),
  [Proc.DOMAIN_LOOKUP_BY_UUID]: async (ctx, a) => ({ dom: wireDomain(await ctx.conn().lookupByUUIDString(uuidToString(a.uuid))) }),
  [Proc.DOMAIN_DEFINE_XML]: async (ctx, a) => ({ dom: wireDomain(await ctx.conn().defineXML(a.xml)) }),
  [Proc.DOMAIN_DEFINE_XML_FLAGS]: async (ctx, a) => ({ dom: wireDomain(await ctx.conn().defineXMLFlags(a.xml, a.flags)) }),
  [Proc.DOMAIN_CREATE_XML]: async (ctx, a) => ({ dom: wireDomain(await ctx.conn().createXML(a.xml, a.flags)) }),
  [Proc.DOMAIN_CREATE]: async (ctx, a) => void (await domainOf(ctx, a.dom).create()),
  [Proc.DOMAIN_CREATE_WITH_FLAGS]: async (ctx, a) => {
    const d = domainOf(ctx, a.dom);
    await d.createWithFlags(a.flags);
    return { dom: await refreshed(ctx, d) };
  },
  [Proc.DOMAIN_DESTROY]: async (ctx, a) => void (await domainOf(ctx, a.dom).destroy()),
  [Proc.DOMAIN_DESTROY_FLAGS]: async (ctx, a) => void (await domainOf(ctx, a.dom).destroyFlags(a.flags)),
  [Proc.DOMAIN_SHUTDOWN]: async (ctx, a) => void (await domainOf(ctx, a.dom).shutdown()),
  [Proc.DOMAIN_SHUTDOWN_FLAGS]: async (ctx, a) => void (await domainOf(ctx, a.dom).shutdownFlags(a.flags)),
  [Proc.DOMAIN_REBOOT]: async (ctx, a) => void (await domainOf(ctx, a.dom).reboot(a.flags)),
  [Proc.DOMAIN_SUSPEND]: async (ctx, a) => void (await domainOf(ctx, a.dom).suspend()),
  [Proc.DOMAIN_RESUME]: async (ctx, a) => void (await domainOf(ctx, a.dom).resume()),
  [Proc.DOMAIN_UNDEFINE]: async (ctx, a) => void (await domainOf(ctx, a.dom).undefine()),
  [Proc.DOMAIN_UNDEFINE_FLAGS]: async (ctx, a) => void (await domainOf(ctx, a.dom).undefineFlags(a.flags)),
  [Proc.DOMAIN_IS_ACTIVE]: async (ctx, a) => ({ active: (await domainOf(ctx, a.dom).isActive()) ? 1 : 0 }),
  [Proc.DOMAIN_IS_PERSISTENT]: async (ctx, a) => ({ persistent: (await domainOf(ctx, a.dom).isPersistent()) ? 1 : 0 }),
  [Proc.DOMAIN_GET_STATE]: async (ctx, a) => {
    const [state, reason] = await domainOf(ctx, a.dom).state(a.flags);
    return { state, reason };
  },
  [Proc.DOMAIN_GET_INFO]: async (ctx, a) => domainOf(ctx, a.dom).getInfo(),
  [Proc.DOMAIN_GET_MAX_MEMORY]: async (ctx, a) => ({ value: (await domainOf(ctx, a.dom).getInfo()).maxMem }),
  [Proc.DOMAIN_GET_OS_TYPE]: async (ctx, a) => {
    // libvirt's test driver answers "linux" whatever the XML says (virsh dominfo shows it).
    if (ctx.conn().getType() === 'TEST') {
      await domainOf(ctx, a.dom).isActive(); // still VIR_ERR_NO_DOMAIN for a stale handle
      return { value: 'linux' };
    }
    const xmlDesc = await domainOf(ctx, a.dom).XMLDesc(0);
    const m = /<os\b[^>]*>[\s\S]*?<type\b[^>]*>\s*([^<\s]+)\s*<\/type>/.exec(xmlDesc);
    return { value: m?.[1] ?? 'linux' };
  },
  [Proc.DOMAIN_GET_XML_DESC]: async (ctx, a) => ({ value: await domainOf(ctx, a.dom).XMLDesc(a.flags) }),
  [Proc.DOMAIN_GET_AUTOSTART]: async (ctx, a) => ({ autostart: (await domainOf(ctx, a.dom).autostart()) ? 1 : 0 }),
  [Proc.DOMAIN_SET_AUTOSTART]: async (ctx, a) => void (await domainOf(ctx, a.dom).setAutostart(a.autostart !== 0)),

  [Proc.DOMAIN_MANAGED_SAVE]: async (ctx, a) => void (await domainOf(ctx, a.dom).managedSave(a.flags)),
  [Proc.DOMAIN_HAS_MANAGED_SAVE_IMAGE]: async (ctx, a) => ({ result: (await domainOf(ctx, a.dom).hasManagedSaveImage(a.flags)) ? 1 : 0 }),
  [Proc.DOMAIN_MANAGED_SAVE_REMOVE]: async (ctx, a) => void (await domainOf(ctx, a.dom).managedSaveRemove(a.flags)),

  [Proc.DOMAIN_SNAPSHOT_CREATE_XML]: async (ctx, a) => ({
    snap: wireSnapshot(await domainOf(ctx, a.dom).snapshotCreateXML(a.xml, a.flags)),
  }),
  [Proc.DOMAIN_SNAPSHOT_GET_XML_DESC]: async (ctx, a) => ({ value: await snapshotOf(ctx, a.snap).getXMLDesc(a.flags) }),
  [Proc.DOMAIN_SNAPSHOT_NUM]: async (ctx, a) => ({ num: await domainOf(ctx, a.dom).snapshotNum(a.flags) }),
  [Proc.DOMAIN_SNAPSHOT_LIST_NAMES]: async (ctx, a) => {
    if (a.maxnames > REMOTE_DOMAIN_SNAPSHOT_LIST_MAX) {
      throw tooMany('domain snapshot names', a.maxnames, REMOTE_DOMAIN_SNAPSHOT_LIST_MAX);
    }
    const names = await domainOf(ctx, a.dom).snapshotListNames(a.flags);
    return { names: names.slice(0, Math.max(0, a.maxnames)) };
  },
  [Proc.DOMAIN_LIST_ALL_SNAPSHOTS]: async (ctx, a) => {
    const snaps = await domainOf(ctx, a.dom).listAllSnapshots(a.flags);
    if (a.needResults !== 0 && snaps.length > REMOTE_DOMAIN_SNAPSHOT_LIST_MAX) {
      throw tooMany('domain snapshots', snaps.length, REMOTE_DOMAIN_SNAPSHOT_LIST_MAX);
    }
    return { snapshots: a.needResults !== 0 ? snaps.map(wireSnapshot) : [], ret: snaps.length };
  },
  [Proc.DOMAIN_SNAPSHOT_LOOKUP_BY_NAME]: async (ctx, a) => ({
    snap: wireSnapshot(await domainOf(ctx, a.dom).snapshotLookupByName(a.name, a.flags)),
  }),
  [Proc.DOMAIN_HAS_CURRENT_SNAPSHOT]: async (ctx, a) => ({ result: (await domainOf(ctx, a.dom).hasCurrentSnapshot(a.flags)) ? 1 : 0 }),
  [Proc.DOMAIN_SNAPSHOT_CURRENT]: async (ctx, a) => ({ snap: wireSnapshot(await domainOf(ctx, a.dom).snapshotCurrent(a.flags)) }),
  [Proc.DOMAIN_REVERT_TO_SNAPSHOT]: async (ctx, a) => void (await snapshotOf(ctx, a.snap).revert(a.flags)),
  [Proc.DOMAIN_SNAPSHOT_DELETE]: async (ctx, a) => void (await snapshotOf(ctx, a.snap).delete(a.flags)),
  [Proc.DOMAIN_SNAPSHOT_GET_PARENT]: async (ctx, a) => ({ snap: wireSnapshot(await snapshotOf(ctx, a.snap).getParent(a.flags)) }),
  [Proc.DOMAIN_SNAPSHOT_NUM_CHILDREN]: async (ctx, a) => ({ num: await snapshotOf(ctx, a.snap).numChildren(a.flags) }),
  [Proc.DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES]: async (ctx, a) => {
    if (a.maxnames > REMOTE_DOMAIN_SNAPSHOT_LIST_MAX) {
      throw tooMany('domain snapshot names', a.maxnames, REMOTE_DOMAIN_SNAPSHOT_LIST_MAX);
    }
    const children = await snapshotOf(ctx, a.snap).listAllChildren(a.flags);
    return { names: children.map((c) => c.getName()).slice(0, Math.max(0, a.maxnames)) };
  },
  [Proc.DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN]: async (ctx, a) => {
    const children = await snapshotOf(ctx, a.snap).listAllChildren(a.flags);
    if (a.needResults !== 0 && children.length > REMOTE_DOMAIN_SNAPSHOT_LIST_MAX) {
      throw tooMany('domain snapshots', children.length, REMOTE_DOMAIN_SNAPSHOT_LIST_MAX);
    }
    return { snapshots: a.needResults !== 0 ? children.map(wireSnapshot) : [], ret: children.length };
  },
  [Proc.DOMAIN_SNAPSHOT_IS_CURRENT]: async (ctx, a) => ({ current: (await snapshotOf(ctx, a.snap).isCurrent(a.flags)) ? 1 : 0 }),
  [Proc.DOMAIN_SNAPSHOT_HAS_METADATA]: async (ctx, a) => ({ metadata: (await snapshotOf(ctx, a.snap).hasMetadata(a.flags)) ? 1 : 0 }),

  // Streams: the public API binds the call's stream to the driver's channel; the client carries it.
  [Proc.DOMAIN_OPEN_CONSOLE]: async (ctx, a) => {
    const stream = ctx.callStream();
    await domainOf(ctx, a.dom).openConsole(a.devName, stream, a.flags);
  },
  [Proc.DOMAIN_SCREENSHOT]: async (ctx, a) => {
    const stream = ctx.callStream();
    return { mime: await domainOf(ctx, a.dom).screenshot(stream, a.screen, a.flags) };
  },
  // File descriptors: through the client's unix socket (SCM_RIGHTS), as libvirtd.
  [Proc.DOMAIN_OPEN_GRAPHICS_FD]: async (ctx, a) => {
    if (!ctx.canPassFds()) throw fdPassingUnavailable(ErrorDomain.DOMAIN, 'virDomainOpenGraphicsFD');
    ctx.replyFd(await domainOf(ctx, a.dom).openGraphicsFD(a.idx, a.flags));
  },
  [Proc.DOMAIN_OPEN_GRAPHICS]: async (ctx, a) => {
    if (!ctx.canPassFds()) throw fdPassingUnavailable(ErrorDomain.DOMAIN, 'virDomainOpenGraphics');
    await domainOf(ctx, a.dom).openGraphics(a.idx, ctx.callFd(0), a.flags);
  },
  // Checkpoints.
  [Proc.DOMAIN_CHECKPOINT_CREATE_XML]: async (ctx, a) => ({
    checkpoint: wireCheckpoint(await domainOf(ctx, a.dom).checkpointCreateXML(a.xml, a.flags)),
  }),
  [Proc.DOMAIN_CHECKPOINT_GET_XML_DESC]: async (ctx, a) => ({ value: await checkpointOf(ctx, a.checkpoint).getXMLDesc(a.flags) }),
  [Proc.DOMAIN_LIST_ALL_CHECKPOINTS]: async (ctx, a) => {
    const cps = await domainOf(ctx, a.dom).listAllCheckpoints(a.flags);
    if (a.needResults !== 0 && cps.length > REMOTE_DOMAIN_CHECKPOINT_LIST_MAX) {
      throw tooMany('domain checkpoints', cps.length, REMOTE_DOMAIN_CHECKPOINT_LIST_MAX);
    }
    return { checkpoints: a.needResults !== 0 ? cps.map(wireCheckpoint) : [], ret: cps.length };
  },
  [Proc.DOMAIN_CHECKPOINT_LIST_ALL_CHILDREN]: async (ctx, a) => {
    const cps = await checkpointOf(ctx, a.checkpoint).listAllChildren(a.flags);
    if (a.needResults !== 0 && cps.length > REMOTE_DOMAIN_CHECKPOINT_LIST_MAX) {
      throw tooMany('domain checkpoints', cps.length, REMOTE_DOMAIN_CHECKPOINT_LIST_MAX);
    }
    return { checkpoints: a.needResults !== 0 ? cps.map(wireCheckpoint) : [], ret: cps.length };
  },
  [Proc.DOMAIN_CHECKPOINT_LOOKUP_BY_NAME]: async (ctx, a) => ({
    checkpoint: wireCheckpoint(await domainOf(ctx, a.dom).checkpointLookupByName(a.name, a.flags)),
  }),
  [Proc.DOMAIN_CHECKPOINT_GET_PARENT]: async (ctx, a) => ({
    checkpoint: wireCheckpoint(await checkpointOf(ctx, a.checkpoint).getParent(a.flags)),
  }),
  [Proc.DOMAIN_CHECKPOINT_DELETE]: async (ctx, a) => void (await checkpointOf(ctx, a.checkpoint).delete(a.flags)),

  [Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY]: async (ctx, a) => ({ callbackID: ctx.registerEvent(a.eventID, a.dom) }),
  // The legacy pair (clients from before libvirt 1.2.1, or any client when feature 14 is off).
  // cb_registered only exists for rpcgen's sake: libvirtd leaves it 0.
  [Proc.CONNECT_DOMAIN_EVENT_REGISTER]: async (ctx) => (ctx.registerLegacyEvent(), { cbRegistered: 0 }),
  [Proc.CONNECT_DOMAIN_EVENT_DEREGISTER]: async (ctx) => (ctx.deregisterLegacyEvent(), { cbRegistered: 0 }),
  [Proc.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY]: async (ctx, a) => void ctx.deregisterEvent(a.callbackID),

  // vCPUs, memory and host figures.
  [Proc.CONNECT_GET_MAX_VCPUS]: async (ctx, a) => ({ maxVcpus: await ctx.conn().getMaxVcpus(a.type) }),
  [Proc.NODE_GET_CELLS_FREE_MEMORY]: async (ctx, a) => {
    if (a.maxcells > REMOTE_NODE_MAX_CELLS) throw overLimit('maxCells > REMOTE_NODE_MAX_CELLS');
    return { cells: await ctx.conn().getCellsFreeMemory(a.startCell, a.maxcells) };
  },
  [Proc.NODE_GET_FREE_MEMORY]: async (ctx) => ({ freeMem: await ctx.conn().getFreeMemory() }),
  [Proc.NODE_GET_CPU_STATS]: async (ctx, a) => {
    if (a.nparams > REMOTE_NODE_CPU_STATS_MAX) throw overLimit('nparams too large');
    // Asked with nparams 0, libvirtd answers how many there are, and no values: libvirt's
    // drivers check only the flags then, not the CPU number (virsh asks again with a count).
    if (a.nparams <= 0) return { params: [], nparams: Object.keys(await ctx.conn().getCPUStats(-1, a.flags)).length };
    const stats = Object.entries(await ctx.conn().getCPUStats(a.num, a.flags));
    const params = stats.slice(0, a.nparams).map(([field, value]) => ({ field, value }));
    return { params, nparams: params.length };
  },
  [Proc.NODE_GET_MEMORY_STATS]: async (ctx, a) => {
    if (a.nparams > REMOTE_NODE_MEMORY_STATS_MAX) throw overLimit('nparams too large');
    const stats = Object.entries(await ctx.conn().getMemoryStats(a.cellNum, a.flags));
    // Asked with nparams 0, libvirtd answers how many there are (after checking the cell).
    if (a.nparams <= 0) return { params: [], nparams: stats.length };
    const params = stats.slice(0, a.nparams).map(([field, value]) => ({ field, value }));
    return { params, nparams: params.length };
  },
  [Proc.NODE_GET_CPU_MAP]: async (ctx, a) => {
    const [cpus, online, onlineCount] = await ctx.conn().getCPUMap(a.flags);
    return {
      cpumap: a.needMap !== 0 ? packCpumaps([online], 1, Math.ceil(cpus / 8)) : Buffer.alloc(0),
      online: a.needOnline !== 0 ? onlineCount : 0,
      ret: cpus,
    };
  },
  [Proc.DOMAIN_GET_MAX_VCPUS]: async (ctx, a) => ({ num: await domainOf(ctx, a.dom).maxVcpus() }),
  [Proc.DOMAIN_GET_VCPUS_FLAGS]: async (ctx, a) => ({ num: await domainOf(ctx, a.dom).vcpusFlags(a.flags) }),
  [Proc.DOMAIN_SET_VCPUS]: async (ctx, a) => domainOf(ctx, a.dom).setVcpus(a.nvcpus),
  [Proc.DOMAIN_SET_VCPUS_FLAGS]: async (ctx, a) => domainOf(ctx, a.dom).setVcpusFlags(a.nvcpus, a.flags),
  [Proc.DOMAIN_ATTACH_DEVICE]: async (ctx, a) => domainOf(ctx, a.dom).attachDevice(a.xml),
  [Proc.DOMAIN_ATTACH_DEVICE_FLAGS]: async (ctx, a) => domainOf(ctx, a.dom).attachDeviceFlags(a.xml, a.flags),
  [Proc.DOMAIN_DETACH_DEVICE]: async (ctx, a) => domainOf(ctx, a.dom).detachDevice(a.xml),
  [Proc.DOMAIN_DETACH_DEVICE_FLAGS]: async (ctx, a) => domainOf(ctx, a.dom).detachDeviceFlags(a.xml, a.flags),
  [Proc.DOMAIN_UPDATE_DEVICE_FLAGS]: async (ctx, a) => domainOf(ctx, a.dom).updateDeviceFlags(a.xml, a.flags),
  [Proc.DOMAIN_DETACH_DEVICE_ALIAS]: async (ctx, a) => domainOf(ctx, a.dom).detachDeviceAlias(a.alias, a.flags),
  [Proc.DOMAIN_GET_VCPUS]: async (ctx, a) => {
    if (a.maxinfo > REMOTE_VCPUINFO_MAX) throw overLimit('maxinfo > REMOTE_VCPUINFO_MAX');
    if (a.maxinfo * a.maplen > REMOTE_CPUMAPS_MAX) throw overLimit('maxinfo * maplen > REMOTE_CPUMAPS_MAX');
    const vcpus = await domainOf(ctx, a.dom).vcpus(a.maxinfo, Math.max(0, a.maplen) * 8);
    return {
      info: vcpus.map((v) => ({ number: v.number, state: v.state, cpuTime: v.cpuTime, cpu: v.cpu })),
      cpumaps: packCpumaps(
        vcpus.map((v) => v.affinity),
        Math.max(0, a.maxinfo),
        Math.max(0, a.maplen),
      ),
    };
  },
  [Proc.DOMAIN_GET_VCPU_PIN_INFO]: async (ctx, a) => {
    if (a.ncpumaps > REMOTE_VCPUINFO_MAX) throw overLimit('ncpumaps > REMOTE_VCPUINFO_MAX');
    if (a.ncpumaps * a.maplen > REMOTE_CPUMAPS_MAX) throw overLimit('maxinfo * maplen > REMOTE_CPUMAPS_MAX');
    const maps = await domainOf(ctx, a.dom).vcpuPinInfo(a.flags, a.ncpumaps, a.maplen * 8);
    return { cpumaps: packCpumaps(maps, Math.max(0, a.ncpumaps), Math.max(0, a.maplen)), num: maps.length };
  },
  [Proc.DOMAIN_GET_SCHEDULER_TYPE]: async (ctx, a) => {
    const [type, nparams] = await domainOf(ctx, a.dom).schedulerType();
    return { type, nparams };
  },
  [Proc.DOMAIN_GET_SCHEDULER_PARAMETERS]: async (ctx, a) => {
    if (a.nparams > REMOTE_DOMAIN_SCHEDULER_PARAMETERS_MAX) throw overLimit('nparams too large');
    return { params: (await domainOf(ctx, a.dom).schedulerParameters()).slice(0, Math.max(0, a.nparams)) };
  },
  [Proc.DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS]: async (ctx, a) => {
    if (a.nparams > REMOTE_DOMAIN_SCHEDULER_PARAMETERS_MAX) throw overLimit('nparams too large');
    return { params: (await domainOf(ctx, a.dom).schedulerParametersFlags(a.flags)).slice(0, Math.max(0, a.nparams)) };
  },
  [Proc.DOMAIN_SET_SCHEDULER_PARAMETERS]: async (ctx, a) => domainOf(ctx, a.dom).setSchedulerParameters(a.params),
  [Proc.DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS]: async (ctx, a) => domainOf(ctx, a.dom).setSchedulerParametersFlags(a.params, a.flags),
  [Proc.DOMAIN_SET_MEMORY]: async (ctx, a) => domainOf(ctx, a.dom).setMemory(a.memory),
  [Proc.DOMAIN_SET_MAX_MEMORY]: async (ctx, a) => domainOf(ctx, a.dom).setMaxMemory(a.memory),
  [Proc.DOMAIN_SET_MEMORY_FLAGS]: async (ctx, a) => domainOf(ctx, a.dom).setMemoryFlags(a.memory, a.flags),
  [Proc.DOMAIN_MEMORY_STATS]: async (ctx, a) => {
    if (a.maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX) throw overLimit('maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX');
    if (a.maxStats === 0) return { stats: [] };
    const stats = Object.entries(await domainOf(ctx, a.dom).memoryStats(a.flags));
    return { stats: stats.slice(0, a.maxStats).map(([name, val]) => ({ tag: MEMORY_STAT_TAGS[name] ?? -1, val })) };
  },
  [Proc.DOMAIN_IS_UPDATED]: async (ctx, a) => ({ updated: (await domainOf(ctx, a.dom).isUpdated()) ? 1 : 0 }),
  [Proc.DOMAIN_GET_CONTROL_INFO]: async (ctx, a) => domainOf(ctx, a.dom).controlInfo(a.flags),
  [Proc.DOMAIN_RESET]: async (ctx, a) => domainOf(ctx, a.dom).reset(a.flags),
  [Proc.DOMAIN_GET_HOSTNAME]: async (ctx, a) => ({ value: await domainOf(ctx, a.dom).hostname(a.flags) }),
  [Proc.DOMAIN_GET_TIME]: async (ctx, a) => domainOf(ctx, a.dom).getTime(a.flags),

  // Statistics, tuning, jobs and migration speed.
  [Proc.DOMAIN_BLOCK_STATS]: async (ctx, a) => domainOf(ctx, a.dom).blockStats(a.path),
  [Proc.DOMAIN_BLOCK_STATS_FLAGS]: async (ctx, a) => {
    paramsLimit(a.nparams, REMOTE_DOMAIN_BLOCK_STATS_PARAMETERS_MAX);
    return paramsReply(await domainOf(ctx, a.dom).blockStatsFlags(a.path, a.flags), a.nparams, a.flags);
  },
  [Proc.DOMAIN_INTERFACE_STATS]: async (ctx, a) => domainOf(ctx, a.dom).interfaceStats(a.device),
  [Proc.DOMAIN_GET_BLOCK_INFO]: async (ctx, a) => domainOf(ctx, a.dom).blockInfo(a.path, a.flags),
  // libvirtd's remoteDispatchDomain{Block,Memory}Peek refuse a reply larger than the protocol's.
  [Proc.DOMAIN_BLOCK_PEEK]: async (ctx, a) => {
    if (a.size > REMOTE_DOMAIN_BLOCK_PEEK_BUFFER_MAX) throw overLimit('size > maximum buffer size');
    return { buffer: await domainOf(ctx, a.dom).blockPeek(a.path, a.offset, a.size, a.flags) };
  },
  [Proc.DOMAIN_MEMORY_PEEK]: async (ctx, a) => {
    if (a.size > REMOTE_DOMAIN_MEMORY_PEEK_BUFFER_MAX) throw overLimit('size > maximum buffer size');
    return { buffer: await domainOf(ctx, a.dom).memoryPeek(a.offset, a.size, a.flags) };
  },
  [Proc.DOMAIN_BLOCK_RESIZE]: async (ctx, a) => domainOf(ctx, a.dom).blockResize(a.disk, a.size, a.flags),
  [Proc.DOMAIN_GET_MEMORY_PARAMETERS]: async (ctx, a) => {
    paramsLimit(a.nparams, REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX);
    const counted = testCount(ctx, a.nparams, 'memory');
    if (counted !== null) return counted;
    return paramsReply(await domainOf(ctx, a.dom).memoryParameters(a.flags), a.nparams, a.flags);
  },
  [Proc.DOMAIN_SET_MEMORY_PARAMETERS]: async (ctx, a) => domainOf(ctx, a.dom).setMemoryParameters(a.params, a.flags),
  [Proc.DOMAIN_GET_BLKIO_PARAMETERS]: async (ctx, a) => {
    paramsLimit(a.nparams, REMOTE_DOMAIN_BLKIO_PARAMETERS_MAX);
    const counted = testCount(ctx, a.nparams, 'blkio');
    if (counted !== null) return counted;
    return paramsReply(await domainOf(ctx, a.dom).blkioParameters(a.flags), a.nparams, a.flags);
  },
  [Proc.DOMAIN_SET_BLKIO_PARAMETERS]: async (ctx, a) => domainOf(ctx, a.dom).setBlkioParameters(a.params, a.flags),
  [Proc.DOMAIN_GET_NUMA_PARAMETERS]: async (ctx, a) => {
    paramsLimit(a.nparams, REMOTE_DOMAIN_NUMA_PARAMETERS_MAX);
    const counted = testCount(ctx, a.nparams, 'numa');
    if (counted !== null) return counted;
    return paramsReply(await domainOf(ctx, a.dom).numaParameters(a.flags), a.nparams, a.flags);
  },
  [Proc.DOMAIN_SET_NUMA_PARAMETERS]: async (ctx, a) => domainOf(ctx, a.dom).setNumaParameters(a.params, a.flags),
  [Proc.DOMAIN_GET_INTERFACE_PARAMETERS]: async (ctx, a) => {
    paramsLimit(a.nparams, REMOTE_DOMAIN_INTERFACE_PARAMETERS_MAX);
    const counted = testCount(ctx, a.nparams, 'interface');
    if (counted !== null) return counted;
    return paramsReply(await domainOf(ctx, a.dom).interfaceParameters(a.device, a.flags), a.nparams, a.flags);
  },
  [Proc.DOMAIN_SET_INTERFACE_PARAMETERS]: async (ctx, a) => domainOf(ctx, a.dom).setInterfaceParameters(a.device, a.params, a.flags),
  [Proc.DOMAIN_GET_CPU_STATS]: async (ctx, a) => {
    if (a.nparams > REMOTE_NODE_CPU_STATS_MAX) throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'nparams too large');
    if (a.ncpus > REMOTE_DOMAIN_GET_CPU_STATS_NCPUS_MAX) throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'ncpus too large');
    const d = domainOf(ctx, a.dom);
    // As libvirt's API: ncpus 0 asks how many host CPUs there are, nparams 0 how many figures.
    if (a.startCpu !== -1 && a.ncpus === 0) {
      if (a.nparams !== 0) throw VirError.invalidArg(ErrorDomain.DOMAIN, 'params in virDomainGetCPUStats must be NULL');
      return { params: [], nparams: (await d.cpuStats(a.startCpu, 0, a.flags)).cpus };
    }
    const { stats } = await d.cpuStats(a.startCpu, a.ncpus, a.flags);
    const per = Math.max(0, ...stats.map((l) => l.length));
    if (a.nparams === 0) return { params: [], nparams: per };
    const n = Math.min(a.nparams, per);
    const keep = (p: TypedParameter) => (a.flags & STRING_OKAY) !== 0 || p.type !== TypedParamType.STRING;
    return { params: stats.flatMap((l) => l.slice(0, n).filter(keep)), nparams: n };
  },
  [Proc.CONNECT_GET_ALL_DOMAIN_STATS]: async (ctx, a) => {
    const conn = ctx.conn();
    const records =
      a.doms.length === 0
        ? await conn.getAllDomainStats(a.stats, a.flags)
        : await conn.domainListGetStats(
            a.doms.map((w) => domainOf(ctx, w)),
            a.stats,
            a.flags,
          );
    if (records.length > REMOTE_DOMAIN_LIST_MAX) throw tooMany('domains', records.length, REMOTE_DOMAIN_LIST_MAX);
    return { retStats: records.map((r) => ({ dom: wireDomain(r.domain), params: r.params })) };
  },
  [Proc.DOMAIN_GET_JOB_INFO]: async (ctx, a) => domainOf(ctx, a.dom).jobInfo(),
  [Proc.DOMAIN_GET_JOB_STATS]: async (ctx, a) => domainOf(ctx, a.dom).jobStats(a.flags),
  [Proc.DOMAIN_ABORT_JOB]: async (ctx, a) => domainOf(ctx, a.dom).abortJob(),
  [Proc.DOMAIN_MIGRATE_SET_MAX_SPEED]: async (ctx, a) => domainOf(ctx, a.dom).migrateSetMaxSpeed(a.bandwidth, a.flags),
  [Proc.DOMAIN_MIGRATE_GET_MAX_SPEED]: async (ctx, a) => ({ bandwidth: await domainOf(ctx, a.dom).migrateGetMaxSpeed(a.flags) }),
  // Migration steps (version 3 with parameters). A Perform with PEER2PEER and a dconnuri runs the
  // whole peer-to-peer migration from here, through the same API path as the library's.
  [Proc.DOMAIN_MIGRATE_BEGIN3_PARAMS]: async (ctx, a) => migrateBegin3Params(domainOf(ctx, a.dom), a.params, a.flags),
  [Proc.DOMAIN_MIGRATE_PREPARE3_PARAMS]: async (ctx, a) => migratePrepare3Params(ctx.conn(), a.params, a.cookieIn, a.flags),
  [Proc.DOMAIN_MIGRATE_PERFORM3_PARAMS]: async (ctx, a) => ({
    cookieOut: await migratePerform3Params(domainOf(ctx, a.dom), a.dconnuri, a.params, a.cookieIn, a.flags),
  }),
  [Proc.DOMAIN_MIGRATE_FINISH3_PARAMS]: async (ctx, a) => {
    const conn = ctx.conn();
    const r = await migrateFinish3Params(conn, a.params, a.cookieIn, a.flags, a.cancelled !== 0);
    // The reply has no room for "no domain": libvirtd answers an error then, this one when the
    // destination discarded the guest as asked.
    if (r.dom === null) throw migrationAborted(conn);
    return { dom: wireDomain(r.dom), cookieOut: r.cookieOut };
  },
  [Proc.DOMAIN_MIGRATE_CONFIRM3_PARAMS]: async (ctx, a) => migrateConfirm3Params(domainOf(ctx, a.dom), a.params, a.cookieIn, a.flags, a.cancelled !== 0),
  // Virtual networks.
  [Proc.CONNECT_LIST_NETWORKS]: async (ctx, a) => {
    if (a.maxnames > REMOTE_NETWORK_NAME_LIST_MAX) throw overLimit('maxnames > REMOTE_NETWORK_LIST_MAX');
    return { names: (await ctx.conn().listNetworks()).slice(0, Math.max(0, a.maxnames)) };
  },
  [Proc.CONNECT_LIST_DEFINED_NETWORKS]: async (ctx, a) => {
    if (a.maxnames > REMOTE_NETWORK_NAME_LIST_MAX) throw overLimit('maxnames > REMOTE_NETWORK_LIST_MAX');
    return { names: (await ctx.conn().listDefinedNetworks()).slice(0, Math.max(0, a.maxnames)) };
  },
  [Proc.CONNECT_NUM_OF_NETWORKS]: async (ctx) => ({ num: await ctx.conn().numOfNetworks() }),
  [Proc.CONNECT_NUM_OF_DEFINED_NETWORKS]: async (ctx) => ({ num: await ctx.conn().numOfDefinedNetworks() }),
  [Proc.CONNECT_LIST_ALL_NETWORKS]: async (ctx, a) => {
    const nets = await ctx.conn().listAllNetworks(a.flags);
    if (a.needResults !== 0 && nets.length > REMOTE_NETWORK_LIST_MAX) throw tooMany('networks', nets.length, REMOTE_NETWORK_LIST_MAX);
    return { nets: a.needResults === 0 ? [] : nets.map(wireNetwork), ret: nets.length };
  },
  [Proc.NETWORK_LOOKUP_BY_NAME]: async (ctx, a) => ({ net: wireNetwork(await ctx.conn().networkLookupByName(a.name)) }),
  [Proc.NETWORK_LOOKUP_BY_UUID]: async (ctx, a) => ({
    net: wireNetwork(await ctx.conn().networkLookupByUUIDString(uuidToString(a.uuid))),
  }),
  [Proc.NETWORK_DEFINE_XML]: async (ctx, a) => ({ net: wireNetwork(await ctx.conn().networkDefineXML(a.xml)) }),
  [Proc.NETWORK_DEFINE_XML_FLAGS]: async (ctx, a) => ({ net: wireNetwork(await ctx.conn().networkDefineXMLFlags(a.xml, a.flags)) }),
  [Proc.NETWORK_CREATE_XML]: async (ctx, a) => ({ net: wireNetwork(await ctx.conn().networkCreateXML(a.xml)) }),
  [Proc.NETWORK_CREATE_XML_FLAGS]: async (ctx, a) => ({ net: wireNetwork(await ctx.conn().networkCreateXMLFlags(a.xml, a.flags)) }),
  [Proc.NETWORK_CREATE]: async (ctx, a) => networkOf(ctx, a.net).create(),
  [Proc.NETWORK_DESTROY]: async (ctx, a) => networkOf(ctx, a.net).destroy(),
  [Proc.NETWORK_UNDEFINE]: async (ctx, a) => networkOf(ctx, a.net).undefine(),
  [Proc.NETWORK_GET_XML_DESC]: async (ctx, a) => ({ value: await networkOf(ctx, a.net).XMLDesc(a.flags) }),
  [Proc.NETWORK_GET_AUTOSTART]: async (ctx, a) => ({ autostart: (await networkOf(ctx, a.net).autostart()) ? 1 : 0 }),
  [Proc.NETWORK_SET_AUTOSTART]: async (ctx, a) => networkOf(ctx, a.net).setAutostart(a.autostart !== 0),
  [Proc.NETWORK_GET_BRIDGE_NAME]: async (ctx, a) => ({ value: await networkOf(ctx, a.net).bridgeName() }),
  [Proc.NETWORK_IS_ACTIVE]: async (ctx, a) => ({ active: (await networkOf(ctx, a.net).isActive()) ? 1 : 0 }),
  [Proc.NETWORK_IS_PERSISTENT]: async (ctx, a) => ({ persistent: (await networkOf(ctx, a.net).isPersistent()) ? 1 : 0 }),
  [Proc.NETWORK_GET_DHCP_LEASES]: async (ctx, a) => {
    const leases = await networkOf(ctx, a.net).DHCPLeases(a.mac, a.flags);
    if (a.needResults !== 0 && leases.length > REMOTE_NETWORK_DHCP_LEASES_MAX) {
      throw tooMany('leases', leases.length, REMOTE_NETWORK_DHCP_LEASES_MAX);
    }
    return { leases: a.needResults === 0 ? [] : leases, ret: leases.length };
  },
  ...STORAGE_HANDLERS,
  [Proc.DOMAIN_SET_METADATA]: async (ctx, a) => domainOf(ctx, a.dom).setMetadata(a.type, a.metadata, a.key, a.uri, a.flags),
  [Proc.DOMAIN_GET_METADATA]: async (ctx, a) => ({ metadata: await domainOf(ctx, a.dom).metadata(a.type, a.uri, a.flags) }),
  [Proc.DOMAIN_RENAME]: async (ctx, a) => {
    if (a.newName === null) throw VirError.invalidArg(ErrorDomain.DOMAIN, 'new_name in virDomainRename must not be NULL');
    await domainOf(ctx, a.dom).rename(a.newName, a.flags);
    return { retcode: 0 };
  },
  [Proc.DOMAIN_PIN_VCPU]: async (ctx, a) => domainOf(ctx, a.dom).pinVcpu(a.vcpu, unpackCpumap(a.cpumap)),
  [Proc.DOMAIN_PIN_VCPU_FLAGS]: async (ctx, a) => domainOf(ctx, a.dom).pinVcpuFlags(a.vcpu, unpackCpumap(a.cpumap), a.flags),
  [Proc.DOMAIN_PIN_EMULATOR]: async (ctx, a) => domainOf(ctx, a.dom).pinEmulator(unpackCpumap(a.cpumap), a.flags),
  [Proc.DOMAIN_GET_EMULATOR_PIN_INFO]: async (ctx, a) => {
    if (a.maplen > REMOTE_CPUMAPS_MAX) throw overLimit('maplen > REMOTE_CPUMAPS_MAX');
    const map = await domainOf(ctx, a.dom).emulatorPinInfo(a.flags, Math.max(0, a.maplen) * 8);
    return { cpumaps: packCpumaps([map], 1, Math.max(0, a.maplen)), ret: 1 };
  },
  [Proc.DOMAIN_GET_FSINFO]: async (ctx, a) => {
    const info = await domainOf(ctx, a.dom).fsInfo(a.flags);
    if (info.length > REMOTE_DOMAIN_FSINFO_MAX) throw tooMany('domain fsinfo', info.length, REMOTE_DOMAIN_FSINFO_MAX);
    return { info, ret: info.length };
  },
  [Proc.DOMAIN_INTERFACE_ADDRESSES]: async (ctx, a) => {
    const ifaces = await domainOf(ctx, a.dom).interfaceAddresses(a.source, a.flags);
    if (ifaces.length > REMOTE_DOMAIN_INTERFACE_MAX) throw tooMany('interfaces', ifaces.length, REMOTE_DOMAIN_INTERFACE_MAX);
    return { ifaces };
  },
  [Proc.DOMAIN_SAVE]: async (ctx, a) => domainOf(ctx, a.dom).save(a.to),
  [Proc.DOMAIN_SAVE_FLAGS]: async (ctx, a) => domainOf(ctx, a.dom).saveFlags(a.to, a.dxml, a.flags),
  [Proc.DOMAIN_RESTORE]: async (ctx, a) => ctx.conn().restore(a.from),
  [Proc.DOMAIN_RESTORE_FLAGS]: async (ctx, a) => ctx.conn().restoreFlags(a.from, a.dxml, a.flags),
  [Proc.DOMAIN_SAVE_IMAGE_GET_XML_DESC]: async (ctx, a) => ({ value: await ctx.conn().saveImageGetXMLDesc(a.file, a.flags) }),
  [Proc.DOMAIN_SAVE_IMAGE_DEFINE_XML]: async (ctx, a) => ctx.conn().saveImageDefineXML(a.file, a.dxml, a.flags),
  [Proc.CONNECT_GET_CPU_MODEL_NAMES]: async (ctx, a) => {
    const models = await ctx.conn().getCPUModelNames(a.arch, a.flags);
    if (models.length > REMOTE_CONNECT_CPU_MODELS_MAX) throw tooMany('CPU models', models.length, REMOTE_CONNECT_CPU_MODELS_MAX);
    return { models: a.needResults !== 0 ? models : [], ret: models.length };
  },
};

