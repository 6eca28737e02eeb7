/**
 * tsvirtd's socket directory, sockets, lock, pidfile and log file against other users and other
 * daemons: a directory another user owns or can write, or a symbolic link, is refused; the
 * sockets get their modes at bind, never by a chmod that a swapped-in symlink could redirect; a
 * second daemon on the same directory refuses without touching the first one's sockets; a
 * daemon killed with SIGKILL leaves a stale socket the next one reuses; --pidfile and --log-file
 * never follow a symbolic link. Tests run as root (the other user is `nobody`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAEMON_NODE_FLAGS } from '../src/daemon/node-flags.js';
import { Proc } from '../src/rpc/procedures.js';
import { DAEMON_MAIN, RawClient, haveVirsh, startDaemon, virsh, type RunningDaemon } from './support/daemon-harness.js';
import { killNow, onEmergency } from './support/emergency.js';

const NOBODY = 65534;
const skip = process.getuid?.() === 0 ? false : 'needs root (chown to nobody)';

/** Runs tsvirtd in the foreground and expects it to refuse to start; returns its output. */
function refused(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [...DAEMON_NODE_FLAGS, DAEMON_MAIN, ...args], {
    encoding: 'utf8',
    timeout: 15_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** True when a client can open a connection on `path` and get an answer. */
async function answers(path: string): Promise<boolean> {
  let c: RawClient | undefined;
  try {
    c = await RawClient.connect(path);
    const r = await c.call(Proc.AUTH_LIST);
    return r.header.status === 0;
  } catch {
    return false;
  } finally {
    c?.close();
  }
}

function mode(path: string): number {
  return lstatSync(path).mode & 0o7777;
}

describe('tsvirtd socket directory', { skip }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsvirtd-sockets-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('a socket directory owned by another user is refused, and nothing is created in it', () => {
    const sock = join(dir, 'other-owner');
    mkdirSync(sock, { mode: 0o755 });
    chownSync(sock, NOBODY, NOBODY);
    const r = refused(['--socket-dir', sock]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /socket directory .*other-owner is owned by uid 65534, not by tsvirtd's uid 0/);
    assert.equal(existsSync(join(sock, 'libvirt-sock')), false);
    assert.equal(existsSync(join(sock, 'libvirt-sock-ro')), false);
  });

  test('a socket directory writable by group or others is refused', () => {
    for (const m of [0o777, 0o770, 0o1777]) {
      const sock = join(dir, `writable-${m.toString(8)}`);
      mkdirSync(sock);
      chmodSync(sock, m);
      const r = refused(['--socket-dir', sock]);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /socket directory .* is writable by group or others \(mode 0?[0-7]+\)/);
      assert.equal(existsSync(join(sock, 'libvirt-sock')), false);
    }
  });

  test('a socket directory that is a symbolic link is refused', () => {
    const real = join(dir, 'real');
    mkdirSync(real, { mode: 0o755 });
    const link = join(dir, 'link');
    symlinkSync(real, link);
    const r = refused(['--socket-dir', link]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /socket directory .*link is a symbolic link/);
    assert.equal(existsSync(join(real, 'libvirt-sock')), false);
  });

  test('a directory tsvirtd creates is 0755 and its sockets 0600 and 0666, whatever the umask', async () => {
    const base = mkdtempSync(join(dir, 'made-'));
    const old = process.umask(0o077);
    let d: RunningDaemon | undefined;
    try {
      // The child inherits the umask at spawn.
      d = await startDaemon({ dir: base });
    } finally {
      process.umask(old);
    }
    try {
      assert.equal(mode(d.socketDir).toString(8), '755');
      assert.ok(lstatSync(d.rw).isSocket());
      assert.equal(mode(d.rw).toString(8), '600');
      assert.ok(lstatSync(d.ro).isSocket());
      assert.equal(mode(d.ro).toString(8), '666');
      assert.ok(await answers(d.ro));
    } finally {
      await d.dispose();
    }
  });

  test('a symlink in place of a socket is never followed: the file it names keeps its mode', async () => {
    // A root-owned 0600 file that a chmod by path through the symlink would make 0666.
    const secret = join(dir, 'secret');
    writeFileSync(secret, 'secret\n', { mode: 0o600 });
    chmodSync(secret, 0o600);

    // The symlink already there at start: refused, the file untouched.
    const base = mkdtempSync(join(dir, 'pre-'));
    const sock = join(base, 'sock');
    mkdirSync(sock, { mode: 0o755 });
    symlinkSync(secret, join(sock, 'libvirt-sock-ro'));
    const r = refused(['--socket-dir', sock]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /libvirt-sock-ro exists and is not a socket/);
    assert.equal(mode(secret).toString(8), '600');
    assert.ok(lstatSync(join(sock, 'libvirt-sock-ro')).isSymbolicLink(), 'what tsvirtd did not create is left alone');
    assert.equal(existsSync(join(sock, 'libvirt-sock')), false, 'nothing is left bound after a refusal');
  });

  test('a symlink swapped in while the daemon binds is never followed', async () => {
    const secret = join(dir, 'secret2');
    writeFileSync(secret, 'secret\n', { mode: 0o600 });
    chmodSync(secret, 0o600);
    // The symlink swapped in while the daemon starts, racing the bind and a chmod by path.
    const raceDir = mkdtempSync(join(dir, 'race-'));
    const raceSock = join(raceDir, 'sock');
    mkdirSync(raceSock, { mode: 0o755 });
    const swapper = spawn(
      process.execPath,
      [
        '-e',
        // As soon as the socket appears, a symlink replaces it.
        `const fs = require('fs'); const [t, p] = process.argv.slice(1); const tmp = p + '.tmp';
         for (;;) { try { if (fs.lstatSync(p).isSocket()) { try { fs.unlinkSync(tmp); } catch {} fs.symlinkSync(t, tmp); fs.renameSync(tmp, p); } } catch {} }`,
        secret,
        join(raceSock, 'libvirt-sock-ro'),
      ],
      { stdio: 'ignore' },
    );
    const forget = onEmergency(() => killNow(swapper));
    try {
      for (let i = 0; i < 10; i++) {
        const start = spawn(process.execPath, [...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--socket-dir', raceSock], { stdio: ['ignore', 'pipe', 'pipe'] });
        const forgetDaemon = onEmergency(() => killNow(start));
        try {
          let out = '';
          start.stdout!.on('data', (b: Buffer) => (out += b.toString()));
          start.stderr!.on('data', (b: Buffer) => (out += b.toString()));
          const end = Date.now() + 10_000;
          while (start.exitCode === null && !out.includes('ready') && Date.now() < end) await new Promise((res) => setTimeout(res, 10));
          assert.equal(mode(secret).toString(8), '600', `start ${i}: the symlinked file's mode changed\n${out}`);
        } finally {
          await stopProcess(start);
          forgetDaemon();
        }
      }
    } finally {
      killNow(swapper);
      forget();
    }
    assert.equal(mode(secret).toString(8), '600');
  });
});

/** SIGTERM, then SIGKILL after 5 s; resolves once it has exited. */
async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  p.kill('SIGTERM');
  const t = setTimeout(() => killNow(p), 5000);
  await exited;
  clearTimeout(t);
}

describe('tsvirtd: one daemon per socket directory', { skip }, () => {
  test('a second daemon on the same directory refuses, and the first keeps its sockets and answers', async () => {
    const first = await startDaemon();
    try {
      const r = refused(['--socket-dir', first.socketDir]);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, new RegExp(`socket directory ${first.socketDir} is in use by another tsvirtd \\(pid ${first.proc.pid}\\)`));
      assert.ok(lstatSync(first.rw).isSocket(), 'the first daemon keeps libvirt-sock');
      assert.ok(lstatSync(first.ro).isSocket(), 'the first daemon keeps libvirt-sock-ro');
      assert.ok(await answers(first.rw));
      assert.ok(await answers(first.ro));
      if (haveVirsh()) {
        const v = virsh(first.uri('/default'), 'list', '--all', '--name');
        assert.equal(v.code, 0, v.stderr);
        assert.equal(v.stdout.trim(), 'test');
      }
      // --daemon reports the refusal too, rather than success because the socket exists.
      const bg = refused(['--daemon', '--socket-dir', first.socketDir]);
      assert.equal(bg.code, 1, bg.out);
      assert.match(bg.out, /in use by another tsvirtd/);
      assert.ok(await answers(first.rw));
    } finally {
      await first.dispose();
    }
  });

  test('two daemons started at once on one directory: exactly one runs, and it answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvirtd-twin-'));
    const sock = join(dir, 'sock');
    const procs: ChildProcess[] = [];
    const forget = onEmergency(() => procs.forEach((p) => killNow(p)));
    try {
      const outs = ['', ''];
      for (let k = 0; k < 2; k++) {
        const p = spawn(process.execPath, [...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--socket-dir', sock], { stdio: ['ignore', 'pipe', 'pipe'] });
        p.stdout!.on('data', (b: Buffer) => (outs[k] += b.toString()));
        p.stderr!.on('data', (b: Buffer) => (outs[k] += b.toString()));
        procs.push(p);
      }
      const end = Date.now() + 15_000;
      const settled = (k: number): boolean => procs[k]!.exitCode !== null || outs[k]!.includes('ready');
      while (!(settled(0) && settled(1)) && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
      const running = [0, 1].filter((k) => procs[k]!.exitCode === null);
      assert.equal(running.length, 1, `${outs[0]}\n---\n${outs[1]}`);
      const loser = 1 - running[0]!;
      assert.equal(procs[loser]!.exitCode, 1);
      assert.match(outs[loser]!, /in use by another tsvirtd/);
      assert.ok(await answers(join(sock, 'libvirt-sock')));
      assert.ok(await answers(join(sock, 'libvirt-sock-ro')));
    } finally {
      for (const p of procs) await stopProcess(p);
      forget();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a daemon killed with SIGKILL leaves stale sockets; the next one on the directory removes them and serves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvirtd-stale-'));
    try {
      const first = await startDaemon({ dir });
      first.proc.kill('SIGKILL');
      await first.stop();
      assert.ok(lstatSync(first.rw).isSocket(), 'SIGKILL leaves the socket behind');
      const second = await startDaemon({ dir });
      try {
        assert.ok(await answers(second.rw));
        assert.ok(await answers(second.ro));
        assert.equal(mode(second.ro).toString(8), '666');
      } finally {
        await second.dispose();
      }
      assert.equal(existsSync(second.rw), false, 'a clean stop removes the sockets it bound');
      assert.equal(existsSync(second.ro), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tsvirtd --pidfile and --log-file', { skip }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsvirtd-files-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('a --pidfile that is a symbolic link is refused, and the file it names is untouched', () => {
    const target = join(dir, 'pid-target');
    writeFileSync(target, 'precious\n', { mode: 0o600 });
    const link = join(dir, 'pid-link');
    symlinkSync(target, link);
    const dangling = join(dir, 'pid-dangling');
    symlinkSync(join(dir, 'pid-created'), dangling);
    for (const [k, pidfile] of [link, dangling].entries()) {
      const r = refused(['--socket-dir', join(dir, `sock-p${k}`), '--pidfile', pidfile]);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /pidfile .* is a symbolic link/);
    }
    assert.equal(readFileSync(target, 'utf8'), 'precious\n');
    assert.equal(existsSync(join(dir, 'pid-created')), false);
  });

  test('a --log-file that is a symbolic link is refused, and the file it names is untouched', () => {
    const target = join(dir, 'log-target');
    writeFileSync(target, 'precious\n', { mode: 0o600 });
    const link = join(dir, 'log-link');
    symlinkSync(target, link);
    for (const daemon of [false, true]) {
      const r = refused([...(daemon ? ['--daemon'] : []), '--socket-dir', join(dir, `sock-l${daemon}`), '--log-file', link]);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /log file .* is a symbolic link/);
    }
    assert.equal(readFileSync(target, 'utf8'), 'precious\n');
  });

  test('--pidfile and --log-file are created as regular files, the log 0600', async () => {
    const pidfile = join(dir, 'ok.pid');
    const logFile = join(dir, 'ok.log');
    const d = await startDaemonLoggingToFile(join(dir, 'sock-ok'), pidfile, logFile);
    try {
      assert.equal(readFileSync(pidfile, 'utf8'), `${d.pid}\n`);
      assert.equal(mode(logFile).toString(8), '600');
      assert.match(readFileSync(logFile, 'utf8'), /ready/);
      assert.ok(statSync(pidfile).isFile());
    } finally {
      await stopProcess(d);
    }
    assert.equal(existsSync(pidfile), false, 'the pidfile goes with a clean stop');
  });
});

/** Starts tsvirtd logging to `logFile`; resolves once the log says ready. */
async function startDaemonLoggingToFile(sock: string, pidfile: string, logFile: string): Promise<ChildProcess> {
  const p = spawn(process.execPath, [...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--socket-dir', sock, '--pidfile', pidfile, '--log-file', logFile], { stdio: 'ignore' });
  const forget = onEmergency(() => killNow(p));
  p.once('exit', forget);
  const end = Date.now() + 10_000;
  while (!(existsSync(logFile) && readFileSync(logFile, 'utf8').includes('ready'))) {
    if (Date.now() > end || p.exitCode !== null) {
      killNow(p);
      throw new Error(`tsvirtd did not start: ${existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''}`);
    }
    await new Promise((res) => setTimeout(res, 20));
  }
  return p;
}
