/**
 * libvirt 9.0's XML corpus (tests/qemuxml2xmloutdata, x86_64: libvirt's own formatter output),
 * fetched at test time from Debian's source package (test/support/libvirt-corpus.ts), defined on
 * qemu:///session through the library and through tsvirtd, and read back with
 * XMLDesc(INACTIVE). Side by side, when it can run here, a real session libvirtd (its qemu driver,
 * started as nobody in a private directory) defines the same files: what it gives back is the
 * reference; without it the file itself is (it is libvirt's output already).
 *
 * For every file: accepted or refused (with the reason), and for an accepted file the elements,
 * attributes and text of the reference that tsvirt's output lacks, compared as trees (element
 * path, attribute name and value; order of siblings ignored). The counts are printed. The test
 * fails on a regression against the committed state (test/fixtures/libvirt-corpus-expected.json):
 * a file refused that is not listed there (or refused for another reason), or a file that loses
 * more than listed. Improvements are printed, so that the list can be tightened.
 *
 *   TSVIRT_CORPUS_WRITE=1 node --test dist/test/libvirt-corpus.test.js   rewrites the list
 *   TSVIRT_CORPUS_DUMP=/tmp/corpus.json …                                 writes both sides' XML
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, VirError, type Connection } from '../src/index.js';
import { lostFrom } from './support/xml-tree.js';
import { libvirtCorpus, type CorpusFile } from './support/libvirt-corpus.js';
import { startDaemon, type RunningDaemon } from './support/daemon-harness.js';
import { startLibvirtdSession, type LibvirtdSession } from '../bench/libvirtd-session.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The committed expectations, in the source tree (dist/test → test/fixtures). */
const EXPECTED = join(here, '..', '..', 'test', 'fixtures', 'libvirt-corpus-expected.json');

interface Expected {
  /** Files tsvirt refuses although libvirtd (or, without it, the corpus) accepts them: the reason. */
  refused: Record<string, string>;
  /** Files whose output lacks part of the reference: how many elements/attributes/texts. */
  losing: Record<string, number>;
  /** Files whose output lacks part of the file itself (what the user wrote) that libvirtd keeps: what. */
  losingInput: Record<string, string[]>;
}

/** One side's result for one file. */
type Outcome = { ok: true; xml: string } | { ok: false; error: string };

const lost = lostFrom;

async function defineAll(conn: Connection, files: readonly CorpusFile[]): Promise<Map<string, Outcome>> {
  const out = new Map<string, Outcome>();
  for (const f of files) {
    try {
      const dom = await conn.defineXML(f.xml);
      try {
        out.set(f.name, { ok: true, xml: await dom.XMLDesc(2 /* INACTIVE */) });
      } finally {
        await dom.undefineFlags(0);
      }
    } catch (e) {
      out.set(f.name, { ok: false, error: e instanceof VirError ? e.message : String(e) });
    }
  }
  return out;
}

/** python3-libvirt against the session libvirtd: define, XMLDesc(INACTIVE), undefine each file. */
const PY = String.raw`
import json, sys, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
files = json.load(open(sys.argv[2]))
out = {}
for f in files:
    try:
        d = c.defineXML(f['xml'])
        try:
            out[f['name']] = {'ok': True, 'xml': d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)}
        finally:
            d.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA)
    except libvirt.libvirtError as e:
        out[f['name']] = {'ok': False, 'error': str(e)}
json.dump(out, open(sys.argv[3], 'w'))
`;

async function libvirtdDefineAll(lv: LibvirtdSession, files: readonly CorpusFile[]): Promise<Map<string, Outcome>> {
  const input = join(lv.dir, 'corpus.json');
  const output = join(lv.dir, 'result.json');
  const script = join(lv.dir, 'corpus.py');
  writeFileSync(input, JSON.stringify(files));
  writeFileSync(script, PY);
  writeFileSync(output, '');
  const { chownSync } = await import('node:fs');
  chownSync(output, 65534, 65534);
  await new Promise<void>((resolve, reject) => {
    const p = spawn('setpriv', [...lv.asNobody, '/usr/bin/python3', script, lv.uri, input, output], { env: lv.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`python exited ${code}: ${err}`))));
  });
  const parsed = JSON.parse(readFileSync(output, 'utf8')) as Record<string, Outcome>;
  return new Map(Object.entries(parsed));
}

