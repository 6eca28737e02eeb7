/**
 * The README's first command: on the embedded default (test:///session, durable), define a
 * domain, snapshot it, watch undefine refuse to strand the snapshot metadata, and use the flag
 * that removes it with the domain.
 */
import { connect, DomainUndefineFlags, VirError } from '../src/index.js';

const xml = `<domain type='test'>
  <name>demo-web1</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>`;

const conn = await connect('test:///session');
try {
  console.log(`connected to ${conn.getURI()} (${conn.getType()})`);
  // Start clean if an earlier run was interrupted.
  try {
    await (await conn.lookupByName('demo-web1')).undefineFlags(
      DomainUndefineFlags.SNAPSHOTS_METADATA | DomainUndefineFlags.MANAGED_SAVE,
    );
  } catch {
    // not there: fine
  }
  const dom = await conn.defineXML(xml);
  console.log(`defined ${dom.name()} ${dom.UUIDString()}`);
  for (const name of ['before-upgrade', 'after-upgrade', 'release']) {
    await dom.snapshotCreateXML(`<domainsnapshot><name>${name}</name></domainsnapshot>`);
  }
  console.log(`snapshots: ${(await dom.snapshotListNames()).join(', ')} (current: ${(await dom.snapshotCurrent()).getName()})`);

  try {
    await dom.undefine();
  } catch (err) {
    if (!(err instanceof VirError)) throw err;
    console.log(`undefine refused: ${err.codeName} (${err.code}): ${err.message}`);
  }
  console.log(`still defined, still ${await dom.snapshotNum()} snapshots`);

  await dom.undefineFlags(DomainUndefineFlags.SNAPSHOTS_METADATA);
  console.log('undefineFlags(VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA): domain and its snapshot metadata removed together');
  const again = await conn.defineXML(xml.replace('<memory', `<uuid>${dom.UUIDString()}</uuid>\n  <memory`));
  console.log(`defined again with the same name and UUID: ${await again.snapshotNum()} snapshots, nothing stranded`);
  await again.undefine();
} finally {
  await conn.close();
}
