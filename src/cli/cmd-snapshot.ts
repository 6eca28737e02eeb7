/**
 * Snapshot commands (virsh-snapshot.c): snapshot-create, snapshot-create-as, snapshot-current,
 * snapshot-delete, snapshot-dumpxml, snapshot-info, snapshot-list, snapshot-parent,
 * snapshot-revert. virsh reads a snapshot's state, parent and creation time from its XML;
 * so does tsvirt (src/cli/xml.ts), through the public API only.
 */
import type { Domain, DomainSnapshot } from '../index.js';
import {
  DomainSnapshotCreateFlags,
  DomainSnapshotDeleteFlags,
  DomainSnapshotListFlags,
  DomainSnapshotRevertFlags,
  DomainSnapshotXMLFlags,
  ErrorNumber,
} from '../core/enums.generated.js';
import { CmdFailed, FAILED, isVirError, type Cmd, type Ctl, type Handler } from './context.js';
import { jobProgress } from './progress.js';
import { readXMLFile } from './files.js';
import { SNAPSHOT_DOCUMENT } from '../conf/xml.js';
import { escapeXML, formatTable, formatTree, stringToArray } from './text.js';
import { find, parseXML, text, type XMLElement } from './xml.js';

// libvirt's numbers, from the one generated table.
const {
  NO_SUPPORT: ERR_NO_SUPPORT,
  INVALID_ARG: ERR_INVALID_ARG,
  OPERATION_INVALID: ERR_OPERATION_INVALID,
  NO_DOMAIN_SNAPSHOT: ERR_NO_DOMAIN_SNAPSHOT,
  SNAPSHOT_REVERT_RISKY: ERR_SNAPSHOT_REVERT_RISKY,
} = ErrorNumber;
const {
  REDEFINE: CREATE_REDEFINE,
  CURRENT: CREATE_CURRENT,
  NO_METADATA: CREATE_NO_METADATA,
  HALT: CREATE_HALT,
  DISK_ONLY: CREATE_DISK_ONLY,
  REUSE_EXT: CREATE_REUSE_EXT,
  QUIESCE: CREATE_QUIESCE,
  ATOMIC: CREATE_ATOMIC,
  LIVE: CREATE_LIVE,
  VALIDATE: CREATE_VALIDATE,
} = DomainSnapshotCreateFlags;
const {
  ROOTS: LIST_ROOTS,
  DESCENDANTS: LIST_DESCENDANTS,
  METADATA: LIST_METADATA,
  LEAVES: LIST_LEAVES,
  NO_LEAVES: LIST_NO_LEAVES,
  NO_METADATA: LIST_NO_METADATA,
  INACTIVE: LIST_INACTIVE,
  ACTIVE: LIST_ACTIVE,
  DISK_ONLY: LIST_DISK_ONLY,
  INTERNAL: LIST_INTERNAL,
  EXTERNAL: LIST_EXTERNAL,
  TOPOLOGICAL: LIST_TOPOLOGICAL,
} = DomainSnapshotListFlags;
const XML_SECURE = DomainSnapshotXMLFlags.SECURE;

function errorCode(ctl: Ctl): number | undefined {
  const e = ctl.lastError;
  return isVirError(e) ? e.code : undefined;
}

/** What virsh reads from a snapshot's XML. */
export interface SnapshotFacts {
  state: string;
  parent: string | null;
  creationTime: number | null;
  description: string;
  external: boolean;
}

/** Reads state, parent, creation time and location from domainsnapshot XML. */
export function snapshotFacts(xml: string): SnapshotFacts {
  const root = parseXML(xml);
  const snap = find(root, ['domainsnapshot']);
  const state = text(snap, ['state']);
  const parent = find(snap, ['parent', 'name']) !== undefined ? text(snap, ['parent', 'name']) : null;
  const ct = text(snap, ['creationTime']).trim();
  const memory = find(snap, ['memory']);
  let external: boolean;
  if (memory !== undefined) {
    const disks: XMLElement[] = find(snap, ['disks'])?.children.filter((c) => c.name === 'disk') ?? [];
    external = memory.attrs.snapshot === 'external' || disks.some((d) => d.attrs.snapshot === 'external');
  } else {
    external = state === 'disk-snapshot';
  }
  return {
    state,
    parent,
    creationTime: /^-?\d+$/.test(ct) ? Number(ct) : null,
    description: text(snap, ['description']),
    external,
  };
}

