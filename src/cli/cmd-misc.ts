/**
 * Metadata, rename, pinning and CPU model commands (virsh-domain.c, virsh-host.c): desc,
 * metadata, domrename, vcpupin, emulatorpin, cpu-models, save, restore, save-image-dumpxml,
 * save-image-define, save-image-edit. Output and messages are virsh's;
 * `--json` (tsvirt) prints the same data as JSON (keys in docs/cli.md).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DomainDefineFlags, DomainMetadataType, DomainSaveRestoreFlags, DomainXMLFlags, DomainVcpuFlags, ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { readXMLFile } from './files.js';
import { jobProgress } from './progress.js';
import { VirError } from '../core/errors.js';
import { CmdFailed, FAILED, type Cmd, type Ctl, type Handler } from './context.js';

const { LIVE, CONFIG, MAXIMUM } = DomainVcpuFlags;

function printJSON(ctl: Ctl, value: unknown): void {
  ctl.print(JSON.stringify(value, null, 2) + '\n');
}

/** --config/--live/--current as virsh reads them (--current excludes the others). */
function affectFlags(cmd: Cmd): number {
  cmd.exclusive('current', 'live');
  cmd.exclusive('current', 'config');
  return (cmd.bool('config') ? CONFIG : 0) | (cmd.bool('live') ? LIVE : 0);
}

/** Whether any of --config/--live/--current was given (virsh's flags == -1 otherwise). */
function anyAffect(cmd: Cmd): boolean {
  return cmd.bool('config') || cmd.bool('live') || cmd.bool('current');
}

