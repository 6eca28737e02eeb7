/**
 * virDomainBlockResize, virDomainBlockPeek and virDomainMemoryPeek: on the test driver as
 * libvirt 9.0's (memory peek invents bytes from the address; block resize and peek are not
 * supported), through tsvirtd beside libvirtd (python-libvirt sees the same bytes and errors),
 * and on a real QEMU guest (the image grows and the guest sees it, raw bytes read back, qcow2
 * refused, guest memory read through QEMU).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { DomainBlockResizeFlags, DomainMemoryFlags, ErrorDomain, ErrorNumber, connect, openReadOnly, type Connection, type Domain } from '../src/index.js';
import { qemuLocations } from '../src/drivers/qemu/session.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, waitForText, type TestGuest } from './qemu-harness.js';
import { rejectsVir } from './support/fixtures.js';
import { python, pythonLibvirtSkip, type RunningDaemon } from './support/daemon-harness.js';
import { type RunningLibvirtd } from './support/libvirtd-harness.js';
import { startSideBySide, type SideBySide } from './support/side-by-side.js';
import { tsvirt } from './cli-harness.js';

const { VIRTUAL, PHYSICAL } = DomainMemoryFlags;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('test driver: memory peek as libvirt 9.0; block resize and peek unsupported', () => {
  let conn: Connection;
  let dom: Domain;
  before(async () => {
    conn = await connect('test:///default');
    dom = await conn.lookupByName('test');
  });
  after(async () => {
    await conn.close();
  });

  test("memoryPeek: byte i is (start + i) mod 256; size 0; either flag", async () => {
    assert.deepEqual([...(await dom.memoryPeek(0, 16, VIRTUAL))], [...Array(16).keys()]);
    assert.equal((await dom.memoryPeek(100, 4, PHYSICAL)).toString('latin1'), 'defg');
    assert.equal((await dom.memoryPeek(250, 10, VIRTUAL))[6], 0);
    assert.equal((await dom.memoryPeek(0, 0, VIRTUAL)).length, 0);
  });

  test('memoryPeek: flag errors in libvirt words, an inactive domain, a read-only connection', async () => {
    await rejectsVir(dom.memoryPeek(0, 4, VIRTUAL | PHYSICAL), {
      code: ErrorNumber.INVALID_ARG,
      domain: ErrorDomain.DOMAIN,
      message: "Flags 'VIR_MEMORY_VIRTUAL' and 'VIR_MEMORY_PHYSICAL' are mutually exclusive",
    });
    await rejectsVir(dom.memoryPeek(0, 4, 0), {
      code: ErrorNumber.INVALID_ARG,
      domain: ErrorDomain.TEST,
      message: 'invalid argument: flags parameter must be VIR_MEMORY_VIRTUAL or VIR_MEMORY_PHYSICAL',
    });
    await rejectsVir(dom.memoryPeek(0, 4, 4), { code: ErrorNumber.INVALID_ARG, message: 'unsupported flags (0x4) in function testDomainMemoryPeek' });
    await dom.destroy();
    try {
      await rejectsVir(dom.memoryPeek(0, 4, VIRTUAL), { code: ErrorNumber.OPERATION_INVALID, message: 'Requested operation is not valid: domain is not running' });
    } finally {
      await dom.create();
    }
    const ro = await openReadOnly('test:///default');
    try {
      const d = await ro.lookupByName('test');
      await rejectsVir(d.memoryPeek(0, 4, VIRTUAL), { code: ErrorNumber.OPERATION_DENIED });
      await rejectsVir(d.blockPeek('vda', 0, 4), { code: ErrorNumber.OPERATION_DENIED });
      await rejectsVir(d.blockResize('vda', 1024), { code: ErrorNumber.OPERATION_DENIED });
    } finally {
      await ro.close();
    }
  });

  test('blockResize and blockPeek: not supported by the test driver (libvirt 9.0 has neither); argument checks first', async () => {
    await rejectsVir(dom.blockResize('vda', 1024), { code: ErrorNumber.NO_SUPPORT, message: /virDomainBlockResize/ });
    await rejectsVir(dom.blockPeek('vda', 0, 4), { code: ErrorNumber.NO_SUPPORT, message: /virDomainBlockPeek/ });
    await rejectsVir(dom.blockPeek('', 0, 4), { code: ErrorNumber.INVALID_ARG, message: 'disk in virDomainBlockPeek must not be empty string' });
  });
});

/** python-libvirt's peek and resize calls on test:///default. */
const PY = `
import sys, libvirt
c = libvirt.open(sys.argv[1])
d = c.lookupByName('test')
def t(label, f):
    try:
        print(label, repr(f()))
    except libvirt.libvirtError as e:
        print(label, 'ERR', e.get_error_code(), e.get_error_domain(), e.get_error_message())
t('mem virt', lambda: d.memoryPeek(0, 16, libvirt.VIR_MEMORY_VIRTUAL))
t('mem phys', lambda: d.memoryPeek(1000, 8, libvirt.VIR_MEMORY_PHYSICAL))
t('mem big', lambda: len(d.memoryPeek(0, 70000, libvirt.VIR_MEMORY_VIRTUAL)))
t('mem none', lambda: d.memoryPeek(0, 4, 0))
t('mem both', lambda: d.memoryPeek(0, 4, 3))
t('mem flag', lambda: d.memoryPeek(0, 4, 4))
t('block peek', lambda: d.blockPeek('vda', 0, 4, 0))
t('block resize', lambda: d.blockResize('vda', 1024, 0))
`;

