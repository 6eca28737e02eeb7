/**
 * Durable state: domains, snapshot metadata, managed-save records, runtime records, the event log
 * and per-domain jobs, in one SQLite database (WAL, synchronous FULL). Every mutation a driver
 * makes runs inside `mutate()`, one IMMEDIATE transaction: a crash leaves the old state or the
 * new, never a mix, and writers in other processes wait for it.
 */
import Database from 'better-sqlite3';
import { closeSync, constants as fsc, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import { ErrorDomain, ErrorNumber, type DomainEventType, type DomainState } from '../core/enums.generated.js';
import { VirError } from '../core/errors.js';

/** One domain row. `id` is -1 while inactive. */
export interface DomainRecord {
  uuid: string;
  name: string;
  persistent: boolean;
  configXml: string | null;
  liveXml: string | null;
  id: number;
  state: DomainState;
  reason: number;
  autostart: boolean;
  maxMem: number;
  memory: number;
  vcpus: number;
  managedSave: string | null;
  currentSnapshot: string | null;
  runtime: string | null;
}

/** A storage pool as stored (migration 3). */
export interface StoragePoolRecord {
  uuid: string;
  name: string;
  persistent: boolean;
  active: boolean;
  autostart: boolean;
  /** The pool's definition XML. */
  xml: string;
}

/** A simulated pool's volume as stored: its path and the simulator's JSON data. */
export interface StorageVolumeRecord {
  poolUUID: string;
  name: string;
  path: string;
  data: string;
}

interface StoragePoolRow {
  uuid: string;
  name: string;
  persistent: number;
  active: number;
  autostart: number;
  xml: string;
}
interface StorageVolumeRow {
  pool_uuid: string;
  name: string;
  path: string;
  data: string;
}
function toPool(r: StoragePoolRow): StoragePoolRecord {
  return { uuid: r.uuid, name: r.name, persistent: r.persistent === 1, active: r.active === 1, autostart: r.autostart === 1, xml: r.xml };
}
function toVolume(r: StorageVolumeRow): StorageVolumeRecord {
  return { poolUUID: r.pool_uuid, name: r.name, path: r.path, data: r.data };
}

/** One snapshot metadata row. */
export interface SnapshotRecord {
  name: string;
  parent: string | null;
  seq: number;
  state: string;
  creationTime: number;
  /** The memory snapshot kind: 'no', 'internal' or 'external'. */
  memory: string;
  /** True when the memory or any disk is an external snapshot. */
  external: boolean;
  xml: string;
}

/** One checkpoint metadata row. */
export interface CheckpointRecord {
  name: string;
  parent: string | null;
  seq: number;
  creationTime: number;
  /** The checkpoint a new one becomes the child of (at most one per domain). */
  current: boolean;
  /** The checkpoint's XML as stored (empty in the tree queries, which skip the bodies). */
  xml: string;
}

interface CheckpointRow {
  name: string;
  parent: string | null;
  seq: number;
  creation_time: number;
  current: number;
  xml: string;
}

function toCheckpoint(row: CheckpointRow): CheckpointRecord {
  return {
    name: row.name,
    parent: row.parent,
    seq: row.seq,
    creationTime: row.creation_time,
    current: row.current === 1,
    xml: row.xml,
  };
}

/** One virtual network row. */
export interface NetworkRecord {
  uuid: string;
  name: string;
  persistent: boolean;
  /** The persistent definition; null for a transient network. */
  configXml: string | null;
  /** The running definition; null while inactive. */
  liveXml: string | null;
  active: boolean;
  autostart: boolean;
  /** The host side's runtime record (JSON), null while inactive. */
  runtime: string | null;
}

interface NetworkRow {
  uuid: string;
  name: string;
  persistent: number;
  config_xml: string | null;
  live_xml: string | null;
  active: number;
  autostart: number;
  runtime: string | null;
}

function toNetwork(row: NetworkRow): NetworkRecord {
  return {
    uuid: row.uuid,
    name: row.name,
    persistent: row.persistent === 1,
    configXml: row.config_xml,
    liveXml: row.live_xml,
    active: row.active === 1,
    autostart: row.autostart === 1,
    runtime: row.runtime,
  };
}

/** The columns a state or ID lookup needs: a domain row without its XML. */
export type DomainStatus = Pick<DomainRecord, 'name' | 'id' | 'persistent' | 'state' | 'reason'>;

type DomainStatusRow = [name: string, id: number | null, persistent: number, state: DomainState, reason: number];

/** What listing needs of a domain. */
export interface DomainSummary {
  uuid: string;
  name: string;
  id: number;
  persistent: boolean;
  state: DomainState;
  reason: number;
  autostart: boolean;
  hasManagedSave: boolean;
}

type DomainSummaryRow = [
  uuid: string,
  name: string,
  id: number | null,
  persistent: number,
  state: DomainState,
  autostart: number,
  hasImage: number,
  reason: number,
];

/** A lifecycle event as recorded in the log. */
export interface EventRecord {
  seq: number;
  origin: string;
  uuid: string;
  name: string;
  id: number;
  event: DomainEventType;
  detail: number;
}

interface DomainRow {
  uuid: string;
  name: string;
  persistent: number;
  config_xml: string | null;
  live_xml: string | null;
  id: number | null;
  // Only DomainState values are ever written.
  state: DomainState;
  reason: number;
  autostart: number;
  max_mem: number;
  memory: number;
  vcpus: number;
  managed_save: string | null;
  current_snapshot: string | null;
  runtime: string | null;
}

interface SnapshotRow {
  name: string;
  parent: string | null;
  seq: number;
  state: string;
  creation_time: number;
  memory: string;
  external: number;
  xml: string;
}

function toDomain(row: DomainRow): DomainRecord {
  return {
    uuid: row.uuid,
    name: row.name,
    persistent: row.persistent === 1,
    configXml: row.config_xml,
    liveXml: row.live_xml,
    id: row.id ?? -1,
    state: row.state,
    reason: row.reason,
    autostart: row.autostart === 1,
    maxMem: row.max_mem,
    memory: row.memory,
    vcpus: row.vcpus,
    managedSave: row.managed_save,
    currentSnapshot: row.current_snapshot,
    runtime: row.runtime,
  };
}

function toSnapshot(row: SnapshotRow): SnapshotRecord {
  return {
    name: row.name,
    parent: row.parent,
    seq: row.seq,
    state: row.state,
    creationTime: row.creation_time,
    memory: row.memory,
    external: row.external === 1,
    xml: row.xml,
  };
}

/** Where a store lives: a file, or ':memory:' for a per-connection store (test:///default). */
export interface StoreOptions {
  path: string;
  /** How long a writer waits for another process's transaction, in ms (default 30 s). */
  busyTimeoutMs?: number;
  /**
   * Never block the event loop on another process's write lock (tsvirtd, which serves other
   * clients meanwhile). SQLite's own busy wait is synchronous, so it is off (timeout 0); a writer
   * awaits `writable()` before `mutate()` instead, which retries on a timer for up to
   * busyTimeoutMs. A `mutate()` not preceded by it fails at once while another process writes.
   * `mutateUnsynced()` syncs like `mutate()` (its pragma cannot change inside the transaction
   * `writable()` opens).
   */
  nonBlocking?: boolean;
  /**
   * Group commit (tsvirtd): mutations made in one turn of the event loop share one COMMIT, so
   * one fsync makes a burst of concurrent calls durable. `mutate()` then returns before its
   * changes are durable; the caller must await `durable()` before it reports success to anyone
   * (see there). Off by default: in-process callers keep "durable on return".
   */
  groupCommit?: boolean;
}

/** Columns for a domain insert or update. */
export type DomainWrite = Omit<DomainRecord, 'id'> & { id: number };

const EVENT_LOG_KEEP = 10_000;

type Makers<T> = { [K in keyof T]: () => T[K] };

/**
 * An object whose properties are made on first read: each statement is prepared when first used.
 * A short command uses a few of the store's statements, and an in-memory store (test:///default)
 * is made anew at each connection.
 */
function lazyStatements<T extends object>(makers: Makers<T>): T {
  const out = {} as T;
  for (const key of Object.keys(makers) as (keyof T)[]) {
    Object.defineProperty(out, key, {
      configurable: true,
      enumerable: true,
      get: () => {
        const value = makers[key]();
        Object.defineProperty(out, key, { value, enumerable: true });
        return value;
      },
    });
  }
  return out;
}

/**
 * The store. Reads may run anywhere; writes only inside `mutate()`. Statements are prepared once.
 */
export class Store {
  readonly path: string;
  private originId: string | undefined;
  /** Identifies this open store in the event log, so a process skips its own events. */
  get origin(): string {
    return (this.originId ??= randomUUID());
  }
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly storageStmt;
  private depth = 0;
  /** Built once: better-sqlite3's transaction() wrapper is costly to create per call. */
  private readonly txn: Database.Transaction<(fn: () => unknown) => unknown>;
  private readonly logEvents: boolean;
  private readonly groupCommit: boolean;
  /** Bumped by every write to the domains table and every rollback (see domainSummaries). */
  private domainsGen = 0;
  private summaries: { gen: number; version: number; rows: readonly Readonly<DomainSummary>[] } | null = null;
  private readonly nonBlocking: boolean;
  private readonly lockWaitMs: number;
  /** Outside group commit: the write lock taken by writable() for the mutate() that follows. */
  private reserved = false;
  /** The open group transaction: who waits for its COMMIT, and what runs after it. */
  private batch: { waiters: { resolve: () => void; reject: (e: VirError) => void }[]; after: (() => void)[] } | null = null;

  constructor(options: StoreOptions) {
    this.path = options.path;
    this.groupCommit = options.groupCommit === true && options.path !== ':memory:';
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
    const busyTimeoutMs = options.busyTimeoutMs ?? 30_000;
    this.nonBlocking = options.nonBlocking === true && options.path !== ':memory:';
    this.lockWaitMs = busyTimeoutMs;
    try {
      // Created 0600 before SQLite opens it (SQLite would make it 0644); SQLite gives the -wal
      // and -shm files the database file's mode. An existing file is left as it is.
      if (options.path !== ':memory:') closeSync(openSync(options.path, fsc.O_RDONLY | fsc.O_CREAT, 0o600));
      this.db = new Database(options.path, { timeout: this.nonBlocking ? 0 : busyTimeoutMs });
      if (options.path !== ':memory:') {
        // Two processes opening a new store at once: the switch to WAL can meet the other's lock
        // with SQLITE_BUSY at once, without SQLite's busy handler. Retried as a busy wait would.
        retryWhileBusy(() => this.db.pragma('journal_mode = WAL'), busyTimeoutMs);
        this.db.pragma('synchronous = FULL');
      }
      this.db.pragma('foreign_keys = ON');
      if (options.path === ':memory:') this.createSchema();
      else retryWhileBusy(() => this.migrate(), busyTimeoutMs);
    } catch (err) {
      throw storeError(err, `cannot open store '${options.path}'`);
    }
    const db = this.db;
    this.txn = db.transaction((fn: () => unknown) => fn());
    // Only another process can read the event log; an in-memory store has none.
    this.logEvents = options.path !== ':memory:';
    this.storageStmt = lazyStatements({
      allPools: () => db.prepare<[], StoragePoolRow>('SELECT * FROM storage_pools ORDER BY name'),
      poolByUUID: () => db.prepare<[string], StoragePoolRow>('SELECT * FROM storage_pools WHERE uuid = ?'),
      poolByName: () => db.prepare<[string], StoragePoolRow>('SELECT * FROM storage_pools WHERE name = ?'),
      putPool: () =>
        db.prepare<[string, string, number, number, number, string]>(
          // An upsert, not INSERT OR REPLACE: a replaced row would take its volumes with it (cascade).
          'INSERT INTO storage_pools (uuid, name, persistent, active, autostart, xml) VALUES (?, ?, ?, ?, ?, ?) ' +
            'ON CONFLICT (uuid) DO UPDATE SET name = excluded.name, persistent = excluded.persistent, active = excluded.active, ' +
            'autostart = excluded.autostart, xml = excluded.xml',
        ),
      deleteVolumes: () => db.prepare<[string]>('DELETE FROM storage_volumes WHERE pool_uuid = ?'),
      deletePool: () => db.prepare<[string]>('DELETE FROM storage_pools WHERE uuid = ?'),
      volumes: () => db.prepare<[string], StorageVolumeRow>('SELECT * FROM storage_volumes WHERE pool_uuid = ? ORDER BY name'),
      volume: () => db.prepare<[string, string], StorageVolumeRow>('SELECT * FROM storage_volumes WHERE pool_uuid = ? AND name = ?'),
      volumeByPath: () => db.prepare<[string], StorageVolumeRow>('SELECT * FROM storage_volumes WHERE path = ?'),
      volumeCount: () => db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM storage_volumes WHERE pool_uuid = ?'),
      putVolume: () =>
        db.prepare<[string, string, string, string]>('INSERT OR REPLACE INTO storage_volumes (pool_uuid, name, path, data) VALUES (?, ?, ?, ?)'),
      deleteVolume: () => db.prepare<[string, string]>('DELETE FROM storage_volumes WHERE pool_uuid = ? AND name = ?'),
      counter: () => db.prepare<[string], { value: number }>('SELECT value FROM counters WHERE name = ?'),
      setCounter: () => db.prepare<[string, number]>('INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)'),
    });
    this.stmt = lazyStatements({
      domainByUUID: () => db.prepare<[string], DomainRow>('SELECT * FROM domains WHERE uuid = ?'),
      domainStatusByUUID: () =>
        db.prepare<[string], DomainStatusRow>('SELECT name, id, persistent, state, reason FROM domains WHERE uuid = ?').raw(),
      domainByName: () => db.prepare<[string], DomainRow>('SELECT * FROM domains WHERE name = ?'),
      domainByID: () => db.prepare<[number], DomainRow>('SELECT * FROM domains WHERE id = ?'),
      allDomains: () => db.prepare<[], DomainRow>('SELECT * FROM domains ORDER BY name'),
      dataVersion: () => db.prepare<[], number>('PRAGMA data_version').pluck(),
      domainSummaries: () =>
        db
          .prepare<[], DomainSummaryRow>(
            'SELECT uuid, name, id, persistent, state, autostart, managed_save IS NOT NULL, reason FROM domains',
          )
          .raw(),
      activeDomains: () => db.prepare<[], DomainRow>('SELECT * FROM domains WHERE id IS NOT NULL ORDER BY id'),
      countActive: () => db.prepare<[], { n: number }>('SELECT count(*) AS n FROM domains WHERE id IS NOT NULL'),
      countInactive: () => db.prepare<[], { n: number }>('SELECT count(*) AS n FROM domains WHERE id IS NULL'),
      domainsWithSnapshots: () => db.prepare<[], { domain_uuid: string }>(
        'SELECT DISTINCT domain_uuid FROM snapshots',
      ),
      insertDomain: () => db.prepare(
        `INSERT INTO domains (uuid, name, persistent, config_xml, live_xml, id, state, reason, autostart,
           max_mem, memory, vcpus, managed_save, current_snapshot, runtime)
         VALUES (@uuid, @name, @persistent, @configXml, @liveXml, @id, @state, @reason, @autostart,
           @maxMem, @memory, @vcpus, @managedSave, @currentSnapshot, @runtime)`,
      ),
      updateDomain: () => db.prepare(
        `UPDATE domains SET name = @name, persistent = @persistent, config_xml = @configXml,
           live_xml = @liveXml, id = @id, state = @state, reason = @reason, autostart = @autostart,
           max_mem = @maxMem, memory = @memory, vcpus = @vcpus, managed_save = @managedSave,
           current_snapshot = @currentSnapshot, runtime = @runtime
         WHERE uuid = @uuid`,
      ),
      deleteDomain: () => db.prepare<[string]>('DELETE FROM domains WHERE uuid = ?'),
      nextID: () => db.prepare<[], { value: number }>(
        `UPDATE counters SET value = value + 1 WHERE name = 'next_domain_id' RETURNING value - 1 AS value`,
      ),
      snapshotCount: () => db.prepare<[string], { n: number }>(
        'SELECT count(*) AS n FROM snapshots WHERE domain_uuid = ?',
      ),
      snapshots: () => db.prepare<[string], SnapshotRow>(
        `SELECT name, parent, seq, state, creation_time, memory, external, xml
         FROM snapshots WHERE domain_uuid = ? ORDER BY seq`,
      ),
      snapshotTree: () => db.prepare<[string], SnapshotRow>(
        `SELECT name, parent, seq, state, creation_time, memory, external, '' AS xml
         FROM snapshots INDEXED BY snapshots_tree WHERE domain_uuid = ? ORDER BY seq`,
      ),
      snapshotNames: () => db.prepare<[string], string>(
        'SELECT name FROM snapshots INDEXED BY snapshots_tree WHERE domain_uuid = ? ORDER BY seq',
      ).pluck(),
      snapshotNode: () => db.prepare<[string, string], SnapshotRow>(
        `SELECT name, parent, seq, state, creation_time, memory, external, '' AS xml
         FROM snapshots WHERE domain_uuid = ? AND name = ?`,
      ),
      snapshot: () => db.prepare<[string, string], SnapshotRow>(
        `SELECT name, parent, seq, state, creation_time, memory, external, xml
         FROM snapshots WHERE domain_uuid = ? AND name = ?`,
      ),
      maxSnapshotSeq: () => db.prepare<[string], { seq: number | null }>(
        'SELECT max(seq) AS seq FROM snapshots WHERE domain_uuid = ?',
      ),
      upsertSnapshot: () => db.prepare(
        `INSERT INTO snapshots (domain_uuid, name, parent, seq, state, creation_time, memory, external, xml)
         VALUES (@uuid, @name, @parent, @seq, @state, @creationTime, @memory, @external, @xml)
         ON CONFLICT (domain_uuid, name) DO UPDATE SET parent = excluded.parent, state = excluded.state,
           creation_time = excluded.creation_time, memory = excluded.memory, external = excluded.external,
           xml = excluded.xml`,
      ),
      setSnapshotParent: () => db.prepare<[string | null, string, string]>(
        'UPDATE snapshots SET parent = ? WHERE domain_uuid = ? AND name = ?',
      ),
      deleteSnapshot: () => db.prepare<[string, string]>('DELETE FROM snapshots WHERE domain_uuid = ? AND name = ?'),
      deleteSnapshots: () => db.prepare<[string]>('DELETE FROM snapshots WHERE domain_uuid = ?'),
      insertEvent: () => db.prepare(
        `INSERT INTO events (origin, uuid, name, id, event, detail)
         VALUES (@origin, @uuid, @name, @id, @event, @detail)`,
      ),
      eventsAfter: () => db.prepare<[number], EventRecord>('SELECT * FROM events WHERE seq > ? ORDER BY seq'),
      lastEventSeq: () => db.prepare<[], { seq: number | null }>('SELECT max(seq) AS seq FROM events'),
      trimEvents: () => db.prepare<[number]>('DELETE FROM events WHERE seq <= ?'),
      checkpointCount: () => db.prepare<[string], { n: number }>(
        'SELECT count(*) AS n FROM checkpoints WHERE domain_uuid = ?',
      ),
      checkpointTree: () => db.prepare<[string], CheckpointRow>(
        `SELECT name, parent, seq, creation_time, current, '' AS xml
         FROM checkpoints INDEXED BY checkpoints_tree WHERE domain_uuid = ? ORDER BY seq`,
      ),
      checkpoint: () => db.prepare<[string, string], CheckpointRow>(
        `SELECT name, parent, seq, creation_time, current, xml
         FROM checkpoints WHERE domain_uuid = ? AND name = ?`,
      ),
      maxCheckpointSeq: () => db.prepare<[string], { seq: number | null }>(
        'SELECT max(seq) AS seq FROM checkpoints WHERE domain_uuid = ?',
      ),
      upsertCheckpoint: () => db.prepare(
        `INSERT INTO checkpoints (domain_uuid, name, parent, seq, creation_time, current, xml)
         VALUES (@uuid, @name, @parent, @seq, @creationTime, @current, @xml)
         ON CONFLICT (domain_uuid, name) DO UPDATE SET parent = excluded.parent,
           creation_time = excluded.creation_time, current = excluded.current, xml = excluded.xml`,
      ),
      setCheckpointParent: () => db.prepare<[string | null, string, string]>(
        'UPDATE checkpoints SET parent = ? WHERE domain_uuid = ? AND name = ?',
      ),
      setCurrentCheckpoint: () => db.prepare<[string | null, string]>(
        'UPDATE checkpoints SET current = (name IS ?) WHERE domain_uuid = ?',
      ),
      deleteCheckpoint: () => db.prepare<[string, string]>('DELETE FROM checkpoints WHERE domain_uuid = ? AND name = ?'),
      deleteCheckpoints: () => db.prepare<[string]>('DELETE FROM checkpoints WHERE domain_uuid = ?'),
      domainsWithCheckpoints: () => db.prepare<[], { domain_uuid: string }>(
        'SELECT DISTINCT domain_uuid FROM checkpoints',
      ),
      networkByUUID: () => db.prepare<[string], NetworkRow>('SELECT * FROM networks WHERE uuid = ?'),
      networkByName: () => db.prepare<[string], NetworkRow>('SELECT * FROM networks WHERE name = ?'),
      allNetworks: () => db.prepare<[], NetworkRow>('SELECT * FROM networks ORDER BY name'),
      putNetwork: () => db.prepare(
        `INSERT INTO networks (uuid, name, persistent, config_xml, live_xml, active, autostart, runtime)
         VALUES (@uuid, @name, @persistent, @configXml, @liveXml, @active, @autostart, @runtime)
         ON CONFLICT (uuid) DO UPDATE SET name = excluded.name, persistent = excluded.persistent,
           config_xml = excluded.config_xml, live_xml = excluded.live_xml, active = excluded.active,
           autostart = excluded.autostart, runtime = excluded.runtime`,
      ),
      deleteNetwork: () => db.prepare<[string]>('DELETE FROM networks WHERE uuid = ?'),
      claimOnce: () => db.prepare<[string]>('INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT (name) DO NOTHING'),
      job: () => db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE domain_uuid = ?'),
      insertJob: () => db.prepare(
        `INSERT INTO jobs (domain_uuid, job, owner_pid, owner_start, owner_token, started_at)
         VALUES (@uuid, @job, @pid, @start, @token, @startedAt)`,
      ),
      deleteJob: () => db.prepare<[string, string]>('DELETE FROM jobs WHERE domain_uuid = ? AND owner_token = ?'),
      deleteJobAny: () => db.prepare<[string]>('DELETE FROM jobs WHERE domain_uuid = ?'),
    });
  }

  /**
   * A new in-memory database belongs to this connection alone: the migrations run as one script,
   * without the transaction and the version checks that guard a file other processes may open
   * (half of the work of opening test:///default).
   */
  private createSchema(): void {
    this.db.exec(`${MIGRATIONS.join('\n')};\nPRAGMA user_version = ${SCHEMA_VERSION};`);
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(`store schema version ${version} is newer than this tsvirt (${SCHEMA_VERSION})`);
    }
    if (version === SCHEMA_VERSION) return;
    this.db
      .transaction(() => {
        // Another process may have migrated while this one waited for the write lock.
        const current = this.db.pragma('user_version', { simple: true }) as number;
        for (let v = current; v < SCHEMA_VERSION; v++) this.db.exec(MIGRATIONS[v] ?? '');
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })
      .immediate();
  }

  close(): void {
    this.releaseReservation();
    // A pending group transaction commits first: nothing mutate() accepted is dropped.
    this.commitBatch();
    if (this.db.open) this.db.close();
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction (nested calls join the outer one). Everything it writes
   * commits together or not at all; `fn` must be synchronous, so no other work interleaves.
   */
  mutate<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    if (this.groupCommit) this.openBatch();
    const reserved = this.reserved;
    this.reserved = false;
    this.depth++;
    try {
      // Inside a group transaction (or the one writable() opened) better-sqlite3 makes this a
      // SAVEPOINT: a mutation that throws rolls back alone, and the others in the batch stay.
      const out = this.txn.immediate(fn) as T;
      if (reserved) this.db.exec('COMMIT');
      return out;
    } catch (err) {
      // What the call wrote is undone: the domains table may be back to before it.
      this.domainsGen++;
      if (reserved && this.db.inTransaction) {
        try {
          this.db.exec('ROLLBACK');
        } catch {
          // SQLite rolled back already.
        }
      }
      if (err instanceof VirError) throw err;
      throw storeError(err, 'store update failed');
    } finally {
      this.depth--;
    }
  }

  /**
   * With `nonBlocking` (tsvirtd): makes sure the next `mutate()` gets the write lock without
   * waiting. Returns undefined when it will (the lock is taken now, or already held by this
   * store, or the store waits the blocking way): call `mutate()` at once, in the same turn.
   * Otherwise another process holds the lock: returns a promise that retries on a timer (the
   * event loop keeps running), and resolves once the lock is taken — `mutate()` must then be
   * called in the continuation, before anything else is awaited (the lock is let go at the end
   * of the loop turn). Rejects after busyTimeoutMs with VIR_ERR_OPERATION_TIMEOUT ("Timed out
   * during operation: cannot acquire the store's write lock: another process holds it").
   */
  writable(): Promise<void> | undefined {
    if (!this.nonBlocking || this.depth > 0 || this.batch !== null || this.reserved) return undefined;
    if (this.tryLock()) return undefined;
    return this.waitWritable();
  }

  private async waitWritable(): Promise<void> {
    const deadline = Date.now() + this.lockWaitMs;
    let delay = 2;
    for (;;) {
      await new Promise((r) => setTimeout(r, delay));
      // Taken by another writer of this store in this turn: the mutate() joins it.
      if (this.batch !== null || this.reserved || this.tryLock()) return;
      if (Date.now() >= deadline) {
        throw VirError.report(ErrorDomain.NONE, ErrorNumber.OPERATION_TIMEOUT, "cannot acquire the store's write lock: another process holds it");
      }
      delay = Math.min(delay * 2, 50);
    }
  }

  /**
   * BEGIN IMMEDIATE without waiting; false when another process holds the write lock. The
   * transaction is the group's batch, or (without group commit) a reservation for the next
   * mutate(), rolled back at the end of the loop turn if none came.
   */
  private tryLock(): boolean {
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      if (isBusy(err)) return false;
      throw storeError(err, 'store update failed');
    }
    if (this.groupCommit) {
      this.batch = { waiters: [], after: [] };
      setImmediate(() => this.commitBatch());
    } else {
      this.reserved = true;
      setImmediate(() => this.releaseReservation());
    }
    return true;
  }

  /** Lets go of a reservation no mutate() used. */
  private releaseReservation(): void {
    if (!this.reserved) return;
    this.reserved = false;
    try {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    } catch {
      // Nothing was written in it.
    }
  }

  /**
   * A mutation whose loss in a power failure is harmless — taking a domain's job, a lock that
   * nobody holds after a reboot anyway — committed without the WAL's fsync (synchronous NORMAL
   * for this commit only). It survives a process crash like any commit (the WAL is in the OS's
   * cache), and the next durable commit syncs it along. Saves one fsync per guest operation.
   */
  mutateUnsynced<T>(fn: () => T): T {
    if (this.depth > 0 || this.groupCommit || this.nonBlocking || this.path === ':memory:') return this.mutate(fn);
    this.db.pragma('synchronous = NORMAL');
    try {
      return this.mutate(fn);
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  /** Runs `fn` against one consistent snapshot of the database. */
  read<T>(fn: () => T): T {
    if (this.depth > 0 || this.batch !== null || this.reserved) return fn();
    return this.txn.deferred(fn) as T;
  }

  /**
   * Group commit: resolves once every change made so far is durable (its COMMIT — with
   * synchronous FULL, the WAL fsync — has returned); rejects with the store error when that
   * COMMIT failed, in which case those changes are gone. Resolves at once when nothing is
   * pending, and always without group commit. tsvirtd awaits it before every reply, so no client
   * is told of a change — its own or, through a read, another's — before it is durable.
   */
  durable(): Promise<void> {
    const batch = this.batch;
    if (batch === null) return Promise.resolve();
    return new Promise((resolve, reject) => batch.waiters.push({ resolve, reject }));
  }

  /**
   * Runs `fn` once the changes made so far are durable (at once when nothing is pending); never
   * when their COMMIT fails. For lifecycle events, which must not announce what a crash could
   * still undo.
   */
  afterCommit(fn: () => void): void {
    if (this.batch === null) fn();
    else this.batch.after.push(fn);
  }

  /**
   * Opens the group transaction if none is: BEGIN IMMEDIATE (waiting, like any writer, for
   * another process's transaction), COMMIT scheduled with setImmediate, that is after the I/O
   * callbacks of this loop turn — every call that arrived while the previous fsync ran gets into
   * this batch.
   */
  private openBatch(): void {
    if (this.batch !== null) return;
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      throw storeError(err, 'store update failed');
    }
    this.batch = { waiters: [], after: [] };
    setImmediate(() => this.commitBatch());
  }

  private commitBatch(): void {
    const batch = this.batch;
    if (batch === null) return;
    this.batch = null;
    let failure: VirError | null = null;
    try {
      this.db.exec('COMMIT');
    } catch (err) {
      failure = storeError(err, 'store update failed');
      this.domainsGen++;
      try {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
      } catch {
        // SQLite rolled back already.
      }
    }
    if (failure !== null) {
      for (const w of batch.waiters) w.reject(failure);
      return;
    }
    for (const fn of batch.after) {
      try {
        fn();
      } catch {
        // An event listener's failure must not stop the others.
      }
    }
    for (const w of batch.waiters) w.resolve();
  }

  // Domains.

  domainByUUID(uuid: string): DomainRecord | undefined {
    const row = this.stmt.domainByUUID.get(uuid);
    return row && toDomain(row);
  }
  /**
   * A domain's name, ID and run state, without reading its XML: a third of the time of
   * `domainByUUID`, for the calls that need no more (state, ID, active, persistent).
   */
  domainStatusByUUID(uuid: string): DomainStatus | undefined {
    const r = this.stmt.domainStatusByUUID.get(uuid) as DomainStatusRow | undefined;
    return r && { name: r[0], id: r[1] ?? -1, persistent: r[2] === 1, state: r[3], reason: r[4] };
  }
  domainByName(name: string): DomainRecord | undefined {
    const row = this.stmt.domainByName.get(name);
    return row && toDomain(row);
  }
  domainByID(id: number): DomainRecord | undefined {
    const row = this.stmt.domainByID.get(id);
    return row && toDomain(row);
  }
  allDomains(): DomainRecord[] {
    return this.stmt.allDomains.all().map(toDomain);
  }
  /** The columns listing and filtering need, for every domain (no XML read). */
  /**
   * What listing needs of every domain, by name. Kept between calls (reading the rows costs
   * about a microsecond per value through better-sqlite3) and read again once the domains table
   * may have changed: after any write to it through this store or any rollback (domainsGen), or
   * after another connection's commit (SQLite's data_version). The objects are frozen: shared by
   * every caller.
   */
  domainSummaries(): readonly Readonly<DomainSummary>[] {
    const version = this.path === ':memory:' ? 0 : (this.stmt.dataVersion.get() as number);
    const kept = this.summaries;
    if (kept !== null && kept.gen === this.domainsGen && kept.version === version) return kept.rows;
    const gen = this.domainsGen;
    const rows = this.readDomainSummaries().map((d) => Object.freeze(d));
    this.summaries = { gen, version, rows };
    return rows;
  }

  private readDomainSummaries(): DomainSummary[] {
    // Raw rows (arrays) are markedly cheaper than objects for 10,000 domains; the table is read
    // in its own (UUID) order and sorted here, cheaper than walking the name index.
    const rows = this.stmt.domainSummaries.all() as unknown as DomainSummaryRow[];
    rows.sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    return rows.map((r) => ({
      uuid: r[0],
      name: r[1],
      id: r[2] ?? -1,
      persistent: r[3] === 1,
      state: r[4],
      reason: r[7],
      autostart: r[5] === 1,
      hasManagedSave: r[6] === 1,
    }));
  }
  activeDomains(): DomainRecord[] {
    return this.stmt.activeDomains.all().map(toDomain);
  }
  countActive(): number {
    return this.stmt.countActive.get()?.n ?? 0;
  }
  countInactive(): number {
    return this.stmt.countInactive.get()?.n ?? 0;
  }
  /** UUIDs of the domains that have at least one snapshot. */
  domainsWithSnapshots(): Set<string> {
    return new Set(this.stmt.domainsWithSnapshots.all().map((r) => r.domain_uuid));
  }
  insertDomain(rec: DomainWrite): void {
    this.domainsGen++;
    this.stmt.insertDomain.run(domainParams(rec));
  }
  updateDomain(rec: DomainWrite): void {
    this.domainsGen++;
    this.stmt.updateDomain.run(domainParams(rec));
  }
  /** Removes a domain with everything that belongs to it (snapshots cascade, jobs too). */
  deleteDomain(uuid: string): void {
    this.domainsGen++;
    this.stmt.deleteSnapshots.run(uuid);
    this.stmt.deleteCheckpoints.run(uuid);
    this.stmt.deleteJobAny.run(uuid);
    this.stmt.deleteDomain.run(uuid);
  }
  /** Takes the next runtime ID (IDs are never reused while the store lives, as in libvirt). */
  allocateID(): number {
    const row = this.stmt.nextID.get();
    if (row === undefined) throw new Error('id counter missing');
    return row.value;
  }

  // Storage pools and simulated volumes (migration 3).

  allPools(): StoragePoolRecord[] {
    return this.storageStmt.allPools.all().map(toPool);
  }
  poolByUUID(uuid: string): StoragePoolRecord | undefined {
    const r = this.storageStmt.poolByUUID.get(uuid);
    return r && toPool(r);
  }
  poolByName(name: string): StoragePoolRecord | undefined {
    const r = this.storageStmt.poolByName.get(name);
    return r && toPool(r);
  }
  /** Inserts or replaces a pool (by UUID). */
  putPool(p: StoragePoolRecord): void {
    this.storageStmt.putPool.run(p.uuid, p.name, p.persistent ? 1 : 0, p.active ? 1 : 0, p.autostart ? 1 : 0, p.xml);
  }
  /** Removes a pool with its simulated volumes. */
  deletePool(uuid: string): void {
    this.storageStmt.deleteVolumes.run(uuid);
    this.storageStmt.deletePool.run(uuid);
  }
  poolVolumes(poolUUID: string): StorageVolumeRecord[] {
    return this.storageStmt.volumes.all(poolUUID).map(toVolume);
  }
  poolVolume(poolUUID: string, name: string): StorageVolumeRecord | undefined {
    const r = this.storageStmt.volume.get(poolUUID, name);
    return r && toVolume(r);
  }
  volumeByPath(path: string): StorageVolumeRecord | undefined {
    const r = this.storageStmt.volumeByPath.get(path);
    return r && toVolume(r);
  }
  poolVolumeCount(poolUUID: string): number {
    return this.storageStmt.volumeCount.get(poolUUID)?.n ?? 0;
  }
  putVolume(v: StorageVolumeRecord): void {
    this.storageStmt.putVolume.run(v.poolUUID, v.name, v.path, v.data);
  }
  deleteVolume(poolUUID: string, name: string): void {
    this.storageStmt.deleteVolume.run(poolUUID, name);
  }
  /** A named counter or flag of the `counters` table; undefined when never set. */
  counter(name: string): number | undefined {
    return this.storageStmt.counter.get(name)?.value;
  }
  setCounter(name: string, value: number): void {
    this.storageStmt.setCounter.run(name, value);
  }

  // Snapshots.

  snapshotCount(uuid: string): number {
    return this.stmt.snapshotCount.get(uuid)?.n ?? 0;
  }
  snapshots(uuid: string): SnapshotRecord[] {
    return this.stmt.snapshots.all(uuid).map(toSnapshot);
  }
  /** The snapshot tree without the XML bodies (cheap: for listing and filtering). */
  snapshotTree(uuid: string): SnapshotRecord[] {
    return this.stmt.snapshotTree.all(uuid).map(toSnapshot);
  }
  /** Every snapshot name of a domain, in creation order (the unfiltered listing). */
  snapshotNames(uuid: string): string[] {
    return this.stmt.snapshotNames.all(uuid);
  }
  /** One snapshot without its XML body. */
  snapshotNode(uuid: string, name: string): SnapshotRecord | undefined {
    const row = this.stmt.snapshotNode.get(uuid, name);
    return row && toSnapshot(row);
  }
  snapshot(uuid: string, name: string): SnapshotRecord | undefined {
    const row = this.stmt.snapshot.get(uuid, name);
    return row && toSnapshot(row);
  }
  nextSnapshotSeq(uuid: string): number {
    return (this.stmt.maxSnapshotSeq.get(uuid)?.seq ?? 0) + 1;
  }
  putSnapshot(uuid: string, rec: SnapshotRecord): void {
    this.stmt.upsertSnapshot.run({
      uuid,
      name: rec.name,
      parent: rec.parent,
      seq: rec.seq,
      state: rec.state,
      creationTime: rec.creationTime,
      memory: rec.memory,
      external: rec.external ? 1 : 0,
      xml: rec.xml,
    });
  }
  setSnapshotParent(uuid: string, name: string, parent: string | null): void {
    this.stmt.setSnapshotParent.run(parent, uuid, name);
  }
  deleteSnapshot(uuid: string, name: string): void {
    this.stmt.deleteSnapshot.run(uuid, name);
  }
  deleteAllSnapshots(uuid: string): void {
    this.stmt.deleteSnapshots.run(uuid);
  }

  // Checkpoints: each change is made inside the caller's mutate(), so one call's changes commit
  // together (the same crash safety as snapshots).

  checkpointCount(uuid: string): number {
    return this.stmt.checkpointCount.get(uuid)?.n ?? 0;
  }
  /** Every checkpoint of a domain without its XML body, in creation order. */
  checkpointTree(uuid: string): CheckpointRecord[] {
    return this.stmt.checkpointTree.all(uuid).map(toCheckpoint);
  }
  checkpoint(uuid: string, name: string): CheckpointRecord | undefined {
    const row = this.stmt.checkpoint.get(uuid, name);
    return row && toCheckpoint(row);
  }
  nextCheckpointSeq(uuid: string): number {
    return (this.stmt.maxCheckpointSeq.get(uuid)?.seq ?? 0) + 1;
  }
  putCheckpoint(uuid: string, rec: CheckpointRecord): void {
    this.stmt.upsertCheckpoint.run({
      uuid,
      name: rec.name,
      parent: rec.parent,
      seq: rec.seq,
      creationTime: rec.creationTime,
      current: rec.current ? 1 : 0,
      xml: rec.xml,
    });
  }
  setCheckpointParent(uuid: string, name: string, parent: string | null): void {
    this.stmt.setCheckpointParent.run(parent, uuid, name);
  }
  /** Makes `name` the domain's current checkpoint (null: none). */
  setCurrentCheckpoint(uuid: string, name: string | null): void {
    this.stmt.setCurrentCheckpoint.run(name, uuid);
  }
  deleteCheckpoint(uuid: string, name: string): void {
    this.stmt.deleteCheckpoint.run(uuid, name);
  }
  deleteAllCheckpoints(uuid: string): void {
    this.stmt.deleteCheckpoints.run(uuid);
  }
  /** UUIDs of the domains that have at least one checkpoint. */
  domainsWithCheckpoints(): Set<string> {
    return new Set(this.stmt.domainsWithCheckpoints.all().map((r) => r.domain_uuid));
  }

  // Events.

  networkByUUID(uuid: string): NetworkRecord | undefined {
    const row = this.stmt.networkByUUID.get(uuid);
    return row === undefined ? undefined : toNetwork(row);
  }
  networkByName(name: string): NetworkRecord | undefined {
    const row = this.stmt.networkByName.get(name);
    return row === undefined ? undefined : toNetwork(row);
  }
  allNetworks(): NetworkRecord[] {
    return this.stmt.allNetworks.all().map(toNetwork);
  }
  /** Inserts or replaces a network row (by UUID). Inside mutate() only. */
  putNetwork(rec: NetworkRecord): void {
    this.stmt.putNetwork.run({
      ...rec,
      persistent: rec.persistent ? 1 : 0,
      active: rec.active ? 1 : 0,
      autostart: rec.autostart ? 1 : 0,
    });
  }
  deleteNetwork(uuid: string): void {
    this.stmt.deleteNetwork.run(uuid);
  }

  /**
   * True the first time it is called with `name` on this store, false ever after: for presets
   * made once in a durable store (the test driver's `default` network). Inside mutate() only.
   */
  claimOnce(name: string): boolean {
    return this.stmt.claimOnce.run(`once:${name}`).changes === 1;
  }

  appendEvent(ev: Omit<EventRecord, 'seq' | 'origin'>): void {
    if (!this.logEvents) return;
    const info = this.stmt.insertEvent.run({ origin: this.origin, ...ev });
    const seq = Number(info.lastInsertRowid);
    // Keep the log bounded; a reader that falls further behind rereads state instead (R12).
    if (seq % 1000 === 0) this.stmt.trimEvents.run(seq - EVENT_LOG_KEEP);
  }
  eventsAfter(seq: number): EventRecord[] {
    return this.stmt.eventsAfter.all(seq);
  }
  lastEventSeq(): number {
    return this.stmt.lastEventSeq.get()?.seq ?? 0;
  }
  /** SQLite's data_version: changes when another connection commits (cheap change detection). */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  // Jobs: per-domain, across processes, released when their owner dies.

  /**
   * Takes the job on a domain for this process, or reports who holds it. A job whose owner
   * process is gone is taken over (its owner died mid-job; the caller reconciles).
   */
  tryAcquireJob(uuid: string, job: string): { token: string } | { heldBy: string } {
    return this.mutate(() => {
      const held = this.stmt.job.get(uuid);
      if (held !== undefined) {
        if (ownerAlive(held)) return { heldBy: held.job };
        this.stmt.deleteJobAny.run(uuid);
      }
      const token = randomUUID();
      this.stmt.insertJob.run({
        uuid,
        job,
        pid: process.pid,
        start: ownStartTime(),
        token,
        startedAt: Date.now(),
      });
      return { token };
    });
  }
  releaseJob(uuid: string, token: string): void {
    this.mutate(() => this.stmt.deleteJob.run(uuid, token));
  }
  /** The job held on a domain by a live owner, if any (inside a mutation: stale ones are dropped). */
  activeJob(uuid: string): string | undefined {
    const held = this.stmt.job.get(uuid);
    if (held === undefined) return undefined;
    if (ownerAlive(held)) return held.job;
    if (this.depth > 0) this.stmt.deleteJobAny.run(uuid);
    return undefined;
  }
}

