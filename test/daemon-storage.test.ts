/**
 * Storage through tsvirtd, beside libvirtd: Debian's virsh and python3-libvirt run the same
 * pool and volume calls against tsvirtd's and libvirtd's test drivers and must see the same
 * output (UUIDs of new pools aside); python3-libvirt drives tsvirtd's qemu:///session directory
 * pools, volume upload and download through libvirt streams included.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { python, pythonLibvirtSkip, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';
import { startLibvirtd, type RunningLibvirtd } from './support/libvirtd-harness.js';

let tsvirtd: RunningDaemon | undefined;
let libvirtd: RunningLibvirtd | undefined;
let libvirtdSkip: string | false = false;

before(async () => {
  tsvirtd = await startDaemon();
  const l = await startLibvirtd();
  if ('skip' in l) libvirtdSkip = l.skip;
  else libvirtd = l;
});
after(async () => {
  await tsvirtd?.dispose();
  await libvirtd?.dispose();
});

/** Command lines run on both sides; each is one virsh invocation (`;` separates commands). */
const VIRSH_SCRIPTS = [
  'pool-list --all',
  'pool-list --details',
  'pool-info default-pool',
  'pool-dumpxml default-pool',
  'pool-info nope',
  'vol-create-as default-pool a.img 10M; vol-list default-pool --details; vol-info a.img --pool default-pool; vol-dumpxml /default-pool/a.img',
  'vol-key a.img --pool default-pool; vol-path a.img --pool default-pool; vol-pool /default-pool/a.img; vol-name /default-pool/a.img',
  'vol-clone /default-pool/a.img b.img; vol-list default-pool; vol-delete b.img --pool default-pool; vol-list default-pool',
  'vol-create-as default-pool a.img 10M',
  'vol-create-as default-pool big.img 200G',
  'vol-info nope',
  'pool-define-as p2 dir --target /p2; pool-list --all; pool-start p2; pool-autostart p2; pool-list --all --details; pool-destroy p2; pool-undefine p2',
  'pool-build default-pool; pool-refresh default-pool; pool-undefine default-pool',
  'pool-create-as p3 dir --target /p3; pool-list --transient; pool-destroy p3; pool-list --all --name',
  'pool-uuid default-pool; pool-name dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566',
  'pool-define-as p4 dir --target /default-pool',
];

test('virsh pool-* and vol-* print the same against tsvirtd and libvirtd (test:///default)', { skip: virshSkip() || libvirtdSkip }, () => {
  const a = tsvirtd!;
  const b = libvirtd!;
  for (const script of VIRSH_SCRIPTS) {
    const ours = virsh(a.uri('/default'), script);
    const theirs = virsh(b.uri('/default'), script);
    assert.deepEqual(
      { code: ours.code, stdout: ours.stdout, stderr: ours.stderr },
      { code: theirs.code, stdout: theirs.stdout, stderr: theirs.stderr },
      `virsh ${script}`,
    );
  }
});

