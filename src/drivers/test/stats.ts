/**
 * The test driver's statistics and tuning calls, as libvirt 9.0's test driver answers them:
 * block and interface statistics made up from the clock (so they grow), fixed block sizes and
 * CPU times, tuning parameters kept in the definitions, and all-domain statistics with the state
 * group only. Calls libvirt's test driver lacks (block stats with flags, jobs, migration speed)
 * are absent here, so the API answers VIR_ERR_NO_SUPPORT as libvirt does.
 */
import type { BlockInfo, BlockStats, CpuStats, DomainRef, DomainStatsRecord, InterfaceStats, TypedParameter } from '../../core/driver.js';
import { ConnectGetAllDomainStatsFlags as StatsFlags, DomainModificationImpact, DomainStatsTypes, ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import { checkActive } from '../../rules/lifecycle.js';
import type { DomainDef } from '../../conf/domain.js';
import type { DomainRecord } from '../../store/store.js';
import type { Defs } from '../metadata/defs.js';
import { defsOf, oneDef } from '../metadata/defs.js';
import { isActive, type DomainRecords } from '../metadata/records.js';
import type { DomainWithState } from '../metadata/lookups.js';
import {
  BLKIO_PARAMS,
  INTERFACE_PARAMS,
  MEMORY_PARAMS,
  NUMA_PARAMS,
  applyBlkioParams,
  applyInterfaceParams,
  applyMemoryParams,
  applyNumaParams,
  blkioParams,
  interfaceOf,
  interfaceParams,
  memoryParams,
  numaParams,
  validateParams,
} from '../metadata/tuning.js';
import { TEST_NODE_INFO } from './presets.js';

/** What the calls need of the test driver (its records, and its way to edit definitions). */
export interface TestStatsHost {
  readonly records: DomainRecords;
  editDefs(dom: DomainRef, api: string, change: (rec: DomainRecord) => Defs): Promise<void>;
}

const { LIVE, CONFIG } = DomainModificationImpact;
const STRING_OKAY = 4;
const ULLONG = 4;
/** libvirt's test driver's total CPU time of a domain (ns). */
const TEST_TOTAL_CPUTIME = 48772617035;
/** Its block sizes (bytes). */
const TEST_BLOCK_CAPACITY = 1099506450432;
const TEST_BLOCK_PHYSICAL = 1099511627776;

const microsNow = (): number => Date.now() * 1000;

/** virDomainDiskIndexByName: a disk by target, or by source path. */
function findDisk(def: Readonly<DomainDef>, path: string) {
  return def.devices.disks.find((d) => d.targetDev === path) ?? def.devices.disks.find((d) => d.sourceFile === path || d.sourceDev === path);
}

export async function blockStats(host: TestStatsHost, dom: DomainRef, path: string): Promise<BlockStats> {
  if (path === '') throw VirError.report(ErrorDomain.TEST, ErrorNumber.OPERATION_UNSUPPORTED, 'summary statistics are not supported yet');
  const def = host.records.liveDefOf(host.records.resolve(dom));
  if (findDisk(def, path) === undefined) throw VirError.report(ErrorDomain.TEST, ErrorNumber.INVALID_ARG, `invalid path: ${path}`);
  // As libvirt's: no meaning, just numbers that grow with the clock (microseconds).
  const base = microsNow();
  return {
    rdReq: Math.floor(base / 10),
    rdBytes: Math.floor(base / 20),
    wrReq: Math.floor(base / 30),
    wrBytes: Math.floor(base / 40),
    errs: Math.floor(base / 2_000_000),
  };
}

export async function interfaceStats(host: TestStatsHost, dom: DomainRef, device: string): Promise<InterfaceStats> {
  const def = host.records.liveDefOf(host.records.resolve(dom));
  interfaceOf(def, device, ErrorDomain.DOMAIN);
  const base = microsNow();
  return {
    rxBytes: Math.floor(base / 10),
    rxPackets: Math.floor(base / 100),
    rxErrs: Math.floor(base / 1_000_000),
    rxDrop: Math.floor(base / 2_000_000),
    txBytes: Math.floor(base / 20),
    txPackets: Math.floor(base / 110),
    txErrs: Math.floor(base / 3_000_000),
    txDrop: Math.floor(base / 4_000_000),
  };
}

export async function blockInfo(host: TestStatsHost, dom: DomainRef, path: string, flags: number): Promise<BlockInfo> {
  host.records.check(flags, 0, 'DomainGetBlockInfo');
  const def = host.records.currentDef(host.records.resolve(dom));
  const disk = findDisk(def, path);
  if (disk === undefined) throw VirError.report(ErrorDomain.TEST, ErrorNumber.INVALID_ARG, `invalid path ${path} not assigned to domain`);
  if (disk.sourceFile === undefined && disk.sourceDev === undefined) {
    throw VirError.report(ErrorDomain.TEST, ErrorNumber.INVALID_ARG, `disk '${path}' does not currently have a source assigned`);
  }
  return { capacity: TEST_BLOCK_CAPACITY, allocation: TEST_BLOCK_PHYSICAL, physical: TEST_BLOCK_PHYSICAL };
}

// Tuning: kept in the definitions (virDomainObjGetOneDef, as libvirt's test driver).

function getOne(host: TestStatsHost, dom: DomainRef, flags: number, name: string): DomainDef {
  host.records.check(flags, LIVE | CONFIG | STRING_OKAY, name);
  return oneDef(host.records.resolve(dom), flags & ~STRING_OKAY);
}

async function setOne(host: TestStatsHost, dom: DomainRef, api: string, flags: number, edit: (def: DomainDef, live: boolean) => void): Promise<void> {
  await host.editDefs(dom, api, (rec) => {
    const defs = defsOf(rec, flags);
    // libvirt's test driver edits one definition (virDomainObjGetOneDef): the live one first.
    const live = defs.live !== null;
    const def = defs.live ?? defs.config;
    if (def === null) throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.OPERATION_INVALID, 'domain is not running');
    edit(def, live);
    return live ? { live: def, config: null } : { live: null, config: def };
  });
}

