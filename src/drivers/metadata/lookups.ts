/**
 * Reads of the metadata driver: listing and looking up domains, and what a domain's record
 * says (state, info, XML, autostart, managed save). No job, no transaction beyond a read.
 */
import { DomainState, DomainXMLFlags } from '../../core/enums.generated.js';
import { internalError, noDomain } from '../../core/errors.js';
import type { DomainInfo, DomainRef } from '../../core/driver.js';
import { formatDomainXML, parseDomainXML } from '../../conf/domain.js';
import { LIST_DOMAINS_SUPPORTED, filterNeedsCheckpoints, filterNeedsSnapshots, matchesListFilter } from '../../rules/listing.js';
import type { DomainRecord, DomainSummary } from '../../store/store.js';
import { STORED, isActive, refOf, type DomainRecords } from './records.js';

/** Runtime facts kept for info(): when the guest started. */
/** A listed domain with its state and reason (virDomainGetState's answer). */
export interface DomainWithState {
  dom: DomainRef;
  state: DomainState;
  reason: number;
}

interface RuntimeRecord {
  startedAt: number;
}

/** The read calls (see the file comment); TSDoc of each is HypervisorDriver's. */
export class DomainLookups {
  constructor(private readonly records: DomainRecords) {}

  listAllDomains(flags: number): DomainRef[] {
    return this.listAllStates(flags).map((d) => d.dom);
  }
  /** listAllDomains with each domain's state and reason, read in the same pass (domstats' state group). */
  listAllStates(flags: number): DomainWithState[] {
    const { store } = this.records;
    this.records.check(flags, LIST_DOMAINS_SUPPORTED, 'ConnectListAllDomains');
    return store.read(() => {
      const all = store.domainSummaries();
      const toRef = (d: DomainSummary): DomainWithState => ({ dom: { name: d.name, uuid: d.uuid, id: d.id }, state: d.state, reason: d.reason });
      if (flags === 0) return all.map(toRef);
      const withSnapshots = filterNeedsSnapshots(flags) ? store.domainsWithSnapshots() : new Set<string>();
      const withCheckpoints = filterNeedsCheckpoints(flags) ? store.domainsWithCheckpoints() : new Set<string>();
      return all
        .filter((d) =>
          matchesListFilter(
            { ...d, active: d.id > 0, hasSnapshot: withSnapshots.has(d.uuid), hasCheckpoint: withCheckpoints.has(d.uuid) },
            flags,
          ),
        )
        .map(toRef);
    });
  }
  lookupByName(name: string): DomainRef {
    const rec = this.records.store.domainByName(name);
    if (rec === undefined) throw noDomain(this.records.errDomain, `no domain with matching name '${name}'`);
    return refOf(rec);
  }
  lookupByUUID(uuid: string): DomainRef {
    const rec = this.records.store.domainByUUID(uuid.toLowerCase());
    if (rec === undefined) throw noDomain(this.records.errDomain, `no domain with matching uuid '${uuid}'`);
    return refOf(rec);
  }
  lookupByID(id: number): DomainRef {
    const rec = Number.isInteger(id) && id > 0 ? this.records.store.domainByID(id) : undefined;
    if (rec === undefined) throw noDomain(this.records.errDomain, `no domain with matching id ${id}`);
    return refOf(rec);
  }

  domainGetState(dom: DomainRef, flags: number): [DomainState, number] {
    this.records.check(flags, 0, 'DomainGetState');
    const rec = this.records.resolveStatus(dom);
    return [rec.state, rec.reason];
  }
  domainGetInfo(dom: DomainRef): DomainInfo {
    return infoOf(this.records.resolve(dom));
  }
  domainGetXMLDesc(dom: DomainRef, flags: number): string {
    const r = this.records;
    r.check(flags, r.backend.supported.getXMLDesc, 'DomainGetXMLDesc');
    const rec = r.resolve(dom);
    const inactive = (flags & DomainXMLFlags.INACTIVE) !== 0;
    const secure = (flags & DomainXMLFlags.SECURE) !== 0;
    if (isActive(rec) && !inactive) {
      return formatDomainXML(parseDomainXML(rec.liveXml ?? '', STORED), { id: rec.id, secure });
    }
    // libvirt gives the live definition of a transient domain even with INACTIVE.
    const xml = rec.configXml ?? rec.liveXml;
    if (xml === null) throw internalError(r.errDomain, `domain '${rec.name}' has no definition`);
    return formatDomainXML(parseDomainXML(xml, STORED), { inactive: true, secure });
  }
  hasManagedSaveImage(dom: DomainRef, flags: number): boolean {
    this.records.check(flags, 0, 'DomainHasManagedSaveImage');
    return this.records.resolve(dom).managedSave !== null;
  }
}

/** virDomainGetInfo's answer from a record: a running guest's CPU time is its time since start. */
export function infoOf(rec: DomainRecord): DomainInfo {
  let cpuTime = 0;
  if (isActive(rec) && rec.runtime !== null) {
    const runtime = JSON.parse(rec.runtime) as RuntimeRecord;
    cpuTime = Math.max(0, Date.now() - runtime.startedAt) * 1_000_000;
  }
  return { state: rec.state, maxMem: rec.maxMem, memory: rec.memory, nrVirtCpu: rec.vcpus, cpuTime };
}
