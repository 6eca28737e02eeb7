/**
 * The +ssh transport both ways, with a real sshd (Debian's openssh-server) started here: Debian's
 * virsh and python-libvirt reach tsvirtd through ssh by libvirt's default path (virt-ssh-helper,
 * or nc with proxy=netcat, to /var/run/libvirt/libvirt-sock), and tsvirt's remote driver does the
 * same with the user's ssh. The sshd runs in a network namespace of its own (a veth to a client
 * namespace) and, with tsvirtd, in a private mount namespace where a temporary directory is
 * /run/libvirt, so the host's /run/libvirt is never touched. Client commands run with a tmpfs
 * over /root, so ssh's known_hosts never lands in the host's ~/.ssh. Everything is stopped and
 * removed in after().
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythonLibvirtSkip } from './support/daemon-harness.js';
import { missing } from './support/host-tools.js';
import { sshHostSkip, startSshHost, until, type SshHost } from './support/ssh-host.js';
import { parseRemoteURI } from '../src/drivers/remote/uri.js';
import { sshCommand } from '../src/drivers/remote/ssh.js';

const CLI = fileURLToPath(new URL('../src/cli/tsvirt.cjs', import.meta.url));
const INDEX = fileURLToPath(new URL('../src/index.js', import.meta.url));

const tag = `${process.pid % 100000}`;
const skip: string | false = sshHostSkip() || missing('virsh') || pythonLibvirtSkip();

/** What virsh prints for an error, without its "error: " prefixes. */
function virshError(stderr: string): string {
  // From the error on: libvirt may log warnings of its own before it.
  const head = 'error: failed to connect to the hypervisor\n';
  const at = stderr.indexOf(head);
  return (at < 0 ? stderr : stderr.slice(at + head.length)).replace(/^error: /, '').trim();
}

const DOMAIN = `<domain type='test'><name>sshdom${tag}</name><memory>8192</memory><os><type>hvm</type></os></domain>`;

