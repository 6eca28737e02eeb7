/**
 * QemuGuests on real tiny guests under TCG (type='qemu'): the test guest is built at test time
 * from Debian packages (scripts/build-test-guest.sh). Every guest started is killed in the
 * after hook, whatever happens; temp dirs are removed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorDomain, ErrorNumber, VirError } from '../src/index.js';
import { parseDomainXML, type DomainDef } from '../src/conf/domain.js';
import { QemuGuests } from '../src/drivers/qemu/backend.js';
import type { GuestExit } from '../src/drivers/metadata/guest.js';
import type { JobProgress } from '../src/core/driver.js';
import {
  Reaper,
  buildTestGuest,
  guestXML,
  pidAlive,
  qemuSkipReason,
  readText,
  recordFor,
  waitForText,
  type GuestXMLOptions,
  type TestGuest,
} from './qemu-harness.js';

const skip = qemuSkipReason();
const BOOT_TIMEOUT = 90_000;

describe('QEMU guests (real TCG guests through QemuGuests)', { skip, timeout: 240_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let root: string;
  const backends: QemuGuests[] = [];

  before(async () => {
    root = reaper.tempDir();
    guest = await buildTestGuest(join(root, 'guest'));
  });
  after(async () => {
    for (const b of backends) b.close();
    await reaper.cleanup();
  });

  function backend(): QemuGuests {
    const b = new QemuGuests({ root: join(root, 'state') });
    backends.push(b);
    return b;
  }

  /** Exits reported by a backend, with a way to wait for one. */
  function exits(b: QemuGuests) {
    const seen: [string, GuestExit][] = [];
    b.onExit((uuid, how) => seen.push([uuid, how]));
    return {
      seen,
      async next(uuid: string, timeoutMs = 60_000): Promise<GuestExit> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const hit = seen.find(([u]) => u === uuid);
          if (hit !== undefined) return hit[1];
          if (Date.now() > deadline) throw new Error(`no exit reported for ${uuid} within ${timeoutMs} ms`);
          await sleep(10);
        }
      },
    };
  }

  function domain(o: Omit<GuestXMLOptions, 'guest' | 'uuid' | 'serial' | 'name'> & { name: string }): { def: DomainDef; serial: string } {
    const serial = join(root, `${o.name}-${randomUUID().slice(0, 8)}.serial`);
    return { def: parseDomainXML(guestXML({ ...o, uuid: randomUUID(), guest, serial })), serial };
  }

  async function start(b: QemuGuests, def: DomainDef, opts: { paused?: boolean; image?: string | null } = {}): Promise<string> {
    const rt = await b.start(recordFor(def), def, { paused: opts.paused ?? false, image: opts.image ?? null });
    reaper.trackRuntime(rt);
    return rt;
  }

  function pidOf(rt: string): number {
    return (JSON.parse(rt) as { pid: number }).pid;
  }

  test('power button honoured (mode A): ready marker, shutdown requested, guest exit reported as shutdown', async (t) => {
    const b = backend();
    const ex = exits(b);
    const { def, serial } = domain({ name: 'honour', mode: 'A' });
    const t0 = performance.now();
    const rt = await start(b, def);
    t.diagnostic(`start → running: ${(performance.now() - t0).toFixed(0)} ms (monitor ${b.startTimings.get(def.uuid)!.monitorMs.toFixed(1)} ms)`);
    await waitForText(serial, 'GUEST-READY mode=A', BOOT_TIMEOUT);
    t.diagnostic(`start → GUEST-READY: ${(performance.now() - t0).toFixed(0)} ms`);
    assert.deepEqual(await b.status(recordFor(def, rt)), { status: 'running', running: true, singlestep: false });

    await assert.rejects(start(b, def), (err: unknown) => err instanceof VirError && err.code === ErrorNumber.OPERATION_INVALID);

    const t1 = performance.now();
    assert.equal(await b.powerButton(recordFor(def, rt)), 'requested');
    assert.equal(await ex.next(def.uuid), 'shutdown');
    t.diagnostic(`power button → exit reported: ${(performance.now() - t1).toFixed(0)} ms`);
    assert.ok(!pidAlive(pidOf(rt)), 'process gone');
    assert.ok(!existsSync(join(root, 'state', 'run', def.uuid)), 'runtime directory removed');
    assert.match(readText(serial), /GUEST-POWERBUTTON/);
    assert.equal(await b.isRunning(recordFor(def, rt)), false);
  });

  test('power button ignored (mode B): the guest runs on; kill returns when the process is gone', async (t) => {
    const b = backend();
    const ex = exits(b);
    const { def, serial } = domain({ name: 'ignore', mode: 'B' });
    const rt = await start(b, def);
    await waitForText(serial, 'GUEST-READY mode=B', BOOT_TIMEOUT);
    assert.equal(await b.powerButton(recordFor(def, rt)), 'requested');
    await sleep(1500);
    assert.equal((await b.status(recordFor(def, rt))).status, 'running');
    assert.equal(await b.isRunning(recordFor(def, rt)), true);

    const t1 = performance.now();
    await b.kill(recordFor(def, rt));
    t.diagnostic(`kill (quit) → process gone: ${(performance.now() - t1).toFixed(0)} ms`);
    assert.ok(!pidAlive(pidOf(rt)), 'gone when kill returns');
    assert.deepEqual(ex.seen, [], 'an exit the backend caused is not reported');
    await b.kill(recordFor(def, rt)); // a second kill of a gone guest is harmless
  });

  test('a guest that powers itself off (mode C) is reported as shutdown', async () => {
    const b = backend();
    const ex = exits(b);
    const { def, serial } = domain({ name: 'self', mode: 'C', after: 1 });
    const rt = await start(b, def);
    assert.equal(await ex.next(def.uuid, BOOT_TIMEOUT), 'shutdown');
    assert.match(readText(serial), /GUEST-POWEROFF/);
    assert.ok(!pidAlive(pidOf(rt)));
  });

  test('a QEMU killed from outside (SIGKILL) is reported as crashed', async () => {
    const b = backend();
    const ex = exits(b);
    const { def } = domain({ name: 'crash', mode: 'B' });
    const rt = await start(b, def, { paused: true });
    assert.equal((await b.status(recordFor(def, rt))).status, 'prelaunch');
    process.kill(pidOf(rt), 'SIGKILL');
    assert.equal(await ex.next(def.uuid), 'crashed');
    assert.ok(!existsSync(join(root, 'state', 'run', def.uuid)), 'runtime directory removed');
  });

  test('reattach: the guest outlives its backend; a new one finds it, suspends, resumes and shuts it down', async () => {
    const first = backend();
    const { def, serial } = domain({ name: 'reattach', mode: 'A' });
    const rt = await start(first, def);
    await waitForText(serial, 'GUEST-READY', BOOT_TIMEOUT);
    first.close();
    assert.ok(pidAlive(pidOf(rt)), 'guest keeps running after close');

    const second = backend();
    const ex = exits(second);
    assert.equal(await second.isRunning(recordFor(def, rt)), true);
    await second.suspend(recordFor(def, rt));
    assert.equal((await second.status(recordFor(def, rt))).status, 'paused');
    await second.resume(recordFor(def, rt));
    assert.equal((await second.status(recordFor(def, rt))).status, 'running');
    await second.powerButton(recordFor(def, rt));
    assert.equal(await ex.next(def.uuid), 'shutdown');
  });

  test('reconcile: a guest that powered off while nobody watched is found stopped, as a shutdown', async () => {
    const first = backend();
    const { def, serial } = domain({ name: 'unwatched', mode: 'C', after: 1 });
    const rt = await start(first, def);
    first.close();
    await waitForText(serial, 'GUEST-POWEROFF', BOOT_TIMEOUT);
    await sleep(300);
    assert.ok(pidAlive(pidOf(rt)), '-no-shutdown keeps QEMU until someone looks');
    const second = backend();
    assert.equal(await second.isRunning(recordFor(def, rt)), false);
    assert.equal(second.takeExitReason(def.uuid), 'shutdown');
    assert.ok(!pidAlive(pidOf(rt)), 'quit by the reconciliation');
  });

  test('managed save to a file and restore with -incoming: the same boot goes on', async (t) => {
    const b = backend();
    const ex = exits(b);
    const { def, serial } = domain({ name: 'save', mode: 'A', tick: 1 });
    const rt = await start(b, def);
    await waitForText(serial, 'GUEST-ALIVE 2', BOOT_TIMEOUT);

    const progress: JobProgress[] = [];
    const t1 = performance.now();
    const image = await b.saveMemory(recordFor(def, rt), { onProgress: (p) => progress.push(p) }, true);
    t.diagnostic(`managed save 128 MiB: ${(performance.now() - t1).toFixed(0)} ms, image ${(statSync(image).size / 1048576).toFixed(1)} MiB`);
    assert.ok(progress.length > 0 && progress.every((p) => p.total > 0), 'progress reported from query-migrate');
    assert.ok(image.startsWith(join(root, 'state', 'save')));
    assert.ok(!pidAlive(pidOf(rt)), 'the saved guest is gone');
    assert.deepEqual(ex.seen, [], 'a save is not an exit to report');
    const aliveBefore = (readText(serial).match(/GUEST-ALIVE (\d+)/g) ?? []).length;

    // A restore into a different configuration fails with QEMU's own words and leaves nothing.
    const bigger = parseDomainXML(guestXML({ name: 'save', uuid: def.uuid, guest, serial, mode: 'A', tick: 1, memMiB: 192 }));
    await assert.rejects(b.start(recordFor(bigger), bigger, { paused: false, image }), (err: unknown) => {
      assert.ok(err instanceof VirError, String(err));
      assert.equal(err.domain, ErrorDomain.QEMU);
      assert.match(err.message, /Size mismatch|load of migration failed/);
      t.diagnostic(`restore into 192 MiB: ${err.message.split('\n').slice(-2).join(' | ')}`);
      return true;
    });
    assert.ok(!existsSync(join(root, 'state', 'run', def.uuid)));
    assert.ok(existsSync(image), 'the image survives a failed restore');

    const t2 = performance.now();
    const rt2 = await start(b, def, { image });
    const timings = b.startTimings.get(def.uuid)!;
    t.diagnostic(
      `restore: ${(performance.now() - t2).toFixed(0)} ms (monitor ${timings.monitorMs.toFixed(0)} ms, load ${timings.restoreMs?.toFixed(0)} ms)`,
    );
    await waitForText(serial, `GUEST-ALIVE ${aliveBefore + 1}`, 30_000);
    const text = readText(serial);
    assert.equal(text.match(/GUEST-READY/g)?.length, 1, 'no second boot: the counter went on');
    await b.removeImage(image);
    assert.ok(!existsSync(image));
    await assert.rejects(b.removeImage('/etc/passwd'), (err: unknown) => err instanceof VirError);

    const t3 = performance.now();
    await b.powerButton(recordFor(def, rt2));
    assert.equal(await ex.next(def.uuid), 'shutdown', 'the restored guest still answers the power button');
    t.diagnostic(`restored guest: power button → exit reported: ${(performance.now() - t3).toFixed(0)} ms`);
  });
});
