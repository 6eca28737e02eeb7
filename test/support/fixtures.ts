/**
 * Shared test fixtures: domain XML in libvirt's format, store rows, connections on both test URIs with a
 * private state directory, and an assertion for VirError.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { connect, DomainState, DomainUndefineFlags, VirError, type Connection, type Domain, type DomainSnapshot } from '../../src/index.js';
import type { DomainWrite } from '../../src/store/store.js';

/** Both test URIs: every rule test runs on each. */
export const TEST_URIS = ['test:///default', 'test:///session'] as const;

/** Options of {@link domainXML}. */
export interface DomainXMLOptions {
  uuid?: string;
  ignorePowerButton?: boolean;
  memoryKiB?: number;
  vcpus?: number;
}

/** A small test-driver domain in libvirt's XML. */
export function domainXML(name: string, options: DomainXMLOptions = {}): string {
  const uuid = options.uuid ?? randomUUID();
  const ns = options.ignorePowerButton === true ? ` xmlns:test='http://libvirt.org/schemas/domain/test/1.0'` : '';
  const knob = options.ignorePowerButton === true ? '\n  <test:ignorepowerbutton>yes</test:ignorepowerbutton>' : '';
  return `<domain type='test'${ns}>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='KiB'>${options.memoryKiB ?? 65536}</memory>
  <vcpu>${options.vcpus ?? 1}</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
  </os>${knob}
</domain>`;
}

/** A minimal snapshot XML. */
/** A row for Store.insertDomain: an inactive persistent test domain, with `changes` applied. */
export function storeRow(name: string, changes: Partial<DomainWrite> = {}): DomainWrite {
  return {
    uuid: randomUUID(),
    name,
    persistent: true,
    configXml: `<domain type='test'><name>${name}</name></domain>`,
    liveXml: null,
    id: -1,
    state: DomainState.SHUTOFF,
    reason: 0,
    autostart: false,
    maxMem: 65536,
    memory: 65536,
    vcpus: 1,
    managedSave: null,
    currentSnapshot: null,
    runtime: null,
    ...changes,
  };
}

export function snapshotXML(name: string, description?: string): string {
  const desc = description === undefined ? '' : `<description>${description}</description>`;
  return `<domainsnapshot><name>${name}</name>${desc}</domainsnapshot>`;
}

/** A fresh private state directory, removed by the returned cleanup. */
export function tempStateDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Opens `uri` with a private state directory (for test:///session), runs `fn`, and closes and
 * cleans up even when `fn` fails.
 */
export async function withConnection<T>(uri: string, fn: (conn: Connection, stateDir: string) => Promise<T>): Promise<T> {
  const state = tempStateDir();
  const previous = process.env.TSVIRT_STATE_DIR;
  process.env.TSVIRT_STATE_DIR = state.dir;
  let conn: Connection | undefined;
  try {
    conn = await connect(uri);
    return await fn(conn, state.dir);
  } finally {
    await conn?.close();
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    state.cleanup();
  }
}

/** What a VirError must carry. */
export interface ExpectedError {
  code: number;
  domain?: number;
  message?: string | RegExp;
}

/** Asserts that `promise` rejects with a VirError matching `expected`. */
export async function rejectsVir(promise: Promise<unknown>, expected: ExpectedError): Promise<VirError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof VirError, `expected a VirError, got ${String(err)}`);
    assert.equal(err.code, expected.code, `code of "${err.message}"`);
    if (expected.domain !== undefined) assert.equal(err.domain, expected.domain, `error domain of "${err.message}"`);
    if (typeof expected.message === 'string') assert.equal(err.message, expected.message);
    else if (expected.message !== undefined) assert.match(err.message, expected.message);
    return err;
  }
  assert.fail('expected a VirError, but the call succeeded');
}

