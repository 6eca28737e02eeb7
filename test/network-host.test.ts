/**
 * Real networks on qemu:///session as root, built by tsvirtd inside a network namespace of the
 * test's own: libvirt's `default` network as a bridge with its address, dnsmasq and an nftables
 * NAT table; the bad inputs (a subnet overlapping a route, a bridge name in use, dnsmasq killed)
 * each a clear VirError with nothing half-made left; the network kept up across a daemon
 * restart; and the refusal libvirt gives a user without root.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { virsh, virshSkip } from './support/daemon-harness.js';
import { inNs, netnsSkip, nsProcesses, startNetnsDaemon, type NetnsDaemon } from './support/netns.js';

const skip = netnsSkip() || virshSkip();

const links = (d: NetnsDaemon): string => inNs(d.ns, ['ip', '-br', 'addr']).stdout;
const tables = (d: NetnsDaemon): string => inNs(d.ns, ['nft', 'list', 'tables']).stdout;
const dnsmasqs = (d: NetnsDaemon): { pid: number; args: string }[] => nsProcesses(d.ns).filter((p) => /dnsmasq/.test(p.args));

function net(name: string, body: string): string {
  return `<network>\n  <name>${name}</name>\n${body}\n</network>\n`;
}

describe('real networks in a network namespace (qemu:///session as root)', { skip }, () => {
  let d: NetnsDaemon;
  const file = (name: string, xml: string): string => {
    const p = join(d.dir, name);
    writeFileSync(p, xml);
    return p;
  };

  before(async () => {
    d = await startNetnsDaemon();
  });
  after(async () => {
    await d?.dispose();
  });

  test("net-start default: bridge virbr0 with 192.168.122.1/24, dnsmasq on it, an nftables NAT table; net-destroy removes them", () => {
    const list = virsh(d.uri, 'net-list', '--all');
    assert.match(list.stdout, /default\s+inactive\s+no\s+yes/);
    const r = virsh(d.uri, 'net-start', 'default');
    assert.equal(r.code, 0, r.stderr);
    assert.match(links(d), /^virbr0\s+\S+\s+192\.168\.122\.1\/24/m);
    assert.match(tables(d), /table ip tsvirt_virbr0/);
    const nat = inNs(d.ns, ['nft', 'list', 'table', 'ip', 'tsvirt_virbr0']).stdout;
    assert.match(nat, /ip saddr 192\.168\.122\.0\/24 ip daddr != 192\.168\.122\.0\/24 masquerade/);
    const dm = dnsmasqs(d);
    assert.equal(dm.length, 1, JSON.stringify(dm));
    const conf = readFileSync(join(d.stateDir, 'qemu', 'network', 'virbr0.conf'), 'utf8');
    assert.match(conf, /^dhcp-range=192\.168\.122\.2,192\.168\.122\.254,255\.255\.255\.0$/m);
    assert.match(conf, /^interface=virbr0$/m);
    const xml = virsh(d.uri, 'net-dumpxml', 'default').stdout;
    assert.match(xml, /<port start='1024' end='65535'\/>/);
    assert.equal(virsh(d.uri, 'net-info', 'default').stdout.match(/^Active:\s+(\S+)/m)?.[1], 'yes');

    const stop = virsh(d.uri, 'net-destroy', 'default');
    assert.equal(stop.code, 0, stop.stderr);
    assert.doesNotMatch(links(d), /virbr0/);
    assert.doesNotMatch(tables(d), /tsvirt_/);
    assert.equal(dnsmasqs(d).length, 0);
  });

  test('a subnet overlapping a route of the namespace: VIR_ERR_INTERNAL_ERROR naming the interface, nothing half-made', () => {
    assert.equal(virsh(d.uri, 'net-start', 'default').code, 0);
    try {
      const p = file('clash.xml', net('clash', "  <forward mode='nat'/>\n  <ip address='192.168.122.129' prefix='25'><dhcp><range start='192.168.122.130' end='192.168.122.140'/></dhcp></ip>"));
      assert.equal(virsh(d.uri, 'net-define', p).code, 0);
      const r = virsh(d.uri, 'net-start', 'clash');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /internal error: Network is already in use by interface virbr0/);
      assert.doesNotMatch(links(d), /virbr1/);
      assert.doesNotMatch(tables(d), /tsvirt_virbr1/);
      assert.equal(dnsmasqs(d).length, 1);
      assert.match(virsh(d.uri, 'net-list', '--all').stdout, /clash\s+inactive/);
      assert.equal(virsh(d.uri, 'net-undefine', 'clash').code, 0);
    } finally {
      virsh(d.uri, 'net-destroy', 'default');
    }
  });

  test("a bridge name in use: another network's at define, a host link's at start; nothing half-made", () => {
    const p = file('same.xml', net('same', "  <bridge name='virbr0'/>\n  <ip address='10.77.0.1' prefix='24'/>"));
    const r = virsh(d.uri, 'net-define', p);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /internal error: bridge name 'virbr0' already in use\./);
    assert.doesNotMatch(virsh(d.uri, 'net-list', '--all', '--name').stdout, /same/);

    inNs(d.ns, ['ip', 'link', 'add', 'hostbr', 'type', 'bridge']);
    try {
      const q = file('hb.xml', net('hb', "  <forward mode='nat'/>\n  <bridge name='hostbr'/>\n  <ip address='10.78.0.1' prefix='24'><dhcp><range start='10.78.0.2' end='10.78.0.9'/></dhcp></ip>"));
      assert.equal(virsh(d.uri, 'net-define', q).code, 0);
      const s = virsh(d.uri, 'net-start', 'hb');
      assert.equal(s.code, 1);
      assert.match(s.stderr, /internal error: bridge name 'hostbr' already in use\./);
      assert.doesNotMatch(tables(d), /tsvirt_hostbr/);
      assert.equal(dnsmasqs(d).length, 0);
      assert.match(links(d), /^hostbr\s/m); // the host's link is left alone
      assert.equal(virsh(d.uri, 'net-undefine', 'hb').code, 0);
    } finally {
      inNs(d.ns, ['ip', 'link', 'del', 'hostbr'], true);
    }
  });

  test('dnsmasq killed: restarted on the next connection, its leases kept', async () => {
    assert.equal(virsh(d.uri, 'net-start', 'default').code, 0);
    try {
      const [first] = dnsmasqs(d);
      assert.ok(first !== undefined);
      // A lease as dnsmasq writes it: EXPIRY MAC IP HOSTNAME CLIENTID.
      const leases = join(d.stateDir, 'qemu', 'network', 'virbr0.leases');
      const expiry = Math.floor(Date.now() / 1000) + 3600;
      writeFileSync(leases, `${expiry} 52:54:00:aa:bb:cc 192.168.122.50 g50 01:52:54:00:aa:bb:cc\n`);
      process.kill(first.pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(dnsmasqs(d).length, 0);
      const r = virsh(d.uri, 'net-dhcp-leases', 'default');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /52:54:00:aa:bb:cc\s+ipv4\s+192\.168\.122\.50\/24\s+g50/);
      const again = dnsmasqs(d);
      assert.equal(again.length, 1);
      assert.notEqual(again[0]?.pid, first.pid);
      assert.match(readFileSync(leases, 'utf8'), /192\.168\.122\.50/);
    } finally {
      virsh(d.uri, 'net-destroy', 'default');
    }
  });

  test('the network stays up across a daemon restart, as libvirt\'s', async () => {
    assert.equal(virsh(d.uri, 'net-start', 'default').code, 0);
    try {
      await d.stop();
      assert.match(links(d), /^virbr0\s/m);
      assert.equal(dnsmasqs(d).length, 1);
      await d.restart();
      assert.match(virsh(d.uri, 'net-list').stdout, /default\s+active/);
    } finally {
      virsh(d.uri, 'net-destroy', 'default');
    }
    assert.doesNotMatch(links(d), /virbr0/);
  });

  test("a guest on an inactive or missing network is refused at start, as libvirt's qemu driver, and no tap is left", () => {
    const dom = (name: string, source: string) => `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>/nonexistent/vmlinuz</kernel></os>
  <devices><interface type='network'><source network='${source}'/><model type='virtio'/></interface></devices>
</domain>
`;
    assert.equal(virsh(d.uri, 'define', file('g-off.xml', dom('g-off', 'default'))).code, 0);
    assert.equal(virsh(d.uri, 'define', file('g-none.xml', dom('g-none', 'nonet'))).code, 0);
    try {
      const off = virsh(d.uri, 'start', 'g-off');
      assert.equal(off.code, 1);
      assert.match(off.stderr, /Requested operation is not valid: network 'default' is not active/);
      const none = virsh(d.uri, 'start', 'g-none');
      assert.equal(none.code, 1);
      assert.match(none.stderr, /Network not found: no network with matching name 'nonet'/);
      assert.doesNotMatch(links(d), /vnet/);
      assert.match(virsh(d.uri, 'domstate', 'g-off').stdout, /shut off/);
    } finally {
      virsh(d.uri, 'undefine', 'g-off');
      virsh(d.uri, 'undefine', 'g-none');
    }
  });

  test('qemu:///session as a user without root: starting a network fails with the system error libvirt reports', () => {
    const state = mkdtempSync(join(tmpdir(), 'tsvirt-nobody-'));
    try {
      chmodSync(state, 0o700);
      chownSync(state, 65534, 65534);
      const cli = fileURLToPath(new URL('../src/cli/tsvirt.cjs', import.meta.url));
      const p = join(state, 'n.xml');
      writeFileSync(p, net('n', "  <forward mode='nat'/>\n  <ip address='10.79.0.1' prefix='24'/>"));
      chownSync(p, 65534, 65534);
      const r = spawnSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, cli, '-c', 'qemu:///session', `net-define ${p}; net-start n`],
        { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: state, TSVIRT_STATE_DIR: state }, timeout: 30_000 },
      );
      assert.match(r.stdout, /Network n defined/);
      assert.match(r.stderr, /error: Failed to start network n\nerror: Unable to create bridge virbr\d+: Operation not permitted/);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
});
