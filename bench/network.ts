/**
 * Network benchmark (one run): from "start the network" to the first DHCP lease of a guest on it.
 * tsvirtd runs inside a network namespace of its own (test/support/netns.ts), as the tests do;
 * the client is tsvirt's library through the remote driver. Steps timed:
 *
 *   net-start   Network.create() of libvirt's `default` (bridge, nftables, dnsmasq)
 *   dom-start   Domain.create() of the test guest (TCG, virtio NIC on `default`, guest.net=1)
 *   lease       from dom-start until Network.DHCPLeases() shows the guest's MAC
 *   total       net-start + dom-start + lease
 *
 * Beside libvirtd: libvirt's network driver as root writes /run/libvirt and /var/lib/libvirt and
 * starts its qemu guests as libvirt-qemu under cgroups, which these shared machines do not give a
 * benchmark; so the libvirtd column is left out, and says why (docs/benchmarks.md).
 *
 *   npm run build && node dist/bench/network.js [ROUNDS]
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { connect } from '../src/index.js';
import { buildTestGuest } from '../test/qemu-harness.js';
import { netnsSkip, startNetnsDaemon } from '../test/support/netns.js';

const ROUNDS = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 1);

async function main(): Promise<void> {
  const why = netnsSkip();
  if (why !== false) {
    console.log(`network bench skipped: ${why}`);
    return;
  }
  const d = await startNetnsDaemon();
  try {
    const guest = await buildTestGuest(join(d.dir, 'guest'));
    const conn = await connect(d.uri);
    try {
      const net = await conn.networkLookupByName('default');
      const mac = '52:54:00:be:ec:01';
      const dom = await conn.defineXML(`<domain type='qemu'>
  <name>bench-net</name>
  <uuid>${randomUUID()}</uuid>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${guest.kernel}</kernel>
    <initrd>${guest.initrd}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 guest.mode=B guest.net=1</cmdline>
  </os>
  <devices>
    <serial type='file'><source path='${join(d.dir, 'serial.log')}'/><target port='0'/></serial>
    <interface type='network'><mac address='${mac}'/><source network='default'/><model type='virtio'/></interface>
  </devices>
</domain>`);
      const rows: number[][] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const t0 = performance.now();
        await net.create();
        const t1 = performance.now();
        await dom.create();
        const t2 = performance.now();
        for (;;) {
          if ((await net.DHCPLeases(mac)).length > 0) break;
          if (performance.now() - t2 > 180_000) throw new Error('no lease within 180 s');
          await new Promise((r) => setTimeout(r, 20));
        }
        const t3 = performance.now();
        rows.push([t1 - t0, t2 - t1, t3 - t2, t3 - t0]);
        await dom.destroy();
        await net.destroy();
        // A fresh lease next round: dnsmasq's lease file would answer at once otherwise.
        await net.undefine();
        await conn.networkDefineXML(DEFAULT);
      }
      const fmt = (ms: number) => `${ms.toFixed(0).padStart(8)} ms`;
      console.log(`network start to first DHCP lease, tsvirtd (qemu:///session as root, netns), ${ROUNDS} round(s), TCG guest`);
      console.log(`${'round'.padEnd(6)}${'net-start'.padStart(11)}${'dom-start'.padStart(11)}${'lease'.padStart(11)}${'total'.padStart(11)}`);
      rows.forEach((r, i) => console.log(`${String(i + 1).padEnd(6)}${r.map(fmt).join('')}`));
      console.log('libvirtd: not run (its network driver needs the system directories and libvirt-qemu; see docs/benchmarks.md)');
      await dom.undefine();
    } finally {
      await conn.close();
    }
  } finally {
    await d.dispose();
  }
}

const DEFAULT = `<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
`;

await main();
