/**
 * tsvirtd's web console server (`--http`): tokens and sessions, the refusals (no token, a
 * read-only token on every mutating route, a forged Origin or Host, a revoked token), the JSON API
 * over the shared drivers (virsh sees what the page did and the page's event socket sees what
 * virsh did), the undefine preview that tells the seed's rules, and the console WebSockets on a
 * real QEMU guest: the serial console echoes what is typed, the VNC socket speaks RFB, and a
 * read-only token's VNC input is filtered.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { newToken } from '../src/web/tokens.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason } from './qemu-harness.js';
import { guestPids, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';

interface Web {
  d: RunningDaemon;
  base: string;
  admin: string;
  tokensFile: string;
  logFile: string;
}

/** Starts tsvirtd with the web console on a free loopback port; reads the printed URL. */
async function startWeb(reaper: Reaper, uris?: string[]): Promise<Web> {
  const dir = reaper.tempDir('tsvweb-');
  const logFile = join(dir, 'tsvirtd.log');
  const d = await startDaemon({ dir, args: ['--http', '127.0.0.1:0'], logFile, uris });
  const m = /web console: (http:\/\/127\.0\.0\.1:\d+)\/#token=([A-Za-z0-9_-]+)/.exec(d.log());
  assert.ok(m !== null, `no URL with a token printed:\n${d.log()}`);
  return { d, base: m[1]!, admin: m[2]!, tokensFile: join(d.socketDir, 'web-tokens'), logFile };
}

async function api(w: Web, method: string, path: string, opts: { token?: string | null; cookie?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; json: unknown; headers: Headers }> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const token = opts.token === undefined ? w.admin : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (opts.cookie !== undefined) headers.cookie = opts.cookie;
  if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${w.base}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  return { status: res.status, json: text === '' ? null : (JSON.parse(text) as unknown), headers: res.headers };
}

/** A WebSocket to `path`; resolves once open, or rejects with the HTTP status of a refusal. */
function ws(w: Web, path: string, headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const s = new WebSocket(`${w.base.replace('http', 'ws')}${path}`, { headers: { origin: w.base, ...headers } });
    s.once('open', () => resolve(s));
    s.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    s.once('error', reject);
  });
}

