/**
 * The storage driver table: what a driver supplies for storage pools and volumes, like libvirt's
 * virStorageDriver (libvirt keeps it beside the hypervisor driver of a connection). A
 * {@link HypervisorDriver} that has storage exposes one as its optional `storage`; the public API
 * ({@link Connection}, {@link StoragePool}, {@link StorageVol}) answers VIR_ERR_NO_SUPPORT for a
 * driver without it.
 *
 * Pools are addressed by their ref (the driver resolves them by UUID), volumes by (pool name,
 * volume name). The API has checked the connection, read-only access and the argument types;
 * each method checks the flags its driver supports first (VIR_ERR_INVALID_ARG before anything
 * changes), then does the work. The contract of each method is that of the public method named
 * beside it.
 */
import type { Duplex } from 'node:stream';

/** What a StoragePool handle carries (libvirt's virStoragePoolPtr): identity as of lookup. */
export interface StoragePoolRef {
  /** The pool's name. */
  readonly name: string;
  /** The pool's UUID, canonical (lower-case, dashed). */
  readonly uuid: string;
}

/** What a StorageVol handle carries (libvirt's virStorageVolPtr). */
export interface StorageVolRef {
  /** The name of the pool the volume is in. */
  readonly pool: string;
  /** The volume's name (a file name in a directory pool). */
  readonly name: string;
  /** The volume's key: unique on the host (for a file, its path). */
  readonly key: string;
}

/** virStoragePoolInfo; sizes in bytes. */
export interface StoragePoolInfo {
  /** A {@link StoragePoolState} value. */
  state: number;
  /** Logical size of the pool. */
  capacity: number;
  /** Bytes allocated to volumes (and, for a directory, anything else on its file system). */
  allocation: number;
  /** Bytes free for new volumes. */
  available: number;
}

/** virStorageVolInfo; sizes in bytes. */
export interface StorageVolInfo {
  /** A {@link StorageVolType} value. */
  type: number;
  /** The size the guest sees. */
  capacity: number;
  /** Bytes the volume takes on the host. */
  allocation: number;
}

/** A storage pool lifecycle event (VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE). */
export interface StoragePoolLifecycleEvent {
  /** The pool, as of the event. */
  pool: StoragePoolRef;
  /** A {@link StoragePoolEventLifecycleType} value (DEFINED, UNDEFINED, STARTED, STOPPED, CREATED, DELETED). */
  event: number;
  /** Always 0 (libvirt defines no details). */
  detail: number;
}

/** Listener for storage pool events. */
export type StoragePoolEventListener = (event: StoragePoolLifecycleEvent) => void;

/**
 * The storage driver interface. Every method is async; errors are VirError (reported from
 * VIR_FROM_STORAGE, or the test driver's VIR_FROM_TEST where libvirt's test driver reports).
 */
