/**
 * Domain monitoring commands (virsh-domain-monitor.c): list, dominfo, domstate, each also with
 * tsvirt's `--json` (keys documented in docs/cli.md).
 */
import type { Domain } from '../index.js';
import { ConnectListAllDomainsFlags, DomainState } from '../core/enums.generated.js';
import { FAILED, type Ctl, type Handler } from './context.js';
import { formatTable } from './text.js';

/** virsh's words for virDomainState. */
const STATES = ['no state', 'running', 'idle', 'paused', 'in shutdown', 'shut off', 'crashed', 'pmsuspended'];

/** virsh's words for each state's reasons. */
const REASONS: readonly (readonly string[])[] = [
  ['unknown'],
  [
    'unknown',
    'booted',
    'migrated',
    'restored',
    'from snapshot',
    'unpaused',
    'migration canceled',
    'save canceled',
    'event wakeup',
    'crashed',
    'post-copy',
    'post-copy failed',
  ],
  ['unknown'],
  [
    'unknown',
    'user',
    'migrating',
    'saving',
    'dumping',
    'I/O error',
    'watchdog',
    'from snapshot',
    'shutting down',
    'creating snapshot',
    'crashed',
    'starting up',
    'post-copy',
    'post-copy failed',
  ],
  ['unknown', 'user'],
  ['unknown', 'shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from snapshot', 'daemon'],
  ['unknown', 'panicked'],
  ['unknown'],
];

/** virshDomainStateToString. */
export function stateString(state: number): string {
  return STATES[state] ?? 'no state';
}

/** virshDomainStateReasonToString. */
export function reasonString(state: number, reason: number): string {
  return REASONS[state]?.[reason] ?? 'unknown';
}

const {
  ACTIVE, INACTIVE, PERSISTENT, TRANSIENT, RUNNING, PAUSED, SHUTOFF, OTHER, MANAGEDSAVE, NO_MANAGEDSAVE,
  AUTOSTART, NO_AUTOSTART, HAS_SNAPSHOT, NO_SNAPSHOT, HAS_CHECKPOINT, NO_CHECKPOINT,
} = ConnectListAllDomainsFlags;
const SHUTOFF_STATE = DomainState.SHUTOFF;

/** g_ascii_strcasecmp. */
function asciiCaseCompare(a: string, b: string): number {
  const la = a.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const lb = b.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return la < lb ? -1 : la > lb ? 1 : 0;
}

/** virshDomainSorter: running domains by ID, then the others by name. */
function sortDomains(doms: Domain[]): Domain[] {
  return doms.sort((a, b) => {
    const ia = a.ID();
    const ib = b.ID();
    if (ia < 0 && ib < 0) return asciiCaseCompare(a.name(), b.name());
    if (ia >= 0 && ib >= 0) return ia - ib;
    return ia >= 0 ? -1 : 1;
  });
}

/** The `<title>` of a domain (virsh falls back to the XML when there is no metadata API). */
async function domainTitle(dom: Domain): Promise<string> {
  return xmlText(await dom.XMLDesc(0), ['domain', 'title']);
}

/** The text at `path` in `xml`; the XML reader is loaded only by the commands that need it. */
async function xmlText(xml: string, path: string[]): Promise<string> {
  const { parseXML, text } = await import('./xml.js');
  return text(parseXML(xml), path);
}

