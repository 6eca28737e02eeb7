/**
 * Statistics, tuning, job and migration-speed procedures through tsvirtd beside libvirtd's test
 * driver, both on test:///default: the same virsh commands (domblkinfo, domblkstat, domifstat,
 * memtune, blkiotune, numatune, domiftune, cpu-stats, domstats, domjobinfo, domjobabort,
 * migrate-getspeed/setspeed) give the same exit code, output and errors, and the same
 * python-libvirt calls the same values (block and interface statistics, made from the clock, are
 * compared by their shape and growth). Read-only connections refuse the SET procedures.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { python, pythonLibvirtSkip, virsh, virshSkip, type Run, type RunningDaemon } from './support/daemon-harness.js';
import { type RunningLibvirtd } from './support/libvirtd-harness.js';
import { startSideBySide, type SideBySide } from './support/side-by-side.js';
import { cleanEnv, tsvirt } from './cli-harness.js';

const MAC = '52:54:00:aa:bb:cc';
const DOMXML = `<domain type='test'>
  <name>sbst</name>
  <uuid>2d4bd4c4-21bb-4b31-9a3c-8d2f1d0a7d01</uuid>
  <memory unit='KiB'>1048576</memory>
  <vcpu>2</vcpu>
  <os><type arch='i686'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/img/sbst.img'/><target dev='vdb' bus='virtio'/></disk>
    <interface type='network'><mac address='${MAC}'/><source network='default'/></interface>
  </devices>
</domain>
`;

/** virsh steps, run on both sides in order; `@F` is the file F in the side's directory. */
const STEPS: string[][] = [
  ['define', '@sbst.xml'],
  // Inactive: sizes and tuning from the definition; statistics need a running domain.
  ['domblkinfo', 'sbst', 'vdb'],
  ['domblkinfo', 'sbst', '/img/sbst.img'],
  ['domblkinfo', 'sbst', '--all'],
  ['domblkinfo', 'sbst', '--all', '--human'],
  ['domblkinfo', 'sbst', 'nosuch'],
  ['domblkinfo', 'sbst'],
  ['domblkstat', 'sbst', 'vdb'],
  ['domifstat', 'sbst', MAC],
  ['cpu-stats', 'sbst'],
  ['memtune', 'sbst'],
  ['memtune', 'sbst', '--hard-limit', '1048576', '--soft-limit', '512M'],
  ['memtune', 'sbst'],
  ['memtune', 'sbst', '--swap-hard-limit', '10'],
  ['memtune', 'sbst', '--live'],
  ['memtune', 'sbst', '--hard-limit', 'x'],
  ['blkiotune', 'sbst'],
  ['blkiotune', 'sbst', '--weight', '500', '--device-weights', '/dev/sda,100'],
  ['blkiotune', 'sbst', '--config'],
  ['blkiotune', 'sbst', '--weight', '-5'],
  ['numatune', 'sbst'],
  ['numatune', 'sbst', '--nodeset', '0-1', '--mode', 'preferred'],
  ['numatune', 'sbst'],
  ['numatune', 'sbst', '--mode', 'bogus'],
  ['numatune', 'sbst', '--mode', '9'],
  ['domiftune', 'sbst', MAC],
  ['domiftune', 'sbst', MAC, '--inbound', '100,200,300', '--outbound', '400'],
  ['domiftune', 'sbst', MAC],
  ['domiftune', 'sbst', MAC, '--inbound', '0'],
  ['domiftune', 'sbst', MAC],
  ['domiftune', 'sbst', 'vnet7'],
  ['domiftune', 'sbst', MAC, '--inbound', 'x,y'],
  ['domstats', 'sbst'],
  ['domstats', '--list-inactive', 'sbst'],
  // Running: the live definition starts as a copy of the persistent one.
  ['start', 'sbst'],
  ['memtune', 'sbst'],
  ['memtune', 'sbst', '--config'],
  ['blkiotune', 'sbst'],
  ['numatune', 'sbst', '--mode', 'strict'],
  ['numatune', 'sbst', '--live'],
  ['domiftune', 'sbst', MAC, '--config'],
  ['cpu-stats', 'sbst'],
  ['cpu-stats', 'sbst', '--total'],
  ['cpu-stats', 'sbst', '--start', '1'],
  ['cpu-stats', 'sbst', '--start', '5'],
  ['domblkstat', 'sbst', 'nosuch'],
  ['domblkstat', 'sbst'],
  ['domifstat', 'sbst', 'vnet7'],
  ['domstats', 'sbst', 'test'],
  ['domstats', '--state', '--raw', 'test', 'sbst'],
  ['domstats', '--cpu-total', '--balloon', '--block', 'sbst'],
  ['domstats', '--list-inactive', 'sbst'],
  ['domstats', '--enforce', '--block', 'sbst'],
  ['domjobinfo', 'sbst'],
  ['domjobinfo', 'sbst', '--completed'],
  ['domjobabort', 'sbst'],
  ['migrate-getspeed', 'sbst'],
  ['migrate-setspeed', 'sbst', '10'],
  ['destroy', 'sbst'],
  ['undefine', 'sbst'],
];

