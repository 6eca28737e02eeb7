/**
 * DriverPool: open drivers shared by the connections that name the same hypervisor, as libvirtd
 * runs one driver per hypervisor for all its clients. tsvirtd passes one pool to connect() for
 * every client, so that a QEMU guest has one monitor connection (QEMU serves one client per
 * monitor), one store connection serves every client, and events reach every client from one
 * source, in one order.
 */
import type { HypervisorDriver } from '../core/driver.js';

interface Entry {
  /** The driver, once opened; every acquirer of the key awaits the same open. */
  readonly driver: Promise<HypervisorDriver>;
  /** Connections holding it (and acquirers still waiting for the open). */
  refs: number;
}

/** @internal One connection's hold on a pooled driver. */
export interface DriverLease {
  driver: HypervisorDriver;
  /** Gives the hold back; the last one closes the driver. Safe to call twice. */
  release: () => Promise<void>;
}

/**
 * Drivers kept open while at least one connection uses them, keyed by canonical URI. Pass the
 * same pool as connect()'s `pool` option to share: the second `connect()` of a URI gets the
 * driver the first opened; the driver closes when the last of those connections closes, and the
 * next `connect()` opens a fresh one (so test:///default is shared while a connection to it is
 * open and fresh after, as in libvirtd).
 */
export class DriverPool {
  private readonly entries = new Map<string, Entry>();
  /**
   * Drivers being closed, by key. A new open of the key waits for the close: the old driver must
   * let go of what the new one takes (a guest's monitor, the store's lock).
   */
  private readonly closing = new Map<string, Promise<void>>();

  /** The canonical URIs with an open (or opening) driver, each with its number of holders. */
  usage(): Map<string, number> {
    return new Map([...this.entries].map(([key, e]) => [key, e.refs]));
  }

  /**
   * @internal connect()'s side: the driver pooled under `key`, opened with `open` when there is
   * none. On failure of the open, every waiter gets its error and the key stays free.
   */
  async acquire(key: string, open: () => Promise<HypervisorDriver>): Promise<DriverLease> {
    for (;;) {
      const closing = this.closing.get(key);
      if (closing === undefined) break;
      await closing;
    }
    let entry = this.entries.get(key);
    if (entry === undefined) {
      const created: Entry = { driver: open(), refs: 0 };
      created.driver.catch(() => {
        if (this.entries.get(key) === created) this.entries.delete(key);
      });
      this.entries.set(key, created);
      entry = created;
    }
    const held = entry;
    held.refs++;
    let driver: HypervisorDriver;
    try {
      driver = await held.driver;
    } catch (err) {
      held.refs--;
      throw err;
    }
    let released = false;
    return {
      driver,
      release: async () => {
        if (released) return;
        released = true;
        await this.release(key, held, driver);
      },
    };
  }

  private async release(key: string, entry: Entry, driver: HypervisorDriver): Promise<void> {
    entry.refs--;
    if (entry.refs > 0 || this.entries.get(key) !== entry) return;
    this.entries.delete(key);
    const closed = driver.close();
    const settled: Promise<void> = closed
      .catch(() => undefined)
      .then(() => {
        if (this.closing.get(key) === settled) this.closing.delete(key);
      });
    this.closing.set(key, settled);
    // The last holder hears of a failed close, as a Connection's close() reports its driver's.
    await closed;
  }
}
