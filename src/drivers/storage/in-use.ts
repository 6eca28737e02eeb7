/**
 * Which files and volumes a domain definition's disks use, read from its XML without the domain
 * model (a `type='volume'` disk is kept whole there): what the storage driver asks before it
 * deletes, wipes or overwrites a volume.
 */
import { DOMAIN_DOCUMENT, childElement, childElements, parseXMLDocument } from '../../conf/xml.js';

/** One disk's source: a file or device path, or a pool's volume. */
export interface DiskSource {
  path?: string;
  pool?: string;
  volume?: string;
}

/** The sources of the disks of domain XML `xml` (one tsvirt wrote). */
export function diskSources(xml: string): DiskSource[] {
  const root = parseXMLDocument(xml, DOMAIN_DOCUMENT, { stored: true });
  const devices = childElement(root, 'devices');
  if (devices === undefined) return [];
  const out: DiskSource[] = [];
  for (const disk of childElements(devices, 'disk')) {
    const src = childElement(disk, 'source');
    if (src === undefined) continue;
    const a = src.attrs;
    if (disk.attrs.type === 'volume') out.push({ pool: a.pool, volume: a.volume });
    else if (a.file !== undefined || a.dev !== undefined) out.push({ path: a.file ?? a.dev });
  }
  return out;
}
