/**
 * Which hypervisor URIs a tsvirtd serves. libvirtd serves the hypervisors it has drivers loaded
 * for, and nothing else: its system daemon qemu:///system, a user's session daemon
 * qemu:///session; ESX and the remote driver are client-side drivers that a daemon never runs.
 * tsvirtd's drivers are all in one program, so the list is configuration (`--uri`), checked
 * before connect() loads a driver: an URI outside it is refused as libvirtd refuses an URI it has
 * no driver for, and nothing is opened, dialled, run or created for it. Otherwise any client of
 * the read-only socket could make the daemon log in to a vSphere host, run VBoxManage, probe
 * unix socket paths, or create a store.
 */
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { VirError } from '../core/errors.js';

/**
 * The URIs a daemon of user `uid` serves by default: qemu:///system for root, qemu:///session for
 * anyone else (as libvirt's system and session daemons), and the test driver's test:///default
 * and test:///session. Never esx, vpx or vbox (the operator adds them with --uri) nor a remote URI.
 */
export function defaultServedURIs(uid: number = process.geteuid?.() ?? 0): string[] {
  return [uid === 0 ? 'qemu:///system' : 'qemu:///session', 'test:///default', 'test:///session'];
}

interface Entry {
  /** URL.protocol: the scheme with its colon, lower case. */
  scheme: string;
  /** Host (with port) and path, or null for every URI of the scheme. */
  host: string | null;
  path: string | null;
}

/** A served-URI list: exact URIs (scheme, host and path; the query is left to the driver) or whole schemes (`esx:`). */
export class UriPolicy {
  private readonly entries: readonly Entry[];

  /**
   * Builds the policy from `uris`, each `SCHEME://HOST/PATH` (e.g. `qemu:///session`: that
   * scheme, host and path, any query) or `SCHEME:` (e.g. `esx:`: every URI of that scheme).
   * Throws an Error naming the entry when one is no URI or is a remote one (`+unix`, `+tcp`,
   * …): tsvirtd never proxies to another daemon, as libvirtd never runs its remote driver.
   */
  constructor(private readonly given: readonly string[]) {
    const uris = given;
    this.entries = uris.map((u) => {
      const whole = /^([a-z][a-z0-9+.-]*):$/i.exec(u);
      const scheme = whole !== null ? `${whole[1]!.toLowerCase()}:` : parse(u)?.protocol;
      if (scheme === undefined) throw new Error(`--uri ${u}: not a URI`);
      if (scheme.includes('+')) throw new Error(`--uri ${u}: tsvirtd never serves a remote URI (it does not proxy to another daemon)`);
      if (whole !== null) return { scheme, host: null, path: null };
      const url = parse(u)!;
      return { scheme, host: url.host.toLowerCase(), path: normalPath(url.pathname) };
    });
  }

  /** The exact URIs served (not whole schemes), as given: the web console's list of connections. */
  exact(): string[] {
    return this.given.filter((_u, i) => this.entries[i]!.host !== null);
  }

  /** The served URIs as given, for the log. */
  describe(): string {
    return this.given.join(', ');
  }

  /** Whether `uri` is one the daemon serves. Pure; never throws. */
  serves(uri: string): boolean {
    const url = parse(uri);
    if (url === null || url.protocol.includes('+')) return false;
    const host = url.host.toLowerCase();
    const path = normalPath(url.pathname);
    return this.entries.some((e) => e.scheme === url.protocol && (e.host === null || (e.host === host && e.path === path)));
  }

  /**
   * Refuses an URI the daemon does not serve, with libvirtd's error for an URI none of its
   * drivers accepts: VIR_ERR_NO_CONNECT, "no connection driver available for URI".
   */
  check(uri: string): void {
    if (!this.serves(uri)) throw VirError.report(ErrorDomain.NONE, ErrorNumber.NO_CONNECT, uri);
  }
}

function parse(uri: string): URL | null {
  try {
    return new URL(uri);
  } catch {
    return null;
  }
}

/** `esx://h` and `esx://h/` name the same thing. */
function normalPath(p: string): string {
  return p === '' ? '/' : p;
}
