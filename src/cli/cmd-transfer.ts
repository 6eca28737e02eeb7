/**
 * tsvirt's snapshot-export and snapshot-import (not in virsh): the seed asks management
 * applications to capture every snapshot's XML before `undefine --snapshots-metadata` and to
 * recreate the metadata later with REDEFINE (rule R10, docs/design.md); these make it one command each.
 *
 * An export directory holds:
 *   domain.xml          the domain's persistent definition (its live one for a transient domain)
 *   snapshots/NNNN.xml  each snapshot's XML, numbered in tree order (parents first)
 *   index.json          {format, version, domain: {name, uuid}, current, snapshots: [{name, parent, file}]}
 * index.json is written last: a directory without it is not a complete export. Snapshot names
 * are data, never paths: the files are numbered, and the names live in index.json.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Domain } from '../index.js';
import {
  DomainSnapshotCreateFlags,
  DomainSnapshotListFlags,
  DomainSnapshotXMLFlags,
  DomainXMLFlags,
  ErrorNumber,
} from '../core/enums.generated.js';
import { BY_ANY, FAILED, isVirError, type Handler } from './context.js';
import { strerror } from './files.js';

const FORMAT = 'tsvirt-snapshot-export';
const VERSION = 1;

const XML_SECURE = DomainSnapshotXMLFlags.SECURE;
const XML_INACTIVE = DomainXMLFlags.INACTIVE;
const LIST_TOPOLOGICAL = DomainSnapshotListFlags.TOPOLOGICAL;
const CREATE_REDEFINE = DomainSnapshotCreateFlags.REDEFINE;
const CREATE_CURRENT = DomainSnapshotCreateFlags.CURRENT;
const ERR_NO_DOMAIN_SNAPSHOT = ErrorNumber.NO_DOMAIN_SNAPSHOT;

/** One snapshot in index.json. */
export interface ExportedSnapshot {
  name: string;
  parent: string | null;
  file: string;
}

/** The content of index.json. */
export interface ExportIndex {
  format: typeof FORMAT;
  version: number;
  domain: { name: string; uuid: string };
  current: string | null;
  snapshots: ExportedSnapshot[];
}