const list: Handler = async (ctl, cmd) => {
  const managed = cmd.bool('managed-save');
  const optTitle = cmd.bool('title');
  let optTable = cmd.bool('table');
  const optUUID = cmd.bool('uuid');
  const optName = cmd.bool('name');
  const optID = cmd.bool('id');
  const json = cmd.bool('json');

  let flags: number = ACTIVE;
  if (cmd.bool('inactive') || cmd.bool('state-shutoff')) flags = INACTIVE;
  if (cmd.bool('all')) flags = INACTIVE | ACTIVE;
  const filters: [string, number][] = [
    ['persistent', PERSISTENT],
    ['transient', TRANSIENT],
    ['with-managed-save', MANAGEDSAVE],
    ['without-managed-save', NO_MANAGEDSAVE],
    ['autostart', AUTOSTART],
    ['no-autostart', NO_AUTOSTART],
    ['with-snapshot', HAS_SNAPSHOT],
    ['without-snapshot', NO_SNAPSHOT],
    ['with-checkpoint', HAS_CHECKPOINT],
    ['without-checkpoint', NO_CHECKPOINT],
    ['state-running', RUNNING],
    ['state-paused', PAUSED],
    ['state-shutoff', SHUTOFF],
    ['state-other', OTHER],
  ];
  for (const [name, flag] of filters) if (cmd.bool(name)) flags |= flag;

  cmd.exclusive('table', 'name');
  cmd.exclusive('table', 'uuid');
  cmd.exclusive('table', 'id');
  if (json) {
    cmd.exclusive('json', 'table');
    cmd.exclusive('json', 'name');
    cmd.exclusive('json', 'uuid');
    cmd.exclusive('json', 'id');
  }
  if (!optUUID && !optName && !optID) optTable = true;

  const listed = await ctl.attempt(ctl.c.listAllDomains(flags));
  if (listed === FAILED) {
    ctl.error('Failed to list domains');
    return false;
  }
  const doms = sortDomains(listed);

  if (json) return listJSON(ctl, doms, optTitle);

  const rows: string[][] = [];
  for (const dom of doms) {
    const id = dom.ID();
    const idText = id >= 0 ? String(id) : '-';
    if (optTable) {
      const st = await ctl.attempt(dom.state());
      if (st === FAILED) {
        // The domain may have gone in the meantime.
        ctl.resetError();
        continue;
      }
      let stateText = stateString(st[0]);
      if (managed && st[0] === SHUTOFF_STATE && (await ctl.attempt(dom.hasManagedSaveImage())) === true) stateText = 'saved';
      const row = [idText, dom.name(), stateText];
      if (optTitle) row.push(await domainTitle(dom));
      rows.push(row);
    } else {
      let line = '';
      let sep = '';
      if (optUUID) {
        line += dom.UUIDString();
        sep = ' ';
      }
      if (optID) {
        if (id < 0 && !optUUID && !optName) continue;
        line += sep + idText;
        sep = ' ';
      }
      if (optName) line += sep + dom.name();
      ctl.print(line + '\n');
    }
  }
  if (optTable) {
    const header = optTitle ? ['Id', 'Name', 'State', 'Title'] : ['Id', 'Name', 'State'];
    ctl.print(formatTable(header, rows, !ctl.quiet));
  }
  return true;
};

async function listJSON(ctl: Ctl, doms: Domain[], withTitle: boolean): Promise<boolean> {
  const out: Record<string, unknown>[] = [];
  for (const dom of doms) {
    const st = await ctl.attempt(dom.state());
    if (st === FAILED) {
      ctl.resetError();
      continue;
    }
    const entry: Record<string, unknown> = {
      id: dom.ID() >= 0 ? dom.ID() : null,
      name: dom.name(),
      uuid: dom.UUIDString(),
      state: stateString(st[0]),
      reason: reasonString(st[0], st[1]),
      persistent: await dom.isPersistent(),
      managedSave: await dom.hasManagedSaveImage(),
      snapshots: await dom.snapshotNum(0),
    };
    if (withTitle) entry.title = await domainTitle(dom);
    out.push(entry);
  }
  ctl.print(JSON.stringify(out, null, 2) + '\n');
  return true;
}

