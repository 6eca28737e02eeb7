/**
 * The test driver's resource calls, as libvirt 9.0's test driver answers them: vCPU and memory
 * settings (kept in the domain's live and persistent definitions), the figures it invents for
 * statistics (memory stats, host CPU times, NUMA free memory) and the guest facts it fakes
 * (hostname, clock, control state). The figures are libvirt's constants, so clients and
 * test suites written against libvirt's test driver see the same numbers.
 */
import {
  DomainControlState,
  DomainDeviceModifyFlags as DeviceFlags,
  DomainMemoryFlags,
  DomainMemoryModFlags,
  DomainMemoryStatTags as Tag,
  DomainVcpuFlags,
  ErrorDomain,
  ErrorNumber,
  VcpuState,
} from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import type {
  BlockInfo,
  BlockStats,
  CpuStats,
  DomainControlInfo,
  DomainFSInfo,
  DomainInterface,
  DomainRef,
  DomainScreenshot,
  DomainStatsRecord,
  DomainTime,
  InterfaceStats,
  MemoryStat,
  NodeStat,
  TypedParameter,
  VcpuInfo,
} from '../../core/driver.js';
import * as stats from './stats.js';
import { checkFlags } from '../../rules/flags.js';
import { TEST_SCREENSHOT_MIME, testScreenshot } from './screenshot.js';
import type { DomainDef } from '../../conf/domain.js';
import { checkActive } from '../../rules/lifecycle.js';
import { MetadataDriver } from '../metadata/driver.js';
import { defsOf, oneDef } from '../metadata/defs.js';
import { isActive } from '../metadata/records.js';
import { infoOf } from '../metadata/lookups.js';
import { TEST_NODE_INFO } from './presets.js';
import { planDeviceCall, type DeviceCall, type LiveDevice } from '../metadata/devices.js';

/** A live device's name in events: its alias, else its target (disk) or MAC (interface). */
function liveAlias(dev: LiveDevice): string | undefined {
  if (dev.kind === 'disk') return dev.disk.alias ?? dev.disk.targetDev;
  if (dev.kind === 'interface') return dev.net.alias ?? dev.net.mac;
  return dev.el.children.find((c) => c.name === 'alias')?.attrs.name;
}
import { cpuMap, cpuPinsOf, cpusOf, setCpuPins } from '../../conf/cputune.js';
import { cpuModelNames } from './cpu-models.js';

/** The test host's CPUs (libvirt's test node: 16). */
const TEST_HOST_CPUS = TEST_NODE_INFO.nodes * TEST_NODE_INFO.sockets * TEST_NODE_INFO.cores * TEST_NODE_INFO.threads;

/** libvirt's test driver allows 32 vCPUs whatever the guest type. */
const TEST_MAX_VCPUS = 32;
/** Its two NUMA cells: memory (KiB) and free memory, reported as they are. */
const TEST_CELLS = [
  { mem: 2048 * 1024, freeMem: 1024 * 1024 },
  { mem: 2 * 2048 * 1024, freeMem: 2 * 1024 * 1024 },
] as const;
/** Its host CPU times (ns), the same for every CPU. */
const TEST_CPU_STATS: readonly NodeStat[] = [
  { field: 'user', value: 9797400000 },
  { field: 'kernel', value: 34678723400000 },
  { field: 'idle', value: 87264900000 },
  { field: 'iowait', value: 763600000 },
];
/** Its host CPU map: 8 CPUs, of which 0, 2 and 4 online. */
const TEST_CPU_MAP = [true, false, true, false, true, false, false, false];
/** The clock every test guest reports (seconds since the epoch), and its memory stats' last update. */
const TEST_GUEST_TIME = 627319920;

const { LIVE, CONFIG } = DomainVcpuFlags;
/** VIR_TYPED_PARAM_UINT, and the names libvirt gives the types in its errors. */
const TYPED_PARAM_UINT = 2;
const TYPED_PARAM_NAMES: Record<number, string> = { 1: 'int', 2: 'uint', 3: 'llong', 4: 'ullong', 5: 'double', 6: 'boolean', 7: 'string' };

const vcpusOf = (def: DomainDef): number => def.vcpu.current ?? def.vcpu.count;
function setVcpus(def: DomainDef, n: number): void {
  def.vcpu.current = n === def.vcpu.count ? undefined : n;
}
function setVcpusMax(def: DomainDef, n: number): void {
  const current = Math.min(vcpusOf(def), n);
  def.vcpu.count = n;
  setVcpus(def, current);
}

