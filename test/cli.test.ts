/**
 * tsvirt's own CLI behaviour, beyond what virsh does (issue 3): snapshot-export and
 * snapshot-import, `undefine --export-snapshots`, hint lines, `--json`, events across
 * processes, and bad input changing nothing. Runs the built binary; virsh is not needed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanEnv, run, scratch, tsvirt, TSVIRT, type Output } from './cli-harness.js';

const DEFAULT = 'test:///default';
const SESSION = 'test:///session';

/** A scratch directory for one describe block, and a runner bound to it. */
function workspace() {
  let dir = '';
  let cleanup = () => undefined as void;
  before(() => {
    ({ dir, cleanup } = scratch());
  });
  after(() => cleanup());
  const sh = (args: string[], stdin?: string) => tsvirt(args, { cwd: dir, env: cleanEnv(dir), stdin });
  return { dir: () => dir, sh };
}

function ok(o: Output, what: string): Output {
  assert.equal(o.status, 0, `${what}: exit ${o.status}\nstdout: ${o.stdout}\nstderr: ${o.stderr}`);
  return o;
}

/** The JSON document a `--json` command printed (followed by virsh's blank line). */
function json(o: Output): unknown {
  return JSON.parse(o.stdout);
}

describe('snapshot-export / undefine --export-snapshots / define / snapshot-import', () => {
  const w = workspace();

  test('R10: export, undefine, define and import give back the same tree, current snapshot and XML', async () => {
    const tree =
      'define web1.xml; snapshot-create-as web1 a first; snapshot-create-as web1 b; snapshot-revert web1 a; ' +
      'snapshot-create-as web1 c; snapshot-create-as web1 d; snapshot-current web1 b';
    ok(await w.sh(['-c', SESSION, tree]), 'build the tree');
    const names = ['a', 'b', 'c', 'd'];
    const snapshot = async () => ({
      tree: ok(await w.sh(['-c', SESSION, 'snapshot-list web1 --tree']), 'tree').stdout,
      current: ok(await w.sh(['-c', SESSION, 'snapshot-current --name web1']), 'current').stdout,
      xml: await Promise.all(names.map(async (n) => ok(await w.sh(['-c', SESSION, `snapshot-dumpxml web1 ${n}`]), n).stdout)),
      parents: ok(await w.sh(['-c', SESSION, 'snapshot-list web1 --parent']), 'parents').stdout,
    });
    const beforeState = await snapshot();
    assert.equal(beforeState.tree, 'a\n  |\n  +- b\n  +- c\n      |\n      +- d\n        \n\n');
    assert.equal(beforeState.current, 'b\n');

    const exp = join(w.dir(), 'export1');
    const undef = ok(await w.sh(['-c', SESSION, `undefine --snapshots-metadata --export-snapshots ${exp} web1`]), 'undefine');
    assert.match(undef.stdout, /Domain 'web1' and its 4 snapshots exported to .*export1\nDomain 'web1' has been undefined\n/);
    assert.equal(ok(await w.sh(['-c', SESSION, 'list --all --name']), 'list').stdout, '\n');
    assert.deepEqual(readdirSync(exp).sort(), ['domain.xml', 'index.json', 'snapshots']);

    // R6: a domain defined again starts with no snapshots; the import brings them back.
    ok(await w.sh(['-c', SESSION, `define ${join(exp, 'domain.xml')}`]), 'define');
    assert.equal(ok(await w.sh(['-c', SESSION, 'snapshot-list web1 --name']), 'empty').stdout, '\n');
    const imp = ok(await w.sh(['-c', SESSION, `snapshot-import web1 ${exp}`]), 'import');
    assert.match(imp.stdout, /Imported 4 snapshots of domain 'web1' from .*; current snapshot: b\n/);

    assert.deepEqual(await snapshot(), beforeState);
  });

  test('snapshot-import --define defines the domain from the export first', async () => {
    const exp = join(w.dir(), 'export2');
    ok(await w.sh(['-c', DEFAULT, `define db1.xml; snapshot-create-as db1 x; snapshot-export db1 ${exp}`]), 'export');
    const o = await w.sh(['-c', DEFAULT, `snapshot-import db1 ${exp}; snapshot-import --define db1 ${exp}; snapshot-list db1 --name; snapshot-current db1 --name`]);
    assert.equal(o.status, 0);
    assert.match(o.stderr, /^error: failed to get domain 'db1'\nhint: add --define to define it from .*domain\.xml first\n$/);
    assert.match(o.stdout, /Domain 'db1' defined from .*domain\.xml\nImported 1 snapshots of domain 'db1' from .*; current snapshot: x\n\nx\n\nx\n$/);
  });

  test('snapshot-import refuses a domain with another UUID and changes nothing', async () => {
    const exp = join(w.dir(), 'export3');
    ok(await w.sh(['-c', DEFAULT, `define web1.xml; snapshot-create-as web1 s; snapshot-export web1 ${exp}`]), 'export');
    const o = await w.sh(['-c', DEFAULT, `define web1-other-uuid.xml; snapshot-import web1 ${exp}; snapshot-list web1 --name`]);
    assert.match(o.stderr, /error: domain 'web1' \(4a7c2e1e-6a47-4e6c-9d5e-2f0f6b1c0aff\) is not the exported domain 'web1' \(4a7c2e1e-6a47-4e6c-9d5e-2f0f6b1c0a01\)/);
    assert.match(o.stdout, /\n\n\n$/);
  });

  test('snapshot-import of a directory that is no export fails', async () => {
    mkdirSync(join(w.dir(), 'notexport'));
    writeFileSync(join(w.dir(), 'notexport', 'index.json'), '{"format":"other"}');
    const o = await w.sh(['-c', DEFAULT, 'snapshot-import test nosuchdir; snapshot-import test notexport']);
    assert.equal(o.status, 1);
    assert.equal(
      o.stderr,
      "error: Failed to read the export in 'nosuchdir': No such file or directory\n" +
        "error: Failed to read the export in 'notexport': not a tsvirt snapshot export (index.json)\n",
    );
  });

  test('an export into a directory that cannot be written removes nothing', async () => {
    writeFileSync(join(w.dir(), 'a-file'), 'not a directory\n');
    mkdirSync(join(w.dir(), 'full'));
    writeFileSync(join(w.dir(), 'full', 'keep.txt'), 'user data\n');
    const o = await w.sh([
      '-c',
      DEFAULT,
      'define db1.xml; start db1; managedsave db1; snapshot-create-as db1 s1; snapshot-create-as db1 s2; ' +
        'undefine --managed-save --snapshots-metadata --export-snapshots a-file/sub db1; ' +
        'undefine --managed-save --snapshots-metadata --export-snapshots full db1; ' +
        'list --inactive --name; snapshot-list db1 --name; dominfo db1',
    ]);
    assert.equal(o.status, 0, o.stderr);
    assert.equal(
      o.stderr,
      "error: Failed to export snapshots of domain 'db1' to 'a-file/sub': Not a directory\n" +
        "error: Domain 'db1' was not undefined; nothing was removed\n" +
        "error: Failed to export snapshots of domain 'db1' to 'full': directory is not empty\n" +
        "error: Domain 'db1' was not undefined; nothing was removed\n",
    );
    assert.match(o.stdout, /\ndb1\n\ns1\ns2\n\n/);
    assert.match(o.stdout, /Managed save: {3}yes\n/);
    assert.equal(readFileSync(join(w.dir(), 'full', 'keep.txt'), 'utf8'), 'user data\n');
    assert.deepEqual(readdirSync(join(w.dir(), 'full')), ['keep.txt']);
    assert.equal(existsSync(join(w.dir(), 'a-file', 'sub')), false);
  });

  test('--export-snapshots needs --snapshots-metadata', async () => {
    const o = await w.sh(['-c', DEFAULT, 'undefine test --export-snapshots x']);
    assert.equal(o.status, 1);
    assert.equal(o.stderr, 'error: Option --snapshots-metadata is required by option --export-snapshots\n');
  });
});

