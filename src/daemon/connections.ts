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
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DriverPool, connect, type Connection } from '../index.js';
import { qemuLocations } from '../drivers/qemu/session.js';
import { UriPolicy, defaultServedURIs } from './uris.js';

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
   * The daemon's own hold on each qemu driver while guests of it run (see runningGuests): the
   * driver stays open, watching its guests, when the last client leaves.
   */
  private readonly guestHolds = new Map<string, Connection>();

  /** `policy`: the URIs the daemon serves (default: {@link defaultServedURIs} of the daemon's user). */
  constructor(readonly policy: UriPolicy = new UriPolicy(defaultServedURIs())) {}

  /**
   * Opens `uri` for one client; read-only when the socket or the client's flags say so.
   * Errors: VIR_ERR_NO_CONNECT "no connection driver available for URI" when the daemon does not
   * serve `uri` (checked first: no driver is loaded, nothing dialled or created); else those of
   * connect() (VIR_ERR_NO_CONNECT, the driver's open errors).
   */
  async open(uri: string, readonly: boolean): Promise<OpenedConnection> {
    this.policy.check(uri);
    const connection = await connect(uri, { readonly, pool: this.pool });
    // Held here: durable() must still answer for a call that closed the connection.
    const driver = connection.driverFor('virConnectOpen');
    const durable = driver.durable === undefined ? alreadyDurable : driver.durable.bind(driver);
    return { connection, durable };
  }

  /**
   * How many guests the served qemu URIs have running, for the idle timer: the daemon must not
   * exit while it manages a running guest (libvirtd's session daemon holds a shutdown inhibitor
   * while domains run). A qemu URI whose store does not exist has none (nothing is created to
   * find out). While an URI has running guests the daemon keeps its own read-only connection to
   * it, so its driver stays open and goes on watching them (a guest that powers off is processed
   * at once, R5); the hold is dropped once none runs. Errors of a driver are logged by the
   * caller and count as no guest.
   */
  async runningGuests(): Promise<number> {
    let total = 0;
    for (const uri of ['qemu:///session', 'qemu:///system'] as const) {
      if (!this.policy.serves(uri)) continue;
      let held = this.guestHolds.get(uri);
      if (held === undefined) {
        if (!existsSync(join(qemuLocations(uri === 'qemu:///system' ? '/system' : '/session').root, 'qemu.db'))) continue;
        held = await connect(uri, { readonly: true, pool: this.pool });
        this.guestHolds.set(uri, held);
      }
      let n = 0;
      try {
        n = await held.numOfDomains();
      } finally {
        if (n === 0) {
          this.guestHolds.delete(uri);
          await held.close().catch(() => {});
        }
      }
      total += n;
    }
    return total;
  }

  /** Drops the holds of {@link runningGuests} (the daemon is stopping). */
  async releaseGuestHolds(): Promise<void> {
    const held = [...this.guestHolds.values()];
    this.guestHolds.clear();
    await Promise.all(held.map((c) => c.close().catch(() => {})));
  }
}
