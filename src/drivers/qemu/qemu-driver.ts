/**
 * The QEMU driver's own calls: what the metadata driver does not cover because QEMU itself must
 * answer (statistics, hotplug, vCPU and balloon changes, tuning, guest facts). Each reads or
 * changes the domain's records as the metadata driver does and asks the running guest's QEMU
 * over QMP through {@link QemuGuests.monitor}. Calls are grouped by concern in the modules beside
 * this one; this class only binds them to the driver table.
 */
import type { DomainFSInfo, DomainInterface, DomainRef } from '../../core/driver.js';
import type { QmpClient } from './qmp.js';
import type { QemuRuntime } from './process.js';
import type { DomainRecord } from '../../store/store.js';
import { MetadataDriver, type MetadataDriverOptions } from '../metadata/driver.js';
import { checkActive } from '../../rules/lifecycle.js';
import { isActive } from '../metadata/records.js';
import type { QemuGuests } from './backend.js';
import { DomainInterfaceAddressesSource, DomainModificationImpact, ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { agentError, arpInterfaces } from './guest-net.js';
import { VirError } from '../../core/errors.js';
import { cpuMap, cpuPinsOf, cpusOf, setCpuPins } from '../../conf/cputune.js';
import type { DomainDef } from '../../conf/domain.js';
import { defsOf, oneDef } from '../metadata/defs.js';
import { hostCpuCount, pinEmulatorThreads, pinVcpuThread } from './pinning.js';
import { qemuCpuModelNames } from './cpu-models.js';

const { LIVE, CONFIG } = DomainModificationImpact;

function invalidArg(detail: string): VirError {
  return VirError.report(ErrorDomain.QEMU, ErrorNumber.INVALID_ARG, detail);
}
function emptyPin(cpus: readonly number[]): void {
  if (cpus.length === 0) throw invalidArg('Empty cpu list for pinning');
}
function pin(def: DomainDef, change: (pins: ReturnType<typeof cpuPinsOf>) => void): void {
  const pins = cpuPinsOf(def);
  change(pins);
  setCpuPins(def, pins);
}

/** What a call on a running guest works with: its record, monitor and process. */
export interface RunningGuest {
  rec: DomainRecord;
  qmp: QmpClient;
  runtime: QemuRuntime;
}

/** The QEMU driver: the metadata driver with real QEMU guests (QemuGuests) and QEMU's own calls. */
export class QemuDriver extends MetadataDriver {
  /** The backend, typed as QEMU's. */
  protected readonly guests: QemuGuests;

  constructor(options: MetadataDriverOptions & { backend: QemuGuests }) {
    super(options);
    this.guests = options.backend;
  }

  /**
   * The running guest `dom` names, with its monitor. VIR_ERR_NO_DOMAIN when it is gone;
   * VIR_ERR_OPERATION_INVALID "domain is not running" when it is inactive.
   */
  // Pinning (./pinning.ts): the pins in <cputune>, the threads' affinity on a running guest.

  /** virDomainPinVcpuFlags (null: virDomainPinVcpu, the live definition). */
  async domainPinVcpuFlags(dom: DomainRef, vcpu: number, cpumap: boolean[], flags: number | null): Promise<void> {
    const f = flags ?? LIVE;
    this.records.check(f, LIVE | CONFIG, 'DomainPinVcpuFlags');
    const cpus = cpusOf(cpumap);
    await this.editDefs(
      dom,
      'virDomainPinVcpuFlags',
      (rec) => {
        const defs = defsOf(rec, f);
        const persistent = defs.config;
        if (persistent !== null && vcpu >= (persistent.vcpu.current ?? persistent.vcpu.count)) {
          throw invalidArg(`vcpu ${vcpu} is out of range of persistent cpu count ${persistent.vcpu.current ?? persistent.vcpu.count}`);
        }
        emptyPin(cpus);
        const live = defs.live;
        if (live !== null && vcpu >= (live.vcpu.current ?? live.vcpu.count)) {
          throw invalidArg(`vcpu ${vcpu} is out of range of live cpu count ${live.vcpu.count}`);
        }
        for (const def of [live, persistent]) if (def !== null) pin(def, (p) => p.vcpupin.set(vcpu, cpus));
        return defs;
      },
      async (rec, defs) => {
        if (defs.live === null) return;
        const { qmp } = await this.guests.monitor(rec);
        await pinVcpuThread(qmp, vcpu, cpus);
      },
    );
  }
  /** virDomainPinEmulator. */
  async domainPinEmulator(dom: DomainRef, cpumap: boolean[], flags: number): Promise<void> {
    this.records.check(flags, LIVE | CONFIG, 'DomainPinEmulator');
    const cpus = cpusOf(cpumap);
    await this.editDefs(
      dom,
      'virDomainPinEmulator',
      (rec) => {
        const defs = defsOf(rec, flags);
        emptyPin(cpus);
        for (const def of [defs.live, defs.config]) {
          if (def !== null) {
            pin(def, (p) => {
              p.emulatorpin = cpus;
            });
          }
        }
        return defs;
      },
      async (rec, defs) => {
        if (defs.live === null) return;
        const { qmp, runtime } = await this.guests.monitor(rec);
        await pinEmulatorThreads(qmp, runtime.pid, cpus);
      },
    );
  }
  /** virDomainGetEmulatorPinInfo: the pin, or every host CPU. */
  async domainGetEmulatorPinInfo(dom: DomainRef, maxCpus: number, flags: number): Promise<boolean[]> {
    this.records.check(flags, LIVE | CONFIG, 'DomainGetEmulatorPinInfo');
    return cpuMap(cpuPinsOf(oneDef(this.records.resolve(dom), flags)).emulatorpin, maxCpus, hostCpuCount());
  }

  // Guest file systems and addresses (./guest-net.ts).

  /** virDomainGetFSInfo: needs a guest agent, which tsvirt's guests lack (libvirt's error). */
  async domainGetFSInfo(dom: DomainRef, flags: number): Promise<DomainFSInfo[]> {
    this.records.check(flags, 0, 'DomainGetFSInfo');
    const rec = this.records.resolve(dom);
    checkActive({ active: isActive(rec) });
    throw agentError(this.records.currentDef(rec));
  }
  /** virDomainInterfaceAddresses: LEASE (libvirt networks only), AGENT (refused), ARP. */
  async domainInterfaceAddresses(dom: DomainRef, source: number, flags: number): Promise<DomainInterface[]> {
    this.records.check(flags, 0, 'DomainInterfaceAddresses');
    const rec = this.records.resolve(dom);
    checkActive({ active: isActive(rec) });
    const def = this.records.currentDef(rec);
    switch (source) {
      case DomainInterfaceAddressesSource.LEASE:
        // Leases belong to libvirt networks; an interface on none has no lease.
        return [];
      case DomainInterfaceAddressesSource.AGENT:
        throw agentError(def);
      case DomainInterfaceAddressesSource.ARP:
        return arpInterfaces(def);
      default:
        throw VirError.report(ErrorDomain.QEMU, ErrorNumber.ARGUMENT_UNSUPPORTED, `Unknown IP address data source ${source}`);
    }
  }

  // Host.

  /** virConnectGetCPUModelNames (./cpu-models.ts). */
  async connectGetCPUModelNames(arch: string, flags: number): Promise<string[]> {
    this.records.check(flags, 0, 'ConnectGetCPUModelNames');
    return qemuCpuModelNames(arch);
  }

  protected async running(dom: DomainRef): Promise<RunningGuest> {
    const rec = this.records.resolve(dom);
    checkActive({ active: isActive(rec) });
    const { qmp, runtime } = await this.guests.monitor(rec);
    return { rec, qmp, runtime };
  }
}
