/**
 * The web console's roles and its several connections, over HTTP against real daemons on the
 * test driver: what an operator and a read-only token may do on every mutating route (and the
 * consoles they get), and a second tsvirtd shown through `--http-connect`: its domains listed
 * under its name, its actions run there (the second daemon's own clients see them), its going
 * away shown as disconnected, and its coming back reconnected.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { newToken } from '../src/web/tokens.js';
import { refusal } from '../src/web/server.js';
import { Reaper } from './qemu-harness.js';
import { startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';

interface Web {
  d: RunningDaemon;
  base: string;
  admin: string;
}

async function startWeb(dir: string, args: string[] = [], uris = ['test:///default']): Promise<Web> {
  const d = await startDaemon({ dir, args: ['--http', '127.0.0.1:0', ...args], uris, logFile: join(dir, 'tsvirtd.log') });
  const m = /web console: (http:\/\/127\.0\.0\.1:\d+)\/#token=([A-Za-z0-9_-]+)/.exec(d.log());
  assert.ok(m !== null, `no URL with a token printed:\n${d.log()}`);
  return { d, base: m[1]!, admin: m[2]! };
}

async function api(w: Web, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${w.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text === '' ? null : (JSON.parse(text) as unknown) };
}

function ws(w: Web, path: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const s = new WebSocket(`${w.base.replace('http', 'ws')}${path}`, { headers: { origin: w.base, authorization: `Bearer ${token}` } });
    s.once('open', () => resolve(s));
    s.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    s.once('error', reject);
  });
}

const TEST_URI = 'test:///default';
const Q = `?uri=${encodeURIComponent(TEST_URI)}`;
const U = '6695eb01-f6a4-8304-79aa-97f2502e193f';

/** Every mutating route with a body it accepts; `power` marks those an operator may use. */
const MUTATING: { method: string; path: string; body: unknown; power: boolean }[] = [
  { method: 'POST', path: `/api/domains${Q}`, body: { xml: "<domain type='test'><name>rolesnew</name><memory>65536</memory><os><type>hvm</type></os></domain>" }, power: false },
  { method: 'PUT', path: `/api/domains/${U}/xml${Q}`, body: { xml: '<domain/>' }, power: false },
  { method: 'PUT', path: `/api/domains/${U}/tags${Q}`, body: { tags: ['a'] }, power: false },
  { method: 'POST', path: `/api/pools/default-pool/volumes${Q}`, body: { name: 'rolesvol', capacity: 1024 }, power: false },
  { method: 'POST', path: `/api/domains/${U}/snapshots${Q}`, body: { xml: '<domainsnapshot/>' }, power: false },
  { method: 'POST', path: `/api/domains/${U}/snapshots/s1/revert${Q}`, body: {}, power: false },
  { method: 'DELETE', path: `/api/domains/${U}/snapshots/s1${Q}`, body: {}, power: false },
  { method: 'POST', path: `/api/domains/${U}/undefine${Q}`, body: {}, power: false },
  { method: 'POST', path: `/api/domains/${U}/actions/managedsave${Q}`, body: {}, power: false },
  ...['suspend', 'resume', 'reboot', 'reset', 'shutdown', 'start', 'destroy'].map((a) => ({ method: 'POST', path: `/api/domains/${U}/actions/${a}${Q}`, body: {}, power: true })),
];

