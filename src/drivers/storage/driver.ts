/**
 * tsvirt's storage driver: pools kept in the driver's SQLite store (migration 3), volumes either
 * simulated (the test driver's, kept in the store as libvirt's test driver keeps them in memory)
 * or real files of a directory pool, made and changed with qemu-img. One instance belongs to one
 * hypervisor driver (its `storage`), sharing its store, so that pool records commit like domain
 * records do, and a crash leaves the old state or the new.
 */
import { validateAgainstSchema } from '../../core/schema.js';
import { chmodSync, createReadStream, createWriteStream, existsSync, statfsSync } from 'node:fs';
import { mkdir, readdir, rmdir, stat, truncate, unlink, chmod, chown } from 'node:fs/promises';
import { Duplex, PassThrough } from 'node:stream';
import { join } from 'node:path';
import {
  ConnectListAllStoragePoolsFlags as ListFlags,
  ErrorDomain,
  ErrorNumber,
  StoragePoolBuildFlags,
  StoragePoolCreateFlags,
  StoragePoolEventLifecycleType as PoolEvent,
  StoragePoolState,
  StorageVolCreateFlags,
  StorageVolResizeFlags,
  StorageVolType,
  StorageVolWipeAlgorithm,
  StorageXMLFlags,
} from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import type {
  StorageDriver,
  StoragePoolEventListener,
  StoragePoolInfo,
  StoragePoolRef,
  StorageVolInfo,
  StorageVolRef,
} from '../../core/storage-driver.js';
import { formatPoolXML, formatVolumeXML, parsePoolXML, parseVolumeXML, type PoolDef, type VolumeState } from '../../conf/storage.js';
import { generateUUID } from '../../conf/values.js';
import type { Store, StoragePoolRecord } from '../../store/store.js';
import { checkFlags as checkFlagsIn, exclusiveFlags } from '../../rules/flags.js';
import { allocateHead, createImage, probeImage, probeImageSync, runQemuImg, type ImageFacts } from './image.js';

/** The UUID of libvirt's test driver's preset pool. */
const TEST_DEFAULT_POOL_UUID = 'dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566';
/** libvirt's test driver's preset pool (testDriver's defaultPoolXML). */
export const TEST_DEFAULT_POOL_XML = `<pool type='dir'>
  <name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
  <target>
    <path>/default-pool</path>
  </target>
</pool>
`;
/** The simulated pools' size, as libvirt's test driver reports it (100 GiB). */
const SIMULATED_CAPACITY = 100 * 1024 ** 3;
/** libvirt's default mode of a directory it builds for a pool. */
const DEFAULT_POOL_MODE = 0o711;
/** libvirt's default mode of a volume file. */
const DEFAULT_VOL_MODE = 0o600;

/** How a driver's storage is made. */
export interface StorageDriverOptions {
  store: Store;
  /** Volumes are simulated (test driver): nothing touches the host. */
  simulated: boolean;
  /**
   * The running domain that uses the file at `path`, if any: such a volume is not deleted
   * (stricter than libvirt, which does not check).
   */
  inUse?: (path: string, pool: string, volume: string) => string | undefined;
}

interface SimVolume {
  format: string;
  capacity: number;
  allocation: number;
  backingPath?: string;
  backingFormat?: string;
}

function noPool(detail: string, domain: ErrorDomain): VirError {
  return VirError.report(domain, ErrorNumber.NO_STORAGE_POOL, detail);
}
function noVol(detail: string, domain: ErrorDomain): VirError {
  return VirError.report(domain, ErrorNumber.NO_STORAGE_VOL, detail);
}
function invalid(detail: string, domain: ErrorDomain = ErrorDomain.STORAGE): VirError {
  return VirError.report(domain, ErrorNumber.OPERATION_INVALID, detail);
}
function failed(detail: string): VirError {
  return VirError.report(ErrorDomain.STORAGE, ErrorNumber.OPERATION_FAILED, detail);
}
/** A system call's failure as libvirt's virReportSystemError words it: "what: strerror". */
function systemError(what: string, err: unknown): VirError {
  const e = err as NodeJS.ErrnoException;
  const reason = STRERROR[e.code ?? ''] ?? e.message;
  return VirError.report(ErrorDomain.STORAGE, ErrorNumber.SYSTEM_ERROR, `${what}: ${reason}`);
}
const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  ENOTDIR: 'Not a directory',
  EEXIST: 'File exists',
  EACCES: 'Permission denied',
  ENOTEMPTY: 'Directory not empty',
  ENOSPC: 'No space left on device',
  EISDIR: 'Is a directory',
};
function checkFlags(flags: number, supported: number, fn: string): void {
  checkFlagsIn(flags, supported, fn, ErrorDomain.STORAGE);
}