describe('hints name the flag that would make a refused call succeed', () => {
  const w = workspace();

  test('undefine with snapshots, with a managed save image, with both', async () => {
    const o = await w.sh([
      '-c',
      DEFAULT,
      'define web1.xml; snapshot-create-as web1 s1; snapshot-create-as web1 s2; snapshot-create-as web1 s3; undefine web1; ' +
        'define db1.xml; start db1; managedsave db1; undefine db1; snapshot-create-as db1 x; undefine db1',
    ]);
    assert.equal(
      o.stderr,
      "error: Failed to undefine domain 'web1'\n" +
        'error: Requested operation is not valid: cannot delete inactive domain with 3 snapshots\n' +
        'hint: add --snapshots-metadata to remove the metadata of its 3 snapshots as well (snapshot-export first to keep it)\n' +
        'error: Refusing to undefine while domain managed save image exists\n' +
        'hint: add --managed-save to remove its managed save image as well\n' +
        "error: Failed to undefine domain 'db1'\n" +
        'error: Requested operation is not valid: cannot delete inactive domain with 1 snapshots\n' +
        'hint: add --managed-save --snapshots-metadata to remove its managed save image and the metadata of its 1 snapshots as well (snapshot-export first to keep the metadata)\n',
    );
  });

  test('no hint when no flag helps (a transient domain)', async () => {
    const o = await w.sh(['-c', DEFAULT, 'create tr1.xml; undefine tr1']);
    assert.equal(o.stderr, "error: Failed to undefine domain 'tr1'\nerror: Requested operation is not valid: cannot undefine transient domain\n");
  });

  test('-q keeps errors and hints', async () => {
    const o = await w.sh(['-q', '-c', DEFAULT, 'define web1.xml; snapshot-create-as web1 s; undefine web1']);
    assert.equal(o.stdout, '');
    assert.match(o.stderr, /\nhint: add --snapshots-metadata /);
  });
});

