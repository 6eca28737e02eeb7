/**
 * The store (docs/design.md): schema migrations, per-domain jobs across processes that are released
 * when their owner dies, and one transaction per mutation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { connect, DomainState, ErrorNumber } from '../src/index.js';
import { Store } from '../src/store/store.js';
import { SCHEMA_VERSION } from '../src/store/schema.js';
import { testSessionStorePath } from '../src/drivers/test/driver.js';
import { domainXML, rejectsVir, storeRow, tempStateDir, withConnection } from './support/fixtures.js';

const HOLDER = fileURLToPath(new URL('./support/job-holder.js', import.meta.url));

test('store: a new store is created at the current schema version, in WAL mode with full sync', () => {
  const state = tempStateDir();
  try {
    const path = testSessionStorePath({ TSVIRT_STATE_DIR: state.dir });
    new Store({ path }).close();
    const db = new Database(path, { readonly: true });
    try {
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  } finally {
    state.cleanup();
  }
});

test('store: a job held by a live process blocks others; it is released when its owner dies', { timeout: 60_000 }, () =>
  withConnection('test:///session', async (conn, dir) => {
    const dom = await conn.defineXML(domainXML('jobbed'));
    const path = testSessionStorePath({ TSVIRT_STATE_DIR: dir });
    const child = spawn(process.execPath, [HOLDER, path, dom.UUIDString()], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => (d.toString().includes('held') ? resolve() : reject(new Error(d.toString()))));
        child.on('exit', () => reject(new Error('holder exited')));
      });
      const store = new Store({ path });
      try {
        assert.deepEqual(store.tryAcquireJob(dom.UUIDString(), 'mine'), { heldBy: 'remoteDispatchDomainCreate' });
        await rejectsVir(dom.create(), {
          code: ErrorNumber.OPERATION_TIMEOUT,
          message: 'Timed out during operation: cannot acquire state change lock (held by remoteDispatchDomainCreate)',
        });
        assert.equal(await dom.isActive(), false);
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        await dom.create();
        const got = store.tryAcquireJob(dom.UUIDString(), 'mine');
        assert.ok('token' in got);
        store.releaseJob(dom.UUIDString(), got.token);
      } finally {
        store.close();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }));

test('store: a failed mutation leaves nothing behind (one transaction per call)', () =>
  withConnection('test:///session', async (conn, dir) => {
    const dom = await conn.defineXML(domainXML('atomic'));
    for (let i = 0; i < 5; i++) await dom.snapshotCreateXML(`<domainsnapshot><name>s${i}</name></domainsnapshot>`);
    await rejectsVir(dom.undefine(), { code: ErrorNumber.OPERATION_INVALID });
    const other = await connect('test:///session');
    try {
      assert.equal(await (await other.lookupByName('atomic')).snapshotNum(), 5);
    } finally {
      await other.close();
    }
    const db = new Database(testSessionStorePath({ TSVIRT_STATE_DIR: dir }), { readonly: true });
    try {
      assert.equal((db.prepare('SELECT count(*) AS n FROM snapshots').get() as { n: number }).n, 5);
    } finally {
      db.close();
    }
  }));

test('store: the status lookup (no XML) agrees with the whole row, active or not, and is undefined for an unknown UUID', () => {
  const store = new Store({ path: ':memory:' });
  try {
    const on = storeRow('on', { id: store.allocateID(), state: DomainState.PAUSED, reason: 1, persistent: false, configXml: null, liveXml: "<domain type='test'/>" });
    const off = storeRow('off', { reason: 2 });
    store.mutate(() => {
      store.insertDomain(on);
      store.insertDomain(off);
    });
    for (const { uuid } of [on, off]) {
      const row = store.domainByUUID(uuid)!;
      assert.deepEqual(store.domainStatusByUUID(uuid), { name: row.name, id: row.id, persistent: row.persistent, state: row.state, reason: row.reason });
    }
    assert.deepEqual(store.domainStatusByUUID(off.uuid), { name: 'off', id: -1, persistent: true, state: DomainState.SHUTOFF, reason: 2 });
    assert.equal(store.domainStatusByUUID('00000000-0000-0000-0000-000000000000'), undefined);
  } finally {
    store.close();
  }
});

test("store: nonBlocking waits for another connection's write lock on a timer, never in SQLite's busy loop", async () => {
  const { dir, cleanup } = tempStateDir();
  const path = `${dir}/nb.db`;
  const store = new Store({ path, nonBlocking: true, busyTimeoutMs: 300 });
  const holder = new Database(path);
  try {
    assert.equal(store.writable(), undefined, 'free: taken at once');
    store.mutate(() => store.allocateID());
    holder.exec('BEGIN IMMEDIATE');
    // Held: mutate() alone fails at once instead of blocking the loop.
    const t0 = Date.now();
    assert.throws(() => store.mutate(() => store.allocateID()), (e: unknown) => (e as { code?: number }).code === ErrorNumber.OPERATION_FAILED);
    assert.ok(Date.now() - t0 < 200, `mutate() blocked ${Date.now() - t0} ms`);
    // writable() waits while the event loop runs, then gives up with libvirt's timeout error.
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    try {
      const wait = store.writable();
      assert.ok(wait instanceof Promise);
      await rejectsVir(wait, { code: ErrorNumber.OPERATION_TIMEOUT, message: "Timed out during operation: cannot acquire the store's write lock: another process holds it" });
    } finally {
      clearInterval(ticker);
    }
    assert.ok(ticks >= 10, `the event loop ran meanwhile (${ticks} ticks)`);
    // Released while waiting: the wait ends and the mutation that follows commits.
    const wait = store.writable();
    setTimeout(() => holder.exec('COMMIT'), 100);
    await wait;
    const id = store.mutate(() => store.allocateID());
    assert.equal(typeof id, 'number');
    assert.equal(holder.prepare("SELECT value FROM counters WHERE name = 'next_domain_id'").pluck().get(), id + 1, 'committed, seen by the other connection');
    // A reservation nobody uses is let go at the end of the loop turn.
    assert.equal(store.writable(), undefined);
    await new Promise((r) => setImmediate(r));
    holder.exec('BEGIN IMMEDIATE');
    holder.exec('COMMIT');
  } finally {
    if (holder.inTransaction) holder.exec('ROLLBACK');
    holder.close();
    store.close();
    cleanup();
  }
});
