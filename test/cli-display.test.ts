/**
 * domdisplay, vncdisplay and screenshot's file name: the pure computations (src/cli/display.ts)
 * against Debian's virsh on libvirt's own test driver, fed graphics tsvirt's XML model does not
 * hold (sockets, TLS ports, rdp, D-Bus, autoport's -1, wildcard forms), and the whole commands
 * side by side with virsh through tsvirtd.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { domDisplay, graphicsElements, isWildcardAddress, uriServer, vncDisplay } from '../src/cli/display.js';
import { screenshotFileName } from '../src/cli/cmd-console.js';
import { Proc, openArgs } from '../src/rpc/procedures.js';
import { MessageStatus } from '../src/rpc/message.js';
import { RawClient, startDaemon, virshSkip, type RunningDaemon } from './support/daemon-harness.js';
import { tsvirt as runTsvirt, run } from './cli-harness.js';

const skip = virshSkip();

describe('display helpers', () => {
  test('wildcard listen addresses, as getaddrinfo(AI_NUMERICHOST) and virSocketAddrIsWildcard see them', () => {
    for (const a of ['0.0.0.0', '0', '0.0', '0x0', '00.0.0.0', '::', '0000::0', '0:0:0:0:0:0:0:0', '::0.0.0.0']) assert.equal(isWildcardAddress(a), true, a);
    for (const a of ['127.0.0.1', '::1', '192.168.1.5', 'myhost.example', '', '0.0.0.0.0', '256.0.0.0', '::ffff:0.0.0.0', '0.0.0.1', 'localhost']) {
      assert.equal(isWildcardAddress(a), false, a);
    }
  });

  test("a URI's server, as virURIParse gives it", () => {
    assert.equal(uriServer('test:///default'), null);
    assert.equal(uriServer('qemu:///session'), null);
    assert.equal(uriServer('test+unix:///default?socket=/x/y'), null);
    assert.equal(uriServer('qemu+ssh://root@host.example:2222/system'), 'host.example');
    assert.equal(uriServer('qemu+tcp://[::1]/system'), '::1');
    assert.equal(uriServer('qemu+tls://10.0.0.1/system'), '10.0.0.1');
  });

  test("a wildcard listen address is replaced by the connection's host (IPv6 in brackets)", () => {
    const g = graphicsElements("<domain><devices><graphics type='vnc' port='5901' listen='0.0.0.0'/></devices></domain>");
    assert.equal(domDisplay(g, { all: false }, () => 'qemu+ssh://h.example/system').stdout, 'vnc://h.example:1');
    assert.equal(domDisplay(g, { all: false }, () => 'qemu+tcp://[fe80::1]/system').stdout, 'vnc://[fe80::1]:1');
    assert.equal(domDisplay(g, { all: false }, () => 'qemu:///system').stdout, 'vnc://localhost:1');
  });

  test("screenshot's default file name: NAME-YYYY-MM-DD-HH:MM:SS and the MIME type's extension", () => {
    const t = new Date(2026, 11, 3, 9, 5, 7);
    assert.equal(screenshotFileName('g1', 'image/png', t), 'g1-2026-12-03-09:05:07.png');
    assert.equal(screenshotFileName('g1', 'image/x-portable-pixmap', t), 'g1-2026-12-03-09:05:07.ppm');
    assert.equal(screenshotFileName('g1', 'image/jpeg', t), 'g1-2026-12-03-09:05:07');
  });
});

/** Graphics that libvirt's test driver keeps as given; virsh's answers are the expectations. */
const VARIANTS: Record<string, string> = {
  everything:
    "<graphics type='vnc' port='5901' autoport='no' listen='0.0.0.0' passwd='secret'><listen type='address' address='0.0.0.0'/></graphics>" +
    "<graphics type='spice' port='5903' tlsPort='5904' autoport='no' passwd='sp'><listen type='address' address='::1'/></graphics>" +
    "<graphics type='vnc' socket='/tmp/vnc.sock'/><graphics type='rdp' port='3389'/><graphics type='dbus' address='unix:path=/tmp/dbus'/>",
  autoport: "<graphics type='vnc' autoport='yes'/>",
  'tls port only, IPv6 wildcard': "<graphics type='vnc' port='5905' listen='127.0.0.1'/><graphics type='spice' tlsPort='5910' autoport='no' listen='::'/>",
  'listen child only': "<graphics type='vnc' port='5907'><listen type='address' address='192.168.1.5'/></graphics>",
  'D-Bus over TCP': "<graphics type='dbus' address='tcp:host=localhost,port=1234'/><graphics type='vnc' port='5900'/>",
  'socket then port': "<graphics type='vnc' socket='/run/x.sock'/><graphics type='vnc' port='5902' listen='0'/>",
  'password with @, 0000::0': "<graphics type='vnc' port='5902' listen='0.0.0.0' passwd='p@ss'/><graphics type='spice' port='5999' listen='0000::0'/>",
  'spice on a socket': "<graphics type='spice' port='5901' passwd='x'><listen type='socket' socket='/run/s.sock'/></graphics>",
  'host name': "<graphics type='vnc' port='5901' listen='myhost.example'/>",
  none: '',
};

