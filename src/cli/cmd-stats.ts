/**
 * Statistics, tuning and job commands (virsh-domain-monitor.c, virsh-domain.c): domblkstat,
 * domifstat, domblkinfo, memtune, blkiotune, numatune, domiftune, cpu-stats, domstats,
 * domjobinfo, domjobabort, migrate-getspeed, migrate-setspeed. Output and messages are virsh's;
 * `--json` (tsvirt) prints the same data as JSON (keys in docs/cli.md).
 */
import { ConnectGetAllDomainStatsFlags as SF, DomainJobType, DomainModificationImpact, DomainStatsTypes as ST, ErrorNumber } from '../core/enums.generated.js';
import type { Domain, TypedParameter, VirError } from '../index.js';
import { CmdFailed, FAILED, type Cmd, type Ctl, type Handler } from './context.js';
import { formatTable } from './text.js';

const { LIVE, CONFIG } = DomainModificationImpact;
const UNLIMITED = 9007199254740991;
const NUMA_MODES = ['strict', 'preferred', 'interleave', 'restrictive'];

function printJSON(ctl: Ctl, value: unknown): void {
  ctl.print(JSON.stringify(value, null, 2) + '\n');
}

/** --config/--live/--current: the modification impact (--current excludes the others). */
function impact(cmd: Cmd): number {
  cmd.exclusive('current', 'live');
  cmd.exclusive('current', 'config');
  return (cmd.bool('config') ? CONFIG : 0) | (cmd.bool('live') ? LIVE : 0);
}

/** vshGetTypedParamValue. */
function paramValue(p: TypedParameter): string {
  if (p.type === 6) return p.value === true ? 'yes' : 'no';
  if (p.type === 5) return Number(p.value).toFixed(6);
  return String(p.value);
}