describe('--json', () => {
  const w = workspace();

  test('list --json', async () => {
    const o = ok(await w.sh(['-c', DEFAULT, 'define web1.xml; start web1; snapshot-create-as web1 s; destroy web1']), 'setup');
    assert.ok(o.stdout.length > 0);
    const l = ok(await w.sh(['-c', DEFAULT, 'define web1.xml; snapshot-create-as web1 s; list --all --json --title']), 'list');
    const doms = JSON.parse(l.stdout.slice(l.stdout.indexOf('['))) as Record<string, unknown>[];
    assert.deepEqual(doms, [
      {
        id: 1,
        name: 'test',
        uuid: '6695eb01-f6a4-8304-79aa-97f2502e193f',
        state: 'running',
        reason: doms[0].reason,
        persistent: true,
        managedSave: false,
        snapshots: 0,
        title: '',
      },
      {
        id: null,
        name: 'web1',
        uuid: '4a7c2e1e-6a47-4e6c-9d5e-2f0f6b1c0a01',
        state: 'shut off',
        reason: 'unknown',
        persistent: true,
        managedSave: false,
        snapshots: 1,
        title: 'Front web server',
      },
    ]);
  });

  test('dominfo, domstate and version --json', async () => {
    const info = json(ok(await w.sh(['-c', DEFAULT, 'dominfo test --json']), 'dominfo')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(info), [
      'id',
      'name',
      'uuid',
      'osType',
      'state',
      'cpus',
      'cpuTime',
      'maxMemory',
      'usedMemory',
      'persistent',
      'autostart',
      'managedSave',
      'snapshots',
      'currentSnapshot',
    ]);
    assert.equal(info.id, 1);
    assert.equal(info.maxMemory, 8388608);
    assert.equal(info.currentSnapshot, null);
    const st = json(ok(await w.sh(['-c', DEFAULT, 'domstate --json test']), 'domstate')) as Record<string, unknown>;
    assert.equal(st.state, 'running');
    assert.equal(st.stateCode, 1);
    assert.equal(typeof st.reason, 'string');
    const v = json(ok(await w.sh(['-c', DEFAULT, 'version --json']), 'version')) as Record<string, unknown>;
    assert.equal(v.library, '9.0.0');
  });

  test('snapshot-list, snapshot-info and snapshot-current --json', async () => {
    const script = 'define web1.xml; snapshot-create-as web1 a "the first"; snapshot-create-as web1 b';
    const l = ok(await w.sh(['-c', DEFAULT, `${script}; snapshot-list web1 --json`]), 'list');
    const list = JSON.parse(l.stdout.slice(l.stdout.indexOf('['))) as Record<string, unknown>[];
    assert.deepEqual(
      list.map((s) => [s.name, s.parent, s.current, s.state, s.location, s.description, typeof s.creationTime]),
      [
        ['a', null, false, 'shutoff', 'internal', 'the first', 'number'],
        ['b', 'a', true, 'shutoff', 'internal', '', 'number'],
      ],
    );
    const i = ok(await w.sh(['-c', DEFAULT, `${script}; snapshot-info web1 a --json`]), 'info');
    const info = JSON.parse(i.stdout.slice(i.stdout.indexOf('{'))) as Record<string, unknown>;
    assert.deepEqual(
      { ...info, creationTime: 0 },
      {
        name: 'a',
        domain: 'web1',
        current: false,
        state: 'shutoff',
        location: 'internal',
        parent: null,
        creationTime: 0,
        description: 'the first',
        children: 1,
        descendants: 1,
        metadata: true,
      },
    );
    const c = ok(await w.sh(['-c', DEFAULT, `${script}; snapshot-current web1 --json`]), 'current');
    assert.equal((JSON.parse(c.stdout.slice(c.stdout.indexOf('{'))) as { name: string }).name, 'b');
  });

  test('--json excludes the other output forms', async () => {
    const o = await w.sh(['-c', DEFAULT, 'list --json --name']);
    assert.equal(o.status, 1);
    assert.equal(o.stderr, 'error: Options --json and --name are mutually exclusive\n');
  });
});