/** The test driver: the metadata driver with libvirt's test-driver resource calls. */
export class TestDriver extends MetadataDriver {
  /**
   * virDomainScreenshot as libvirt's test driver answers it: flags 0, any domain (libvirt's does
   * not even look it up), any screen; a PNG test image (./screenshot.ts).
   */
  override async domainScreenshot(_dom: DomainRef, _screen: number, flags: number): Promise<DomainScreenshot> {
    checkFlags(flags, 0, 'testDomainScreenshot', ErrorDomain.TEST);
    return { mimeType: TEST_SCREENSHOT_MIME, data: testScreenshot() };
  }

  /** libvirt's test driver renames a domain with snapshots or a managed save image too. */
  protected override readonly renameRules = { strict: false };
  /** Its save files: no flags, no replacement XML, always resumed on restore. */
  protected override readonly saveFileRules = { qemu: false };

  private invalid(detail: string): VirError {
    return VirError.report(ErrorDomain.TEST, ErrorNumber.INVALID_ARG, detail);
  }

  // Host.

  async connectGetMaxVcpus(): Promise<number> {
    return TEST_MAX_VCPUS;
  }
  async nodeGetCellsFreeMemory(startCell: number, maxCells: number): Promise<number[]> {
    if (startCell >= TEST_CELLS.length) throw this.invalid('Range exceeds available cells');
    return TEST_CELLS.slice(startCell, startCell + maxCells).map((c) => c.mem);
  }
  async nodeGetFreeMemory(): Promise<number> {
    return TEST_CELLS.reduce((sum, c) => sum + c.freeMem, 0);
  }
  async nodeGetCPUStats(_cpuNum: number, flags: number): Promise<NodeStat[]> {
    this.records.check(flags, 0, 'NodeGetCPUStats');
    return TEST_CPU_STATS.map((s) => ({ ...s }));
  }
  async nodeGetCPUMap(flags: number): Promise<boolean[]> {
    this.records.check(flags, 0, 'NodeGetCPUMap');
    return [...TEST_CPU_MAP];
  }

  // vCPUs.

  async domainGetVcpusFlags(dom: DomainRef, flags: number): Promise<number> {
    this.records.check(flags, LIVE | CONFIG | DomainVcpuFlags.MAXIMUM, 'DomainGetVcpusFlags');
    const def = oneDef(this.records.resolve(dom), flags);
    return (flags & DomainVcpuFlags.MAXIMUM) !== 0 ? def.vcpu.count : vcpusOf(def);
  }
  async domainGetMaxVcpus(dom: DomainRef): Promise<number> {
    return this.domainGetVcpusFlags(dom, LIVE | DomainVcpuFlags.MAXIMUM);
  }
  async domainSetVcpus(dom: DomainRef, nvcpus: number): Promise<void> {
    return this.domainSetVcpusFlags(dom, nvcpus, LIVE);
  }
  async domainSetVcpusFlags(dom: DomainRef, nvcpus: number, flags: number): Promise<void> {
    this.records.check(flags, LIVE | CONFIG | DomainVcpuFlags.MAXIMUM, 'DomainSetVcpusFlags');
    const maximum = (flags & DomainVcpuFlags.MAXIMUM) !== 0;
    await this.editDefs(dom, 'virDomainSetVcpusFlags', (rec) => {
      const defs = defsOf(rec, flags);
      if (nvcpus > TEST_MAX_VCPUS) {
        throw this.invalid(`requested cpu amount exceeds maximum supported amount (${nvcpus} > ${TEST_MAX_VCPUS})`);
      }
      for (const def of [defs.live, maximum ? null : defs.config]) {
        if (def !== null && def.vcpu.count < nvcpus) {
          throw this.invalid(`requested cpu amount exceeds maximum (${nvcpus} > ${def.vcpu.count})`);
        }
      }
      if (defs.live !== null) setVcpus(defs.live, nvcpus);
      if (defs.config !== null) (maximum ? setVcpusMax : setVcpus)(defs.config, nvcpus);
      return defs;
    });
  }
  async domainGetVcpus(dom: DomainRef, maxinfo: number, maxCpus: number): Promise<VcpuInfo[]> {
    const rec = this.records.resolve(dom);
    if (!isActive(rec) || rec.liveXml === null) {
      throw VirError.report(ErrorDomain.TEST, ErrorNumber.OPERATION_INVALID, 'cannot list vcpus for an inactive domain');
    }
    const def = this.records.liveDefOf(rec);
    const hostCpus = TEST_NODE_INFO.nodes * TEST_NODE_INFO.sockets * TEST_NODE_INFO.cores * TEST_NODE_INFO.threads;
    const { cpuTime } = infoOf(rec);
    const n = Math.min(maxinfo, vcpusOf(def));
    return Array.from({ length: n }, (_, i) => ({
      number: i,
      state: VcpuState.RUNNING,
      cpuTime,
      // As libvirt's: every vCPU "runs" on the last host CPU and may run on any.
      cpu: hostCpus - 1,
      affinity: Array.from({ length: maxCpus }, (_, c) => c < hostCpus),
    }));
  }

