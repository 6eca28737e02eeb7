/**
 * The handlers of the storage procedures (pools and volumes): each calls tsvirt's public API
 * (StoragePool, StorageVol) on the client's Connection, as the domain handlers do.
 */
import { StoragePool, StorageVol, VirError } from '../index.js';
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { Proc } from '../rpc/procedures.js';
import {
  REMOTE_STORAGE_POOL_LIST_MAX,
  REMOTE_STORAGE_VOL_LIST_MAX,
  uuidFromString,
  uuidToString,
  type WireStoragePool,
  type WireStorageVol,
} from '../rpc/protocol.js';
import type { HandlerContext, HandlerTable } from './handlers.js';

/** The storage procedures. */
type StorageProc =
  | Proc.CONNECT_NUM_OF_STORAGE_POOLS
  | Proc.CONNECT_LIST_STORAGE_POOLS
  | Proc.CONNECT_NUM_OF_DEFINED_STORAGE_POOLS
  | Proc.CONNECT_LIST_DEFINED_STORAGE_POOLS
  | Proc.STORAGE_POOL_CREATE_XML
  | Proc.STORAGE_POOL_DEFINE_XML
  | Proc.STORAGE_POOL_CREATE
  | Proc.STORAGE_POOL_BUILD
  | Proc.STORAGE_POOL_DESTROY
  | Proc.STORAGE_POOL_DELETE
  | Proc.STORAGE_POOL_UNDEFINE
  | Proc.STORAGE_POOL_REFRESH
  | Proc.STORAGE_POOL_LOOKUP_BY_NAME
  | Proc.STORAGE_POOL_LOOKUP_BY_UUID
  | Proc.STORAGE_POOL_LOOKUP_BY_VOLUME
  | Proc.STORAGE_POOL_GET_INFO
  | Proc.STORAGE_POOL_GET_XML_DESC
  | Proc.STORAGE_POOL_GET_AUTOSTART
  | Proc.STORAGE_POOL_SET_AUTOSTART
  | Proc.STORAGE_POOL_NUM_OF_VOLUMES
  | Proc.STORAGE_POOL_LIST_VOLUMES
  | Proc.STORAGE_VOL_CREATE_XML
  | Proc.STORAGE_VOL_DELETE
  | Proc.STORAGE_VOL_LOOKUP_BY_NAME
  | Proc.STORAGE_VOL_LOOKUP_BY_KEY
  | Proc.STORAGE_VOL_LOOKUP_BY_PATH
  | Proc.STORAGE_VOL_GET_INFO
  | Proc.STORAGE_VOL_GET_XML_DESC
  | Proc.STORAGE_VOL_GET_PATH
  | Proc.STORAGE_VOL_CREATE_XML_FROM
  | Proc.STORAGE_POOL_IS_ACTIVE
  | Proc.STORAGE_POOL_IS_PERSISTENT
  | Proc.STORAGE_VOL_WIPE
  | Proc.STORAGE_VOL_UPLOAD
  | Proc.STORAGE_VOL_DOWNLOAD
  | Proc.STORAGE_VOL_WIPE_PATTERN
  | Proc.STORAGE_VOL_RESIZE
  | Proc.CONNECT_LIST_ALL_STORAGE_POOLS
  | Proc.STORAGE_POOL_LIST_ALL_VOLUMES
  | Proc.STORAGE_VOL_GET_INFO_FLAGS
  | Proc.STORAGE_POOL_LOOKUP_BY_TARGET_PATH;

/** A pool handle from the wire, without a lookup (the driver resolves it by UUID on each call). */
function poolOf(ctx: HandlerContext, w: WireStoragePool): StoragePool {
  return new StoragePool(ctx.conn(), { name: w.name, uuid: uuidToString(w.uuid) });
}
function wirePool(p: StoragePool): WireStoragePool {
  return { name: p.name(), uuid: uuidFromString(p.UUIDString()) };
}
function volOf(ctx: HandlerContext, w: WireStorageVol): StorageVol {
  return new StorageVol(ctx.conn(), { pool: w.pool, name: w.name, key: w.key });
}
function wireVol(v: StorageVol): WireStorageVol {
  return { pool: v.ref.pool, name: v.name(), key: v.key() };
}
function limitNames(names: string[], maxnames: number, max: number, what: string): string[] {
  if (maxnames > max) throw VirError.report(ErrorDomain.RPC, ErrorNumber.RPC, `maxnames > ${what}`);
  return names.slice(0, Math.max(0, maxnames));
}

