/**
 * Live migration of QEMU guests between two tsvirt hosts, libvirt's version 3 with parameters:
 * source Begin -> destination Prepare -> source Perform -> destination Finish -> source Confirm.
 * Who calls the steps (a client, or the source daemon peer to peer) is the API layer's business;
 * this module is one host's side of each step.
 *
 * - Begin checks the domain can go (running, or offline with a persistent definition; flags;
 *   snapshot metadata, see src/rules/migration.ts), answers the XML to send (checked for ABI
 *   stability when the caller gave `destination_xml`) and a cookie.
 * - Prepare checks everything it can before starting anything (no active domain of that name or
 *   UUID, every disk file reachable, the emulator and machine type here), starts QEMU paused with
 *   `-incoming defer` and `migrate-incoming tcp:ADDR:PORT` on a port of libvirt's range
 *   49152-49215, and records the domain (transient unless a definition exists) paused for an
 *   incoming migration: STARTED/MIGRATED.
 * - Perform sends the guest: QMP `migrate`, bandwidth from `bandwidth` or the domain's migrate
 *   max speed, vCPUs stopped first without VIR_MIGRATE_LIVE, progress from `query-migrate`
 *   (virDomainGetJobInfo/Stats, virDomainAbortJob -> `migrate_cancel`). On failure the guest runs
 *   on here. On success it stays paused (`postmigrate`) until Confirm.
 * - Finish waits for the state, resumes the guest (unless VIR_MIGRATE_PAUSED), makes it
 *   persistent with PERSIST_DEST, and installs the carried snapshot and checkpoint metadata; when
 *   cancelled or failed, it kills the incoming QEMU and forgets the domain.
 * - Confirm stops the source's QEMU (STOPPED/MIGRATED) and applies UNDEFINE_SOURCE; when
 *   cancelled, it resumes the guest as it was.
 *
 * From Prepare to Finish (destination) and from a completed Perform to Confirm (source) the
 * domain's job stays taken in the store under the step's name, so no other call changes a guest
 * halfway through a migration (libvirt's migration job). A daemon that dies meanwhile loses the
 * job with its process; reconciliation at the next open kills an incoming guest that never
 * finished (see QemuMigrations.reconcile) and leaves a source that completed its Perform paused,
 * as libvirt does, since only the destination knows whether the guest runs there.
 *
 * The cookie is tsvirt's own: JSON of the source's host name, the domain's name and UUID, and the
 * carried metadata.
 */
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DomainRef, JobOptions, MigrationBegin, MigrationFinish, MigrationPrepare, TypedParameter } from '../../core/driver.js';
import {
  DomainEventDefinedDetailType as Defined,
  DomainEventResumedDetailType as Resumed,
  DomainEventStartedDetailType as Started,
  DomainEventStoppedDetailType as Stopped,
  DomainEventSuspendedDetailType as Suspended,
  DomainEventType,
  DomainEventUndefinedDetailType as Undefined,
  DomainMigrateFlags as M,
  DomainPausedReason,
  DomainRunningReason,
  DomainShutoffReason,
  DomainState,
  ErrorDomain,
  ErrorNumber,
} from '../../core/enums.generated.js';
import { VirError, noDomain, operationFailed, operationInvalid } from '../../core/errors.js';
import { formatDomainXML, parseDomainXML, type DomainDef } from '../../conf/domain.js';
import { checkMigrationFlags, checkMigrationSource, planMigrationMetadata } from '../../rules/migration.js';
import type { CheckpointRecord, DomainRecord, SnapshotRecord } from '../../store/store.js';
import type { Jobs } from '../metadata/jobs.js';
import { STORED, defNumbers, isActive, lockTimeout, refOf, type DomainRecords } from '../metadata/records.js';
import type { QemuGuests, QemuStatus } from './backend.js';
import { JobOperation, type JobTracker } from './jobinfo.js';
import { findEmulator } from './process.js';
import type { QmpClient } from './qmp.js';

const Q = ErrorDomain.QEMU;

/** libvirt's migration port range (qemu.conf migration_port_min/max). */
export const MIGRATION_PORT_MIN = 49152;
export const MIGRATION_PORT_MAX = 49215;
/** libvirt's largest migrate max speed (MiB/s): "unlimited". */
const BANDWIDTH_MAX_MIB = 8796093022207;
/** libvirt's REMOTE_MIGRATE_COOKIE_MAX: what the wire carries. */
const COOKIE_MAX = 4 * 1024 * 1024;

/** The QEMU driver's migration settings (libvirt's qemu.conf migration_address, migration_host). */
export interface MigrationConfig {
  /** Where an incoming QEMU listens (default: every address, `0.0.0.0`). */
  address?: string;
  /** The host name or address the source is told to connect to (default: this host's name). */
  host?: string;
}

/** What this module needs of the QEMU driver. */
export interface MigrationHost {
  records: DomainRecords;
  jobs: Jobs;
  guests: QemuGuests;
  tracker: JobTracker;
  migSpeed: Map<string, number>;
  config: MigrationConfig;
}

/** tsvirt's migration cookie (see the file comment). */
interface Cookie {
  hostname?: string;
  uuid?: string;
  name?: string;
  /** Prepare's answer, for a Perform called without `migrate_uri`. */
  uri?: string;
  metadata?: CarriedMetadata;
}

/** The snapshot and checkpoint metadata that travels with the domain. */
interface CarriedMetadata {
  snapshots: SnapshotRecord[];
  currentSnapshot: string | null;
  checkpoints: CheckpointRecord[];
  /** Whether the source gives it up (moves) or keeps its own (copies): planMigrationMetadata. */
  move: boolean;
}

