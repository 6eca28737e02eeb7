/**
 * govmomi's vSphere API simulator for the ESX tests and bench: test/support/vcsim/main.go is
 * built at test time from Debian's golang-go and golang-github-vmware-govmomi-dev (GOPATH mode,
 * no network) into a cache directory outside the source tree, then started on 127.0.0.1 with
 * TLS and a port of its own. Warm rebuilds cost ~0.1 s (Go's build cache).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killNow, onEmergency } from './emergency.js';
import { missing } from './host-tools.js';

/** The Go main, in the source tree (the compiled test runs from dist-*, so go up to the repo). */
const MAIN_GO = fileURLToPath(new URL('../../../test/support/vcsim/main.go', import.meta.url));

/** Where the binary and Go's caches live: `$TSVIRT_VCSIM_CACHE`, else under the OS temp dir. */
export function vcsimCacheDir(): string {
  return process.env.TSVIRT_VCSIM_CACHE ?? join(tmpdir(), 'tsvirt-vcsim-cache');
}

/** Builds (or finds up to date) the simulator; returns its path or why it cannot be built here. */
export function buildVcsim(): { binary: string } | { skip: string } {
  const gone = missing('go', "govmomi's sources", "google/uuid's sources");
  if (gone !== false) return { skip: gone };
  const cache = vcsimCacheDir();
  mkdirSync(join(cache, 'gopath'), { recursive: true });
  const binary = join(cache, 'vcsim');
  // `go build` itself decides what is stale (source, toolchain, packages): cheap when warm.
  const r = spawnSync('go', ['build', '-o', binary, MAIN_GO], {
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: `${join(cache, 'gopath')}:/usr/share/gocode`,
      GOCACHE: join(cache, 'gocache'),
      GOFLAGS: '',
    },
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.status !== 0) return { skip: `building vcsim failed: ${r.stderr || r.error?.message || `status ${r.status}`}` };
  return { binary };
}

/** Options of {@link startVcsim}. */
export interface VcsimOptions {
  /** Simulate a vCenter rather than a standalone ESX host. */
  vpx?: boolean;
  /** VMs per resource pool (ESX: VMs in all). */
  vms?: number;
  /** Accept only this user and password (default: any non-empty pair). */
  username?: string;
  password?: string;
}

/** A running simulator. */
export interface RunningVcsim {
  /** `https://127.0.0.1:PORT/sdk` */
  url: URL;
  host: string;
  port: number;
  /** A private directory: an auth file, the exported certificate. Removed by dispose. */
  dir: string;
  /** The server's certificate (PEM file). */
  certFile: string;
  proc: ChildProcess;
  /** `esx://USER@127.0.0.1:PORT/?no_verify=1` and friends. */
  uri(opts?: { user?: string; verify?: boolean; path?: string }): string;
  /** Writes a libvirt auth file for this host and returns its path. */
  authFile(username: string, password: string): string;
  /** SIGTERM (SIGKILL after 5 s), then removes the directory. */
  dispose(): Promise<void>;
}

/** Builds and starts vcsim, or says why it cannot run here. */
export async function startVcsim(options: VcsimOptions = {}): Promise<RunningVcsim | { skip: string }> {
  const built = buildVcsim();
  if ('skip' in built) return built;
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-vcsim-'));
  const certFile = join(dir, 'cert.pem');
  const args = ['-vm', String(options.vms ?? 2), '-cert-out', certFile];
  if (options.vpx === true) args.push('-vpx');
  if (options.username !== undefined) args.push('-username', options.username, '-password', options.password ?? '');
  // stdin stays open: vcsim exits when it closes, so a test runner that dies takes it along.
  const proc = spawn(built.binary, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: dir } });
  let stdout = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
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
  const line = await new Promise<string | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), 30_000);
    proc.stdout!.on('data', (d: string) => {
      stdout += d;
      const nl = stdout.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(stdout.slice(0, nl).trim());
      }
    });
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
  if (line === null) {
    await dispose();
    throw new Error(`vcsim did not start: ${stderr}`);
  }
  const url = new URL(line);
  const port = Number(url.port);
  const vpxPath = '/DC0/DC0_C0/DC0_C0_H0';
  return {
    url,
    host: url.hostname,
    port,
    dir,
    certFile,
    proc,
    uri(opts = {}) {
      const user = opts.user !== undefined ? `${encodeURIComponent(opts.user)}@` : '';
      const scheme = options.vpx === true ? 'vpx' : 'esx';
      const path = opts.path ?? (options.vpx === true ? vpxPath : '/');
      return `${scheme}://${user}${url.hostname}:${port}${path}${opts.verify === true ? '' : '?no_verify=1'}`;
    },
    authFile(username: string, password: string) {
      const file = join(dir, `auth-${username}.conf`);
      writeFileSync(
        file,
        [`[credentials-vcsim]`, `username=${username}`, `password=${password}`, '', `[auth-esx-${url.hostname}]`, 'credentials=vcsim', ''].join('\n'),
      );
      return file;
    },
    dispose,
  };
}
