#!/usr/bin/env node
/**
 * Builds the `tsvirt` bin for a fast start, after `tsc` has compiled the project (npm run build
 * runs both). All of tsvirt's start-up machinery is here and in the bin it installs
 * (scripts/tsvirt-bin.cts); the sources under src/ are ordinary ES modules.
 *
 *   node scripts/build-bins.mjs [OUTDIR]      (OUTDIR: tsc's output directory, default dist)
 *
 * Why: start-up is most of a short tsvirt command's time (the target is tsvirt within 10 ms of a
 * bare `node -e 0`). Loading ~80 ES modules one by one costs resolution, file reads and module
 * linking for each; better-sqlite3 through the `bindings` package inspects a stack trace and
 * probes a dozen paths for its addon. One CommonJS file has none of that, and a code cache made
 * at build time lets V8 skip parsing and compiling it.
 *
 * It writes, next to tsc's OUTDIR/src/cli/main.js:
 *   tsvirt.cjs          the bin: tsc's output of scripts/tsvirt-bin.cts.
 *   tsvirt.bundle.cjs   main.js and everything it imports (better-sqlite3's JavaScript included),
 *                       except what the two scripts below hold. Modules reached only by a dynamic
 *                       import() are wrapped by esbuild and run only when imported. Imports of
 *                       LAZY_MODULES are deferred to their first use (see lazyModulesPlugin).
 *   tsvirt.xml.cjs      fast-xml-parser's CommonJS build, run when a command first parses XML.
 *   tsvirt.remote.cjs   the remote driver and the wire protocol (src/drivers/remote, src/rpc),
 *                       run when a remote URI (`test+unix://`, `qemu+unix://`) is opened; it
 *                       takes the modules it shares with the bundle from the bundle.
 *   tsvirt[-xml|-remote]-<build id>-<node version>-<arch>.v8cache
 *                       V8's code caches for the three, made by running the bin (CACHE_TRAINING).
 *   *.meta.json         esbuild's metafiles: which modules each script holds.
 * Each script starts with its build id line, then one function expression with CommonJS's
 * parameters around the code: the bin compiles the file as it reads it, with no wrapper to add.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = resolve(root, process.argv[2] ?? 'dist');
const srcDir = join(outDir, 'src');
const cliDir = join(srcDir, 'cli');
const entry = join(cliDir, 'main.js');
const compiledBin = join(outDir, 'scripts', 'tsvirt-bin.cjs');
const bin = join(cliDir, 'tsvirt.cjs');
const script = (name) => join(cliDir, name === 'bundle' ? 'tsvirt.bundle.cjs' : `tsvirt.${name}.cjs`);

/** Commands run once at build time; the code caches then hold every function they compiled. */
const CACHE_TRAINING = [
  { args: ['-c', 'test:///default', 'list --all; dominfo test; domstate --reason test; snapshot-list test'], status: 0 },
  // No daemon listens there: the connection fails (status 1), after the remote script has loaded
  // and run its URI parsing and socket code.
  { args: (dir) => ['-c', `test+unix:///default?socket=${join(dir, 'no-daemon.sock')}`, 'list --all'], status: 1 },
];

/**
 * Imports from src/ of these modules are deferred to the first use of one of their exports; the
 * value is what is loaded then. Most commands use none of them, and each costs a start: the
 * bundle with node:crypto loaded at once makes ~185 more page faults (~1 ms here), node:readline
 * ~35 and 2 ms, node:os 2 ms on these VMs (3 Dec). fast-xml-parser is the bin's tsvirt.xml.cjs,
 * as is src/conf/fast-xml-parser.js (which loads the package's CommonJS build for the unbundled
 * modules). Node's own start-up has loaded node:fs, node:path and node:url already.
 */
const LAZY_MODULES = {
  'node:crypto': 'node:crypto',
  'node:os': 'node:os',
  'node:readline': 'node:readline',
  'fast-xml-parser': 'tsvirt:xml',
  'conf/fast-xml-parser.js': 'tsvirt:xml',
};
/** The module whose exports a stand-in offers (the package, for a file of src/ that loads it). */
const EXPORTS_OF = { 'conf/fast-xml-parser.js': 'fast-xml-parser' };

