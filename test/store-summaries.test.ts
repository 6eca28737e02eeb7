/**
 * The store keeps the domain listing (domainSummaries) between calls. These tests change the
 * domains table between two listings by each path that can — this store's insert, update and
 * delete, a transaction that rolls back after reading its own uncommitted row, and another
 * connection to the same file — and check the next listing shows the table as it is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Store, type DomainRecord } from '../src/store/store.js';
import { DomainRunningReason, DomainShutoffReason, DomainState } from '../src/core/enums.generated.js';

function rec(name: string): DomainRecord {
  return {
    uuid: randomUUID(),
    name,
    persistent: true,
    configXml: `<domain type='test'><name>${name}</name></domain>`,
    liveXml: null,
    id: -1,
    state: DomainState.SHUTOFF,
    reason: DomainShutoffReason.UNKNOWN,
    autostart: false,
    maxMem: 1024,
    memory: 1024,
    vcpus: 1,
    managedSave: null,
    currentSnapshot: null,
    runtime: null,
  };
}

const names = (s: Store): string[] => s.domainSummaries().map((d) => d.name);

test("an in-memory store's listing follows its inserts, updates and deletes", () => {
  const s = new Store({ path: ':memory:' });
  try {
    assert.deepEqual(names(s), []);
    const a = rec('sum-a');
    s.mutate(() => s.insertDomain(a));
    assert.deepEqual(names(s), ['sum-a']);
    assert.deepEqual(names(s), ['sum-a']); // kept
    a.id = 7;
    a.state = DomainState.RUNNING;
    a.reason = DomainRunningReason.BOOTED;
    s.mutate(() => s.updateDomain(a));
    const [d] = s.domainSummaries();
    assert.equal(d?.id, 7);
    assert.equal(d?.state, DomainState.RUNNING);
    assert.equal(d?.reason, DomainRunningReason.BOOTED);
    s.mutate(() => s.deleteDomain(a.uuid));
    assert.deepEqual(names(s), []);
  } finally {
    s.close();
  }
});

test('a rolled-back transaction leaves no trace in the listing, even one it read itself', () => {
  const s = new Store({ path: ':memory:' });
  try {
    s.mutate(() => s.insertDomain(rec('sum-kept')));
    assert.deepEqual(names(s), ['sum-kept']);
    assert.throws(() =>
      s.mutate(() => {
        s.insertDomain(rec('sum-gone'));
        // Read (and kept) inside the transaction, before it fails.
        assert.deepEqual(names(s), ['sum-gone', 'sum-kept']);
        throw new Error('refused');
      }),
    );
    assert.deepEqual(names(s), ['sum-kept']);
  } finally {
    s.close();
  }
});

test("another connection's commits to the same file are seen by the next listing", () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-summaries-'));
  const path = join(dir, 'store.db');
  const a = new Store({ path });
  const b = new Store({ path });
  try {
    assert.deepEqual(names(a), []);
    const r = rec('sum-shared');
    b.mutate(() => b.insertDomain(r));
    assert.deepEqual(names(a), ['sum-shared']);
    r.autostart = true;
    b.mutate(() => b.updateDomain(r));
    assert.equal(a.domainSummaries()[0]?.autostart, true);
    b.mutate(() => b.deleteDomain(r.uuid));
    assert.deepEqual(names(a), []);
  } finally {
    a.close();
    b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
