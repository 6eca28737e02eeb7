/**
 * What the web console's JSON API says about domains and does to them, over tsvirt's public API
 * only: the same calls, rules and errors as a libvirt client gets. Each function takes an open
 * Connection (read-only for a read-only token) and returns plain JSON-able data.
 */
import type { DomainSummary, SnapshotSummary, UndefinePreview } from './json.js';
import {
  DomainMetadataType,
  DomainModificationImpact,
  DomainSnapshotDeleteFlags,
  DomainSnapshotListFlags,
  DomainUndefineFlags,
  DomainXMLFlags,
  ErrorDomain,
  ErrorNumber,
} from '../core/enums.generated.js';
import { VirError } from '../core/errors.js';
import { undefineObstacles } from '../rules/undefine.js';
import type { Connection, Domain } from '../index.js';

/** virsh's names of the domain states, by number. */
const STATE_NAMES = ['no state', 'running', 'idle', 'paused', 'in shutdown', 'shut off', 'crashed', 'pmsuspended'];


/** The namespace of the tags element in a domain's `<metadata>`. */
export const TAGS_NS = 'https://tsvirt.dev/xmlns/tags/1';
/** The prefix the tags element is stored with. */
export const TAGS_PREFIX = 'tsvtags';
/** What a tag may be: a short word, as labels in other consoles. */
export const TAG_RE = /^[A-Za-z0-9_.:+-]{1,64}$/;
export const MAX_TAGS = 32;

/** The domain's tags (none when it has no tags element). */
export async function domainTags(dom: Domain): Promise<string[]> {
  let xml: string;
  try {
    xml = await dom.metadata(DomainMetadataType.ELEMENT, TAGS_NS);
  } catch (err) {
    if (err instanceof VirError && (err.code === ErrorNumber.NO_DOMAIN_METADATA || err.code === ErrorNumber.NO_SUPPORT)) return [];
    throw err;
  }
  return [...xml.matchAll(/<tag>([^<]*)<\/tag>/g)].map((m) => unescapeXML(m[1]!));
}

/**
 * Replaces the domain's tags (virDomainSetMetadata, ELEMENT in {@link TAGS_NS}) in its
 * persistent definition and, while it runs, its live one; an empty list removes the element.
 */
export async function setDomainTags(dom: Domain, tags: string[]): Promise<void> {
  const [persistent, active] = await Promise.all([dom.isPersistent(), dom.isActive()]);
  const flags = (persistent ? DomainModificationImpact.CONFIG : 0) | (active ? DomainModificationImpact.LIVE : 0);
  const xml = tags.length === 0 ? null : `<tags>${tags.map((t) => `<tag>${t}</tag>`).join('')}</tags>`;
  await dom.setMetadata(DomainMetadataType.ELEMENT, xml, xml === null ? null : TAGS_PREFIX, TAGS_NS, flags);
}


/** Summary of one domain (see {@link DomainSummary}). */
export async function summarize(dom: Domain): Promise<DomainSummary> {
  const [[state, reason], info, persistent, autostart, managedSave, snapshots, tags] = await Promise.all([
    dom.state(),
    dom.getInfo(),
    dom.isPersistent(),
    dom.autostart(),
    dom.hasManagedSaveImage(),
    dom.snapshotNum(),
    domainTags(dom),
  ]);
  return {
    uuid: dom.UUIDString(),
    name: dom.name(),
    id: state === 5 ? -1 : dom.ID(),
    state,
    stateName: STATE_NAMES[state] ?? 'unknown',
    reason,
    persistent,
    autostart,
    managedSave,
    snapshots,
    vcpus: info.nrVirtCpu,
    memory: info.memory,
    maxMemory: info.maxMem,
    cpuTime: info.cpuTime,
    tags,
  };
}

/**
 * Every domain of the connection, summarised. A domain that goes away between the listing and
 * its summary (another client undefined it) is left out rather than failing the list.
 */
export async function listDomains(conn: Connection): Promise<DomainSummary[]> {
  const doms = await conn.listAllDomains();
  const rows = await Promise.all(
    doms.map(async (d) => {
      try {
        return await summarize(d);
      } catch (err) {
        if (err instanceof VirError && err.code === ErrorNumber.NO_DOMAIN) return null;
        throw err;
      }
    }),
  );
  return rows.filter((r): r is DomainSummary => r !== null).sort((a, b) => a.name.localeCompare(b.name));
}

/** The lifecycle actions the domain page offers, by name. */
export const ACTIONS = ['start', 'shutdown', 'reboot', 'destroy', 'suspend', 'resume', 'managedsave', 'reset'] as const;
/** One of {@link ACTIONS}. */
export type DomainAction = (typeof ACTIONS)[number];

