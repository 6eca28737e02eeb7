/**
 * The shapes of the web console's JSON API (docs/web.md), declared once: the server's modules
 * produce them and the browser UI (web/src/api.ts) reads them. Types only, no imports, so the UI
 * build can take them without the server's code.
 */

/** One row of the domain list. */
export interface DomainSummary {
  uuid: string;
  name: string;
  /** Runtime ID, -1 when inactive. */
  id: number;
  state: number;
  stateName: string;
  reason: number;
  persistent: boolean;
  autostart: boolean;
  managedSave: boolean;
  snapshots: number;
  vcpus: number;
  /** Memory in use, KiB. */
  memory: number;
  maxMemory: number;
  /** CPU time used, nanoseconds. */
  cpuTime: number;
  /** The web console's tags, from the domain's `<metadata>` (namespace `https://tsvirt.dev/xmlns/tags/1`). */
  tags: string[];
}

/** A snapshot as the tree shows it. */
export interface SnapshotSummary {
  name: string;
  parent: string | null;
  current: boolean;
  /** The domain state the snapshot recorded ('running', 'shutoff', 'disk-snapshot', …). */
  state: string;
  /** Seconds since the epoch. */
  creationTime: number;
  description: string;
  /** Whether the snapshot holds the guest's memory (a running or paused domain's full snapshot). */
  memory: boolean;
}

/** What the undefine dialog shows before anything is removed (the seed's rules, R1–R4). */
export interface UndefinePreview {
  persistent: boolean;
  active: boolean;
  snapshots: number;
  checkpoints: number;
  managedSave: boolean;
  /** Every refusal a plain undefine would meet, with the flag that lifts it (libvirt's order). */
  obstacles: { kind: string; message: string; flag: string | null; value: number | null; consequence: string }[];
  /** What happens to a running domain: it goes on as a transient domain (R4). */
  becomesTransient: boolean;
}

/** One point of a domain's history; null where the driver gave no figure. */
export interface MetricsSample {
  /** Milliseconds since the epoch. */
  t: number;
  /** CPU time used over the interval, as a percentage of one vCPU times the vCPU count (0–100). */
  cpu: number | null;
  /** The balloon's current size in KiB. */
  memoryKiB: number | null;
  diskReadBps: number | null;
  diskWriteBps: number | null;
  netRxBps: number | null;
  netTxBps: number | null;
}

/** A pool as the wizard lists it. Sizes in bytes. */
export interface PoolSummary {
  name: string;
  uuid: string;
  active: boolean;
  persistent: boolean;
  autostart: boolean;
  capacity: number;
  allocation: number;
  available: number;
}

/** A volume as the wizard lists it. Sizes in bytes. */
export interface VolumeSummary {
  name: string;
  path: string;
  /** virStorageVolType (0 file, 1 block, 2 dir, …). */
  type: number;
  /** The image format ('qcow2', 'raw', …), or null when the pool does not say. */
  format: string | null;
  capacity: number;
  allocation: number;
}

/** A network as the wizard lists it. */
export interface NetworkSummary {
  name: string;
  uuid: string;
  active: boolean;
  persistent: boolean;
  autostart: boolean;
}

/**
 * A connection the console shows: a URI the daemon serves itself, or another daemon reached with
 * tsvirt's remote driver (`--http-connect`). `connected` is false while a remote daemon is away;
 * the server keeps trying to reach it again.
 */
export interface HostSummary {
  uri: string;
  /** The name the UI labels its domains with. */
  label: string;
  remote: boolean;
  connected: boolean;
  /** Why the last attempt to reach it failed, or null. */
  error: string | null;
}

/** What GET /api/session answers. */
export interface SessionSummary {
  role: 'admin' | 'operator' | 'readonly';
  tokenId: string;
  /** Every URI, local ones first (the UI's order). */
  uris: string[];
  hosts: HostSummary[];
}
