/**
 * virConnectGetDomainCapabilities (`virsh domcapabilities`): libvirt-tck builds every domain it
 * tests from the answer, so without it no TCK domain script ran against tsvirtd. The QEMU driver
 * answers with what it runs for the selected emulator, machine and type, valid against libvirt's
 * domaincaps.rng; the arguments are checked with libvirt 9.0's errors (measured on libvirtd 9.0's
 * qemu:///session here); the test driver answers VIR_ERR_NO_SUPPORT as libvirt's own does, also
 * through tsvirtd next to a real libvirtd.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorDomain, ErrorNumber, connect, type Connection } from '../src/index.js';
import { rejectsVir } from './support/fixtures.js';
import { assertValidXML } from './support/xmllint.js';
import { missing } from './support/host-tools.js';
import { python, pythonLibvirtSkip, startDaemon, type RunningDaemon } from './support/daemon-harness.js';
import { startLibvirtd, type RunningLibvirtd } from './support/libvirtd-harness.js';

const qemuSkip = missing('qemu-system-x86_64');

describe('domain capabilities of qemu:///session', { skip: qemuSkip, timeout: 120_000 }, () => {
  let dir: string;
  let previous: string | undefined;
  let conn: Connection;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsv-domcaps-'));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = dir;
    conn = await connect('qemu:///session');
  });
  after(async () => {
    await conn?.close();
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    rmSync(dir, { recursive: true, force: true });
  });

  test('the default: the host architecture, its emulator and default machine, valid against domaincaps.rng', async () => {
    const xml = await conn.getDomainCapabilities();
    assertValidXML(xml, 'domaincaps');
    assert.match(xml, /^<domainCapabilities>\n {2}<path>\/\S+\/qemu-system-x86_64<\/path>\n {2}<domain>(kvm|qemu)<\/domain>\n/);
    // QEMU 7.2's default machine, by its full name as libvirt gives it, and its query-machines cpu-max.
    assert.match(xml, /<machine>pc-i440fx-[0-9.]+<\/machine>\n {2}<arch>x86_64<\/arch>\n {2}<vcpu max='255'\/>/);
    // Only what the driver runs is offered: VNC graphics, the four disk buses its argv builds.
    assert.match(xml, /<graphics supported='yes'>\n\s+<enum name='type'>\n\s+<value>vnc<\/value>\n\s+<\/enum>/);
    for (const bus of ['ide', 'scsi', 'virtio', 'sata']) assert.match(xml, new RegExp(`<value>${bus}</value>`));
    assert.doesNotMatch(xml, /<value>(spice|usb|fdc|floppy)<\/value>/);
    assert.match(xml, /<hostdev supported='no'\/>/);
  });

  test('machine, arch and type select: q35 has 288 vCPUs, i686 its own emulator, qemu is TCG', async () => {
    const q35 = await conn.getDomainCapabilities(null, null, 'q35', 'qemu', 0);
    assertValidXML(q35, 'domaincaps');
    assert.match(q35, /<domain>qemu<\/domain>\n {2}<machine>pc-q35-[0-9.]+<\/machine>\n {2}<arch>x86_64<\/arch>\n {2}<vcpu max='288'\/>/);
    const i686 = await conn.getDomainCapabilities(null, 'i686', null, 'qemu', 0);
    assert.match(i686, /<path>\/\S+\/qemu-system-i386<\/path>/);
    assert.match(i686, /<arch>i686<\/arch>/);
    // An x86_64 emulator also serves i686 guests, as libvirt allows.
    const x64 = (await conn.getDomainCapabilities(null, null, null, null, 0)).match(/<path>(.*)<\/path>/)?.[1] ?? '';
    assert.match(await conn.getDomainCapabilities(x64, 'i686', null, 'qemu', 0), /<arch>i686<\/arch>/);
  });

  test("bad arguments fail with libvirt 9.0's codes and words", async () => {
    const qemu = ErrorDomain.QEMU;
    await rejectsVir(conn.getDomainCapabilities(null, null, null, null, 1), {
      code: ErrorNumber.INVALID_ARG,
      domain: qemu,
      message: 'unsupported flags (0x1) in function qemuConnectGetDomainCapabilities',
    });
    await rejectsVir(conn.getDomainCapabilities(null, null, null, 'foo', 0), { code: ErrorNumber.INVALID_ARG, domain: qemu, message: 'invalid argument: unknown virttype: foo' });
    await rejectsVir(conn.getDomainCapabilities(null, 'bogus', null, null, 0), { code: ErrorNumber.INVALID_ARG, message: 'invalid argument: unknown architecture: bogus' });
    await rejectsVir(conn.getDomainCapabilities(null, 'aarch64', null, null, 0), {
      code: ErrorNumber.CONFIG_UNSUPPORTED,
      message: "unsupported configuration: unable to find any emulator to serve 'aarch64' architecture",
    });
    const x64 = (await conn.getDomainCapabilities()).match(/<path>(.*)<\/path>/)?.[1] ?? '';
    await rejectsVir(conn.getDomainCapabilities(null, null, 'nope', null, 0), {
      code: ErrorNumber.INVALID_ARG,
      message: `invalid argument: the machine 'nope' is not supported by emulator '${x64}'`,
    });
    // libvirt turns every type but kvm into TCG, then finds TCG missing for it.
    await rejectsVir(conn.getDomainCapabilities(null, null, null, 'xen', 0), {
      code: ErrorNumber.INVALID_ARG,
      message: `invalid argument: the accel 'tcg' is not supported by '${x64}' on this host`,
    });
    const i386 = x64.replace(/qemu-system-x86_64$/, 'qemu-system-i386');
    if (existsSync(i386)) {
      await rejectsVir(conn.getDomainCapabilities(i386, null, null, null, 0), {
        code: ErrorNumber.INVALID_ARG,
        message: `invalid argument: Emulator '${i386}' does not support arch 'x86_64'`,
      });
    }
    await rejectsVir(conn.getDomainCapabilities('/nonexistent/qemu', null, null, null, 0), {
      code: ErrorNumber.SYSTEM_ERROR,
      message: 'Cannot check QEMU binary /nonexistent/qemu: No such file or directory',
    });
    if (process.getuid?.() !== 0) {
      const plain = join(dir, 'not-executable');
      writeFileSync(plain, '');
      chmodSync(plain, 0o644);
      await rejectsVir(conn.getDomainCapabilities(plain, null, null, null, 0), {
        code: ErrorNumber.SYSTEM_ERROR,
        message: `QEMU binary ${plain} is not executable: Permission denied`,
      });
    }
  });
});

describe('domain capabilities through tsvirtd, beside libvirtd', { skip: pythonLibvirtSkip(), timeout: 60_000 }, () => {
  let daemon: RunningDaemon;
  let libvirtd: RunningLibvirtd | { skip: string };

  before(async () => {
    daemon = await startDaemon();
    libvirtd = await startLibvirtd();
  });
  after(async () => {
    await daemon?.dispose();
    if (libvirtd !== undefined && !('skip' in libvirtd)) await libvirtd.dispose();
  });

  const SCRIPT = String.raw`
import libvirt, sys, json
libvirt.registerErrorHandler(lambda *a: None, None)
out = {}
c = libvirt.open(sys.argv[1])
try:
    x = c.getDomainCapabilities(None, None, None, None, 0)
    out['caps'] = x.splitlines()[0]
except libvirt.libvirtError as e:
    out['caps'] = [e.get_error_code(), e.get_error_domain(), e.get_error_message()]
print(json.dumps(out))
`;

  test("test:///default answers VIR_ERR_NO_SUPPORT, as libvirt's test driver", async (t) => {
    const ours = python(SCRIPT, daemon.uri('/default'));
    assert.equal(ours.code, 0, ours.stderr);
    assert.deepEqual(JSON.parse(ours.stdout).caps, [ErrorNumber.NO_SUPPORT, ErrorDomain.DOMAIN, 'this function is not supported by the connection driver: virConnectGetDomainCapabilities']);
    if ('skip' in libvirtd) return t.skip(libvirtd.skip);
    const theirs = python(SCRIPT, libvirtd.uri('/default'));
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.deepEqual(JSON.parse(ours.stdout), JSON.parse(theirs.stdout));
  });

  test('qemu:///session answers the document through the wire', { skip: qemuSkip }, async () => {
    const r = python(SCRIPT, daemon.uri('/default').replace('test+unix:///default', 'qemu+unix:///session'));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).caps, '<domainCapabilities>');
  });
});
