/**
 * The QMP client and QEMU processes: protocol handling against a scripted fake monitor
 * (deterministic timeouts and deaths mid-call), then real QEMU: launch to greeting, one client
 * per monitor, reattach, and failures at start that leave nothing behind.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { ErrorDomain, ErrorNumber, VirError } from '../src/index.js';
import { parseDomainXML } from '../src/conf/domain.js';
import { QmpClient, QmpCommandError } from '../src/drivers/qemu/qmp.js';
import { attachQemu, launchQemu, waitForProcessExit } from '../src/drivers/qemu/process.js';
import { buildQemuArgv } from '../src/drivers/qemu/argv.js';
import { QemuGuests } from '../src/drivers/qemu/backend.js';
import { Reaper, findQemu, pidAlive, qemuSkipReason, recordFor } from './qemu-harness.js';

const reaper = new Reaper();
after(() => reaper.cleanup());

/** A scripted monitor: greets, answers qmp_capabilities, then hands each command to `onCommand`. */
async function fakeMonitor(
  path: string,
  onCommand: (cmd: { execute: string; id: number }, sock: Socket) => void,
): Promise<Server> {
  const server = createServer((sock) => {
    sock.write('{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "fake"}, "capabilities": []}}\r\n');
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const cmd = JSON.parse(buf.slice(0, nl)) as { execute: string; id: number };
        buf = buf.slice(nl + 1);
        if (cmd.execute === 'qmp_capabilities') sock.write(`{"return": {}, "id": ${cmd.id}}\r\n`);
        else onCommand(cmd, sock);
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

function isVir(code: ErrorNumber, message?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof VirError, String(err));
    assert.equal(err.code, code, err.message);
    assert.equal(err.domain, ErrorDomain.QEMU);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  };
}

describe('QMP client (scripted monitor)', () => {
  test('greeting, negotiation, replies matched by id even out of order, events, error replies', async () => {
    const sock = join(reaper.tempDir(), 'm.sock');
    const held: { execute: string; id: number }[] = [];
    const server = await fakeMonitor(sock, (cmd, s) => {
      if (cmd.execute === 'slow') {
        held.push(cmd);
        return;
      }
      if (cmd.execute === 'bad') {
        s.write(`{"error": {"class": "GenericError", "desc": "nope"}, "id": ${cmd.id}}\r\n`);
        return;
      }
      s.write(`{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}\r\n`);
      s.write(`{"return": {"echo": "${cmd.execute}"}, "id": ${cmd.id}}\r\n`);
      for (const h of held.splice(0)) s.write(`{"return": "late", "id": ${h.id}}\r\n`);
    });
    const qmp = await QmpClient.connect(sock);
    try {
      assert.deepEqual(qmp.version, { major: 7, minor: 2, micro: 0, package: 'fake' });
      const events: string[] = [];
      qmp.onEvent((ev) => events.push(ev.event));
      const slow = qmp.execute('slow');
      assert.deepEqual(await qmp.execute('fast'), { echo: 'fast' });
      assert.equal(await slow, 'late');
      assert.deepEqual(events, ['STOP']);
      await assert.rejects(qmp.execute('bad'), (err: unknown) => {
        assert.ok(err instanceof QmpCommandError);
        assert.equal(err.qmpClass, 'GenericError');
        assert.equal(err.message, "internal error: unable to execute QEMU command 'bad': nope");
        return true;
      });
    } finally {
      qmp.close();
      server.close();
    }
  });

  test('a call without an answer times out; the connection stays usable', async () => {
    const sock = join(reaper.tempDir(), 'm.sock');
    const server = await fakeMonitor(sock, (cmd, s) => {
      if (cmd.execute !== 'hang') s.write(`{"return": {}, "id": ${cmd.id}}\r\n`);
    });
    const qmp = await QmpClient.connect(sock);
    try {
      await assert.rejects(qmp.execute('hang', undefined, { timeoutMs: 100 }), isVir(ErrorNumber.OPERATION_TIMEOUT, /did not answer 'hang'/));
      assert.deepEqual(await qmp.execute('ok'), {});
    } finally {
      qmp.close();
      server.close();
    }
  });

  test('the monitor dying mid-call fails the pending call with a clean VirError, and later calls too', async () => {
    const sock = join(reaper.tempDir(), 'm.sock');
    const server = await fakeMonitor(sock, (_cmd, s) => s.destroy());
    const qmp = await QmpClient.connect(sock);
    try {
      let closedReason = '';
      qmp.onClose((r) => (closedReason = r));
      await assert.rejects(qmp.execute('migrate'), isVir(ErrorNumber.OPERATION_FAILED, /domain is no longer running .*'migrate'/));
      assert.equal(closedReason, 'End of file from qemu monitor');
      await assert.rejects(qmp.execute('cont'), isVir(ErrorNumber.OPERATION_FAILED, /no longer running/));
    } finally {
      qmp.close();
      server.close();
    }
  });

  test('no greeting (monitor held by another client) is a timeout, not a hang', async () => {
    const sock = join(reaper.tempDir(), 'm.sock');
    const server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      await assert.rejects(QmpClient.connect(sock, { timeoutMs: 150 }), isVir(ErrorNumber.OPERATION_TIMEOUT, /another client/));
    } finally {
      server.close();
    }
  });
});

const skip = qemuSkipReason();

