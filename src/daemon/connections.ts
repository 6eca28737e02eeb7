/**
 * Opening a client's hypervisor connection: every URI goes through tsvirt's public `connect()`,
 * with one driver pool for the whole daemon. As libvirtd runs one driver per hypervisor for all
 * its clients, tsvirtd opens one driver per canonical URI, shared by every client that names it
 * and closed when the last of them closes:
 *
 * - qemu:///session, qemu:///system: one monitor connection per guest, however many clients act
 *   on it or listen for its events (QEMU serves one client per monitor).
 * - test:///default: one shared in-memory state while at least one connection to it is open, so
 *   that separate virsh runs see each other's changes, as against libvirtd; fresh after.
 * - test:///session: one store connection whose commits are grouped (Store's `groupCommit`): the
 *   mutations of the calls that arrive together share one COMMIT, one fsync. Each client awaits
 *   the driver's `durable()` before it sends a reply (client.ts), so every call still returns
 *   only once its own change is on disk.
 *
 * Each client still has its own Connection: its own read-only flag, its own event registrations
 * (removed when it closes), and its own close.
 */
import { DriverPool, connect, type Connection } from '../index.js';

/** A client's open connection, and how to wait until what it changed is durable. */
export interface OpenedConnection {
  connection: Connection;
  /** Resolves once every change made so far through this driver is durable. */
  durable: () => Promise<void>;
}

const alreadyDurable = (): Promise<void> => Promise.resolve();

export class ConnectionFactory {
  /** The daemon's drivers, one per canonical URI. */
  readonly pool = new DriverPool();

  /**
   * Opens `uri` for one client; read-only when the socket or the client's flags say so.
   * Errors: those of connect() (VIR_ERR_NO_CONNECT, the driver's open errors).
   */
  async open(uri: string, readonly: boolean): Promise<OpenedConnection> {
    const connection = await connect(uri, { readonly, pool: this.pool });
    // Held here: durable() must still answer for a call that closed the connection.
    const driver = connection.driverFor('virConnectOpen');
    const durable = driver.durable === undefined ? alreadyDurable : driver.durable.bind(driver);
    return { connection, durable };
  }
}