  async domainGetVcpuPinInfo(dom: DomainRef, ncpumaps: number, maxCpus: number, flags: number): Promise<boolean[][]> {
    this.records.check(flags, LIVE | CONFIG, 'DomainGetVcpuPinInfo');
    const def = oneDef(this.records.resolve(dom), flags);
    const pins = cpuPinsOf(def).vcpupin;
    // An unpinned vCPU may run on every host CPU.
    return Array.from({ length: Math.min(ncpumaps, def.vcpu.count) }, (_, v) => cpuMap(pins.get(v), maxCpus, TEST_HOST_CPUS));
  }

  // Pinning: kept in <cputune> (libvirt's test driver pins live vCPUs only; the emulator either way).

  async domainPinVcpuFlags(dom: DomainRef, vcpu: number, cpumap: boolean[], flags: number | null): Promise<void> {
    this.records.check(flags ?? 0, LIVE, 'DomainPinVcpuFlags');
    await this.editDefs(dom, 'virDomainPinVcpuFlags', (rec) => {
      if (!isActive(rec)) throw VirError.report(ErrorDomain.TEST, ErrorNumber.OPERATION_INVALID, 'cannot pin vcpus on an inactive domain');
      const defs = defsOf(rec, LIVE);
      const live = defs.live as DomainDef;
      if (vcpu >= vcpusOf(live)) {
        throw VirError.report(ErrorDomain.TEST, ErrorNumber.INVALID_ARG, `requested vcpu '${vcpu}' is not present in the domain`);
      }
      const pins = cpuPinsOf(live);
      pins.vcpupin.set(vcpu, cpusOf(cpumap));
      setCpuPins(live, pins);
      return defs;
    });
  }
  async domainPinEmulator(dom: DomainRef, cpumap: boolean[], flags: number): Promise<void> {
    this.records.check(flags, LIVE | CONFIG, 'DomainPinEmulator');
    await this.editDefs(dom, 'virDomainPinEmulator', (rec) => {
      const defs = defsOf(rec, flags);
      const cpus = cpusOf(cpumap);
      if (cpus.length === 0) throw VirError.report(ErrorDomain.TEST, ErrorNumber.INVALID_ARG, 'Empty cpu list for pinning');
      for (const def of [defs.live, defs.config]) {
        if (def === null) continue;
        const pins = cpuPinsOf(def);
        pins.emulatorpin = cpus;
        setCpuPins(def, pins);
      }
      return defs;
    });
  }
  async domainGetEmulatorPinInfo(dom: DomainRef, maxCpus: number, flags: number): Promise<boolean[]> {
    this.records.check(flags, LIVE | CONFIG, 'DomainGetEmulatorPinInfo');
    return cpuMap(cpuPinsOf(oneDef(this.records.resolve(dom), flags)).emulatorpin, maxCpus, TEST_HOST_CPUS);
  }

  // Guest file systems and addresses: libvirt's test driver's fixed answers.

  async domainGetFSInfo(dom: DomainRef, flags: number): Promise<DomainFSInfo[]> {
    this.records.check(flags, 0, 'DomainGetFSInfo');
    const disk = this.records.liveDefOf(this.records.resolve(dom)).devices.disks.find((d) => d.device === 'disk');
    if (disk === undefined) return [];
    const t = disk.targetDev;
    return [
      { mountpoint: '/', name: `${t}1`, fstype: 'ext4', devAliases: [t] },
      { mountpoint: '/boot', name: `${t}2`, fstype: 'ext4', devAliases: [t] },
    ];
  }
  async domainInterfaceAddresses(dom: DomainRef, source: number, flags: number): Promise<DomainInterface[]> {
    this.records.check(flags, 0, 'DomainInterfaceAddresses');
    if (source > 2) throw VirError.report(ErrorDomain.TEST, ErrorNumber.ARGUMENT_UNSUPPORTED, `Unknown IP address data source ${source}`);
    // testnetN, the next addresses of the test network's DHCP range for network interfaces, else 192.168.0.N.
    return this.records.liveDefOf(this.records.resolve(dom)).devices.interfaces.map((n, i) => ({
      name: `testnet${i}`,
      hwaddr: n.mac,
      addrs: [{ type: 0, addr: n.type === 'network' ? `192.168.122.${3 + i}` : `192.168.0.${1 + i}`, prefix: 24 }],
    }));
  }

