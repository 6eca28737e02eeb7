/**
 * The very same virsh scripts against a live libvirtd (its test driver, started as nobody by
 * test/support/libvirtd-harness.ts) and against tsvirtd, both on test:///default: every step's
 * exit code, output and error message must match. Where tsvirt deliberately follows the qemu
 * driver's rules rather than libvirt's test driver (README, "differences from libvirt"), the step
 * names the difference (LIBVIRT_DIFFERENCES) and the test checks that each side does what it says.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Proc, legacyLifecycleMsg, openArgs, retDom, xml } from '../src/rpc/procedures.js';
import { decode } from '../src/rpc/xdr.js';
import { struct, uuidFromString, xDomain, xString, xUint, type WireDomain } from '../src/rpc/protocol.js';
import type { Codec } from '../src/rpc/xdr.js';
import { MessageStatus } from '../src/rpc/message.js';
import { RawClient, errorOf, virsh, virshSkip, type Run, type RunningDaemon } from './support/daemon-harness.js';
import { type RunningLibvirtd } from './support/libvirtd-harness.js';
import { startSideBySide, type SideBySide } from './support/side-by-side.js';
import { LIBVIRT_DIFFERENCES } from './support/remote-scenarios.js';

/** Differences that only show in virsh's output, beyond the rules' (LIBVIRT_DIFFERENCES). */
const OUTPUT_DIFFERENCES = {
  dominfoExtras:
    "virsh dominfo: libvirt's test driver reports the time of day as every domain's CPU time (even shut off) and a " +
    "'testSecurity' security model with the label 'libvirt-test (enforcing)' on running domains; tsvirt reports the CPU " +
    'time the guest used (none when shut off) and no security model',
} as const;
/** Where tsvirt's test-driver capabilities differ from libvirt's (virsh capabilities). */
const CAPABILITIES_DIFFERENCES = {
  x86_64Guest:
    "tsvirt's test driver lists an x86_64 hvm guest besides libvirt's two i686 guests (hvm, xen): it runs x86_64 " +
    'domains, and clients look the arch of a domain up in the capabilities',
  noSecmodel:
    "libvirt's test driver lists a 'testSecurity' <secmodel>; tsvirt has no security driver and lists none (as its " +
    'NODE_GET_SECURITY_MODEL and dominfo say)',
} as const;
const DIFFERENCES = { ...LIBVIRT_DIFFERENCES, ...OUTPUT_DIFFERENCES };
type Difference = keyof typeof DIFFERENCES;

/** One virsh invocation. `@NAME` in args is the path of the file NAME in the side's directory. */
interface Step {
  args: string[];
  /** Write stdout to this file (for snapshot-dumpxml → snapshot-create --redefine). */
  saveAs?: string;
  /** A known difference: then `tsvirt` and `libvirtd` say what each side must print. */
  differs?: { why: Difference; tsvirt: Partial<Run>; libvirtd: Partial<Run> };
  /** Output lines that differ for a named reason, left out of the comparison on both sides. */
  ignoreLines?: { why: Difference; pattern: RegExp };
}

interface Script {
  name: string;
  /** Files written to each side's directory first. */
  files: Record<string, string>;
  steps: Step[];
}

function domXML(name: string, uuid: string): string {
  return `<domain type='test'>\n  <name>${name}</name>\n  <uuid>${uuid}</uuid>\n  <memory unit='KiB'>1048576</memory>\n  <vcpu>1</vcpu>\n  <os><type arch='x86_64'>hvm</type></os>\n</domain>\n`;
}

const u = (): string => randomUUID();
const ok = (...args: string[]): Step => ({ args });
const dominfo = (name: string): Step => ({
  args: ['dominfo', name],
  ignoreLines: { why: 'dominfoExtras', pattern: /^(CPU time|Security model|Security DOI|Security label):/ },
});

