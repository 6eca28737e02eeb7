/**
 * The generated table of libvirt's procedures (scripts/gen-procedure-names.py): every API name it
 * puts in an error message is a function Debian's libvirt.so.0 exports, the names gendispatch's
 * fix-ups produce are libvirt's spelling, and tsvirt's own procedure table agrees with it. Also
 * what the daemon answers for a procedure it lacks (src/rpc/unsupported.ts), and that the remote
 * driver rebuilds that error field for field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { LIBVIRT_PROTOCOL_VERSION, REMOTE_PROCEDURES, unservedCall } from '../src/rpc/unsupported.js';
import { PROCEDURES, Proc } from '../src/rpc/procedures.js';
import { ErrorDomain, ErrorNumber } from '../src/core/enums.generated.js';
import { toWireError } from '../src/daemon/errors.js';
import { fromWireError } from '../src/drivers/remote/client.js';
import { LIBVIRT_SO, missing } from './support/host-tools.js';

const NETWORK_CREATE = 39;
const apis = (): string[] => [...REMOTE_PROCEDURES.values()].flatMap((p) => (p.kind === 'api' ? [p.api] : []));

test('the table covers libvirt 9.0.0: procedures 1 to 443 without gaps, the last DOMAIN_FD_ASSOCIATE', () => {
  assert.equal(LIBVIRT_PROTOCOL_VERSION, '9.0.0');
  const nums = [...REMOTE_PROCEDURES.keys()];
  assert.deepEqual(nums, Array.from({ length: 443 }, (_, i) => i + 1));
  assert.equal(REMOTE_PROCEDURES.get(443)?.name, 'DOMAIN_FD_ASSOCIATE');
});

test("names follow gendispatch's fix-ups and libvirt's real entry points", () => {
  const api = (n: number): string | undefined => {
    const p = REMOTE_PROCEDURES.get(n);
    return p?.kind === 'api' ? p.api : undefined;
  };
  assert.equal(api(24), 'virDomainLookupByUUID');
  assert.equal(api(22), 'virDomainLookupByID');
  assert.equal(api(14), 'virDomainGetXMLDesc');
  assert.equal(api(19), 'virDomainGetOSType');
  assert.equal(api(158), 'virConnectCompareCPU');
  assert.equal(api(200), 'virDomainGetVcpusFlags');
  assert.equal(api(110), 'virConnectGetURI');
  assert.equal(api(343), 'virDomainOpenGraphicsFD'); // no fix-up: found by the API's own spelling
  assert.equal(api(316), 'virConnectDomainEventRegisterAny'); // CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY
  assert.equal(api(344), 'virConnectGetAllDomainStats');
  // Events are messages from server to client; the authentication steps have no public API.
  assert.equal(REMOTE_PROCEDURES.get(107)?.kind, 'event');
  assert.equal(REMOTE_PROCEDURES.get(67)?.kind, 'internal');
});

test('the read-only check and error domain come from the API: write APIs refuse, conditional checks do not count', () => {
  const get = (n: number) => REMOTE_PROCEDURES.get(n);
  assert.deepEqual(get(32), { name: 'DOMAIN_SET_VCPUS', kind: 'api', api: 'virDomainSetVcpus', domain: ErrorDomain.DOMAIN, write: true });
  // virDomainGetVcpusFlags checks read-only only with VIR_DOMAIN_VCPU_GUEST.
  const vcpus = get(200);
  assert.ok(vcpus?.kind === 'api' && !vcpus.write, JSON.stringify(vcpus));
  const snap = get(192);
  assert.ok(snap?.kind === 'api' && snap.domain === ErrorDomain.DOMAIN_SNAPSHOT && snap.write, JSON.stringify(snap));
  const net = get(NETWORK_CREATE);
  assert.ok(net?.kind === 'api' && net.domain === ErrorDomain.NETWORK && net.write, JSON.stringify(net));
});

test("tsvirt's procedure table agrees with libvirt's: same name, API and read-only rule", () => {
  for (const [num, spec] of PROCEDURES) {
    const known = REMOTE_PROCEDURES.get(num);
    assert.equal(known?.name, spec.name, `procedure ${num}`);
    if (known?.kind === 'api') {
      assert.equal(known.api, spec.api, spec.name);
      assert.equal(known.write, spec.mutating, `${spec.name}: read-only rule`);
    } else {
      // AUTH_LIST, tsvirt's only authentication step, has no public API.
      assert.equal(num, Proc.AUTH_LIST);
    }
  }
});

test('every API name of the table is a function exported by libvirt.so.0', { skip: missing("libvirt's shared library", 'python3') }, () => {
  // dlsym through python's ctypes: the dynamic symbol table, as any libvirt client links to it.
  const script = [
    'import ctypes, sys',
    `lib = ctypes.CDLL(${JSON.stringify(LIBVIRT_SO)})`,
    'names = sys.stdin.read().split()',
    'print("\\n".join(n for n in names if not hasattr(lib, n)))',
  ].join('\n');
  const names = apis();
  assert.ok(names.length > 380, `${names.length} API names`);
  const r = spawnSync('/usr/bin/python3', ['-c', script], { input: names.join('\n'), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').filter((l) => l !== ''), []);
  // And the check can fail: a name libvirt does not have.
  const bad = spawnSync('/usr/bin/python3', ['-c', script], { input: 'virDomainGetVCPUsFlags', encoding: 'utf8' });
  assert.equal(bad.stdout.trim(), 'virDomainGetVCPUsFlags');
});

test('unservedCall: libvirtd\'s answers for a procedure tsvirt lacks', () => {
  assert.deepEqual(unservedCall(9999, false), { kind: 'unknown' });
  assert.deepEqual(unservedCall(0, false), { kind: 'unknown' });
  assert.deepEqual(unservedCall(-1, false), { kind: 'unknown' });
  assert.deepEqual(unservedCall(444, false), { kind: 'unknown' });
  assert.deepEqual(unservedCall(107, false), { kind: 'unknown' }); // an event message sent as a call
  const no = unservedCall(200, false);
  assert.ok(no.kind === 'refused' && no.notOpen !== null);
  assert.equal(no.notOpen.message, 'internal error: hypervisor connection not open');
  assert.deepEqual(
    [no.error.code, no.error.domain, no.error.message, no.error.str1, no.error.str2],
    [
      ErrorNumber.NO_SUPPORT,
      ErrorDomain.DOMAIN,
      'this function is not supported by the connection driver: virDomainGetVcpusFlags',
      'this function is not supported by the connection driver: %s',
      'virDomainGetVcpusFlags',
    ],
  );
  // Read APIs stay NO_SUPPORT on a read-only connection; write APIs are refused first.
  const roRead = unservedCall(200, true);
  assert.ok(roRead.kind === 'refused' && roRead.error.code === ErrorNumber.NO_SUPPORT);
  const ro = unservedCall(32, true);
  assert.ok(ro.kind === 'refused');
  assert.deepEqual([ro.error.code, ro.error.domain, ro.error.message], [ErrorNumber.OPERATION_DENIED, ErrorDomain.DOMAIN, 'operation forbidden: read only access prevents virDomainSetVcpus']);
  const rw = unservedCall(32, false);
  assert.ok(rw.kind === 'refused' && rw.error.code === ErrorNumber.NO_SUPPORT);
  const sasl = unservedCall(67, false);
  assert.ok(sasl.kind === 'refused' && sasl.notOpen === null);
  assert.deepEqual([sasl.error.code, sasl.error.domain, sasl.error.message], [ErrorNumber.AUTH_FAILED, ErrorDomain.RPC, 'authentication failed: authentication failed']);
  assert.equal(REMOTE_PROCEDURES.get(NETWORK_CREATE)?.name, 'NETWORK_CREATE');
  const net = unservedCall(NETWORK_CREATE, false);
  assert.ok(net.kind === 'refused' && net.error.domain === ErrorDomain.NETWORK, JSON.stringify(net));
  // libvirtd serves networks on a secondary connection, and names no hypervisor before it opens.
  assert.equal(net.notOpen?.message, 'internal error: connection not open');
});

test("the remote driver rebuilds the daemon's NO_SUPPORT error unchanged", () => {
  const answer = unservedCall(344, false);
  assert.ok(answer.kind === 'refused');
  const e = fromWireError(toWireError(answer.error));
  for (const k of ['code', 'domain', 'message', 'level', 'str1', 'str2', 'str3', 'int1', 'int2'] as const) assert.equal(e[k], answer.error[k], k);
  assert.equal(e.message, 'this function is not supported by the connection driver: virConnectGetAllDomainStats');
});