  // CPU models: libvirt's CPU map, by architecture.

  async connectGetCPUModelNames(arch: string, flags: number): Promise<string[]> {
    this.records.check(flags, 0, 'ConnectGetCPUModelNames');
    return cpuModelNames(arch);
  }

  // Scheduler: libvirt's test driver has one 'fair' scheduler with a weight of 50 it never changes.

  async domainGetSchedulerType(dom: DomainRef): Promise<[string, number]> {
    this.records.resolveStatus(dom);
    return ['fair', 1];
  }
  async domainGetSchedulerParameters(dom: DomainRef, _nparams: number, flags: number | null): Promise<TypedParameter[]> {
    this.records.check(flags ?? 0, 0, 'DomainGetSchedulerParametersFlags');
    this.records.resolveStatus(dom);
    return [{ field: 'weight', type: TYPED_PARAM_UINT, value: 50 }];
  }
  async domainSetSchedulerParameters(dom: DomainRef, params: TypedParameter[], flags: number | null): Promise<void> {
    this.records.check(flags ?? 0, 0, 'DomainSetSchedulerParametersFlags');
    for (const p of params) {
      if (p.field !== 'weight') throw VirError.report(ErrorDomain.TEST, ErrorNumber.ARGUMENT_UNSUPPORTED, `parameter '${p.field}' not supported`);
      if (p.type !== TYPED_PARAM_UINT) {
        throw VirError.invalidArg(ErrorDomain.TEST, `invalid type '${TYPED_PARAM_NAMES[p.type] ?? p.type}' for parameter '${p.field}', expected 'uint'`);
      }
    }
    this.records.resolveStatus(dom);
  }

  // Memory.

  async domainSetMemory(dom: DomainRef, memory: number): Promise<void> {
    return this.setMemory(dom, memory, LIVE, 'virDomainSetMemory');
  }
  async domainSetMaxMemory(dom: DomainRef, memory: number): Promise<void> {
    return this.setMemory(dom, memory, DomainMemoryModFlags.MAXIMUM, 'virDomainSetMaxMemory');
  }
  async domainSetMemoryFlags(dom: DomainRef, memory: number, flags: number): Promise<void> {
    this.records.check(flags, LIVE | CONFIG | DomainMemoryModFlags.MAXIMUM, 'DomainSetMemoryFlags');
    return this.setMemory(dom, memory, flags, 'virDomainSetMemoryFlags');
  }
  private async setMemory(dom: DomainRef, memory: number, flags: number, api: string): Promise<void> {
    await this.editDefs(dom, api, (rec) => {
      const defs = defsOf(rec, flags);
      if ((flags & DomainMemoryModFlags.MAXIMUM) !== 0) {
        if (defs.live !== null) {
          throw VirError.report(ErrorDomain.TEST, ErrorNumber.OPERATION_INVALID, 'cannot resize the maximum memory on an active domain');
        }
        if (defs.config !== null) {
          defs.config.memory = memory;
          defs.config.currentMemory = Math.min(defs.config.currentMemory, memory);
        }
        return defs;
      }
      for (const def of [defs.live, defs.config]) {
        if (def !== null && memory > def.memory) throw this.invalid('cannot set memory higher than max memory');
      }
      for (const def of [defs.live, defs.config]) if (def !== null) def.currentMemory = memory;
      return defs;
    });
  }
  async domainMemoryStats(dom: DomainRef, nrStats: number, flags: number): Promise<MemoryStat[]> {
    this.records.check(flags, 0, 'DomainMemoryStats');
    const rec = this.records.resolve(dom);
    // As libvirt's: a guest without a balloon reports nothing.
    const balloon = this.records.liveDefOf(rec).devices.memballoon;
    if (balloon === undefined || balloon.model === 'none') return [];
    const cur = rec.memory;
    const half = Math.floor(cur / 2);
    const stats: MemoryStat[] = [
      { tag: Tag.ACTUAL_BALLOON, val: cur },
      { tag: Tag.SWAP_IN, val: 0 },
      { tag: Tag.SWAP_OUT, val: 0 },
      { tag: Tag.MAJOR_FAULT, val: 0 },
      { tag: Tag.MINOR_FAULT, val: 0 },
      { tag: Tag.UNUSED, val: half },
      { tag: Tag.AVAILABLE, val: cur },
      { tag: Tag.USABLE, val: half },
      { tag: Tag.LAST_UPDATE, val: TEST_GUEST_TIME },
      { tag: Tag.DISK_CACHES, val: Math.floor(cur / 8) },
      { tag: Tag.HUGETLB_PGALLOC, val: 0 },
      { tag: Tag.HUGETLB_PGFAIL, val: 0 },
      { tag: Tag.RSS, val: half },
    ];
    return stats.slice(0, nrStats);
  }

