/**
 * A small coverage-guided fuzzer: inputs are mutated from a corpus, each is run against a target,
 * and an input that reaches code (a V8 block-coverage range, or a new hit-count bucket of one) no
 * earlier input reached joins the corpus. Coverage comes from V8's precise block coverage through
 * node:inspector, so nothing needs instrumenting or a native addon.
 *
 * Why not @jazzer.js/core: its only Linux build (4.0.0) needs glibc 2.38 and the Debian 12
 * machines here have 2.36; its earlier releases download their addon from outside npm, and
 * building it from source fetches libFuzzer from outside npm too. jsfuzz instruments CommonJS
 * through esprima 4, which cannot read tsvirt's ES2022 modules.
 */
import { Session } from 'node:inspector';

/** One target: what it runs, which errors are acceptable, which scripts count for coverage. */
export interface FuzzTarget {
  name: string;
  run(data: Buffer): void;
  /** True for the errors the property allows (VirError, XdrError). */
  accepts(err: unknown): boolean;
  /** Script URLs whose coverage guides the search (tsvirt's own modules). */
  scripts: RegExp;
  /** Tokens the mutator splices in (markup, boundary integers). */
  dictionary?: readonly Buffer[];
}

export interface FuzzOptions {
  corpus: readonly Buffer[];
  timeMs: number;
  maxLen: number;
  /** A single execution slower than this is a finding (a hang, for practical purposes). */
  slowMs?: number;
  seed?: number;
}

export interface Finding {
  input: Buffer;
  what: string;
}

export interface FuzzResult {
  execs: number;
  corpus: Buffer[];
  /** Inputs added to the corpus because they reached new coverage. */
  added: Buffer[];
  features: number;
  findings: Finding[];
  slowestMs: number;
}

/** A seeded PRNG (mulberry32), so a run can be repeated from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xc0, 0xe9, 0xef, 0xf4, 0xf8];
const INTERESTING32 = [0, 1, 3, 4, 28, 0x7fffffff, 0x80000000, 0xffffffff, 0x400000, 0x400001, 0x2000000];

function mutate(src: Buffer, rand: () => number, corpus: readonly Buffer[], dict: readonly Buffer[], maxLen: number): Buffer {
  let b = Buffer.from(src);
  const int = (n: number) => Math.floor(rand() * n);
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    const at = b.length === 0 ? 0 : int(b.length);
    switch (int(9)) {
      case 0:
        if (b.length > 0) b[at] = (b[at] ?? 0) ^ (1 << int(8));
        break;
      case 1:
        if (b.length > 0) b[at] = INTERESTING[int(INTERESTING.length)] ?? 0;
        break;
      case 2:
        if (b.length >= 4) b.writeUInt32BE(INTERESTING32[int(INTERESTING32.length)] ?? 0, Math.min(at & ~3, b.length - 4));
        break;
      case 3: {
        const n = 1 + int(Math.min(16, b.length + 1));
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
        break;
      }
      case 4: {
        const extra = Buffer.alloc(1 + int(8));
        for (let k = 0; k < extra.length; k++) extra[k] = int(256);
        b = Buffer.concat([b.subarray(0, at), extra, b.subarray(at)]);
        break;
      }
      case 5: {
        const n = 1 + int(Math.min(64, Math.max(1, b.length - at)));
        const piece = b.subarray(at, at + n);
        const to = int(b.length + 1);
        b = Buffer.concat([b.subarray(0, to), piece, b.subarray(to)]);
        break;
      }
      case 6: {
        const other = corpus[int(corpus.length)] ?? Buffer.alloc(0);
        const cut = int(other.length + 1);
        b = Buffer.concat([b.subarray(0, at), other.subarray(cut)]);
        break;
      }
      case 7: {
        const tok = dict[int(dict.length)];
        if (tok !== undefined) b = Buffer.concat([b.subarray(0, at), tok, b.subarray(at)]);
        break;
      }
      default:
        b = b.subarray(0, at);
    }
  }
  return b.length > maxLen ? b.subarray(0, maxLen) : b;
}

/** Block coverage since the last call, as feature keys (range and hit-count bucket). */
class Coverage {
  private readonly session = new Session();

  constructor(private readonly scripts: RegExp) {
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  private post(method: string, params?: object): unknown {
    let result: unknown;
    let error: unknown;
    let done = false;
    // The in-process session answers synchronously.
    this.session.post(method, params, (err, res) => {
      error = err;
      result = res;
      done = true;
    });
    if (!done) throw new Error(`inspector did not answer ${method} synchronously`);
    if (error) throw error;
    return result;
  }

  take(into: Set<string>): void {
    const res = this.post('Profiler.takePreciseCoverage') as {
      result: { url: string; functions: { ranges: { startOffset: number; endOffset: number; count: number }[] }[] }[];
    };
    for (const script of res.result) {
      if (!this.scripts.test(script.url)) continue;
      for (const fn of script.functions) {
        for (const r of fn.ranges) {
          if (r.count === 0) continue;
          into.add(`${script.url}:${r.startOffset}:${r.endOffset}:${Math.min(8, Math.floor(Math.log2(r.count)))}`);
        }
      }
    }
  }

  close(): void {
    this.post('Profiler.stopPreciseCoverage');
    this.session.disconnect();
  }
}

/** Runs `target` for `opts.timeMs`, returning what it found. */
export function fuzz(target: FuzzTarget, opts: FuzzOptions): FuzzResult {
  const rand = rng(opts.seed ?? Date.now());
  const cov = new Coverage(target.scripts);
  const seen = new Set<string>();
  const corpus: Buffer[] = [];
  const added: Buffer[] = [];
  const findings: Finding[] = [];
  const slowMs = opts.slowMs ?? 2000;
  let slowest = 0;
  let execs = 0;

  const exec = (input: Buffer): boolean => {
    const fresh = new Set<string>();
    const t0 = performance.now();
    try {
      target.run(input);
    } catch (err) {
      if (!target.accepts(err)) {
        const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        findings.push({ input, what: what.slice(0, 300) });
      }
    }
    const ms = performance.now() - t0;
    slowest = Math.max(slowest, ms);
    if (ms > slowMs) findings.push({ input, what: `took ${ms.toFixed(0)} ms` });
    execs++;
    cov.take(fresh);
    let novel = false;
    for (const f of fresh) {
      if (!seen.has(f)) {
        seen.add(f);
        novel = true;
      }
    }
    return novel;
  };

  try {
    cov.take(new Set()); // drop what ran before
    for (const seed of opts.corpus) {
      exec(seed);
      corpus.push(seed);
    }
    if (corpus.length === 0) corpus.push(Buffer.alloc(0));
    const end = performance.now() + opts.timeMs;
    while (performance.now() < end && findings.length < 20) {
      const parent = corpus[Math.floor(rand() * corpus.length)] ?? Buffer.alloc(0);
      const child = mutate(parent, rand, corpus, target.dictionary ?? [], opts.maxLen);
      if (exec(child)) {
        corpus.push(child);
        added.push(child);
      }
    }
  } finally {
    cov.close();
  }
  return { execs, corpus, added, features: seen.size, findings, slowestMs: slowest };
}