describe('events', () => {
  const w = workspace();

  test('R12: event --loop sees the lifecycle of a domain changed by another process', async () => {
    const env = cleanEnv(w.dir());
    const child = spawn(process.execPath, [TSVIRT, '-c', SESSION, 'event --all --loop --timeout 20'], { cwd: w.dir(), env });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      // Wait until the listener is up: it prints nothing, so give it a moment and retry.
      await new Promise((r) => setTimeout(r, 1500));
      ok(await w.sh(['-c', SESSION, 'define web1.xml; start web1; suspend web1; resume web1; destroy web1; undefine web1']), 'changes');
      const deadline = Date.now() + 10_000;
      while (!out.includes('Undefined Removed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    } finally {
      child.kill('SIGINT');
    }
    const status = await exited;
    assert.equal(
      out,
      "event 'lifecycle' for domain 'web1': Defined Added\n" +
        "event 'lifecycle' for domain 'web1': Started Booted\n" +
        "event 'lifecycle' for domain 'web1': Suspended Paused\n" +
        "event 'lifecycle' for domain 'web1': Resumed Unpaused\n" +
        "event 'lifecycle' for domain 'web1': Stopped Destroyed\n" +
        "event 'lifecycle' for domain 'web1': Undefined Removed\n" +
        'event loop interrupted\n' +
        'events received: 6\n\n',
    );
    assert.equal(status, 0);
  });

  test('event --json prints one object per event; one-shot stops after the first', async () => {
    const env = cleanEnv(w.dir());
    ok(await w.sh(['-c', SESSION, 'define db1.xml']), 'define');
    const child = spawn(process.execPath, [TSVIRT, '-c', SESSION, 'event --event lifecycle --domain db1 --json --timeout 20'], {
      cwd: w.dir(),
      env,
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await new Promise((r) => setTimeout(r, 1500));
      ok(await w.sh(['-c', SESSION, 'start db1; destroy db1']), 'changes');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
    const lines = out.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, out);
    const ev = JSON.parse(lines[0]) as Record<string, unknown>;
    assert.deepEqual(
      { ...ev, timestamp: 'T' },
      {
        timestamp: 'T',
        event: 'lifecycle',
        domain: 'db1',
        uuid: '4a7c2e1e-6a47-4e6c-9d5e-2f0f6b1c0a02',
        type: 'Started',
        typeCode: 2,
        detail: 'Booted',
        detailCode: 0,
      },
    );
  });
});

describe('bad input changes nothing', () => {
  const w = workspace();

  test('unknown command, unknown option, missing argument, missing file and bad XML', async () => {
    const cases: [string, string][] = [
      ['frob web1', "error: unknown command: 'frob'\n"],
      ['define web1.xml --frob', "error: command 'define' doesn't support option --frob\n"],
      ['define', "error: command 'define' requires <file> option\n"],
      ['define nosuch.xml', "error: Failed to open file 'nosuch.xml': No such file or directory\n"],
    ];
    for (const [script, stderr] of cases) {
      const o = await w.sh(['-c', SESSION, script]);
      assert.equal(o.status, 1, script);
      assert.equal(o.stderr, stderr, script);
    }
    const bad = await w.sh(['-c', SESSION, 'define bad.xml']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^error: Failed to define domain from bad\.xml\nerror: \(domain_definition\):1: /);
    assert.equal(ok(await w.sh(['-c', SESSION, 'list --all --name']), 'list').stdout, '\n');
  });

  test('a syntax error anywhere runs none of the line', async () => {
    const o = await w.sh(['-c', SESSION, 'define web1.xml; list --bogus']);
    assert.equal(o.status, 1);
    assert.equal(o.stdout, '');
    assert.equal(ok(await w.sh(['-c', SESSION, 'list --all --name']), 'list').stdout, '\n');
  });
});

describe('qemu-driver behaviour the test driver of libvirt lacks', () => {
  const w = workspace();

  test('create --paused and start --paused', async () => {
    const o = ok(await w.sh(['-c', DEFAULT, 'create --paused tr1.xml; domstate --reason tr1; define web1.xml; start --paused web1; domstate --reason web1']), 'paused');
    assert.equal(
      o.stdout,
      "Domain 'tr1' created from tr1.xml\n\npaused (user)\n\nDomain 'web1' defined from web1.xml\n\nDomain 'web1' started\n\npaused (user)\n\n",
    );
  });

  test('managedsave --verbose shows progress on standard error', async () => {
    const o = ok(await w.sh(['-c', DEFAULT, 'define web1.xml; start web1; managedsave --verbose web1']), 'managedsave');
    assert.match(o.stderr, /\rManagedsave: \[100 %\]$/);
    assert.match(o.stdout, /\nDomain 'web1' state saved by libvirt\n/);
  });
});

describe('the shell', () => {
  const w = workspace();

  test('-l writes a log of commands and errors', async () => {
    const log = join(w.dir(), 'tsvirt.log');
    await w.sh(['-l', log, '-c', DEFAULT, 'uri; domstate nosuch']);
    const text = readFileSync(log, 'utf8');
    assert.match(text, /^\[\d{4}\.\d\d\.\d\d \d\d:\d\d:\d\d tsvirt \d+\] INFO uri\n/);
    assert.match(text, /\] ERROR failed to get domain 'nosuch'\n/);
  });

  test('help lists tsvirt commands and help of a tsvirt command', async () => {
    const o = ok(await w.sh(['help']), 'help');
    assert.match(
      o.stdout,
      /^Grouped commands:\n\n Domain Management \(help keyword 'domain'\):\n {4}blkiotune {22}Get or set blkio parameters\n {4}console {24}connect to the guest console\n {4}cpu-stats {22}show domain cpu statistics\n {4}create {25}create a domain from an XML file\n/,
    );
    assert.match(o.stdout, / {4}snapshot-export {16}Export a domain and all its snapshot metadata/);
    const h = ok(await w.sh(['help', 'snapshot-import']), 'help snapshot-import');
    assert.match(h.stdout, /SYNOPSIS\n {4}snapshot-import <domain> <dir> \[--define\]\n/);
  });

  test('the default URI comes from TSVIRT_DEFAULT_URI, then LIBVIRT_DEFAULT_URI', async () => {
    const base = cleanEnv(w.dir());
    const run = (extra: Record<string, string>) => tsvirt(['uri'], { cwd: w.dir(), env: { ...base, ...extra } });
    assert.equal((await run({ TSVIRT_DEFAULT_URI: DEFAULT, LIBVIRT_DEFAULT_URI: SESSION })).stdout, `${DEFAULT}\n\n`);
    assert.equal((await run({ LIBVIRT_DEFAULT_URI: DEFAULT })).stdout, `${DEFAULT}\n\n`);
    assert.equal((await run({})).stdout, `${SESSION}\n\n`);
  });

  test('a URI no driver serves', async () => {
    const o = await w.sh(['-c', 'frob:///x', 'uri']);
    assert.equal(o.status, 1);
    assert.equal(o.stderr, 'error: failed to connect to the hypervisor\nerror: no connection driver available for frob:///x\n');
  });

  test('-v prints the version; -h the usage', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(ok(await w.sh(['-v']), '-v').stdout, `${pkg.version}\n`);
    const h = ok(await w.sh(['-h']), '-h');
    assert.match(h.stdout, /^\ntsvirt \[options\]\.\.\. \[<command_string>\]\n/);
  });
});

