/**
 * virConnectGetCPUModelNames as libvirt 9.0 answers it without asking a hypervisor (its test
 * driver): the CPU models of libvirt's CPU map for the architecture's CPU driver, in the map's
 * order. The names are data libvirt publishes (cpu_map/index.xml); clients compare them.
 */
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import { ARCHES } from '../../conf/domain.js';

const X86_MODELS = [
  '486', 'pentium', 'pentium2', 'pentium3', 'pentiumpro', 'coreduo', 'n270', 'core2duo', 'qemu32', 'kvm32',
  'cpu64-rhel5', 'cpu64-rhel6', 'qemu64', 'kvm64', 'Conroe', 'Penryn', 'Nehalem', 'Nehalem-IBRS', 'Westmere',
  'Westmere-IBRS', 'SandyBridge', 'SandyBridge-IBRS', 'IvyBridge', 'IvyBridge-IBRS', 'Haswell-noTSX',
  'Haswell-noTSX-IBRS', 'Haswell', 'Haswell-IBRS', 'Broadwell-noTSX', 'Broadwell-noTSX-IBRS', 'Broadwell',
  'Broadwell-IBRS', 'Skylake-Client', 'Skylake-Client-IBRS', 'Skylake-Client-noTSX-IBRS', 'Skylake-Server',
  'Skylake-Server-IBRS', 'Skylake-Server-noTSX-IBRS', 'Cascadelake-Server', 'Cascadelake-Server-noTSX',
  'Icelake-Client', 'Icelake-Client-noTSX', 'Icelake-Server', 'Icelake-Server-noTSX', 'Cooperlake', 'Snowridge',
  'athlon', 'phenom', 'Opteron_G1', 'Opteron_G2', 'Opteron_G3', 'Opteron_G4', 'Opteron_G5', 'EPYC', 'EPYC-IBPB',
  'EPYC-Rome', 'EPYC-Milan', 'Dhyana',
];
const PPC64_MODELS = ['POWER6', 'POWER7', 'POWER8', 'POWER9', 'POWER10', 'POWERPC_e5500', 'POWERPC_e6500'];

/** libvirt's CPU drivers by architecture; those without a model list answer none. */
const BY_ARCH: Readonly<Record<string, readonly string[]>> = {
  i686: X86_MODELS,
  x86_64: X86_MODELS,
  ppc64: PPC64_MODELS,
  ppc64le: PPC64_MODELS,
  s390: [],
  s390x: [],
  armv6l: [],
  armv7l: [],
  armv7b: [],
  aarch64: [],
};

/**
 * The models for `arch`. VIR_ERR_INVALID_ARG "cannot find architecture X" (from `errDomain`)
 * for a name libvirt does not know; VIR_ERR_NO_SUPPORT (VIR_FROM_CPU) for one no CPU driver serves.
 */
export function cpuModelNames(arch: string, errDomain: ErrorDomain = ErrorDomain.TEST): string[] {
  if (!ARCHES.includes(arch)) throw VirError.report(errDomain, ErrorNumber.INVALID_ARG, `cannot find architecture ${arch}`);
  const models = BY_ARCH[arch];
  if (models === undefined) {
    throw VirError.report(ErrorDomain.CPU, ErrorNumber.NO_SUPPORT, `'${arch}' architecture is not supported by CPU driver`);
  }
  return [...models];
}
