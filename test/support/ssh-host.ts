/**
 * A "remote host" reached over a real ssh: Debian's sshd in a network namespace of its own (a veth
 * to a client namespace), and, with tsvirtd, in a private mount namespace where a temporary
 * directory is /run/libvirt (so the host's /run/libvirt is never touched). Host and user keys are
 * made here; the sshd takes only key logins. Client commands run in the client namespace with a
 * tmpfs over /root, so ssh's known_hosts never lands in the host's ~/.ssh. dispose() kills what
 * runs in both namespaces, deletes them (the veth goes with them) and removes the directory.
 * Used by test/remote-ssh.test.ts and bench/ssh.ts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAEMON_MAIN } from './daemon-harness.js';
import { DAEMON_NODE_FLAGS } from '../../src/daemon/node-flags.js';
import { missing } from './host-tools.js';

/** Why an ssh host cannot be made here, or false. */
export function sshHostSkip(): string | false {
  if (process.getuid?.() !== 0) return 'network and mount namespaces need root';
  return missing('sshd', 'ssh', 'nc', 'virt-ssh-helper', 'ip');
}

export interface Output {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface SshHost {
  /** The server's address (in its namespace). */
  host: string;
  dir: string;
  /** What the server side sees as /run/libvirt. */
  runDir: string;
  /** The authorized key; `wrongKey` is not. */
  key: string;
  wrongKey: string;
  /** `DRV+ssh://root@HOST/default|system?keyfile=…&no_verify=1` plus `extra` (`&…`). */
  uri(drv: 'test' | 'qemu', extra?: string, keyfile?: string): string;
  /** Runs a command in the client namespace (tmpfs /root). */
  client(args: string[], input?: string): Output;
  /** Starts a process in the server's network and mount namespaces. */
  inServer(args: string[], env?: NodeJS.ProcessEnv): ChildProcess;
  /** Starts tsvirtd on root's default socket directory (test:///default, qemu:///system) with `args`. */
  startDaemon(args?: string[]): Promise<void>;
  stopDaemon(): Promise<void>;
  daemonRunning(): boolean;
  daemonLog(): string;
  /** The commands running in the server's or the client's namespace. */
  procs(side: 'server' | 'client'): string[];
  dispose(): Promise<void>;
}

function run(cmd: string, args: string[], ok = false): Output {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  const out = { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (!ok && out.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${out.stderr}`);
  return out;
}

/** Waits until `pred` holds or `ms` pass; says which. */
export async function until(pred: () => boolean, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** Makes the namespaces, keys and sshd, and starts tsvirtd (unless `daemon` is false). */
export async function startSshHost(opts: { daemon?: boolean } = {}): Promise<SshHost> {
  const tag = `${process.pid % 100000}`;
  const srv = `sshsrv${tag}`;
  const cli = `sshcli${tag}`;
  const veth = [`sshv${tag}a`, `sshv${tag}b`] as const;
  // Addresses inside the two namespaces made here; the host's network is never involved.
  const subnet = 200 + (process.pid % 50);
  const host = `10.251.${subnet}.1`;
  const clientAddr = `10.251.${subnet}.2`;
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-ssh-'));
  const runDir = join(dir, 'run-libvirt');
  let holder: ChildProcess | null = null;
  let sshd: ChildProcess | null = null;
  let daemon: ChildProcess | null = null;
  let daemonLog = '';

  const inServer = (args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess =>
    spawn('nsenter', ['--target', String(holder!.pid), '--mount', '--net', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const procs = (side: 'server' | 'client'): string[] =>
    run('ip', ['netns', 'pids', side === 'server' ? srv : cli], true)
      .stdout.split('\n')
      .filter((l) => l !== '')
      .map((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').trim();
        } catch {
          return '';
        }
      })
      .filter((c) => c !== '');
  const stopDaemon = async (): Promise<void> => {
    const d = daemon;
    daemon = null;
    if (d === null || d.exitCode !== null) return;
    const gone = new Promise((r) => d.once('exit', r));
    d.kill('SIGTERM');
    const t = setTimeout(() => d.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  };
  const startDaemon = async (args: string[] = []): Promise<void> => {
    rmSync(join(runDir, 'libvirt-sock'), { force: true });
    // No --socket-dir: root's default, /run/libvirt, which virt-ssh-helper and nc look at.
    const d = inServer([process.execPath, ...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--uri', 'test:///default', '--uri', 'qemu:///system', ...args], {
      ...process.env,
      TSVIRT_STATE_DIR: join(dir, 'state'),
    });
    daemon = d;
    d.stdout?.on('data', (b: Buffer) => (daemonLog += b.toString()));
    d.stderr?.on('data', (b: Buffer) => (daemonLog += b.toString()));
    if (!(await until(() => existsSync(join(runDir, 'libvirt-sock')) || d.exitCode !== null, 20_000)) || d.exitCode !== null) {
      throw new Error(`tsvirtd did not start: ${daemonLog}`);
    }
  };
  const dispose = async (): Promise<void> => {
    await stopDaemon().catch(() => undefined);
    for (const p of [sshd, holder]) {
      if (p !== null && p.exitCode === null) p.kill('SIGKILL');
    }
    for (const ns of [srv, cli]) {
      for (const pid of run('ip', ['netns', 'pids', ns], true).stdout.split('\n').filter((l) => l !== '')) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone
        }
      }
      run('ip', ['netns', 'del', ns], true);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const h: SshHost = {
    host,
    dir,
    runDir,
    key: join(dir, 'userkey'),
    wrongKey: join(dir, 'wrongkey'),
    uri: (drv, extra = '', keyfile = join(dir, 'userkey')) =>
      `${drv}+ssh://root@${host}/${drv === 'test' ? 'default' : 'system'}?keyfile=${keyfile}&no_verify=1${extra}`,
    client: (args, input) => {
      const r = spawnSync('ip', ['netns', 'exec', cli, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs tmpfs /root && exec "$@"', 'client', ...args], {
        encoding: 'utf8',
        timeout: 120_000,
        input,
      });
      return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    },
    inServer,
    startDaemon,
    stopDaemon,
    daemonRunning: () => daemon !== null && daemon.exitCode === null,
    daemonLog: () => daemonLog,
    procs,
    dispose,
  };

  try {
    mkdirSync(runDir, { mode: 0o700 });
    for (const k of ['hostkey', 'userkey', 'wrongkey']) run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, k)]);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'userkey.pub')));
    writeFileSync(
      join(dir, 'sshd_config'),
      [
        `ListenAddress ${host}:22`,
        `HostKey ${join(dir, 'hostkey')}`,
        'PidFile none',
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'StrictModes no',
        'UsePAM no',
        'UseDNS no',
        '',
      ].join('\n'),
    );
    run('ip', ['netns', 'add', srv]);
    run('ip', ['netns', 'add', cli]);
    run('ip', ['link', 'add', veth[0], 'type', 'veth', 'peer', 'name', veth[1]]);
    run('ip', ['link', 'set', veth[0], 'netns', srv]);
    run('ip', ['link', 'set', veth[1], 'netns', cli]);
    for (const [ns, dev, addr] of [
      [srv, veth[0], host],
      [cli, veth[1], clientAddr],
    ]) {
      run('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
      run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // The server's mount namespace: a tmpfs /run (sshd's /run/sshd) with our directory as
    // /run/libvirt; held open by a sleeping process that sshd and tsvirtd join.
    const hold = spawn(
      'ip',
      ['netns', 'exec', srv, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /var/lib && mkdir -p /run/sshd /run/libvirt && mount --bind '${runDir}' /run/libvirt && echo ready && exec sleep infinity`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    holder = hold;
    let holderOut = '';
    hold.stdout?.on('data', (b: Buffer) => (holderOut += b.toString()));
    hold.stderr?.on('data', (b: Buffer) => (holderOut += b.toString()));
    if (!(await until(() => holderOut.includes('ready') || hold.exitCode !== null)) || hold.exitCode !== null) throw new Error(`mount namespace: ${holderOut}`);
    const s = inServer(['/usr/sbin/sshd', '-f', join(dir, 'sshd_config'), '-D', '-e']);
    sshd = s;
    let sshdLog = '';
    s.stdout?.on('data', (b: Buffer) => (sshdLog += b.toString()));
    s.stderr?.on('data', (b: Buffer) => (sshdLog += b.toString()));
    if (!(await until(() => sshdLog.includes('Server listening') || s.exitCode !== null)) || s.exitCode !== null) throw new Error(`sshd: ${sshdLog}`);
    if (opts.daemon !== false) await startDaemon();
  } catch (err) {
    await dispose();
    throw err;
  }
  return h;
}