const dominfo: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const json = cmd.bool('json');
  const fields: [string, string][] = [];
  const record: Record<string, unknown> = {};
  let ok = true;

  const id = dom.ID();
  fields.push(['Id:', id >= 0 ? String(id) : '-']);
  record.id = id >= 0 ? id : null;
  fields.push(['Name:', dom.name()]);
  record.name = dom.name();
  fields.push(['UUID:', dom.UUIDString()]);
  record.uuid = dom.UUIDString();

  const xml = await ctl.attempt(dom.XMLDesc(0));
  if (typeof xml === 'string') {
    const osType = await xmlText(xml, ['domain', 'os', 'type']);
    fields.push(['OS Type:', osType]);
    record.osType = osType;
  } else {
    ctl.resetError();
  }

  const info = await ctl.attempt(dom.getInfo());
  if (info !== FAILED) {
    fields.push(['State:', stateString(info.state)]);
    record.state = stateString(info.state);
    fields.push(['CPU(s):', String(info.nrVirtCpu)]);
    record.cpus = info.nrVirtCpu;
    if (info.cpuTime !== 0) fields.push(['CPU time:', `${(info.cpuTime / 1e9).toFixed(1)}s`]);
    record.cpuTime = info.cpuTime;
    fields.push(['Max memory:', info.maxMem === 0xffffffff ? 'no limit' : `${info.maxMem} KiB`]);
    record.maxMemory = info.maxMem;
    fields.push(['Used memory:', `${info.memory} KiB`]);
    record.usedMemory = info.memory;
  } else {
    ok = false;
  }

  const persistent = await ctl.attempt(dom.isPersistent());
  fields.push(['Persistent:', persistent === FAILED ? 'unknown' : persistent ? 'yes' : 'no']);
  record.persistent = persistent === FAILED ? null : persistent;
  const autostart = await ctl.attempt(dom.autostart());
  if (autostart !== FAILED) {
    fields.push(['Autostart:', autostart ? 'enable' : 'disable']);
    record.autostart = autostart;
  }
  const managed = await ctl.attempt(dom.hasManagedSaveImage());
  fields.push(['Managed save:', managed === FAILED ? 'unknown' : managed ? 'yes' : 'no']);
  record.managedSave = managed === FAILED ? null : managed;
  // virsh: the security model and DOI only when the host has one, then the process label if any.
  const secmodel = await ctl.attempt(ctl.c.getSecurityModel());
  if (secmodel !== FAILED && secmodel.model !== '') {
    fields.push(['Security model:', secmodel.model], ['Security DOI:', secmodel.doi]);
    record.securityModel = secmodel.model;
    record.securityDOI = secmodel.doi;
    const seclabel = await ctl.attempt(dom.securityLabel());
    if (seclabel === FAILED) ok = false;
    else if (seclabel.label !== '') fields.push(['Security label:', `${seclabel.label} (${seclabel.enforcing ? 'enforcing' : 'permissive'})`]);
  }
  if (ok) ctl.resetError();

  if (json) {
    const snapshots = await ctl.attempt(dom.snapshotNum(0));
    record.snapshots = snapshots === FAILED ? null : snapshots;
    const current = await ctl.attempt(dom.hasCurrentSnapshot());
    record.currentSnapshot = current === true ? (await dom.snapshotCurrent()).getName() : null;
    if (ok) ctl.resetError();
    ctl.print(JSON.stringify(record, null, 2) + '\n');
  } else {
    ctl.print(fields.map(([k, v]) => `${k.padEnd(15)} ${v}\n`).join(''));
  }
  return ok;
};

const domstate: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const [state, reason] = await dom.state();
  if (cmd.bool('json')) {
    ctl.print(
      JSON.stringify(
        { state: stateString(state), stateCode: state, reason: reasonString(state, reason), reasonCode: reason },
        null,
        2,
      ) + '\n',
    );
  } else if (cmd.bool('reason')) {
    ctl.print(`${stateString(state)} (${reasonString(state, reason)})\n`);
  } else {
    ctl.print(`${stateString(state)}\n`);
  }
  return true;
};

export const handlers: Record<string, Handler> = { list, dominfo, domstate };
