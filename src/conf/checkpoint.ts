/**
 * libvirt's domain checkpoint XML (`<domaincheckpoint>`): parsed into {@link CheckpointDef} and
 * formatted back in the layout of libvirt 9.0's virDomainCheckpointDefFormat, embedded domain
 * included, so that `getXMLDesc()` output can be fed back with REDEFINE.
 */
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { parseDomainElement, writeDomainDef, type DomainDef } from './domain.js';
import { validateName } from './names.js';
import {
  XmlWriter,
  attr,
  childElement,
  childText,
  confError,
  parseXMLDocument,
  xmlErrorFrom,
  type XmlDocumentKind,
  type XmlElement,
} from './xml.js';

/** Checkpoint XML, as libvirt's virDomainCheckpointDefParseString names it in errors. */
export const CHECKPOINT_DOCUMENT: XmlDocumentKind = {
  rootName: 'domaincheckpoint',
  sourceName: '(domain_checkpoint)',
  errorDomain: ErrorDomain.DOMAIN_CHECKPOINT,
};

const C = ErrorDomain.DOMAIN_CHECKPOINT;

/** One `<disks><disk>` of a checkpoint. */
export interface CheckpointDiskDef {
  /** The domain disk: its target (`vda`). */
  name: string;
  /** `bitmap`: the disk tracks changes in a dirty bitmap; `no`: it is left out. Absent: default. */
  checkpoint?: 'bitmap' | 'no';
  /** The bitmap's name (default: the checkpoint's name). */
  bitmap?: string;
  /** Bytes changed since the checkpoint (VIR_DOMAIN_CHECKPOINT_XML_SIZE, running guests only). */
  size?: number;
}

/** A domain checkpoint definition (libvirt's virDomainCheckpointDef). */
export interface CheckpointDef {
  /** Undefined when the XML has none: the caller names it (libvirt uses the epoch seconds). */
  name?: string;
  description?: string;
  /** Name of the parent checkpoint; absent for a root. */
  parent?: string;
  /** Seconds since the epoch. */
  creationTime?: number;
  disks: CheckpointDiskDef[];
  /** The domain's definition when the checkpoint was made (written inactive). */
  domain?: DomainDef;
}

/**
 * Parses libvirt domain checkpoint XML. With `redefine` (VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE)
 * name and creationTime are required; otherwise libvirt ignores parent and creationTime, and so
 * does the caller.
 *
 * @throws VirError with libvirt's codes and wording: VIR_ERR_XML_DETAIL for XML that is not well
 *   formed, VIR_ERR_XML_ERROR for a wrong root or a missing name on redefine,
 *   VIR_ERR_INTERNAL_ERROR for a missing creationTime on redefine or a disk without name,
 *   VIR_ERR_CONFIG_UNSUPPORTED for an unknown checkpoint type, and the name errors of
 *   {@link validateName}.
 */
export function parseCheckpointXML(xml: string, opts: { redefine?: boolean; stored?: boolean } = {}): CheckpointDef {
  const root = parseXMLDocument(xml, CHECKPOINT_DOCUMENT, { stored: opts.stored });
  const redefine = opts.redefine === true;
  const def: CheckpointDef = { disks: [] };
  const name = childText(root, 'name');
  if (name === undefined) {
    if (redefine) throw xmlErrorFrom(C, 'a redefined checkpoint must have a name');
  } else {
    validateName('checkpoint', name);
    def.name = name;
  }
  const description = childText(root, 'description');
  if (description !== undefined) def.description = description;
  const parentEl = childElement(root, 'parent');
  const parent = parentEl === undefined ? undefined : childText(parentEl, 'name');
  if (parent !== undefined) def.parent = parent;
  const timeText = childText(root, 'creationTime');
  if (timeText !== undefined && /^\s*[-+]?[0-9]+\s*$/.test(timeText) && Number.isSafeInteger(Number(timeText))) {
    def.creationTime = Number(timeText);
  } else if (redefine) {
    throw confError(C, ErrorNumber.INTERNAL_ERROR, 'missing creationTime from existing checkpoint');
  }
  const domainEl = childElement(root, 'domain');
  if (domainEl !== undefined) def.domain = parseDomainElement(domainEl);
  const disksEl = childElement(root, 'disks');
  for (const d of disksEl?.children ?? []) def.disks.push(parseDisk(d));
  return def;
}

