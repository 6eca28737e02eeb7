/**
 * The remote procedures tsvirtd implements: number, libvirt name, the public API entry point it
 * stands for (used in the read-only refusal), whether it mutates, and its argument and return
 * types. Numbers and layouts follow libvirt's remote_protocol.x; the declarations are tsvirt's.
 */
import type { Codec } from './xdr.js';
import {
  REMOTE_AUTH_TYPE_LIST_MAX,
  REMOTE_DOMAIN_ID_LIST_MAX,
  REMOTE_DOMAIN_LIST_MAX,
  REMOTE_DOMAIN_NAME_LIST_MAX,
  REMOTE_DOMAIN_SNAPSHOT_LIST_MAX,
  REMOTE_SECURITY_DOI_MAX,
  REMOTE_SECURITY_MODEL_MAX,
  VIR_UUID_BUFLEN,
  arrayOf,
  struct,
  xDomain,
  xInt,
  xOptDomain,
  xOptString,
  xSnapshot,
  xString,
  xUhyper,
  xUint,
  xVoid,
  type WireDomain,
  type WireSnapshot,
} from './protocol.js';

/** enum remote_procedure: the numbers tsvirt uses. */
export enum Proc {
  CONNECT_OPEN = 1,
  CONNECT_CLOSE = 2,
  CONNECT_GET_TYPE = 3,
  CONNECT_GET_VERSION = 4,
  CONNECT_GET_MAX_VCPUS = 5,
  NODE_GET_INFO = 6,
  CONNECT_GET_CAPABILITIES = 7,
  DOMAIN_CREATE = 9,
  DOMAIN_CREATE_XML = 10,
  DOMAIN_DEFINE_XML = 11,
  DOMAIN_DESTROY = 12,
  DOMAIN_GET_XML_DESC = 14,
  DOMAIN_GET_AUTOSTART = 15,
  DOMAIN_GET_INFO = 16,
  DOMAIN_GET_MAX_MEMORY = 17,
  DOMAIN_GET_OS_TYPE = 19,
  CONNECT_LIST_DEFINED_DOMAINS = 21,
  DOMAIN_LOOKUP_BY_ID = 22,
  DOMAIN_LOOKUP_BY_NAME = 23,
  DOMAIN_LOOKUP_BY_UUID = 24,
  CONNECT_NUM_OF_DEFINED_DOMAINS = 25,
  DOMAIN_REBOOT = 27,
  DOMAIN_RESUME = 28,
  DOMAIN_SET_AUTOSTART = 29,
  DOMAIN_SHUTDOWN = 33,
  DOMAIN_SUSPEND = 34,
  DOMAIN_UNDEFINE = 35,
  CONNECT_LIST_DOMAINS = 37,
  CONNECT_NUM_OF_DOMAINS = 51,
  CONNECT_GET_HOSTNAME = 59,
  CONNECT_SUPPORTS_FEATURE = 60,
  AUTH_LIST = 66,
  CONNECT_DOMAIN_EVENT_REGISTER = 105,
  CONNECT_DOMAIN_EVENT_DEREGISTER = 106,
  DOMAIN_EVENT_LIFECYCLE = 107,
  CONNECT_GET_URI = 110,
  NODE_GET_SECURITY_MODEL = 122,
  CONNECT_IS_SECURE = 149,
  DOMAIN_IS_ACTIVE = 150,
  DOMAIN_IS_PERSISTENT = 151,
  CONNECT_GET_LIB_VERSION = 157,
  DOMAIN_MANAGED_SAVE = 182,
  DOMAIN_HAS_MANAGED_SAVE_IMAGE = 183,
  DOMAIN_MANAGED_SAVE_REMOVE = 184,
  DOMAIN_SNAPSHOT_CREATE_XML = 185,
  DOMAIN_SNAPSHOT_GET_XML_DESC = 186,
  DOMAIN_SNAPSHOT_NUM = 187,
  DOMAIN_SNAPSHOT_LIST_NAMES = 188,
  DOMAIN_SNAPSHOT_LOOKUP_BY_NAME = 189,
  DOMAIN_HAS_CURRENT_SNAPSHOT = 190,
  DOMAIN_SNAPSHOT_CURRENT = 191,
  DOMAIN_REVERT_TO_SNAPSHOT = 192,
  DOMAIN_SNAPSHOT_DELETE = 193,
  DOMAIN_CREATE_WITH_FLAGS = 196,
  CONNECT_GET_SYSINFO = 203,
  DOMAIN_GET_STATE = 212,
  DOMAIN_UNDEFINE_FLAGS = 231,
  DOMAIN_DESTROY_FLAGS = 234,
  DOMAIN_SNAPSHOT_GET_PARENT = 244,
  DOMAIN_SNAPSHOT_NUM_CHILDREN = 246,
  DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES = 247,
  DOMAIN_SHUTDOWN_FLAGS = 258,
  DOMAIN_SNAPSHOT_IS_CURRENT = 271,
  DOMAIN_SNAPSHOT_HAS_METADATA = 272,
  CONNECT_LIST_ALL_DOMAINS = 273,
  DOMAIN_LIST_ALL_SNAPSHOTS = 274,
  DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN = 275,
  CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY = 316,
  CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY = 317,
  DOMAIN_EVENT_CALLBACK_LIFECYCLE = 318,
  DOMAIN_DEFINE_XML_FLAGS = 350,
  CONNECT_REGISTER_CLOSE_CALLBACK = 360,
  CONNECT_UNREGISTER_CLOSE_CALLBACK = 361,
}

