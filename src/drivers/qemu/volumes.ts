/**
 * `<disk type='volume'>` for QEMU: at start, each such disk's `<source pool=… volume=…>` is
 * resolved to its volume's file through the connection's storage driver, as libvirt's
 * virDomainDiskTranslateSourcePool does, and QEMU gets that file. The domain's definition keeps
 * the volume reference; only what QEMU is started with names the file.
 */
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import { decodeReferences, escapeXml } from '../../conf/xml.js';
import { formatDomainXML, parseDomainXML, type DomainDef } from '../../conf/domain.js';
import type { StorageDriver } from '../../core/storage-driver.js';

/** The file and format of a pool's volume. */
export interface ResolvedVolume {
  path: string;
  format: string;
}

/**
 * A pool's volume as a file: VIR_ERR_NO_STORAGE_POOL / VIR_ERR_NO_STORAGE_VOL when missing,
 * VIR_ERR_OPERATION_INVALID when the pool is not active (libvirt's words).
 */
export async function resolveVolume(storage: StorageDriver, pool: string, volume: string): Promise<ResolvedVolume> {
  const p = await storage.storagePoolLookupByName(pool);
  if (!(await storage.storagePoolIsActive(p))) {
    throw VirError.report(ErrorDomain.STORAGE, ErrorNumber.OPERATION_INVALID, `storage pool '${pool}' containing volume '${volume}' is not active`);
  }
  const v = await storage.storageVolLookupByName(p, volume);
  const xml = await storage.storageVolGetXMLDesc(v, 0);
  const format = /<format type='([^']*)'\/>/.exec(xml)?.[1] ?? 'raw';
  return { path: await storage.storageVolGetPath(v), format };
}

function attrOf(attrs: string, name: string): string | undefined {
  const m = new RegExp(`\\b${name}=(?:'([^']*)'|"([^"]*)")`).exec(attrs);
  const v = m?.[1] ?? m?.[2];
  return v === undefined ? undefined : decodeReferences(v);
}

/**
 * The definition QEMU is started with: `def` with each volume disk turned into a file disk on
 * its volume's file (with the volume's format when the disk names none). `def` itself when it
 * has no volume disk.
 */
export async function withVolumesResolved(def: DomainDef, storage: StorageDriver | undefined): Promise<DomainDef> {
  const xml = formatDomainXML(def, { secure: true });
  if (!/<disk\b[^>]*\btype=['"]volume['"]/.test(xml)) return def;
  const disks = [...xml.matchAll(/<disk\b([^>]*)>([\s\S]*?)<\/disk>/g)];
  let out = '';
  let at = 0;
  for (const m of disks) {
    const [whole, attrs = '', body = ''] = m;
    if (attrOf(attrs, 'type') !== 'volume') continue;
    const src = /<source\b([^>]*?)(\/>|>[\s\S]*?<\/source>)/.exec(body);
    const pool = src === null ? undefined : attrOf(src[1] ?? '', 'pool');
    const volume = src === null ? undefined : attrOf(src[1] ?? '', 'volume');
    if (pool === undefined || volume === undefined) {
      throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.XML_ERROR, "XML error: a disk of type 'volume' needs <source pool='…' volume='…'/>");
    }
    if (storage === undefined) throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.NO_SUPPORT, 'this function is not supported by the connection driver: storage pools');
    const vol = await resolveVolume(storage, pool, volume);
    let newBody = body.replace(src?.[0] ?? '', `<source file='${escapeXml(vol.path, true)}'/>`);
    if (!/<driver\b[^>]*\btype=/.test(newBody)) {
      newBody = /<driver\b/.test(newBody)
        ? newBody.replace(/<driver\b/, `<driver type='${escapeXml(vol.format, true)}'`)
        : newBody.replace(/^(\s*)/, `$1<driver name='qemu' type='${escapeXml(vol.format, true)}'/>$1`);
    }
    const index = m.index ?? 0;
    out += xml.slice(at, index) + `<disk${attrs.replace(/\btype=(['"])volume\1/, "type='file'")}>${newBody}</disk>`;
    at = index + whole.length;
  }
  out += xml.slice(at);
  return parseDomainXML(out);
}