/**
 * The scripts besides the bundle, each a driver the CLI reaches only through the import() in
 * src/drivers/registry.ts: `entry`, and the directories whose modules that script alone holds.
 * `list --all` on test:///default needs none of them; in the bundle they cost every start the
 * reading of their text and the size of the code cache (the QEMU, ESX and VirtualBox drivers grew
 * the bundle from 526 to 845 KiB and `list --all` from 2383 to 3346 page faults, 3 Dec).
 * `trained`: the build's training runs make its code cache (others get theirs on first use).
 */
const SATELLITES = [
  // The daemon's directory too, so that a static import of it from the CLI fails the build
  // rather than quietly enlarging the bundle.
  { name: 'remote', entry: 'drivers/remote/driver.js', dirs: ['drivers/remote', 'rpc', 'daemon'], trained: true },
  { name: 'qemu', entry: 'drivers/qemu/driver.js', dirs: ['drivers/qemu'], trained: false },
  { name: 'esx', entry: 'drivers/esx/driver.js', dirs: ['drivers/esx'], trained: false },
  { name: 'vbox', entry: 'drivers/vbox/driver.js', dirs: ['drivers/vbox'], trained: false },
].map((sat) => ({ ...sat, entry: join(srcDir, sat.entry), dirs: sat.dirs.map((d) => join(srcDir, d) + sep) }));
/** The satellite script that holds `file`, if any. */
const satelliteOf = (file) => SATELLITES.find((sat) => sat.dirs.some((d) => file.startsWith(d)));

