/**
 * End to end with a real client: Debian's virt-install against tsvirtd (run inside a network
 * namespace of the test's own) creates a guest on `--network network=default`, boots it (the
 * test guest's kernel and initrd, `guest.net=1`), the guest obtains a DHCP lease from the
 * network's dnsmasq and answers a ping from the host side of the bridge. Destroying the guest
 * removes its tap; the namespace and all in it go afterwards.
 *
 * The second case adds storage: `--disk size=1` makes virt-install define, build and start the
 * `default` dir pool itself (tsvirt presets none, as libvirt) and create the guest's volume in it;
 * `virsh domifaddr` then reads the guest's address from the network's DHCP leases.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { virsh, virshSkip } from './support/daemon-harness.js';
import { missing } from './support/host-tools.js';
import { QEMU_TOOLS } from './support/host-tools.js';
import { buildTestGuest, waitForText } from './qemu-harness.js';
import { inNs, netnsSkip, nsProcesses, startNetnsDaemon, type NetnsDaemon } from './support/netns.js';

const skip = netnsSkip() || virshSkip() || missing('virt-install', ...QEMU_TOOLS);

function run(cmd: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', ...env } });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('virt-install --network network=default against tsvirtd: DHCP lease and ping', { skip }, () => {
  let d: NetnsDaemon;
  before(async () => {
    d = await startNetnsDaemon();
  });
  after(async () => {
    await d?.dispose();
  });

  test('the guest gets a lease from the network and answers a ping from the host', { timeout: 300_000 }, async () => {
    assert.equal(virsh(d.uri, 'net-start', 'default').code, 0);
    const guest = await buildTestGuest(join(d.dir, 'guest'));
    const serial = join(d.dir, 'g1.serial');
    const vi = await run(
      'virt-install',
      [
        '--connect', d.uri,
        '--name', 'g1',
        '--memory', '128',
        '--vcpus', '1',
        '--virt-type', 'qemu',
        '--osinfo', 'detect=off,require=off',
        '--import',
        '--boot', `kernel=${guest.kernel},initrd=${guest.initrd},kernel_args=console=ttyS0 panic=-1 guest.mode=A guest.net=1`,
        '--network', 'network=default,model=virtio',
        '--disk', 'none',
        '--graphics', 'none',
        '--serial', `file,path=${serial}`,
        '--noautoconsole',
      ],
      180_000,
    );
    assert.equal(vi.code, 0, vi.out);
    assert.match(vi.out, /Domain creation completed/);

    const line = await waitForText(serial, /GUEST-DHCP ip=(\S+)/, 180_000);
    const ip = /GUEST-DHCP ip=(\S+)/.exec(line)?.[1] ?? '';
    assert.match(ip, /^192\.168\.122\.\d+$/);

    const iflist = virsh(d.uri, 'domiflist', 'g1');
    const m = /^\s*(vnet\d+)\s+network\s+default\s+virtio\s+(\S+)/m.exec(iflist.stdout);
    assert.ok(m !== null, iflist.stdout);
    const [, tap, mac] = m;
    assert.match(inNs(d.ns, ['ip', '-br', 'link', 'show', 'master', 'virbr0']).stdout, new RegExp(`^${tap}\\s`, 'm'));

    const leases = virsh(d.uri, 'net-dhcp-leases', 'default', '--mac', mac ?? '');
    assert.equal(leases.code, 0, leases.stderr);
    assert.match(leases.stdout, new RegExp(`${mac}\\s+ipv4\\s+${ip.replace(/\./g, '\\.')}/24`));

    const ping = inNs(d.ns, ['busybox', 'ping', '-c', '3', '-W', '10', ip], true);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.match(ping.stdout, /3 packets transmitted, [1-3] packets received/);

    assert.equal(virsh(d.uri, 'destroy', 'g1').code, 0);
    assert.doesNotMatch(inNs(d.ns, ['ip', '-br', 'link']).stdout, new RegExp(`^${tap}\\s`, 'm'));
    assert.equal(virsh(d.uri, 'undefine', 'g1').code, 0);
    assert.equal(virsh(d.uri, 'net-destroy', 'default').code, 0);
  });
});

describe('virt-install --disk size=1 --network network=default: volume in the default pool, lease, domifaddr, ping', { skip }, () => {
  let d: NetnsDaemon;
  before(async () => {
    d = await startNetnsDaemon();
  });
  after(async () => {
    await d?.dispose();
  });

  test('virt-install makes the default pool and the volume; domifaddr shows the leased address', { timeout: 400_000 }, async () => {
    assert.equal(virsh(d.uri, 'pool-list', '--all', '--name').stdout.trim(), '', 'no pool is preset');
    assert.equal(virsh(d.uri, 'net-start', 'default').code, 0);
    const guest = await buildTestGuest(join(d.dir, 'guest'));
    const serial = join(d.dir, 'g2.serial');
    // A session URI: virt-install puts the default pool under $XDG_DATA_HOME/images (kept in the
    // test's directory); with a system URI it would be the host's /var/lib/libvirt/images.
    const dataHome = join(d.dir, 'xdg');
    const images = join(dataHome, 'images');
    const vi = await run(
      'virt-install',
      [
        '--connect', d.uri,
        '--name', 'g2',
        '--memory', '128',
        '--vcpus', '1',
        '--virt-type', 'qemu',
        '--osinfo', 'detect=off,require=off',
        '--import',
        '--boot', `kernel=${guest.kernel},initrd=${guest.initrd},kernel_args=console=ttyS0 panic=-1 guest.mode=A guest.net=1`,
        '--network', 'network=default,model=virtio',
        '--disk', 'size=1',
        '--graphics', 'none',
        '--serial', `file,path=${serial}`,
        '--noautoconsole',
      ],
      240_000,
      { XDG_DATA_HOME: dataHome },
    );
    assert.equal(vi.code, 0, vi.out + d.log());
    assert.match(vi.out, /Domain creation completed/);

    // The pool virt-install defined, built, started and marked autostart; the volume in it.
    const pool = virsh(d.uri, 'pool-dumpxml', 'default');
    assert.equal(pool.code, 0, pool.stderr);
    assert.match(pool.stdout, new RegExp(`<path>${images}</path>`));
    assert.match(virsh(d.uri, 'pool-info', 'default').stdout, /State:\s+running[\s\S]*Autostart:\s+yes/);
    const vols = virsh(d.uri, 'vol-list', 'default');
    assert.equal(vols.code, 0, vols.stderr);
    assert.match(vols.stdout, new RegExp(`^\\s*g2\\.qcow2\\s+${images}/g2\\.qcow2\\s*$`, 'm'));
    assert.match(virsh(d.uri, 'vol-info', '--pool', 'default', 'g2.qcow2').stdout, /Capacity:\s+1\.00 GiB/);
    // Without an OS to detect, virt-install puts the disk on IDE.
    assert.match(virsh(d.uri, 'domblklist', 'g2').stdout, new RegExp(`hda\\s+${images}/g2\\.qcow2`));

    const line = await waitForText(serial, /GUEST-DHCP ip=(\S+)/, 180_000);
    const ip = /GUEST-DHCP ip=(\S+)/.exec(line)?.[1] ?? '';
    assert.match(ip, /^192\.168\.122\.\d+$/);
    const esc = ip.replace(/\./g, '\\.');

    const iflist = virsh(d.uri, 'domiflist', 'g2');
    const m = /^\s*(vnet\d+)\s+network\s+default\s+virtio\s+(\S+)/m.exec(iflist.stdout);
    assert.ok(m !== null, iflist.stdout);
    const [, tap, mac] = m;

    const leases = virsh(d.uri, 'net-dhcp-leases', 'default');
    assert.equal(leases.code, 0, leases.stderr);
    assert.match(leases.stdout, new RegExp(`${mac}\\s+ipv4\\s+${esc}/24`));

    // domifaddr's default source is the lease: the tap's name, the MAC, the address with its prefix.
    for (const args of [['domifaddr', 'g2'], ['domifaddr', 'g2', '--source', 'lease']]) {
      const r = virsh(d.uri, ...args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^\\s*${tap}\\s+${mac}\\s+ipv4\\s+${esc}/24\\s*$`, 'm'), r.stdout);
    }

    // The test guest's DHCP client sends its host name; the lease carries it.
    const host = virsh(d.uri, 'domhostname', 'g2', '--source', 'lease');
    assert.equal(host.code, 0, host.stderr);
    assert.equal(host.stdout.trim(), 'tsvirt-guest');

    const ping = inNs(d.ns, ['busybox', 'ping', '-c', '3', '-W', '10', ip], true);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.match(ping.stdout, /3 packets transmitted, [1-3] packets received/);

    // Everything goes: guest with its storage, the pool, the network.
    assert.equal(virsh(d.uri, 'destroy', 'g2').code, 0);
    const undef = virsh(d.uri, 'undefine', 'g2', '--remove-all-storage');
    assert.equal(undef.code, 0, undef.stderr);
    assert.doesNotMatch(virsh(d.uri, 'vol-list', 'default').stdout, /g2\.qcow2/);
    assert.equal(virsh(d.uri, 'pool-destroy', 'default').code, 0);
    assert.equal(virsh(d.uri, 'pool-delete', 'default').code, 0);
    assert.equal(virsh(d.uri, 'pool-undefine', 'default').code, 0);
    assert.equal(virsh(d.uri, 'pool-list', '--all', '--name').stdout.trim(), '');
    assert.equal(virsh(d.uri, 'net-destroy', 'default').code, 0);
    assert.deepEqual(nsProcesses(d.ns).filter((p) => p.args.includes('dnsmasq')), [], 'dnsmasq has stopped');
  });
});
