/**
 * Checkpoints: the undefine rule for checkpoints beside R3 (src/rules/undefine.ts), checkpoint
 * XML (src/conf/checkpoint.ts), the store's migration 2, and the API on both test URIs — tree,
 * current checkpoint, delete flags, REDEFINE, listing filters, R4/R5/R6 for checkpoints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  ConnectListAllDomainsFlags,
  DomainCheckpointCreateFlags as Create,
  DomainCheckpointDeleteFlags as Delete,
  DomainCheckpointListFlags as List,
  DomainCheckpointXMLFlags as XMLFlags,
  DomainUndefineFlags,
  ErrorDomain,
  ErrorNumber,
  connect,
  type Connection,
  type Domain,
} from '../src/index.js';
import { planUndefine } from '../src/rules/undefine.js';
import { formatCheckpointXML, parseCheckpointXML } from '../src/conf/checkpoint.js';
import { Store } from '../src/store/store.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../src/store/schema.js';
import { TEST_URIS, domainXML, rejectsVir, snapshotXML, storeRow, tempStateDir, withConnection } from './support/fixtures.js';

const { SNAPSHOTS_METADATA, CHECKPOINTS_METADATA, MANAGED_SAVE } = DomainUndefineFlags;
const cp = (name: string) => `<domaincheckpoint><name>${name}</name></domaincheckpoint>`;
const names = async (p: Promise<{ getName(): string }[]>) => (await p).map((c) => c.getName());

// ---- the rule ----

test('rule: an inactive domain with checkpoints needs CHECKPOINTS_METADATA; snapshots are checked first, managed save last', () => {
  const subject = { persistent: true, active: false, hasManagedSave: true, snapshotCount: 1, checkpointCount: 2 };
  const E = ErrorDomain.QEMU;
  assert.throws(() => planUndefine(subject, 0, E), /cannot delete inactive domain with 1 snapshots/);
  assert.throws(() => planUndefine(subject, SNAPSHOTS_METADATA, E), {
    code: ErrorNumber.OPERATION_INVALID,
    domain: E,
    message: 'Requested operation is not valid: cannot delete inactive domain with 2 checkpoints',
  });
  assert.throws(() => planUndefine(subject, SNAPSHOTS_METADATA | CHECKPOINTS_METADATA, E), /managed save image exists/);
  const plan = planUndefine(subject, SNAPSHOTS_METADATA | CHECKPOINTS_METADATA | MANAGED_SAVE, E);
  assert.equal(plan.removeCheckpointMetadata, true);
  assert.equal(plan.removeDomain, true);
  // R4: an active domain keeps its checkpoints, whatever the flags.
  const active = planUndefine({ ...subject, active: true, hasManagedSave: false }, 0, E);
  assert.deepEqual([active.removeDomain, active.removeCheckpointMetadata], [false, false]);
  // A driver that keeps no checkpoints says nothing of them.
  assert.doesNotThrow(() => planUndefine({ persistent: true, active: false, hasManagedSave: false, snapshotCount: 0 }, 0, E));
});

// ---- XML ----

test('conf: checkpoint XML parses and formats in libvirt layout; redefine needs name and creationTime', () => {
  const xml =
    "<domaincheckpoint><name>c1</name><description>a &amp; b</description><parent><name>c0</name></parent><creationTime>5</creationTime>" +
    "<disks><disk name='vda' checkpoint='bitmap' bitmap='b1'/><disk name='vdb' checkpoint='no'/></disks></domaincheckpoint>";
  const def = parseCheckpointXML(xml, { redefine: true });
  assert.equal(
    formatCheckpointXML(def),
    '<domaincheckpoint>\n  <name>c1</name>\n  <description>a &amp; b</description>\n  <parent>\n    <name>c0</name>\n  </parent>\n' +
      "  <creationTime>5</creationTime>\n  <disks>\n    <disk name='vda' checkpoint='bitmap' bitmap='b1'/>\n    <disk name='vdb' checkpoint='no'/>\n" +
      '  </disks>\n</domaincheckpoint>\n',
  );
  assert.throws(() => parseCheckpointXML('<domaincheckpoint><name>x</name></domaincheckpoint>', { redefine: true }), {
    code: ErrorNumber.INTERNAL_ERROR,
    domain: ErrorDomain.DOMAIN_CHECKPOINT,
    message: 'internal error: missing creationTime from existing checkpoint',
  });
  assert.throws(() => parseCheckpointXML('<foo/>'), { code: ErrorNumber.XML_ERROR });
  assert.throws(() => parseCheckpointXML('<domaincheckpoint'), { code: ErrorNumber.XML_DETAIL });
});

// ---- store ----

test('store: a version-1 store file is upgraded in place to the checkpoints schema, its domains kept', () => {
  const state = tempStateDir();
  try {
    const path = join(state.dir, 'v1.db');
    const db = new Database(path);
    db.exec(MIGRATIONS[0] ?? '');
    db.pragma('user_version = 1');
    db.prepare("INSERT INTO domains (uuid, name, persistent, config_xml, state, reason, max_mem, memory, vcpus) VALUES (?, 'old', 1, '<domain/>', 5, 0, 1, 1, 1)").run(randomUUID());
    db.close();
    const store = new Store({ path });
    try {
      assert.ok(SCHEMA_VERSION >= 2);
      const uuid = store.domainByName('old')?.uuid;
      assert.ok(uuid !== undefined, 'the domain of the old store is there');
      store.mutate(() => store.putCheckpoint(uuid, { name: 'c1', parent: null, seq: 1, creationTime: 1, current: true, xml: '<domaincheckpoint/>' }));
      assert.equal(store.checkpointCount(uuid), 1);
      store.mutate(() => store.deleteDomain(uuid));
      assert.equal(store.checkpointCount(uuid), 0, 'checkpoints go with their domain');
    } finally {
      store.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    } finally {
      check.close();
    }
  } finally {
    state.cleanup();
  }
});

test('store: one checkpoint change is one transaction (a failing mutation leaves nothing)', () => {
  const state = tempStateDir();
  try {
    const store = new Store({ path: join(state.dir, 's.db') });
    try {
      const row = storeRow('d');
      store.mutate(() => store.insertDomain(row));
      assert.throws(() =>
        store.mutate(() => {
          store.putCheckpoint(row.uuid, { name: 'c1', parent: null, seq: 1, creationTime: 1, current: true, xml: 'x' });
          throw new Error('crash in the middle');
        }),
      );
      assert.equal(store.checkpointCount(row.uuid), 0);
    } finally {
      store.close();
    }
  } finally {
    state.cleanup();
  }
});

// ---- the API on both test URIs ----

/** A test domain with one disk: libvirt makes checkpoints only of domains with disks. */
function diskDomainXML(name: string, uuid: string): string {
  return domainXML(name, { uuid }).replace(
    '</domain>',
    "  <devices><disk type='file' device='disk'><source file='/guest/disk.img'/><target dev='vda' bus='virtio'/></disk></devices>\n</domain>",
  );
}

