/**
 * virDomainOpenGraphicsFD and virDomainOpenGraphics (procedures 343 and 249): descriptors passed
 * over unix sockets (SCM_RIGHTS) through tsvirt's fdpass addon. A real TCG guest with VNC:
 *  - the library on qemu:///session: the returned descriptor (and a socket handed over) carries
 *    QEMU's RFB greeting; the errors for a bad index, flags, an inactive domain, a read-only
 *    connection and a driver without descriptors;
 *  - python3-libvirt through tsvirtd, and the very same script through a session libvirtd: the
 *    greeting arrives on both, and the errors are compared side by side;
 *  - tsvirt's remote driver through tsvirtd receives the descriptor too;
 *  - without the addon (TSVIRT_NO_FDPASS=1) the library answers VIR_ERR_NO_SUPPORT saying why,
 *    and so does tsvirtd to python3-libvirt, for both calls (249's descriptor is dropped and its
 *    carrier byte skipped: the connection goes on); a driver without the calls answers as
 *    libvirtd's test driver does.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chownSync, closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { ErrorDomain, ErrorNumber, connect, type Connection } from '../src/index.js';
import { fdPassing } from '../src/core/fdpass.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, type TestGuest } from './qemu-harness.js';
import { guestPids, startDaemon, type RunningDaemon } from './support/daemon-harness.js';
import { rejectsVir } from './support/fixtures.js';
import { startLibvirtdSession, type LibvirtdSession } from '../bench/libvirtd-session.js';
import { startLibvirtd } from './support/libvirtd-harness.js';

const skip = qemuSkipReason() || (fdPassing() === null ? 'the fdpass addon is not built (npm run build compiles it)' : false);
const PYTHON = '/usr/bin/python3';
const NOBODY = 65534;
const havePython = spawnSync(PYTHON, ['-c', 'import libvirt'], { encoding: 'utf8' }).status === 0;

/** The first 12 bytes on a descriptor we own (the socket takes it and closes it). */
function greeting(fd: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = new Socket({ fd, readable: true, writable: true });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('no RFB greeting'));
    }, 30_000);
    sock.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 12) {
        clearTimeout(timer);
        sock.destroy();
        resolve(got.subarray(0, 12).toString('latin1'));
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * The client, identical for both daemons: `create URI XMLFILE` (define and start), `define URI
 * XMLFILE`, `destroy URI NAME...`, or `check URI NAME INACTIVE NOGRAPHICS`, which prints one JSON
 * line: the greetings read from openGraphicsFD's descriptor (with and without SKIPAUTH) and from
 * a socket pair's end after openGraphics, and the errors [code, domain, message] of the refused calls.
 */
const CLIENT = String.raw`
import json, os, socket, sys, threading
import libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
watchdog = threading.Timer(120, lambda: os._exit(3))
watchdog.daemon = True
watchdog.start()
cmd, uri = sys.argv[1], sys.argv[2]
c = libvirt.open(uri)
if cmd in ('create', 'define'):
    d = c.defineXML(open(sys.argv[3]).read())
    if cmd == 'create':
        d.create()
    os._exit(0)
if cmd == 'destroy':
    for n in sys.argv[3:]:
        try:
            d = c.lookupByName(n)
            if d.isActive():
                d.destroy()
            d.undefine()
        except libvirt.libvirtError:
            pass
    os._exit(0)
name, inactive, nographics = sys.argv[3], sys.argv[4], sys.argv[5]
def err(f):
    try:
        f()
        return None
    except libvirt.libvirtError as e:
        return [e.get_error_code(), e.get_error_domain(), e.get_error_message()]
def greet(fd):
    s = socket.socket(fileno=fd)
    s.settimeout(30)
    data = b''
    while len(data) < 12:
        got = s.recv(12 - len(data))
        if not got:
            break
        data += got
    s.close()
    return data.decode('latin1')
dom = c.lookupByName(name)
out = {}
out['fd'] = greet(dom.openGraphicsFD(0, 0))
out['fd_skipauth'] = greet(dom.openGraphicsFD(0, libvirt.VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH))
a, b = socket.socketpair()
try:
    dom.openGraphics(0, a.fileno(), 0)
    a.close()
    out['graphics'] = greet(b.detach())
except libvirt.libvirtError as e:
    out['graphics'] = [e.get_error_code(), e.get_error_domain(), e.get_error_message()]
out['bad_index'] = err(lambda: dom.openGraphicsFD(3, 0))
out['bad_flags'] = err(lambda: dom.openGraphicsFD(0, 4))
out['inactive'] = err(lambda: c.lookupByName(inactive).openGraphicsFD(0, 0))
out['no_graphics'] = err(lambda: c.lookupByName(nographics).openGraphicsFD(0, 0))
ro = libvirt.openReadOnly(uri)
out['read_only'] = err(lambda: ro.lookupByName(name).openGraphicsFD(0, 0))
# The connection still works after all that.
out['after'] = dom.isActive()
print(json.dumps(out), flush=True)
os._exit(0)
`;

function run(argv: string[], env?: NodeJS.ProcessEnv, asNobody?: string[]): Promise<string> {
  const full = asNobody !== undefined ? ['setpriv', ...asNobody, ...argv] : argv;
  const p = spawn(full[0]!, full.slice(1), { env: env ?? process.env });
  let out = '';
  let err = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr.on('data', (b: Buffer) => (err += b.toString()));
  return new Promise((resolve, reject) =>
    p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv.slice(1, 3).join(' ')}: exit ${code}: ${err.trim()}`)))),
  );
}

type ErrTriple = [number, number, string] | null;
interface CheckResult {
  fd: string;
  fd_skipauth: string;
  graphics: string | ErrTriple;
  bad_index: ErrTriple;
  bad_flags: ErrTriple;
  inactive: ErrTriple;
  no_graphics: ErrTriple;
  read_only: ErrTriple;
  after: number;
}

const RFB = 'RFB 003.008\n';

describe('openGraphicsFD / openGraphics on qemu:///session (real QEMU, TCG)', { skip, timeout: 600_000 }, () => {
  const reaper = new Reaper();
  let state: string;
  let guest: TestGuest;
  let previous: string | undefined;
  let conn: Connection;
  const xml = (name: string, devices: string): string =>
    guestXML({ name, uuid: randomUUID(), guest, mode: 'B', serial: join(state, `${name}.serial`), extraDevices: devices });

  before(async () => {
    state = reaper.tempDir('tsvgfd-');
    guest = await buildTestGuest(join(state, 'guest'));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = state;
    conn = await connect('qemu:///session');
  });

  after(async () => {
    if (conn !== undefined) {
      for (const dom of await conn.listAllDomains(0).catch(() => [])) {
        await dom.destroy().catch(() => undefined);
        await dom.undefine().catch(() => undefined);
      }
      await conn.close();
    }
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    await reaper.cleanup();
  });

  test('the library: the descriptor carries the RFB greeting; a handed-over socket too; libvirt errors', async () => {
    const dom = await conn.createXML(xml('gfd-lib', "<graphics type='vnc'/>"));
    const fd = await dom.openGraphicsFD(0);
    assert.ok(Number.isInteger(fd) && fd > 2);
    assert.equal(await greeting(fd), RFB);
    assert.equal(await greeting(await dom.openGraphicsFD(0, 1)), RFB);

    // openGraphics: QEMU gets its own copy of our socket; we close ours and read the other end.
    const addon = fdPassing()!;
    const [mine, theirs] = addon.socketpair();
    await dom.openGraphics(0, theirs, 0);
    closeSync(theirs);
    assert.equal(await greeting(mine), RFB);

    await rejectsVir(dom.openGraphicsFD(1), { code: ErrorNumber.INTERNAL_ERROR, domain: ErrorDomain.QEMU, message: 'internal error: No graphics backend with index 1' });
    await rejectsVir(dom.openGraphicsFD(0, 2), { code: ErrorNumber.INVALID_ARG, message: /unsupported flags \(0x2\) in function qemuDomainOpenGraphicsFD/ });
    const file = openSync(join(state, 'not-a-socket'), 'w');
    try {
      await rejectsVir(dom.openGraphics(0, file, 0), { code: ErrorNumber.INVALID_ARG, message: `invalid argument: fd ${file} must be a socket` });
    } finally {
      closeSync(file);
    }
    await rejectsVir(dom.openGraphics(0, 987654, 0), { code: ErrorNumber.SYSTEM_ERROR, message: /Unable to access file descriptor 987654/ });
    const off = await conn.defineXML(xml('gfd-off', "<graphics type='vnc'/>"));
    await rejectsVir(off.openGraphicsFD(0), { code: ErrorNumber.OPERATION_INVALID, message: 'Requested operation is not valid: domain is not running' });
    const ro = await connect('qemu:///session', { readonly: true });
    try {
      await rejectsVir((await ro.lookupByName('gfd-lib')).openGraphicsFD(0), { code: ErrorNumber.OPERATION_DENIED });
    } finally {
      await ro.close();
    }
    const t = await connect('test:///default');
    try {
      // As libvirt's test driver (checked with python3-libvirt on test:///default).
      await rejectsVir((await t.lookupByName('test')).openGraphicsFD(0), {
        code: ErrorNumber.NO_SUPPORT,
        message: 'this function is not supported by the connection driver: virDomainOpenGraphicsFD',
      });
    } finally {
      await t.close();
    }
    await dom.destroy();
    await off.undefine();
  });

  test('without the addon: VIR_ERR_NO_SUPPORT saying why (a child process with TSVIRT_NO_FDPASS=1)', async () => {
    const code = `
      import { fdPassingUnavailable, fdPassing } from ${JSON.stringify(new URL('../src/core/fdpass.js', import.meta.url).href)};
      if (fdPassing() !== null) process.exit(2);
      const e = fdPassingUnavailable(10, 'virDomainOpenGraphicsFD');
      console.log(JSON.stringify({ code: e.code, message: e.message }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, TSVIRT_NO_FDPASS: '1' }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { code: number; message: string };
    assert.equal(got.code, ErrorNumber.NO_SUPPORT);
    assert.match(got.message, /virDomainOpenGraphicsFD: file descriptor passing is not available: disabled by TSVIRT_NO_FDPASS=1/);
  });

  test('python3-libvirt through tsvirtd and through a session libvirtd: greetings and errors side by side; tsvirt remote', { skip: !havePython && 'python3-libvirt is missing' }, async () => {
    const script = join(state, 'gfd.py');
    writeFileSync(script, CLIENT);
    let d: RunningDaemon | undefined;
    let lv: LibvirtdSession | { skip: string } | undefined;
    const names = ['gfd-py', 'gfd-py-off', 'gfd-py-nog'];
    try {
      d = await startDaemon({ dir: join(state, 'tsvirtd'), uris: ['qemu:///session'] });
      const uri = `qemu+unix:///session?socket=${d.rw}`;
      const files = [xml(names[0]!, "<graphics type='vnc'/>"), xml(names[1]!, "<graphics type='vnc'/>"), xml(names[2]!, '')].map((x, i) => {
        const f = join(state, `gfd-${i}.xml`);
        writeFileSync(f, x);
        return f;
      });
      await run([PYTHON, script, 'create', uri, files[0]!]);
      await run([PYTHON, script, 'define', uri, files[1]!]);
      await run([PYTHON, script, 'create', uri, files[2]!]);
      const ts = JSON.parse((await run([PYTHON, script, 'check', uri, ...names])).trim().split('\n').pop()!) as CheckResult;
      console.log(`tsvirtd: ${JSON.stringify(ts)}`);
      assert.equal(ts.fd, RFB);
      assert.equal(ts.fd_skipauth, RFB);
      assert.equal(ts.graphics, RFB, 'openGraphics: the descriptor reached QEMU through tsvirtd');
      assert.deepEqual(ts.bad_index, [ErrorNumber.INTERNAL_ERROR, ErrorDomain.QEMU, 'internal error: No graphics backend with index 3']);
      assert.deepEqual(ts.bad_flags, [ErrorNumber.INVALID_ARG, ErrorDomain.QEMU, 'unsupported flags (0x4) in function qemuDomainOpenGraphicsFD']);
      assert.deepEqual(ts.inactive, [ErrorNumber.OPERATION_INVALID, ErrorDomain.DOMAIN, 'Requested operation is not valid: domain is not running']);
      assert.deepEqual(ts.no_graphics, [ErrorNumber.INTERNAL_ERROR, ErrorDomain.QEMU, 'internal error: No graphics backend with index 0']);
      assert.equal(ts.read_only?.[0], ErrorNumber.OPERATION_DENIED);
      assert.equal(ts.after, 1);

      // tsvirt's remote driver receives the descriptor as well.
      const rc = await connect(uri);
      try {
        const dom = await rc.lookupByName(names[0]!);
        assert.equal(await greeting(await dom.openGraphicsFD(0)), RFB);
        await rejectsVir(dom.openGraphicsFD(3), { code: ErrorNumber.INTERNAL_ERROR, message: 'internal error: No graphics backend with index 3' });
        const [mine, theirs] = fdPassing()!.socketpair();
        await dom.openGraphics(0, theirs, 0);
        closeSync(theirs);
        assert.equal(await greeting(mine), RFB);
        // The connection goes on after descriptors went both ways.
        assert.equal(await dom.isActive(), true);
      } finally {
        await rc.close();
      }

      lv = await startLibvirtdSession();
      if ('skip' in lv) {
        console.log(`(libvirtd side skipped: ${lv.skip})`);
        return;
      }
      const lvDir = join(lv.dir, 'gfd');
      mkdirSync(lvDir);
      const lvGuest = await buildTestGuest(join(lvDir, 'guest'));
      const lvScript = join(lvDir, 'gfd.py');
      writeFileSync(lvScript, CLIENT);
      const lvFiles = [
        guestXML({ name: names[0]!, uuid: randomUUID(), guest: lvGuest, mode: 'B', serial: join(lvDir, 'a.serial'), extraDevices: "<graphics type='vnc'/>" }),
        guestXML({ name: names[1]!, uuid: randomUUID(), guest: lvGuest, mode: 'B', serial: join(lvDir, 'b.serial'), extraDevices: "<graphics type='vnc'/>" }),
        guestXML({ name: names[2]!, uuid: randomUUID(), guest: lvGuest, mode: 'B', serial: join(lvDir, 'c.serial') }),
      ].map((x, i) => {
        const f = join(lvDir, `lv-${i}.xml`);
        writeFileSync(f, x);
        chownSync(f, NOBODY, NOBODY);
        return f;
      });
      chownSync(lvScript, NOBODY, NOBODY);
      chownSync(lvDir, NOBODY, NOBODY);
      try {
        await run([PYTHON, lvScript, 'create', lv.uri, lvFiles[0]!], lv.env, lv.asNobody);
        await run([PYTHON, lvScript, 'define', lv.uri, lvFiles[1]!], lv.env, lv.asNobody);
        await run([PYTHON, lvScript, 'create', lv.uri, lvFiles[2]!], lv.env, lv.asNobody);
        const lr = JSON.parse((await run([PYTHON, lvScript, 'check', lv.uri, ...names], lv.env, lv.asNobody)).trim().split('\n').pop()!) as CheckResult;
        console.log(`libvirtd: ${JSON.stringify(lr)}`);
        assert.equal(lr.fd, RFB);
        assert.equal(lr.graphics, RFB);
        for (const k of ['bad_index', 'bad_flags', 'inactive', 'no_graphics', 'read_only'] as const) {
          assert.deepEqual(ts[k], lr[k], `${k}: tsvirtd ${JSON.stringify(ts[k])} vs libvirtd ${JSON.stringify(lr[k])}`);
        }
      } finally {
        await run([PYTHON, lvScript, 'destroy', lv.uri, ...names], lv.env, lv.asNobody).catch(() => undefined);
      }
    } finally {
      if (d !== undefined) {
        await run([PYTHON, script, 'destroy', `qemu+unix:///session?socket=${d.rw}`, ...names]).catch(() => undefined);
        for (const pid of guestPids(d.stateDir)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
        await d.stop();
      }
      if (lv !== undefined && !('skip' in lv)) await lv.dispose();
    }
  });
});

