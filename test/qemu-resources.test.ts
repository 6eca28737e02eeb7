/**
 * The QEMU driver's resource calls on qemu:///session (src/drivers/qemu/guest-resources.ts,
 * host-stats.ts) with real TCG guests: the host's own figures, vCPU hot-add seen by the guest
 * (its /sys/devices/system/cpu/online, read in its shell over the serial console), vCPU threads'
 * CPU time, the virtio balloon (setmem moves it and the guest's MemTotal; memory stats from the
 * guest driver), reset (the guest boots again), libvirt's errors for bad input, and the same
 * calls through tsvirtd from real virsh, side by side with a session libvirtd where it answers
 * without a running guest.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DomainMemoryModFlags,
  DomainVcpuFlags,
  DomainXMLFlags,
  ErrorDomain,
  ErrorNumber,
  connect,
  type Connection,
  type Domain,
  type Stream,
} from '../src/index.js';
import { qemuLocations } from '../src/drivers/qemu/session.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, readText, waitForText, type TestGuest } from './qemu-harness.js';
import { rejectsVir } from './support/fixtures.js';
import { guestPids, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';
import { startLibvirtdSession, type LibvirtdSession } from '../bench/libvirtd-session.js';

const skip = qemuSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const { LIVE, CONFIG, MAXIMUM, GUEST } = DomainVcpuFlags;
const MiB = 1024;

/** A test guest with `<vcpu current='1'>3</vcpu>`, a polled balloon, a shell on a pty, and restart on reboot. */
function resourceXML(name: string, uuid: string, guest: TestGuest, serial = ''): string {
  return guestXML({
    name,
    uuid,
    guest,
    mode: 'B',
    shell: true,
    serial,
    pty: serial === '' ? { log: false } : undefined,
    memMiB: 256,
    extraDevices: "<memballoon model='virtio'><stats period='1'/></memballoon>",
  })
    .replace('<vcpu>1</vcpu>', "<vcpu current='1'>3</vcpu>")
    .replace('guest.mode=B', 'guest.mode=B guest.virtio=1 guest.cpuhp=1')
    .replace('<on_reboot>destroy</on_reboot>', '<on_reboot>restart</on_reboot>');
}

/** Host figures straight from /proc/stat: kernel (system+irq+softirq) and user (user+nice), in ns. */
function procStat(): { kernel: number; user: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { kernel: (f[2]! + f[5]! + f[6]!) * 1e7, user: (f[0]! + f[1]!) * 1e7 };
}