describe('web console: roles', { skip: virshSkip(), timeout: 120_000 }, () => {
  const reaper = new Reaper();
  let w: Web;
  let operator: string;
  let viewer: string;

  before(async () => {
    w = await startWeb(reaper.tempDir('tsvwebroles-'));
    operator = newToken();
    viewer = newToken();
    appendFileSync(join(w.d.socketDir, 'web-tokens'), `operator ${operator} the night shift\nreadonly ${viewer}\n`);
  });
  after(async () => {
    await w?.d.stop();
    await reaper.cleanup();
  });

  test('the role table: admin everything, operator only the power actions, read-only nothing', () => {
    for (const r of MUTATING) {
      const parts = new URL(r.path, 'http://x').pathname.split('/').slice(2);
      assert.equal(refusal('admin', r.method, parts), null, r.path);
      assert.equal(refusal('readonly', r.method, parts), 'this token is read-only', r.path);
      assert.equal(refusal('operator', r.method, parts) === null, r.power, `${r.method} ${r.path}`);
    }
  });

  test('the hosts routes need a token (401) and their changes an admin (403)', async () => {
    const gone = { uri: 'test+unix:///default?socket=/nonexistent' };
    assert.equal((await fetch(`${w.base}/api/hosts`)).status, 401, 'GET');
    for (const method of ['POST', 'DELETE']) {
      const res = await fetch(`${w.base}/api/hosts`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(gone) });
      assert.equal(res.status, 401, method);
      assert.equal((await api(w, method, '/api/hosts', operator, gone)).status, 403, `${method} operator`);
      assert.equal((await api(w, method, '/api/hosts', viewer, gone)).status, 403, `${method} readonly`);
    }
    assert.equal((await api(w, 'GET', '/api/hosts', viewer)).status, 200);
  });

  test('the session tells each token its role', async () => {
    for (const [token, role] of [
      [w.admin, 'admin'],
      [operator, 'operator'],
      [viewer, 'readonly'],
    ] as const) {
      const s = await api(w, 'GET', '/api/session', token);
      assert.equal(s.status, 200);
      assert.equal((s.json as { role: string }).role, role);
    }
  });

  test('an operator runs the power actions (virsh sees them) and is refused 403 on every other mutating route; a read-only token on all', async () => {
    for (const r of MUTATING.filter((x) => !x.power)) {
      for (const token of [operator, viewer]) {
        const res = await api(w, r.method, r.path, token, r.body);
        assert.equal(res.status, 403, `${r.method} ${r.path}: ${JSON.stringify(res.json)}`);
      }
    }
    // Nothing those refused calls asked for happened.
    assert.doesNotMatch(virsh(w.d.uri('/default'), 'list', '--all', '--name').stdout, /rolesnew/);
    assert.equal(virsh(w.d.uri('/default'), 'snapshot-list', 'test', '--name').stdout.trim(), '');

    const list = (await api(w, 'GET', `/api/domains${Q}`, operator)).json as { uuid: string; name: string }[];
    const uuid = list.find((d) => d.name === 'test')!.uuid;
    for (const [action, state] of [
      ['suspend', 'paused'],
      ['resume', 'running'],
      ['destroy', 'shut off'],
      ['start', 'running'],
    ] as const) {
      assert.equal((await api(w, 'POST', `/api/domains/${uuid}/actions/${action}${Q}`, viewer, {})).status, 403, `read-only ${action}`);
      const res = await api(w, 'POST', `/api/domains/${uuid}/actions/${action}${Q}`, operator, {});
      assert.equal(res.status, 200, `${action}: ${JSON.stringify(res.json)}`);
      assert.equal(virsh(w.d.uri('/default'), 'domstate', 'test').stdout.trim(), state, action);
    }
    // Reading stays open to both.
    for (const token of [operator, viewer]) {
      assert.equal((await api(w, 'GET', `/api/domains/${uuid}/xml${Q}`, token)).status, 200);
      assert.equal((await api(w, 'GET', `/api/domains/${uuid}/snapshots${Q}`, token)).status, 200);
      assert.equal((await api(w, 'GET', `/api/domains/${uuid}/undefine${Q}`, token)).status, 200);
    }
  });

  test('an operator and a read-only token both open the event socket', async () => {
    for (const token of [operator, viewer]) {
      const s = await ws(w, `/api/events${Q}`, token);
      s.close();
    }
  });
});

