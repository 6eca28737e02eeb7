/**
 * StoragePool and StorageVol: handles on a storage pool and on a volume in one (libvirt's
 * virStoragePoolPtr and virStorageVolPtr), with python-libvirt's method names, async.
 */
import type { Connection } from './connection.js';
import type { Stream } from './stream.js';
import { ErrorDomain, type StorageVolWipeAlgorithm } from '../core/enums.generated.js';
import { VirError, noSupport } from '../core/errors.js';
import type { StorageDriver, StoragePoolRef, StorageVolRef } from '../core/storage-driver.js';

/**
 * @internal The connection's storage driver, or VIR_ERR_NO_SUPPORT (from VIR_FROM_STORAGE, as
 * libvirt's storage API module) when its driver has no storage; VIR_ERR_OPERATION_DENIED for a
 * mutating call on a read-only connection.
 */
export function storageDriver(conn: Connection, api: string, writable: boolean): StorageDriver {
  const drv = writable ? conn.writableDriver(api, ErrorDomain.STORAGE) : conn.driverFor(api);
  if (drv.storage === undefined) throw noSupport(ErrorDomain.STORAGE, api);
  return drv.storage;
}

/** @internal A driver method that a storage driver may lack, or VIR_ERR_NO_SUPPORT. */
function optional<K extends keyof StorageDriver>(drv: StorageDriver, key: K, api: string): NonNullable<StorageDriver[K]> {
  const fn = drv[key];
  if (typeof fn !== 'function') throw noSupport(ErrorDomain.STORAGE, api);
  return (fn as (...args: unknown[]) => unknown).bind(drv) as NonNullable<StorageDriver[K]>;
}

function checkUInt(value: number, what: string, api: string): void {
  if (!Number.isInteger(value) || value < 0) throw VirError.invalidArg(ErrorDomain.STORAGE, `invalid argument: ${what} in ${api} must be a non-negative integer`);
}

/**
 * A handle on a storage pool (libvirt's virStoragePoolPtr). Get one from the
 * {@link Connection}'s storage calls ({@link Connection.storagePoolLookupByName},
 * {@link Connection.storagePoolDefineXML}, {@link Connection.listAllStoragePools}).
 *
 * Besides the codes each method lists, every method raises VIR_ERR_INVALID_CONN once the
 * connection is closed, VIR_ERR_NO_SUPPORT for a driver without storage (ESX, VirtualBox),
 * VIR_ERR_NO_STORAGE_POOL when the pool was removed since the lookup, VIR_ERR_INVALID_ARG for
 * flags the driver does not support (before anything changes) and, on a read-only connection,
 * VIR_ERR_OPERATION_DENIED for calls that change something. Queries say "Effects: none".
 */
export class StoragePool {
  /** @internal Use the Connection's storage calls. */
  constructor(
    /** The connection the pool was looked up on. */
    readonly connection: Connection,
    /** @internal What the driver addresses the pool by. */
    readonly ref: StoragePoolRef,
  ) {}

  private drv(api: string, writable = false): StorageDriver {
    return storageDriver(this.connection, api, writable);
  }

