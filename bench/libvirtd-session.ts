/**
 * libvirt's own durable driver in the same run as tsvirt's benchmarks: a session libvirtd (its
 * qemu driver keeps each domain as an XML file under $XDG_CONFIG_HOME/libvirt/qemu) started as
 * `nobody` with every path in a temporary directory, so nothing of the system changes, and driven
 * by python3-libvirt. Returns null, with the reason printed, when it cannot run here.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NOBODY = 65534;

const SCRIPT = `
import libvirt, sys, time, uuid
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open('qemu+unix:///session?socket=' + sys.argv[1])
n = int(sys.argv[2])
x = lambda i: "<domain type='qemu'><name>lq%d</name><uuid>%s</uuid><memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>" % (i, uuid.uuid4())
for i in range(50):
    c.defineXML(x(i)).undefine()
t = time.perf_counter()
for i in range(n):
    c.defineXML(x(i)).undefine()
print('%.0f' % (n / (time.perf_counter() - t)))
`;

function chownTree(path: string): void {
  chownSync(path, NOBODY, NOBODY);
  if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry));
}

/** define+undefine per second through libvirtd's durable qemu:///session driver, or null. */
export async function libvirtdDurableDefineUndefine(n: number): Promise<number | null> {
  const why = (reason: string) => {
    process.stdout.write(`(libvirtd durable comparison skipped: ${reason})\n`);
    return null;
  };
  if (!existsSync('/usr/sbin/libvirtd')) return why('libvirtd is not installed (Debian libvirt-daemon, libvirt-daemon-driver-qemu)');
  if (process.getuid?.() !== 0) return why('needs root to start libvirtd as nobody in a private directory');
  if (spawnSync('setpriv', ['--version']).status !== 0) return why('setpriv is missing');
  const dir = mkdtempSync(join(tmpdir(), 'lvbench-'));
  for (const sub of ['home', 'run', 'config', 'cache']) mkdirSync(join(dir, sub));
  writeFileSync(join(dir, 'bench.py'), SCRIPT);
  chownTree(dir);
  chmodSync(join(dir, 'run'), 0o700);
  const env = {
    PATH: '/usr/sbin:/usr/bin:/bin',
    HOME: join(dir, 'home'),
    XDG_RUNTIME_DIR: join(dir, 'run'),
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_CACHE_HOME: join(dir, 'cache'),
  };
  const asNobody = ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups'];
  const daemon = spawn('setpriv', [...asNobody, '/usr/sbin/libvirtd', '--timeout', '300'], { env, stdio: 'ignore' });
  const socket = join(dir, 'run', 'libvirt', 'libvirt-sock');
  try {
    const deadline = Date.now() + 20_000;
    while (!existsSync(socket) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (!existsSync(socket)) return why('libvirtd did not create its socket');
    const r = spawnSync('setpriv', [...asNobody, '/usr/bin/python3', join(dir, 'bench.py'), socket, String(n)], {
      env,
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (r.status !== 0) return why(r.stderr.trim().split('\n').pop() ?? 'python3-libvirt failed');
    return Number(r.stdout.trim());
  } finally {
    daemon.kill('SIGKILL');
    await new Promise((r) => daemon.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
