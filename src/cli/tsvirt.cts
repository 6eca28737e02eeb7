#!/usr/bin/env node
/**
 * The `tsvirt` bin: runs the CLI's bundle (tsvirt.bundle.cjs, built by scripts/build-bins.mjs)
 * with V8's code cache, so that a command does not pay for parsing and compiling the CLI, the
 * API, the driver and the store each time it starts.
 *
 * The cache is looked up, by the bundle's build id, the Node version and the architecture, in
 * TSVIRT_CODE_CACHE_DIR (else $XDG_CACHE_HOME/tsvirt, else ~/.cache/tsvirt), then beside the
 * bundle (where the build puts one). When none is found or V8 rejects it (another Node, other V8
 * flags), the bundle is compiled from source and a new cache is written to the first directory
 * when the process exits. TSVIRT_CODE_CACHE=off runs without any cache.
 *
 * CommonJS on purpose: an ES module entry costs Node's module loader; this file and the bundle
 * are plain scripts.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';

interface Bundle {
  runProgram(): Promise<never>;
}

const BUNDLE = join(__dirname, 'tsvirt.bundle.cjs');
const ID_PREFIX = '//tsvirt-build:';

function userCacheDir(env: NodeJS.ProcessEnv): string | null {
  if (env.TSVIRT_CODE_CACHE_DIR !== undefined && env.TSVIRT_CODE_CACHE_DIR !== '') return env.TSVIRT_CODE_CACHE_DIR;
  if (env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME.startsWith('/')) return join(env.XDG_CACHE_HOME, 'tsvirt');
  try {
    return join(homedir(), '.cache', 'tsvirt');
  } catch {
    return null;
  }
}

function readOrNull(file: string): Buffer | null {
  try {
    return readFileSync(file);
  } catch {
    return null;
  }
}

/** Writes `data` to `file` atomically (concurrent runs each write a whole file); errors are ignored: the cache is an optimisation. */
function writeQuietly(dir: string, file: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch {
    // A read-only or full cache directory: the next run compiles from source again.
  }
}

function load(): Bundle {
  let source: string;
  try {
    // The bundle is ASCII (the build checks), so latin1 decodes it exactly, and faster than UTF-8.
    source = readFileSync(BUNDLE, 'latin1');
  } catch {
    process.stderr.write(`tsvirt: ${BUNDLE} is missing; build it with 'npm run build' (or 'node scripts/build-bins.mjs OUTDIR' after tsc)\n`);
    process.exit(1);
  }
  const env = process.env;
  const useCache = env.TSVIRT_CODE_CACHE !== 'off' && source.startsWith(ID_PREFIX);
  const name = useCache ? `tsvirt-${source.slice(ID_PREFIX.length, ID_PREFIX.length + 16)}-${process.version}-${process.arch}.v8cache` : '';
  const userDir = useCache ? userCacheDir(env) : null;
  let cachedData: Buffer | null = null;
  if (useCache) {
    cachedData = (userDir !== null ? readOrNull(join(userDir, name)) : null) ?? readOrNull(join(__dirname, name));
  }

  // The wrapper of a CommonJS module, so that the bundle sees require, module and __filename.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: BUNDLE,
    ...(cachedData !== null ? { cachedData } : {}),
  });
  if (userDir !== null && (cachedData === null || script.cachedDataRejected === true)) {
    // Made at exit, so that it holds the functions this run compiled, not only the top level.
    process.once('exit', () => writeQuietly(userDir, join(userDir, name), script.createCachedData()));
  }
  const mod = { exports: {} as Bundle };
  const fn = script.runInThisContext() as (e: object, r: NodeJS.Require, m: object, f: string, d: string) => void;
  fn.call(mod.exports, mod.exports, createRequire(BUNDLE), mod, BUNDLE, __dirname);
  return mod.exports;
}

void load().runProgram();
