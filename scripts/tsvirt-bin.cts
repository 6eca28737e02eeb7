#!/usr/bin/env node
/**
 * The `tsvirt` bin (part of the build: scripts/build-bins.mjs puts tsc's output of this file at
 * DIST/src/cli/tsvirt.cjs, beside the scripts it runs). It runs the CLI's bundle
 * (tsvirt.bundle.cjs) with V8's code cache, so that a command does not pay for parsing and
 * compiling the CLI, the API, the driver and the store each time it starts.
 *
 * The bundle asks for its other scripts with require('tsvirt:NAME'), answered by running
 * tsvirt.NAME.cjs the same way, once: `xml` (fast-xml-parser, when a command first parses XML)
 * and `remote` (the remote driver and the wire protocol, when a remote URI is opened). Those
 * scripts take the modules they share with the bundle (core's VirError, enums…) from the bundle
 * itself, with require('tsvirt:module/PATH'), answered from the bundle's `sharedModules`: one
 * instance of each module in the process.
 *
 * Each script's cache is looked up, by the script's build id, the Node version and the
 * architecture, in TSVIRT_CODE_CACHE_DIR (else $XDG_CACHE_HOME/tsvirt, else ~/.cache/tsvirt),
 * then beside the script (where the build puts one). When none is found or V8 rejects it (another
 * Node, other V8 flags), the script is compiled from source and a new cache is written to the
 * first directory when the process exits. TSVIRT_CODE_CACHE=off runs without any cache.
 *
 * CommonJS on purpose: an ES module entry costs Node's module loader; this file and the scripts
 * are plain scripts. Each script file is one function expression taking CommonJS's arguments (the
 * build wraps it), so that its source is used as read, without a copy into a wrapper.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';

interface Bundle {
  runProgram(): Promise<never>;
  /** The bundle's modules that the other scripts import, by path below src/ (`core/errors.js`). */
  sharedModules: Record<string, () => unknown>;
}

type ModuleFunction = (exports: object, require: NodeJS.Require, module: { exports: unknown }, filename: string, dirname: string) => void;

const BUNDLE = join(__dirname, 'tsvirt.bundle.cjs');
const ID_PREFIX = '//tsvirt-build:';

function userCacheDir(env: NodeJS.ProcessEnv): string | null {
  if (env.TSVIRT_CODE_CACHE_DIR !== undefined && env.TSVIRT_CODE_CACHE_DIR !== '') return env.TSVIRT_CODE_CACHE_DIR;
  if (env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME.startsWith('/')) return join(env.XDG_CACHE_HOME, 'tsvirt');
  try {
    // $HOME, as os.homedir() reads first; node:os (0.4 ms to load) only without it.
    const home = env.HOME !== undefined && env.HOME !== '' ? env.HOME : (nodeRequire('node:os') as typeof import('node:os')).homedir();
    return join(home, '.cache', 'tsvirt');
  } catch {
    return null;
  }
}

/**
 * One buffer for every file the bin reads: a script's source (copied into a string at once) and
 * then its code cache (which V8 has finished with when the Script exists). Each fresh page of
 * memory costs a page fault, ~5 µs on this kind of VM: reusing the pages saves ~80 of them.
 */
let scratch = Buffer.alloc(0);

/** Reads all of `file` into `scratch` and returns its length; null when it cannot be read. */
function readIntoScratch(file: string): number | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    if (scratch.length < size) scratch = Buffer.allocUnsafeSlow(size);
    let n = 0;
    while (n < size) {
      const got = readSync(fd, scratch, n, size - n, n);
      if (got === 0) break;
      n += got;
    }
    return n;
  } catch {
    return null;
  } finally {
    closeSync(fd);
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

/**
 * Runs one of the bin's scripts as a CommonJS module, with its code cache (`prefix` names the
 * cache files), and returns its exports; null when the file cannot be read.
 */
function runScript(file: string, prefix: string, req: NodeJS.Require): unknown {
  const sourceLength = readIntoScratch(file);
  if (sourceLength === null) return null;
  // The scripts are ASCII (the build checks), so latin1 decodes them exactly, and faster than UTF-8.
  const source = scratch.toString('latin1', 0, sourceLength);
  const env = process.env;
  const useCache = env.TSVIRT_CODE_CACHE !== 'off' && source.startsWith(ID_PREFIX);
  const name = useCache ? `${prefix}-${source.slice(ID_PREFIX.length, ID_PREFIX.length + 16)}-${process.version}-${process.arch}.v8cache` : '';
  const userDir = useCache ? userCacheDir(env) : null;
  let cachedData: Buffer | null = null;
  if (useCache) {
    const length = (userDir !== null ? readIntoScratch(join(userDir, name)) : null) ?? readIntoScratch(join(__dirname, name));
    if (length !== null) cachedData = scratch.subarray(0, length);
  }
  const script = new Script(source, { filename: file, ...(cachedData !== null ? { cachedData } : {}) });
  if (userDir !== null && (cachedData === null || script.cachedDataRejected === true)) {
    // Made at exit, so that it holds the functions this run compiled, not only the top level.
    process.once('exit', () => writeQuietly(userDir, join(userDir, name), script.createCachedData()));
  }
  const mod = { exports: {} as unknown };
  const fn = script.runInThisContext() as ModuleFunction;
  fn.call(mod.exports, mod.exports as object, req, mod, file, __dirname);
  return mod.exports;
}

const nodeRequire = createRequire(BUNDLE);
const SCRIPT_ID = 'tsvirt:';
const MODULE_ID = 'tsvirt:module/';
const scripts = new Map<string, unknown>();
/** The scripts' require: Node's, except for the ids of the bin's scripts and the bundle's shared modules. */
const bundleRequire = Object.assign((id: string): unknown => {
  if (!id.startsWith(SCRIPT_ID)) return nodeRequire(id);
  if (id.startsWith(MODULE_ID)) {
    const load = bundle?.sharedModules[id.slice(MODULE_ID.length)];
    if (load === undefined) throw new Error(`tsvirt: the bundle does not share ${id}; rebuild with 'npm run build'`);
    return load();
  }
  const name = id.slice(SCRIPT_ID.length);
  if (!scripts.has(name)) {
    const file = join(__dirname, `tsvirt.${name}.cjs`);
    const exports = runScript(file, `tsvirt-${name}`, bundleRequire);
    if (exports === null) throw new Error(`tsvirt: ${file} is missing; rebuild with 'npm run build'`);
    scripts.set(name, exports);
  }
  return scripts.get(name);
}, nodeRequire) as NodeJS.Require;

const bundle = runScript(BUNDLE, 'tsvirt', bundleRequire) as Bundle | null;
if (bundle === null) {
  process.stderr.write(`tsvirt: ${BUNDLE} is missing; build it with 'npm run build' (or 'node scripts/build-bins.mjs OUTDIR' after tsc)\n`);
  process.exit(1);
}
void bundle.runProgram();
