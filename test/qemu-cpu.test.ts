/**
 * `<cpu>` and `<cputune>` at QEMU start: the `-cpu` and `-smp` arguments libvirt builds for TCG
 * (custom model with features, maximum → max, host-passthrough only with KVM, host-model refused,
 * topology), libvirt's errors; and one real start whose vCPU and emulator threads have the
 * affinity `<vcpupin>`/`<emulatorpin>` give (Cpus_allowed_list in /proc/PID/task/TID/status).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus as hostCpus } from 'node:os';
import { join } from 'node:path';
import { ErrorDomain, ErrorNumber, VirError, connect, type Connection } from '../src/index.js';
import { parseDomainXML, type DomainDef } from '../src/conf/domain.js';
import { buildQemuArgv, type QemuArgvPaths } from '../src/drivers/qemu/argv.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, type TestGuest } from './qemu-harness.js';
import { guestPids } from './support/daemon-harness.js';
import { rejectsVir } from './support/fixtures.js';

const PATHS: QemuArgvPaths = {
  monitorSocket: '/run/x/monitor.sock',
  pidFile: '/run/x/qemu.pid',
  serialLog: (port) => `/log/serial${port}.log`,
  serialSocket: (port) => `/run/x/serial${port}.sock`,
};
const MODELS = ['qemu64', 'Skylake-Client', 'max', 'host'];

function def(top: string, type = 'qemu', vcpu = '<vcpu>4</vcpu>'): DomainDef {
  return parseDomainXML(`<domain type='${type}'>
  <name>g</name><uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid>
  <memory unit='MiB'>128</memory>${vcpu}
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  ${top}
</domain>`);
}
function arg(d: DomainDef, flag: string, models: readonly string[] | null = MODELS): string | undefined {
  const a = buildQemuArgv(d, { paths: PATHS, cpuModels: models ?? undefined }).argv;
  const i = a.indexOf(flag);
  return i < 0 ? undefined : a[i + 1];
}
function throwsVir(fn: () => unknown, code: number, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof VirError, String(err));
    assert.equal(err.code, code);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

describe('QEMU -cpu and -smp from <cpu>', () => {
  test('no <cpu>: no -cpu (QEMU default); -smp with maxcpus only when current differs', () => {
    assert.equal(arg(def(''), '-cpu'), undefined);
    assert.equal(arg(def(''), '-smp'), '4');
    assert.equal(arg(def('', 'qemu', "<vcpu current='2'>4</vcpu>"), '-smp'), '2,maxcpus=4');
  });

  test('custom model with features: require/force on, disable/forbid off, optional left to QEMU', () => {
    const d = def(`<cpu mode='custom' match='exact'><model fallback='forbid'>Skylake-Client</model>
      <feature policy='require' name='sse4.2'/><feature policy='force' name='aes'/><feature policy='disable' name='avx'/>
      <feature policy='forbid' name='hle'/><feature policy='optional' name='rtm'/></cpu>`);
    assert.equal(arg(d, '-cpu'), 'Skylake-Client,sse4.2=on,aes=on,avx=off,hle=off');
    // A <model> without a mode is custom, as in libvirt.
    assert.equal(arg(def('<cpu><model>qemu64</model></cpu>'), '-cpu'), 'qemu64');
  });

  test("maximum is QEMU's max; host-passthrough is 'host' under KVM and refused under TCG; host-model refused (libvirt's words)", () => {
    assert.equal(arg(def("<cpu mode='maximum'><feature policy='disable' name='la57'/></cpu>"), '-cpu'), 'max,la57=off');
    assert.equal(arg(def("<cpu mode='host-passthrough'/>", 'kvm'), '-cpu'), 'host');
    const host = process.arch === 'x64' ? 'x86_64' : process.arch;
    throwsVir(() => arg(def("<cpu mode='host-passthrough'/>"), '-cpu'), ErrorNumber.CONFIG_UNSUPPORTED,
      `unsupported configuration: CPU mode 'host-passthrough' for x86_64 qemu domain on ${host} host is not supported by hypervisor`);
    throwsVir(() => arg(def("<cpu mode='host-model'/>"), '-cpu'), ErrorNumber.CONFIG_UNSUPPORTED,
      `unsupported configuration: CPU mode 'host-model' for x86_64 qemu domain on ${host} host is not supported by hypervisor`);
  });

  test('a model the emulator does not list is refused; without the list it is passed on', () => {
    const d = def('<cpu><model>Nehalem-Fantasy</model></cpu>');
    throwsVir(() => arg(d, '-cpu'), ErrorNumber.CONFIG_UNSUPPORTED, 'unsupported configuration: CPU model Nehalem-Fantasy is not supported by hypervisor');
    assert.equal(arg(d, '-cpu', null), 'Nehalem-Fantasy');
  });

  test("topology: -smp sockets/dies/cores/threads with maxcpus; a topology that does not hold the vCPUs is libvirt's XML error", () => {
    assert.equal(arg(def("<cpu><topology sockets='2' cores='2' threads='1'/></cpu>"), '-smp'), '4,maxcpus=4,sockets=2,cores=2,threads=1');
    assert.equal(arg(def("<cpu><topology sockets='1' dies='2' cores='1' threads='2'/></cpu>"), '-smp'), '4,maxcpus=4,sockets=1,dies=2,cores=1,threads=2');
    assert.equal(arg(def("<cpu><topology sockets='2' cores='2' threads='1'/></cpu>"), '-cpu'), undefined, 'a topology alone keeps the default model');
    throwsVir(() => arg(def("<cpu><topology sockets='3' cores='1' threads='1'/></cpu>"), '-smp'), ErrorNumber.XML_ERROR, "XML error: CPU topology doesn't match maximum vcpu count");
  });
});

/** A thread's allowed host CPUs, from /proc. */
function allowed(pid: number, tid: number | string): string {
  const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
  return /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1] ?? '';
}

