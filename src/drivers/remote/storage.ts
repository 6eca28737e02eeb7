/**
 * The remote driver's storage side: each StorageDriver call is one storage procedure on the
 * daemon's connection (libvirt's remote driver serves its storage driver table the same way).
 */
import type { Duplex } from 'node:stream';
import type { StorageDriver, StoragePoolInfo, StoragePoolRef, StorageVolInfo, StorageVolRef } from '../../core/storage-driver.js';
import { Proc, type ArgsOf, type RetOf, type TableProc } from '../../rpc/procedures.js';
import { uuidFromString, uuidToString, type WireStoragePool, type WireStorageVol } from '../../rpc/protocol.js';
import type { RemoteStreamChannel } from './stream.js';

/** How the storage side reaches the daemon: the remote driver's call and stream call. */
export interface RemoteCalls {
  call<P extends TableProc>(proc: P, args: ArgsOf<P>): Promise<RetOf<P>>;
  /** A stream call: the channel carries the stream once the call is answered. */
  streamChannel(proc: TableProc): RemoteStreamChannel;
  callStream<P extends TableProc>(proc: P, args: ArgsOf<P>, channel: RemoteStreamChannel): Promise<RetOf<P>>;
}

function wp(p: StoragePoolRef): WireStoragePool {
  return { name: p.name, uuid: uuidFromString(p.uuid) };
}
function pr(w: WireStoragePool): StoragePoolRef {
  return { name: w.name, uuid: uuidToString(w.uuid) };
}
function wv(v: StorageVolRef): WireStorageVol {
  return { pool: v.pool, name: v.name, key: v.key };
}

export class RemoteStorage implements StorageDriver {
  constructor(private readonly r: RemoteCalls) {}

