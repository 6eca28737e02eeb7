/**
 * The store invariants the crash and concurrency tests check after every kill: they hold for any
 * state a sequence of complete transactions can reach, and fail for any half-applied one.
 */
import Database from 'better-sqlite3';
import { connect, type Connection } from '../../src/index.js';

/** Opens the store file directly (read-only) and lists every broken invariant. */
export function storeViolations(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    const problems: string[] = [];
    const q = <T>(sql: string) => db.prepare(sql).all() as T[];
    const integrity = q<{ integrity_check: string }>('PRAGMA integrity_check');
    if (integrity[0]?.integrity_check !== 'ok') problems.push(`integrity: ${JSON.stringify(integrity)}`);
    for (const r of q<{ name: string }>(
      'SELECT s.name FROM snapshots s LEFT JOIN domains d ON d.uuid = s.domain_uuid WHERE d.uuid IS NULL',
    )) {
      problems.push(`snapshot ${r.name} belongs to no domain`);
    }
    for (const r of q<{ name: string }>('SELECT name FROM domains WHERE persistent = 0 AND id IS NULL')) {
      problems.push(`transient domain ${r.name} is inactive`);
    }
    for (const r of q<{ name: string }>('SELECT name FROM domains WHERE managed_save IS NOT NULL AND persistent = 0')) {
      problems.push(`transient domain ${r.name} has a managed save image`);
    }
    for (const r of q<{ name: string }>('SELECT name FROM domains WHERE managed_save IS NOT NULL AND id IS NOT NULL')) {
      problems.push(`running domain ${r.name} has a managed save image`);
    }
    for (const r of q<{ name: string; parent: string }>(
      `SELECT s.name, s.parent FROM snapshots s
       LEFT JOIN snapshots p ON p.domain_uuid = s.domain_uuid AND p.name = s.parent
       WHERE s.parent IS NOT NULL AND p.name IS NULL`,
    )) {
      problems.push(`snapshot ${r.name} has a dangling parent ${r.parent}`);
    }
    for (const r of q<{ name: string; current_snapshot: string }>(
      `SELECT d.name, d.current_snapshot FROM domains d
       LEFT JOIN snapshots s ON s.domain_uuid = d.uuid AND s.name = d.current_snapshot
       WHERE d.current_snapshot IS NOT NULL AND s.name IS NULL`,
    )) {
      problems.push(`domain ${r.name} has a dangling current snapshot ${r.current_snapshot}`);
    }
    for (const r of q<{ name: string }>(
      'SELECT c.name FROM checkpoints c LEFT JOIN domains d ON d.uuid = c.domain_uuid WHERE d.uuid IS NULL',
    )) {
      problems.push(`checkpoint ${r.name} belongs to no domain`);
    }
    for (const r of q<{ name: string; parent: string }>(
      `SELECT c.name, c.parent FROM checkpoints c
       LEFT JOIN checkpoints p ON p.domain_uuid = c.domain_uuid AND p.name = c.parent
       WHERE c.parent IS NOT NULL AND p.name IS NULL`,
    )) {
      problems.push(`checkpoint ${r.name} has a dangling parent ${r.parent}`);
    }
    for (const r of q<{ domain_uuid: string; n: number }>(
      'SELECT domain_uuid, count(*) AS n FROM checkpoints WHERE current = 1 GROUP BY domain_uuid HAVING n > 1',
    )) {
      problems.push(`domain ${r.domain_uuid} has ${r.n} current checkpoints`);
    }
    // createXML takes its job on the UUID before the domain exists (the job's transaction commits
    // first): a process killed in between leaves that job, which the next caller takes over.
    for (const r of q<{ domain_uuid: string }>(
      `SELECT j.domain_uuid FROM jobs j LEFT JOIN domains d ON d.uuid = j.domain_uuid
       WHERE d.uuid IS NULL AND j.job != 'virDomainCreateXML'`,
    )) {
      problems.push(`job left for removed domain ${r.domain_uuid}`);
    }
    return problems;
  } finally {
    db.close();
  }
}

/** The same invariants seen through the public API (what a user would observe). */
export async function apiViolations(conn: Connection): Promise<string[]> {
  const problems: string[] = [];
  for (const dom of await conn.listAllDomains()) {
    const persistent = await dom.isPersistent();
    const active = await dom.isActive();
    if (!persistent && !active) problems.push(`${dom.name()}: transient and inactive`);
    if ((await dom.hasManagedSaveImage()) && !persistent) problems.push(`${dom.name()}: transient with image`);
    const snaps = await dom.listAllSnapshots();
    const names = new Set(snaps.map((s) => s.getName()));
    let currents = 0;
    for (const s of snaps) {
      if (await s.isCurrent()) currents++;
      try {
        const parent = (await s.getParent()).getName();
        if (!names.has(parent)) problems.push(`${dom.name()}/${s.getName()}: parent ${parent} missing`);
      } catch {
        // a root
      }
    }
    if (currents > 1) problems.push(`${dom.name()}: ${currents} current snapshots`);
  }
  return problems;
}

/** Opens test:///session in the given state directory and returns the API's view of violations. */
export async function sessionViolations(stateDir: string): Promise<string[]> {
  const previous = process.env.TSVIRT_STATE_DIR;
  process.env.TSVIRT_STATE_DIR = stateDir;
  const conn = await connect('test:///session');
  try {
    return await apiViolations(conn);
  } finally {
    await conn.close();
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
  }
}