describe('QEMU processes (real qemu-system-x86_64, TCG)', { skip }, () => {
  /** A paused QEMU with no guest code running: cheap. */
  async function launchIdle(dir: string) {
    const d = parseDomainXML(`<domain type='qemu'><name>idle</name><uuid>${randomUUID()}</uuid><memory unit='MiB'>128</memory><os><type>hvm</type></os></domain>`);
    const paths = { monitorSocket: join(dir, 'monitor.sock'), pidFile: join(dir, 'qemu.pid'), serialLog: () => join(dir, 's.log'), serialSocket: () => join(dir, 's.sock') };
    const cmd = buildQemuArgv(d, { paths });
    const launched = await launchQemu({
      emulator: findQemu()!,
      argv: cmd.argv,
      logFile: join(dir, 'qemu.log'),
      monitor: paths.monitorSocket,
      pidFile: paths.pidFile,
      runDir: dir,
      accel: 'tcg',
    });
    reaper.track(launched.runtime.pid);
    return launched;
  }

  test('launch → QMP greeting; one client per monitor; reattach after the client leaves; kill -9 noticed', async (t) => {
    const dir = reaper.tempDir();
    const launched = await launchIdle(dir);
    t.diagnostic(`spawn → negotiated QMP monitor: ${launched.monitorMs.toFixed(1)} ms`);
    const { qmp, runtime } = launched;
    assert.equal(qmp.version.major, 7);
    assert.deepEqual(await qmp.execute('query-status'), { status: 'prelaunch', singlestep: false, running: false });
    assert.ok(existsSync(runtime.pidFile), 'pidfile written');
    await assert.rejects(qmp.execute('no-such-cmd'), (err: unknown) => err instanceof QmpCommandError && err.qmpClass === 'CommandNotFound');

    // A second client gets no greeting while the first one holds the monitor.
    await assert.rejects(attachQemu(runtime, { timeoutMs: 300 }), isVir(ErrorNumber.OPERATION_TIMEOUT));
    qmp.close();
    const again = await attachQemu(runtime);
    assert.ok(again !== null);
    assert.equal((await again.execute<{ status: string }>('query-status')).status, 'prelaunch');

    process.kill(runtime.pid, 'SIGKILL');
    assert.match(await again.closed, /End of file/);
    await assert.rejects(again.execute('query-status'), isVir(ErrorNumber.OPERATION_FAILED));
    assert.ok(await waitForProcessExit(runtime.pid, runtime.pidStart, 5000));
    assert.equal(await attachQemu(runtime), null, 'a dead guest is not attached');
  });

  test('QEMU failing at start: its own message in a VirError, nothing left behind', async () => {
    const root = reaper.tempDir();
    const be = new QemuGuests({ root });
    const d = parseDomainXML(`<domain type='qemu'><name>bad</name><uuid>${randomUUID()}</uuid><memory unit='MiB'>128</memory>
      <os><type>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='${root}/missing.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>`);
    await assert.rejects(
      be.start(recordFor(d), d, { paused: false, image: null }),
      isVir(ErrorNumber.INTERNAL_ERROR, /process exited while connecting to monitor: .*Could not open '.*missing\.qcow2': No such file or directory/),
    );
    assert.deepEqual(readdirSync(join(root, 'run')), [], 'no runtime directory, socket or pidfile');
    assert.ok(!readdirSync('/proc').some((p) => /^\d+$/.test(p) && cmdlineHas(Number(p), d.uuid)), 'no QEMU process');
    be.close();
  });

  test('no QEMU binary, and a binary that cannot run: clear errors, nothing left', async () => {
    const root = reaper.tempDir();
    const be = new QemuGuests({ root, env: { PATH: '/nonexistent' } });
    const d = parseDomainXML(`<domain type='qemu'><name>nobin</name><memory unit='MiB'>128</memory><os><type>hvm</type></os></domain>`);
    await assert.rejects(be.start(recordFor(d), d, { paused: false, image: null }), isVir(ErrorNumber.SYSTEM_ERROR, /Cannot find 'qemu-system-x86_64' in path/));
    const d2 = parseDomainXML(`<domain type='qemu'><name>false</name><memory unit='MiB'>128</memory><os><type>hvm</type></os>
      <devices><emulator>/bin/false</emulator></devices></domain>`);
    await assert.rejects(new QemuGuests({ root }).start(recordFor(d2), d2, { paused: false, image: null }), isVir(ErrorNumber.INTERNAL_ERROR, /exit status 1/));
    assert.ok(!existsSync(join(root, 'run', d2.uuid)));
  });

  test("type='kvm' with an unusable KVM device fails before anything is spawned", async () => {
    const root = reaper.tempDir();
    const be = new QemuGuests({ root, kvmDevice: join(root, 'no-kvm') });
    const d = parseDomainXML(`<domain type='kvm'><name>k</name><memory unit='MiB'>128</memory><os><type>hvm</type></os></domain>`);
    await assert.rejects(be.start(recordFor(d), d, { paused: false, image: null }), isVir(ErrorNumber.CONFIG_UNSUPPORTED, /needs KVM/));
    assert.ok(!existsSync(join(root, 'run')));
  });
});

function cmdlineHas(pid: number, text: string): boolean {
  if (!pidAlive(pid)) return false;
  try {
    return readdirSync(`/proc/${pid}`).length > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
  } catch {
    return false;
  }
}
