/**
 * Checkpoint commands (virsh-checkpoint.c): checkpoint-create, checkpoint-create-as,
 * checkpoint-delete, checkpoint-dumpxml, checkpoint-info, checkpoint-list, checkpoint-parent.
 * As virsh, the parent and creation time are read from each checkpoint's XML, through the public
 * API only.
 */
import type { Domain, DomainCheckpoint } from '../index.js';
import {
  DomainCheckpointCreateFlags,
  DomainCheckpointDeleteFlags,
  DomainCheckpointListFlags,
  DomainCheckpointXMLFlags,
  ErrorNumber,
} from '../core/enums.generated.js';
import { CHECKPOINT_DOCUMENT } from '../conf/checkpoint.js';
import { CmdFailed, FAILED, isVirError, type Cmd, type Ctl, type Handler } from './context.js';
import { readXMLFile } from './files.js';
import { localTime } from './cmd-snapshot.js';
import { escapeXML, formatTable, formatTree, stringToArray } from './text.js';
import { find, parseXML, text } from './xml.js';

const { REDEFINE, REDEFINE_VALIDATE, QUIESCE } = DomainCheckpointCreateFlags;
const { ROOTS, DESCENDANTS, TOPOLOGICAL, LEAVES, NO_LEAVES } = DomainCheckpointListFlags;

/** What virsh reads from a checkpoint's XML. */
interface CheckpointFacts {
  parent: string | null;
  creationTime: number | null;
}

function checkpointFacts(xml: string): CheckpointFacts {
  const cp = find(parseXML(xml), ['domaincheckpoint']);
  const parent = find(cp, ['parent', 'name']) !== undefined ? text(cp, ['parent', 'name']) : null;
  const ct = text(cp, ['creationTime']).trim();
  return { parent, creationTime: /^-?[0-9]+$/.test(ct) ? Number(ct) : null };
}

/** g_ascii_strcasecmp, as virsh sorts names. */
function asciiCaseCompare(a: string, b: string): number {
  const la = a.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const lb = b.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return la < lb ? -1 : la > lb ? 1 : 0;
}

async function createCheckpoint(ctl: Ctl, dom: Domain, xml: string, flags: number, from: string | undefined): Promise<boolean> {
  const cp = await ctl.attempt(dom.checkpointCreateXML(xml, flags));
  if (cp === FAILED) return false;
  const name = cp.getName();
  ctl.extra(from !== undefined ? `Domain checkpoint ${name} created from '${from}'` : `Domain checkpoint ${name} created`);
  return true;
}

function requireFor(ctl: Ctl, cmd: Cmd, option: string, needs: string): void {
  if (cmd.bool(option) && !cmd.bool(needs)) {
    ctl.error(`Option --${needs} is required by option --${option}`);
    throw new CmdFailed();
  }
}

const checkpointCreate: Handler = async (ctl, cmd) => {
  requireFor(ctl, cmd, 'redefine-validate', 'redefine');
  let flags = 0;
  if (cmd.bool('redefine')) flags |= REDEFINE;
  if (cmd.bool('redefine-validate')) flags |= REDEFINE_VALIDATE;
  if (cmd.bool('quiesce')) flags |= QUIESCE;
  const { dom } = await cmd.domain();
  const from = cmd.string('xmlfile');
  const xml = from === undefined ? '<domaincheckpoint/>' : readXMLFile(ctl, from, CHECKPOINT_DOCUMENT);
  if (typeof xml !== 'string') {
    await ctl.attempt(Promise.reject(xml));
    return false;
  }
  return createCheckpoint(ctl, dom, xml, flags, from);
};

/** virshParseCheckpointDiskspec: disk[,checkpoint=type][,bitmap=name]. */
function diskspecXML(ctl: Ctl, spec: string): string {
  const items = stringToArray(spec);
  const name = items[0] ?? '';
  let checkpoint: string | undefined;
  let bitmap: string | undefined;
  for (const item of items.slice(1)) {
    if (checkpoint === undefined && item.startsWith('checkpoint=')) checkpoint = item.slice(11);
    else if (bitmap === undefined && item.startsWith('bitmap=')) bitmap = item.slice(7);
    else {
      ctl.error(`unable to parse diskspec: ${spec}`);
      throw new CmdFailed();
    }
  }
  let out = `    <disk name='${escapeXML(name)}'`;
  if (checkpoint !== undefined) out += ` checkpoint='${escapeXML(checkpoint)}'`;
  if (bitmap !== undefined) out += ` bitmap='${escapeXML(bitmap)}'`;
  return `${out}/>\n`;
}

