/**
 * libvirt's domain snapshot XML (`<domainsnapshot>`): parsed into {@link SnapshotDef} and
 * formatted back in the layout of libvirt 9.0's virDomainSnapshotDefFormat, embedded domain
 * included, so that `getXMLDesc()` output can be fed back with REDEFINE (rule R10) — to tsvirt
 * or to libvirt.
 */
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { DISK_FORMATS, parseDomainElement, writeDomainDef, type DiskFormat, type DomainDef } from './domain.js';
import { validateName } from './names.js';
import { parseUUID } from './values.js';
import {
  SNAPSHOT_DOCUMENT,
  XmlWriter,
  attr,
  childElement,
  childText,
  confError,
  invalidAttrValue,
  parseXMLDocument,
  xmlErrorFrom,
  type XmlElement,
} from './xml.js';

const SNAPSHOT_STATES = [
  'nostate',
  'running',
  'blocked',
  'paused',
  'shutdown',
  'shutoff',
  'crashed',
  'pmsuspended',
  'disk-snapshot',
] as const;
/**
 * The state a snapshot captured: a domain state, or `disk-snapshot` for a disk-only one.
 * `nostate` is libvirt's "not set" (what a create request carries): it is never written.
 */
export type SnapshotState = (typeof SNAPSHOT_STATES)[number];

const LOCATIONS = ['no', 'internal', 'external', 'manual'] as const;
/** Where a disk's snapshot is kept: not at all, inside the image, in a new file, by the user. */
export type SnapshotLocation = (typeof LOCATIONS)[number];

/** One `<disks><disk>` of a snapshot. */
export interface SnapshotDiskDef {
  /** The domain disk: its target (`vda`) or source path. */
  name: string;
  /** Absent when the XML leaves it to the driver's default. */
  snapshot?: SnapshotLocation;
  /** `<driver type=…>` of an external snapshot's new file. */
  driverType?: DiskFormat;
  /** `<source file=…>`: the external snapshot's new file (absolute). */
  sourceFile?: string;
}

/** `<memory>` of a snapshot: whether and where the guest's memory was saved. */
export interface SnapshotMemoryDef {
  snapshot: 'no' | 'internal' | 'external';
  /** The save file of an external memory snapshot (absolute). */
  file?: string;
}

/** A domain snapshot definition: the part of libvirt's virDomainSnapshotDef tsvirt models. */
export interface SnapshotDef {
  /** Undefined when the XML has none: the caller names it (libvirt uses the epoch seconds). */
  name?: string;
  description?: string;
  state: SnapshotState;
  /** Name of the parent snapshot; absent for a root. */
  parent?: string;
  /** Seconds since the epoch. */
  creationTime?: number;
  memory?: SnapshotMemoryDef;
  disks: SnapshotDiskDef[];
  /** The domain's definition when the snapshot was taken (written inactive). */
  domain?: DomainDef;
  /** `<inactiveDomain>`: the persistent config of a domain that was running. */
  inactiveDomain?: DomainDef;
  /**
   * Old snapshots carry only `<domain><uuid>…</uuid></domain>`: the domain's UUID, kept when
   * `domain` is absent and written back in that form.
   */
  domainUuid?: string;
  /** `<active>0|1</active>` of libvirt's on-disk metadata: whether this is the current snapshot. */
  active?: boolean;
}

/** Options of {@link parseSnapshotXML}. */
export interface ParseSnapshotOptions {
  /**
   * The XML redefines an existing snapshot (VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE): name,
   * state and creationTime are required, and the memory default follows the state.
   */
  requireFullForRedefine?: boolean;
  /** The snapshot is of an inactive domain: it cannot include memory state. */
  offline?: boolean;
  /** The XML comes from tsvirt's store (see ParseOptions.stored). */
  stored?: boolean;
}

const S = ErrorDomain.DOMAIN_SNAPSHOT;

function oneOf<T extends string>(values: readonly T[], v: string): v is T {
  return (values as readonly string[]).includes(v);
}

/**
 * Parses libvirt domain snapshot XML.
 *
 * Everything present is parsed, also without `requireFullForRedefine` (tsvirt re-reads the
 * snapshot XML it stores). Where libvirt's create path ignores an element (state,
 * creationTime) an unparsable value is ignored too; an embedded `<domain>` is always checked.
 *
 * @throws VirError with libvirt's codes and wording (see libvirt's snapshot_conf.c):
 *   VIR_ERR_XML_DETAIL for XML that is not well formed, VIR_ERR_XML_ERROR for a wrong root,
 *   a missing name or state on redefine, inconsistent memory settings; VIR_ERR_INTERNAL_ERROR
 *   for a missing creationTime on redefine or a disk without name; VIR_ERR_CONFIG_UNSUPPORTED
 *   for an unknown state or disk format; and the name errors of {@link validateName}.
 */