async function running(conn: Connection, name: string, uuid = randomUUID()): Promise<Domain> {
  const dom = await conn.defineXML(diskDomainXML(name, uuid));
  await dom.create();
  return dom;
}

for (const uri of TEST_URIS) {
  test(`${uri}: checkpoint tree, current checkpoint, listing flags, XML`, () =>
    withConnection(uri, async (conn) => {
      const dom = await running(conn, 'web');
      const c1 = await dom.checkpointCreateXML(cp('c1'));
      await dom.checkpointCreateXML(`<domaincheckpoint><name>c2</name><parent><name>ignored</name></parent></domaincheckpoint>`);
      await dom.checkpointCreateXML(cp('c3'));
      assert.equal((await (await dom.checkpointLookupByName('c2')).getParent()).getName(), 'c1', 'a given parent is ignored');
      assert.deepEqual(await names(dom.listAllCheckpoints()), ['c1', 'c2', 'c3']);
      assert.deepEqual(await names(dom.listAllCheckpoints(List.ROOTS)), ['c1']);
      assert.deepEqual(await names(dom.listAllCheckpoints(List.LEAVES)), ['c3']);
      assert.deepEqual(await names(dom.listAllCheckpoints(List.NO_LEAVES | List.TOPOLOGICAL)), ['c1', 'c2']);
      assert.deepEqual(await names(c1.listAllChildren()), ['c2']);
      assert.deepEqual(await names(c1.listAllChildren(List.DESCENDANTS)), ['c2', 'c3']);
      await rejectsVir(dom.listAllCheckpoints(0x10), {
        code: ErrorNumber.INVALID_ARG,
        message: 'unsupported flags (0x10) in function testDomainListAllCheckpoints',
      });
      await rejectsVir(c1.getParent(), {
        code: ErrorNumber.NO_DOMAIN_CHECKPOINT,
        message: "Domain checkpoint not found: checkpoint 'c1' does not have a parent",
      });
      await rejectsVir(dom.checkpointLookupByName('nope'), {
        code: ErrorNumber.NO_DOMAIN_CHECKPOINT,
        message: "Domain checkpoint not found: no domain checkpoint with matching name 'nope'",
      });
      await rejectsVir(dom.checkpointCreateXML(cp('c1')), { code: ErrorNumber.OPERATION_FAILED, message: 'operation failed: domain moment c1 already exists' });
      await rejectsVir(dom.checkpointCreateXML(cp('x'), Create.REDEFINE_VALIDATE), {
        code: ErrorNumber.INVALID_ARG,
        domain: ErrorDomain.DOMAIN_CHECKPOINT,
        message: "Flag 'VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE' is required by flag 'VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE'",
      });
      const full = await c1.getXMLDesc();
      assert.match(full, /<domain type='test'>/);
      assert.match(full, /<disk name='vda' checkpoint='bitmap' bitmap='c1'\/>/);
      assert.doesNotMatch(await c1.getXMLDesc(XMLFlags.NO_DOMAIN), /<domain /);
      const bare = await conn.defineXML(domainXML('bare'));
      await bare.create();
      await rejectsVir(bare.checkpointCreateXML(cp('x')), {
        code: ErrorNumber.CONFIG_UNSUPPORTED,
        message: 'unsupported configuration: domain must have at least one disk to perform checkpoints',
      });
      // A name is generated from the time when absent, as libvirt does.
      const auto = await dom.checkpointCreateXML('<domaincheckpoint/>');
      assert.match(auto.getName(), /^\d{10}$/);
      assert.equal((await auto.getParent()).getName(), 'c3');
      const listed = await conn.listAllDomains(ConnectListAllDomainsFlags.HAS_CHECKPOINT);
      assert.deepEqual(listed.map((d) => d.name()).sort(), ['web']);
      assert.ok(!(await conn.listAllDomains(ConnectListAllDomainsFlags.NO_CHECKPOINT)).some((d) => d.name() === 'web'));
    }));

  test(`${uri}: delete reparents children and moves the current checkpoint (plain, CHILDREN_ONLY, CHILDREN)`, () =>
    withConnection(uri, async (conn) => {
      const dom = await running(conn, 'del');
      for (const n of ['a', 'b', 'c']) await dom.checkpointCreateXML(cp(n));
      await (await dom.checkpointLookupByName('b')).delete();
      assert.equal((await (await dom.checkpointLookupByName('c')).getParent()).getName(), 'a');
      assert.equal((await (await dom.checkpointCreateXML(cp('d'))).getParent()).getName(), 'c', 'c stayed current');
      await (await dom.checkpointLookupByName('a')).delete(Delete.CHILDREN_ONLY);
      assert.deepEqual(await names(dom.listAllCheckpoints()), ['a']);
      assert.equal((await (await dom.checkpointCreateXML(cp('e'))).getParent()).getName(), 'a', 'a became current');
      await dom.checkpointCreateXML(cp('f'));
      await (await dom.checkpointLookupByName('e')).delete(Delete.CHILDREN);
      assert.equal((await (await dom.checkpointCreateXML(cp('g'))).getParent()).getName(), 'a', "the deleted one's parent became current");
      await rejectsVir((await dom.checkpointLookupByName('a')).delete(Delete.CHILDREN | Delete.CHILDREN_ONLY), {
        code: ErrorNumber.INVALID_ARG,
        message: /mutually exclusive/,
      });
    }));

  test(`${uri}: R3 for checkpoints — refused without the flag and nothing changes; with it the metadata goes (R6)`, () =>
    withConnection(uri, async (conn) => {
      const uuid = randomUUID();
      const dom = await running(conn, 'cpd', uuid);
      for (const n of ['a', 'b']) await dom.checkpointCreateXML(cp(n));
      await dom.destroy();
      await rejectsVir(dom.checkpointCreateXML(cp('z')), {
        code: ErrorNumber.OPERATION_UNSUPPORTED,
        domain: ErrorDomain.TEST,
        message: 'Operation not supported: cannot create checkpoint for inactive domain',
      });
      for (const flags of [0, MANAGED_SAVE, SNAPSHOTS_METADATA]) {
        await rejectsVir(dom.undefineFlags(flags), {
          code: ErrorNumber.OPERATION_INVALID,
          domain: ErrorDomain.TEST,
          message: 'Requested operation is not valid: cannot delete inactive domain with 2 checkpoints',
        });
      }
      assert.deepEqual(await names(dom.listAllCheckpoints()), ['a', 'b'], 'nothing changed');
      await dom.undefineFlags(CHECKPOINTS_METADATA);
      await rejectsVir(conn.lookupByName('cpd'), { code: ErrorNumber.NO_DOMAIN });
      const again = await conn.defineXML(diskDomainXML('cpd', uuid));
      assert.deepEqual(await again.listAllCheckpoints(), [], 'R6: nothing survives');
    }));

  test(`${uri}: snapshots are checked before checkpoints, as libvirt's qemu driver`, () =>
    withConnection(uri, async (conn) => {
      const dom = await running(conn, 'both');
      await dom.checkpointCreateXML(cp('c'));
      await dom.destroy();
      await dom.snapshotCreateXML(snapshotXML('s'));
      await rejectsVir(dom.undefineFlags(CHECKPOINTS_METADATA), { code: ErrorNumber.OPERATION_INVALID, message: /with 1 snapshots/ });
      await rejectsVir(dom.undefineFlags(SNAPSHOTS_METADATA), { code: ErrorNumber.OPERATION_INVALID, message: /with 1 checkpoints/ });
      await dom.undefineFlags(SNAPSHOTS_METADATA | CHECKPOINTS_METADATA);
    }));

  test(`${uri}: R4/R5 for checkpoints — an active domain keeps them on undefine and loses them when it stops`, () =>
    withConnection(uri, async (conn) => {
      const uuid = randomUUID();
      const dom = await running(conn, 'live', uuid);
      await dom.checkpointCreateXML(cp('a'));
      await dom.undefine();
      assert.equal(await dom.isPersistent(), false);
      assert.deepEqual(await names(dom.listAllCheckpoints()), ['a']);
      await dom.destroy();
      const again = await conn.createXML(diskDomainXML('live', uuid));
      assert.deepEqual(await again.listAllCheckpoints(), []);
      await again.destroy();
    }));

  test(`${uri}: REDEFINE recreates a captured tree; the current checkpoint is not moved by it`, () =>
    withConnection(uri, async (conn) => {
      const uuid = randomUUID();
      const dom = await running(conn, 'redef', uuid);
      for (const n of ['a', 'b', 'c']) await dom.checkpointCreateXML(cp(n));
      const xmls = [];
      for (const c of await dom.listAllCheckpoints(List.TOPOLOGICAL)) xmls.push(await c.getXMLDesc());
      await dom.destroy();
      await dom.undefineFlags(CHECKPOINTS_METADATA);
      const again = await running(conn, 'redef', uuid);
      for (const x of xmls) await again.checkpointCreateXML(x, Create.REDEFINE);
      assert.deepEqual(await names(again.listAllCheckpoints(List.TOPOLOGICAL)), ['a', 'b', 'c']);
      assert.equal(await (await again.checkpointLookupByName('c')).getXMLDesc(), xmls[2]);
      // No current checkpoint after a redefine: a new one is a root.
      assert.deepEqual(await names(again.listAllCheckpoints(List.ROOTS)), ['a']);
      await again.checkpointCreateXML(cp('d'));
      assert.deepEqual((await names(again.listAllCheckpoints(List.ROOTS))).sort(), ['a', 'd']);
      await rejectsVir(again.checkpointCreateXML('<domaincheckpoint><name>x</name><parent><name>zz</name></parent><creationTime>1</creationTime></domaincheckpoint>', Create.REDEFINE), {
        code: ErrorNumber.INVALID_ARG,
        message: 'invalid argument: parent zz for moment x not found',
      });
    }));
}

