/**
 * The remote procedures tsvirt speaks, declared once: number, libvirt name, the public API entry
 * point it stands for (named in the read-only refusal), whether a read-only connection may call
 * it, and its argument and return codecs. The daemon's handler signatures and the remote driver's
 * `call()` types are inferred from {@link PROCEDURE_TABLE}. Numbers and layouts follow libvirt's
 * remote_protocol.x; the declarations are tsvirt's.
 */
import { decodeUtf8, type Codec, type XdrReader, type XdrWriter } from './xdr.js';
import { REMOTE_PROCEDURES } from './procedure-names.generated.js';
import { VirError } from '../core/errors.js';
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import {
  REMOTE_AUTH_TYPE_LIST_MAX,
  REMOTE_CPUMAPS_MAX,
  REMOTE_CPUMAP_MAX,
  REMOTE_DOMAIN_MEMORY_STATS_MAX,
  REMOTE_DOMAIN_SCHEDULER_PARAMETERS_MAX,
  REMOTE_DOMAIN_BLKIO_PARAMETERS_MAX,
  REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX,
  REMOTE_DOMAIN_NUMA_PARAMETERS_MAX,
  REMOTE_DOMAIN_INTERFACE_PARAMETERS_MAX,
  REMOTE_DOMAIN_BLOCK_STATS_PARAMETERS_MAX,
  REMOTE_DOMAIN_GET_CPU_STATS_MAX,
  REMOTE_DOMAIN_JOB_STATS_MAX,
  REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX,
  REMOTE_DOMAIN_MIGRATE_PARAM_LIST_MAX,
  REMOTE_MIGRATE_COOKIE_MAX,
  REMOTE_NODE_CPU_STATS_MAX,
  REMOTE_NODE_MEMORY_STATS_MAX,
  REMOTE_NODE_MAX_CELLS,
  REMOTE_VCPUINFO_MAX,
  REMOTE_DOMAIN_ID_LIST_MAX,
  REMOTE_DOMAIN_LIST_MAX,
  REMOTE_DOMAIN_NAME_LIST_MAX,
  REMOTE_DOMAIN_SNAPSHOT_LIST_MAX,
  REMOTE_DOMAIN_CHECKPOINT_LIST_MAX,
  REMOTE_NETWORK_DHCP_LEASES_MAX,
  REMOTE_NETWORK_LIST_MAX,
  REMOTE_NETWORK_NAME_LIST_MAX,
  REMOTE_SECURITY_DOI_MAX,
  REMOTE_SECURITY_MODEL_MAX,
  REMOTE_SECURITY_LABEL_MAX,
  REMOTE_DOMAIN_BLOCK_PEEK_BUFFER_MAX,
  VIR_UUID_BUFLEN,
  arrayOf,
  struct,
  xDomain,
  xHyper,
  xInt,
  xOptDomain,
  xOptString,
  xSnapshot,
  xTypedParam,
  xCheckpoint,
  xNetwork,
  xStoragePool,
  xStorageVol,
  REMOTE_STORAGE_POOL_LIST_MAX,
  REMOTE_STORAGE_VOL_LIST_MAX,
  type WireStoragePool,
  type WireStorageVol,
  xString,
  xUhyper,
  xUint,
  xVoid,
  type WireDomain,
  type WireSnapshot,
  type WireTypedParam,
  type WireCheckpoint,
  type WireNetwork,
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
  CONNECT_GET_DOMAIN_CAPABILITIES = 342,
  DOMAIN_CREATE = 9,
  DOMAIN_ATTACH_DEVICE = 8,
  DOMAIN_CREATE_XML = 10,
  DOMAIN_DEFINE_XML = 11,
  DOMAIN_DESTROY = 12,
  DOMAIN_DETACH_DEVICE = 13,
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
  DOMAIN_GET_SECURITY_LABEL = 121,
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
  DOMAIN_OPEN_CONSOLE = 201,
  CONNECT_GET_SYSINFO = 203,
  DOMAIN_SCREENSHOT = 211,
  DOMAIN_OPEN_GRAPHICS = 249,
  DOMAIN_OPEN_GRAPHICS_FD = 343,
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
  DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED = 333,
  DOMAIN_EVENT_CALLBACK_DEVICE_ADDED = 354,
  DOMAIN_EVENT_CALLBACK_DEVICE_REMOVAL_FAILED = 367,
  DOMAIN_EVENT_CALLBACK_METADATA_CHANGE = 379,
  DOMAIN_DEFINE_XML_FLAGS = 350,
  CONNECT_REGISTER_CLOSE_CALLBACK = 360,
  CONNECT_UNREGISTER_CLOSE_CALLBACK = 361,
  // Domain resources and host figures.
  DOMAIN_GET_MAX_VCPUS = 18,
  DOMAIN_GET_VCPUS = 20,
  DOMAIN_SET_MAX_MEMORY = 30,
  DOMAIN_SET_MEMORY = 31,
  DOMAIN_SET_VCPUS = 32,
  DOMAIN_GET_SCHEDULER_TYPE = 56,
  DOMAIN_GET_SCHEDULER_PARAMETERS = 57,
  DOMAIN_SET_SCHEDULER_PARAMETERS = 58,
  NODE_GET_CELLS_FREE_MEMORY = 101,
  NODE_GET_FREE_MEMORY = 102,
  DOMAIN_MEMORY_STATS = 159,
  DOMAIN_SET_VCPUS_FLAGS = 199,
  DOMAIN_GET_VCPUS_FLAGS = 200,
  DOMAIN_IS_UPDATED = 202,
  DOMAIN_SET_MEMORY_FLAGS = 204,
  DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS = 223,
  DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS = 219,
  NODE_GET_CPU_STATS = 227,
  NODE_GET_MEMORY_STATS = 228,
  DOMAIN_GET_CONTROL_INFO = 229,
  DOMAIN_GET_VCPU_PIN_INFO = 230,
  DOMAIN_RESET = 245,
  DOMAIN_GET_HOSTNAME = 277,
  NODE_GET_CPU_MAP = 293,
  DOMAIN_GET_TIME = 337,
  // Statistics, tuning, jobs and migration speed.
  DOMAIN_BLOCK_STATS = 64,
  DOMAIN_INTERFACE_STATS = 65,
  DOMAIN_GET_JOB_INFO = 163,
  DOMAIN_ABORT_JOB = 164,
  DOMAIN_GET_BLOCK_INFO = 194,
  DOMAIN_BLOCK_PEEK = 103,
  DOMAIN_MEMORY_PEEK = 104,
  DOMAIN_BLOCK_RESIZE = 251,
  DOMAIN_SET_MEMORY_PARAMETERS = 197,
  DOMAIN_GET_MEMORY_PARAMETERS = 198,
  DOMAIN_SET_BLKIO_PARAMETERS = 205,
  DOMAIN_GET_BLKIO_PARAMETERS = 206,
  DOMAIN_MIGRATE_SET_MAX_SPEED = 207,
  DOMAIN_MIGRATE_GET_MAX_SPEED = 242,
  DOMAIN_BLOCK_STATS_FLAGS = 243,
  DOMAIN_SET_NUMA_PARAMETERS = 254,
  DOMAIN_GET_NUMA_PARAMETERS = 255,
  DOMAIN_SET_INTERFACE_PARAMETERS = 256,
  DOMAIN_GET_INTERFACE_PARAMETERS = 257,
  DOMAIN_GET_CPU_STATS = 262,
  DOMAIN_GET_JOB_STATS = 298,
  // Migration, version 3 with typed parameters (libvirt's V3-with-params protocol).
  DOMAIN_MIGRATE_BEGIN3_PARAMS = 302,
  DOMAIN_MIGRATE_PREPARE3_PARAMS = 303,
  // 304 PREPARE_TUNNEL3_PARAMS (tunnelled migration over a stream) is not served: libvirtd's
  // answer for a driver without it, VIR_ERR_NO_SUPPORT (src/rpc/unsupported.ts).
  DOMAIN_MIGRATE_PERFORM3_PARAMS = 305,
  DOMAIN_MIGRATE_FINISH3_PARAMS = 306,
  DOMAIN_MIGRATE_CONFIRM3_PARAMS = 307,
  CONNECT_GET_ALL_DOMAIN_STATS = 344,
  DOMAIN_SET_METADATA = 264,
  DOMAIN_GET_METADATA = 265,
  DOMAIN_RENAME = 358,
  DOMAIN_PIN_VCPU = 26,
  DOMAIN_PIN_VCPU_FLAGS = 225,
  DOMAIN_PIN_EMULATOR = 279,
  DOMAIN_GET_EMULATOR_PIN_INFO = 280,
  CONNECT_GET_CPU_MODEL_NAMES = 312,
  DOMAIN_RESTORE = 54,
  DOMAIN_GET_FSINFO = 349,
  DOMAIN_INTERFACE_ADDRESSES = 353,
  DOMAIN_SAVE = 55,
  DOMAIN_SAVE_FLAGS = 232,
  DOMAIN_RESTORE_FLAGS = 233,
  DOMAIN_SAVE_IMAGE_GET_XML_DESC = 235,
  DOMAIN_SAVE_IMAGE_DEFINE_XML = 236,
  // Checkpoints (libvirt-domain-checkpoint.c).
  DOMAIN_CHECKPOINT_CREATE_XML = 411,
  DOMAIN_CHECKPOINT_GET_XML_DESC = 412,
  DOMAIN_LIST_ALL_CHECKPOINTS = 413,
  DOMAIN_CHECKPOINT_LIST_ALL_CHILDREN = 414,
  DOMAIN_CHECKPOINT_LOOKUP_BY_NAME = 415,
  DOMAIN_CHECKPOINT_GET_PARENT = 416,
  DOMAIN_CHECKPOINT_DELETE = 417,
  DOMAIN_ATTACH_DEVICE_FLAGS = 160,
  DOMAIN_DETACH_DEVICE_FLAGS = 161,
  DOMAIN_UPDATE_DEVICE_FLAGS = 174,
  DOMAIN_DETACH_DEVICE_ALIAS = 392,
  // Virtual networks (libvirt-network.c).
  CONNECT_LIST_DEFINED_NETWORKS = 36,
  CONNECT_LIST_NETWORKS = 38,
  NETWORK_CREATE = 39,
  NETWORK_CREATE_XML = 40,
  NETWORK_DEFINE_XML = 41,
  NETWORK_DESTROY = 42,
  NETWORK_GET_XML_DESC = 43,
  NETWORK_GET_AUTOSTART = 44,
  NETWORK_GET_BRIDGE_NAME = 45,
  NETWORK_LOOKUP_BY_NAME = 46,
  NETWORK_LOOKUP_BY_UUID = 47,
  NETWORK_SET_AUTOSTART = 48,
  NETWORK_UNDEFINE = 49,
  CONNECT_NUM_OF_DEFINED_NETWORKS = 50,
  CONNECT_NUM_OF_NETWORKS = 52,
  NETWORK_IS_ACTIVE = 152,
  NETWORK_IS_PERSISTENT = 153,
  CONNECT_LIST_ALL_NETWORKS = 283,
  NETWORK_GET_DHCP_LEASES = 341,
  NETWORK_DEFINE_XML_FLAGS = 432,
  NETWORK_CREATE_XML_FLAGS = 437,
  // Storage pools and volumes (libvirt-storage.c).
  CONNECT_NUM_OF_STORAGE_POOLS = 71,
  CONNECT_LIST_STORAGE_POOLS = 72,
  CONNECT_NUM_OF_DEFINED_STORAGE_POOLS = 73,
  CONNECT_LIST_DEFINED_STORAGE_POOLS = 74,
  STORAGE_POOL_CREATE_XML = 76,
  STORAGE_POOL_DEFINE_XML = 77,
  STORAGE_POOL_CREATE = 78,
  STORAGE_POOL_BUILD = 79,
  STORAGE_POOL_DESTROY = 80,
  STORAGE_POOL_DELETE = 81,
  STORAGE_POOL_UNDEFINE = 82,
  STORAGE_POOL_REFRESH = 83,
  STORAGE_POOL_LOOKUP_BY_NAME = 84,
  STORAGE_POOL_LOOKUP_BY_UUID = 85,
  STORAGE_POOL_LOOKUP_BY_VOLUME = 86,
  STORAGE_POOL_GET_INFO = 87,
  STORAGE_POOL_GET_XML_DESC = 88,
  STORAGE_POOL_GET_AUTOSTART = 89,
  STORAGE_POOL_SET_AUTOSTART = 90,
  STORAGE_POOL_NUM_OF_VOLUMES = 91,
  STORAGE_POOL_LIST_VOLUMES = 92,
  STORAGE_VOL_CREATE_XML = 93,
  STORAGE_VOL_DELETE = 94,
  STORAGE_VOL_LOOKUP_BY_NAME = 95,
  STORAGE_VOL_LOOKUP_BY_KEY = 96,
  STORAGE_VOL_LOOKUP_BY_PATH = 97,
  STORAGE_VOL_GET_INFO = 98,
  STORAGE_VOL_GET_XML_DESC = 99,
  STORAGE_VOL_GET_PATH = 100,
  STORAGE_VOL_CREATE_XML_FROM = 125,
  STORAGE_POOL_IS_ACTIVE = 154,
  STORAGE_POOL_IS_PERSISTENT = 155,
  STORAGE_VOL_WIPE = 165,
  STORAGE_VOL_UPLOAD = 208,
  STORAGE_VOL_DOWNLOAD = 209,
  STORAGE_VOL_WIPE_PATTERN = 259,
  STORAGE_VOL_RESIZE = 260,
  CONNECT_LIST_ALL_STORAGE_POOLS = 281,
  STORAGE_POOL_LIST_ALL_VOLUMES = 282,
  STORAGE_VOL_GET_INFO_FLAGS = 378,
  STORAGE_POOL_LOOKUP_BY_TARGET_PATH = 391,
}

