// Domain snapshot XML: parse and format against libvirt 9.0 (fixtures are what
// python-libvirt's snapshotCreateXML/getXMLDesc returned on test:///default), every
// formatted document validated against libvirt's domainsnapshot.rng.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirError } from '../src/core/errors.js';
import { ErrorDomain, ErrorNumber } from '../src/core/enums.generated.js';
import { parseDomainXML } from '../src/conf/domain.js';
import { testDefaultDomainDef } from '../src/drivers/test/presets.js';
import { formatSnapshotXML, parseSnapshotXML, type SnapshotDef } from '../src/conf/snapshot.js';
import { assertValidXML } from './support/xmllint.js';

function roundTrip(xml: string, redefine = true): { def: SnapshotDef; out: string } {
  const def = parseSnapshotXML(xml, { requireFullForRedefine: redefine });
  const out = formatSnapshotXML(def);
  assertValidXML(out, 'domainsnapshot');
  const again = parseSnapshotXML(out, { requireFullForRedefine: redefine });
  assert.deepEqual(again, def);
  assert.equal(formatSnapshotXML(again), out);
  return { def, out };
}

function assertVirError(
  fn: () => unknown,
  expected: { code: ErrorNumber; domain?: ErrorDomain; message?: string | RegExp },
): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof VirError, `expected a VirError, got ${String(caught)}`);
  assert.equal(caught.code, expected.code, `code of: ${caught.message}`);
  if (expected.domain !== undefined) assert.equal(caught.domain, expected.domain, `domain of: ${caught.message}`);
  if (typeof expected.message === 'string') assert.equal(caught.message, expected.message);
  else if (expected.message !== undefined) assert.match(caught.message, expected.message);
}

// snapshotCreateXML("<domainsnapshot><name>s1</name><description>first &amp; 'x'</description>
// </domainsnapshot>") on the running domain 'test', then getXMLDesc().
const LIBVIRT_RUNNING_SNAPSHOT = `<domainsnapshot>
  <name>s1</name>
  <description>first &amp; &apos;x&apos;</description>
  <state>running</state>
  <creationTime>1795687905</creationTime>
  <memory snapshot='internal'/>
  <disks>
    <disk name='vda' snapshot='internal'/>
  </disks>
  <domain type='test'>
    <name>test</name>
    <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
    <memory unit='KiB'>8388608</memory>
    <currentMemory unit='KiB'>2097152</currentMemory>
    <vcpu placement='static'>2</vcpu>
    <os>
      <type arch='i686'>hvm</type>
      <boot dev='hd'/>
    </os>
    <clock offset='utc'/>
    <on_poweroff>destroy</on_poweroff>
    <on_reboot>restart</on_reboot>
    <on_crash>destroy</on_crash>
    <devices>
      <disk type='file' device='disk'>
        <source file='/guest/diskimage1'/>
        <target dev='vda' bus='virtio'/>
        <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
      </disk>
      <interface type='network'>
        <mac address='aa:bb:cc:dd:ee:ff'/>
        <source network='default'/>
        <target dev='testnet0'/>
        <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
      </interface>
      <memballoon model='virtio'>
        <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
      </memballoon>
    </devices>
  </domain>
</domainsnapshot>
`;

// A disk-only snapshot redefined (REDEFINE) with a parent, an external and an excluded disk.
const LIBVIRT_REDEFINED_SNAPSHOT = `<domainsnapshot>
  <name>r1</name>
  <description>disk-only, after p0</description>
  <state>disk-snapshot</state>
  <parent>
    <name>p0</name>
  </parent>
  <creationTime>1700000000</creationTime>
  <memory snapshot='no'/>
  <disks>
    <disk name='vda' snapshot='external' type='file'>
      <driver type='qcow2'/>
      <source file='/var/lib/x.qcow2'/>
    </disk>
    <disk name='vdb' snapshot='no'/>
  </disks>
  <domain type='test'>
    <name>test</name>
    <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
    <memory unit='KiB'>1024</memory>
    <currentMemory unit='KiB'>1024</currentMemory>
    <vcpu placement='static'>1</vcpu>
    <os>
      <type arch='i686'>hvm</type>
      <boot dev='hd'/>
    </os>
    <clock offset='utc'/>
    <on_poweroff>destroy</on_poweroff>
    <on_reboot>restart</on_reboot>
    <on_crash>destroy</on_crash>
    <devices>
      <disk type='file' device='disk'>
        <source file='/a.img'/>
        <target dev='vda' bus='virtio'/>
      </disk>
      <disk type='file' device='disk'>
        <source file='/b.img'/>
        <target dev='vdb' bus='virtio'/>
      </disk>
    </devices>
  </domain>
</domainsnapshot>
`;

