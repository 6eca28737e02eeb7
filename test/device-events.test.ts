/**
 * Device and metadata events (VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, DEVICE_REMOVED,
 * METADATA_CHANGE): raised by live attach/detach and by setMetadata, delivered to the API's
 * listeners, carried by tsvirtd as libvirt's callback event procedures to python-libvirt (the
 * metadata events the same as from libvirt's own test driver) and to virsh's `event`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DomainDeviceModifyFlags, DomainEventID, DomainMetadataType, connect, type Connection } from '../src/index.js';
import { TSVIRT } from './cli-harness.js';
import { python, pythonLibvirtSkip, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';

const { LIVE, CONFIG } = DomainDeviceModifyFlags;
const DISK = "<disk type='file' device='disk'><source file='/tmp/vocab-rest-x.img'/><target dev='vdb' bus='virtio'/><alias name='ua-x'/></disk>";
const settle = () => new Promise((r) => setImmediate(r));

describe('device and metadata events on the test driver, through the API', () => {
  let conn: Connection;
  before(async () => {
    conn = await connect('test:///default');
  });
  after(async () => {
    await conn.close();
  });

  test('live attach and detach raise DEVICE_ADDED and DEVICE_REMOVED with the alias; a config-only change raises none', async () => {
    const seen: string[] = [];
    const dom = await conn.lookupByName('test');
    const ids = [
      conn.domainEventRegisterAny(null, DomainEventID.DEVICE_ADDED, (_c, d, alias) => seen.push(`added ${d.name()} ${alias}`)),
      conn.domainEventRegisterAny(dom, DomainEventID.DEVICE_REMOVED, (_c, d, alias) => seen.push(`removed ${d.name()} ${alias}`)),
    ];
    try {
      await dom.attachDeviceFlags(DISK, LIVE);
      await dom.detachDeviceFlags(DISK, LIVE);
      await dom.attachDeviceFlags(DISK, CONFIG);
      await settle();
      assert.deepEqual(seen, ['added test ua-x', 'removed test ua-x']);
    } finally {
      for (const id of ids) conn.domainEventDeregisterAny(id);
    }
  });

  test('setMetadata raises METADATA_CHANGE: the type, and the namespace of an element only', async () => {
    const seen: [string, number, string | null][] = [];
    const dom = await conn.lookupByName('test');
    const id = conn.domainEventRegisterAny(dom, DomainEventID.METADATA_CHANGE, (_c, d, type, nsuri) => seen.push([d.name(), type, nsuri]));
    try {
      await dom.setMetadata(DomainMetadataType.TITLE, 'a title', null, null, 0);
      await dom.setMetadata(DomainMetadataType.ELEMENT, '<x/>', 'k', 'http://example.org/x', 0);
      await settle();
      assert.deepEqual(seen, [
        ['test', DomainMetadataType.TITLE, null],
        ['test', DomainMetadataType.ELEMENT, 'http://example.org/x'],
      ]);
    } finally {
      conn.domainEventDeregisterAny(id);
    }
  });
});

/** python-libvirt registers the three callbacks, changes metadata and devices, prints what came. */
const PY = `
import sys, threading, time, libvirt
libvirt.virEventRegisterDefaultImpl()
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
out = []
c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, lambda cn, d, a, o: out.append(('added', d.name(), a)), None)
c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, lambda cn, d, a, o: out.append(('removed', d.name(), a)), None)
c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, lambda cn, d, t, u, o: out.append(('metadata', d.name(), t, u)), None)
def loop():
    while True: libvirt.virEventRunDefaultImpl()
threading.Thread(target=loop, daemon=True).start()
d = c.lookupByName('test')
d.setMetadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, 'hello', None, None, 0)
d.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, '<x/>', 'k', 'http://example.org/x', 0)
if sys.argv[2] == 'devices':
    d.attachDeviceFlags("${DISK}", libvirt.VIR_DOMAIN_AFFECT_LIVE)
    d.detachDeviceFlags("${DISK}", libvirt.VIR_DOMAIN_AFFECT_LIVE)
time.sleep(1)
for e in out: print(e)
`;