/** An incoming migration this host prepared, until Finish. */
interface Incoming {
  flags: number;
  /** The domain's definition (offline: what Finish defines). */
  def: DomainDef;
  metadata?: CarriedMetadata;
  port?: number;
  /** The store job held from Prepare to Finish. */
  token?: string | null;
  offline: boolean;
}

/** An outgoing migration whose Perform completed, until Confirm. */
interface Outgoing {
  token: string | null;
  /** The guest's vCPUs ran before the migration (Confirm cancelled resumes them). */
  wasRunning: boolean;
  metadata: CarriedMetadata;
}

function param(params: readonly TypedParameter[], field: string): string | number | boolean | undefined {
  return params.find((p) => p.field === field)?.value;
}
function stringParam(params: readonly TypedParameter[], field: string): string | undefined {
  const v = param(params, field);
  return typeof v === 'string' && v !== '' ? v : undefined;
}
function numberParam(params: readonly TypedParameter[], field: string): number | undefined {
  const v = param(params, field);
  return typeof v === 'number' ? v : undefined;
}

function encodeCookie(c: Cookie): Buffer {
  const buf = Buffer.from(JSON.stringify({ tsvirt: 1, ...c }), 'utf8');
  if (buf.length > COOKIE_MAX) {
    const n = c.metadata?.snapshots.length ?? 0;
    throw operationInvalid(Q, `cannot migrate domain with ${n} snapshots: their metadata does not fit in a migration cookie (${COOKIE_MAX} bytes)`);
  }
  return buf;
}

/** A cookie of tsvirt's, or {} for none; VIR_ERR_INVALID_ARG for bytes that are not one. */
function decodeCookie(buf: Buffer): Cookie {
  if (buf.length === 0) return {};
  try {
    const v = JSON.parse(buf.toString('utf8')) as Cookie & { tsvirt?: number };
    if (v.tsvirt !== 1) throw new Error('not a tsvirt cookie');
    return v;
  } catch {
    throw VirError.report(Q, ErrorNumber.INVALID_ARG, 'migration cookie is not one of tsvirt\'s QEMU driver');
  }
}