/** The storage driver of a test or qemu driver. */
export class PoolStorageDriver implements StorageDriver {
  private readonly store: Store;
  private readonly simulated: boolean;
  private readonly inUse: (path: string, pool: string, volume: string) => string | undefined;
  /** Where lookup failures are reported from: libvirt's test driver reports them as VIR_FROM_TEST. */
  private readonly lookupDomain: ErrorDomain;
  private readonly prefix: string;
  /** A directory pool's volumes as its last refresh found them, by pool UUID. */
  private readonly dirVolumes = new Map<string, Map<string, VolumeState>>();
  private readonly listeners = new Set<StoragePoolEventListener>();

  constructor(options: StorageDriverOptions) {
    this.store = options.store;
    this.simulated = options.simulated;
    this.inUse = options.inUse ?? (() => undefined);
    this.lookupDomain = options.simulated ? ErrorDomain.TEST : ErrorDomain.STORAGE;
    this.prefix = options.simulated ? 'test' : 'storage';
  }

  /** Defines and starts libvirt's test driver's `default-pool`, once per store. */
  presetTestPool(): void {
    if (this.store.counter('storage_preset') !== undefined) return;
    // No XML is parsed here: every open of test:///default makes this pool, and a command that
    // reads no XML should not load the parser (the CLI loads it on demand).
    this.store.mutate(() => {
      this.store.putPool({ uuid: TEST_DEFAULT_POOL_UUID, name: 'default-pool', persistent: true, active: true, autostart: false, xml: TEST_DEFAULT_POOL_XML });
      this.store.setCounter('storage_preset', 1);
    });
  }

  /** Starts the autostart pools that are not running (a daemon's or driver's start-up). */
  async autostart(): Promise<void> {
    for (const rec of this.store.allPools()) {
      if (!rec.autostart || rec.active) continue;
      try {
        await this.startPool(rec);
      } catch {
        // libvirt logs a pool that fails to autostart and goes on with the others.
      }
    }
  }