describe('qemu+ssh / test+ssh through a real sshd', { skip }, () => {
  let h: SshHost;
  let dir = '';
  const runDir = (): string => h.runDir;
  const uri = (drv: 'test' | 'qemu', extra = '', keyfile?: string): string => h.uri(drv, extra, keyfile);
  const client = (args: string[]): ReturnType<SshHost['client']> => h.client(args);
  const startDaemon = (args?: string[]): Promise<void> => h.startDaemon(args);
  const stopDaemon = (): Promise<void> => h.stopDaemon();

  before(async () => {
    h = await startSshHost();
    dir = h.dir;
  });

  after(async () => {
    await h?.dispose();
  });

  test("Debian's virsh: qemu+ssh:// by the default path (virt-ssh-helper, /var/run/libvirt/libvirt-sock) lists qemu:///system", () => {
    const r = client(['virsh', '-c', uri('qemu'), 'list', '--all']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Id\s+Name\s+State/);
    // tsvirtd answered (only it listens there; the no-daemon test below stops it and virsh fails).
    assert.ok(h.daemonRunning());
  });

  test("Debian's virsh: define, start, destroy and undefine a test:///default domain over test+ssh, by virt-ssh-helper and by nc", () => {
    writeFileSync(join(dir, 'dom.xml'), DOMAIN);
    const name = `sshdom${tag}`;
    for (const extra of ['', '&proxy=netcat']) {
      // One virsh session: test:///default lives as long as some connection holds it, as in libvirt.
      const r = client(['virsh', '-c', uri('test', extra), `define ${join(dir, 'dom.xml')}; start ${name}; list --all; destroy ${name}; undefine ${name}; list --all`]);
      assert.equal(r.code, 0, `${extra}: ${r.stderr}`);
      const [during, after] = r.stdout.split(/Domain '.*' destroyed/);
      assert.match(during, new RegExp(`${name}\\s+running`), extra);
      assert.match(after, /undefined/);
      assert.doesNotMatch(after.split(/undefined/)[1], new RegExp(name), extra);
    }
  });

  test('python3-libvirt: the same over test+ssh', () => {
    const py = `
import libvirt, sys
c = libvirt.open(sys.argv[1])
d = c.defineXML(sys.argv[2])
d.create()
print('active', d.isActive())
print('names', sorted(x.name() for x in c.listAllDomains()))
d.destroy(); d.undefine()
print('after', sorted(x.name() for x in c.listAllDomains()))
c.close()
`;
    const r = client(['python3', '-c', py, uri('test'), DOMAIN]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /active 1/);
    assert.match(r.stdout, new RegExp(`names \\[.*'sshdom${tag}'.*'test'\\]`));
    assert.match(r.stdout, /after \['test'\]/);
  });

  test("tsvirt's remote driver: connect('test+ssh://…') defines, starts and destroys; closing ends ssh", async () => {
    const script = `
import { connect } from ${JSON.stringify(INDEX)};
import { execFileSync } from 'node:child_process';
const sshChildren = () => { try { return execFileSync('pgrep', ['-P', String(process.pid), '-x', 'ssh'], { encoding: 'utf8' }).trim(); } catch { return ''; } };
const conn = await connect(process.argv[1]);
const during = sshChildren();
const dom = await conn.defineXML(process.argv[2]);
await dom.create();
const names = (await conn.listAllDomains()).map((d) => d.name()).sort();
const active = await dom.isActive();
await dom.destroy();
await dom.undefine();
await conn.close();
let after = sshChildren();
for (let i = 0; i < 50 && after !== ''; i++) { await new Promise((r) => setTimeout(r, 100)); after = sshChildren(); }
console.log(JSON.stringify({ names, active, during: during !== '', after }));
`;
    const r = client([process.execPath, '--input-type=module', '-e', script, uri('test'), DOMAIN]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { names: string[]; active: boolean; during: boolean; after: string };
    assert.deepEqual(out.names, [`sshdom${tag}`, 'test']);
    assert.equal(out.active, true);
    assert.equal(out.during, true, 'ssh runs while the connection is open');
    assert.equal(out.after, '', 'no ssh left after close');
  });

  test('tsvirt -c qemu+ssh:// list (and test+ssh with proxy=netcat, read-only)', () => {
    const q = client([process.execPath, CLI, '-c', uri('qemu'), 'list', '--all']);
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stdout, /Id\s+Name\s+State/);
    const t = client([process.execPath, CLI, '-r', '-c', uri('test', '&proxy=netcat'), 'list', '--all']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /test\s+running/);
  });

  test("a key the server refuses: ssh's reason in libvirt's error, word for word as virsh's", () => {
    const wrong = h.wrongKey;
    const v = client(['virsh', '-c', uri('test', '', wrong), 'list']);
    const t = client([process.execPath, CLI, '-c', uri('test', '', wrong), 'list']);
    assert.notEqual(v.code, 0);
    assert.notEqual(t.code, 0);
    assert.match(virshError(v.stderr), /^Cannot recv data: [^]*Permission denied \(publickey\)\.: Connection reset by peer$/);
    assert.equal(virshError(t.stderr), virshError(v.stderr));
  });

  test("no daemon on the remote side: libvirt's error (virt-ssh-helper's or nc's words), as virsh's", async () => {
    await stopDaemon();
    try {
      for (const [extra, said] of [
        ['', /virt-ssh-helper: cannot connect to '\/var\/run\/libvirt\/libvirt-sock'/],
        ['&proxy=netcat', /nc: \/var\/run\/libvirt\/libvirt-sock: No such file or directory/],
      ] as const) {
        const v = client(['virsh', '-c', uri('test', extra), 'list']);
        const t = client([process.execPath, CLI, '-c', uri('test', extra), 'list']);
        assert.notEqual(v.code, 0);
        assert.notEqual(t.code, 0);
        assert.match(virshError(v.stderr), /^End of file while reading data: /);
        assert.match(virshError(v.stderr), said);
        assert.equal(virshError(t.stderr), virshError(v.stderr));
      }
    } finally {
      await startDaemon();
    }
  });

  test("a modular daemon's socket wins with virt-ssh-helper; tsvirtd --modular-sockets answers there too", async () => {
    await stopDaemon();
    try {
      // What a virtqemud that is gone leaves behind: a socket file nobody listens on.
      const stale = join(runDir(), 'virtqemud-sock');
      assert.equal(spawnSync('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', stale]).status, 0);
      await startDaemon();
      const helper = client(['virsh', '-c', uri('qemu'), 'list', '--all']);
      assert.notEqual(helper.code, 0);
      assert.match(virshError(helper.stderr), /virt-ssh-helper: cannot connect to '\/var\/run\/libvirt\/virtqemud-sock': .*Connection refused/);
      const ours = client([process.execPath, CLI, '-c', uri('qemu'), 'list', '--all']);
      assert.equal(virshError(ours.stderr), virshError(helper.stderr));
      // nc goes to libvirt-sock whatever else is there.
      const nc = client(['virsh', '-c', uri('qemu', '&proxy=netcat'), 'list', '--all']);
      assert.equal(nc.code, 0, nc.stderr);
      await stopDaemon();
      await startDaemon(['--modular-sockets']);
      // Bound after libvirt-sock, which startDaemon waits for.
      const names = ['virtqemud-sock', 'virtqemud-sock-ro', 'virttestd-sock', 'virttestd-sock-ro'];
      assert.ok(await until(() => names.every((n) => existsSync(join(runDir(), n)))), names.filter((n) => !existsSync(join(runDir(), n))).join(', '));
      for (const u of [uri('qemu'), uri('test')]) {
        const r = client(['virsh', '-c', u, 'list', '--all']);
        assert.equal(r.code, 0, r.stderr);
      }
      const ro = client(['virsh', '-r', '-c', uri('test'), 'list', '--all']);
      assert.match(ro.stdout, /test\s+running/, ro.stderr);
      await stopDaemon();
      // Its sockets go with it, the stale one it replaced included.
      assert.equal(existsSync(stale), false);
    } finally {
      await stopDaemon();
      await startDaemon();
    }
  });

  test('no ssh session, virt-ssh-helper or nc is left on either side', async () => {
    const leftover = (): string[] => [...h.procs('server').filter((c) => /virt-ssh-helper|\bnc\b|sshd: root/.test(c)), ...h.procs('client')];
    assert.ok(await until(() => leftover().length === 0), leftover().join('\n'));
  });
});

