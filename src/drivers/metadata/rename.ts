/**
 * virDomainRename on the metadata driver: an inactive persistent domain takes a new name in one
 * store transaction (its snapshots, checkpoints and managed save image are keyed by UUID, so
 * nothing else moves). The refusals are libvirt 9.0's: the test driver's few, or the QEMU
 * driver's stricter list (`strict`).
 */
import {
  DomainEventDefinedDetailType,
  DomainEventType,
  DomainEventUndefinedDetailType,
  DomainState,
  ErrorDomain,
  ErrorNumber,
} from '../../core/enums.generated.js';
import { VirError, operationInvalid } from '../../core/errors.js';
import type { DomainRef } from '../../core/driver.js';
import { formatDomainXML, parseDomainXML } from '../../conf/domain.js';
import { validateName } from '../../conf/names.js';
import type { DomainRecord } from '../../store/store.js';
import type { Jobs } from './jobs.js';
import { STORED, isActive, refOf, type DomainRecords } from './records.js';

/** What a driver refuses besides libvirt's common rename checks. */
export interface RenameRules {
  /** QEMU's list: managed save image, snapshots, checkpoints refuse a rename. */
  strict: boolean;
}

function refuse(domain: ErrorDomain, detail: string): VirError {
  return operationInvalid(domain, detail);
}

/** The checks of virDomainRename before anything changes, in libvirt's order. */
export function checkRename(records: DomainRecords, rec: DomainRecord, newName: string, rules: RenameRules): void {
  const d = records.errDomain;
  if (isActive(rec)) throw refuse(d, 'cannot rename active domain');
  if (!rec.persistent) throw refuse(d, 'cannot rename a transient domain');
  if (rules.strict && rec.managedSave !== null) throw refuse(d, "domain with a managed saved state can't be renamed");
  if (rec.state !== DomainState.SHUTOFF) throw refuse(d, 'domain has to be shutoff before renaming');
  if (rules.strict && records.store.snapshotCount(rec.uuid) > 0) throw refuse(d, 'cannot rename domain with snapshots');
  if (rules.strict && records.store.checkpointCount(rec.uuid) > 0) throw refuse(d, 'cannot rename domain with checkpoints');
  if (newName === rec.name) throw refuse(ErrorDomain.DOMAIN, "Can't rename domain to itself");
  if (records.store.domainByName(newName) !== undefined) {
    throw refuse(ErrorDomain.DOMAIN, `domain with name '${newName}' already exists`);
  }
  // As libvirt's rename callbacks: the driver's own XML error for a '/', then tsvirt's name rules.
  if (newName.includes('/')) throw VirError.report(d, ErrorNumber.XML_ERROR, `name ${newName} cannot contain '/'`);
  validateName('domain', newName);
}

/**
 * Renames under the domain's job: the persistent definition and the record change together,
 * with UNDEFINED/RENAMED for the old name and DEFINED/RENAMED for the new one (libvirt's pair).
 */
export async function renameDomain(records: DomainRecords, jobs: Jobs, dom: DomainRef, newName: string, rules: RenameRules): Promise<DomainRef> {
  return jobs.run(dom, 'virDomainRename', {
    plan: (rec) => checkRename(records, rec, newName, rules),
    act: async () => undefined,
    commit: (rec) => {
      // Checked again in the commit's transaction: another process may have taken the name.
      if (records.store.domainByName(newName) !== undefined) {
        throw refuse(ErrorDomain.DOMAIN, `domain with name '${newName}' already exists`);
      }
      const old = { ...rec };
      if (rec.configXml !== null) {
        const def = parseDomainXML(rec.configXml, STORED);
        def.name = newName;
        rec.configXml = formatDomainXML(def, { inactive: true, secure: true });
      }
      rec.name = newName;
      records.write(rec);
      records.events.emit(old, DomainEventType.UNDEFINED, DomainEventUndefinedDetailType.RENAMED);
      records.events.emit(rec, DomainEventType.DEFINED, DomainEventDefinedDetailType.RENAMED);
      return refOf(rec);
    },
  });
}
