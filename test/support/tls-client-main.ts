/**
 * A tsvirt client run inside a test's network namespace (`ip netns exec NS node
 * tls-client-main.js URI OPS_JSON`): opens URI with tsvirt's remote driver, runs the ops and
 * prints one JSON line: `{ ok: true, out: [...] }` or `{ ok: false, error: { code, domain, message } }`.
 * Ops: `{ op: 'list' }` (names of all domains), `{ op: 'define', xml }`, `{ op: 'start', name }`,
 * `{ op: 'version' }`, `{ op: 'fdPassing' }` (the daemon's answer to CONNECT_SUPPORTS_FEATURE
 * FD_PASSING over a raw TLS client), `{ op: 'rtt', n }` (mean ms of n getVersion calls),
 * `{ op: 'raw', pkipath }` (a bare TLS client sending that directory's certificate whatever it
 * is, as libvirt's own client would not: 'confirmed' when the server sends 0x01, else 'closed'),
 * `{ op: 'openGraphicsFD', name }`.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { connect } from '../../src/index.js';
import { VirError } from '../../src/core/errors.js';
import { openTls } from '../../src/drivers/remote/tls.js';
import { parseRemoteURI } from '../../src/drivers/remote/uri.js';
import { Proc } from '../../src/rpc/procedures.js';
import { DrvFeature } from '../../src/rpc/protocol.js';

type Op = { op: 'list' } | { op: 'define'; xml: string } | { op: 'start'; name: string } | { op: 'version' } | { op: 'fdPassing' } | { op: 'rtt'; n: number } | { op: 'raw'; pkipath: string } | { op: 'openGraphicsFD'; name: string };

/** Connects with the files of `pkipath` and says whether the server confirmed (0x01) or closed. */
function raw(url: URL, pkipath: string): Promise<string> {
  const file = (n: string): Buffer | undefined => (existsSync(join(pkipath, n)) ? readFileSync(join(pkipath, n)) : undefined);
  return new Promise((resolve) => {
    const s = tlsConnect({ host: url.hostname, port: Number(url.port), ca: file('cacert.pem'), cert: file('clientcert.pem'), key: file('clientkey.pem'), rejectUnauthorized: false });
    let got = 'closed';
    s.on('data', (b: Buffer) => {
      if (b[0] === 1) got = 'confirmed';
      s.end();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
    setTimeout(() => s.destroy(), 5000).unref();
  });
}

async function main(): Promise<void> {
  const uri = process.argv[2]!;
  const ops = JSON.parse(process.argv[3] ?? '[]') as Op[];
  const out: unknown[] = [];
  try {
    const first = ops[0];
    if (ops.length === 1 && first?.op === 'raw') {
      out.push(await raw(new URL(uri), first.pkipath));
    } else if (ops.length === 1 && first?.op === 'fdPassing') {
      const url = new URL(uri);
      const c = await openTls(parseRemoteURI(url), 10_000, {});
      try {
        await c.call(Proc.CONNECT_OPEN, { name: parseRemoteURI(url).inner, flags: 0 });
        out.push((await c.call(Proc.CONNECT_SUPPORTS_FEATURE, { feature: DrvFeature.FD_PASSING })).supported);
      } finally {
        c.close();
      }
    } else {
      const conn = await connect(uri);
      try {
        for (const o of ops) {
          if (o.op === 'list') out.push((await conn.listAllDomains()).map((d) => d.name()).sort());
          else if (o.op === 'define') out.push((await conn.defineXML(o.xml)).name());
          else if (o.op === 'start') {
            await (await conn.lookupByName(o.name)).create();
            out.push('started');
          } else if (o.op === 'version') out.push(await conn.getVersion());
          else if (o.op === 'openGraphicsFD') out.push(await (await conn.lookupByName(o.name)).openGraphicsFD(0));
          else if (o.op === 'rtt') {
            const t0 = performance.now();
            for (let i = 0; i < o.n; i++) await conn.getVersion();
            out.push((performance.now() - t0) / o.n);
          }
        }
      } finally {
        await conn.close();
      }
    }
    process.stdout.write(`${JSON.stringify({ ok: true, out })}\n`);
  } catch (err) {
    const e = err instanceof VirError ? { code: err.code, domain: err.domain, message: err.message } : { code: -1, domain: -1, message: String(err) };
    process.stdout.write(`${JSON.stringify({ ok: false, error: e })}\n`);
  }
}

void main();