describe('device and metadata events through tsvirtd', () => {
  let d: RunningDaemon;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d?.dispose();
  });

  test("python-libvirt receives them; the metadata events are libvirt's test driver's", { skip: pythonLibvirtSkip() }, () => {
    const ts = python(PY, d.uri('/default'), 'devices');
    assert.equal(ts.code, 0, ts.stderr);
    assert.deepEqual(ts.stdout.trim().split('\n'), [
      "('metadata', 'test', 0, None)",
      "('metadata', 'test', 2, 'http://example.org/x')",
      "('added', 'test', 'ua-x')",
      "('removed', 'test', 'ua-x')",
    ]);
    // libvirt 9.0's test driver has no device calls: only its metadata events compare.
    const lv = python(PY, 'test:///default', 'metadata');
    assert.equal(lv.code, 0, lv.stderr);
    assert.deepEqual(lv.stdout.trim().split('\n'), ts.stdout.trim().split('\n').slice(0, 2));
  });

  test('virsh event --event device-added / device-removed / metadata-change', { skip: virshSkip() }, async () => {
    const U = d.uri('/session');
    writeFileSync(join(d.dir, 'ev.xml'), "<domain type='test'><name>evd</name><memory>1024</memory><os><type>hvm</type></os></domain>");
    writeFileSync(join(d.dir, 'disk.xml'), DISK);
    assert.equal(virsh(U, 'define', join(d.dir, 'ev.xml')).code, 0);
    assert.equal(virsh(U, 'start', 'evd').code, 0);
    const lines: string[] = [];
    for (const [name, act] of [
      ['device-added', ['attach-device', 'evd', join(d.dir, 'disk.xml'), '--live']],
      ['device-removed', ['detach-device', 'evd', join(d.dir, 'disk.xml'), '--live']],
      ['metadata-change', ['desc', 'evd', '--live', '--title', 'hello']],
    ] as const) {
      const ev = spawn('virsh', ['-c', U, 'event', '--event', name, '--timeout', '10'], { env: { ...process.env, LC_ALL: 'C' } });
      let out = '';
      ev.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const done = new Promise<number | null>((resolve) => ev.once('exit', resolve));
      try {
        const before = d.log().match(/CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY/g)?.length ?? 0;
        const end = Date.now() + 5000;
        while ((d.log().match(/CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY/g)?.length ?? 0) <= before && Date.now() < end) {
          await new Promise((r) => setTimeout(r, 50));
        }
        await new Promise((r) => setTimeout(r, 300));
        const r = virsh(U, ...act);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(await done, 0);
      } finally {
        if (ev.exitCode === null) ev.kill();
      }
      lines.push(...out.split('\n').filter((l) => l.startsWith("event '")));
    }
    assert.deepEqual(lines, [
      "event 'device-added' for domain 'evd': ua-x",
      "event 'device-removed' for domain 'evd': ua-x",
      "event 'metadata-change' for domain 'evd': type title, uri <null>",
    ]);
    virsh(U, 'destroy', 'evd');
    virsh(U, 'undefine', 'evd');
  });

  test('tsvirt through tsvirtd (the remote driver): the API and `tsvirt event` receive them', async () => {
    const U = d.uri('/default');
    const conn = await connect(U);
    try {
      const dom = await conn.lookupByName('test');
      const seen: string[] = [];
      const ids = [
        conn.domainEventRegisterAny(null, DomainEventID.DEVICE_ADDED, (_c, x, alias) => seen.push(`added ${x.name()} ${alias}`)),
        conn.domainEventRegisterAny(null, DomainEventID.DEVICE_REMOVED, (_c, x, alias) => seen.push(`removed ${x.name()} ${alias}`)),
        conn.domainEventRegisterAny(null, DomainEventID.METADATA_CHANGE, (_c, x, type, nsuri) => seen.push(`metadata ${x.name()} ${type} ${nsuri}`)),
      ];
      await dom.attachDeviceFlags(DISK, LIVE);
      await dom.setMetadata(DomainMetadataType.ELEMENT, '<y/>', 'k', 'http://example.org/y', 0);
      await dom.detachDeviceFlags(DISK, LIVE);
      const end = Date.now() + 5000;
      while (seen.length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(seen, ['added test ua-x', 'metadata test 2 http://example.org/y', 'removed test ua-x']);
      for (const id of ids) conn.domainEventDeregisterAny(id);

      // tsvirt's event command, on its own connection to the same daemon (test:///default is
      // shared while this connection is open).
      writeFileSync(join(d.dir, 'disk.xml'), DISK);
      const ev = spawn(process.execPath, [TSVIRT, '-c', U, 'event', '--event', 'device-added', '--timeout', '10'], { env: { ...process.env, LC_ALL: 'C' } });
      let out = '';
      ev.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const done = new Promise<number | null>((resolve) => ev.once('exit', resolve));
      try {
        const before = d.log().match(/CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY/g)?.length ?? 0;
        const until = Date.now() + 5000;
        while ((d.log().match(/CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY/g)?.length ?? 0) <= before && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 50));
        }
        await new Promise((r) => setTimeout(r, 300));
        await dom.attachDeviceFlags(DISK, LIVE);
        assert.equal(await done, 0);
      } finally {
        if (ev.exitCode === null) ev.kill();
      }
      assert.equal(out, "event 'device-added' for domain 'test': ua-x\nevents received: 1\n\n");
    } finally {
      await conn.close();
    }
  });
});
