/**
 * Live migration, libvirt's version 3 with typed parameters, orchestrated here as libvirt's
 * libvirt-domain.c does it:
 *
 * - managed (the caller drives, {@link migrate3}): source Begin → destination Prepare → source
 *   Perform (to the URI Prepare gave) → destination Finish (`cancelled` when Perform failed) →
 *   source Confirm (`cancelled` when Finish gave no domain);
 * - peer to peer ({@link migrateToURI3} with VIR_MIGRATE_PEER2PEER): through a daemon, one
 *   Perform call with `dconnuri` and the source daemon does the rest; on a local driver (tsvirtd
 *   itself, or the library on qemu:///session) the same five steps run here, against a
 *   connection to `dconnuri` opened with the public {@link connect} — drivers never open
 *   connections of their own. Those source steps carry VIR_MIGRATE_PEER2PEER in their flags
 *   and no `dconnuri`: the driver does its part of one step, as in the managed case.
 *
 * On any failure the source keeps its guest (Confirm with `cancelled`, or Perform failed and the
 * source driver already resumed it) and the destination discards what it prepared (Finish with
 * `cancelled`); the error the caller sees is the first step's that failed, as in libvirt.
 *
 * The step functions (`migrateBegin3Params`, …) are libvirt's "not for public use" entry points:
 * the daemon's handlers call them for the procedures 302–307.
 */
