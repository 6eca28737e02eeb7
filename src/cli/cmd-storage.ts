/**
 * Storage pool and volume commands (virsh-pool.c, virsh-volume.c): pool-* and vol-*, with
 * virsh's output layout, through the public API only.
 */
import { openSync, closeSync, createReadStream, createWriteStream, statSync } from 'node:fs';
import type { Connection, StoragePool, StorageVol } from '../index.js';
import {
  ConnectListAllStoragePoolsFlags as ListFlags,
  StoragePoolBuildFlags,
  StoragePoolCreateFlags,
  StorageVolCreateFlags,
  StorageVolResizeFlags,
  StorageVolWipeAlgorithm,
  StorageXMLFlags,
} from '../core/enums.generated.js';
import { POOL_DOCUMENT, VOLUME_DOCUMENT } from '../conf/storage.js';
import { CmdFailed, FAILED, isVirError, type Cmd, type Ctl, type Handler } from './context.js';
import { readXMLFile } from './files.js';
import { escapeXML, formatTable } from './text.js';

const POOL_STATES = ['inactive', 'building', 'running', 'degraded', 'inaccessible'];
const VOL_TYPES = ['file', 'block', 'dir', 'network', 'netdir', 'ploop'];

function printJSON(ctl: Ctl, value: unknown): void {
  ctl.print(JSON.stringify(value, null, 2) + '\n');
}