for (const f of [entry, compiledBin, ...SATELLITES.map((sat) => sat.entry)]) {
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

const bindingsPlugin = {
  name: 'better-sqlite3-bindings',
  setup(build) {
    build.onResolve({ filter: /^bindings$/ }, () => ({ path: 'bindings', namespace: 'tsvirt-bindings' }));
    build.onLoad({ filter: /.*/, namespace: 'tsvirt-bindings' }, () => ({ contents: BINDINGS_STANDIN, loader: 'js' }));
  },
};

/**
 * The names `importer` (tsc's output, an ES module) imports from `specifier`, by its import and
 * export-from declarations; '*' when it takes the whole module (a namespace or default import,
 * `export *`, or import()).
 */
const parsed = new Map();
function importedNames(importer, specifier, kind) {
  if (kind === 'dynamic-import' || kind === 'require-call') return '*';
  if (!parsed.has(importer)) parsed.set(importer, ts.createSourceFile(importer, readFileSync(importer, 'utf8'), ts.ScriptTarget.Latest));
  const names = new Set();
  for (const st of parsed.get(importer).statements) {
    if ((!ts.isImportDeclaration(st) && !ts.isExportDeclaration(st)) || st.moduleSpecifier === undefined) continue;
    if (!ts.isStringLiteral(st.moduleSpecifier) || st.moduleSpecifier.text !== specifier) continue;
    const bindings = ts.isImportDeclaration(st) ? st.importClause?.namedBindings : st.exportClause;
    if (ts.isImportDeclaration(st) && st.importClause === undefined) continue; // import 'x': for its effects only
    if ((ts.isImportDeclaration(st) && st.importClause.name !== undefined) || bindings === undefined || !('elements' in bindings)) return '*';
    for (const el of bindings.elements) names.add((el.propertyName ?? el.name).text);
  }
  return names;
}

/**
 * An `import` in src/ of one of LAZY_MODULES gets a stand-in: a CommonJS module whose exports are
 * getters that load the real module on first read. esbuild reads an imported name off the module
 * object where it is used (`import_node_os.homedir()`), so nothing loads before a command calls
 * into it. A stand-in offers the names its importer imports, which the build checks against the
 * module's exports in the Node (or package) running it.
 */
const lazyModulesPlugin = {
  name: 'lazy-modules',
  setup(build) {
    const standIn = (args, module) => ({
      path: `${module}?${relative(srcDir, args.importer)}`,
      namespace: 'tsvirt-lazy',
      pluginData: { module, names: importedNames(args.importer, args.path, args.kind) },
    });
    const fromSrc = (args) => args.kind === 'import-statement' && args.importer.startsWith(srcDir + sep);
    build.onResolve({ filter: /^[^.]/ }, (args) => (fromSrc(args) && args.path in LAZY_MODULES ? standIn(args, args.path) : undefined));
    build.onResolve({ filter: /^\.\.?\// }, (args) => {
      const file = relative(srcDir, resolve(args.resolveDir, args.path)).split(sep).join('/');
      return fromSrc(args) && file in LAZY_MODULES ? standIn(args, file) : undefined;
    });
    // One stand-in per importing file, with the names that file imports (each getter costs a
    // little at every start); Node's require cache makes them share the module.
    build.onLoad({ filter: /.*/, namespace: 'tsvirt-lazy' }, ({ path, pluginData: { module, names } }) => {
      const exported = Object.keys(require(EXPORTS_OF[module] ?? module)).filter((k) => k !== 'default' && k !== '__esModule');
      const missing = names === '*' ? [] : [...names].filter((n) => !exported.includes(n));
      if (missing.length > 0) return { errors: [{ text: `${path}: ${module} has no export ${missing.join(', ')} in this build` }] };
      const getters = (names === '*' ? exported : [...names]).map((k) => `${JSON.stringify(k)}: { enumerable: true, get: () => load()[${JSON.stringify(k)}] }`);
      const contents = [
        'let m;',
        `const load = () => (m ??= require(${JSON.stringify(LAZY_MODULES[module])}));`,
        `module.exports = Object.defineProperties({}, {\n${getters.join(',\n')}\n});`,
      ].join('\n');
      return { contents, loader: 'js', resolveDir: cliDir };
    });
  },
};

/**
 * A dynamic import() of a satellite's entry becomes a require('tsvirt:NAME') (the bin runs
 * tsvirt.NAME.cjs); any other import into a satellite's directories (`except` the one being
 * built) fails the build.
 */
function satellitesOutside(args, except) {
  const file = resolve(args.resolveDir, args.path);
  const sat = satelliteOf(file);
  if (sat === undefined || sat === except) return undefined;
  if (file === sat.entry && args.kind === 'dynamic-import') return { path: `tsvirt:${sat.name}`, external: true };
  return {
    errors: [{ text: `${relative(outDir, args.importer)} imports ${relative(outDir, file)} (${args.kind}): the CLI takes ${sat.dirs.map((d) => relative(srcDir, d)).join(', ')} only through import() of ${relative(outDir, sat.entry)}` }],
  };
}

/** In the bundle: the satellites' modules stay out (see satellitesOutside). */
const satellitesOutsidePlugin = {
  name: 'satellites-outside',
  setup(build) {
    build.onResolve({ filter: /^\.\.?\// }, (args) => satellitesOutside(args, undefined));
  },
};

/**
 * In a satellite script: a module of src/ outside its directories is the bundle's own instance
 * (one VirError class in the process), required as 'tsvirt:module/PATH'; another satellite's
 * entry, through import(), that satellite. `shared` records, for each module of the bundle, the
 * names the satellites import from it ('*': all), which the bundle exports.
 */
function sharedModulesPlugin(shared, sat) {
  return {
    name: 'modules-from-the-bundle',
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        const file = resolve(args.resolveDir, args.path);
        if (!file.startsWith(srcDir + sep) || satelliteOf(file) === sat) return undefined;
        if (satelliteOf(file) !== undefined) return satellitesOutside(args, sat);
        const path = relative(srcDir, file).split(sep).join('/');
        const names = importedNames(args.importer, args.path, args.kind);
        const known = shared.get(path) ?? new Set();
        shared.set(path, names === '*' || known === '*' ? '*' : new Set([...known, ...names]));
        return { path: `tsvirt:module/${path}`, external: true };
      });
    },
  };
}

/** Around each script: the bin runs the file's value, a function, as Node runs a CommonJS module. */
const WRAPPER_OPEN = '(function (exports, require, module, __filename, __dirname) {';
const WRAPPER_CLOSE = '\n})';
const ID_LINE = `//tsvirt-build:${'0'.repeat(16)}`;