export function parseSnapshotXML(xml: string, opts: ParseSnapshotOptions = {}): SnapshotDef {
  const root = parseXMLDocument(xml, SNAPSHOT_DOCUMENT, { stored: opts.stored });
  const redefine = opts.requireFullForRedefine === true;

  const name = childText(root, 'name');
  if (name === undefined) {
    if (redefine) throw xmlErrorFrom(S, 'a redefined snapshot must have a name');
  } else {
    validateName('snapshot', name);
  }
  const def: SnapshotDef = { state: 'nostate', disks: [] };
  if (name !== undefined) def.name = name;
  const description = childText(root, 'description');
  if (description !== undefined) def.description = description;

  const timeText = childText(root, 'creationTime');
  if (timeText !== undefined && /^\s*[-+]?[0-9]+$/.test(timeText) && Number.isSafeInteger(Number(timeText))) {
    def.creationTime = Number(timeText);
  } else if (redefine) {
    throw confError(S, ErrorNumber.INTERNAL_ERROR, 'missing creationTime from existing snapshot');
  }

  const parentEl = childElement(root, 'parent');
  const parent = parentEl === undefined ? undefined : childText(parentEl, 'name');
  if (parent !== undefined) def.parent = parent;

  const state = childText(root, 'state');
  if (state === undefined) {
    if (redefine) throw xmlErrorFrom(S, 'missing state from existing snapshot');
  } else if (oneOf(SNAPSHOT_STATES, state) && (state !== 'nostate' || !redefine)) {
    def.state = state;
  } else if (redefine) {
    throw confError(S, ErrorNumber.CONFIG_UNSUPPORTED, `Invalid state '${state}' in domain snapshot XML`);
  }
  const offline =
    opts.offline === true || (redefine && (def.state === 'shutoff' || def.state === 'disk-snapshot'));

  const domainEl = childElement(root, 'domain');
  if (domainEl !== undefined) {
    if (attr(domainEl, 'type') !== undefined) {
      def.domain = parseDomainElement(domainEl);
    } else {
      // Older snapshots: just the UUID (libvirt leaves the domain unset).
      const uuid = parseUUID(childText(domainEl, 'uuid') ?? '');
      if (uuid !== undefined) def.domainUuid = uuid;
    }
  }
  const inactiveEl = childElement(root, 'inactiveDomain');
  if (inactiveEl !== undefined) def.inactiveDomain = parseDomainElement(inactiveEl);

  const memory = parseMemory(root, redefine, offline);
  if (memory !== undefined) def.memory = memory;

  const disksEl = childElement(root, 'disks');
  // libvirt reads ./disks/*: every child element is a disk, whatever its name.
  for (const d of disksEl?.children ?? []) def.disks.push(parseDisk(d));

  const active = childText(root, 'active');
  if (active !== undefined) {
    if (!/^\s*[0-9]+$/.test(active)) throw confError(S, ErrorNumber.INTERNAL_ERROR, "Could not find 'active' element");
    def.active = Number(active) !== 0;
  }
  return def;
}

function parseMemory(root: XmlElement, redefine: boolean, offline: boolean): SnapshotMemoryDef | undefined {
  const el = childElement(root, 'memory');
  const file = el === undefined ? undefined : attr(el, 'file');
  let snapshot: SnapshotLocation | undefined;
  if (el !== undefined) {
    const v = attr(el, 'snapshot');
    if (v !== undefined) {
      if (!oneOf(LOCATIONS, v)) throw invalidAttrValue('memory', 'snapshot', v);
      snapshot = v;
    }
  }
  if (snapshot === 'manual') throw xmlErrorFrom(S, "'manual' memory snapshot mode not supported");
  if (snapshot === undefined) {
    if (file !== undefined) snapshot = 'external';
    else if (redefine) snapshot = offline ? 'no' : 'internal';
  }
  if (file !== undefined && snapshot !== 'external') {
    throw xmlErrorFrom(S, `memory filename '${file}' requires external snapshot`);
  }
  if (file === undefined && snapshot === 'external') {
    throw xmlErrorFrom(S, 'external memory snapshots require a filename');
  }
  if (offline && snapshot !== undefined && snapshot !== 'no') {
    throw xmlErrorFrom(S, 'memory state cannot be saved with offline or disk-only snapshot');
  }
  if (file !== undefined && !file.startsWith('/')) {
    throw xmlErrorFrom(S, `memory snapshot file path (${file}) must be absolute`);
  }
  if (snapshot === undefined) return undefined;
  return file === undefined ? { snapshot } : { snapshot, file };
}