describe('peek and resize through tsvirtd, beside libvirtd', { skip: pythonLibvirtSkip() }, () => {
  let d: RunningDaemon | undefined;
  let lv: RunningLibvirtd | undefined;
  let lvSkip: string | null = null;
  let both: SideBySide | undefined;

  before(async () => {
    both = await startSideBySide();
    ({ d, lv, lvSkip } = both);
  });
  after(async () => {
    await both?.dispose();
  });

  test('python-libvirt: the same bytes and errors', (t) => {
    if (lv === undefined) {
      t.skip(`no libvirtd to compare with: ${lvSkip}`);
      return;
    }
    const l = python(PY, lv.uri('/default'));
    const ts = python(PY, d!.uri('/default'));
    assert.equal(l.code, 0, l.stderr);
    assert.equal(ts.code, 0, ts.stderr);
    assert.deepEqual(ts.stdout.split('\n'), l.stdout.split('\n'));
    assert.match(ts.stdout, /^mem phys b'\\xe8\\xe9\\xea\\xeb\\xec\\xed\\xee\\xef'$/m);
    assert.match(ts.stdout, /^mem big 70000$/m);
  });

  test('tsvirt through tsvirtd: the remote driver refuses a peek larger than the protocol carries', async () => {
    const conn = await connect(d!.uri('/default'));
    try {
      const dom = await conn.lookupByName('test');
      assert.equal((await dom.memoryPeek(3, 2, VIRTUAL)).toString('hex'), '0304');
      await rejectsVir(dom.memoryPeek(0, 4194305, VIRTUAL), {
        code: ErrorNumber.RPC,
        message: 'memory peek request too large for remote protocol, 4194305 > 4194304',
      });
      await rejectsVir(dom.blockResize('vda', 1), { code: ErrorNumber.NO_SUPPORT });
    } finally {
      await conn.close();
    }
  });
});

/** The guest's shell on its serial console. */
class Shell {
  text = '';
  constructor(readonly io: Duplex) {
    io.on('data', (d: Buffer) => (this.text += d.toString('latin1')));
  }
  /** Runs a command and returns what it printed between two markers. */
  async run(cmd: string, timeoutMs = 120_000): Promise<string> {
    const n = Math.floor(Math.random() * 100000);
    const from = this.text.length;
    this.io.write(`echo beg-$((${n}+1)); ${cmd}; echo end-$((${n}+1))\n`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = this.text.slice(from);
      const m = new RegExp(`beg-${n + 1}\\r?\\n([\\s\\S]*?)end-${n + 1}`).exec(seen);
      if (m !== null) return m[1]!;
      if (Date.now() > deadline) throw new Error(`'${cmd}' did not finish; console:\n${this.text.slice(-1500)}`);
      await sleep(20);
    }
  }
}