/** python-libvirt: the calls whose answers are constants or kept values, then errors. */
const PY = `
import sys, libvirt
c = libvirt.open(sys.argv[1])
d = c.lookupByName('test')
def t(label, f):
    try:
        print(label, repr(f()))
    except libvirt.libvirtError as e:
        print(label, 'ERR', e.get_error_code(), e.get_error_domain(), e.get_error_message())
t('blockInfo', lambda: d.blockInfo('vda'))
t('blockInfo path', lambda: d.blockInfo('/guest/diskimage1'))
t('blockInfo bad', lambda: d.blockInfo('xx'))
t('blockInfo flags', lambda: d.blockInfo('vda', 1))
t('blockStats empty', lambda: d.blockStats(''))
t('blockStats bad', lambda: d.blockStats('xx'))
t('blockStatsFlags', lambda: d.blockStatsFlags('vda', 0))
t('ifstats bad', lambda: d.interfaceStats('nosuch'))
t('mem', lambda: d.memoryParameters(0))
t('mem cfg', lambda: d.memoryParameters(libvirt.VIR_DOMAIN_AFFECT_CONFIG))
t('mem flags', lambda: d.memoryParameters(1 << 10))
t('blkio', lambda: d.blkioParameters(0))
t('numa', lambda: d.numaParameters(0))
t('if', lambda: d.interfaceParameters('testnet0', 0))
t('if mac', lambda: d.interfaceParameters('aa:bb:cc:dd:ee:ff', libvirt.VIR_DOMAIN_AFFECT_CONFIG))
t('if bad', lambda: d.interfaceParameters('nosuch', 0))
t('cpu total', lambda: d.getCPUStats(True))
t('cpu per', lambda: d.getCPUStats(False))
t('all', lambda: [(x.name(), s) for x, s in c.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_RUNNING)])
t('all none', lambda: [(x.name(), s) for x, s in c.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_CPU_TOTAL, 0) if x.name() == 'test'])
t('all enforce', lambda: c.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_BLOCK, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS))
t('list', lambda: [(x.name(), s) for x, s in c.domainListGetStats([d], 0, 0)])
t('job', lambda: d.jobInfo())
t('jobstats', lambda: d.jobStats(0))
t('abort', lambda: d.abortJob())
t('speed', lambda: d.migrateGetMaxSpeed(0))
t('setspeed', lambda: d.migrateSetMaxSpeed(5, 0))
# Values that come from the clock: their shape, and that they grow.
a = d.blockStats('vda'); b = d.blockStats('vda')
print('blockStats shape', len(a), all(x >= 0 for x in a), b[1] >= a[1])
a = d.interfaceStats('testnet0'); b = d.interfaceStats('aa:bb:cc:dd:ee:ff')
print('ifstats shape', len(a), all(x >= 0 for x in a), b[0] >= a[0])
# Set, then read back; then restore (test:///default is shared by the daemon's connections).
t('set mem', lambda: d.setMemoryParameters({'hard_limit': 100000}, 0))
t('mem after', lambda: d.memoryParameters(0))
t('set mem bad', lambda: d.setMemoryParameters({'swap_hard_limit': 10}, 0))
t('set blkio', lambda: d.setBlkioParameters({'weight': 700}, 0))
t('blkio after', lambda: d.blkioParameters(0))
t('set numa', lambda: d.setNumaParameters({'numa_nodeset': '1'}, 0))
t('set numa mode', lambda: d.setNumaParameters({'numa_mode': 2}, 0))
t('numa after', lambda: d.numaParameters(0))
t('set if', lambda: d.setInterfaceParameters('testnet0', {'outbound.average': 10, 'outbound.burst': 20}, 0))
t('if after', lambda: d.interfaceParameters('testnet0', 0))
t('restore mem', lambda: d.setMemoryParameters({'hard_limit': 9007199254740991}, 0))
`;