describe('openGraphicsFD / openGraphics on test:///default through tsvirtd (with and without the addon) and libvirtd', { skip: !havePython && 'python3-libvirt is missing' }, () => {
  const PY = String.raw`
import libvirt, socket, sys
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
d = c.lookupByName('test')
a, b = socket.socketpair()
for f in (lambda: d.openGraphicsFD(0, 0), lambda: d.openGraphics(0, a.fileno(), 0)):
    try:
        f()
        print('ok')
    except libvirt.libvirtError as e:
        print('%d %d %s' % (e.get_error_code(), e.get_error_domain(), e.get_error_message()))
print('after', d.isActive())
`;
  const ask = (uri: string): string[] => {
    const r = spawnSync(PYTHON, ['-c', PY, uri], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split('\n');
  };

  test('a driver without the calls: NO_SUPPORT as libvirtd; without the addon: NO_SUPPORT saying why, the connection going on', async () => {
    const d = await startDaemon({ uris: ['test:///default'] });
    const previous = process.env.TSVIRT_NO_FDPASS;
    process.env.TSVIRT_NO_FDPASS = '1';
    let bare: RunningDaemon | undefined;
    try {
      bare = await startDaemon({ uris: ['test:///default'] });
    } finally {
      if (previous === undefined) delete process.env.TSVIRT_NO_FDPASS;
      else process.env.TSVIRT_NO_FDPASS = previous;
    }
    const lv = await startLibvirtd();
    try {
      const ts = ask(d.uri('/default'));
      assert.deepEqual(ts, [
        '3 20 this function is not supported by the connection driver: virDomainOpenGraphicsFD',
        '3 20 this function is not supported by the connection driver: virDomainOpenGraphics',
        'after 1',
      ]);
      if (!('skip' in lv)) assert.deepEqual(ask(lv.uri('/default')), ts, 'as libvirtd');
      const why = 'file descriptor passing is not available: disabled by TSVIRT_NO_FDPASS=1';
      assert.deepEqual(ask(bare.uri('/default')), [
        `3 20 this function is not supported by the connection driver: virDomainOpenGraphicsFD: ${why}`,
        `3 20 this function is not supported by the connection driver: virDomainOpenGraphics: ${why}`,
        'after 1',
      ]);
    } finally {
      await d.dispose();
      await bare?.dispose();
      if (!('skip' in lv)) await lv.dispose();
    }
  });
});