describe("the ssh command line is libvirt 9.0's", { skip: missing('virsh') }, () => {
  test('for each URI, the argv virsh gives ssh (command= a recorder) is the one tsvirt gives it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvirt-sshargv-'));
    try {
      const out = join(dir, 'argv.json');
      const recorder = join(dir, 'ssh');
      // virsh clears the environment of the ssh it runs: the recorder's output path is baked in.
      writeFileSync(recorder, `#!/usr/bin/python3\nimport json, sys\nopen(${JSON.stringify(out)}, 'w').write(json.dumps(sys.argv[1:]))\nsys.exit(1)\n`, { mode: 0o755 });
      const uris = [
        'qemu+ssh://root@h/system',
        'qemu+ssh://u@h:2222/session?keyfile=/k&no_verify=1',
        'test+ssh://h/default',
        'qemu+ssh://h/system?proxy=netcat',
        'qemu+ssh://h/system?proxy=native',
        'qemu+ssh://h/system?socket=/x/y&netcat=/bin/nc&no_tty=1',
        "qemu+ssh://h/system?netcat=/a%20b/n'c",
        'qemu+ssh://h/system?foo=bar&socket=/s&proxy=auto',
        'qemu+ssh://[::1]/system?mode=legacy',
        'test+ssh://h/default?name=test:///default',
        'test+ssh://h/default?known_hosts_verify=ignore&authfile=/a&no_sanity=1&tls_priority=NORMAL&sshauth=privkey&pkipath=/p&x=y',
      ];
      // tsvirt's additions: known_hosts= for ssh itself, and no password prompt without a terminal.
      const extra = sshCommand(parseRemoteURI(new URL('qemu+ssh://h/system?known_hosts=/kh')), { tty: false }).args;
      assert.deepEqual(extra.slice(0, 7), ['-T', '-e', 'none', '-o', 'BatchMode=yes', '-o', 'UserKnownHostsFile=/kh']);
      for (const base of uris) {
        for (const readonly of [false, true]) {
          const u = `${base}${base.includes('?') ? '&' : '?'}command=${recorder}`;
          rmSync(out, { force: true });
          spawnSync('virsh', ['-c', u, ...(readonly ? ['-r'] : []), 'list'], { stdio: 'ignore', timeout: 30_000 });
          const theirs = JSON.parse(readFileSync(out, 'utf8')) as string[];
          const ours = sshCommand(parseRemoteURI(new URL(u), { readonly }), { tty: true });
          assert.equal(ours.file, recorder);
          assert.deepEqual(ours.args, theirs, `${u}${readonly ? ' (read-only)' : ''}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('for a non-root client: the helper alone for /session and test+, the session socket for nc', { skip: process.getuid?.() !== 0 ? 'needs root to run virsh as nobody' : false }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvirt-sshargv-'));
    try {
      chmodSync(dir, 0o777);
      const out = join(dir, 'argv.json');
      const recorder = join(dir, 'ssh');
      writeFileSync(recorder, `#!/usr/bin/python3\nimport json, sys\nopen(${JSON.stringify(out)}, 'w').write(json.dumps(sys.argv[1:]))\nsys.exit(1)\n`, { mode: 0o755 });
      const xdg = join(dir, 'xdg');
      for (const base of ['qemu+ssh://h/session', 'test+ssh://h/default', 'qemu+ssh://h/system', 'qemu+ssh://h/session?proxy=netcat']) {
        const u = `${base}${base.includes('?') ? '&' : '?'}command=${recorder}`;
        rmSync(out, { force: true });
        spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', `HOME=${dir}`, `XDG_RUNTIME_DIR=${xdg}`, 'virsh', '-c', u, 'list'], { stdio: 'ignore', timeout: 30_000 });
        const theirs = JSON.parse(readFileSync(out, 'utf8')) as string[];
        const ours = sshCommand(parseRemoteURI(new URL(u)), { tty: true, uid: 65534, env: { XDG_RUNTIME_DIR: xdg } });
        assert.deepEqual(ours.args, theirs, u);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("bad parameters and an ssh that does not run: virsh's errors, word for word", () => {
    for (const u of [
      'qemu+ssh://h/system?proxy=bogus&command=/bin/false',
      'qemu+ssh://h/system?proxy=native&netcat=/bin/nc&command=/bin/false',
      'qemu+ssh://h/system?mode=bogus&command=/bin/false',
      'test+ssh://h/default?no_tty=x&command=/bin/false',
    ]) {
      const v = spawnSync('virsh', ['-c', u, 'list'], { encoding: 'utf8', timeout: 30_000 });
      const t = spawnSync(process.execPath, [CLI, '-c', u, 'list'], { encoding: 'utf8', timeout: 30_000 });
      assert.notEqual(v.status, 0, u);
      assert.notEqual(t.status, 0, u);
      assert.equal(virshError(t.stderr), virshError(v.stderr), u);
    }
    // A path that does not execute: libvirt's child reports it on ssh's stderr. virsh's own run
    // is racy here (at times "client socket is closed", or killed by SIGPIPE when its first
    // write comes after the child's end), so its full form, seen in a terminal, is written out.
    const u = 'qemu+ssh://h/system?command=/nonexistent/ssh';
    const said = 'Cannot recv data: libvirt:  error : cannot execute binary /nonexistent/ssh: No such file or directory: Connection reset by peer';
    const t = spawnSync(process.execPath, [CLI, '-c', u, 'list'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(virshError(t.stderr), said);
    const bare = spawnSync(process.execPath, [CLI, '-c', 'qemu+ssh://h/system?command=tsvirt-no-such-ssh', 'list'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(virshError(bare.stderr), "Cannot find 'tsvirt-no-such-ssh' in path: No such file or directory");
    const vbare = spawnSync('virsh', ['-c', 'qemu+ssh://h/system?command=tsvirt-no-such-ssh', 'list'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(virshError(vbare.stderr), virshError(bare.stderr));
  });
});
