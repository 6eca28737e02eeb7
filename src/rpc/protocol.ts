/**
 * The remote program (0x20008086, version 1) and the keepalive program (0x6b656570): numbers,
 * limits and the shared wire types, declared here for tsvirt and checked against libvirt's
 * remote_protocol.x, virnetprotocol.x and virkeepaliveprotocol.x.
 */
import { XdrError, type Codec, type XdrReader, type XdrWriter } from './xdr.js';
import { STRING_MAX } from './message.js';

export const REMOTE_PROGRAM = 0x20008086;
export const REMOTE_PROTOCOL_VERSION = 1;
export const KEEPALIVE_PROGRAM = 0x6b656570;
export const KEEPALIVE_PROTOCOL_VERSION = 1;

/** Keepalive procedures. */
export enum KeepaliveProc {
  PING = 1,
  PONG = 2,
}

/** REMOTE_STRING_MAX: the longest remote_nonnull_string. */
export const REMOTE_STRING_MAX = STRING_MAX;
export const REMOTE_DOMAIN_LIST_MAX = 16384;
export const REMOTE_DOMAIN_ID_LIST_MAX = 16384;
export const REMOTE_DOMAIN_NAME_LIST_MAX = 16384;
/** libvirt 9.0's limit on snapshot lists (older releases: 1024 too). */
export const REMOTE_DOMAIN_SNAPSHOT_LIST_MAX = 1024;
export const REMOTE_AUTH_TYPE_LIST_MAX = 20;
/** libvirt 9.0's REMOTE_DOMAIN_CHECKPOINT_LIST_MAX. */
export const REMOTE_DOMAIN_CHECKPOINT_LIST_MAX = 16384;
/** VIR_SECURITY_MODEL_BUFLEN / VIR_SECURITY_DOI_BUFLEN. */
export const REMOTE_SECURITY_MODEL_MAX = 257;
export const REMOTE_SECURITY_DOI_MAX = 257;
export const REMOTE_SECURITY_LABEL_MAX = 4097;
export const VIR_UUID_BUFLEN = 16;
export const REMOTE_VCPUINFO_MAX = 16384;
export const REMOTE_CPUMAPS_MAX = 8388608;
export const REMOTE_CPUMAP_MAX = 2048;
export const REMOTE_NODE_MAX_CELLS = 1024;
export const REMOTE_NODE_CPU_STATS_MAX = 16;
export const REMOTE_NODE_MEMORY_STATS_MAX = 16;
export const REMOTE_DOMAIN_MEMORY_STATS_MAX = 1024;
export const REMOTE_DOMAIN_SCHEDULER_PARAMETERS_MAX = 16;
export const REMOTE_DOMAIN_BLKIO_PARAMETERS_MAX = 16;
export const REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX = 16;
export const REMOTE_DOMAIN_NUMA_PARAMETERS_MAX = 16;
export const REMOTE_DOMAIN_INTERFACE_PARAMETERS_MAX = 16;
export const REMOTE_DOMAIN_BLOCK_STATS_PARAMETERS_MAX = 16;
export const REMOTE_DOMAIN_GET_CPU_STATS_NCPUS_MAX = 128;
export const REMOTE_DOMAIN_GET_CPU_STATS_MAX = 2048;
export const REMOTE_DOMAIN_JOB_STATS_MAX = 64;
export const REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX = 262144;
/** REMOTE_DOMAIN_BLOCK_PEEK_BUFFER_MAX / REMOTE_DOMAIN_MEMORY_PEEK_BUFFER_MAX: one peek's bytes. */
export const REMOTE_DOMAIN_BLOCK_PEEK_BUFFER_MAX = 4194304;
export const REMOTE_DOMAIN_MEMORY_PEEK_BUFFER_MAX = 4194304;
export const REMOTE_NETWORK_LIST_MAX = 16384;
export const REMOTE_NETWORK_NAME_LIST_MAX = 16384;
export const REMOTE_NETWORK_DHCP_LEASES_MAX = 65536;
/** REMOTE_MIGRATE_COOKIE_MAX: a migration cookie's most bytes. */
export const REMOTE_MIGRATE_COOKIE_MAX = 4194304;
/** REMOTE_DOMAIN_MIGRATE_PARAM_LIST_MAX: the most typed parameters a migration step takes. */
export const REMOTE_DOMAIN_MIGRATE_PARAM_LIST_MAX = 64;

