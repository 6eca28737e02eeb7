/**
 * R9: hypervisors that own their domains' state (ESX, VirtualBox). Their domains are never
 * transient and have no managed save image; their snapshots live in the hypervisor, so there
 * is no metadata of tsvirt's to keep or remove. Written once here, called by both drivers.
 */
import { DomainUndefineFlags, type ErrorDomain } from '../core/enums.generated.js';
import { noSupport, operationInvalid } from '../core/errors.js';
import { checkFlags } from './flags.js';

/** The undefine flags such a driver supports: SNAPSHOTS_METADATA only (accepted, changes nothing). */
export const HYPERVISOR_OWNED_UNDEFINE_FLAGS = DomainUndefineFlags.SNAPSHOTS_METADATA;

/** What the rule needs to know about the VM being undefined. */
export interface HypervisorOwnedUndefineSubject {
  /** Powered on and not suspended: the hypervisor refuses to unregister it. */
  poweredOn: boolean;
}

/**
 * Checks an undefine on an ESX or VirtualBox domain, or throws libvirt's error:
 * MANAGED_SAVE (and any later flag) is an unsupported flag (R7, as the seed's
 * esxDomainUndefineFlags/vboxDomainUndefineFlags do); a powered-on VM cannot be unregistered.
 * SNAPSHOTS_METADATA is accepted: the snapshots stay with the VM in the hypervisor.
 */
export function checkHypervisorOwnedUndefine(
  subject: HypervisorOwnedUndefineSubject,
  flags: number,
  functionName: string,
  errorDomain: ErrorDomain,
): void {
  checkFlags(flags, HYPERVISOR_OWNED_UNDEFINE_FLAGS, functionName, errorDomain);
  if (subject.poweredOn) throw operationInvalid(errorDomain, 'Domain is not suspended or powered off');
}

/**
 * Managed save and transient domains do not exist on these hypervisors: libvirt's drivers leave
 * the entry points unset, so the API reports VIR_ERR_NO_SUPPORT naming the public function
 * (e.g. `virDomainManagedSave`, `virDomainCreateXML`).
 */
export function refuseOnHypervisorOwned(publicFunctionName: string, errorDomain: ErrorDomain): never {
  throw noSupport(errorDomain, publicFunctionName);
}
