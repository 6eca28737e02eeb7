/**
 * libvirt's own durable driver in the same run as tsvirt's benchmarks: a session libvirtd (its
 * qemu driver keeps each domain as an XML file under $XDG_CONFIG_HOME/libvirt/qemu) started as
 * `nobody` with every path in a temporary directory, so nothing of the system changes, and driven
 * by python3-libvirt. The same python driver (`pythonDefineUndefine`) measures tsvirtd, so both
 * sides run the very same client code.
 *
 * What each side makes durable, per define+undefine pair (strace -f -e fsync,fdatasync):
 * libvirtd writes the config to a temporary file, fsyncs it and renames it (one fsync), and
 * undefine unlinks it without syncing the directory — the removal is not durable when the call
 * returns. tsvirtd commits each call (SQLite WAL, synchronous FULL): two fsyncs per pair with one
 * client, fewer with many (group commit).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killNow, onEmergency } from '../test/support/emergency.js';

const NOBODY = 65534;
const PYTHON = '/usr/bin/python3';

/**
 * One client: connects, warms up, waits for the start file, then times `n` define+undefine
 * pairs and prints the seconds. Domain type and name prefix come from the command line.
 */
const CLIENT = String.raw`
import libvirt, os, sys, time, uuid
libvirt.registerErrorHandler(lambda *a: None, None)
uri, n, tag, dtype, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
c = libvirt.open(uri)
x = lambda name: "<domain type='%s'><name>%s</name><uuid>%s</uuid><memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>" % (dtype, name, uuid.uuid4())
for i in range(20):
    c.defineXML(x('w%s_%d' % (tag, i))).undefine()
open(go + '.ready.' + tag, 'w').close()
while not os.path.exists(go):
    time.sleep(0.001)
t = time.perf_counter()
for i in range(n):
    c.defineXML(x('b%s_%d' % (tag, i))).undefine()
print(time.perf_counter() - t)
c.close()
`;

export function havePythonLibvirt(): boolean {
  return spawnSync(PYTHON, ['-c', 'import libvirt'], { encoding: 'utf8' }).status === 0;
}

export interface PythonRunOptions {
  /** Domain type in the XML: 'test' for the test driver, 'qemu' for libvirt's qemu driver. */
  domainType: string;
  /** Where the client script and the start file go (readable by `asNobody`'s user). */
  dir: string;
  env?: NodeJS.ProcessEnv;
  /** setpriv arguments to run the clients as another user, or none. */
  asNobody?: string[];
}

/**
 * define+undefine pairs per second with `clients` concurrent python-libvirt processes doing
 * `perClient` pairs each. Connection setup and a warm-up are outside the timing: every client is
 * connected and warm before the start file appears; the rate is all pairs over the slowest
 * client's time.
 */
export async function pythonDefineUndefine(uri: string, clients: number, perClient: number, opts: PythonRunOptions): Promise<number> {
  const script = join(opts.dir, 'define-undefine.py');
  writeFileSync(script, CLIENT);
  const go = join(opts.dir, `go-${clients}-${Date.now()}`);
  if (opts.asNobody !== undefined) chownSync(script, NOBODY, NOBODY);
  const runs = Array.from({ length: clients }, (_, k) => {
    const argv = [PYTHON, script, uri, String(perClient), String(k), opts.domainType, go];
    const p = opts.asNobody !== undefined ? spawn('setpriv', [...opts.asNobody, ...argv], { env: opts.env }) : spawn(argv[0]!, argv.slice(1), { env: opts.env });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    return new Promise<number>((resolve, reject) =>
      p.once('exit', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(err.trim().split('\n').pop() ?? `exit ${code}`)))),
    );
  });
  const deadline = Date.now() + 60_000;
  const ready = () => readdirSync(opts.dir).filter((f) => f.startsWith(`${go.slice(opts.dir.length + 1)}.ready.`)).length;
  let failed: unknown = null;
  void Promise.all(runs).catch((e: unknown) => (failed = e));
  while (ready() < clients && failed === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  writeFileSync(go, '');
  if (opts.asNobody !== undefined) chownSync(go, NOBODY, NOBODY);
  const secs = await Promise.all(runs);
  return (clients * perClient) / Math.max(...secs);
}

function chownTree(path: string): void {
  chownSync(path, NOBODY, NOBODY);
  if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry));
}

export interface LibvirtdSession {
  /** `qemu+unix:///session?socket=…`. */
  uri: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  asNobody: string[];
  dispose(): Promise<void>;
}

/** Starts the session libvirtd as nobody, or returns the reason it cannot run here. */
export async function startLibvirtdSession(): Promise<LibvirtdSession | { skip: string }> {
  if (!existsSync('/usr/sbin/libvirtd')) return { skip: 'libvirtd is not installed (Debian libvirt-daemon, libvirt-daemon-driver-qemu)' };
  if (process.getuid?.() !== 0) return { skip: 'needs root to start libvirtd as nobody in a private directory' };
  if (spawnSync('setpriv', ['--version']).status !== 0) return { skip: 'setpriv is missing' };
  if (!havePythonLibvirt()) return { skip: 'python3-libvirt is missing' };
  const dir = mkdtempSync(join(tmpdir(), 'lvbench-'));
  for (const sub of ['home', 'run', 'config', 'cache', 'py']) mkdirSync(join(dir, sub));
  chownTree(dir);
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'run'), 0o700);
  const env = {
    PATH: '/usr/sbin:/usr/bin:/bin',
    HOME: join(dir, 'home'),
    XDG_RUNTIME_DIR: join(dir, 'run'),
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_CACHE_HOME: join(dir, 'cache'),
  };
  const asNobody = ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups'];
  const daemon = spawn('setpriv', [...asNobody, '/usr/sbin/libvirtd', '--timeout', '600'], { env, stdio: 'ignore' });
  const exited = new Promise((r) => daemon.once('exit', r));
  const forget = onEmergency(() => {
    killNow(daemon);
    rmSync(dir, { recursive: true, force: true });
  });
  const dispose = async (): Promise<void> => {
    if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    forget();
  };
  const socket = join(dir, 'run', 'libvirt', 'libvirt-sock');
  const deadline = Date.now() + 20_000;
  while (!existsSync(socket) && Date.now() < deadline && daemon.exitCode === null) await new Promise((r) => setTimeout(r, 100));
  if (!existsSync(socket)) {
    await dispose();
    return { skip: 'libvirtd did not create its socket' };
  }
  return { uri: `qemu+unix:///session?socket=${socket}`, dir: join(dir, 'py'), env, asNobody, dispose };
}

/** define+undefine per second through libvirtd's durable qemu:///session driver, one client, or null. */
export async function libvirtdDurableDefineUndefine(n: number): Promise<number | null> {
  const lv = await startLibvirtdSession();
  if ('skip' in lv) {
    process.stdout.write(`(libvirtd durable comparison skipped: ${lv.skip})\n`);
    return null;
  }
  try {
    return await pythonDefineUndefine(lv.uri, 1, n, { domainType: 'qemu', dir: lv.dir, env: lv.env, asNobody: lv.asNobody });
  } catch (err) {
    process.stdout.write(`(libvirtd durable comparison skipped: ${(err as Error).message})\n`);
    return null;
  } finally {
    await lv.dispose();
  }
}
