/**
 * The VirtualBox driver through the public API, against the stand-in VBoxManage that plays
 * VirtualBox 7.0's (and 6.1's) recorded output formats. Untested against a real VirtualBox.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  ConnectListAllDomainsFlags as L,
  DomainSnapshotDeleteFlags,
  DomainSnapshotListFlags,
  DomainState,
  DomainUndefineFlags,
  ErrorDomain,
  ErrorNumber,
  connect,
} from '../src/index.js';
import { rejectsVir } from './support/fixtures.js';
import { BARE_UUID, DB_UUID, StandinWorld, withVBox } from './support/vboxmanage-harness.js';

describe('vbox:///session through the API', () => {
  test('lists machines with libvirt IDs: an online machine gets its list position + 1', () =>
    withVBox(async (conn) => {
      assert.equal(conn.getType(), 'VBOX');
      assert.equal(await conn.getVersion(), 7_000_014);
      const all = await conn.listAllDomains(0);
      assert.deepEqual(
        all.map((d) => [d.name(), d.ID()]),
        [['web', 1], ['db', -1], ['bare', -1]],
      );
      assert.deepEqual((await conn.listAllDomains(L.ACTIVE)).map((d) => d.name()), ['web']);
      assert.deepEqual((await conn.listAllDomains(L.INACTIVE)).map((d) => d.name()), ['db', 'bare']);
      assert.deepEqual((await conn.listAllDomains(L.HAS_SNAPSHOT)).map((d) => d.name()), ['db']);
      assert.deepEqual((await conn.listAllDomains(L.TRANSIENT)).map((d) => d.name()), []);
      assert.deepEqual((await conn.listAllDomains(L.MANAGEDSAVE)).map((d) => d.name()), []);
      assert.equal(await conn.numOfDomains(), 1);
      assert.equal(await conn.numOfDefinedDomains(), 2);
      assert.equal((await conn.lookupByID(1)).name(), 'web');
      assert.equal((await conn.lookupByUUIDString(DB_UUID)).name(), 'db');
      await rejectsVir(conn.lookupByID(2), { code: ErrorNumber.NO_DOMAIN, domain: ErrorDomain.VBOX, message: 'Domain not found: no domain with matching id 2' });
      await rejectsVir(conn.lookupByName('nosuch'), { code: ErrorNumber.NO_DOMAIN, message: "Domain not found: no domain with matching name 'nosuch'" });
    }));

  test('info, state, XML and persistence follow libvirt’s vbox driver', () =>
    withVBox(async (conn) => {
      const web = await conn.lookupByName('web');
      assert.deepEqual(await web.info(), [DomainState.RUNNING, 2097152, 2097152, 2, 0]);
      assert.deepEqual(await web.state(), [DomainState.RUNNING, 0]);
      assert.equal(await web.isPersistent(), true);
      assert.equal(await web.isActive(), true);
      assert.equal(await web.hasManagedSaveImage(), false);
      const xml = await web.XMLDesc();
      assert.match(xml, /^<domain type='vbox' id='1'>/);
      assert.match(xml, /<description>front end &quot;blue&quot;\nsecond line<\/description>/);
      assert.match(xml, /<source file='\/vms\/web\/web.vdi'\/>\n\s*<target dev='sda' bus='sata'\/>/);
      assert.match(xml, /<disk type='file' device='cdrom'>\n\s*<target dev='hdc' bus='ide'\/>/);
      assert.match(xml, /<mac address='08:00:27:d4:e5:f6'\/>\n\s*<source bridge='eth0'\/>/);
      assert.doesNotMatch(await web.XMLDesc(2), /id='1'/); // INACTIVE
    }));

  test('lifecycle: start, suspend, resume, destroy and shutdown go through controlvm', () =>
    withVBox(async (conn, world) => {
      const db = await conn.lookupByName('db');
      await db.create();
      assert.equal(world.vm('db')?.state, 'running');
      assert.equal((await conn.lookupByName('db')).ID(), 2);
      await rejectsVir(db.create(), { code: ErrorNumber.OPERATION_FAILED, message: /couldn't start it/ });
      await db.suspend();
      assert.deepEqual(await db.state(), [DomainState.PAUSED, 0]);
      await rejectsVir(db.shutdown(), { code: ErrorNumber.OPERATION_FAILED, message: "operation failed: machine paused, so can't power it down" });
      await db.resume();
      await db.destroy();
      assert.equal(world.vm('db')?.state, 'poweroff');
      await rejectsVir(db.destroy(), { code: ErrorNumber.OPERATION_FAILED, message: 'operation failed: machine already powered down' });
    }));

  test('R8: shutdown only presses the power button; a guest that ignores it keeps running', () =>
    withVBox(async (conn, world) => {
      world.edit((s) => {
        const web = s.vms.find((v) => v.name === 'web');
        if (web) web.acpi = 'ignore';
      });
      const web = await conn.lookupByName('web');
      await web.shutdown();
      assert.deepEqual(await web.state(), [DomainState.RUNNING, 0]);
      await web.destroy();
      assert.deepEqual(await web.state(), [DomainState.SHUTOFF, 0]);
    }));

  test('R9: MANAGED_SAVE is an unsupported flag of vboxDomainUndefineFlags, and nothing changes', () =>
    withVBox(async (conn, world) => {
      const bare = await conn.lookupByName('bare');
      await rejectsVir(bare.undefineFlags(DomainUndefineFlags.MANAGED_SAVE), {
        code: ErrorNumber.INVALID_ARG,
        domain: ErrorDomain.VBOX,
        message: 'unsupported flags (0x1) in function vboxDomainUndefineFlags',
      });
      await rejectsVir(bare.undefineFlags(DomainUndefineFlags.MANAGED_SAVE | DomainUndefineFlags.SNAPSHOTS_METADATA), {
        code: ErrorNumber.INVALID_ARG,
        message: 'unsupported flags (0x1) in function vboxDomainUndefineFlags',
      });
      assert.ok(world.vm('bare'));
    }));

  test('R9: SNAPSHOTS_METADATA is accepted and changes nothing; the snapshots go with the machine', () =>
    withVBox(async (conn, world) => {
      const db = await conn.lookupByName('db');
      assert.equal(await db.snapshotNum(0), 2);
      assert.equal(await db.snapshotNum(DomainSnapshotListFlags.METADATA), 0);
      assert.equal(await db.snapshotNum(DomainSnapshotListFlags.NO_METADATA), 2);
      assert.equal(await (await db.snapshotLookupByName('base')).hasMetadata(), false);
      // R3 does not apply: no metadata of tsvirt's can be stranded.
      await db.undefineFlags(DomainUndefineFlags.SNAPSHOTS_METADATA);
      assert.equal(world.vm('db'), undefined);
      await rejectsVir(db.info(), { code: ErrorNumber.NO_DOMAIN, message: `Domain not found: no domain with matching uuid '${DB_UUID}' (db)` });
      const bare = await conn.lookupByName('bare');
      await bare.undefine();
      assert.equal(world.vm('bare'), undefined);
    }));

  test('R9: a machine with a running VM cannot be undefined (libvirt’s error), flags checked first (R7)', () =>
    withVBox(async (conn, world) => {
      const web = await conn.lookupByName('web');
      await rejectsVir(web.undefine(), {
        code: ErrorNumber.OPERATION_INVALID,
        message: 'Requested operation is not valid: Domain is not suspended or powered off',
      });
      await rejectsVir(web.undefineFlags(DomainUndefineFlags.NVRAM), {
        code: ErrorNumber.INVALID_ARG,
        message: 'unsupported flags (0x4) in function vboxDomainUndefineFlags',
      });
      assert.equal(world.vm('web')?.state, 'running');
    }));

  test('R9/R1/R11: never transient, no managed save: createXML and managedSave are not supported', () =>
    withVBox(async (conn, world) => {
      const before = world.read();
      await rejectsVir(conn.createXML("<domain type='vbox'><name>t</name><memory>1024</memory><os><type>hvm</type></os></domain>"), {
        code: ErrorNumber.NO_SUPPORT,
        message: 'this function is not supported by the connection driver: virDomainCreateXML',
      });
      const web = await conn.lookupByName('web');
      await rejectsVir(web.managedSave(), {
        code: ErrorNumber.NO_SUPPORT,
        message: 'this function is not supported by the connection driver: virDomainManagedSave',
      });
      // R1 cannot arise: every listed machine is persistent.
      for (const d of await conn.listAllDomains(0)) assert.equal(await d.isPersistent(), true);
      assert.deepEqual(world.read(), before);
    }));

  test('R7: unknown flags are refused by every call before VirtualBox is asked to change anything', () =>
    withVBox(async (conn, world) => {
      const before = world.read();
      const web = await conn.lookupByName('web');
      const db = await conn.lookupByName('db');
      const base = await db.snapshotLookupByName('base');
      const bad = 1 << 20;
      const calls: [string, () => Promise<unknown>, string][] = [
        ['listAllDomains', () => conn.listAllDomains(bad), 'vboxConnectListAllDomains'],
        ['create', () => db.createWithFlags(bad), 'vboxDomainCreateWithFlags'],
        ['shutdown', () => web.shutdownFlags(bad), 'vboxDomainShutdownFlags'],
        ['destroy', () => web.destroyFlags(bad), 'vboxDomainDestroyFlags'],
        ['reboot', () => web.reboot(bad), 'vboxDomainReboot'],
        ['undefine', () => db.undefineFlags(bad), 'vboxDomainUndefineFlags'],
        ['state', () => web.state(bad), 'vboxDomainGetState'],
        ['XMLDesc', () => web.XMLDesc(bad), 'vboxDomainGetXMLDesc'],
        ['snapshotCreateXML', () => db.snapshotCreateXML('<domainsnapshot/>', bad), 'vboxDomainSnapshotCreateXML'],
        ['snapshotCreateXML REDEFINE', () => db.snapshotCreateXML('<domainsnapshot/>', 1), 'vboxDomainSnapshotCreateXML'],
        ['snapshotNum', () => db.snapshotNum(bad), 'vboxDomainSnapshotNum'],
        ['listAllSnapshots', () => db.listAllSnapshots(bad), 'vboxDomainListAllSnapshots'],
        ['revert', () => base.revert(bad), 'vboxDomainRevertToSnapshot'],
        ['delete', () => base.delete(bad), 'vboxDomainSnapshotDelete'],
        ['delete METADATA_ONLY', () => base.delete(DomainSnapshotDeleteFlags.METADATA_ONLY), 'vboxDomainSnapshotDelete'],
        ['getXMLDesc', () => base.getXMLDesc(bad), 'vboxDomainSnapshotGetXMLDesc'],
      ];
      for (const [what, call, fn] of calls) {
        const err = await rejectsVir(call(), { code: ErrorNumber.INVALID_ARG, domain: ErrorDomain.VBOX });
        assert.match(err.message, new RegExp(`^unsupported flags \\(0x[0-9a-f]+\\) in function ${fn}$`), what);
      }
      assert.deepEqual(world.read(), before);
    }));

  test('snapshots: take (live), tree, current, XML, revert, delete with and without children', () =>
    withVBox(async (conn, world) => {
      const db = await conn.lookupByName('db');
      const tuned = await db.snapshotLookupByName('tuned');
      assert.equal((await tuned.getParent()).getName(), 'base');
      assert.equal(await tuned.isCurrent(), true);
      const xml = await tuned.getXMLDesc();
      assert.match(xml, /<state>running<\/state>/);
      assert.match(xml, /<creationTime>1704960000<\/creationTime>/);
      assert.match(await (await db.snapshotLookupByName('base')).getXMLDesc(), /<description>fresh install<\/description>\n\s*<state>shutoff<\/state>/);

      // Two children under 'base': VirtualBox refuses to delete it alone, and says why.
      await (await db.snapshotLookupByName('base')).revert();
      const s3 = await db.snapshotCreateXML('<domainsnapshot><name>side</name><description>a "side" branch</description></domainsnapshot>');
      assert.equal(s3.getName(), 'side');
      assert.equal((await s3.getParent()).getName(), 'base');
      assert.equal((await db.snapshotCurrent()).getName(), 'side');
      assert.deepEqual((await (await db.snapshotLookupByName('base')).listAllChildren()).map((s) => s.getName()).sort(), ['side', 'tuned']);
      await rejectsVir(db.snapshotCreateXML('<domainsnapshot><name>side</name></domainsnapshot>'), {
        code: ErrorNumber.OPERATION_FAILED,
        message: 'operation failed: domain moment side already exists',
      });
      const base = await db.snapshotLookupByName('base');
      await rejectsVir(base.delete(), {
        code: ErrorNumber.OPERATION_FAILED,
        message: "operation failed: VBoxManage snapshot failed: Snapshot 'base' of the machine 'db' has more than one child snapshot (2)",
      });
      assert.equal(await db.snapshotNum(), 3);

      // A live snapshot of a running machine saves its memory: state running.
      const web = await conn.lookupByName('web');
      const live = await web.snapshotCreateXML('<domainsnapshot><name>live1</name></domainsnapshot>', 256 /* LIVE */);
      assert.match(await live.getXMLDesc(), /<state>running<\/state>/);
      assert.equal(world.vm('web')?.state, 'running');
      await rejectsVir(live.revert(), { code: ErrorNumber.OPERATION_INVALID, message: 'Requested operation is not valid: cannot revert snapshot of running domain' });

      // CHILDREN: the descendants one by one, then the snapshot.
      await base.delete(DomainSnapshotDeleteFlags.CHILDREN_ONLY);
      assert.deepEqual(await db.snapshotListNames(), ['base']);
      assert.equal((await db.snapshotCurrent()).getName(), 'base');
      await db.snapshotCreateXML('<domainsnapshot><name>c1</name></domainsnapshot>');
      await db.snapshotCreateXML('<domainsnapshot><name>c2</name></domainsnapshot>');
      await base.delete(DomainSnapshotDeleteFlags.CHILDREN);
      assert.equal(await db.snapshotNum(), 0);
      assert.equal(await db.hasCurrentSnapshot(), false);
      await rejectsVir(db.snapshotCurrent(), { code: ErrorNumber.NO_DOMAIN_SNAPSHOT });
      await rejectsVir(db.snapshotLookupByName('base'), {
        code: ErrorNumber.NO_DOMAIN_SNAPSHOT,
        message: "Domain snapshot not found: no domain snapshot with matching name 'base'",
      });
    }));

  test('revert to an online snapshot leaves the machine saved; RUNNING starts it', () =>
    withVBox(async (conn, world) => {
      const db = await conn.lookupByName('db');
      await (await db.snapshotLookupByName('tuned')).revert();
      assert.equal(world.vm('db')?.state, 'saved');
      assert.deepEqual(await db.state(), [DomainState.SHUTOFF, 0]);
      await (await db.snapshotLookupByName('base')).revert(1 /* RUNNING */);
      assert.deepEqual(await db.state(), [DomainState.RUNNING, 0]);
    }));

  test('lifecycle events for this connection’s own actions', () =>
    withVBox(async (conn) => {
      const events: [string, number, number][] = [];
      const id = conn.domainEventRegisterAny(null, 0, (_c, dom, event, detail) => events.push([dom.name(), event, detail]));
      const bare = await conn.lookupByName('bare');
      await bare.create();
      await bare.suspend();
      await bare.resume();
      await bare.destroy();
      await bare.undefine();
      conn.domainEventDeregisterAny(id);
      assert.deepEqual(events, [
        ['bare', 2, 0],
        ['bare', 3, 0],
        ['bare', 4, 0],
        ['bare', 5, 1],
        ['bare', 1, 0],
      ]);
    }));

  test('VirtualBox 6.1 formats parse the same (DVD markers without port and device)', () =>
    withVBox(
      async (conn) => {
        const web = await conn.lookupByName('web');
        const xml = await web.XMLDesc();
        assert.match(xml, /<disk type='file' device='cdrom'>\n\s*<target dev='hdc' bus='ide'\/>/);
        assert.equal(await conn.getVersion(), 6_001_050);
        assert.deepEqual(await (await conn.lookupByName('db')).snapshotListNames(), ['base', 'tuned']);
      },
      { state: { version: '6.1' } },
    ));
});

