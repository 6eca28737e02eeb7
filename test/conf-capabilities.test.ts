/**
 * The capabilities and sysinfo formatters (src/conf/capabilities.ts) and the host probe of the
 * QEMU driver: what they write validates against libvirt's capability.rng, and the test driver's
 * host is libvirt's test host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { formatCapabilitiesXML, formatSysinfoXML, type Capabilities } from '../src/conf/capabilities.js';
import { TEST_NODE_INFO, TEST_SYSINFO, testCapabilities } from '../src/drivers/test/presets.js';
import { parseCpuList, probeNodeInfo, probeQemuCapabilities } from '../src/drivers/qemu/host.js';
import { Connection, connect, type HypervisorDriver } from '../src/index.js';
import { SCHEMA_DIR, xmllintSkip } from './support/xmllint.js';

const RNG = `${SCHEMA_DIR}/capability.rng`;
const noSchema = xmllintSkip();

function assertValidCapabilities(xml: string): void {
  const r = spawnSync('xmllint', ['--noout', '--relaxng', RNG, '-'], { input: xml, encoding: 'utf8' });
  assert.equal(r.status, 0, `capabilities do not validate against capability.rng:\n${r.stderr}\n${xml}`);
}

test("the test driver's capabilities validate against capability.rng", { skip: noSchema }, () => {
  assertValidCapabilities(formatCapabilitiesXML(testCapabilities()));
});

test('the QEMU driver\'s capabilities of this host validate against capability.rng', { skip: noSchema }, () => {
  const caps = probeQemuCapabilities();
  assert.ok(caps.host.cells.length >= 1);
  assert.ok(caps.host.cells.flatMap((c) => c.cpus).length >= 1);
  assertValidCapabilities(formatCapabilitiesXML(caps));
});

test('a schema-breaking document is caught (the check can fail)', { skip: noSchema }, () => {
  const bad: Capabilities = { ...testCapabilities(), guests: [{ osType: 'hvm', arch: 'x86_64', wordsize: 64, domainTypes: ['frob'] }] };
  assert.throws(() => assertValidCapabilities(formatCapabilitiesXML(bad)), /do not validate/);
});

test("libvirt's layout: blank lines around host and guests, domain types per guest, emulator path", () => {
  const xml = formatCapabilitiesXML(testCapabilities());
  assert.match(xml, /^<capabilities>\n\n {2}<host>\n/);
  assert.match(xml, /<\/host>\n\n {2}<guest>\n/);
  assert.match(xml, /<\/guest>\n\n<\/capabilities>\n$/);
  assert.match(xml, /<arch name='x86_64'>\n {6}<wordsize>64<\/wordsize>\n {6}<emulator>\/usr\/bin\/test-hv<\/emulator>\n {6}<domain type='test'\/>\n/);
  assert.equal(xml.match(/<domain type='test'\/>/g)?.length, 3);
  assert.doesNotMatch(xml, /<secmodel>/);
});

test("the test host's topology matches its node info (16 CPUs in 2 cells)", () => {
  const caps = testCapabilities();
  assert.equal(caps.host.cells.length, TEST_NODE_INFO.nodes);
  assert.equal(caps.host.cells.flatMap((c) => c.cpus).length, TEST_NODE_INFO.cpus);
  assert.equal(caps.host.cpu.arch, TEST_NODE_INFO.model);
});

test('QEMU guests: qemu always, kvm only when /dev/kvm opens; emulators are absolute paths', () => {
  const caps = probeQemuCapabilities();
  for (const g of caps.guests) {
    assert.ok(g.domainTypes.includes('qemu'));
    assert.ok(g.emulator !== undefined && g.emulator.startsWith('/'), g.emulator);
  }
  const none = probeQemuCapabilities({ PATH: '/nonexistent' });
  assert.deepEqual(none.guests, []);
});

test('node info of this host: counts multiply out and memory is in KiB', () => {
  const n = probeNodeInfo();
  assert.ok(n.cpus >= 1 && n.nodes >= 1 && n.memory > 1024);
  assert.equal(n.nodes * n.sockets * n.cores * n.threads, n.cpus);
});

test('cpulists expand as the kernel writes them', () => {
  assert.deepEqual(parseCpuList('0-3,8,10-11'), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseCpuList(''), []);
});

test("sysinfo: libvirt's test driver's BIOS, in libvirt's layout", () => {
  assert.equal(
    formatSysinfoXML(TEST_SYSINFO),
    "<sysinfo type='smbios'>\n  <bios>\n    <entry name='vendor'>LENOVO</entry>\n    <entry name='version'>G4ETA1WW (2.61 )</entry>\n" +
      "    <entry name='date'>05/07/2014</entry>\n    <entry name='release'>2.61</entry>\n  </bios>\n</sysinfo>\n",
  );
});

test('Connection: getCapabilities, getInfo (python-libvirt list, memory in MiB) and getSysinfo on test:///default', async () => {
  const conn = await connect('test:///default');
  try {
    assert.equal(await conn.getCapabilities(), formatCapabilitiesXML(testCapabilities()));
    assert.deepEqual(await conn.getInfo(), ['i686', 3072, 16, 1400, 2, 2, 2, 2]);
    assert.deepEqual(await conn.getNodeInfo(), TEST_NODE_INFO);
    assert.equal(await conn.getSysinfo(), formatSysinfoXML(TEST_SYSINFO));
    await assert.rejects(conn.getSysinfo(1), (e: Error & { code?: number }) => {
      assert.equal(e.code, 8);
      assert.equal(e.message, 'unsupported flags (0x1) in function testConnectGetSysinfo');
      return true;
    });
  } finally {
    await conn.close();
  }
});

test('a driver without host calls: VIR_ERR_NO_SUPPORT naming the API, as libvirt', async () => {
  const conn = new Connection({ uri: 'bare:///', type: 'BARE' } as unknown as HypervisorDriver, { readonly: false });
  for (const [call, api] of [
    [() => conn.getCapabilities(), 'virConnectGetCapabilities'],
    [() => conn.getInfo(), 'virNodeGetInfo'],
    [() => conn.getSysinfo(), 'virConnectGetSysinfo'],
  ] as const) {
    await assert.rejects(call(), (e: Error & { code?: number }) => {
      assert.equal(e.code, 3);
      assert.equal(e.message, `this function is not supported by the connection driver: ${api}`);
      return true;
    });
  }
});