export const STORAGE_HANDLERS: Pick<HandlerTable, StorageProc> = {
  [Proc.CONNECT_NUM_OF_STORAGE_POOLS]: async (ctx) => ({ num: await ctx.conn().numOfStoragePools() }),
  [Proc.CONNECT_NUM_OF_DEFINED_STORAGE_POOLS]: async (ctx) => ({ num: await ctx.conn().numOfDefinedStoragePools() }),
  [Proc.CONNECT_LIST_STORAGE_POOLS]: async (ctx, a) => ({
    names: limitNames(await ctx.conn().listStoragePools(), a.maxnames, REMOTE_STORAGE_POOL_LIST_MAX, 'REMOTE_STORAGE_POOL_LIST_MAX'),
  }),
  [Proc.CONNECT_LIST_DEFINED_STORAGE_POOLS]: async (ctx, a) => ({
    names: limitNames(await ctx.conn().listDefinedStoragePools(), a.maxnames, REMOTE_STORAGE_POOL_LIST_MAX, 'REMOTE_STORAGE_POOL_LIST_MAX'),
  }),
  [Proc.CONNECT_LIST_ALL_STORAGE_POOLS]: async (ctx, a) => {
    const pools = await ctx.conn().listAllStoragePools(a.flags);
    if (pools.length > REMOTE_STORAGE_POOL_LIST_MAX) throw VirError.report(ErrorDomain.RPC, ErrorNumber.RPC, `too many remote storage pools: ${pools.length} > ${REMOTE_STORAGE_POOL_LIST_MAX}`);
    return { pools: a.needResults !== 0 ? pools.map(wirePool) : [], ret: pools.length };
  },
  [Proc.STORAGE_POOL_CREATE_XML]: async (ctx, a) => ({ pool: wirePool(await ctx.conn().storagePoolCreateXML(a.xml, a.flags)) }),
  [Proc.STORAGE_POOL_DEFINE_XML]: async (ctx, a) => ({ pool: wirePool(await ctx.conn().storagePoolDefineXML(a.xml, a.flags)) }),
  [Proc.STORAGE_POOL_CREATE]: async (ctx, a) => poolOf(ctx, a.pool).create(a.flags),
  [Proc.STORAGE_POOL_BUILD]: async (ctx, a) => poolOf(ctx, a.pool).build(a.flags),
  [Proc.STORAGE_POOL_DESTROY]: async (ctx, a) => poolOf(ctx, a.pool).destroy(),
  [Proc.STORAGE_POOL_DELETE]: async (ctx, a) => poolOf(ctx, a.pool).delete(a.flags),
  [Proc.STORAGE_POOL_UNDEFINE]: async (ctx, a) => poolOf(ctx, a.pool).undefine(),
  [Proc.STORAGE_POOL_REFRESH]: async (ctx, a) => poolOf(ctx, a.pool).refresh(a.flags),
  [Proc.STORAGE_POOL_LOOKUP_BY_NAME]: async (ctx, a) => ({ pool: wirePool(await ctx.conn().storagePoolLookupByName(a.name)) }),
  [Proc.STORAGE_POOL_LOOKUP_BY_UUID]: async (ctx, a) => ({ pool: wirePool(await ctx.conn().storagePoolLookupByUUIDString(uuidToString(a.uuid))) }),
  [Proc.STORAGE_POOL_LOOKUP_BY_VOLUME]: async (ctx, a) => ({ pool: wirePool(await volOf(ctx, a.vol).storagePoolLookupByVolume()) }),
  [Proc.STORAGE_POOL_LOOKUP_BY_TARGET_PATH]: async (ctx, a) => ({ pool: wirePool(await ctx.conn().storagePoolLookupByTargetPath(a.path)) }),
  [Proc.STORAGE_POOL_GET_INFO]: async (ctx, a) => {
    const [state, capacity, allocation, available] = await poolOf(ctx, a.pool).info();
    return { state, capacity, allocation, available };
  },
  [Proc.STORAGE_POOL_GET_XML_DESC]: async (ctx, a) => ({ value: await poolOf(ctx, a.pool).XMLDesc(a.flags) }),
  [Proc.STORAGE_POOL_GET_AUTOSTART]: async (ctx, a) => ({ autostart: (await poolOf(ctx, a.pool).autostart()) ? 1 : 0 }),
  [Proc.STORAGE_POOL_SET_AUTOSTART]: async (ctx, a) => poolOf(ctx, a.pool).setAutostart(a.autostart !== 0),
  [Proc.STORAGE_POOL_IS_ACTIVE]: async (ctx, a) => ({ active: (await poolOf(ctx, a.pool).isActive()) ? 1 : 0 }),
  [Proc.STORAGE_POOL_IS_PERSISTENT]: async (ctx, a) => ({ persistent: (await poolOf(ctx, a.pool).isPersistent()) ? 1 : 0 }),
  [Proc.STORAGE_POOL_NUM_OF_VOLUMES]: async (ctx, a) => ({ num: await poolOf(ctx, a.pool).numOfVolumes() }),
  [Proc.STORAGE_POOL_LIST_VOLUMES]: async (ctx, a) => ({
    names: limitNames(await poolOf(ctx, a.pool).listVolumes(), a.maxnames, REMOTE_STORAGE_VOL_LIST_MAX, 'REMOTE_STORAGE_VOL_LIST_MAX'),
  }),
  [Proc.STORAGE_POOL_LIST_ALL_VOLUMES]: async (ctx, a) => {
    const vols = await poolOf(ctx, a.pool).listAllVolumes(a.flags);
    if (vols.length > REMOTE_STORAGE_VOL_LIST_MAX) throw VirError.report(ErrorDomain.RPC, ErrorNumber.RPC, `too many remote storage volumes: ${vols.length} > ${REMOTE_STORAGE_VOL_LIST_MAX}`);
    return { vols: a.needResults !== 0 ? vols.map(wireVol) : [], ret: vols.length };
  },
  [Proc.STORAGE_VOL_CREATE_XML]: async (ctx, a) => ({ vol: wireVol(await poolOf(ctx, a.pool).createXML(a.xml, a.flags)) }),
  [Proc.STORAGE_VOL_CREATE_XML_FROM]: async (ctx, a) => ({
    vol: wireVol(await poolOf(ctx, a.pool).createXMLFrom(a.xml, volOf(ctx, a.clonevol), a.flags)),
  }),
  [Proc.STORAGE_VOL_DELETE]: async (ctx, a) => volOf(ctx, a.vol).delete(a.flags),
  [Proc.STORAGE_VOL_LOOKUP_BY_NAME]: async (ctx, a) => ({ vol: wireVol(await poolOf(ctx, a.pool).storageVolLookupByName(a.name)) }),
  [Proc.STORAGE_VOL_LOOKUP_BY_KEY]: async (ctx, a) => ({ vol: wireVol(await ctx.conn().storageVolLookupByKey(a.key)) }),
  [Proc.STORAGE_VOL_LOOKUP_BY_PATH]: async (ctx, a) => ({ vol: wireVol(await ctx.conn().storageVolLookupByPath(a.path)) }),
  [Proc.STORAGE_VOL_GET_INFO]: async (ctx, a) => {
    const [type, capacity, allocation] = await volOf(ctx, a.vol).info();
    return { type, capacity, allocation };
  },
  [Proc.STORAGE_VOL_GET_INFO_FLAGS]: async (ctx, a) => {
    const [type, capacity, allocation] = await volOf(ctx, a.vol).infoFlags(a.flags);
    return { type, capacity, allocation };
  },
  [Proc.STORAGE_VOL_GET_XML_DESC]: async (ctx, a) => ({ value: await volOf(ctx, a.vol).XMLDesc(a.flags) }),
  [Proc.STORAGE_VOL_GET_PATH]: async (ctx, a) => ({ value: await volOf(ctx, a.vol).path() }),
  [Proc.STORAGE_VOL_WIPE]: async (ctx, a) => volOf(ctx, a.vol).wipe(a.flags),
  [Proc.STORAGE_VOL_WIPE_PATTERN]: async (ctx, a) => volOf(ctx, a.vol).wipePattern(a.algorithm, a.flags),
  [Proc.STORAGE_VOL_RESIZE]: async (ctx, a) => volOf(ctx, a.vol).resize(a.capacity, a.flags),
  [Proc.STORAGE_VOL_UPLOAD]: async (ctx, a) => {
    const stream = ctx.callStream();
    await volOf(ctx, a.vol).upload(stream, a.offset, a.length, a.flags);
  },
  [Proc.STORAGE_VOL_DOWNLOAD]: async (ctx, a) => {
    const stream = ctx.callStream();
    await volOf(ctx, a.vol).download(stream, a.offset, a.length, a.flags);
  },
};