/** g_ascii_strcasecmp. */
function asciiCaseCompare(a: string, b: string): number {
  const la = a.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const lb = b.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return la < lb ? -1 : la > lb ? 1 : 0;
}

/** `%Y-%m-%d %H:%M:%S %z` in local time, as virsh prints creation times. */
export function localTime(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  return (
    `${String(d.getFullYear()).padStart(4, '0')}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${sign}${p(Math.floor(abs / 60))}${p(abs % 60)}`
  );
}

/** virshSnapshotCreate: creates, with virsh's fallbacks for --validate and --halt. */
async function createSnapshot(ctl: Ctl, cmd: Cmd, dom: Domain, xml: string, flags: number, from: string | undefined): Promise<boolean> {
  const progress = jobProgress(ctl, 'Snapshot', cmd.bool('verbose'));
  const job = progress.onProgress !== undefined ? { onProgress: progress.onProgress } : undefined;
  let halt = false;
  let snap = await ctl.attempt(dom.snapshotCreateXML(xml, flags, job));
  if (snap === FAILED && errorCode(ctl) === ERR_NO_SUPPORT && from === undefined) {
    flags &= ~CREATE_VALIDATE;
    snap = await ctl.attempt(dom.snapshotCreateXML(xml, flags, job));
  }
  if (snap === FAILED && errorCode(ctl) === ERR_INVALID_ARG && flags & CREATE_HALT) {
    // virsh emulates --halt for servers that reject it.
    ctl.resetError();
    const persistent = await ctl.attempt(dom.isPersistent());
    if (persistent === FAILED) {
      ctl.reportError();
      return false;
    }
    if (!persistent) {
      ctl.error('cannot halt after snapshot of transient domain');
      return false;
    }
    if ((await ctl.attempt(dom.isActive())) === true) halt = true;
    flags &= ~CREATE_HALT;
    snap = await ctl.attempt(dom.snapshotCreateXML(xml, flags, job));
  }
  if (snap === FAILED) {
    createHints(ctl, flags);
    return false;
  }
  if (halt && (await ctl.attempt(dom.destroy())) === FAILED) {
    ctl.reportError();
    return false;
  }
  if (job !== undefined) {
    progress.done();
    ctl.stderr('\n');
  }
  const name = snap.getName();
  ctl.extra(from !== undefined ? `Domain snapshot ${name} created from '${from}'` : `Domain snapshot ${name} created`);
  return true;
}

function createHints(ctl: Ctl, flags: number): void {
  const e = ctl.lastError;
  if (!isVirError(e)) return;
  if (e.code === ERR_INVALID_ARG && flags & CREATE_CURRENT && !(flags & CREATE_REDEFINE) && /REDEFINE/.test(e.message)) {
    ctl.hint('add --redefine: --current only applies when redefining snapshot metadata');
  }
}

const snapshotCreate: Handler = async (ctl, cmd) => {
  let flags = 0;
  const bits: [string, number][] = [
    ['redefine', CREATE_REDEFINE],
    ['current', CREATE_CURRENT],
    ['no-metadata', CREATE_NO_METADATA],
    ['halt', CREATE_HALT],
    ['disk-only', CREATE_DISK_ONLY],
    ['reuse-external', CREATE_REUSE_EXT],
    ['quiesce', CREATE_QUIESCE],
    ['atomic', CREATE_ATOMIC],
    ['live', CREATE_LIVE],
    ['validate', CREATE_VALIDATE],
  ];
  for (const [name, bit] of bits) if (cmd.bool(name)) flags |= bit;
  const { dom } = await cmd.domain();
  const from = cmd.string('xmlfile');
  const xml = from === undefined ? '<domainsnapshot/>' : readXMLFile(ctl, from, SNAPSHOT_DOCUMENT);
  if (typeof xml !== 'string') {
    // What libvirt's parser says of the file's bytes, reported as the failed call's error.
    await ctl.attempt(Promise.reject(xml));
    return false;
  }
  return createSnapshot(ctl, cmd, dom, xml, flags, from);
};