/** The domdisplay option sets compared, with the XML they need (secure for --include-password). */
const RUNS: { args: string; opts: { type?: string; all: boolean }; secure: boolean }[] = [
  { args: '', opts: { all: false }, secure: false },
  { args: '--all', opts: { all: true }, secure: false },
  { args: '--all --include-password', opts: { all: true }, secure: true },
  { args: '--type spice --include-password', opts: { type: 'spice', all: false }, secure: true },
  { args: '--type vnc', opts: { type: 'vnc', all: false }, secure: false },
  { args: '--type rdp', opts: { type: 'rdp', all: false }, secure: false },
  { args: '--type dbus', opts: { type: 'dbus', all: false }, secure: false },
];

describe("domdisplay and vncdisplay computed as virsh computes them (libvirt's test driver)", { skip }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsvirt-display-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [name, devices] of Object.entries(VARIANTS)) {
    test(name, () => {
      const file = join(dir, `${name.replace(/\W/g, '_')}.xml`);
      writeFileSync(file, `<domain type='test'><name>g</name><memory>8192</memory><os><type>hvm</type></os><devices>${devices}</devices></domain>`);
      const mark = 'echo @@; echo --err @@';
      const script = [`define ${file}`, 'start g', 'dumpxml g', mark, 'dumpxml g --security-info', mark, ...RUNS.map((r) => `domdisplay g ${r.args}; ${mark}`), `vncdisplay g; ${mark}`].join('; ');
      const v = spawnSync('virsh', ['-q', '-c', 'test:///default', script], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
      // Under -q, echo prints no newline; echo --err prints virsh's error line.
      const out = v.stdout.split('@@');
      const err = v.stderr.split('error: @@\n');
      assert.equal(out.length, RUNS.length + 4, v.stdout + v.stderr);
      const [plain, secure] = out;
      RUNS.forEach((r, i) => {
        const got = domDisplay(graphicsElements(r.secure ? secure : plain), r.opts, () => 'test:///default');
        assert.equal(got.stdout, out[i + 2], `domdisplay ${r.args}: stdout`);
        assert.equal(got.errors.map((e) => `error: ${e}\n`).join(''), err[i + 2], `domdisplay ${r.args}: stderr`);
      });
      const vnc = vncDisplay(graphicsElements(plain));
      assert.equal('text' in vnc ? vnc.text : '', out[RUNS.length + 2], 'vncdisplay: stdout');
      assert.equal('error' in vnc ? `error: ${vnc.error}\n` : '', err[RUNS.length + 2], 'vncdisplay: stderr');
    });
  }
});

