/**
 * The QEMU driver: `qemu:///session` and `qemu:///system` on the metadata driver, with real
 * qemu-system-x86_64 guests (QemuGuests). Opening reconciles: guests that still run are
 * reattached, those that ended while nobody watched are processed as stopped (R5, R12).
 */
import { join } from 'node:path';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import type { DriverOpener } from '../../core/driver.js';
import { Store } from '../../store/store.js';
import { MetadataDriver } from '../metadata/driver.js';
import { QemuGuests } from './backend.js';
import { qemuLocations, qemuVersion } from './session.js';

/**
 * Opens the QEMU driver for `qemu:///session` or `qemu:///system`. `nonBlocking` (tsvirtd's
 * shared driver): another process's write lock on the store is waited for without blocking the
 * event loop (StoreOptions).
 */
export async function openQemuDriver(path: '/session' | '/system', uri: string, opts: { nonBlocking?: boolean } = {}): Promise<MetadataDriver> {
  const locations = qemuLocations(path);
  const store = new Store({ path: join(locations.root, 'qemu.db'), nonBlocking: opts.nonBlocking });
  const backend = new QemuGuests(locations);
  const driver = new MetadataDriver({
    uri,
    store,
    backend,
    // Asked of the binary only when a caller wants it (it runs `qemu-system-x86_64 --version`).
    version: () => qemuVersion('qemu-system-x86_64'),
  });
  try {
    await driver.reconcile();
  } catch (err) {
    await driver.close();
    throw err;
  }
  return driver;
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
