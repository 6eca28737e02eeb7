/**
 * The graphical console of qemu:///session guests (real QEMU, TCG): the video card libvirt adds
 * to a display is on QEMU's command line, VNC autoport's port is in the live XML and an RFB
 * server answers there (or on a unix socket), and a screenshot is the guest's text console as
 * a PNG, with libvirt 9.0's errors; then `virsh domdisplay`, `vncdisplay` through tsvirtd.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type NetConnectOpts } from 'node:net';
import { join } from 'node:path';
import { DomainXMLFlags, ErrorDomain, ErrorNumber, connect, type Connection, type Domain } from '../src/index.js';
import type { DomainScreenshot } from '../src/core/driver.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, waitForText, type TestGuest } from './qemu-harness.js';
import { guestPids, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';
import { rejectsVir } from './support/fixtures.js';
import { decodePNG, distinctColours } from './support/png-decode.js';

const skip = qemuSkipReason();

/** The command line of the QEMU process running the guest of this UUID. */
function qemuCommandLine(uuid: string): string[] {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const i = argv.indexOf('-uuid');
    if (i >= 0 && argv[i + 1] === uuid) return argv;
  }
  throw new Error(`no QEMU process for ${uuid}`);
}

/** The first 12 bytes a VNC server sends (its RFB version), over TCP or a unix socket. */
function rfbGreeting(target: NetConnectOpts): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = netConnect(target);
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no RFB greeting from ${JSON.stringify(target)}`));
    }, 20_000);
    sock.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 12) {
        clearTimeout(timer);
        sock.destroy();
        resolve(got.subarray(0, 12).toString('latin1'));
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

describe('qemu:///session: video, VNC autoport and screenshots', { skip, timeout: 300_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let state: string;
  let previous: string | undefined;
  let conn: Connection;

  before(async () => {
    state = reaper.tempDir('tsvqg-');
    guest = await buildTestGuest(join(state, 'guest'));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = state;
    conn = await connect('qemu:///session');
  });

  after(async () => {
    if (conn !== undefined) {
      for (const dom of await conn.listAllDomains(1).catch(() => [])) await dom.destroy().catch(() => undefined);
      await conn.close();
    }
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    await reaper.cleanup();
  });

  const xml = (name: string, uuid: string, devices: string) =>
    guestXML({ name, uuid, guest, mode: 'B', tty0: true, serial: join(state, `${name}.serial`), extraDevices: devices });
  /** The QEMU driver's screenshot (the public dom.screenshot carries it on a stream). */
  const screenshot = (dom: Domain, screen: number, flags = 0): Promise<DomainScreenshot> =>
    conn.driverFor('virDomainScreenshot').domainScreenshot!({ name: dom.name(), uuid: dom.UUIDString(), id: -1 }, screen, flags);

  test('a VNC display gets the cirrus card libvirt adds; autoport: the live XML names the port QEMU bound and RFB answers there; the config keeps port -1', async () => {
    const uuid = randomUUID();
    const dom = await conn.createXML(xml('g-vnc', uuid, "<graphics type='vnc'/>"));
    const live = await dom.XMLDesc();
    const m = /<graphics type='vnc' port='(\d+)' autoport='yes' listen='127\.0\.0\.1'>\n\s*<listen type='address' address='127\.0\.0\.1'\/>/.exec(live);
    assert.ok(m !== null, live);
    const port = Number(m[1]);
    assert.ok(port >= 5900 && port <= 65535, `port ${port}`);
    // The live XML places the card on the PCI bus as libvirt's does (slot 2 of a pc machine).
    assert.match(live, /<video>\n\s*<model type='cirrus' vram='16384' heads='1' primary='yes'\/>\n\s*<address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'\/>\n\s*<\/video>/);
    assert.equal(await rfbGreeting({ host: '127.0.0.1', port }), 'RFB 003.008\n');
    const argv = qemuCommandLine(uuid);
    assert.ok(argv.includes(JSON.stringify({ driver: 'cirrus-vga', id: 'video0', addr: '0x2' })), argv.join(' '));
    assert.equal(argv[argv.indexOf('-vnc') + 1], '127.0.0.1:0,to=59635');

    // A second guest gets another port.
    const other = await conn.createXML(xml('g-vnc2', randomUUID(), "<graphics type='vnc'/><video><model type='vga'/></video>"));
    const port2 = Number(/<graphics type='vnc' port='(\d+)'/.exec(await other.XMLDesc())?.[1]);
    assert.notEqual(port2, port);
    assert.equal(await rfbGreeting({ host: '127.0.0.1', port: port2 }), 'RFB 003.008\n');
    await other.destroy();

    const persistent = await conn.defineXML(xml('g-vnc3', randomUUID(), "<graphics type='vnc'/>"));
    await persistent.create();
    assert.match(await persistent.XMLDesc(), /<graphics type='vnc' port='\d+' autoport='yes' listen='127.0.0.1'>/);
    const inactive = await persistent.XMLDesc(DomainXMLFlags.INACTIVE);
    assert.match(inactive, /<graphics type='vnc' port='-1' autoport='yes'>\n\s*<listen type='address'\/>/);
    await persistent.destroy();
    assert.match(await persistent.XMLDesc(), /<graphics type='vnc' port='-1' autoport='yes'>\n\s*<listen type='address'\/>/);
    await persistent.undefine();
    await dom.destroy();
  });

  test('screenshot: the text console as a PNG (image/png, as libvirt 9.0 on QEMU 7.2), with libvirt errors for screens, flags and a stopped guest', async () => {
    const name = 'g-shot';
    const dom = await conn.createXML(xml(name, randomUUID(), "<graphics type='vnc'/><video><model type='vga'/></video>"));
    await waitForText(join(state, `${name}.serial`), 'GUEST-READY');
    const shot = await screenshot(dom, 0);
    assert.equal(shot.mimeType, 'image/png');
    const img = decodePNG(shot.data);
    // VGA text mode: 80×25 cells of 9×16 pixels.
    assert.deepEqual([img.width, img.height], [720, 400]);
    assert.ok(distinctColours(img) >= 2, 'the kernel has written on tty0: not one colour');
    // The temporary file is gone from the runtime directory.
    const runDirs = readdirSync(join(state, 'qemu', 'run'), { recursive: true }).map(String);
    assert.deepEqual(runDirs.filter((f) => f.includes('screendump')), []);

    // The public API: the same image on a stream, its MIME type returned.
    const stream = conn.newStream();
    const mime = await dom.screenshot(stream, 0);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    await stream.finish();
    assert.equal(mime, 'image/png');
    const viaStream = decodePNG(Buffer.concat(chunks));
    assert.deepEqual([viaStream.width, viaStream.height], [720, 400]);
    assert.ok(distinctColours(viaStream) >= 2);

    await rejectsVir(screenshot(dom, 1), {
      code: ErrorNumber.OPERATION_INVALID,
      domain: ErrorDomain.QEMU,
      message: 'Requested operation is not valid: no such screen ID',
    });
    await rejectsVir(screenshot(dom, 0, 1), {
      code: ErrorNumber.INVALID_ARG,
      message: 'unsupported flags (0x1) in function qemuDomainScreenshot',
    });
    await dom.destroy();

    const headless = await conn.defineXML(xml('g-noscreen', randomUUID(), ''));
    await rejectsVir(screenshot(headless, 0), {
      code: ErrorNumber.OPERATION_INVALID,
      message: 'Requested operation is not valid: domain is not running',
    });
    await headless.create();
    await rejectsVir(screenshot(headless, 3), {
      code: ErrorNumber.OPERATION_INVALID,
      domain: ErrorDomain.QEMU,
      message: 'Requested operation is not valid: no screens to take screenshot from',
    });
    await headless.destroy();
    await headless.undefine();
  });

  test("VNC on a unix socket (listen type='socket'): the live XML names the socket, RFB answers on it; virtio card", async () => {
    const uuid = randomUUID();
    const dom = await conn.createXML(xml('g-sock', uuid, "<graphics type='vnc'><listen type='socket'/></graphics><video><model type='virtio'/></video>"));
    const live = await dom.XMLDesc();
    const m = /<graphics type='vnc' socket='([^']+)'>\n\s*<listen type='socket' socket='([^']+)'\/>/.exec(live);
    assert.ok(m !== null && m[1] === m[2], live);
    assert.equal(await rfbGreeting({ path: m[1] }), 'RFB 003.008\n');
    const argv = qemuCommandLine(uuid);
    assert.ok(argv.includes(JSON.stringify({ driver: 'virtio-vga', id: 'video0', addr: '0x2', max_outputs: 1 })), argv.join(' '));
    await dom.destroy();
  });
});

describe('tsvirtd: virsh domdisplay, vncdisplay and screenshot of a guest with VNC', { skip: skip || virshSkip(), timeout: 150_000 }, () => {
  const reaper = new Reaper();
  let d: RunningDaemon | undefined;
  let dir: string;
  let uri: string;
  let guest: TestGuest;

  before(async () => {
    dir = reaper.tempDir('tsvdg-');
    guest = await buildTestGuest(join(dir, 'guest'));
    d = await startDaemon({ dir });
    uri = `qemu+unix:///session?socket=${d.rw}`;
  });

  after(async () => {
    if (d !== undefined) {
      for (const pid of guestPids(d.stateDir)) reaper.track(pid);
      virsh(uri, 'destroy', 'g-display');
      virsh(uri, 'destroy', 'g-sockdisplay');
      await d.stop();
    }
    await reaper.cleanup();
  });

  test('the port QEMU bound, as libvirt prints it: vnc://127.0.0.1:N and 127.0.0.1:N', () => {
    const file = join(dir, 'g-display.xml');
    writeFileSync(
      file,
      guestXML({ name: 'g-display', uuid: randomUUID(), guest, mode: 'B', serial: join(dir, 'g-display.serial'), extraDevices: "<graphics type='vnc'/>" }),
    );
    assert.equal(virsh(uri, 'define', file).code, 0);
    const started = virsh(uri, 'start', 'g-display');
    for (const pid of guestPids(d!.stateDir)) reaper.track(pid);
    assert.equal(started.code, 0, started.stderr);
    const port = Number(/<graphics type='vnc' port='(\d+)'/.exec(virsh(uri, 'dumpxml', 'g-display').stdout)?.[1]);
    assert.ok(port >= 5900, `port ${port}`);
    const display = virsh(uri, 'domdisplay', 'g-display');
    assert.equal(display.stdout.trim(), `vnc://127.0.0.1:${port - 5900}`, display.stderr);
    const vnc = virsh(uri, 'vncdisplay', 'g-display');
    assert.equal(vnc.stdout.trim(), `127.0.0.1:${port - 5900}`, vnc.stderr);
    // virsh screenshot through tsvirtd's stream: libvirt's line, a PNG of the VGA text screen.
    const png = join(dir, 'g-display.png');
    const shot = spawnSync('virsh', ['-c', uri, 'screenshot', 'g-display', png], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, LC_ALL: 'C' } });
    assert.equal(shot.status, 0, shot.stderr);
    assert.equal(shot.stdout.trim(), `Screenshot saved to ${png}, with type of image/png`);
    const img = decodePNG(readFileSync(png));
    assert.deepEqual([img.width, img.height], [720, 400]);
    assert.equal(virsh(uri, 'destroy', 'g-display').code, 0);
    const stopped = virsh(uri, 'domdisplay', 'g-display');
    assert.notEqual(stopped.code, 0);
    assert.match(stopped.stderr, /Domain is not running/);
    assert.equal(virsh(uri, 'undefine', 'g-display').code, 0);

    // On a unix socket: libvirt's vnc+unix:// form, from the path in the live XML.
    const sockFile = join(dir, 'g-sockdisplay.xml');
    writeFileSync(
      sockFile,
      guestXML({
        name: 'g-sockdisplay',
        uuid: randomUUID(),
        guest,
        mode: 'B',
        serial: join(dir, 'g-sockdisplay.serial'),
        extraDevices: "<graphics type='vnc'><listen type='socket'/></graphics>",
      }),
    );
    const created = virsh(uri, 'create', sockFile);
    for (const pid of guestPids(d!.stateDir)) reaper.track(pid);
    assert.equal(created.code, 0, created.stderr);
    const path = /<graphics type='vnc' socket='([^']+)'>/.exec(virsh(uri, 'dumpxml', 'g-sockdisplay').stdout)?.[1];
    assert.ok(path !== undefined && path.endsWith('/vnc.sock'), path);
    assert.equal(virsh(uri, 'domdisplay', 'g-sockdisplay').stdout.trim(), `vnc+unix://${path}`);
    assert.equal(virsh(uri, 'destroy', 'g-sockdisplay').code, 0);
  });
});
