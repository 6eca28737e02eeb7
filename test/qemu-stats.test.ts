/**
 * The QEMU driver's statistics, tuning, jobs and migration speed on qemu:///session with a real
 * TCG guest that has a raw virtio disk, a user-mode NIC and a shell on ttyS0: block statistics
 * that move when the guest reads its disk, block sizes, CPU time from /proc, domstats groups,
 * tuning refused live and kept with CONFIG, libvirt's errors for bad input, and a managed save
 * aborted with domjobabort (the guest runs on, no image).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, ftruncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { DomainJobType, DomainModificationImpact, DomainState, DomainStatsTypes, ErrorDomain, ErrorNumber, connect, type Connection, type Domain } from '../src/index.js';
import type { HypervisorDriver } from '../src/core/driver.js';
import { qemuLocations } from '../src/drivers/qemu/session.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, waitForText, type TestGuest } from './qemu-harness.js';
import { rejectsVir } from './support/fixtures.js';

const skip = qemuSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const { CONFIG, LIVE } = DomainModificationImpact;
const MAC = '52:54:00:12:34:56';

/** The guest's shell on its serial console. */
class Shell {
  text = '';
  constructor(readonly io: Duplex) {
    io.on('data', (d: Buffer) => (this.text += d.toString('latin1')));
  }
  /** Runs a command and waits for a marker the typed line does not contain. */
  async run(cmd: string, timeoutMs = 120_000): Promise<void> {
    const n = Math.floor(Math.random() * 100000);
    this.io.write(`${cmd}; echo done-$((${n}+1))\n`);
    const marker = `done-${n + 1}`;
    const deadline = Date.now() + timeoutMs;
    while (!this.text.includes(marker)) {
      if (Date.now() > deadline) throw new Error(`'${cmd}' did not finish; console:\n${this.text.slice(-1500)}`);
      await sleep(20);
    }
  }
}