/** virshParseSnapshotMemspec. */
function memspecXML(ctl: Ctl, spec: string): string {
  let snapshot: string | undefined;
  let file: string | undefined;
  for (const item of stringToArray(spec)) {
    if (snapshot === undefined && item.startsWith('snapshot=')) snapshot = item.slice(9);
    else if (file === undefined && item.startsWith('file=')) file = item.slice(5);
    else if (file === undefined && item.startsWith('/')) file = item;
    else {
      ctl.error(`unable to parse memspec: ${spec}`);
      throw new CmdFailed();
    }
  }
  return (
    '  <memory' +
    (snapshot !== undefined ? ` snapshot='${escapeXML(snapshot)}'` : '') +
    (file !== undefined ? ` file='${escapeXML(file)}'` : '') +
    '/>\n'
  );
}

/** virshParseSnapshotDiskspec. */
function diskspecXML(ctl: Ctl, spec: string): string {
  const fail = (): never => {
    ctl.error(`unable to parse diskspec: ${spec}`);
    throw new CmdFailed();
  };
  const items = stringToArray(spec);
  const name = items[0];
  let snapshot: string | undefined;
  let driver: string | undefined;
  let stype: string | undefined;
  let file: string | undefined;
  for (const item of items.slice(1)) {
    if (snapshot === undefined && item.startsWith('snapshot=')) snapshot = item.slice(9);
    else if (driver === undefined && item.startsWith('driver=')) driver = item.slice(7);
    else if (stype === undefined && item.startsWith('stype=')) stype = item.slice(6);
    else if (file === undefined && item.startsWith('file=')) file = item.slice(5);
    else fail();
  }
  let out = `    <disk name='${escapeXML(name)}'`;
  if (snapshot !== undefined) out += ` snapshot='${snapshot}'`;
  let isFile = true;
  if (stype !== undefined) {
    if (stype === 'block') isFile = false;
    else if (stype !== 'file') {
      ctl.error(`Unknown storage type: '${stype}'`);
      fail();
    }
    out += ` type='${stype}'`;
  }
  if (driver !== undefined || file !== undefined) {
    out += '>\n';
    if (driver !== undefined) out += `      <driver type='${driver}'/>\n`;
    if (file !== undefined) out += isFile ? `      <source file='${escapeXML(file)}'/>\n` : `      <source dev='${escapeXML(file)}'/>\n`;
    out += '    </disk>\n';
  } else {
    out += '/>\n';
  }
  return out;
}

const snapshotCreateAs: Handler = async (ctl, cmd) => {
  let flags = 0;
  const bits: [string, number][] = [
    ['no-metadata', CREATE_NO_METADATA],
    ['halt', CREATE_HALT],
    ['disk-only', CREATE_DISK_ONLY],
    ['reuse-external', CREATE_REUSE_EXT],
    ['quiesce', CREATE_QUIESCE],
    ['atomic', CREATE_ATOMIC],
    ['live', CREATE_LIVE],
    ['validate', CREATE_VALIDATE],
  ];
  for (const [name, bit] of bits) if (cmd.bool(name)) flags |= bit;
  const { dom } = await cmd.domain();
  const name = cmd.string('name');
  const desc = cmd.string('description');
  let xml = '<domainsnapshot>\n';
  if (name !== undefined) xml += `  <name>${escapeXML(name)}</name>\n`;
  if (desc !== undefined) xml += `  <description>${escapeXML(desc)}</description>\n`;
  const memspec = cmd.string('memspec');
  if (memspec !== undefined) xml += memspecXML(ctl, memspec);
  if (cmd.bool('diskspec')) {
    xml += '  <disks>\n';
    for (const spec of cmd.argv('diskspec')) xml += diskspecXML(ctl, spec);
    xml += '  </disks>\n';
  }
  xml += '</domainsnapshot>\n';
  if (cmd.bool('print-xml')) {
    ctl.print(`${xml}\n`);
    return true;
  }
  return createSnapshot(ctl, cmd, dom, xml, flags, undefined);
};