describe('QEMU host figures (qemu:///session)', { skip }, () => {
  const reaper = new Reaper();
  let conn: Connection;
  let previous: string | undefined;

  before(async () => {
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = reaper.tempDir('tsvqh-');
    conn = await connect('qemu:///session');
  });
  after(async () => {
    await conn?.close();
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    await reaper.cleanup();
  });

  test('CPU times are /proc/stat summed as libvirt does, in ns; memory from /proc/meminfo; the CPU map from /sys', async () => {
    const before = procStat();
    const s = await conn.getCPUStats(-1, 0);
    const after = procStat();
    assert.deepEqual(Object.keys(s), ['kernel', 'user', 'idle', 'iowait']);
    assert.ok(s.kernel! >= before.kernel && s.kernel! <= after.kernel, `kernel ${s.kernel} within [${before.kernel}, ${after.kernel}]`);
    assert.ok(s.user! >= before.user && s.user! <= after.user);
    assert.ok((await conn.getCPUStats(0, 0)).idle! > 0);
    const m = await conn.getMemoryStats(-1, 0);
    const total = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
    assert.equal(m.total, total);
    assert.deepEqual(Object.keys(m), ['total', 'free', 'buffers', 'cached']);
    const [n, online, count] = await conn.getCPUMap(0);
    const present = readFileSync('/sys/devices/system/cpu/present', 'utf8').trim();
    assert.equal(n, Number(present.split(/[-,]/).pop()) + 1);
    assert.equal(count, online.filter(Boolean).length);
    const free = await conn.getFreeMemory();
    assert.ok(free > 0);
    const cells = await conn.getCellsFreeMemory(0, 8);
    assert.ok(cells.length >= 1 && cells.every((c) => c > 0));
    assert.equal(await conn.getMaxVcpus(null), 16);
    assert.equal(await conn.getMaxVcpus('QEMU'), 16);
  });

  test('bad input: a CPU or cell that does not exist, an unknown type, flags', async () => {
    await rejectsVir(conn.getCPUStats(4096, 0), { code: ErrorNumber.INVALID_ARG, domain: ErrorDomain.NONE, message: 'Invalid cpuNum in virHostCPUGetStatsLinux' });
    await rejectsVir(conn.getCPUStats(-1, 1), { code: ErrorNumber.INVALID_ARG, message: 'unsupported flags (0x1) in function virHostCPUGetStats' });
    await rejectsVir(conn.getMemoryStats(4096, 0), { code: ErrorNumber.INVALID_ARG, message: /^cellNum in virHostMemGetStats must be less than or equal to \d+$/ });
    await rejectsVir(conn.getCellsFreeMemory(4096, 1), { code: ErrorNumber.INTERNAL_ERROR, message: /^internal error: start cell 4096 out of range \(0-\d+\)$/ });
    await rejectsVir(conn.getMaxVcpus('foo'), { code: ErrorNumber.INVALID_ARG, domain: ErrorDomain.QEMU, message: "invalid argument: unknown type 'foo'" });
    await rejectsVir(conn.getCPUMap(1), { code: ErrorNumber.INVALID_ARG, message: 'unsupported flags (0x1) in function virHostCPUGetMap' });
  });
});

