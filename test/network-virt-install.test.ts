/**
 * End to end with a real client: Debian's virt-install against tsvirtd (run inside a network
 * namespace of the test's own) creates a guest on `--network network=default`, boots it (the
 * test guest's kernel and initrd, `guest.net=1`), the guest obtains a DHCP lease from the
 * network's dnsmasq and answers a ping from the host side of the bridge. Destroying the guest
 * removes its tap; the namespace and all in it go afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { virsh, virshSkip } from './support/daemon-harness.js';
import { missing } from './support/host-tools.js';
import { QEMU_TOOLS } from './support/host-tools.js';
import { buildTestGuest, waitForText } from './qemu-harness.js';
import { inNs, netnsSkip, startNetnsDaemon, type NetnsDaemon } from './support/netns.js';

const skip = netnsSkip() || virshSkip() || missing('virt-install', ...QEMU_TOOLS);

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
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
