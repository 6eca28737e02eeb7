/**
 * tsvirtd at the protocol level, with a raw client: libvirtd's answers to unknown procedures,
 * programs and versions and to calls before CONNECT_OPEN; the read-only socket refusing every
 * mutating procedure of the table; keepalive; the daemon's --timeout, --daemon and --pidfile.
 */
import { REMOTE_PROCEDURES } from '../src/rpc/procedure-names.generated.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageStatus, MessageType, encodeFrame } from '../src/rpc/message.js';
import { KEEPALIVE_PROGRAM, REMOTE_PROGRAM, VIR_CONNECT_RO, uuidFromString } from '../src/rpc/protocol.js';
import { PROCEDURES, Proc, openArgs, getStateRet } from '../src/rpc/procedures.js';
import { decode } from '../src/rpc/xdr.js';
import { Client } from '../src/daemon/client.js';
import { ConnectionFactory } from '../src/daemon/connections.js';
import { DAEMON_MAIN, RawClient, errorOf, startDaemon, type RunningDaemon } from './support/daemon-harness.js';
import { DAEMON_NODE_FLAGS } from '../src/daemon/node-flags.js';
import { FakeSocket, RecordingLogger } from './support/daemon-fake-socket.js';

const testDom = { name: 'test', uuid: uuidFromString('6695eb01-f6a4-8304-79aa-97f2502e193f'), id: 1 };
/** One value with every field a procedure's arguments may have; struct codecs take theirs. */
const anyArgs = {
  dom: testDom,
  flags: 0,
  xml: "<domain type='test'><name>ro1</name><memory>1024</memory><os><type>hvm</type></os></domain>",
  snap: { name: 's1', dom: testDom },
  // The checkpoint procedures' handle.
  checkpoint: { name: 'c1', dom: testDom },
  // The network procedures' handle (test:///default's preset network).
  net: { name: 'default', uuid: uuidFromString('dd8fe884-6c02-601e-7551-cca97df1c5df') },
  mac: null,
  needResults: 0,
  autostart: 1,
  name: 'test',
  screen: 0,
  // The graphics procedures' device index.
  idx: 0,
  devName: null,
  // The arguments of the vCPU, memory and scheduler setters.
  memory: 1024,
  nvcpus: 1,
  params: [{ field: 'weight', type: 2, value: 1 }],
  // The device alias of DETACH_DEVICE_ALIAS.
  alias: 'ua-x',
  // The migration steps' (302-307).
  cookieIn: Buffer.alloc(0),
  dconnuri: null,
  cancelled: 0,
  // The statistics, tuning and migration-speed procedures'.
  path: 'vda',
  // Block resize and the peeks.
  disk: 'vda',
  size: 0,
  device: 'testnet0',
  bandwidth: 1,
  // The storage procedures' handles and arguments.
  pool: { name: 'default-pool', uuid: Buffer.from('dfe224cb28fb8dd0c4b264eb3f0f4566', 'hex') },
  vol: { pool: 'default-pool', name: 'v', key: '/default-pool/v' },
  clonevol: { pool: 'default-pool', name: 'v', key: '/default-pool/v' },
  algorithm: 0,
  capacity: 1024,
  offset: 0,
  length: 0,
  // Metadata, rename, pinning, save files.
  type: 0,
  metadata: 'x',
  key: null,
  uri: null,
  newName: 'ro2',
  vcpu: 0,
  cpumap: Buffer.from([1]),
  to: '/nonexistent/ro.img',
  from: '/nonexistent/ro.img',
  file: '/nonexistent/ro.img',
  dxml: '<domain/>',
};

async function opened(path: string, flags = 0): Promise<RawClient> {
  const c = await RawClient.connect(path);
  assert.equal((await c.call(Proc.AUTH_LIST)).payload.toString('hex'), '0000000100000000');
  const r = await c.callWith(Proc.CONNECT_OPEN, openArgs, { name: 'test:///default', flags });
  assert.equal(r.header.status, MessageStatus.OK);
  return c;
}