test("libvirt's snapshot XML with embedded domain is reproduced exactly", () => {
  const { def, out } = roundTrip(LIBVIRT_RUNNING_SNAPSHOT);
  assert.equal(out, LIBVIRT_RUNNING_SNAPSHOT);
  assert.equal(def.name, 's1');
  assert.equal(def.description, "first & 'x'");
  assert.equal(def.state, 'running');
  assert.equal(def.creationTime, 1795687905);
  assert.deepEqual(def.memory, { snapshot: 'internal' });
  assert.deepEqual(def.disks, [{ name: 'vda', snapshot: 'internal' }]);
  assert.equal(def.parent, undefined);
  assert.deepEqual(def.domain, testDefaultDomainDef());
});

test('a redefined snapshot with parent, external and excluded disks', () => {
  const { def, out } = roundTrip(LIBVIRT_REDEFINED_SNAPSHOT);
  assert.equal(out, LIBVIRT_REDEFINED_SNAPSHOT);
  assert.equal(def.parent, 'p0');
  assert.equal(def.state, 'disk-snapshot');
  assert.deepEqual(def.disks, [
    { name: 'vda', snapshot: 'external', driverType: 'qcow2', sourceFile: '/var/lib/x.qcow2' },
    { name: 'vdb', snapshot: 'no' },
  ]);
  assert.deepEqual(def.domain?.devices.disks.map((d) => d.sourceFile), ['/a.img', '/b.img']);
});

test('a snapshot built as a driver builds one: memory file, disks, domain with test namespace', () => {
  const domain = testDefaultDomainDef();
  domain.testNamespace = { ignorePowerButton: true };
  const def: SnapshotDef = {
    name: 'before-upgrade',
    description: 'multi\nline',
    state: 'paused',
    parent: 'base',
    creationTime: 1700000123,
    memory: { snapshot: 'external', file: '/var/lib/tsvirt/save/before-upgrade.mem' },
    disks: [{ name: 'vda', snapshot: 'external', sourceFile: '/guest/diskimage1.before-upgrade' }],
    domain,
  };
  const out = formatSnapshotXML(def);
  assertValidXML(out, 'domainsnapshot');
  assert.deepEqual(parseSnapshotXML(out, { requireFullForRedefine: true }), def);
  // The embedded domain is indented one level inside, namespace declaration on it.
  assert.ok(
    out.includes(`  <memory snapshot='external' file='/var/lib/tsvirt/save/before-upgrade.mem'/>
  <disks>
    <disk name='vda' snapshot='external' type='file'>
      <source file='/guest/diskimage1.before-upgrade'/>
    </disk>
  </disks>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>test</name>
`),
    out,
  );
  assert.ok(out.endsWith('    <test:ignorepowerbutton>yes</test:ignorepowerbutton>\n  </domain>\n</domainsnapshot>\n'), out);
});

test('<domainsnapshot/> is valid: no name (the caller picks one), no state', () => {
  const def = parseSnapshotXML('<domainsnapshot/>');
  assert.deepEqual(def, { state: 'nostate', disks: [] });
  assert.equal(formatSnapshotXML(def), '<domainsnapshot>\n</domainsnapshot>\n');
  assertValidXML(formatSnapshotXML(def), 'domainsnapshot');
  // As in libvirt, an empty <name> is no name.
  assert.equal(parseSnapshotXML('<domainsnapshot><name></name></domainsnapshot>').name, undefined);
  const named = roundTrip('<domainsnapshot><name>n</name><description>d</description></domainsnapshot>', false);
  assert.deepEqual(named.def, { name: 'n', description: 'd', state: 'nostate', disks: [] });
});

test('create (not redefine): only what is given; unparsable state and time are ignored as libvirt ignores them', () => {
  const def = parseSnapshotXML(
    "<domainsnapshot><name>c</name><state>bogus</state><creationTime>soon</creationTime><disks><disk name='vda'/></disks></domainsnapshot>",
  );
  assert.deepEqual(def, { name: 'c', state: 'nostate', disks: [{ name: 'vda' }] });
  // An external memory file makes the memory snapshot external.
  assert.deepEqual(parseSnapshotXML("<domainsnapshot><memory file='/m.save'/></domainsnapshot>").memory, {
    snapshot: 'external',
    file: '/m.save',
  });
  // A disk with a new file or format is external.
  assert.deepEqual(
    parseSnapshotXML("<domainsnapshot><disks><disk name='vda'><driver type='qcow2'/></disk></disks></domainsnapshot>").disks,
    [{ name: 'vda', snapshot: 'external', driverType: 'qcow2' }],
  );
});