  subscribePools(listener: StoragePoolEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  private emit(rec: { name: string; uuid: string }, event: number): void {
    for (const l of this.listeners) {
      try {
        l({ pool: { name: rec.name, uuid: rec.uuid }, event, detail: 0 });
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  // Pools.

  private rec(pool: StoragePoolRef): StoragePoolRecord {
    const rec = this.store.poolByUUID(pool.uuid);
    if (rec === undefined) throw noPool(`no storage pool with matching uuid '${pool.uuid}' (${pool.name})`, this.lookupDomain);
    return rec;
  }
  private activeRec(pool: StoragePoolRef): StoragePoolRecord {
    const rec = this.rec(pool);
    if (!rec.active) throw invalid(`storage pool '${rec.name}' is not active`, this.lookupDomain);
    return rec;
  }
  /** Parsed definitions by their XML: a pool's definition is read on most calls. */
  private readonly defs = new Map<string, PoolDef>();
  private def(rec: StoragePoolRecord): PoolDef {
    let def = this.defs.get(rec.xml);
    if (def === undefined) {
      if (this.defs.size > 1000) this.defs.clear();
      def = parsePoolXML(rec.xml);
      this.defs.set(rec.xml, def);
    }
    return def;
  }
  private ref(rec: StoragePoolRecord): StoragePoolRef {
    return { name: rec.name, uuid: rec.uuid };
  }

  async listAllStoragePools(flags: number): Promise<StoragePoolRef[]> {
    const all = Object.values(ListFlags).reduce((a, b) => a | b, 0);
    checkFlags(flags, all, 'virConnectListAllStoragePools');
    const pick = (yes: number, no: number, v: boolean): boolean => {
      const y = (flags & yes) !== 0;
      const n = (flags & no) !== 0;
      return (!y && !n) || (y && v) || (n && !v);
    };
    const typeMask = flags & ~(ListFlags.ACTIVE | ListFlags.INACTIVE | ListFlags.PERSISTENT | ListFlags.TRANSIENT | ListFlags.AUTOSTART | ListFlags.NO_AUTOSTART);
    return this.store
      .allPools()
      .filter(
        (r) =>
          pick(ListFlags.ACTIVE, ListFlags.INACTIVE, r.active) &&
          pick(ListFlags.PERSISTENT, ListFlags.TRANSIENT, r.persistent) &&
          pick(ListFlags.AUTOSTART, ListFlags.NO_AUTOSTART, r.autostart) &&
          (typeMask === 0 || (typeMask & typeFlag(this.def(r).type)) !== 0),
      )
      .map((r) => this.ref(r));
  }
  async numOfStoragePools(): Promise<number> {
    return this.store.allPools().filter((r) => r.active).length;
  }
  async numOfDefinedStoragePools(): Promise<number> {
    return this.store.allPools().filter((r) => !r.active).length;
  }
  async storagePoolLookupByName(name: string): Promise<StoragePoolRef> {
    const rec = this.store.poolByName(name);
    if (rec === undefined) throw noPool(`no storage pool with matching name '${name}'`, this.lookupDomain);
    return this.ref(rec);
  }
  async storagePoolLookupByUUID(uuid: string): Promise<StoragePoolRef> {
    const rec = this.store.poolByUUID(uuid);
    if (rec === undefined) throw noPool(`no storage pool with matching uuid '${uuid}'`, this.lookupDomain);
    return this.ref(rec);
  }
  async storagePoolLookupByVolume(vol: StorageVolRef): Promise<StoragePoolRef> {
    const rec = this.store.poolByName(vol.pool);
    if (rec === undefined) throw noPool(`no storage pool with matching name '${vol.pool}'`, this.lookupDomain);
    return this.ref(rec);
  }

  /** The checks of a new definition against the others (libvirt's virStoragePoolObjIsDuplicate and source conflict). */
  private checkNew(def: PoolDef, checkActive: boolean): StoragePoolRecord | undefined {
    if (!this.simulated && def.type !== 'dir') {
      throw VirError.report(ErrorDomain.STORAGE, ErrorNumber.NO_SUPPORT, `this function is not supported by the connection driver: pool type '${def.type}' (tsvirt has directory pools)`);
    }
    const byUUID = def.uuid === undefined ? undefined : this.store.poolByUUID(def.uuid);
    if (byUUID !== undefined) {
      if (byUUID.name !== def.name) throw failed(`pool '${byUUID.name}' is already defined with uuid ${byUUID.uuid}`);
      if (checkActive && byUUID.active) throw invalid(`pool is already active as '${byUUID.name}'`);
    } else {
      const byName = this.store.poolByName(def.name);
      if (byName !== undefined) throw failed(`pool '${def.name}' already exists with uuid ${byName.uuid}`);
    }
    for (const other of this.store.allPools()) {
      if (other.uuid === byUUID?.uuid) continue;
      if (this.def(other).targetPath === def.targetPath) throw failed(`Storage source conflict with pool: '${other.name}'`);
    }
    return byUUID;
  }

  async storagePoolDefineXML(xml: string, flags: number): Promise<StoragePoolRef> {
    checkFlags(flags, 1 /* VALIDATE */, 'virStoragePoolDefineXML');
    if ((flags & 1) !== 0) await validateAgainstSchema('storagepool', xml);
    const def = parsePoolXML(xml);
    const old = this.checkNew(def, false);
    const uuid = old?.uuid ?? def.uuid ?? generateUUID();
    const rec: StoragePoolRecord = { uuid, name: def.name, persistent: true, active: old?.active ?? false, autostart: old?.autostart ?? false, xml: canonicalPoolXML(def, uuid) };
    this.store.mutate(() => this.store.putPool(rec));
    this.emit(rec, PoolEvent.DEFINED);
    return this.ref(rec);
  }

  async storagePoolCreateXML(xml: string, flags: number): Promise<StoragePoolRef> {
    const build = StoragePoolCreateFlags.WITH_BUILD | StoragePoolCreateFlags.WITH_BUILD_OVERWRITE | StoragePoolCreateFlags.WITH_BUILD_NO_OVERWRITE;
    checkFlags(flags, build, 'virStoragePoolCreateXML');
    const def = parsePoolXML(xml);
    // An inactive persistent pool of the same name and UUID starts with this definition and stays
    // persistent (libvirt adds the definition as the pool's live one).
    const old = this.checkNew(def, true);
    const uuid = old?.uuid ?? def.uuid ?? generateUUID();
    const rec: StoragePoolRecord = old !== undefined
      ? { ...old, active: true, xml: canonicalPoolXML(def, uuid) }
      : { uuid, name: def.name, persistent: false, active: true, autostart: false, xml: canonicalPoolXML(def, uuid) };
    if (!this.simulated) {
      if ((flags & build) !== 0) await this.buildDir(def, flags);
      this.dirVolumes.set(uuid, await this.scanDir(def));
    }
    this.store.mutate(() => this.store.putPool(rec));
    this.emit(rec, PoolEvent.STARTED);
    return this.ref(rec);
  }

  private async startPool(rec: StoragePoolRecord): Promise<void> {
    if (!this.simulated) this.dirVolumes.set(rec.uuid, await this.scanDir(this.def(rec)));
    this.store.mutate(() => this.store.putPool({ ...rec, active: true }));
    this.emit(rec, PoolEvent.STARTED);
  }

  async storagePoolCreate(pool: StoragePoolRef, flags: number): Promise<void> {
    const build = StoragePoolCreateFlags.WITH_BUILD | StoragePoolCreateFlags.WITH_BUILD_OVERWRITE | StoragePoolCreateFlags.WITH_BUILD_NO_OVERWRITE;
    checkFlags(flags, build, `${this.prefix}StoragePoolCreate`);
    const rec = this.rec(pool);
    if (rec.active) throw invalid(`storage pool '${rec.name}' is ${this.simulated ? '' : 'already '}active`, this.lookupDomain);
    if (!this.simulated && (flags & build) !== 0) await this.buildDir(this.def(rec), flags);
    await this.startPool(rec);
  }

  /** A directory pool's build: the directory, with the definition's permissions. */
  private async buildDir(def: PoolDef, _flags: number): Promise<void> {
    const path = def.targetPath;
    const st = await stat(path).catch(() => null);
    if (st !== null && !st.isDirectory()) throw systemError(`cannot create path '${path}'`, { code: 'EEXIST' });
    try {
      await mkdir(path, { recursive: true, mode: def.targetPerms?.mode ?? DEFAULT_POOL_MODE });
      if (def.targetPerms?.mode !== undefined) await chmod(path, def.targetPerms.mode);
      const uid = def.targetPerms?.owner;
      const gid = def.targetPerms?.group;
      if ((uid !== undefined || gid !== undefined) && process.getuid?.() === 0) await chown(path, uid ?? -1, gid ?? -1);
    } catch (err) {
      throw systemError(`cannot create path '${path}'`, err);
    }
  }

  async storagePoolBuild(pool: StoragePoolRef, flags: number): Promise<void> {
    checkFlags(flags, StoragePoolBuildFlags.OVERWRITE | StoragePoolBuildFlags.NO_OVERWRITE, `${this.prefix}StoragePoolBuild`);
    exclusiveFlags(flags, StoragePoolBuildFlags.OVERWRITE, 'VIR_STORAGE_POOL_BUILD_OVERWRITE', StoragePoolBuildFlags.NO_OVERWRITE, 'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE', ErrorDomain.STORAGE);
    const rec = this.rec(pool);
    if (rec.active) throw invalid(`storage pool '${rec.name}' is ${this.simulated ? '' : 'already '}active`, this.lookupDomain);
    if (!this.simulated) await this.buildDir(this.def(rec), flags);
  }

  async storagePoolDestroy(pool: StoragePoolRef): Promise<void> {
    const rec = this.activeRec(pool);
    this.dirVolumes.delete(rec.uuid);
    this.store.mutate(() => {
      if (rec.persistent) this.store.putPool({ ...rec, active: false });
      else this.store.deletePool(rec.uuid);
    });
    this.emit(rec, PoolEvent.STOPPED);
  }

  async storagePoolDelete(pool: StoragePoolRef, flags: number): Promise<void> {
    checkFlags(flags, 1 /* ZEROED */, `${this.prefix}StoragePoolDelete`);
    const rec = this.rec(pool);
    if (rec.active) throw invalid(`storage pool '${rec.name}' is still active`, this.lookupDomain);
    if (this.simulated) return;
    const path = this.def(rec).targetPath;
    try {
      await rmdir(path);
    } catch (err) {
      throw systemError(`failed to remove pool '${path}'`, err);
    }
    this.emit(rec, PoolEvent.DELETED);
  }

  async storagePoolUndefine(pool: StoragePoolRef): Promise<void> {
    const rec = this.rec(pool);
    if (rec.active) throw invalid(`storage pool '${rec.name}' is active`, this.lookupDomain);
    this.store.mutate(() => this.store.deletePool(rec.uuid));
    this.emit(rec, PoolEvent.UNDEFINED);
  }

  async storagePoolRefresh(pool: StoragePoolRef, flags: number): Promise<void> {
    checkFlags(flags, 0, `${this.prefix}StoragePoolRefresh`);
    const rec = this.activeRec(pool);
    if (!this.simulated) this.dirVolumes.set(rec.uuid, await this.scanDir(this.def(rec)));
  }

  async storagePoolGetInfo(pool: StoragePoolRef): Promise<StoragePoolInfo> {
    const rec = this.rec(pool);
    const sizes = await this.sizes(rec);
    return { state: rec.active ? StoragePoolState.RUNNING : StoragePoolState.INACTIVE, ...sizes };
  }

  /** A pool's capacity, allocation and free bytes (a directory's: its file system's, as libvirt). */
  private async sizes(rec: StoragePoolRecord): Promise<{ capacity: number; allocation: number; available: number }> {
    if (this.simulated) {
      // As libvirt's test driver: a stopped pool keeps its volumes, and its figures.
      const allocation = this.store.poolVolumes(rec.uuid).reduce((a, v) => a + (JSON.parse(v.data) as SimVolume).allocation, 0);
      return { capacity: SIMULATED_CAPACITY, allocation, available: SIMULATED_CAPACITY - allocation };
    }
    if (!rec.active) return { capacity: 0, allocation: 0, available: 0 };
    try {
      const fs = statfsSync(this.def(rec).targetPath);
      const capacity = fs.blocks * fs.bsize;
      const available = fs.bavail * fs.bsize;
      return { capacity, allocation: capacity - fs.bfree * fs.bsize, available };
    } catch (err) {
      throw systemError(`cannot statvfs path '${this.def(rec).targetPath}'`, err);
    }
  }

  async storagePoolGetXMLDesc(pool: StoragePoolRef, flags: number): Promise<string> {
    checkFlags(flags, StorageXMLFlags.INACTIVE, `${this.prefix}StoragePoolGetXMLDesc`);
    const rec = this.rec(pool);
    return formatPoolXML(this.def(rec), rec.uuid, await this.sizes(rec));
  }
  async storagePoolGetAutostart(pool: StoragePoolRef): Promise<boolean> {
    return this.rec(pool).autostart;
  }
  async storagePoolSetAutostart(pool: StoragePoolRef, autostart: boolean): Promise<void> {
    const rec = this.rec(pool);
    if (!rec.persistent) {
      // libvirt's wording for a pool without a config file: the test driver's is an invalid argument.
      const code = this.simulated ? ErrorNumber.INVALID_ARG : ErrorNumber.INTERNAL_ERROR;
      throw VirError.report(this.lookupDomain, code, 'pool has no config file');
    }
    this.store.mutate(() => this.store.putPool({ ...rec, autostart }));
  }
  async storagePoolIsActive(pool: StoragePoolRef): Promise<boolean> {
    return this.rec(pool).active;
  }
  async storagePoolIsPersistent(pool: StoragePoolRef): Promise<boolean> {
    return this.rec(pool).persistent;
  }

  // Volumes of a pool.

  /** A directory pool's volumes, refreshed first when this process has not read them yet. */
  private async dirVols(rec: StoragePoolRecord): Promise<Map<string, VolumeState>> {
    let vols = this.dirVolumes.get(rec.uuid);
    if (vols === undefined) {
      vols = await this.scanDir(this.def(rec));
      this.dirVolumes.set(rec.uuid, vols);
    }
    return vols;
  }

  /** Reads a directory pool's files (libvirt's virStorageBackendRefreshLocal). */
  private async scanDir(def: PoolDef): Promise<Map<string, VolumeState>> {
    let names: string[];
    try {
      names = await readdir(def.targetPath);
    } catch (err) {
      throw systemError(`cannot open directory '${def.targetPath}'`, err);
    }
    const vols = new Map<string, VolumeState>();
    // Synchronous probes: a few system calls per file, where a thread-pool round trip per call
    // would cost more than the calls (a refresh of 1,000 volumes stays in the tens of ms).
    const facts = names.map((n) => {
      try {
        return probeImageSync(join(def.targetPath, n));
      } catch {
        return null;
      }
    });
    names.forEach((n, i) => {
      const f = facts[i];
      if (f !== null && f !== undefined) vols.set(n, volumeState(n, join(def.targetPath, n), f));
    });
    return vols;
  }

  private simVolume(rec: StoragePoolRecord, name: string): VolumeState | undefined {
    const v = this.store.poolVolume(rec.uuid, name);
    if (v === undefined) return undefined;
    const d = JSON.parse(v.data) as SimVolume;
    const state: VolumeState = { name, key: v.path, path: v.path, type: 'file', capacity: d.capacity, allocation: d.allocation, format: d.format };
    if (d.backingPath !== undefined) state.backingPath = d.backingPath;
    if (d.backingFormat !== undefined) state.backingFormat = d.backingFormat;
    return state;
  }

  private async volumes(rec: StoragePoolRecord): Promise<VolumeState[]> {
    if (this.simulated) return this.store.poolVolumes(rec.uuid).map((v) => this.simVolume(rec, v.name) as VolumeState);
    return [...(await this.dirVols(rec)).values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async storagePoolNumOfVolumes(pool: StoragePoolRef): Promise<number> {
    const rec = this.activeRec(pool);
    return this.simulated ? this.store.poolVolumeCount(rec.uuid) : (await this.dirVols(rec)).size;
  }
  async storagePoolListAllVolumes(pool: StoragePoolRef, flags: number): Promise<StorageVolRef[]> {
    checkFlags(flags, 0, 'virStoragePoolListAllVolumes');
    const rec = this.activeRec(pool);
    return (await this.volumes(rec)).map((v) => ({ pool: rec.name, name: v.name, key: v.key }));
  }

  /** The volume `vol` refers to, with its pool. */
  private async vol(vol: StorageVolRef): Promise<{ rec: StoragePoolRecord; v: VolumeState }> {
    const rec = this.store.poolByName(vol.pool);
    if (rec === undefined) throw noPool(`no storage pool with matching name '${vol.pool}'`, this.lookupDomain);
    if (!rec.active) throw invalid(`storage pool '${rec.name}' is not active`, this.lookupDomain);
    const v = this.simulated ? this.simVolume(rec, vol.name) : (await this.dirVols(rec)).get(vol.name);
    if (v === undefined) throw noVol(`no storage vol with matching name '${vol.name}'`, this.lookupDomain);
    return { rec, v };
  }

  async storageVolLookupByName(pool: StoragePoolRef, name: string): Promise<StorageVolRef> {
    const rec = this.activeRec(pool);
    const { v } = await this.vol({ pool: rec.name, name, key: '' });
    return { pool: rec.name, name: v.name, key: v.key };
  }
  /** The first active pool's volume whose key or path is `value`. */
  private async findVol(value: string, what: 'key' | 'path'): Promise<StorageVolRef> {
    if (this.simulated) {
      const v = this.store.volumeByPath(value);
      const rec = v === undefined ? undefined : this.store.poolByUUID(v.poolUUID);
      if (v !== undefined && rec?.active === true) return { pool: rec.name, name: v.name, key: v.path };
    } else {
      for (const rec of this.store.allPools()) {
        if (!rec.active) continue;
        for (const v of (await this.dirVols(rec)).values()) if (v.key === value || v.path === value) return { pool: rec.name, name: v.name, key: v.key };
      }
    }
    throw noVol(`no storage vol with matching ${what} '${value}'`, this.lookupDomain);
  }
  async storageVolLookupByKey(key: string): Promise<StorageVolRef> {
    return this.findVol(key, 'key');
  }
  async storageVolLookupByPath(path: string): Promise<StorageVolRef> {
    return this.findVol(path.replace(/\/{2,}/g, '/'), 'path');
  }

  async storageVolCreateXML(pool: StoragePoolRef, xml: string, flags: number): Promise<StorageVolRef> {
    return this.createVolume(pool, xml, null, flags, 'virStorageVolCreateXML');
  }
  async storageVolCreateXMLFrom(pool: StoragePoolRef, xml: string, clone: StorageVolRef, flags: number): Promise<StorageVolRef> {
    return this.createVolume(pool, xml, clone, flags, 'virStorageVolCreateXMLFrom');
  }

  private async createVolume(pool: StoragePoolRef, xml: string, clone: StorageVolRef | null, flags: number, fn: string): Promise<StorageVolRef> {
    checkFlags(flags, StorageVolCreateFlags.PREALLOC_METADATA | StorageVolCreateFlags.VALIDATE, fn);
    if ((flags & StorageVolCreateFlags.VALIDATE) !== 0) await validateAgainstSchema('storagevol', xml);
    const rec = this.activeRec(pool);
    const def = parseVolumeXML(xml);
    const source = clone === null ? null : (await this.vol(clone)).v;
    const path = join(this.def(rec).targetPath, def.name);
    const format = def.format ?? (source?.format ?? 'raw');
    if (format !== 'raw' && format !== 'qcow2') {
      throw VirError.report(ErrorDomain.STORAGE, ErrorNumber.CONFIG_UNSUPPORTED, `volume format '${format}' is not supported (tsvirt makes raw and qcow2 volumes)`);
    }
    if (def.backingPath !== undefined && format !== 'qcow2') {
      throw VirError.report(ErrorDomain.STORAGE, ErrorNumber.CONFIG_UNSUPPORTED, `backing storage not supported for ${format} volumes`);
    }
    const existing = this.simulated ? this.simVolume(rec, def.name) : (await this.dirVols(rec)).get(def.name);
    if (existing !== undefined) {
      throw this.simulated ? VirError.report(ErrorDomain.TEST, ErrorNumber.OPERATION_FAILED, 'storage vol already exists') : VirError.report(ErrorDomain.STORAGE, ErrorNumber.STORAGE_VOL_EXIST, `'${def.name}'`);
    }
    const capacity = Math.max(def.capacity, source?.capacity ?? 0);
    // What the new volume will take: everything for a preallocated raw file, else what was asked.
    const allocation = this.simulated ? def.allocation : format === 'raw' && def.allocation >= def.capacity ? capacity : def.allocationGiven ? def.allocation : 0;
    const { available } = await this.sizes(rec);
    if (allocation > available) {
      throw VirError.report(this.lookupDomain, ErrorNumber.INTERNAL_ERROR, `Not enough free space in pool for volume '${def.name}'`);
    }
    if (this.simulated) {
      // As libvirt's test driver, a clone has the sizes its XML asks for.
      const data: SimVolume = { format, capacity: def.capacity, allocation: def.allocation };
      if (def.backingPath !== undefined) data.backingPath = def.backingPath;
      if (def.backingFormat !== undefined) data.backingFormat = def.backingFormat;
      this.store.mutate(() => this.store.putVolume({ poolUUID: rec.uuid, name: def.name, path, data: JSON.stringify(data) }));
      return { pool: rec.name, name: def.name, key: path };
    }
    // Nothing may be there: qemu-img would overwrite a file the pool has not seen yet.
    if (existsSync(path)) {
      throw VirError.report(ErrorDomain.STORAGE, ErrorNumber.STORAGE_VOL_EXIST, `'${def.name}'`);
    }
    try {
      if (source !== null) {
        await runQemuImg(['convert', '-q', '-f', source.format, '-O', format, ...(format === 'qcow2' ? ['-o', `compat=${def.compat ?? '1.1'}`] : []), source.path, path]);
        if (capacity > source.capacity) await runQemuImg(['resize', '-q', '-f', format, path, String(capacity)]);
      } else {
        let backingFormat = def.backingFormat;
        if (def.backingPath !== undefined && backingFormat === undefined) {
          const b = await probeImage(def.backingPath);
          if (b === null) throw VirError.report(ErrorDomain.STORAGE, ErrorNumber.INTERNAL_ERROR, `backing store '${def.backingPath}' does not exist or is not a file`);
          backingFormat = b.format;
        }
        await createImage(path, {
          format,
          capacity,
          preallocation: format === 'raw' && allocation >= capacity && capacity > 0 ? 'falloc' : (flags & StorageVolCreateFlags.PREALLOC_METADATA) !== 0 && format === 'qcow2' ? 'metadata' : undefined,
          backingPath: def.backingPath,
          backingFormat,
          compat: def.compat,
        });
        // A raw volume allocated in part: its <allocation> at the start, the rest sparse.
        if (format === 'raw' && allocation > 0 && allocation < capacity) await allocateHead(path, allocation);
      }
      // Synchronous from here: a few system calls, cheaper than thread-pool round trips.
      chmodSync(path, def.targetPerms?.mode ?? DEFAULT_VOL_MODE);
      const facts = probeImageSync(path);
      if (facts === null) throw VirError.report(ErrorDomain.STORAGE, ErrorNumber.INTERNAL_ERROR, `volume '${path}' vanished after creation`);
      (await this.dirVols(rec)).set(def.name, volumeState(def.name, path, facts));
    } catch (err) {
      // Nothing half-made stays: the file this call began is removed.
      await unlink(path).catch(() => undefined);
      throw err;
    }
    return { pool: rec.name, name: def.name, key: path };
  }

  async storageVolDelete(vol: StorageVolRef, flags: number): Promise<void> {
    checkFlags(flags, 0, `${this.prefix}StorageVolDelete`);
    const { rec, v } = await this.vol(vol);
    const user = this.inUse(v.path, rec.name, v.name);
    if (user !== undefined) {
      throw VirError.report(ErrorDomain.STORAGE, ErrorNumber.OPERATION_INVALID, `storage volume '${v.path}' is in use by running domain '${user}'`);
    }
    if (this.simulated) {
      this.store.mutate(() => this.store.deleteVolume(rec.uuid, v.name));
      return;
    }
    try {
      await unlink(v.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw systemError(`cannot unlink file '${v.path}'`, err);
    }
    (await this.dirVols(rec)).delete(v.name);
  }

  async storageVolWipe(vol: StorageVolRef, algorithm: number | null, flags: number): Promise<void> {
    checkFlags(flags, 0, algorithm === null ? 'virStorageVolWipe' : 'virStorageVolWipePattern');
    const { rec, v } = await this.vol(vol);
    if (algorithm !== null && algorithm !== StorageVolWipeAlgorithm.ZERO) {
      throw VirError.report(ErrorDomain.STORAGE, ErrorNumber.OPERATION_UNSUPPORTED, `wipe algorithm ${algorithm} is not supported (tsvirt zeroes)`);
    }
    const user = this.inUse(v.path, rec.name, v.name);
    if (user !== undefined) throw invalid(`storage volume '${v.path}' is in use by running domain '${user}'`);
    if (this.simulated) return;
    if (v.format === 'raw') {
      // Zeroes without writing them: the file is cut to nothing and grown back (a hole reads as zeros).
      await truncate(v.path, 0);
      await truncate(v.path, v.capacity);
    } else {
      await unlink(v.path);
      await createImage(v.path, { format: 'qcow2', capacity: v.capacity, backingPath: v.backingPath, backingFormat: v.backingFormat, compat: v.compat });
      await chmod(v.path, v.perms?.mode ?? DEFAULT_VOL_MODE);
    }
    await this.reprobe(rec, v);
  }

  private async reprobe(rec: StoragePoolRecord, v: VolumeState): Promise<void> {
    const facts = await probeImage(v.path);
    const vols = await this.dirVols(rec);
    if (facts === null) vols.delete(v.name);
    else vols.set(v.name, volumeState(v.name, v.path, facts));
  }

  async storageVolResize(vol: StorageVolRef, capacity: number, flags: number): Promise<void> {
    checkFlags(flags, StorageVolResizeFlags.ALLOCATE | StorageVolResizeFlags.DELTA | StorageVolResizeFlags.SHRINK, 'virStorageVolResize');
    const { rec, v } = await this.vol(vol);
    let target = capacity;
    if ((flags & StorageVolResizeFlags.DELTA) !== 0) target = (flags & StorageVolResizeFlags.SHRINK) !== 0 ? v.capacity - capacity : v.capacity + capacity;
    if (target < v.capacity && (flags & StorageVolResizeFlags.SHRINK) === 0) {
      throw VirError.invalidArg(ErrorDomain.STORAGE, `invalid argument: Can't shrink capacity below current capacity unless shrink flag explicitly specified`);
    }
    if (target < 0) throw VirError.invalidArg(ErrorDomain.STORAGE, "invalid argument: can't shrink capacity below 0");
    if (target > v.capacity && (flags & StorageVolResizeFlags.ALLOCATE) !== 0 && target - v.capacity > (await this.sizes(rec)).available) {
      throw VirError.report(ErrorDomain.STORAGE, ErrorNumber.OPERATION_FAILED, 'Not enough space left in storage pool');
    }
    if (this.simulated) {
      const r = this.store.poolVolume(rec.uuid, v.name);
      if (r === undefined) throw noVol(`no storage vol with matching name '${v.name}'`, this.lookupDomain);
      const d = JSON.parse(r.data) as SimVolume;
      d.capacity = target;
      if ((flags & StorageVolResizeFlags.ALLOCATE) !== 0) d.allocation = target;
      this.store.mutate(() => this.store.putVolume({ ...r, data: JSON.stringify(d) }));
      return;
    }
    const args = ['resize', '-q', '-f', v.format];
    if (target < v.capacity) args.push('--shrink');
    if ((flags & StorageVolResizeFlags.ALLOCATE) !== 0 && v.format === 'raw') args.push('--preallocation=falloc');
    await runQemuImg([...args, v.path, String(target)]);
    await this.reprobe(rec, v);
  }

  async storageVolGetInfo(vol: StorageVolRef, flags: number | null): Promise<StorageVolInfo> {
    checkFlags(flags ?? 0, 1 /* GET_PHYSICAL */, 'virStorageVolGetInfoFlags');
    const { rec, v } = await this.vol(vol);
    if (!this.simulated) await this.reprobe(rec, v);
    const now = this.simulated ? v : ((await this.dirVols(rec)).get(v.name) ?? v);
    const allocation = ((flags ?? 0) & 1) !== 0 ? (now.physical ?? now.allocation) : now.allocation;
    return { type: StorageVolType.FILE, capacity: now.capacity, allocation };
  }
  async storageVolGetXMLDesc(vol: StorageVolRef, flags: number): Promise<string> {
    checkFlags(flags, 0, `${this.prefix}StorageVolGetXMLDesc`);
    const { rec, v } = await this.vol(vol);
    if (!this.simulated) await this.reprobe(rec, v);
    return formatVolumeXML(this.simulated ? v : ((await this.dirVols(rec)).get(v.name) ?? v));
  }
  async storageVolGetPath(vol: StorageVolRef): Promise<string> {
    return (await this.vol(vol)).v.path;
  }

  async storageVolUpload(vol: StorageVolRef, offset: number, length: number, flags: number): Promise<Duplex> {
    checkFlags(flags, 0, 'virStorageVolUpload');
    const { rec, v } = await this.vol(vol);
    const user = this.inUse(v.path, rec.name, v.name);
    if (user !== undefined) throw invalid(`storage volume '${v.path}' is in use by running domain '${user}'`);
    if (this.simulated) {
      // The simulator has no bytes: what is sent is taken and dropped.
      const sink = new PassThrough();
      sink.resume();
      return Duplex.from({ writable: sink, readable: emptyReadable() });
    }
    const file = createWriteStream(v.path, { flags: 'r+', start: offset });
    let left = length === 0 ? Infinity : length;
    const limiter = new PassThrough({
      transform(chunk: Buffer, _enc, cb) {
        if (chunk.length > left) return cb(VirError.report(ErrorDomain.STORAGE, ErrorNumber.INVALID_ARG, 'invalid argument: more data than the upload length'));
        left -= chunk.length;
        cb(null, chunk);
      },
    });
    limiter.pipe(file);
    const done = new Promise<void>((resolve, reject) => {
      file.once('finish', resolve);
      file.once('error', reject);
    });
    const channel = new Duplex({
      allowHalfOpen: true,
      read() {},
      write(chunk: Buffer, _enc, cb) {
        if (!limiter.write(chunk)) limiter.once('drain', () => cb());
        else cb();
      },
      final: (cb) => {
        limiter.end();
        done.then(
          () => {
            channel.push(null);
            void this.reprobe(rec, v).then(() => cb(), cb);
          },
          (err: unknown) => cb(systemError(`cannot write to '${v.path}'`, err)),
        );
      },
    });
    return channel;
  }

  async storageVolDownload(vol: StorageVolRef, offset: number, length: number, flags: number): Promise<Duplex> {
    checkFlags(flags, 0, 'virStorageVolDownload');
    const { v } = await this.vol(vol);
    const readable = this.simulated
      ? emptyReadable()
      : createReadStream(v.path, { start: offset, ...(length > 0 ? { end: offset + length - 1 } : {}), highWaterMark: 256 * 1024 });
    const sink = new PassThrough();
    sink.resume();
    return Duplex.from({ readable, writable: sink });
  }
}

function emptyReadable(): PassThrough {
  const p = new PassThrough();
  p.end();
  return p;
}

/** The ListAllStoragePools type flag of a pool type. */
function typeFlag(type: string): number {
  const key = type.toUpperCase().replace('-', '_') as keyof typeof ListFlags;
  return ListFlags[key] ?? 0;
}

/** A definition as stored: the XML without sizes, the UUID filled in. */
function canonicalPoolXML(def: PoolDef, uuid: string): string {
  const xml = formatPoolXML(def, uuid, { capacity: 0, allocation: 0, available: 0 });
  return xml;
}

function volumeState(name: string, path: string, f: ImageFacts): VolumeState {
  const v: VolumeState = {
    name,
    key: path,
    path,
    type: 'file',
    capacity: f.capacity,
    allocation: f.allocation,
    physical: f.physical,
    format: f.format,
    perms: { mode: f.mode, owner: f.uid, group: f.gid },
  };
  if (f.compat !== undefined) v.compat = f.compat;
  if (f.backingPath !== undefined) v.backingPath = f.backingPath;
  if (f.backingFormat !== undefined) v.backingFormat = f.backingFormat;
  return v;
}