describe('tsvirtd protocol', () => {
  let d: RunningDaemon;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d?.dispose();
  });

  test('an unknown procedure gets VIR_ERR_RPC "unknown procedure: N" and the connection stays usable', async () => {
    const c = await opened(d.rw);
    try {
      const r = await c.call(9999);
      assert.deepEqual([r.header.proc, r.header.type, r.header.status], [9999, MessageType.REPLY, MessageStatus.ERROR]);
      const e = errorOf(r);
      assert.deepEqual([e.code, e.domain, e.message, e.level, e.str1, e.str2], [39, 7, 'unknown procedure: 9999', 2, '%s', 'unknown procedure: 9999']);
      const badProg = errorOf(await c.call(1, Buffer.alloc(0), { prog: 0x12345678 }));
      assert.equal(badProg.message, 'Cannot find program 305419896 version 1');
      const badVers = await c.call(3, Buffer.alloc(0), { vers: 2 });
      assert.equal(badVers.header.vers, 2);
      assert.equal(errorOf(badVers).message, 'Cannot find program 536903814 version 2');
      const ok = await c.call(Proc.CONNECT_GET_TYPE);
      assert.equal(ok.payload.toString('hex'), '0000000454455354');
    } finally {
      c.close();
    }
  });

  test('a call before CONNECT_OPEN: internal error "hypervisor connection not open"', async () => {
    const c = await RawClient.connect(d.rw);
    try {
      await c.call(Proc.AUTH_LIST);
      const e = errorOf(await c.call(Proc.CONNECT_LIST_ALL_DOMAINS, Buffer.from('0000000100000003', 'hex')));
      assert.deepEqual([e.code, e.domain, e.message, e.str1, e.str2], [1, 7, 'internal error: hypervisor connection not open', 'internal error: %s', 'hypervisor connection not open']);
    } finally {
      c.close();
    }
  });

  test('undecodable arguments get an error reply, not a dropped connection', async () => {
    const c = await opened(d.rw);
    try {
      const e = errorOf(await c.call(Proc.DOMAIN_LOOKUP_BY_NAME, Buffer.from('ffffffff', 'hex')));
      assert.deepEqual([e.code, e.domain], [39, 7]);
      assert.equal((await c.call(Proc.CONNECT_GET_TYPE)).header.status, MessageStatus.OK);
    } finally {
      c.close();
    }
  });

  for (const [label, path, flags] of [
    ['libvirt-sock-ro', 'ro', 0],
    ['libvirt-sock with VIR_CONNECT_RO', 'rw', VIR_CONNECT_RO],
  ] as const) {
    test(`read-only (${label}): every mutating procedure of the table is refused with VIR_ERR_OPERATION_DENIED and changes nothing`, async () => {
      const c = await opened(path === 'ro' ? d.ro : d.rw, flags);
      try {
        const mutating = [...PROCEDURES.values()].filter((s) => s.mutating);
        assert.ok(mutating.length >= 15);
        for (const spec of mutating) {
          const r = await c.callWith(spec.proc, spec.args, anyArgs);
          assert.equal(r.header.status, MessageStatus.ERROR, spec.name);
          const e = errorOf(r);
          assert.equal(e.code, 29, spec.name);
          assert.equal(e.message, `operation forbidden: read only access prevents ${spec.api}`);
          assert.equal(e.str1, 'operation forbidden: %s');
          // The error domain of the API's module: libvirt-domain-snapshot.c 35, libvirt-domain-checkpoint.c 69,
          // libvirt-network.c 19, libvirt-storage.c 18.
          const storage = spec.api.startsWith('virStorage') || spec.api.includes('StoragePool');
          const module =
            spec.api.startsWith('virDomainSnapshot') || spec.api === 'virDomainRevertToSnapshot'
              ? 35
              : spec.api.startsWith('virDomainCheckpoint')
                ? 69
                : spec.api.startsWith('virNetwork')
                  ? 19
                  : storage
                    ? 18
                    : 20;
          assert.equal(e.domain, module, spec.name);
          // …which is what libvirt 9.0's own table of its sources says.
          const known = REMOTE_PROCEDURES.get(spec.proc);
          if (known?.kind === 'api') assert.equal(e.domain, known.domain, spec.name);
        }
        const st = await c.callWith(Proc.DOMAIN_GET_STATE, PROCEDURES.get(Proc.DOMAIN_GET_STATE)!.args, anyArgs);
        assert.deepEqual(decode(getStateRet, st.payload), { state: 1, reason: 0 });
      } finally {
        c.close();
      }
    });
  }

  test('keepalive: a PING is answered with a PONG (program 0x6b656570, MESSAGE, serial 0)', async () => {
    const c = await opened(d.rw);
    try {
      c.send(encodeFrame({ prog: KEEPALIVE_PROGRAM, vers: 1, proc: 1, type: MessageType.MESSAGE, serial: 0, status: 0 }));
      const end = Date.now() + 3000;
      while (c.messages.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(c.messages[0]?.header, { prog: KEEPALIVE_PROGRAM, vers: 1, proc: 2, type: MessageType.MESSAGE, serial: 0, status: 0 });
    } finally {
      c.close();
    }
  });
});