  /** The pool's name (virStoragePoolGetName). Never fails; asks no driver. */
  name(): string {
    return this.ref.name;
  }
  /** The pool's UUID, canonical (virStoragePoolGetUUIDString). Never fails; asks no driver. */
  UUIDString(): string {
    return this.ref.uuid;
  }
  /** The pool's UUID as 16 bytes (virStoragePoolGetUUID). Never fails; asks no driver. */
  UUID(): Buffer {
    return Buffer.from(this.ref.uuid.replace(/-/g, ''), 'hex');
  }
  /** The Connection of the pool (virStoragePoolGetConnect). Never fails. */
  connect(): Connection {
    return this.connection;
  }
  /**
   * python-libvirt's `info()`: `[state, capacity, allocation, available]` (virStoragePoolGetInfo),
   * bytes; state a {@link StoragePoolState}. A directory pool reports its file system's figures.
   *
   * Prerequisites: the pool exists. Effects: none. Raises only the common errors.
   */
  async info(): Promise<[state: number, capacity: number, allocation: number, available: number]> {
    const i = await this.drv('virStoragePoolGetInfo').storagePoolGetInfo(this.ref);
    return [i.state, i.capacity, i.allocation, i.available];
  }
  /**
   * The pool's XML (virStoragePoolGetXMLDesc), with its current sizes; {@link StorageXMLFlags}
   * INACTIVE is accepted (a pool's definition does not change while it runs).
   *
   * Prerequisites: the pool exists. Effects: none. Raises only the common errors.
   */
  async XMLDesc(flags = 0): Promise<string> {
    return this.drv('virStoragePoolGetXMLDesc').storagePoolGetXMLDesc(this.ref, flags);
  }
  /**
   * Whether the pool runs (virStoragePoolIsActive).
   *
   * Prerequisites: the pool exists. Effects: none. Raises only the common errors.
   */
  async isActive(): Promise<boolean> {
    return this.drv('virStoragePoolIsActive').storagePoolIsActive(this.ref);
  }
  /**
   * Whether the pool has a stored definition (virStoragePoolIsPersistent).
   *
   * Prerequisites: the pool exists. Effects: none. Raises only the common errors.
   */
  async isPersistent(): Promise<boolean> {
    return this.drv('virStoragePoolIsPersistent').storagePoolIsPersistent(this.ref);
  }
  /**
   * Whether the pool starts with the driver (virStoragePoolGetAutostart).
   *
   * Prerequisites: the pool exists. Effects: none. Raises only the common errors.
   */
  async autostart(): Promise<boolean> {
    return this.drv('virStoragePoolGetAutostart').storagePoolGetAutostart(this.ref);
  }
  /**
   * Marks the pool to start with the driver, or not (virStoragePoolSetAutostart).
   *
   * Prerequisites: a persistent pool; a writable connection.
   * Effects on success: the mark is stored. Effects on failure: nothing changes.
   * @throws {@link VirError} "pool has no config file" for a transient pool: VIR_ERR_INTERNAL_ERROR
   *   (qemu), VIR_ERR_INVALID_ARG (test driver), as libvirt.
   */
  async setAutostart(autostart: boolean | number): Promise<void> {
    return this.drv('virStoragePoolSetAutostart', true).storagePoolSetAutostart(this.ref, autostart === true || autostart === 1);
  }
  /**
   * Starts the pool (virStoragePoolCreate): a directory pool reads its directory's files as its
   * volumes. {@link StoragePoolCreateFlags} WITH_BUILD builds it first.
   *
   * Prerequisites: the pool is inactive; a directory pool's path is a directory (or WITH_BUILD).
   * Effects on success: the pool is active. Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID when the pool is already active.
   * @throws {@link VirError} VIR_ERR_SYSTEM_ERROR "cannot open directory 'PATH': No such file or
   * directory" (or "Not a directory") for a directory pool whose path is missing or a file.
   */
  async create(flags = 0): Promise<void> {
    return this.drv('virStoragePoolCreate', true).storagePoolCreate(this.ref, flags);
  }
  /**
   * Builds the pool (virStoragePoolBuild): a directory pool's directory is made, with the
   * definition's permissions (default mode 0711); an existing directory is kept.
   *
   * Prerequisites: the pool is inactive. Effects on success: the directory exists. Effects on
   * failure: nothing is made.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID when the pool is active.
   * @throws {@link VirError} VIR_ERR_SYSTEM_ERROR when the path cannot be made (a file is there).
   */
  async build(flags = 0): Promise<void> {
    return this.drv('virStoragePoolBuild', true).storagePoolBuild(this.ref, flags);
  }
  /**
   * Stops the pool (virStoragePoolDestroy); its volumes stay. A transient pool goes.
   *
   * Prerequisites: the pool is active. Effects on success: inactive (or gone if transient).
   * Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID when the pool is not active.
   */
  async destroy(): Promise<void> {
    return this.drv('virStoragePoolDestroy', true).storagePoolDestroy(this.ref);
  }
  /**
   * Deletes the pool's storage (virStoragePoolDelete): a directory pool's (empty) directory.
   *
   * Prerequisites: the pool is inactive. Effects on success: the directory is gone. Effects on
   * failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID when the pool is active.
   * @throws {@link VirError} VIR_ERR_SYSTEM_ERROR when the directory cannot be removed (not empty).
   */
  async delete(flags = 0): Promise<void> {
    return this.drv('virStoragePoolDelete', true).storagePoolDelete(this.ref, flags);
  }
  /**
   * Removes the pool's definition (virStoragePoolUndefine); its files stay.
   *
   * Prerequisites: the pool is inactive. Effects on success: the pool is gone. Effects on
   * failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID when the pool is active.
   */
  async undefine(): Promise<void> {
    return this.drv('virStoragePoolUndefine', true).storagePoolUndefine(this.ref);
  }
  /**
   * Reads the pool's volumes again (virStoragePoolRefresh): files added or removed behind
   * tsvirt's back appear or go.
   *
   * Prerequisites: the pool is active. Effects on success: the volume list is current.
   * Effects on failure: the previous list stays.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID when the pool is not active.
   */
  async refresh(flags = 0): Promise<void> {
    return this.drv('virStoragePoolRefresh', true).storagePoolRefresh(this.ref, flags);
  }
  /**
   * The number of volumes (virStoragePoolNumOfVolumes).
   *
   * Prerequisites: the pool is active. Effects: none.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID when the pool is not active.
   */
  async numOfVolumes(): Promise<number> {
    return this.drv('virStoragePoolNumOfVolumes').storagePoolNumOfVolumes(this.ref);
  }
  /**
   * The volumes' names, in name order (virStoragePoolListVolumes).
   *
   * Prerequisites: the pool is active. Effects: none.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID when the pool is not active.
   */
  async listVolumes(): Promise<string[]> {
    return (await this.listAllVolumes()).map((v) => v.name());
  }
  /**
   * Handles on the volumes, in name order (virStoragePoolListAllVolumes); `flags` must be 0.
   *
   * Prerequisites: the pool is active. Effects: none.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID when the pool is not active.
   */
  async listAllVolumes(flags = 0): Promise<StorageVol[]> {
    const refs = await this.drv('virStoragePoolListAllVolumes').storagePoolListAllVolumes(this.ref, flags);
    return refs.map((r) => new StorageVol(this.connection, r));
  }
  /**
   * A handle on the volume named `name` (virStorageVolLookupByName).
   *
   * Prerequisites: the pool is active. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_STORAGE_VOL "no storage vol with matching name 'NAME'".
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID when the pool is not active.
   */
  async storageVolLookupByName(name: string): Promise<StorageVol> {
    return new StorageVol(this.connection, await this.drv('virStorageVolLookupByName').storageVolLookupByName(this.ref, name));
  }
  /**
   * Creates a volume from volume XML (virStorageVolCreateXML): in a directory pool a raw or
   * qcow2 file made by qemu-img, of `<capacity>` bytes, with `<allocation>` bytes allocated (a
   * raw file without `<allocation>` is fully allocated, as libvirt does), over a
   * `<backingStore>` when given. {@link StorageVolCreateFlags} PREALLOC_METADATA (qcow2).
   *
   * Prerequisites: the pool is active; no volume or file of that name; enough free space for
   * what is allocated. Effects on success: the volume exists. Effects on failure: nothing is
   * left behind (a file begun is removed).
   * @throws {@link VirError} VIR_ERR_STORAGE_VOL_EXIST for a name in use (the test driver:
   * VIR_ERR_OPERATION_FAILED "storage vol already exists", as libvirt's).
   * @throws {@link VirError} VIR_ERR_INTERNAL_ERROR "Not enough free space in pool for volume 'NAME'".
   * @throws {@link VirError} VIR_ERR_XML_ERROR for XML without name or capacity.
   * @throws {@link VirError} VIR_ERR_CONFIG_UNSUPPORTED for a format other than raw or qcow2.
   */
  async createXML(xml: string, flags = 0): Promise<StorageVol> {
    return new StorageVol(this.connection, await this.drv('virStorageVolCreateXML', true).storageVolCreateXML(this.ref, xml, flags));
  }
  /**
   * Creates a volume as a copy of `clonevol` (virStorageVolCreateXMLFrom; `qemu-img convert`):
   * the XML names the new volume and may change its format or grow its capacity.
   *
   * Prerequisites and errors: as {@link StoragePool.createXML}, and the source volume exists.
   * Effects on success: the copy exists. Effects on failure: nothing is left behind.
   * @throws {@link VirError} VIR_ERR_NO_STORAGE_VOL when the source volume is gone.
   */
  async createXMLFrom(xml: string, clonevol: StorageVol, flags = 0): Promise<StorageVol> {
    const ref = await this.drv('virStorageVolCreateXMLFrom', true).storageVolCreateXMLFrom(this.ref, xml, clonevol.ref, flags);
    return new StorageVol(this.connection, ref);
  }
}

