/**
 * The ESX driver through the public API, against govmomi's vSphere simulator (vcsim): listing,
 * lookups, lifecycle, domain XML, snapshots in the hypervisor's tree, and the seed's rules for
 * hypervisor-owned state (R9, with R7, R1 and R11 where they apply).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConnectListAllDomainsFlags as L,
  DomainEventType,
  DomainSnapshotCreateFlags,
  DomainSnapshotDeleteFlags,
  DomainSnapshotListFlags,
  DomainState,
  DomainUndefineFlags,
  ErrorDomain,
  ErrorNumber,
  VirError,
  connect,
  type Connection,
  type Domain,
} from '../src/index.js';
import { startVcsim, type RunningVcsim } from './support/vcsim-harness.js';
import { assertValidXML } from './support/xmllint.js';

const password = (creds: { result?: string; type: number }[]) => {
  for (const c of creds) c.result = 'secret';
};

async function rejectsVir(p: Promise<unknown>, code: ErrorNumber, message?: RegExp | string): Promise<VirError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof VirError, `expected a VirError, got ${String(e)}`);
    assert.equal(e.code, code, `code ${e.codeName}: ${e.message}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message !== undefined) assert.match(e.message, message);
    return e;
  }
  assert.fail('expected a rejection');
}

let sim: RunningVcsim | undefined;
let skip: string | false = false;

before(async () => {
  const started = await startVcsim({ vms: 4 });
  if ('skip' in started) skip = started.skip;
  else sim = started;
});
after(async () => {
  await sim?.dispose();
});

async function withConn<T>(fn: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = await connect(sim!.uri({ user: 'root' }), { auth: password });
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}

/** A powered-off VM of its own for a test (the simulator starts them powered on). */
async function offVM(conn: Connection, name: string): Promise<Domain> {
  const dom = await conn.lookupByName(name);
  if ((await dom.state())[0] !== DomainState.SHUTOFF) await dom.destroy();
  return dom;
}