  // Statistics and tuning (./stats.ts).

  private get statsHost(): stats.TestStatsHost {
    return { records: this.records, editDefs: (dom, api, change) => this.editDefs(dom, api, change) };
  }
  async domainBlockStats(dom: DomainRef, path: string): Promise<BlockStats> {
    return stats.blockStats(this.statsHost, dom, path);
  }
  async domainInterfaceStats(dom: DomainRef, device: string): Promise<InterfaceStats> {
    return stats.interfaceStats(this.statsHost, dom, device);
  }
  async domainGetBlockInfo(dom: DomainRef, path: string, flags: number): Promise<BlockInfo> {
    return stats.blockInfo(this.statsHost, dom, path, flags);
  }
  /**
   * virDomainMemoryPeek as libvirt's test driver: exactly one of VIRTUAL and PHYSICAL, a running
   * domain, and byte `start + i` reads as its address modulo 256 (there is no guest memory).
   */
  async domainMemoryPeek(dom: DomainRef, start: number, size: number, flags: number): Promise<Buffer> {
    this.records.check(flags, DomainMemoryFlags.VIRTUAL | DomainMemoryFlags.PHYSICAL, 'DomainMemoryPeek');
    if (flags !== DomainMemoryFlags.VIRTUAL && flags !== DomainMemoryFlags.PHYSICAL) {
      throw VirError.report(ErrorDomain.TEST, ErrorNumber.INVALID_ARG, 'flags parameter must be VIR_MEMORY_VIRTUAL or VIR_MEMORY_PHYSICAL');
    }
    checkActive({ active: isActive(this.records.resolve(dom)) });
    const buf = Buffer.alloc(size);
    const base = start % 256;
    for (let i = 0; i < size; i++) buf[i] = (base + i) % 256;
    return buf;
  }
  async domainGetMemoryParameters(dom: DomainRef, flags: number): Promise<TypedParameter[]> {
    return stats.getMemoryParameters(this.statsHost, dom, flags);
  }
  async domainSetMemoryParameters(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
    return stats.setMemoryParameters(this.statsHost, dom, params, flags);
  }
  async domainGetBlkioParameters(dom: DomainRef, flags: number): Promise<TypedParameter[]> {
    return stats.getBlkioParameters(this.statsHost, dom, flags);
  }
  async domainSetBlkioParameters(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
    return stats.setBlkioParameters(this.statsHost, dom, params, flags);
  }
  async domainGetNumaParameters(dom: DomainRef, flags: number): Promise<TypedParameter[]> {
    return stats.getNumaParameters(this.statsHost, dom, flags);
  }
  async domainSetNumaParameters(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
    return stats.setNumaParameters(this.statsHost, dom, params, flags);
  }
  async domainGetInterfaceParameters(dom: DomainRef, device: string, flags: number): Promise<TypedParameter[]> {
    return stats.getInterfaceParameters(this.statsHost, dom, device, flags);
  }
  async domainSetInterfaceParameters(dom: DomainRef, device: string, params: TypedParameter[], flags: number): Promise<void> {
    return stats.setInterfaceParameters(this.statsHost, dom, device, params, flags);
  }
  async domainGetCPUStats(dom: DomainRef, startCpu: number, ncpus: number, flags: number): Promise<CpuStats> {
    return stats.cpuStats(this.statsHost, dom, startCpu, ncpus, flags);
  }
  async connectGetAllDomainStats(doms: DomainRef[], which: number, flags: number): Promise<DomainStatsRecord[]> {
    return stats.allDomainStats(
      this.statsHost,
      (f) => this.listAllStates(f),
      doms,
      which,
      flags,
    );
  }

