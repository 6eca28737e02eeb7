/**
 * A child process for the crash and concurrency tests: it opens test:///session (state directory
 * from TSVIRT_STATE_DIR) and performs random mutations until killed or until `--ops N` are done.
 * Only libvirt's own errors are expected; anything else is printed as UNEXPECTED and exits 1.
 */
import { connect, DomainCheckpointDeleteFlags, DomainSnapshotDeleteFlags, ErrorNumber, VirError, type Domain, type Connection } from '../../src/index.js';
import { domainXML, snapshotXML } from './fixtures.js';

/** Error codes a random walk legitimately meets (state races, refused rules). */
const EXPECTED = new Set<number>([
  ErrorNumber.NO_DOMAIN,
  ErrorNumber.OPERATION_INVALID,
  ErrorNumber.OPERATION_FAILED,
  ErrorNumber.NO_DOMAIN_SNAPSHOT,
  ErrorNumber.OPERATION_TIMEOUT,
  ErrorNumber.SNAPSHOT_REVERT_RISKY,
  ErrorNumber.NO_DOMAIN_CHECKPOINT,
  // A checkpoint of a shut-off domain.
  ErrorNumber.OPERATION_UNSUPPORTED,
]);

/** The pool's domains have a disk, so that checkpoints can be made of them. */
function poolXML(name: string, uuid: string): string {
  return domainXML(name, { uuid }).replace(
    '</domain>',
    "  <devices><disk type='file' device='disk'><source file='/guest/m.img'/><target dev='vda' bus='virtio'/></disk></devices>\n</domain>",
  );
}

// A small pool of names with fixed UUIDs, so that operations collide often.
const POOL = Array.from({ length: 6 }, (_, i) => ({
  name: `m${i}`,
  uuid: `00000000-0000-4000-8000-00000000000${i}`,
}));

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T;
}

async function lookup(conn: Connection): Promise<Domain> {
  return conn.lookupByName(pick(POOL).name);
}

async function step(conn: Connection, seq: number): Promise<void> {
  const entry = pick(POOL);
  switch (Math.floor(Math.random() * 14)) {
    case 0:
    case 1:
      await conn.defineXML(poolXML(entry.name, entry.uuid));
      return;
    case 2:
      await conn.createXML(poolXML(entry.name, entry.uuid));
      return;
    case 3:
      await (await lookup(conn)).create();
      return;
    case 4:
    case 5:
      await (await lookup(conn)).snapshotCreateXML(snapshotXML(`s${process.pid}-${seq}`));
      return;
    case 6:
      await (await lookup(conn)).managedSave();
      return;
    case 7:
      // MANAGED_SAVE, SNAPSHOTS_METADATA and CHECKPOINTS_METADATA in any combination.
      await (await lookup(conn)).undefineFlags(Math.floor(Math.random() * 4) | (Math.random() < 0.5 ? 16 : 0));
      return;
    case 8:
      await (await lookup(conn)).destroy();
      return;
    case 9:
      await (await lookup(conn)).shutdown();
      return;
    case 10: {
      const dom = await lookup(conn);
      const snaps = await dom.listAllSnapshots();
      if (snaps.length > 0) await pick(snaps).delete(pick([0, DomainSnapshotDeleteFlags.CHILDREN, DomainSnapshotDeleteFlags.CHILDREN_ONLY]));
      return;
    }
    case 12:
      await (await lookup(conn)).checkpointCreateXML(`<domaincheckpoint><name>c${process.pid}-${seq}</name></domaincheckpoint>`);
      return;
    case 13: {
      const dom = await lookup(conn);
      const cps = await dom.listAllCheckpoints();
      if (cps.length > 0) await pick(cps).delete(pick([0, DomainCheckpointDeleteFlags.CHILDREN, DomainCheckpointDeleteFlags.CHILDREN_ONLY]));
      return;
    }
    default: {
      const dom = await lookup(conn);
      const snaps = await dom.listAllSnapshots();
      if (snaps.length > 0) await pick(snaps).revert(pick([0, 1, 4, 5]));
    }
  }
}

async function main(): Promise<void> {
  const opsArg = process.argv.indexOf('--ops');
  const ops = opsArg > 0 ? Number(process.argv[opsArg + 1]) : Infinity;
  const conn = await connect('test:///session');
  process.stdout.write('ready\n');
  let done = 0;
  for (let seq = 0; seq < ops; seq++) {
    try {
      await step(conn, seq);
      done++;
    } catch (err) {
      if (!(err instanceof VirError) || !EXPECTED.has(err.code)) {
        process.stdout.write(`UNEXPECTED ${err instanceof VirError ? `${err.codeName} ${err.message}` : String(err)}\n`);
        process.exit(1);
      }
    }
  }
  await conn.close();
  process.stdout.write(`done ${done}\n`);
}

void main();
