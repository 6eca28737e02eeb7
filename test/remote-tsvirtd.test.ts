/**
 * The remote driver against tsvirtd: the core rule scenarios through the daemon behave exactly as
 * on the embedded URIs (same codes, error domains, messages, values and events); events arrive
 * through callbacks and the async iterator; stale handles; the read-only socket; and the errors
 * when the daemon is absent, silent or dies mid-call.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorDomain, ErrorNumber, VirError, connect, type Connection } from '../src/index.js';
import { openRemoteDriver } from '../src/drivers/remote/driver.js';
import { parseRemoteURI } from '../src/drivers/remote/uri.js';
import { FrameReader, MessageStatus, MessageType, encodeFrame, type Frame } from '../src/rpc/message.js';
import { Proc } from '../src/rpc/procedures.js';
import { XdrWriter } from '../src/rpc/xdr.js';
import { startDaemon, virshSkip, type RunningDaemon } from './support/daemon-harness.js';
import { cleanEnv, tsvirt, virsh as cliVirsh } from './cli-harness.js';
import { domainXML, rejectsVir, snapshotXML, tempStateDir } from './support/fixtures.js';
import { SCENARIOS, recordEvents, type Scenario, type ScenarioContext } from './support/remote-scenarios.js';

const UUID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
/** A run's log with UUIDs (random per run) blanked. */
const normalised = (log: unknown[]): unknown => JSON.parse(JSON.stringify(log).replace(UUID_RE, '<uuid>'));

/** Runs a scenario on connections from `open`, closing them all afterwards; returns its log. */
export async function runScenario(s: Scenario, open: () => Promise<Connection>, target: ScenarioContext['target']): Promise<unknown[]> {
  const conns: Connection[] = [];
  const opened = async () => {
    const c = await open();
    conns.push(c);
    return c;
  };
  const ctx: ScenarioContext = { conn: await opened(), another: opened, target, log: [] };
  try {
    await s.run(ctx);
  } finally {
    for (const c of conns.reverse()) await c.close();
  }
  return ctx.log;
}

/** The same scenario on the embedded URI, with a private state directory. */
async function runEmbedded(s: Scenario, uri: string): Promise<unknown[]> {
  const state = tempStateDir();
  const previous = process.env.TSVIRT_STATE_DIR;
  process.env.TSVIRT_STATE_DIR = state.dir;
  try {
    return await runScenario(s, () => connect(uri), 'tsvirt');
  } finally {
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    state.cleanup();
  }
}

let daemon: RunningDaemon;
before(async () => {
  daemon = await startDaemon();
});
after(async () => {
  await daemon?.dispose();
});

for (const path of ['/default', '/session'] as const) {
  describe(`test+unix://${path} through tsvirtd`, () => {
    for (const s of SCENARIOS) {
      test(s.name, async () => {
        const remote = await runScenario(s, () => connect(daemon.uri(path)), 'tsvirt');
        if (s.needsSharedState === true && path === '/default') return; // embedded test:///default is per connection
        const embedded = await runEmbedded(s, `test://${path}`);
        assert.deepEqual(normalised(remote), normalised(embedded));
      });
    }
  });
}