describe('web console: another daemon through --http-connect', { skip: virshSkip(), timeout: 120_000 }, () => {
  const reaper = new Reaper();
  let w: Web;
  let second: RunningDaemon;
  let secondDir: string;
  let remoteURI: string;

  before(async () => {
    secondDir = reaper.tempDir('tsvwebsecond-');
    second = await startDaemon({ dir: secondDir, uris: ['test:///default'] });
    remoteURI = second.uri('/default');
    w = await startWeb(reaper.tempDir('tsvwebfirst-'), ['--http-connect', `second=${remoteURI}`]);
  });
  after(async () => {
    await w?.d.stop();
    await second?.stop();
    await reaper.cleanup();
  });

  test('the session lists the local URI under the host name and the remote one under its name', async () => {
    const s = (await api(w, 'GET', '/api/session', w.admin)).json as { uris: string[]; hosts: { uri: string; label: string; remote: boolean; connected: boolean }[] };
    assert.deepEqual(s.uris, [TEST_URI, remoteURI]);
    assert.deepEqual(
      s.hosts.map((h) => [h.uri, h.remote, h.connected]),
      [
        [TEST_URI, false, true],
        [remoteURI, true, true],
      ],
    );
    assert.equal(s.hosts[1]!.label, 'second');
  });

  test("the remote daemon's domains are listed and its actions run there", async () => {
    const rq = `?uri=${encodeURIComponent(remoteURI)}`;
    const list = (await api(w, 'GET', `/api/domains${rq}`, w.admin)).json as { uuid: string; name: string }[];
    assert.deepEqual(
      list.map((d) => d.name),
      ['test'],
    );
    const res = await api(w, 'POST', `/api/domains/${list[0]!.uuid}/actions/destroy${rq}`, w.admin, {});
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(virsh(remoteURI, 'domstate', 'test').stdout.trim(), 'shut off', 'the second daemon stopped it');
    assert.equal(virsh(w.d.uri('/default'), 'domstate', 'test').stdout.trim(), 'running', "the first daemon's own domain is untouched");
    assert.equal((await api(w, 'POST', `/api/domains/${list[0]!.uuid}/actions/start${rq}`, w.admin, {})).status, 200);
    assert.equal(virsh(remoteURI, 'domstate', 'test').stdout.trim(), 'running');
  });

  test("the remote daemon's events arrive on its event socket", async () => {
    const s = await ws(w, `/api/events?uri=${encodeURIComponent(remoteURI)}`, w.admin);
    const got: { uri: string; event: number }[] = [];
    s.on('message', (m: Buffer) => got.push(JSON.parse(m.toString()) as { uri: string; event: number }));
    try {
      assert.equal(virsh(remoteURI, 'suspend', 'test').code, 0);
      const until = Date.now() + 10_000;
      while (got.length < 1 && Date.now() < until) await sleep(20);
      assert.deepEqual(got.map((e) => [e.uri, e.event]), [[remoteURI, 3]]);
      assert.equal(virsh(remoteURI, 'resume', 'test').code, 0);
    } finally {
      s.close();
    }
  });

  test('the remote daemon going away shows as disconnected (its event socket ends), and it reconnects when back', async () => {
    const s = await ws(w, `/api/events?uri=${encodeURIComponent(remoteURI)}`, w.admin);
    const closed = new Promise<number>((resolve) => s.once('close', (code) => resolve(code)));
    await second.stop();
    assert.equal(await closed, 4503);
    const hosts = (await api(w, 'GET', '/api/hosts', w.admin)).json as { uri: string; connected: boolean; error: string | null }[];
    const h = hosts.find((x) => x.uri === remoteURI)!;
    assert.equal(h.connected, false);
    assert.ok(h.error !== null && h.error !== '', 'says why');
    assert.equal((await api(w, 'GET', `/api/domains?uri=${encodeURIComponent(remoteURI)}`, w.admin)).status >= 500, true);
    // The local URI is unaffected.
    assert.equal((await api(w, 'GET', `/api/domains${Q}`, w.admin)).status, 200);

    second = await startDaemon({ dir: secondDir, uris: ['test:///default'] });
    const again = (await api(w, 'GET', '/api/hosts', w.admin)).json as { uri: string; connected: boolean }[];
    assert.equal(again.find((x) => x.uri === remoteURI)!.connected, true);
    const list = (await api(w, 'GET', `/api/domains?uri=${encodeURIComponent(remoteURI)}`, w.admin)).json as { name: string }[];
    assert.deepEqual(list.map((d) => d.name), ['test']);
  });

  test('an admin adds a daemon from the page and removes it; an operator or read-only token may not; local driver URIs are refused', async () => {
    const third = await startDaemon({ dir: reaper.tempDir('tsvwebthird-'), uris: ['test:///default'] });
    try {
      const uri = third.uri('/default');
      const operator = newToken();
      appendFileSync(join(w.d.socketDir, 'web-tokens'), `operator ${operator}\n`);
      assert.equal((await api(w, 'POST', '/api/hosts', operator, { uri, label: 'third' })).status, 403);
      for (const bad of ['test:///default', 'qemu:///system', 'not a uri', '']) {
        const r = await api(w, 'POST', '/api/hosts', w.admin, { uri: bad, label: 'x' });
        assert.equal(r.status, 400, `${bad}: ${JSON.stringify(r.json)}`);
      }
      assert.equal((await api(w, 'POST', '/api/hosts', w.admin, { uri, label: 'bad label!' })).status, 400);
      const added = await api(w, 'POST', '/api/hosts', w.admin, { uri, label: 'third' });
      assert.equal(added.status, 200, JSON.stringify(added.json));
      assert.deepEqual(added.json, { uri, label: 'third', remote: true, connected: true, error: null });
      assert.equal((await api(w, 'POST', '/api/hosts', w.admin, { uri, label: 'again' })).status, 409);
      const s = (await api(w, 'GET', '/api/session', w.admin)).json as { uris: string[] };
      assert.deepEqual(s.uris, [TEST_URI, remoteURI, uri]);
      const list = (await api(w, 'GET', `/api/domains?uri=${encodeURIComponent(uri)}`, w.admin)).json as { name: string }[];
      assert.deepEqual(list.map((d) => d.name), ['test']);

      assert.equal((await api(w, 'DELETE', '/api/hosts', operator, { uri })).status, 403);
      assert.equal((await api(w, 'DELETE', '/api/hosts', w.admin, { uri: TEST_URI })).status, 409, "the daemon's own URI stays");
      assert.equal((await api(w, 'DELETE', '/api/hosts', w.admin, { uri })).status, 204);
      assert.equal((await api(w, 'GET', `/api/domains?uri=${encodeURIComponent(uri)}`, w.admin)).status, 404);
      assert.equal((await api(w, 'DELETE', '/api/hosts', w.admin, { uri })).status, 404);
    } finally {
      await third.stop();
    }
  });

  test('a URI neither served nor connected is refused', async () => {
    assert.equal((await api(w, 'GET', `/api/domains?uri=${encodeURIComponent('test+unix:///default?socket=/nonexistent')}`, w.admin)).status, 404);
  });
});