describe('QEMU start honours <cputune> pins and <cpu>', { skip: qemuSkipReason() || (hostCpus().length < 2 ? 'needs 2 host CPUs' : false), timeout: 600_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let state: string;
  let previous: string | undefined;
  let conn: Connection;

  before(async () => {
    state = reaper.tempDir('tsvcpu-');
    guest = await buildTestGuest(join(state, 'guest'));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = state;
    conn = await connect('qemu:///session');
  });
  after(async () => {
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

  test('vCPU threads pinned by <vcpupin>, the other threads by <emulatorpin>; -cpu and -smp on the command line', async () => {
    const xml = guestXML({ name: 'cpu-a', uuid: randomUUID(), guest, mode: 'B', serial: join(state, 'serial.log') })
      .replace('<vcpu>1</vcpu>', `<vcpu>2</vcpu>
  <cputune><vcpupin vcpu='0' cpuset='1'/><vcpupin vcpu='1' cpuset='0'/><emulatorpin cpuset='1'/></cputune>
  <cpu mode='custom' match='exact'><model>qemu64</model><feature policy='require' name='sse4.2'/><topology sockets='1' cores='2' threads='1'/></cpu>`);
    const dom = await conn.createXML(xml, 0);
    const [pid] = guestPids(state);
    assert.ok(pid !== undefined);
    reaper.track(pid);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.equal(cmdline[cmdline.indexOf('-cpu') + 1], 'qemu64,sse4.2=on');
    assert.equal(cmdline[cmdline.indexOf('-smp') + 1], '2,maxcpus=2,sockets=1,cores=2,threads=1');
    const threads = readdirSync(`/proc/${pid}/task`).map((tid) => ({ tid, comm: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() }));
    const vcpu = (n: number) => threads.find((t) => t.comm === `CPU ${n}/TCG`);
    assert.ok(vcpu(0) !== undefined && vcpu(1) !== undefined, JSON.stringify(threads));
    assert.equal(allowed(pid, vcpu(0)!.tid), '1');
    assert.equal(allowed(pid, vcpu(1)!.tid), '0');
    for (const t of threads.filter((x) => !x.comm.startsWith('CPU '))) assert.equal(allowed(pid, t.tid), '1', `emulator thread ${t.comm}`);
    await dom.destroy();
  });

  test("a CPU the hypervisor cannot give refuses the start with libvirt's error, nothing left running", async () => {
    const xml = guestXML({ name: 'cpu-b', uuid: randomUUID(), guest, mode: 'B', serial: join(state, 'serial-b.log') }).replace(
      '<vcpu>1</vcpu>',
      "<vcpu>1</vcpu><cpu mode='host-passthrough'/>",
    );
    const before = guestPids(state);
    await rejectsVir(conn.createXML(xml, 0), { code: ErrorNumber.CONFIG_UNSUPPORTED, domain: ErrorDomain.QEMU, message: /CPU mode 'host-passthrough' for x86_64 qemu domain/ });
    assert.deepEqual(guestPids(state), before);
    await rejectsVir(conn.lookupByName('cpu-b'), { code: ErrorNumber.NO_DOMAIN });
  });
});