interface JobRow {
  domain_uuid: string;
  job: string;
  owner_pid: number;
  owner_start: string;
  owner_token: string;
  started_at: number;
}

function domainParams(rec: DomainWrite): Record<string, string | number | null> {
  return {
    uuid: rec.uuid,
    name: rec.name,
    persistent: rec.persistent ? 1 : 0,
    configXml: rec.configXml,
    liveXml: rec.liveXml,
    id: rec.id > 0 ? rec.id : null,
    state: rec.state,
    reason: rec.reason,
    autostart: rec.autostart ? 1 : 0,
    maxMem: rec.maxMem,
    memory: rec.memory,
    vcpus: rec.vcpus,
    managedSave: rec.managedSave,
    currentSnapshot: rec.currentSnapshot,
    runtime: rec.runtime,
  };
}

/**
 * This process's start time, read once: it never changes, and reading /proc at every job taken
 * cost more than the rest of a simulated guest call.
 */
function ownStartTime(): string {
  return (ownStart ??= processStartTime(process.pid) ?? '');
}
let ownStart: string | undefined;

/** The start time of a process from /proc (guards against a reused pid), or null. */
function processStartTime(pid: number): string | null {
  try {
    // Field 22 of /proc/PID/stat; the command name (field 2) may hold spaces, so split after ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

function ownerAlive(job: JobRow): boolean {
  if (job.owner_pid === process.pid) return true;
  try {
    process.kill(job.owner_pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const start = processStartTime(job.owner_pid);
  return start === null || job.owner_start === '' || start === job.owner_start;
}

/** Runs `fn` again (every 5 ms, up to `timeoutMs`) while SQLite answers SQLITE_BUSY. */
function retryWhileBusy<T>(fn: () => T, timeoutMs: number): T {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return fn();
    } catch (err) {
      if (!isBusy(err) || Date.now() >= deadline) throw err;
      // A synchronous pause: the store opens synchronously.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}

/** SQLite's SQLITE_BUSY (and its extended codes): another connection holds the lock. */
function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

function storeError(err: unknown, what: string): VirError {
  const detail = err instanceof Error ? err.message : String(err);
  return VirError.report(ErrorDomain.NONE, ErrorNumber.OPERATION_FAILED, `${what}: ${detail}`);
}