/** A comparable picture of everything a connection shows: domains, states, snapshots, current. */
export async function stateOf(conn: Connection): Promise<unknown> {
  const out: unknown[] = [];
  for (const dom of await conn.listAllDomains(0)) {
    const snaps = await dom.listAllSnapshots(0);
    const tree: [string, string | null][] = [];
    for (const s of snaps) {
      let parent: string | null;
      try {
        parent = (await s.getParent()).getName();
      } catch {
        parent = null;
      }
      tree.push([s.getName(), parent]);
    }
    out.push({
      name: dom.name(),
      uuid: dom.UUIDString(),
      id: dom.ID(),
      state: await dom.state(),
      persistent: await dom.isPersistent(),
      managedSave: await dom.hasManagedSaveImage(),
      current: (await dom.hasCurrentSnapshot()) ? (await dom.snapshotCurrent()).getName() : null,
      config: await dom.XMLDesc(2),
      tree,
    });
  }
  return out.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/**
 * R7's probe: every call that takes flags, with libvirt's test-driver function name, called with
 * `bad` (an unknown bit). Shared by the embedded rule tests and the remote scenarios. `makeXML`
 * gives the XML of a new domain for the define/create probes (default: a test-driver domain).
 */
export function flagProbeCalls(
  conn: Connection,
  dom: Domain,
  snap: DomainSnapshot,
  bad: number,
  makeXML: (name: string) => string = domainXML,
): [string, () => Promise<unknown>][] {
  return [
    ['testDomainUndefineFlags', () => dom.undefineFlags(DomainUndefineFlags.SNAPSHOTS_METADATA | bad)],
    ['testDomainCreateWithFlags', () => dom.createWithFlags(bad)],
    ['testDomainShutdownFlags', () => dom.shutdownFlags(bad)],
    ['testDomainDestroyFlags', () => dom.destroyFlags(bad)],
    ['testDomainReboot', () => dom.reboot(bad)],
    ['testDomainGetState', () => dom.state(bad)],
    ['testDomainGetXMLDesc', () => dom.XMLDesc(bad)],
    ['testDomainManagedSave', () => dom.managedSave(bad)],
    ['testDomainHasManagedSaveImage', () => dom.hasManagedSaveImage(bad)],
    ['testDomainManagedSaveRemove', () => dom.managedSaveRemove(bad)],
    ['testDomainSnapshotCreateXML', () => dom.snapshotCreateXML(snapshotXML('x'), bad)],
    ['testDomainSnapshotNum', () => dom.snapshotNum(bad)],
    ['testDomainSnapshotListNames', () => dom.snapshotListNames(bad)],
    ['testDomainListAllSnapshots', () => dom.listAllSnapshots(bad)],
    ['testDomainSnapshotLookupByName', () => dom.snapshotLookupByName('s0', bad)],
    ['testDomainSnapshotCurrent', () => dom.snapshotCurrent(bad)],
    ['testDomainHasCurrentSnapshot', () => dom.hasCurrentSnapshot(bad)],
    ['testDomainRevertToSnapshot', () => snap.revert(bad)],
    ['testDomainSnapshotGetXMLDesc', () => snap.getXMLDesc(bad)],
    ['testDomainSnapshotGetParent', () => snap.getParent(bad)],
    ['testDomainSnapshotNumChildren', () => snap.numChildren(bad)],
    ['testDomainSnapshotListAllChildren', () => snap.listAllChildren(bad)],
    ['testDomainSnapshotIsCurrent', () => snap.isCurrent(bad)],
    ['testDomainSnapshotHasMetadata', () => snap.hasMetadata(bad)],
    ['testDomainSnapshotDelete', () => snap.delete(bad)],
    ['testDomainDefineXMLFlags', () => conn.defineXMLFlags(makeXML('other'), bad)],
    ['testDomainCreateXML', () => conn.createXML(makeXML('other'), bad)],
    ['testConnectListAllDomains', () => conn.listAllDomains(bad)],
  ];
}

/**
 * R10's tree: root → a → a1, root → b (b taken while running), current 'a' after a revert.
 * Shared by the embedded rule tests and the remote scenarios.
 */
export async function buildCaptureTree(dom: Domain): Promise<void> {
  await dom.snapshotCreateXML(snapshotXML('root', 'the root'));
  await dom.snapshotCreateXML(snapshotXML('a'));
  await dom.snapshotCreateXML(snapshotXML('a1'));
  await dom.revertToSnapshot(await dom.snapshotLookupByName('root'));
  await dom.create();
  await dom.snapshotCreateXML(snapshotXML('b'));
  await dom.destroy();
  await dom.revertToSnapshot(await dom.snapshotLookupByName('a'));
}

/**
 * A domain's snapshot tree as a sorted picture (name, has children, is current, children):
 * sibling order follows (re)definition order, as in libvirt, so it is left out.
 */
export async function snapshotTreeOf(dom: Domain): Promise<unknown[]> {
  const rows = await Promise.all(
    (await dom.listAllSnapshots(0)).map(async (s) => [
      s.getName(),
      (await s.numChildren()) > 0,
      await s.isCurrent(),
      (await s.listAllChildren()).map((c) => c.getName()).sort(),
    ]),
  );
  return rows.sort((x, y) => String(x[0]).localeCompare(String(y[0])));
}