const SCRIPTS: Script[] = [
  {
    // virsh builds or finds the device XML itself (from the domain's XML tsvirtd serves); the calls
    // then reach the driver, where libvirt 9.0's test driver has none.
    name: 'devices: attach-disk/-interface XML, detach-disk/-interface lookups and their errors; the device calls themselves',
    files: { 'disk.xml': "<disk type='file'><source file='/nonexistent/d.img'/><target dev='vdb'/></disk>\n" },
    steps: [
      ok('attach-disk', 'test', '/nonexistent/x.img', 'vdb', '--print-xml'),
      ok('attach-disk', 'test', '/nonexistent/x.img', 'hdc', '--type', 'cdrom', '--mode', 'readonly', '--driver', 'qemu', '--subdriver', 'raw', '--targetbus', 'ide', '--alias', 'ua-cd', '--print-xml'),
      ok('attach-disk', 'test', '/nonexistent/x.img', 'vdc', '--mode', 'shareable', '--cache', 'none', '--serial', 'abc', '--print-xml'),
      ok('attach-disk', 'test', '/nonexistent/x.img', 'vdb', '--mode', 'bogus'),
      ok('attach-interface', 'test', 'network', 'default', '--model', 'virtio', '--mac', '52:54:00:11:22:33', '--target', 'vnet7', '--alias', 'ua-n', '--print-xml'),
      ok('attach-interface', 'test', 'user', 'x'),
      ok('detach-disk', 'test', 'vdz'),
      ok('detach-disk', 'test', 'vda', '--print-xml'),
      ok('detach-disk', 'test', '/guest/diskimage1', '--print-xml'),
      ok('detach-interface', 'test', 'bridge'),
      ok('detach-interface', 'test', 'network', '--mac', '00:11:22:33:44:55'),
      ok('detach-interface', 'test', 'network', '--mac', 'AA:BB:CC:DD:EE:FF', '--print-xml'),
      ok('attach-device', 'test', '/nonexistent/device.xml'),
      ok('attach-device', 'test', '@disk.xml', '--live', '--current'),
      ok('detach-device', 'test', '@disk.xml', '--persistent', '--current'),
      {
        args: ['attach-device', 'test', '@disk.xml'],
        differs: {
          why: 'deviceCalls',
          libvirtd: { code: 1, stdout: '' },
          tsvirt: { code: 0, stdout: '', stderr: '' },
        },
      },
      {
        args: ['detach-disk', 'test', 'vdb', '--live'],
        differs: {
          why: 'deviceCalls',
          libvirtd: { code: 1, stdout: '' },
          tsvirt: { code: 0, stdout: '', stderr: '' },
        },
      },
      {
        args: ['detach-device-alias', 'test', 'ua-none'],
        differs: {
          why: 'deviceCalls',
          libvirtd: { code: 1, stderr: 'error: Failed to detach device with alias ua-none\nerror: this function is not supported by the connection driver: virDomainDetachDeviceAlias\n' },
          tsvirt: { code: 1, stderr: 'error: Failed to detach device with alias ua-none\nerror: internal error: no device found with alias ua-none\n' },
        },
      },
    ],
  },
  { name: 'host: nodeinfo, sysinfo and list', files: {}, steps: [ok('nodeinfo'), ok('sysinfo'), ok('list', '--all')] },
  {
    // Neither libvirt's test driver nor tsvirt has these: the same NO_SUPPORT error naming the API.
    name: 'functions neither driver has: guestinfo, blockjob --info, domjobinfo, domdirtyrate-calc, guestvcpus',
    files: {},
    steps: [
      ok('guestinfo', 'test'),
      ok('blockjob', 'test', 'vda', '--info'),
      ok('domjobinfo', 'test'),
      ok('domdirtyrate-calc', 'test'),
      ok('guestvcpus', 'test'),
    ],
  },
  {
    name: 'dumpxml flags: --update-cpu refused by the test driver (R7), --migratable and --inactive given',
    files: {},
    steps: [ok('dumpxml', 'test', '--update-cpu'), ok('dumpxml', 'test', '--migratable'), ok('dumpxml', 'test', '--inactive')],
  },
  {
    name: 'R1: undefine of a transient domain',
    files: { 'sb1.xml': domXML('sb1', u()) },
    steps: [
      ok('create', '@sb1.xml'),
      {
        args: ['undefine', 'sb1'],
        differs: {
          why: 'transientUndefine',
          tsvirt: { code: 1, stderr: 'error: Failed to undefine domain \'sb1\'\nerror: Requested operation is not valid: cannot undefine transient domain\n' },
          libvirtd: { code: 0 },
        },
      },
      ok('destroy', 'sb1'),
      ok('list', '--all', '--name'),
    ],
  },
  {
    name: 'R2: undefine with a managed save image, with and without --managed-save',
    files: { 'sb2.xml': domXML('sb2', u()) },
    steps: [
      ok('define', '@sb2.xml'),
      ok('start', 'sb2'),
      ok('managedsave', 'sb2'),
      dominfo('sb2'),
      ok('undefine', 'sb2'),
      ok('undefine', 'sb2', '--managed-save'),
      ok('list', '--all', '--name'),
    ],
  },
  {
    name: 'R3: undefine of an inactive domain with snapshots, with and without --snapshots-metadata',
    files: { 'sb3.xml': domXML('sb3', u()) },
    steps: [
      ok('define', '@sb3.xml'),
      ok('snapshot-create-as', 'sb3', 's1'),
      ok('snapshot-create-as', 'sb3', 's2'),
      ok('snapshot-list', 'sb3', '--name'),
      ok('undefine', 'sb3'),
      ok('snapshot-list', 'sb3', '--name'),
      ok('undefine', 'sb3', '--snapshots-metadata'),
      ok('list', '--all', '--name'),
    ],
  },
  {
    name: 'R4: undefine of a running domain keeps it running, transient, with its snapshots',
    files: { 'sb4.xml': domXML('sb4', u()) },
    steps: [
      ok('define', '@sb4.xml'),
      ok('start', 'sb4'),
      ok('snapshot-create-as', 'sb4', 's1'),
      ok('undefine', 'sb4'),
      ok('domstate', 'sb4'),
      ok('snapshot-list', 'sb4', '--name'),
      ok('destroy', 'sb4'),
      ok('list', '--all', '--name'),
    ],
  },
  {
    name: 'R5/R6: a transient domain that quits leaves nothing to a new one with its name and UUID',
    files: (() => {
      const id = u();
      return { 'sb5.xml': domXML('sb5', id) };
    })(),
    steps: [
      ok('create', '@sb5.xml'),
      ok('snapshot-create-as', 'sb5', 's1'),
      ok('destroy', 'sb5'),
      ok('define', '@sb5.xml'),
      ok('snapshot-list', 'sb5', '--name'),
      dominfo('sb5'),
      ok('undefine', 'sb5'),
    ],
  },
  {
    name: 'R7: an unsupported flag fails before anything changes',
    files: { 'sb7.xml': domXML('sb7', u()) },
    steps: [ok('define', '@sb7.xml'), ok('undefine', 'sb7', '--nvram'), ok('list', '--all', '--name'), ok('undefine', 'sb7')],
  },
  {
    name: 'R8: shutdown and destroy',
    files: { 'sb8.xml': domXML('sb8', u()) },
    steps: [
      ok('define', '@sb8.xml'),
      ok('start', 'sb8'),
      ok('shutdown', 'sb8'),
      ok('domstate', 'sb8'),
      ok('start', 'sb8'),
      ok('destroy', 'sb8'),
      ok('domstate', 'sb8'),
      ok('undefine', 'sb8'),
    ],
  },
  {
    name: 'R10: snapshot XML captured, domain removed and redefined, snapshots REDEFINEd',
    files: { 'sb10.xml': domXML('sb10', u()) },
    steps: [
      ok('define', '@sb10.xml'),
      ok('snapshot-create-as', 'sb10', 'a'),
      { args: ['snapshot-dumpxml', 'sb10', 'a'], saveAs: 'a.snap.xml' },
      ok('undefine', 'sb10', '--snapshots-metadata'),
      ok('define', '@sb10.xml'),
      ok('snapshot-create', 'sb10', '@a.snap.xml', '--redefine', '--current'),
      ok('snapshot-list', 'sb10', '--name'),
      ok('snapshot-current', 'sb10', '--name'),
      ok('undefine', 'sb10', '--snapshots-metadata'),
    ],
  },
  {
    name: 'checkpoints: create, list, tree, info, parent, dumpxml, delete, and the undefine rule',
    files: {
      'sbc.xml': domXML('sbc', u()).replace(
        '</domain>',
        "  <devices><disk type='file' device='disk'><source file='/guest/sbc.img'/><target dev='vda' bus='virtio'/></disk></devices>\n</domain>",
      ),
    },
    steps: [
      ok('define', '@sbc.xml'),
      ok('start', 'sbc'),
      ok('checkpoint-create-as', 'sbc', 'c1'),
      ok('checkpoint-create-as', 'sbc', 'c2', '--description', 'second'),
      ok('checkpoint-create-as', 'sbc', 'c3'),
      ok('checkpoint-list', 'sbc', '--name'),
      ok('checkpoint-list', 'sbc', '--tree'),
      ok('checkpoint-list', 'sbc', '--roots', '--name'),
      ok('checkpoint-list', 'sbc', '--leaves', '--name'),
      ok('checkpoint-list', 'sbc', '--from', 'c1', '--descendants', '--name'),
      ok('checkpoint-info', 'sbc', 'c1'),
      ok('checkpoint-parent', 'sbc', 'c2'),
      ok('checkpoint-parent', 'sbc', 'c1'),
      ok('checkpoint-dumpxml', 'sbc', 'c2'),
      ok('checkpoint-dumpxml', 'sbc', 'c2', '--no-domain'),
      ok('checkpoint-create-as', 'sbc', 'c1'),
      ok('checkpoint-delete', 'sbc', 'c2'),
      ok('checkpoint-parent', 'sbc', 'c3'),
      ok('checkpoint-delete', 'sbc', 'c1', '--children-only'),
      ok('checkpoint-list', 'sbc', '--name'),
      ok('list', '--all', '--with-checkpoint', '--name'),
      ok('checkpoint-delete', 'sbc', 'nope'),
      ok('destroy', 'sbc'),
      ok('checkpoint-create-as', 'sbc', 'off'),
      {
        args: ['undefine', 'sbc'],
        differs: {
          why: 'checkpointUndefine',
          tsvirt: {
            code: 1,
            stderr: "error: Failed to undefine domain 'sbc'\nerror: Requested operation is not valid: cannot delete inactive domain with 1 checkpoints\n",
          },
          libvirtd: { code: 0 },
        },
      },
      {
        args: ['undefine', 'sbc', '--checkpoints-metadata'],
        differs: {
          why: 'checkpointUndefine',
          tsvirt: { code: 0 },
          libvirtd: { code: 1 },
        },
      },
      ok('list', '--all', '--name'),
    ],
  },
  {
    name: 'R11: managed save of a transient domain; start resumes from the image and removes it',
    files: { 'sb11t.xml': domXML('sb11t', u()), 'sb11.xml': domXML('sb11', u()) },
    steps: [
      ok('create', '@sb11t.xml'),
      ok('managedsave', 'sb11t'),
      ok('destroy', 'sb11t'),
      ok('define', '@sb11.xml'),
      ok('start', 'sb11'),
      ok('managedsave', 'sb11'),
      ok('domstate', 'sb11'),
      ok('start', 'sb11'),
      {
        args: ['domstate', 'sb11', '--reason'],
        differs: { why: 'restoreBooted', tsvirt: { code: 0, stdout: 'running (restored)\n' }, libvirtd: { code: 0, stdout: 'running (booted)\n' } },
      },
      dominfo('sb11'),
      ok('destroy', 'sb11'),
      ok('undefine', 'sb11'),
    ],
  },
];

