/**
 * What a client of tsvirtd may reach: the read-only socket never gets secrets (`virsh dumpxml
 * --security-info`); a daemon serves only the URIs it is configured for (by default, what
 * libvirtd's drivers of its kind serve: qemu:///system for root, qemu:///session otherwise, and
 * the test driver), and refuses every other URI as libvirtd refuses one it has no driver for,
 * before any driver is loaded or any file created: no vSphere login, no VBoxManage, no probe of a
 * unix socket, no store. Clients on both sockets are refused alike. And a client flooding the
 * read-only socket with unknown procedures cannot flood the daemon's log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { MessageStatus } from '../src/rpc/message.js';
import { Proc, openArgs } from '../src/rpc/procedures.js';
import { VIR_CONNECT_RO } from '../src/rpc/protocol.js';
import { defaultServedURIs, UriPolicy } from '../src/daemon/uris.js';
import { Logger } from '../src/daemon/log.js';
import { DAEMON_MAIN, RawClient, errorOf, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';
import { DAEMON_NODE_FLAGS } from '../src/daemon/node-flags.js';

/** A listener that counts who connects to it: proof that the daemon never dialled it. */
async function countingListener(listen: (s: Server) => void): Promise<{ server: Server; hits: () => number }> {
  let n = 0;
  const server = createServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((resolve) => {
    server.once('listening', () => resolve());
    listen(server);
  });
  return { server, hits: () => n };
}

/** CONNECT_OPEN of `uri` on `path`; the reply's error, or null when it opened. */
async function openError(path: string, uri: string, flags = 0): Promise<{ code: number; domain: number; message: string } | null> {
  const c = await RawClient.connect(path);
  try {
    const r = await c.callWith(Proc.CONNECT_OPEN, openArgs, { name: uri, flags });
    if (r.header.status === MessageStatus.OK) return null;
    const e = errorOf(r);
    return { code: e.code, domain: e.domain, message: e.message ?? '' };
  } finally {
    c.close();
  }
}

const NO_CONNECT = 5;
const NOBODY = 65534;

/** Why a daemon cannot be run as `nobody` here, or false. */
function asNobodySkip(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (runs the daemon as nobody)';
  if (spawnSync('setpriv', ['--version']).status !== 0) return 'setpriv (util-linux) is missing';
  // A checkout under a directory only root may enter (/root, a 0700 mktemp) cannot run as nobody.
  const readable = spawnSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', 'test', '-r', DAEMON_MAIN]);
  return readable.status === 0 ? false : `user nobody cannot read ${DAEMON_MAIN} (the checkout is in a directory only root may enter)`;
}