function parseDisk(el: XmlElement): SnapshotDiskDef {
  const name = attr(el, 'name');
  if (name === undefined) throw confError(S, ErrorNumber.INTERNAL_ERROR, 'missing name from disk snapshot element');
  let snapshot: SnapshotLocation | undefined;
  const v = attr(el, 'snapshot');
  if (v !== undefined) {
    if (!oneOf(LOCATIONS, v)) throw invalidAttrValue(el.name, 'snapshot', v);
    snapshot = v;
  }
  const type = attr(el, 'type') ?? 'file';
  if (type === 'volume' || type === 'dir') {
    throw xmlErrorFrom(S, `unsupported disk snapshot type '${type}'`);
  }
  if (type !== 'file') {
    throw confError(S, ErrorNumber.CONFIG_UNSUPPORTED, `disk snapshot type '${type}' is not supported`);
  }
  const source = childElement(el, 'source');
  const sourceFile = source === undefined ? undefined : attr(source, 'file');
  const driver = childElement(el, 'driver');
  const driverType = driver === undefined ? undefined : attr(driver, 'type');
  if (driverType !== undefined && (!oneOf(DISK_FORMATS, driverType) || driverType === 'dir')) {
    throw confError(S, ErrorNumber.CONFIG_UNSUPPORTED, `unknown disk snapshot driver '${driverType}'`);
  }
  if (sourceFile !== undefined && !sourceFile.startsWith('/')) {
    throw xmlErrorFrom(S, `disk snapshot image path '${sourceFile}' must be absolute`);
  }
  if (snapshot === undefined && (sourceFile !== undefined || driverType !== undefined)) snapshot = 'external';
  if (sourceFile !== undefined && snapshot !== 'external') {
    // libvirt checks this when aligning the disks with the domain (virDomainSnapshotAlignDisks).
    throw confError(
      S,
      ErrorNumber.CONFIG_UNSUPPORTED,
      `file '${sourceFile}' for disk '${name}' requires use of external snapshot mode`,
    );
  }
  const disk: SnapshotDiskDef = { name };
  if (snapshot !== undefined) disk.snapshot = snapshot;
  if (driverType !== undefined) disk.driverType = driverType;
  if (sourceFile !== undefined) disk.sourceFile = sourceFile;
  return disk;
}

/**
 * Formats a snapshot as libvirt 9.0's virDomainSnapshotDefFormat does (the domain written as
 * its inactive config, indented inside). The result ends with a newline. `secure` includes the
 * domain's secrets (graphics passwords), as VIR_DOMAIN_SNAPSHOT_XML_SECURE: set it for what
 * is stored, and for what is shown only when the caller asked for SECURE.
 */
export function formatSnapshotXML(def: SnapshotDef, opts: { secure?: boolean } = {}): string {
  const w = new XmlWriter();
  w.open('domainsnapshot');
  w.text('name', def.name);
  w.text('description', def.description);
  if (def.state !== 'nostate') w.text('state', def.state);
  if (def.parent !== undefined) {
    w.open('parent');
    w.text('name', def.parent);
    w.close('parent');
  }
  w.text('creationTime', def.creationTime);
  if (def.memory !== undefined) {
    w.empty('memory', [
      ['snapshot', def.memory.snapshot],
      ['file', def.memory.file],
    ]);
  }
  if (def.disks.length > 0) {
    w.open('disks');
    for (const d of def.disks) {
      const external = d.sourceFile !== undefined || d.driverType !== undefined;
      w.element(
        'disk',
        [
          ['name', d.name],
          ['snapshot', d.snapshot],
          ['type', external ? 'file' : undefined],
        ],
        (inner) => {
          if (d.driverType !== undefined) inner.empty('driver', [['type', d.driverType]]);
          if (d.sourceFile !== undefined) inner.empty('source', [['file', d.sourceFile]]);
        },
      );
    }
    w.close('disks');
  }
  if (def.domain !== undefined) {
    writeDomainDef(w, def.domain, { inactive: true, secure: opts.secure }, 'domain');
  } else if (def.domainUuid !== undefined) {
    w.open('domain');
    w.text('uuid', def.domainUuid);
    w.close('domain');
  }
  if (def.inactiveDomain !== undefined) {
    writeDomainDef(w, def.inactiveDomain, { inactive: true, secure: opts.secure }, 'inactiveDomain');
  }
  if (def.active !== undefined) w.text('active', def.active ? 1 : 0);
  w.close('domainsnapshot');
  return w.toString();
}