/** One entry of {@link PROCEDURE_TABLE}: how a procedure is encoded and treated. */
export interface ProcedureEntry<A, R> {
  /** The public API it stands for (virDomainUndefineFlags, …), named in errors. */
  api: string;
  /** Changes state: refused on read-only connections (see {@link isReadOnlyAllowed}). */
  mutating: boolean;
  /** May run before CONNECT_OPEN. */
  beforeOpen: boolean;
  /**
   * Opens a stream: after an OK reply, STREAM packets flow on the call's serial (libvirt's
   * `@readstream` / `@writestream` procedures).
   */
  stream: boolean;
  args: Codec<A>;
  ret: Codec<R>;
}

/** An entry with its number and libvirt name (without REMOTE_PROC_), as {@link PROCEDURES} lists it. */
export interface ProcedureSpec<A = unknown, R = unknown> extends ProcedureEntry<A, R> {
  proc: Proc;
  name: string;
}

// Argument and return types (remote_protocol.x's remote_*_args / remote_*_ret).

export const dom = struct<{ dom: WireDomain }>({ dom: xDomain });
export const domFlags = struct<{ dom: WireDomain; flags: number }>({ dom: xDomain, flags: xUint });
export const snapFlags = struct<{ snap: WireSnapshot; flags: number }>({ snap: xSnapshot, flags: xUint });
export const retDom = dom;
export const retSnap = struct<{ snap: WireSnapshot }>({ snap: xSnapshot });
/** A struct of one int field named `field` (remote_*_ret { int active; } and the like). */
export const retInt = <K extends string>(field: K): Codec<{ [F in K]: number }> =>
  struct<{ [F in K]: number }>({ [field]: xInt } as { [F in K]: Codec<number> });
export const flagsArgs = struct<{ flags: number }>({ flags: xUint });
export const xml = struct<{ xml: string }>({ xml: xString });
export const xmlFlags = struct<{ xml: string; flags: number }>({ xml: xString, flags: xUint });

export const openArgs = struct<{ name: string | null; flags: number }>({ name: xOptString, flags: xUint });
export const featureArgs = struct<{ feature: number }>({ feature: xInt });
export const supportedRet = struct<{ supported: number }>({ supported: xInt });
export const stringRet = struct<{ value: string }>({ value: xString });
export const domainCapsArgs = struct<{ emulatorbin: string | null; arch: string | null; machine: string | null; virttype: string | null; flags: number }>({
  emulatorbin: xOptString,
  arch: xOptString,
  machine: xOptString,
  virttype: xOptString,
  flags: xUint,
});
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
// Checkpoints (remote_domain_checkpoint_*): same layouts as the snapshot ones, other limit.
export const checkpointCreateArgs = struct<{ dom: WireDomain; xml: string; flags: number }>({ dom: xDomain, xml: xString, flags: xUint });
export const checkpointFlags = struct<{ checkpoint: WireCheckpoint; flags: number }>({ checkpoint: xCheckpoint, flags: xUint });
export const retCheckpoint = struct<{ checkpoint: WireCheckpoint }>({ checkpoint: xCheckpoint });
export const checkpointsRet = struct<{ checkpoints: WireCheckpoint[]; ret: number }>({
  checkpoints: arrayOf(xCheckpoint, REMOTE_DOMAIN_CHECKPOINT_LIST_MAX, 28),
  ret: xInt,
});
export const checkpointChildrenArgs = struct<{ checkpoint: WireCheckpoint; needResults: number; flags: number }>({
  checkpoint: xCheckpoint,
  needResults: xInt,
  flags: xUint,
});
/**
 * `char s<MAX>` holding a C string: each char a 4-byte XDR int, the terminating NUL included, as
 * libvirtd sends it (strlen + 1): libvirt's client copies the array with strcpy, so it needs the NUL.
 */