/** vshEditString: `text` in $VISUAL/$EDITOR (vi), the edited text back. */
function editText(ctl: Ctl, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-edit-'));
  const file = join(dir, 'edit.xml');
  try {
    writeFileSync(file, text);
    const editor = process.env.VISUAL ?? process.env.EDITOR ?? 'vi';
    const r = spawnSync('/bin/sh', ['-c', `${editor} "$1"`, 'sh', file], { stdio: 'inherit' });
    if (r.status !== 0) {
      ctl.save(VirError.report(ErrorDomain.NONE, ErrorNumber.INTERNAL_ERROR, `Child process (${editor} ${file}) unexpected exit status ${r.status ?? -1}`));
      throw new CmdFailed();
    }
    return readFileSync(file, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- desc, metadata ----

const desc: Handler = async (ctl, cmd) => {
  const { dom, name } = await cmd.domain();
  const flags = affectFlags(cmd);
  const title = cmd.bool('title');
  const type = title ? DomainMetadataType.TITLE : DomainMetadataType.DESCRIPTION;
  const words = cmd.argv('new-desc');
  const current = async (): Promise<string | typeof FAILED> => {
    const got = await ctl.attempt(dom.metadata(type, null, flags));
    if (got !== FAILED) return got;
    if ((ctl.lastError as VirError | null)?.code !== ErrorNumber.NO_DOMAIN_METADATA) return FAILED;
    ctl.resetError();
    return '';
  };
  if (cmd.bool('edit') || words.length > 0) {
    let text = words.join(' ');
    if (words.length === 0) {
      const old = await current();
      if (old === FAILED) return false;
      text = editText(ctl, old).replace(/\n+$/, '');
      if (title) text = text.replace(/\n/g, ' ');
      if (text === old) {
        ctl.extra(`Domain ${title ? 'title' : 'description'} not changed\n`);
        return true;
      }
    }
    if ((await ctl.attempt(dom.setMetadata(type, text, null, null, flags))) === FAILED) {
      ctl.error(`Failed to set new domain ${title ? 'title' : 'description'}`);
      return false;
    }
    ctl.extra(title ? 'Domain title updated successfully' : 'Domain description updated successfully');
    return true;
  }
  const text = await current();
  if (text === FAILED) return false;
  if (cmd.bool('json')) printJSON(ctl, { [title ? 'title' : 'description']: text === '' ? null : text });
  else if (text !== '') ctl.print(text);
  else ctl.extra(`No ${title ? 'title' : 'description'} for domain: ${name}`);
  return true;
};

const metadata: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const flags = affectFlags(cmd);
  const uri = cmd.string('uri') ?? '';
  const key = cmd.string('key');
  const set = cmd.string('set');
  cmd.exclusive('edit', 'set');
  cmd.exclusive('remove', 'set');
  cmd.exclusive('remove', 'edit');
  if (key === undefined && (cmd.bool('edit') || set !== undefined)) {
    ctl.error('namespace key is required when modifying metadata');
    return false;
  }
  if (set !== undefined || cmd.bool('remove')) {
    const value = set === undefined || set === '' ? null : set;
    await dom.setMetadata(DomainMetadataType.ELEMENT, value, key ?? null, uri, flags);
    ctl.extra(cmd.bool('remove') ? 'Metadata removed\n' : 'Metadata modified\n');
    return true;
  }
  if (cmd.bool('edit')) {
    const got = await ctl.attempt(dom.metadata(DomainMetadataType.ELEMENT, uri, flags));
    let old = '';
    if (got !== FAILED) old = got;
    else if ((ctl.lastError as VirError | null)?.code === ErrorNumber.NO_DOMAIN_METADATA) ctl.resetError();
    else return false;
    const edited = editText(ctl, old);
    if (edited.trim() === old.trim()) {
      ctl.extra('Metadata not changed\n');
      return true;
    }
    await dom.setMetadata(DomainMetadataType.ELEMENT, edited.trim() === '' ? null : edited, key ?? null, uri, flags);
    ctl.extra('Metadata modified\n');
    return true;
  }
  const xml = await dom.metadata(DomainMetadataType.ELEMENT, uri, flags);
  if (cmd.bool('json')) printJSON(ctl, { uri, metadata: xml });
  else ctl.print(`${xml}\n`);
  return true;
};

// ---- domrename ----

const domrename: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  await dom.rename(cmd.string('new-name') ?? '', 0);
  ctl.extra('Domain successfully renamed\n');
  return true;
};

// ---- pinning ----

/** virBitmapDataFormat: "0-3,5". */
function ranges(map: readonly boolean[]): string {
  const parts: string[] = [];
  for (let i = 0; i < map.length; i++) {
    if (!map[i]) continue;
    let j = i;
    while (j + 1 < map.length && map[j + 1]) j++;
    parts.push(i === j ? String(i) : `${i}-${j}`);
    i = j;
  }
  return parts.join(',');
}

/** virshParseCPUList: 'r' for every host CPU, else libvirt's cpuset syntax below `maxcpu`. */
function parseCpuList(ctl: Ctl, list: string, maxcpu: number): boolean[] {
  if (list === 'r') return Array.from({ length: maxcpu }, () => true);
  const map = Array.from({ length: maxcpu }, () => false);
  let ok = true;
  for (const raw of list.split(',')) {
    const neg = raw.startsWith('^');
    const m = /^(\d+)(?:-(\d+))?$/.exec(neg ? raw.slice(1) : raw);
    const a = m === null ? NaN : Number(m[1]);
    const b = m === null ? NaN : m[2] === undefined ? a : Number(m[2]);
    if (!(a <= b) || b >= maxcpu) {
      ok = false;
      break;
    }
    for (let c = a; c <= b; c++) map[c] = !neg;
  }
  if (!ok || !map.some((x) => x)) {
    ctl.error(`Invalid cpulist '${list}'`);
    if (!ok) ctl.save(VirError.report(ErrorDomain.NONE, ErrorNumber.INVALID_ARG, `Failed to parse bitmap '${list}'`));
    throw new CmdFailed();
  }
  return map;
}

/** vshTable as virsh prints it: columns three spaces apart, no trailing blanks. */
function table(ctl: Ctl, head: string[], rows: string[][]): void {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) => ` ${cells.map((v, c) => (c === cells.length - 1 ? v : v.padEnd(widths[c] ?? 0))).join('   ')}\n`;
  ctl.print(line(head));
  ctl.print(`${'-'.repeat(widths.reduce((a, b) => a + b, 0) + 3 * (widths.length - 1) + 3)}\n`);
  for (const r of rows) ctl.print(line(r));
}

const vcpupin: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const flags = affectFlags(cmd);
  const vcpu = cmd.int('vcpu');
  const list = cmd.string('cpulist');
  const [maxcpu] = await ctl.c.getCPUMap();
  if (list === undefined) {
    if ((flags & LIVE) !== 0 && !(await dom.isActive())) {
      ctl.error('cannot get vcpupin for offline domain');
      return false;
    }
    const ncpus = await dom.vcpusFlags(flags | MAXIMUM);
    if (vcpu !== undefined && (vcpu < 0 || vcpu >= ncpus)) {
      ctl.error(`vcpu ${vcpu} is out of range of ${(flags & CONFIG) !== 0 || !(await dom.isActive()) ? 'persistent' : 'live'} cpu count ${ncpus}`);
      return false;
    }
    const maps = await dom.vcpuPinInfo(flags, ncpus, maxcpu);
    const rows = maps.map((m, i) => [String(i), ranges(m)] as [string, string]).filter(([i]) => vcpu === undefined || Number(i) === vcpu);
    if (cmd.bool('json')) printJSON(ctl, rows.map(([v, cpus]) => ({ vcpu: Number(v), cpuAffinity: cpus })));
    else table(ctl, ['VCPU', 'CPU Affinity'], rows);
    return true;
  }
  if (vcpu === undefined) {
    ctl.error('vcpupin: Missing vCPU number in pin mode.');
    return false;
  }
  const map = parseCpuList(ctl, list, maxcpu);
  if (anyAffect(cmd)) await dom.pinVcpuFlags(vcpu, map, flags);
  else await dom.pinVcpu(vcpu, map);
  return true;
};