describe('remote connection basics', () => {
  test('type, URI, version and liveness come from the daemon', async () => {
    const conn = await connect(daemon.uri('/session'));
    try {
      assert.equal(conn.getType(), 'TEST');
      assert.equal(conn.getURI(), daemon.uri('/session'));
      assert.equal(await conn.getVersion(), 2);
      assert.equal(await conn.isAlive(), true);
      assert.equal(typeof (await conn.getHostname()), 'string');
    } finally {
      await conn.close();
    }
    assert.equal(await conn.isAlive(), false);
    await rejectsVir(conn.listAllDomains(), { code: ErrorNumber.INVALID_CONN });
  });

  test('host calls (capabilities, node info, sysinfo) answer as the embedded driver', async () => {
    const [remote, embedded] = [await connect(daemon.uri('/default')), await connect('test:///default')];
    try {
      assert.equal(await remote.getCapabilities(), await embedded.getCapabilities());
      assert.deepEqual(await remote.getInfo(), ['i686', 3072, 16, 1400, 2, 2, 2, 2]);
      assert.deepEqual(await remote.getNodeInfo(), await embedded.getNodeInfo());
      assert.equal(await remote.getSysinfo(), await embedded.getSysinfo());
      await rejectsVir(remote.getSysinfo(4), { code: ErrorNumber.INVALID_ARG, message: 'unsupported flags (0x4) in function testConnectGetSysinfo' });
    } finally {
      await remote.close();
      await embedded.close();
    }
  });

  test('the tsvirt CLI through tsvirtd prints nodeinfo, capabilities and sysinfo as virsh does', { skip: virshSkip() }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvirt-host-'));
    try {
      const env = cleanEnv(dir);
      for (const cmd of ['nodeinfo', 'capabilities', 'sysinfo']) {
        const [v, t] = [await cliVirsh(['-c', daemon.uri('/default'), cmd], { cwd: dir, env }), await tsvirt(['-c', daemon.uri('/default'), cmd], { cwd: dir, env })];
        assert.equal(v.status, 0, v.stderr);
        assert.deepEqual(t, v, `tsvirt ${cmd}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a daemon without REMOTE_EVENT_CALLBACK: the remote driver registers with the legacy procedure and gets events', async () => {
    const old = await startDaemon({ args: ['--no-event-callbacks'] });
    try {
      const conn = await connect(old.uri('/default'));
      try {
        const seen: [string, number, number][] = [];
        const id = conn.domainEventRegisterAny(null, 0, (_c, d, e, detail) => seen.push([d.name(), e, detail]));
        const dom = await conn.defineXML(domainXML('legacyev'));
        await dom.create();
        await dom.destroy();
        const deadline = Date.now() + 3000;
        while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        assert.deepEqual(seen, [
          ['legacyev', 0, 0],
          ['legacyev', 2, 0],
          ['legacyev', 5, 1],
        ]);
        conn.domainEventDeregisterAny(id);
        await dom.undefine();
      } finally {
        await conn.close();
      }
      await new Promise((r) => setTimeout(r, 100));
      const calls = old.log().split('\n').filter((l) => /call CONNECT_DOMAIN_EVENT/.test(l)).map((l) => /call (\w+)/.exec(l)![1]);
      assert.deepEqual(calls, ['CONNECT_DOMAIN_EVENT_REGISTER', 'CONNECT_DOMAIN_EVENT_DEREGISTER']);
    } finally {
      await old.dispose();
    }
  });

  test('events reach callbacks and the async iterator; deregistered callbacks hear nothing more', async () => {
    const conn = await connect(daemon.uri('/default'));
    try {
      const events = recordEvents(conn);
      const iter = conn.events();
      const quiet: number[] = [];
      const id = conn.domainEventRegisterAny(null, 0, (_c, _d, e) => quiet.push(e));
      conn.domainEventDeregisterAny(id);
      const dom = await conn.defineXML(domainXML('evx'));
      await dom.create();
      assert.deepEqual(await events.settle(2), [
        ['evx', 0, 0],
        ['evx', 2, 0],
      ]);
      const first = await iter.next();
      assert.equal(first.done, false);
      assert.equal(first.value.domain.name(), 'evx');
      assert.equal(first.value.domain.connect(), conn);
      assert.deepEqual(quiet, []);
      await iter.return?.();
    } finally {
      await conn.close();
    }
  });

  test('a stale handle fails with the daemon\'s VIR_ERR_NO_DOMAIN, as embedded', async () => {
    const a = await connect(daemon.uri('/session'));
    const b = await connect(daemon.uri('/session'));
    try {
      const dom = await a.defineXML(domainXML('stale'));
      await dom.snapshotCreateXML(snapshotXML('s'));
      const snap = await dom.snapshotLookupByName('s');
      await (await b.lookupByName('stale')).undefineFlags(2);
      const message = `Domain not found: no domain with matching uuid '${dom.UUIDString()}' (stale)`;
      for (const p of [dom.isActive(), dom.state(), dom.create(), snap.getXMLDesc(), dom.undefine()]) {
        await rejectsVir(p, { code: ErrorNumber.NO_DOMAIN, domain: ErrorDomain.TEST, message });
      }
      await rejectsVir(a.lookupByName('stale'), { code: ErrorNumber.NO_DOMAIN, message: "Domain not found: no domain with matching name 'stale'" });
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('the read-only socket refuses every mutating call with VIR_ERR_OPERATION_DENIED', async () => {
    const rw = await connect(daemon.uri('/default'));
    const ro = await connect(daemon.uri('/default', true));
    try {
      const setup = await rw.defineXML(domainXML('rodom'));
      await setup.snapshotCreateXML(snapshotXML('s'));
      const dom = await ro.lookupByName('rodom');
      const snap = await dom.snapshotLookupByName('s');
      assert.equal(await dom.snapshotNum(), 1);
      const calls: [string, number, () => Promise<unknown>][] = [
        ['virDomainDefineXML', 20, () => ro.defineXML(domainXML('x'))],
        ['virDomainDefineXMLFlags', 20, () => ro.defineXMLFlags(domainXML('x'), 1)],
        ['virDomainCreateXML', 20, () => ro.createXML(domainXML('x'))],
        ['virDomainCreateWithFlags', 20, () => dom.create()],
        ['virDomainShutdown', 20, () => dom.shutdown()],
        ['virDomainShutdownFlags', 20, () => dom.shutdownFlags(1)],
        ['virDomainDestroy', 20, () => dom.destroy()],
        ['virDomainDestroyFlags', 20, () => dom.destroyFlags(1)],
        ['virDomainReboot', 20, () => dom.reboot()],
        ['virDomainSuspend', 20, () => dom.suspend()],
        ['virDomainResume', 20, () => dom.resume()],
        ['virDomainUndefineFlags', 20, () => dom.undefine()],
        ['virDomainSetAutostart', 20, () => dom.setAutostart(true)],
        ['virDomainManagedSave', 20, () => dom.managedSave()],
        ['virDomainManagedSaveRemove', 20, () => dom.managedSaveRemove()],
        ['virDomainSnapshotCreateXML', 35, () => dom.snapshotCreateXML(snapshotXML('y'))],
        ['virDomainRevertToSnapshot', 35, () => snap.revert()],
        ['virDomainSnapshotDelete', 35, () => snap.delete()],
      ];
      for (const [api, domain, call] of calls) {
        await rejectsVir(call(), {
          code: ErrorNumber.OPERATION_DENIED,
          domain,
          message: `operation forbidden: read only access prevents ${api}`,
        });
      }
      assert.equal(await dom.snapshotNum(), 1);
      assert.equal((await ro.listAllDomains()).length, 2);
      // Opened read-only on the read-write socket: refused on the client side, as libvirt.
      const roFlag = await connect(daemon.uri('/default'), { readonly: true });
      try {
        await rejectsVir(roFlag.defineXML(domainXML('x')), { code: ErrorNumber.OPERATION_DENIED, message: /virDomainDefineXMLFlags/ });
      } finally {
        await roFlag.close();
      }
    } finally {
      await ro.close();
      await rw.close();
    }
  });

  test('the remote driver applies the same read-only rule itself: a refused call never goes out, a read does', async () => {
    const drv = await openRemoteDriver(daemon.uri('/default'), { readonly: true });
    try {
      const dom = await drv.lookupByName('test');
      const from = daemon.log().length;
      await rejectsVir(drv.domainUndefine(dom, 0), {
        code: ErrorNumber.OPERATION_DENIED,
        domain: ErrorDomain.DOMAIN,
        message: 'operation forbidden: read only access prevents virDomainUndefineFlags',
      });
      await rejectsVir(drv.snapshotDelete(dom, 'none', 0), {
        code: ErrorNumber.OPERATION_DENIED,
        domain: ErrorDomain.DOMAIN_SNAPSHOT,
        message: 'operation forbidden: read only access prevents virDomainSnapshotDelete',
      });
      assert.equal(await drv.domainIsActive(dom), true);
      // Calls are answered in order: once the read is logged, any earlier call would be too.
      const deadline = Date.now() + 3000;
      while (!/call DOMAIN_IS_ACTIVE/.test(daemon.log().slice(from)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const seen = daemon.log().slice(from);
      assert.match(seen, /call DOMAIN_IS_ACTIVE/);
      assert.doesNotMatch(seen, /call DOMAIN_UNDEFINE_FLAGS|call DOMAIN_SNAPSHOT_DELETE/);
    } finally {
      await drv.close();
    }
  });

  test('an inner URI the daemon cannot open comes back as its error', async () => {
    await rejectsVir(connect(`qemu+unix:///nosuch?socket=${daemon.rw}`), {
      code: ErrorNumber.NO_CONNECT,
      message: 'no connection driver available for qemu:///nosuch',
    });
  });
});