/** A raw HTTP request with a Host header of our choice (fetch does not allow one). */
function rawGet(w: Web, path: string, host: string): Promise<number> {
  const u = new URL(w.base);
  return new Promise((resolve, reject) => {
    const r = request({ host: u.hostname, port: u.port, path, headers: { host, authorization: `Bearer ${w.admin}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    r.on('error', reject);
    r.end();
  });
}

const TEST_URI = encodeURIComponent('test:///default');

describe('web console: access', { skip: virshSkip(), timeout: 120_000 }, () => {
  const reaper = new Reaper();
  let w: Web;
  let readonlyToken: string;

  before(async () => {
    w = await startWeb(reaper);
    readonlyToken = newToken();
    appendFileSync(w.tokensFile, `readonly ${readonlyToken} a viewer\n`);
  });
  after(async () => {
    await w?.d.stop();
    await reaper.cleanup();
  });

  test('the token file is 0600 and the admin token printed at start is in it', () => {
    assert.equal(statSync(w.tokensFile).mode & 0o777, 0o600);
    assert.match(readFileSync(w.tokensFile, 'utf8'), new RegExp(`^admin ${w.admin}`, 'm'));
  });

  test('no token: 401 on every API route and WebSocket', async () => {
    const routes: [string, string, unknown?][] = [
      ['GET', '/api/session'],
      ['GET', '/api/domains'],
      ['POST', '/api/domains', { xml: '<domain/>' }],
      ['GET', '/api/domains/6695eb01-f6a4-8304-79aa-97f2502e193f'],
      ['GET', '/api/domains/6695eb01-f6a4-8304-79aa-97f2502e193f/xml'],
      ['PUT', '/api/domains/6695eb01-f6a4-8304-79aa-97f2502e193f/xml', { xml: '<domain/>' }],
      ['GET', '/api/domains/6695eb01-f6a4-8304-79aa-97f2502e193f/metrics'],
      ['GET', '/api/pools'],
      ['GET', '/api/pools/default-pool/volumes'],
      ['POST', '/api/pools/default-pool/volumes', { name: 'v', capacity: 1024 }],
      ['PUT', '/api/domains/6695eb01-f6a4-8304-79aa-97f2502e193f/tags', { tags: ['a'] }],
      ['GET', '/api/networks'],
      ['POST', '/api/domains/6695eb01-f6a4-8304-79aa-97f2502e193f/actions/destroy', {}],
      ['GET', '/api/domains/6695eb01-f6a4-8304-79aa-97f2502e193f/snapshots'],
      ['GET', '/api/domains/6695eb01-f6a4-8304-79aa-97f2502e193f/undefine'],
      ['POST', '/api/domains/6695eb01-f6a4-8304-79aa-97f2502e193f/undefine', {}],
      ['POST', '/api/logout', {}],
    ];
    for (const [method, path, body] of routes) {
      assert.equal((await api(w, method, path, { token: null, body })).status, 401, `${method} ${path}`);
      assert.equal((await api(w, method, path, { token: 'not-a-token-at-all-xxxxxxxx', body })).status, 401, `${method} ${path} with a wrong token`);
    }
    for (const path of ['/api/events', '/api/domains/6695eb01-f6a4-8304-79aa-97f2502e193f/console/serial', '/api/domains/6695eb01-f6a4-8304-79aa-97f2502e193f/console/vnc']) {
      await assert.rejects(ws(w, path, {}), /HTTP 401/, path);
    }
  });

  test('an admin token lists the domains of the served URIs; login gives an HttpOnly SameSite=Strict session cookie', async () => {
    const s = await api(w, 'GET', '/api/session');
    assert.equal(s.status, 200);
    assert.deepEqual((s.json as { uris: string[] }).uris, ['qemu:///session', 'test:///default', 'test:///session']);
    const l = await api(w, 'GET', `/api/domains?uri=${TEST_URI}`);
    assert.equal(l.status, 200);
    assert.deepEqual((l.json as { name: string }[]).map((d) => d.name), ['test']);
    const login = await fetch(`${w.base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: w.admin }) });
    assert.equal(login.status, 200);
    const setCookie = login.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    const cookie = setCookie.split(';')[0]!;
    assert.equal((await api(w, 'GET', '/api/session', { token: null, cookie })).status, 200);
    const bad = await fetch(`${w.base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'x'.repeat(43) }) });
    assert.equal(bad.status, 401);
  });

  test('a read-only token reads but every mutating route answers 403 and changes nothing', async () => {
    const s = await api(w, 'GET', '/api/session', { token: readonlyToken });
    assert.equal((s.json as { role: string }).role, 'readonly');
    const list = (await api(w, 'GET', `/api/domains?uri=${TEST_URI}`, { token: readonlyToken })).json as { uuid: string; state: number }[];
    const uuid = list[0]!.uuid;
    const mutating: [string, string, unknown][] = [
      ['POST', `/api/domains?uri=${TEST_URI}`, { xml: "<domain type='test'><name>ro</name><memory>1024</memory><os><type>hvm</type></os></domain>" }],
      ...['start', 'shutdown', 'reboot', 'destroy', 'suspend', 'resume', 'managedsave', 'reset'].map((a): [string, string, unknown] => ['POST', `/api/domains/${uuid}/actions/${a}?uri=${TEST_URI}`, {}]),
      ['POST', `/api/domains/${uuid}/snapshots?uri=${TEST_URI}`, { xml: '<domainsnapshot><name>s</name></domainsnapshot>' }],
      ['POST', `/api/domains/${uuid}/snapshots/s/revert?uri=${TEST_URI}`, {}],
      ['DELETE', `/api/domains/${uuid}/snapshots/s?uri=${TEST_URI}`, {}],
      ['POST', `/api/domains/${uuid}/undefine?uri=${TEST_URI}`, { flags: ['snapshots-metadata'] }],
      ['PUT', `/api/domains/${uuid}/xml?uri=${TEST_URI}`, { xml: "<domain type='test'><name>test</name><memory>1024</memory><os><type>hvm</type></os></domain>" }],
      ['POST', `/api/pools/default-pool/volumes?uri=${TEST_URI}`, { name: 'ro.qcow2', capacity: 1 << 20, format: 'qcow2' }],
      ['PUT', `/api/domains/${uuid}/tags?uri=${TEST_URI}`, { tags: ['ro'] }],
    ];
    for (const [method, path, body] of mutating) {
      const r = await api(w, method, path, { token: readonlyToken, body });
      assert.equal(r.status, 403, `${method} ${path}`);
    }
    const after = (await api(w, 'GET', `/api/domains?uri=${TEST_URI}`)).json as { name: string; state: number; snapshots: number; memory: number }[];
    assert.deepEqual(after.map((d) => [d.name, d.state, d.snapshots]), [['test', list[0]!.state, 0]]);
    assert.notEqual(after[0]!.memory, 1024, 'the read-only PUT of the XML changed nothing');
    assert.deepEqual((after[0] as unknown as { tags: string[] }).tags, [], 'the read-only PUT of tags changed nothing');
    // Reading is allowed: the metrics history, pools, volumes, networks.
    for (const path of [`/api/domains/${uuid}/metrics`, '/api/pools', '/api/pools/default-pool/volumes', '/api/networks']) {
      assert.equal((await api(w, 'GET', `${path}?uri=${TEST_URI}`, { token: readonlyToken })).status, 200, path);
    }
    assert.deepEqual((await api(w, 'GET', `/api/pools/default-pool/volumes?uri=${TEST_URI}`)).json, [], 'no volume was created');
  });

  test("PUT xml defines the edited XML with validation; a bad edit answers libvirt's error and changes nothing", async () => {
    const q = `?uri=${TEST_URI}`;
    const uuid = ((await api(w, 'GET', `/api/domains${q}`)).json as { uuid: string }[])[0]!.uuid;
    const before = ((await api(w, 'GET', `/api/domains/${uuid}/xml${q}&inactive=1`)).json as { xml: string }).xml;
    assert.match(before, /<memory unit='KiB'>\d+<\/memory>/);
    // Malformed XML: libvirt's XML error, 400.
    const broken = await api(w, 'PUT', `/api/domains/${uuid}/xml${q}`, { body: { xml: before.replace('</domain>', '') } });
    assert.equal(broken.status, 400, JSON.stringify(broken.json));
    assert.equal((broken.json as { error: { code: number } }).error.code, 35, 'VIR_ERR_XML_DETAIL');
    // A rename under the same UUID: libvirt's conflict message.
    const renamed = await api(w, 'PUT', `/api/domains/${uuid}/xml${q}`, { body: { xml: before.replace('<name>test</name>', '<name>other</name>') } });
    assert.equal(renamed.status, 409, JSON.stringify(renamed.json));
    assert.match((renamed.json as { error: { message: string } }).error.message, /domain 'test' is already defined with uuid/);
    // Another domain's UUID is not an edit of this one.
    const foreign = await api(w, 'PUT', `/api/domains/${uuid}/xml${q}`, { body: { xml: before.replace(/<uuid>[^<]*<\/uuid>/, '<uuid>00000000-0000-0000-0000-000000000009</uuid>') } });
    assert.equal(foreign.status, 400, JSON.stringify(foreign.json));
    assert.equal((await api(w, 'PUT', `/api/domains/${uuid}/xml${q}`, { body: { xml: 7 } })).status, 400);
    assert.equal(((await api(w, 'GET', `/api/domains/${uuid}/xml${q}&inactive=1`)).json as { xml: string }).xml, before, 'nothing changed');
    // A good edit is saved; virsh sees it.
    const good = before.replace(/<memory unit='KiB'>\d+<\/memory>/, "<memory unit='KiB'>3145728</memory>").replace(/<currentMemory unit='KiB'>\d+<\/currentMemory>/, "<currentMemory unit='KiB'>2097152</currentMemory>");
    const saved = await api(w, 'PUT', `/api/domains/${uuid}/xml${q}`, { body: { xml: good } });
    assert.equal(saved.status, 200, JSON.stringify(saved.json));
    assert.match((saved.json as { xml: string }).xml, /<memory unit='KiB'>3145728<\/memory>/);
    assert.match(virsh(w.d.uri('/default'), 'dumpxml', '--inactive', 'test').stdout, /<memory unit='KiB'>3145728<\/memory>/);
  });

  test('pools, volumes and networks for the wizard: list, create a volume (virsh sees it), bad input refused', async () => {
    const q = `?uri=${TEST_URI}`;
    const pools = (await api(w, 'GET', `/api/pools${q}`)).json as { name: string; active: boolean; capacity: number }[];
    assert.deepEqual(pools.map((p) => [p.name, p.active]), [['default-pool', true]]);
    assert.ok(pools[0]!.capacity > 0);
    const nets = (await api(w, 'GET', `/api/networks${q}`)).json as { name: string; active: boolean }[];
    assert.deepEqual(nets.map((n) => [n.name, n.active]), [['default', true]]);
    const made = await api(w, 'POST', `/api/pools/default-pool/volumes${q}`, { body: { name: 'web.qcow2', capacity: 16 << 20, format: 'qcow2' } });
    assert.equal(made.status, 200, JSON.stringify(made.json));
    assert.deepEqual(made.json, { name: 'web.qcow2', path: '/default-pool/web.qcow2', type: 0, format: 'qcow2', capacity: 16 << 20, allocation: 16 << 20 });
    assert.deepEqual(((await api(w, 'GET', `/api/pools/default-pool/volumes${q}`)).json as { name: string }[]).map((v) => v.name), ['web.qcow2']);
    assert.match(virsh(w.d.uri('/default'), 'vol-list', 'default-pool').stdout, /web\.qcow2/);
    // The same name again: libvirt's refusal.
    const again = await api(w, 'POST', `/api/pools/default-pool/volumes${q}`, { body: { name: 'web.qcow2', capacity: 16 << 20 } });
    assert.equal(again.status, 409, JSON.stringify(again.json));
    assert.match((again.json as { error: { message: string } }).error.message, /storage vol already exists/);
    for (const body of [{ name: '../x', capacity: 1 }, { name: 'a/b', capacity: 1 }, { name: 'ok', capacity: -1 }, { name: 'ok', capacity: 1.5 }, { name: 'ok', capacity: '1' }, { name: 'ok', capacity: 1, format: 'vmdk' }, { capacity: 1 }]) {
      assert.equal((await api(w, 'POST', `/api/pools/default-pool/volumes${q}`, { body })).status, 400, JSON.stringify(body));
    }
    assert.equal((await api(w, 'GET', `/api/pools/nope/volumes${q}`)).status, 404);
    assert.equal((await api(w, 'POST', `/api/pools/nope/volumes${q}`, { body: { name: 'v', capacity: 1 } })).status, 404);
  });

  test('tags live in the domain metadata under the tsvirt namespace; the list carries them; bad tags refused', async () => {
    const q = `?uri=${TEST_URI}`;
    const uuid = ((await api(w, 'GET', `/api/domains${q}`)).json as { uuid: string }[])[0]!.uuid;
    const r = await api(w, 'PUT', `/api/domains/${uuid}/tags${q}`, { body: { tags: ['web', 'prod', 'web'] } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual((r.json as { tags: string[] }).tags, ['web', 'prod']);
    assert.deepEqual(((await api(w, 'GET', `/api/domains${q}`)).json as { tags: string[] }[])[0]!.tags, ['web', 'prod']);
    const md = virsh(w.d.uri('/default'), 'metadata', 'test', 'https://tsvirt.dev/xmlns/tags/1');
    assert.equal(md.code, 0, md.stderr);
    assert.match(md.stdout, /<tags>\s*<tag>web<\/tag>\s*<tag>prod<\/tag>\s*<\/tags>/);
    for (const body of [{ tags: 'web' }, { tags: ['has space'] }, { tags: ['<x>'] }, { tags: [''] }, { tags: [1] }, { tags: Array.from({ length: 33 }, (_v, i) => `t${i}`) }]) {
      assert.equal((await api(w, 'PUT', `/api/domains/${uuid}/tags${q}`, { body })).status, 400, JSON.stringify(body).slice(0, 60));
    }
    assert.deepEqual(((await api(w, 'GET', `/api/domains/${uuid}${q}`)).json as { tags: string[] }).tags, ['web', 'prod'], 'refused edits changed nothing');
    assert.equal((await api(w, 'PUT', `/api/domains/${uuid}/tags${q}`, { body: { tags: [] } })).status, 200);
    assert.deepEqual(((await api(w, 'GET', `/api/domains/${uuid}${q}`)).json as { tags: string[] }).tags, []);
    assert.notEqual(virsh(w.d.uri('/default'), 'metadata', 'test', 'https://tsvirt.dev/xmlns/tags/1').code, 0, 'the element is gone');
  });

  test('GET metrics: the history of a running domain, sampled by the server', async () => {
    const q = `?uri=${TEST_URI}`;
    const uuid = ((await api(w, 'GET', `/api/domains${q}`)).json as { uuid: string }[])[0]!.uuid;
    let m: { intervalMs: number; samples: { t: number }[] } = { intervalMs: 0, samples: [] };
    const deadline = Date.now() + 20_000;
    while (m.samples.length === 0 && Date.now() < deadline) {
      const r = await api(w, 'GET', `/api/domains/${uuid}/metrics${q}`);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      m = r.json as typeof m;
      if (m.samples.length === 0) await sleep(500);
    }
    assert.equal(m.intervalMs, 5000);
    assert.ok(m.samples.length > 0, 'sampled');
    assert.ok(Math.abs(m.samples.at(-1)!.t - Date.now()) < 60_000);
    assert.equal((await api(w, 'GET', `/api/domains/00000000-0000-0000-0000-000000000001/metrics${q}`)).status, 404);
  });

  test('a forged Origin, a cross-site fetch, a foreign Host and a non-JSON post are refused', async () => {
    assert.equal((await api(w, 'GET', '/api/domains', { headers: { origin: 'http://evil.example' } })).status, 403);
    assert.equal((await api(w, 'GET', '/api/domains', { headers: { 'sec-fetch-site': 'cross-site' } })).status, 403);
    assert.equal((await api(w, 'POST', `/api/domains?uri=${TEST_URI}`, { body: { xml: '' }, headers: { origin: 'http://evil.example' } })).status, 403);
    const form = await fetch(`${w.base}/api/domains/x/actions/destroy`, { method: 'POST', headers: { authorization: `Bearer ${w.admin}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=b' });
    assert.equal(form.status, 415);
    assert.equal(await rawGet(w, '/api/domains', 'evil.example'), 421);
    assert.equal(await rawGet(w, '/api/domains', `localhost:${new URL(w.base).port}`), 200);
    await assert.rejects(ws(w, '/api/events', { authorization: `Bearer ${w.admin}`, origin: 'http://evil.example' }), /HTTP 403/);
  });

  test('every response carries a strict Content-Security-Policy and no-sniff', async () => {
    for (const path of ['/', '/api/domains', '/api/session']) {
      const r = await fetch(`${w.base}${path}`, { headers: { authorization: `Bearer ${w.admin}` } });
      await r.text();
      const csp = r.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'self'/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      const scripts = /script-src ([^;]*)/.exec(csp)?.[1] ?? '';
      assert.equal(scripts, "'self'", `${path}: only the UI's own scripts run`);
      assert.doesNotMatch(csp, /unsafe-eval/, path);
      assert.match(csp, /object-src 'none'/, path);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    }
  });

  test('the page and virsh share the driver: an action through the API is seen by virsh, and virsh is seen on the event socket', async () => {
    const events = await ws(w, `/api/events?uri=${TEST_URI}`, { authorization: `Bearer ${w.admin}` });
    const got: { name: string; event: number }[] = [];
    events.on('message', (m: Buffer) => got.push(JSON.parse(m.toString()) as { name: string; event: number }));
    try {
      const list = (await api(w, 'GET', `/api/domains?uri=${TEST_URI}`)).json as { uuid: string }[];
      const r = await api(w, 'POST', `/api/domains/${list[0]!.uuid}/actions/suspend?uri=${TEST_URI}`, { body: {} });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal((r.json as { stateName: string }).stateName, 'paused');
      const v = virsh(w.d.uri('/default'), 'domstate', 'test');
      assert.equal(v.stdout.trim(), 'paused');
      assert.equal(virsh(w.d.uri('/default'), 'resume', 'test').code, 0);
      const deadline = Date.now() + 10_000;
      while (got.length < 2 && Date.now() < deadline) await sleep(20);
      // SUSPENDED (3) from the page's call, RESUMED (4) from virsh's.
      assert.deepEqual(got.map((e) => [e.name, e.event]), [['test', 3], ['test', 4]]);
    } finally {
      events.close();
    }
  });

  test('the undefine preview names every refusal with its flag; undefine with the offered flags succeeds', async () => {
    const list = (await api(w, 'GET', `/api/domains?uri=${TEST_URI}`)).json as { uuid: string }[];
    const uuid = list[0]!.uuid;
    const q = `?uri=${TEST_URI}`;
    assert.equal((await api(w, 'POST', `/api/domains/${uuid}/snapshots${q}`, { body: { xml: '<domainsnapshot><name>s1</name></domainsnapshot>' } })).status, 200);
    assert.equal((await api(w, 'POST', `/api/domains/${uuid}/actions/managedsave${q}`, { body: {} })).status, 200);
    const p = (await api(w, 'GET', `/api/domains/${uuid}/undefine${q}`)).json as { obstacles: { kind: string; flag: string; message: string }[]; becomesTransient: boolean };
    assert.deepEqual(
      p.obstacles.map((o) => [o.kind, o.flag, o.message]),
      [
        ['snapshots', 'VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA', 'cannot delete inactive domain with 1 snapshots'],
        ['managed-save', 'VIR_DOMAIN_UNDEFINE_MANAGED_SAVE', 'Refusing to undefine while domain managed save image exists'],
      ],
    );
    assert.equal(p.becomesTransient, false);
    // The same refusal libvirt gives, first obstacle first.
    const refused = await api(w, 'POST', `/api/domains/${uuid}/undefine${q}`, { body: {} });
    assert.equal(refused.status, 409);
    assert.match((refused.json as { error: { message: string } }).error.message, /cannot delete inactive domain with 1 snapshots/);
    assert.equal((await api(w, 'POST', `/api/domains/${uuid}/undefine${q}`, { body: { flags: ['snapshots-metadata'] } })).status, 409);
    assert.equal((await api(w, 'POST', `/api/domains/${uuid}/undefine${q}`, { body: { flags: ['snapshots-metadata', 'managed-save'] } })).status, 204);
    assert.deepEqual((await api(w, 'GET', `/api/domains${q}`)).json, []);
  });

  test('bad input: unknown domain 404, unknown action 404, malformed JSON 400, bad XML 400, unserved URI 404', async () => {
    assert.equal((await api(w, 'GET', `/api/domains/00000000-0000-0000-0000-000000000001?uri=${TEST_URI}`)).status, 404);
    const bad = await fetch(`${w.base}/api/domains?uri=${TEST_URI}`, { method: 'POST', headers: { authorization: `Bearer ${w.admin}`, 'content-type': 'application/json' }, body: '{' });
    assert.equal(bad.status, 400);
    const xml = await api(w, 'POST', `/api/domains?uri=${TEST_URI}`, { body: { xml: '<domain' } });
    assert.equal(xml.status, 400, JSON.stringify(xml.json));
    assert.equal((await api(w, 'GET', `/api/domains?uri=${encodeURIComponent('esx://h/')}`)).status, 404);
    assert.equal((await api(w, 'POST', `/api/domains/00000000-0000-0000-0000-000000000001/actions/explode?uri=${TEST_URI}`, { body: {} })).status, 404);
  });

  test('a revoked token stops working at once and its WebSockets end', async () => {
    const t = newToken();
    appendFileSync(w.tokensFile, `readonly ${t}\n`);
    assert.equal((await api(w, 'GET', '/api/session', { token: t })).status, 200);
    const s = await ws(w, `/api/events?uri=${TEST_URI}`, { authorization: `Bearer ${t}` });
    const closed = new Promise<number>((resolve) => s.once('close', (code) => resolve(code)));
    writeFileSync(w.tokensFile, readFileSync(w.tokensFile, 'utf8').split('\n').filter((l) => !l.includes(t)).join('\n'));
    assert.equal((await api(w, 'GET', '/api/session', { token: t })).status, 401);
    assert.equal(await closed, 4401);
  });

  test('tokens never appear in the log', async () => {
    await w.d.stop();
    const log = readFileSync(w.logFile, 'utf8');
    assert.match(log, /web console on http:\/\/127\.0\.0\.1:\d+\//);
    assert.ok(!log.includes(w.admin), 'the admin token is not logged');
    assert.ok(!log.includes(readonlyToken), 'the read-only token is not logged');
  });
});

describe('web console: consoles of a real QEMU guest', { skip: qemuSkipReason() || virshSkip(), timeout: 240_000 }, () => {
  const reaper = new Reaper();
  let w: Web;
  let uuid: string;
  let readonlyToken: string;
  const QURI = encodeURIComponent('qemu:///session');

  before(async () => {
    w = await startWeb(reaper, ['qemu:///session']);
    readonlyToken = newToken();
    appendFileSync(w.tokensFile, `readonly ${readonlyToken}\n`);
    const dir = reaper.tempDir('tsvwebq-');
    const guest = await buildTestGuest(join(dir, 'guest'));
    uuid = randomUUID();
    const xml = guestXML({
      name: 'web1',
      uuid,
      guest,
      mode: 'A',
      shell: true,
      serial: join(dir, 'web1.log'),
      pty: { log: true },
      extraDevices: "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>",
    });
    const r = await api(w, 'POST', `/api/domains?uri=${QURI}`, { body: { xml } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const s = await api(w, 'POST', `/api/domains/${uuid}/actions/start?uri=${QURI}`, { body: {} });
    for (const pid of guestPids(w.d.stateDir)) reaper.track(pid);
    assert.equal(s.status, 200, JSON.stringify(s.json));
  });

  after(async () => {
    if (w !== undefined) {
      for (const pid of guestPids(w.d.stateDir)) reaper.track(pid);
      await api(w, 'POST', `/api/domains/${uuid}/actions/destroy?uri=${QURI}`, { body: {} }).catch(() => undefined);
      await w.d.stop();
    }
    await reaper.cleanup();
  });

  async function readUntil(s: WebSocket, pattern: RegExp, ms = 90_000): Promise<string> {
    let text = '';
    const onMsg = (m: Buffer): void => {
      text += m.toString('latin1');
    };
    s.on('message', onMsg);
    try {
      const deadline = Date.now() + ms;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} in: ${text.slice(-400)}`);
        await sleep(50);
      }
      return text;
    } finally {
      s.off('message', onMsg);
    }
  }

  test('the serial console WebSocket carries a shell: a typed command is echoed with its output', async () => {
    const s = await ws(w, `/api/domains/${uuid}/console/serial?uri=${QURI}`, { authorization: `Bearer ${w.admin}` });
    try {
      // The shell prompt appears once the guest is up; poke it until it answers.
      const marker = `marker-${Math.floor(Math.random() * 1e6)}`;
      const deadline = Date.now() + 120_000;
      let seen = '';
      const onMsg = (m: Buffer): void => {
        seen += m.toString('latin1');
      };
      s.on('message', onMsg);
      while (!seen.includes(`${marker}-ok`) && Date.now() < deadline) {
        s.send(Buffer.from(`echo ${marker}-ok\n`));
        await sleep(2000);
      }
      s.off('message', onMsg);
      assert.ok(seen.includes(`${marker}-ok`), `no echo in: ${seen.slice(-400)}`);
    } finally {
      s.close();
    }
  });

  test("a read-only token sees the serial console but its keystrokes never reach the guest", async () => {
    const viewer = await ws(w, `/api/domains/${uuid}/console/serial?uri=${QURI}&force=1`, { authorization: `Bearer ${readonlyToken}` });
    try {
      const marker = `ro-${Math.floor(Math.random() * 1e6)}`;
      let seen = '';
      viewer.on('message', (m: Buffer) => (seen += m.toString('latin1')));
      viewer.send(Buffer.from(`echo ${marker}-typed\n`));
      await sleep(4000);
      assert.ok(!seen.includes(`${marker}-typed`), 'the guest never saw the read-only input');
    } finally {
      viewer.close();
    }
  });

  test("an operator token's serial console is interactive: its command reaches the guest and is echoed", async () => {
    const op = newToken();
    appendFileSync(w.tokensFile, `operator ${op}\n`);
    const s = await ws(w, `/api/domains/${uuid}/console/serial?uri=${QURI}&force=1`, { authorization: `Bearer ${op}` });
    try {
      const marker = `op-${Math.floor(Math.random() * 1e6)}`;
      let seen = '';
      s.on('message', (m: Buffer) => (seen += m.toString('latin1')));
      const deadline = Date.now() + 60_000;
      while (!seen.includes(`${marker}-ok`) && Date.now() < deadline) {
        s.send(Buffer.from(`echo ${marker}-ok\n`));
        await sleep(2000);
      }
      assert.ok(seen.includes(`${marker}-ok`), `no echo in: ${seen.slice(-400)}`);
    } finally {
      s.close();
    }
  });

  test('the metrics history of a running QEMU guest has CPU and memory figures', async () => {
    type S = { cpu: number | null; memoryKiB: number | null; diskReadBps: number | null };
    let samples: S[] = [];
    const deadline = Date.now() + 40_000;
    while (samples.filter((s) => s.cpu !== null).length < 2 && Date.now() < deadline) {
      await sleep(1000);
      samples = ((await api(w, 'GET', `/api/domains/${uuid}/metrics?uri=${QURI}`)).json as { samples: S[] }).samples;
    }
    const withCpu = samples.filter((s) => s.cpu !== null);
    assert.ok(withCpu.length >= 2, JSON.stringify(samples));
    for (const s of withCpu) assert.ok(s.cpu! >= 0 && s.cpu! <= 100, `cpu ${s.cpu}`);
    assert.ok(samples.every((s) => s.memoryKiB !== null && s.memoryKiB > 0), 'memory');
  });

  test('the VNC WebSocket speaks RFB from QEMU; a read-only token gets it too, and unknown client messages end it', async () => {
    const s = await ws(w, `/api/domains/${uuid}/console/vnc?uri=${QURI}`, { authorization: `Bearer ${w.admin}` });
    try {
      assert.match(await readUntil(s, /RFB 003\.008/, 30_000), /^RFB 003\.008\n/);
    } finally {
      s.close();
    }
    const ro = await ws(w, `/api/domains/${uuid}/console/vnc?uri=${QURI}`, { authorization: `Bearer ${readonlyToken}` });
    const closed = new Promise<void>((resolve) => ro.once('close', () => resolve()));
    let got = Buffer.alloc(0);
    ro.on('message', (m: Buffer) => (got = Buffer.concat([got, m])));
    const waitFor = async (n: number): Promise<void> => {
      const deadline = Date.now() + 30_000;
      while (got.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${got.length} bytes from the VNC server`);
        await sleep(20);
      }
    };
    await waitFor(12);
    assert.equal(got.subarray(0, 12).toString('latin1'), 'RFB 003.008\n');
    ro.send(Buffer.from('RFB 003.008\n'));
    // QEMU lists its security types (one: None), the client picks None and sends ClientInit.
    await waitFor(14);
    assert.deepEqual([...got.subarray(12, 14)], [1, 1]);
    ro.send(Buffer.from([1]));
    ro.send(Buffer.from([1]));
    // SecurityResult OK (4 bytes) and ServerInit (24 bytes and the name): the view works.
    await waitFor(14 + 4 + 24);
    assert.equal(got.readUInt32BE(14), 0, 'security result OK');
    // A message the filter does not know ends the connection.
    ro.send(Buffer.from([77, 0, 0, 0]));
    await closed;
  });
});
