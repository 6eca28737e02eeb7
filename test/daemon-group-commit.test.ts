/**
 * tsvirtd's group commit (Store `groupCommit`): mutations of one loop turn share one COMMIT; none
 * is visible to another store connection — nor announced by an event — before `durable()`
 * resolves; a mutation that fails rolls back alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../src/store/store.js';
import { storeRow } from './support/fixtures.js';

test('group commit: one COMMIT for a burst, nothing visible or announced before durable(), a failure rolls back alone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-group-'));
  const path = join(dir, 'session.db');
  const grouped = new Store({ path, groupCommit: true });
  const other = new Store({ path });
  try {
    const order: string[] = [];
    grouped.mutate(() => grouped.insertDomain(storeRow('g1')));
    grouped.afterCommit(() => order.push('event g1'));
    assert.throws(() =>
      grouped.mutate(() => {
        grouped.insertDomain(storeRow('g2'));
        throw new Error('refused');
      }),
    );
    grouped.mutate(() => grouped.insertDomain(storeRow('g3')));
    // The group's own reads see its pending changes; another connection does not yet.
    assert.ok(grouped.domainByName('g1') !== undefined);
    assert.equal(other.domainByName('g1'), undefined, 'visible to another connection before the COMMIT');
    assert.equal(order.length, 0, 'an event ran before the COMMIT');
    await grouped.durable().then(() => order.push('durable'));
    assert.deepEqual(order, ['event g1', 'durable']);
    assert.ok(other.domainByName('g1') !== undefined);
    assert.ok(other.domainByName('g3') !== undefined);
    assert.equal(other.domainByName('g2'), undefined, 'the failed mutation was committed');
    // Nothing pending: durable() and afterCommit() act at once.
    let ran = false;
    grouped.afterCommit(() => (ran = true));
    assert.equal(ran, true);
    await grouped.durable();
  } finally {
    grouped.close();
    other.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('group commit: close() commits what is pending', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-group-'));
  const path = join(dir, 'session.db');
  try {
    const grouped = new Store({ path, groupCommit: true });
    grouped.mutate(() => grouped.insertDomain(storeRow('c1')));
    grouped.close();
    const other = new Store({ path });
    assert.ok(other.domainByName('c1') !== undefined);
    other.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