export async function getMemoryParameters(host: TestStatsHost, dom: DomainRef, flags: number): Promise<TypedParameter[]> {
  return memoryParams(getOne(host, dom, flags, 'DomainGetMemoryParameters'));
}
export async function setMemoryParameters(host: TestStatsHost, dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
  host.records.check(flags, LIVE | CONFIG, 'DomainSetMemoryParameters');
  validateParams(params, MEMORY_PARAMS, ErrorDomain.TEST);
  await setOne(host, dom, 'virDomainSetMemoryParameters', flags, (def) => applyMemoryParams(def, params, ErrorDomain.TEST));
}
export async function getBlkioParameters(host: TestStatsHost, dom: DomainRef, flags: number): Promise<TypedParameter[]> {
  return blkioParams(getOne(host, dom, flags, 'DomainGetBlkioParameters'));
}
export async function setBlkioParameters(host: TestStatsHost, dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
  host.records.check(flags, LIVE | CONFIG, 'DomainSetBlkioParameters');
  validateParams(params, BLKIO_PARAMS, ErrorDomain.TEST);
  await setOne(host, dom, 'virDomainSetBlkioParameters', flags, (def) => applyBlkioParams(def, params, ErrorDomain.TEST, false));
}
export async function getNumaParameters(host: TestStatsHost, dom: DomainRef, flags: number): Promise<TypedParameter[]> {
  return numaParams(getOne(host, dom, flags, 'DomainGetNumaParameters'));
}
export async function setNumaParameters(host: TestStatsHost, dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
  host.records.check(flags, LIVE | CONFIG, 'DomainSetNumaParameters');
  validateParams(params, NUMA_PARAMS, ErrorDomain.TEST);
  await setOne(host, dom, 'virDomainSetNumaParameters', flags, (def, live) => applyNumaParams(def, params, ErrorDomain.TEST, live));
}
export async function getInterfaceParameters(host: TestStatsHost, dom: DomainRef, device: string, flags: number): Promise<TypedParameter[]> {
  const def = getOne(host, dom, flags, 'DomainGetInterfaceParameters');
  return interfaceParams(interfaceOf(def, device, ErrorDomain.DOMAIN));
}
export async function setInterfaceParameters(host: TestStatsHost, dom: DomainRef, device: string, params: TypedParameter[], flags: number): Promise<void> {
  host.records.check(flags, LIVE | CONFIG, 'DomainSetInterfaceParameters');
  validateParams(params, INTERFACE_PARAMS, ErrorDomain.TEST);
  await setOne(host, dom, 'virDomainSetInterfaceParameters', flags, (def) => applyInterfaceParams(interfaceOf(def, device, ErrorDomain.DOMAIN), params));
}