describe('URIs', () => {
  test('the inner URI drops the transport and socket, keeps path and other parameters', () => {
    const a = parseRemoteURI(new URL('test+unix:///default?socket=/s/x'));
    assert.deepEqual({ inner: a.inner, socket: a.socket, transport: a.transport }, { inner: 'test:///default', socket: '/s/x', transport: 'unix' });
    const b = parseRemoteURI(new URL('qemu+unix:///session?socket=/s/x&foo=1'));
    assert.deepEqual({ inner: b.inner, socket: b.socket }, { inner: 'qemu:///session?foo=1', socket: '/s/x' });
    const c = parseRemoteURI(new URL('qemu+tls://host.example:16515/system?pkipath=/p&no_verify=1'));
    assert.deepEqual({ inner: c.inner, transport: c.transport, host: c.url.hostname }, { inner: 'qemu:///system', transport: 'tls', host: 'host.example' });
  });
  test("without socket= the daemon's default socket is used", () => {
    const u = new URL('qemu+unix:///session');
    assert.equal(parseRemoteURI(u, { uid: 0 }).socket, '/run/libvirt/libvirt-sock');
    assert.equal(parseRemoteURI(u, { uid: 0, readonly: true }).socket, '/run/libvirt/libvirt-sock-ro');
    assert.equal(parseRemoteURI(u, { uid: 1000, env: { XDG_RUNTIME_DIR: '/run/user/1000' } }).socket, '/run/user/1000/libvirt/libvirt-sock');
    assert.match(parseRemoteURI(u, { uid: 1000, env: {} }).socket, /\/\.cache\/libvirt\/libvirt-sock$/);
  });
  test('a transport libvirt does not know is refused as libvirt words it', () => {
    assert.throws(() => parseRemoteURI(new URL('test+carrier-pigeon://host/default')), (e: unknown) => {
      assert.ok(e instanceof VirError);
      assert.equal(e.code, ErrorNumber.INVALID_ARG);
      assert.equal(e.domain, ErrorDomain.REMOTE);
      return true;
    });
  });
});

