#!/usr/bin/env node
/**
 * Builds the `tsvirt` bin as one CommonJS bundle plus a V8 code cache, after `tsc` has compiled
 * the project (npm run build runs both).
 *
 *   node scripts/build-bins.mjs [OUTDIR]      (OUTDIR: tsc's output directory, default dist)
 *
 * Why: start-up is most of a short tsvirt command's time (issue 3 asks for tsvirt within 10 ms of
 * a bare `node -e 0`). Loading ~40 ES modules one by one costs resolution, file reads and module
 * linking for each; better-sqlite3 through the `bindings` package inspects a stack trace and probes
 * a dozen paths for its addon. One CommonJS file has none of that, and a code cache made at build
 * time lets V8 skip parsing and compiling it.
 *
 * It writes, next to tsc's OUTDIR/src/cli/main.js:
 *   tsvirt.bundle.cjs   main.js and everything it imports (better-sqlite3's JavaScript included),
 *                       except fast-xml-parser. Modules reached only by a dynamic import() are
 *                       wrapped by esbuild and run only when imported, as before.
 *   tsvirt.xml.cjs      fast-xml-parser's CommonJS build, which the bin hands to the bundle when
 *                       it first asks for it (only commands that parse XML load it).
 *   tsvirt-<build id>-<node version>-<arch>.v8cache, tsvirt-xml-<build id>-...
 *                       V8's code caches for both, made by running the bin once on
 *                       test:///default (see CACHE_TRAINING below).
 * Each file starts with its build id line, then one function expression with CommonJS's
 * parameters around the code: the bin compiles the file as it reads it, with no wrapper to add.
 * The bin itself, OUTDIR/src/cli/tsvirt.cjs, is compiled by tsc from src/cli/tsvirt.cts.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = resolve(root, process.argv[2] ?? 'dist');
const cliDir = join(outDir, 'src', 'cli');
const entry = join(cliDir, 'main.js');
const bundle = join(cliDir, 'tsvirt.bundle.cjs');
const xmlScript = join(cliDir, 'tsvirt.xml.cjs');
const bin = join(cliDir, 'tsvirt.cjs');

/** Commands run once at build time; the code cache then holds every function they compiled. */
const CACHE_TRAINING = ['-c', 'test:///default', 'list --all; dominfo test; domstate --reason test; snapshot-list test'];

for (const f of [entry, bin]) {
  if (!existsSync(f)) {
    console.error(`build-bins: ${f} is missing: compile with tsc first (npm run build does both)`);
    process.exit(1);
  }
}

/**
 * better-sqlite3 loads its addon with `require('bindings')('better_sqlite3.node')`. `bindings`
 * finds the calling package from a stack trace (in a bundle: tsvirt, not better-sqlite3) and
 * probes many paths, so the bundle gets this stand-in: the addon where node-gyp put it in the
 * better-sqlite3 that Node's resolution finds first from the bundle (at build time that is
 * ADDON, relative to the bundle; tried first, it spares the resolution), else `bindings` itself
 * with that package's directory as its root.
 */
const require = createRequire(entry);
const sqliteMain = require.resolve('better-sqlite3');
const ADDON = relative(cliDir, join(dirname(dirname(sqliteMain)), 'build', 'Release', 'better_sqlite3.node'));
const BINDINGS_STANDIN = `
'use strict';
const { existsSync } = require('node:fs');
const { dirname, join } = require('node:path');
const notFound = (err) => err !== null && typeof err === 'object' && err.code === 'MODULE_NOT_FOUND';
module.exports = function bindings(name) {
  const addon = join(__dirname, ${JSON.stringify(ADDON)});
  if (name === 'better_sqlite3.node' && existsSync(addon)) {
    // process.dlopen, as require() does for a .node file, without its resolution (~0.5 ms).
    const m = { exports: {} };
    process.dlopen(m, addon);
    return m.exports;
  }
  // Through a variable: resolved at run time, from the bundle's directory, as a dependency.
  const pkg = 'better-sqlite3';
  const main = require.resolve(pkg);
  const moduleRoot = dirname(dirname(main));
  try {
    return require(join(moduleRoot, 'build', 'Release', name));
  } catch (err) {
    if (!notFound(err)) throw err;
    return require('node:module').createRequire(main)('bindings')({ bindings: name, module_root: moduleRoot });
  }
};
`;

/**
 * src/conf/xml.ts loads fast-xml-parser with createRequire(import.meta.url), which esbuild leaves
 * alone; in the bundle it becomes a plain require() of the external module, which the bin answers
 * with its cached copy (tsvirt.xml.cjs).
 */
const FXP_LOAD = "createRequire(import.meta.url)('fast-xml-parser')";
const xmlParserPlugin = {
  name: 'fast-xml-parser-from-the-bin',
  setup(build) {
    build.onLoad({ filter: /[\\/]conf[\\/]xml\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(FXP_LOAD)) throw new Error(`${args.path} no longer loads fast-xml-parser with ${FXP_LOAD}`);
      return { contents: text.replace(FXP_LOAD, "require('fast-xml-parser')"), loader: 'js' };
    });
  },
};

const bindingsPlugin = {
  name: 'better-sqlite3-bindings',
  setup(build) {
    build.onResolve({ filter: /^bindings$/ }, () => ({ path: 'bindings', namespace: 'tsvirt-bindings' }));
    build.onLoad({ filter: /.*/, namespace: 'tsvirt-bindings' }, () => ({ contents: BINDINGS_STANDIN, loader: 'js' }));
  },
};

/** Around each script: the bin runs the file's value, a function, as Node runs a CommonJS module. */
const WRAPPER_OPEN = '(function (exports, require, module, __filename, __dirname) {';
const WRAPPER_CLOSE = '\n})';

