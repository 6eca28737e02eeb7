/**
 * A network namespace of the test's own (`ip netns add`), with tsvirtd running inside it
 * (`ip netns exec`), so that bridges, taps, dnsmasq and nftables rules never touch the host's
 * network. dispose() kills whatever runs in the namespace (dnsmasq, QEMU), deletes it (its
 * links and rules go with it) and removes the temporary directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAEMON_MAIN } from './daemon-harness.js';
import { DAEMON_NODE_FLAGS } from '../../src/daemon/node-flags.js';
import { missing } from './host-tools.js';

/** Why namespace tests cannot run here, or false. */
export function netnsSkip(): string | false {
  if (process.getuid?.() !== 0) return 'network namespaces, bridges and nftables need root';
  return missing('ip', 'dnsmasq', 'nft');
}

/** Runs a command in the namespace; returns its output (throws on failure unless `ok`). */
export function inNs(ns: string, args: string[], ok = false): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8', timeout: 30_000 });
  const out = { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (!ok && out.code !== 0) throw new Error(`${args.join(' ')} in ${ns}: ${out.stderr}`);
  return out;
}

/** The commands of the processes running in the namespace. */
export function nsProcesses(ns: string): { pid: number; args: string }[] {
  const pids = (spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '').split('\n').filter((l) => l !== '');
  return pids.map((p) => {
    let args = '';
    try {
      args = spawnSync('cat', [`/proc/${p}/cmdline`], { encoding: 'utf8' }).stdout.split('\0').join(' ').trim();
    } catch {
      // gone
    }
    return { pid: Number(p), args };
  });
}

export interface NetnsDaemon {
  ns: string;
  dir: string;
  stateDir: string;
  /** `qemu+unix:///session?socket=…`. */
  uri: string;
  log(): string;
  /** Stops tsvirtd (SIGTERM); what it started in the namespace keeps running. */
  stop(): Promise<void>;
  /** Starts tsvirtd again on the same state. */
  restart(): Promise<void>;
  /** Everything: tsvirtd, the namespace's processes, the namespace, the directory. */
  dispose(): Promise<void>;
}

/** A new namespace (loopback up) with tsvirtd serving qemu:///session (as root: networks work). */
export async function startNetnsDaemon(): Promise<NetnsDaemon> {
  const ns = `tsvirt-t${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-netns-'));
  const sockDir = join(dir, 'sock');
  const stateDir = join(dir, 'state');
  const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`ip netns add: ${add.stderr}`);
  inNs(ns, ['ip', 'link', 'set', 'lo', 'up']);
  let proc: ChildProcess | null = null;
  let output = '';
  const start = async (): Promise<void> => {
    rmSync(join(sockDir, 'libvirt-sock'), { force: true });
    proc = spawn('ip', ['netns', 'exec', ns, process.execPath, ...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--socket-dir', sockDir, '--verbose', '--uri', 'qemu:///session'], {
      env: { ...process.env, TSVIRT_STATE_DIR: stateDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout?.on('data', (b: Buffer) => (output += b.toString()));
    proc.stderr?.on('data', (b: Buffer) => (output += b.toString()));
    const deadline = Date.now() + 20_000;
    while (!existsSync(join(sockDir, 'libvirt-sock'))) {
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`tsvirtd did not start in ${ns}: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async (): Promise<void> => {
    const p = proc;
    proc = null;
    if (p === null || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const d: NetnsDaemon = {
    ns,
    dir,
    stateDir,
    uri: `qemu+unix:///session?socket=${join(sockDir, 'libvirt-sock')}`,
    log: () => output,
    stop,
    restart: start,
    dispose: async () => {
      await stop().catch(() => undefined);
      for (const p of nsProcesses(ns)) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      spawnSync('ip', ['netns', 'del', ns]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await start();
  } catch (err) {
    await d.dispose();
    throw err;
  }
  return d;
}