/** virshLookupSnapshot: {--ARG name | --current} to a snapshot of `dom`. */
async function lookupSnapshot(ctl: Ctl, cmd: Cmd, arg: string, exclusive: boolean, dom: Domain): Promise<DomainSnapshot> {
  const current = cmd.bool('current');
  const snapname = cmd.string(arg);
  if (exclusive && current && snapname !== undefined) {
    ctl.error(`--${arg} and --current are mutually exclusive`);
    throw new CmdFailed();
  }
  let snap: DomainSnapshot | typeof FAILED;
  if (snapname !== undefined) snap = await ctl.attempt(dom.snapshotLookupByName(snapname, 0));
  else if (current) snap = await ctl.attempt(dom.snapshotCurrent(0));
  else {
    ctl.error(`--${arg} or --current is required`);
    throw new CmdFailed();
  }
  if (snap === FAILED) {
    ctl.reportError();
    throw new CmdFailed();
  }
  return snap;
}

/** virshGetSnapshotParent: the parent's name, or null for a root. */
async function parentName(ctl: Ctl, snap: DomainSnapshot): Promise<string | null> {
  const parent = await ctl.attempt(snap.getParent(0));
  if (parent !== FAILED) return parent.getName();
  if (errorCode(ctl) === ERR_NO_DOMAIN_SNAPSHOT) {
    ctl.resetError();
    return null;
  }
  ctl.reportError();
  ctl.error('unable to determine if snapshot has parent');
  throw new CmdFailed();
}

/** The record `--json` prints for one snapshot (docs/cli.md). */
async function snapshotRecord(dom: Domain, snap: DomainSnapshot): Promise<Record<string, unknown>> {
  const facts = snapshotFacts(await snap.getXMLDesc(0));
  return {
    name: snap.getName(),
    domain: dom.name(),
    current: await snap.isCurrent(0),
    state: facts.state,
    location: facts.external ? 'external' : 'internal',
    parent: facts.parent,
    creationTime: facts.creationTime,
    description: facts.description,
    children: await snap.numChildren(0),
    descendants: await snap.numChildren(LIST_DESCENDANTS),
    metadata: await snap.hasMetadata(0),
  };
}

const snapshotCurrent: Handler = async (ctl, cmd) => {
  let flags = cmd.bool('security-info') ? XML_SECURE : 0;
  cmd.exclusive('name', 'snapshotname');
  const { dom, name: domname } = await cmd.domain();
  const snapshotname = cmd.string('snapshotname');
  if (snapshotname !== undefined) {
    flags = CREATE_REDEFINE | CREATE_CURRENT;
    const snap = await dom.snapshotLookupByName(snapshotname, 0);
    const xml = await snap.getXMLDesc(XML_SECURE);
    if (xml.includes('<state>disk-snapshot</state>')) flags |= CREATE_DISK_ONLY;
    await dom.snapshotCreateXML(xml, flags);
    ctl.extra(`Snapshot ${snapshotname} set as current`);
    return true;
  }
  if (!(await dom.hasCurrentSnapshot(0))) {
    ctl.error(`domain '${domname}' has no current snapshot`);
    return false;
  }
  const snap = await dom.snapshotCurrent(0);
  if (cmd.bool('json')) ctl.print(JSON.stringify(await snapshotRecord(dom, snap), null, 2) + '\n');
  else if (cmd.bool('name')) ctl.print(snap.getName());
  else ctl.print(await snap.getXMLDesc(flags));
  return true;
};

const snapshotInfo: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const snap = await lookupSnapshot(ctl, cmd, 'snapshotname', true, dom);
  if (cmd.bool('json')) {
    ctl.print(JSON.stringify(await snapshotRecord(dom, snap), null, 2) + '\n');
    return true;
  }
  const line = (k: string, v: string | number) => ctl.print(`${k.padEnd(15)} ${v}\n`);
  line('Name:', snap.getName());
  line('Domain:', dom.name());
  let current = await ctl.attempt(snap.isCurrent(0));
  if (current === FAILED) {
    ctl.resetError();
    current = false;
  }
  line('Current:', current ? 'yes' : 'no');
  let facts: SnapshotFacts;
  try {
    facts = snapshotFacts(await snap.getXMLDesc(0));
  } catch (err) {
    if (isVirError(err)) throw err;
    ctl.error('unexpected problem reading snapshot xml');
    return false;
  }
  line('State:', facts.state);
  line('Location:', facts.external ? 'external' : 'internal');
  line('Parent:', facts.parent ?? '-');
  const children = await ctl.attempt(snap.numChildren(0));
  if (children === FAILED) {
    if (errorCode(ctl) === ERR_NO_SUPPORT) {
      ctl.resetError();
      return true;
    }
    return false;
  }
  line('Children:', children);
  line('Descendants:', await snap.numChildren(LIST_DESCENDANTS));
  let metadata: boolean | number | typeof FAILED = await ctl.attempt(snap.hasMetadata(0));
  if (metadata === FAILED) {
    metadata = await ctl.attempt(dom.snapshotNum(LIST_METADATA));
    ctl.resetError();
  }
  if (metadata !== FAILED) line('Metadata:', metadata ? 'yes' : 'no');
  return true;
};

