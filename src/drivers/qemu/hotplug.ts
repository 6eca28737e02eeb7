/**
 * Device hotplug on a running QEMU guest, as libvirt's qemu_hotplug.c does it over QMP: a disk is
 * a `blockdev-add` pair (storage and format nodes) plus `device_add`; an interface a
 * `netdev_add` plus `device_add`; a detach is `device_del`, then up to five seconds for the
 * guest to let go (DEVICE_DELETED) before the backend goes (`blockdev-del`, `netdev_del`); a
 * CD-ROM's media changes with `blockdev-change-medium` or `eject`.
 */
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError, configUnsupported } from '../../core/errors.js';
import type { DomainDef, DomainDiskDef, DomainInterfaceDef } from '../../conf/domain.js';
import type { QmpClient, QmpEvent } from './qmp.js';
import { NIC_MODELS, freePciSlot, netdevId, pciProps } from './argv.js';

const DOM = ErrorDomain.DOMAIN;
const unsupported = (detail: string): VirError => VirError.report(DOM, ErrorNumber.OPERATION_UNSUPPORTED, detail);

/** How long a detach waits for the guest to release the device (libvirt's 5 s). */
export const UNPLUG_WAIT_MS = 5000;

/** The first of `prefix0`, `prefix1`, … that no device of `def` uses. */
function freeAlias(def: DomainDef, prefix: string, from = 0): string {
  const used = new Set<string>([...def.devices.disks, ...def.devices.interfaces].map((d) => d.alias).filter((a): a is string => a !== undefined));
  let n = Math.max(0, from);
  while (used.has(`${prefix}${n}`)) n++;
  return `${prefix}${n}`;
}

/** virDiskNameToIndex. */
function diskIndex(name: string): number {
  const m = /^(?:sd|hd|vd|xvd|ubd|fd)([a-z]+)\d*$/.exec(name);
  if (m === null) return 0;
  let idx = 0;
  for (const ch of m[1] ?? '') idx = idx * 26 + (ch.charCodeAt(0) - 96);
  return idx - 1;
}