const result = await esbuild.build({
  entryPoints: [entry],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // import() becomes a require() inside a promise: the bundle runs as a classic script (vm.Script
  // with a code cache), which has no dynamic-import hook.
  supported: { 'dynamic-import': false },
  // import.meta: the bundle's own (it sits beside main.js, so URLs relative to import.meta.url,
  // such as ../../../package.json, still resolve). The URL is made on first use only; `main` is
  // false when the bin runs the bundle (main.ts then leaves the running to the bin).
  define: { 'import.meta': '__tsvirt_import_meta' },
  // The first line carries the build id (filled in below, same length, so the source map holds),
  // then the CommonJS wrapper (see above). Strict mode, as the ES modules were: esbuild's own
  // "use strict" comes after the banner, where it is no longer a directive.
  banner: {
    js: [
      `//tsvirt-build:${'0'.repeat(16)}`,
      `${WRAPPER_OPEN}"use strict";`,
      'var __tsvirt_import_meta = { main: require.main === module, filename: __filename, dirname: __dirname, get url() { return require("node:url").pathToFileURL(__filename).href; } };',
    ].join('\n'),
  },
  footer: { js: WRAPPER_CLOSE },
  // Given by the bin (tsvirt.xml.cjs, below), and only to commands that parse XML.
  external: ['fast-xml-parser'],
  plugins: [bindingsPlugin, xmlParserPlugin],
  // Non-ASCII characters escaped, so that the bin can read the file as latin1 (faster than UTF-8).
  charset: 'ascii',
  // Less to read and scan at each start; identifiers are kept, so stack traces stay readable
  // (and the source map maps them back, with node --enable-source-maps). Minifying identifiers
  // too saved no measurable instructions and about 0.5 ms of reading, not worth unreadable traces.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  logLevel: 'warning',
  metafile: true,
});
if (result.errors.length > 0) process.exit(1);

// The bundle runs inside a function wrapper, where a hashbang line is a syntax error; and a real
// import() would have no loader to call.
let code = readFileSync(bundle, 'utf8');
if (!code.startsWith('//tsvirt-build:')) {
  console.error('build-bins: the bundle must start with its build id line (a hashbang in main.ts?)');
  process.exit(1);
}
const dynamic = Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.kind === 'dynamic-import'));
if (dynamic.length > 0 || /\bimport\(/.test(code)) {
  console.error('build-bins: the bundle still contains import(); it cannot run as a script');
  process.exit(1);
}
const id = stamp(bundle, code);
chmodSync(bin, 0o755);

// fast-xml-parser's CommonJS build (the package's "require" export), escaped to ASCII and wrapped
// like the bundle.
const xmlResult = await esbuild.build({
  stdin: { contents: "module.exports = require('fast-xml-parser');", resolveDir: cliDir, loader: 'js' },
  outfile: xmlScript,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  charset: 'ascii',
  minifyWhitespace: true,
  banner: { js: `//tsvirt-build:${'0'.repeat(16)}\n${WRAPPER_OPEN}` },
  footer: { js: WRAPPER_CLOSE },
  logLevel: 'warning',
});
if (xmlResult.errors.length > 0) process.exit(1);
const xmlId = stamp(xmlScript, readFileSync(xmlScript, 'utf8'));

/**
 * Checks that a script is ASCII (the bin reads it as latin1) and writes its build id, a hash of
 * its content, into its first line: the id names the code cache files, so that a cache is only
 * ever used with its script.
 */
function stamp(file, text) {
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(text)) {
    console.error(`build-bins: ${file} is not ASCII; the bin reads it as latin1`);
    process.exit(1);
  }
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  writeFileSync(file, `//tsvirt-build:${hash}${text.slice('//tsvirt-build:'.length + 16)}`);
  return hash;
}

// Old caches of earlier builds.
for (const f of readdirSync(cliDir)) {
  if (/^tsvirt-(xml-)?[0-9a-f]{16}-.*\.v8cache$/.test(f)) rmSync(join(cliDir, f));
}

// The code caches: the bin writes them into TSVIRT_CODE_CACHE_DIR when it finds none there. The
// child runs with no Node flags (V8 rejects a cache made under other flags).
const env = { ...process.env, TSVIRT_CODE_CACHE_DIR: cliDir };
delete env.NODE_OPTIONS;
for (const k of Object.keys(env)) if (/^(TSVIRT_DEFAULT_URI|LIBVIRT_DEFAULT_URI|TSVIRT_DEBUG|TSVIRT_LOG_FILE)$/.test(k)) delete env[k];
const r = spawnSync(process.execPath, [bin, ...CACHE_TRAINING], { env, encoding: 'utf8' });
const caches = readdirSync(cliDir);
const cache = caches.find((f) => f.startsWith(`tsvirt-${id}-`) && f.endsWith('.v8cache'));
const xmlCache = caches.find((f) => f.startsWith(`tsvirt-xml-${xmlId}-`) && f.endsWith('.v8cache'));
if (r.status !== 0 || cache === undefined || xmlCache === undefined) {
  console.error(`build-bins: the bundled bin failed its first run (status ${r.status}, caches ${cache}, ${xmlCache}):\n${r.stdout}${r.stderr}`);
  process.exit(1);
}
const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;
const size = (f) => kb(readFileSync(join(cliDir, f)).length);
console.log(`build-bins: ${bundle} (${kb(code.length)}, ${Object.keys(result.metafile.inputs).length} modules), code cache ${cache} (${size(cache)})`);
console.log(`build-bins: ${xmlScript} (${size('tsvirt.xml.cjs')}), code cache ${xmlCache} (${size(xmlCache)})`);