const snapshotList: Handler = async (ctl, cmd) => {
  const tree = cmd.bool('tree');
  const name = cmd.bool('name');
  const from = cmd.bool('from');
  const parent = cmd.bool('parent');
  const roots = cmd.bool('roots');
  const current = cmd.bool('current');
  const json = cmd.bool('json');
  cmd.exclusive('tree', 'name');
  cmd.exclusive('parent', 'roots');
  cmd.exclusive('parent', 'tree');
  cmd.exclusive('roots', 'tree');
  cmd.exclusive('roots', 'from');
  cmd.exclusive('roots', 'current');
  cmd.exclusive('json', 'tree');
  cmd.exclusive('json', 'name');

  let flags = 0;
  const filters: [string, number][] = [
    ['leaves', LIST_LEAVES],
    ['no-leaves', LIST_NO_LEAVES],
    ['inactive', LIST_INACTIVE],
    ['active', LIST_ACTIVE],
    ['disk-only', LIST_DISK_ONLY],
    ['internal', LIST_INTERNAL],
    ['external', LIST_EXTERNAL],
  ];
  for (const [option, bit] of filters) {
    if (!cmd.bool(option)) continue;
    if (tree) {
      ctl.error(`--${option} and --tree are mutually exclusive`);
      return false;
    }
    flags |= bit;
  }
  if (cmd.bool('topological')) flags |= LIST_TOPOLOGICAL;
  if (roots) flags |= LIST_ROOTS;
  if (cmd.bool('metadata')) flags |= LIST_METADATA;
  if (cmd.bool('no-metadata')) flags |= LIST_NO_METADATA;
  if (cmd.bool('descendants')) {
    if (!from && !current) {
      ctl.error('--descendants requires either --from or --current');
      return false;
    }
    flags |= LIST_DESCENDANTS;
  }

  const { dom } = await cmd.domain();
  const start = from || current ? await lookupSnapshot(ctl, cmd, 'from', true, dom) : null;

  // virshSnapshotListCollect, with the listing API of libvirt 0.9.13 and later.
  const listed = await ctl.attempt(start !== null ? start.listAllChildren(flags) : dom.listAllSnapshots(flags));
  if (listed === FAILED) return false;
  const snaps: { snap: DomainSnapshot; parent: string | null }[] = listed.map((snap) => ({ snap, parent: null }));
  if (tree) {
    for (const s of snaps) s.parent = await parentName(ctl, s.snap);
    if (start !== null) snaps.push({ snap: start, parent: null });
  }
  if (!(flags & LIST_TOPOLOGICAL)) snaps.sort((a, b) => asciiCaseCompare(a.snap.getName(), b.snap.getName()));

  if (json) {
    const out: Record<string, unknown>[] = [];
    for (const { snap } of snaps) {
      const facts = snapshotFacts(await snap.getXMLDesc(0));
      out.push({
        name: snap.getName(),
        parent: facts.parent,
        current: await snap.isCurrent(0),
        state: facts.state,
        location: facts.external ? 'external' : 'internal',
        creationTime: facts.creationTime,
        description: facts.description,
      });
    }
    ctl.print(JSON.stringify(out, null, 2) + '\n');
    return true;
  }

  if (tree) {
    const entries = snaps.map((s) => ({ name: s.snap.getName(), parent: s.parent }));
    entries.forEach((e, i) => {
      if (e.parent === null) ctl.print(formatTree(entries, i));
    });
    return true;
  }

  const rows: string[][] = [];
  for (const { snap } of snaps) {
    const snapName = snap.getName();
    if (name) {
      ctl.print(`${snapName}\n`);
      continue;
    }
    const xml = await ctl.attempt(snap.getXMLDesc(0));
    if (xml === FAILED) continue;
    let facts: SnapshotFacts;
    try {
      facts = snapshotFacts(xml);
    } catch {
      continue;
    }
    if (facts.state === '' || facts.creationTime === null) continue;
    const row = [snapName, localTime(facts.creationTime), facts.state];
    if (parent) row.push(facts.parent ?? '');
    rows.push(row);
  }
  if (!name) {
    const header = parent ? ['Name', 'Creation Time', 'State', 'Parent'] : ['Name', 'Creation Time', 'State'];
    ctl.print(formatTable(header, rows, !ctl.quiet));
  }
  return true;
};