const checkpointCreateAs: Handler = async (ctl, cmd) => {
  const flags = cmd.bool('quiesce') ? QUIESCE : 0;
  const { dom } = await cmd.domain();
  const name = cmd.string('name');
  const desc = cmd.string('description');
  let xml = '<domaincheckpoint>\n';
  if (name !== undefined) xml += `  <name>${escapeXML(name)}</name>\n`;
  if (desc !== undefined) xml += `  <description>${escapeXML(desc)}</description>\n`;
  if (cmd.bool('diskspec')) {
    xml += '  <disks>\n';
    for (const spec of cmd.argv('diskspec')) xml += diskspecXML(ctl, spec);
    xml += '  </disks>\n';
  }
  xml += '</domaincheckpoint>\n';
  if (cmd.bool('print-xml')) {
    ctl.print(`${xml}\n`);
    return true;
  }
  return createCheckpoint(ctl, dom, xml, flags, undefined);
};

/** virshLookupCheckpoint: --ARG name to a checkpoint of `dom`. */
async function lookupCheckpoint(ctl: Ctl, cmd: Cmd, arg: string, dom: Domain): Promise<DomainCheckpoint> {
  const name = cmd.string(arg);
  if (name === undefined) {
    ctl.error(`--${arg} is required`);
    throw new CmdFailed();
  }
  const cp = await ctl.attempt(dom.checkpointLookupByName(name, 0));
  if (cp === FAILED) {
    ctl.reportError();
    throw new CmdFailed();
  }
  return cp;
}

/** virshGetCheckpointParent: the parent's name, or null for a root. */
async function parentName(ctl: Ctl, cp: DomainCheckpoint): Promise<string | null> {
  const parent = await ctl.attempt(cp.getParent(0));
  if (parent !== FAILED) return parent.getName();
  const e = ctl.lastError;
  if (isVirError(e) && e.code === ErrorNumber.NO_DOMAIN_CHECKPOINT) {
    ctl.resetError();
    return null;
  }
  ctl.reportError();
  ctl.error('unable to determine if checkpoint has parent');
  throw new CmdFailed();
}

const checkpointDelete: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const cp = await lookupCheckpoint(ctl, cmd, 'checkpointname', dom);
  const name = cp.getName();
  let flags = 0;
  if (cmd.bool('children')) flags |= DomainCheckpointDeleteFlags.CHILDREN;
  if (cmd.bool('children-only')) flags |= DomainCheckpointDeleteFlags.CHILDREN_ONLY;
  if (cmd.bool('metadata')) flags |= DomainCheckpointDeleteFlags.METADATA_ONLY;
  if ((await ctl.attempt(cp.delete(flags))) === FAILED) {
    ctl.error(`Failed to delete checkpoint ${name}`);
    return false;
  }
  if (flags & DomainCheckpointDeleteFlags.CHILDREN_ONLY) ctl.extra(`Domain checkpoint ${name} children deleted\n`);
  else ctl.extra(`Domain checkpoint ${name} deleted\n`);
  return true;
};

const checkpointDumpxml: Handler = async (ctl, cmd) => {
  let flags = 0;
  if (cmd.bool('security-info')) flags |= DomainCheckpointXMLFlags.SECURE;
  if (cmd.bool('no-domain')) flags |= DomainCheckpointXMLFlags.NO_DOMAIN;
  if (cmd.bool('size')) flags |= DomainCheckpointXMLFlags.SIZE;
  const { dom } = await cmd.domain();
  const cp = await lookupCheckpoint(ctl, cmd, 'checkpointname', dom);
  if (cmd.stringQuiet('xpath') !== undefined) {
    ctl.error('--xpath is not supported by tsvirt');
    return false;
  }
  ctl.print(await cp.getXMLDesc(flags));
  return true;
};