function parseDisk(el: XmlElement): CheckpointDiskDef {
  const name = attr(el, 'name');
  if (name === undefined) throw confError(C, ErrorNumber.INTERNAL_ERROR, 'missing name from disk checkpoint element');
  const disk: CheckpointDiskDef = { name };
  const type = attr(el, 'checkpoint');
  if (type !== undefined) {
    if (type !== 'bitmap' && type !== 'no') {
      throw confError(C, ErrorNumber.CONFIG_UNSUPPORTED, `unknown disk checkpoint setting '${type}'`);
    }
    disk.checkpoint = type;
  }
  const bitmap = attr(el, 'bitmap');
  if (bitmap !== undefined) {
    if (disk.checkpoint === 'no') {
      throw confError(C, ErrorNumber.CONFIG_UNSUPPORTED, `disk '${name}' has bitmap '${bitmap}' but checkpoint='no'`);
    }
    disk.checkpoint = 'bitmap';
    disk.bitmap = bitmap;
  }
  return disk;
}

/**
 * Every disk of the domain, in its order, as the checkpoint covers it (libvirt's
 * virDomainCheckpointAlignDisks): as the XML names it, else a bitmap named after the checkpoint,
 * except read-only disks and disks without a source, which are left out.
 *
 * @throws VirError VIR_ERR_CONFIG_UNSUPPORTED "domain must have at least one disk to perform
 *   checkpoints", "no disk named 'X'" for a disk the domain lacks,
 *   "too many disk checkpoint requests for domain" when a disk is named twice.
 */
export function alignCheckpointDisks(name: string, given: readonly CheckpointDiskDef[], def: DomainDef): CheckpointDiskDef[] {
  if (def.devices.disks.length === 0) {
    throw confError(C, ErrorNumber.CONFIG_UNSUPPORTED, 'domain must have at least one disk to perform checkpoints');
  }
  const seen = new Set<string>();
  for (const g of given) {
    const disk = def.devices.disks.find((d) => d.targetDev === g.name || (g.name !== '' && g.name === d.sourceFile));
    if (disk === undefined) throw confError(C, ErrorNumber.CONFIG_UNSUPPORTED, `no disk named '${g.name}'`);
    if (seen.has(disk.targetDev)) {
      throw confError(C, ErrorNumber.CONFIG_UNSUPPORTED, 'too many disk checkpoint requests for domain');
    }
    seen.add(disk.targetDev);
  }
  return def.devices.disks.map((d) => {
    const named = given.find((g) => g.name === d.targetDev || (g.name !== '' && g.name === d.sourceFile));
    const skip = d.readonly || (d.sourceFile === undefined && d.sourceDev === undefined);
    const checkpoint = named?.checkpoint ?? (skip ? 'no' : 'bitmap');
    if (checkpoint === 'no') return { name: d.targetDev, checkpoint };
    return { name: d.targetDev, checkpoint, bitmap: named?.bitmap ?? name };
  });
}

/**
 * Formats a checkpoint as libvirt 9.0's virDomainCheckpointDefFormat does. `noDomain` leaves the
 * domain out (VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN); `secure` includes the domain's secrets
 * (VIR_DOMAIN_CHECKPOINT_XML_SECURE). The result ends with a newline.
 */
export function formatCheckpointXML(def: CheckpointDef, opts: { secure?: boolean; noDomain?: boolean } = {}): string {
  const w = new XmlWriter();
  w.open('domaincheckpoint');
  w.text('name', def.name);
  w.text('description', def.description);
  if (def.parent !== undefined) {
    w.open('parent');
    w.text('name', def.parent);
    w.close('parent');
  }
  w.text('creationTime', def.creationTime);
  if (def.disks.length > 0) {
    w.open('disks');
    for (const d of def.disks) {
      w.empty('disk', [
        ['name', d.name],
        ['checkpoint', d.checkpoint],
        ['bitmap', d.checkpoint === 'bitmap' ? d.bitmap : undefined],
        ['size', d.size],
      ]);
    }
    w.close('disks');
  }
  if (def.domain !== undefined && opts.noDomain !== true) {
    writeDomainDef(w, def.domain, { inactive: true, secure: opts.secure }, 'domain');
  }
  w.close('domaincheckpoint');
  return w.toString();
}