describe('ESX driver against vcsim', () => {
  test('connects, reports ESX, lists every VM as persistent', async (t) => {
    if (skip) return t.skip(skip);
    await withConn(async (conn) => {
      assert.equal(conn.getType(), 'ESX');
      assert.equal(await conn.getVersion(), 6_005_000);
      assert.ok(await conn.isAlive());
      const all = await conn.listAllDomains(0);
      assert.deepEqual(all.map((d) => d.name()).sort(), ['ha-host_VM0', 'ha-host_VM1', 'ha-host_VM2', 'ha-host_VM3']);
      for (const d of all) assert.equal(await d.isPersistent(), true);
    });
  });

  test('lookups by name, UUID and ID agree; info, state and XML describe the VM', async (t) => {
    if (skip) return t.skip(skip);
    await withConn(async (conn) => {
      const dom = await conn.lookupByName('ha-host_VM1');
      const byUUID = await conn.lookupByUUIDString(dom.UUIDString());
      assert.equal(byUUID.name(), 'ha-host_VM1');
      assert.ok(dom.ID() > 0, 'a running VM has an ID');
      assert.equal((await conn.lookupByID(dom.ID())).UUIDString(), dom.UUIDString());
      assert.deepEqual(await dom.state(), [DomainState.RUNNING, 0]);
      const info = await dom.getInfo();
      assert.equal(info.state, DomainState.RUNNING);
      assert.equal(info.maxMem, 32 * 1024);
      assert.equal(info.nrVirtCpu, 1);
      const xml = await dom.XMLDesc();
      assert.match(xml, /^<domain type='vmware' id='\d+'>/);
      assert.match(xml, /<name>ha-host_VM1<\/name>/);
      assert.match(xml, new RegExp(`<uuid>${dom.UUIDString()}</uuid>`));
      assert.match(xml, /<memory unit='KiB'>32768<\/memory>/);
      assert.match(xml, /<vcpu placement='static'>1<\/vcpu>/);
      assert.match(xml, /<source file='\[LocalDS_0\] ha-host_VM1\/disk1.vmdk'\/>/);
      assert.match(xml, /<interface type='bridge'>[\s\S]*<source bridge='VM Network'\/>[\s\S]*<model type='e1000'\/>/);
      assertValidXML(xml, 'domain');
      await rejectsVir(conn.lookupByName('no-such-vm'), ErrorNumber.NO_DOMAIN, "Domain not found: Could not find domain with name 'no-such-vm'");
      await rejectsVir(conn.lookupByUUIDString('11111111-2222-3333-4444-555555555555'), ErrorNumber.NO_DOMAIN);
      await rejectsVir(conn.lookupByID(99999), ErrorNumber.NO_DOMAIN, 'Domain not found: No domain with ID 99999');
    });
  });

  test('lifecycle: destroy, start, suspend, resume, shutdown, each checked against the power state', async (t) => {
    if (skip) return t.skip(skip);
    await withConn(async (conn) => {
      const dom = await offVM(conn, 'ha-host_VM2');
      assert.equal(await dom.isActive(), false);
      await rejectsVir(dom.destroy(), ErrorNumber.OPERATION_INVALID, 'Requested operation is not valid: Domain is not powered on');
      await rejectsVir(dom.shutdown(), ErrorNumber.OPERATION_INVALID, /Domain is not powered on/);
      await dom.create();
      assert.deepEqual(await dom.state(), [DomainState.RUNNING, 0]);
      await rejectsVir(dom.create(), ErrorNumber.OPERATION_INVALID, 'Requested operation is not valid: Domain is not powered off');
      await dom.suspend();
      assert.equal((await dom.state())[0], DomainState.PAUSED);
      assert.equal(await dom.isActive(), true);
      await dom.resume();
      assert.equal((await dom.state())[0], DomainState.RUNNING);
      await rejectsVir(dom.resume(), ErrorNumber.OPERATION_INVALID, /Domain is not suspended/);
      await dom.shutdown();
      assert.equal((await dom.state())[0], DomainState.SHUTOFF);
      assert.equal((await conn.lookupByName('ha-host_VM2')).ID(), -1, 'an inactive VM has no ID');
    });
  });

  test("states read right after a listing come from it; a change through the connection is seen at once, another's after the listing ages", async (t) => {
    if (skip) return t.skip(skip);
    await withConn(async (conn) => {
      await withConn(async (other) => {
        const dom = await offVM(conn, 'ha-host_VM3');
        await dom.create();
        const [listed] = (await conn.listAllDomains(0)).filter((d) => d.name() === 'ha-host_VM3');
        assert.deepEqual(await listed.state(), [DomainState.RUNNING, 0]);
        // Our own change forgets the listing's picture.
        await conn.listAllDomains(0);
        await dom.destroy();
        assert.deepEqual(await dom.state(), [DomainState.SHUTOFF, 0]);
        // Another client's change: the listing is a picture of its instant, for at most a second.
        await conn.listAllDomains(0);
        await (await other.lookupByName('ha-host_VM3')).create();
        await new Promise((r) => setTimeout(r, 1100));
        assert.deepEqual(await dom.state(), [DomainState.RUNNING, 0]);
      });
    });
  });

  test('listAllDomains filters: active, inactive, persistent, transient, snapshots, managed save', async (t) => {
    if (skip) return t.skip(skip);
    await withConn(async (conn) => {
      const off = await offVM(conn, 'ha-host_VM3');
      const names = async (flags: number) => (await conn.listAllDomains(flags)).map((d) => d.name()).sort();
      assert.ok((await names(L.INACTIVE)).includes('ha-host_VM3'));
      assert.ok(!(await names(L.ACTIVE)).includes('ha-host_VM3'));
      assert.ok((await names(L.SHUTOFF)).includes('ha-host_VM3'));
      assert.deepEqual(await names(L.TRANSIENT), [], 'R1: ESX has no transient domains');
      assert.deepEqual(await names(L.PERSISTENT), await names(0));
      assert.deepEqual(await names(L.MANAGEDSAVE), [], 'R11: no managed save on ESX');
      assert.deepEqual(await names(L.NO_MANAGEDSAVE), await names(0));
      await off.snapshotCreateXML('<domainsnapshot><name>filter</name></domainsnapshot>');
      assert.ok((await names(L.HAS_SNAPSHOT)).includes('ha-host_VM3'));
      assert.ok(!(await names(L.NO_SNAPSHOT)).includes('ha-host_VM3'));
      await (await off.snapshotLookupByName('filter')).delete();
      assert.ok((await names(L.NO_SNAPSHOT)).includes('ha-host_VM3'));
      await off.create();
    });
  });

  test('snapshots live in the hypervisor: create with and without memory, tree, current, XML, revert, delete', async (t) => {
    if (skip) return t.skip(skip);
    await withConn(async (conn) => {
      const dom = await conn.lookupByName('ha-host_VM0');
      assert.equal(await dom.snapshotNum(), 0);
      assert.equal(await dom.hasCurrentSnapshot(), false);
      await rejectsVir(dom.snapshotCurrent(), ErrorNumber.NO_DOMAIN_SNAPSHOT, 'Domain snapshot not found: Domain has no current snapshot');
      const a = await dom.snapshotCreateXML('<domainsnapshot><name>a</name><description>with memory</description></domainsnapshot>');
      const b = await dom.snapshotCreateXML('<domainsnapshot><name>b</name></domainsnapshot>', DomainSnapshotCreateFlags.DISK_ONLY);
      const c = await dom.snapshotCreateXML("<domainsnapshot><name>c</name><memory snapshot='no'/></domainsnapshot>");
      await rejectsVir(
        dom.snapshotCreateXML('<domainsnapshot><name>a</name></domainsnapshot>'),
        ErrorNumber.OPERATION_INVALID,
        "Requested operation is not valid: Snapshot 'a' already exists",
      );
      assert.deepEqual(await dom.snapshotListNames(), ['a', 'b', 'c']);
      assert.equal((await dom.snapshotCurrent()).getName(), 'c');
      assert.equal((await c.getParent()).getName(), 'b');
      assert.equal((await b.getParent()).getName(), 'a');
      await rejectsVir(a.getParent(), ErrorNumber.NO_DOMAIN_SNAPSHOT, /snapshot 'a' does not have a parent/);
      assert.deepEqual((await dom.listAllSnapshots(DomainSnapshotListFlags.ROOTS)).map((s) => s.getName()), ['a']);
      assert.deepEqual((await dom.listAllSnapshots(DomainSnapshotListFlags.LEAVES)).map((s) => s.getName()), ['c']);
      assert.equal(await a.numChildren(), 1);
      assert.equal(await a.numChildren(DomainSnapshotListFlags.DESCENDANTS), 2);
      // tsvirt keeps no metadata for these snapshots: the hypervisor does (as libvirt reports).
      assert.equal(await a.hasMetadata(), false);
      assert.equal(await dom.snapshotNum(DomainSnapshotListFlags.METADATA), 0);
      assert.equal(await dom.snapshotNum(DomainSnapshotListFlags.NO_METADATA), 3);
      const xml = await a.getXMLDesc();
      assert.match(xml, /<name>a<\/name>\s*<description>with memory<\/description>\s*<state>running<\/state>/);
      assert.match(xml, new RegExp(`<domain>\\s*<uuid>${dom.UUIDString()}</uuid>\\s*</domain>`));
      assertValidXML(xml, 'domainsnapshot');
      assert.match(await c.getXMLDesc(), /<parent>\s*<name>b<\/name>\s*<\/parent>/);
      await a.revert();
      assert.equal((await dom.snapshotCurrent()).getName(), 'a');
      assert.equal(await a.isCurrent(), true);
      // R7: CHILDREN_ONLY is not supported by ESX's delete; nothing is removed.
      await rejectsVir(a.delete(DomainSnapshotDeleteFlags.CHILDREN_ONLY), ErrorNumber.INVALID_ARG, 'unsupported flags (0x4) in function esxDomainSnapshotDelete');
      assert.equal(await dom.snapshotNum(), 3);
      await b.delete();
      assert.deepEqual(await dom.snapshotListNames(), ['a', 'c'], 'the child moves up to the deleted snapshot\'s parent');
      assert.equal((await c.getParent()).getName(), 'a');
      await a.delete(DomainSnapshotDeleteFlags.CHILDREN);
      assert.equal(await dom.snapshotNum(), 0);
      await rejectsVir(dom.snapshotLookupByName('a'), ErrorNumber.NO_DOMAIN_SNAPSHOT, "Domain snapshot not found: Could not find snapshot with name 'a'");
    });
  });

  test('R9: undefineFlags(MANAGED_SAVE) is an unsupported flag, and nothing changes', async (t) => {
    if (skip) return t.skip(skip);
    await withConn(async (conn) => {
      const dom = await offVM(conn, 'ha-host_VM3');
      const e = await rejectsVir(
        dom.undefineFlags(DomainUndefineFlags.MANAGED_SAVE),
        ErrorNumber.INVALID_ARG,
        'unsupported flags (0x1) in function esxDomainUndefineFlags',
      );
      assert.equal(e.domain, ErrorDomain.ESX);
      await rejectsVir(dom.undefineFlags(DomainUndefineFlags.MANAGED_SAVE | DomainUndefineFlags.SNAPSHOTS_METADATA), ErrorNumber.INVALID_ARG);
      assert.ok((await conn.listAllDomains(0)).some((d) => d.name() === 'ha-host_VM3'), 'the VM is still registered');
      await dom.create();
    });
  });

  test('R9: undefine of a powered-on VM fails with libvirt\'s error; R1 does not apply (never transient)', async (t) => {
    if (skip) return t.skip(skip);
    await withConn(async (conn) => {
      const dom = await conn.lookupByName('ha-host_VM1');
      if ((await dom.state())[0] !== DomainState.RUNNING) await dom.create();
      await rejectsVir(dom.undefine(), ErrorNumber.OPERATION_INVALID, 'Requested operation is not valid: Domain is not suspended or powered off');
      await rejectsVir(
        dom.undefineFlags(DomainUndefineFlags.SNAPSHOTS_METADATA),
        ErrorNumber.OPERATION_INVALID,
        /Domain is not suspended or powered off/,
      );
      assert.equal(await dom.isPersistent(), true, 'still defined: no transient domain appeared');
      assert.equal(await dom.isActive(), true);
    });
  });

  test('R11: managed save is refused, createXML too; hasManagedSaveImage is always false', async (t) => {
    if (skip) return t.skip(skip);
    await withConn(async (conn) => {
      const dom = await conn.lookupByName('ha-host_VM1');
      await rejectsVir(dom.managedSave(), ErrorNumber.NO_SUPPORT, 'this function is not supported by the connection driver: virDomainManagedSave');
      await rejectsVir(dom.managedSaveRemove(), ErrorNumber.NO_SUPPORT, /virDomainManagedSaveRemove/);
      assert.equal(await dom.hasManagedSaveImage(), false);
      await rejectsVir(dom.hasManagedSaveImage(1), ErrorNumber.INVALID_ARG, 'unsupported flags (0x1) in function esxDomainHasManagedSaveImage');
      await rejectsVir(
        conn.createXML("<domain type='vmware'><name>t</name><memory>1024</memory></domain>"),
        ErrorNumber.NO_SUPPORT,
        'this function is not supported by the connection driver: virDomainCreateXML',
      );
      assert.equal((await dom.state())[0], DomainState.RUNNING, 'the refused calls changed nothing');
    });
  });

  test('R7: unknown flags fail before anything changes', async (t) => {
    if (skip) return t.skip(skip);
    await withConn(async (conn) => {
      const dom = await conn.lookupByName('ha-host_VM1');
      await rejectsVir(dom.destroyFlags(4), ErrorNumber.INVALID_ARG, 'unsupported flags (0x4) in function esxDomainDestroyFlags');
      await rejectsVir(dom.shutdownFlags(1), ErrorNumber.INVALID_ARG, 'unsupported flags (0x1) in function esxDomainShutdownFlags');
      await rejectsVir(dom.reboot(2), ErrorNumber.INVALID_ARG, /esxDomainReboot/);
      await rejectsVir(dom.XMLDesc(8), ErrorNumber.INVALID_ARG, 'unsupported flags (0x8) in function esxDomainGetXMLDesc');
      await rejectsVir(
        dom.snapshotCreateXML('<domainsnapshot><name>x</name></domainsnapshot>', DomainSnapshotCreateFlags.HALT),
        ErrorNumber.INVALID_ARG,
        'unsupported flags (0x8) in function esxDomainSnapshotCreateXML',
      );
      await rejectsVir(dom.undefineFlags(4), ErrorNumber.INVALID_ARG, 'unsupported flags (0x4) in function esxDomainUndefineFlags');
      assert.equal((await dom.state())[0], DomainState.RUNNING);
      assert.equal(await dom.snapshotNum(), 0);
    });
  });

  test('R9: undefine with SNAPSHOTS_METADATA unregisters the VM; its snapshots and files stay with the hypervisor', async (t) => {
    if (skip) return t.skip(skip);
    await withConn(async (conn) => {
      const dom = await offVM(conn, 'ha-host_VM2');
      await dom.snapshotCreateXML('<domainsnapshot><name>keep</name></domainsnapshot>');
      // The simulator keeps each VM's files in a directory under its datastore (in its TMPDIR).
      const datastore = readdirSync(sim!.dir).find((d) => d.startsWith('govcsim-'));
      assert.ok(datastore !== undefined, 'the simulator\'s datastore directory');
      const vmDir = join(sim!.dir, datastore, 'ha-host_VM2');
      assert.ok(existsSync(vmDir));
      await dom.undefineFlags(DomainUndefineFlags.SNAPSHOTS_METADATA);
      assert.ok(!(await conn.listAllDomains(0)).some((d) => d.name() === 'ha-host_VM2'));
      assert.ok(existsSync(vmDir), 'UnregisterVM leaves the VM\'s files on the datastore');
      await rejectsVir(dom.info(), ErrorNumber.NO_DOMAIN, `Domain not found: Could not find domain with UUID '${dom.UUIDString()}'`);
    });
  });

  test('events: a change made by another client is reported (polled)', async (t) => {
    if (skip) return t.skip(skip);
    await withConn(async (watcher) => {
      await withConn(async (actor) => {
        const seen: { name: string; event: number }[] = [];
        const id = watcher.domainEventRegisterAny(null, 0, (_c, d, event) => seen.push({ name: d.name(), event }));
        try {
          // Let the first poll record the current state.
          await new Promise((r) => setTimeout(r, 300));
          const dom = await actor.lookupByName('ha-host_VM0');
          await dom.destroy();
          const deadline = Date.now() + 15_000;
          while (!seen.some((e) => e.name === 'ha-host_VM0' && e.event === DomainEventType.STOPPED) && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 100));
          }
          assert.ok(seen.some((e) => e.name === 'ha-host_VM0' && e.event === DomainEventType.STOPPED), JSON.stringify(seen));
          await dom.create();
        } finally {
          watcher.domainEventDeregisterAny(id);
        }
      });
    });
  });
});