describe('QEMU vCPUs, balloon and guest facts on a real TCG guest (qemu:///session)', { skip, timeout: 600_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let conn: Connection;
  let previous: string | undefined;

  before(async () => {
    const state = reaper.tempDir('tsvqr-');
    guest = await buildTestGuest(join(state, 'guest'));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = state;
    conn = await connect('qemu:///session');
  });
  after(async () => {
    if (conn !== undefined) {
      for (const dom of await conn.listAllDomains(0).catch(() => [])) {
        await dom.destroy().catch(() => undefined);
        await dom.undefine().catch(() => undefined);
      }
      await conn.close();
    }
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    await reaper.cleanup();
  });

  /** Runs a command in the guest's shell and returns what it printed after `TAG=`. */
  async function inGuest(st: Stream, cmd: string, tag: string): Promise<string> {
    await st.send(Buffer.from(`echo ${tag}=$(${cmd})\n`));
    let text = '';
    const re = new RegExp(`${tag}=([^\\s$][^\\r\\n]*)\\r?\\n`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const m = re.exec(text);
      if (m !== null) return m[1]!.trim();
      if (Date.now() > deadline) throw new Error(`no ${tag}= from the guest; got:\n${text.slice(-1000)}`);
      const chunk = await st.recv(65536);
      if (chunk.length === 0) throw new Error(`console ended; got:\n${text}`);
      text += chunk.toString('latin1');
    }
  }
  async function until<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await f();
      if (ok(v)) return v;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)}`);
      await sleep(500);
    }
  }

  test('setvcpus hot-adds a vCPU the guest brings online; getVcpus has one entry per vCPU with growing CPU time; over the maximum and unplug refused', async () => {
    const uuid = randomUUID();
    const dom = await conn.createXML(resourceXML('qr-cpu', uuid, guest));
    const log = join(qemuLocations('/session').root, 'log', `${uuid}.serial0.log`);
    await waitForText(log, 'GUEST-SHELL', 120_000);
    const st = conn.newStream();
    await dom.openConsole(null, st);
    assert.equal(await inGuest(st, 'cat /sys/devices/system/cpu/online', 'ONLINE'), '0');
    assert.equal((await dom.vcpus()).length, 1);
    assert.equal(await dom.vcpusFlags(0), 1);
    assert.equal(await dom.maxVcpus(), 3);

    await dom.setVcpusFlags(2, LIVE);
    assert.equal(await dom.vcpusFlags(LIVE), 2);
    assert.equal((await dom.info())[3], 2);
    assert.match(await dom.XMLDesc(0), /<vcpu placement='static' current='2'>3<\/vcpu>|<vcpu current='2'>3<\/vcpu>/);
    await until('guest online CPUs', () => inGuest(st, 'cat /sys/devices/system/cpu/online', `ON${Date.now() % 1000}`), (v) => v === '0-1');

    // Busy work in the guest, so that vCPU time grows.
    await st.send(Buffer.from('(i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done) &\n'));
    const first = await dom.vcpus();
    assert.deepEqual(
      first.map((v) => v.number),
      [0, 1],
    );
    for (const v of first) {
      assert.equal(v.state, 1, 'running');
      assert.ok(v.cpu >= 0);
      assert.ok(v.affinity.some(Boolean));
    }
    await sleep(3000);
    const later = await dom.vcpus();
    assert.ok(
      later[0]!.cpuTime + later[1]!.cpuTime > first[0]!.cpuTime + first[1]!.cpuTime,
      `vCPU time grows: ${JSON.stringify(first)} then ${JSON.stringify(later)}`,
    );

    // dominfo's CPU time is the QEMU process's (utime + stime), as libvirt's.
    const pid = Number(readFileSync(join(qemuLocations('/session').runRoot, uuid, 'qemu.pid'), 'utf8').trim());
    const procTime = () => {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) * 1e7;
    };
    const t0 = procTime();
    const cpuTime = (await dom.info())[4];
    const t1 = procTime();
    assert.ok(cpuTime >= t0 && cpuTime <= t1, `info cpuTime ${cpuTime} within [${t0}, ${t1}]`);
    assert.ok(cpuTime >= later[0]!.cpuTime + later[1]!.cpuTime, 'the process time includes its vCPU threads');

    await rejectsVir(dom.setVcpusFlags(4, LIVE), {
      code: ErrorNumber.INVALID_ARG,
      domain: ErrorDomain.QEMU,
      message: 'invalid argument: requested vcpus is greater than max allowable vcpus for the live domain: 4 > 3',
    });
    await rejectsVir(dom.setVcpusFlags(0, LIVE), { code: ErrorNumber.INVALID_ARG, message: 'nvcpus in virDomainSetVcpusFlags must not be zero' });
    await rejectsVir(dom.setVcpusFlags(2, LIVE | GUEST), { code: ErrorNumber.ARGUMENT_UNSUPPORTED, message: 'argument unsupported: QEMU guest agent is not configured' });
    await rejectsVir(dom.setVcpusFlags(2, MAXIMUM | LIVE), {
      code: ErrorNumber.INVALID_ARG,
      message: "Flag 'VIR_DOMAIN_AFFECT_CONFIG' is required by flag 'VIR_DOMAIN_VCPU_MAXIMUM'",
    });
    await rejectsVir(dom.vcpusFlags(GUEST), { code: ErrorNumber.ARGUMENT_UNSUPPORTED });
    // Down to 1 would unplug the hot-added vCPU: QEMU 7.2 under TCG crashes doing it, so refused.
    await rejectsVir(dom.setVcpusFlags(1, LIVE), { code: ErrorNumber.OPERATION_UNSUPPORTED, domain: ErrorDomain.QEMU });
    assert.equal(await dom.vcpusFlags(LIVE), 2, 'nothing changed');
    assert.equal((await dom.vcpus()).length, 2);
    await dom.setVcpus(3);
    assert.equal((await dom.vcpus()).length, 3);
    await until('guest online CPUs', () => inGuest(st, 'cat /sys/devices/system/cpu/online', `ON${Date.now() % 1000}`), (v) => v === '0-2');
    const pins = await dom.vcpuPinInfo(0);
    assert.equal(pins.length, 3);
    assert.ok(pins.every((m) => m.some(Boolean)));
    await st.finish().catch(() => undefined);
    await dom.destroy();
  });

  test('setmem moves the balloon: info and the guest MemTotal follow; memory stats come from the guest driver; reset reboots the guest', async () => {
    const uuid = randomUUID();
    const dom = await conn.createXML(resourceXML('qr-mem', uuid, guest));
    const log = join(qemuLocations('/session').root, 'log', `${uuid}.serial0.log`);
    await waitForText(log, 'GUEST-SHELL', 120_000);
    const st = conn.newStream();
    await dom.openConsole(null, st);
    const memTotal = async () => Number(await inGuest(st, "grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2", `MT${Date.now() % 1000}`));
    const before = await memTotal();
    assert.equal((await dom.info())[2], 256 * MiB);

    const stats = await until('balloon stats from the guest', () => dom.memoryStats(0), (s) => (s.unused ?? 0) > 0, 30_000);
    assert.equal(stats.actual, 256 * MiB);
    assert.ok(stats.available! > 0 && stats.available! <= 256 * MiB, JSON.stringify(stats));
    assert.ok(stats.rss! > 0);
    assert.ok(stats.last_update! > 1_000_000_000, 'the guest stamped its figures');

    await dom.setMemoryFlags(160 * MiB, DomainMemoryModFlags.LIVE);
    await until('dominfo memory', () => dom.info().then((i) => i[2]), (m) => m === 160 * MiB, 60_000);
    assert.match(await dom.XMLDesc(0), /<currentMemory unit='KiB'>163840<\/currentMemory>/);
    const afterMT = await until('guest MemTotal', memTotal, (m) => m <= before - 64 * MiB);
    assert.ok(afterMT < before, `MemTotal ${before} -> ${afterMT}`);
    assert.equal((await dom.memoryStats(0)).actual, 160 * MiB);
    await dom.setMemory(200 * MiB);
    await until('dominfo memory', () => dom.info().then((i) => i[2]), (m) => m === 200 * MiB, 60_000);

    await rejectsVir(dom.setMemoryFlags(300 * MiB, DomainMemoryModFlags.LIVE), {
      code: ErrorNumber.INVALID_ARG,
      domain: ErrorDomain.QEMU,
      message: 'invalid argument: cannot set memory higher than max memory',
    });
    await rejectsVir(dom.setMaxMemory(300 * MiB), {
      code: ErrorNumber.OPERATION_INVALID,
      message: 'Requested operation is not valid: cannot resize the maximum memory on an active domain',
    });
    await rejectsVir(dom.setMemoryFlags(100 * MiB, 64), { code: ErrorNumber.INVALID_ARG, message: 'unsupported flags (0x40) in function qemuDomainSetMemoryFlags' });

    // Guest facts: no agent channel.
    await rejectsVir(dom.hostname(0), { code: ErrorNumber.ARGUMENT_UNSUPPORTED, domain: ErrorDomain.QEMU, message: 'argument unsupported: QEMU guest agent is not configured' });
    await rejectsVir(dom.hostname(1), { code: ErrorNumber.NO_HOSTNAME, message: 'no hostname found: no hostname found for domain qr-mem' });
    await rejectsVir(dom.hostname(3), {
      code: ErrorNumber.INVALID_ARG,
      message: "Flags 'VIR_DOMAIN_GET_HOSTNAME_LEASE' and 'VIR_DOMAIN_GET_HOSTNAME_AGENT' are mutually exclusive",
    });
    await rejectsVir(dom.hostname(4), { code: ErrorNumber.INVALID_ARG, message: 'unsupported flags (0x4) in function qemuDomainGetHostname' });
    await rejectsVir(dom.getTime(0), { code: ErrorNumber.ARGUMENT_UNSUPPORTED, message: 'argument unsupported: QEMU guest agent is not configured' });
    assert.deepEqual(await dom.controlInfo(0), { state: 0, details: 0, stateTime: 0 });
    assert.equal(await dom.isUpdated(), false);
    await rejectsVir(dom.schedulerType(), {
      code: ErrorNumber.OPERATION_UNSUPPORTED,
      domain: ErrorDomain.QEMU,
      message: 'Operation not supported: CPU tuning is not available in session mode',
    });

    // Reset: the guest boots again, the domain stays running.
    const readyBefore = readText(log).split('GUEST-READY').length;
    await rejectsVir(dom.reset(1), { code: ErrorNumber.INVALID_ARG, message: 'unsupported flags (0x1) in function qemuDomainReset' });
    await dom.reset(0);
    await until('a fresh boot on the serial port', async () => readText(log).split('GUEST-READY').length, (n) => n > readyBefore, 120_000);
    assert.deepEqual(await dom.state(0), [1, 1]);
    await st.finish().catch(() => undefined);
    await dom.destroy();
  });

  test('an inactive domain: LIVE refused, CONFIG edits the persistent definition, libvirt defaults the balloon; read-only connections may not change', async () => {
    const uuid = randomUUID();
    const xml = resourceXML('qr-off', uuid, guest, join(reaper.tempDir('tsvqo-'), 'serial.log')).replace(/<memballoon[^]*?<\/memballoon>/, '');
    const dom = await conn.defineXML(xml);
    assert.match(await dom.XMLDesc(0), /<memballoon model='virtio'\/>/, 'libvirt adds a virtio balloon');
    await rejectsVir(dom.vcpus(), {
      code: ErrorNumber.OPERATION_INVALID,
      domain: ErrorDomain.QEMU,
      message: 'Requested operation is not valid: cannot retrieve vcpu information for inactive domain',
    });
    await rejectsVir(dom.maxVcpus(), { code: ErrorNumber.OPERATION_INVALID, domain: ErrorDomain.DOMAIN, message: 'Requested operation is not valid: domain is not running' });
    await rejectsVir(dom.setVcpusFlags(2, LIVE), { code: ErrorNumber.OPERATION_INVALID, message: 'Requested operation is not valid: domain is not running' });
    await rejectsVir(dom.setMemoryFlags(100 * MiB, DomainMemoryModFlags.LIVE), { code: ErrorNumber.OPERATION_INVALID });
    await rejectsVir(dom.memoryStats(0), { code: ErrorNumber.OPERATION_INVALID });
    await rejectsVir(dom.reset(0), { code: ErrorNumber.OPERATION_INVALID });
    await rejectsVir(dom.controlInfo(0), { code: ErrorNumber.OPERATION_INVALID });
    await rejectsVir(dom.vcpusFlags(GUEST), {
      code: ErrorNumber.INVALID_ARG,
      message: 'vCPU count provided by the guest agent can only be requested for live domains',
    });
    await rejectsVir(dom.setVcpusFlags(5, CONFIG), {
      code: ErrorNumber.INVALID_ARG,
      message: 'invalid argument: requested vcpus is greater than max allowable vcpus for the persistent domain: 5 > 3',
    });
    await rejectsVir(dom.setVcpusFlags(2, GUEST | CONFIG), {
      code: ErrorNumber.INVALID_ARG,
      domain: ErrorDomain.DOMAIN,
      message: "Flags 'VIR_DOMAIN_VCPU_GUEST' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
    });
    await dom.setVcpusFlags(2, CONFIG);
    assert.equal(await dom.vcpusFlags(CONFIG), 2);
    await dom.setVcpusFlags(4, CONFIG | MAXIMUM);
    assert.equal(await dom.vcpusFlags(CONFIG | MAXIMUM), 4);
    assert.equal((await dom.vcpuPinInfo(CONFIG)).length, 4);
    await dom.setMaxMemory(300 * MiB);
    await dom.setMemoryFlags(200 * MiB, CONFIG);
    const info = await dom.info();
    assert.equal(info[1], 300 * MiB);
    assert.equal(info[2], 200 * MiB);
    await rejectsVir(dom.setMemoryFlags(400 * MiB, CONFIG), { code: ErrorNumber.INVALID_ARG, message: 'invalid argument: cannot set memory higher than max memory' });

    const ro = await connect('qemu:///session', { readonly: true });
    try {
      const rdom: Domain = await ro.lookupByUUIDString(uuid);
      await rejectsVir(rdom.setVcpusFlags(1, CONFIG), { code: ErrorNumber.OPERATION_DENIED });
      await rejectsVir(rdom.setMemoryFlags(100 * MiB, CONFIG), { code: ErrorNumber.OPERATION_DENIED });
      await rejectsVir(rdom.reset(0), { code: ErrorNumber.OPERATION_DENIED });
      assert.equal(await rdom.vcpusFlags(CONFIG), 2, 'reading is allowed');
    } finally {
      await ro.close();
    }
    await dom.undefine();
  });

  test('dumpxml --update-cpu: host-model cannot be expanded without a probed host CPU model, as libvirt refuses; other modes are unchanged', async () => {
    const serial = join(reaper.tempDir('tsvqc-'), 'serial.log');
    const plain = await conn.defineXML(resourceXML('qr-cpu-plain', randomUUID(), guest, serial));
    assert.equal(await plain.XMLDesc(DomainXMLFlags.UPDATE_CPU), await plain.XMLDesc(0));
    const hm = await conn.defineXML(resourceXML('qr-cpu-hm', randomUUID(), guest, serial).replace('<vcpu', '<cpu mode="host-model"/><vcpu'));
    assert.match(await hm.XMLDesc(0), /<cpu mode='host-model'\/>/);
    await rejectsVir(hm.XMLDesc(DomainXMLFlags.UPDATE_CPU), {
      code: ErrorNumber.CONFIG_UNSUPPORTED,
      domain: ErrorDomain.QEMU,
      message: 'unsupported configuration: unknown host CPU model',
    });
    await plain.undefine();
    await hm.undefine();
  });
});

describe('QEMU resource calls from real virsh through tsvirtd, beside a session libvirtd', { skip: skip || virshSkip(), timeout: 600_000 }, () => {
  const reaper = new Reaper();
  let d: RunningDaemon | undefined;
  let lv: LibvirtdSession | undefined;
  let dir: string;
  let guest: TestGuest;
  let uri: string;

  before(async () => {
    dir = reaper.tempDir('tsvqv-');
    guest = await buildTestGuest(join(dir, 'guest'));
    d = await startDaemon({ dir });
    uri = `qemu+unix:///session?socket=${d.rw}`;
    const started = await startLibvirtdSession();
    if (!('skip' in started)) lv = started;
  });
  after(async () => {
    if (d !== undefined) {
      for (const pid of guestPids(d.stateDir)) reaper.track(pid);
      virsh(uri, 'destroy', 'qv-run');
    }
    await d?.stop();
    await lv?.dispose();
    await reaper.cleanup();
  });

  test('a running guest: vcpucount, setvcpus, vcpuinfo, setmem, dommemstat, nodecpustats, reset', async () => {
    const serial = join(dir, 'qv-run.serial');
    const f = join(dir, 'qv-run.xml');
    writeFileSync(f, resourceXML('qv-run', randomUUID(), guest, serial));
    let r = virsh(uri, 'create', f);
    assert.equal(r.code, 0, r.stderr);
    for (const pid of guestPids(d!.stateDir)) reaper.track(pid);
    await waitForText(serial, 'GUEST-SHELL', 120_000);
    r = virsh(uri, 'vcpucount', 'qv-run');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /maximum\s+live\s+3\n\s*current\s+live\s+1/);
    r = virsh(uri, 'setvcpus', 'qv-run', '2', '--live');
    assert.equal(r.code, 0, r.stderr);
    r = virsh(uri, 'vcpuinfo', 'qv-run');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.match(/^VCPU:/gm)?.length, 2, r.stdout);
    assert.match(r.stdout, /State:\s+running/);
    r = virsh(uri, 'setvcpus', 'qv-run', '5', '--live');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /error: invalid argument: requested vcpus is greater than max allowable vcpus for the live domain: 5 > 3/);
    r = virsh(uri, 'setmem', 'qv-run', '180M', '--live');
    assert.equal(r.code, 0, r.stderr);
    const deadline = Date.now() + 60_000;
    while (!/Used memory:\s+184320 KiB/.test(virsh(uri, 'dominfo', 'qv-run').stdout) && Date.now() < deadline) await sleep(500);
    assert.match(virsh(uri, 'dominfo', 'qv-run').stdout, /Used memory:\s+184320 KiB/);
    r = virsh(uri, 'dommemstat', 'qv-run');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^actual 184320$/m);
    assert.match(r.stdout, /^rss [1-9]\d*$/m);
    r = virsh(uri, 'nodecpustats');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /user:\s+\d+\n\s*system:\s+\d+\n\s*idle:\s+\d+\n\s*iowait:\s+\d+/);
    r = virsh(uri, 'domtime', 'qv-run');
    assert.match(r.stderr, /error: argument unsupported: QEMU guest agent is not configured/);
    const boots = readText(serial).split('GUEST-READY').length;
    r = virsh(uri, 'reset', 'qv-run');
    assert.equal(r.code, 0, r.stderr);
    const end = Date.now() + 120_000;
    while (readText(serial).split('GUEST-READY').length <= boots && Date.now() < end) await sleep(500);
    assert.ok(readText(serial).split('GUEST-READY').length > boots, 'the guest booted again');
    assert.equal(virsh(uri, 'domstate', 'qv-run').stdout.trim(), 'running');
    r = virsh(`${uri.replace(d!.rw, d!.ro)}`, 'setmem', 'qv-run', '100M');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /operation forbidden: read only access prevents virDomainSetMemory/);
    virsh(uri, 'destroy', 'qv-run');
  });

  test('an inactive domain answers as a session libvirtd does (vcpucount, setvcpus, schedinfo, domtime, maxvcpus, nodememstats)', async (t) => {
    if (lv === undefined) {
      t.skip('no session libvirtd here');
      return;
    }
    // libvirtd runs as nobody: the guest files and XML must be readable by it.
    const xml = resourceXML('qv-off', randomUUID(), guest, join(lv.dir, 'qv-off.serial'));
    const f = join(lv.dir, 'qv-off.xml');
    writeFileSync(f, xml);
    const both = (...args: string[]): [ReturnType<typeof virsh>, ReturnType<typeof virsh>] => [virsh(uri, ...args), lvVirsh(lv!, ...args)];
    const [da, db] = both('define', f);
    assert.equal(da.code, 0, da.stderr);
    assert.equal(db.code, 0, db.stderr);
    try {
      for (const args of [
        ['vcpucount', 'qv-off'],
        ['setvcpus', 'qv-off', '2', '--live'],
        ['setvcpus', 'qv-off', '7', '--config'],
        ['setvcpus', 'qv-off', '2', '--config'],
        ['vcpucount', 'qv-off'],
        ['schedinfo', 'qv-off'],
        ['domtime', 'qv-off'],
        ['domhostname', 'qv-off'],
        ['dommemstat', 'qv-off'],
        ['vcpuinfo', 'qv-off'],
        ['reset', 'qv-off'],
        ['setmem', 'qv-off', '512M', '--config'],
        ['maxvcpus'],
        ['maxvcpus', '--type', 'foo'],
        ['nodecpustats', '4096'],
        ['nodememstats', '4096'],
        ['freecell', '4096'],
      ]) {
        const [a, b] = both(...args);
        assert.equal(a.code, b.code, `${args.join(' ')}: exit codes\ntsvirt: ${a.stderr}\nlibvirt: ${b.stderr}`);
        assert.equal(a.stderr, b.stderr, `${args.join(' ')}: errors`);
        if (!['vcpuinfo', 'maxvcpus'].includes(args[0]!)) assert.equal(a.stdout, b.stdout, `${args.join(' ')}: output`);
      }
    } finally {
      both('undefine', 'qv-off');
    }
  });
});

/** virsh against the session libvirtd, as its user. */
function lvVirsh(lv: LibvirtdSession, ...args: string[]): ReturnType<typeof virsh> {
  void lv;
  return virsh(lv.uri, ...args);
}
