/**
 * Streams benchmark. Prints the time of a whole screenshot (virDomainScreenshot, the image read
 * to the end of data, then virStreamFinish) on test:///default: in process, through tsvirtd with
 * tsvirt's remote driver, and through a real libvirtd (its test driver; its image is 33 KB where
 * tsvirt's is 7 KB, so compare the round trips, not the bytes). Rounds alternate between the
 * daemons; best round each. Not a test: it asserts nothing.
 *
 *   npx tsc -p . && node dist/bench/streams.js     (BENCH_QUICK=1 for smaller counts)
 */
import { connect } from '../src/index.js';
import { startDaemon } from '../test/support/daemon-harness.js';
import { startLibvirtd } from '../test/support/libvirtd-harness.js';

const N = process.env.BENCH_QUICK === '1' ? 50 : 300;
const ROUNDS = 3;

/** Milliseconds per screenshot over `n` of them on `uri`, and the image's size. */
async function screenshots(uri: string, n: number): Promise<{ ms: number; bytes: number }> {
  const conn = await connect(uri);
  try {
    const dom = await conn.lookupByName('test');
    let bytes = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const st = conn.newStream();
      await dom.screenshot(st, 0);
      for await (const chunk of st) bytes += chunk.length;
      await st.finish();
    }
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6 / n, bytes: bytes / n };
  } finally {
    await conn.close();
  }
}

const d = await startDaemon({ verbose: false, uris: ['test:///default'] });
const lv = await startLibvirtd();
try {
  const sides: [string, string][] = [
    ['in process (test:///default)', 'test:///default'],
    ['tsvirtd, remote driver', d.uri('/default')],
    ...('skip' in lv ? [] : [['libvirtd, remote driver', lv.uri('/default')] as [string, string]]),
  ];
  if ('skip' in lv) console.log(`libvirtd not measured: ${lv.skip}`);
  const best = new Map<string, { ms: number; bytes: number }>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, uri] of sides) {
      const r = await screenshots(uri, N);
      const prev = best.get(label);
      if (prev === undefined || r.ms < prev.ms) best.set(label, r);
    }
  }
  for (const [label, r] of best) console.log(`${label}: ${r.ms.toFixed(2)} ms per screenshot (${r.bytes} bytes), best of ${ROUNDS} rounds of ${N}`);
} finally {
  await d.dispose();
  if (!('skip' in lv)) await lv.dispose();
}