export interface StorageDriver {
  /** virConnectListAllStoragePools: {@link Connection.listAllStoragePools}. */
  listAllStoragePools(flags: number): Promise<StoragePoolRef[]>;
  /** virConnectNumOfStoragePools: active pools. */
  numOfStoragePools(): Promise<number>;
  /** virConnectNumOfDefinedStoragePools: inactive pools. */
  numOfDefinedStoragePools(): Promise<number>;
  /** virStoragePoolLookupByName: VIR_ERR_NO_STORAGE_POOL when absent. */
  storagePoolLookupByName(name: string): Promise<StoragePoolRef>;
  /** virStoragePoolLookupByUUID, `uuid` canonical. */
  storagePoolLookupByUUID(uuid: string): Promise<StoragePoolRef>;
  /** virStoragePoolLookupByVolume. */
  storagePoolLookupByVolume(vol: StorageVolRef): Promise<StoragePoolRef>;
  /** virStoragePoolLookupByTargetPath (libvirt's test driver lacks it). */
  storagePoolLookupByTargetPath?(path: string): Promise<StoragePoolRef>;
  /** virStoragePoolDefineXML: {@link Connection.storagePoolDefineXML}. */
  storagePoolDefineXML(xml: string, flags: number): Promise<StoragePoolRef>;
  /** virStoragePoolCreateXML: a transient pool, started. */
  storagePoolCreateXML(xml: string, flags: number): Promise<StoragePoolRef>;
  /** virStoragePoolCreate: {@link StoragePool.create}. */
  storagePoolCreate(pool: StoragePoolRef, flags: number): Promise<void>;
  /** virStoragePoolBuild: {@link StoragePool.build}. */
  storagePoolBuild(pool: StoragePoolRef, flags: number): Promise<void>;
  /** virStoragePoolDestroy: {@link StoragePool.destroy}. */
  storagePoolDestroy(pool: StoragePoolRef): Promise<void>;
  /** virStoragePoolDelete: {@link StoragePool.delete}. */
  storagePoolDelete(pool: StoragePoolRef, flags: number): Promise<void>;
  /** virStoragePoolUndefine: {@link StoragePool.undefine}. */
  storagePoolUndefine(pool: StoragePoolRef): Promise<void>;
  /** virStoragePoolRefresh: {@link StoragePool.refresh}. */
  storagePoolRefresh(pool: StoragePoolRef, flags: number): Promise<void>;
  /** virStoragePoolGetInfo. */
  storagePoolGetInfo(pool: StoragePoolRef): Promise<StoragePoolInfo>;
  /** virStoragePoolGetXMLDesc. */
  storagePoolGetXMLDesc(pool: StoragePoolRef, flags: number): Promise<string>;
  /** virStoragePoolGetAutostart. */
  storagePoolGetAutostart(pool: StoragePoolRef): Promise<boolean>;
  /** virStoragePoolSetAutostart. */
  storagePoolSetAutostart(pool: StoragePoolRef, autostart: boolean): Promise<void>;
  /** virStoragePoolIsActive. */
  storagePoolIsActive(pool: StoragePoolRef): Promise<boolean>;
  /** virStoragePoolIsPersistent. */
  storagePoolIsPersistent(pool: StoragePoolRef): Promise<boolean>;
  /** virStoragePoolNumOfVolumes. */
  storagePoolNumOfVolumes(pool: StoragePoolRef): Promise<number>;
  /** virStoragePoolListAllVolumes, in name order. */
  storagePoolListAllVolumes(pool: StoragePoolRef, flags: number): Promise<StorageVolRef[]>;

  /** virStorageVolCreateXML: {@link StoragePool.createXML}. */
  storageVolCreateXML(pool: StoragePoolRef, xml: string, flags: number): Promise<StorageVolRef>;
  /** virStorageVolCreateXMLFrom: {@link StoragePool.createXMLFrom}. */
  storageVolCreateXMLFrom(pool: StoragePoolRef, xml: string, clone: StorageVolRef, flags: number): Promise<StorageVolRef>;
  /** virStorageVolLookupByName. */
  storageVolLookupByName(pool: StoragePoolRef, name: string): Promise<StorageVolRef>;
  /** virStorageVolLookupByKey. */
  storageVolLookupByKey(key: string): Promise<StorageVolRef>;
  /** virStorageVolLookupByPath. */
  storageVolLookupByPath(path: string): Promise<StorageVolRef>;
  /** virStorageVolDelete: {@link StorageVol.delete}. */
  storageVolDelete(vol: StorageVolRef, flags: number): Promise<void>;
  /** virStorageVolWipe / virStorageVolWipePattern (`algorithm` null: the plain call). */
  storageVolWipe?(vol: StorageVolRef, algorithm: number | null, flags: number): Promise<void>;
  /** virStorageVolResize. */
  storageVolResize?(vol: StorageVolRef, capacity: number, flags: number): Promise<void>;
  /** virStorageVolGetInfo(Flags) (`flags` null: the call without flags). */
  storageVolGetInfo(vol: StorageVolRef, flags: number | null): Promise<StorageVolInfo>;
  /** virStorageVolGetXMLDesc. */
  storageVolGetXMLDesc(vol: StorageVolRef, flags: number): Promise<string>;
  /** virStorageVolGetPath. */
  storageVolGetPath(vol: StorageVolRef): Promise<string>;
  /**
   * virStorageVolUpload: a channel whose written bytes go into the volume from `offset`, at most
   * `length` of them (0: up to the end). Ending the channel's writable side completes the upload.
   */
  storageVolUpload?(vol: StorageVolRef, offset: number, length: number, flags: number): Promise<Duplex>;
  /** virStorageVolDownload: a channel to read the volume's bytes from `offset`, `length` of them (0: to the end). */
  storageVolDownload?(vol: StorageVolRef, offset: number, length: number, flags: number): Promise<Duplex>;

  /** Starts delivering pool lifecycle events to `listener`; returns the function that stops it. */
  subscribePools?(listener: StoragePoolEventListener): () => void;
}