describe("libvirt 9.0's qemuxml2xmloutdata corpus on qemu:///session", () => {
  let files: CorpusFile[] | { skip: string };
  let stateDir: string;
  let daemon: RunningDaemon | undefined;
  let lv: LibvirtdSession | { skip: string } | undefined;
  const prevState = process.env.TSVIRT_STATE_DIR;

  before(async () => {
    files = libvirtCorpus();
    stateDir = mkdtempSync(join(tmpdir(), 'tsvirt-corpus-'));
    process.env.TSVIRT_STATE_DIR = stateDir;
  });
  after(async () => {
    if (prevState === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = prevState;
    await daemon?.dispose();
    if (lv !== undefined && !('skip' in lv)) await lv.dispose();
    rmSync(stateDir, { recursive: true, force: true });
  });

  test('define, read back, compare with libvirtd', async (t) => {
    if ('skip' in files) {
      t.skip(files.skip);
      return;
    }
    const corpus = files;
    const lib = await connect('qemu:///session');
    let mine: Map<string, Outcome>;
    try {
      mine = await defineAll(lib, corpus);
    } finally {
      await lib.close();
    }
    daemon = await startDaemon({ verbose: false });
    const remote = await connect(`qemu+unix:///session?socket=${daemon.rw}`);
    let viaDaemon: Map<string, Outcome>;
    try {
      viaDaemon = await defineAll(remote, corpus);
    } finally {
      await remote.close();
    }

    lv = await startLibvirtdSession();
    let reference: Map<string, Outcome>;
    let against: string;
    if ('skip' in lv) {
      against = `the corpus files themselves (libvirtd: ${lv.skip})`;
      reference = new Map(corpus.map((f) => [f.name, { ok: true, xml: f.xml }]));
    } else {
      against = 'a session libvirtd 9.0 (qemu driver)';
      reference = await libvirtdDefineAll(lv, corpus);
    }

    const refused: Record<string, string> = {};
    const losing: Record<string, number> = {};
    const losingInput: Record<string, string[]> = {};
    let inputLost = 0;
    const lostKinds = new Map<string, number>();
    let refAccepts = 0;
    let accepted = 0;
    let bothRefuse = 0;
    let tsvirtOnlyAccepts = 0;
    for (const f of corpus) {
      const ref = reference.get(f.name);
      const got = mine.get(f.name);
      const remoteGot = viaDaemon.get(f.name);
      assert.ok(ref !== undefined && got !== undefined && remoteGot !== undefined);
      // Library and daemon must agree, file by file.
      assert.deepEqual(
        remoteGot.ok ? { ok: true, xml: remoteGot.xml } : { ok: false, error: remoteGot.error },
        got.ok ? { ok: true, xml: got.xml } : { ok: false, error: got.error },
        `${f.name}: tsvirtd and the library differ`,
      );
      if (!ref.ok) {
        if (got.ok) tsvirtOnlyAccepts++;
        else bothRefuse++;
        continue;
      }
      refAccepts++;
      if (!got.ok) {
        refused[f.name] = got.error;
        continue;
      }
      accepted++;
      // What of the file tsvirt drops and libvirtd keeps (libvirtd itself rewrites some: pc → pc-i440fx-7.2).
      const libvirtdDrops = lost(f.xml, ref.xml);
      const fromInput = lost(f.xml, got.xml).filter((k) => {
        const i = libvirtdDrops.indexOf(k);
        if (i < 0) return true;
        libvirtdDrops.splice(i, 1);
        return false;
      });
      if (fromInput.length > 0) {
        losingInput[f.name] = fromInput;
        inputLost += fromInput.length;
      }
      const missing = lost(ref.xml, got.xml);
      if (missing.length > 0) {
        losing[f.name] = missing.length;
        for (const k of missing) {
          const kind = k.replace(/=.*$/, '');
          lostKinds.set(kind, (lostKinds.get(kind) ?? 0) + 1);
        }
      }
    }
    // For whoever works on the list: both sides' XML of every file.
    const dump = process.env.TSVIRT_CORPUS_DUMP;
    if (dump !== undefined) {
      writeFileSync(dump, JSON.stringify(Object.fromEntries(corpus.map((f) => [f.name, { reference: reference.get(f.name), tsvirt: mine.get(f.name) }])), null, 1));
    }
    const top = [...lostKinds].sort((a, b) => b[1] - a[1]).slice(0, 25);
    t.diagnostic(`reference: ${against}; ${corpus.length} x86_64 files`);
    t.diagnostic(
      `reference accepts ${refAccepts}; tsvirt accepts ${accepted} of them, refuses ${Object.keys(refused).length}; ` +
        `${Object.keys(losing).length} accepted files lose something (${Object.values(losing).reduce((a, b) => a + b, 0)} items); ` +
        `both refuse ${bothRefuse}; tsvirt alone accepts ${tsvirtOnlyAccepts}`,
    );
    t.diagnostic(`${Object.keys(losingInput).length} accepted files lose part of the file itself that libvirtd keeps (${inputLost} items)`);
    for (const [name, items] of Object.entries(losingInput).slice(0, 10)) t.diagnostic(`  ${name}: ${items.slice(0, 4).join(', ')}`);
    t.diagnostic('what libvirtd gives back and tsvirt does not (its QEMU driver adds defaults):');
    for (const [k, n] of top) t.diagnostic(`  lost ${n}× ${k}`);
    const reasons = new Map<string, number>();
    for (const r of Object.values(refused)) reasons.set(r, (reasons.get(r) ?? 0) + 1);
    for (const [r, n] of [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 25)) t.diagnostic(`  refused ${n}× ${r}`);

    if (process.env.TSVIRT_CORPUS_WRITE === '1') {
      writeFileSync(EXPECTED, JSON.stringify({ refused, losing, losingInput } satisfies Expected, null, 2) + '\n');
      return;
    }
    const expected = JSON.parse(readFileSync(EXPECTED, 'utf8')) as Expected;
    const regressions: string[] = [];
    for (const [name, reason] of Object.entries(refused)) {
      if (expected.refused[name] === undefined) regressions.push(`${name}: newly refused: ${reason}`);
      else if (expected.refused[name] !== reason) regressions.push(`${name}: refused for another reason: ${reason} (was: ${expected.refused[name]})`);
    }
    for (const [name, n] of Object.entries(losing)) {
      const was = expected.losing[name] ?? 0;
      if (n > was) regressions.push(`${name}: lacks ${n} items of libvirtd's output (was ${was})`);
    }
    for (const [name, items] of Object.entries(losingInput)) {
      const was = new Set(expected.losingInput[name] ?? []);
      const more = items.filter((i) => !was.has(i));
      if (more.length > 0) regressions.push(`${name}: loses ${more.join(', ')} of the file`);
    }
    const better = Object.keys(expected.refused).filter((n) => refused[n] === undefined).length +
      Object.entries(expected.losing).filter(([n, was]) => (losing[n] ?? 0) < was).length;
    if (better > 0) t.diagnostic(`${better} files do better than the committed list says: rewrite it with TSVIRT_CORPUS_WRITE=1`);
    assert.deepEqual(regressions, []);
  });
});
