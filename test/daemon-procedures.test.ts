/**
 * The everyday vCPU, memory, host-figure and guest-fact procedures, side by side: the same virsh
 * commands and the same python-libvirt calls against a live libvirtd (its test driver, started
 * by test/support/libvirtd-harness.ts) and against tsvirtd, both on test:///default. Every step's
 * exit code, output and error must match; the only lines left out are those whose figures come
 * from the clock (a vCPU's CPU time, which libvirt's test driver takes from the time of day) and
 * dominfo's security lines (tsvirt has no security driver, see daemon-side-by-side.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { python, pythonLibvirtSkip, virsh, virshSkip, type Run, type RunningDaemon } from './support/daemon-harness.js';
import { type RunningLibvirtd } from './support/libvirtd-harness.js';
import { startSideBySide, type SideBySide } from './support/side-by-side.js';

/** Lines whose figures differ for a stated reason, left out on both sides. */
const VOLATILE = [
  // libvirt's test driver reports the time of day as CPU time; tsvirt the time the guest ran.
  /^CPU time:/,
  // tsvirt has no security driver (daemon-side-by-side.test.ts: dominfoExtras).
  /^Security (model|DOI|label):/,
];

function domXML(name: string, vcpus: string): string {
  return (
    `<domain type='test'><name>${name}</name><uuid>${randomUUID()}</uuid>` +
    `<memory unit='KiB'>1048576</memory><currentMemory unit='KiB'>524288</currentMemory>${vcpus}` +
    `<os><type arch='i686'>hvm</type></os></domain>\n`
  );
}

interface Script {
  name: string;
  files: Record<string, string>;
  /** One virsh invocation per entry; `@NAME` is the file NAME in the side's directory. */
  steps: string[][];
}

const s = (line: string): string[] => line.split(' ');

