/**
 * Opening a client's hypervisor connection. Every URI goes through tsvirt's public `connect()`,
 * except the test driver's two:
 *
 * - `test:///default`: libvirtd's test driver keeps one shared default state while at least one
 *   connection to it is open, so that separate virsh runs see each other's changes. tsvirtd does
 *   the same — one in-memory test driver shared by the clients that name it, dropped when the
 *   last of them closes — so that scripts behave as they do against libvirtd.
 * - `test:///session`: one driver, so one store connection, shared by every client, as libvirtd
 *   runs one driver for all its clients. Its store groups commits (Store's `groupCommit`): the
 *   mutations of the calls that arrive together share one COMMIT, one fsync. Each client awaits
 *   `durable()` before it sends a reply (client.ts), so every call still returns only once its
 *   own change is on disk. One shared store connection also means no page-cache invalidation
 *   between clients, and no store opened per client.
 */
import { Connection, connect } from '../index.js';
import type { HypervisorDriver } from '../core/driver.js';
import type { MetadataDriver } from '../drivers/metadata/driver.js';

interface Shared {
  driver: MetadataDriver;
  refs: number;
}

/** A client's open connection, and how to wait until what it changed is durable. */
export interface OpenedConnection {
  connection: Connection;
  /** Resolves once every change made so far through this driver is durable. */
  durable: () => Promise<void>;
}

const alreadyDurable = (): Promise<void> => Promise.resolve();

export class ConnectionFactory {
  private readonly shared = new Map<'/default' | '/session', Shared>();

  /** Opens `uri` for one client; read-only when the socket or the client's flags say so. */
  async open(uri: string, readonly: boolean): Promise<OpenedConnection> {
    const path = sharedTestPath(uri);
    if (path !== null) return this.openShared(path, readonly);
    return { connection: await connect(uri, { readonly }), durable: alreadyDurable };
  }

  private async openShared(path: '/default' | '/session', readonly: boolean): Promise<OpenedConnection> {
    let shared = this.shared.get(path);
    if (shared === undefined) {
      const { openTestDriver } = await import('../drivers/test/driver.js');
      // A second client may have raced us here while the module loaded.
      shared = this.shared.get(path);
      if (shared === undefined) {
        shared = { driver: openTestDriver(path, `test://${path}`, { groupCommit: path === '/session' }), refs: 0 };
        this.shared.set(path, shared);
      }
    }
    const entry = shared;
    entry.refs++;
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      entry.refs--;
      if (entry.refs === 0 && this.shared.get(path) === entry) {
        this.shared.delete(path);
        await entry.driver.close();
      }
    };
    // The client's Connection closes this view, not the shared driver. Methods are bound once
    // each, not at every call (this is on the path of every procedure).
    const bound = new WeakMap<object, unknown>();
    const view = new Proxy(entry.driver as HypervisorDriver, {
      get(target, prop) {
        if (prop === 'close') return release;
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== 'function') return v;
        let b = bound.get(v);
        if (b === undefined) bound.set(v, (b = (v as (...a: unknown[]) => unknown).bind(target)));
        return b;
      },
    });
    return { connection: new Connection(view, { readonly }), durable: () => entry.driver.durable() };
  }
}

/** `/default` or `/session` for the test driver's plain URIs; null for anything else. */
function sharedTestPath(uri: string): '/default' | '/session' | null {
  try {
    const u = new URL(uri);
    if (u.protocol !== 'test:' || u.host !== '' || u.search !== '') return null;
    return u.pathname === '/default' || u.pathname === '/session' ? u.pathname : null;
  } catch {
    return null;
  }
}
