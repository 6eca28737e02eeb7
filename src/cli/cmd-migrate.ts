/**
 * `migrate`, as virsh's cmdMigrate: the options become VIR_MIGRATE_PARAM_* parameters and
 * virDomainMigrateFlags; with --p2p (or --direct) the source side runs it
 * (virDomainMigrateToURI3), otherwise tsvirt opens the destination and drives the steps
 * (virDomainMigrate3). While it runs, as virshWatchJob: --verbose prints the job's progress,
 * --timeout suspends the guest once the job has run that long, Ctrl-C aborts the job.
 */
import { connect, DomainMigrateFlags as MF, type Connection, type TypedParameter } from '../index.js';
import { migrateParams } from '../api/migration.js';
import { FAILED, Level, type Cmd, type Ctl, type Handler } from './context.js';
import { readXMLFile } from './files.js';
import { VirError } from '../core/errors.js';

/** virshWatchJob's polling interval. */
const POLL_MS = 500;

/** Boolean options and the flag each sets (virsh's order). */
const FLAG_OPTS: readonly (readonly [string, number])[] = [
  ['live', MF.LIVE],
  ['p2p', MF.PEER2PEER],
  ['tunnelled', MF.PEER2PEER | MF.TUNNELLED],
  ['persistent', MF.PERSIST_DEST],
  ['undefinesource', MF.UNDEFINE_SOURCE],
  ['suspend', MF.PAUSED],
  ['copy-storage-all', MF.NON_SHARED_DISK],
  ['copy-storage-inc', MF.NON_SHARED_INC],
  ['copy-storage-synchronous-writes', MF.NON_SHARED_SYNCHRONOUS_WRITES],
  ['change-protection', MF.CHANGE_PROTECTION],
  ['unsafe', MF.UNSAFE],
  ['compressed', MF.COMPRESSED],
  ['auto-converge', MF.AUTO_CONVERGE],
  ['rdma-pin-all', MF.RDMA_PIN_ALL],
  ['abort-on-error', MF.ABORT_ON_ERROR],
  ['postcopy', MF.POSTCOPY],
  ['postcopy-resume', MF.POSTCOPY_RESUME],
  ['zerocopy', MF.ZEROCOPY],
  ['parallel', MF.PARALLEL],
  ['offline', MF.OFFLINE],
  ['tls', MF.TLS],
];

/** virshPrintJobProgress: `\rLABEL: [NNN %]`, 100 only when nothing remains. */
function printProgress(ctl: Ctl, label: string, remaining: number, total: number): void {
  let pct = 100;
  if (remaining !== 0) pct = Math.min(99, Math.trunc(100 - (remaining * 100) / total));
  ctl.stderr(`\r${label}: [${String(pct).padStart(3)} %]`);
}

/** The parameters of the options, as virsh's doMigrate collects them; null when an option is bad. */
function collectParams(ctl: Ctl, cmd: Cmd): TypedParameter[] | null {
  const out: Record<string, string | number | string[]> = {};
  const strings: readonly (readonly [string, string])[] = [
    ['migrateuri', 'migrate_uri'],
    ['graphicsuri', 'graphics_uri'],
    ['listen-address', 'listen_address'],
    ['disks-uri', 'disks_uri'],
    ['dname', 'destination_name'],
    ['tls-destination', 'tls.destination'],
  ];
  for (const [opt, field] of strings) {
    const v = cmd.string(opt);
    if (v !== undefined) out[field] = v;
  }
  const ints: readonly (readonly [string, string])[] = [
    ['disks-port', 'disks_port'],
    ['comp-mt-level', 'compression.mt.level'],
    ['comp-mt-threads', 'compression.mt.threads'],
    ['comp-mt-dthreads', 'compression.mt.dthreads'],
    ['auto-converge-initial', 'auto_converge.initial'],
    ['auto-converge-increment', 'auto_converge.increment'],
    ['parallel-connections', 'parallel.connections'],
  ];
  for (const [opt, field] of ints) {
    const v = cmd.int(opt);
    if (v !== undefined) out[field] = v;
  }
  const lists: readonly (readonly [string, string])[] = [
    ['migrate-disks', 'migrate_disks'],
    ['comp-methods', 'compression'],
  ];
  for (const [opt, field] of lists) {
    const v = cmd.string(opt);
    if (v !== undefined) out[field] = v.split(',').filter((d) => d !== '');
  }
  // vshCommandOptULongLong: unsigned 64-bit values.
  const ullongs: readonly (readonly [string, string])[] = [
    ['comp-xbzrle-cache', 'compression.xbzrle.cache'],
    ['postcopy-bandwidth', 'bandwidth.postcopy'],
    ['bandwidth', 'bandwidth'],
  ];
  for (const [opt, field] of ullongs) {
    const v = cmd.string(opt);
    if (v === undefined) continue;
    if (!/^\s*\+?\d+$/.test(v) || !Number.isSafeInteger(Number(v.trim()))) {
      ctl.error(`Numeric value '${v}' for <${opt}> option is malformed or out of range`);
      return null;
    }
    out[field] = Number(v.trim());
  }
  for (const [opt, field] of [
    ['xml', 'destination_xml'],
    ['persistent-xml', 'persistent_xml'],
  ] as const) {
    const file = cmd.string(opt);
    if (file === undefined) continue;
    const text = readXMLFile(ctl, file);
    if (text instanceof VirError) {
      ctl.save(text);
      return null;
    }
    out[field] = text;
  }
  return migrateParams(out);
}

