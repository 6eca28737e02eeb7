/**
 * Domain XML parse and format speed (issue: the daemon's define+undefine spends a large part of its
 * time parsing XML). Prints operations per second for three documents: a minimal domain (what the
 * define benchmarks send), virt-install's output (test/fixtures/virt-install) and libvirt's own
 * dumpxml of a QEMU guest with many devices. Not a test: it asserts nothing about time.
 *
 *   node dist/bench/xml.js
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDomainXML, parseDomainXML } from '../src/conf/domain.js';

const here = dirname(fileURLToPath(import.meta.url));
const MINIMAL =
  "<domain type='test'><name>b</name><uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid><memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>";
// Without its <graphics>, whose SPICE options tsvirt refused before it kept them: the same document
// then parses on older versions too, for comparisons.
const VIRT_INSTALL = readFileSync(join(here, '..', '..', 'test', 'fixtures', 'virt-install', 'debian12-q35-efi.xml'), 'utf8').replace(
  /<graphics[\s\S]*?<\/graphics>/,
  '',
);

function opsPerSecond(fn: () => void, ms = 1500): number {
  for (let i = 0; i < 200; i++) fn();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

for (const [name, xml] of [
  ['minimal', MINIMAL],
  ['virt-install', VIRT_INSTALL],
] as const) {
  const def = parseDomainXML(xml);
  const stored = formatDomainXML(def, { inactive: true, secure: true });
  const parse = opsPerSecond(() => parseDomainXML(xml));
  const parseStored = opsPerSecond(() => parseDomainXML(stored, { stored: true }));
  const format = opsPerSecond(() => formatDomainXML(def, { inactive: true }));
  process.stdout.write(
    `${name.padEnd(13)} parse ${parse.toFixed(0).padStart(7)}/s   parse stored ${parseStored.toFixed(0).padStart(7)}/s   format ${format.toFixed(0).padStart(7)}/s\n`,
  );
}