describe('QEMU: block resize, block peek and memory peek on a real guest', { skip: qemuSkipReason(), timeout: 600_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let state: string;
  let previous: string | undefined;
  let conn: Connection;
  let dom: Domain;
  let disk: string;
  let shell: Shell;

  before(async () => {
    state = reaper.tempDir('tsvpk-');
    guest = await buildTestGuest(join(state, 'guest'));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = state;
    disk = join(state, 'disk.raw');
    const fd = openSync(disk, 'w');
    writeSync(fd, Buffer.from('tsvirt-peek'), 0, 11, 4096);
    ftruncateSync(fd, 16 << 20);
    closeSync(fd);
    conn = await connect('qemu:///session');
    const uuid = randomUUID();
    const xml = guestXML({
      name: 'pk-a',
      uuid,
      guest,
      mode: 'B',
      shell: true,
      virtio: true,
      memMiB: 128,
      serial: '',
      pty: { log: false },
      extraDevices: `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>`,
    });
    dom = await conn.defineXML(xml);
    await dom.create();
    const log = join(qemuLocations('/session').root, 'log', `${uuid}.serial0.log`);
    await waitForText(log, 'GUEST-SHELL', 180_000);
    shell = new Shell(await conn.driverFor('test').domainOpenConsole!(await conn.driverFor('test').lookupByName('pk-a'), null, 0));
    await shell.run('true');
  });

  after(async () => {
    shell?.io.destroy();
    if (conn !== undefined) {
      for (const d of await conn.listAllDomains(0).catch(() => [])) {
        await d.destroy().catch(() => undefined);
        await d.undefineFlags(1).catch(() => undefined);
      }
      await conn.close();
    }
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    await reaper.cleanup();
  });

  test('blockResize: KiB by default, bytes with BYTES; the file and the guest see the new size', async () => {
    await dom.blockResize('vda', 32 * 1024);
    assert.equal(statSync(disk).size, 32 << 20);
    assert.equal((await dom.blockInfo('vda')).capacity, 32 << 20);
    assert.equal((await shell.run('cat /sys/block/vda/size')).trim(), String((32 << 20) / 512));
    await dom.blockResize(disk, 24 << 20, DomainBlockResizeFlags.BYTES);
    assert.equal(statSync(disk).size, 24 << 20);
    assert.equal((await shell.run('cat /sys/block/vda/size')).trim(), String((24 << 20) / 512));
  });

  test('blockResize: libvirt errors for an unknown disk, flags, an inactive domain', async () => {
    await rejectsVir(dom.blockResize('vdz', 1024), { code: ErrorNumber.INVALID_ARG, message: "invalid argument: disk 'vdz' was not found in the domain config" });
    await rejectsVir(dom.blockResize('vda', 1024, 2), { code: ErrorNumber.INVALID_ARG, message: /unsupported flags \(0x2\) in function qemuDomainBlockResize/ });
    const other = await conn.defineXML(
      `<domain type='qemu'><name>pk-b</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os>
       <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${join(state, 'b.qcow2')}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
    );
    await rejectsVir(other.blockResize('vda', 1024), { code: ErrorNumber.OPERATION_INVALID, message: 'Requested operation is not valid: domain is not running' });
    // Block peek needs no running guest, but only a raw disk.
    await rejectsVir(other.blockPeek('vda', 0, 4), {
      code: ErrorNumber.OPERATION_UNSUPPORTED,
      message: "Operation not supported: peeking is only supported for disk with 'raw' format not 'qcow2'",
    });
    await other.undefine();
  });

  test("blockPeek: the image's bytes by target or path; a range past the end; unknown disk; flags", async () => {
    assert.equal((await dom.blockPeek('vda', 4096, 11)).toString(), 'tsvirt-peek');
    assert.equal((await dom.blockPeek(disk, 4100, 4)).toString(), 'rt-p');
    assert.equal((await dom.blockPeek('vda', 0, 0)).length, 0);
    const size = statSync(disk).size;
    await rejectsVir(dom.blockPeek('vda', size - 2, 4), { code: ErrorNumber.INVALID_ARG, message: `invalid argument: 'vda' starting from ${size - 2} has only 2 bytes available` });
    await rejectsVir(dom.blockPeek('vdz', 0, 4), { code: ErrorNumber.INVALID_ARG, message: "invalid argument: disk 'vdz' not found in domain" });
    await rejectsVir(dom.blockPeek('vda', 0, 4, 1), { code: ErrorNumber.INVALID_ARG, message: /unsupported flags \(0x1\) in function qemuDomainBlockPeek/ });
  });

  test("memoryPeek: guest physical memory through QEMU (the BIOS's reset vector, a far jump); virtual via vCPU 0", async () => {
    const reset = await dom.memoryPeek(0xffff0, 16, PHYSICAL);
    assert.equal(reset.length, 16);
    assert.equal(reset[0], 0xea, `reset vector: ${reset.toString('hex')}`);
    // Virtual address 0 is not mapped in the guest: QEMU's own error comes back, as through libvirt.
    await rejectsVir(dom.memoryPeek(0, 4096, VIRTUAL), { code: ErrorNumber.INTERNAL_ERROR, message: /unable to execute QEMU command 'memsave': Invalid addr/ });
    await rejectsVir(dom.memoryPeek(0, 4, 0), { code: ErrorNumber.INVALID_ARG, domain: ErrorDomain.QEMU, message: /flags parameter must be VIR_MEMORY_VIRTUAL or VIR_MEMORY_PHYSICAL/ });
  });

  test('tsvirt blockresize: virsh words, KiB or bytes', async () => {
    // The CLI is another process: this one lets the guest's monitor go while it runs.
    shell.io.destroy();
    await conn.close();
    const env = { ...process.env, TSVIRT_STATE_DIR: state };
    try {
      await cliResize(env);
    } finally {
      conn = await connect('qemu:///session');
    }
  });
  async function cliResize(env: NodeJS.ProcessEnv): Promise<void> {
    const ok = await tsvirt(['-c', 'qemu:///session', 'blockresize', 'pk-a', 'vda', '20M'], { cwd: state, env });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, "Block device 'vda' is resized\n");
    assert.equal(statSync(disk).size, 20 << 20);
    const odd = await tsvirt(['-c', 'qemu:///session', 'blockresize', 'pk-a', 'vda', '20971777b'], { cwd: state, env });
    assert.equal(odd.status, 0, odd.stderr);
    assert.equal(statSync(disk).size, 20971777);
    const bad = await tsvirt(['-c', 'qemu:///session', 'blockresize', 'pk-a', 'vdz', '20M'], { cwd: state, env });
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr, "error: Failed to resize block device 'vdz'\nerror: invalid argument: disk 'vdz' was not found in the domain config\n");
  }
});