/** How the daemon treats a procedure. */
export interface ProcedureSpec<A = unknown, R = unknown> {
  proc: Proc;
  /** libvirt's name without REMOTE_PROC_. */
  name: string;
  /** The public API it stands for (virDomainUndefineFlags, …), named in errors. */
  api: string;
  /** Changes state: refused on read-only connections. */
  mutating: boolean;
  /** May run before CONNECT_OPEN. */
  beforeOpen?: boolean;
  args: Codec<A>;
  ret: Codec<R>;
}

// Argument and return types (remote_protocol.x's remote_*_args / remote_*_ret).

export const dom = struct<{ dom: WireDomain }>({ dom: xDomain });
export const domFlags = struct<{ dom: WireDomain; flags: number }>({ dom: xDomain, flags: xUint });
export const snapFlags = struct<{ snap: WireSnapshot; flags: number }>({ snap: xSnapshot, flags: xUint });
export const retDom = dom;
export const retSnap = struct<{ snap: WireSnapshot }>({ snap: xSnapshot });
export const retInt = (field: string): Codec<Record<string, number>> => struct<Record<string, number>>({ [field]: xInt });
export const xml = struct<{ xml: string }>({ xml: xString });
export const xmlFlags = struct<{ xml: string; flags: number }>({ xml: xString, flags: xUint });