// CPU statistics: libvirt's test driver's constants, over its host's cores (2).

export async function cpuStats(host: TestStatsHost, dom: DomainRef, startCpu: number, ncpus: number, flags: number): Promise<CpuStats> {
  host.records.check(flags, STRING_OKAY, 'DomainGetCPUStats');
  checkActive({ active: isActive(host.records.resolveStatus(dom)) });
  const cpus = TEST_NODE_INFO.cores;
  if (startCpu === -1) {
    return {
      cpus,
      stats: [
        [
          { field: 'cpu_time', type: ULLONG, value: TEST_TOTAL_CPUTIME },
          { field: 'user_time', type: ULLONG, value: 5540000000 },
          { field: 'system_time', type: ULLONG, value: 6460000000 },
        ],
      ],
    };
  }
  if (startCpu >= cpus) throw VirError.report(ErrorDomain.TEST, ErrorNumber.INVALID_ARG, `start_cpu ${startCpu} larger than maximum of ${cpus - 1}`);
  const per = Math.floor(TEST_TOTAL_CPUTIME / cpus);
  const stats: TypedParameter[][] = [];
  for (let i = startCpu; i < Math.min(cpus, startCpu + ncpus); i++) {
    stats.push([
      { field: 'cpu_time', type: ULLONG, value: per + i },
      { field: 'vcpu_time', type: ULLONG, value: per + i - 1234567890 },
    ]);
  }
  return { cpus, stats };
}

// All-domain statistics: libvirt's test driver has the state group (and iothreads, which tsvirt
// does not model).

const SUPPORTED_STATS = DomainStatsTypes.STATE | DomainStatsTypes.IOTHREAD;
const LIST_FILTERS =
  StatsFlags.ACTIVE | StatsFlags.INACTIVE | StatsFlags.PERSISTENT | StatsFlags.TRANSIENT | StatsFlags.RUNNING | StatsFlags.PAUSED | StatsFlags.SHUTOFF | StatsFlags.OTHER;

export async function allDomainStats(
  host: TestStatsHost,
  listAll: (flags: number) => DomainWithState[],
  doms: DomainRef[],
  stats: number,
  flags: number,
): Promise<DomainStatsRecord[]> {
  host.records.check(flags, LIST_FILTERS | StatsFlags.NOWAIT | StatsFlags.BACKING | StatsFlags.ENFORCE_STATS, 'ConnectGetAllDomainStats');
  if (stats === 0) stats = SUPPORTED_STATS;
  else if ((flags & StatsFlags.ENFORCE_STATS) !== 0 && (stats & ~SUPPORTED_STATS) !== 0) {
    const bits = (stats & ~SUPPORTED_STATS) >>> 0;
    throw VirError.report(ErrorDomain.TEST, ErrorNumber.ARGUMENT_UNSUPPORTED, `Stats types bits 0x${bits.toString(16)} are not supported by this daemon`);
  }
  // The list flags are listAllDomains' own bits (virConnectListAllDomainsFlags 1..128); each
  // domain's state comes from the same read of the store as the list.
  const listed = listAll(flags & LIST_FILTERS);
  let chosen = listed;
  if (doms.length > 0) {
    const order = new Map<string, number>();
    doms.forEach((d, i) => {
      if (!order.has(d.uuid)) order.set(d.uuid, i);
    });
    chosen = listed.filter((d) => order.has(d.dom.uuid));
    chosen.sort((a, b) => order.get(a.dom.uuid)! - order.get(b.dom.uuid)!);
  }
  const withState = (stats & DomainStatsTypes.STATE) !== 0;
  return chosen.map((d) => ({
    dom: d.dom,
    params: withState ? [{ field: 'state.state', type: 1, value: d.state }, { field: 'state.reason', type: 1, value: d.reason }] : [],
  }));
}