/**
 * A handle on a storage volume (libvirt's virStorageVolPtr). Get one from a {@link StoragePool}
 * or {@link Connection.storageVolLookupByPath} / {@link Connection.storageVolLookupByKey}.
 *
 * Besides the codes each method lists, every method raises VIR_ERR_INVALID_CONN once the
 * connection is closed, VIR_ERR_NO_SUPPORT for a driver without storage, VIR_ERR_NO_STORAGE_VOL
 * when the volume was deleted since the lookup, VIR_ERR_OPERATION_INVALID when its pool is no
 * longer active, VIR_ERR_INVALID_ARG for unsupported flags (before anything changes) and, on a
 * read-only connection, VIR_ERR_OPERATION_DENIED for calls that change something.
 */
export class StorageVol {
  /** @internal Use the pool's or the Connection's volume calls. */
  constructor(
    /** The connection the volume was looked up on. */
    readonly connection: Connection,
    /** @internal What the driver addresses the volume by. */
    readonly ref: StorageVolRef,
  ) {}

  private drv(api: string, writable = false): StorageDriver {
    return storageDriver(this.connection, api, writable);
  }

  /** The volume's name (virStorageVolGetName). Never fails; asks no driver. */
  name(): string {
    return this.ref.name;
  }
  /** The volume's key (virStorageVolGetKey): its path for a file. Never fails; asks no driver. */
  key(): string {
    return this.ref.key;
  }
  /** The Connection of the volume (virStorageVolGetConnect). Never fails. */
  connect(): Connection {
    return this.connection;
  }
  /**
   * The volume's path on the host (virStorageVolGetPath).
   *
   * Prerequisites: the volume exists. Effects: none. Raises only the common errors.
   */
  async path(): Promise<string> {
    return this.drv('virStorageVolGetPath').storageVolGetPath(this.ref);
  }
  /**
   * A handle on the volume's pool (virStoragePoolLookupByVolume).
   *
   * Prerequisites: the pool exists. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_STORAGE_POOL when the pool is gone.
   */
  async storagePoolLookupByVolume(): Promise<StoragePool> {
    return new StoragePool(this.connection, await this.drv('virStoragePoolLookupByVolume').storagePoolLookupByVolume(this.ref));
  }
  /**
   * python-libvirt's `info()`: `[type, capacity, allocation]` (virStorageVolGetInfo), bytes, read
   * from the image now (a qcow2's virtual size from its header; allocation from the file's blocks).
   *
   * Prerequisites: the volume exists. Effects: none. Raises only the common errors.
   */
  async info(): Promise<[type: number, capacity: number, allocation: number]> {
    const i = await this.drv('virStorageVolGetInfo').storageVolGetInfo(this.ref, null);
    return [i.type, i.capacity, i.allocation];
  }
  /**
   * As {@link StorageVol.info} with flags (virStorageVolGetInfoFlags): {@link StorageVolInfoFlags}
   * GET_PHYSICAL reports the file's size as allocation.
   *
   * Prerequisites: the volume exists. Effects: none. Raises only the common errors.
   */
  async infoFlags(flags = 0): Promise<[type: number, capacity: number, allocation: number]> {
    const i = await this.drv('virStorageVolGetInfoFlags').storageVolGetInfo(this.ref, flags);
    return [i.type, i.capacity, i.allocation];
  }
  /**
   * The volume's XML (virStorageVolGetXMLDesc): name, key, sizes, path, format, permissions,
   * backing store.
   *
   * Prerequisites: the volume exists. Effects: none. Raises only the common errors.
   */
  async XMLDesc(flags = 0): Promise<string> {
    return this.drv('virStorageVolGetXMLDesc').storageVolGetXMLDesc(this.ref, flags);
  }
  /**
   * Deletes the volume (virStorageVolDelete): its file is removed. Refused while a running
   * domain's disk is the volume — stricter than libvirt, which does not check.
   *
   * Prerequisites: no running domain uses it. Effects on success: the volume is gone. Effects on
   * failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "storage volume 'PATH' is in use by
   * running domain 'NAME'".
   */
  async delete(flags = 0): Promise<void> {
    return this.drv('virStorageVolDelete', true).storageVolDelete(this.ref, flags);
  }
  /**
   * Wipes the volume's data (virStorageVolWipe): it then reads as zeros (a qcow2 is made anew,
   * same size and backing).
   *
   * Prerequisites: no running domain uses it. Effects on success: the data is gone. Effects on
   * failure: part of the data may be gone.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID when a running domain uses the volume.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a driver without wiping.
   */
  async wipe(flags = 0): Promise<void> {
    return optional(this.drv('virStorageVolWipe', true), 'storageVolWipe', 'virStorageVolWipe')(this.ref, null, flags);
  }
  /**
   * Wipes with an algorithm (virStorageVolWipePattern); tsvirt has {@link StorageVolWipeAlgorithm} ZERO.
   *
   * Prerequisites and effects: as {@link StorageVol.wipe}.
   * @throws {@link VirError} VIR_ERR_OPERATION_UNSUPPORTED for another algorithm.
   */
  async wipePattern(algorithm: StorageVolWipeAlgorithm | number, flags = 0): Promise<void> {
    return optional(this.drv('virStorageVolWipePattern', true), 'storageVolWipe', 'virStorageVolWipePattern')(this.ref, algorithm, flags);
  }
  /**
   * Changes the volume's capacity to `capacity` bytes (virStorageVolResize, `qemu-img resize`);
   * {@link StorageVolResizeFlags} DELTA (add), SHRINK (allowed to shrink; with DELTA: subtract),
   * ALLOCATE (allocate the new space).
   *
   * Prerequisites: growing, or SHRINK. Effects on success: the new capacity. Effects on
   * failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG "Can't shrink capacity below current capacity
   * unless shrink flag explicitly specified".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a driver without resizing.
   */
  async resize(capacity: number, flags = 0): Promise<void> {
    checkUInt(capacity, 'capacity', 'virStorageVolResize');
    return optional(this.drv('virStorageVolResize', true), 'storageVolResize', 'virStorageVolResize')(this.ref, capacity, flags);
  }
  /**
   * Uploads into the volume through `stream` (virStorageVolUpload): write the bytes with
   * {@link Stream.send} / {@link Stream.sendAll}, then {@link Stream.finish}. From `offset`, at
   * most `length` bytes (0: no limit). Sparse streams are not supported.
   *
   * Prerequisites: a writable connection; an unused stream of this connection; no running
   * domain uses the volume. Effects on success: the stream is bound; the data lands as it is
   * sent. Effects on failure: the stream stays unused.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID when a running domain uses the volume, or
   * the stream is in use.
   */
  async upload(stream: Stream, offset: number, length: number, flags = 0): Promise<void> {
    const drv = this.drv('virStorageVolUpload', true);
    checkUInt(offset, 'offset', 'virStorageVolUpload');
    checkUInt(length, 'length', 'virStorageVolUpload');
    stream.checkUnused(this.connection, this.ref.name);
    stream.attach(await optional(drv, 'storageVolUpload', 'virStorageVolUpload')(this.ref, offset, length, flags));
  }
  /**
   * Downloads the volume through `stream` (virStorageVolDownload): read with
   * {@link Stream.recv} / {@link Stream.recvAll} to the end of data, then {@link Stream.finish}.
   * From `offset`, `length` bytes (0: to the end). Sparse streams are not supported.
   *
   * Prerequisites: a writable connection (libvirt asks for one); an unused stream of this
   * connection. Effects on success: the stream is bound. Effects on failure: it stays unused.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID when the stream is in use.
   */
  async download(stream: Stream, offset: number, length: number, flags = 0): Promise<void> {
    const drv = this.drv('virStorageVolDownload', true);
    checkUInt(offset, 'offset', 'virStorageVolDownload');
    checkUInt(length, 'length', 'virStorageVolDownload');
    stream.checkUnused(this.connection, this.ref.name);
    stream.attach(await optional(drv, 'storageVolDownload', 'virStorageVolDownload')(this.ref, offset, length, flags));
  }
}