const PYTHON_SCRIPT = `
import libvirt, sys, re
c = libvirt.open(sys.argv[1])
def show(f):
    try:
        r = f()
        print('OK', r.name() if hasattr(r, 'name') else r)
    except libvirt.libvirtError as e:
        print('ERR', e.get_error_code(), e.get_error_domain(), re.sub('[0-9a-f-]{36}', 'UUID', str(e)))
p = c.storagePoolLookupByName('default-pool')
show(lambda: p.info())
show(lambda: (p.isActive(), p.isPersistent(), p.autostart(), p.numOfVolumes()))
v = p.createXML("<volume><name>a.img</name><capacity unit='M'>10</capacity></volume>", 0)
show(lambda: (v.name(), v.key(), v.path(), v.info()))
show(lambda: v.XMLDesc(0))
show(lambda: p.createXML("<volume><name>a.img</name><capacity unit='M'>10</capacity></volume>", 0))
show(lambda: p.createXML("<volume><name>b.img</name><capacity unit='T'>10</capacity></volume>", 0))
show(lambda: c.storageVolLookupByPath('/default-pool/a.img'))
show(lambda: c.storageVolLookupByKey('/nope'))
show(lambda: v.storagePoolLookupByVolume())
show(lambda: p.createXMLFrom("<volume><name>c.img</name><capacity unit='M'>1</capacity></volume>", v, 0).info())
show(lambda: [x.name() for x in p.listAllVolumes()] and sorted(p.listVolumes()))
show(lambda: p.undefine())
show(lambda: p.destroy())
show(lambda: p.info())
show(lambda: p.refresh())
show(lambda: (c.listStoragePools(), c.listDefinedStoragePools(), c.numOfStoragePools(), c.numOfDefinedStoragePools()))
show(lambda: p.create())
show(lambda: sorted(p.listVolumes()))
show(lambda: c.storagePoolDefineXML("<pool type='dir'><name>x</name><target><path>/x</path></target></pool>"))
show(lambda: c.storagePoolDefineXML("<pool type='dir'><name>x</name><target><path>/y</path></target></pool>"))
show(lambda: c.storagePoolDefineXML("<pool type='dir'><name>y</name><target><path>/x</path></target></pool>"))
show(lambda: c.storagePoolDefineXML("<pool type='dir'><name>w5</name></pool>"))
show(lambda: c.storagePoolLookupByUUIDString('dfe224cb-28fb-8dd0-c4b2-64eb3f0f4567'))
show(lambda: [q.name() for q in c.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE)])
show(lambda: c.storagePoolLookupByName('x').undefine())
`;

test('python3-libvirt storage calls see the same results from tsvirtd and libvirtd (test:///default)', { skip: pythonLibvirtSkip() || libvirtdSkip }, () => {
  const ours = python(PYTHON_SCRIPT, tsvirtd!.uri('/default'));
  const theirs = python(PYTHON_SCRIPT, libvirtd!.uri('/default'));
  assert.equal(ours.code, 0, ours.stderr);
  assert.equal(ours.stdout, theirs.stdout);
});

test('python3-libvirt on tsvirtd qemu:///session: a directory pool, qcow2 volume, upload and download through streams', { skip: pythonLibvirtSkip() }, () => {
  const d = tsvirtd!;
  const dir = join(d.dir, 'pool');
  const script = `
import libvirt, sys
c = libvirt.open(sys.argv[1])
p = c.storagePoolDefineXML("<pool type='dir'><name>dp</name><target><path>${dir}</path></target></pool>", 0)
p.build(0); p.create(0)
v = p.createXML("<volume><name>r.img</name><capacity unit='M'>4</capacity><target><format type='raw'/></target></volume>", 0)
q = p.createXML("<volume><name>q.qcow2</name><capacity unit='G'>1</capacity><target><format type='qcow2'/></target></volume>", 0)
print(q.info()[1], v.info()[1])
data = bytes(range(256)) * 4096
st = c.newStream(0)
v.upload(st, 0, len(data), 0)
st.sendAll(lambda s, n, o: o.pop(0) if o else b'', [data[i:i+65536] for i in range(0, len(data), 65536)])
st.finish()
st = c.newStream(0)
v.download(st, 0, len(data), 0)
got = []
st.recvAll(lambda s, buf, o: o.append(buf), got)
st.finish()
print(b''.join(got) == data)
try:
    p.createXML("<volume><name>q.qcow2</name><capacity>1</capacity></volume>", 0)
except libvirt.libvirtError as e:
    print(e.get_error_code(), e)
q.delete(0); v.delete(0)
print(p.listVolumes())
p.destroy(); p.delete(0); p.undefine()
`;
  const r = python(script, `qemu+unix:///session?socket=${d.rw}`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `1073741824 4194304\nTrue\n90 storage volume 'q.qcow2' exists already\n[]\n`);
});