export const openArgs = struct<{ name: string | null; flags: number }>({ name: xOptString, flags: xUint });
export const featureArgs = struct<{ feature: number }>({ feature: xInt });
export const supportedRet = struct<{ supported: number }>({ supported: xInt });
export const stringRet = struct<{ value: string }>({ value: xString });
export const uhyperRet = struct<{ value: number }>({ value: xUhyper });
export const authListRet = struct<{ types: number[] }>({ types: arrayOf(xInt, REMOTE_AUTH_TYPE_LIST_MAX) });
export const lookupByIdArgs = struct<{ id: number }>({ id: xInt });
export const lookupByNameArgs = struct<{ name: string }>({ name: xString });
export const lookupByUuidArgs: Codec<{ uuid: Buffer }> = {
  enc: (w, v) => void w.opaqueFixed(v.uuid, VIR_UUID_BUFLEN),
  dec: (r) => ({ uuid: r.opaqueFixed(VIR_UUID_BUFLEN) }),
};
export const getInfoRet = struct<{ state: number; maxMem: number; memory: number; nrVirtCpu: number; cpuTime: number }>({
  state: xUint, // unsigned char, 4 bytes on the wire
  maxMem: xUhyper,
  memory: xUhyper,
  nrVirtCpu: xUint, // unsigned short, 4 bytes on the wire
  cpuTime: xUhyper,
});
export const getStateRet = struct<{ state: number; reason: number }>({ state: xInt, reason: xInt });
export const setAutostartArgs = struct<{ dom: WireDomain; autostart: number }>({ dom: xDomain, autostart: xInt });
export const maxNamesArgs = struct<{ maxnames: number }>({ maxnames: xInt });
export const maxIdsArgs = struct<{ maxids: number }>({ maxids: xInt });
export const namesRet = struct<{ names: string[] }>({ names: arrayOf(xString, REMOTE_DOMAIN_NAME_LIST_MAX) });
export const idsRet = struct<{ ids: number[] }>({ ids: arrayOf(xInt, REMOTE_DOMAIN_ID_LIST_MAX) });
export const numRet = struct<{ num: number }>({ num: xInt });
export const listAllDomainsArgs = struct<{ needResults: number; flags: number }>({ needResults: xInt, flags: xUint });
export const listAllDomainsRet = struct<{ domains: WireDomain[]; ret: number }>({
  domains: arrayOf(xDomain, REMOTE_DOMAIN_LIST_MAX, 24),
  ret: xUint,
});
export const snapshotCreateArgs = struct<{ dom: WireDomain; xml: string; flags: number }>({ dom: xDomain, xml: xString, flags: xUint });
export const snapshotListNamesArgs = struct<{ dom: WireDomain; maxnames: number; flags: number }>({
  dom: xDomain,
  maxnames: xInt,
  flags: xUint,
});
export const snapshotNamesRet = struct<{ names: string[] }>({ names: arrayOf(xString, REMOTE_DOMAIN_SNAPSHOT_LIST_MAX) });
export const snapshotLookupArgs = struct<{ dom: WireDomain; name: string; flags: number }>({ dom: xDomain, name: xString, flags: xUint });
export const listAllSnapshotsArgs = struct<{ dom: WireDomain; needResults: number; flags: number }>({
  dom: xDomain,
  needResults: xInt,
  flags: xUint,
});
export const snapshotsRet = struct<{ snapshots: WireSnapshot[]; ret: number }>({
  snapshots: arrayOf(xSnapshot, REMOTE_DOMAIN_SNAPSHOT_LIST_MAX, 28),
  ret: xInt,
});
export const childrenNamesArgs = struct<{ snap: WireSnapshot; maxnames: number; flags: number }>({
  snap: xSnapshot,
  maxnames: xInt,
  flags: xUint,
});
export const listAllChildrenArgs = struct<{ snap: WireSnapshot; needResults: number; flags: number }>({
  snap: xSnapshot,
  needResults: xInt,
  flags: xUint,
});
export const securityModelRet: Codec<{ model: string; doi: string }> = {
  // char model<REMOTE_SECURITY_MODEL_MAX>: each char is a 4-byte XDR int.
  enc(w, v) {
    for (const s of [v.model, v.doi]) {
      const b = Buffer.from(s, 'utf8');
      w.uint(b.length);
      for (const c of b) w.int(c);
    }
  },
  dec(r) {
    const chars = (max: number) => Buffer.from(r.array(max, (rr) => rr.int() & 0xff)).toString('utf8');
    return { model: chars(REMOTE_SECURITY_MODEL_MAX), doi: chars(REMOTE_SECURITY_DOI_MAX) };
  },
};
/** remote_node_get_info_ret: `char model[32]` is a fixed array of XDR chars, 4 bytes each. */
export interface WireNodeInfo {
  model: string;
  memory: number;
  cpus: number;
  mhz: number;
  nodes: number;
  sockets: number;
  cores: number;
  threads: number;
}
export const nodeInfoRet: Codec<WireNodeInfo> = {
  enc(w, v) {
    const b = Buffer.alloc(32);
    b.write(v.model.slice(0, 31), 'utf8');
    for (const c of b) w.int(c);
    w.uhyper(v.memory);
    for (const n of [v.cpus, v.mhz, v.nodes, v.sockets, v.cores, v.threads]) w.int(n);
  },
  dec(r) {
    const chars: number[] = [];
    for (let i = 0; i < 32; i++) chars.push(r.int() & 0xff);
    const end = chars.indexOf(0);
    const model = Buffer.from(end < 0 ? chars : chars.slice(0, end)).toString('utf8');
    const memory = r.uhyperNumber();
    const [cpus, mhz, nodes, sockets, cores, threads] = [r.int(), r.int(), r.int(), r.int(), r.int(), r.int()] as const;
    return { model, memory, cpus, mhz, nodes, sockets, cores, threads };
  },
};
/** remote_connect_domain_event_(de)register_ret: a redundant flag libvirt's rpcgen needed. */
export const cbRegisteredRet = struct<{ cbRegistered: number }>({ cbRegistered: xInt });
/** remote_domain_event_lifecycle_msg: the legacy event (proc 107), no callback ID. */
export const legacyLifecycleMsg = struct<{ dom: WireDomain; event: number; detail: number }>({ dom: xDomain, event: xInt, detail: xInt });
export const eventRegisterArgs = struct<{ eventID: number; dom: WireDomain | null }>({ eventID: xInt, dom: xOptDomain });
export const callbackIdCodec = struct<{ callbackID: number }>({ callbackID: xInt });
export const lifecycleMsg = struct<{ callbackID: number; dom: WireDomain; event: number; detail: number }>({
  callbackID: xInt,
  dom: xDomain,
  event: xInt,
  detail: xInt,
});