  // Guest facts.

  async domainIsUpdated(dom: DomainRef): Promise<boolean> {
    this.records.resolveStatus(dom);
    return false;
  }
  async domainGetControlInfo(dom: DomainRef, flags: number): Promise<DomainControlInfo> {
    this.records.check(flags, 0, 'DomainGetControlInfo');
    checkActive({ active: isActive(this.records.resolveStatus(dom)) });
    return { state: DomainControlState.OK, details: 0, stateTime: 0 };
  }
  async domainReset(dom: DomainRef, flags: number): Promise<void> {
    this.records.check(flags, 0, 'DomainReset');
    checkActive({ active: isActive(this.records.resolveStatus(dom)) });
  }
  async domainGetHostname(dom: DomainRef, flags: number): Promise<string> {
    this.records.check(flags, 0, 'DomainGetHostname');
    checkActive({ active: isActive(this.records.resolveStatus(dom)) });
    return 'testhost';
  }
  async domainGetTime(dom: DomainRef, flags: number): Promise<DomainTime> {
    this.records.check(flags, 0, 'DomainGetTime');
    if (!isActive(this.records.resolveStatus(dom))) {
      throw VirError.report(ErrorDomain.TEST, ErrorNumber.OPERATION_INVALID, 'domain is not running');
    }
    return { seconds: TEST_GUEST_TIME, nseconds: 0 };
  }

  // Devices: the simulator's guest takes any device at once, so live and config edits are the
  // same definition edits (libvirt 9.0's own test driver has none of these calls).

  async domainAttachDevice(dom: DomainRef, xml: string): Promise<void> {
    return this.deviceCall(dom, 'virDomainAttachDevice', DeviceFlags.LIVE, { op: 'attach', xml });
  }
  async domainAttachDeviceFlags(dom: DomainRef, xml: string, flags: number): Promise<void> {
    this.records.check(flags, DeviceFlags.LIVE | DeviceFlags.CONFIG, 'DomainAttachDeviceFlags');
    return this.deviceCall(dom, 'virDomainAttachDeviceFlags', flags, { op: 'attach', xml });
  }
  async domainDetachDevice(dom: DomainRef, xml: string): Promise<void> {
    return this.deviceCall(dom, 'virDomainDetachDevice', DeviceFlags.LIVE, { op: 'detach', xml });
  }
  async domainDetachDeviceFlags(dom: DomainRef, xml: string, flags: number): Promise<void> {
    this.records.check(flags, DeviceFlags.LIVE | DeviceFlags.CONFIG, 'DomainDetachDeviceFlags');
    return this.deviceCall(dom, 'virDomainDetachDeviceFlags', flags, { op: 'detach', xml });
  }
  async domainUpdateDeviceFlags(dom: DomainRef, xml: string, flags: number): Promise<void> {
    this.records.check(flags, DeviceFlags.LIVE | DeviceFlags.CONFIG | DeviceFlags.FORCE, 'DomainUpdateDeviceFlags');
    return this.deviceCall(dom, 'virDomainUpdateDeviceFlags', flags & ~DeviceFlags.FORCE, { op: 'update', xml });
  }
  async domainDetachDeviceAlias(dom: DomainRef, alias: string, flags: number): Promise<void> {
    this.records.check(flags, DeviceFlags.LIVE | DeviceFlags.CONFIG, 'DomainDetachDeviceAlias');
    return this.deviceCall(dom, 'virDomainDetachDeviceAlias', flags, { op: 'alias', alias });
  }
  private async deviceCall(dom: DomainRef, api: string, flags: number, call: DeviceCall): Promise<void> {
    let plan: ReturnType<typeof planDeviceCall> | undefined;
    await this.editDefs(dom, api, (rec) => {
      plan = planDeviceCall(rec, flags, call);
      return plan.defs;
    });
    // The simulated guest takes and lets go of devices at once: the events follow the call.
    if (plan?.defs.live == null) return;
    if (plan.added !== undefined) this.emitDeviceChange(dom, 19, liveAlias(plan.added));
    if (plan.removed !== undefined) this.emitDeviceChange(dom, 15, liveAlias(plan.removed));
  }
}