function encCString(w: XdrWriter, s: string): void {
  const b = Buffer.from(s, 'utf8');
  w.uint(b.length + 1);
  for (const c of b) w.int(c);
  w.int(0);
}
function decCString(r: XdrReader, max: number): string {
  const bytes = Buffer.from(r.array(max, (rr) => rr.int() & 0xff));
  const nul = bytes.indexOf(0);
  return decodeUtf8(nul === -1 ? bytes : bytes.subarray(0, nul));
}
export const securityModelRet: Codec<{ model: string; doi: string }> = {
  enc(w, v) {
    encCString(w, v.model);
    encCString(w, v.doi);
  },
  dec(r) {
    return { model: decCString(r, REMOTE_SECURITY_MODEL_MAX), doi: decCString(r, REMOTE_SECURITY_DOI_MAX) };
  },
};
/** remote_domain_get_security_label_ret: the label as a C string, and whether it is enforced. */
export const securityLabelRet: Codec<{ label: string; enforcing: number }> = {
  enc(w, v) {
    encCString(w, v.label);
    w.int(v.enforcing);
  },
  dec(r) {
    return { label: decCString(r, REMOTE_SECURITY_LABEL_MAX), enforcing: r.int() };
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
    const model = decodeUtf8(Buffer.from(end < 0 ? chars : chars.slice(0, end)));
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

/** remote_domain_event_callback_device_{added,removed,removal_failed}_msg (all one shape). */
export const deviceEventMsg = struct<{ callbackID: number; dom: WireDomain; devAlias: string }>({
  callbackID: xInt,
  dom: xDomain,
  devAlias: xString,
});
/** remote_domain_event_callback_metadata_change_msg. */
export const metadataChangeMsg = struct<{ callbackID: number; dom: WireDomain; type: number; nsuri: string | null }>({
  callbackID: xInt,
  dom: xDomain,
  type: xInt,
  nsuri: xOptString,
});

/** remote_domain_open_console_args: the device's alias, or null for the first console. */
export const openConsoleArgs = struct<{ dom: WireDomain; devName: string | null; flags: number }>({
  dom: xDomain,
  devName: xOptString,
  flags: xUint,
});
export const screenshotArgs = struct<{ dom: WireDomain; screen: number; flags: number }>({ dom: xDomain, screen: xUint, flags: xUint });
/** remote_domain_open_graphics_args and remote_domain_open_graphics_fd_args (the descriptor travels beside). */
export const openGraphicsArgs = struct<{ dom: WireDomain; idx: number; flags: number }>({ dom: xDomain, idx: xUint, flags: xUint });
/** remote_domain_screenshot_ret: the image's MIME type (null when the driver names none). */
export const screenshotRet = struct<{ mime: string | null }>({ mime: xOptString });

// Devices (remote_domain_attach_device_args and friends).

export const deviceArgs = struct<{ dom: WireDomain; xml: string }>({ dom: xDomain, xml: xString });
export const deviceFlagsArgs = struct<{ dom: WireDomain; xml: string; flags: number }>({ dom: xDomain, xml: xString, flags: xUint });
export const deviceAliasArgs = struct<{ dom: WireDomain; alias: string; flags: number }>({ dom: xDomain, alias: xString, flags: xUint });

// vCPUs, memory and host figures.

export const maxVcpusArgs = struct<{ type: string | null }>({ type: xOptString });
export const setVcpusArgs = struct<{ dom: WireDomain; nvcpus: number }>({ dom: xDomain, nvcpus: xUint });
export const setVcpusFlagsArgs = struct<{ dom: WireDomain; nvcpus: number; flags: number }>({ dom: xDomain, nvcpus: xUint, flags: xUint });
export const setMemoryArgs = struct<{ dom: WireDomain; memory: number }>({ dom: xDomain, memory: xUhyper });
export const setMemoryFlagsArgs = struct<{ dom: WireDomain; memory: number; flags: number }>({ dom: xDomain, memory: xUhyper, flags: xUint });
export const getVcpusArgs = struct<{ dom: WireDomain; maxinfo: number; maplen: number }>({ dom: xDomain, maxinfo: xInt, maplen: xInt });
/** remote_vcpu_info. */
export interface WireVcpuInfo {
  number: number;
  state: number;
  cpuTime: number;
  cpu: number;
}
const xVcpuInfo = struct<WireVcpuInfo>({ number: xUint, state: xInt, cpuTime: xUhyper, cpu: xInt });
export const getVcpusRet: Codec<{ info: WireVcpuInfo[]; cpumaps: Buffer }> = struct<{ info: WireVcpuInfo[]; cpumaps: Buffer }>({
  info: arrayOf(xVcpuInfo, REMOTE_VCPUINFO_MAX, 20),
  cpumaps: { enc: (w, v) => void w.opaqueVar(v, REMOTE_CPUMAPS_MAX), dec: (r) => r.opaqueVar(REMOTE_CPUMAPS_MAX) },
});
export const vcpuPinInfoArgs = struct<{ dom: WireDomain; ncpumaps: number; maplen: number; flags: number }>({
  dom: xDomain,
  ncpumaps: xInt,
  maplen: xInt,
  flags: xUint,
});
export const vcpuPinInfoRet = struct<{ cpumaps: Buffer; num: number }>({
  cpumaps: { enc: (w, v) => void w.opaqueVar(v, REMOTE_CPUMAPS_MAX), dec: (r) => r.opaqueVar(REMOTE_CPUMAPS_MAX) },
  num: xInt,
});
const schedParams = arrayOf(xTypedParam, REMOTE_DOMAIN_SCHEDULER_PARAMETERS_MAX, 12);
export const schedTypeRet = struct<{ type: string; nparams: number }>({ type: xString, nparams: xInt });
export const getSchedParamsArgs = struct<{ dom: WireDomain; nparams: number }>({ dom: xDomain, nparams: xInt });
export const getSchedParamsFlagsArgs = struct<{ dom: WireDomain; nparams: number; flags: number }>({ dom: xDomain, nparams: xInt, flags: xUint });
export const schedParamsRet = struct<{ params: WireTypedParam[] }>({ params: schedParams });
export const setSchedParamsArgs = struct<{ dom: WireDomain; params: WireTypedParam[] }>({ dom: xDomain, params: schedParams });
export const setSchedParamsFlagsArgs = struct<{ dom: WireDomain; params: WireTypedParam[]; flags: number }>({
  dom: xDomain,
  params: schedParams,
  flags: xUint,
});
export const memoryStatsArgs = struct<{ dom: WireDomain; maxStats: number; flags: number }>({ dom: xDomain, maxStats: xUint, flags: xUint });
export const memoryStatsRet = struct<{ stats: { tag: number; val: number }[] }>({
  stats: arrayOf(struct<{ tag: number; val: number }>({ tag: xInt, val: xUhyper }), REMOTE_DOMAIN_MEMORY_STATS_MAX, 12),
});
export const cellsFreeArgs = struct<{ startCell: number; maxcells: number }>({ startCell: xInt, maxcells: xInt });
export const cellsFreeRet = struct<{ cells: number[] }>({ cells: arrayOf(xUhyper, REMOTE_NODE_MAX_CELLS, 8) });
export const freeMemoryRet = struct<{ freeMem: number }>({ freeMem: xUhyper });
export const nodeStatsArgs = struct<{ num: number; nparams: number; flags: number }>({ num: xInt, nparams: xInt, flags: xUint });
export const nodeStatsRet = struct<{ params: { field: string; value: number }[]; nparams: number }>({
  params: arrayOf(struct<{ field: string; value: number }>({ field: xString, value: xUhyper }), REMOTE_NODE_CPU_STATS_MAX, 12),
  nparams: xInt,
});
export const nodeMemStatsArgs = struct<{ nparams: number; cellNum: number; flags: number }>({ nparams: xInt, cellNum: xInt, flags: xUint });
export const nodeMemStatsRet = struct<{ params: { field: string; value: number }[]; nparams: number }>({
  params: arrayOf(struct<{ field: string; value: number }>({ field: xString, value: xUhyper }), REMOTE_NODE_MEMORY_STATS_MAX, 12),
  nparams: xInt,
});
export const cpuMapArgs = struct<{ needMap: number; needOnline: number; flags: number }>({ needMap: xInt, needOnline: xInt, flags: xUint });
export const cpuMapRet = struct<{ cpumap: Buffer; online: number; ret: number }>({
  cpumap: { enc: (w, v) => void w.opaqueVar(v, REMOTE_CPUMAP_MAX), dec: (r) => r.opaqueVar(REMOTE_CPUMAP_MAX) },
  online: xUint,
  ret: xInt,
});
export const controlInfoRet = struct<{ state: number; details: number; stateTime: number }>({ state: xUint, details: xUint, stateTime: xUhyper });
export const getTimeRet = struct<{ seconds: number; nseconds: number }>({ seconds: xHyper, nseconds: xUint });

// Statistics, tuning, jobs and migration speed.

export const blockStatsArgs = struct<{ dom: WireDomain; path: string }>({ dom: xDomain, path: xString });
export const blockStatsRet = struct<{ rdReq: number; rdBytes: number; wrReq: number; wrBytes: number; errs: number }>({
  rdReq: xHyper,
  rdBytes: xHyper,
  wrReq: xHyper,
  wrBytes: xHyper,
  errs: xHyper,
});
export const blockStatsFlagsArgs = struct<{ dom: WireDomain; path: string; nparams: number; flags: number }>({
  dom: xDomain,
  path: xString,
  nparams: xInt,
  flags: xUint,
});
/** remote_*_parameters_ret: the parameters and how many the driver has. */
const paramsRet = (max: number) =>
  struct<{ params: WireTypedParam[]; nparams: number }>({ params: arrayOf(xTypedParam, max, 12), nparams: xInt });
export const blockStatsFlagsRet = paramsRet(REMOTE_DOMAIN_BLOCK_STATS_PARAMETERS_MAX);
export const interfaceStatsArgs = struct<{ dom: WireDomain; device: string }>({ dom: xDomain, device: xString });
export const interfaceStatsRet = struct<{
  rxBytes: number;
  rxPackets: number;
  rxErrs: number;
  rxDrop: number;
  txBytes: number;
  txPackets: number;
  txErrs: number;
  txDrop: number;
}>({ rxBytes: xHyper, rxPackets: xHyper, rxErrs: xHyper, rxDrop: xHyper, txBytes: xHyper, txPackets: xHyper, txErrs: xHyper, txDrop: xHyper });
export const blockInfoArgs = struct<{ dom: WireDomain; path: string; flags: number }>({ dom: xDomain, path: xString, flags: xUint });
export const blockInfoRet = struct<{ allocation: number; capacity: number; physical: number }>({
  allocation: xUhyper,
  capacity: xUhyper,
  physical: xUhyper,
});
export const blockPeekArgs = struct<{ dom: WireDomain; path: string; offset: number; size: number; flags: number }>({
  dom: xDomain,
  path: xString,
  offset: xUhyper,
  size: xUint,
  flags: xUint,
});
export const memoryPeekArgs = struct<{ dom: WireDomain; offset: number; size: number; flags: number }>({
  dom: xDomain,
  offset: xUhyper,
  size: xUint,
  flags: xUint,
});
/** remote_domain_block_peek_ret / remote_domain_memory_peek_ret (the same limit). */
export const peekRet = struct<{ buffer: Buffer }>({
  buffer: { enc: (w, v) => void w.opaqueVar(v, REMOTE_DOMAIN_BLOCK_PEEK_BUFFER_MAX), dec: (r) => r.opaqueVar(REMOTE_DOMAIN_BLOCK_PEEK_BUFFER_MAX) },
});
export const blockResizeArgs = struct<{ dom: WireDomain; disk: string; size: number; flags: number }>({
  dom: xDomain,
  disk: xString,
  size: xUhyper,
  flags: xUint,
});
/** remote_domain_set_*_parameters_args (memory, blkio, numa). */
const setParamsArgs = (max: number) =>
  struct<{ dom: WireDomain; params: WireTypedParam[]; flags: number }>({ dom: xDomain, params: arrayOf(xTypedParam, max, 12), flags: xUint });
export const getParamsArgs = struct<{ dom: WireDomain; nparams: number; flags: number }>({ dom: xDomain, nparams: xInt, flags: xUint });
export const setMemoryParamsArgs = setParamsArgs(REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX);
export const memoryParamsRet = paramsRet(REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX);
export const setBlkioParamsArgs = setParamsArgs(REMOTE_DOMAIN_BLKIO_PARAMETERS_MAX);
export const blkioParamsRet = paramsRet(REMOTE_DOMAIN_BLKIO_PARAMETERS_MAX);
export const setNumaParamsArgs = setParamsArgs(REMOTE_DOMAIN_NUMA_PARAMETERS_MAX);
export const numaParamsRet = paramsRet(REMOTE_DOMAIN_NUMA_PARAMETERS_MAX);
export const setInterfaceParamsArgs = struct<{ dom: WireDomain; device: string; params: WireTypedParam[]; flags: number }>({
  dom: xDomain,
  device: xString,
  params: arrayOf(xTypedParam, REMOTE_DOMAIN_INTERFACE_PARAMETERS_MAX, 12),
  flags: xUint,
});
export const getInterfaceParamsArgs = struct<{ dom: WireDomain; device: string; nparams: number; flags: number }>({
  dom: xDomain,
  device: xString,
  nparams: xInt,
  flags: xUint,
});
export const interfaceParamsRet = paramsRet(REMOTE_DOMAIN_INTERFACE_PARAMETERS_MAX);
export const cpuStatsArgs = struct<{ dom: WireDomain; nparams: number; startCpu: number; ncpus: number; flags: number }>({
  dom: xDomain,
  nparams: xUint,
  startCpu: xInt,
  ncpus: xUint,
  flags: xUint,
});
export const cpuStatsRet = paramsRet(REMOTE_DOMAIN_GET_CPU_STATS_MAX);
/** remote_domain_stats_record. */
export interface WireStatsRecord {
  dom: WireDomain;
  params: WireTypedParam[];
}
const xStatsRecord = struct<WireStatsRecord>({ dom: xDomain, params: arrayOf(xTypedParam, REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX, 12) });
export const allDomainStatsArgs = struct<{ doms: WireDomain[]; stats: number; flags: number }>({
  doms: arrayOf(xDomain, REMOTE_DOMAIN_LIST_MAX, 24),
  stats: xUint,
  flags: xUint,
});
export const allDomainStatsRet = struct<{ retStats: WireStatsRecord[] }>({ retStats: arrayOf(xStatsRecord, REMOTE_DOMAIN_LIST_MAX, 28) });
export const jobInfoRet = struct<{
  type: number;
  timeElapsed: number;
  timeRemaining: number;
  dataTotal: number;
  dataProcessed: number;
  dataRemaining: number;
  memTotal: number;
  memProcessed: number;
  memRemaining: number;
  fileTotal: number;
  fileProcessed: number;
  fileRemaining: number;
}>({
  type: xInt,
  timeElapsed: xUhyper,
  timeRemaining: xUhyper,
  dataTotal: xUhyper,
  dataProcessed: xUhyper,
  dataRemaining: xUhyper,
  memTotal: xUhyper,
  memProcessed: xUhyper,
  memRemaining: xUhyper,
  fileTotal: xUhyper,
  fileProcessed: xUhyper,
  fileRemaining: xUhyper,
});
export const jobStatsRet = struct<{ type: number; params: WireTypedParam[] }>({
  type: xInt,
  params: arrayOf(xTypedParam, REMOTE_DOMAIN_JOB_STATS_MAX, 12),
});
export const migrateSetSpeedArgs = struct<{ dom: WireDomain; bandwidth: number; flags: number }>({ dom: xDomain, bandwidth: xUhyper, flags: xUint });
export const migrateGetSpeedRet = struct<{ bandwidth: number }>({ bandwidth: xUhyper });

// Migration version 3 with typed parameters (remote_domain_migrate_*3_params_*).

const migrateParams = arrayOf(xTypedParam, REMOTE_DOMAIN_MIGRATE_PARAM_LIST_MAX, 12);
/** opaque cookie<REMOTE_MIGRATE_COOKIE_MAX>. */
const xCookie: Codec<Buffer> = {
  enc: (w, v) => void w.opaqueVar(v, REMOTE_MIGRATE_COOKIE_MAX),
  dec: (r) => r.opaqueVar(REMOTE_MIGRATE_COOKIE_MAX),
};
export const migrateBegin3Args = struct<{ dom: WireDomain; params: WireTypedParam[]; flags: number }>({ dom: xDomain, params: migrateParams, flags: xUint });
export const migrateBegin3Ret = struct<{ cookieOut: Buffer; xml: string }>({ cookieOut: xCookie, xml: xString });
export const migratePrepare3Args = struct<{ params: WireTypedParam[]; cookieIn: Buffer; flags: number }>({
  params: migrateParams,
  cookieIn: xCookie,
  flags: xUint,
});
export const migratePrepare3Ret = struct<{ cookieOut: Buffer; uriOut: string | null }>({ cookieOut: xCookie, uriOut: xOptString });
export const migratePerform3Args = struct<{ dom: WireDomain; dconnuri: string | null; params: WireTypedParam[]; cookieIn: Buffer; flags: number }>({
  dom: xDomain,
  dconnuri: xOptString,
  params: migrateParams,
  cookieIn: xCookie,
  flags: xUint,
});
export const migratePerform3Ret = struct<{ cookieOut: Buffer }>({ cookieOut: xCookie });
export const migrateFinish3Args = struct<{ params: WireTypedParam[]; cookieIn: Buffer; flags: number; cancelled: number }>({
  params: migrateParams,
  cookieIn: xCookie,
  flags: xUint,
  cancelled: xInt,
});
export const migrateFinish3Ret = struct<{ dom: WireDomain; cookieOut: Buffer }>({ dom: xDomain, cookieOut: xCookie });
export const migrateConfirm3Args = struct<{ dom: WireDomain; params: WireTypedParam[]; cookieIn: Buffer; flags: number; cancelled: number }>({
  dom: xDomain,
  params: migrateParams,
  cookieIn: xCookie,
  flags: xUint,
  cancelled: xInt,
});
// Virtual networks (remote_network_* and remote_connect_*_networks).

export const netArgs = struct<{ net: WireNetwork }>({ net: xNetwork });
export const netFlags = struct<{ net: WireNetwork; flags: number }>({ net: xNetwork, flags: xUint });
export const netSetAutostartArgs = struct<{ net: WireNetwork; autostart: number }>({ net: xNetwork, autostart: xInt });
export const networkNamesRet = struct<{ names: string[] }>({ names: arrayOf(xString, REMOTE_NETWORK_NAME_LIST_MAX) });
export const listAllNetworksRet = struct<{ nets: WireNetwork[]; ret: number }>({
  nets: arrayOf(xNetwork, REMOTE_NETWORK_LIST_MAX, 20),
  ret: xUint,
});
/** remote_network_dhcp_lease. */
export interface WireDHCPLease {
  iface: string;
  expirytime: number;
  type: number;
  mac: string | null;
  iaid: string | null;
  ipaddr: string;
  prefix: number;
  hostname: string | null;
  clientid: string | null;
}
const xDHCPLease = struct<WireDHCPLease>({
  iface: xString,
  expirytime: xHyper,
  type: xInt,
  mac: xOptString,
  iaid: xOptString,
  ipaddr: xString,
  prefix: xUint,
  hostname: xOptString,
  clientid: xOptString,
});
export const dhcpLeasesArgs = struct<{ net: WireNetwork; mac: string | null; needResults: number; flags: number }>({
  net: xNetwork,
  mac: xOptString,
  needResults: xInt,
  flags: xUint,
});
export const dhcpLeasesRet = struct<{ leases: WireDHCPLease[]; ret: number }>({
  leases: arrayOf(xDHCPLease, REMOTE_NETWORK_DHCP_LEASES_MAX, 36),
  ret: xUint,
});

// Storage pools and volumes (remote_storage_*).

export const poolArg = struct<{ pool: WireStoragePool }>({ pool: xStoragePool });
export const poolFlags = struct<{ pool: WireStoragePool; flags: number }>({ pool: xStoragePool, flags: xUint });
export const retPool = poolArg;
export const volArg = struct<{ vol: WireStorageVol }>({ vol: xStorageVol });
export const volFlags = struct<{ vol: WireStorageVol; flags: number }>({ vol: xStorageVol, flags: xUint });
export const retVol = volArg;
export const poolNamesRet = struct<{ names: string[] }>({ names: arrayOf(xString, REMOTE_STORAGE_POOL_LIST_MAX) });
export const volNamesRet = struct<{ names: string[] }>({ names: arrayOf(xString, REMOTE_STORAGE_VOL_LIST_MAX) });
export const pathArgs = struct<{ path: string }>({ path: xString });
export const keyArgs = struct<{ key: string }>({ key: xString });
export const poolInfoRet = struct<{ state: number; capacity: number; allocation: number; available: number }>({
  state: xUint, // unsigned char, 4 bytes on the wire
  capacity: xUhyper,
  allocation: xUhyper,
  available: xUhyper,
});
export const volInfoRet = struct<{ type: number; capacity: number; allocation: number }>({ type: xInt, capacity: xUhyper, allocation: xUhyper });
export const poolAutostartArgs = struct<{ pool: WireStoragePool; autostart: number }>({ pool: xStoragePool, autostart: xInt });
export const poolListVolumesArgs = struct<{ pool: WireStoragePool; maxnames: number }>({ pool: xStoragePool, maxnames: xInt });
export const volCreateArgs = struct<{ pool: WireStoragePool; xml: string; flags: number }>({ pool: xStoragePool, xml: xString, flags: xUint });
export const volCreateFromArgs = struct<{ pool: WireStoragePool; xml: string; clonevol: WireStorageVol; flags: number }>({
  pool: xStoragePool,
  xml: xString,
  clonevol: xStorageVol,
  flags: xUint,
});
export const volLookupByNameArgs = struct<{ pool: WireStoragePool; name: string }>({ pool: xStoragePool, name: xString });
export const volWipePatternArgs = struct<{ vol: WireStorageVol; algorithm: number; flags: number }>({ vol: xStorageVol, algorithm: xUint, flags: xUint });
export const volResizeArgs = struct<{ vol: WireStorageVol; capacity: number; flags: number }>({ vol: xStorageVol, capacity: xUhyper, flags: xUint });
export const volTransferArgs = struct<{ vol: WireStorageVol; offset: number; length: number; flags: number }>({
  vol: xStorageVol,
  offset: xUhyper,
  length: xUhyper,
  flags: xUint,
});
export const listAllPoolsRet = struct<{ pools: WireStoragePool[]; ret: number }>({
  pools: arrayOf(xStoragePool, REMOTE_STORAGE_POOL_LIST_MAX, 20),
  ret: xUint,
});
export const listAllVolumesArgs = struct<{ pool: WireStoragePool; needResults: number; flags: number }>({
  pool: xStoragePool,
  needResults: xInt,
  flags: xUint,
});
export const listAllVolumesRet = struct<{ vols: WireStorageVol[]; ret: number }>({
  vols: arrayOf(xStorageVol, REMOTE_STORAGE_VOL_LIST_MAX, 12),
  ret: xUint,
});
// Metadata, rename, pinning, CPU models.

export const setMetadataArgs = struct<{ dom: WireDomain; type: number; metadata: string | null; key: string | null; uri: string | null; flags: number }>({
  dom: xDomain,
  type: xInt,
  metadata: xOptString,
  key: xOptString,
  uri: xOptString,
  flags: xUint,
});
export const getMetadataArgs = struct<{ dom: WireDomain; type: number; uri: string | null; flags: number }>({
  dom: xDomain,
  type: xInt,
  uri: xOptString,
  flags: xUint,
});
export const metadataRet = struct<{ metadata: string }>({ metadata: xString });
export const renameArgs = struct<{ dom: WireDomain; newName: string | null; flags: number }>({ dom: xDomain, newName: xOptString, flags: xUint });
export const renameRet = struct<{ retcode: number }>({ retcode: xInt });
const xCpumap: Codec<Buffer> = { enc: (w, v) => void w.opaqueVar(v, REMOTE_CPUMAP_MAX), dec: (r) => r.opaqueVar(REMOTE_CPUMAP_MAX) };
export const pinVcpuArgs = struct<{ dom: WireDomain; vcpu: number; cpumap: Buffer }>({ dom: xDomain, vcpu: xUint, cpumap: xCpumap });
export const pinVcpuFlagsArgs = struct<{ dom: WireDomain; vcpu: number; cpumap: Buffer; flags: number }>({
  dom: xDomain,
  vcpu: xUint,
  cpumap: xCpumap,
  flags: xUint,
});
export const pinEmulatorArgs = struct<{ dom: WireDomain; cpumap: Buffer; flags: number }>({ dom: xDomain, cpumap: xCpumap, flags: xUint });
export const emulatorPinInfoArgs = struct<{ dom: WireDomain; maplen: number; flags: number }>({ dom: xDomain, maplen: xInt, flags: xUint });
export const emulatorPinInfoRet = struct<{ cpumaps: Buffer; ret: number }>({
  cpumaps: { enc: (w, v) => void w.opaqueVar(v, REMOTE_CPUMAPS_MAX), dec: (r) => r.opaqueVar(REMOTE_CPUMAPS_MAX) },
  ret: xInt,
});
/** REMOTE_CONNECT_CPU_MODELS_MAX. */
export const REMOTE_CONNECT_CPU_MODELS_MAX = 8192;
export const cpuModelNamesArgs = struct<{ arch: string; needResults: number; flags: number }>({ arch: xString, needResults: xInt, flags: xUint });
export const cpuModelNamesRet = struct<{ models: string[]; ret: number }>({ models: arrayOf(xString, REMOTE_CONNECT_CPU_MODELS_MAX), ret: xInt });

// Save files.

export const saveArgs = struct<{ dom: WireDomain; to: string }>({ dom: xDomain, to: xString });
export const saveFlagsArgs = struct<{ dom: WireDomain; to: string; dxml: string | null; flags: number }>({
  dom: xDomain,
  to: xString,
  dxml: xOptString,
  flags: xUint,
});
export const restoreArgs = struct<{ from: string }>({ from: xString });
export const restoreFlagsArgs = struct<{ from: string; dxml: string | null; flags: number }>({ from: xString, dxml: xOptString, flags: xUint });
export const saveImageXmlArgs = struct<{ file: string; flags: number }>({ file: xString, flags: xUint });
export const saveImageDefineArgs = struct<{ file: string; dxml: string; flags: number }>({ file: xString, dxml: xString, flags: xUint });

// Guest file systems and addresses.

/** REMOTE_DOMAIN_FSINFO_MAX, REMOTE_DOMAIN_FSINFO_DISKS_MAX, REMOTE_DOMAIN_INTERFACE_MAX, REMOTE_DOMAIN_IP_ADDR_MAX. */
export const REMOTE_DOMAIN_FSINFO_MAX = 256;
const REMOTE_DOMAIN_FSINFO_DISKS_MAX = 256;
export const REMOTE_DOMAIN_INTERFACE_MAX = 2048;
const REMOTE_DOMAIN_IP_ADDR_MAX = 2048;
export interface WireFSInfo {
  mountpoint: string;
  name: string;
  fstype: string;
  devAliases: string[];
}
const xFSInfo = struct<WireFSInfo>({ mountpoint: xString, name: xString, fstype: xString, devAliases: arrayOf(xString, REMOTE_DOMAIN_FSINFO_DISKS_MAX) });
export const fsInfoRet = struct<{ info: WireFSInfo[]; ret: number }>({ info: arrayOf(xFSInfo, REMOTE_DOMAIN_FSINFO_MAX, 16), ret: xUint });
export interface WireInterface {
  name: string;
  hwaddr: string | null;
  addrs: { type: number; addr: string; prefix: number }[];
}
const xIPAddr = struct<{ type: number; addr: string; prefix: number }>({ type: xInt, addr: xString, prefix: xUint });
const xInterface = struct<WireInterface>({ name: xString, hwaddr: xOptString, addrs: arrayOf(xIPAddr, REMOTE_DOMAIN_IP_ADDR_MAX, 12) });
export const ifaceAddrsArgs = struct<{ dom: WireDomain; source: number; flags: number }>({ dom: xDomain, source: xUint, flags: xUint });
export const ifaceAddrsRet = struct<{ ifaces: WireInterface[] }>({ ifaces: arrayOf(xInterface, REMOTE_DOMAIN_INTERFACE_MAX, 12) });

function p<A, R>(api: string, mutating: boolean, args: Codec<A>, ret: Codec<R>, beforeOpen = false, stream = false): ProcedureEntry<A, R> {
  return { api, mutating, beforeOpen, stream, args, ret };
}

/** Reads only: allowed on a read-only connection. */
const R = false;
/** Changes state: refused on a read-only connection. */
const W = true;
/** Answered before CONNECT_OPEN (the handshake). */
const BEFORE_OPEN = true;
/** Opens a stream on the call's serial. */
const STREAM = true;

/**
 * Every procedure tsvirt calls and tsvirtd serves, keyed by number; any other number is an unknown
 * procedure. The rest is inferred from this table: the daemon's handler for `Proc.X`
 * receives exactly X's argument type and must return X's return type, and the remote driver's
 * `call(Proc.X, args)` is typed the same way, so a mismatch does not compile.
 *
 * Adding a procedure:
 *  1. its number in `enum Proc` (libvirt's enum remote_procedure);
 *  2. its remote_*_args / remote_*_ret codecs above, unless an existing one has the same layout;
 *  3. one line here: `[Proc.X]: p('virPublicApiName', R or W, argsCodec, retCodec)`, with W
 *     when libvirt's public API refuses it on a read-only connection (and STREAM when the call
 *     opens a stream: its handler takes the call's stream from `ctx.callStream()`);
 *  4. its handler in src/daemon/handlers.ts (tsc fails until it exists), and the remote driver's
 *     method calling `this.call(Proc.X, args)`.
 */
export const PROCEDURE_TABLE = Object.freeze({
  [Proc.CONNECT_OPEN]: p('virConnectOpen', R, openArgs, xVoid, BEFORE_OPEN),
  [Proc.CONNECT_CLOSE]: p('virConnectClose', R, xVoid, xVoid, BEFORE_OPEN),
  [Proc.CONNECT_GET_TYPE]: p('virConnectGetType', R, xVoid, stringRet),
  [Proc.CONNECT_GET_VERSION]: p('virConnectGetVersion', R, xVoid, uhyperRet),
  [Proc.NODE_GET_INFO]: p('virNodeGetInfo', R, xVoid, nodeInfoRet),
  [Proc.CONNECT_GET_CAPABILITIES]: p('virConnectGetCapabilities', R, xVoid, stringRet),
  [Proc.CONNECT_GET_DOMAIN_CAPABILITIES]: p('virConnectGetDomainCapabilities', W, domainCapsArgs, stringRet),
  [Proc.DOMAIN_CREATE]: p('virDomainCreate', W, dom, xVoid),
  [Proc.DOMAIN_CREATE_XML]: p('virDomainCreateXML', W, xmlFlags, retDom),
  [Proc.DOMAIN_DEFINE_XML]: p('virDomainDefineXML', W, xml, retDom),
  [Proc.DOMAIN_DESTROY]: p('virDomainDestroy', W, dom, xVoid),
  [Proc.DOMAIN_GET_XML_DESC]: p('virDomainGetXMLDesc', R, domFlags, stringRet),
  [Proc.DOMAIN_GET_AUTOSTART]: p('virDomainGetAutostart', R, dom, retInt('autostart')),
  [Proc.DOMAIN_GET_INFO]: p('virDomainGetInfo', R, dom, getInfoRet),
  [Proc.DOMAIN_GET_MAX_MEMORY]: p('virDomainGetMaxMemory', R, dom, uhyperRet),
  [Proc.DOMAIN_GET_OS_TYPE]: p('virDomainGetOSType', R, dom, stringRet),
  [Proc.CONNECT_LIST_DEFINED_DOMAINS]: p('virConnectListDefinedDomains', R, maxNamesArgs, namesRet),
  [Proc.DOMAIN_LOOKUP_BY_ID]: p('virDomainLookupByID', R, lookupByIdArgs, retDom),
  [Proc.DOMAIN_LOOKUP_BY_NAME]: p('virDomainLookupByName', R, lookupByNameArgs, retDom),
  [Proc.DOMAIN_LOOKUP_BY_UUID]: p('virDomainLookupByUUID', R, lookupByUuidArgs, retDom),
  [Proc.CONNECT_NUM_OF_DEFINED_DOMAINS]: p('virConnectNumOfDefinedDomains', R, xVoid, numRet),
  [Proc.DOMAIN_REBOOT]: p('virDomainReboot', W, domFlags, xVoid),
  [Proc.DOMAIN_RESUME]: p('virDomainResume', W, dom, xVoid),
  [Proc.DOMAIN_SET_AUTOSTART]: p('virDomainSetAutostart', W, setAutostartArgs, xVoid),
  [Proc.DOMAIN_SHUTDOWN]: p('virDomainShutdown', W, dom, xVoid),
  [Proc.DOMAIN_SUSPEND]: p('virDomainSuspend', W, dom, xVoid),
  [Proc.DOMAIN_UNDEFINE]: p('virDomainUndefine', W, dom, xVoid),
  [Proc.CONNECT_LIST_DOMAINS]: p('virConnectListDomains', R, maxIdsArgs, idsRet),
  [Proc.CONNECT_NUM_OF_DOMAINS]: p('virConnectNumOfDomains', R, xVoid, numRet),
  [Proc.CONNECT_GET_HOSTNAME]: p('virConnectGetHostname', R, xVoid, stringRet),
  [Proc.CONNECT_SUPPORTS_FEATURE]: p('virConnectSupportsFeature', R, featureArgs, supportedRet, BEFORE_OPEN),
  [Proc.AUTH_LIST]: p('virConnectAuthList', R, xVoid, authListRet, BEFORE_OPEN),
  [Proc.CONNECT_DOMAIN_EVENT_REGISTER]: p('virConnectDomainEventRegister', R, xVoid, cbRegisteredRet),
  [Proc.CONNECT_DOMAIN_EVENT_DEREGISTER]: p('virConnectDomainEventDeregister', R, xVoid, cbRegisteredRet),
  [Proc.CONNECT_GET_URI]: p('virConnectGetURI', R, xVoid, stringRet),
  [Proc.DOMAIN_GET_SECURITY_LABEL]: p('virDomainGetSecurityLabel', R, dom, securityLabelRet),
  [Proc.NODE_GET_SECURITY_MODEL]: p('virNodeGetSecurityModel', R, xVoid, securityModelRet),
  [Proc.CONNECT_IS_SECURE]: p('virConnectIsSecure', R, xVoid, retInt('secure')),
  [Proc.DOMAIN_IS_ACTIVE]: p('virDomainIsActive', R, dom, retInt('active')),
  [Proc.DOMAIN_IS_PERSISTENT]: p('virDomainIsPersistent', R, dom, retInt('persistent')),
  [Proc.CONNECT_GET_LIB_VERSION]: p('virConnectGetLibVersion', R, xVoid, uhyperRet),
  [Proc.DOMAIN_MANAGED_SAVE]: p('virDomainManagedSave', W, domFlags, xVoid),
  [Proc.DOMAIN_HAS_MANAGED_SAVE_IMAGE]: p('virDomainHasManagedSaveImage', R, domFlags, retInt('result')),
  [Proc.DOMAIN_MANAGED_SAVE_REMOVE]: p('virDomainManagedSaveRemove', W, domFlags, xVoid),
  [Proc.DOMAIN_SNAPSHOT_CREATE_XML]: p('virDomainSnapshotCreateXML', W, snapshotCreateArgs, retSnap),
  [Proc.DOMAIN_SNAPSHOT_GET_XML_DESC]: p('virDomainSnapshotGetXMLDesc', R, snapFlags, stringRet),
  [Proc.DOMAIN_SNAPSHOT_NUM]: p('virDomainSnapshotNum', R, domFlags, numRet),
  [Proc.DOMAIN_SNAPSHOT_LIST_NAMES]: p('virDomainSnapshotListNames', R, snapshotListNamesArgs, snapshotNamesRet),
  [Proc.DOMAIN_SNAPSHOT_LOOKUP_BY_NAME]: p('virDomainSnapshotLookupByName', R, snapshotLookupArgs, retSnap),
  [Proc.DOMAIN_HAS_CURRENT_SNAPSHOT]: p('virDomainHasCurrentSnapshot', R, domFlags, retInt('result')),
  [Proc.DOMAIN_SNAPSHOT_CURRENT]: p('virDomainSnapshotCurrent', R, domFlags, retSnap),
  [Proc.DOMAIN_REVERT_TO_SNAPSHOT]: p('virDomainRevertToSnapshot', W, snapFlags, xVoid),
  [Proc.DOMAIN_SNAPSHOT_DELETE]: p('virDomainSnapshotDelete', W, snapFlags, xVoid),
  [Proc.DOMAIN_CREATE_WITH_FLAGS]: p('virDomainCreateWithFlags', W, domFlags, retDom),
  [Proc.DOMAIN_OPEN_CONSOLE]: p('virDomainOpenConsole', W, openConsoleArgs, xVoid, false, STREAM),
  [Proc.CONNECT_GET_SYSINFO]: p('virConnectGetSysinfo', R, flagsArgs, stringRet),
  [Proc.DOMAIN_SCREENSHOT]: p('virDomainScreenshot', W, screenshotArgs, screenshotRet, false, STREAM),
  [Proc.DOMAIN_OPEN_GRAPHICS]: p('virDomainOpenGraphics', W, openGraphicsArgs, xVoid),
  [Proc.DOMAIN_OPEN_GRAPHICS_FD]: p('virDomainOpenGraphicsFD', W, openGraphicsArgs, xVoid),
  [Proc.DOMAIN_GET_STATE]: p('virDomainGetState', R, domFlags, getStateRet),
  [Proc.DOMAIN_UNDEFINE_FLAGS]: p('virDomainUndefineFlags', W, domFlags, xVoid),
  [Proc.DOMAIN_DESTROY_FLAGS]: p('virDomainDestroyFlags', W, domFlags, xVoid),
  [Proc.DOMAIN_SNAPSHOT_GET_PARENT]: p('virDomainSnapshotGetParent', R, snapFlags, retSnap),
  [Proc.DOMAIN_SNAPSHOT_NUM_CHILDREN]: p('virDomainSnapshotNumChildren', R, snapFlags, numRet),
  [Proc.DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES]: p('virDomainSnapshotListChildrenNames', R, childrenNamesArgs, snapshotNamesRet),
  [Proc.DOMAIN_SHUTDOWN_FLAGS]: p('virDomainShutdownFlags', W, domFlags, xVoid),
  [Proc.DOMAIN_SNAPSHOT_IS_CURRENT]: p('virDomainSnapshotIsCurrent', R, snapFlags, retInt('current')),
  [Proc.DOMAIN_SNAPSHOT_HAS_METADATA]: p('virDomainSnapshotHasMetadata', R, snapFlags, retInt('metadata')),
  [Proc.CONNECT_LIST_ALL_DOMAINS]: p('virConnectListAllDomains', R, listAllDomainsArgs, listAllDomainsRet),
  [Proc.DOMAIN_LIST_ALL_SNAPSHOTS]: p('virDomainListAllSnapshots', R, listAllSnapshotsArgs, snapshotsRet),
  [Proc.DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN]: p('virDomainSnapshotListAllChildren', R, listAllChildrenArgs, snapshotsRet),
  [Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY]: p('virConnectDomainEventRegisterAny', R, eventRegisterArgs, callbackIdCodec),
  [Proc.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY]: p('virConnectDomainEventDeregisterAny', R, callbackIdCodec, xVoid),
  [Proc.DOMAIN_DEFINE_XML_FLAGS]: p('virDomainDefineXMLFlags', W, xmlFlags, retDom),
  [Proc.CONNECT_REGISTER_CLOSE_CALLBACK]: p('virConnectRegisterCloseCallback', R, xVoid, xVoid),
  [Proc.CONNECT_UNREGISTER_CLOSE_CALLBACK]: p('virConnectUnregisterCloseCallback', R, xVoid, xVoid),
  [Proc.CONNECT_GET_MAX_VCPUS]: p('virConnectGetMaxVcpus', R, maxVcpusArgs, retInt('maxVcpus')),
  [Proc.DOMAIN_GET_MAX_VCPUS]: p('virDomainGetMaxVcpus', R, dom, numRet),
  [Proc.DOMAIN_GET_VCPUS]: p('virDomainGetVcpus', R, getVcpusArgs, getVcpusRet),
  [Proc.DOMAIN_SET_MAX_MEMORY]: p('virDomainSetMaxMemory', W, setMemoryArgs, xVoid),
  [Proc.DOMAIN_SET_MEMORY]: p('virDomainSetMemory', W, setMemoryArgs, xVoid),
  [Proc.DOMAIN_SET_VCPUS]: p('virDomainSetVcpus', W, setVcpusArgs, xVoid),
  [Proc.DOMAIN_GET_SCHEDULER_TYPE]: p('virDomainGetSchedulerType', R, dom, schedTypeRet),
  [Proc.DOMAIN_GET_SCHEDULER_PARAMETERS]: p('virDomainGetSchedulerParameters', R, getSchedParamsArgs, schedParamsRet),
  [Proc.DOMAIN_SET_SCHEDULER_PARAMETERS]: p('virDomainSetSchedulerParameters', W, setSchedParamsArgs, xVoid),
  [Proc.DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS]: p('virDomainGetSchedulerParametersFlags', R, getSchedParamsFlagsArgs, schedParamsRet),
  [Proc.DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS]: p('virDomainSetSchedulerParametersFlags', W, setSchedParamsFlagsArgs, xVoid),
  [Proc.NODE_GET_CELLS_FREE_MEMORY]: p('virNodeGetCellsFreeMemory', R, cellsFreeArgs, cellsFreeRet),
  [Proc.NODE_GET_FREE_MEMORY]: p('virNodeGetFreeMemory', R, xVoid, freeMemoryRet),
  [Proc.DOMAIN_MEMORY_STATS]: p('virDomainMemoryStats', R, memoryStatsArgs, memoryStatsRet),
  [Proc.DOMAIN_SET_VCPUS_FLAGS]: p('virDomainSetVcpusFlags', W, setVcpusFlagsArgs, xVoid),
  [Proc.DOMAIN_ATTACH_DEVICE]: p('virDomainAttachDevice', W, deviceArgs, xVoid),
  [Proc.DOMAIN_ATTACH_DEVICE_FLAGS]: p('virDomainAttachDeviceFlags', W, deviceFlagsArgs, xVoid),
  [Proc.DOMAIN_DETACH_DEVICE]: p('virDomainDetachDevice', W, deviceArgs, xVoid),
  [Proc.DOMAIN_DETACH_DEVICE_FLAGS]: p('virDomainDetachDeviceFlags', W, deviceFlagsArgs, xVoid),
  [Proc.DOMAIN_UPDATE_DEVICE_FLAGS]: p('virDomainUpdateDeviceFlags', W, deviceFlagsArgs, xVoid),
  [Proc.DOMAIN_DETACH_DEVICE_ALIAS]: p('virDomainDetachDeviceAlias', W, deviceAliasArgs, xVoid),
  [Proc.DOMAIN_GET_VCPUS_FLAGS]: p('virDomainGetVcpusFlags', R, domFlags, numRet),
  [Proc.DOMAIN_IS_UPDATED]: p('virDomainIsUpdated', R, dom, retInt('updated')),
  [Proc.DOMAIN_SET_MEMORY_FLAGS]: p('virDomainSetMemoryFlags', W, setMemoryFlagsArgs, xVoid),
  [Proc.NODE_GET_CPU_STATS]: p('virNodeGetCPUStats', R, nodeStatsArgs, nodeStatsRet),
  [Proc.NODE_GET_MEMORY_STATS]: p('virNodeGetMemoryStats', R, nodeMemStatsArgs, nodeMemStatsRet),
  [Proc.DOMAIN_GET_CONTROL_INFO]: p('virDomainGetControlInfo', R, domFlags, controlInfoRet),
  [Proc.DOMAIN_GET_VCPU_PIN_INFO]: p('virDomainGetVcpuPinInfo', R, vcpuPinInfoArgs, vcpuPinInfoRet),
  [Proc.DOMAIN_RESET]: p('virDomainReset', W, domFlags, xVoid),
  [Proc.DOMAIN_GET_HOSTNAME]: p('virDomainGetHostname', W, domFlags, stringRet),
  [Proc.NODE_GET_CPU_MAP]: p('virNodeGetCPUMap', R, cpuMapArgs, cpuMapRet),
  [Proc.DOMAIN_GET_TIME]: p('virDomainGetTime', W, domFlags, getTimeRet),
  // Statistics, tuning, jobs and migration speed.
  [Proc.DOMAIN_BLOCK_STATS]: p('virDomainBlockStats', R, blockStatsArgs, blockStatsRet),
  [Proc.DOMAIN_BLOCK_STATS_FLAGS]: p('virDomainBlockStatsFlags', R, blockStatsFlagsArgs, blockStatsFlagsRet),
  [Proc.DOMAIN_INTERFACE_STATS]: p('virDomainInterfaceStats', R, interfaceStatsArgs, interfaceStatsRet),
  [Proc.DOMAIN_GET_BLOCK_INFO]: p('virDomainGetBlockInfo', R, blockInfoArgs, blockInfoRet),
  [Proc.DOMAIN_BLOCK_PEEK]: p('virDomainBlockPeek', W, blockPeekArgs, peekRet),
  [Proc.DOMAIN_MEMORY_PEEK]: p('virDomainMemoryPeek', W, memoryPeekArgs, peekRet),
  [Proc.DOMAIN_BLOCK_RESIZE]: p('virDomainBlockResize', W, blockResizeArgs, xVoid),
  [Proc.DOMAIN_SET_MEMORY_PARAMETERS]: p('virDomainSetMemoryParameters', W, setMemoryParamsArgs, xVoid),
  [Proc.DOMAIN_GET_MEMORY_PARAMETERS]: p('virDomainGetMemoryParameters', R, getParamsArgs, memoryParamsRet),
  [Proc.DOMAIN_SET_BLKIO_PARAMETERS]: p('virDomainSetBlkioParameters', W, setBlkioParamsArgs, xVoid),
  [Proc.DOMAIN_GET_BLKIO_PARAMETERS]: p('virDomainGetBlkioParameters', R, getParamsArgs, blkioParamsRet),
  [Proc.DOMAIN_SET_NUMA_PARAMETERS]: p('virDomainSetNumaParameters', W, setNumaParamsArgs, xVoid),
  [Proc.DOMAIN_GET_NUMA_PARAMETERS]: p('virDomainGetNumaParameters', R, getParamsArgs, numaParamsRet),
  [Proc.DOMAIN_SET_INTERFACE_PARAMETERS]: p('virDomainSetInterfaceParameters', W, setInterfaceParamsArgs, xVoid),
  [Proc.DOMAIN_GET_INTERFACE_PARAMETERS]: p('virDomainGetInterfaceParameters', R, getInterfaceParamsArgs, interfaceParamsRet),
  [Proc.DOMAIN_GET_CPU_STATS]: p('virDomainGetCPUStats', R, cpuStatsArgs, cpuStatsRet),
  [Proc.CONNECT_GET_ALL_DOMAIN_STATS]: p('virConnectGetAllDomainStats', R, allDomainStatsArgs, allDomainStatsRet),
  [Proc.DOMAIN_GET_JOB_INFO]: p('virDomainGetJobInfo', R, dom, jobInfoRet),
  [Proc.DOMAIN_GET_JOB_STATS]: p('virDomainGetJobStats', R, domFlags, jobStatsRet),
  [Proc.DOMAIN_ABORT_JOB]: p('virDomainAbortJob', W, dom, xVoid),
  [Proc.DOMAIN_MIGRATE_SET_MAX_SPEED]: p('virDomainMigrateSetMaxSpeed', W, migrateSetSpeedArgs, xVoid),
  [Proc.DOMAIN_MIGRATE_GET_MAX_SPEED]: p('virDomainMigrateGetMaxSpeed', W, domFlags, migrateGetSpeedRet),
  [Proc.DOMAIN_MIGRATE_BEGIN3_PARAMS]: p('virDomainMigrateBegin3Params', W, migrateBegin3Args, migrateBegin3Ret),
  [Proc.DOMAIN_MIGRATE_PREPARE3_PARAMS]: p('virDomainMigratePrepare3Params', W, migratePrepare3Args, migratePrepare3Ret),
  [Proc.DOMAIN_MIGRATE_PERFORM3_PARAMS]: p('virDomainMigratePerform3Params', W, migratePerform3Args, migratePerform3Ret),
  [Proc.DOMAIN_MIGRATE_FINISH3_PARAMS]: p('virDomainMigrateFinish3Params', W, migrateFinish3Args, migrateFinish3Ret),
  [Proc.DOMAIN_MIGRATE_CONFIRM3_PARAMS]: p('virDomainMigrateConfirm3Params', W, migrateConfirm3Args, xVoid),
  [Proc.DOMAIN_SET_METADATA]: p('virDomainSetMetadata', W, setMetadataArgs, xVoid),
  [Proc.DOMAIN_GET_METADATA]: p('virDomainGetMetadata', R, getMetadataArgs, metadataRet),
  [Proc.DOMAIN_RENAME]: p('virDomainRename', W, renameArgs, renameRet),
  [Proc.DOMAIN_PIN_VCPU]: p('virDomainPinVcpu', W, pinVcpuArgs, xVoid),
  [Proc.DOMAIN_PIN_VCPU_FLAGS]: p('virDomainPinVcpuFlags', W, pinVcpuFlagsArgs, xVoid),
  [Proc.DOMAIN_PIN_EMULATOR]: p('virDomainPinEmulator', W, pinEmulatorArgs, xVoid),
  [Proc.DOMAIN_GET_EMULATOR_PIN_INFO]: p('virDomainGetEmulatorPinInfo', R, emulatorPinInfoArgs, emulatorPinInfoRet),
  [Proc.CONNECT_GET_CPU_MODEL_NAMES]: p('virConnectGetCPUModelNames', R, cpuModelNamesArgs, cpuModelNamesRet),
  [Proc.DOMAIN_GET_FSINFO]: p('virDomainGetFSInfo', W, domFlags, fsInfoRet),
  [Proc.DOMAIN_INTERFACE_ADDRESSES]: p('virDomainInterfaceAddresses', R, ifaceAddrsArgs, ifaceAddrsRet),
  [Proc.DOMAIN_RESTORE]: p('virDomainRestore', W, restoreArgs, xVoid),
  [Proc.DOMAIN_SAVE]: p('virDomainSave', W, saveArgs, xVoid),
  [Proc.DOMAIN_SAVE_FLAGS]: p('virDomainSaveFlags', W, saveFlagsArgs, xVoid),
  [Proc.DOMAIN_RESTORE_FLAGS]: p('virDomainRestoreFlags', W, restoreFlagsArgs, xVoid),
  [Proc.DOMAIN_SAVE_IMAGE_GET_XML_DESC]: p('virDomainSaveImageGetXMLDesc', W, saveImageXmlArgs, stringRet),
  [Proc.DOMAIN_SAVE_IMAGE_DEFINE_XML]: p('virDomainSaveImageDefineXML', W, saveImageDefineArgs, xVoid),
  // Checkpoints.
  [Proc.DOMAIN_CHECKPOINT_CREATE_XML]: p('virDomainCheckpointCreateXML', W, checkpointCreateArgs, retCheckpoint),
  [Proc.DOMAIN_CHECKPOINT_GET_XML_DESC]: p('virDomainCheckpointGetXMLDesc', R, checkpointFlags, stringRet),
  [Proc.DOMAIN_LIST_ALL_CHECKPOINTS]: p('virDomainListAllCheckpoints', R, listAllSnapshotsArgs, checkpointsRet),
  [Proc.DOMAIN_CHECKPOINT_LIST_ALL_CHILDREN]: p('virDomainCheckpointListAllChildren', R, checkpointChildrenArgs, checkpointsRet),
  [Proc.DOMAIN_CHECKPOINT_LOOKUP_BY_NAME]: p('virDomainCheckpointLookupByName', R, snapshotLookupArgs, retCheckpoint),
  [Proc.DOMAIN_CHECKPOINT_GET_PARENT]: p('virDomainCheckpointGetParent', R, checkpointFlags, retCheckpoint),
  [Proc.DOMAIN_CHECKPOINT_DELETE]: p('virDomainCheckpointDelete', W, checkpointFlags, xVoid),
  // Virtual networks.
  [Proc.CONNECT_LIST_DEFINED_NETWORKS]: p('virConnectListDefinedNetworks', R, maxNamesArgs, networkNamesRet),
  [Proc.CONNECT_LIST_NETWORKS]: p('virConnectListNetworks', R, maxNamesArgs, networkNamesRet),
  [Proc.NETWORK_CREATE]: p('virNetworkCreate', W, netArgs, xVoid),
  [Proc.NETWORK_CREATE_XML]: p('virNetworkCreateXML', W, xml, netArgs),
  [Proc.NETWORK_DEFINE_XML]: p('virNetworkDefineXML', W, xml, netArgs),
  [Proc.NETWORK_DESTROY]: p('virNetworkDestroy', W, netArgs, xVoid),
  [Proc.NETWORK_GET_XML_DESC]: p('virNetworkGetXMLDesc', R, netFlags, stringRet),
  [Proc.NETWORK_GET_AUTOSTART]: p('virNetworkGetAutostart', R, netArgs, retInt('autostart')),
  [Proc.NETWORK_GET_BRIDGE_NAME]: p('virNetworkGetBridgeName', R, netArgs, stringRet),
  [Proc.NETWORK_LOOKUP_BY_NAME]: p('virNetworkLookupByName', R, lookupByNameArgs, netArgs),
  [Proc.NETWORK_LOOKUP_BY_UUID]: p('virNetworkLookupByUUID', R, lookupByUuidArgs, netArgs),
  [Proc.NETWORK_SET_AUTOSTART]: p('virNetworkSetAutostart', W, netSetAutostartArgs, xVoid),
  [Proc.NETWORK_UNDEFINE]: p('virNetworkUndefine', W, netArgs, xVoid),
  [Proc.CONNECT_NUM_OF_DEFINED_NETWORKS]: p('virConnectNumOfDefinedNetworks', R, xVoid, numRet),
  [Proc.CONNECT_NUM_OF_NETWORKS]: p('virConnectNumOfNetworks', R, xVoid, numRet),
  [Proc.NETWORK_IS_ACTIVE]: p('virNetworkIsActive', R, netArgs, retInt('active')),
  [Proc.NETWORK_IS_PERSISTENT]: p('virNetworkIsPersistent', R, netArgs, retInt('persistent')),
  [Proc.CONNECT_LIST_ALL_NETWORKS]: p('virConnectListAllNetworks', R, listAllDomainsArgs, listAllNetworksRet),
  [Proc.NETWORK_GET_DHCP_LEASES]: p('virNetworkGetDHCPLeases', R, dhcpLeasesArgs, dhcpLeasesRet),
  [Proc.NETWORK_DEFINE_XML_FLAGS]: p('virNetworkDefineXMLFlags', W, xmlFlags, netArgs),
  [Proc.NETWORK_CREATE_XML_FLAGS]: p('virNetworkCreateXMLFlags', W, xmlFlags, netArgs),
  // Storage pools and volumes.
  [Proc.CONNECT_NUM_OF_STORAGE_POOLS]: p('virConnectNumOfStoragePools', R, xVoid, numRet),
  [Proc.CONNECT_LIST_STORAGE_POOLS]: p('virConnectListStoragePools', R, maxNamesArgs, poolNamesRet),
  [Proc.CONNECT_NUM_OF_DEFINED_STORAGE_POOLS]: p('virConnectNumOfDefinedStoragePools', R, xVoid, numRet),
  [Proc.CONNECT_LIST_DEFINED_STORAGE_POOLS]: p('virConnectListDefinedStoragePools', R, maxNamesArgs, poolNamesRet),
  [Proc.STORAGE_POOL_CREATE_XML]: p('virStoragePoolCreateXML', W, xmlFlags, retPool),
  [Proc.STORAGE_POOL_DEFINE_XML]: p('virStoragePoolDefineXML', W, xmlFlags, retPool),
  [Proc.STORAGE_POOL_CREATE]: p('virStoragePoolCreate', W, poolFlags, xVoid),
  [Proc.STORAGE_POOL_BUILD]: p('virStoragePoolBuild', W, poolFlags, xVoid),
  [Proc.STORAGE_POOL_DESTROY]: p('virStoragePoolDestroy', W, poolArg, xVoid),
  [Proc.STORAGE_POOL_DELETE]: p('virStoragePoolDelete', W, poolFlags, xVoid),
  [Proc.STORAGE_POOL_UNDEFINE]: p('virStoragePoolUndefine', W, poolArg, xVoid),
  [Proc.STORAGE_POOL_REFRESH]: p('virStoragePoolRefresh', W, poolFlags, xVoid),
  [Proc.STORAGE_POOL_LOOKUP_BY_NAME]: p('virStoragePoolLookupByName', R, lookupByNameArgs, retPool),
  [Proc.STORAGE_POOL_LOOKUP_BY_UUID]: p('virStoragePoolLookupByUUID', R, lookupByUuidArgs, retPool),
  [Proc.STORAGE_POOL_LOOKUP_BY_VOLUME]: p('virStoragePoolLookupByVolume', R, volArg, retPool),
  [Proc.STORAGE_POOL_GET_INFO]: p('virStoragePoolGetInfo', R, poolArg, poolInfoRet),
  [Proc.STORAGE_POOL_GET_XML_DESC]: p('virStoragePoolGetXMLDesc', R, poolFlags, stringRet),
  [Proc.STORAGE_POOL_GET_AUTOSTART]: p('virStoragePoolGetAutostart', R, poolArg, retInt('autostart')),
  [Proc.STORAGE_POOL_SET_AUTOSTART]: p('virStoragePoolSetAutostart', W, poolAutostartArgs, xVoid),
  [Proc.STORAGE_POOL_NUM_OF_VOLUMES]: p('virStoragePoolNumOfVolumes', R, poolArg, numRet),
  [Proc.STORAGE_POOL_LIST_VOLUMES]: p('virStoragePoolListVolumes', R, poolListVolumesArgs, volNamesRet),
  [Proc.STORAGE_VOL_CREATE_XML]: p('virStorageVolCreateXML', W, volCreateArgs, retVol),
  [Proc.STORAGE_VOL_DELETE]: p('virStorageVolDelete', W, volFlags, xVoid),
  [Proc.STORAGE_VOL_LOOKUP_BY_NAME]: p('virStorageVolLookupByName', R, volLookupByNameArgs, retVol),
  [Proc.STORAGE_VOL_LOOKUP_BY_KEY]: p('virStorageVolLookupByKey', R, keyArgs, retVol),
  [Proc.STORAGE_VOL_LOOKUP_BY_PATH]: p('virStorageVolLookupByPath', R, pathArgs, retVol),
  [Proc.STORAGE_VOL_GET_INFO]: p('virStorageVolGetInfo', R, volArg, volInfoRet),
  [Proc.STORAGE_VOL_GET_XML_DESC]: p('virStorageVolGetXMLDesc', R, volFlags, stringRet),
  [Proc.STORAGE_VOL_GET_PATH]: p('virStorageVolGetPath', R, volArg, stringRet),
  [Proc.STORAGE_VOL_CREATE_XML_FROM]: p('virStorageVolCreateXMLFrom', W, volCreateFromArgs, retVol),
  [Proc.STORAGE_POOL_IS_ACTIVE]: p('virStoragePoolIsActive', R, poolArg, retInt('active')),
  [Proc.STORAGE_POOL_IS_PERSISTENT]: p('virStoragePoolIsPersistent', R, poolArg, retInt('persistent')),
  [Proc.STORAGE_VOL_WIPE]: p('virStorageVolWipe', W, volFlags, xVoid),
  [Proc.STORAGE_VOL_UPLOAD]: p('virStorageVolUpload', W, volTransferArgs, xVoid, false, STREAM),
  [Proc.STORAGE_VOL_DOWNLOAD]: p('virStorageVolDownload', W, volTransferArgs, xVoid, false, STREAM),
  [Proc.STORAGE_VOL_WIPE_PATTERN]: p('virStorageVolWipePattern', W, volWipePatternArgs, xVoid),
  [Proc.STORAGE_VOL_RESIZE]: p('virStorageVolResize', W, volResizeArgs, xVoid),
  [Proc.CONNECT_LIST_ALL_STORAGE_POOLS]: p('virConnectListAllStoragePools', R, listAllDomainsArgs, listAllPoolsRet),
  [Proc.STORAGE_POOL_LIST_ALL_VOLUMES]: p('virStoragePoolListAllVolumes', R, listAllVolumesArgs, listAllVolumesRet),
  [Proc.STORAGE_VOL_GET_INFO_FLAGS]: p('virStorageVolGetInfoFlags', R, volFlags, volInfoRet),
  [Proc.STORAGE_POOL_LOOKUP_BY_TARGET_PATH]: p('virStoragePoolLookupByTargetPath', R, pathArgs, retPool),
});

type Table = typeof PROCEDURE_TABLE;
type CodecValue<C> = C extends Codec<infer T> ? T : never;

/** A procedure of the table: one tsvirt can call and tsvirtd serves. */
export type TableProc = keyof Table;
/** Each procedure's argument type (remote_*_args; void when it has none). */
export type ProcArgs = { [P in TableProc]: CodecValue<Table[P]['args']> };
/** Each procedure's return type (remote_*_ret; void when it has none). */
export type ProcRet = { [P in TableProc]: CodecValue<Table[P]['ret']> };
export type ArgsOf<P extends TableProc> = ProcArgs[P];
export type RetOf<P extends TableProc> = ProcRet[P];

/** The table seen per procedure, so that a generic `P` keeps its args and ret types together. */
const TYPED: { [P in TableProc]: ProcedureEntry<ProcArgs[P], ProcRet[P]> } = PROCEDURE_TABLE;

/** The entry of one procedure of the table, with its exact types. */
export function procedure<P extends TableProc>(proc: P): ProcedureEntry<ArgsOf<P>, RetOf<P>> {
  return TYPED[proc];
}

/** Every procedure of the table by number, for lookups of a number read off the wire. */
export const PROCEDURES: ReadonlyMap<number, ProcedureSpec & { proc: TableProc }> = new Map(
  (Object.keys(PROCEDURE_TABLE).map(Number) as TableProc[]).map((proc) => [proc, { ...PROCEDURE_TABLE[proc], proc, name: Proc[proc] }]),
);

/**
 * Procedures whose call carries file descriptors (CALL_WITH_FDS) or whose reply does
 * (REPLY_WITH_FDS): the count is a u32 between the header and the payload, and each descriptor
 * follows the message as one byte sent with it as SCM_RIGHTS (libvirt's virnetmessage.c and
 * virnetsocket.c). At most {@link NUM_FDS_MAX} per message.
 */
export const FDS_IN_CALL: ReadonlySet<number> = new Set([Proc.DOMAIN_OPEN_GRAPHICS]);
export const FDS_IN_REPLY: ReadonlySet<number> = new Set([Proc.DOMAIN_OPEN_GRAPHICS_FD]);
/** VIR_NET_MESSAGE_NUM_FDS_MAX. */
export const NUM_FDS_MAX = 32;

/** Whether `proc` is a procedure of the table. */
export function isTableProc(proc: number): proc is TableProc {
  return PROCEDURES.has(proc);
}

/**
 * The read-only rule, decided here only: a read-only connection (VIR_CONNECT_RO, or any
 * connection made on libvirt-sock-ro) may call `proc` unless it changes state. The daemon refuses
 * with {@link readOnlyRefusal} before its handler runs; the remote driver refuses the same calls
 * before they go out, as libvirt's client library does.
 */
export function isReadOnlyAllowed(proc: TableProc): boolean {
  return !PROCEDURE_TABLE[proc].mutating;
}

/**
 * The error for a call of `proc` on a read-only connection, or null when it is allowed:
 * VIR_ERR_OPERATION_DENIED "operation forbidden: read only access prevents virXxx", from the
 * error domain of the module the public API lives in, as libvirt's public API raises it.
 */
export function readOnlyRefusal(proc: TableProc): VirError | null {
  if (isReadOnlyAllowed(proc)) return null;
  const { api } = PROCEDURE_TABLE[proc];
  // libvirt's own table knows each API's module; the name-based rule covers anything it lacks.
  const known = REMOTE_PROCEDURES.get(proc);
  const domain = known?.kind === 'api' && known.api === api ? known.domain : apiErrorDomain(api);
  return VirError.report(domain, ErrorNumber.OPERATION_DENIED, `read only access prevents ${api}`);
}

/**
 * The error domain of a public API's module, as its libvirt source file sets VIR_FROM_THIS:
 * libvirt-domain-snapshot.c → VIR_FROM_DOMAIN_SNAPSHOT, libvirt-domain.c → VIR_FROM_DOMAIN.
 * Procedures of another module (networks, storage, …) add its line here.
 */
function apiErrorDomain(api: string): ErrorDomain {
  if (api.startsWith('virDomainSnapshot') || api === 'virDomainRevertToSnapshot') return ErrorDomain.DOMAIN_SNAPSHOT;
  if (api.startsWith('virDomainCheckpoint') || api === 'virDomainListAllCheckpoints') return ErrorDomain.DOMAIN_CHECKPOINT;
  if (api.startsWith('virDomain')) return ErrorDomain.DOMAIN;
  if (api.startsWith('virNetwork') || api.endsWith('Networks')) return ErrorDomain.NETWORK;
  if (api.startsWith('virStorage') || api.includes('StoragePool')) return ErrorDomain.STORAGE;
  return ErrorDomain.NONE;
}
