/**
 * The QEMU driver's serial console (domainOpenConsole) on qemu:///session with real TCG guests
 * whose test image runs a shell on ttyS0 (guest.shell=1): typing into the guest and reading its
 * answer, the log that keeps what the guest wrote while nobody was attached, one session per
 * device (FORCE takes over), libvirt's errors, and the ends of a session. Also the XML of
 * `<serial>`/`<console>` with `<log>`, which must survive a define. Reached through the driver,
 * the public API (dom.openConsole on a Stream) and tsvirtd from python-libvirt.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import {
  DomainConsoleFlags,
  DomainState,
  DomainXMLFlags,
  ErrorDomain,
  ErrorNumber,
  connect,
  type Connection,
  type Stream,
} from '../src/index.js';
import { formatDomainXML, parseDomainXML } from '../src/conf/domain.js';
import type { HypervisorDriver } from '../src/core/driver.js';
import { qemuLocations } from '../src/drivers/qemu/session.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, readText, waitForText, type TestGuest } from './qemu-harness.js';
import { rejectsVir } from './support/fixtures.js';
import { guestPids, python, pythonLibvirtSkip, startDaemon, type RunningDaemon } from './support/daemon-harness.js';

const skip = qemuSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a console session has received, and a way to wait for more. */
class Session {
  text = '';
  ended = false;
  constructor(readonly io: Duplex) {
    io.on('data', (d: Buffer) => (this.text += d.toString('latin1')));
    io.on('end', () => (this.ended = true));
    io.on('close', () => (this.ended = true));
    io.on('error', () => (this.ended = true));
  }
  async waitFor(pattern: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.text.includes(pattern)) {
      if (Date.now() > deadline) throw new Error(`'${pattern}' not seen on the console within ${timeoutMs} ms; it got:\n${this.text.slice(-1500)}`);
      await sleep(20);
    }
  }
  async waitEnded(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('the console session did not end');
      await sleep(20);
    }
  }
  /**
   * Types a command that prints a marker the typed line does not contain (the shell computes
   * it), and waits for the marker: proof the guest ran it.
   */
  async run(tag: string): Promise<string> {
    const n = Math.floor(Math.random() * 1000);
    this.io.write(`echo ${tag}-$((${n}+1))-ok\n`);
    const marker = `${tag}-${n + 1}-ok`;
    await this.waitFor(marker);
    return marker;
  }
}

