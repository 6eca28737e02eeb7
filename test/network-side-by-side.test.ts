/**
 * Networks compared with libvirt itself: the same virsh net-* commands and the same
 * python-libvirt script against libvirtd's test driver and against tsvirtd, both on
 * test:///default: each step's exit code, output and error message must match.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Proc, openArgs } from '../src/rpc/procedures.js';
import { MessageStatus } from '../src/rpc/message.js';
import { RawClient, python, pythonLibvirtSkip, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';
import { startLibvirtd, type RunningLibvirtd } from './support/libvirtd-harness.js';

const ISO = `<network>
  <name>iso</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <ip address='10.9.0.1' prefix='24'>
    <dhcp>
      <range start='10.9.0.10' end='10.9.0.20'/>
      <host mac='52:54:00:00:00:01' name='h1' ip='10.9.0.5'/>
    </dhcp>
  </ip>
</network>
`;
const TRANSIENT = ISO.replace('<name>iso</name>', '<name>tr</name>').replace('11111111-2222', '22222222-2222').replace(/10\.9\./g, '10.8.');

/** Steps run one by one (each its own virsh), on the shared test:///default the holders keep open. */
const STEPS: string[][] = [
  ['net-list', '--all'],
  ['net-dumpxml', 'default'],
  ['net-info', 'default'],
  ['net-dhcp-leases', 'default'],
  ['net-define', '@iso.xml'],
  ['net-dumpxml', 'iso'],
  ['net-info', 'iso'],
  ['net-list', '--inactive'],
  ['net-start', 'iso'],
  ['net-start', 'iso'],
  ['net-create', '@iso.xml'],
  ['net-create', '@tr.xml'],
  ['net-list', '--all', '--transient'],
  ['net-autostart', 'tr'],
  ['net-autostart', 'iso'],
  ['net-list', '--all', '--autostart'],
  ['net-list', '--all', '--name'],
  ['net-list', '--all', '--uuid'],
  ['net-list', '--name', '--uuid'],
  ['net-uuid', 'iso'],
  ['net-name', '11111111-2222-3333-4444-555555555555'],
  ['net-name', '99999999-2222-3333-4444-555555555555'],
  ['net-dumpxml', 'nope'],
  ['net-destroy', 'tr'],
  ['net-destroy', 'tr'],
  ['net-undefine', 'iso'],
  ['net-info', 'iso'],
  ['net-destroy', 'iso'],
  ['net-destroy', 'iso'],
  ['net-autostart', '--disable', 'default'],
  ['net-list', '--all'],
];

const PY = `
import libvirt, sys
c = libvirt.open(sys.argv[1])
def show(label, f):
    try:
        print(label, repr(f()))
    except libvirt.libvirtError as e:
        print(label, 'ERROR', e.get_error_code(), e.get_error_domain(), e.get_error_message())
n = c.networkLookupByName('default')
show('names', lambda: sorted(x.name() for x in c.listAllNetworks()))
show('num', lambda: (c.numOfNetworks(), c.numOfDefinedNetworks()))
show('list', lambda: (sorted(c.listNetworks()), sorted(c.listDefinedNetworks())))
show('uuid', lambda: n.UUIDString())
show('bridge', lambda: n.bridgeName())
show('active', lambda: (n.isActive(), n.isPersistent(), n.autostart()))
show('xml', lambda: n.XMLDesc(0))
show('byuuid', lambda: c.networkLookupByUUIDString(n.UUIDString()).name())
show('leases', lambda: n.DHCPLeases())
show('nope', lambda: c.networkLookupByName('nope'))
show('badxml', lambda: c.networkDefineXML('<network/>'))
m = c.networkDefineXML(open(sys.argv[2]).read())
show('defined', lambda: (m.name(), m.isActive(), m.isPersistent()))
show('create', lambda: m.create())
show('create2', lambda: m.create())
show('flags', lambda: sorted(x.name() for x in c.listAllNetworks(libvirt.VIR_CONNECT_LIST_NETWORKS_INACTIVE)))
show('setauto', lambda: (m.setAutostart(1), m.autostart()))
show('destroy', lambda: m.destroy())
show('undefine', lambda: m.undefine())
show('gone', lambda: m.isActive())
`;

const skip = virshSkip() || pythonLibvirtSkip();

describe('networks: virsh and python-libvirt against libvirtd and tsvirtd (test:///default)', { skip }, () => {
  let d: RunningDaemon | undefined;
  let lv: RunningLibvirtd | undefined;
  let lvSkip: string | null = null;
  const holders: RawClient[] = [];

  before(async () => {
    d = await startDaemon({ uris: ['test:///default'] });
    const started = await startLibvirtd();
    if ('skip' in started) lvSkip = started.skip;
    else lv = started;
    // test:///default is shared only while a connection to it is open: hold one on each side.
    for (const sock of [d.rw, lv?.socket]) {
      if (sock === undefined) continue;
      const h = await RawClient.connect(sock);
      holders.push(h);
      await h.call(Proc.AUTH_LIST);
      const open = await h.callWith(Proc.CONNECT_OPEN, openArgs, { name: 'test:///default', flags: 0 });
      assert.equal(open.header.status, MessageStatus.OK);
    }
    for (const dir of [d.dir, lv?.dir]) {
      if (dir === undefined) continue;
      writeFileSync(join(dir, 'iso.xml'), ISO, { mode: 0o644 });
      writeFileSync(join(dir, 'tr.xml'), TRANSIENT, { mode: 0o644 });
    }
  });
  after(async () => {
    for (const h of holders) h.close();
    await d?.dispose();
    await lv?.dispose();
  });

  test('virsh net-* commands: the same exit code, output and errors, step by step', async (t) => {
    if (lv === undefined) {
      t.skip(`no libvirtd to compare with: ${lvSkip}`);
      return;
    }
    for (const [i, step] of STEPS.entries()) {
      const args = (dir: string) => step.map((a) => (a.startsWith('@') ? join(dir, a.slice(1)) : a));
      const l = virsh(lv.uri('/default'), ...args(lv.dir));
      const r = virsh(d!.uri('/default'), ...args(d!.dir));
      const norm = (s: string, dir: string) => s.split(dir).join('DIR');
      assert.deepEqual(
        { code: r.code, stdout: norm(r.stdout, d!.dir), stderr: norm(r.stderr, d!.dir) },
        { code: l.code, stdout: norm(l.stdout, lv.dir), stderr: norm(l.stderr, lv.dir) },
        `step ${i}: virsh ${step.join(' ')}`,
      );
    }
  });

  test('python-libvirt network calls: the same values and errors', async (t) => {
    if (lv === undefined) {
      t.skip(`no libvirtd to compare with: ${lvSkip}`);
      return;
    }
    const l = python(PY, lv.uri('/default'), join(lv.dir, 'iso.xml'));
    const r = python(PY, d!.uri('/default'), join(d!.dir, 'iso.xml'));
    assert.equal(l.code, 0, l.stderr);
    assert.equal(r.code, 0, r.stderr);
    const ll = l.stdout.split('\n');
    const rl = r.stdout.split('\n');
    for (let i = 0; i < Math.max(ll.length, rl.length); i++) assert.equal(rl[i], ll[i]);
  });
});