describe('statistics and tuning through tsvirtd, beside libvirtd', { skip: virshSkip() }, () => {
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

  test('virsh: the same output and errors, step by step', (t) => {
    if (lv === undefined) {
      t.skip(`no libvirtd to compare with: ${lvSkip}`);
      return;
    }
    const sides = [
      { uri: lv.uri('/default'), dir: lv.dir },
      { uri: d!.uri('/default'), dir: d!.dir },
    ];
    for (const s of sides) writeFileSync(join(s.dir, 'sbst.xml'), DOMXML);
    let compared = 0;
    for (const step of STEPS) {
      const [l, ts] = sides.map((s) => virsh(s.uri, ...step.map((a) => (a.startsWith('@') ? join(s.dir, a.slice(1)) : a)))) as [Run, Run];
      assert.deepEqual(ts, l, `virsh ${step.join(' ')}: tsvirtd answered otherwise than libvirtd`);
      compared++;
    }
    assert.equal(compared, STEPS.length);
  });

  test('python-libvirt: the same values and errors', { skip: pythonLibvirtSkip() }, (t) => {
    if (lv === undefined) {
      t.skip(`no libvirtd to compare with: ${lvSkip}`);
      return;
    }
    const l = python(PY, lv.uri('/default'));
    const ts = python(PY, d!.uri('/default'));
    assert.equal(l.code, 0, l.stderr);
    assert.equal(ts.code, 0, ts.stderr);
    assert.deepEqual(ts.stdout.split('\n'), l.stdout.split('\n'));
    // The comparison saw values, not only errors.
    assert.match(ts.stdout, /^blockInfo \[1099506450432, 1099511627776, 1099511627776\]$/m);
    assert.match(ts.stdout, /^mem after \{'hard_limit': 100000, /m);
    assert.match(ts.stdout, /^blockStats shape 5 True True$/m);
  });

  test("tsvirt through tsvirtd (the remote driver): the same output as virsh through tsvirtd", async () => {
    const uri = d!.uri('/default');
    const commands = [
      'domblkinfo test vda',
      'domblkinfo test --all --human',
      'memtune test',
      'blkiotune test',
      'numatune test',
      'domiftune test testnet0',
      'cpu-stats test',
      'cpu-stats test --start 1 --count 1',
      'domstats test',
      'domstats --state --list-running',
      'domjobinfo test',
      'domblkstat test nosuch',
      'domifstat test vnet0',
    ];
    for (const c of commands) {
      const v = virsh(uri, ...c.split(' '));
      const t = await tsvirt(['-q', '-c', uri, ...c.split(' ')], { cwd: d!.dir, env: cleanEnv(d!.dir) });
      assert.deepEqual({ code: t.status, stdout: t.stdout, stderr: t.stderr }, v, c);
    }
  });

  test('read-only connections: the SET procedures are refused before they reach the driver; the GETs answer', { skip: virshSkip() }, () => {
    const ro = d!.uri('/default', true);
    const refused: [string[], string][] = [
      [['memtune', 'test', '--hard-limit', '1000'], 'virDomainSetMemoryParameters'],
      [['blkiotune', 'test', '--weight', '500'], 'virDomainSetBlkioParameters'],
      [['numatune', 'test', '--nodeset', '0'], 'virDomainSetNumaParameters'],
      [['domiftune', 'test', 'testnet0', '--inbound', '10'], 'virDomainSetInterfaceParameters'],
      [['migrate-setspeed', 'test', '10'], 'virDomainMigrateSetMaxSpeed'],
      [['domjobabort', 'test'], 'virDomainAbortJob'],
    ];
    for (const [args, api] of refused) {
      const r = virsh(ro, ...args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').at(-1), `error: operation forbidden: read only access prevents ${api}`, r.stderr);
    }
    for (const args of [['memtune', 'test'], ['domblkinfo', 'test', 'vda'], ['cpu-stats', 'test', '--total'], ['domstats', 'test']]) {
      const r = virsh(ro, ...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
  });
});