describe('tsvirtd: which URIs a daemon serves', () => {
  let d: RunningDaemon;
  let dir: string;
  let esx: Awaited<ReturnType<typeof countingListener>>;
  let sock: Awaited<ReturnType<typeof countingListener>>;
  let esxURI: string;
  let probe: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsvirtd-access-'));
    esx = await countingListener((s) => s.listen(0, '127.0.0.1'));
    const port = (esx.server.address() as { port: number }).port;
    esxURI = `esx://127.0.0.1:${port}/?no_verify=1`;
    probe = join(dir, 'probe.sock');
    sock = await countingListener((s) => s.listen(probe));
    // The daemon's defaults, as root runs it in these tests.
    d = await startDaemon({ dir: join(dir, 'd'), uris: null });
  });
  after(async () => {
    await d?.dispose();
    esx?.server.close();
    sock?.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the defaults: root serves qemu:///system and the test driver; others qemu:///session and the test driver; never esx, vbox or a remote URI', () => {
    assert.deepEqual(defaultServedURIs(0), ['qemu:///system', 'test:///default', 'test:///session']);
    assert.deepEqual(defaultServedURIs(1000), ['qemu:///session', 'test:///default', 'test:///session']);
    const root = new UriPolicy(defaultServedURIs(0));
    assert.equal(root.serves('qemu:///system'), true);
    assert.equal(root.serves('test:///default'), true);
    assert.equal(root.serves('qemu:///session'), false);
    assert.equal(root.serves('esx://127.0.0.1/'), false);
    assert.equal(root.serves('vbox:///session'), false);
    assert.equal(root.serves('test+unix:///default?socket=/x'), false);
    const user = new UriPolicy(defaultServedURIs(1000));
    assert.equal(user.serves('qemu:///session'), true);
    assert.equal(user.serves('qemu:///system'), false);
    // Entries: an exact URI (scheme, host, path; the query is the driver's) or a whole scheme.
    const p = new UriPolicy(['esx:', 'vbox:///session', 'test:///default']);
    assert.equal(p.serves('esx://10.0.0.1/?no_verify=1'), true);
    assert.equal(p.serves('vpx://10.0.0.1/dc/cluster/host'), false);
    assert.equal(p.serves('vbox:///session'), true);
    assert.equal(p.serves('test:///default?x=1'), true);
    assert.equal(p.serves('test:///session'), false);
    assert.equal(p.serves('TEST:///default'), true);
    assert.equal(p.serves('not a uri'), false);
    assert.throws(() => new UriPolicy(['test+unix:///default']), /tsvirtd never serves a remote URI/);
    assert.throws(() => new UriPolicy(['qemu+tcp://h/system']), /tsvirtd never serves a remote URI/);
    assert.throws(() => new UriPolicy(['nonsense']), /not a URI/);
  });

  for (const [label, socketOf, flags] of [
    ['read-only socket', (x: RunningDaemon) => x.ro, 0],
    ['read-write socket, read-only flag', (x: RunningDaemon) => x.rw, VIR_CONNECT_RO],
    ['read-write socket', (x: RunningDaemon) => x.rw, 0],
  ] as const) {
    test(`${label}: esx, vbox, a remote +unix URI and qemu:///session are refused with VIR_ERR_NO_CONNECT; nothing dialled or created`, async () => {
      for (const uri of [esxURI, 'esx://127.0.0.1/', 'vbox:///session', `test+unix:///default?socket=${probe}`, `qemu+unix:///session?socket=${probe}`, 'qemu:///session']) {
        const e = await openError(socketOf(d), uri, flags);
        assert.deepEqual(e, { code: NO_CONNECT, domain: 0, message: `no connection driver available for ${uri}` }, uri);
      }
      assert.equal(esx.hits(), 0, 'no connection to the vSphere endpoint');
      assert.equal(sock.hits(), 0, 'no probe of the unix socket');
      assert.equal(existsSync(join(d.stateDir, 'qemu')), false, `no qemu store: ${existsSync(d.stateDir) ? readdirSync(d.stateDir).join(' ') : ''}`);
      // The daemon still serves what it serves.
      assert.equal(await openError(socketOf(d), 'test:///default', flags), null);
    });
  }

  test('virsh through the read-only socket: an URI the daemon does not serve gets libvirtd\'s words', { skip: virshSkip() }, () => {
    const r = virsh(`vbox+unix:///session?socket=${d.ro}`, 'uri');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no connection driver available for vbox:\/\/\/session/);
    const q = virsh(`qemu+unix:///session?socket=${d.ro}`, 'list');
    assert.match(q.stderr, /no connection driver available for qemu:\/\/\/session/);
    assert.equal(existsSync(join(d.stateDir, 'qemu')), false);
  });

  test('a daemon run by another user than root serves qemu:///session, not qemu:///system', { skip: asNobodySkip() }, async () => {
    // Its own directory: the suite's is root's, 0700.
    const home = mkdtempSync(join(tmpdir(), 'tsvirtd-nobody-'));
    chownSync(home, NOBODY, NOBODY);
    const socketDir = join(home, 'sock');
    const p = spawn('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath, ...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--socket-dir', socketDir], {
      env: { ...process.env, HOME: home, TSVIRT_STATE_DIR: join(home, 'state'), XDG_RUNTIME_DIR: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    try {
      const deadline = Date.now() + 10_000;
      while (!out.includes('ready') && p.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.match(out, /serving qemu:\/\/\/session, test:\/\/\/default, test:\/\/\/session/);
      const ro = join(socketDir, 'libvirt-sock-ro');
      assert.deepEqual(await openError(ro, 'qemu:///system'), { code: NO_CONNECT, domain: 0, message: 'no connection driver available for qemu:///system' });
      assert.equal(existsSync('/var/lib/tsvirt/qemu'), false);
      assert.equal(await openError(ro, 'test:///default'), null);
    } finally {
      p.kill('SIGTERM');
      await new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)));
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('--uri replaces the defaults: only test:///default, so test:///session and qemu:///system are refused and no store is made', async () => {
    const only = await startDaemon({ dir: join(dir, 'only'), uris: ['test:///default'] });
    try {
      for (const uri of ['test:///session', 'qemu:///system', 'qemu:///session']) {
        assert.deepEqual(await openError(only.ro, uri), { code: NO_CONNECT, domain: 0, message: `no connection driver available for ${uri}` });
        assert.deepEqual(await openError(only.rw, uri), { code: NO_CONNECT, domain: 0, message: `no connection driver available for ${uri}` });
      }
      assert.equal(existsSync(only.stateDir), false);
      assert.equal(existsSync('/var/lib/tsvirt/qemu/qemu.db'), false, 'no system store');
      assert.equal(await openError(only.ro, 'test:///default'), null);
    } finally {
      await only.dispose();
    }
  });

  test('--uri esx: serves esx:// when the operator asks for it (the daemon then dials the endpoint)', async () => {
    const withEsx = await startDaemon({ dir: join(dir, 'esx'), uris: ['esx:', 'test:///default'] });
    try {
      const e = await openError(withEsx.rw, esxURI);
      assert.notEqual(e?.code, NO_CONNECT, JSON.stringify(e));
      assert.ok(esx.hits() > 0, 'the endpoint was dialled');
    } finally {
      await withEsx.dispose();
    }
  });

  test('a remote URI in --uri is refused at start', () => {
    const r = spawnSync(process.execPath, [...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--socket-dir', join(dir, 'bad'), '--uri', 'test+unix:///default?socket=/x'], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    assert.equal(r.status, 2, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /tsvirtd never serves a remote URI/);
  });
});

describe('tsvirtd: the read-only socket', () => {
  let d: RunningDaemon;
  before(async () => {
    d = await startDaemon({ verbose: false });
  });
  after(async () => {
    await d?.dispose();
  });

  test('virsh dumpxml --security-info on the read-only socket: OPERATION_DENIED "virDomainGetXMLDesc with secure flag"', { skip: virshSkip() }, () => {
    const r = virsh(d.uri('/default', true), 'dumpxml', '--security-info', 'test');
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.stderr.trim(), 'error: operation forbidden: virDomainGetXMLDesc with secure flag');
    assert.equal(virsh(d.uri('/default', true), 'dumpxml', 'test').code, 0);
  });

  test('a raw client gets VIR_ERR_OPERATION_DENIED (29) from VIR_FROM_DOMAIN for GET_XML_DESC with SECURE', async () => {
    const c = await RawClient.connect(d.ro);
    try {
      assert.equal((await c.callWith(Proc.CONNECT_OPEN, openArgs, { name: 'test:///default', flags: 0 })).header.status, MessageStatus.OK);
      const look = await c.call(Proc.DOMAIN_LOOKUP_BY_NAME, xdrString('test'));
      assert.equal(look.header.status, MessageStatus.OK);
      // remote_domain (the lookup's reply) then flags = VIR_DOMAIN_XML_SECURE (1).
      const flags = Buffer.alloc(4);
      flags.writeUInt32BE(1);
      const r = await c.call(Proc.DOMAIN_GET_XML_DESC, Buffer.concat([look.payload, flags]));
      const e = errorOf(r);
      assert.deepEqual([e.code, e.domain, e.message], [29, 20, 'operation forbidden: virDomainGetXMLDesc with secure flag']);
    } finally {
      c.close();
    }
  });

  test('a flood of unknown procedures on the read-only socket logs a bounded number of lines, and says how many it suppressed', async () => {
    const from = d.log().length;
    const c = await RawClient.connect(d.ro);
    const N = 3000;
    try {
      assert.equal((await c.callWith(Proc.CONNECT_OPEN, openArgs, { name: 'test:///default', flags: 0 })).header.status, MessageStatus.OK);
      const replies = await Promise.all(Array.from({ length: N }, () => c.call(9999)));
      assert.equal(replies.length, N);
      for (const r of replies) assert.equal(errorOf(r).message, 'unknown procedure: 9999');
    } finally {
      c.close();
    }
    // Each second's note on what was left out comes when that second is over.
    const count = () => {
      const lines = d.log().slice(from).split('\n');
      const logged = lines.filter((l) => /unknown procedure 9999/.test(l)).length;
      const notes = lines.filter((l) => /suppressed \d+ messages like: client #: unknown procedure #/.test(l));
      return { logged, notes, suppressed: notes.reduce((n, l) => n + Number(/suppressed (\d+) /.exec(l)![1]), 0) };
    };
    const deadline = Date.now() + 5000;
    while (count().logged + count().suppressed < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const { logged, notes, suppressed } = count();
    // 20 a second: the burst takes a second or two here.
    assert.ok(logged > 0 && logged <= 100, `${logged} lines logged for ${N} unknown procedures`);
    assert.equal(logged + suppressed, N, notes.join('\n'));
  });
});

test('the logger writes to its file asynchronously, in order, and flushes on close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirtd-log-'));
  try {
    const file = join(dir, 'd.log');
    const log = new Logger('info', file);
    log.info('first');
    log.warn('second');
    // Nothing written in the caller's turn: a slow disk never stalls the daemon's event loop.
    assert.equal(readFileSync(file, 'utf8'), '');
    await new Promise((r) => setTimeout(r, 100));
    assert.match(readFileSync(file, 'utf8'), /info : first\n.*warn : second\n$/);
    log.info('third');
    // Nothing in flight: close() writes the rest before it returns.
    void log.close();
    assert.match(readFileSync(file, 'utf8'), /info : third\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the logger limits lines per kind and in all, whatever text a client varies', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirtd-log-'));
  try {
    const file = join(dir, 'd.log');
    const log = new Logger('info', file);
    const letters = (i: number) => [...i.toString(26)].map((c) => String.fromCharCode(97 + parseInt(c, 26))).join('');
    // 100 kinds (no digits to mask), 10 lines each: within each kind's 20 a second, not within
    // the 200 a second of all kinds.
    for (let n = 0; n < 10; n++) for (let i = 0; i < 100; i++) log.info(`client: opened test:///default?${letters(i)}`);
    await new Promise((r) => setTimeout(r, 1300));
    await log.close();
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    const notes = lines.filter((l) => / suppressed \d+ messages like: /.test(l));
    const plain = lines.length - notes.length;
    // At most 200 a second; the burst may straddle two seconds.
    assert.ok(plain <= 400, `${plain} lines written of 1000`);
    const suppressed = notes.reduce((n, l) => n + Number(/suppressed (\d+) /.exec(l)![1]), 0);
    assert.equal(plain + suppressed, 1000);
    assert.ok(notes.length <= 100, `${notes.length} notes`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function xdrString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const pad = (4 - (b.length % 4)) % 4;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b, Buffer.alloc(pad)]);
}