  async listAllStoragePools(flags: number): Promise<StoragePoolRef[]> {
    return (await this.r.call(Proc.CONNECT_LIST_ALL_STORAGE_POOLS, { needResults: 1, flags })).pools.map(pr);
  }
  async numOfStoragePools(): Promise<number> {
    return (await this.r.call(Proc.CONNECT_NUM_OF_STORAGE_POOLS, undefined)).num;
  }
  async numOfDefinedStoragePools(): Promise<number> {
    return (await this.r.call(Proc.CONNECT_NUM_OF_DEFINED_STORAGE_POOLS, undefined)).num;
  }
  async storagePoolLookupByName(name: string): Promise<StoragePoolRef> {
    return pr((await this.r.call(Proc.STORAGE_POOL_LOOKUP_BY_NAME, { name })).pool);
  }
  async storagePoolLookupByUUID(uuid: string): Promise<StoragePoolRef> {
    return pr((await this.r.call(Proc.STORAGE_POOL_LOOKUP_BY_UUID, { uuid: uuidFromString(uuid) })).pool);
  }
  async storagePoolLookupByVolume(vol: StorageVolRef): Promise<StoragePoolRef> {
    return pr((await this.r.call(Proc.STORAGE_POOL_LOOKUP_BY_VOLUME, { vol: wv(vol) })).pool);
  }
  async storagePoolLookupByTargetPath(path: string): Promise<StoragePoolRef> {
    return pr((await this.r.call(Proc.STORAGE_POOL_LOOKUP_BY_TARGET_PATH, { path })).pool);
  }
  async storagePoolDefineXML(xml: string, flags: number): Promise<StoragePoolRef> {
    return pr((await this.r.call(Proc.STORAGE_POOL_DEFINE_XML, { xml, flags })).pool);
  }
  async storagePoolCreateXML(xml: string, flags: number): Promise<StoragePoolRef> {
    return pr((await this.r.call(Proc.STORAGE_POOL_CREATE_XML, { xml, flags })).pool);
  }
  async storagePoolCreate(pool: StoragePoolRef, flags: number): Promise<void> {
    await this.r.call(Proc.STORAGE_POOL_CREATE, { pool: wp(pool), flags });
  }
  async storagePoolBuild(pool: StoragePoolRef, flags: number): Promise<void> {
    await this.r.call(Proc.STORAGE_POOL_BUILD, { pool: wp(pool), flags });
  }
  async storagePoolDestroy(pool: StoragePoolRef): Promise<void> {
    await this.r.call(Proc.STORAGE_POOL_DESTROY, { pool: wp(pool) });
  }
  async storagePoolDelete(pool: StoragePoolRef, flags: number): Promise<void> {
    await this.r.call(Proc.STORAGE_POOL_DELETE, { pool: wp(pool), flags });
  }
  async storagePoolUndefine(pool: StoragePoolRef): Promise<void> {
    await this.r.call(Proc.STORAGE_POOL_UNDEFINE, { pool: wp(pool) });
  }
  async storagePoolRefresh(pool: StoragePoolRef, flags: number): Promise<void> {
    await this.r.call(Proc.STORAGE_POOL_REFRESH, { pool: wp(pool), flags });
  }
  async storagePoolGetInfo(pool: StoragePoolRef): Promise<StoragePoolInfo> {
    return this.r.call(Proc.STORAGE_POOL_GET_INFO, { pool: wp(pool) });
  }
  async storagePoolGetXMLDesc(pool: StoragePoolRef, flags: number): Promise<string> {
    return (await this.r.call(Proc.STORAGE_POOL_GET_XML_DESC, { pool: wp(pool), flags })).value;
  }
  async storagePoolGetAutostart(pool: StoragePoolRef): Promise<boolean> {
    return (await this.r.call(Proc.STORAGE_POOL_GET_AUTOSTART, { pool: wp(pool) })).autostart !== 0;
  }
  async storagePoolSetAutostart(pool: StoragePoolRef, autostart: boolean): Promise<void> {
    await this.r.call(Proc.STORAGE_POOL_SET_AUTOSTART, { pool: wp(pool), autostart: autostart ? 1 : 0 });
  }
  async storagePoolIsActive(pool: StoragePoolRef): Promise<boolean> {
    return (await this.r.call(Proc.STORAGE_POOL_IS_ACTIVE, { pool: wp(pool) })).active !== 0;
  }
  async storagePoolIsPersistent(pool: StoragePoolRef): Promise<boolean> {
    return (await this.r.call(Proc.STORAGE_POOL_IS_PERSISTENT, { pool: wp(pool) })).persistent !== 0;
  }
  async storagePoolNumOfVolumes(pool: StoragePoolRef): Promise<number> {
    return (await this.r.call(Proc.STORAGE_POOL_NUM_OF_VOLUMES, { pool: wp(pool) })).num;
  }
  async storagePoolListAllVolumes(pool: StoragePoolRef, flags: number): Promise<StorageVolRef[]> {
    return (await this.r.call(Proc.STORAGE_POOL_LIST_ALL_VOLUMES, { pool: wp(pool), needResults: 1, flags })).vols;
  }
  async storageVolCreateXML(pool: StoragePoolRef, xml: string, flags: number): Promise<StorageVolRef> {
    return (await this.r.call(Proc.STORAGE_VOL_CREATE_XML, { pool: wp(pool), xml, flags })).vol;
  }
  async storageVolCreateXMLFrom(pool: StoragePoolRef, xml: string, clone: StorageVolRef, flags: number): Promise<StorageVolRef> {
    return (await this.r.call(Proc.STORAGE_VOL_CREATE_XML_FROM, { pool: wp(pool), xml, clonevol: wv(clone), flags })).vol;
  }
  async storageVolLookupByName(pool: StoragePoolRef, name: string): Promise<StorageVolRef> {
    return (await this.r.call(Proc.STORAGE_VOL_LOOKUP_BY_NAME, { pool: wp(pool), name })).vol;
  }
  async storageVolLookupByKey(key: string): Promise<StorageVolRef> {
    return (await this.r.call(Proc.STORAGE_VOL_LOOKUP_BY_KEY, { key })).vol;
  }
  async storageVolLookupByPath(path: string): Promise<StorageVolRef> {
    return (await this.r.call(Proc.STORAGE_VOL_LOOKUP_BY_PATH, { path })).vol;
  }
  async storageVolDelete(vol: StorageVolRef, flags: number): Promise<void> {
    await this.r.call(Proc.STORAGE_VOL_DELETE, { vol: wv(vol), flags });
  }
  async storageVolWipe(vol: StorageVolRef, algorithm: number | null, flags: number): Promise<void> {
    if (algorithm === null) await this.r.call(Proc.STORAGE_VOL_WIPE, { vol: wv(vol), flags });
    else await this.r.call(Proc.STORAGE_VOL_WIPE_PATTERN, { vol: wv(vol), algorithm, flags });
  }
  async storageVolResize(vol: StorageVolRef, capacity: number, flags: number): Promise<void> {
    await this.r.call(Proc.STORAGE_VOL_RESIZE, { vol: wv(vol), capacity, flags });
  }
  async storageVolGetInfo(vol: StorageVolRef, flags: number | null): Promise<StorageVolInfo> {
    if (flags === null) return this.r.call(Proc.STORAGE_VOL_GET_INFO, { vol: wv(vol) });
    return this.r.call(Proc.STORAGE_VOL_GET_INFO_FLAGS, { vol: wv(vol), flags });
  }
  async storageVolGetXMLDesc(vol: StorageVolRef, flags: number): Promise<string> {
    return (await this.r.call(Proc.STORAGE_VOL_GET_XML_DESC, { vol: wv(vol), flags })).value;
  }
  async storageVolGetPath(vol: StorageVolRef): Promise<string> {
    return (await this.r.call(Proc.STORAGE_VOL_GET_PATH, { vol: wv(vol) })).value;
  }
  async storageVolUpload(vol: StorageVolRef, offset: number, length: number, flags: number): Promise<Duplex> {
    const channel = this.r.streamChannel(Proc.STORAGE_VOL_UPLOAD);
    await this.r.callStream(Proc.STORAGE_VOL_UPLOAD, { vol: wv(vol), offset, length, flags }, channel);
    return channel;
  }
  async storageVolDownload(vol: StorageVolRef, offset: number, length: number, flags: number): Promise<Duplex> {
    const channel = this.r.streamChannel(Proc.STORAGE_VOL_DOWNLOAD);
    await this.r.callStream(Proc.STORAGE_VOL_DOWNLOAD, { vol: wv(vol), offset, length, flags }, channel);
    return channel;
  }
}