/**
 * What may differ between two runs of the same step without meaning anything: a snapshot's
 * creation time (seconds), when the two sides' steps straddle a second.
 */
function normalize(r: Run): Run {
  return { code: r.code, stdout: r.stdout.replace(/<creationTime>\d+<\/creationTime>/g, '<creationTime>T</creationTime>'), stderr: r.stderr };
}

interface Side {
  name: 'tsvirt' | 'libvirtd';
  uri: string;
  dir: string;
}

function runStep(side: Side, step: Step): Run {
  const args = step.args.map((a) => (a.startsWith('@') ? join(side.dir, a.slice(1)) : a));
  const r = normalize(virsh(side.uri, ...args));
  if (step.ignoreLines !== undefined) {
    const re = step.ignoreLines.pattern;
    r.stdout = r.stdout
      .split('\n')
      .filter((l) => !re.test(l))
      .join('\n');
  }
  if (step.saveAs !== undefined) writeFileSync(join(side.dir, step.saveAs), r.stdout);
  return r;
}

function pick(r: Run, keys: Partial<Run>): Partial<Run> {
  return Object.fromEntries(Object.keys(keys).map((k) => [k, r[k as keyof Run]]));
}

const noVirsh = virshSkip();

describe('the same virsh scripts against libvirtd and tsvirtd', { skip: noVirsh }, () => {
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

  test('virsh capabilities: the same document but for the named differences', async (t) => {
    if (lv === undefined) {
      t.skip(`no libvirtd to compare with: ${lvSkip}`);
      return;
    }
    const lr = virsh(lv.uri('/default'), 'capabilities');
    const tr = virsh(d!.uri('/default'), 'capabilities');
    assert.equal(lr.code, 0, lr.stderr);
    assert.equal(tr.code, 0, tr.stderr);
    // Each difference must be there (else it is no longer one) and be all there is.
    const secmodel = /\n {4}<secmodel>\n {6}<model>testSecurity<\/model>\n {6}<doi><\/doi>\n {4}<\/secmodel>/;
    assert.match(lr.stdout, secmodel, CAPABILITIES_DIFFERENCES.noSecmodel);
    assert.doesNotMatch(tr.stdout, /<secmodel>/, CAPABILITIES_DIFFERENCES.noSecmodel);
    const x86Guest = /\n {2}<guest>\n {4}<os_type>hvm<\/os_type>\n {4}<arch name='x86_64'>[\s\S]*?<\/guest>\n/;
    assert.doesNotMatch(lr.stdout, /<arch name='x86_64'>/, CAPABILITIES_DIFFERENCES.x86_64Guest);
    assert.match(tr.stdout, x86Guest, CAPABILITIES_DIFFERENCES.x86_64Guest);
    assert.equal(tr.stdout.replace(x86Guest, ''), lr.stdout.replace(secmodel, ''));
    assert.equal(tr.stderr, lr.stderr);
  });

  test('legacy event procedures (105/106, events as 107): the same replies, errors and messages', async (t) => {
    if (lv === undefined) {
      t.skip(`no libvirtd to compare with: ${lvSkip}`);
      return;
    }
    const transcript = async (sock: string): Promise<unknown[]> => {
      const c = await RawClient.connect(sock);
      const out: unknown[] = [];
      let cleanup: (() => ReturnType<RawClient['call']>) | undefined;
      const note = (step: string, f: Awaited<ReturnType<RawClient['call']>>) =>
        out.push([step, f.header.status === MessageStatus.OK ? f.payload.toString('hex') : errorOf(f)]);
      try {
        await c.call(Proc.AUTH_LIST);
        await c.callWith(Proc.CONNECT_OPEN, openArgs, { name: 'test:///default', flags: 0 });
        note('deregister before register', await c.call(Proc.CONNECT_DOMAIN_EVENT_DEREGISTER));
        note('register', await c.call(Proc.CONNECT_DOMAIN_EVENT_REGISTER));
        note('register again', await c.call(Proc.CONNECT_DOMAIN_EVENT_REGISTER));
        const name = 'sblegacy';
        const def = await c.callWith(Proc.DOMAIN_DEFINE_XML, xml, { xml: domXML(name, u()) });
        assert.equal(def.header.status, MessageStatus.OK);
        // The shared test:///default outlives this client: the domain goes again at the end.
        cleanup = () => c.callWith(Proc.DOMAIN_UNDEFINE, retDom, decode(retDom, def.payload));
        const end = Date.now() + 5000;
        while (c.messages.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
        await new Promise((r) => setTimeout(r, 100)); // any duplicate would arrive by now
        for (const m of c.messages.splice(0)) {
          const ev = decode(legacyLifecycleMsg, m.payload);
          out.push(['event', m.header.proc, m.header.type, m.header.serial, ev.dom.name === name, ev.dom.id, ev.event, ev.detail]);
        }
        note('deregister', await c.call(Proc.CONNECT_DOMAIN_EVENT_DEREGISTER));
        note('deregister again', await c.call(Proc.CONNECT_DOMAIN_EVENT_DEREGISTER));
        return out;
      } finally {
        if (cleanup !== undefined) assert.equal((await cleanup()).header.status, MessageStatus.OK);
        c.close();
      }
    };
    const [l, ts] = [await transcript(lv.socket), await transcript(d!.rw)];
    assert.deepEqual(ts, l);
    // DEFINED/ADDED as one legacy message (proc 107, MESSAGE, serial 1).
    assert.deepEqual(l.filter((x) => Array.isArray(x) && x[0] === 'event'), [['event', 107, 2, 1, true, -1, 0, 0]]);
  });

  test('procedures tsvirtd lacks, by raw call: the same errors as libvirtd before and after CONNECT_OPEN', async (t) => {
    if (lv === undefined) {
      t.skip(`no libvirtd to compare with: ${lvSkip}`);
      return;
    }
    const dom = { name: 'test', uuid: uuidFromString('6695eb01-f6a4-8304-79aa-97f2502e193f'), id: 1 };
    // Arguments that decode: libvirtd decodes them before it looks for a connection.
    const guestInfo = struct<{ dom: WireDomain; types: number; flags: number }>({ dom: xDomain, types: xUint, flags: xUint });
    const uuid16: Codec<Buffer> = { enc: (w, v) => void w.opaqueFixed(v, 16), dec: (r) => r.opaqueFixed(16) };
    const network = struct<{ name: string; uuid: Buffer }>({ name: xString, uuid: uuid16 }); // remote_nonnull_network
    const transcript = async (sock: string): Promise<unknown[]> => {
      const c = await RawClient.connect(sock);
      const err = (f: Awaited<ReturnType<RawClient['call']>>) => (f.header.status === MessageStatus.OK ? 'OK' : errorOf(f));
      try {
        const out: unknown[] = [];
        await c.call(Proc.AUTH_LIST);
        out.push(err(await c.callWith(418, guestInfo, { dom, types: 0, flags: 0 }))); // DOMAIN_GET_GUEST_INFO
        out.push(err(await c.callWith(39, network, { name: 'default', uuid: Buffer.alloc(16) }))); // NETWORK_CREATE
        out.push(err(await c.call(9999)));
        await c.callWith(Proc.CONNECT_OPEN, openArgs, { name: 'test:///default', flags: 0 });
        out.push(err(await c.callWith(418, guestInfo, { dom, types: 0, flags: 0 })));
        out.push(err(await c.call(107))); // an event message, sent as a call
        out.push(err(await c.call(9999)));
        return out;
      } finally {
        c.close();
      }
    };
    const [l, ts] = [await transcript(lv.socket), await transcript(d!.rw)];
    assert.deepEqual(ts, l);
    assert.deepEqual(
      (l as { message: string }[]).map((e) => e.message),
      [
        'internal error: hypervisor connection not open',
        'internal error: connection not open',
        'unknown procedure: 9999',
        'this function is not supported by the connection driver: virDomainGetGuestInfo',
        'unknown procedure: 107',
        'unknown procedure: 9999',
      ],
    );
  });

  for (const script of SCRIPTS) {
    test(script.name, async (t) => {
      if (lv === undefined) {
        t.skip(`no libvirtd to compare with: ${lvSkip}`);
        return;
      }
      const sides: Side[] = [
        { name: 'libvirtd', uri: lv.uri('/default'), dir: lv.dir },
        { name: 'tsvirt', uri: d!.uri('/default'), dir: d!.dir },
      ];
      for (const side of sides) for (const [f, body] of Object.entries(script.files)) writeFileSync(join(side.dir, f), body);
      for (const step of script.steps) {
        const [lr, tr] = sides.map((s) => runStep(s, step)) as [Run, Run];
        const what = `virsh ${step.args.join(' ')}`;
        if (step.differs === undefined) {
          assert.deepEqual(tr, lr, `${what}: tsvirtd answered otherwise than libvirtd`);
        } else {
          const why = DIFFERENCES[step.differs.why];
          assert.deepEqual(pick(lr, step.differs.libvirtd), step.differs.libvirtd, `${what} on libvirtd (difference: ${why})`);
          assert.deepEqual(pick(tr, step.differs.tsvirt), step.differs.tsvirt, `${what} on tsvirtd (difference: ${why})`);
          assert.notDeepEqual(tr, lr, `${what}: listed as a difference (${why}) but both sides agree`);
        }
      }
    });
  }
});