/** Writes a file durably; fails if it exists. */
function writeNew(path: string, data: string): void {
  const fd = openSync(path, 'wx', 0o644);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDir(path: string): void {
  try {
    const fd = openSync(path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not every file system lets a directory be synced; the files themselves were.
  }
}

/**
 * Exports `dom` and all its snapshot metadata into `dir` (created if missing, which must
 * otherwise be empty). Changes nothing in tsvirt. On failure, removes what it wrote and says why.
 */
export async function exportSnapshots(
  dom: Domain,
  dir: string,
): Promise<{ ok: true; count: number } | { ok: false; reason: string }> {
  // Gather everything first: nothing is written unless the API answered.
  let index: ExportIndex;
  let domainXML: string;
  const files: [string, string][] = [];
  try {
    const persistent = await dom.isPersistent();
    domainXML = await dom.XMLDesc(XML_SECURE | (persistent ? XML_INACTIVE : 0));
    const snaps = await dom.listAllSnapshots(LIST_TOPOLOGICAL);
    const hasCurrent = await dom.hasCurrentSnapshot(0);
    const current = hasCurrent ? (await dom.snapshotCurrent(0)).getName() : null;
    const entries: ExportedSnapshot[] = [];
    for (const [i, snap] of snaps.entries()) {
      let parent: string | null = null;
      try {
        parent = (await snap.getParent(0)).getName();
      } catch (err) {
        if (!(isVirError(err) && err.code === ERR_NO_DOMAIN_SNAPSHOT)) throw err;
      }
      const file = `${String(i + 1).padStart(4, '0')}.xml`;
      files.push([file, await snap.getXMLDesc(XML_SECURE)]);
      entries.push({ name: snap.getName(), parent, file });
    }
    index = {
      format: FORMAT,
      version: VERSION,
      domain: { name: dom.name(), uuid: dom.UUIDString() },
      current,
      snapshots: treeOrder(entries),
    };
  } catch (err) {
    if (isVirError(err)) return { ok: false, reason: err.message };
    throw err;
  }

  const created: string[] = [];
  let madeDir = false;
  let madeSnapDir = false;
  try {
    try {
      const existing = readdirSync(dir);
      if (existing.length > 0) return { ok: false, reason: 'directory is not empty' };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      madeDir = true;
    }
    const snapDir = join(dir, 'snapshots');
    mkdirSync(snapDir, { mode: 0o755 });
    madeSnapDir = true;
    writeNew(join(dir, 'domain.xml'), domainXML);
    created.push(join(dir, 'domain.xml'));
    for (const [file, xml] of files) {
      writeNew(join(snapDir, file), xml);
      created.push(join(snapDir, file));
    }
    syncDir(snapDir);
    writeNew(join(dir, 'index.json'), JSON.stringify(index, null, 2) + '\n');
    created.push(join(dir, 'index.json'));
    syncDir(dir);
    return { ok: true, count: files.length };
  } catch (err) {
    for (const f of created.reverse()) {
      try {
        unlinkSync(f);
      } catch {
        // best effort: leave what cannot be removed
      }
    }
    try {
      if (madeSnapDir) rmdirSync(join(dir, 'snapshots'));
      if (madeDir) rmdirSync(dir);
    } catch {
      // best effort
    }
    return { ok: false, reason: strerror(err) };
  }
}

/** Orders snapshots so that each parent comes before its children (stable otherwise). */
function treeOrder(entries: ExportedSnapshot[]): ExportedSnapshot[] {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const out: ExportedSnapshot[] = [];
  const done = new Set<string>();
  const visit = (e: ExportedSnapshot, depth: number) => {
    if (done.has(e.name) || depth > entries.length) return;
    const p = e.parent !== null ? byName.get(e.parent) : undefined;
    if (p !== undefined) visit(p, depth + 1);
    done.add(e.name);
    out.push(e);
  };
  for (const e of entries) visit(e, 0);
  return out;
}

/** Reads and checks an export's index.json. */
function readIndex(dir: string): ExportIndex {
  const raw = readFileSync(join(dir, 'index.json'), 'utf8');
  const index = JSON.parse(raw) as Partial<ExportIndex>;
  if (index.format !== FORMAT || index.version !== VERSION) throw new Error('not a tsvirt snapshot export (index.json)');
  if (typeof index.domain?.name !== 'string' || typeof index.domain.uuid !== 'string' || !Array.isArray(index.snapshots)) {
    throw new Error('index.json is incomplete');
  }
  for (const s of index.snapshots) {
    if (typeof s.name !== 'string' || typeof s.file !== 'string' || !/^[0-9]{4,}\.xml$/.test(s.file)) {
      throw new Error('index.json names a snapshot file it may not');
    }
  }
  return index as ExportIndex;
}

const snapshotExport: Handler = async (ctl, cmd) => {
  const { dom, name } = await cmd.domain();
  const dir = cmd.string('dir')!;
  const result = await exportSnapshots(dom, dir);
  if (!result.ok) {
    ctl.error(`Failed to export snapshots of domain '${name}' to '${dir}': ${result.reason}`);
    return false;
  }
  ctl.extra(`Domain '${name}' and its ${result.count} snapshots exported to ${dir}\n`);
  return true;
};

const snapshotImport: Handler = async (ctl, cmd) => {
  const domArg = cmd.domainArg();
  const dir = cmd.string('dir')!;
  let index: ExportIndex;
  try {
    index = readIndex(dir);
  } catch (err) {
    ctl.error(`Failed to read the export in '${dir}': ${err instanceof SyntaxError ? 'index.json is not valid JSON' : strerror(err)}`);
    return false;
  }

  let dom = await ctl.findDomain(domArg, BY_ANY);
  if (dom === null) {
    if (!cmd.bool('define')) {
      ctl.error(`failed to get domain '${domArg}'`);
      ctl.hint(`add --define to define it from ${join(dir, 'domain.xml')} first`);
      return false;
    }
    let xml: string;
    try {
      xml = readFileSync(join(dir, 'domain.xml'), 'utf8');
    } catch (e) {
      ctl.error(`Failed to read the export in '${dir}': ${strerror(e)}`);
      return false;
    }
    const defined = await ctl.attempt(ctl.c.defineXML(xml));
    if (defined === FAILED) {
      ctl.error(`Failed to define domain from ${join(dir, 'domain.xml')}`);
      return false;
    }
    ctl.extra(`Domain '${defined.name()}' defined from ${join(dir, 'domain.xml')}\n`);
    dom = defined;
  }

  if (dom.name() !== index.domain.name || dom.UUIDString() !== index.domain.uuid) {
    ctl.error(
      `domain '${dom.name()}' (${dom.UUIDString()}) is not the exported domain '${index.domain.name}' (${index.domain.uuid})`,
    );
    return false;
  }

  const ordered = treeOrder(index.snapshots);
  const xmlOf = (s: ExportedSnapshot) => readFileSync(join(dir, 'snapshots', s.file), 'utf8');
  let count = 0;
  for (const s of ordered) {
    let xml: string;
    try {
      xml = xmlOf(s);
    } catch (err) {
      ctl.error(`Failed to read the export in '${dir}': snapshot '${s.name}': ${strerror(err)}`);
      return false;
    }
    if ((await ctl.attempt(dom.snapshotCreateXML(xml, CREATE_REDEFINE))) === FAILED) {
      ctl.error(`Failed to redefine snapshot '${s.name}' of domain '${dom.name()}'`);
      return false;
    }
    count++;
  }
  if (index.current !== null) {
    const cur = ordered.find((s) => s.name === index.current);
    if (cur === undefined) {
      ctl.error(`Failed to read the export in '${dir}': the current snapshot '${index.current}' is not in it`);
      return false;
    }
    if ((await ctl.attempt(dom.snapshotCreateXML(xmlOf(cur), CREATE_REDEFINE | CREATE_CURRENT))) === FAILED) {
      ctl.error(`Failed to make snapshot '${cur.name}' current`);
      return false;
    }
  }
  ctl.extra(
    `Imported ${count} snapshots of domain '${dom.name()}' from ${dir}` +
      (index.current !== null ? `; current snapshot: ${index.current}\n` : '\n'),
  );
  return true;
};

export const handlers: Record<string, Handler> = {
  'snapshot-export': snapshotExport,
  'snapshot-import': snapshotImport,
};