type Spec = ProcedureSpec<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function p(proc: Proc, api: string, mutating: boolean, args: Codec<any>, ret: Codec<any>, beforeOpen = false): Spec { // eslint-disable-line @typescript-eslint/no-explicit-any
  return { proc, name: Proc[proc], api, mutating, args, ret, beforeOpen };
}

const R = true; // mutating
const N = false;

/** Every procedure tsvirtd serves, by number. Anything else is an unknown procedure. */
export const PROCEDURES: ReadonlyMap<number, Spec> = new Map(
  [
    p(Proc.CONNECT_OPEN, 'virConnectOpen', N, openArgs, xVoid, true),
    p(Proc.CONNECT_CLOSE, 'virConnectClose', N, xVoid, xVoid, true),
    p(Proc.CONNECT_GET_TYPE, 'virConnectGetType', N, xVoid, stringRet),
    p(Proc.CONNECT_GET_VERSION, 'virConnectGetVersion', N, xVoid, uhyperRet),
    p(Proc.NODE_GET_INFO, 'virNodeGetInfo', N, xVoid, nodeInfoRet),
    p(Proc.CONNECT_GET_CAPABILITIES, 'virConnectGetCapabilities', N, xVoid, stringRet),
    p(Proc.DOMAIN_CREATE, 'virDomainCreate', R, dom, xVoid),
    p(Proc.DOMAIN_CREATE_XML, 'virDomainCreateXML', R, xmlFlags, retDom),
    p(Proc.DOMAIN_DEFINE_XML, 'virDomainDefineXML', R, xml, retDom),
    p(Proc.DOMAIN_DESTROY, 'virDomainDestroy', R, dom, xVoid),
    p(Proc.DOMAIN_GET_XML_DESC, 'virDomainGetXMLDesc', N, domFlags, stringRet),
    p(Proc.DOMAIN_GET_AUTOSTART, 'virDomainGetAutostart', N, dom, retInt('autostart')),
    p(Proc.DOMAIN_GET_INFO, 'virDomainGetInfo', N, dom, getInfoRet),
    p(Proc.DOMAIN_GET_MAX_MEMORY, 'virDomainGetMaxMemory', N, dom, uhyperRet),
    p(Proc.DOMAIN_GET_OS_TYPE, 'virDomainGetOSType', N, dom, stringRet),
    p(Proc.CONNECT_LIST_DEFINED_DOMAINS, 'virConnectListDefinedDomains', N, maxNamesArgs, namesRet),
    p(Proc.DOMAIN_LOOKUP_BY_ID, 'virDomainLookupByID', N, lookupByIdArgs, retDom),
    p(Proc.DOMAIN_LOOKUP_BY_NAME, 'virDomainLookupByName', N, lookupByNameArgs, retDom),
    p(Proc.DOMAIN_LOOKUP_BY_UUID, 'virDomainLookupByUUID', N, lookupByUuidArgs, retDom),
    p(Proc.CONNECT_NUM_OF_DEFINED_DOMAINS, 'virConnectNumOfDefinedDomains', N, xVoid, numRet),
    p(Proc.DOMAIN_REBOOT, 'virDomainReboot', R, domFlags, xVoid),
    p(Proc.DOMAIN_RESUME, 'virDomainResume', R, dom, xVoid),
    p(Proc.DOMAIN_SET_AUTOSTART, 'virDomainSetAutostart', R, setAutostartArgs, xVoid),
    p(Proc.DOMAIN_SHUTDOWN, 'virDomainShutdown', R, dom, xVoid),
    p(Proc.DOMAIN_SUSPEND, 'virDomainSuspend', R, dom, xVoid),
    p(Proc.DOMAIN_UNDEFINE, 'virDomainUndefine', R, dom, xVoid),
    p(Proc.CONNECT_LIST_DOMAINS, 'virConnectListDomains', N, maxIdsArgs, idsRet),
    p(Proc.CONNECT_NUM_OF_DOMAINS, 'virConnectNumOfDomains', N, xVoid, numRet),
    p(Proc.CONNECT_GET_HOSTNAME, 'virConnectGetHostname', N, xVoid, stringRet),
    p(Proc.CONNECT_SUPPORTS_FEATURE, 'virConnectSupportsFeature', N, featureArgs, supportedRet, true),
    p(Proc.AUTH_LIST, 'virConnectAuthList', N, xVoid, authListRet, true),
    p(Proc.CONNECT_DOMAIN_EVENT_REGISTER, 'virConnectDomainEventRegister', N, xVoid, cbRegisteredRet),
    p(Proc.CONNECT_DOMAIN_EVENT_DEREGISTER, 'virConnectDomainEventDeregister', N, xVoid, cbRegisteredRet),
    p(Proc.CONNECT_GET_URI, 'virConnectGetURI', N, xVoid, stringRet),
    p(Proc.NODE_GET_SECURITY_MODEL, 'virNodeGetSecurityModel', N, xVoid, securityModelRet),
    p(Proc.CONNECT_IS_SECURE, 'virConnectIsSecure', N, xVoid, retInt('secure')),
    p(Proc.DOMAIN_IS_ACTIVE, 'virDomainIsActive', N, dom, retInt('active')),
    p(Proc.DOMAIN_IS_PERSISTENT, 'virDomainIsPersistent', N, dom, retInt('persistent')),
    p(Proc.CONNECT_GET_LIB_VERSION, 'virConnectGetLibVersion', N, xVoid, uhyperRet),
    p(Proc.DOMAIN_MANAGED_SAVE, 'virDomainManagedSave', R, domFlags, xVoid),
    p(Proc.DOMAIN_HAS_MANAGED_SAVE_IMAGE, 'virDomainHasManagedSaveImage', N, domFlags, retInt('result')),
    p(Proc.DOMAIN_MANAGED_SAVE_REMOVE, 'virDomainManagedSaveRemove', R, domFlags, xVoid),
    p(Proc.DOMAIN_SNAPSHOT_CREATE_XML, 'virDomainSnapshotCreateXML', R, snapshotCreateArgs, retSnap),
    p(Proc.DOMAIN_SNAPSHOT_GET_XML_DESC, 'virDomainSnapshotGetXMLDesc', N, snapFlags, stringRet),
    p(Proc.DOMAIN_SNAPSHOT_NUM, 'virDomainSnapshotNum', N, domFlags, numRet),
    p(Proc.DOMAIN_SNAPSHOT_LIST_NAMES, 'virDomainSnapshotListNames', N, snapshotListNamesArgs, snapshotNamesRet),
    p(Proc.DOMAIN_SNAPSHOT_LOOKUP_BY_NAME, 'virDomainSnapshotLookupByName', N, snapshotLookupArgs, retSnap),
    p(Proc.DOMAIN_HAS_CURRENT_SNAPSHOT, 'virDomainHasCurrentSnapshot', N, domFlags, retInt('result')),
    p(Proc.DOMAIN_SNAPSHOT_CURRENT, 'virDomainSnapshotCurrent', N, domFlags, retSnap),
    p(Proc.DOMAIN_REVERT_TO_SNAPSHOT, 'virDomainRevertToSnapshot', R, snapFlags, xVoid),
    p(Proc.DOMAIN_SNAPSHOT_DELETE, 'virDomainSnapshotDelete', R, snapFlags, xVoid),
    p(Proc.DOMAIN_CREATE_WITH_FLAGS, 'virDomainCreateWithFlags', R, domFlags, retDom),
    p(Proc.CONNECT_GET_SYSINFO, 'virConnectGetSysinfo', N, struct<{ flags: number }>({ flags: xUint }), stringRet),
    p(Proc.DOMAIN_GET_STATE, 'virDomainGetState', N, domFlags, getStateRet),
    p(Proc.DOMAIN_UNDEFINE_FLAGS, 'virDomainUndefineFlags', R, domFlags, xVoid),
    p(Proc.DOMAIN_DESTROY_FLAGS, 'virDomainDestroyFlags', R, domFlags, xVoid),
    p(Proc.DOMAIN_SNAPSHOT_GET_PARENT, 'virDomainSnapshotGetParent', N, snapFlags, retSnap),
    p(Proc.DOMAIN_SNAPSHOT_NUM_CHILDREN, 'virDomainSnapshotNumChildren', N, snapFlags, numRet),
    p(Proc.DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES, 'virDomainSnapshotListChildrenNames', N, childrenNamesArgs, snapshotNamesRet),
    p(Proc.DOMAIN_SHUTDOWN_FLAGS, 'virDomainShutdownFlags', R, domFlags, xVoid),
    p(Proc.DOMAIN_SNAPSHOT_IS_CURRENT, 'virDomainSnapshotIsCurrent', N, snapFlags, retInt('current')),
    p(Proc.DOMAIN_SNAPSHOT_HAS_METADATA, 'virDomainSnapshotHasMetadata', N, snapFlags, retInt('metadata')),
    p(Proc.CONNECT_LIST_ALL_DOMAINS, 'virConnectListAllDomains', N, listAllDomainsArgs, listAllDomainsRet),
    p(Proc.DOMAIN_LIST_ALL_SNAPSHOTS, 'virDomainListAllSnapshots', N, listAllSnapshotsArgs, snapshotsRet),
    p(Proc.DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN, 'virDomainSnapshotListAllChildren', N, listAllChildrenArgs, snapshotsRet),
    p(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, 'virConnectDomainEventRegisterAny', N, eventRegisterArgs, callbackIdCodec),
    p(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, 'virConnectDomainEventDeregisterAny', N, callbackIdCodec, xVoid),
    p(Proc.DOMAIN_DEFINE_XML_FLAGS, 'virDomainDefineXMLFlags', R, xmlFlags, retDom),
    p(Proc.CONNECT_REGISTER_CLOSE_CALLBACK, 'virConnectRegisterCloseCallback', N, xVoid, xVoid),
    p(Proc.CONNECT_UNREGISTER_CLOSE_CALLBACK, 'virConnectUnregisterCloseCallback', N, xVoid, xVoid),
  ].map((s) => [s.proc, s]),
);

/**
 * The source file of libvirt's public API each mutating entry point lives in decides the error
 * domain of its read-only refusal: libvirt-domain.c → VIR_FROM_DOMAIN (20),
 * libvirt-domain-snapshot.c → VIR_FROM_DOMAIN_SNAPSHOT (35).
 */
export function readOnlyErrorDomain(api: string): number {
  if (api.startsWith('virDomainSnapshot') || api === 'virDomainRevertToSnapshot') return 35;
  if (api.startsWith('virDomain')) return 20;
  return 0;
}
