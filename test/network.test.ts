/**
 * Virtual networks on the test driver, through the public API: libvirt's preset `default`
 * network, define / start / destroy / undefine with libvirt's rules and messages, listing
 * filters, durability of test:///session, and the network XML's round trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, openReadOnly, VirError, ErrorNumber, ConnectListAllNetworksFlags as L, NetworkXMLFlags } from '../src/index.js';
import Database from 'better-sqlite3';
import { formatNetworkXML, parseNetworkXML } from '../src/conf/network.js';
import { MIGRATIONS } from '../src/store/schema.js';
import { Store } from '../src/store/store.js';

const ISO = `<network>
  <name>iso</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <ip address='10.9.0.1' prefix='24'>
    <dhcp>
      <range start='10.9.0.10' end='10.9.0.20'/>
      <host mac='52:54:00:00:00:01' name='h1' ip='10.9.0.5'/>
    </dhcp>
  </ip>
</network>
`;

async function rejects(p: Promise<unknown>, code: number, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof VirError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
}

test("test:///default has libvirt's preset network 'default', active, with libvirt's XML", async () => {
  const conn = await connect('test:///default');
  try {
    const nets = await conn.listAllNetworks();
    assert.deepEqual(nets.map((n) => n.name()), ['default']);
    const net = await conn.networkLookupByName('default');
    assert.equal(net.UUIDString(), 'dd8fe884-6c02-601e-7551-cca97df1c5df');
    assert.equal(await net.isActive(), true);
    assert.equal(await net.isPersistent(), true);
    assert.equal(await net.autostart(), false);
    assert.equal(await net.bridgeName(), 'virbr0');
    assert.equal(
      await net.XMLDesc(),
      `<network>
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
`,
    );
    // As libvirt's test driver: no DHCP leases there.
    await rejects(net.DHCPLeases(), ErrorNumber.NO_SUPPORT, /virNetworkGetDHCPLeases/);
  } finally {
    await conn.close();
  }
});

test('define, start, destroy, undefine a network; a transient one vanishes when destroyed', async () => {
  const conn = await connect('test:///default');
  try {
    const net = await conn.networkDefineXML(ISO);
    assert.equal(net.name(), 'iso');
    assert.equal(await net.isActive(), false);
    assert.equal(await conn.numOfDefinedNetworks(), 1);
    await net.create();
    assert.equal(await net.isActive(), true);
    await rejects(net.create(), ErrorNumber.OPERATION_INVALID, /Network 'iso' is already running/);
    assert.deepEqual(await conn.listNetworks(), ['default', 'iso']);
    // As libvirt's test driver; its network driver lets it run on as transient (network-host.test.ts).
    await rejects(net.undefine(), ErrorNumber.OPERATION_INVALID, /Network 'iso' is still running/);
    await net.destroy();
    await net.undefine();
    await rejects(net.isActive(), ErrorNumber.NO_NETWORK, /no network with matching uuid/);
    const tr = await conn.networkCreateXML(ISO.replace('11111111-2222', '22222222-2222'));
    assert.equal(await tr.isPersistent(), false);
    assert.equal(await tr.isActive(), true);
    const net2 = tr;
    // A transient network is always running: libvirt's test driver says so first.
    await rejects(net2.undefine(), ErrorNumber.OPERATION_INVALID, /Network 'iso' is still running/);
    // As libvirt's test driver (its network driver refuses it; see network-host.test.ts).
    await net2.setAutostart(true);
    await net2.destroy();
    await rejects(conn.networkLookupByName('iso'), ErrorNumber.NO_NETWORK, /Network not found: no network with matching name 'iso'/);
  } finally {
    await conn.close();
  }
});

test("a name or UUID taken by another network is refused with libvirt's messages, and nothing changes", async () => {
  const conn = await connect('test:///default');
  try {
    await conn.networkDefineXML(ISO);
    await rejects(
      conn.networkDefineXML(ISO.replace('11111111-2222', '99999999-2222')),
      ErrorNumber.OPERATION_FAILED,
      /network 'iso' already exists with uuid 11111111-2222-3333-4444-555555555555/,
    );
    await rejects(
      conn.networkDefineXML(ISO.replace('<name>iso</name>', '<name>other</name>')),
      ErrorNumber.OPERATION_FAILED,
      /network 'iso' is already defined with uuid/,
    );
    await rejects(
      conn.networkCreateXML(ISO.replace('11111111-2222', '99999999-2222')),
      ErrorNumber.OPERATION_FAILED,
      /network 'iso' already exists/,
    );
    assert.deepEqual((await conn.listAllNetworks()).map((n) => n.name()), ['default', 'iso']);
    // A redefinition of the same network replaces its definition.
    await conn.networkDefineXML(ISO.replace("prefix='24'", "prefix='16'"));
    assert.match(await (await conn.networkLookupByName('iso')).XMLDesc(NetworkXMLFlags.INACTIVE), /prefix='16'/);
  } finally {
    await conn.close();
  }
});

test('listAllNetworks filters by groups; bad flags are refused before anything', async () => {
  const conn = await connect('test:///default');
  try {
    await conn.networkDefineXML(ISO);
    await (await conn.networkLookupByName('default')).setAutostart(true);
    const names = async (flags: number) => (await conn.listAllNetworks(flags)).map((n) => n.name());
    assert.deepEqual(await names(L.ACTIVE), ['default']);
    assert.deepEqual(await names(L.INACTIVE), ['iso']);
    assert.deepEqual(await names(L.AUTOSTART), ['default']);
    assert.deepEqual(await names(L.NO_AUTOSTART | L.PERSISTENT), ['iso']);
    assert.deepEqual(await names(L.TRANSIENT), []);
    await rejects(conn.listAllNetworks(0x40), ErrorNumber.INVALID_ARG, /unsupported flags \(0x40\) in function testConnectListAllNetworks/);
  } finally {
    await conn.close();
  }
});

test('bad network XML: no name, a bad UUID, a DHCP range outside the subnet', async () => {
  const conn = await connect('test:///default');
  try {
    await rejects(conn.networkDefineXML('<network/>'), ErrorNumber.NO_NAME, /missing name information/);
    await rejects(conn.networkDefineXML('<network><name>x</name><uuid>zz</uuid></network>'), ErrorNumber.XML_ERROR, /malformed uuid element/);
    await rejects(
      conn.networkDefineXML(ISO.replace("start='10.9.0.10'", "start='10.8.0.10'")),
      ErrorNumber.CONFIG_UNSUPPORTED,
      /range 10.8.0.10 - 10.9.0.20 is not entirely within network/,
    );
    await rejects(conn.networkDefineXML('<domain/>'), ErrorNumber.XML_ERROR, /network/);
    assert.equal((await conn.listAllNetworks()).length, 1);
  } finally {
    await conn.close();
  }
});

test('a read-only connection reads networks and may not change them', async () => {
  const conn = await openReadOnly('test:///default');
  try {
    const net = await conn.networkLookupByName('default');
    assert.equal(await net.isActive(), true);
    await rejects(net.destroy(), ErrorNumber.OPERATION_DENIED, /read only access prevents virNetworkDestroy/);
    await rejects(conn.networkDefineXML(ISO), ErrorNumber.OPERATION_DENIED, /virNetworkDefineXMLFlags/);
  } finally {
    await conn.close();
  }
});

test("test:///session keeps networks across connections; the preset 'default' comes once, an undefine of it stays", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-net-'));
  const saved = process.env.TSVIRT_STATE_DIR;
  process.env.TSVIRT_STATE_DIR = dir;
  try {
    let conn = await connect('test:///session');
    try {
      const def = await conn.networkLookupByName('default');
      await def.destroy();
      await def.undefine();
      await conn.networkDefineXML(ISO);
    } finally {
      await conn.close();
    }
    conn = await connect('test:///session');
    try {
      assert.deepEqual((await conn.listAllNetworks()).map((n) => n.name()), ['iso']);
    } finally {
      await conn.close();
    }
  } finally {
    if (saved === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('network XML keeps what it does not model (dns, attributes) in place across a round trip', () => {
  const xml = `<network ipv6='yes'>
  <name>n</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <forward mode='nat'/>
  <bridge name='br9' stp='off' delay='2'/>
  <mac address='52:54:00:12:34:56'/>
  <domain name='example.test'/>
  <dns>
    <host ip='10.1.0.9'>
      <hostname>h</hostname>
    </host>
  </dns>
  <ip address='10.1.0.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='10.1.0.2' end='10.1.0.254'/>
    </dhcp>
  </ip>
</network>
`;
  assert.equal(formatNetworkXML(parseNetworkXML(xml)), xml);
});

test('store: a version-2 store (checkpoints, no networks) is upgraded in place, its domains kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-net-'));
  try {
    const path = join(dir, 'v2.db');
    const db = new Database(path);
    db.exec(`${MIGRATIONS[0] ?? ''};${MIGRATIONS[1] ?? ''}`);
    db.pragma('user_version = 2');
    db.prepare("INSERT INTO domains (uuid, name, persistent, config_xml, state, reason, max_mem, memory, vcpus) VALUES ('u1', 'old', 1, '<domain/>', 5, 0, 1, 1, 1)").run();
    db.close();
    const store = new Store({ path });
    try {
      assert.equal(store.domainByName('old')?.uuid, 'u1');
      assert.deepEqual(store.allNetworks(), []);
      store.mutate(() => store.putNetwork({ uuid: 'n1', name: 'n', persistent: true, configXml: '<network/>', liveXml: null, active: false, autostart: false, runtime: null }));
      assert.equal(store.networkByName('n')?.uuid, 'n1');
      assert.equal(store.mutate(() => store.claimOnce('x')), true);
      assert.equal(store.mutate(() => store.claimOnce('x')), false);
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