/** A tcp migration URI's host and port (`tcp:HOST:PORT`, `tcp://HOST:PORT`, `tcp:[V6]:PORT`). */
export function parseMigrationURI(uri: string): { host: string; port: number | undefined } {
  const m = /^([a-z0-9+.-]+):(\/\/)?(.*)$/i.exec(uri);
  if (m === null) throw VirError.report(Q, ErrorNumber.INVALID_ARG, `missing scheme in migration URI: ${uri}`);
  if (m[1].toLowerCase() !== 'tcp') throw VirError.report(Q, ErrorNumber.ARGUMENT_UNSUPPORTED, `unsupported scheme ${m[1]} in migration URI ${uri}`);
  const rest = m[3].replace(/\/.*$/, '');
  const hp = /^(\[[^\]]+\]|[^:]*)(?::(\d+))?$/.exec(rest);
  if (hp === null || hp[1] === '') throw VirError.report(Q, ErrorNumber.INVALID_ARG, `missing host in migration URI: ${uri}`);
  const port = hp[2] === undefined ? undefined : Number(hp[2]);
  if (port !== undefined && (port <= 0 || port > 65535)) throw VirError.report(Q, ErrorNumber.INVALID_ARG, `invalid port in migration URI: ${uri}`);
  return { host: hp[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/** The runtime record with (or without) the mark of a guest still arriving by migration. */
function markIncoming(runtime: string | null, on: boolean): string | null {
  if (runtime === null) return null;
  const rt = JSON.parse(runtime) as Record<string, unknown>;
  if (on) rt.incomingMigration = true;
  else delete rt.incomingMigration;
  return JSON.stringify(rt);
}
function isIncoming(runtime: string | null): boolean {
  try {
    return runtime !== null && (JSON.parse(runtime) as { incomingMigration?: unknown }).incomingMigration === true;
  } catch {
    return false;
  }
}

/** `HOST` as it goes in a `tcp:` URI (IPv6 addresses in brackets). */
function uriHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * libvirt's ABI stability check (virDomainDefCheckABIStability) for what tsvirt models: the
 * definitions must describe the same virtual hardware. VIR_ERR_CONFIG_UNSUPPORTED in libvirt's
 * words for the first difference. Paths (disk sources, serial logs) may differ.
 */
export function checkABIStability(src: DomainDef, dst: DomainDef): void {
  const fail = (detail: string): never => {
    throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.CONFIG_UNSUPPORTED, detail);
  };
  if (src.type !== dst.type) fail(`Target domain virt type ${dst.type} does not match source ${src.type}`);
  if (src.uuid !== dst.uuid) fail(`Target domain uuid ${dst.uuid} does not match source ${src.uuid}`);
  if (src.memory !== dst.memory) fail(`Target domain max memory ${dst.memory} does not match source ${src.memory}`);
  if (src.vcpu.count !== dst.vcpu.count) fail(`Target domain vCPU max ${dst.vcpu.count} does not match source ${src.vcpu.count}`);
  if (src.os.type !== dst.os.type) fail(`Target domain OS type ${dst.os.type} does not match source ${src.os.type}`);
  const arch = (d: DomainDef): string => d.os.arch ?? 'x86_64';
  if (arch(src) !== arch(dst)) fail(`Target domain architecture ${arch(dst)} does not match source ${arch(src)}`);
  if (dst.os.machine !== undefined && src.os.machine !== undefined && canonicalMachine(dst.os.machine) !== canonicalMachine(src.os.machine)) {
    fail(`Target domain machine type ${dst.os.machine} does not match source ${src.os.machine}`);
  }
  const s = src.devices;
  const d = dst.devices;
  if (s.disks.length !== d.disks.length) fail(`Target domain disk count ${d.disks.length} does not match source ${s.disks.length}`);
  s.disks.forEach((a, i) => {
    const b = d.disks[i];
    if (a.device !== b.device) fail(`Target disk device ${b.device} does not match source ${a.device}`);
    if (a.targetBus !== b.targetBus) fail(`Target disk bus ${b.targetBus} does not match source ${a.targetBus}`);
    if (a.targetDev !== b.targetDev) fail(`Target disk ${b.targetDev} does not match source ${a.targetDev}`);
  });
  if (s.interfaces.length !== d.interfaces.length) fail(`Target domain net card count ${d.interfaces.length} does not match source ${s.interfaces.length}`);
  s.interfaces.forEach((a, i) => {
    const b = d.interfaces[i];
    if (a.mac !== b.mac) fail(`Target network card mac ${b.mac} does not match source ${a.mac}`);
    if ((a.model ?? '') !== (b.model ?? '')) fail(`Target network card model ${b.model ?? ''} does not match source ${a.model ?? ''}`);
  });
  if (s.serials.length !== d.serials.length) fail(`Target domain serial port count ${d.serials.length} does not match source ${s.serials.length}`);
  s.serials.forEach((a, i) => {
    const b = d.serials[i];
    if (a.targetPort !== b.targetPort) fail(`Target serial port ${b.targetPort} does not match source ${a.targetPort}`);
  });
  const sv = s.videos ?? [];
  const dv = d.videos ?? [];
  if (sv.length !== dv.length) fail(`Target domain video card count ${dv.length} does not match source ${sv.length}`);
  sv.forEach((a, i) => {
    if (a.model !== dv[i].model) fail(`Target video card model ${dv[i].model} does not match source ${a.model}`);
  });
  const balloons = (x: DomainDef): number => (x.devices.memballoon !== undefined && x.devices.memballoon.model !== 'none' ? 1 : 0);
  if (balloons(src) !== balloons(dst)) fail(`Target domain memory balloon count ${balloons(dst)} does not match source ${balloons(src)}`);
  if (s.memballoon !== undefined && d.memballoon !== undefined && s.memballoon.model !== d.memballoon.model) {
    fail(`Target balloon model ${d.memballoon.model} does not match source ${s.memballoon.model}`);
  }
}

/** `pc` stands for QEMU's current i440fx machine, as libvirt stores it. */
function canonicalMachine(m: string): string {
  return m === 'pc' ? 'pc-i440fx' : m === 'q35' ? 'pc-q35' : m.replace(/-\d+\.\d+$/, '');
}

/** Whether a TCP port can be bound on `address` now. */
function portFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: address, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** One migration's figures from `query-migrate`. */
interface QueryMigrate {
  status?: string;
  'error-desc'?: string;
  'total-time'?: number;
  downtime?: number;
  'setup-time'?: number;
  ram?: {
    transferred: number;
    remaining: number;
    total: number;
    duplicate?: number;
    normal?: number;
    'normal-bytes'?: number;
    mbps?: number;
    'dirty-pages-rate'?: number;
    'dirty-sync-count'?: number;
    'page-size'?: number;
  };
}

/** libvirt's migration statistics fields (virDomainGetJobStats) from query-migrate. */
function migrationDetails(q: QueryMigrate): TypedParameter[] {
  const out: TypedParameter[] = [];
  const u = (field: string, value: number | undefined): void => {
    if (value !== undefined) out.push({ field, type: 4, value: Math.max(0, Math.round(value)) });
  };
  if (q.status === 'completed') u('downtime', q.downtime);
  u('setup_time', q['setup-time']);
  const ram = q.ram;
  if (ram !== undefined) {
    u('memory_constant', ram.duplicate);
    u('memory_normal', ram.normal);
    u('memory_normal_bytes', ram['normal-bytes']);
    u('memory_bps', ram.mbps === undefined ? undefined : (ram.mbps * 1e6) / 8);
    u('memory_dirty_rate', ram['dirty-pages-rate']);
    u('memory_iteration', ram['dirty-sync-count']);
    u('memory_page_size', ram['page-size']);
  }
  return out;
}

/**
 * The completed migration's answer with its times. QEMU announces `completed` (event and
 * query-migrate) a moment before its migration thread stores total-time and downtime, and
 * answers 0 for both meanwhile; asked again for up to ~100 ms until total-time is set.
 */
async function completedTimes(qmp: QmpClient, q: QueryMigrate): Promise<QueryMigrate> {
  let last = q;
  for (let i = 0; i < 20 && !((last['total-time'] ?? 0) > 0); i++) {
    await sleep(5);
    last = await qmp.execute<QueryMigrate>('query-migrate').catch(() => last);
  }
  return last;
}

/** What a completed outgoing migration measured (for benchmarks and the job statistics). */
export interface MigrationFigures {
  /** QEMU's total time of the migration, ms. */
  totalMs: number;
  /** QEMU's downtime (vCPUs stopped on the source until the destination could run), ms. */
  downtimeMs: number;
  /** RAM bytes sent. */
  transferred: number;
}

/**
 * The QEMU driver's migration steps (see the file comment). One per driver: it keeps the
 * migrations in progress on this host.
 */
export class QemuMigrations {
  private readonly incoming = new Map<string, Incoming>();
  private readonly outgoing = new Map<string, Outgoing>();
  /** Ports handed out by Prepare and not yet released by Finish. */
  private readonly ports = new Set<number>();
  /** The figures of each domain's last completed outgoing migration. */
  readonly lastFigures = new Map<string, MigrationFigures>();

  constructor(private readonly host: MigrationHost) {}

  private get records(): DomainRecords {
    return this.host.records;
  }

  /** The host name this side gives in its cookies. */
  private hostName(): string {
    return hostname();
  }

  /** The domain's snapshot and checkpoint metadata, as Begin and Perform carry it. */
  private metadataOf(rec: DomainRecord, flags: number): CarriedMetadata {
    const store = this.records.store;
    const snapshots = store.snapshots(rec.uuid);
    const checkpoints = store.checkpointTree(rec.uuid).map((c) => store.checkpoint(rec.uuid, c.name) ?? c);
    const plan = planMigrationMetadata(
      {
        snapshots: snapshots.length,
        checkpoints: checkpoints.length,
        hostBoundSnapshots: snapshots.filter((s) => s.memory === 'external').length,
        sourcePersistent: rec.persistent,
      },
      flags,
      Q,
    );
    return { snapshots, currentSnapshot: rec.currentSnapshot, checkpoints, move: plan.move };
  }

  /**
   * virDomainMigrateBegin3Params on the source. Prerequisites: the domain runs (or, OFFLINE, has
   * a persistent definition) and no other call holds its job. Effects: none on the domain; answers
   * the XML to send and the cookie. Errors: VIR_ERR_INVALID_ARG (flags, cookie),
   * VIR_ERR_OPERATION_INVALID ("domain is not running", offline rules, snapshot metadata that
   * cannot move), VIR_ERR_ARGUMENT_UNSUPPORTED (what tsvirt cannot honour),
   * VIR_ERR_CONFIG_UNSUPPORTED (`destination_xml` not ABI-compatible), VIR_ERR_OPERATION_TIMEOUT
   * (the domain's job is held), VIR_ERR_NO_DOMAIN.
   */
  begin(dom: DomainRef, params: TypedParameter[], flags: number): MigrationBegin {
    checkMigrationFlags(flags, 'qemuDomainMigrateBegin3Params', Q);
    const rec = this.records.resolve(dom);
    this.records.checkNoJob(rec);
    checkMigrationSource({ active: isActive(rec), persistent: rec.persistent }, flags, Q);
    const metadata = this.metadataOf(rec, flags);
    const offline = (flags & M.OFFLINE) !== 0;
    const srcXml = offline ? rec.configXml : (rec.liveXml ?? rec.configXml);
    if (srcXml === null) throw operationInvalid(Q, 'domain is not running');
    const src = parseDomainXML(srcXml, STORED);
    const given = stringParam(params, 'destination_xml');
    let def = src;
    if (given !== undefined) {
      // With the defaults this driver adds at define (a virtio balloon, the canonical machine), as libvirt post-parses it.
      def = this.records.parseDef(given);
      checkABIStability(src, def);
    }
    const xml = formatDomainXML(def, { secure: true, inactive: offline });
    return { xml, cookieOut: encodeCookie({ hostname: this.hostName(), uuid: rec.uuid, name: rec.name, metadata }) };
  }

  /**
   * virDomainMigratePrepare3Params on the destination (see the file comment). Errors:
   * VIR_ERR_INVALID_ARG (flags, no `destination_xml`, a bad URI or cookie),
   * VIR_ERR_OPERATION_INVALID "domain 'NAME' is already active", VIR_ERR_OPERATION_FAILED
   * (name/UUID conflicts), VIR_ERR_SYSTEM_ERROR "Cannot access storage file ..." or no emulator,
   * VIR_ERR_CONFIG_UNSUPPORTED (machine type, domain type), VIR_ERR_INTERNAL_ERROR (no free port in
   * the range; QEMU's own failure to start). Nothing is left behind on failure.
   */
  async prepare(params: TypedParameter[], cookieIn: Buffer, flags: number): Promise<MigrationPrepare> {
    checkMigrationFlags(flags, 'qemuDomainMigratePrepare3Params', Q);
    const cookie = decodeCookie(cookieIn);
    const xml = stringParam(params, 'destination_xml');
    if (xml === undefined) throw VirError.report(Q, ErrorNumber.INVALID_ARG, 'no domain XML passed');
    const r = this.records;
    const def = r.parseDef(xml);
    const dname = stringParam(params, 'destination_name');
    if (dname !== undefined) def.name = dname;
    const offline = (flags & M.OFFLINE) !== 0;
    this.checkArrival(def, cookie, offline);
    const answer = { hostname: this.hostName(), uuid: def.uuid, name: def.name };
    if (offline) {
      this.incoming.set(def.uuid, { flags, def, metadata: cookie.metadata, offline: true });
      // Nothing listens, but libvirt's client requires a URI from every Prepare before it skips
      // Perform for an offline migration, as libvirt's qemu driver answers one.
      return { cookieOut: encodeCookie(answer), uriOut: `tcp:${uriHost(this.host.config.host ?? this.hostName())}` };
    }
    findEmulator(def, this.host.guests.env);
    for (const disk of def.devices.disks) {
      const path = disk.sourceFile ?? disk.sourceDev;
      if (path === undefined) continue;
      try {
        accessSync(path, disk.readonly ? constants.R_OK : constants.R_OK | constants.W_OK);
      } catch (e) {
        const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message;
        throw VirError.report(
          Q,
          ErrorNumber.SYSTEM_ERROR,
          `Cannot access storage file '${path}' (as uid:${process.getuid?.() ?? 0}, gid:${process.getgid?.() ?? 0}): ${why}`,
        );
      }
    }

    // Where QEMU listens and what the source is told.
    const listen = stringParam(params, 'listen_address') ?? this.host.config.address ?? '0.0.0.0';
    const uriIn = stringParam(params, 'migrate_uri');
    const asked = uriIn === undefined ? undefined : parseMigrationURI(uriIn);
    const port = asked?.port ?? (await this.allocatePort(listen));
    this.ports.add(port);
    const uriOut = `tcp:${uriHost(asked?.host ?? this.host.config.host ?? this.hostName())}:${port}`;
    const ref: DomainRef = { name: def.name, uuid: def.uuid, id: -1 };
    let token: string | null = null;
    try {
      const started = await this.host.jobs.runCreate(ref, {
        plan: () => {
          this.checkArrival(def, cookie, false, true);
          return r.conflictsFor(def);
        },
        act: (existing) => this.host.guests.start(existing ?? r.newRecord(def, null), def, { paused: true, image: null, incoming: `tcp:${uriHost(listen)}:${port}` }),
        undo: (runtime) => this.host.guests.kill({ ...r.newRecord(def, null), runtime }),
        commit: (runtime) => {
          const existing = r.conflictsFor(def);
          const rec = existing ?? r.newRecord(def, null);
          r.markStarted(rec, def, true, DomainRunningReason.MIGRATED, runtime);
          rec.reason = DomainPausedReason.MIGRATION;
          // Marks the guest as still arriving, for reconciliation after a crash (see reconcile).
          rec.runtime = markIncoming(rec.runtime, true);
          if (existing === undefined) r.store.insertDomain(rec);
          else r.write(rec);
          r.events.emit(rec, DomainEventType.STARTED, Started.MIGRATED);
          // Held until Finish: nothing else may act on a guest that is still arriving.
          token = this.takeJob(rec.uuid, 'virDomainMigratePrepare3Params');
          return refOf(rec);
        },
      });
      this.incoming.set(started.uuid, { flags, def, metadata: cookie.metadata, port, token, offline: false });
    } catch (err) {
      this.ports.delete(port);
      throw err;
    }
    return { cookieOut: encodeCookie({ ...answer, uri: uriOut }), uriOut };
  }

  /**
   * Prepare's refusals of a domain that cannot arrive here (before anything starts). `inOwnJob`:
   * called under the job Prepare took on the arriving UUID, which an inactive definition of the
   * same domain here shares: only another process's job on it refuses then.
   */
  private checkArrival(def: DomainDef, cookie: Cookie, offline: boolean, inOwnJob = false): void {
    const r = this.records;
    const existing = r.conflictsFor(def);
    if (existing === undefined) return;
    if (!offline && isActive(existing)) throw operationInvalid(ErrorDomain.DOMAIN, `domain '${def.name}' is already active`);
    if (inOwnJob && existing.uuid === def.uuid) {
      const other = r.store.activeJob(existing.uuid);
      if (other !== undefined) throw lockTimeout(Q, other);
    } else {
      r.checkNoJob(existing);
    }
    const n = cookie.metadata?.snapshots.length ?? 0;
    if (n > 0 && r.store.snapshotCount(existing.uuid) > 0) {
      throw operationInvalid(Q, `cannot migrate domain with ${n} snapshots: the domain '${def.name}' here has snapshot metadata of its own`);
    }
  }

  /** A port of libvirt's range free on `address` and not handed out already. */
  private async allocatePort(address: string): Promise<number> {
    for (let port = MIGRATION_PORT_MIN; port <= MIGRATION_PORT_MAX; port++) {
      if (this.ports.has(port)) continue;
      if (await portFree(address, port)) return port;
    }
    throw VirError.report(Q, ErrorNumber.INTERNAL_ERROR, `Unable to find an unused port in range 'migration' (${MIGRATION_PORT_MIN}-${MIGRATION_PORT_MAX})`);
  }

  /** Takes the domain's job in the store (inside a mutation) for a step that spans calls. */
  private takeJob(uuid: string, job: string): string | null {
    const store = this.records.store;
    if (store.path === ':memory:') return null;
    const got = store.tryAcquireJob(uuid, job);
    if (!('token' in got)) throw lockTimeout(Q, got.heldBy);
    return got.token;
  }

  private async releaseJob(uuid: string, token: string | null | undefined): Promise<void> {
    if (token === null || token === undefined) return;
    await this.records.store.writable();
    this.records.store.releaseJob(uuid, token);
  }

  /**
   * virDomainMigratePerform3Params on the source (see the file comment). `options.onProgress`
   * hears the RAM sent. Errors: VIR_ERR_INVALID_ARG (flags, URI), VIR_ERR_OPERATION_INVALID
   * "domain is not running", VIR_ERR_OPERATION_FAILED "job 'migration out' failed: ..." (QEMU's
   * words), VIR_ERR_OPERATION_ABORTED "job 'migration out' canceled by client"
   * (virDomainAbortJob), VIR_ERR_OPERATION_TIMEOUT (job held). On failure the guest runs on here
   * as it did before.
   */
  async perform(dom: DomainRef, params: TypedParameter[], cookieIn: Buffer, flags: number, options?: JobOptions): Promise<Buffer> {
    checkMigrationFlags(flags, 'qemuDomainMigratePerform3Params', Q);
    const cookie = decodeCookie(cookieIn);
    const r = this.records;
    if ((flags & M.OFFLINE) !== 0) {
      // Only the definition moves: nothing to send (libvirt skips this step).
      const rec = r.resolve(dom);
      checkMigrationSource({ active: isActive(rec), persistent: rec.persistent }, flags, Q);
      return encodeCookie({ hostname: this.hostName(), uuid: rec.uuid, name: rec.name, metadata: this.metadataOf(rec, flags) });
    }
    const uri = stringParam(params, 'migrate_uri') ?? cookie.uri;
    if (uri === undefined) throw VirError.report(Q, ErrorNumber.INVALID_ARG, 'migration URI is missing: give migrate_uri or the cookie of the destination\'s Prepare');
    parseMigrationURI(uri);
    const bandwidthMiB = numberParam(params, 'bandwidth') ?? this.host.migSpeed.get(dom.uuid) ?? BANDWIDTH_MAX_MIB;
    let figures: MigrationFigures | undefined;
    const out = await this.host.jobs.run(dom, 'virDomainMigratePerform3Params', {
      need: { active: true },
      plan: (rec) => ({ wasRunning: rec.state === DomainState.RUNNING, metadata: this.metadataOf(rec, flags), name: rec.name }),
      act: async (rec, plan) => {
        figures = await this.send(rec, uri, flags, bandwidthMiB, plan.wasRunning, options);
      },
      commit: (rec, plan) => {
        rec.state = DomainState.PAUSED;
        rec.reason = DomainPausedReason.MIGRATION;
        r.write(rec);
        if (plan.wasRunning) r.events.emit(rec, DomainEventType.SUSPENDED, Suspended.MIGRATED);
        // Held until Confirm: the guest may run on the destination now; nothing may resume it here.
        const token = this.takeJob(rec.uuid, 'virDomainMigratePerform3Params');
        this.outgoing.set(rec.uuid, { token, wasRunning: plan.wasRunning, metadata: plan.metadata });
        return plan;
      },
    });
    if (figures !== undefined) this.lastFigures.set(dom.uuid, figures);
    return encodeCookie({ hostname: this.hostName(), uuid: dom.uuid, name: out.name, metadata: out.metadata });
  }

  /** Sends the guest over QMP `migrate` and follows it to its end (see perform). */
  private async send(rec: DomainRecord, uri: string, flags: number, bandwidthMiB: number, wasRunning: boolean, options?: JobOptions): Promise<MigrationFigures> {
    const { qmp } = await this.host.guests.monitor(rec);
    const job = this.host.tracker.begin(rec.uuid, JobOperation.MIGRATION_OUT);
    let done = false;
    let started = false;
    job.setAbort(async () => {
      if (done) return;
      await qmp.execute('migrate_cancel');
    });
    let stopped = false;
    try {
      await qmp.execute('migrate-set-capabilities', {
        capabilities: [
          { capability: 'events', state: true },
          { capability: 'auto-converge', state: (flags & M.AUTO_CONVERGE) !== 0 },
        ],
      });
      await qmp.execute('migrate-set-parameters', { 'max-bandwidth': Math.min(bandwidthMiB, BANDWIDTH_MAX_MIB) * 1024 * 1024 });
      if ((flags & M.LIVE) === 0 && wasRunning) {
        // Without LIVE, libvirt stops the vCPUs first and sends a still guest.
        await qmp.execute('stop');
        stopped = true;
      }
      let settled = false;
      const ended = qmp.waitForEvent((ev) => ev.event === 'MIGRATION' && ['completed', 'failed', 'cancelled'].includes(String(ev.data.status)), 2 ** 31 - 1);
      const over = ended.then(
        () => (settled = true),
        () => (settled = true),
      );
      await qmp.execute('migrate', { uri });
      started = true;
      for (;;) {
        const q = await qmp.execute<QueryMigrate>('query-migrate');
        if (q.ram !== undefined) {
          job.onProgress({ processed: q.ram.transferred, total: q.ram.total, remaining: q.ram.remaining });
          options?.onProgress?.({ processed: q.ram.transferred, total: q.ram.total });
        }
        job.setDetails(migrationDetails(q));
        if (q.status === 'completed') {
          const last = await completedTimes(qmp, q);
          job.setDetails(migrationDetails(last));
          job.end('completed', true);
          return { totalMs: last['total-time'] ?? 0, downtimeMs: last.downtime ?? 0, transferred: last.ram?.transferred ?? 0 };
        }
        if (q.status === 'cancelled') throw VirError.report(Q, ErrorNumber.OPERATION_ABORTED, "job 'migration out' canceled by client");
        if (q.status === 'failed') {
          const desc = q['error-desc'];
          throw operationFailed(Q, desc === undefined ? "job 'migration out' unexpectedly failed" : `job 'migration out' failed: ${desc}`);
        }
        await (settled ? sleep(5) : Promise.race([over, sleep(50)]));
      }
    } catch (err) {
      const aborted = err instanceof VirError && err.code === ErrorNumber.OPERATION_ABORTED;
      job.end(aborted ? 'cancelled' : 'failed', started);
      // The guest goes on here: QEMU resumes a guest it stopped itself; the one we stopped, we resume.
      if (!qmp.isClosed) {
        const st = await qmp.execute<QemuStatus>('query-status').catch(() => undefined);
        if (st !== undefined && !st.running && (stopped || (wasRunning && st.status === 'postmigrate'))) await qmp.execute('cont').catch(() => undefined);
      }
      throw err;
    } finally {
      done = true;
    }
  }

  /**
   * virDomainMigrateFinish3Params on the destination (see the file comment). Cancelled: the
   * incoming guest is killed and forgotten; answers dom null. Errors: VIR_ERR_INVALID_ARG (flags,
   * cookie), VIR_ERR_NO_DOMAIN (no such incoming domain), VIR_ERR_OPERATION_FAILED
   * "job 'migration in' failed: ..." when the state never arrived (the guest is gone then too).
   */
  async finish(params: TypedParameter[], cookieIn: Buffer, flags: number, cancelled: boolean): Promise<MigrationFinish> {
    checkMigrationFlags(flags, 'qemuDomainMigrateFinish3Params', Q);
    const cookie = decodeCookie(cookieIn);
    const r = this.records;
    const empty = Buffer.alloc(0);
    const dname = stringParam(params, 'destination_name') ?? cookie.name;
    if (dname === undefined) throw noDomain(Q, 'missing domain name');
    const persistXml = stringParam(params, 'persistent_xml');
    const pendingOffline = [...this.incoming.entries()].find(([, inc]) => inc.offline && inc.def.name === dname);
    if ((flags & M.OFFLINE) !== 0 || pendingOffline !== undefined) {
      if (pendingOffline === undefined) throw noDomain(Q, `domain '${dname}' is not processing incoming migration`);
      const [uuid, inc] = pendingOffline;
      this.incoming.delete(uuid);
      if (cancelled) return { dom: null, cookieOut: empty };
      const def = persistXml === undefined ? inc.def : r.parseDef(persistXml);
      if (persistXml !== undefined) def.name = dname;
      const dom = await r.events.mutateWhenWritable(() => this.persist(undefined, def, cookie.metadata ?? inc.metadata));
      return { dom, cookieOut: encodeCookie({ hostname: this.hostName(), uuid, name: dname }) };
    }
    const rec = r.store.domainByName(dname);
    // By name: the domain may be gone already (its QEMU died and the exit was recorded).
    const found = [...this.incoming.entries()].find(([, i]) => i.def.name === dname);
    if (found !== undefined) {
      const [uuid, i] = found;
      this.incoming.delete(uuid);
      if (i.port !== undefined) this.ports.delete(i.port);
      await this.releaseJob(uuid, i.token);
    }
    const inc = found?.[1];
    if (rec === undefined || inc === undefined || found?.[0] !== rec.uuid) {
      if (cancelled) return { dom: null, cookieOut: empty };
      throw noDomain(Q, `domain '${dname}' is not processing incoming migration`);
    }
    const ref = refOf(rec);
    if (cancelled) {
      await this.discardIncoming(ref);
      return { dom: null, cookieOut: empty };
    }
    const paused = (flags & M.PAUSED) !== 0;
    const metadata = cookie.metadata ?? inc.metadata;
    try {
      const dom = await this.host.jobs.run(ref, 'virDomainMigrateFinish3Params', {
        need: { active: true },
        plan: (current) => {
          if ((flags & M.PERSIST_DEST) === 0) return null;
          const def = persistXml === undefined ? parseDomainXML(current.liveXml ?? '', STORED) : r.parseDef(persistXml);
          def.name = current.name;
          return def;
        },
        act: async (current) => {
          const { qmp } = await this.host.guests.monitor(current);
          await this.arrived(qmp);
          if (!paused) await qmp.execute('cont');
        },
        commit: (current, persistDef) => {
          current.state = paused ? DomainState.PAUSED : DomainState.RUNNING;
          current.reason = paused ? DomainPausedReason.USER : DomainRunningReason.MIGRATED;
          current.runtime = markIncoming(current.runtime, false);
          r.write(current);
          if (paused) r.events.emit(current, DomainEventType.SUSPENDED, Suspended.PAUSED);
          else r.events.emit(current, DomainEventType.RESUMED, Resumed.MIGRATED);
          return this.persist(current, persistDef, metadata);
        },
      });
      return { dom, cookieOut: encodeCookie({ hostname: this.hostName(), uuid: dom.uuid, name: dom.name }) };
    } catch (err) {
      await this.discardIncoming(ref);
      throw err;
    }
  }

  /** Waits until the incoming state has arrived (QEMU leaves `inmigrate`). */
  private async arrived(qmp: QmpClient): Promise<void> {
    for (;;) {
      const st = await qmp.execute<QemuStatus>('query-status').catch((e: unknown) => {
        throw operationFailed(Q, `job 'migration in' failed: ${e instanceof Error ? e.message : String(e)}`);
      });
      if (st.status !== 'inmigrate') break;
      const q = await qmp.execute<QueryMigrate>('query-migrate');
      if (q.status === 'failed' || q.status === 'cancelled') break;
      await sleep(20);
    }
    const q = await qmp.execute<QueryMigrate>('query-migrate');
    if (q.status !== 'completed') {
      const desc = q['error-desc'];
      throw operationFailed(Q, desc === undefined ? "job 'migration in' unexpectedly failed" : `job 'migration in' failed: ${desc}`);
    }
  }

  /**
   * In a store mutation: the destination's records of the arrived domain — persistent with `def`
   * when given (DEFINED ADDED, or UPDATED over an existing definition), and the carried metadata.
   * `rec` undefined: an offline migration, whose domain is defined here only now.
   */
  private persist(rec: DomainRecord | undefined, def: DomainDef | null, metadata: CarriedMetadata | undefined): DomainRef {
    const r = this.records;
    let target = rec;
    if (def !== null) {
      const configXml = formatDomainXML(def, { inactive: true, secure: true });
      const existing = target ?? r.conflictsFor(def);
      if (existing === undefined) {
        target = r.newRecord(def, configXml);
        r.store.insertDomain(target);
        r.events.emit(target, DomainEventType.DEFINED, Defined.ADDED);
      } else {
        const added = !existing.persistent;
        existing.configXml = configXml;
        existing.persistent = true;
        if (!isActive(existing)) Object.assign(existing, defNumbers(def));
        r.write(existing);
        target = existing;
        r.events.emit(existing, DomainEventType.DEFINED, added ? Defined.ADDED : Defined.UPDATED);
      }
    }
    if (target === undefined) throw operationFailed(Q, 'the migrated domain has no record');
    if (metadata !== undefined) {
      for (const s of metadata.snapshots) r.store.putSnapshot(target.uuid, s);
      for (const c of metadata.checkpoints) r.store.putCheckpoint(target.uuid, c);
      if (metadata.currentSnapshot !== null && metadata.snapshots.some((s) => s.name === metadata.currentSnapshot)) {
        target.currentSnapshot = metadata.currentSnapshot;
        r.write(target);
      }
    }
    return refOf(target);
  }

  /** Kills an incoming guest that will not run here and forgets it (a transient domain goes: R5). */
  private async discardIncoming(ref: DomainRef): Promise<void> {
    await this.host.jobs
      .run(ref, 'virDomainMigrateFinish3Params', {
        plan: () => undefined,
        act: (rec) => this.host.guests.kill(rec),
        commit: (rec) => {
          if (isActive(rec)) this.records.stopped(rec, DomainShutoffReason.FAILED, Stopped.FAILED);
        },
      })
      .catch((e: unknown) => {
        // Already gone (its QEMU died and the exit was recorded): nothing is left.
        if (!(e instanceof VirError && e.code === ErrorNumber.NO_DOMAIN)) throw e;
      });
  }

  /**
   * virDomainMigrateConfirm3Params on the source (see the file comment). Errors:
   * VIR_ERR_INVALID_ARG (flags), VIR_ERR_NO_DOMAIN, VIR_ERR_OPERATION_FAILED (QEMU).
   */
  async confirm(dom: DomainRef, _params: TypedParameter[], cookieIn: Buffer, flags: number, cancelled: boolean): Promise<void> {
    checkMigrationFlags(flags, 'qemuDomainMigrateConfirm3Params', Q);
    decodeCookie(cookieIn);
    const r = this.records;
    const out = this.outgoing.get(dom.uuid);
    this.outgoing.delete(dom.uuid);
    await this.releaseJob(dom.uuid, out?.token);
    const undefine = (flags & M.UNDEFINE_SOURCE) !== 0;
    if ((flags & M.OFFLINE) !== 0) {
      if (cancelled || !undefine) return;
      const metadata = this.metadataOf(r.resolve(dom), flags);
      await this.host.jobs.run(dom, 'virDomainMigrateConfirm3Params', {
        plan: () => undefined,
        act: async () => undefined,
        commit: (rec) => this.undefineSource(rec, metadata),
      });
      return;
    }
    if (cancelled) {
      await this.host.jobs.run(dom, 'virDomainMigrateConfirm3Params', {
        need: { active: true },
        plan: (rec) => rec.state === DomainState.PAUSED && rec.reason === DomainPausedReason.MIGRATION && (out?.wasRunning ?? true),
        act: async (rec, resume) => {
          if (!resume) return false;
          const { qmp } = await this.host.guests.monitor(rec);
          const st = await qmp.execute<QemuStatus>('query-status');
          if (!st.running) await qmp.execute('cont');
          return true;
        },
        commit: (rec, _plan, resumed) => {
          if (!resumed) return;
          rec.state = DomainState.RUNNING;
          rec.reason = DomainRunningReason.MIGRATION_CANCELED;
          r.write(rec);
          r.events.emit(rec, DomainEventType.RESUMED, Resumed.MIGRATED);
        },
      });
      return;
    }
    await this.host.jobs.run(dom, 'virDomainMigrateConfirm3Params', {
      need: { active: true },
      plan: (rec) => out?.metadata ?? this.metadataOf(rec, flags),
      act: (rec) => this.host.guests.kill(rec),
      commit: (rec, metadata) => {
        if (isActive(rec)) r.stopped(rec, DomainShutoffReason.MIGRATED, Stopped.MIGRATED);
        const left = r.store.domainByUUID(rec.uuid);
        if (left === undefined) return;
        if (undefine) this.undefineSource(left, metadata);
        else if (metadata.move) this.dropMetadata(left.uuid);
      },
    });
  }

  /** UNDEFINE_SOURCE after a migration: the definition goes with the metadata that moved. */
  private undefineSource(rec: DomainRecord, metadata: CarriedMetadata): void {
    const r = this.records;
    if (!rec.persistent) return;
    if (isActive(rec)) {
      // An offline migration of a running domain: it runs on here as a transient domain (R4).
      rec.persistent = false;
      rec.configXml = null;
      rec.autostart = false;
      r.write(rec);
    } else {
      if (!metadata.move) throw operationInvalid(Q, 'the snapshot metadata did not move: refusing to undefine the source');
      r.store.deleteDomain(rec.uuid);
    }
    r.events.emit(rec, DomainEventType.UNDEFINED, Undefined.REMOVED);
  }

  /** The source's copy of metadata that moved to the destination (the metadata only: the states are in the shared disks). */
  private dropMetadata(uuid: string): void {
    const store = this.records.store;
    store.deleteAllSnapshots(uuid);
    store.deleteAllCheckpoints(uuid);
    const rec = store.domainByUUID(uuid);
    if (rec !== undefined && rec.currentSnapshot !== null) {
      rec.currentSnapshot = null;
      this.records.write(rec);
    }
  }

  /**
   * The driver closes (its daemon stops): the jobs held across steps are released, as a dead
   * owner's would be, so that the next open reconciles what these migrations left (see reconcile).
   */
  async close(): Promise<void> {
    for (const [uuid, inc] of this.incoming) await this.releaseJob(uuid, inc.token).catch(() => undefined);
    for (const [uuid, out] of this.outgoing) await this.releaseJob(uuid, out.token).catch(() => undefined);
    this.incoming.clear();
    this.outgoing.clear();
    this.ports.clear();
  }

  /**
   * At open, after the metadata driver's reconciliation: a guest recorded as paused for an
   * incoming migration belongs to a Prepare whose Finish this process will never see (its
   * daemon died): it is killed and forgotten, as libvirt's reconnect does with an incoming
   * migration. Returns how many.
   */
  async reconcile(): Promise<number> {
    let n = 0;
    for (const rec of this.records.store.activeDomains()) {
      if (rec.state !== DomainState.PAUSED || rec.reason !== DomainPausedReason.MIGRATION) continue;
      if (this.incoming.has(rec.uuid) || this.outgoing.has(rec.uuid)) continue;
      if (this.records.store.read(() => this.records.store.activeJob(rec.uuid)) !== undefined) continue;
      // A source whose Perform completed is left paused: only the destination knows where the guest runs.
      if (!isIncoming(rec.runtime)) continue;
      await this.discardIncoming(refOf(rec));
      n++;
    }
    return n;
  }
}