/** virshPrettyCapacity with "%.2lf %s". */
export function prettyCapacity(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(2)} ${units[i]}`;
}

/** virshCommandOptScaledInt with a default scale of bytes. */
function scaled(ctl: Ctl, cmd: Cmd, name: string, required: boolean): number | undefined {
  const raw = cmd.string(name);
  if (raw === undefined) {
    if (required) {
      ctl.error(`Malformed size ${raw ?? ''}`);
      throw new CmdFailed();
    }
    return undefined;
  }
  return parseScaled(ctl, raw);
}

/** A scaled integer's bytes ("10M", "1G", "512"), or virsh's "Malformed size" error. */
function parseScaled(ctl: Ctl, raw: string): number {
  const m = /^\s*\+?(\d+)\s*([a-zA-Z]*)$/.exec(raw);
  let scale: number | undefined;
  if (m !== null) {
    const lower = (m[2] ?? '').toLowerCase();
    if (lower === '' || lower === 'b' || lower === 'byte' || lower === 'bytes') scale = 1;
    else {
      const p = 'kmgtpe'.indexOf(lower[0] ?? '');
      if (p >= 0 && (lower.length === 1 || lower.slice(1) === 'ib')) scale = 1024 ** (p + 1);
      else if (p >= 0 && lower.slice(1) === 'b') scale = 1000 ** (p + 1);
    }
  }
  const bytes = m === null || scale === undefined ? NaN : Number(m[1]) * scale;
  if (!Number.isSafeInteger(bytes)) {
    ctl.error(`Malformed size ${raw}`);
    throw new CmdFailed();
  }
  return bytes;
}

/** A non-negative integer option (offset, length); 0 when absent. */
function ullong(ctl: Ctl, cmd: Cmd, name: string): number {
  const raw = cmd.string(name);
  if (raw === undefined) return 0;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    ctl.error(`Numeric value '${raw}' for <${name}> option is malformed or out of range`);
    throw new CmdFailed();
  }
  return Number(raw);
}

/** virshCommandOptPoolBy: a UUID (36 characters), then a name; "failed to get pool 'X'". */
async function lookupPool(ctl: Ctl, name: string): Promise<StoragePool> {
  const conn = ctl.c;
  if (name.length === 36) {
    try {
      return await conn.storagePoolLookupByUUIDString(name);
    } catch (err) {
      if (!isVirError(err)) throw err;
    }
  }
  try {
    return await conn.storagePoolLookupByName(name);
  } catch (err) {
    if (!isVirError(err)) throw err;
    // virsh reports the last lookup's error after its own line.
    ctl.error(`failed to get pool '${name}'`);
    ctl.save(err);
    throw new CmdFailed();
  }
}

async function poolArg(ctl: Ctl, cmd: Cmd, opt = 'pool'): Promise<StoragePool> {
  return lookupPool(ctl, cmd.string(opt) ?? '');
}

/** virshCommandOptVolBy: by name in --pool, then by key, then by path. */
async function volArg(ctl: Ctl, cmd: Cmd, opt = 'vol', poolOpt: string | null = 'pool'): Promise<StorageVol> {
  const name = cmd.string(opt) ?? '';
  const poolName = poolOpt === null ? undefined : cmd.string(poolOpt);
  const pool = poolName === undefined ? null : await lookupPool(ctl, poolName);
  const conn: Connection = ctl.c;
  let last: unknown = null;
  const attempts: (() => Promise<StorageVol>)[] = [];
  if (pool !== null) attempts.push(() => pool.storageVolLookupByName(name));
  attempts.push(() => conn.storageVolLookupByKey(name), () => conn.storageVolLookupByPath(name));
  for (const a of attempts) {
    try {
      return await a();
    } catch (err) {
      if (!isVirError(err)) throw err;
      last = err;
    }
  }
  ctl.error(pool === null && poolOpt !== null ? `failed to get vol '${name}', specifying --${poolOpt} might help` : `failed to get vol '${name}'`);
  ctl.save(last);
  throw new CmdFailed();
}

function noXpath(ctl: Ctl, cmd: Cmd): void {
  if (cmd.stringQuiet('xpath') !== undefined) {
    ctl.error('--xpath is not supported by tsvirt');
    throw new CmdFailed();
  }
}

/** Runs `fn`, printing `done` on success (virsh's "Pool X started" lines). */
async function act(ctl: Ctl, fn: () => Promise<unknown>, done: string, failed: string): Promise<boolean> {
  const r = await ctl.attempt(fn);
  if (r === FAILED) {
    ctl.error(failed);
    return false;
  }
  ctl.print(`${done}\n`);
  return true;
}

function buildFlags(ctl: Ctl, cmd: Cmd, forCreate: boolean): number {
  cmd.exclusive('overwrite', 'no-overwrite');
  let flags = 0;
  if (forCreate) {
    if (cmd.bool('build')) flags |= StoragePoolCreateFlags.WITH_BUILD;
    if (cmd.bool('overwrite')) flags |= StoragePoolCreateFlags.WITH_BUILD_OVERWRITE;
    if (cmd.bool('no-overwrite')) flags |= StoragePoolCreateFlags.WITH_BUILD_NO_OVERWRITE;
  } else {
    if (cmd.bool('overwrite')) flags |= StoragePoolBuildFlags.OVERWRITE;
    if (cmd.bool('no-overwrite')) flags |= StoragePoolBuildFlags.NO_OVERWRITE;
  }
  void ctl;
  return flags;
}

/** virshBuildPoolXML: the pool XML of pool-define-as / pool-create-as. */
function poolAsXML(cmd: Cmd): string {
  const name = cmd.string('name') ?? '';
  const type = cmd.string('type') ?? '';
  let xml = `<pool type='${escapeXML(type)}'>\n  <name>${escapeXML(name)}</name>\n`;
  const host = cmd.string('source-host');
  const path = cmd.string('source-path');
  const dev = cmd.string('source-dev');
  const sname = cmd.string('source-name');
  const fmt = cmd.string('source-format');
  if (host !== undefined || path !== undefined || dev !== undefined || sname !== undefined || fmt !== undefined) {
    xml += '  <source>\n';
    if (host !== undefined) xml += `    <host name='${escapeXML(host)}'/>\n`;
    if (path !== undefined) xml += `    <dir path='${escapeXML(path)}'/>\n`;
    if (dev !== undefined) xml += `    <device path='${escapeXML(dev)}'/>\n`;
    if (fmt !== undefined) xml += `    <format type='${escapeXML(fmt)}'/>\n`;
    if (sname !== undefined) xml += `    <name>${escapeXML(sname)}</name>\n`;
    xml += '  </source>\n';
  }
  const target = cmd.string('target');
  if (target !== undefined) xml += `  <target>\n    <path>${escapeXML(target)}</path>\n  </target>\n`;
  return `${xml}</pool>\n`;
}

function readFile(ctl: Ctl, path: string, kind: typeof POOL_DOCUMENT): string {
  const xml = readXMLFile(ctl, path, kind);
  if (typeof xml !== 'string') {
    ctl.save(xml);
    throw new CmdFailed();
  }
  return xml;
}

// ---- pools ----

const poolAutostart: Handler = async (ctl, cmd) => {
  const pool = await poolArg(ctl, cmd);
  const off = cmd.bool('disable');
  const r = await ctl.attempt(pool.setAutostart(!off));
  if (r === FAILED) {
    ctl.error(off ? `failed to unmark pool ${pool.name()} as autostarted` : `failed to mark pool ${pool.name()} as autostarted`);
    return false;
  }
  ctl.print(off ? `Pool ${pool.name()} unmarked as autostarted\n` : `Pool ${pool.name()} marked as autostarted\n`);
  return true;
};

const poolBuild: Handler = async (ctl, cmd) => {
  const flags = buildFlags(ctl, cmd, false);
  const pool = await poolArg(ctl, cmd);
  return act(ctl, () => pool.build(flags), `Pool ${pool.name()} built`, `Failed to build pool ${pool.name()}`);
};

const poolCreate: Handler = async (ctl, cmd) => {
  const flags = buildFlags(ctl, cmd, true);
  const file = cmd.string('file') ?? '';
  const xml = readFile(ctl, file, POOL_DOCUMENT);
  const pool = await ctl.attempt(ctl.c.storagePoolCreateXML(xml, flags));
  if (pool === FAILED) {
    ctl.error(`Failed to create pool from ${file}`);
    return false;
  }
  ctl.print(`Pool ${pool.name()} created from ${file}\n`);
  return true;
};

const poolCreateAs: Handler = async (ctl, cmd) => {
  const flags = buildFlags(ctl, cmd, true);
  const xml = poolAsXML(cmd);
  if (cmd.bool('print-xml')) {
    ctl.print(xml);
    return true;
  }
  const name = cmd.string('name') ?? '';
  const pool = await ctl.attempt(ctl.c.storagePoolCreateXML(xml, flags));
  if (pool === FAILED) {
    ctl.error(`Failed to create pool ${name}`);
    return false;
  }
  ctl.print(`Pool ${name} created\n`);
  return true;
};

const poolDefine: Handler = async (ctl, cmd) => {
  const file = cmd.string('file') ?? '';
  const xml = readFile(ctl, file, POOL_DOCUMENT);
  const pool = await ctl.attempt(ctl.c.storagePoolDefineXML(xml, cmd.bool('validate') ? 1 : 0));
  if (pool === FAILED) {
    ctl.error(`Failed to define pool from ${file}`);
    return false;
  }
  ctl.print(`Pool ${pool.name()} defined from ${file}\n`);
  return true;
};

const poolDefineAs: Handler = async (ctl, cmd) => {
  const xml = poolAsXML(cmd);
  if (cmd.bool('print-xml')) {
    ctl.print(xml);
    return true;
  }
  const name = cmd.string('name') ?? '';
  const pool = await ctl.attempt(ctl.c.storagePoolDefineXML(xml, 0));
  if (pool === FAILED) {
    ctl.error(`Failed to define pool ${name}`);
    return false;
  }
  ctl.print(`Pool ${name} defined\n`);
  return true;
};

const poolDelete: Handler = async (ctl, cmd) => {
  const pool = await poolArg(ctl, cmd);
  return act(ctl, () => pool.delete(0), `Pool ${pool.name()} deleted`, `Failed to delete pool ${pool.name()}`);
};

const poolDestroy: Handler = async (ctl, cmd) => {
  const pool = await poolArg(ctl, cmd);
  return act(ctl, () => pool.destroy(), `Pool ${pool.name()} destroyed`, `Failed to destroy pool ${pool.name()}`);
};

const poolDumpxml: Handler = async (ctl, cmd) => {
  noXpath(ctl, cmd);
  const pool = await poolArg(ctl, cmd);
  const xml = await ctl.attempt(pool.XMLDesc(cmd.bool('inactive') ? StorageXMLFlags.INACTIVE : 0));
  if (xml === FAILED) return false;
  ctl.print(xml);
  return true;
};

const poolInfo: Handler = async (ctl, cmd) => {
  const pool = await poolArg(ctl, cmd);
  const info = await ctl.attempt(pool.info());
  if (info === FAILED) return false;
  const [state, capacity, allocation, available] = info;
  const persistent = await pool.isPersistent();
  const autostart = await pool.autostart();
  const running = state === 2 || state === 3;
  if (cmd.bool('json')) {
    printJSON(ctl, {
      name: pool.name(),
      uuid: pool.UUIDString(),
      state: POOL_STATES[state] ?? 'unknown',
      persistent,
      autostart,
      ...(running ? { capacity, allocation, available } : {}),
    });
    return true;
  }
  const line = (k: string, v: string): void => ctl.print(`${`${k}:`.padEnd(15)} ${v}\n`);
  line('Name', pool.name());
  line('UUID', pool.UUIDString());
  line('State', POOL_STATES[state] ?? 'unknown');
  line('Persistent', persistent ? 'yes' : 'no');
  line('Autostart', autostart ? 'yes' : 'no');
  if (running) {
    const size = (n: number): string => (cmd.bool('bytes') ? `${n}` : prettyCapacity(n));
    line('Capacity', size(capacity));
    line('Allocation', size(allocation));
    line('Available', size(available));
  }
  return true;
};

const poolList: Handler = async (ctl, cmd) => {
  let flags = 0;
  const all = cmd.bool('all');
  if (cmd.bool('inactive') && !all) flags |= ListFlags.INACTIVE;
  else if (!all) flags |= ListFlags.ACTIVE;
  if (all) flags &= ~(ListFlags.ACTIVE | ListFlags.INACTIVE);
  if (cmd.bool('persistent')) flags |= ListFlags.PERSISTENT;
  if (cmd.bool('transient')) flags |= ListFlags.TRANSIENT;
  if (cmd.bool('autostart')) flags |= ListFlags.AUTOSTART;
  if (cmd.bool('no-autostart')) flags |= ListFlags.NO_AUTOSTART;
  const types = cmd.string('type');
  if (types !== undefined) {
    for (const t of types.split(',')) {
      const key = t.trim().toUpperCase().replace('-', '_') as keyof typeof ListFlags;
      const bit = ListFlags[key];
      if (bit === undefined || bit < ListFlags.DIR) {
        ctl.error(`Invalid pool type '${t}'`);
        return false;
      }
      flags |= bit;
    }
  }
  const pools = await ctl.attempt(ctl.c.listAllStoragePools(flags));
  if (pools === FAILED) {
    ctl.error('Failed to list pools');
    return false;
  }
  pools.sort((a, b) => (a.name() < b.name() ? -1 : a.name() > b.name() ? 1 : 0));
  if (cmd.bool('name') || cmd.bool('uuid')) {
    for (const p of pools) {
      const parts = [];
      if (cmd.bool('uuid')) parts.push(p.UUIDString());
      if (cmd.bool('name')) parts.push(p.name());
      ctl.print(`${parts.join(' ')}\n`);
    }
    return true;
  }
  const facts = await Promise.all(
    pools.map(async (p) => ({ name: p.name(), uuid: p.UUIDString(), info: await p.info(), persistent: await p.isPersistent(), autostart: await p.autostart() })),
  );
  if (cmd.bool('json')) {
    printJSON(
      ctl,
      facts.map((f) => ({
        name: f.name,
        uuid: f.uuid,
        state: POOL_STATES[f.info[0]] ?? 'unknown',
        persistent: f.persistent,
        autostart: f.autostart,
        capacity: f.info[1],
        allocation: f.info[2],
        available: f.info[3],
      })),
    );
    return true;
  }
  if (cmd.bool('details')) {
    const rows = facts.map((f) => {
      const running = f.info[0] === 2 || f.info[0] === 3;
      return [
        f.name,
        POOL_STATES[f.info[0]] ?? 'unknown',
        f.autostart ? 'yes' : 'no',
        f.persistent ? 'yes' : 'no',
        running ? prettyCapacity(f.info[1]) : '-',
        running ? prettyCapacity(f.info[2]) : '-',
        running ? prettyCapacity(f.info[3]) : '-',
      ];
    });
    ctl.print(formatTable(['Name', 'State', 'Autostart', 'Persistent', 'Capacity', 'Allocation', 'Available'], rows, !ctl.quiet));
    return true;
  }
  const rows = facts.map((f) => [f.name, f.info[0] === 0 ? 'inactive' : 'active', f.autostart ? 'yes' : 'no']);
  ctl.print(formatTable(['Name', 'State', 'Autostart'], rows, !ctl.quiet));
  return true;
};

const poolName: Handler = async (ctl, cmd) => {
  const name = cmd.string('pool') ?? '';
  const pool = await ctl.attempt(ctl.c.storagePoolLookupByUUIDString(name));
  if (pool === FAILED) {
    ctl.error(`failed to get pool '${name}'`);
    return false;
  }
  ctl.print(`${pool.name()}\n`);
  return true;
};

const poolRefresh: Handler = async (ctl, cmd) => {
  const pool = await poolArg(ctl, cmd);
  return act(ctl, () => pool.refresh(0), `Pool ${pool.name()} refreshed`, `Failed to refresh pool ${pool.name()}`);
};

const poolStart: Handler = async (ctl, cmd) => {
  const flags = buildFlags(ctl, cmd, true);
  const pool = await poolArg(ctl, cmd);
  return act(ctl, () => pool.create(flags), `Pool ${pool.name()} started`, `Failed to start pool ${pool.name()}`);
};

const poolUndefine: Handler = async (ctl, cmd) => {
  const pool = await poolArg(ctl, cmd);
  return act(ctl, () => pool.undefine(), `Pool ${pool.name()} has been undefined`, `Failed to undefine pool ${pool.name()}`);
};

const poolUuid: Handler = async (ctl, cmd) => {
  const pool = await poolArg(ctl, cmd);
  ctl.print(`${pool.UUIDString()}\n`);
  return true;
};

// ---- volumes ----

function createFlags(cmd: Cmd): number {
  return cmd.bool('prealloc-metadata') ? StorageVolCreateFlags.PREALLOC_METADATA : 0;
}

/** The volume XML of vol-clone: the source's XML with the new name (as virsh makes it). */
function renamed(xml: string, name: string): string {
  return xml.replace(/<name>[^<]*<\/name>/, `<name>${escapeXML(name)}</name>`).replace(/\s*<key>[^<]*<\/key>/, '');
}

const volClone: Handler = async (ctl, cmd) => {
  const vol = await volArg(ctl, cmd);
  const pool = await ctl.attempt(vol.storagePoolLookupByVolume());
  if (pool === FAILED) {
    ctl.error('failed to get parent pool');
    return false;
  }
  const newName = cmd.string('newname') ?? '';
  const xml = await ctl.attempt(vol.XMLDesc(0));
  if (xml === FAILED) return false;
  const newXML = renamed(xml, newName);
  if (cmd.bool('print-xml')) {
    ctl.print(newXML);
    return true;
  }
  const made = await ctl.attempt(pool.createXMLFrom(newXML, vol, createFlags(cmd)));
  if (made === FAILED) {
    ctl.error(`Failed to clone vol from ${vol.name()}`);
    return false;
  }
  ctl.print(`Vol ${newName} cloned from ${vol.name()}\n`);
  return true;
};

const volCreate: Handler = async (ctl, cmd) => {
  const pool = await poolArg(ctl, cmd);
  const file = cmd.string('file') ?? '';
  const xml = readFile(ctl, file, VOLUME_DOCUMENT);
  const vol = await ctl.attempt(pool.createXML(xml, createFlags(cmd) | (cmd.bool('validate') ? StorageVolCreateFlags.VALIDATE : 0)));
  if (vol === FAILED) {
    ctl.error(`Failed to create vol from ${file}`);
    return false;
  }
  ctl.print(`Vol ${vol.name()} created from ${file}\n`);
  return true;
};

const volCreateAs: Handler = async (ctl, cmd) => {
  const pool = await poolArg(ctl, cmd);
  const name = cmd.string('name') ?? '';
  const capacity = scaled(ctl, cmd, 'capacity', true) ?? 0;
  const allocation = scaled(ctl, cmd, 'allocation', false);
  const format = cmd.string('format');
  let xml = `<volume>\n  <name>${escapeXML(name)}</name>\n  <capacity>${capacity}</capacity>\n`;
  if (allocation !== undefined) xml += `  <allocation>${allocation}</allocation>\n`;
  if (format !== undefined) xml += `  <target>\n    <format type='${escapeXML(format)}'/>\n  </target>\n`;
  const backing = cmd.string('backing-vol');
  if (backing !== undefined) {
    // virsh resolves the backing volume (name in this pool, key or path) to its path.
    let path = backing;
    let bfmt = cmd.string('backing-vol-format');
    for (const look of [() => pool.storageVolLookupByName(backing), () => ctl.c.storageVolLookupByKey(backing), () => ctl.c.storageVolLookupByPath(backing)]) {
      try {
        const bv = await look();
        path = await bv.path();
        if (bfmt === undefined) {
          const m = /<format type='([^']*)'\/>/.exec(await bv.XMLDesc(0));
          if (m !== null) bfmt = m[1];
        }
        break;
      } catch (err) {
        if (!isVirError(err)) throw err;
      }
    }
    ctl.resetError();
    xml += `  <backingStore>\n    <path>${escapeXML(path)}</path>\n`;
    if (bfmt !== undefined) xml += `    <format type='${escapeXML(bfmt)}'/>\n`;
    xml += '  </backingStore>\n';
  }
  xml += '</volume>\n';
  if (cmd.bool('print-xml')) {
    ctl.print(xml);
    return true;
  }
  const vol = await ctl.attempt(pool.createXML(xml, createFlags(cmd)));
  if (vol === FAILED) {
    ctl.error(`Failed to create vol ${name}`);
    return false;
  }
  ctl.print(`Vol ${name} created\n`);
  return true;
};

const volCreateFrom: Handler = async (ctl, cmd) => {
  const pool = await poolArg(ctl, cmd);
  const file = cmd.string('file') ?? '';
  const input = await volArg(ctl, cmd, 'vol', 'inputpool');
  const xml = readFile(ctl, file, VOLUME_DOCUMENT);
  const vol = await ctl.attempt(pool.createXMLFrom(xml, input, createFlags(cmd) | (cmd.bool('validate') ? StorageVolCreateFlags.VALIDATE : 0)));
  if (vol === FAILED) {
    ctl.error(`Failed to create vol from ${file}`);
    return false;
  }
  ctl.print(`Vol ${vol.name()} created from input vol ${input.name()}\n`);
  return true;
};

const volDelete: Handler = async (ctl, cmd) => {
  const vol = await volArg(ctl, cmd);
  return act(ctl, () => vol.delete(cmd.bool('delete-snapshots') ? 2 : 0), `Vol ${vol.name()} deleted`, `Failed to delete vol ${vol.name()}`);
};

const volDownload: Handler = async (ctl, cmd) => {
  if (cmd.bool('sparse')) {
    ctl.error('--sparse is not supported by tsvirt yet');
    return false;
  }
  const offset = ullong(ctl, cmd, 'offset');
  const length = ullong(ctl, cmd, 'length');
  const vol = await volArg(ctl, cmd);
  const file = cmd.string('file') ?? '';
  let fd: number;
  try {
    fd = openSync(file, 'w', 0o666);
  } catch {
    ctl.error(`cannot create ${file}`);
    return false;
  }
  const out = createWriteStream('', { fd });
  const stream = ctl.c.newStream();
  const ok = await ctl.attempt(async () => {
    await vol.download(stream, offset, length, 0);
    await stream.recvAll(async (_s, data) => {
      if (!out.write(data)) await new Promise<void>((r) => out.once('drain', () => r()));
    });
    await stream.finish();
  });
  await new Promise<void>((r) => out.end(() => r()));
  if (ok === FAILED) {
    await stream.abort();
    ctl.error(`cannot receive data from volume ${vol.name()}`);
    return false;
  }
  return true;
};

const volDumpxml: Handler = async (ctl, cmd) => {
  noXpath(ctl, cmd);
  const vol = await volArg(ctl, cmd);
  const xml = await ctl.attempt(vol.XMLDesc(0));
  if (xml === FAILED) return false;
  ctl.print(xml);
  return true;
};

const volInfo: Handler = async (ctl, cmd) => {
  const vol = await volArg(ctl, cmd);
  const info = await ctl.attempt(cmd.bool('physical') ? vol.infoFlags(1) : vol.info());
  if (info === FAILED) return false;
  const [type, capacity, allocation] = info;
  if (cmd.bool('json')) {
    printJSON(ctl, { name: vol.name(), type: VOL_TYPES[type] ?? 'unknown', capacity, [cmd.bool('physical') ? 'physical' : 'allocation']: allocation });
    return true;
  }
  const line = (k: string, v: string): void => ctl.print(`${`${k}:`.padEnd(15)} ${v}\n`);
  const size = (n: number): string => (cmd.bool('bytes') ? `${n} bytes` : prettyCapacity(n));
  line('Name', vol.name());
  line('Type', VOL_TYPES[type] ?? 'unknown');
  line('Capacity', size(capacity));
  line(cmd.bool('physical') ? 'Physical' : 'Allocation', size(allocation));
  return true;
};

const volKey: Handler = async (ctl, cmd) => {
  const vol = await volArg(ctl, cmd);
  ctl.print(`${vol.key()}\n`);
  return true;
};

const volList: Handler = async (ctl, cmd) => {
  const pool = await poolArg(ctl, cmd);
  const vols = await ctl.attempt(pool.listAllVolumes(0));
  if (vols === FAILED) {
    ctl.error('Failed to list storage volumes');
    return false;
  }
  const details = cmd.bool('details') || cmd.bool('json');
  const facts = await Promise.all(
    vols.map(async (v) => ({ name: v.name(), path: await v.path(), info: details ? await v.info() : null })),
  );
  if (cmd.bool('json')) {
    printJSON(ctl, facts.map((f) => ({ name: f.name, path: f.path, type: VOL_TYPES[f.info?.[0] ?? 0], capacity: f.info?.[1], allocation: f.info?.[2] })));
    return true;
  }
  if (cmd.bool('details')) {
    const rows = facts.map((f) => [f.name, f.path, VOL_TYPES[f.info?.[0] ?? 0] ?? 'unknown', prettyCapacity(f.info?.[1] ?? 0), prettyCapacity(f.info?.[2] ?? 0)]);
    ctl.print(formatTable(['Name', 'Path', 'Type', 'Capacity', 'Allocation'], rows, !ctl.quiet));
    return true;
  }
  ctl.print(formatTable(['Name', 'Path'], facts.map((f) => [f.name, f.path]), !ctl.quiet));
  return true;
};

const volName: Handler = async (ctl, cmd) => {
  const vol = await volArg(ctl, cmd, 'vol', null);
  ctl.print(`${vol.name()}\n`);
  return true;
};

const volPath: Handler = async (ctl, cmd) => {
  const vol = await volArg(ctl, cmd);
  const path = await ctl.attempt(vol.path());
  if (path === FAILED) return false;
  ctl.print(`${path}\n`);
  return true;
};

const volPool: Handler = async (ctl, cmd) => {
  const vol = await volArg(ctl, cmd, 'vol', null);
  const pool = await ctl.attempt(vol.storagePoolLookupByVolume());
  if (pool === FAILED) {
    ctl.error('failed to get parent pool');
    return false;
  }
  ctl.print(`${cmd.bool('uuid') ? pool.UUIDString() : pool.name()}\n`);
  return true;
};

const volResize: Handler = async (ctl, cmd) => {
  let flags = 0;
  if (cmd.bool('allocate')) flags |= StorageVolResizeFlags.ALLOCATE;
  if (cmd.bool('delta')) flags |= StorageVolResizeFlags.DELTA;
  if (cmd.bool('shrink')) flags |= StorageVolResizeFlags.SHRINK;
  const raw = cmd.string('capacity') ?? '';
  // virsh takes a leading '-' as --shrink --delta.
  let capacityText = raw;
  if (raw.startsWith('-')) {
    capacityText = raw.slice(1);
    flags |= StorageVolResizeFlags.SHRINK | StorageVolResizeFlags.DELTA;
  }
  const capacity = parseScaled(ctl, capacityText);
  const vol = await volArg(ctl, cmd);
  const r = await ctl.attempt(vol.resize(capacity, flags));
  if (r === FAILED) {
    ctl.error(`Failed to change size of volume '${vol.name()}' to ${raw}`);
    return false;
  }
  ctl.print(`Size of volume '${vol.name()}' successfully changed to ${raw}\n`);
  return true;
};

const volUpload: Handler = async (ctl, cmd) => {
  if (cmd.bool('sparse')) {
    ctl.error('--sparse is not supported by tsvirt yet');
    return false;
  }
  const offset = ullong(ctl, cmd, 'offset');
  const length = ullong(ctl, cmd, 'length');
  const vol = await volArg(ctl, cmd);
  const file = cmd.string('file') ?? '';
  let fd: number;
  try {
    fd = openSync(file, 'r');
    if (!statSync(file).isFile()) throw new Error('not a file');
  } catch {
    ctl.error(`cannot read ${file}`);
    return false;
  }
  const input = createReadStream('', { fd, highWaterMark: 256 * 1024, ...(length > 0 ? { end: length - 1 } : {}) });
  const stream = ctl.c.newStream();
  const ok = await ctl.attempt(async () => {
    await vol.upload(stream, offset, length, 0);
    for await (const chunk of input) await stream.send(chunk as Buffer);
    await stream.finish();
  });
  input.destroy();
  try {
    closeSync(fd);
  } catch {
    // Closed with the stream.
  }
  if (ok === FAILED) {
    await stream.abort();
    ctl.error(`cannot upload to volume ${vol.name()}`);
    return false;
  }
  return true;
};

const volWipe: Handler = async (ctl, cmd) => {
  const vol = await volArg(ctl, cmd);
  const alg = cmd.string('algorithm');
  let algorithm: number | undefined;
  if (alg !== undefined) {
    const key = alg.toUpperCase() as keyof typeof StorageVolWipeAlgorithm;
    algorithm = StorageVolWipeAlgorithm[key];
    if (algorithm === undefined) {
      ctl.error(`Unsupported algorithm '${alg}'`);
      return false;
    }
  }
  const r = await ctl.attempt(algorithm === undefined ? vol.wipe(0) : vol.wipePattern(algorithm, 0));
  if (r === FAILED) {
    ctl.error(`Failed to wipe vol ${vol.name()}`);
    return false;
  }
  ctl.print(`Vol ${vol.name()} wiped\n`);
  return true;
};

export const handlers: Record<string, Handler> = {
  'pool-autostart': poolAutostart,
  'pool-build': poolBuild,
  'pool-create': poolCreate,
  'pool-create-as': poolCreateAs,
  'pool-define': poolDefine,
  'pool-define-as': poolDefineAs,
  'pool-delete': poolDelete,
  'pool-destroy': poolDestroy,
  'pool-dumpxml': poolDumpxml,
  'pool-info': poolInfo,
  'pool-list': poolList,
  'pool-name': poolName,
  'pool-refresh': poolRefresh,
  'pool-start': poolStart,
  'pool-undefine': poolUndefine,
  'pool-uuid': poolUuid,
  'vol-clone': volClone,
  'vol-create': volCreate,
  'vol-create-as': volCreateAs,
  'vol-create-from': volCreateFrom,
  'vol-delete': volDelete,
  'vol-download': volDownload,
  'vol-dumpxml': volDumpxml,
  'vol-info': volInfo,
  'vol-key': volKey,
  'vol-list': volList,
  'vol-name': volName,
  'vol-path': volPath,
  'vol-pool': volPool,
  'vol-resize': volResize,
  'vol-upload': volUpload,
  'vol-wipe': volWipe,
};
