/**
 * virDomainSetMetadata / virDomainGetMetadata on a definition, as libvirt's
 * virDomainObjSetMetadata / virDomainDefGetMetadata: title and description as text (empty or
 * null removes them), other metadata as one element per namespace URI (src/conf/metadata.ts).
 */
import { DomainMetadataType, ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import type { DomainDef } from '../../conf/domain.js';
import { getMetadataElement, setMetadataElement } from '../../conf/metadata.js';

function unknownType(type: number): VirError {
  return VirError.report(ErrorDomain.DOMAIN, ErrorNumber.INVALID_ARG, `unknown metadata type '${type}'`);
}

/** Applies one virDomainSetMetadata to `def` (the API checked the arguments' combinations). */
export function applyMetadata(def: DomainDef, type: number, metadata: string | null, key: string | null, uri: string | null): void {
  const text = metadata === null || metadata === '' ? undefined : metadata;
  switch (type) {
    case DomainMetadataType.TITLE:
      if (text === undefined) delete def.title;
      else def.title = text;
      return;
    case DomainMetadataType.DESCRIPTION:
      if (text === undefined) delete def.description;
      else def.description = text;
      return;
    case DomainMetadataType.ELEMENT: {
      const list = setMetadataElement(def.metadata, metadata, key, uri ?? '');
      if (list.length > 0) def.metadata = list;
      else delete def.metadata;
      return;
    }
    default:
      throw unknownType(type);
  }
}

/**
 * What virDomainGetMetadata answers for `def`: VIR_ERR_NO_DOMAIN_METADATA "Requested metadata
 * element is not present" when there is none.
 */
export function readMetadata(def: DomainDef, type: number, uri: string | null): string {
  let found: string | undefined;
  switch (type) {
    case DomainMetadataType.TITLE:
      found = def.title;
      break;
    case DomainMetadataType.DESCRIPTION:
      found = def.description;
      break;
    case DomainMetadataType.ELEMENT:
      found = getMetadataElement(def.metadata, uri ?? '');
      break;
    default:
      throw unknownType(type);
  }
  if (found === undefined) {
    throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.NO_DOMAIN_METADATA, 'Requested metadata element is not present');
  }
  return found;
}
