/**
 * Coverage-guided fuzzing (test/fuzz/engine.ts) of what reads untrusted input: the wire decoder
 * (frame reader, then every procedure's arguments and return value through the procedure table,
 * and the error struct) and the XML parsers (domain and snapshot documents, from bytes; the ESX
 * driver's reader of SOAP answers). The
 * property: every input decodes or fails with a VirError (or an XdrError, which tsvirtd turns into
 * one); never another exception, never a slow execution.
 *
 * Bounded for `npm test`: TSVIRT_FUZZ_SECONDS per target (default 10). A longer run, saving what it
 * finds to the corpus:  TSVIRT_FUZZ_SECONDS=600 TSVIRT_FUZZ_SAVE=1 node --test dist/test/fuzz.test.js
 * The corpus lives in test/fuzz/corpus/<target>/ (seeded from real libvirt XML and wire frames that
 * the encoder of each procedure produced).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VirError } from '../src/core/errors.js';
import { DOMAIN_DOCUMENT, SNAPSHOT_DOCUMENT, decodeXmlBytes } from '../src/conf/xml.js';
import { parseDomainXML } from '../src/conf/domain.js';
import { parseSnapshotXML } from '../src/conf/snapshot.js';
import { parseVimXML } from '../src/drivers/esx/xml.js';
import { FrameReader } from '../src/rpc/message.js';
import { xError } from '../src/rpc/protocol.js';
import { PROCEDURES } from '../src/rpc/procedures.js';
import { XdrError, decode } from '../src/rpc/xdr.js';
import { fuzz, type FuzzTarget } from './fuzz/engine.js';

const here = dirname(fileURLToPath(import.meta.url));
// dist/test → the repository's test/fuzz/corpus.
const CORPUS = join(here, '..', '..', 'test', 'fuzz', 'corpus');
const SECONDS = Number(process.env.TSVIRT_FUZZ_SECONDS ?? '10');
const SAVE = process.env.TSVIRT_FUZZ_SAVE === '1';

function loadCorpus(name: string): Buffer[] {
  const dir = join(CORPUS, name);
  return readdirSync(dir).sort().map((f) => readFileSync(join(dir, f)));
}

function saveCorpus(name: string, inputs: readonly Buffer[]): void {
  const dir = join(CORPUS, name);
  mkdirSync(dir, { recursive: true });
  for (const b of inputs) writeFileSync(join(dir, `found-${createHash('sha1').update(b).digest('hex').slice(0, 16)}`), b);
}

const isVirError = (e: unknown) => e instanceof VirError;
const tok = (s: string) => Buffer.from(s, 'latin1');

const wire: FuzzTarget = {
  name: 'wire',
  scripts: /\/dist\/src\/rpc\//,
  accepts: (e) => e instanceof XdrError || e instanceof VirError,
  dictionary: [0, 1, 4, 16, 28, 0xffffffff, 0x20008086, 0x6b656570, 0x400000].map((n) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  }),
  run(data) {
    // The first byte picks where the stream is cut, so that frames straddling chunks are covered.
    const cut = data.length === 0 ? 0 : (data[0] ?? 0) % data.length;
    const reader = new FrameReader();
    const frames = [...reader.push(data.subarray(0, cut)), ...reader.push(data.subarray(cut))];
    for (const f of frames) {
      const spec = PROCEDURES.get(f.header.proc);
      for (const codec of spec === undefined ? [xError] : [spec.args, spec.ret, xError]) {
        try {
          decode(codec, f.payload);
        } catch (e) {
          if (!(e instanceof XdrError)) throw e;
        }
      }
    }
  },
};

const xmlDictionary = ['<', '</', '>', '/>', "='", "'", '&#x110000;', '&#0;', '&amp;', '&bogus;', '<![CDATA[', ']]>', '<!--', '-->', '<?xml version="1.0"?>', '<!DOCTYPE d [<!ENTITY e "x">]>', '\0', '\xe9', '\xc3\xa9', 'xmlns:t=', '<domain ', '<domainsnapshot>', '<name>', '<uuid>', '<memory>', '<os>', '<devices>', '<disk ', '<parent>', '<disks>'].map(tok);

function xmlTarget(name: string, parse: (data: Buffer) => void): FuzzTarget {
  return { name, scripts: /\/dist\/src\/conf\//, accepts: isVirError, dictionary: xmlDictionary, run: parse };
}

const targets: FuzzTarget[] = [
  wire,
  xmlTarget('xml-domain', (d) => void parseDomainXML(decodeXmlBytes(d, DOMAIN_DOCUMENT))),
  xmlTarget('xml-snapshot', (d) => void parseSnapshotXML(decodeXmlBytes(d, SNAPSHOT_DOCUMENT))),
  // vSphere's answers: the ESX driver's reader returns undefined for what is not XML, never throws.
  { ...xmlTarget('xml-esx', (d) => void parseVimXML(d.toString('utf8'))), scripts: /\/dist\/src\/(conf|drivers\/esx)\// },
];

for (const target of targets) {
  test(`fuzz ${target.name}: every input decodes or is a VirError/XdrError, none is slow (${SECONDS} s)`, () => {
    const corpus = loadCorpus(target.name);
    assert.ok(corpus.length > 0, `corpus ${target.name} is empty`);
    const r = fuzz(target, { corpus, timeMs: SECONDS * 1000, maxLen: 128 * 1024, slowMs: 2000 });
    console.log(`# ${target.name}: ${r.execs} executions, ${r.features} coverage features, ${r.added.length} new inputs, slowest ${r.slowestMs.toFixed(1)} ms`);
    if (SAVE) saveCorpus(target.name, [...r.added, ...r.findings.map((f) => f.input)]);
    const shown = r.findings.slice(0, 5).map((f) => `${f.what}\n  input (base64): ${f.input.toString('base64').slice(0, 400)}`);
    assert.deepEqual(shown, []);
    assert.ok(r.execs > corpus.length, 'the fuzzer ran mutated inputs');
  });
}