/** One past the highest `libvirt-N-…` block node number in use. */
async function nextNodeIndex(qmp: QmpClient): Promise<number> {
  const nodes = await qmp.execute<{ 'node-name'?: string }[]>('query-named-block-nodes', { flat: true });
  let max = 0;
  for (const n of nodes) {
    const m = /^libvirt-(\d+)-/.exec(n['node-name'] ?? '');
    if (m !== null) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

/**
 * Checks that the disk can be hot-plugged here (libvirt's refusals for CD-ROMs and buses without
 * hotplug); tsvirt plugs virtio disks.
 */
export function checkDiskHotplug(disk: DomainDiskDef): void {
  if (disk.device === 'cdrom' || disk.device === 'floppy') throw unsupported('cdrom/floppy device hotplug isn\'t supported');
  if (disk.targetBus !== 'virtio') {
    if (disk.targetBus === 'scsi') throw unsupported(`disk bus '${disk.targetBus}' hotplug is not supported by tsvirt's qemu driver (virtio)`);
    throw unsupported(`disk bus '${disk.targetBus}' cannot be hotplugged.`);
  }
  if (disk.sourceFile === undefined && disk.sourceDev === undefined) throw configUnsupported(DOM, `disk '${disk.targetDev}' has no source`);
  const fmt = disk.driverType ?? 'raw';
  if (fmt !== 'raw' && fmt !== 'qcow2') throw configUnsupported(DOM, `disk '${disk.targetDev}': format '${fmt}' is not supported (raw or qcow2)`);
}

/**
 * Plugs `disk` (already in `live`, the definition the guest runs with) into the guest and gives
 * it its alias (the user's, else `virtio-diskN`) and its PCI address (the one its XML names, else
 * a free slot), both kept in the live definition. On failure, what was added is removed again.
 */
export async function plugDisk(qmp: QmpClient, live: DomainDef, disk: DomainDiskDef): Promise<void> {
  checkDiskHotplug(disk);
  const alias = disk.alias ?? freeAlias(live, 'virtio-disk', diskIndex(disk.targetDev));
  const address = freePciSlot(live, disk.address);
  const n = await nextNodeIndex(qmp);
  const storage = `libvirt-${n}-storage`;
  const format = `libvirt-${n}-format`;
  const source = disk.type === 'block' ? { driver: 'host_device', filename: disk.sourceDev } : { driver: 'file', filename: disk.sourceFile };
  await qmp.execute('blockdev-add', { ...source, 'node-name': storage, 'auto-read-only': true, discard: 'unmap' });
  try {
    await qmp.execute('blockdev-add', { 'node-name': format, 'read-only': disk.readonly, driver: disk.driverType ?? 'raw', file: storage });
    try {
      const dev: Record<string, unknown> = { driver: 'virtio-blk-pci', id: alias, drive: format, ...pciProps(address) };
      if (disk.shareable === true) dev['share-rw'] = true;
      if (disk.bootOrder !== undefined) dev.bootindex = disk.bootOrder;
      await qmp.execute('device_add', dev);
    } catch (e) {
      await qmp.execute('blockdev-del', { 'node-name': format }).catch(() => undefined);
      throw e;
    }
  } catch (e) {
    await qmp.execute('blockdev-del', { 'node-name': storage }).catch(() => undefined);
    throw e;
  }
  disk.alias = alias;
  disk.address = address;
}

/** Plugs a user-mode interface: `netdev_add` + `device_add` of its model; gives it its alias (`netN`) and PCI address. */
export async function plugInterface(qmp: QmpClient, live: DomainDef, net: DomainInterfaceDef): Promise<void> {
  if (net.type !== 'user') {
    throw configUnsupported(DOM, `interface type '${net.type}' is not supported by tsvirt's qemu driver (use type='user')`);
  }
  const model = net.model ?? 'rtl8139';
  const driver = NIC_MODELS[model];
  if (driver === undefined) throw configUnsupported(DOM, `interface model '${model}' is not supported`);
  const alias = net.alias ?? freeAlias(live, 'net');
  const address = freePciSlot(live, net.address);
  const id = netdevId(alias);
  await qmp.execute('netdev_add', { type: 'user', id });
  try {
    await qmp.execute('device_add', { driver, netdev: id, id: alias, mac: net.mac, ...pciProps(address) });
  } catch (e) {
    await qmp.execute('netdev_del', { id }).catch(() => undefined);
    throw e;
  }
  net.alias = alias;
  net.address = address;
}

/** The format node behind the guest device `alias` (query-block), if it has media. */
export async function diskNode(qmp: QmpClient, alias: string): Promise<string | undefined> {
  const blocks = await qmp.execute<{ qdev?: string; inserted?: { 'node-name'?: string } }[]>('query-block');
  const b = blocks.find((x) => x.qdev === alias || x.qdev === `/machine/peripheral/${alias}` || x.qdev?.startsWith(`/machine/peripheral/${alias}/`) === true);
  return b?.inserted?.['node-name'];
}

/** Removes a disk's block nodes once its device is gone: the format node, then its storage node. */
export async function releaseDisk(qmp: QmpClient, node: string | undefined): Promise<void> {
  if (node === undefined) return;
  await qmp.execute('blockdev-del', { 'node-name': node }).catch(() => undefined);
  if (node.endsWith('-format')) await qmp.execute('blockdev-del', { 'node-name': node.replace(/-format$/, '-storage') }).catch(() => undefined);
}

/** Removes an interface's netdev once its device is gone. */
export async function releaseInterface(qmp: QmpClient, alias: string): Promise<void> {
  await qmp.execute('netdev_del', { id: netdevId(alias) }).catch(() => undefined);
}

const deleted = (alias: string) => (ev: QmpEvent): boolean =>
  ev.event === 'DEVICE_DELETED' && (ev.data?.device === alias || ev.data?.path === `/machine/peripheral/${alias}`);

/** Calls `then` once when QEMU reports device `alias` gone; returns a function that stops waiting. */
export function onDeleted(qmp: QmpClient, alias: string, then: () => void): () => void {
  const match = deleted(alias);
  const off = qmp.onEvent((ev) => {
    if (!match(ev)) return;
    off();
    then();
  });
  return off;
}

/** `device_del`: asks the guest to release device `alias`. */
export async function requestUnplug(qmp: QmpClient, alias: string): Promise<void> {
  try {
    await qmp.execute('device_del', { id: alias });
  } catch (e) {
    if (e instanceof VirError && /not found/.test(e.message)) {
      throw VirError.report(DOM, ErrorNumber.DEVICE_MISSING, `device '${alias}' not found in the running guest`);
    }
    throw e;
  }
}

/**
 * Asks the guest to release device `alias` (`device_del`) and waits up to {@link UNPLUG_WAIT_MS}
 * for QEMU's DEVICE_DELETED. True when it is gone; false when the guest has not let go yet (the
 * detach goes on in the guest; `later` runs when it completes, as libvirt finishes it on the event).
 */
export async function unplug(qmp: QmpClient, alias: string, later: () => void): Promise<boolean> {
  let gone = false;
  let timedOut = false;
  let resolveGone: () => void = () => undefined;
  const goneNow = new Promise<void>((r) => (resolveGone = r));
  const off = onDeleted(qmp, alias, () => {
    gone = true;
    if (timedOut) later();
    else resolveGone();
  });
  try {
    await requestUnplug(qmp, alias);
  } catch (e) {
    off();
    throw e;
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([goneNow, new Promise<void>((r) => (timer = setTimeout(r, UNPLUG_WAIT_MS)))]);
  clearTimeout(timer);
  if (!gone) timedOut = true;
  return gone;
}

/**
 * Changes the media of a CD-ROM or floppy `alias` (update-device): loads `disk`'s source, or
 * ejects when it has none (libvirt's qemuDomainChangeEjectableMedia).
 */
export async function changeMedia(qmp: QmpClient, alias: string, disk: DomainDiskDef): Promise<void> {
  const filename = disk.sourceFile ?? disk.sourceDev;
  if (filename === undefined) {
    await qmp.execute('eject', { id: alias, force: true });
    return;
  }
  await qmp.execute('blockdev-change-medium', {
    id: alias,
    filename,
    format: disk.driverType ?? 'raw',
    'read-only-mode': disk.readonly ? 'read-only' : 'retain',
  });
}