test('redefine: the memory default follows the state', () => {
  const base = "<name>m</name><creationTime>1</creationTime><domain type='test'><name>t</name><memory>1</memory><os><type>hvm</type></os></domain>";
  const run = parseSnapshotXML(`<domainsnapshot>${base}<state>running</state></domainsnapshot>`, { requireFullForRedefine: true });
  assert.deepEqual(run.memory, { snapshot: 'internal' });
  const off = parseSnapshotXML(`<domainsnapshot>${base}<state>shutoff</state></domainsnapshot>`, { requireFullForRedefine: true });
  assert.deepEqual(off.memory, { snapshot: 'no' });
  // Creating a snapshot of an inactive domain: no memory state.
  assertVirError(() => parseSnapshotXML("<domainsnapshot><memory snapshot='internal'/></domainsnapshot>", { offline: true }), {
    code: ErrorNumber.XML_ERROR,
    domain: ErrorDomain.DOMAIN_SNAPSHOT,
    message: 'XML error: memory state cannot be saved with offline or disk-only snapshot',
  });
});

test("libvirt's on-disk form: <active> and the old <domain><uuid> form round-trip", () => {
  const { def, out } = roundTrip(
    '<domainsnapshot><name>old</name><state>shutoff</state><creationTime>5</creationTime>' +
      '<domain><uuid>6695EB01F6A4830479AA97F2502E193F</uuid></domain><active>1</active></domainsnapshot>',
  );
  assert.equal(def.domain, undefined);
  assert.equal(def.domainUuid, '6695eb01-f6a4-8304-79aa-97f2502e193f');
  assert.equal(def.active, true);
  assert.ok(out.includes('  <domain>\n    <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>\n  </domain>\n  <active>1</active>\n'), out);
  assert.equal(formatSnapshotXML({ ...def, active: undefined }).includes('<active>'), false);
  assert.equal(parseSnapshotXML(formatSnapshotXML({ ...def, active: false })).active, false);
});

test('<inactiveDomain> of a running domain round-trips', () => {
  const inactive = parseDomainXML(
    "<domain type='test'><name>test</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid><memory>2048</memory><os><type>hvm</type></os></domain>",
  );
  const def: SnapshotDef = {
    name: 'live',
    state: 'running',
    creationTime: 10,
    memory: { snapshot: 'internal' },
    disks: [],
    domain: testDefaultDomainDef(),
    inactiveDomain: inactive,
  };
  const out = formatSnapshotXML(def);
  assert.match(out, /\n {2}<inactiveDomain type='test'>\n {4}<name>test<\/name>\n/);
  assertValidXML(out, 'domainsnapshot');
  assert.deepEqual(parseSnapshotXML(out, { requireFullForRedefine: true }), def);
});

test('redefine requires name, creationTime and a valid state (libvirt wording)', () => {
  const r = { requireFullForRedefine: true };
  assertVirError(() => parseSnapshotXML('<domainsnapshot><state>running</state></domainsnapshot>', r), {
    code: ErrorNumber.XML_ERROR,
    domain: ErrorDomain.DOMAIN_SNAPSHOT,
    message: 'XML error: a redefined snapshot must have a name',
  });
  assertVirError(() => parseSnapshotXML('<domainsnapshot><name>x</name><state>running</state></domainsnapshot>', r), {
    code: ErrorNumber.INTERNAL_ERROR,
    domain: ErrorDomain.DOMAIN_SNAPSHOT,
    message: 'internal error: missing creationTime from existing snapshot',
  });
  assertVirError(
    () => parseSnapshotXML('<domainsnapshot><name>x</name><creationTime>x</creationTime><state>running</state></domainsnapshot>', r),
    { code: ErrorNumber.INTERNAL_ERROR, message: 'internal error: missing creationTime from existing snapshot' },
  );
  assertVirError(() => parseSnapshotXML('<domainsnapshot><name>x</name><creationTime>1</creationTime></domainsnapshot>', r), {
    code: ErrorNumber.XML_ERROR,
    message: 'XML error: missing state from existing snapshot',
  });
  for (const state of ['bogus', 'nostate']) {
    assertVirError(
      () => parseSnapshotXML(`<domainsnapshot><name>x</name><creationTime>1</creationTime><state>${state}</state></domainsnapshot>`, r),
      { code: ErrorNumber.CONFIG_UNSUPPORTED, message: `unsupported configuration: Invalid state '${state}' in domain snapshot XML` },
    );
  }
});

