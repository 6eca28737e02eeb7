/**
 * Device calls side by side with libvirt's own qemu driver: the same virsh commands against a
 * session libvirtd (started as nobody in a private directory, bench/libvirtd-session.ts) and
 * against tsvirtd's qemu:///session, on an inactive domain (config edits: no guest runs). Exit
 * codes and error messages must be the same; the XML each side stores differs (libvirt adds its
 * default devices), so the test compares which targets and MACs each config has afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLibvirtdSession, type LibvirtdSession } from '../bench/libvirtd-session.js';
import { startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';

const FILES: Record<string, string> = {
  'dom.xml':
    "<domain type='qemu'><name>devsbs</name><memory>65536</memory><os><type arch='x86_64'>hvm</type></os><devices>" +
    "<disk type='file' device='disk'><source file='/nonexistent/a.img'/><target dev='vda' bus='virtio'/></disk>" +
    "<interface type='user'><mac address='52:54:00:00:00:01'/><model type='virtio'/></interface>" +
    "<interface type='user'><mac address='52:54:00:00:00:01'/><model type='virtio'/></interface></devices></domain>",
  'vdb.xml': "<disk type='file' device='disk'><source file='/nonexistent/b.img'/><target dev='vdb' bus='virtio'/><alias name='ua-b'/></disk>",
  'vda.xml': "<disk type='file' device='disk'><source file='/nonexistent/b.img'/><target dev='vda' bus='virtio'/></disk>",
  'vdz.xml': "<disk type='file' device='disk'><source file='/nonexistent/b.img'/><target dev='vdz' bus='virtio'/></disk>",
  'nic1.xml': "<interface type='user'><mac address='52:54:00:00:00:01'/></interface>",
  'nic2.xml': "<interface type='user'><mac address='52:54:00:00:00:02'/><model type='virtio'/></interface>",
  'nic9.xml': "<interface type='user'><mac address='52:54:00:00:00:09'/></interface>",
  'nicnomac.xml': "<interface type='user'/>",
  'ctl.xml': "<controller type='usb' index='3' model='qemu-xhci'/>",
  'gfx.xml': "<graphics type='vnc'/>",
  'bogus.xml': '<frobnicator/>',
  'notarget.xml': "<disk type='file'><source file='/x'/></disk>",
  'input.xml': "<input type='tablet' bus='usb'/>",
};

/** The virsh steps, `@F` the file F in the shared directory; each side runs them in order. */
const STEPS = [
  'define @dom.xml',
  'attach-device devsbs @vdb.xml --config',
  'attach-device devsbs @vdb.xml --config',
  'attach-device devsbs @vda.xml --config',
  'attach-device devsbs @vda.xml',
  'attach-device devsbs @vda.xml --live',
  'detach-device devsbs @vdz.xml --config',
  'detach-device devsbs @nic1.xml --config',
  'detach-device devsbs @nic9.xml --config',
  'detach-device devsbs @nicnomac.xml --config',
  'attach-device devsbs @nic2.xml --config',
  'detach-device devsbs @nic2.xml --config',
  'update-device devsbs @vdz.xml --config',
  'update-device devsbs @ctl.xml --config',
  'attach-device devsbs @gfx.xml --config',
  'detach-device devsbs @ctl.xml --config',
  'detach-device devsbs @gfx.xml --config',
  'attach-device devsbs @bogus.xml --config',
  'attach-device devsbs @notarget.xml --config',
  'detach-device-alias devsbs ua-none --config',
  'detach-device-alias devsbs ua-b --config',
  'attach-device devsbs @input.xml --config',
  'detach-device devsbs @input.xml --config',
  'attach-disk devsbs /nonexistent/c.img vdc --config',
  'detach-disk devsbs vdc --config',
  'detach-disk devsbs vdc --config',
  'detach-interface devsbs user --config',
];

describe('device calls: virsh against libvirtd qemu:///session and tsvirtd qemu:///session', { skip: virshSkip() }, () => {
  let lv: LibvirtdSession | undefined;
  let skip: string | undefined;
  let d: RunningDaemon;
  let dir: string;

  before(async () => {
    const started = await startLibvirtdSession();
    if ('skip' in started) skip = started.skip;
    else lv = started;
    d = await startDaemon();
    dir = mkdtempSync(join(tmpdir(), 'devsbs-'));
    chmodSync(dir, 0o755);
    for (const [f, body] of Object.entries(FILES)) writeFileSync(join(dir, f), body);
  });
  after(async () => {
    for (const uri of [lv?.uri, d === undefined ? undefined : `qemu+unix:///session?socket=${d.rw}`]) {
      if (uri !== undefined) virsh(uri, 'undefine', 'devsbs');
    }
    await lv?.dispose();
    await d?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the same exit codes and errors for each step; the same targets and MACs in the config after it', async (t) => {
    if (lv === undefined) {
      t.skip(`no libvirtd to compare with: ${skip ?? ''}`);
      return;
    }
    const sides = { libvirtd: lv.uri, tsvirtd: `qemu+unix:///session?socket=${d.rw}` };
    const devicesOf = (uri: string): string => {
      const xml = virsh(uri, 'dumpxml', 'devsbs', '--inactive').stdout;
      const targets = [...xml.matchAll(/<target dev='([^']+)'/g)].map((m) => m[1]);
      const macs = [...xml.matchAll(/<mac address='([^']+)'/g)].map((m) => m[1]);
      const extra = [...xml.matchAll(/<(controller type='usb' index='3'|input type='tablet'|alias name='[^']+')/g)].map((m) => m[1]);
      return JSON.stringify({ targets, macs, extra });
    };
    for (const step of STEPS) {
      const args = step.split(' ').map((a) => (a.startsWith('@') ? join(dir, a.slice(1)) : a));
      const [l, s] = [virsh(sides.libvirtd, ...args), virsh(sides.tsvirtd, ...args)];
      const show = (r: { code: number | null; stderr: string }) => ({ code: r.code, stderr: r.stderr });
      assert.deepEqual(show(s), show(l), `virsh ${step}: tsvirtd answered otherwise than libvirtd`);
      assert.equal(devicesOf(sides.tsvirtd), devicesOf(sides.libvirtd), `virsh ${step}: the configs differ afterwards`);
    }
  });
});