/** remote_auth_type. */
export enum RemoteAuthType {
  NONE = 0,
  SASL = 1,
  POLKIT = 2,
}

/** VIR_DRV_FEATURE_* (libvirt_internal.h) that clients ask about. */
export enum DrvFeature {
  MIGRATION_V1 = 1,
  REMOTE = 2,
  MIGRATION_V2 = 3,
  MIGRATION_P2P = 4,
  MIGRATION_DIRECT = 5,
  MIGRATION_V3 = 6,
  MIGRATION_CHANGE_PROTECTION = 7,
  FD_PASSING = 8,
  TYPED_PARAM_STRING = 9,
  PROGRAM_KEEPALIVE = 10,
  XML_MIGRATABLE = 11,
  MIGRATION_OFFLINE = 12,
  MIGRATION_PARAMS = 13,
  REMOTE_EVENT_CALLBACK = 14,
  REMOTE_CLOSE_CALLBACK = 15,
}

/** VIR_CONNECT_RO, in CONNECT_OPEN's flags. */
export const VIR_CONNECT_RO = 1;

/** remote_nonnull_domain. */
export interface WireDomain {
  name: string;
  /** 16 raw bytes. */
  uuid: Buffer;
  /** -1 when inactive. */
  id: number;
}

/** remote_nonnull_domain_snapshot. */
export interface WireSnapshot {
  name: string;
  dom: WireDomain;
}

/** remote_nonnull_domain_checkpoint: laid out as a snapshot handle (name, then domain). */
export type WireCheckpoint = WireSnapshot;

/** remote_nonnull_network. */
/** REMOTE_STORAGE_POOL_LIST_MAX / REMOTE_STORAGE_VOL_LIST_MAX (libvirt 9.0). */
export const REMOTE_STORAGE_POOL_LIST_MAX = 4096;
export const REMOTE_STORAGE_VOL_LIST_MAX = 16384;

/** remote_nonnull_storage_pool. */
export interface WireStoragePool {
  name: string;
  uuid: Buffer;
}
/** remote_nonnull_storage_vol. */
export interface WireStorageVol {
  pool: string;
  name: string;
  key: string;
}

/** remote_nonnull_network (only carried, never used, in errors). */
export interface WireNetwork {
  name: string;
  uuid: Buffer;
}

/** remote_error (virNetMessageError). */
export interface WireError {
  code: number;
  domain: number;
  message: string | null;
  level: number;
  dom: WireDomain | null;
  str1: string | null;
  str2: string | null;
  str3: string | null;
  int1: number;
  int2: number;
  net: WireNetwork | null;
}

// Primitive codecs.

export const xInt: Codec<number> = { enc: (w, v) => void w.int(v), dec: (r) => r.int() };
export const xUint: Codec<number> = { enc: (w, v) => void w.uint(v), dec: (r) => r.uint() };
export const xUhyper: Codec<number> = { enc: (w, v) => void w.uhyper(v), dec: (r) => r.uhyperNumber() };
/** A signed hyper as a number (values beyond 2^53 lose precision, as JSON's would). */
export const xHyper: Codec<number> = { enc: (w, v) => void w.hyper(v), dec: (r) => Number(r.hyper()) };
export const xString: Codec<string> = {
  enc: (w, v) => void w.string(v, REMOTE_STRING_MAX),
  dec: (r) => r.string(REMOTE_STRING_MAX),
};
/** remote_string: an optional remote_nonnull_string. */
export const xOptString: Codec<string | null> = {
  enc: (w, v) => void w.optional(v, (ww, s) => ww.string(s, REMOTE_STRING_MAX)),
  dec: (r) => r.optional((rr) => rr.string(REMOTE_STRING_MAX)),
};
export const xVoid: Codec<void> = { enc: () => {}, dec: () => undefined };

