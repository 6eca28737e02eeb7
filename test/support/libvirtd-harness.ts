/**
 * Starts a real libvirtd for the test driver alone, in a temporary directory, without touching the
 * system (wire-protocol.md §A): an empty LIBVIRT_DRIVER_DIR (no driver module loads; the test
 * driver is built in), a config with a private unix_sock_dir, no TCP/TLS, auth none. Run as root,
 * libvirtd would still write /run/libvirt/common, so it is started as `nobody` (setpriv) with
 * HOME and XDG_* inside the temporary directory: a session daemon, with `libvirt-sock` only.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killNow, onEmergency } from './emergency.js';
import { missing } from './host-tools.js';

export const LIBVIRTD = '/usr/sbin/libvirtd';
const NOBODY = 65534;

export interface RunningLibvirtd {
  dir: string;
  socket: string;
  proc: ChildProcess;
  uri(path: '/default' | '/session'): string;
  /** SIGTERM (SIGKILL after 5 s), then removes the directory. */
  dispose(): Promise<void>;
}

/** Starts libvirtd, or says exactly why it cannot be started here. */
export async function startLibvirtd(): Promise<RunningLibvirtd | { skip: string }> {
  const gone = missing('libvirtd');
  if (gone !== false) return { skip: gone };
  const root = process.getuid?.() === 0;
  if (root && spawnSync('setpriv', ['--version']).status !== 0) {
    return { skip: 'running as root and setpriv (util-linux) is missing: libvirtd as root would write /run/libvirt' };
  }
  const dir = mkdtempSync(join(tmpdir(), 'libvirtd-'));
  for (const sub of ['drivers', 'sock', 'run', 'home']) mkdirSync(join(dir, sub));
  const conf = join(dir, 'libvirtd.conf');
  writeFileSync(
    conf,
    [
      'listen_tls = 0',
      'listen_tcp = 0',
      `unix_sock_dir = "${join(dir, 'sock')}"`,
      'auth_unix_rw = "none"',
      'auth_unix_ro = "none"',
      `log_outputs = "3:file:${join(dir, 'libvirtd.log')}"`,
      '',
    ].join('\n'),
  );
  if (root) {
    chmodSync(dir, 0o755);
    for (const p of [dir, conf, ...['drivers', 'sock', 'run', 'home'].map((s) => join(dir, s))]) chownSync(p, NOBODY, NOBODY);
  }
  const env = {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: join(dir, 'home'),
    XDG_RUNTIME_DIR: join(dir, 'run'),
    XDG_CONFIG_HOME: join(dir, 'home', '.config'),
    XDG_CACHE_HOME: join(dir, 'home', '.cache'),
    LIBVIRT_DRIVER_DIR: join(dir, 'drivers'),
  };
  const argv = [LIBVIRTD, '-f', conf, '-p', join(dir, 'libvirtd.pid')];
  const proc = root
    ? spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const socket = join(dir, 'sock', 'libvirt-sock');
  const forget = onEmergency(() => {
    killNow(proc);
    rmSync(dir, { recursive: true, force: true });
  });
  const dispose = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
    forget();
  };
  const deadline = Date.now() + 10_000;
  while (!existsSync(socket)) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      let log = '';
      try {
        log = readFileSync(join(dir, 'libvirtd.log'), 'utf8');
      } catch {
        // No log written.
      }
      await dispose();
      return { skip: `libvirtd did not start (exit ${proc.exitCode}): ${(output + log).trim().split('\n').slice(-3).join(' | ')}` };
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { dir, socket, proc, uri: (path) => `test+unix://${path}?socket=${socket}`, dispose };
}