const snapshotDumpxml: Handler = async (ctl, cmd) => {
  const flags = cmd.bool('security-info') ? XML_SECURE : 0;
  const name = cmd.string('snapshotname')!;
  const { dom } = await cmd.domain();
  const snap = await dom.snapshotLookupByName(name, 0);
  if (cmd.stringQuiet('xpath') !== undefined) {
    ctl.error('--xpath is not supported by tsvirt');
    return false;
  }
  ctl.print(await snap.getXMLDesc(flags));
  return true;
};

const snapshotParent: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const snap = await lookupSnapshot(ctl, cmd, 'snapshotname', true, dom);
  const parent = await parentName(ctl, snap);
  if (parent === null) {
    ctl.error(`snapshot '${snap.getName()}' has no parent`);
    return false;
  }
  ctl.print(parent);
  return true;
};

const snapshotRevert: Handler = async (ctl, cmd) => {
  let flags = 0;
  if (cmd.bool('running')) flags |= DomainSnapshotRevertFlags.RUNNING;
  if (cmd.bool('paused')) flags |= DomainSnapshotRevertFlags.PAUSED;
  if (cmd.bool('reset-nvram')) flags |= DomainSnapshotRevertFlags.RESET_NVRAM;
  const force = cmd.bool('force');
  const { dom } = await cmd.domain();
  const snap = await lookupSnapshot(ctl, cmd, 'snapshotname', true, dom);
  const name = snap.getName();
  let rc = await ctl.attempt(snap.revert(flags));
  if (rc === FAILED && force && errorCode(ctl) === ERR_SNAPSHOT_REVERT_RISKY) {
    flags |= DomainSnapshotRevertFlags.FORCE;
    ctl.resetError();
    rc = await ctl.attempt(snap.revert(flags));
  }
  if (rc === FAILED) {
    ctl.error(`Failed to revert snapshot ${name}`);
    const e = ctl.lastError;
    if (isVirError(e)) {
      if (e.code === ERR_SNAPSHOT_REVERT_RISKY && !force) ctl.hint('add --force to revert anyway');
      else if (e.code === ERR_OPERATION_INVALID && /request run or pause/.test(e.message)) {
        ctl.hint('add --running or --paused: a transient domain cannot be reverted to a shut-off snapshot');
      }
    }
    return false;
  }
  ctl.extra(`Domain snapshot ${name} reverted\n`);
  return true;
};

const snapshotDelete: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const snap = await lookupSnapshot(ctl, cmd, 'snapshotname', true, dom);
  const name = snap.getName();
  let flags = 0;
  if (cmd.bool('children')) flags |= DomainSnapshotDeleteFlags.CHILDREN;
  if (cmd.bool('children-only')) flags |= DomainSnapshotDeleteFlags.CHILDREN_ONLY;
  if (cmd.bool('metadata')) flags |= DomainSnapshotDeleteFlags.METADATA_ONLY;
  if ((await ctl.attempt(snap.delete(flags))) === FAILED) {
    ctl.error(`Failed to delete snapshot ${name}`);
    return false;
  }
  if (flags & 4) ctl.extra(`Domain snapshot ${name} children deleted\n`);
  else ctl.extra(`Domain snapshot ${name} deleted\n`);
  return true;
};

export const handlers: Record<string, Handler> = {
  'snapshot-create': snapshotCreate,
  'snapshot-create-as': snapshotCreateAs,
  'snapshot-current': snapshotCurrent,
  'snapshot-info': snapshotInfo,
  'snapshot-list': snapshotList,
  'snapshot-dumpxml': snapshotDumpxml,
  'snapshot-parent': snapshotParent,
  'snapshot-revert': snapshotRevert,
  'snapshot-delete': snapshotDelete,
};
