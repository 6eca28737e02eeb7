/**
 * The guest CPU on QEMU's command line, as libvirt's qemu driver builds it from `<cpu>`
 * (qemuBuildCpuCommandLine) for the accelerators tsvirt runs: `<cpu mode='custom'><model>`
 * with its features (`-cpu MODEL,FEAT=on|off`), `maximum` (`-cpu max`), host-passthrough (`host`,
 * KVM only) and host-model (refused: tsvirt probes no host CPU model), and `<topology>` as
 * `-smp`'s sockets/dies/cores/threads. Pure: the model list comes from the caller.
 */
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError, configUnsupported } from '../../core/errors.js';
import type { DomainDef } from '../../conf/domain.js';
import type { XmlElement } from '../../conf/xml.js';

const DOM = ErrorDomain.QEMU;

/** The `<cpu>` element of a definition (kept whole by the domain model). */
export function cpuElement(def: DomainDef): XmlElement | undefined {
  return def.kept?.['']?.children?.find((c) => c.el.name === 'cpu' && c.el.namespaceURI === undefined)?.el;
}

function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

/** `<topology>`: the counts libvirt gives `-smp` (dies default to 1). */
export interface CpuTopology {
  sockets: number;
  dies: number;
  cores: number;
  threads: number;
}

/**
 * `-smp` for the definition: the vCPUs at start, the maximum, and the topology when `<cpu>` has
 * one. libvirt's check that the topology holds exactly the maximum vCPU count (VIR_ERR_XML_ERROR
 * "CPU topology doesn't match maximum vcpu count").
 */
export function smpArg(def: DomainDef): string {
  const max = def.vcpu.count;
  const cpus = def.vcpu.current ?? max;
  const parts = [String(cpus)];
  const topo = cpuTopology(def);
  if (cpus !== max || topo !== undefined) parts.push(`maxcpus=${max}`);
  if (topo !== undefined) {
    if (topo.sockets * topo.dies * topo.cores * topo.threads !== max) {
      throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.XML_ERROR, "CPU topology doesn't match maximum vcpu count");
    }
    parts.push(`sockets=${topo.sockets}`);
    if (topo.dies !== 1) parts.push(`dies=${topo.dies}`);
    parts.push(`cores=${topo.cores}`, `threads=${topo.threads}`);
  }
  return parts.join(',');
}

/** The topology `<cpu><topology>` gives, if any; each count a positive integer (libvirt's parse errors). */
export function cpuTopology(def: DomainDef): CpuTopology | undefined {
  const cpu = cpuElement(def);
  const t = cpu === undefined ? undefined : child(cpu, 'topology');
  if (t === undefined) return undefined;
  const count = (name: string, dflt?: number): number => {
    const v = t.attrs[name];
    if (v === undefined && dflt !== undefined) return dflt;
    if (v === undefined || !/^\d+$/.test(v) || Number(v) === 0) {
      throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.XML_ERROR, `Invalid '${name}' value in CPU topology`);
    }
    return Number(v);
  };
  return { sockets: count('sockets'), dies: count('dies', 1), cores: count('cores'), threads: count('threads') };
}

/**
 * `-cpu` for the definition, or undefined for QEMU's default model (no `<cpu>`, or one with only a
 * topology). `models`: what the emulator lists in `-cpu help`; undefined skips the model check.
 *
 * Errors: VIR_ERR_CONFIG_UNSUPPORTED "CPU mode 'M' for ARCH TYPE domain on ARCH host is not
 * supported by hypervisor" (host-passthrough under TCG, host-model) and "CPU model X is not
 * supported by hypervisor" (a model the emulator lacks), libvirt's words.
 */
export function cpuArg(def: DomainDef, models: readonly string[] | undefined): string | undefined {
  const cpu = cpuElement(def);
  if (cpu === undefined) return undefined;
  const model = child(cpu, 'model');
  const mode = cpu.attrs.mode ?? (model !== undefined ? 'custom' : undefined);
  const arch = def.os.arch ?? 'x86_64';
  const unsupportedMode = (m: string) =>
    configUnsupported(DOM, `CPU mode '${m}' for ${arch} ${def.type} domain on ${process.arch === 'x64' ? 'x86_64' : process.arch} host is not supported by hypervisor`);
  let base: string;
  switch (mode) {
    case undefined:
      return undefined;
    case 'host-passthrough':
      // QEMU's 'host' model needs a hardware accelerator: TCG has no host CPU to pass through.
      if (def.type !== 'kvm') throw unsupportedMode(mode);
      base = 'host';
      break;
    case 'maximum':
      base = 'max';
      break;
    case 'host-model':
      throw unsupportedMode(mode);
    case 'custom': {
      const name = model?.text.trim() ?? '';
      if (name === '') return undefined;
      if (models !== undefined && !models.includes(name)) throw configUnsupported(DOM, `CPU model ${name} is not supported by hypervisor`);
      base = name;
      break;
    }
    default:
      throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.XML_ERROR, `Unknown CPU mode ${mode}`);
  }
  const features: string[] = [];
  for (const f of cpu.children.filter((c) => c.name === 'feature')) {
    const name = f.attrs.name;
    if (name === undefined) continue;
    // libvirt: require/force turn the feature on, disable/forbid off; optional leaves QEMU's choice.
    switch (f.attrs.policy ?? 'require') {
      case 'require':
      case 'force':
        features.push(`${name}=on`);
        break;
      case 'disable':
      case 'forbid':
        features.push(`${name}=off`);
        break;
      default:
        break;
    }
  }
  return [base, ...features].join(',');
}
