/**
 * The npm package works outside the checkout: `npm pack` of this tree (the dist `npm test` has just
 * built) holds the built library, its types and both bins and no tests, benchmarks or sources; it
 * installs into an empty project, where `npx tsvirt` lists test:///default, `import { connect }
 * from 'tsvirt'` works and a TypeScript file using the API type-checks against the shipped types.
 *
 * To stay fast the install runs with --prefer-offline (npm's cache is warm from the checkout's
 * own install) and --ignore-scripts; better-sqlite3's addon, which its install script would
 * compile for ~5 minutes, is copied from the checkout's build for this same Node instead.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

/** The environment without what `npm test` puts in it for this package (its prefix, its package fields). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_(package_|lifecycle_|config_local_prefix$|config_prefix$)/.test(k) || k === 'INIT_CWD' || k === 'NODE_TEST_CONTEXT') continue;
    env[k] = v;
  }
  env.npm_config_yes = 'false';
  return env;
}

async function sh(cmd: string, args: string[], cwd: string): Promise<string> {
  try {
    const r = await run(cmd, args, { cwd, env: cleanEnv(), encoding: 'utf8', timeout: 150_000, maxBuffer: 16 << 20 });
    return r.stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, { cause: err });
  }
}

test('npm pack gives a package that installs into an empty project: bins, import and types work there', { timeout: 240_000 }, async () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  // What `npm pack` from a clean checkout runs first: the build that makes dist.
  assert.match(pkg.scripts.prepack ?? '', /npm run build/);

  const tmp = mkdtempSync(join(tmpdir(), 'tsvirt-pack-'));
  try {
    // 1. The tarball: dist is already built by `npm test`, so the prepack build is not repeated here.
    const packed = JSON.parse(await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], ROOT)) as {
      filename: string;
      files: { path: string }[];
    }[];
    const entry = packed[0];
    assert.ok(entry !== undefined);
    const files = entry.files.map((f) => f.path);
    for (const f of ['package.json', 'README.md', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/tsvirt.cjs', 'dist/src/daemon/main.js', 'dist/web/index.html', 'dist/src/web/server.js']) {
      assert.ok(files.includes(f), `${f} is in the package`);
    }
    // The fdpass addon, when this build made one (it is optional), ships with the library.
    if (existsSync(join(ROOT, 'dist', 'src', 'native', 'fdpass.node'))) assert.ok(files.includes('dist/src/native/fdpass.node'), 'the fdpass addon is in the package');
    const stray = files.filter((f) => /^(dist\/(test|bench|examples)\/|test\/|bench\/|src\/|scripts\/)|\.map$|\.tsbuildinfo$/.test(f));
    assert.deepEqual(stray, [], 'no tests, benchmarks, sources or source maps');
    const tarball = join(tmp, entry.filename);

    // 2. An empty project installs it.
    const project = join(tmp, 'consumer');
    mkdirSync(project);
    await sh('npm', ['init', '-y'], project);
    const consumerPkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(project, 'package.json'), JSON.stringify({ ...consumerPkg, type: 'module' }, null, 2));
    await sh('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball], project);
    const installed = join(project, 'node_modules', 'better-sqlite3');
    const ours = dirname(createRequire(join(ROOT, 'package.json')).resolve('better-sqlite3/package.json'));
    mkdirSync(join(installed, 'build', 'Release'), { recursive: true });
    copyFileSync(join(ours, 'build', 'Release', 'better_sqlite3.node'), join(installed, 'build', 'Release', 'better_sqlite3.node'));

    // 3. The bins, through npx as the README runs them (npm_config_yes=false: never fetch from the registry).
    const list = await sh('npx', ['tsvirt', '-c', 'test:///default', 'list', '--all'], project);
    assert.match(list, /^ 1 +test +running$/m);
    const help = await sh('npx', ['--', 'tsvirtd', '--help'], project);
    assert.match(help, /--socket-dir/);

    // 4. The library, imported by name.
    writeFileSync(
      join(project, 'use.js'),
      "import { connect } from 'tsvirt';\nconst conn = await connect('test:///default');\nconst doms = await conn.listAllDomains();\nconsole.log(doms.map((d) => d.name()).join(','));\nawait conn.close();\n",
    );
    assert.equal((await sh(process.execPath, ['use.js'], project)).trim(), 'test');

    // 5. The types: a strict NodeNext project type-checks against the shipped .d.ts, and a misuse fails.
    const tsc = join(dirname(createRequire(join(ROOT, 'package.json')).resolve('typescript/package.json')), 'bin', 'tsc');
    const typeRoots = join(dirname(createRequire(join(ROOT, 'package.json')).resolve('@types/node/package.json')), '..');
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], typeRoots: [typeRoots] },
        files: ['use.ts'],
      }),
    );
    writeFileSync(
      join(project, 'use.ts'),
      "import { connect, VirError, DomainState, type Domain } from 'tsvirt';\n" +
        "const conn = await connect('test:///default');\n" +
        'const doms: Domain[] = await conn.listAllDomains();\n' +
        'const state: DomainState = (await doms[0]!.getInfo()).state;\n' +
        'export const seen: [number, boolean] = [state, new Error() instanceof VirError];\n' +
        'await conn.close();\n',
    );
    await sh(process.execPath, [tsc, '-p', '.'], project);
    writeFileSync(join(project, 'use.ts'), "import { connect } from 'tsvirt';\nexport const n: string = connect;\n");
    await assert.rejects(sh(process.execPath, [tsc, '-p', '.'], project), /TS2322/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
