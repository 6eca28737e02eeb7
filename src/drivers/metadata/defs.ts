/**
 * Which definitions a change applies to: libvirt's modification impact (LIVE, CONFIG, CURRENT),
 * written once for every driver that edits a domain's live or persistent definition (vCPUs,
 * memory, devices, metadata, tuning parameters).
 */
import { DomainModificationImpact, ErrorDomain } from '../../core/enums.generated.js';
import { operationInvalid } from '../../core/errors.js';
import { parseDomainXML, type DomainDef } from '../../conf/domain.js';
import { checkActive } from '../../rules/lifecycle.js';
import type { DomainRecord } from '../../store/store.js';
import { STORED, isActive } from './records.js';

const { LIVE, CONFIG } = DomainModificationImpact;

/** The definitions a change with modification-impact flags applies to (virDomainObjGetDefs); null where not. */
export interface Defs {
  live: DomainDef | null;
  config: DomainDef | null;
}

/**
 * libvirt's virDomainObjUpdateModificationImpact: CURRENT is LIVE on a running domain and CONFIG
 * otherwise; LIVE needs a running domain (VIR_ERR_OPERATION_INVALID "domain is not running"),
 * CONFIG a persistent one ("transient domains do not have any persistent config").
 */
export function modificationImpact(rec: DomainRecord, flags: number): { live: boolean; config: boolean } {
  const active = isActive(rec);
  let live = (flags & LIVE) !== 0;
  let config = (flags & CONFIG) !== 0;
  if (!live && !config) {
    if (active) live = true;
    else config = true;
  }
  if (live) checkActive({ active });
  if (config && !rec.persistent) throw operationInvalid(ErrorDomain.DOMAIN, 'transient domains do not have any persistent config');
  return { live, config };
}

/** The parsed definitions `flags` names (virDomainObjGetDefs), fresh copies the caller may edit. */
export function defsOf(rec: DomainRecord, flags: number): Defs {
  const which = modificationImpact(rec, flags);
  return {
    live: which.live && rec.liveXml !== null ? parseDomainXML(rec.liveXml, STORED) : null,
    config: which.config && rec.configXml !== null ? parseDomainXML(rec.configXml, STORED) : null,
  };
}

/** virDomainObjGetOneDef: the single definition `flags` names (LIVE and CONFIG both are refused by the API). */
export function oneDef(rec: DomainRecord, flags: number): DomainDef {
  const defs = defsOf(rec, flags);
  const def = defs.live ?? defs.config;
  if (def === null) throw operationInvalid(ErrorDomain.DOMAIN, 'domain is not running');
  return def;
}