function uuidBytes(w: XdrWriter, uuid: Buffer): void {
  if (uuid.length !== VIR_UUID_BUFLEN) throw new XdrError('XDR_BAD_VALUE', `UUID must be 16 bytes, got ${uuid.length}`);
  w.opaqueFixed(uuid);
}

export const xDomain: Codec<WireDomain> = {
  enc(w, d) {
    w.string(d.name, REMOTE_STRING_MAX);
    uuidBytes(w, d.uuid);
    w.int(d.id);
  },
  dec(r) {
    return { name: r.string(REMOTE_STRING_MAX), uuid: r.opaqueFixed(VIR_UUID_BUFLEN), id: r.int() };
  },
};
/** remote_domain: an optional remote_nonnull_domain. */
export const xOptDomain: Codec<WireDomain | null> = {
  enc: (w, v) => void w.optional(v, (ww, d) => xDomain.enc(ww, d)),
  dec: (r) => r.optional((rr) => xDomain.dec(rr)),
};
export const xSnapshot: Codec<WireSnapshot> = {
  enc(w, s) {
    w.string(s.name, REMOTE_STRING_MAX);
    xDomain.enc(w, s.dom);
  },
  dec(r) {
    return { name: r.string(REMOTE_STRING_MAX), dom: xDomain.dec(r) };
  },
};
export const xStoragePool: Codec<WireStoragePool> = {
  enc(w, p) {
    w.string(p.name, REMOTE_STRING_MAX);
    uuidBytes(w, p.uuid);
  },
  dec(r) {
    return { name: r.string(REMOTE_STRING_MAX), uuid: r.opaqueFixed(VIR_UUID_BUFLEN) };
  },
};
export const xStorageVol: Codec<WireStorageVol> = {
  enc(w, v) {
    w.string(v.pool, REMOTE_STRING_MAX);
    w.string(v.name, REMOTE_STRING_MAX);
    w.string(v.key, REMOTE_STRING_MAX);
  },
  dec(r) {
    return { pool: r.string(REMOTE_STRING_MAX), name: r.string(REMOTE_STRING_MAX), key: r.string(REMOTE_STRING_MAX) };
  },
};
/** remote_nonnull_domain_checkpoint: the same layout as remote_nonnull_domain_snapshot. */
export const xCheckpoint: Codec<WireCheckpoint> = xSnapshot;
/** remote_nonnull_network. */
export const xNetwork: Codec<WireNetwork> = {
  enc(w, n) {
    w.string(n.name, REMOTE_STRING_MAX);
    uuidBytes(w, n.uuid);
  },
  dec(r) {
    return { name: r.string(REMOTE_STRING_MAX), uuid: r.opaqueFixed(VIR_UUID_BUFLEN) };
  },
};

export const xError: Codec<WireError> = {
  enc(w, e) {
    w.int(e.code);
    w.int(e.domain);
    xOptString.enc(w, e.message);
    w.int(e.level);
    xOptDomain.enc(w, e.dom);
    xOptString.enc(w, e.str1);
    xOptString.enc(w, e.str2);
    xOptString.enc(w, e.str3);
    w.int(e.int1);
    w.int(e.int2);
    w.optional(e.net, (ww, n) => xNetwork.enc(ww, n));
  },
  dec(r) {
    return {
      code: r.int(),
      domain: r.int(),
      message: xOptString.dec(r),
      level: r.int(),
      dom: xOptDomain.dec(r),
      str1: xOptString.dec(r),
      str2: xOptString.dec(r),
      str3: xOptString.dec(r),
      int1: r.int(),
      int2: r.int(),
      net: r.optional((rr) => xNetwork.dec(rr)),
    };
  },
};

/** VIR_TYPED_PARAM_*: the types of remote_typed_param_value. */
export enum TypedParamType {
  INT = 1,
  UINT = 2,
  LLONG = 3,
  ULLONG = 4,
  DOUBLE = 5,
  BOOLEAN = 6,
  STRING = 7,
}