test('memory and disk rules (libvirt wording)', () => {
  const cases: Array<[string, ErrorNumber, string]> = [
    ["<memory snapshot='external'/>", ErrorNumber.XML_ERROR, 'XML error: external memory snapshots require a filename'],
    ["<memory snapshot='internal' file='/x'/>", ErrorNumber.XML_ERROR, "XML error: memory filename '/x' requires external snapshot"],
    ["<memory snapshot='external' file='x'/>", ErrorNumber.XML_ERROR, 'XML error: memory snapshot file path (x) must be absolute'],
    ["<memory snapshot='manual'/>", ErrorNumber.XML_ERROR, "XML error: 'manual' memory snapshot mode not supported"],
    ["<memory snapshot='bogus'/>", ErrorNumber.XML_ERROR, "XML error: Invalid value for attribute 'snapshot' in element 'memory': 'bogus'."],
    ['<disks><disk/></disks>', ErrorNumber.INTERNAL_ERROR, 'internal error: missing name from disk snapshot element'],
    ["<disks><disk name='vda' snapshot='bogus'/></disks>", ErrorNumber.XML_ERROR, "XML error: Invalid value for attribute 'snapshot' in element 'disk': 'bogus'."],
    ["<disks><disk name='vda'><source file='rel.qcow2'/></disk></disks>", ErrorNumber.XML_ERROR, "XML error: disk snapshot image path 'rel.qcow2' must be absolute"],
    ["<disks><disk name='vda'><driver type='bogus'/></disk></disks>", ErrorNumber.CONFIG_UNSUPPORTED, "unsupported configuration: unknown disk snapshot driver 'bogus'"],
    ["<disks><disk name='vda' type='dir'/></disks>", ErrorNumber.XML_ERROR, "XML error: unsupported disk snapshot type 'dir'"],
    ["<disks><disk name='vda' snapshot='internal'><source file='/x'/></disk></disks>", ErrorNumber.CONFIG_UNSUPPORTED, "unsupported configuration: file '/x' for disk 'vda' requires use of external snapshot mode"],
  ];
  for (const [inner, code, message] of cases) {
    assertVirError(() => parseSnapshotXML(`<domainsnapshot><name>s</name>${inner}</domainsnapshot>`), { code, message });
  }
});

test('bad snapshot XML: not well formed, wrong root, bad names, bad embedded domain', () => {
  assertVirError(() => parseSnapshotXML('<domainsnapshot>\n<name>x</oops></domainsnapshot>'), {
    code: ErrorNumber.XML_DETAIL,
    domain: ErrorDomain.DOMAIN_SNAPSHOT,
    message:
      '(domain_snapshot):2: Opening and ending tag mismatch: name line 2 and oops\n<name>x</oops></domainsnapshot>\n--------------^',
  });
  assertVirError(() => parseSnapshotXML('<domain/>'), {
    code: ErrorNumber.XML_ERROR,
    domain: ErrorDomain.XML,
    message: "XML error: expecting root element of 'domainsnapshot', not 'domain'",
  });
  // libvirt 9.0 takes any snapshot name; tsvirt applies the domain name rules (names are data).
  assertVirError(() => parseSnapshotXML('<domainsnapshot><name>a/b</name></domainsnapshot>'), {
    code: ErrorNumber.XML_ERROR,
    domain: ErrorDomain.DOMAIN_SNAPSHOT,
    message: "XML error: name a/b cannot contain '/'",
  });
  assertVirError(() => parseSnapshotXML('<domainsnapshot><name>a\nb</name></domainsnapshot>'), {
    code: ErrorNumber.XML_DETAIL,
    message: 'invalid char in name: \n',
  });
  assertVirError(() => parseSnapshotXML(`<domainsnapshot><name>${'s'.repeat(256)}</name></domainsnapshot>`), {
    code: ErrorNumber.XML_ERROR,
    message: /name is too long/,
  });
  assertVirError(
    () => parseSnapshotXML("<domainsnapshot><name>s</name><domain type='test'><name>t</name><uuid>nope</uuid></domain></domainsnapshot>"),
    { code: ErrorNumber.INTERNAL_ERROR, domain: ErrorDomain.DOMAIN, message: 'internal error: malformed uuid element' },
  );
  assertVirError(() => parseSnapshotXML(`<domainsnapshot><description>${'x'.repeat(10 * 1024 * 1024)}</description></domainsnapshot>`), {
    code: ErrorNumber.XML_ERROR,
    domain: ErrorDomain.DOMAIN_SNAPSHOT,
    message: /too large/,
  });
});
