/**
 * The QEMU command line built from domain XML: every feature the qemu driver supports, and a
 * clear VIR_ERR_CONFIG_UNSUPPORTED for what it does not. Pure: no QEMU needed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorDomain, ErrorNumber, VirError } from '../src/index.js';
import { parseDomainXML, type DomainDef } from '../src/conf/domain.js';
import { accelFor, assignAliases, buildQemuArgv, optValue, shellQuote, type QemuArgvPaths } from '../src/drivers/qemu/argv.js';
import { formatDomainXML } from '../src/conf/domain.js';
import { checkKvm, findEmulator } from '../src/drivers/qemu/process.js';
import { checkLoadvmTarget, checkNewSnapshotName, resolveImageSnapshot, type ImageSnapshot } from '../src/drivers/qemu/snapshot.js';
import { QemuGuests } from '../src/drivers/qemu/backend.js';
import { qemuLocations, qemuVersion } from '../src/drivers/qemu/session.js';

const UUID = 'c7a5fdbd-cdaf-9455-926a-d65c16db1809';
const PATHS: QemuArgvPaths = {
  monitorSocket: '/run/x/monitor.sock',
  pidFile: '/run/x/qemu.pid',
  serialLog: (port) => `/log/serial${port}.log`,
  serialSocket: (port) => `/run/x/serial${port}.sock`,
};

function def(body: string, type = 'qemu', extraTop = ''): DomainDef {
  return parseDomainXML(`<domain type='${type}'>
  <name>g</name><uuid>${UUID}</uuid>
  <memory unit='MiB'>128</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  ${extraTop}
  <devices>${body}</devices>
</domain>`);
}

function argv(d: DomainDef, incomingDefer = false): string[] {
  return buildQemuArgv(d, { paths: PATHS, incomingDefer }).argv;
}

/** The value following each occurrence of `flag`. */
function values(a: string[], flag: string): string[] {
  const out: string[] = [];
  a.forEach((v, i) => {
    if (v === flag) out.push(a[i + 1]);
  });
  return out;
}

function assertUnsupported(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof VirError, String(err));
    assert.equal(err.code, ErrorNumber.CONFIG_UNSUPPORTED);
    assert.equal(err.domain, ErrorDomain.QEMU);
    assert.match(err.message, message);
    return true;
  });
}