const SCRIPTS: Script[] = [
  {
    name: 'vCPUs: maxvcpus, vcpucount, setvcpus, vcpuinfo on a running and an inactive domain',
    files: { 'pv1.xml': domXML('pv1', "<vcpu current='1'>3</vcpu>") },
    steps: [
      s('maxvcpus'),
      s('maxvcpus --type kvm'),
      s('vcpucount test'),
      s('vcpucount test --live --maximum'),
      s('vcpucount test --config'),
      s('vcpucount test --live --config'),
      s('vcpucount test --guest'),
      s('vcpuinfo test'),
      s('vcpuinfo test --pretty'),
      s('setvcpus test 1 --live'),
      s('vcpucount test'),
      s('dominfo test'),
      s('setvcpus test 3'),
      s('setvcpus test 0'),
      s('setvcpus test 1 --guest'),
      s('setvcpus test 40 --maximum --config'),
      s('setvcpus test 2'),
      s('define @pv1.xml'),
      s('vcpucount pv1'),
      s('vcpucount pv1 --live'),
      s('vcpucount pv1 --current --maximum'),
      s('vcpuinfo pv1'),
      s('vcpuinfo pv1 --pretty'),
      s('setvcpus pv1 2'),
      s('setvcpus pv1 3 --config'),
      s('setvcpus pv1 2 --config --maximum'),
      s('vcpucount pv1'),
      s('start pv1'),
      s('vcpucount pv1'),
      s('vcpuinfo pv1'),
      s('dominfo pv1'),
      s('destroy pv1'),
      s('undefine pv1'),
    ],
  },
  {
    name: 'memory: setmem, setmaxmem, dommemstat; a live change does not outlive the run',
    files: {
      'pm1.xml': domXML('pm1', '<vcpu>1</vcpu>'),
      'pm2.xml': domXML('pm2', "<vcpu>1</vcpu><devices><memballoon model='virtio'/></devices>"),
    },
    steps: [
      s('dommemstat test'),
      s('setmem test 1000000'),
      s('dommemstat test'),
      s('setmem test 1G --config'),
      s('setmem test 0'),
      s('setmem test 99999999'),
      s('setmem test abc'),
      s('setmaxmem test 10000000'),
      s('setmaxmem test 10000000 --config'),
      s('dominfo test'),
      s('define @pm1.xml'),
      s('dommemstat pm1'),
      s('setmem pm1 512'),
      s('setmem pm1 512 --config'),
      s('setmaxmem pm1 2048'),
      s('setmaxmem pm1 4096M --config'),
      s('dominfo pm1'),
      s('start pm1'),
      s('setmem pm1 100000'),
      s('dommemstat pm1'),
      s('dominfo pm1'),
      s('destroy pm1'),
      s('dominfo pm1'),
      s('undefine pm1'),
      // Stats need a balloon; without one (pm1) there are none.
      s('create @pm2.xml'),
      s('dommemstat pm2'),
      s('setmem pm2 200000'),
      s('dommemstat pm2'),
      s('destroy pm2'),
    ],
  },
  {
    name: 'scheduler (typed parameters): schedinfo, --set, --weight, flags the test driver refuses',
    files: {},
    steps: [
      s('schedinfo test'),
      s('schedinfo test --set weight=10'),
      s('schedinfo test --weight 5'),
      s('schedinfo test --config'),
      s('schedinfo test --current'),
      s('schedinfo test --live --config'),
      // With flags: virDomainSetSchedulerParametersFlags (procedure 219).
      s('schedinfo test --set weight=10 --config'),
      s('schedinfo test --set weight=10 --live'),
      s('schedinfo test --weight 7 --current'),
      s('schedinfo test --set foo=1'),
      s('schedinfo test --set weight=abc'),
      s('schedinfo test --set weight'),
      s('-r schedinfo test'),
      s('-r schedinfo test --set weight=1'),
    ],
  },
  {
    name: 'host figures: freecell, nodecpustats, nodememstats',
    files: {},
    steps: [
      s('freecell'),
      s('freecell --all'),
      s('freecell --cellno 1'),
      s('freecell --cellno 7'),
      s('freecell --cellno -1'),
      s('nodecpustats'),
      s('nodecpustats --cpu 3'),
      s('nodecpustats --cpu -5'),
      s('nodememstats'),
    ],
  },
  {
    name: 'guest facts: domcontrol, domhostname, domtime, reset; read-only refusals',
    files: { 'pg1.xml': domXML('pg1', '<vcpu>1</vcpu>') },
    steps: [
      s('domcontrol test'),
      s('domhostname test'),
      s('domhostname test --source lease'),
      s('domtime test'),
      s('reset test'),
      s('-r domhostname test'),
      s('-r domtime test'),
      s('-r reset test'),
      s('-r domcontrol test'),
      s('-r vcpucount test'),
      s('-r setvcpus test 1'),
      s('define @pg1.xml'),
      s('domcontrol pg1'),
      s('domhostname pg1'),
      s('domtime pg1'),
      s('reset pg1'),
      s('undefine pg1'),
    ],
  },
];