describe('vpx:// against a simulated vCenter', () => {
  let vc: RunningVcsim | undefined;
  let vcSkip: string | false = false;
  before(async () => {
    const started = await startVcsim({ vpx: true });
    if ('skip' in started) vcSkip = started.skip;
    else vc = started;
  });
  after(async () => {
    await vc?.dispose();
  });

  test('vpx://vcenter/DC/cluster/host lists the datacenter\'s VMs; esx:// to a vCenter is refused', async (t) => {
    if (vcSkip) return t.skip(vcSkip);
    const conn = await connect(vc!.uri({ user: 'administrator' }), { auth: password });
    try {
      const names = (await conn.listAllDomains(0)).map((d) => d.name());
      assert.ok(names.length >= 4, names.join(','));
      // libvirt's answer: the host's DNS config (vcsim's hosts say localhost.localdomain).
      assert.equal(await conn.getHostname(), 'localhost.localdomain');
    } finally {
      await conn.close();
    }
    await rejectsVir(
      connect(vc!.uri({ user: 'root', path: '/' }).replace(/^vpx:/, 'esx:'), { auth: password }),
      ErrorNumber.INTERNAL_ERROR,
      "internal error: Expecting '127.0.0.1' to be a ESX(i) host but found a vCenter/VPX host",
    );
    await rejectsVir(connect(vc!.uri({ user: 'a', path: '/DC0' }), { auth: password }), ErrorNumber.INVALID_ARG, 'Path has to specify the datacenter and compute resource');
    await rejectsVir(connect(vc!.uri({ user: 'a', path: '/DC9/x' }), { auth: password }), ErrorNumber.INTERNAL_ERROR, /Could not find Datacenter with name 'DC9'/);
  });
});