test('read-only connections may read checkpoints but not create, delete or ask for secrets', async () => {
  const rw = await connect('test:///default');
  try {
    // test:///default is per connection: the read-only view is a second connection's own preset.
    const ro = await connect('test:///default', { readonly: true });
    try {
      const dom = await ro.lookupByName('test');
      await rejectsVir(dom.checkpointCreateXML(cp('a')), { code: ErrorNumber.OPERATION_DENIED, domain: ErrorDomain.DOMAIN_CHECKPOINT });
      assert.deepEqual(await dom.listAllCheckpoints(), []);
    } finally {
      await ro.close();
    }
  } finally {
    await rw.close();
  }
});

test("tsvirt's remote driver through tsvirtd: checkpoint calls, errors and the undefine rule cross the wire (procedures 411-417)", async () => {
  const { startDaemon } = await import('./support/daemon-harness.js');
  const daemon = await startDaemon();
  try {
    const conn = await connect(daemon.uri('/session'));
    try {
      const uuid = randomUUID();
      const dom = await running(conn, 'wire', uuid);
      const a = await dom.checkpointCreateXML(cp('a'));
      await dom.checkpointCreateXML(cp('b'));
      assert.deepEqual(await names(dom.listAllCheckpoints(List.TOPOLOGICAL)), ['a', 'b']);
      assert.deepEqual(await names(a.listAllChildren()), ['b']);
      assert.equal((await (await dom.checkpointLookupByName('b')).getParent()).getName(), 'a');
      assert.match(await a.getXMLDesc(XMLFlags.NO_DOMAIN), /<name>a<\/name>/);
      await rejectsVir(dom.checkpointLookupByName('zz'), { code: ErrorNumber.NO_DOMAIN_CHECKPOINT, domain: ErrorDomain.TEST });
      await dom.destroy();
      await rejectsVir(dom.undefine(), { code: ErrorNumber.OPERATION_INVALID, message: /cannot delete inactive domain with 2 checkpoints/ });
      await a.delete(Delete.CHILDREN);
      assert.deepEqual(await dom.listAllCheckpoints(), []);
      await dom.undefine();
    } finally {
      await conn.close();
    }
  } finally {
    await daemon.dispose();
  }
});