const migrate: Handler = async (ctl, cmd) => {
  cmd.exclusive('live', 'offline');
  cmd.requires('timeout-suspend', 'timeout');
  cmd.requires('persistent-xml', 'persistent');
  cmd.requires('tls-destination', 'tls');
  cmd.exclusive('timeout-suspend', 'timeout-postcopy');
  cmd.requires('postcopy-after-precopy', 'postcopy');
  cmd.requires('timeout-postcopy', 'postcopy');
  if (cmd.bool('postcopy-after-precopy') || cmd.bool('timeout-postcopy')) {
    // Both switch to post-copy with virDomainMigrateStartPostCopy, which tsvirt lacks.
    ctl.error('this function is not supported by the connection driver: virDomainMigrateStartPostCopy');
    return false;
  }
  const { dom } = await cmd.domain();
  const desturi = cmd.string('desturi') ?? '';
  const verbose = cmd.bool('verbose');
  const timeout = cmd.int('timeout');
  if (timeout !== undefined) {
    if (timeout < 1) {
      ctl.error('migrate: Invalid timeout');
      return false;
    }
    if (!cmd.bool('live')) {
      ctl.error('migrate: Unexpected timeout for offline migration');
      return false;
    }
  }
  const params = collectParams(ctl, cmd);
  if (params === null) return false;
  let flags = 0;
  for (const [opt, flag] of FLAG_OPTS) if (cmd.bool(opt)) flags |= flag;
  const unmanaged = (flags & MF.PEER2PEER) !== 0 || cmd.bool('direct');

  let dconn: Connection | null = null;
  let settled = false;
  let timer: NodeJS.Timeout | undefined;
  // Ctrl-C aborts the migration job (virsh's SIGINT handler calls virDomainAbortJob).
  const onInt = () => void dom.abortJob().catch(() => undefined);
  const run = async () => {
    if (unmanaged) {
      await dom.migrateToURI3(desturi, params, flags);
      return;
    }
    dconn = await connect(desturi);
    await dom.migrate3(dconn, params, flags);
  };
  process.on('SIGINT', onInt);
  const started = Date.now();
  let suspended = false;
  const watch = async () => {
    if (settled) return;
    if (verbose || (timeout !== undefined && !suspended)) {
      try {
        const info = await dom.jobInfo();
        if (!settled && verbose && info.dataTotal > 0) printProgress(ctl, 'Migration', info.dataRemaining, info.dataTotal);
      } catch {
        // The job may have ended between two polls.
      }
    }
    if (timeout !== undefined && !suspended && Date.now() - started > timeout * 1000) {
      // --timeout (suspend by default): the guest stops so that the copy converges.
      suspended = true;
      ctl.debugMsg(Level.NOTICE, 'suspending the domain, since migration timed out\n');
      await dom.suspend().catch(() => undefined);
    }
    if (!settled) timer = setTimeout(() => void watch(), POLL_MS);
  };
  timer = setTimeout(() => void watch(), POLL_MS);
  let rc: void | typeof FAILED;
  try {
    rc = await ctl.attempt(run);
  } finally {
    settled = true;
    clearTimeout(timer);
    process.removeListener('SIGINT', onInt);
    const opened: Connection | null = dconn;
    if (opened !== null) await (opened as Connection).close().catch(() => undefined);
  }
  if (rc === FAILED) {
    if (verbose) ctl.stderr('\n');
    return false;
  }
  if (verbose) {
    printProgress(ctl, 'Migration', 0, 1);
    ctl.stderr('\n');
  }
  return true;
};

export const handlers: Record<string, Handler> = { migrate };
