/**
 * The test driver runs its guest calls through the metadata driver's job path, the one QEMU's
 * calls take (src/drivers/metadata/jobs.ts): each takes the domain's job in the store under
 * libvirt's job name and releases it, and a job another process holds refuses a test-driver
 * call exactly as it refuses a qemu call. So the rule suite on test:///… exercises that path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ErrorDomain, ErrorNumber, VirError, connect, type Connection } from '../src/index.js';
import { Store } from '../src/store/store.js';
import { testSessionStorePath } from '../src/drivers/test/driver.js';
import { qemuLocations } from '../src/drivers/qemu/session.js';
import { domainXML, snapshotXML, tempStateDir } from './support/fixtures.js';

const HOLDER = fileURLToPath(new URL('./support/job-holder.js', import.meta.url));

/** Runs `fn` with TSVIRT_STATE_DIR set to a fresh directory, removed afterwards. */
async function withStateDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const state = tempStateDir();
  const previous = process.env.TSVIRT_STATE_DIR;
  process.env.TSVIRT_STATE_DIR = state.dir;
  try {
    return await fn(state.dir);
  } finally {
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    state.cleanup();
  }
}

test('the test driver takes and releases the domain job in the store for every guest call, under libvirt\'s job names', () =>
  withStateDir(async (dir) => {
    const path = testSessionStorePath({ TSVIRT_STATE_DIR: dir });
    new Store({ path }).close();
    // A trigger in the store records every job taken, by whoever takes it.
    const db = new Database(path);
    db.exec(`CREATE TABLE job_log (seq INTEGER PRIMARY KEY, job TEXT NOT NULL);
      CREATE TRIGGER job_taken AFTER INSERT ON jobs BEGIN INSERT INTO job_log (job) VALUES (NEW.job); END;`);
    const conn = await connect('test:///session');
    try {
      const dom = await conn.defineXML(domainXML('jobbed'));
      await dom.create();
      await dom.suspend();
      await dom.resume();
      const snap = await dom.snapshotCreateXML(snapshotXML('s1'));
      await dom.managedSave();
      await dom.create();
      await dom.revertToSnapshot(snap);
      await snap.delete();
      await dom.shutdown();
      await dom.undefine();
      const transient = await conn.createXML(domainXML('transient'));
      await transient.destroy();
      const log = (db.prepare('SELECT job FROM job_log ORDER BY seq').all() as { job: string }[]).map((r) => r.job);
      assert.deepEqual(log, [
        'virDomainCreateWithFlags',
        'virDomainSuspend',
        'virDomainResume',
        'virDomainSnapshotCreateXML',
        'virDomainManagedSave',
        'virDomainCreateWithFlags',
        'virDomainRevertToSnapshot',
        'virDomainSnapshotDelete',
        'virDomainShutdownFlags',
        'virDomainUndefineFlags',
        'virDomainCreateXML',
        'virDomainDestroyFlags',
      ]);
      assert.equal((db.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n, 0, 'every job is released');
    } finally {
      await conn.close();
      db.close();
    }
  }));

/** Starts the job holder on `uuid` in the store at `path`; resolves once it holds the job. */
async function holdJob(path: string, uuid: string, children: ChildProcess[]): Promise<void> {
  const child = spawn(process.execPath, [HOLDER, path, uuid], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => (d.toString().includes('held') ? resolve() : reject(new Error(d.toString()))));
    child.on('exit', () => reject(new Error('holder exited')));
  });
}

/** The error of `call`, and how long it took to come. */
async function refusal(call: () => Promise<unknown>): Promise<{ err: VirError; ms: number }> {
  const t0 = Date.now();
  try {
    await call();
  } catch (err) {
    assert.ok(err instanceof VirError, String(err));
    return { err, ms: Date.now() - t0 };
  }
  assert.fail('the call was not refused');
}

test('a job held by another process refuses a test-driver call as it refuses a qemu call: at once, with libvirt\'s lock error', { timeout: 60_000 }, () =>
  withStateDir(async (dir) => {
    const children: ChildProcess[] = [];
    const conns: Connection[] = [];
    try {
      const seen: Record<string, { err: VirError; ms: number }[]> = {};
      const drivers = [
        { uri: 'test:///session', store: testSessionStorePath({ TSVIRT_STATE_DIR: dir }), domainType: 'test' },
        { uri: 'qemu:///session', store: join(qemuLocations('/session', { TSVIRT_STATE_DIR: dir }).root, 'qemu.db'), domainType: 'qemu' },
      ];
      for (const d of drivers) {
        const conn = await connect(d.uri);
        conns.push(conn);
        const dom = await conn.defineXML(domainXML(`held-${d.domainType}`).replace("type='test'", `type='${d.domainType}'`));
        await holdJob(d.store, dom.UUIDString(), children);
        // Each guest call is refused before it touches the guest (no QEMU is started here).
        seen[d.uri] = [
          await refusal(() => dom.create()),
          await refusal(() => dom.snapshotCreateXML(snapshotXML('s'))),
          await refusal(() => dom.managedSaveRemove()),
          await refusal(() => dom.undefine()),
        ];
        assert.equal(await dom.isPersistent(), true, `${d.uri}: the refused undefine changed nothing`);
      }
      const testSeen = seen['test:///session'] ?? [];
      const qemuSeen = seen['qemu:///session'] ?? [];
      assert.equal(testSeen.length, 4);
      for (let i = 0; i < testSeen.length; i++) {
        const t = testSeen[i];
        const q = qemuSeen[i];
        assert.ok(t !== undefined && q !== undefined);
        assert.equal(t.err.code, ErrorNumber.OPERATION_TIMEOUT);
        assert.equal(t.err.message, 'Timed out during operation: cannot acquire state change lock (held by remoteDispatchDomainCreate)');
        assert.equal(t.err.domain, ErrorDomain.TEST);
        assert.equal(q.err.code, t.err.code);
        assert.equal(q.err.message, t.err.message);
        assert.equal(q.err.domain, ErrorDomain.QEMU);
        // Refused at once, not after libvirt's 30 s wait for a job of this driver.
        assert.ok(t.ms < 5000 && q.ms < 5000, `refused after ${t.ms} ms (test) and ${q.ms} ms (qemu)`);
      }
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      for (const c of conns) await c.close();
    }
  }));

test('calls of one test driver on one domain queue behind each other and all complete, in order', async () => {
  const conn = await connect('test:///default');
  try {
    const dom = await conn.defineXML(domainXML('queued'));
    const order: string[] = [];
    const step = (name: string, p: Promise<unknown>) => p.then(() => order.push(name));
    await Promise.all([
      step('create', dom.create()),
      step('suspend', dom.suspend()),
      step('resume', dom.resume()),
      step('snapshot', dom.snapshotCreateXML(snapshotXML('q'))),
      step('destroy', dom.destroy()),
    ]);
    assert.deepEqual(order, ['create', 'suspend', 'resume', 'snapshot', 'destroy']);
    assert.equal(await dom.isActive(), false);
    assert.equal(await dom.snapshotNum(), 1);
  } finally {
    await conn.close();
  }
});