import type { Connection } from './connection.js';
import { Domain } from './domain.js';
import type { DomainRef, HypervisorDriver, JobOptions, TypedParameter } from '../core/driver.js';
import { DomainMigrateFlags, DomainState, ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { VirError, internalError, noSupport, operationFailed } from '../core/errors.js';
import { exclusiveFlags } from '../rules/flags.js';

/** VIR_MIGRATE_PARAM_URI: the URI the hypervisor sends the guest to ("tcp:host:port"). */
export const VIR_MIGRATE_PARAM_URI = 'migrate_uri';
/** VIR_MIGRATE_PARAM_DEST_NAME: the domain's name on the destination. */
export const VIR_MIGRATE_PARAM_DEST_NAME = 'destination_name';
/** VIR_MIGRATE_PARAM_DEST_XML: the domain XML the destination starts (same ABI). */
export const VIR_MIGRATE_PARAM_DEST_XML = 'destination_xml';
/** VIR_MIGRATE_PARAM_PERSIST_XML: the XML the destination keeps with VIR_MIGRATE_PERSIST_DEST. */
export const VIR_MIGRATE_PARAM_PERSIST_XML = 'persistent_xml';
/** VIR_MIGRATE_PARAM_BANDWIDTH: the bandwidth limit in MiB/s. */
export const VIR_MIGRATE_PARAM_BANDWIDTH = 'bandwidth';
/** VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY: the post-copy phase's bandwidth limit in MiB/s. */
export const VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY = 'bandwidth.postcopy';
/** VIR_MIGRATE_PARAM_GRAPHICS_URI: where graphics clients are to reconnect. */
export const VIR_MIGRATE_PARAM_GRAPHICS_URI = 'graphics_uri';
/** VIR_MIGRATE_PARAM_LISTEN_ADDRESS: the address the destination's hypervisor listens on. */
export const VIR_MIGRATE_PARAM_LISTEN_ADDRESS = 'listen_address';
/** VIR_MIGRATE_PARAM_MIGRATE_DISKS: a disk to copy (non-shared storage); may repeat. */
export const VIR_MIGRATE_PARAM_MIGRATE_DISKS = 'migrate_disks';
/** VIR_MIGRATE_PARAM_DISKS_PORT: the port of the destination's disk server. */
export const VIR_MIGRATE_PARAM_DISKS_PORT = 'disks_port';
/** VIR_MIGRATE_PARAM_DISKS_URI: the URI of the destination's disk server. */
export const VIR_MIGRATE_PARAM_DISKS_URI = 'disks_uri';
/** VIR_MIGRATE_PARAM_COMPRESSION: a compression method; may repeat. */
export const VIR_MIGRATE_PARAM_COMPRESSION = 'compression';
/** VIR_MIGRATE_PARAM_COMPRESSION_MT_LEVEL. */
export const VIR_MIGRATE_PARAM_COMPRESSION_MT_LEVEL = 'compression.mt.level';
/** VIR_MIGRATE_PARAM_COMPRESSION_MT_THREADS. */
export const VIR_MIGRATE_PARAM_COMPRESSION_MT_THREADS = 'compression.mt.threads';
/** VIR_MIGRATE_PARAM_COMPRESSION_MT_DTHREADS. */
export const VIR_MIGRATE_PARAM_COMPRESSION_MT_DTHREADS = 'compression.mt.dthreads';
/** VIR_MIGRATE_PARAM_COMPRESSION_XBZRLE_CACHE. */
export const VIR_MIGRATE_PARAM_COMPRESSION_XBZRLE_CACHE = 'compression.xbzrle.cache';
/** VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL. */
export const VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL = 'auto_converge.initial';
/** VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT. */
export const VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT = 'auto_converge.increment';
/** VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS. */
export const VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS = 'parallel.connections';
/** VIR_MIGRATE_PARAM_TLS_DESTINATION. */
export const VIR_MIGRATE_PARAM_TLS_DESTINATION = 'tls.destination';

/** VIR_TYPED_PARAM_* used by the migration parameters. */
const INT = 1;
const ULLONG = 4;
const STRING = 7;

/** Each VIR_MIGRATE_PARAM_*'s type, as libvirt's drivers validate them. */
const PARAM_TYPES: Readonly<Record<string, number>> = {
  [VIR_MIGRATE_PARAM_URI]: STRING,
  [VIR_MIGRATE_PARAM_DEST_NAME]: STRING,
  [VIR_MIGRATE_PARAM_DEST_XML]: STRING,
  [VIR_MIGRATE_PARAM_PERSIST_XML]: STRING,
  [VIR_MIGRATE_PARAM_BANDWIDTH]: ULLONG,
  [VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY]: ULLONG,
  [VIR_MIGRATE_PARAM_GRAPHICS_URI]: STRING,
  [VIR_MIGRATE_PARAM_LISTEN_ADDRESS]: STRING,
  [VIR_MIGRATE_PARAM_MIGRATE_DISKS]: STRING,
  [VIR_MIGRATE_PARAM_DISKS_PORT]: INT,
  [VIR_MIGRATE_PARAM_DISKS_URI]: STRING,
  [VIR_MIGRATE_PARAM_COMPRESSION]: STRING,
  [VIR_MIGRATE_PARAM_COMPRESSION_MT_LEVEL]: INT,
  [VIR_MIGRATE_PARAM_COMPRESSION_MT_THREADS]: INT,
  [VIR_MIGRATE_PARAM_COMPRESSION_MT_DTHREADS]: INT,
  [VIR_MIGRATE_PARAM_COMPRESSION_XBZRLE_CACHE]: ULLONG,
  [VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL]: INT,
  [VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT]: INT,
  [VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS]: INT,
  [VIR_MIGRATE_PARAM_TLS_DESTINATION]: STRING,
};

/**
 * Migration parameters as python-libvirt's `migrate3`/`migrateToURI3` take them (a dict keyed by
 * VIR_MIGRATE_PARAM_* names; a list value repeats a parameter, as `migrate_disks`), or as typed
 * parameters.
 */
export type MigrateParams = TypedParameter[] | Readonly<Record<string, string | number | boolean | readonly string[]>>;

/** VIR_DRV_FEATURE_* (libvirt_internal.h) that migration asks a driver about. */
export const MigrationFeature = {
  MIGRATION_V1: 1,
  MIGRATION_V2: 3,
  MIGRATION_P2P: 4,
  MIGRATION_DIRECT: 5,
  MIGRATION_V3: 6,
  MIGRATE_CHANGE_PROTECTION: 7,
  XML_MIGRATABLE: 11,
  MIGRATION_OFFLINE: 12,
  MIGRATION_PARAMS: 13,
} as const;
const F = MigrationFeature;
/** The features {@link migrationFeature} answers for a local driver. */
export const MIGRATION_FEATURES: ReadonlySet<number> = new Set(Object.values(MigrationFeature));

/**
 * Typed parameters from {@link MigrateParams}: a dict's names must be VIR_MIGRATE_PARAM_*.
 *
 * Prerequisites: none. Effects: none.
 * @throws {@link VirError} VIR_ERR_INVALID_ARG "parameter 'NAME' not supported" for an unknown
 * name, or a value of the wrong kind.
 */
export function migrateParams(params: MigrateParams | null | undefined): TypedParameter[] {
  if (params === null || params === undefined) return [];
  if (Array.isArray(params)) return params.map((p: TypedParameter) => ({ ...p }));
  const out: TypedParameter[] = [];
  for (const [field, value] of Object.entries(params as Record<string, string | number | boolean | readonly string[]>)) {
    const type = PARAM_TYPES[field];
    if (type === undefined) throw VirError.invalidArg(ErrorDomain.DOMAIN, `parameter '${field}' not supported`);
    for (const v of Array.isArray(value) ? (value as readonly string[]) : [value as string | number | boolean]) {
      const ok = type === STRING ? typeof v === 'string' : typeof v === 'number' && Number.isInteger(v) && (type !== ULLONG || v >= 0);
      if (!ok) throw VirError.invalidArg(ErrorDomain.DOMAIN, `invalid type for parameter '${field}'`);
      out.push({ field, type, value: v });
    }
  }
  return out;
}

/** The string value of parameter `field`, or null (virTypedParamsGetString). */
export function paramString(params: readonly TypedParameter[], field: string): string | null {
  const p = params.find((x) => x.field === field);
  return p !== undefined && typeof p.value === 'string' ? p.value : null;
}

/** `params` with `field` set to the string `value` (virTypedParamsReplaceString). */
function replaceString(params: TypedParameter[], field: string, value: string): TypedParameter[] {
  return [...params.filter((p) => p.field !== field), { field, type: STRING, value }];
}

/**
 * Whether a connection's driver has VIR_DRV_FEATURE_* `feature` (libvirt's
 * VIR_DRV_SUPPORTS_FEATURE), for the migration features: a driver that answers itself
 * (`connectSupportsFeature`: the remote driver asks its daemon) is asked; otherwise a driver with
 * all five version-3-with-params steps has V3, PARAMS, P2P (the peer-to-peer steps run in this
 * module), OFFLINE and CHANGE_PROTECTION, as libvirt's qemu driver, and nothing else.
 *
 * Prerequisites: the connection is open. Effects: none (a remote driver makes one call).
 * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed; the daemon's
 * error when asking it fails.
 */
export async function migrationFeature(conn: Connection, feature: number): Promise<boolean> {
  const drv = conn.driverFor('virConnectSupportsFeature');
  if (drv.connectSupportsFeature !== undefined) return drv.connectSupportsFeature(feature);
  if (!MIGRATION_FEATURES.has(feature)) return false;
  const steps =
    drv.domainMigrateBegin3Params !== undefined &&
    drv.domainMigratePrepare3Params !== undefined &&
    drv.domainMigratePerform3Params !== undefined &&
    drv.domainMigrateFinish3Params !== undefined &&
    drv.domainMigrateConfirm3Params !== undefined;
  // What libvirt's qemu driver answers, less the older protocols (V1, V2) tsvirt does not speak.
  return (
    steps &&
    (feature === F.MIGRATION_V3 ||
      feature === F.MIGRATION_PARAMS ||
      feature === F.MIGRATION_P2P ||
      feature === F.MIGRATION_OFFLINE ||
      feature === F.MIGRATE_CHANGE_PROTECTION)
  );
}

/** The driver's step `key`, bound, or VIR_ERR_NO_SUPPORT naming `api`. */
function step<K extends keyof HypervisorDriver>(drv: HypervisorDriver, key: K, api: string): NonNullable<HypervisorDriver[K]> {
  const fn = drv[key];
  if (typeof fn !== 'function') throw noSupport(ErrorDomain.DOMAIN, api);
  return (fn as (...args: unknown[]) => unknown).bind(drv) as NonNullable<HypervisorDriver[K]>;
}

// The steps (libvirt's virDomainMigrate*3Params, "not for public use").

/**
 * Source step 1 (virDomainMigrateBegin3Params): the domain's XML for the destination and a cookie.
 *
 * Prerequisites: a writable connection; the domain can migrate (driver's rules).
 * Effects on success: with VIR_MIGRATE_CHANGE_PROTECTION the domain's migration job has begun.
 * Effects on failure: nothing changes.
 * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection;
 * VIR_ERR_NO_SUPPORT when the driver does not migrate; the driver's refusal.
 */
export async function migrateBegin3Params(dom: Domain, params: TypedParameter[], flags: number): Promise<{ xml: string; cookieOut: Buffer }> {
  const drv = dom.connection.writableDriver('virDomainMigrateBegin3Params');
  return step(drv, 'domainMigrateBegin3Params', 'virDomainMigrateBegin3Params')(dom.ref, params, flags);
}

/**
 * Destination step 2 (virDomainMigratePrepare3Params): makes ready to receive the domain.
 *
 * Prerequisites: a writable connection. Effects on success: the destination waits for the guest
 * (an incoming hypervisor process); its cookie and the URI to send to (null: the one asked).
 * Effects on failure: nothing is left on the destination.
 * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection;
 * VIR_ERR_NO_SUPPORT when the driver does not migrate; the driver's refusal (a domain of that
 * name already active, …).
 */
export async function migratePrepare3Params(conn: Connection, params: TypedParameter[], cookieIn: Buffer, flags: number): Promise<{ cookieOut: Buffer; uriOut: string | null }> {
  const drv = conn.writableDriver('virDomainMigratePrepare3Params');
  return step(drv, 'domainMigratePrepare3Params', 'virDomainMigratePrepare3Params')(params, cookieIn, flags);
}

/**
 * Source step 3 (virDomainMigratePerform3Params): sends the guest. With VIR_MIGRATE_PEER2PEER and
 * a `dconnuri`, the whole peer-to-peer migration instead ({@link migrateToURI3}).
 *
 * Prerequisites: a writable connection; Begin ran (managed) or nothing did (peer to peer).
 * Effects on success: the guest's state is on the destination; the source's copy is paused
 * until Confirm. Effects on failure: the source's guest runs as before.
 * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection;
 * VIR_ERR_NO_SUPPORT when the driver does not migrate; VIR_ERR_OPERATION_ABORTED when the job was
 * aborted; the driver's failure.
 */
export async function migratePerform3Params(
  dom: Domain,
  dconnuri: string | null,
  params: TypedParameter[],
  cookieIn: Buffer,
  flags: number,
  options?: JobOptions,
): Promise<Buffer> {
  const drv = dom.connection.writableDriver('virDomainMigratePerform3Params');
  if ((flags & DomainMigrateFlags.PEER2PEER) !== 0 && dconnuri !== null && drv.domainMigratePerform3Params !== undefined && !isRemote(drv)) {
    await peerToPeer(dom, dconnuri, params, flags);
    return Buffer.alloc(0);
  }
  return step(drv, 'domainMigratePerform3Params', 'virDomainMigratePerform3Params')(dom.ref, dconnuri, params, cookieIn, flags, options);
}

/**
 * Destination step 4 (virDomainMigrateFinish3Params): resumes the arrived guest, or with
 * `cancelled` discards it.
 *
 * Prerequisites: a writable connection; Prepare ran. Effects on success: the domain runs on the
 * destination (persistent with VIR_MIGRATE_PERSIST_DEST). Effects on failure or `cancelled`:
 * nothing is left on the destination.
 * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection;
 * VIR_ERR_NO_SUPPORT when the driver does not migrate; the driver's failure.
 */
export async function migrateFinish3Params(
  conn: Connection,
  params: TypedParameter[],
  cookieIn: Buffer,
  flags: number,
  cancelled: boolean,
): Promise<{ dom: DomainRef | null; cookieOut: Buffer }> {
  const drv = conn.writableDriver('virDomainMigrateFinish3Params');
  return step(drv, 'domainMigrateFinish3Params', 'virDomainMigrateFinish3Params')(params, cookieIn, flags, cancelled);
}

/**
 * Source step 5 (virDomainMigrateConfirm3Params): ends the source's copy, or with `cancelled`
 * resumes it.
 *
 * Prerequisites: a writable connection; Perform ran. Effects on success: the domain is gone from
 * the source (undefined there with VIR_MIGRATE_UNDEFINE_SOURCE), or runs there again when
 * cancelled. Effects on failure: the guest may stay paused on the source.
 * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection;
 * VIR_ERR_NO_SUPPORT when the driver does not migrate; the driver's failure.
 */
export async function migrateConfirm3Params(dom: Domain, params: TypedParameter[], cookieIn: Buffer, flags: number, cancelled: boolean): Promise<void> {
  const drv = dom.connection.writableDriver('virDomainMigrateConfirm3Params');
  await step(drv, 'domainMigrateConfirm3Params', 'virDomainMigrateConfirm3Params')(dom.ref, params, cookieIn, flags, cancelled);
}

/** A driver that relays to a daemon (the remote driver). */
function isRemote(drv: HypervisorDriver): boolean {
  return drv.remote === true;
}

// The public calls.

const COMPAT_PARAMS = new Set([VIR_MIGRATE_PARAM_URI, VIR_MIGRATE_PARAM_DEST_NAME, VIR_MIGRATE_PARAM_DEST_XML, VIR_MIGRATE_PARAM_BANDWIDTH]);

function argumentUnsupported(detail: string): VirError {
  return VirError.report(ErrorDomain.DOMAIN, ErrorNumber.ARGUMENT_UNSUPPORTED, detail);
}

/** The checks of libvirt's virDomainMigrate3 before it picks a protocol. */
async function checkOffline(src: Connection, dst: Connection | null, flags: number): Promise<void> {
  if ((flags & DomainMigrateFlags.OFFLINE) === 0) return;
  if (!(await migrationFeature(src, F.MIGRATION_OFFLINE))) throw argumentUnsupported('offline migration is not supported by the source host');
  if (dst !== null && !(await migrationFeature(dst, F.MIGRATION_OFFLINE))) {
    throw argumentUnsupported('offline migration is not supported by the destination host');
  }
}

/**
 * virDomainMigrate3: migrates `dom` to the host `dconn` is connected to, the caller driving the
 * five steps (managed migration). See {@link Domain.migrate3}.
 */
export async function migrate3(dom: Domain, dconn: Connection, params: MigrateParams | null | undefined, flags: number): Promise<Domain> {
  const src = dom.connection;
  src.writableDriver('virDomainMigrate3');
  dconn.writableDriver('virDomainMigrate3');
  const typed = migrateParams(params);
  exclusiveFlags(flags, DomainMigrateFlags.NON_SHARED_DISK, 'VIR_MIGRATE_NON_SHARED_DISK', DomainMigrateFlags.NON_SHARED_INC, 'VIR_MIGRATE_NON_SHARED_INC', ErrorDomain.DOMAIN);
  if ((flags & DomainMigrateFlags.PEER2PEER) !== 0) {
    throw VirError.invalidArg(ErrorDomain.DOMAIN, 'use virDomainMigrateToURI3 for peer-to-peer migration');
  }
  if ((flags & DomainMigrateFlags.TUNNELLED) !== 0) {
    throw VirError.invalidArg(ErrorDomain.DOMAIN, 'cannot perform tunnelled migration without using peer2peer flag');
  }
  await checkOffline(src, dconn, flags);
  if ((flags & DomainMigrateFlags.CHANGE_PROTECTION) !== 0 && !(await migrationFeature(src, F.MIGRATE_CHANGE_PROTECTION))) {
    throw argumentUnsupported('cannot enforce change protection');
  }
  flags &= ~DomainMigrateFlags.CHANGE_PROTECTION;
  if ((await migrationFeature(src, F.MIGRATION_PARAMS)) && (await migrationFeature(dconn, F.MIGRATION_PARAMS))) {
    const ref = await version3Params(dom, dconn, typed, flags);
    return new Domain(dconn, ref);
  }
  if (!typed.every((p) => COMPAT_PARAMS.has(p.field))) {
    throw argumentUnsupported('Migration APIs with extensible parameters are not supported but extended parameters were passed');
  }
  // tsvirt speaks only version 3 with parameters; the older protocols are libvirt's fallbacks.
  throw noSupport(ErrorDomain.DOMAIN, 'virDomainMigrate3');
}

/**
 * virDomainMigrateVersion3Full with parameters: the five steps and libvirt's rules for which
 * steps still run after a failure, and which error the caller sees.
 */
async function version3Params(dom: Domain, dconn: Connection, params: TypedParameter[], flags: number): Promise<DomainRef> {
  const src = dom.connection;
  const protection = (await migrationFeature(src, F.MIGRATE_CHANGE_PROTECTION)) ? DomainMigrateFlags.CHANGE_PROTECTION : 0;
  const begun = await migrateBegin3Params(dom, params, flags | protection);
  try {
    const [state] = await dom.state(0);
    if (state === DomainState.PAUSED) flags |= DomainMigrateFlags.PAUSED;
  } catch {
    // libvirt only looks at the state when it can read it.
  }
  const destflags = flags & ~(DomainMigrateFlags.ABORT_ON_ERROR | DomainMigrateFlags.AUTO_CONVERGE);
  let cookie = begun.cookieOut;
  params = replaceString(params, VIR_MIGRATE_PARAM_DEST_XML, begun.xml);
  let origErr: unknown = null;
  let cancelled = true;
  let notifySource = true;
  let ddomain: DomainRef | null = null;
  let prepared: { cookieOut: Buffer; uriOut: string | null };
  try {
    prepared = await migratePrepare3Params(dconn, params, cookie, destflags);
  } catch (err) {
    // Begin started a job (change protection): Confirm ends it, keeping Prepare's error.
    if (protection === 0) throw err;
    await confirm(dom, params, Buffer.alloc(0), flags | protection, true);
    throw err;
  }
  cookie = prepared.cookieOut;
  let skipPerform = false;
  if (prepared.uriOut !== null) {
    params = replaceString(params, VIR_MIGRATE_PARAM_URI, prepared.uriOut);
  } else if (paramString(params, VIR_MIGRATE_PARAM_URI) === null) {
    origErr = internalError(ErrorDomain.DOMAIN, 'domainMigratePrepare3 did not set uri');
    skipPerform = true;
  }
  if (!skipPerform && (flags & DomainMigrateFlags.OFFLINE) !== 0) {
    // Offline: only the definition moves; nothing to send.
    cookie = Buffer.alloc(0);
    cancelled = false;
    skipPerform = true;
  }
  if (!skipPerform) {
    try {
      cookie = await migratePerform3Params(dom, null, params, cookie, flags | protection);
      cancelled = false;
    } catch (err) {
      origErr = err;
      // Perform failed: the source already knows and resumed its guest; no Confirm.
      notifySource = false;
      cookie = Buffer.alloc(0);
      cancelled = true;
    }
  }
  if (paramString(params, VIR_MIGRATE_PARAM_DEST_NAME) === null) params = replaceString(params, VIR_MIGRATE_PARAM_DEST_NAME, dom.name());
  let finishErr: unknown = null;
  try {
    const fin = await migrateFinish3Params(dconn, params, cookie, destflags, cancelled);
    ddomain = fin.dom;
    cookie = fin.cookieOut;
  } catch (err) {
    finishErr = err;
    cookie = Buffer.alloc(0);
  }
  if (cancelled && ddomain === null && origErr instanceof VirError && finishErr instanceof VirError) {
    // A QEMU failure in Perform is usually the destination dying: Finish's real error says more
    // than Perform's "migration unexpectedly failed" (libvirt's rule, kept as is).
    if (origErr.domain === ErrorDomain.QEMU && origErr.code === ErrorNumber.OPERATION_FAILED && finishErr.domain === ErrorDomain.QEMU && finishErr.code !== ErrorNumber.MIGRATE_FINISH_OK) {
      origErr = finishErr;
    }
  }
  cancelled = ddomain === null;
  if (origErr === null) origErr = finishErr;
  if (notifySource) await confirm(dom, params, cookie, flags | protection, cancelled);
  if (ddomain === null) throw origErr ?? operationFailed(ErrorDomain.DOMAIN, 'migration unexpectedly failed');
  return ddomain;
}

/** Confirm, whose failure only leaves the source's guest paused: libvirt warns and goes on. */
async function confirm(dom: Domain, params: TypedParameter[], cookie: Buffer, flags: number, cancelled: boolean): Promise<void> {
  try {
    await migrateConfirm3Params(dom, params, cookie, flags, cancelled);
  } catch {
    // libvirt: "Guest probably left in 'paused' state on source"; the caller gets the earlier error.
  }
}

/**
 * libvirt's virDomainMigrateCheckNotLocal: a peer-to-peer destination must name another host,
 * or a unix socket (whoever names one knows it is another daemon).
 */
function checkNotLocal(dconnuri: string): void {
  let u: URL;
  try {
    u = new URL(dconnuri);
  } catch {
    throw VirError.report(ErrorDomain.URI, ErrorNumber.INTERNAL_ERROR, `Unable to parse URI ${dconnuri}`);
  }
  const server = u.hostname;
  if ((server !== '' && server.startsWith('localhost')) || (server === '' && !u.searchParams.has('socket'))) {
    throw VirError.invalidArg(ErrorDomain.DOMAIN, 'Attempt to migrate guest to the same host');
  }
}

/**
 * virDomainMigrateToURI3: migrates `dom` peer to peer to the daemon at `dconnuri`
 * (VIR_MIGRATE_PEER2PEER), or directly (without it; no driver of tsvirt migrates directly). See
 * {@link Domain.migrateToURI3}.
 */
export async function migrateToURI3(dom: Domain, dconnuri: string | null, params: MigrateParams | null | undefined, flags: number): Promise<void> {
  const src = dom.connection;
  src.writableDriver('virDomainMigrateToURI3');
  const typed = migrateParams(params);
  exclusiveFlags(flags, DomainMigrateFlags.NON_SHARED_DISK, 'VIR_MIGRATE_NON_SHARED_DISK', DomainMigrateFlags.NON_SHARED_INC, 'VIR_MIGRATE_NON_SHARED_INC', ErrorDomain.DOMAIN);
  await checkOffline(src, null, flags);
  const p2p = (flags & DomainMigrateFlags.PEER2PEER) !== 0;
  if (p2p) {
    if (!(await migrationFeature(src, F.MIGRATION_P2P))) throw argumentUnsupported('p2p migration is not supported by the source host');
  } else if (!(await migrationFeature(src, F.MIGRATION_DIRECT))) {
    throw argumentUnsupported('direct migration is not supported by the source host');
  }
  if (p2p) {
    if (dconnuri === null || dconnuri === undefined) throw VirError.invalidArg(ErrorDomain.DOMAIN, 'dconnuri in virDomainMigrateToURI3 must not be NULL');
    checkNotLocal(dconnuri);
  } else {
    dconnuri = null;
  }
  if (p2p && (await migrationFeature(src, F.MIGRATION_PARAMS))) {
    await migratePerform3Params(dom, dconnuri, typed, Buffer.alloc(0), flags);
    return;
  }
  // Older protocols (version 3 without parameters, 2) and direct migration: tsvirt has none.
  throw noSupport(ErrorDomain.DOMAIN, 'virDomainMigrateToURI3');
}

/**
 * Peer to peer from a local driver (libvirt's qemuMigrationSrcPerformPeer2Peer3, here above the
 * driver): opens `dconnuri`, checks the destination speaks version 3 with parameters, then runs
 * the five steps with this side as the caller.
 */
async function peerToPeer(dom: Domain, dconnuri: string, params: TypedParameter[], flags: number): Promise<void> {
  const { connect } = await import('./connect.js');
  let dconn: Connection;
  try {
    dconn = await connect(dconnuri);
  } catch (err) {
    if (err instanceof VirError) {
      throw operationFailed(ErrorDomain.DOMAIN, `Failed to connect to remote libvirt URI ${dconnuri}: ${err.message}`);
    }
    throw err;
  }
  try {
    const v3 = (await migrationFeature(dconn, F.MIGRATION_V3)) && (await migrationFeature(dconn, F.MIGRATION_PARAMS));
    const p2p = await migrationFeature(dconn, F.MIGRATION_P2P);
    if (!p2p || !v3) {
      throw operationFailed(ErrorDomain.DOMAIN, 'Destination libvirt does not support peer-to-peer migration protocol');
    }
    if ((flags & DomainMigrateFlags.OFFLINE) !== 0 && !(await migrationFeature(dconn, F.MIGRATION_OFFLINE))) {
      throw argumentUnsupported('offline migration is not supported by the destination host');
    }
    await version3Params(dom, dconn, params, flags & ~DomainMigrateFlags.CHANGE_PROTECTION);
  } finally {
    await dconn.close().catch(() => undefined);
  }
}