test('keepalive: a client that asked for keepalive is pinged when silent, and dropped after the count', async () => {
  const sock = new FakeSocket();
  const client = new Client({
    id: 1,
    socket: sock.asSocket(),
    readonlySocket: false,
    factory: new ConnectionFactory(),
    log: new RecordingLogger(),
    keepaliveIntervalMs: 40,
    keepaliveCount: 2,
    onClose: () => {},
  });
  try {
    sock.feed(encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: Proc.CONNECT_SUPPORTS_FEATURE, type: 0, serial: 0, status: 0 }, Buffer.from('0000000a', 'hex')));
    const end = Date.now() + 3000;
    while (!sock.destroyed && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    assert.equal(sock.destroyed, true, 'dropped after unanswered pings');
    const pings = sock.frames.filter((f) => f.header.prog === KEEPALIVE_PROGRAM && f.header.proc === 1);
    assert.equal(pings.length, 2);
  } finally {
    await client.shutdown('test over');
  }
});

test('a client that stops reading is dropped once its unread output passes the limit', async () => {
  const sock = new FakeSocket();
  const log = new RecordingLogger();
  const client = new Client({
    id: 1,
    socket: sock.asSocket(),
    readonlySocket: false,
    factory: new ConnectionFactory(),
    log,
    maxPendingOutput: 1024,
    onClose: () => {},
  });
  try {
    const ping = encodeFrame({ prog: KEEPALIVE_PROGRAM, vers: 1, proc: 1, type: 2, serial: 0, status: 0 });
    sock.feed(ping);
    assert.equal(sock.frames.length, 1, 'answered while the peer reads');
    sock.stalled = true;
    for (let i = 0; i < 100 && !sock.destroyed; i++) sock.feed(ping);
    const end = Date.now() + 2000;
    while (!sock.destroyed && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    assert.equal(sock.destroyed, true, 'dropped');
    assert.ok(sock.writableLength <= 1024 + 64, `stopped writing near the limit (${sock.writableLength} bytes)`);
    assert.match(log.problems.join('\n'), /more than 1024 bytes unread; closing/);
  } finally {
    await client.shutdown('test over');
  }
});

test("tsvirtd's bin line carries the Node flags of node-flags.ts, and runs through env -S", () => {
  const first = readFileSync(DAEMON_MAIN, 'utf8').split('\n')[0];
  assert.equal(first, `#!/usr/bin/env -S node ${DAEMON_NODE_FLAGS.join(' ')}`);
  // Executed as the bin is (npm links it), not through `node main.js`.
  const r = spawnSync(DAEMON_MAIN, ['--help'], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Usage: tsvirtd/);
});

test('tsvirtd --timeout exits when idle; --daemon writes the pidfile and SIGTERM removes it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirtd-opt-'));
  try {
    const idle = await startDaemon({ dir, args: ['--timeout', '1'] });
    const code = await new Promise<number | null>((resolve) => idle.proc.once('exit', resolve));
    assert.equal(code, 0);
    assert.equal(existsSync(idle.rw), false, 'sockets removed');

    const sock = join(dir, 'dsock');
    const pidfile = join(dir, 'tsvirtd.pid');
    const r = spawnSync(process.execPath, [DAEMON_MAIN, '--daemon', '--socket-dir', sock, '--pidfile', pidfile, '--timeout', '30'], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.status, 0, r.stderr);
    const pid = Number(readFileSync(pidfile, 'utf8').trim());
    assert.ok(pid > 0 && pid !== process.pid);
    // Started here without them, the detached daemon still runs with tsvirtd's Node flags.
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    for (const flag of DAEMON_NODE_FLAGS) assert.ok(argv.includes(flag), `${flag} missing from ${argv.join(' ')}`);
    const c = await opened(join(sock, 'libvirt-sock'));
    c.close();
    process.kill(pid, 'SIGTERM');
    const end = Date.now() + 5000;
    while (existsSync(pidfile) && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
    assert.equal(existsSync(pidfile), false, 'pidfile removed on SIGTERM');
    assert.equal(existsSync(join(sock, 'libvirt-sock')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