const emulatorpin: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const flags = affectFlags(cmd);
  const list = cmd.string('cpulist');
  const [maxcpu] = await ctl.c.getCPUMap();
  if (list === undefined) {
    const map = await dom.emulatorPinInfo(flags, maxcpu);
    if (cmd.bool('json')) {
      printJSON(ctl, { cpuAffinity: ranges(map) });
      return true;
    }
    ctl.print('emulator: CPU Affinity\n----------------------------------\n');
    ctl.print(`       *: ${ranges(map)}\n`);
    return true;
  }
  await dom.pinEmulator(parseCpuList(ctl, list, maxcpu), flags);
  return true;
};

// ---- guest file systems and addresses ----

const domfsinfo: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const info = await ctl.attempt(dom.fsInfo(0));
  if (info === FAILED) {
    const code = (ctl.lastError as VirError | null)?.code;
    if (code === ErrorNumber.NO_SUPPORT) {
      ctl.resetError();
      ctl.error('Unable to get filesystem information');
    }
    return false;
  }
  if (cmd.bool('json')) {
    printJSON(ctl, info);
    return true;
  }
  if (info.length === 0) return true;
  table(ctl, ['Mountpoint', 'Name', 'Type', 'Target'], info.map((f) => [f.mountpoint, f.name, f.fstype, f.devAliases.join(',')]));
  return true;
};

/** VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_* by virsh's --source word. */
const ADDRESS_SOURCES: Record<string, number> = { lease: 0, agent: 1, arp: 2 };

const domifaddr: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const only = cmd.string('interface');
  const sourceWord = cmd.string('source');
  let source = 0;
  if (sourceWord !== undefined) {
    const s = ADDRESS_SOURCES[sourceWord];
    if (s === undefined) {
      ctl.error(`Unknown data source '${sourceWord}'`);
      return false;
    }
    source = s;
  }
  const ifaces = (await dom.interfaceAddresses(source, 0)).filter((i) => only === undefined || i.name === only);
  if (cmd.bool('json')) {
    printJSON(ctl, ifaces);
    return true;
  }
  ctl.extra(` ${'Name'.padEnd(10)} ${'MAC address'.padEnd(20)} ${'Protocol'.padEnd(8)}     Address\n${'-'.repeat(79)}\n`);
  const full = cmd.bool('full');
  for (const i of ifaces) {
    const hw = i.hwaddr ?? 'N/A';
    if (i.addrs.length === 0) ctl.print(` ${i.name.padEnd(10)} ${hw.padEnd(17)}    ${'N/A'.padEnd(12)} N/A\n`);
    i.addrs.forEach((a, j) => {
      const first = j === 0 || full;
      const proto = a.type === 0 ? 'ipv4' : a.type === 1 ? 'ipv6' : 'N/A';
      ctl.print(` ${(first ? i.name : '-').padEnd(10)} ${(first ? hw : '-').padEnd(17)}    ${proto.padEnd(12)} ${a.addr}/${a.prefix}\n`);
    });
  }
  return true;
};

// ---- save files ----

function saveRestoreFlags(cmd: Cmd): number {
  let flags = 0;
  if (cmd.bool('bypass-cache')) flags |= DomainSaveRestoreFlags.BYPASS_CACHE;
  if (cmd.bool('running')) flags |= DomainSaveRestoreFlags.RUNNING;
  if (cmd.bool('paused')) flags |= DomainSaveRestoreFlags.PAUSED;
  return flags;
}

/** --xml FILE: its text, or (a file that is not UTF-8 XML) the error to fail the call with. */
function xmlOption(ctl: Ctl, cmd: Cmd, name: string): string | VirError | null {
  const file = cmd.string(name);
  return file === undefined ? null : readXMLFile(ctl, file);
}

