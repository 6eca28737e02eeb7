/**
 * tsvirtd with Debian's real virsh (libvirt-clients): the seed's scenarios over the wire, with
 * libvirtd's codes and messages, events, and the read-only socket.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Proc, openArgs } from '../src/rpc/procedures.js';
import { MessageStatus } from '../src/rpc/message.js';
import { RawClient, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';

const skip = virshSkip();

function domainXML(name: string): string {
  return `<domain type='test'>\n  <name>${name}</name>\n  <memory unit='KiB'>1048576</memory>\n  <vcpu>1</vcpu>\n  <os><type arch='x86_64'>hvm</type></os>\n</domain>\n`;
}

describe('tsvirtd with real virsh', { skip }, () => {
  let d: RunningDaemon;
  let holder: RawClient;
  let U: string;
  const xml = (name: string) => {
    const p = join(d.dir, `${name}.xml`);
    writeFileSync(p, domainXML(name));
    return p;
  };

  before(async () => {
    d = await startDaemon();
    U = d.uri('/default');
    // As in the captures: one connection holds the shared test:///default state between runs.
    holder = await RawClient.connect(d.rw);
    await holder.call(Proc.AUTH_LIST);
    const open = await holder.callWith(Proc.CONNECT_OPEN, openArgs, { name: 'test:///default', flags: 0 });
    assert.equal(open.header.status, MessageStatus.OK);
  });
  after(async () => {
    holder?.close();
    await d?.dispose();
  });

  test('connect, list --all, dominfo, domstate, dumpxml, version, uri', () => {
    const list = virsh(U, 'list', '--all');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^\s*1\s+test\s+running\s*$/m);
    const info = virsh(U, 'dominfo', 'test');
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /UUID:\s+6695eb01-f6a4-8304-79aa-97f2502e193f/);
    assert.match(info.stdout, /State:\s+running/);
    assert.match(info.stdout, /OS Type:\s+linux/); // libvirt's test driver says linux (daemon-side-by-side)
    assert.equal(virsh(U, 'domstate', 'test').stdout.trim(), 'running');
    assert.match(virsh(U, 'dumpxml', 'test').stdout, /<name>test<\/name>/);
    assert.match(virsh(U, 'version').stdout, /Running hypervisor: TEST 0\.0\.2/);
    assert.equal(virsh(U, 'uri').stdout.trim(), U);
    assert.equal(virsh(U, 'domid', 'test').stdout.trim(), '1');
    assert.equal(virsh(U, 'domname', '6695eb01-f6a4-8304-79aa-97f2502e193f').stdout.trim(), 'test');
  });

  test('R3: undefine of an inactive domain with snapshots is refused (libvirtd\'s code and message) until --snapshots-metadata', () => {
    assert.equal(virsh(U, 'define', xml('d2')).code, 0);
    assert.equal(virsh(U, 'snapshot-create-as', 'd2', 'snapA').code, 0);
    assert.equal(virsh(U, 'snapshot-create-as', 'd2', 'snapB').code, 0);
    const refused = virsh(U, 'undefine', 'd2');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /error: Failed to undefine domain 'd2'\nerror: Requested operation is not valid: cannot delete inactive domain with 2 snapshots/);
    assert.match(virsh(U, 'snapshot-list', 'd2', '--name').stdout, /snapA\nsnapB/);
    const ok = virsh(U, 'undefine', 'd2', '--snapshots-metadata');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(virsh(U, 'dominfo', 'd2').code, 1);
  });

  test('R2/R11: managed save, virsh\'s own refusal, then --managed-save', () => {
    assert.equal(virsh(U, 'define', xml('d4')).code, 0);
    assert.equal(virsh(U, 'start', 'd4').code, 0);
    const saved = virsh(U, 'managedsave', 'd4');
    assert.equal(saved.code, 0, saved.stderr);
    assert.equal(virsh(U, 'domstate', 'd4').stdout.trim(), 'shut off');
    assert.match(virsh(U, 'dominfo', 'd4').stdout, /Managed save:\s+yes/);
    const refused = virsh(U, 'undefine', 'd4');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Refusing to undefine while domain managed save image exists/);
    const ok = virsh(U, 'undefine', 'd4', '--managed-save');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(virsh(U, 'dominfo', 'd4').code, 1);
  });

  test('R11: start resumes from the managed save image and removes it; managedsave-remove', () => {
    assert.equal(virsh(U, 'define', xml('d7')).code, 0);
    assert.equal(virsh(U, 'start', 'd7').code, 0);
    assert.equal(virsh(U, 'managedsave', 'd7').code, 0);
    assert.equal(virsh(U, 'start', 'd7').code, 0);
    assert.match(virsh(U, 'dominfo', 'd7').stdout, /Managed save:\s+no/);
    assert.equal(virsh(U, 'managedsave', 'd7').code, 0);
    const removed = virsh(U, 'managedsave-remove', 'd7');
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(virsh(U, 'dominfo', 'd7').stdout, /Managed save:\s+no/);
    assert.equal(virsh(U, 'undefine', 'd7').code, 0);
  });

  test('R1/R5: a transient domain cannot be undefined, and destroy removes it with its snapshots', () => {
    const created = virsh(U, 'create', xml('t1'));
    assert.equal(created.code, 0, created.stderr);
    assert.equal(virsh(U, 'snapshot-create-as', 't1', 'ts').code, 0);
    const undef = virsh(U, 'undefine', 't1');
    assert.equal(undef.code, 1);
    assert.match(undef.stderr, /cannot undefine transient domain/);
    assert.equal(virsh(U, 'destroy', 't1').code, 0);
    assert.equal(virsh(U, 'dominfo', 't1').code, 1);
    // R6: a new domain with the same name starts clean.
    assert.equal(virsh(U, 'create', xml('t1')).code, 0);
    assert.equal(virsh(U, 'snapshot-list', 't1', '--name').stdout.trim(), '');
    assert.equal(virsh(U, 'destroy', 't1').code, 0);
  });

  test('lifecycle commands: start, suspend, resume, shutdown, destroy', () => {
    assert.equal(virsh(U, 'define', xml('d8')).code, 0);
    assert.equal(virsh(U, 'start', 'd8').code, 0);
    assert.equal(virsh(U, 'suspend', 'd8').code, 0);
    assert.equal(virsh(U, 'domstate', 'd8').stdout.trim(), 'paused');
    assert.equal(virsh(U, 'resume', 'd8').code, 0);
    assert.equal(virsh(U, 'domstate', 'd8').stdout.trim(), 'running');
    assert.equal(virsh(U, 'shutdown', 'd8').code, 0);
    assert.equal(virsh(U, 'domstate', 'd8').stdout.trim(), 'shut off');
    const again = virsh(U, 'destroy', 'd8');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /Requested operation is not valid: domain is not running/);
    assert.equal(virsh(U, 'undefine', 'd8').code, 0);
  });

  test('R10: snapshot list, tree, current, parent, dumpxml, revert, delete; capture and REDEFINE', () => {
    assert.equal(virsh(U, 'define', xml('d3')).code, 0);
    assert.equal(virsh(U, 'snapshot-create-as', 'd3', 's1').code, 0);
    assert.equal(virsh(U, 'snapshot-create-as', 'd3', 's2').code, 0);
    const tree = virsh(U, 'snapshot-list', 'd3', '--tree');
    assert.equal(tree.code, 0, tree.stderr);
    assert.match(tree.stdout, /s1\n\s+\|\n\s+\+- s2/);
    assert.equal(virsh(U, 'snapshot-current', 'd3', '--name').stdout.trim(), 's2');
    assert.equal(virsh(U, 'snapshot-parent', 'd3', 's2').stdout.trim(), 's1');
    const noParent = virsh(U, 'snapshot-parent', 'd3', 's1');
    assert.equal(noParent.code, 1);
    assert.match(noParent.stderr, /snapshot 's1' has no parent/);
    const s1 = virsh(U, 'snapshot-dumpxml', 'd3', 's1').stdout;
    const s2 = virsh(U, 'snapshot-dumpxml', 'd3', 's2').stdout;
    assert.match(s2, /<parent>\s*<name>s1<\/name>/);
    assert.equal(virsh(U, 'snapshot-revert', 'd3', 's1').code, 0);
    assert.equal(virsh(U, 'snapshot-current', 'd3', '--name').stdout.trim(), 's1');
    // Capture, undefine with the metadata, redefine the domain, recreate the tree.
    const domXml = virsh(U, 'dumpxml', 'd3', '--inactive').stdout;
    writeFileSync(join(d.dir, 'd3-full.xml'), domXml);
    writeFileSync(join(d.dir, 's1.xml'), s1);
    writeFileSync(join(d.dir, 's2.xml'), s2);
    assert.equal(virsh(U, 'undefine', 'd3', '--snapshots-metadata').code, 0);
    assert.equal(virsh(U, 'define', join(d.dir, 'd3-full.xml')).code, 0);
    assert.equal(virsh(U, 'snapshot-list', 'd3', '--name').stdout.trim(), '');
    assert.equal(virsh(U, 'snapshot-create', 'd3', join(d.dir, 's1.xml'), '--redefine').code, 0);
    const r2 = virsh(U, 'snapshot-create', 'd3', join(d.dir, 's2.xml'), '--redefine', '--current');
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(virsh(U, 'snapshot-parent', 'd3', 's2').stdout.trim(), 's1');
    assert.equal(virsh(U, 'snapshot-current', 'd3', '--name').stdout.trim(), 's2');
    assert.equal(virsh(U, 'snapshot-delete', 'd3', 's2').code, 0);
    assert.equal(virsh(U, 'snapshot-list', 'd3', '--name').stdout.trim(), 's1');
    assert.equal(virsh(U, 'undefine', 'd3', '--snapshots-metadata').code, 0);
  });

  test('R12: virsh event --all --loop sees DEFINED, STARTED, SUSPENDED, RESUMED, STOPPED, UNDEFINED', async () => {
    const ev = spawn('virsh', ['-c', U, 'event', '--all', '--loop', '--timeout', '4'], { env: { ...process.env, LC_ALL: 'C' } });
    let out = '';
    ev.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const done = new Promise<number | null>((resolve) => ev.once('exit', resolve));
    try {
      // Wait until virsh has registered (27 registrations, then it waits).
      const end = Date.now() + 5000;
      while (!(d.log().match(/CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY/g)?.length ?? 0 >= 27) && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 300));
      const run = virsh(U, 'define', xml('ev1'));
      assert.equal(run.code, 0);
      assert.equal(virsh(U, 'start', 'ev1').code, 0);
      assert.equal(virsh(U, 'suspend', 'ev1').code, 0);
      assert.equal(virsh(U, 'resume', 'ev1').code, 0);
      assert.equal(virsh(U, 'destroy', 'ev1').code, 0);
      assert.equal(virsh(U, 'undefine', 'ev1').code, 0);
      assert.equal(await done, 0);
    } finally {
      if (ev.exitCode === null) ev.kill();
    }
    assert.deepEqual(out.split('\n').filter((l) => l.startsWith("event '")), [
      "event 'lifecycle' for domain 'ev1': Defined Added",
      "event 'lifecycle' for domain 'ev1': Started Booted",
      "event 'lifecycle' for domain 'ev1': Suspended Paused",
      "event 'lifecycle' for domain 'ev1': Resumed Unpaused",
      "event 'lifecycle' for domain 'ev1': Stopped Destroyed",
      "event 'lifecycle' for domain 'ev1': Undefined Removed",
    ]);
    assert.match(out, /events received: 6/);
  });

  test('read-only: virsh on libvirt-sock-ro reads but cannot define (VIR_ERR_OPERATION_DENIED)', () => {
    const RO = d.uri('/default', true);
    assert.match(virsh(RO, 'list', '--all').stdout, /test\s+running/);
    const refused = virsh(RO, 'define', xml('ro1'));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /operation forbidden: read only access prevents virDomainDefineXML/);
    const destroy = virsh(RO, 'destroy', 'test');
    assert.match(destroy.stderr, /operation forbidden: read only access prevents virDomainDestroy/);
    assert.equal(virsh(U, 'domstate', 'test').stdout.trim(), 'running');
  });

  test('test:///session is durable across a daemon restart', async () => {
    const S = d.uri('/session');
    assert.equal(virsh(S, 'define', xml('sess1')).code, 0);
    assert.equal(virsh(S, 'snapshot-create-as', 'sess1', 'ss1').code, 0);
    assert.equal(await d.stop(), 0, 'SIGTERM stops tsvirtd cleanly');
    holder.close();
    const d2 = await startDaemon({ dir: d.dir });
    try {
      const S2 = d2.uri('/session');
      assert.match(virsh(S2, 'list', '--all').stdout, /sess1\s+shut off/);
      assert.equal(virsh(S2, 'snapshot-list', 'sess1', '--name').stdout.trim(), 'ss1');
      const refused = virsh(S2, 'undefine', 'sess1');
      assert.match(refused.stderr, /cannot delete inactive domain with 1 snapshots/);
      assert.equal(virsh(S2, 'undefine', 'sess1', '--snapshots-metadata').code, 0);
    } finally {
      await d2.stop();
    }
  });
});