test('python3-libvirt, unmodified, drives checkpoints through tsvirtd', async (t) => {
  const { python, pythonLibvirtSkip, startDaemon } = await import('./support/daemon-harness.js');
  const skip = pythonLibvirtSkip();
  if (skip !== false) {
    t.skip(String(skip));
    return;
  }
  const daemon = await startDaemon();
  try {
    const script = String.raw`
import libvirt, sys, json
c = libvirt.open(sys.argv[1])
x = """<domain type='test'><name>py</name><memory>65536</memory><os><type arch='x86_64'>hvm</type></os>
<devices><disk type='file' device='disk'><source file='/guest/py.img'/><target dev='vda' bus='virtio'/></disk></devices></domain>"""
d = c.defineXML(x)
d.create()
a = d.checkpointCreateXML('<domaincheckpoint><name>a</name></domaincheckpoint>')
b = d.checkpointCreateXML('<domaincheckpoint><name>b</name></domaincheckpoint>')
out = {}
out['names'] = [k.getName() for k in d.listAllCheckpoints(libvirt.VIR_DOMAIN_CHECKPOINT_LIST_TOPOLOGICAL)]
out['parent'] = b.getParent().getName()
out['children'] = [k.getName() for k in a.listAllChildren()]
out['lookup'] = d.checkpointLookupByName('b').getName()
out['has'] = [k.name() for k in c.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT)]
d.destroy()
try:
    d.undefine()
    out['undefine'] = None
except libvirt.libvirtError as e:
    out['undefine'] = [e.get_error_code(), e.get_error_domain(), e.get_error_message()]
try:
    a.getParent()
except libvirt.libvirtError as e:
    out['noparent'] = [e.get_error_code(), e.get_error_message()]
a.delete(libvirt.VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY)
out['after_delete'] = [k.getName() for k in d.listAllCheckpoints()]
d.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA)
print(json.dumps(out))
`;
    const r = python(script, daemon.uri('/session'));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      names: ['a', 'b'],
      parent: 'a',
      children: ['b'],
      lookup: 'b',
      has: ['py'],
      undefine: [55, 12, 'Requested operation is not valid: cannot delete inactive domain with 2 checkpoints'],
      noparent: [103, "Domain checkpoint not found: checkpoint 'a' does not have a parent"],
      after_delete: ['a'],
    });
  } finally {
    await daemon.dispose();
  }
});