describe('domdisplay, vncdisplay, screenshot and console: tsvirt and virsh side by side through tsvirtd', { skip }, () => {
  let d: RunningDaemon;
  let holder: RawClient;
  let U: string;

  before(async () => {
    d = await startDaemon();
    U = d.uri('/default');
    // One connection holds the shared test:///default state between the runs.
    holder = await RawClient.connect(d.rw);
    await holder.call(Proc.AUTH_LIST);
    const open = await holder.callWith(Proc.CONNECT_OPEN, openArgs, { name: 'test:///default', flags: 0 });
    assert.equal(open.header.status, MessageStatus.OK);
    const xml = (name: string, devices: string) => {
      const p = join(d.dir, `${name}.xml`);
      writeFileSync(p, `<domain type='test'><name>${name}</name><memory unit='KiB'>8192</memory><os><type>hvm</type></os><devices>${devices}</devices></domain>`);
      return p;
    };
    const setup = [
      `define ${xml('gfx', "<graphics type='vnc' port='5901' autoport='no' listen='0.0.0.0' passwd='secret'/><graphics type='spice' port='5903' autoport='no' passwd='sp' listen='::1'/>")}`,
      'start gfx',
      `define ${xml('gfx2', "<graphics type='vnc' port='5910' autoport='no' listen='127.0.0.1'/>")}`,
      'start gfx2',
      `define ${xml('off', "<graphics type='vnc' port='5920' autoport='no'/>")}`,
    ];
    for (const c of setup) {
      const r = spawnSync('virsh', ['-q', '-c', U, c], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${c}: ${r.stderr}`);
    }
  });
  after(async () => {
    holder?.close();
    await d?.dispose();
  });

  const SCRIPTS = [
    'domdisplay gfx; domdisplay gfx --all; domdisplay gfx --all --include-password; domdisplay --type spice gfx --include-password',
    'domdisplay gfx --type rdp; domdisplay gfx --type ""; domdisplay gfx --type vnc --all; domdisplay gfx2 --include-password',
    'vncdisplay gfx; vncdisplay gfx2; vncdisplay test; domdisplay test',
    'domdisplay off; vncdisplay off; domdisplay nosuch; vncdisplay nosuch',
    'console off; console test; console test --devname ""; console nosuch',
    'screenshot off --screen x; screenshot nosuch',
  ];

  for (const script of SCRIPTS) {
    test(script, async () => {
      const env = { ...process.env, LC_ALL: 'C', HOME: d.dir };
      const [v, t] = await Promise.all([
        run('virsh', ['-c', U, script], { cwd: d.dir, env }),
        runTsvirt(['-c', U, script], { cwd: d.dir, env }),
      ]);
      assert.equal(t.stderr, v.stderr, 'stderr');
      assert.equal(t.stdout, v.stdout, 'stdout');
      assert.equal(t.status, v.status, 'exit status');
    });
  }

  test('-q: domdisplay prints no newline after a single URI, as virsh', async () => {
    const env = { ...process.env, LC_ALL: 'C', HOME: d.dir };
    const args = ['-q', '-c', U, 'domdisplay gfx; vncdisplay gfx'];
    const [v, t] = await Promise.all([run('virsh', args, { cwd: d.dir, env }), runTsvirt(args, { cwd: d.dir, env })]);
    assert.equal(v.stdout, 'vnc://localhost:1:1\n');
    assert.equal(t.stdout, v.stdout);
  });

  test('screenshot through tsvirtd: the default file name, a PNG, the same bytes virsh receives', async () => {
    const env = { ...process.env, LC_ALL: 'C', HOME: d.dir };
    const cwd = mkdtempSync(join(d.dir, 'shots-'));
    const t = await runTsvirt(['-c', U, 'screenshot', 'test'], { cwd, env });
    assert.equal(t.status, 0, t.stderr);
    const m = /^Screenshot saved to (test-\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d\.png), with type of image\/png\n$/.exec(t.stdout);
    assert.ok(m !== null, t.stdout);
    const mine = readFileSync(join(cwd, m[1]));
    assert.deepEqual(mine.subarray(0, 8), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const v = await run('virsh', ['-c', U, 'screenshot', 'test', 'v.png'], { cwd, env });
    assert.equal(v.status, 0, v.stderr);
    assert.deepEqual(readFileSync(join(cwd, 'v.png')), mine);
  });

  test('--json: the displays and the VNC display as data', async () => {
    const env = { ...process.env, LC_ALL: 'C', HOME: d.dir };
    const all = await runTsvirt(['-q', '-c', U, 'domdisplay', 'gfx', '--all', '--include-password', '--json'], { cwd: d.dir, env });
    assert.equal(all.status, 0, all.stderr);
    assert.deepEqual(JSON.parse(all.stdout), [
      { type: 'vnc', uri: 'vnc://:secret@localhost:1' },
      { type: 'spice', uri: 'spice://[::1]:5903?password=sp' },
    ]);
    const one = await runTsvirt(['-q', '-c', U, 'vncdisplay', 'gfx2', '--json'], { cwd: d.dir, env });
    assert.deepEqual(JSON.parse(one.stdout), { listen: '127.0.0.1', port: 5910, display: 10 });
    const none = await runTsvirt(['-q', '-c', U, 'domdisplay', 'test', '--json'], { cwd: d.dir, env });
    assert.equal(none.status, 1);
    assert.equal(none.stdout, '');
    assert.equal(none.stderr, 'error: No graphical display found\n');
  });
});