/** Runs lifecycle action `action` on `dom` (the public API's call of that name; its errors). */
export async function runAction(dom: Domain, action: DomainAction): Promise<void> {
  switch (action) {
    case 'start':
      return dom.create();
    case 'shutdown':
      return dom.shutdown();
    case 'reboot':
      return dom.reboot();
    case 'destroy':
      return dom.destroy();
    case 'suspend':
      return dom.suspend();
    case 'resume':
      return dom.resume();
    case 'managedsave':
      return dom.managedSave();
    case 'reset':
      return dom.reset();
  }
}

/** The domain's XML: the live definition, or the persistent one with `inactive`. */
export async function domainXML(dom: Domain, inactive: boolean): Promise<string> {
  return dom.XMLDesc(inactive ? DomainXMLFlags.INACTIVE : 0);
}

/** The domain's snapshots, parents before children (the tree's order). */
export async function listSnapshots(dom: Domain): Promise<SnapshotSummary[]> {
  const snaps = await dom.listAllSnapshots(DomainSnapshotListFlags.TOPOLOGICAL);
  return Promise.all(
    snaps.map(async (s) => {
      const [xml, current] = await Promise.all([s.getXMLDesc(), s.isCurrent()]);
      const state = tag(xml, 'state') ?? '';
      return {
        name: s.getName(),
        parent: tag(xml.replace(/<domain[\s>][\s\S]*<\/domain>/, ''), 'name', '<parent>'),
        current,
        state,
        creationTime: Number(tag(xml, 'creationTime') ?? 0),
        description: unescapeXML(tag(xml, 'description') ?? ''),
        memory: /<memory\s+snapshot=['"]internal['"]/.test(xml) || ((state === 'running' || state === 'paused') && !/<memory\s+snapshot=['"]no['"]/.test(xml)),
      };
    }),
  );
}

/** The text of the first `<name>…</name>` in `xml` (after `after`, when given). */
function tag(xml: string, name: string, after?: string): string | null {
  let from = 0;
  if (after !== undefined) {
    from = xml.indexOf(after);
    if (from < 0) return null;
  }
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml.slice(from));
  return m === null ? null : m[1]!;
}

function unescapeXML(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** The flags the snapshot delete dialog offers. */
export function snapshotDeleteFlags(opts: { children?: boolean; childrenOnly?: boolean; metadataOnly?: boolean }): number {
  const F = DomainSnapshotDeleteFlags;
  return (opts.children === true ? F.CHILDREN : 0) | (opts.childrenOnly === true ? F.CHILDREN_ONLY : 0) | (opts.metadataOnly === true ? F.METADATA_ONLY : 0);
}


const UNDEFINE_FLAG_NAMES = Object.fromEntries(Object.entries(DomainUndefineFlags).map(([k, v]) => [v, k])) as Record<number, string>;

/** The undefine dialog's facts for `dom` (see {@link UndefinePreview}). */
export async function undefinePreview(dom: Domain): Promise<UndefinePreview> {
  const [persistent, active, managedSave, snapshots, checkpoints] = await Promise.all([
    dom.isPersistent(),
    dom.isActive(),
    dom.hasManagedSaveImage(),
    dom.snapshotNum(),
    dom.listAllCheckpoints().then(
      (l) => l.length,
      (err: unknown) => {
        // A driver without checkpoints has none.
        if (err instanceof VirError && err.code === ErrorNumber.NO_SUPPORT) return 0;
        throw err;
      },
    ),
  ]);
  const obstacles = undefineObstacles({ persistent, active, hasManagedSave: managedSave, snapshotCount: snapshots, checkpointCount: checkpoints });
  return {
    persistent,
    active,
    snapshots,
    checkpoints,
    managedSave,
    obstacles: obstacles.map((o) => ({
      kind: o.kind,
      message: o.message,
      flag: o.flag === null ? null : `VIR_DOMAIN_UNDEFINE_${UNDEFINE_FLAG_NAMES[o.flag] ?? o.flag}`,
      value: o.flag,
      consequence: o.consequence,
    })),
    becomesTransient: persistent && active,
  };
}

/** The undefine flags named in a request ('managed-save', 'snapshots-metadata', 'checkpoints-metadata', 'nvram', 'keep-nvram'). */
export function undefineFlags(names: readonly string[]): number {
  const F = DomainUndefineFlags;
  const table: Record<string, number> = {
    'managed-save': F.MANAGED_SAVE,
    'snapshots-metadata': F.SNAPSHOTS_METADATA,
    'checkpoints-metadata': F.CHECKPOINTS_METADATA,
    nvram: F.NVRAM,
    'keep-nvram': F.KEEP_NVRAM,
  };
  let flags = 0;
  for (const n of names) {
    const f = table[n];
    if (f === undefined) throw VirError.invalidArg(ErrorDomain.DOMAIN, `unknown undefine flag '${n}'`);
    flags |= f;
  }
  return flags;
}
