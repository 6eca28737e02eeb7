/**
 * The QEMU driver: `qemu:///session` and `qemu:///system` on the metadata driver, with real
 * qemu-system-x86_64 guests (QemuGuests). Opening reconciles: guests that still run are
 * reattached, those that ended while nobody watched are processed as stopped (R5, R12).
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConnectListAllDomainsFlags, ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import type { DriverOpener } from '../../core/driver.js';
import { Store } from '../../store/store.js';
import { QemuDriver } from './qemu-driver.js';
import { QemuGuests } from './backend.js';
import { qemuLocations, qemuMigrationConfig, qemuVersion } from './session.js';
import { StoreNetworkDriver, presetDefaultNetwork } from '../network/driver.js';
import { HostNetworks, unprivilegedNetworks } from '../network/host.js';

/**
 * Opens the QEMU driver for `qemu:///session` or `qemu:///system`. `nonBlocking` (tsvirtd's
 * shared driver): another process's write lock on the store is waited for without blocking the
 * event loop (StoreOptions).
 */
export async function openQemuDriver(path: '/session' | '/system', uri: string, opts: { nonBlocking?: boolean } = {}): Promise<QemuDriver> {
  const locations = qemuLocations(path);
  const store = new Store({ path: join(locations.root, 'qemu.db'), nonBlocking: opts.nonBlocking });
  const backend = new QemuGuests(locations);
  // Networks need CAP_NET_ADMIN (bridges, nftables): without root they are defined and listed,
  // and starting one fails as libvirt's session daemon does.
  const privileged = process.getuid?.() === 0;
  const host = new HostNetworks({ stateDir: join(locations.root, 'network'), runDir: join(locations.runRoot, 'network') });
  let networks: StoreNetworkDriver | undefined;
  const driver = new QemuDriver({
    uri,
    store,
    backend,
    // Asked of the binary only when a caller wants it (it runs `qemu-system-x86_64 --version`).
    version: () => qemuVersion('qemu-system-x86_64'),
    network: (s) => (networks = new StoreNetworkDriver({ store: s, backend: privileged ? host : unprivilegedNetworks(host), watchMs: 5000 })),
    storage: 'dir',
    migration: qemuMigrationConfig(),
  });
  backend.networks = networks;
  let firstSinceBoot: boolean;
  try {
    if (privileged) presetDefaultNetwork(store, false);
    firstSinceBoot = claimAutostart(locations.runRoot);
    // Networks first: guests on them need their bridges.
    await networks?.reconcile(firstSinceBoot && privileged);
    await driver.reconcile();
  } catch (err) {
    await driver.close();
    throw err;
  }
  if (firstSinceBoot) {
    // Pools first, as libvirt's storage driver starts before the guests that use their volumes.
    await driver.storage?.autostart();
    await autostart(driver);
  }
  return driver;
}

/**
 * Whether this process is the first since the host booted to open this URI's driver: then it
 * starts the autostart domains, as libvirtd's drivers do once per boot (libvirt keeps an
 * `autostarted` file in its runtime directory). The claim is a file named after the kernel's boot
 * ID, created exclusively, so two processes opening at once never both start the guests.
 */
function claimAutostart(runRoot: string): boolean {
  let bootID: string;
  try {
    bootID = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return false; // no boot identity: never risk starting guests twice
  }
  mkdirSync(runRoot, { recursive: true, mode: 0o700 });
  const marker = `autostarted-${bootID}`;
  try {
    writeFileSync(join(runRoot, marker), '', { flag: 'wx', mode: 0o600 });
  } catch {
    return false; // claimed already this boot
  }
  // Markers of earlier boots (a runtime directory that is not a tmpfs) go.
  for (const f of readdirSync(runRoot)) {
    if (f.startsWith('autostarted-') && f !== marker) rmSync(join(runRoot, f), { force: true });
  }
  return true;
}

/**
 * Starts every inactive persistent domain marked autostart. A domain that fails to start is
 * reported (as libvirtd logs "Failed to autostart VM") and the others still start.
 */
async function autostart(driver: QemuDriver): Promise<void> {
  const F = ConnectListAllDomainsFlags;
  for (const dom of await driver.listAllDomains(F.INACTIVE | F.PERSISTENT | F.AUTOSTART)) {
    try {
      await driver.domainCreate(dom, 0);
    } catch (err) {
      process.emitWarning(`Failed to autostart VM '${dom.name}': ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** `/session` or `/system` for qemu:///session and qemu:///system; else null. */
function qemuPath(uri: URL): '/session' | '/system' | null {
  if (uri.host !== '') return null;
  return uri.pathname === '/session' || uri.pathname === '/system' ? uri.pathname : null;
}

/**
 * connect()'s entry to the QEMU driver. Shared (tsvirtd), one driver holds the one monitor
 * connection QEMU allows per guest, for every client.
 */
export const qemuOpener: DriverOpener = {
  shareable: true,
  canonical(uri) {
    const path = qemuPath(uri);
    return path === null ? null : `qemu://${path}`;
  },
  async open(uri, resolved, options) {
    const path = qemuPath(uri);
    if (path === null) throw VirError.report(ErrorDomain.NONE, ErrorNumber.NO_CONNECT, resolved);
    return openQemuDriver(path, `qemu://${path}`, { nonBlocking: options.shared });
  },
};
