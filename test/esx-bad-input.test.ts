/**
 * The ESX driver on bad input: a wrong password, an unreachable host, a certificate nobody
 * trusts, a VM removed behind tsvirt's back, a server that answers garbage or not at all, and
 * missing credentials. Each is a clear VirError, and none hangs (every call has a timeout).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorNumber, VirError, connect } from '../src/index.js';
import { startVcsim, type RunningVcsim } from './support/vcsim-harness.js';
import { TSVIRT, run } from './cli-harness.js';

async function rejectsVir(p: Promise<unknown>, code: ErrorNumber, message?: RegExp | string): Promise<VirError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof VirError, `expected a VirError, got ${String(e)}`);
    assert.equal(e.code, code, `code ${e.codeName}: ${e.message}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message !== undefined) assert.match(e.message, message);
    return e;
  }
  assert.fail('expected a rejection');
}

const env = (extra: Record<string, string>) => {
  const e: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete e.LIBVIRT_AUTH_FILE;
  return { ...e, ...extra };
};

let sim: RunningVcsim | undefined;
let skip: string | false = false;
let scratch = '';

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'tsvirt-esx-bad-'));
  const started = await startVcsim({ username: 'admin', password: 'right' });
  if ('skip' in started) skip = started.skip;
  else sim = started;
});
after(async () => {
  await sim?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

describe('ESX bad input', () => {
  test('wrong password: VIR_ERR_AUTH_FAILED with the server\'s fault', async (t) => {
    if (skip) return t.skip(skip);
    const e = await rejectsVir(
      connect(sim!.uri({ user: 'admin' }), { auth: (c) => void c.forEach((x) => (x.result = 'wrong')) }),
      ErrorNumber.AUTH_FAILED,
      /HTTP response code 500 for call to 'Login'\. Fault: ServerFaultCode - .*(login|password)/i,
    );
    assert.equal(e.domainName, 'VIR_FROM_ESX');
  });

  test('credentials from libvirt\'s auth file (LIBVIRT_AUTH_FILE), then the callback; none at all is a clear error', async (t) => {
    if (skip) return t.skip(skip);
    const saved = process.env.LIBVIRT_AUTH_FILE;
    try {
      process.env.LIBVIRT_AUTH_FILE = sim!.authFile('admin', 'right');
      let asked = false;
      const conn = await connect(sim!.uri(), { auth: () => void (asked = true) });
      assert.equal(asked, false, 'the auth file answered: the callback is not asked');
      assert.ok((await conn.listAllDomains(0)).length > 0);
      await conn.close();
      process.env.LIBVIRT_AUTH_FILE = join(scratch, 'missing.conf');
      const prompts: string[] = [];
      const conn2 = await connect(sim!.uri(), {
        auth: (creds) => {
          for (const c of creds) {
            prompts.push(c.prompt);
            c.result = c.type === 2 ? 'admin' : 'right';
          }
        },
      });
      await conn2.close();
      assert.deepEqual(prompts, [`Enter username for ${sim!.host} [root]`, `Enter admin's password for ${sim!.host}`]);
      await rejectsVir(connect(sim!.uri({ user: 'admin' }), { auth: () => false }), ErrorNumber.AUTH_FAILED, 'authentication failed: Password request failed');
      // No file, no callback, no terminal (the test's stdin is not one).
      await rejectsVir(connect(sim!.uri({ user: 'admin' })), ErrorNumber.AUTH_UNAVAILABLE, /no password for admin@127\.0\.0\.1/);
    } finally {
      if (saved === undefined) delete process.env.LIBVIRT_AUTH_FILE;
      else process.env.LIBVIRT_AUTH_FILE = saved;
    }
  });

  test('unreachable host: VIR_ERR_INTERNAL_ERROR naming the endpoint, at once', async () => {
    const server = createNetServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    await rejectsVir(
      connect(`esx://root@127.0.0.1:${port}/?no_verify=1`, { auth: () => false }),
      ErrorNumber.INTERNAL_ERROR,
      new RegExp(`Could not connect to 'https://127\\.0\\.0\\.1:${port}/sdk': .*ECONNREFUSED`),
    );
  });

  test('untrusted certificate without no_verify is refused; trusted (NODE_EXTRA_CA_CERTS) it verifies', async (t) => {
    if (skip) return t.skip(skip);
    await rejectsVir(
      connect(sim!.uri({ user: 'admin', verify: true }), { auth: (c) => void c.forEach((x) => (x.result = 'right')) }),
      ErrorNumber.INTERNAL_ERROR,
      /TLS certificate is not trusted .*no_verify=1/,
    );
    // Verification on, with the simulator's certificate trusted by the process: it works.
    const out = await run(process.execPath, [TSVIRT, '-c', sim!.uri({ verify: true }), 'list', '--all', '--name'], {
      cwd: scratch,
      env: env({ NODE_EXTRA_CA_CERTS: sim!.certFile, LIBVIRT_AUTH_FILE: sim!.authFile('admin', 'right') }),
    });
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /ha-host_VM0/);
  });

  test('a VM removed behind tsvirt\'s back: VIR_ERR_NO_DOMAIN on the stale handle', async (t) => {
    if (skip) return t.skip(skip);
    const auth = (c: { result?: string }[]) => void c.forEach((x) => (x.result = 'right'));
    const mine = await connect(sim!.uri({ user: 'admin' }), { auth });
    const other = await connect(sim!.uri({ user: 'admin' }), { auth });
    try {
      const dom = await mine.lookupByName('ha-host_VM1');
      const theirs = await other.lookupByName('ha-host_VM1');
      await theirs.destroy();
      await theirs.undefine();
      await rejectsVir(dom.info(), ErrorNumber.NO_DOMAIN, `Domain not found: Could not find domain with UUID '${dom.UUIDString()}'`);
      await rejectsVir(dom.create(), ErrorNumber.NO_DOMAIN);
      await rejectsVir(dom.snapshotNum(), ErrorNumber.NO_DOMAIN);
    } finally {
      await mine.close();
      await other.close();
    }
  });
});

describe('ESX against a broken server', () => {
  let server: Server | undefined;
  let port = 0;
  let mode: 'garbage' | 'silent' | 'wrong-body' = 'garbage';
  let tlsSkip: string | false = false;
  before(async () => {
    const key = join(scratch, 'key.pem');
    const cert = join(scratch, 'cert.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-days', '1', '-keyout', key, '-out', cert]);
    if (r.status !== 0) {
      tlsSkip = `openssl could not make a test certificate: ${r.stderr?.toString() ?? r.error?.message}`;
      return;
    }
    server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
      req.resume();
      if (mode === 'silent') return; // never answers: the client's timeout must end the call
      if (mode === 'wrong-body') {
        res.writeHead(200, { 'Content-Type': 'text/xml' });
        res.end('<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><Other/></soapenv:Body></soapenv:Envelope>');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/xml' });
      res.end('<<this is not XML & never was');
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  test('garbage instead of SOAP: VIR_ERR_INTERNAL_ERROR, not a crash', async (t) => {
    if (tlsSkip) return t.skip(tlsSkip);
    mode = 'garbage';
    await rejectsVir(connect(`esx://root@127.0.0.1:${port}/?no_verify=1`, { auth: () => false }), ErrorNumber.INTERNAL_ERROR, /Malformed response for call to 'RetrieveServiceContent'/);
    mode = 'wrong-body';
    await rejectsVir(connect(`esx://root@127.0.0.1:${port}/?no_verify=1`, { auth: () => false }), ErrorNumber.INTERNAL_ERROR, "internal error: XPath evaluation of response for call to 'RetrieveServiceContent' failed");
  });

  test('a server that never answers: VIR_ERR_OPERATION_TIMEOUT within the configured bound', async (t) => {
    if (tlsSkip) return t.skip(tlsSkip);
    mode = 'silent';
    const saved = process.env.TSVIRT_ESX_TIMEOUT_MS;
    process.env.TSVIRT_ESX_TIMEOUT_MS = '300';
    try {
      await rejectsVir(connect(`esx://root@127.0.0.1:${port}/?no_verify=1`, { auth: () => false }), ErrorNumber.OPERATION_TIMEOUT, /call to 'RetrieveServiceContent' .* got no answer within 300 ms/);
    } finally {
      if (saved === undefined) delete process.env.TSVIRT_ESX_TIMEOUT_MS;
      else process.env.TSVIRT_ESX_TIMEOUT_MS = saved;
    }
  });

  test('bad URI parameters: libvirt\'s wording', async () => {
    await rejectsVir(connect('esx://h/?no_verify=2'), ErrorNumber.INVALID_ARG, "Query parameter 'no_verify' has unexpected value '2' (should be 0 or 1)");
    await rejectsVir(connect('esx://h/?transport=ftp'), ErrorNumber.INVALID_ARG, /Query parameter 'transport' has unexpected value 'ftp'/);
  });
});