/** esbuild's options for a script of ours (the bundle, the remote script). */
const scriptOptions = (name) => ({
  outfile: script(name),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // import() becomes a require() inside a promise: the scripts run as classic scripts (vm.Script
  // with a code cache), which have no dynamic-import hook.
  supported: { 'dynamic-import': false },
  // import.meta: the script's own (it sits beside main.js, so URLs relative to import.meta.url,
  // such as ../../../package.json, still resolve). The URL is made on first use only; `main` is
  // false when the bin runs the script (main.ts then leaves the running to the bin).
  define: { 'import.meta': '__tsvirt_import_meta' },
  // The first line carries the build id (filled in below, same length, so the source map holds),
  // then the CommonJS wrapper (see above). Strict mode, as the ES modules were: esbuild's own
  // "use strict" comes after the banner, where it is no longer a directive.
  banner: {
    js: [
      ID_LINE,
      `${WRAPPER_OPEN}"use strict";`,
      'var __tsvirt_import_meta = { main: require.main === module, filename: __filename, dirname: __dirname, get url() { return require("node:url").pathToFileURL(__filename).href; } };',
    ].join('\n'),
  },
  footer: { js: WRAPPER_CLOSE },
  external: ['tsvirt:*'],
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

// The satellites first: the bundle must export what they take from it.
const shared = new Map();
const remoteShared = new Map();
const satellites = {};
for (const sat of SATELLITES) {
  satellites[sat.name] = await esbuild.build({
    ...scriptOptions(sat.name),
    entryPoints: [sat.entry],
    plugins: [sharedModulesPlugin(shared, sat)],
  });
  // What the remote script takes (the ground layer, loaded at every start anyway).
  if (sat.name === 'remote') for (const [p, names] of shared) remoteShared.set(p, names === '*' ? '*' : new Set(names));
}

// The bundle's entry: main.js's exports, and `sharedModules`, what the satellites take from the
// bundle. What the remote script takes, the ground layer's modules, which the bundle loads at its
// start anyway, by named imports, not namespaces: a namespace object costs a getter per export
// at every start (enums.generated.js has ~100). Anything else (the metadata driver, the store,
// conf for the QEMU driver) by a require() made when the satellite asks: a static import would
// run those modules at every start, which only a command that opens such a driver needs.
const sharedPaths = [...shared.keys()].sort();
const specifier = (p) => JSON.stringify(relative(cliDir, join(srcDir, p)).split(sep).join('/'));
const sameNames = (a, b) => a === b || (a !== '*' && b !== '*' && a.size === b.size && [...a].every((n) => b.has(n)));
const eager = (p) => remoteShared.has(p) && sameNames(remoteShared.get(p), shared.get(p));
const entrySource = [
  `export * from ${JSON.stringify('./main.js')};`,
  ...sharedPaths.filter(eager).map((p) => {
    const i = sharedPaths.indexOf(p);
    const names = shared.get(p);
    return names === '*' ? `import * as shared${i} from ${specifier(p)};` : `import { ${[...names].map((n) => `${n} as shared${i}_${n}`).join(', ')} } from ${specifier(p)};`;
  }),
  'export const sharedModules = {',
  ...sharedPaths.map((p, i) => {
    if (!eager(p)) return `  ${JSON.stringify(p)}: () => require(${specifier(p)}),`;
    const names = shared.get(p);
    const value = names === '*' ? `shared${i}` : `{ __esModule: true, ${[...names].map((n) => `${n}: shared${i}_${n}`).join(', ')} }`;
    return `  ${JSON.stringify(p)}: () => (${value}),`;
  }),
  '};',
].join('\n');
const main = await esbuild.build({
  ...scriptOptions('bundle'),
  stdin: { contents: entrySource, resolveDir: cliDir, sourcefile: 'tsvirt-entry.js', loader: 'js' },
  plugins: [bindingsPlugin, lazyModulesPlugin, satellitesOutsidePlugin],
});

// fast-xml-parser's CommonJS build (the package's "require" export), escaped to ASCII and wrapped
// like the others.
const xml = await esbuild.build({
  stdin: { contents: "module.exports = require('fast-xml-parser');", resolveDir: cliDir, loader: 'js' },
  outfile: script('xml'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  charset: 'ascii',
  minifyWhitespace: true,
  banner: { js: `${ID_LINE}\n${WRAPPER_OPEN}` },
  footer: { js: WRAPPER_CLOSE },
  logLevel: 'warning',
  metafile: true,
});

const built = { bundle: main, ...satellites, xml };
const ids = {};
for (const [name, result] of Object.entries(built)) {
  if (result.errors.length > 0) process.exit(1);
  writeFileSync(script(name).replace(/\.cjs$/, '.meta.json'), JSON.stringify(result.metafile));
  ids[name] = stamp(name, script(name), readFileSync(script(name), 'utf8'));
}

// What the bundle holds, from its metafile: nothing of the satellite scripts.
const inputs = (result) => Object.keys(Object.entries(result.metafile.outputs).find(([f]) => f.endsWith(".cjs"))[1].inputs);
const leaked = inputs(main).filter((p) => satelliteOf(resolve(p)) !== undefined);
if (leaked.length > 0) {
  console.error(`build-bins: the bundle holds modules of the satellite scripts: ${leaked.join(', ')}`);
  process.exit(1);
}

/**
 * Checks that a script can run as the bin runs it (ASCII, as it reads it as latin1; no import()
 * in ours, which a classic script cannot do) and writes its build id, a hash of its content, into its
 * first line: the id names the code cache files, so that a cache is only ever used with its script.
 */
function stamp(name, file, text) {
  if (!text.startsWith(ID_LINE)) {
    console.error(`build-bins: ${file} must start with its build id line (a hashbang in its entry?)`);
    process.exit(1);
  }
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(text)) {
    console.error(`build-bins: ${file} is not ASCII; the bin reads it as latin1`);
    process.exit(1);
  }
  if (name !== 'xml' && /\bimport\(/.test(text)) {
    console.error(`build-bins: ${file} still contains import(); it cannot run as a script`);
    process.exit(1);
  }
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  writeFileSync(file, `//tsvirt-build:${hash}${text.slice(ID_LINE.length)}`);
  return hash;
}

copyFileSync(compiledBin, bin);
chmodSync(bin, 0o755);

// Old caches of earlier builds.
for (const f of readdirSync(cliDir)) {
  if (/^tsvirt-([a-z]+-)?[0-9a-f]{16}-.*\.v8cache$/.test(f)) rmSync(join(cliDir, f));
}

// The code caches: the bin writes them into TSVIRT_CODE_CACHE_DIR when it finds none there. The
// child runs with no Node flags (V8 rejects a cache made under other flags).
const env = { ...process.env, TSVIRT_CODE_CACHE_DIR: cliDir };
delete env.NODE_OPTIONS;
for (const k of Object.keys(env)) if (/^(TSVIRT_DEFAULT_URI|LIBVIRT_DEFAULT_URI|TSVIRT_DEBUG|TSVIRT_LOG_FILE)$/.test(k)) delete env[k];
const tmp = mkdtempSync(join(tmpdir(), 'tsvirt-build-'));
try {
  for (const t of CACHE_TRAINING) {
    const args = typeof t.args === 'function' ? t.args(tmp) : t.args;
    const r = spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8' });
    if (r.status !== t.status) {
      console.error(`build-bins: the bin's training run ${args.join(' ')} ended with status ${r.status}, not ${t.status}:\n${r.stdout}${r.stderr}`);
      process.exit(1);
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;
const caches = readdirSync(cliDir);
for (const name of Object.keys(built)) {
  const prefix = name === 'bundle' ? 'tsvirt' : `tsvirt-${name}`;
  const cache = caches.find((f) => f.startsWith(`${prefix}-${ids[name]}-`) && f.endsWith('.v8cache'));
  const modules = inputs(built[name]).length;
  if (cache === undefined && SATELLITES.some((sat) => sat.name === name && !sat.trained)) {
    console.log(`build-bins: ${script(name)} (${kb(readFileSync(script(name)).length)}, ${modules} modules), code cache made on first use`);
    continue;
  }
  if (cache === undefined) {
    console.error(`build-bins: the training runs left no code cache for ${script(name)}`);
    process.exit(1);
  }
  console.log(`build-bins: ${script(name)} (${kb(readFileSync(script(name)).length)}, ${modules} modules), code cache ${cache} (${kb(readFileSync(join(cliDir, cache)).length)})`);
}