/** A fake daemon: answers the handshake, then does what `onCall` says with later calls. */
async function fakeDaemon(dir: string, onCall: (f: Frame, sock: Socket) => void): Promise<{ path: string; server: Server }> {
  const path = join(dir, 'fake-sock');
  const server = createServer((sock) => {
    const reader = new FrameReader();
    sock.on('error', () => {});
    sock.on('data', (chunk: Buffer) => {
      for (const f of reader.push(chunk)) {
        const reply = (payload: Buffer) =>
          sock.write(encodeFrame({ ...f.header, type: MessageType.REPLY, status: MessageStatus.OK }, payload));
        const w = new XdrWriter();
        switch (f.header.proc) {
          case Proc.AUTH_LIST:
            reply(w.uint(1).int(0).finish());
            break;
          case Proc.CONNECT_SUPPORTS_FEATURE:
            reply(w.int(1).finish());
            break;
          case Proc.CONNECT_OPEN:
          case Proc.CONNECT_CLOSE:
            reply(Buffer.alloc(0));
            break;
          case Proc.CONNECT_GET_TYPE:
            reply(w.string('TEST', 100).finish());
            break;
          default:
            onCall(f, sock);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { path, server };
}

describe('a daemon that is absent, silent or dies', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-remote-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('no daemon: VIR_ERR_SYSTEM_ERROR "Failed to connect socket to …", as libvirt', async () => {
    const path = join(dir, 'nobody-here');
    const err = await rejectsVir(connect(`test+unix:///default?socket=${path}`), {
      code: ErrorNumber.SYSTEM_ERROR,
      domain: ErrorDomain.RPC,
      message: `Failed to connect socket to '${path}': No such file or directory`,
    });
    assert.equal(err.int1, 2);
  });

  test('a daemon that never answers: the connect times out instead of hanging', async () => {
    const { path, server } = await fakeDaemon(dir, () => {});
    // Silent from the first call on: a server that accepts and reads but never writes.
    server.removeAllListeners('connection');
    server.on('connection', (s: Socket) => s.on('data', () => {}));
    try {
      const t0 = Date.now();
      await rejectsVir(openRemoteDriver(`test+unix:///default?socket=${path}`, { connectTimeoutMs: 300 }), {
        code: ErrorNumber.SYSTEM_ERROR,
        domain: ErrorDomain.RPC,
        message: 'Cannot recv data: Connection timed out',
      });
      assert.ok(Date.now() - t0 < 5000);
    } finally {
      server.close();
    }
  });

  test('the daemon dies mid-call: the call fails with "client socket is closed", later ones too', async () => {
    const { path, server } = await fakeDaemon(dir, (_f, sock) => sock.destroy());
    try {
      const conn = await connect(`test+unix:///default?socket=${path}`);
      const expected = { code: ErrorNumber.INTERNAL_ERROR, domain: ErrorDomain.RPC, message: 'internal error: client socket is closed' };
      await rejectsVir(conn.lookupByName('x'), expected);
      await rejectsVir(conn.listAllDomains(), expected);
      assert.equal(await conn.isAlive(), false);
      await conn.close();
    } finally {
      server.close();
    }
  });

  test('tsvirtd killed under a connection: calls fail cleanly', async () => {
    const d = await startDaemon({ dir: mkdtempSync(join(dir, 'd-')) });
    try {
      const conn = await connect(d.uri('/session'));
      await conn.defineXML(domainXML('k'));
      d.proc.kill('SIGKILL');
      await d.stop();
      await rejectsVir(conn.lookupByName('k'), { code: ErrorNumber.INTERNAL_ERROR, domain: ErrorDomain.RPC, message: 'internal error: client socket is closed' });
      await conn.close();
    } finally {
      await d.dispose();
    }
  });
});
