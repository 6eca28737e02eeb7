/**
 * tsvirtd with Debian's python3-libvirt, unmodified: the seed's scenarios on test:///default and
 * test:///session, errors rebuilt with libvirt's code, domain and message.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { python, pythonLibvirtSkip, startDaemon, type RunningDaemon } from './support/daemon-harness.js';

const skip = pythonLibvirtSkip();

const SCENARIOS = String.raw`
import libvirt, sys, json
libvirt.registerErrorHandler(lambda *a: None, None)
uri = sys.argv[1]
out = {}
def err(f):
    try:
        f()
        return None
    except libvirt.libvirtError as e:
        return [e.get_error_code(), e.get_error_domain(), e.get_error_message()]
c = libvirt.open(uri)
out['type'] = c.getType()
out['uri'] = c.getURI()
xml = "<domain type='test'><name>pyd</name><memory unit='KiB'>1048576</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>"
d = c.defineXML(xml)
d.snapshotCreateXML('<domainsnapshot><name>ps1</name></domainsnapshot>', 0)
d.snapshotCreateXML('<domainsnapshot><name>ps2</name></domainsnapshot>', 0)
caps = [s.getXMLDesc() for s in [d.snapshotLookupByName('ps1'), d.snapshotLookupByName('ps2')]]
full = d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
out['undefine_plain'] = err(lambda: d.undefine())
out['undefine_flags0'] = err(lambda: d.undefineFlags(0))
out['bad_flag'] = err(lambda: d.undefineFlags(1 << 20))
out['undefine_meta'] = err(lambda: d.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA))
d = c.defineXML(full)
out['after_redefine'] = d.snapshotNum()
d.snapshotCreateXML(caps[0], libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE)
d.snapshotCreateXML(caps[1], libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT)
out['restored'] = [sorted(d.snapshotListNames()), d.snapshotCurrent().getName(), d.snapshotLookupByName('ps2').getParent().getName()]
d.create()
out['running'] = [d.isActive(), d.state()]
d.managedSave()
out['saved'] = [d.isActive(), d.hasManagedSaveImage()]
out['undefine_saved'] = err(lambda: d.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA))
d.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
out['gone'] = err(lambda: c.lookupByName('pyd'))
t = c.createXML(xml.replace('pyd', 'pyt'), 0)
t.snapshotCreateXML('<domainsnapshot><name>tt</name></domainsnapshot>', 0)
out['transient_undefine'] = err(lambda: t.undefine())
out['transient_save'] = err(lambda: t.managedSave())
t.destroy()
out['transient_gone'] = err(lambda: c.lookupByName('pyt'))[0]
c.close()
r = libvirt.open(uri.replace('libvirt-sock', 'libvirt-sock-ro'))
out['ro'] = err(lambda: r.defineXML(xml))
out['ro_list'] = len(r.listAllDomains()) >= 0
r.close()
print(json.dumps(out))
`;

/**
 * python-libvirt's legacy event API, conn.domainEventRegister(cb, opaque): lifecycle events of a
 * define / start / destroy / undefine, with the opaque value, then the deregistration.
 */
const LEGACY_EVENTS = String.raw`
import libvirt, sys, threading, time, json
libvirt.virEventRegisterDefaultImpl()
c = libvirt.open(sys.argv[1])
seen = []
def cb(conn, dom, event, detail, opaque):
    seen.append([dom.name(), event, detail, opaque])
c.domainEventRegister(cb, 'opaque-1')
def loop():
    while True:
        libvirt.virEventRunDefaultImpl()
threading.Thread(target=loop, daemon=True).start()
d = c.defineXML("<domain type='test'><name>pylegacy</name><memory>1024</memory><os><type>hvm</type></os></domain>")
d.create(); d.destroy(); d.undefine()
end = time.time() + 5
while len(seen) < 4 and time.time() < end:
    time.sleep(0.02)
c.domainEventDeregister(cb)
d = c.defineXML("<domain type='test'><name>pylegacy2</name><memory>1024</memory><os><type>hvm</type></os></domain>")
d.undefine()
time.sleep(0.3)
print(json.dumps(seen))
`;

describe('python-libvirt\'s legacy domainEventRegister against tsvirtd', { skip }, () => {
  for (const [label, args, proc] of [
    ['with REMOTE_EVENT_CALLBACK advertised: the client uses the per-callback procedures', [], 'CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY'],
    ['with --no-event-callbacks (an older daemon): the legacy procedures 105/106 and proc 107 messages', ['--no-event-callbacks'], 'CONNECT_DOMAIN_EVENT_REGISTER'],
  ] as const) {
    test(label, async () => {
      const d = await startDaemon({ args: [...args] });
      try {
        const r = python(LEGACY_EVENTS, d.uri('/default'));
        assert.equal(r.code, 0, r.stderr);
        // DEFINED/ADDED, STARTED/BOOTED, STOPPED/DESTROYED, UNDEFINED/REMOVED; none after deregistering.
        assert.deepEqual(JSON.parse(r.stdout), [
          ['pylegacy', 0, 0, 'opaque-1'],
          ['pylegacy', 2, 0, 'opaque-1'],
          ['pylegacy', 5, 1, 'opaque-1'],
          ['pylegacy', 1, 0, 'opaque-1'],
        ]);
        await new Promise((res) => setTimeout(res, 200)); // python ran synchronously: let the log arrive
        const calls = d.log().split('\n').filter((l) => /call CONNECT_DOMAIN_EVENT/.test(l)).map((l) => /call (\w+)/.exec(l)![1]);
        assert.equal(calls[0], proc);
        assert.equal(calls.length, 2);
      } finally {
        await d.dispose();
      }
    });
  }
});

describe('tsvirtd with real python3-libvirt', { skip }, () => {
  let d: RunningDaemon;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d?.dispose();
  });

  for (const path of ['/default', '/session'] as const) {
    test(`R1–R11 scenarios on test://${path} through tsvirtd`, () => {
      const r = python(SCENARIOS, d.uri(path));
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as Record<string, unknown>;
      assert.equal(out.type, 'TEST');
      assert.equal(out.uri, d.uri(path));
      const R3 = [55, 12, 'Requested operation is not valid: cannot delete inactive domain with 2 snapshots'];
      assert.deepEqual(out.undefine_plain, R3);
      assert.deepEqual(out.undefine_flags0, R3);
      assert.deepEqual((out.bad_flag as unknown[]).slice(0, 2), [8, 12]);
      assert.match((out.bad_flag as string[])[2]!, /unsupported flags \(0x100000\) in function testDomainUndefineFlags/);
      assert.equal(out.undefine_meta, null);
      assert.equal(out.after_redefine, 0, 'R6: nothing survives into the new domain');
      assert.deepEqual(out.restored, [['ps1', 'ps2'], 'ps2', 'ps1'], 'R10: tree and current restored');
      assert.deepEqual(out.running, [1, [1, 1]]);
      assert.deepEqual(out.saved, [0, 1]);
      assert.deepEqual((out.undefine_saved as unknown[]).slice(0, 2), [55, 12], 'R2: managed save image needs the flag');
      assert.equal((out.gone as unknown[])[0], 42);
      assert.deepEqual(out.transient_undefine, [55, 12, 'Requested operation is not valid: cannot undefine transient domain']);
      assert.equal((out.transient_save as unknown[])[0], 55);
      assert.equal(out.transient_gone, 42, 'R5: a transient domain goes when it stops');
      assert.deepEqual(out.ro, [29, 20, 'operation forbidden: read only access prevents virDomainDefineXML']);
    });
  }
});