describe('the bin: one bundle, run with a V8 code cache', () => {
  const w = workspace();
  const LIST = ['-c', DEFAULT, 'list --all'];
  const LISTED = ' Id   Name   State\n----------------------\n 1    test   running\n\n';
  const bundle = join(dirname(TSVIRT), 'tsvirt.bundle.cjs');
  const xmlScript = join(dirname(TSVIRT), 'tsvirt.xml.cjs');
  /** The cache file name the bin looks for: the script's build id, this Node, this architecture. */
  const cacheName = (script = bundle, prefix = 'tsvirt') => {
    const id = /^\/\/tsvirt-build:([0-9a-f]{16})\n/.exec(readFileSync(script, 'latin1'))?.[1];
    assert.ok(id !== undefined, `${script} has no build id line`);
    return `${prefix}-${id}-${process.version}-${process.arch}.v8cache`;
  };
  const xmlCacheName = () => cacheName(xmlScript, 'tsvirt-xml');
  const remoteScript = join(dirname(TSVIRT), 'tsvirt.remote.cjs');
  const remoteCacheName = () => cacheName(remoteScript, 'tsvirt-remote');
  const runWith = (extra: Record<string, string>, args = LIST) => tsvirt(args, { cwd: w.dir(), env: { ...cleanEnv(w.dir()), ...extra } });

  test('the build put the bundle and a code cache for this Node beside the bin', () => {
    assert.ok(existsSync(bundle), `${bundle} is missing: run npm run build`);
    assert.ok(existsSync(join(dirname(TSVIRT), cacheName())), 'no code cache for this Node beside the bin');
    assert.ok(existsSync(xmlScript), `${xmlScript} is missing: run npm run build`);
    assert.ok(existsSync(join(dirname(TSVIRT), xmlCacheName())), 'no code cache of the XML parser beside the bin');
    assert.ok(existsSync(join(dirname(TSVIRT), remoteCacheName())), 'no code cache of the remote driver beside the bin');
  });

  test("the bundle holds neither the remote driver, the wire protocol nor the daemon (esbuild's metafile)", () => {
    const meta = JSON.parse(readFileSync(bundle.replace(/\.cjs$/, '.meta.json'), 'utf8')) as { outputs: Record<string, { inputs: Record<string, unknown> }> };
    const inputs = Object.entries(meta.outputs).flatMap(([out, o]) => (out.endsWith('.cjs') ? Object.keys(o.inputs) : []));
    assert.ok(inputs.some((p) => p.endsWith('src/drivers/test/driver.js')), `not the bundle's metafile: ${inputs.join(' ')}`);
    assert.deepEqual(inputs.filter((p) => /src\/(rpc|daemon|drivers\/remote)\//.test(p)), []);
  });

  test('a cache V8 rejects is replaced by a good one, and the output does not change', async () => {
    const dir = join(w.dir(), 'cache-rejected');
    mkdirSync(dir);
    const file = join(dir, cacheName());
    const garbage = Buffer.alloc(4096, 0x5a);
    writeFileSync(file, garbage);
    const o = ok(await runWith({ TSVIRT_CODE_CACHE_DIR: dir }), 'with a rejected cache');
    assert.equal(o.stdout, LISTED);
    assert.equal(o.stderr, '');
    const rewritten = readFileSync(file);
    assert.notDeepEqual(rewritten, garbage, 'the rejected cache was not rewritten');
    assert.ok(rewritten.length > 10_000, `a cache of ${rewritten.length} bytes`);
    // Accepted now: the next run leaves it as it is.
    assert.equal(ok(await runWith({ TSVIRT_CODE_CACHE_DIR: dir }), 'with the new cache').stdout, LISTED);
    assert.deepEqual(readFileSync(file), rewritten);
    assert.deepEqual(readdirSync(dir), [cacheName()], 'temporary files left behind');
  });

  test('TSVIRT_CODE_CACHE=off compiles from source, writes nothing, prints the same', async () => {
    const dir = join(w.dir(), 'cache-off');
    mkdirSync(dir);
    const o = ok(await runWith({ TSVIRT_CODE_CACHE: 'off', TSVIRT_CODE_CACHE_DIR: dir }), 'without cache');
    assert.equal(o.stdout, LISTED);
    assert.deepEqual(readdirSync(dir), []);
  });

  /** Runs the bin under another V8 flag, which makes V8 reject the cache the build made. */
  const withOtherFlags = (cacheDir: string) =>
    run(process.execPath, ['--stack-trace-limit=11', TSVIRT, ...LIST], {
      cwd: w.dir(),
      env: { ...cleanEnv(w.dir()), TSVIRT_CODE_CACHE_DIR: cacheDir },
    });

  test("under other V8 flags, a cache for them is made in the user's cache directory", async () => {
    const dir = join(w.dir(), 'cache-flags');
    const o = ok(await withOtherFlags(dir), 'other flags');
    assert.equal(o.stdout, LISTED);
    assert.deepEqual(readdirSync(dir), [cacheName()]);
  });

  test('the XML parser is loaded only by a command that parses XML, from its own cache', async () => {
    const dir = join(w.dir(), 'cache-xml');
    const flags = ['--stack-trace-limit=11', TSVIRT, '-c', DEFAULT];
    const opts = { cwd: w.dir(), env: { ...cleanEnv(w.dir()), TSVIRT_CODE_CACHE_DIR: dir } };
    ok(await run(process.execPath, [...flags, 'list --all'], opts), 'list');
    assert.deepEqual(readdirSync(dir), [cacheName()], 'listing loaded the XML parser');
    const o = ok(await run(process.execPath, [...flags, 'dumpxml test'], opts), 'dumpxml');
    assert.match(o.stdout, /^<domain type='test' id='1'>\n {2}<name>test<\/name>\n/);
    assert.deepEqual(readdirSync(dir).sort(), [cacheName(), xmlCacheName()].sort());
  });

  test('the remote driver is loaded only for a remote URI, from its own script and cache', async () => {
    const dir = join(w.dir(), 'cache-remote');
    const flags = ['--stack-trace-limit=11', TSVIRT, '-c'];
    const opts = { cwd: w.dir(), env: { ...cleanEnv(w.dir()), TSVIRT_CODE_CACHE_DIR: dir } };
    ok(await run(process.execPath, [...flags, DEFAULT, 'list --all'], opts), 'list');
    assert.deepEqual(readdirSync(dir), [cacheName()], 'a local URI loaded the remote driver');
    // No daemon there: the remote driver's own error, printed as the CLI prints a VirError (the
    // remote script's errors are the bundle's VirError class).
    const socket = join(w.dir(), 'no-daemon.sock');
    const o = await run(process.execPath, [...flags, `test+unix:///default?socket=${socket}`, 'list'], opts);
    assert.equal(o.status, 1);
    assert.equal(o.stderr, `error: failed to connect to the hypervisor\nerror: Failed to connect socket to '${socket}': No such file or directory\n`);
    assert.deepEqual(readdirSync(dir).sort(), [cacheName(), remoteCacheName()].sort());
  });

  test('a cache directory that cannot be made costs nothing but the cache', async () => {
    const notDir = join(w.dir(), 'a-file');
    writeFileSync(notDir, '');
    const o = ok(await withOtherFlags(join(notDir, 'cache')), 'unwritable cache dir');
    assert.equal(o.stdout, LISTED);
    assert.equal(o.stderr, '');
  });

  test('a closed standard output ends tsvirt quietly (tsvirt ... | head)', async () => {
    const child = spawn(process.execPath, [TSVIRT, ...LIST], { cwd: w.dir(), env: cleanEnv(w.dir()), stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before tsvirt has started: its first write fails with EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(status, 0);
    assert.equal(stderr, '');
  });
});
