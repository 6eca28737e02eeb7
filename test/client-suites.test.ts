/**
 * What libvirt's own client suites (libvirt-python's tests/, Sys::Virt's t/, libvirt-tck's
 * scripts/domain; run by hand with scripts/libvirt-suites.sh) found missing or wrong in tsvirtd,
 * as tests of tsvirt's own: each runs the suite's steps with python-libvirt against tsvirtd and,
 * where a libvirtd can be started here, against libvirtd's test driver too, and compares.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { python, pythonLibvirtSkip, startDaemon, type RunningDaemon } from './support/daemon-harness.js';
import { startLibvirtd, type RunningLibvirtd } from './support/libvirtd-harness.js';

/** Runs a python-libvirt script with the URI as argv[1]; returns its JSON output. */
function run(script: string, uri: string): unknown {
  const r = python(script, uri);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const PRELUDE = String.raw`
import libvirt, sys, json
libvirt.registerErrorHandler(lambda *a: None, None)
def err(f):
    try:
        f()
        return None
    except libvirt.libvirtError as e:
        return [e.get_error_code(), e.get_error_domain(), e.get_error_message()]
c = libvirt.open(sys.argv[1])
out = {}
`;

describe('what the client suites found, through tsvirtd beside libvirtd', { skip: pythonLibvirtSkip(), timeout: 60_000 }, () => {
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

  /** The script's answer on tsvirtd, checked against `expected`, then against libvirtd's. */
  function sideBySide(t: { skip: (why: string) => void }, script: string, expected: unknown): void {
    const ours = run(PRELUDE + script, daemon.uri('/default'));
    assert.deepEqual(ours, expected);
    if ('skip' in libvirtd) return t.skip(libvirtd.skip);
    assert.deepEqual(ours, run(PRELUDE + script, libvirtd.uri('/default')));
  }

  test('createXML of an inactive persistent domain with the same name and UUID starts it (libvirt-tck domain/081)', (t) => {
    // tsvirt took the domain's job for the create, then refused because the domain had a job: its own.
    sideBySide(
      t,
      String.raw`
xml = "<domain type='test'><name>tck1</name><uuid>11111111-1111-1111-1111-111111111111</uuid><memory>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>"
d = c.defineXML(xml)
d2 = c.createXML(xml, 0)
out['started'] = [d2.name(), d2.isActive(), d2.isPersistent(), d.state()[0]]
out['again'] = err(lambda: c.createXML(xml, 0))
d2.destroy()
out['after_destroy'] = [d.isActive(), d.isPersistent()]
d.undefine()
print(json.dumps(out))
`,
      {
        started: ['tck1', 1, 1, 1],
        again: [55, 20, "Requested operation is not valid: domain 'tck1' is already active"],
        after_destroy: [0, 1],
      },
    );
  });
});