describe('vbox:///session bad input: each a clear VirError, no hang', () => {
  test('no VBoxManage: libvirt’s initialisation error', async () => {
    const saved = { a: process.env.TSVIRT_VBOXMANAGE, p: process.env.PATH };
    try {
      delete process.env.TSVIRT_VBOXMANAGE;
      process.env.PATH = '/nonexistent';
      await rejectsVir(connect('vbox:///session'), {
        code: ErrorNumber.INTERNAL_ERROR,
        domain: ErrorDomain.VBOX,
        message: /^internal error: unable to initialize VirtualBox driver API: VBoxManage not found/,
      });
      process.env.TSVIRT_VBOXMANAGE = '/nonexistent/VBoxManage';
      await rejectsVir(connect('vbox:///session'), { code: ErrorNumber.INTERNAL_ERROR, message: /is not an executable file/ });
      await rejectsVir(connect('vbox:///system'), { code: ErrorNumber.NO_CONNECT });
    } finally {
      if (saved.a === undefined) delete process.env.TSVIRT_VBOXMANAGE;
      else process.env.TSVIRT_VBOXMANAGE = saved.a;
      process.env.PATH = saved.p;
    }
  });

  test('a machine removed behind tsvirt’s back: VIR_ERR_NO_DOMAIN on the stale handle', () =>
    withVBox(async (conn, world) => {
      const bare = await conn.lookupByName('bare');
      world.edit((s) => {
        s.vms = s.vms.filter((v) => v.uuid !== BARE_UUID);
      });
      for (const call of [() => bare.info(), () => bare.create(), () => bare.undefine(), () => bare.XMLDesc(), () => bare.snapshotNum()]) {
        await rejectsVir(call(), { code: ErrorNumber.NO_DOMAIN, domain: ErrorDomain.VBOX, message: `Domain not found: no domain with matching uuid '${BARE_UUID}' (bare)` });
      }
      assert.deepEqual((await conn.listAllDomains(0)).map((d) => d.name()), ['web', 'db']);
    }));

  test('garbage output: VIR_ERR_INTERNAL_ERROR naming the command', () =>
    withVBox(async (conn, world) => {
      const web = await conn.lookupByName('web');
      world.edit((s) => (s.faults = { showvminfo: 'garbage' }));
      await rejectsVir(web.info(), { code: ErrorNumber.INTERNAL_ERROR, message: /^internal error: unexpected output from VBoxManage showvminfo/ });
      world.edit((s) => (s.faults = { list: 'garbage' }));
      await rejectsVir(conn.listAllDomains(0), { code: ErrorNumber.INTERNAL_ERROR, message: /unexpected output from VBoxManage list/ });
      world.edit((s) => (s.faults = { showvminfo: 'crash' }));
      await rejectsVir(web.info(), { code: ErrorNumber.INTERNAL_ERROR, message: /VBoxManage showvminfo was killed by signal SIGSEGV/ });
    }));

  test('a VBoxManage that hangs: VIR_ERR_OPERATION_TIMEOUT, and the process is gone', () =>
    withVBox(
      async (conn, world) => {
        const web = await conn.lookupByName('web');
        world.edit((s) => (s.faults = { controlvm: 'hang' }));
        const err = await rejectsVir(web.suspend(), {
          code: ErrorNumber.OPERATION_TIMEOUT,
          domain: ErrorDomain.VBOX,
          message: /^Timed out during operation: VBoxManage controlvm did not finish within 1500 ms$/,
        });
        assert.ok(err);
        // The hung VBoxManage was killed with its process group, not left behind.
        const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
        assert.equal(ps.split('\n').filter((l) => l.includes('vboxmanage-standin.mjs controlvm')).length, 0);
        world.edit((s) => delete s.faults);
        assert.deepEqual(await web.state(), [DomainState.RUNNING, 0]);
      },
      { env: { TSVIRT_VBOXMANAGE_TIMEOUT_MS: '1500', TSVIRT_VBOXMANAGE_SLOW_TIMEOUT_MS: '1500' } },
    ));

  test('VBoxManage’s own error is carried in the VirError', () =>
    withVBox(async (conn, world) => {
      const db = await conn.lookupByName('db');
      // The snapshot vanished behind tsvirt's back between lookup and delete.
      const tuned = await db.snapshotLookupByName('tuned');
      world.edit((s) => {
        const vm = s.vms.find((v) => v.uuid === DB_UUID);
        if (vm) {
          vm.snapshots = vm.snapshots?.filter((x) => x.name !== 'tuned');
          vm.current = null;
        }
      });
      await rejectsVir(tuned.delete(), { code: ErrorNumber.NO_DOMAIN_SNAPSHOT });
    }));

  test('the stand-in itself answers like VBoxManage for an unknown machine', async () => {
    const world = new StandinWorld();
    try {
      const { VBoxManage } = await import('../src/drivers/vbox/vboxmanage.js');
      const vbm = new VBoxManage({ path: world.env().TSVIRT_VBOXMANAGE, env: { ...process.env, ...world.env() } });
      const r = await vbm.run(['showvminfo', 'nosuch', '--machinereadable']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^VBoxManage: error: Could not find a registered machine named 'nosuch'\n/);
      await rejectsVir(vbm.check(['showvminfo', 'nosuch']), {
        code: ErrorNumber.NO_DOMAIN,
        message: "Domain not found: Could not find a registered machine named 'nosuch'",
      });
    } finally {
      world.cleanup();
    }
  });
});