/** python-libvirt calls whose values and errors must agree (the vCPUs' CPU time left out). */
const PYTHON_PROBE = String.raw`
import libvirt, sys
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
d = c.lookupByName('test')
def t(label, f):
    try:
        print(label, '->', repr(f()))
    except libvirt.libvirtError as e:
        print(label, '!!', e.get_error_code(), e.get_error_domain(), e.get_error_message())
t('getMaxVcpus', lambda: c.getMaxVcpus(None))
t('maxVcpus', lambda: d.maxVcpus())
t('vcpusFlags', lambda: [d.vcpusFlags(f) for f in (0, 1, 2, 5, 6)])
t('vcpusFlags live|config', lambda: d.vcpusFlags(3))
t('vcpusFlags 16', lambda: d.vcpusFlags(16))
t('setVcpusFlags 0', lambda: d.setVcpusFlags(0, 1))
t('setVcpusFlags max live', lambda: d.setVcpusFlags(1, 5))
t('setVcpusFlags 16', lambda: d.setVcpusFlags(1, 16))
t('setVcpus 1', lambda: d.setVcpus(1))
t('vcpus', lambda: ([v[:2] + v[3:] for v in d.vcpus()[0]], d.vcpus()[1]))
t('vcpuPinInfo', lambda: d.vcpuPinInfo(0))
t('setMemoryFlags 16', lambda: d.setMemoryFlags(1000, 16))
t('setMemory 0', lambda: d.setMemory(0))
t('setMemory', lambda: d.setMemory(1000000))
t('setMaxMemory', lambda: d.setMaxMemory(500000))
t('info', lambda: d.info()[:4])
t('memoryStats', lambda: d.memoryStats())
t('cellsFree', lambda: c.getCellsFreeMemory(0, 5))
t('cellsFree 5', lambda: c.getCellsFreeMemory(5, 1))
t('freeMem', lambda: c.getFreeMemory())
t('cpuStats', lambda: c.getCPUStats(-1, 0))
t('cpuStats flags', lambda: c.getCPUStats(-1, 1))
t('memStats', lambda: c.getMemoryStats(-1, 0))
t('cpuMap', lambda: c.getCPUMap())
t('isUpdated', lambda: d.isUpdated())
t('controlInfo', lambda: d.controlInfo())
t('hostname', lambda: d.hostname())
t('getTime', lambda: d.getTime())
t('getTime 1', lambda: d.getTime(1))
t('reset', lambda: d.reset())
t('reset 1', lambda: d.reset(1))
t('schedulerType', lambda: d.schedulerType())
t('schedulerParameters', lambda: d.schedulerParameters())
t('schedulerParametersFlags', lambda: d.schedulerParametersFlags(0))
t('setSchedulerParameters', lambda: d.setSchedulerParameters({'weight': 10}))
t('setSchedulerParametersFlags', lambda: d.setSchedulerParametersFlags({'weight': 10}, 0))
t('setSchedulerParametersFlags live', lambda: d.setSchedulerParametersFlags({'weight': 10}, 1))
`;

const noVirsh = virshSkip();

describe('vCPU, memory and host procedures: virsh and python-libvirt against libvirtd and tsvirtd', { skip: noVirsh }, () => {
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

  const strip = (r: Run): Run => ({
    code: r.code,
    stdout: r.stdout
      .split('\n')
      .filter((l) => !VOLATILE.some((re) => re.test(l)))
      .join('\n'),
    stderr: r.stderr,
  });

  for (const script of SCRIPTS) {
    test(script.name, async (t) => {
      if (lv === undefined) {
        t.skip(`no libvirtd to compare with: ${lvSkip}`);
        return;
      }
      const sides = [
        { uri: lv.uri('/default'), dir: lv.dir },
        { uri: d!.uri('/default'), dir: d!.dir },
      ];
      for (const side of sides) for (const [f, body] of Object.entries(script.files)) writeFileSync(join(side.dir, f), body);
      for (const step of script.steps) {
        const [lr, tr] = sides.map((side) =>
          strip(virsh(side.uri, ...step.map((a) => (a.startsWith('@') ? join(side.dir, a.slice(1)) : a)))),
        ) as [Run, Run];
        assert.deepEqual(tr, lr, `virsh ${step.join(' ')}: tsvirtd answered otherwise than libvirtd`);
      }
    });
  }

  test('python-libvirt: the same values and the same errors', { skip: pythonLibvirtSkip() }, async (t) => {
    if (lv === undefined) {
      t.skip(`no libvirtd to compare with: ${lvSkip}`);
      return;
    }
    // After the virsh scripts: both sides' 'test' domain is in the same state.
    const [lr, tr] = [lv.uri('/default'), d!.uri('/default')].map((uri) => python(PYTHON_PROBE, uri)) as [Run, Run];
    assert.equal(lr.code, 0, lr.stderr);
    assert.match(lr.stdout, /memoryStats -> \{'actual': 1000000/);
    assert.deepEqual(tr, lr);
  });
});
