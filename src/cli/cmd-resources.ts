/**
 * vCPU, memory and host-figure commands (virsh-domain.c, virsh-domain-monitor.c, virsh-host.c):
 * maxvcpus, vcpucount, setvcpus, vcpuinfo, setmem, setmaxmem, dommemstat, freecell,
 * nodecpustats, nodememstats, domcontrol, domhostname, domtime, reset. Output and messages are
 * virsh's; `--json` (tsvirt) prints the same data as JSON (keys in docs/cli.md).
 */
import { DomainBlockResizeFlags, DomainControlState, DomainMemoryModFlags, DomainState, DomainVcpuFlags, ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { VirError } from '../core/errors.js';
import type { Domain, TypedParameter } from '../index.js';
import { CmdFailed, FAILED, type Cmd, type Ctl, type Handler } from './context.js';

const { LIVE, CONFIG, MAXIMUM, GUEST, HOTPLUGGABLE } = DomainVcpuFlags;

function printJSON(ctl: Ctl, value: unknown): void {
  ctl.print(JSON.stringify(value, null, 2) + '\n');
}

/** C's "%5.1lf": glibc prints an undefined ratio (0/0) as "-nan". */
function fixed1(v: number, width: number): string {
  return (Number.isNaN(v) ? '-nan' : v.toFixed(1)).padStart(width);
}

/** The modification-impact flags of --config/--live/--current (mutually exclusive with --current). */
function affectFlags(cmd: Cmd): number {
  cmd.exclusive('current', 'live');
  cmd.exclusive('current', 'config');
  return (cmd.bool('config') ? CONFIG : 0) | (cmd.bool('live') ? LIVE : 0);
}

/**
 * virshCommandOptScaledInt with a default scale of KiB: a number with an optional unit suffix
 * (b, k/KiB, KB, M/MiB, MB, G, GiB, GB, T, …), in bytes.
 */
function scaledBytes(ctl: Ctl, cmd: Cmd, name: string): number {
  const raw = cmd.string(name) ?? '';
  const m = /^\s*\+?(\d+)\s*([a-zA-Z]*)$/.exec(raw);
  const units: Record<string, number> = { b: 1, byte: 1, bytes: 1, '': 1024 };
  const powers = ['k', 'm', 'g', 't', 'p', 'e'];
  let scale: number | undefined;
  if (m !== null) {
    const suffix = m[2]!;
    const lower = suffix.toLowerCase();
    if (lower in units) scale = units[lower];
    else {
      const p = powers.indexOf(lower[0] ?? '');
      if (p >= 0 && (lower.length === 1 || lower.slice(1) === 'ib')) scale = 1024 ** (p + 1);
      else if (p >= 0 && lower.slice(1) === 'b') scale = 1000 ** (p + 1);
    }
  }
  const bytes = m === null || scale === undefined ? NaN : Number(m[1]) * scale;
  if (!Number.isSafeInteger(bytes)) {
    ctl.error(`Scaled numeric value '${raw}' for <${name}> option is malformed or out of range`);
    throw new CmdFailed();
  }
  return bytes;
}

// ---- disks ----

const blockresize: Handler = async (ctl, cmd) => {
  const path = cmd.string('path') ?? '';
  let size = scaledBytes(ctl, cmd, 'size');
  // As virsh: KiB (the older interface) when the size allows it, else bytes.
  let flags = 0;
  if (size % 1024 === 0) size /= 1024;
  else flags |= DomainBlockResizeFlags.BYTES;
  const { dom } = await cmd.domain();
  if ((await ctl.attempt(dom.blockResize(path, size, flags))) === FAILED) {
    ctl.error(`Failed to resize block device '${path}'`);
    return false;
  }
  // virsh's message has no newline of its own: only the one after every command.
  ctl.extra(`Block device '${path}' is resized`);
  return true;
};

// ---- vCPUs ----

const maxvcpus: Handler = async (ctl, cmd) => {
  const type = cmd.string('type') ?? null;
  const n = await ctl.c.getMaxVcpus(type);
  if (cmd.bool('json')) printJSON(ctl, { maxVcpus: n });
  else ctl.print(`${n}\n`);
  return true;
};

/**
 * virshCPUCountCollect: the count for `flags`; -2 when `checkState` and the domain has no such
 * definition. Drivers without virDomainGetVcpusFlags: the older calls for the live figures.
 */
async function cpuCount(ctl: Ctl, dom: Domain, flags: number, checkState: boolean): Promise<number> {
  if (checkState) {
    if ((flags & LIVE) !== 0 && !(await dom.isActive())) return -2;
    if ((flags & CONFIG) !== 0 && !(await dom.isPersistent())) return -2;
  }
  const n = await ctl.attempt(dom.vcpusFlags(flags));
  if (n !== FAILED) return n;
  const err = ctl.lastError as VirError | null;
  if (err === null || (err.code !== ErrorNumber.NO_SUPPORT && err.code !== ErrorNumber.INVALID_ARG)) return -1;
  if ((flags & GUEST) !== 0) {
    ctl.error('Failed to retrieve vCPU count from the guest');
    return -1;
  }
  if ((flags & (LIVE | CONFIG)) === 0 && (await dom.isActive())) flags |= LIVE;
  ctl.resetError();
  if ((flags & LIVE) === 0) return -1;
  const live = await ctl.attempt((flags & MAXIMUM) !== 0 ? dom.maxVcpus() : dom.getInfo().then((i) => i.nrVirtCpu));
  return live === FAILED ? -1 : live;
}

const vcpucount: Handler = async (ctl, cmd) => {
  cmd.exclusive('current', 'live');
  cmd.exclusive('current', 'config');
  cmd.exclusive('live', 'config');
  cmd.exclusive('active', 'maximum');
  cmd.exclusive('guest', 'config');
  let flags = 0;
  if (cmd.bool('live')) flags |= LIVE;
  if (cmd.bool('config')) flags |= CONFIG;
  if (cmd.bool('maximum')) flags |= MAXIMUM;
  if (cmd.bool('guest')) flags |= GUEST;
  const all = !['maximum', 'active', 'current', 'config', 'live', 'guest'].some((o) => cmd.bool(o));
  const { dom } = await cmd.domain();
  const json = cmd.bool('json');
  if (!all) {
    const n = await cpuCount(ctl, dom, flags, false);
    if (n < 0) return false;
    if (json) printJSON(ctl, { count: n });
    else ctl.print(`${n}\n`);
    return true;
  }
  const counts: [string, string, number][] = [
    ['maximum', 'config', await cpuCount(ctl, dom, CONFIG | MAXIMUM, true)],
    ['current', 'config', await cpuCount(ctl, dom, CONFIG, true)],
    ['maximum', 'live', await cpuCount(ctl, dom, LIVE | MAXIMUM, true)],
    ['current', 'live', await cpuCount(ctl, dom, LIVE, true)],
  ];
  if (counts.some(([, , n]) => n === -1)) return false;
  // virsh prints maximum config, maximum live, current config, current live.
  const shown = [counts[0]!, counts[2]!, counts[1]!, counts[3]!].filter(([, , n]) => n > 0);
  if (json) {
    const out: Record<string, Record<string, number>> = {};
    for (const [which, state, n] of shown) (out[which] ??= {})[state] = n;
    printJSON(ctl, out);
  } else {
    for (const [which, state, n] of shown) ctl.print(`${which.padEnd(12)} ${state.padEnd(12)} ${String(n).padStart(3)}\n`);
  }
  return true;
};

const setvcpus: Handler = async (ctl, cmd) => {
  cmd.exclusive('current', 'live');
  cmd.exclusive('current', 'config');
  cmd.exclusive('guest', 'config');
  cmd.exclusive('hotpluggable', 'guest');
  cmd.requires('maximum', 'config');
  let flags = 0;
  if (cmd.bool('config')) flags |= CONFIG;
  if (cmd.bool('live')) flags |= LIVE;
  if (cmd.bool('guest')) flags |= GUEST;
  if (cmd.bool('maximum')) flags |= MAXIMUM;
  if (cmd.bool('hotpluggable')) flags |= HOTPLUGGABLE;
  const { dom } = await cmd.domain();
  const count = cmd.uint('count') ?? 0;
  if (count === 0) {
    ctl.error("Can't set 0 processors for a VM");
    return false;
  }
  if (!cmd.bool('current') && flags === 0) await dom.setVcpus(count);
  else await dom.setVcpusFlags(count, flags);
  return true;
};

const VCPU_STATES = ['offline', 'running', 'blocked'];

/** "0-3,6" for the set host CPUs, as virBitmapFormat. */
function cpuRanges(map: boolean[]): string {
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

const vcpuinfo: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const pretty = cmd.bool('pretty');
  const [maxcpu] = await ctl.c.getCPUMap();
  const info = await dom.getInfo();
  const n = Math.max(1, info.nrVirtCpu);
  const vcpus = await ctl.attempt(dom.vcpus(n, maxcpu));
  let rows: { number: number; cpu: number | null; state: string | null; cpuTime: number | null; affinity: boolean[] }[];
  if (vcpus !== FAILED) {
    rows = vcpus.map((v) => ({ number: v.number, cpu: v.cpu, state: VCPU_STATES[v.state] ?? 'no state', cpuTime: v.cpuTime, affinity: v.affinity }));
  } else {
    // An inactive domain: its pinning, from the persistent definition.
    if (info.state !== DomainState.SHUTOFF) return false;
    ctl.resetError();
    const pins = await dom.vcpuPinInfo(DomainVcpuFlags.CONFIG, n, maxcpu);
    rows = pins.map((affinity, i) => ({ number: i, cpu: null, state: null, cpuTime: null, affinity }));
  }
  if (cmd.bool('json')) {
    printJSON(
      ctl,
      rows.map((r) => ({ vcpu: r.number, cpu: r.cpu, state: r.state, cpuTime: r.cpuTime === null ? null : r.cpuTime / 1e9, affinity: cpuRanges(r.affinity) })),
    );
    return true;
  }
  rows.forEach((r, i) => {
    if (i !== 0) ctl.print('\n');
    const field = (label: string, value: string) => ctl.print(`${label.padEnd(15)} ${value}\n`);
    field('VCPU:', String(r.number));
    field('CPU:', r.cpu === null ? 'N/A' : String(r.cpu));
    field('State:', r.state ?? 'N/A');
    if (r.cpuTime === null) field('CPU time', 'N/A');
    else if (r.cpuTime !== 0) field('CPU time:', `${(r.cpuTime / 1e9).toFixed(1)}s`);
    field('CPU Affinity:', pretty ? `${cpuRanges(r.affinity)} (out of ${maxcpu})` : r.affinity.map((b) => (b ? 'y' : '-')).join(''));
  });
  return true;
};

// ---- scheduler ----

/** vshGetTypedParamValue: a typed parameter's value as virsh prints it. */
function typedValue(p: TypedParameter): string {
  if (p.type === 6) return p.value === true ? 'yes' : 'no';
  if (p.type === 5) return Number(p.value).toFixed(6);
  return String(p.value);
}
const TYPE_WORDS: Record<number, string> = { 1: 'int', 2: 'unsigned int', 3: 'long long', 4: 'unsigned long long', 5: 'double', 6: 'boolean', 7: 'string' };

/** virTypedParamsAddFromString: `value` read as a parameter of `type`. */
function typedFromString(field: string, type: number, value: string): TypedParameter {
  const bad = () => VirError.report(ErrorDomain.NONE, ErrorNumber.INVALID_ARG, `Invalid value for field '${field}': expected ${TYPE_WORDS[type] ?? 'unknown'}`);
  if (type === 7) return { field, type, value };
  if (type === 6) {
    if (value === '1' || /^(yes|true)$/i.test(value)) return { field, type, value: true };
    if (value === '0' || /^(no|false)$/i.test(value)) return { field, type, value: false };
    throw bad();
  }
  const n = Number(value);
  const limits: Record<number, [number, number]> = { 1: [-0x80000000, 0x7fffffff], 2: [0, 0xffffffff], 3: [-(2 ** 63), 2 ** 63], 4: [0, 2 ** 64] };
  if (value.trim() === '' || Number.isNaN(n)) throw bad();
  const range = limits[type];
  if (range !== undefined && (!Number.isInteger(n) || n < range[0] || n > range[1])) throw bad();
  return { field, type, value: n };
}

const schedinfo: Handler = async (ctl, cmd) => {
  cmd.exclusive('current', 'live');
  cmd.exclusive('current', 'config');
  const live = cmd.bool('live');
  const config = cmd.bool('config');
  const current = cmd.bool('current');
  const flags = (live ? LIVE : 0) | (config ? CONFIG : 0);
  const { dom } = await cmd.domain();
  const type = await ctl.attempt(dom.schedulerType());
  if (type === FAILED) {
    ctl.error('Invalid scheduler type');
    return false;
  }
  ctl.print(`${'Scheduler'.padEnd(15)}: ${type[0]}\n`);
  if (type[1] === 0) return true;
  const withFlags = flags !== 0 || current;
  // Live and config cannot be read at once: virsh reads the current one then.
  const get = () => (withFlags ? dom.schedulerParametersFlags(live && config ? 0 : flags) : dom.schedulerParameters());
  let params = await get();
  const sets: [string, string][] = [];
  for (const legacy of ['weight', 'cap']) {
    const v = cmd.int(legacy);
    if (v !== undefined) sets.push([legacy, String(v)]);
  }
  for (const s of cmd.argv('set')) {
    const eq = s.indexOf('=');
    if (eq < 0) {
      ctl.error('Invalid syntax for --set, expecting name=value');
      return false;
    }
    sets.push([s.slice(0, eq), s.slice(eq + 1)]);
  }
  if (sets.length > 0) {
    const updates: TypedParameter[] = [];
    for (const [name, value] of sets) {
      const known = params.find((p) => p.field === name);
      if (known === undefined) {
        ctl.error(`invalid scheduler option: ${name}`);
        return false;
      }
      updates.push(typedFromString(name, known.type, value));
    }
    if (withFlags) await dom.setSchedulerParametersFlags(updates, flags);
    else await dom.setSchedulerParameters(updates);
    params = await get();
  } else if (live && config) {
    ctl.error('cannot query both live and config at once');
    return false;
  }
  for (const p of params) ctl.print(`${p.field.padEnd(15)}: ${typedValue(p)}\n`);
  return true;
};

// ---- memory ----

const setmem: Handler = async (ctl, cmd) => {
  // virsh 9.0: without --config/--live/--current, the running domain's memory.
  const flags = affectFlags(cmd) || (cmd.bool('current') ? 0 : LIVE);
  const { dom } = await cmd.domain();
  const kib = Math.ceil(scaledBytes(ctl, cmd, 'size') / 1024);
  await dom.setMemoryFlags(kib, flags);
  return true;
};

const setmaxmem: Handler = async (ctl, cmd) => {
  const flags = affectFlags(cmd) | DomainMemoryModFlags.MAXIMUM;
  const { dom } = await cmd.domain();
  const kib = Math.ceil(scaledBytes(ctl, cmd, 'size') / 1024);
  if ((await ctl.attempt(dom.setMemoryFlags(kib, flags))) === FAILED) {
    ctl.error('Unable to change MaxMemorySize');
    return false;
  }
  return true;
};

const dommemstat: Handler = async (ctl, cmd) => {
  affectFlags(cmd);
  const { dom, name } = await cmd.domain();
  if (cmd.int('period') !== undefined) throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.NO_SUPPORT, 'virDomainSetMemoryStatsPeriod');
  const stats = await ctl.attempt(dom.memoryStats(0));
  if (stats === FAILED) {
    ctl.error(`Failed to get memory statistics for domain ${name}`);
    return false;
  }
  if (cmd.bool('json')) printJSON(ctl, stats);
  else for (const [k, v] of Object.entries(stats)) ctl.print(`${k} ${v}\n`);
  return true;
};

