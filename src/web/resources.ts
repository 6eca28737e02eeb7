/**
 * What the web console's JSON API says about storage pools, volumes and networks (for the
 * create-VM wizard), and the one thing it does to them: create a volume. Over tsvirt's public API
 * only, so the same rules and errors as a libvirt client's apply.
 */
import type { PoolSummary, VolumeSummary, NetworkSummary } from './json.js';
import { StoragePoolState } from '../core/enums.generated.js';
import type { Connection, StoragePool } from '../index.js';




/** Volume formats the wizard offers. */
export const VOLUME_FORMATS = ['qcow2', 'raw'] as const;

export async function listPools(conn: Connection): Promise<PoolSummary[]> {
  const pools = await conn.listAllStoragePools();
  const rows = await Promise.all(
    pools.map(async (p) => {
      const [[state, capacity, allocation, available], persistent, autostart] = await Promise.all([p.info(), p.isPersistent(), p.autostart()]);
      return { name: p.name(), uuid: p.UUIDString(), active: state === StoragePoolState.RUNNING, persistent, autostart, capacity, allocation, available };
    }),
  );
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

export async function listVolumes(pool: StoragePool): Promise<VolumeSummary[]> {
  const vols = await pool.listAllVolumes();
  const rows = await Promise.all(
    vols.map(async (v) => {
      const [[type, capacity, allocation], path, xml] = await Promise.all([v.info(), v.path(), v.XMLDesc()]);
      return { name: v.name(), path, type, format: formatOf(xml), capacity, allocation };
    }),
  );
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

/** Creates a volume of `capacity` bytes in `pool` (virStorageVolCreateXML). */
export async function createVolume(pool: StoragePool, name: string, capacity: number, format: string): Promise<VolumeSummary> {
  const xml = `<volume><name>${escapeXML(name)}</name><capacity unit='bytes'>${capacity}</capacity><target><format type='${escapeXML(format)}'/></target></volume>`;
  const v = await pool.createXML(xml);
  const [[type, cap, allocation], path, vxml] = await Promise.all([v.info(), v.path(), v.XMLDesc()]);
  return { name: v.name(), path, type, format: formatOf(vxml), capacity: cap, allocation };
}

export async function listNetworks(conn: Connection): Promise<NetworkSummary[]> {
  const nets = await conn.listAllNetworks();
  const rows = await Promise.all(
    nets.map(async (n) => {
      const [active, persistent, autostart] = await Promise.all([n.isActive(), n.isPersistent(), n.autostart()]);
      return { name: n.name(), uuid: n.UUIDString(), active, persistent, autostart };
    }),
  );
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

/** The target's format in a volume's XML. */
function formatOf(xml: string): string | null {
  return /<target>[\s\S]*?<format type='([^']+)'/.exec(xml)?.[1] ?? null;
}

function escapeXML(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