const checkpointInfo: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const cp = await lookupCheckpoint(ctl, cmd, 'checkpointname', dom);
  const line = (k: string, v: string | number) => ctl.print(`${k.padEnd(15)} ${v}\n`);
  line('Name:', cp.getName());
  line('Domain:', dom.name());
  line('Parent:', (await parentName(ctl, cp)) ?? '-');
  const children = await ctl.attempt(cp.listAllChildren(0));
  if (children === FAILED) {
    const e = ctl.lastError;
    if (isVirError(e) && e.code === ErrorNumber.NO_SUPPORT) {
      ctl.resetError();
      return true;
    }
    return false;
  }
  line('Children:', children.length);
  line('Descendants:', (await cp.listAllChildren(DESCENDANTS)).length);
  return true;
};

const checkpointList: Handler = async (ctl, cmd) => {
  const tree = cmd.bool('tree');
  const name = cmd.bool('name');
  const from = cmd.bool('from');
  const parent = cmd.bool('parent');
  const roots = cmd.bool('roots');
  cmd.exclusive('tree', 'name');
  cmd.exclusive('parent', 'roots');
  cmd.exclusive('parent', 'tree');
  cmd.exclusive('roots', 'tree');
  cmd.exclusive('roots', 'from');

  let flags = 0;
  for (const [option, bit] of [
    ['leaves', LEAVES],
    ['no-leaves', NO_LEAVES],
  ] as const) {
    if (!cmd.bool(option)) continue;
    if (tree) {
      ctl.error(`--${option} and --tree are mutually exclusive`);
      return false;
    }
    flags |= bit;
  }
  if (cmd.bool('topological')) flags |= TOPOLOGICAL;
  if (roots) flags |= ROOTS;
  if (cmd.bool('descendants')) {
    if (!from) {
      ctl.error('--descendants requires --from');
      return false;
    }
    flags |= DESCENDANTS;
  }

  const { dom } = await cmd.domain();
  const start = from ? await lookupCheckpoint(ctl, cmd, 'from', dom) : null;
  const listed = await ctl.attempt(start !== null ? start.listAllChildren(flags) : dom.listAllCheckpoints(flags));
  if (listed === FAILED) return false;
  const cps: { cp: DomainCheckpoint; parent: string | null }[] = listed.map((cp) => ({ cp, parent: null }));
  if (tree) {
    for (const c of cps) c.parent = await parentName(ctl, c.cp);
    if (start !== null) cps.push({ cp: start, parent: null });
  }
  if (!(flags & TOPOLOGICAL)) cps.sort((a, b) => asciiCaseCompare(a.cp.getName(), b.cp.getName()));

  if (tree) {
    const entries = cps.map((c) => ({ name: c.cp.getName(), parent: c.parent }));
    entries.forEach((e, i) => {
      if (e.parent === null) ctl.print(formatTree(entries, i));
    });
    return true;
  }
  const rows: string[][] = [];
  for (const { cp } of cps) {
    const cpName = cp.getName();
    if (name) {
      ctl.print(`${cpName}\n`);
      continue;
    }
    const xml = await ctl.attempt(cp.getXMLDesc(DomainCheckpointXMLFlags.NO_DOMAIN));
    if (xml === FAILED) continue;
    const facts = checkpointFacts(xml);
    if (facts.creationTime === null) continue;
    const row = [cpName, localTime(facts.creationTime)];
    if (parent) row.push(facts.parent ?? '');
    rows.push(row);
  }
  if (!name) {
    const header = parent ? ['Name', 'Creation Time', 'Parent'] : ['Name', 'Creation Time'];
    ctl.print(formatTable(header, rows, !ctl.quiet));
  }
  return true;
};

const checkpointParent: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const cp = await lookupCheckpoint(ctl, cmd, 'checkpointname', dom);
  const parent = await parentName(ctl, cp);
  if (parent === null) {
    ctl.error(`checkpoint '${cp.getName()}' has no parent`);
    return false;
  }
  ctl.print(parent);
  return true;
};

export const handlers: Record<string, Handler> = {
  'checkpoint-create': checkpointCreate,
  'checkpoint-create-as': checkpointCreateAs,
  'checkpoint-delete': checkpointDelete,
  'checkpoint-dumpxml': checkpointDumpxml,
  'checkpoint-info': checkpointInfo,
  'checkpoint-list': checkpointList,
  'checkpoint-parent': checkpointParent,
};
