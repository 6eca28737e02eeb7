/**
 * A store's files are the user's alone: a new database and its -wal and -shm files are 0600,
 * whatever the umask (their directory is 0700 too, but a file's own mode should not rely on it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../src/store/store.js';

test('a new store file and its -wal and -shm are created 0600', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-store-mode-'));
  const old = process.umask(0o022);
  try {
    const path = join(dir, 'state', 'test.db');
    const store = new Store({ path });
    try {
      for (const f of [path, `${path}-wal`, `${path}-shm`]) {
        assert.ok(existsSync(f), `${f} exists while the store is open`);
        assert.equal((statSync(f).mode & 0o777).toString(8), '600', f);
      }
    } finally {
      store.close();
    }
  } finally {
    process.umask(old);
    rmSync(dir, { recursive: true, force: true });
  }
});