/** vshPrettyCapacity: "1.000 TiB", three decimals, binary units. */
function prettyCapacity(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${bytes} B` : `${v.toFixed(3)} ${units[i]}`;
}

/** Whether the last error is "not supported" (virsh then tries the older call). */
function noSupport(ctl: Ctl): boolean {
  const err = ctl.lastError as VirError | null;
  return err !== null && (err.code === ErrorNumber.NO_SUPPORT || err.code === ErrorNumber.ARGUMENT_UNSUPPORTED);
}

// ---- block and interface statistics ----

/** virsh's domblkstat table: typed-parameter name, legacy name, human label. */
const BLKSTAT: [field: string, legacy: string, human: string][] = [
  ['rd_operations', 'rd_req', 'number of read operations:'],
  ['rd_bytes', 'rd_bytes', 'number of bytes read:'],
  ['wr_operations', 'wr_req', 'number of write operations:'],
  ['wr_bytes', 'wr_bytes', 'number of bytes written:'],
  ['errs', 'errs', 'error count:'],
  ['flush_operations', 'flush_operations', 'number of flush operations:'],
  ['rd_total_times', 'rd_total_times', 'total duration of reads (ns):'],
  ['wr_total_times', 'wr_total_times', 'total duration of writes (ns):'],
  ['flush_total_times', 'flush_total_times', 'total duration of flushes (ns):'],
];

const domblkstat: Handler = async (ctl, cmd) => {
  const { dom, name } = await cmd.domain();
  const device = cmd.string('device') ?? '';
  const human = cmd.bool('human');
  let stats = await ctl.attempt(dom.blockStatsFlags(device, 0));
  if (stats === FAILED && noSupport(ctl)) {
    ctl.resetError();
    const old = await ctl.attempt(dom.blockStats(device));
    if (old !== FAILED) {
      const u = 4;
      stats = [
        { field: 'rd_operations', type: u, value: old.rdReq },
        { field: 'rd_bytes', type: u, value: old.rdBytes },
        { field: 'wr_operations', type: u, value: old.wrReq },
        { field: 'wr_bytes', type: u, value: old.wrBytes },
        { field: 'errs', type: u, value: old.errs },
      ].filter((p) => p.value >= 0);
    }
  }
  if (stats === FAILED) {
    ctl.error(`Failed to get block stats ${name} ${device}`);
    return false;
  }
  if (cmd.bool('json')) {
    printJSON(ctl, Object.fromEntries(stats.map((p) => [p.field, p.value])));
    return true;
  }
  if (human) ctl.print(`Device: ${device}\n`);
  const rows: [string, string, string][] = [];
  for (const [field, legacy, label] of BLKSTAT) {
    const p = stats.find((s) => s.field === field);
    if (p !== undefined) rows.push([legacy, label, paramValue(p)]);
  }
  for (const p of stats) if (!BLKSTAT.some(([f]) => f === p.field)) rows.push([p.field, `${p.field}:`, paramValue(p)]);
  for (const [legacy, label, value] of rows) {
    ctl.print(human ? ` ${label.padEnd(31)} ${value}\n` : `${device} ${legacy} ${value}\n`);
  }
  return true;
};

const IFSTAT: [key: 'rxBytes' | 'rxPackets' | 'rxErrs' | 'rxDrop' | 'txBytes' | 'txPackets' | 'txErrs' | 'txDrop', name: string][] = [
  ['rxBytes', 'rx_bytes'],
  ['rxPackets', 'rx_packets'],
  ['rxErrs', 'rx_errs'],
  ['rxDrop', 'rx_drop'],
  ['txBytes', 'tx_bytes'],
  ['txPackets', 'tx_packets'],
  ['txErrs', 'tx_errs'],
  ['txDrop', 'tx_drop'],
];

const domifstat: Handler = async (ctl, cmd) => {
  const { dom, name } = await cmd.domain();
  const device = cmd.string('interface') ?? '';
  const stats = await ctl.attempt(dom.interfaceStats(device));
  if (stats === FAILED) {
    ctl.error(`Failed to get interface stats ${name} ${device}`);
    return false;
  }
  const shown = IFSTAT.filter(([k]) => stats[k] >= 0);
  if (cmd.bool('json')) printJSON(ctl, Object.fromEntries(shown.map(([k, n]) => [n, stats[k]])));
  else for (const [k, n] of shown) ctl.print(`${device} ${n} ${stats[k]}\n`);
  return true;
};

/** The disks `domblkinfo --all` lists: target and whether it has a source, from the XML. */
function disksOf(xml: string): { target: string; hasSource: boolean; network: boolean }[] {
  const out: { target: string; hasSource: boolean; network: boolean }[] = [];
  for (const m of xml.matchAll(/<disk\b([^>]*)>([\s\S]*?)<\/disk>/g)) {
    const body = m[2] ?? '';
    const target = /<target\b[^>]*\bdev=['"]([^'"]+)['"]/.exec(body)?.[1];
    if (target === undefined) continue;
    out.push({ target, hasSource: /<source\b/.test(body), network: /type=['"]network['"]/.test(m[1] ?? '') });
  }
  return out;
}

const domblkinfo: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const human = cmd.bool('human');
  const all = cmd.bool('all');
  const device = cmd.string('device');
  const fmt = (n: number) => (human ? prettyCapacity(n) : String(n));
  if (!all) {
    if (device === undefined) {
      ctl.error('either --all or --device argument must be supplied');
      return false;
    }
    const info = await dom.blockInfo(device, 0);
    if (cmd.bool('json')) printJSON(ctl, info);
    else {
      ctl.print(`${'Capacity:'.padEnd(15)} ${fmt(info.capacity)}\n`);
      ctl.print(`${'Allocation:'.padEnd(15)} ${fmt(info.allocation)}\n`);
      ctl.print(`${'Physical:'.padEnd(15)} ${fmt(info.physical)}\n`);
    }
    return true;
  }
  const rows: string[][] = [];
  const json: Record<string, unknown>[] = [];
  for (const disk of disksOf(await dom.XMLDesc(0))) {
    // As virsh: a disk without a source (an empty CD-ROM) shows '-'.
    if (!disk.hasSource) {
      rows.push([disk.target, '-', '-', '-']);
      json.push({ target: disk.target, capacity: null, allocation: null, physical: null });
      continue;
    }
    const info = await dom.blockInfo(disk.target, 0);
    rows.push([disk.target, fmt(info.capacity), fmt(info.allocation), fmt(info.physical)]);
    json.push({ target: disk.target, ...info });
  }
  if (cmd.bool('json')) printJSON(ctl, json);
  else ctl.print(formatTable(['Target', 'Capacity', 'Allocation', 'Physical'], rows, !ctl.quiet));
  return true;
};

// ---- tuning ----

/** A memtune size option: KiB by default, with virsh's suffixes; -1 means unlimited. */
function memtuneSize(ctl: Ctl, cmd: Cmd, name: string): number | undefined {
  const raw = cmd.string(name);
  if (raw === undefined) return undefined;
  if (raw.trim() === '-1') return UNLIMITED;
  const m = /^\s*\+?(\d+)\s*([a-zA-Z]*)$/.exec(raw);
  const powers = 'kmgtpe';
  let scale: number | undefined;
  if (m !== null) {
    const u = (m[2] ?? '').toLowerCase();
    if (u === '') scale = 1024;
    else if (u === 'b' || u === 'bytes') scale = 1;
    else {
      const p = powers.indexOf(u[0] ?? '');
      if (p >= 0 && (u.length === 1 || u.slice(1) === 'ib')) scale = 1024 ** (p + 1);
      else if (p >= 0 && u.slice(1) === 'b') scale = 1000 ** (p + 1);
    }
  }
  if (m === null || scale === undefined) {
    ctl.error(`Unable to parse integer parameter ${name}`);
    throw new CmdFailed();
  }
  const kib = Math.ceil((Number(m[1]) * scale) / 1024);
  return Math.min(kib, UNLIMITED);
}

/** Prints typed parameters as virsh's tuning commands do ("%-15s: %s"); `value` formats one. */
function printParams(ctl: Ctl, cmd: Cmd, params: TypedParameter[], value: (p: TypedParameter) => string = paramValue): void {
  if (cmd.bool('json')) printJSON(ctl, Object.fromEntries(params.map((p) => [p.field, p.value])));
  else for (const p of params) ctl.print(`${p.field.padEnd(15)}: ${value(p)}\n`);
}

/**
 * Gets tuning parameters, with virsh's message for a failure: the count query's when the driver
 * lacks the call or refuses before counting (not libvirt's test driver, which counts first).
 */
async function getTuning(ctl: Ctl, get: () => Promise<TypedParameter[]>, what: string, countWhat = what): Promise<TypedParameter[] | null> {
  const params = await ctl.attempt(get());
  if (params !== FAILED) return params;
  const counted = ctl.c.getType().toUpperCase() === 'TEST' && !noSupport(ctl);
  ctl.error(counted ? `Unable to get ${what} parameters` : `Unable to get number of ${countWhat} parameters`);
  return null;
}

const memtune: Handler = async (ctl, cmd) => {
  const flags = impact(cmd);
  const { dom } = await cmd.domain();
  const sets: TypedParameter[] = [];
  for (const [opt, field] of [
    ['hard-limit', 'hard_limit'],
    ['soft-limit', 'soft_limit'],
    ['swap-hard-limit', 'swap_hard_limit'],
    ['min-guarantee', 'min_guarantee'],
  ] as const) {
    const v = memtuneSize(ctl, cmd, opt);
    if (v !== undefined) sets.push({ field, type: 4, value: v });
  }
  if (sets.length > 0) {
    if ((await ctl.attempt(dom.setMemoryParameters(sets, flags))) === FAILED) {
      ctl.error('Unable to change memory parameters');
      return false;
    }
    return true;
  }
  const params = await getTuning(ctl, () => dom.memoryParameters(flags), 'memory');
  if (params === null) return false;
  printParams(ctl, cmd, params, (p) => (p.type === 4 && Number(p.value) >= UNLIMITED ? 'unlimited' : paramValue(p)));
  return true;
};

const blkiotune: Handler = async (ctl, cmd) => {
  const flags = impact(cmd);
  const { dom } = await cmd.domain();
  const sets: TypedParameter[] = [];
  const weight = cmd.int('weight');
  if (weight !== undefined) {
    if (weight <= 0) {
      ctl.error(`Invalid value of ${weight} for I/O weight`);
      return false;
    }
    sets.push({ field: 'weight', type: 2, value: weight });
  }
  for (const [opt, field] of [
    ['device-weights', 'device_weight'],
    ['device-read-iops-sec', 'device_read_iops_sec'],
    ['device-write-iops-sec', 'device_write_iops_sec'],
    ['device-read-bytes-sec', 'device_read_bytes_sec'],
    ['device-write-bytes-sec', 'device_write_bytes_sec'],
  ] as const) {
    const v = cmd.string(opt);
    if (v !== undefined) sets.push({ field, type: 7, value: v });
  }
  if (sets.length > 0) {
    if ((await ctl.attempt(dom.setBlkioParameters(sets, flags))) === FAILED) {
      ctl.error('Unable to change blkio parameters');
      return false;
    }
    return true;
  }
  const params = await getTuning(ctl, () => dom.blkioParameters(flags), 'blkio');
  if (params === null) return false;
  printParams(ctl, cmd, params);
  return true;
};

const numatune: Handler = async (ctl, cmd) => {
  const flags = impact(cmd);
  const { dom } = await cmd.domain();
  const sets: TypedParameter[] = [];
  const mode = cmd.string('mode');
  if (mode !== undefined) {
    let m = NUMA_MODES.indexOf(mode);
    if (m < 0 && /^\d+$/.test(mode)) m = Number(mode);
    if (m < 0 || m >= NUMA_MODES.length) {
      ctl.error(`Invalid mode: ${mode}`);
      return false;
    }
    sets.push({ field: 'numa_mode', type: 1, value: m });
  }
  const nodeset = cmd.string('nodeset');
  if (nodeset !== undefined) sets.push({ field: 'numa_nodeset', type: 7, value: nodeset });
  if (sets.length > 0) {
    if ((await ctl.attempt(dom.setNumaParameters(sets, flags))) === FAILED) {
      ctl.error('Unable to change numa parameters');
      return false;
    }
    return true;
  }
  // virsh names memory parameters in this message.
  const params = await getTuning(ctl, () => dom.numaParameters(flags), 'numa', 'memory');
  if (params === null) return false;
  printParams(ctl, cmd, params, (p) => (p.field === 'numa_mode' ? (NUMA_MODES[Number(p.value)] ?? paramValue(p)) : paramValue(p)));
  return true;
};

/** virshParseRateStr: "average[,peak[,burst[,floor]]]". */
function parseRate(ctl: Ctl, raw: string, dir: 'inbound' | 'outbound'): number[] {
  const parts = raw.split(',');
  const max = dir === 'inbound' ? 4 : 3;
  if (parts.length > max || parts.some((p, i) => !/^\d+$/.test(p) && !(i > 0 && p === ''))) {
    ctl.error(`${dir} format is incorrect`);
    throw new CmdFailed();
  }
  return parts.map((p) => (p === '' ? 0 : Number(p)));
}

const domiftune: Handler = async (ctl, cmd) => {
  const flags = impact(cmd);
  const { dom } = await cmd.domain();
  const device = cmd.string('interface') ?? '';
  const sets: TypedParameter[] = [];
  for (const dir of ['inbound', 'outbound'] as const) {
    const raw = cmd.string(dir);
    if (raw === undefined) continue;
    const [average = 0, peak = 0, burst = 0, floor = 0] = parseRate(ctl, raw, dir);
    sets.push({ field: `${dir}.average`, type: 2, value: average });
    if (peak > 0) sets.push({ field: `${dir}.peak`, type: 2, value: peak });
    if (burst > 0) sets.push({ field: `${dir}.burst`, type: 2, value: burst });
    if (floor > 0) sets.push({ field: `${dir}.floor`, type: 2, value: floor });
  }
  if (sets.length > 0) {
    if ((await ctl.attempt(dom.setInterfaceParameters(device, sets, flags))) === FAILED) {
      ctl.error('Unable to set interface parameters');
      return false;
    }
    return true;
  }
  const params = await getTuning(ctl, () => dom.interfaceParameters(device, flags), 'interface');
  if (params === null) return false;
  printParams(ctl, cmd, params);
  return true;
};

// ---- CPU statistics ----

const TIME_FIELDS = new Set(['cpu_time', 'user_time', 'system_time', 'vcpu_time']);

function printCpuParams(ctl: Ctl, params: TypedParameter[]): void {
  for (const p of params) {
    if (TIME_FIELDS.has(p.field)) ctl.print(`\t${p.field.padEnd(12)}${(Number(p.value) / 1e9).toFixed(9).padStart(20)} seconds\n`);
    else ctl.print(`\t${p.field.padEnd(12)} ${paramValue(p)}\n`);
  }
}

const cpuStats: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const total = cmd.bool('total');
  const start = cmd.int('start');
  const count = cmd.int('count');
  if (start !== undefined && start < 0) {
    ctl.error('Invalid value for start CPU');
    return false;
  }
  if (count !== undefined && count < 0) {
    ctl.error('Invalid value for number of CPUs to show');
    return false;
  }
  const showPer = !total || start !== undefined || count !== undefined;
  const showTotal = total || (start === undefined && count === undefined);
  const json: { cpus?: Record<string, number>[]; total?: Record<string, number> } = {};
  if (showPer) {
    const first = start ?? 0;
    const got = await ctl.attempt(dom.cpuStats(first, count ?? 0, 0));
    if (got === FAILED) {
      ctl.error(`Failed to retrieve CPU statistics for domain '${dom.name()}'`);
      return false;
    }
    if (first >= got.cpus) {
      ctl.error(`Start CPU ${first} is out of range (min: 0, max: ${got.cpus - 1})`);
      return false;
    }
    json.cpus = got.stats.map((l) => Object.fromEntries(l.map((p) => [p.field, Number(p.value)])));
    if (!cmd.bool('json')) {
      got.stats.forEach((list, i) => {
        ctl.print(`CPU${first + i}:\n`);
        printCpuParams(ctl, list);
      });
    }
  }
  if (showTotal) {
    const got = await ctl.attempt(dom.cpuStats(-1, 1, 0));
    if (got === FAILED) {
      ctl.error(`Failed to retrieve CPU statistics for domain '${dom.name()}'`);
      return false;
    }
    const list = got.stats[0] ?? [];
    json.total = Object.fromEntries(list.map((p) => [p.field, Number(p.value)]));
    if (!cmd.bool('json')) {
      ctl.print('Total:\n');
      printCpuParams(ctl, list);
    }
  }
  if (cmd.bool('json')) printJSON(ctl, json);
  return true;
};

// ---- all-domain statistics ----

const GROUPS: [opt: string, bit: number][] = [
  ['state', ST.STATE],
  ['cpu-total', ST.CPU_TOTAL],
  ['balloon', ST.BALLOON],
  ['vcpu', ST.VCPU],
  ['interface', ST.INTERFACE],
  ['block', ST.BLOCK],
  ['perf', ST.PERF],
  ['iothread', ST.IOTHREAD],
  ['memory', ST.MEMORY],
  ['dirtyrate', ST.DIRTYRATE],
  ['vm', ST.VM],
];
const LISTS: [opt: string, bit: number][] = [
  ['list-active', SF.ACTIVE],
  ['list-inactive', SF.INACTIVE],
  ['list-persistent', SF.PERSISTENT],
  ['list-transient', SF.TRANSIENT],
  ['list-running', SF.RUNNING],
  ['list-paused', SF.PAUSED],
  ['list-shutoff', SF.SHUTOFF],
  ['list-other', SF.OTHER],
];

const domstats: Handler = async (ctl, cmd) => {
  let stats = 0;
  for (const [opt, bit] of GROUPS) if (cmd.bool(opt)) stats |= bit;
  let flags = 0;
  for (const [opt, bit] of LISTS) if (cmd.bool(opt)) flags |= bit;
  if (cmd.bool('raw')) {
    // --raw only changes how values print; every value here prints raw already.
  }
  if (cmd.bool('enforce')) flags |= SF.ENFORCE_STATS;
  if (cmd.bool('backing')) flags |= SF.BACKING;
  if (cmd.bool('nowait')) flags |= SF.NOWAIT;
  const names = cmd.argv('domains');
  let records: { domain: Domain; params: TypedParameter[] }[];
  if (names.length > 0) {
    const doms: Domain[] = [];
    for (const n of names) doms.push(await ctl.lookupDomain(n));
    records = await ctl.c.domainListGetStats(doms, stats, flags);
  } else {
    records = await ctl.c.getAllDomainStats(stats, flags);
  }
  if (cmd.bool('json')) {
    printJSON(
      ctl,
      records.map((r) => ({ domain: r.domain.name(), stats: Object.fromEntries(r.params.map((p) => [p.field, p.value])) })),
    );
    return true;
  }
  records.forEach((r, i) => {
    if (i > 0) ctl.print('\n');
    ctl.print(`Domain: '${r.domain.name()}'\n`);
    for (const p of r.params) ctl.print(`  ${p.field}=${paramValue(p)}\n`);
  });
  return true;
};

// ---- jobs and migration speed ----

const JOB_TYPES: Record<number, string> = {
  [DomainJobType.NONE]: 'None',
  [DomainJobType.BOUNDED]: 'Bounded',
  [DomainJobType.UNBOUNDED]: 'Unbounded',
  [DomainJobType.COMPLETED]: 'Completed',
  [DomainJobType.FAILED]: 'Failed',
  [DomainJobType.CANCELLED]: 'Cancelled',
};
const JOB_OPERATIONS = ['Unknown', 'Start', 'Save', 'Restore', 'Incoming migration', 'Outgoing migration', 'Snapshot', 'Snapshot revert', 'Dump', 'Backup', 'Snapshot delete'];

/** virsh's domjobinfo rows: parameter, label, kind of value. */
const JOB_ROWS: [field: string, label: string, kind: 'ms' | 'bytes' | 'count' | 'rate'][] = [
  ['time_elapsed', 'Time elapsed:', 'ms'],
  ['time_remaining', 'Time remaining:', 'ms'],
  ['data_total', 'Data total:', 'bytes'],
  ['data_processed', 'Data processed:', 'bytes'],
  ['data_remaining', 'Data remaining:', 'bytes'],
  ['memory_total', 'Memory total:', 'bytes'],
  ['memory_processed', 'Memory processed:', 'bytes'],
  ['memory_remaining', 'Memory remaining:', 'bytes'],
  ['memory_bps', 'Memory bandwidth:', 'rate'],
  ['disk_total', 'File total:', 'bytes'],
  ['disk_processed', 'File processed:', 'bytes'],
  ['disk_remaining', 'File remaining:', 'bytes'],
];

/** vshPrettyCapacity for domjobinfo ("%.3lf %s", bytes as "B" too). */
function jobBytes(n: number): string {
  return n < 1024 ? `${n.toFixed(3)} B` : prettyCapacity(n);
}

const domjobinfo: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  cmd.requires('keep-completed', 'completed');
  let flags = 0;
  if (cmd.bool('completed')) flags |= 1;
  if (cmd.bool('keep-completed')) flags |= 2;
  let type: number;
  let params: TypedParameter[];
  const got = await ctl.attempt(dom.jobStats(flags));
  if (got !== FAILED) {
    ({ type, params } = got);
  } else {
    if (!noSupport(ctl)) return false;
    if (flags !== 0) {
      ctl.error('Optional flags or --rawstats are not supported by the daemon');
      return false;
    }
    ctl.resetError();
    const info = await dom.jobInfo();
    type = info.type;
    const u = 4;
    params = [
      { field: 'time_elapsed', type: u, value: info.timeElapsed },
      { field: 'time_remaining', type: u, value: info.timeRemaining },
      { field: 'data_total', type: u, value: info.dataTotal },
      { field: 'data_processed', type: u, value: info.dataProcessed },
      { field: 'data_remaining', type: u, value: info.dataRemaining },
      { field: 'memory_total', type: u, value: info.memTotal },
      { field: 'memory_processed', type: u, value: info.memProcessed },
      { field: 'memory_remaining', type: u, value: info.memRemaining },
      { field: 'disk_total', type: u, value: info.fileTotal },
      { field: 'disk_processed', type: u, value: info.fileProcessed },
      { field: 'disk_remaining', type: u, value: info.fileRemaining },
    ].filter((p) => p.value !== 0 || type !== DomainJobType.NONE);
  }
  if (cmd.bool('json')) {
    printJSON(ctl, { type: JOB_TYPES[type] ?? 'Unknown', ...Object.fromEntries(params.map((p) => [p.field, p.value])) });
    return true;
  }
  // virsh's layouts: "%-17s %-12s" for words, "%-17s %-12llu ms" for times, "%-17s %.3lf %s" for sizes.
  const row = (label: string, value: string) => ctl.print(`${label.padEnd(17)} ${value}\n`);
  row('Job type:', (JOB_TYPES[type] ?? 'Unknown').padEnd(12));
  if (type === DomainJobType.NONE) return true;
  const op = params.find((p) => p.field === 'operation');
  if (op !== undefined) row('Operation:', (JOB_OPERATIONS[Number(op.value)] ?? 'Unknown').padEnd(12));
  for (const [field, label, kind] of JOB_ROWS) {
    const p = params.find((q) => q.field === field);
    if (p === undefined) continue;
    const v = Number(p.value);
    if (kind === 'ms') row(label, `${String(v).padEnd(12)} ms`);
    else if (kind === 'rate') row(label, `${jobBytes(v)}/s`);
    else row(label, jobBytes(v));
  }
  const err = params.find((p) => p.field === 'errmsg');
  if (err !== undefined) row('Error message:', String(err.value));
  return true;
};

const domjobabort: Handler = async (_ctl, cmd) => {
  const { dom } = await cmd.domain();
  await dom.abortJob();
  return true;
};

const migrateGetspeed: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const speed = await dom.migrateGetMaxSpeed(cmd.bool('postcopy') ? 1 : 0);
  if (cmd.bool('json')) printJSON(ctl, { bandwidth: speed });
  else ctl.print(`${speed}\n`);
  return true;
};

const migrateSetspeed: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const raw = cmd.string('bandwidth') ?? '';
  if (!/^\d+$/.test(raw.trim())) {
    ctl.error(`Numeric value '${raw}' for <bandwidth> option is malformed or out of range`);
    return false;
  }
  await dom.migrateSetMaxSpeed(Number(raw.trim()), cmd.bool('postcopy') ? 1 : 0);
  return true;
};

export const handlers: Record<string, Handler> = {
  domblkstat,
  domifstat,
  domblkinfo,
  memtune,
  blkiotune,
  numatune,
  domiftune,
  'cpu-stats': cpuStats,
  domstats,
  domjobinfo,
  domjobabort,
  'migrate-getspeed': migrateGetspeed,
  'migrate-setspeed': migrateSetspeed,
};