// ---- host ----

const freecell: Handler = async (ctl, cmd) => {
  cmd.exclusive('all', 'cellno');
  const cell = cmd.int('cellno');
  const json = cmd.bool('json');
  if (cmd.bool('all')) {
    const caps = await ctl.attempt(ctl.c.getCapabilities());
    if (caps === FAILED) {
      ctl.error('unable to get node capabilities');
      return false;
    }
    const cells = /<cells\b[^>]*>([\s\S]*?)<\/cells>/.exec(caps)?.[1] ?? '';
    const ids = [...cells.matchAll(/<cell\s+id=['"](\d+)['"]/g)].map((m) => Number(m[1]));
    const free: number[] = [];
    for (const id of ids) {
      const got = await ctl.attempt(ctl.c.getCellsFreeMemory(id, 1));
      if (got === FAILED || got.length !== 1) {
        ctl.error(`failed to get free memory for NUMA node number: ${id}`);
        return false;
      }
      free.push(got[0]!);
    }
    const total = free.reduce((a, b) => a + b, 0);
    if (json) {
      printJSON(ctl, { cells: ids.map((id, i) => ({ cell: id, freeKiB: Math.floor(free[i]! / 1024) })), totalKiB: Math.floor(total / 1024) });
      return true;
    }
    ids.forEach((id, i) => ctl.print(`${String(id).padStart(5)}: ${String(Math.floor(free[i]! / 1024)).padStart(10)} KiB\n`));
    ctl.extra('--------------------\n');
    ctl.extra(`${'Total'.padStart(5)}: ${String(Math.floor(total / 1024)).padStart(10)} KiB\n`);
    return true;
  }
  if (cell !== undefined) {
    const [mem] = await ctl.c.getCellsFreeMemory(cell, 1);
    if (mem === undefined) return false;
    if (json) printJSON(ctl, { cell, freeKiB: Math.floor(mem / 1024) });
    else ctl.print(`${cell}: ${Math.floor(mem / 1024)} KiB\n`);
    return true;
  }
  const mem = await ctl.c.getFreeMemory();
  if (mem === 0) return false;
  if (json) printJSON(ctl, { totalKiB: Math.floor(mem / 1024) });
  else ctl.print(`Total: ${Math.floor(mem / 1024)} KiB\n`);
  return true;
};

/** virsh's nodecpustats rows: label and the field it shows. */
const CPU_ROWS: [label: string, field: string][] = [
  ['user:', 'user'],
  ['system:', 'kernel'],
  ['idle:', 'idle'],
  ['iowait:', 'iowait'],
];

const nodecpustats: Handler = async (ctl, cmd) => {
  const cpu = cmd.int('cpu') ?? -1;
  const percent = cmd.bool('percent');
  const take = async (what: string) => {
    const s = await ctl.attempt(ctl.c.getCPUStats(cpu, 0));
    if (s === FAILED) {
      ctl.error(what);
      throw new CmdFailed();
    }
    return s;
  };
  const first = await take('Unable to get number of cpu stats');
  if (Object.keys(first).length === 0) return true;
  const json = cmd.bool('json');
  if (!percent) {
    const rows = CPU_ROWS.filter(([, f]) => f in first);
    if (json) printJSON(ctl, Object.fromEntries(rows.map(([l, f]) => [l.slice(0, -1), first[f]])));
    else for (const [label, f] of rows) ctl.print(`${label.padEnd(15)} ${String(first[f]).padStart(20)}\n`);
    return true;
  }
  let usage: number;
  let shares: [string, number][];
  if ('utilization' in first) {
    usage = first.utilization!;
    shares = [['idle:', 100 - usage]];
  } else {
    await new Promise((r) => setTimeout(r, 1000));
    const second = await take('Unable to get node cpu stats');
    const delta = (f: string) => (second[f] ?? 0) - (first[f] ?? 0);
    const total = CPU_ROWS.reduce((sum, [, f]) => sum + delta(f), 0);
    usage = ((delta('user') + delta('kernel')) / total) * 100;
    shares = CPU_ROWS.map(([label, f]) => [label, (delta(f) / total) * 100]);
  }
  if (json) {
    const num = (v: number) => (Number.isNaN(v) ? null : Math.round(v * 10) / 10);
    printJSON(ctl, { usage: num(usage), ...Object.fromEntries(shares.map(([l, v]) => [l.slice(0, -1), num(v)])) });
    return true;
  }
  ctl.print(`${'usage:'.padEnd(15)} ${fixed1(usage, 5)}%\n`);
  for (const [label, v] of shares) ctl.print(`${label.padEnd(15)} ${fixed1(v, 5)}%\n`);
  return true;
};

/** virsh's nodecpumap: CPUs present and online, and the map ('y' online, '-' offline; --pretty: ranges). */
const nodecpumap: Handler = async (ctl, cmd) => {
  const got = await ctl.attempt(ctl.c.getCPUMap(0));
  if (got === FAILED) {
    ctl.error('Unable to get cpu map');
    return false;
  }
  const [present, online, count] = got;
  if (cmd.bool('json')) {
    printJSON(ctl, { present, online: count, map: online.flatMap((on, i) => (on ? [i] : [])) });
    return true;
  }
  let map: string;
  if (cmd.bool('pretty')) {
    const ranges: string[] = [];
    for (let i = 0; i < online.length; i++) {
      if (!online[i]) continue;
      let j = i;
      while (online[j + 1] === true) j++;
      ranges.push(i === j ? String(i) : `${i}-${j}`);
      i = j;
    }
    map = ranges.join(',');
  } else {
    map = online.map((on) => (on ? 'y' : '-')).join('');
  }
  ctl.print(`${'CPUs present:'.padEnd(15)} ${present}\n${'CPUs online:'.padEnd(15)} ${count}\n${'CPU map:'.padEnd(15)} ${map}\n`);
  return true;
};

const nodememstats: Handler = async (ctl, cmd) => {
  const cell = cmd.int('cell') ?? -1;
  const stats = await ctl.attempt(ctl.c.getMemoryStats(cell, 0));
  if (stats === FAILED) {
    ctl.error('Unable to get number of memory stats');
    return false;
  }
  if (cmd.bool('json')) printJSON(ctl, stats);
  else for (const [k, v] of Object.entries(stats)) ctl.print(`${k.padEnd(7)}: ${String(v).padStart(20)} KiB\n`);
  return true;
};

// ---- guest facts ----

const CONTROL_STATES: Record<number, string> = {
  [DomainControlState.OK]: 'ok',
  [DomainControlState.JOB]: 'background job',
  [DomainControlState.OCCUPIED]: 'occupied',
  [DomainControlState.ERROR]: 'error',
};
const CONTROL_ERRORS = ['none', 'unknown', 'monitor failure', 'internal (locking) error'];

const domcontrol: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const info = await dom.controlInfo(0);
  const state = CONTROL_STATES[info.state] ?? 'unknown';
  if (cmd.bool('json')) {
    printJSON(ctl, { state, stateCode: info.state, details: info.details, stateTime: info.stateTime / 1000 });
  } else if (info.state !== DomainControlState.OK && info.state !== DomainControlState.ERROR) {
    ctl.print(`${state} (${(info.stateTime / 1000).toFixed(3)}s)\n`);
  } else if (info.state === DomainControlState.ERROR && info.details > 0) {
    ctl.print(`${state}: ${CONTROL_ERRORS[info.details] ?? 'unknown'}\n`);
  } else {
    ctl.print(`${state}\n`);
  }
  return true;
};

/** VIR_DOMAIN_GET_HOSTNAME_LEASE / _AGENT. */
const HOSTNAME_SOURCES: Record<string, number> = { lease: 1, agent: 2 };

const domhostname: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const source = cmd.string('source');
  let flags = 0;
  if (source !== undefined) {
    const f = HOSTNAME_SOURCES[source];
    if (f === undefined) {
      ctl.error(`Unknown data source '${source}'`);
      return false;
    }
    flags = f;
  }
  const name = await ctl.attempt(dom.hostname(flags));
  if (name === FAILED) {
    ctl.error('failed to get hostname');
    return false;
  }
  if (cmd.bool('json')) printJSON(ctl, { hostname: name });
  else ctl.print(`${name}\n`);
  return true;
};

const domtime: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  if (cmd.bool('now') || cmd.bool('sync') || cmd.int('time') !== undefined) {
    throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.NO_SUPPORT, 'virDomainSetTime');
  }
  const t = await dom.getTime(0);
  if (cmd.bool('json')) {
    printJSON(ctl, t);
    return true;
  }
  if (cmd.bool('pretty')) {
    // virsh formats the guest's seconds in the local time zone, without a zone.
    const d = new Date(t.seconds * 1000);
    const p2 = (n: number) => String(n).padStart(2, '0');
    ctl.print(`Time: ${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`);
  } else {
    ctl.print(`Time: ${t.seconds}`);
  }
  return true;
};

const reset: Handler = async (ctl, cmd) => {
  const { dom, name } = await cmd.domain();
  if ((await ctl.attempt(dom.reset(0))) === FAILED) {
    ctl.error(`Failed to reset domain '${name}'`);
    return false;
  }
  ctl.extra(`Domain '${name}' was reset\n`);
  return true;
};

export const handlers: Record<string, Handler> = {
  blockresize,
  maxvcpus,
  vcpucount,
  setvcpus,
  vcpuinfo,
  setmem,
  setmaxmem,
  dommemstat,
  freecell,
  nodecpumap,
  nodecpustats,
  nodememstats,
  domcontrol,
  domhostname,
  domtime,
  reset,
  schedinfo,
};