describe('QEMU statistics, tuning and jobs with a real guest', { skip, timeout: 600_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let state: string;
  let previous: string | undefined;
  let conn: Connection;
  let drv: HypervisorDriver;
  let dom: Domain;
  let disk: string;
  let shell: Shell;

  before(async () => {
    state = reaper.tempDir('tsvqs-');
    guest = await buildTestGuest(join(state, 'guest'));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = state;
    // A 16 MiB raw disk with data in its first MiBs (sparse after).
    disk = join(state, 'disk.raw');
    const fd = openSync(disk, 'w');
    writeSync(fd, Buffer.alloc(4 << 20, 0x5a));
    ftruncateSync(fd, 16 << 20);
    closeSync(fd);
    conn = await connect('qemu:///session');
    drv = conn.driverFor('test');
    const uuid = randomUUID();
    const xml = guestXML({
      name: 'qs-a',
      uuid,
      guest,
      mode: 'B',
      shell: true,
      memMiB: 256,
      serial: '',
      pty: { log: false },
      extraDevices: `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>
    <interface type='user'><mac address='${MAC}'/><model type='virtio'/></interface>`,
    }).replace('guest.mode=B', 'guest.mode=B guest.virtio=1');
    dom = await conn.defineXML(xml);
    await dom.create();
    const log = join(qemuLocations('/session').root, 'log', `${uuid}.serial0.log`);
    await waitForText(log, 'GUEST-SHELL', 180_000);
    const io = await drv.domainOpenConsole!(await drv.lookupByName('qs-a'), null, 0);
    shell = new Shell(io);
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

  test('block statistics move when the guest reads its disk; by target or source path; flags version; sum over disks; unknown disk', async () => {
    const before = await dom.blockStats('vda');
    assert.ok(before.rdReq > 0 && before.rdBytes > 0, `boot I/O (partition scan) reads the disk: ${JSON.stringify(before)}`);
    assert.equal(before.errs, -1, 'QEMU keeps no error count');
    // 2 MiB the guest has not read yet (past the partition scan's blocks), bypassing its cache.
    await shell.run('dd if=/dev/vda of=/dev/null bs=65536 skip=16 count=32 2>/dev/null');
    const after = await dom.blockStats('/'.concat(disk.slice(1)));
    assert.ok(after.rdBytes - before.rdBytes >= 2 << 20, `rd_bytes grew by ${after.rdBytes - before.rdBytes}`);
    assert.ok(after.rdReq > before.rdReq);
    await shell.run('dd if=/dev/zero of=/dev/vda bs=4096 seek=1024 count=16 conv=fsync 2>/dev/null');
    const w = await dom.blockStatsFlags('vda');
    const get = (f: string) => Number(w.find((p) => p.field === f)?.value);
    assert.ok(get('wr_bytes') >= 65536, JSON.stringify(w));
    assert.ok(get('rd_bytes') >= after.rdBytes);
    assert.ok(get('rd_total_times') > 0);
    assert.deepEqual(
      w.map((p) => p.field).sort(),
      ['flush_operations', 'flush_total_times', 'rd_bytes', 'rd_operations', 'rd_total_times', 'wr_bytes', 'wr_operations', 'wr_total_times'],
    );
    const sum = await dom.blockStats('');
    assert.ok(sum.rdBytes >= after.rdBytes, 'with one disk the sum is that disk');
    await rejectsVir(dom.blockStats('vdz'), { code: ErrorNumber.INVALID_ARG, domain: ErrorDomain.QEMU, message: 'invalid argument: invalid path: vdz' });
  });

  test('block info: capacity, allocation and physical of the raw image; unknown disk; flags', async () => {
    const info = await dom.blockInfo('vda');
    assert.equal(info.capacity, 16 << 20);
    assert.equal(info.physical, 16 << 20);
    assert.ok(info.allocation >= 4 << 20 && info.allocation < 16 << 20, `sparse file: ${info.allocation}`);
    await rejectsVir(dom.blockInfo('vdz'), { code: ErrorNumber.INVALID_ARG, message: 'invalid argument: invalid path vdz not assigned to domain' });
    await rejectsVir(dom.blockInfo('vda', 1), { code: ErrorNumber.INVALID_ARG, message: /unsupported flags \(0x1\) in function qemuDomainGetBlockInfo/ });
    await rejectsVir(dom.blockInfo(''), { code: ErrorNumber.INVALID_ARG });
  });

  test('CPU statistics from /proc: totals grow, per host CPU, vCPU time', async () => {
    const [t1] = await dom.getCPUStats(true);
    assert.ok(t1!.cpu_time! > 0 && t1!.user_time! >= 0 && t1!.system_time! >= 0, JSON.stringify(t1));
    await shell.run('i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done');
    const [t2] = await dom.getCPUStats(true);
    assert.ok(t2!.cpu_time! > t1!.cpu_time!, 'the guest worked');
    const per = await dom.getCPUStats(false);
    assert.equal(per.length, (await import('node:os')).cpus().length);
    assert.ok(per.reduce((s, c) => s + (c.vcpu_time ?? 0), 0) > 0);
    const some = await dom.cpuStats(1, 1);
    assert.equal(some.stats.length, Math.min(1, some.cpus - 1));
    await rejectsVir(dom.cpuStats(-1, 2), { code: ErrorNumber.INVALID_ARG, message: /ncpus must be 1 when start_cpu is -1/ });
  });

  test('domstats: state, cpu-total, balloon, vcpu, interface and block groups; list filters; explicit domains', async () => {
    const all = await conn.getAllDomainStats(0, 0);
    const mine = all.find((r) => r.domain.name() === 'qs-a');
    assert.ok(mine !== undefined);
    const v = (f: string) => mine.params.find((p) => p.field === f)?.value;
    assert.equal(v('state.state'), DomainState.RUNNING);
    assert.ok(Number(v('cpu.time')) > 0);
    assert.equal(v('balloon.maximum'), 256 * 1024);
    assert.equal(v('vcpu.current'), 1);
    assert.ok(Number(v('vcpu.0.time')) > 0);
    assert.equal(v('net.count'), 1);
    assert.equal(v('block.count'), 1);
    assert.equal(v('block.0.name'), 'vda');
    assert.equal(v('block.0.path'), disk);
    assert.ok(Number(v('block.0.rd.bytes')) > 0);
    assert.equal(v('block.0.capacity'), 16 << 20);
    const onlyState = await conn.domainListGetStats([dom], DomainStatsTypes.STATE, 0);
    assert.deepEqual(
      onlyState.map((r) => r.params.map((p) => p.field)),
      [['state.state', 'state.reason']],
    );
    assert.deepEqual(await conn.domainListGetStats([dom], 0, 2 /* INACTIVE */), []);
    await rejectsVir(conn.getAllDomainStats(1 << 9, 0x80000000), {
      code: ErrorNumber.ARGUMENT_UNSUPPORTED,
      message: 'argument unsupported: Stats types bits 0x200 are not supported by this daemon',
    });
  });

  test('interface statistics: no host device behind a user-mode NIC; unknown interface', async () => {
    await rejectsVir(dom.interfaceStats(MAC), { code: ErrorNumber.OPERATION_UNSUPPORTED, message: /has no host device/ });
    await rejectsVir(dom.interfaceStats('vnet9'), { code: ErrorNumber.INVALID_ARG, message: "invalid argument: 'vnet9' is not a known interface" });
  });

  test('tuning: refused live without cgroups (libvirt words), kept in the persistent XML with CONFIG; bad parameters', async () => {
    await rejectsVir(dom.memoryParameters(0), { code: ErrorNumber.OPERATION_INVALID, message: 'Requested operation is not valid: cgroup memory controller is not mounted' });
    await rejectsVir(dom.setMemoryParameters([{ field: 'hard_limit', type: 4, value: 1 << 20 }], LIVE), {
      code: ErrorNumber.OPERATION_UNSUPPORTED,
      message: 'Operation not supported: Memory tuning is not available in session mode',
    });
    await rejectsVir(dom.blkioParameters(0), { code: ErrorNumber.OPERATION_INVALID, message: "Requested operation is not valid: blkio cgroup isn't mounted" });
    await dom.setMemoryParameters([{ field: 'hard_limit', type: 4, value: 1 << 20 }], CONFIG);
    await dom.setBlkioParameters([{ field: 'weight', type: 2, value: 300 }, { field: 'device_weight', type: 7, value: '/dev/sda,200' }], CONFIG);
    await dom.setNumaParameters([{ field: 'numa_nodeset', type: 7, value: '0' }], CONFIG);
    await dom.setInterfaceParameters(MAC, [{ field: 'inbound.average', type: 2, value: 1000 }], CONFIG);
    const hard = (await dom.memoryParameters(CONFIG)).find((p) => p.field === 'hard_limit');
    assert.equal(hard?.value, 1 << 20);
    assert.equal((await dom.blkioParameters(CONFIG)).find((p) => p.field === 'device_weight')?.value, '/dev/sda,200');
    assert.equal((await dom.numaParameters(CONFIG)).find((p) => p.field === 'numa_nodeset')?.value, '0');
    assert.equal((await dom.interfaceParameters(MAC, CONFIG)).find((p) => p.field === 'inbound.average')?.value, 1000);
    assert.equal((await dom.interfaceParameters(MAC, LIVE)).find((p) => p.field === 'inbound.average')?.value, 0, 'live unchanged');
    const inactive = await dom.XMLDesc(2);
    assert.match(inactive, /<memtune>\s*<hard_limit unit='KiB'>1048576<\/hard_limit>\s*<\/memtune>/);
    assert.match(inactive, /<blkiotune>\s*<weight>300<\/weight>/);
    assert.match(inactive, /<numatune>\s*<memory mode='strict' nodeset='0'\/>/);
    assert.match(inactive, /<bandwidth>\s*<inbound average='1000'\/>/);
    assert.doesNotMatch(await dom.XMLDesc(0), /<memtune>/, 'the live definition keeps none');
    // Bad input.
    await rejectsVir(dom.setMemoryParameters([{ field: 'hard_limitx', type: 4, value: 1 }], CONFIG), {
      code: ErrorNumber.ARGUMENT_UNSUPPORTED,
      message: "argument unsupported: parameter 'hard_limitx' not supported",
    });
    await rejectsVir(dom.setMemoryParameters([{ field: 'hard_limit', type: 2, value: 1 }], CONFIG), {
      code: ErrorNumber.INVALID_ARG,
      message: "invalid argument: invalid type 'uint' for parameter 'hard_limit', expected 'ullong'",
    });
    await rejectsVir(dom.setMemoryParameters([{ field: 'swap_hard_limit', type: 4, value: 10 }], CONFIG), {
      code: ErrorNumber.INVALID_ARG,
      message: 'invalid argument: memory hard_limit tunable value must be lower than or equal to swap_hard_limit',
    });
    await rejectsVir(dom.setBlkioParameters([{ field: 'weight', type: 2, value: 5 }], CONFIG), {
      code: ErrorNumber.INVALID_ARG,
      message: 'invalid argument: out of blkio weight range.',
    });
    await rejectsVir(dom.setNumaParameters([{ field: 'numa_mode', type: 1, value: -1 }], CONFIG), {
      code: ErrorNumber.INVALID_ARG,
      message: "invalid argument: unsupported numatune mode: '-1'",
    });
    await rejectsVir(dom.setInterfaceParameters(MAC, [{ field: 'inbound.average', type: 2, value: 5 }], LIVE), {
      code: ErrorNumber.CONFIG_UNSUPPORTED,
      message: 'unsupported configuration: bandwidth settings are not supported for user interface type',
    });
    await rejectsVir(dom.memoryParameters(LIVE | CONFIG), { code: ErrorNumber.INVALID_ARG, message: /mutually exclusive/ });
  });

  test('migration speed: libvirt default, set on the running guest (QEMU max-bandwidth), overflow', async () => {
    assert.equal(await dom.migrateGetMaxSpeed(), 8796093022207);
    await dom.migrateSetMaxSpeed(100);
    assert.equal(await dom.migrateGetMaxSpeed(), 100);
    const { qmp } = await (drv as unknown as { guests: { monitor: (r: unknown) => Promise<{ qmp: { execute: (c: string) => Promise<Record<string, number>> } }> } }).guests.monitor(
      (drv as unknown as { records: { resolve: (d: unknown) => unknown } }).records.resolve(dom.ref),
    );
    assert.equal((await qmp.execute('query-migrate-parameters'))['max-bandwidth'], 100 * 1024 * 1024);
    await rejectsVir(dom.migrateSetMaxSpeed(8796093022208), { code: ErrorNumber.OVERFLOW, message: 'numerical overflow: bandwidth must be less than 8796093022208' });
    await rejectsVir(dom.migrateGetMaxSpeed(2), { code: ErrorNumber.INVALID_ARG, message: /unsupported flags \(0x2\)/ });
  });

  test('jobs: none while idle; domjobabort of a managed save leaves the guest running with no image; a completed save is reported', async () => {
    assert.equal((await dom.jobInfo()).type, DomainJobType.NONE);
    await rejectsVir(dom.abortJob(), { code: ErrorNumber.OPERATION_INVALID, message: 'Requested operation is not valid: no job is active on the domain' });
    // Memory the save has to carry (random data is not skipped as zero pages).
    await shell.run('dd if=/dev/urandom of=/tmp/fill bs=1048576 count=48 2>/dev/null');
    const saving = dom.managedSave(0);
    saving.catch(() => undefined);
    const info = await dom.jobInfo();
    assert.equal(info.type, DomainJobType.UNBOUNDED);
    await dom.abortJob();
    await rejectsVir(saving, { code: ErrorNumber.OPERATION_ABORTED, domain: ErrorDomain.QEMU, message: 'operation aborted: domain save job: canceled by client' });
    assert.equal((await dom.state())[0], DomainState.RUNNING);
    assert.equal(await dom.hasManagedSaveImage(), false);
    await shell.run('true'); // the guest runs on
    const cancelled = await dom.jobStats(1);
    assert.equal(cancelled.type, DomainJobType.CANCELLED);
    assert.equal((await dom.jobStats(1)).type, DomainJobType.NONE, 'forgotten without KEEP_COMPLETED');
    assert.equal((await dom.jobInfo()).type, DomainJobType.NONE);
    // A save that runs to its end: COMPLETED, with the memory it carried; kept with KEEP_COMPLETED.
    await dom.managedSave(0);
    const done = await dom.jobStats(1 | 2);
    assert.equal(done.type, DomainJobType.COMPLETED);
    assert.ok(Number(done.params.find((p) => p.field === 'memory_processed')?.value) > 48 << 20, JSON.stringify(done.params));
    assert.equal((await dom.jobStats(1)).type, DomainJobType.COMPLETED);
    assert.equal((await dom.jobStats(1)).type, DomainJobType.NONE);
    await rejectsVir(dom.abortJob(), { code: ErrorNumber.OPERATION_INVALID, message: 'Requested operation is not valid: domain is not running' });
  });
});