const save: Handler = async (ctl, cmd) => {
  const { dom, name } = await cmd.domain();
  const to = cmd.string('file') ?? '';
  const dxml = xmlOption(ctl, cmd, 'xml');
  const flags = saveRestoreFlags(cmd);
  const progress = jobProgress(ctl, 'Save', cmd.bool('verbose'));
  const options = progress.onProgress !== undefined ? { onProgress: progress.onProgress } : undefined;
  const rc = await ctl.attempt(async () => {
    if (dxml instanceof VirError) throw dxml;
    // virsh calls virDomainSave unless it has flags or XML to pass.
    if (flags === 0 && dxml === null) await dom.save(to, options);
    else await dom.saveFlags(to, dxml, flags, options);
  });
  if (rc === FAILED) {
    ctl.error(`Failed to save domain '${name}' to ${to}`);
    return false;
  }
  progress.done();
  ctl.extra(`\nDomain '${name}' saved to ${to}\n`);
  return true;
};

const restore: Handler = async (ctl, cmd) => {
  const from = cmd.string('file') ?? '';
  if (cmd.bool('reset-nvram')) {
    ctl.error('--reset-nvram is not supported by tsvirt');
    return false;
  }
  const dxml = xmlOption(ctl, cmd, 'xml');
  const flags = saveRestoreFlags(cmd);
  const rc = await ctl.attempt(async () => {
    if (dxml instanceof VirError) throw dxml;
    if (flags === 0 && dxml === null) await ctl.c.restore(from);
    else await ctl.c.restoreFlags(from, dxml, flags);
  });
  if (rc === FAILED) {
    ctl.error(`Failed to restore domain from ${from}`);
    return false;
  }
  ctl.extra(`Domain restored from ${from}\n`);
  return true;
};

const saveImageDumpxml: Handler = async (ctl, cmd) => {
  const file = cmd.string('file') ?? '';
  if (cmd.stringQuiet('xpath') !== undefined) {
    ctl.error('--xpath is not supported by tsvirt');
    return false;
  }
  ctl.print(await ctl.c.saveImageGetXMLDesc(file, cmd.bool('security-info') ? 1 : 0));
  return true;
};

const saveImageDefine: Handler = async (ctl, cmd) => {
  const file = cmd.string('file') ?? '';
  const dxml = readXMLFile(ctl, cmd.string('xml') ?? '');
  const flags = saveRestoreFlags(cmd);
  const rc = await ctl.attempt(async () => {
    if (dxml instanceof VirError) throw dxml;
    await ctl.c.saveImageDefineXML(file, dxml, flags);
  });
  if (rc === FAILED) {
    ctl.error(`Failed to update ${file}`);
    return false;
  }
  ctl.extra(`State file ${file} updated.\n`);
  return true;
};

/**
 * virsh edit: the persistent definition (INACTIVE | SECURE) in the editor, then defined again,
 * validated against the schema unless --skip-validate. virsh asks "Try again?" only on a
 * terminal; tsvirt reports the error as virsh does without one.
 */
const edit: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const old = await dom.XMLDesc(DomainXMLFlags.INACTIVE | DomainXMLFlags.SECURE);
  const edited = editText(ctl, old);
  if (edited === old) {
    ctl.extra(`Domain '${dom.name()}' XML configuration not changed.\n`);
    return true;
  }
  const saved = await ctl.c.defineXMLFlags(edited, cmd.bool('skip-validate') ? 0 : DomainDefineFlags.VALIDATE);
  ctl.extra(`Domain '${saved.name()}' XML configuration edited.\n`);
  return true;
};

const saveImageEdit: Handler = async (ctl, cmd) => {
  const file = cmd.string('file') ?? '';
  const flags = saveRestoreFlags(cmd);
  const old = await ctl.c.saveImageGetXMLDesc(file, 1);
  const edited = editText(ctl, old);
  if (edited === old) {
    ctl.extra(`Saved image ${file} XML configuration not changed.\n`);
    return true;
  }
  await ctl.c.saveImageDefineXML(file, edited, flags);
  ctl.extra(`State file ${file} edited.\n`);
  return true;
};

// ---- cpu-models ----

const cpuModels: Handler = async (ctl, cmd) => {
  const arch = cmd.string('arch') ?? '';
  const models = await ctl.attempt(ctl.c.getCPUModelNames(arch, 0));
  if (models === FAILED) {
    ctl.error('failed to get CPU model names');
    return false;
  }
  if (cmd.bool('json')) printJSON(ctl, models);
  else if (models.length === 0) ctl.extra('all CPU models are accepted\n');
  else for (const m of models) ctl.print(`${m}\n`);
  return true;
};

export const handlers: Record<string, Handler> = {
  desc,
  metadata,
  domrename,
  vcpupin,
  emulatorpin,
  'cpu-models': cpuModels,
  domfsinfo,
  domifaddr,
  save,
  restore,
  'save-image-dumpxml': saveImageDumpxml,
  'save-image-define': saveImageDefine,
  'save-image-edit': saveImageEdit,
  edit,
};