/** remote_typed_param: a field name and a value union keyed by its type. */
export interface WireTypedParam {
  field: string;
  type: number;
  value: number | boolean | string;
}
/** VIR_TYPED_PARAM_FIELD_LENGTH: a field name has at most 79 bytes. */
const TYPED_PARAM_FIELD_MAX = 79;
export const xTypedParam: Codec<WireTypedParam> = {
  enc(w, p) {
    w.string(p.field, REMOTE_STRING_MAX);
    w.int(p.type);
    const v = p.value;
    switch (p.type) {
      case TypedParamType.INT:
        w.int(Number(v));
        break;
      case TypedParamType.UINT:
        w.uint(Number(v));
        break;
      case TypedParamType.LLONG:
        w.hyper(Number(v));
        break;
      case TypedParamType.ULLONG:
        w.uhyper(Number(v));
        break;
      case TypedParamType.DOUBLE: {
        const b = Buffer.alloc(8);
        b.writeDoubleBE(Number(v));
        w.opaqueFixed(b);
        break;
      }
      case TypedParamType.BOOLEAN:
        w.int(v === true || v === 1 ? 1 : 0);
        break;
      case TypedParamType.STRING:
        w.string(String(v), REMOTE_STRING_MAX);
        break;
      default:
        throw new XdrError('XDR_BAD_VALUE', `XDR: typed parameter type ${p.type} unknown`);
    }
  },
  dec(r) {
    const field = r.string(REMOTE_STRING_MAX);
    if (Buffer.byteLength(field) > TYPED_PARAM_FIELD_MAX) throw new XdrError('XDR_BAD_VALUE', `XDR: typed parameter name too long: ${field.length}`);
    const type = r.int();
    switch (type) {
      case TypedParamType.INT:
        return { field, type, value: r.int() };
      case TypedParamType.UINT:
        return { field, type, value: r.uint() };
      case TypedParamType.LLONG:
        return { field, type, value: Number(r.hyper()) };
      case TypedParamType.ULLONG:
        return { field, type, value: Number(r.uhyper()) };
      case TypedParamType.DOUBLE:
        return { field, type, value: r.opaqueFixed(8).readDoubleBE(0) };
      case TypedParamType.BOOLEAN:
        return { field, type, value: r.int() !== 0 };
      case TypedParamType.STRING:
        return { field, type, value: r.string(REMOTE_STRING_MAX) };
      default:
        throw new XdrError('XDR_BAD_VALUE', `XDR: typed parameter type ${type} unknown`);
    }
  },
};

/** A struct codec from an ordered list of [field, codec] pairs. */
export function struct<T extends object>(fields: { [K in keyof T]: Codec<T[K]> }): Codec<T> {
  const entries = Object.entries(fields) as [keyof T, Codec<unknown>][];
  return {
    enc(w, v) {
      for (const [k, c] of entries) c.enc(w, v[k]);
    },
    dec(r) {
      const out = {} as T;
      for (const [k, c] of entries) {
        try {
          (out as Record<keyof T, unknown>)[k] = c.dec(r);
        } catch (err) {
          // Nested structs set it first; the outermost field is the one callers can name.
          if (err instanceof XdrError) err.field = String(k);
          throw err;
        }
      }
      return out;
    },
  };
}

/** A variable-length array codec; `minBytes` is the least wire size of one element. */
export function arrayOf<T>(c: Codec<T>, max: number, minBytes = 4): Codec<T[]> {
  return {
    enc: (w, v) => void w.array(v, max, (ww, x) => c.enc(ww, x)),
    dec: (r: XdrReader) => r.array(max, (rr) => c.dec(rr), minBytes),
  };
}

/** UUID bytes ↔ canonical string. */
export function uuidToString(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
export function uuidFromString(s: string): Buffer {
  const hex = s.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new XdrError('XDR_BAD_VALUE', `not a UUID: ${s}`);
  return Buffer.from(hex, 'hex');
}

/** virNetStreamHole: the payload of a STREAM_HOLE packet (virnetprotocol.x). */
export const xStreamHole = struct<{ length: number; flags: number }>({ length: xHyper, flags: xUint });
