/**
 * Procedures tsvirtd does not implement, answered as libvirtd answers them for a driver that lacks
 * the function: real virsh and python-libvirt see VIR_ERR_NO_SUPPORT naming the public API, a
 * write API on the read-only socket is refused as read-only first, and only a number libvirt has
 * no dispatcher for gets "unknown procedure: N".
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageStatus } from '../src/rpc/message.js';
import { Proc, openArgs, domFlags } from '../src/rpc/procedures.js';
import { uuidFromString } from '../src/rpc/protocol.js';
import { RawClient, errorOf, python, pythonLibvirtSkip, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';

const NO_SUPPORT = 'this function is not supported by the connection driver: ';
const testDom = { name: 'test', uuid: uuidFromString('6695eb01-f6a4-8304-79aa-97f2502e193f'), id: 1 };

async function opened(path: string): Promise<RawClient> {
  const c = await RawClient.connect(path);
  await c.call(Proc.AUTH_LIST);
  const r = await c.callWith(Proc.CONNECT_OPEN, openArgs, { name: 'test:///default', flags: 0 });
  assert.equal(r.header.status, MessageStatus.OK);
  return c;
}

describe('procedures tsvirtd lacks', () => {
  let d: RunningDaemon;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d?.dispose();
  });

  // virsh command → the API libvirt names when the driver lacks it.
  const VIRSH: [string[], string][] = [
    [['iothreadinfo', 'test'], 'virDomainGetIOThreadInfo'],
    [['perf', 'test'], 'virDomainGetPerfEvents'],
    [['blkdeviotune', 'test', 'vda'], 'virDomainGetBlockIoTune'],
    [['domblkerror', 'test'], 'virDomainGetDiskErrors'],
    [['domjobinfo', 'test'], 'virDomainGetJobInfo'],
  ];

  for (const [args, api] of VIRSH) {
    test(`virsh ${args.join(' ')}: "${NO_SUPPORT}${api}", on either socket`, { skip: virshSkip() }, () => {
      for (const ro of [false, true]) {
        const r = virsh(d.uri('/default', ro), ...args);
        assert.equal(r.code, 1, `${ro ? 'ro' : 'rw'}: ${r.stdout}${r.stderr}`);
        const lines = r.stderr.trim().split('\n');
        assert.equal(lines.at(-1), `error: ${NO_SUPPORT}${api}`, r.stderr);
      }
    });
  }

  test('virsh iothreadadd: NO_SUPPORT on the read-write socket, read-only refusal first on the read-only one', { skip: virshSkip() }, () => {
    const rw = virsh(d.uri('/default'), 'iothreadadd', 'test', '1');
    assert.equal(rw.code, 1);
    assert.equal(rw.stderr.trim().split('\n').at(-1), `error: ${NO_SUPPORT}virDomainAddIOThread`);
    const ro = virsh(d.uri('/default', true), 'iothreadadd', 'test', '1');
    assert.equal(ro.code, 1);
    assert.equal(ro.stderr.trim().split('\n').at(-1), 'error: operation forbidden: read only access prevents virDomainAddIOThread');
  });

  test('python-libvirt: libvirtError with code 3 (NO_SUPPORT), domain 20 (VIR_FROM_DOMAIN) and the API name', { skip: pythonLibvirtSkip() }, () => {
    const script = [
      'import sys, libvirt',
      'c = libvirt.open(sys.argv[1])',
      'd = c.lookupByName("test")',
      'for f in (lambda: d.blockIoTune("vda", 0), lambda: d.jobInfo(), lambda: d.ioThreadInfo()):',
      '    try:',
      '        f(); print("no error")',
      '    except libvirt.libvirtError as e:',
      '        print(e.get_error_code(), e.get_error_domain(), e.get_error_message())',
    ].join('\n');
    const r = python(script, d.uri('/default'));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      `3 20 ${NO_SUPPORT}virDomainGetBlockIoTune`,
      `3 20 ${NO_SUPPORT}virDomainGetJobInfo`,
      `3 20 ${NO_SUPPORT}virDomainGetIOThreadInfo`,
    ]);
  });

  test('raw calls: numbers libvirt lacks and event messages are unknown procedures; the connection stays usable', async () => {
    const c = await opened(d.rw);
    try {
      for (const n of [9999, 444, 107, 0]) {
        const e = errorOf(await c.call(n));
        assert.deepEqual([e.code, e.domain, e.message], [39, 7, `unknown procedure: ${n}`], `procedure ${n}`);
      }
      const e = errorOf(await c.callWith(298, domFlags, { dom: testDom, flags: 0 })); // DOMAIN_GET_JOB_STATS
      assert.deepEqual([e.code, e.domain, e.message, e.str1, e.str2], [3, 20, `${NO_SUPPORT}virDomainGetJobStats`, `${NO_SUPPORT}%s`, 'virDomainGetJobStats']);
      const s = await c.callWith(Proc.DOMAIN_GET_STATE, domFlags, { dom: testDom, flags: 0 });
      assert.equal(s.header.status, MessageStatus.OK);
    } finally {
      c.close();
    }
  });

  test('raw calls before CONNECT_OPEN: a known API is "not open", an unsupported auth step fails authentication', async () => {
    const c = await RawClient.connect(d.rw);
    try {
      const e = errorOf(await c.callWith(298, domFlags, { dom: testDom, flags: 0 })); // DOMAIN_GET_JOB_STATS
      assert.deepEqual([e.code, e.message], [1, 'internal error: hypervisor connection not open']);
      const sasl = errorOf(await c.call(67)); // AUTH_SASL_INIT: tsvirtd offers only AUTH_NONE
      assert.deepEqual([sasl.code, sasl.domain, sasl.message], [45, 7, 'authentication failed: authentication failed']);
    } finally {
      c.close();
    }
  });
});