describe('QEMU serial console (domainOpenConsole) with real guests', { skip, timeout: 400_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let state: string;
  let previous: string | undefined;
  let conn: Connection;
  let drv: HypervisorDriver;
  const open: Duplex[] = [];

  before(async () => {
    state = reaper.tempDir('tsvqc-');
    guest = await buildTestGuest(join(state, 'guest'));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = state;
    conn = await connect('qemu:///session');
    drv = conn.driverFor('test');
  });

  after(async () => {
    for (const io of open) io.destroy();
    if (conn !== undefined) {
      for (const dom of await conn.listAllDomains(1).catch(() => [])) await dom.destroy().catch(() => undefined);
      await conn.close();
    }
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    await reaper.cleanup();
  });

  const consoleOf = async (name: string, devName: string | null, flags = 0): Promise<Session> => {
    const io = await drv.domainOpenConsole!(await drv.lookupByName(name), devName, flags);
    open.push(io);
    return new Session(io);
  };

  test('type into the guest shell and read its answer; the log keeps what came while nobody was attached; one session per device, FORCE takes over; a detached guest runs on; the session ends with the domain', async () => {
    const uuid = randomUUID();
    const dom = await conn.createXML(guestXML({ name: 'qc-a', uuid, guest, mode: 'B', shell: true, serial: '', pty: { log: false } }));
    const root = qemuLocations('/session').root;
    const log = join(root, 'log', `${uuid}.serial0.log`);
    // Nobody attached during boot: everything is in the per-domain serial log.
    await waitForText(log, 'GUEST-SHELL', 120_000);
    assert.equal(statSync(log).mode & 0o777, 0o600);
    const sock = join(qemuLocations('/session').runRoot, uuid, 'serial0.sock');
    assert.equal(statSync(sock).mode & 0o777, 0o600, 'console socket 0600');
    assert.equal(statSync(join(qemuLocations('/session').runRoot, uuid)).mode & 0o777, 0o700, 'runtime directory 0700');

    // Live XML: the user's type, no pty path handed out.
    const live = await dom.XMLDesc();
    assert.match(live, /<serial type='pty'>\s*<target [^>]*port='0'\/>/, live);
    assert.match(live, /<console type='pty'>\s*<target type='serial' port='0'\/>/, live);
    assert.doesNotMatch(live, /\/dev\/pts|tty=/);

    const first = await consoleOf('qc-a', null);
    // What the guest sends during a session is logged too.
    await waitForText(log, await first.run('one'), 10_000);

    // A second session on the same device, by either name, is refused; the first still works.
    for (const devName of [null, 'serial0', 'console0']) {
      await rejectsVir(drv.domainOpenConsole!(await drv.lookupByName('qc-a'), devName, 0), {
        code: ErrorNumber.OPERATION_FAILED,
        domain: ErrorDomain.QEMU,
        message: 'operation failed: Active console session exists for this domain',
      });
    }
    await first.run('still');

    // FORCE (with SAFE, which libvirt's qemu driver accepts): the old session ends, the new one types.
    const second = await consoleOf('qc-a', 'console0', DomainConsoleFlags.FORCE | DomainConsoleFlags.SAFE);
    await first.waitEnded();
    await second.run('two');

    // libvirt's other refusals.
    await rejectsVir(drv.domainOpenConsole!(await drv.lookupByName('qc-a'), 'serial7', DomainConsoleFlags.FORCE), {
      code: ErrorNumber.INTERNAL_ERROR,
      message: 'internal error: cannot find character device serial7',
    });
    await rejectsVir(drv.domainOpenConsole!(await drv.lookupByName('qc-a'), null, 4), {
      code: ErrorNumber.INVALID_ARG,
      message: /unsupported flags \(0x4\) in function qemuDomainOpenConsole/,
    });
    await second.run('after-refusals');

    // Output the guest writes after the session is gone lands in the log.
    second.io.write('sleep 1; echo late-$((40+2))-line\n');
    await second.waitFor('sleep 1');
    second.io.destroy();
    await waitForText(log, 'late-42-line', 30_000);
    assert.ok(!second.text.includes('late-42-line'), 'the detached session saw nothing more');
    assert.deepEqual((await dom.state())[0], DomainState.RUNNING);

    // The next console attaches without FORCE, and the guest answers.
    const third = await consoleOf('qc-a', 'serial0');
    await third.run('three');

    // The domain stops: the session ends.
    await dom.destroy();
    await third.waitEnded();
    assert.ok(!existsSync(sock), 'socket removed with the runtime directory');
  });

  test("the domain's <log file append='on'> is the log and survives define and dumpxml; a file port is no console; a guest that powers off ends the session; shut off, the domain is not running", async () => {
    const userLog = join(state, 'qc-b.console.log');
    const fileSerial = join(state, 'qc-b.serial1');
    const xml = guestXML({
      name: 'qc-b',
      uuid: randomUUID(),
      guest,
      mode: 'B',
      shell: true,
      serial: userLog,
      pty: { log: true },
      extraDevices: `<serial type='file'><source path='${fileSerial}'/><target port='1'/></serial>`,
    });
    const dom = await conn.defineXML(xml);
    for (const flags of [DomainXMLFlags.INACTIVE, 0]) {
      const out = await dom.XMLDesc(flags);
      assert.match(out, new RegExp(`<serial type='pty'>\\s*<log file='${userLog}' append='on'/>`), out);
      assert.match(out, new RegExp(`<console type='pty'>\\s*<log file='${userLog}' append='on'/>\\s*<target type='serial' port='0'/>`), out);
    }
    await rejectsVir(drv.domainOpenConsole!(await drv.lookupByName('qc-b'), null, 0), {
      code: ErrorNumber.OPERATION_INVALID,
      message: 'Requested operation is not valid: domain is not running',
    });

    await dom.create();
    try {
      await waitForText(userLog, 'GUEST-SHELL', 120_000);
      assert.equal(statSync(userLog).mode & 0o777, 0o600);
      const live = await dom.XMLDesc();
      assert.match(live, new RegExp(`<log file='${userLog}' append='on'/>`));

      await rejectsVir(drv.domainOpenConsole!(await drv.lookupByName('qc-b'), 'serial1', 0), {
        code: ErrorNumber.INTERNAL_ERROR,
        message: 'internal error: character device serial1 is not using a PTY',
      });
      // A session of another live process (its lock file beside the socket) is refused even
      // with FORCE, as libvirt's lock files; once that process is gone, the lock is stale.
      const other = spawn('sleep', ['60'], { stdio: 'ignore' });
      reaper.track(other.pid);
      const runDir = join(qemuLocations('/session').runRoot, dom.UUIDString());
      const start = readFileSync(`/proc/${other.pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
      writeFileSync(join(runDir, 'serial0.lock'), `${other.pid} ${start}\n`);
      await rejectsVir(drv.domainOpenConsole!(await drv.lookupByName('qc-b'), null, DomainConsoleFlags.FORCE), {
        code: ErrorNumber.OPERATION_FAILED,
        message: `operation failed: Requested device '${join(runDir, 'serial0.sock')}' is locked by lock file '${join(runDir, 'serial0.lock')}' held by process ${other.pid}`,
      });
      other.kill('SIGKILL');
      await new Promise((r) => other.once('exit', r));
      await sleep(100);
      const s = await consoleOf('qc-b', 'serial0');
      await s.run('b');
      assert.equal(readFileSync(join(runDir, 'serial0.lock'), 'utf8').split(' ')[0], String(process.pid));
      await waitForText(userLog, 'GUEST-SHELL', 1000);
      s.io.write('poweroff -f\n');
      await s.waitEnded(60_000);
      const deadline = Date.now() + 30_000;
      while ((await dom.state())[0] !== DomainState.SHUTOFF && Date.now() < deadline) await sleep(100);
      assert.deepEqual((await dom.state())[0], DomainState.SHUTOFF);
      await rejectsVir(drv.domainOpenConsole!(await drv.lookupByName('qc-b'), null, 0), {
        code: ErrorNumber.OPERATION_INVALID,
        domain: ErrorDomain.DOMAIN,
        message: 'Requested operation is not valid: domain is not running',
      });
      assert.ok(readText(userLog).includes('-ok'), 'the session is in the log');
    } finally {
      await dom.destroy().catch(() => undefined);
      await dom.undefine().catch(() => undefined);
    }
  });
});

describe('QEMU serial console through the public API (dom.openConsole on a Stream)', { skip, timeout: 300_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let previous: string | undefined;
  let conn: Connection;

  before(async () => {
    const state = reaper.tempDir('tsvqs-');
    guest = await buildTestGuest(join(state, 'guest'));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = state;
    conn = await connect('qemu:///session');
  });

  after(async () => {
    if (conn !== undefined) {
      for (const dom of await conn.listAllDomains(1).catch(() => [])) await dom.destroy().catch(() => undefined);
      await conn.close();
    }
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    await reaper.cleanup();
  });

  /** Receives from `st` until `pattern` arrives; throws at the end of data or after the timeout. */
  async function recvUntil(st: Stream, pattern: string, timeoutMs = 60_000): Promise<string> {
    let text = '';
    const deadline = Date.now() + timeoutMs;
    while (!text.includes(pattern)) {
      if (Date.now() > deadline) throw new Error(`'${pattern}' not received; got:\n${text.slice(-1500)}`);
      const chunk = await st.recv(65536);
      if (chunk.length === 0) throw new Error(`end of data before '${pattern}'; got:\n${text.slice(-1500)}`);
      text += chunk.toString('latin1');
    }
    return text;
  }

  test('send a command, receive its answer; a second stream is refused, FORCE takes over; finish detaches; destroy ends the stream', async () => {
    const uuid = randomUUID();
    const dom = await conn.createXML(guestXML({ name: 'qc-s', uuid, guest, mode: 'B', shell: true, serial: '', pty: { log: false } }));
    await waitForText(join(qemuLocations('/session').root, 'log', `${uuid}.serial0.log`), 'GUEST-SHELL', 120_000);

    const st = conn.newStream();
    await dom.openConsole(null, st);
    await st.send(Buffer.from('echo api-$((2+3))-one\n'));
    await recvUntil(st, 'api-5-one');

    await rejectsVir(dom.openConsole('serial0', conn.newStream()), {
      code: ErrorNumber.OPERATION_FAILED,
      message: 'operation failed: Active console session exists for this domain',
    });
    const forced = conn.newStream();
    await dom.openConsole('console0', forced, DomainConsoleFlags.FORCE);
    // The old stream sees the end of data.
    for (let chunk = await st.recv(65536); chunk.length > 0; chunk = await st.recv(65536));
    await forced.send(Buffer.from('echo api-$((3+3))-two\n'));
    await recvUntil(forced, 'api-6-two');
    await forced.finish();

    // Detached: the guest runs on and a new stream attaches without FORCE.
    assert.deepEqual((await dom.state())[0], DomainState.RUNNING);
    const again = conn.newStream();
    await dom.openConsole(null, again);
    await again.send(Buffer.from('echo api-$((4+3))-three\n'));
    await recvUntil(again, 'api-7-three');
    await dom.destroy();
    for (let chunk = await again.recv(65536); chunk.length > 0; chunk = await again.recv(65536));
  });
});

const pySkip = skip || pythonLibvirtSkip();

describe('QEMU serial console through tsvirtd, from python-libvirt', { skip: pySkip, timeout: 300_000 }, () => {
  const reaper = new Reaper();
  let d: RunningDaemon | undefined;

  after(async () => {
    if (d !== undefined) {
      for (const pid of guestPids(d.stateDir)) reaper.track(pid);
      await d.stop();
    }
    await reaper.cleanup();
  });

  test('virDomainOpenConsole over the wire: a command typed, its answer read; a second session refused in libvirt words; FORCE takes over', async () => {
    const dir = reaper.tempDir('tsvqp-');
    const guest = await buildTestGuest(join(dir, 'guest'));
    d = await startDaemon({ dir });
    const uri = `qemu+unix:///session?socket=${d.rw}`;
    const uuid = randomUUID();
    const xmlFile = join(dir, 'qc-p.xml');
    writeFileSync(xmlFile, guestXML({ name: 'qc-p', uuid, guest, mode: 'B', shell: true, serial: '', pty: { log: false } }));
    const created = python(`import libvirt,sys\nc=libvirt.open(sys.argv[1])\nc.createXML(open(sys.argv[2]).read(),0)`, uri, xmlFile);
    assert.equal(created.code, 0, created.stderr);
    await waitForText(join(d.stateDir, 'qemu', 'log', `${uuid}.serial0.log`), 'GUEST-SHELL', 120_000);
    const script = [
      'import libvirt, sys',
      'c = libvirt.open(sys.argv[1])',
      "dom = c.lookupByName('qc-p')",
      'st = c.newStream(0)',
      'dom.openConsole(None, st, 0)',
      "st.send(b'echo py-$((5+5))-x\\n')",
      "buf = b''",
      "while b'py-10-x' not in buf:",
      '    buf += st.recv(4096)',
      "print('ANSWER', b'py-10-x' in buf)",
      'try:',
      "    dom.openConsole('serial0', c.newStream(0), 0)",
      'except libvirt.libvirtError as e:',
      "    print('SECOND', e.get_error_code(), e.get_error_message())",
      'st2 = c.newStream(0)',
      'dom.openConsole(None, st2, libvirt.VIR_DOMAIN_CONSOLE_FORCE)',
      "st2.send(b'echo py-$((6+6))-y\\n')",
      "buf = b''",
      "while b'py-12-y' not in buf:",
      '    buf += st2.recv(4096)',
      "print('FORCED', b'py-12-y' in buf)",
      'st2.finish()',
      'dom.destroy()',
    ].join('\n');
    const r = python(script, uri);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ANSWER True$/m);
    assert.match(r.stdout, /^SECOND 9 operation failed: Active console session exists for this domain$/m);
    assert.match(r.stdout, /^FORCED True$/m);
  });
});

describe('<serial>/<console> XML keeps <log> and <target>', () => {
  test('parse and format round-trip, the console mirroring the serial port', () => {
    const def = parseDomainXML(`<domain type='qemu'><name>x</name><memory>131072</memory><os><type>hvm</type></os><devices>
      <serial type='pty'><log file='/var/log/x.log' append='off'/><target type='isa-serial' port='0'/></serial>
      <serial type='null'><log file='/var/log/n.log'/><target port='1'/></serial>
    </devices></domain>`);
    assert.deepEqual(def.devices.serials[0].log, { file: '/var/log/x.log', append: 'off' });
    assert.deepEqual(def.devices.serials[1].log, { file: '/var/log/n.log' });
    assert.deepEqual(def.devices.consoles[0].log, { file: '/var/log/x.log', append: 'off' });
    const out = formatDomainXML(def);
    assert.match(out, /<serial type='pty'>\n\s*<log file='\/var\/log\/x.log' append='off'\/>\n\s*<target type='isa-serial' port='0'\/>/);
    assert.match(out, /<serial type='null'>\n\s*<log file='\/var\/log\/n.log'\/>\n\s*<target port='1'\/>/);
    assert.match(out, /<console type='pty'>\n\s*<log file='\/var\/log\/x.log' append='off'\/>\n\s*<target type='serial' port='0'\/>/);
    assert.deepEqual(parseDomainXML(out, { stored: true }).devices, def.devices);
  });
});
