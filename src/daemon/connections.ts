/**
 * Opening a client's hypervisor connection. Every URI goes through tsvirt's public `connect()`,
 * except `test:///default`: libvirtd's test driver keeps one shared default state while at least
 * one connection to it is open, so that separate virsh runs see each other's changes. tsvirtd
 * does the same — one in-memory test driver shared by the clients that name it, dropped when the
 * last of them closes — so that scripts behave as they do against libvirtd.
 */
import { Connection, connect } from '../index.js';
import type { HypervisorDriver } from '../api/driver.js';

interface Shared {
  driver: HypervisorDriver;
  refs: number;
}

export class ConnectionFactory {
  private sharedDefault: Shared | null = null;

  /** Opens `uri` for one client; read-only when the socket or the client's flags say so. */
  async open(uri: string, readonly: boolean): Promise<Connection> {
    if (isTestDefault(uri)) return this.openSharedDefault(readonly);
    return connect(uri, { readonly });
  }

  private async openSharedDefault(readonly: boolean): Promise<Connection> {
    if (this.sharedDefault === null) {
      const { openTestDriver } = await import('../drivers/test/driver.js');
      // A second client may have raced us here while the module loaded.
      if (this.sharedDefault === null) this.sharedDefault = { driver: openTestDriver('/default', 'test:///default'), refs: 0 };
    }
    const shared = this.sharedDefault;
    shared.refs++;
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      shared.refs--;
      if (shared.refs === 0 && this.sharedDefault === shared) {
        this.sharedDefault = null;
        await shared.driver.close();
      }
    };
    // The client's Connection closes this view, not the shared driver.
    const view = new Proxy(shared.driver, {
      get(target, prop) {
        if (prop === 'close') return release;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    return new Connection(view, { readonly });
  }
}

function isTestDefault(uri: string): boolean {
  try {
    const u = new URL(uri);
    return u.protocol === 'test:' && u.host === '' && u.pathname === '/default' && u.search === '';
  } catch {
    return false;
  }
}