describe('qemu argv builder', () => {
  test('device ids are the aliases the live XML shows: user aliases as written, others by bus and position', () => {
    const d = def(
      "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>" +
        "<disk type='file'><source file='/i/a.img'/><target dev='vda' bus='virtio'/></disk>" +
        "<disk type='file'><source file='/i/b.img'/><target dev='vdb' bus='virtio'/><alias name='ua-data'/></disk>" +
        "<interface type='user'><mac address='52:54:00:00:00:01'/></interface>" +
        "<interface type='user'><mac address='52:54:00:00:00:02'/><alias name='ua-lan'/></interface>",
    );
    assignAliases(d);
    const a = argv(d);
    const ids = values(a, '-device').map((v) => (v.startsWith('{') ? (JSON.parse(v) as { id?: string }).id : undefined));
    for (const id of ['ide-disk0', 'virtio-disk1', 'ua-data', 'net0', 'ua-lan']) assert.ok(ids.includes(id), `${id} in ${ids.join(' ')}`);
    assert.deepEqual(values(a, '-netdev'), ['user,id=hostnet0', 'user,id=hostua-lan']);
    const live = formatDomainXML(d);
    assert.match(live, /<target dev='vda' bus='virtio'\/>\s*<alias name='virtio-disk1'\/>/);
    // The persistent config keeps the user's aliases only.
    const inactive = formatDomainXML(d, { inactive: true });
    assert.doesNotMatch(inactive, /virtio-disk1|net0|ide-disk0/);
    assert.match(inactive, /<alias name='ua-data'\/>[\s\S]*<alias name='ua-lan'\/>/);
  });

  test('baseline: no defaults, no user config, no display, paused start, -no-shutdown, QMP monitor, pidfile', () => {
    const a = argv(def(''));
    for (const flag of ['-nodefaults', '-no-user-config', '-S', '-no-shutdown']) assert.ok(a.includes(flag), flag);
    assert.deepEqual(values(a, '-display'), ['none']);
    assert.deepEqual(values(a, '-uuid'), [UUID]);
    assert.deepEqual(values(a, '-chardev'), ['socket,id=charmonitor,path=/run/x/monitor.sock,server=on,wait=off']);
    assert.deepEqual(values(a, '-mon'), ['chardev=charmonitor,id=monitor,mode=control']);
    assert.deepEqual(values(a, '-pidfile'), ['/run/x/qemu.pid']);
    assert.ok(!a.includes('-daemonize'), 'never -daemonize: its stderr is lost');
    assert.ok(!a.includes('-no-reboot'));
    assert.ok(!a.includes('-incoming'));
  });

  test("firmware: QEMU's BIOS; firmware='efi' fails as libvirt without firmware descriptors, <loader>/<nvram> are refused (libvirt-tck domain/405)", () => {
    const withOs = (os: string) =>
      parseDomainXML(`<domain type='qemu'><name>g</name><uuid>${UUID}</uuid><memory unit='MiB'>128</memory><vcpu>1</vcpu>${os}</domain>`);
    assert.ok(argv(withOs("<os firmware='bios'><type arch='x86_64' machine='pc'>hvm</type></os>")).includes('-machine'));
    assert.throws(
      () => argv(withOs("<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type></os>")),
      (err: unknown) => {
        assert.ok(err instanceof VirError, String(err));
        assert.equal(err.code, ErrorNumber.OPERATION_FAILED);
        assert.equal(err.domain, ErrorDomain.QEMU);
        assert.equal(err.message, "operation failed: Unable to find any firmware to satisfy 'efi'");
        return true;
      },
    );
    assertUnsupported(
      () => argv(withOs("<os><type arch='x86_64' machine='pc'>hvm</type><loader readonly='yes' type='pflash'>/x/OVMF_CODE.fd</loader></os>")),
      /<loader> is not supported by tsvirt's qemu driver/,
    );
    assertUnsupported(() => argv(withOs("<os><type arch='x86_64' machine='pc'>hvm</type><nvram>/x/VARS.fd</nvram></os>")), /<nvram> is not supported/);
  });

  test('accelerator follows the domain type: qemu is TCG, kvm is KVM, others are refused', () => {
    assert.deepEqual(values(argv(def('')), '-accel'), ['tcg']);
    assert.deepEqual(values(argv(def('', 'kvm')), '-accel'), ['kvm']);
    assert.equal(accelFor(def('', 'kvm')), 'kvm');
    assertUnsupported(() => argv(def('', 'xen')), /does not support virt type 'xen'/);
  });

  test('machine type, ACPI on only with <acpi/>', () => {
    assert.deepEqual(values(argv(def('')), '-machine'), ['pc,acpi=off']);
    assert.deepEqual(values(argv(def('', 'qemu', '<features><acpi/></features>')), '-machine'), ['pc,acpi=on']);
    const q35 = parseDomainXML(
      `<domain type='qemu'><name>g</name><memory>131072</memory><os><type machine='q35'>hvm</type></os></domain>`,
    );
    assert.deepEqual(values(argv(q35), '-machine'), ['q35,acpi=off']);
  });

  test('memory in KiB and vCPUs (with current < max)', () => {
    const d = parseDomainXML(`<domain type='qemu'><name>g</name><memory unit='MiB'>192</memory>
      <vcpu current='1'>2</vcpu><os><type>hvm</type></os></domain>`);
    const a = argv(d);
    assert.deepEqual(values(a, '-m'), ['size=196608k']);
    assert.deepEqual(values(a, '-smp'), ['1,maxcpus=2']);
    assert.deepEqual(values(argv(def('')), '-smp'), ['1']);
  });

  test('direct kernel boot: kernel, initrd, command line', () => {
    const d = parseDomainXML(`<domain type='qemu'><name>g</name><memory>131072</memory>
      <os><type>hvm</type><kernel>/g/vmlinuz</kernel><initrd>/g/initrd</initrd><cmdline>console=ttyS0 a,b</cmdline></os></domain>`);
    const a = argv(d);
    assert.deepEqual(values(a, '-kernel'), ['/g/vmlinuz']);
    assert.deepEqual(values(a, '-initrd'), ['/g/initrd']);
    assert.deepEqual(values(a, '-append'), ['console=ttyS0 a,b']);
    assert.deepEqual(values(a, '-boot'), [], 'no -boot order with a kernel');
    assert.deepEqual(values(argv(def('')), '-boot'), ['order=c']);
  });

  test('disks: qcow2 on virtio, raw read-only on IDE, CD-ROM, per-device boot order', () => {
    const a = argv(
      def(`
      <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/img/a,b.qcow2'/><target dev='vda' bus='virtio'/><boot order='1'/></disk>
      <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/img/b.raw'/><target dev='hdb' bus='ide'/><readonly/></disk>
      <disk type='file' device='cdrom'><source file='/img/c.iso'/><target dev='hdc' bus='ide'/></disk>`),
    );
    const blockdevs = values(a, '-blockdev').map((j) => JSON.parse(j) as Record<string, unknown>);
    assert.deepEqual(blockdevs[0], { driver: 'file', filename: '/img/a,b.qcow2', 'node-name': 'libvirt-1-storage', 'auto-read-only': true, discard: 'unmap' });
    assert.deepEqual(blockdevs[1], { 'node-name': 'libvirt-1-format', 'read-only': false, driver: 'qcow2', file: 'libvirt-1-storage' });
    assert.deepEqual(blockdevs[3], { 'node-name': 'libvirt-2-format', 'read-only': true, driver: 'raw', file: 'libvirt-2-storage' });
    assert.equal(blockdevs[5]['read-only'], true, 'a CD-ROM is read-only');
    const devices = values(a, '-device').map((j) => JSON.parse(j) as Record<string, unknown>);
    assert.deepEqual(devices[0], { id: 'virtio-disk0', driver: 'virtio-blk-pci', drive: 'libvirt-1-format', bootindex: 1 });
    assert.deepEqual(devices[1], { id: 'ide-disk1', driver: 'ide-hd', bus: 'ide.0', unit: 1, drive: 'libvirt-2-format' });
    assert.deepEqual(devices[2], { id: 'ide-disk2', driver: 'ide-cd', bus: 'ide.1', unit: 0, drive: 'libvirt-3-format' });
    assert.deepEqual(values(a, '-boot'), [], 'per-device boot order replaces -boot');
  });

  test('disks the driver cannot attach are refused', () => {
    assertUnsupported(
      () => argv(def(`<disk type='file' device='disk'><driver type='vmdk'/><source file='/x'/><target dev='vda' bus='virtio'/></disk>`)),
      /format 'vmdk' is not supported/,
    );
    assertUnsupported(
      () => argv(def(`<disk type='file' device='disk'><source file='/x'/><target dev='sda' bus='usb'/></disk>`)),
      /bus 'usb' is not supported \(virtio, ide, sata or scsi\)/,
    );
  });

  test('memory of any size: QEMU gets it rounded up to whole MiB, as libvirt aligns it at start', () => {
    const d = parseDomainXML(`<domain type='qemu'><name>g</name><memory unit='KB'>1000000</memory><os><type>hvm</type></os></domain>`);
    assert.equal(d.memory, 976563, 'stored rounded up to KiB only, as libvirt stores it');
    assert.deepEqual(values(argv(d), '-m'), ['size=976896k']);
    const b = parseDomainXML(`<domain type='qemu'><name>g</name><memory unit='b'>134217729</memory><os><type>hvm</type></os></domain>`);
    assert.deepEqual(values(argv(b), '-m'), ['size=132096k']);
  });

  test('SATA disks: on the Q35 built-in AHCI, or an ich9-ahci of their own on i440FX', () => {
    const disks = `<disk type='file' device='disk'><source file='/img/a.raw'/><target dev='sda' bus='sata'/></disk>
      <disk type='file' device='cdrom'><source file='/img/b.iso'/><target dev='sdb' bus='sata'/></disk>`;
    const q35 = parseDomainXML(`<domain type='qemu'><name>g</name><memory>131072</memory><os><type machine='pc-q35-7.2'>hvm</type></os><devices>${disks}</devices></domain>`);
    let devices = values(argv(q35), '-device').map((j) => JSON.parse(j) as Record<string, unknown>);
    assert.deepEqual(devices.slice(0, 2), [
      { id: 'sata-disk0', driver: 'ide-hd', bus: 'ide.0', drive: 'libvirt-1-format' },
      { id: 'sata-disk1', driver: 'ide-cd', bus: 'ide.1', drive: 'libvirt-2-format' },
    ]);
    devices = values(argv(def(disks)), '-device').map((j) => JSON.parse(j) as Record<string, unknown>);
    assert.deepEqual(devices.slice(0, 3), [
      { driver: 'ich9-ahci', id: 'sata0' },
      { id: 'sata-disk0', driver: 'ide-hd', bus: 'sata0.0', drive: 'libvirt-1-format' },
      { id: 'sata-disk1', driver: 'ide-cd', bus: 'sata0.1', drive: 'libvirt-2-format' },
    ]);
  });

  test("SCSI disks: libvirt 9.0's default lsilogic adapter, or virtio-scsi when the controller says so", () => {
    const disk = `<disk type='file' device='disk'><source file='/img/a.raw'/><target dev='sdc' bus='scsi'/></disk>`;
    let devices = values(argv(def(disk)), '-device').map((j) => JSON.parse(j) as Record<string, unknown>);
    assert.deepEqual(devices.slice(0, 2), [
      { driver: 'lsi53c895a', id: 'scsi0' },
      { id: 'scsi-disk0', driver: 'scsi-hd', bus: 'scsi0.0', 'scsi-id': 2, lun: 0, drive: 'libvirt-1-format' },
    ]);
    devices = values(argv(def(`${disk}<controller type='scsi' index='0' model='virtio-scsi'/>`)), '-device').map((j) => JSON.parse(j) as Record<string, unknown>);
    assert.deepEqual(devices.slice(0, 2), [
      { driver: 'virtio-scsi-pci', id: 'scsi0' },
      { id: 'scsi-disk0', driver: 'scsi-hd', bus: 'scsi0.0', channel: 0, 'scsi-id': 0, lun: 2, drive: 'libvirt-1-format' },
    ]);
    assertUnsupported(() => argv(def(`${disk}<controller type='scsi' index='0' model='buslogic'/>`)), /SCSI controller model 'buslogic'/);
  });

  test('<shareable/> lets other writers at the image (share-rw)', () => {
    const a = argv(def(`<disk type='file' device='disk'><source file='/img/a.raw'/><target dev='vda' bus='virtio'/><shareable/></disk>`));
    assert.equal((JSON.parse(values(a, '-device')[0]) as Record<string, unknown>)['share-rw'], true);
  });

  test('kept devices: data-bearing ones refused at start in libvirt words, the others left to QEMU defaults', () => {
    assertUnsupported(
      () => argv(def(`<disk type='network' device='disk'><source protocol='nbd' name='x'><host name='h'/></source><target dev='vda' bus='virtio'/></disk>`)),
      /disk type 'network' is not supported/,
    );
    assertUnsupported(() => argv(def(`<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>`)), /device 'hostdev'/);
    assertUnsupported(() => argv(def(`<serial type='tcp'><source mode='bind' host='127.0.0.1' service='4555'/><target port='0'/></serial>`)), /serial type 'tcp'/);
    // Input, sound, controllers: kept in the XML, not given to QEMU.
    argv(def(`<controller type='usb' index='0' model='qemu-xhci'/><input type='tablet' bus='usb'/><sound model='ich9'/>`));
    // And define accepts all of these, as libvirt does: only start refuses.
    const be = new QemuGuests({ root: '/nonexistent-root' });
    be.checkDefinition(def(`<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>`));
  });

  test('serial: a file port, a pty port on a console socket logged to the per-domain serial log, and the mirrored console', () => {
    const a = argv(def(`<serial type='file'><source path='/log/s,1.log'/><target port='0'/></serial><serial type='pty'><target port='1'/></serial>`));
    const chardevs = values(a, '-chardev');
    assert.ok(chardevs.includes('file,id=charserial0,path=/log/s,,1.log,append=on'), chardevs.join(' | '));
    assert.ok(
      chardevs.includes('socket,id=charserial1,path=/run/x/serial1.sock,server=on,wait=off,logfile=/log/serial1.log,logappend=on'),
      chardevs.join(' | '),
    );
    const devices = values(a, '-device').map((j) => JSON.parse(j) as Record<string, unknown>);
    assert.deepEqual(devices, [
      { driver: 'isa-serial', chardev: 'charserial0', id: 'serial0', index: 0 },
      { driver: 'isa-serial', chardev: 'charserial1', id: 'serial1', index: 1 },
    ]);
  });

  test("serial <log>: the domain's log file (append as given) replaces the per-domain one; other types log too", () => {
    const a = argv(
      def(
        `<serial type='pty'><log file='/var/x,y.log' append='on'/><target port='0'/></serial>` +
          `<serial type='pty'><log file='/var/z.log'/><target port='1'/></serial>` +
          `<serial type='file'><source path='/f.log'/><log file='/var/f.log' append='off'/><target port='2'/></serial>` +
          `<serial type='null'><target port='3'/></serial>`,
      ),
    );
    const chardevs = values(a, '-chardev');
    for (const want of [
      'socket,id=charserial0,path=/run/x/serial0.sock,server=on,wait=off,logfile=/var/x,,y.log,logappend=on',
      // No append attribute: QEMU's default (the log starts afresh), as libvirt passes nothing.
      'socket,id=charserial1,path=/run/x/serial1.sock,server=on,wait=off,logfile=/var/z.log',
      'file,id=charserial2,path=/f.log,append=on,logfile=/var/f.log,logappend=off',
      'null,id=charserial3',
    ]) {
      assert.ok(chardevs.includes(want), `${want} not in ${chardevs.join(' | ')}`);
    }
  });

  test('a default console (a lone <console>) is serial 0 on a console socket; a second serial console and other host sides are refused', () => {
    const chardevs = values(argv(def(`<console type='pty'/>`)), '-chardev');
    assert.ok(chardevs.includes('socket,id=charserial0,path=/run/x/serial0.sock,server=on,wait=off,logfile=/log/serial0.log,logappend=on'), chardevs.join(' | '));
    assertUnsupported(
      () => argv(def(`<serial type='pty'/><console type='pty'><target type='serial' port='0'/></console><console type='pty'><target type='serial' port='1'/></console>`)),
      /^unsupported configuration: Only the first console can be a serial port$/,
    );
    assertUnsupported(() => argv(def(`<console type='pty'><target type='virtio'/></console>`)), /console target type 'virtio' is not supported/);
    assertUnsupported(() => argv(def(`<serial type='dev'><source path='/dev/ttyS0'/></serial>`)), /serial type 'dev' is not supported/);
    assertUnsupported(() => argv(def(`<serial type='pty'><target type='usb-serial'/></serial>`)), /serial target type 'usb-serial' is not supported/);
  });

  test("user-mode network when an interface asks for it; type='network' is refused", () => {
    const a = argv(def(`<interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>`));
    assert.deepEqual(values(a, '-netdev'), ['user,id=hostnet0']);
    assert.deepEqual(JSON.parse(values(a, '-device')[0]), { driver: 'virtio-net-pci', netdev: 'hostnet0', id: 'net0', mac: '52:54:00:12:34:56' });
    assertUnsupported(() => argv(def(`<interface type='network'><source network='default'/></interface>`)), /interface type 'network'/);
  });

  test("type='network' and type='bridge' interfaces use the tap the driver made on the bridge", () => {
    const d = def(
      `<interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/><model type='virtio'/></interface>` +
        `<interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br0'/></interface>`,
    );
    const a = buildQemuArgv(d, { paths: PATHS, taps: ['vnet3', 'vnet4'] }).argv;
    assert.deepEqual(values(a, '-netdev'), [
      'tap,id=hostnet0,ifname=vnet3,script=no,downscript=no',
      'tap,id=hostnet1,ifname=vnet4,script=no,downscript=no',
    ]);
    assert.deepEqual(JSON.parse(values(a, '-device')[1]), { driver: 'rtl8139', netdev: 'hostnet1', id: 'net1', mac: '52:54:00:00:00:02' });
  });

  test('<portForward> on a user-mode interface becomes hostfwd rules (ranges, to, exclude)', () => {
    const a = argv(
      def(`<interface type='user'><mac address='52:54:00:12:34:56'/>
        <portForward proto='tcp' address='127.0.0.1'><range start='2222' to='22'/><range start='8080' end='8081'/></portForward>
        <portForward proto='udp'><range start='5353'/><range start='6000' end='6001' exclude='yes'/></portForward>
      </interface>`),
    );
    assert.deepEqual(values(a, '-netdev'), [
      'user,id=hostnet0,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:8080-:8080,hostfwd=tcp:127.0.0.1:8081-:8081,hostfwd=udp::5353-:5353',
    ]);
    assertUnsupported(
      () => argv(def(`<interface type='user'><portForward proto='sctp'><range start='1'/></portForward></interface>`)),
      /portForward protocol 'sctp' is not supported/,
    );
  });

  test('on_reboot=destroy adds -no-reboot; restore adds -incoming defer', () => {
    assert.ok(argv(def('', 'qemu', '<on_reboot>destroy</on_reboot>')).includes('-no-reboot'));
    assert.deepEqual(values(argv(def(''), true), '-incoming'), ['defer']);
  });

  test('names are escaped in QemuOpts, never used for paths', () => {
    const d = parseDomainXML(`<domain type='qemu'><name>a,b</name><memory>131072</memory><os><type>hvm</type></os></domain>`);
    assert.deepEqual(values(argv(d), '-name'), ['guest=a,,b,debug-threads=on']);
    assert.equal(optValue('x,y,,z'), 'x,,y,,,,z');
    assert.equal(shellQuote(`it's`), `'it'\\''s'`);
  });

  test('clock offsets: utc, localtime, timezone (TZ)', () => {
    assert.deepEqual(values(argv(def('', 'qemu', `<clock offset='utc'/>`)), '-rtc'), ['base=utc']);
    assert.deepEqual(values(argv(def('', 'qemu', `<clock offset='localtime'/>`)), '-rtc'), ['base=localtime']);
    const tz = buildQemuArgv(def('', 'qemu', `<clock offset='timezone' timezone='Europe/Paris'/>`), { paths: PATHS });
    assert.equal(tz.env.TZ, 'Europe/Paris');
  });

  test('machine type: a name QEMU lists, never options smuggled in with a comma', () => {
    const withMachine = (machine: string) =>
      parseDomainXML(`<domain type='qemu'><name>g</name><memory>131072</memory><os><type machine='${machine}'>hvm</type></os></domain>`);
    assertUnsupported(
      () => argv(withMachine('pc,dump-guest-core=on')),
      /^unsupported configuration: Emulator 'qemu-system-x86_64' does not support machine type 'pc,dump-guest-core=on'$/,
    );
    assertUnsupported(() => argv(withMachine('pc acpi=on')), /does not support machine type/);
    // Against the list QEMU gave (as host.ts probes it): only listed names pass.
    const machines = { emulator: '/usr/bin/qemu-system-x86_64', types: ['pc', 'q35', 'pc-i440fx-7.2'] };
    assert.deepEqual(values(buildQemuArgv(withMachine('q35'), { paths: PATHS, machines }).argv, '-machine'), ['q35,acpi=off']);
    assertUnsupported(
      () => buildQemuArgv(withMachine('pc-q35-99.0'), { paths: PATHS, machines }),
      /^unsupported configuration: Emulator '\/usr\/bin\/qemu-system-x86_64' does not support machine type 'pc-q35-99.0'$/,
    );
  });

  test('VNC: the listen address is an IP address (no option injection), IPv6 in brackets; one VNC display', () => {
    assert.deepEqual(values(argv(def("<graphics type='vnc'/>")), '-vnc'), ['127.0.0.1:0,to=59635']);
    assert.deepEqual(values(argv(def("<graphics type='vnc' port='5901' autoport='no' listen='::1'/>")), '-vnc'), ['[::1]:1']);
    assertUnsupported(() => argv(def("<graphics type='vnc' listen='0.0.0.0,websocket=5700'/>")), /listen address '0.0.0.0,websocket=5700'/);
    assertUnsupported(() => argv(def("<graphics type='vnc' listen='localhost'/>")), /listen address 'localhost'/);
    assertUnsupported(
      () => argv(def("<graphics type='vnc'/><graphics type='vnc'/>")),
      /only 1 graphics device of each type \(sdl, vnc, spice, dbus\) is supported/,
    );
  });

  test('VNC password: password=on, the password itself never on the command line; at most 8 characters', () => {
    const a = argv(def("<graphics type='vnc' passwd='secret12' passwdValidTo='2030-01-02T03:04:05' connected='keep'/>"));
    assert.deepEqual(values(a, '-vnc'), ['127.0.0.1:0,to=59635,password=on']);
    assert.ok(!a.join(' ').includes('secret12'), 'not visible in ps');
    assertUnsupported(() => argv(def("<graphics type='vnc' passwd='123456789'/>")), /VNC password is 9 characters long, only 8 permitted/);
    assertUnsupported(() => argv(def("<graphics type='vnc' passwd='x' connected='disconnect'/>")), /connected='disconnect'/);
  });

  test('VNC autoport ignores a port given with it; a unix socket display (listen type=socket): the path given or the runtime default, escaped', () => {
    assert.deepEqual(values(argv(def("<graphics type='vnc' port='5905' autoport='yes'/>")), '-vnc'), ['127.0.0.1:0,to=59635']);
    // autoport='no' without a port: the first display, fixed.
    assert.deepEqual(values(argv(def("<graphics type='vnc' autoport='no'/>")), '-vnc'), ['127.0.0.1:0']);
    const paths = { ...PATHS, vncSocket: '/run/x/vnc.sock' };
    const build = (g: string) => values(buildQemuArgv(def(g), { paths }).argv, '-vnc');
    assert.deepEqual(build("<graphics type='vnc'><listen type='socket'/></graphics>"), ['unix:/run/x/vnc.sock']);
    assert.deepEqual(build("<graphics type='vnc' passwd='pw'><listen type='socket' socket='/s/a,b.sock'/></graphics>"), ['unix:/s/a,,b.sock,password=on']);
  });

  test('video: each model libvirt runs on QEMU 7.2 as its -device, video memory from vram (KiB to QEMU units)', () => {
    const devices = (body: string) => values(argv(def(body)), '-device').map((d) => JSON.parse(d) as Record<string, unknown>).filter((d) => String(d.id).startsWith('video'));
    // The card libvirt adds to a display.
    assert.deepEqual(devices("<graphics type='vnc'/>"), [{ driver: 'cirrus-vga', id: 'video0' }]);
    assert.deepEqual(devices("<video><model type='vga'/></video>"), [{ driver: 'VGA', id: 'video0', vgamem_mb: 16 }]);
    assert.deepEqual(devices("<video><model type='vga' vram='65536'/></video>"), [{ driver: 'VGA', id: 'video0', vgamem_mb: 64 }]);
    assert.deepEqual(devices("<video><model type='vmvga'/></video>"), [{ driver: 'vmware-svga', id: 'video0', vgamem_mb: 16 }]);
    assert.deepEqual(devices("<video><model type='bochs'/></video>"), [{ driver: 'bochs-display', id: 'video0', vgamem: 16 * 1024 * 1024 }]);
    assert.deepEqual(devices("<video><model type='ramfb'/></video>"), [{ driver: 'ramfb', id: 'video0' }]);
    assert.deepEqual(devices("<video><model type='none'/></video>"), []);
    assert.deepEqual(devices("<video><model type='virtio' heads='2'/></video><video><model type='virtio'/></video>"), [
      { driver: 'virtio-vga', id: 'video0', max_outputs: 2 },
      { driver: 'virtio-gpu-pci', id: 'video1', max_outputs: 1 },
    ]);
    assert.deepEqual(devices("<video><model type='qxl'/></video><video><model type='qxl'/></video>"), [
      { driver: 'qxl-vga', id: 'video0', ram_size: 64 << 20, vram_size: 64 << 20, vgamem_mb: 16, max_outputs: 1 },
      { driver: 'qxl', id: 'video1', ram_size: 64 << 20, vram_size: 64 << 20, vgamem_mb: 16, max_outputs: 1 },
    ]);
    // Without a display nothing is added.
    assert.deepEqual(devices(''), []);
  });

  test("video: what libvirt 9.0's qemu driver refuses, refused in its words (never dropped)", () => {
    const refused: [string, RegExp][] = [
      ["<video><model type='xen'/></video>", /^unsupported configuration: domain configuration does not support video model 'xen'$/],
      ["<video><model type='gop'/></video>", /^unsupported configuration: domain configuration does not support video model 'gop'$/],
      ["<video><model type='virtio' primary='yes'/></video><video><model type='vga'/></video>", /^unsupported configuration: video type 'vga' is only valid as primary video device$/],
      ["<video><model type='cirrus' heads='2'/></video>", /^unsupported configuration: video type 'cirrus' doesn't support multiple 'heads'$/],
      ["<video><model type='vga'><acceleration accel2d='yes'/></model></video>", /^unsupported configuration: qemu does not support the accel2d setting$/],
      ["<video><model type='vga'><acceleration accel3d='yes'/></model></video>", /^unsupported configuration: 3d acceleration is supported only with 'virtio' video device$/],
      ["<video><model type='virtio'><acceleration accel3d='yes'/></model></video>", /^unsupported configuration: 3d acceleration is not supported/],
      ["<video><model type='vga' vram='512'/></video>", /^unsupported configuration: value for 'vram' must be at least 1 MiB \(1024 KiB\)$/],
      ["<video><model type='qxl' vgamem='512'/></video>", /^unsupported configuration: value for 'vgamem' must be at least 1 MiB \(1024 KiB\)$/],
      ["<video><model type='qxl' vgamem='3072'/></video>", /^unsupported configuration: value for 'vgamem' must be power of two$/],
      ["<video><model type='ramfb'/><address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></video>", /^unsupported configuration: 'address' is not supported for 'ramfb' video devices$/],
    ];
    for (const [body, message] of refused) assertUnsupported(() => argv(def(body)), message);
  });

  test('every value inside a QemuOpts option is escaped: paths with commas stay one value', () => {
    const paths: QemuArgvPaths = {
      monitorSocket: '/run/a,server=off/m.sock',
      pidFile: '/run/p,id',
      serialLog: () => '/log/s,x.log',
      serialSocket: () => '/run/a,b/s.sock',
    };
    const a = buildQemuArgv(def("<serial type='file'><source path='/log/a,b'/><target port='0'/></serial><serial type='pty'><target port='1'/></serial>"), { paths }).argv;
    assert.ok(values(a, '-chardev').includes('socket,id=charmonitor,path=/run/a,,server=off/m.sock,server=on,wait=off'));
    assert.ok(values(a, '-chardev').includes('file,id=charserial0,path=/log/a,,b,append=on'));
    assert.ok(values(a, '-chardev').includes('socket,id=charserial1,path=/run/a,,b/s.sock,server=on,wait=off,logfile=/log/s,,x.log,logappend=on'));
    // Plain (non-QemuOpts) arguments are passed as they are.
    assert.deepEqual(values(a, '-pidfile'), ['/run/p,id']);
  });

  test('the backend refuses such definitions at define time (checkDefinition)', () => {
    const be = new QemuGuests({ root: '/nonexistent-root' });
    be.checkDefinition(def(''));
    assertUnsupported(() => be.checkDefinition(def('', 'test')), /virt type 'test'/);
  });
});

describe('qemu binary and KVM', () => {
  test('the binary comes from <emulator> or from PATH; missing is a clear VIR_ERR_SYSTEM_ERROR', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvq-bin-'));
    try {
      const fake = join(dir, 'qemu-system-x86_64');
      writeFileSync(fake, '#!/bin/sh\nexit 1\n');
      chmodSync(fake, 0o755);
      assert.equal(findEmulator(def(''), { PATH: `/nonexistent:${dir}` }), fake);
      assert.equal(findEmulator(def(`<emulator>${fake}</emulator>`), { PATH: '' }), fake);
      assert.throws(
        () => findEmulator(def(''), { PATH: '/nonexistent' }),
        (err: unknown) =>
          err instanceof VirError &&
          err.code === ErrorNumber.SYSTEM_ERROR &&
          err.message === "Cannot find 'qemu-system-x86_64' in path: No such file or directory",
      );
      assert.throws(
        () => findEmulator(def(`<emulator>${dir}/nope</emulator>`)),
        (err: unknown) => err instanceof VirError && /Cannot check QEMU binary .*nope: No such file or directory/.test(err.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("type='kvm' without a usable KVM device fails clearly", () => {
    assertUnsupported(() => checkKvm('/nonexistent/kvm'), /domain type 'kvm' needs KVM: cannot open \/nonexistent\/kvm: No such file or directory/);
  });
});

describe('qemu session locations and version', () => {
  test('session state under TSVIRT_STATE_DIR, else XDG; runtime under XDG_RUNTIME_DIR; system under /var/lib and /run', () => {
    assert.deepEqual(qemuLocations('/session', { TSVIRT_STATE_DIR: '/s' }), { root: '/s/qemu', runRoot: '/s/qemu/run' });
    assert.deepEqual(qemuLocations('/session', { XDG_STATE_HOME: '/x', XDG_RUNTIME_DIR: '/run/user/1' }), {
      root: '/x/tsvirt/qemu',
      runRoot: '/run/user/1/tsvirt/qemu',
    });
    assert.deepEqual(qemuLocations('/system', {}), { root: '/var/lib/tsvirt/qemu', runRoot: '/run/tsvirt/qemu' });
  });

  test("QEMU's version in libvirt's encoding", (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvq-ver-'));
    try {
      const fake = join(dir, 'qemu');
      writeFileSync(fake, '#!/bin/sh\necho "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"\n');
      chmodSync(fake, 0o755);
      assert.equal(qemuVersion(fake), 7_002_022);
      assert.throws(() => qemuVersion(join(dir, 'missing')), (err: unknown) => err instanceof VirError && err.code === ErrorNumber.INTERNAL_ERROR);
      t.diagnostic('parsed from `--version`');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('internal snapshot names against the image IDs', () => {
  const sn = (id: string, name: string, dateSec: number): ImageSnapshot => ({ id, name, dateSec });
  const expectFailed = (fn: () => unknown, message: RegExp) =>
    assert.throws(fn, (err: unknown) => err instanceof VirError && err.code === ErrorNumber.OPERATION_FAILED && message.test(err.message));

  test('a name resolves to its own snapshot, never to one whose ID equals it', () => {
    const list = [sn('1', '2', 100), sn('2', 'decoy', 200)];
    assert.equal(resolveImageSnapshot(list, '2', 'd.qcow2', 100)?.id, '1');
    assert.equal(resolveImageSnapshot(list, 'nosuch', 'd.qcow2', 100), undefined);
  });

  test('a duplicate name: the earliest taken at or after the recorded creation time, else refused', () => {
    const list = [sn('1', 's', 90), sn('2', 's', 100), sn('3', 's', 150)];
    assert.equal(resolveImageSnapshot(list, 's', 'd.qcow2', 100)?.id, '2');
    assert.equal(resolveImageSnapshot([sn('4', 's', 100), sn('3', 's', 100)], 's', 'd.qcow2', 100)?.id, '3');
    expectFailed(() => resolveImageSnapshot(list, 's', 'd.qcow2', 200), /ambiguous in disk image 'd.qcow2'.*IDs 1, 2, 3/);
    expectFailed(() => resolveImageSnapshot(list, 's', 'd.qcow2', undefined), /ambiguous/);
  });

  test('-loadvm is refused when QEMU would take another snapshot; a new name must be new', () => {
    expectFailed(() => checkLoadvmTarget([sn('1', 'decoy', 1), sn('2', '1', 2)], '1', 'd.qcow2'), /'1' is also the ID of internal snapshot 'decoy'/);
    checkLoadvmTarget([sn('1', '1', 1), sn('2', 'x', 2)], '1', 'd.qcow2');
    expectFailed(() => checkLoadvmTarget([sn('1', 's', 1), sn('2', 's', 2)], 's', 'd.qcow2'), /holds 2 snapshots of that name/);
    expectFailed(() => checkNewSnapshotName([sn('7', 'again', 1)], 'again', 'd.qcow2'), /'again' already exists in disk image 'd.qcow2' \(ID 7/);
    checkNewSnapshotName([sn('7', 'again', 1)], 'other', 'd.qcow2');
  });
});
