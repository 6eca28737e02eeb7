/**
 * The network driver on tsvirt's store: network records (definition, live definition, active,
 * autostart, runtime) in the `networks` table of the hypervisor driver's store, with libvirt's
 * rules for define / create / destroy / undefine. What happens on the host when a network starts
 * or stops is a {@link NetworkBackend}'s: simulated for the test driver, a bridge with dnsmasq and
 * nftables for qemu (host.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { validateAgainstSchema } from '../../core/schema.js';
import {
  ConnectListAllNetworksFlags as L,
  ErrorDomain,
  ErrorNumber,
  NetworkCreateFlags,
  NetworkDefineFlags,
  NetworkXMLFlags,
} from '../../core/enums.generated.js';
import { VirError, noSupport, operationFailed, operationInvalid } from '../../core/errors.js';
import type { NetworkDHCPLease, NetworkDriver, NetworkRef } from '../../core/network-driver.js';
import { formatNetworkXML, parseNetworkXML, type NetworkDef } from '../../conf/network.js';
import { checkFlags } from '../../rules/flags.js';
import type { NetworkRecord, Store } from '../../store/store.js';

const N = ErrorDomain.NETWORK;

/** What starts and stops a network on the host. */
export interface NetworkBackend {
  /** Prefix of the function names in flag errors (`test`, `network`), as libvirt's drivers. */
  readonly functionPrefix: string;
  /** Error domain of flag errors (VIR_FROM_TEST for the test driver, VIR_FROM_NETWORK else). */
  readonly errorDomain: ErrorDomain;
  /**
   * libvirt's network driver (bridge_driver.c) wording and rules where its test driver differs:
   * a handle's network not found names the network too, and an active network may be
   * undefined (it runs on as transient; the test driver refuses: "is still running").
   */
  readonly networkDriverRules?: boolean;
  /** Transient networks may be marked autostart (libvirt's test driver allows it; its network driver does not). */
  readonly autostartTransient?: boolean;
  /** A running NAT network's XML shows its source port range (libvirt's network driver). */
  readonly natPorts?: boolean;
  /**
   * Fills in what a new definition lacks and the driver assigns (bridge name, MAC), refusing
   * what clashes with `others` (bridge name in use). No I/O beyond reading the host's links.
   */
  prepare(def: NetworkDef, others: readonly NetworkDef[]): void;
  /**
   * Brings the network up; returns its runtime record (JSON). Effects on failure: nothing of it
   * is left on the host. `active` are the other running networks.
   */
  start(def: NetworkDef, active: readonly NetworkDef[]): Promise<string>;
  /** Takes it down; whatever of it is already gone is skipped. */
  stop(def: NetworkDef, runtime: string | null): Promise<void>;
  /**
   * Checks a running network (after a daemon restart, or now and then): restarts what died
   * (dnsmasq) and returns the new runtime record, or null when the network is gone for good.
   */
  refresh(def: NetworkDef, runtime: string | null): Promise<string | null>;
  /** The network's DHCP leases; undefined when the backend has none (VIR_ERR_NO_SUPPORT). */
  leases?(def: NetworkDef, runtime: string | null): Promise<NetworkDHCPLease[]>;
  /** Removes what an undefined network leaves (its lease file). */
  forget?(def: NetworkDef): void;
}

/** Options of {@link StoreNetworkDriver}. */
export interface StoreNetworkDriverOptions {
  store: Store;
  backend: NetworkBackend;
  /**
   * How often running networks are checked (dnsmasq restarted when it died), in ms; none when
   * absent. The timer never keeps the process alive.
   */
  watchMs?: number;
}

const refOf = (rec: NetworkRecord | NetworkDef): NetworkRef => ({ name: rec.name, uuid: rec.uuid });

/** The key of the networks' job in the store's job table (not a domain UUID). */
const NETWORK_JOB = 'networks';
/** How long a network operation waits for another process's (libvirt's job wait is 30 s). */
const NETWORK_JOB_WAIT_MS = 30_000;

/**
 * Networks on the store. Operations are serialized within the process (one queue): starting a
 * network must see the others' bridges and subnets as they are.
 */
export class StoreNetworkDriver implements NetworkDriver {
  private readonly store: Store;
  private readonly backend: NetworkBackend;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: StoreNetworkDriverOptions) {
    this.store = options.store;
    this.backend = options.backend;
    if (options.watchMs !== undefined) {
      this.timer = setInterval(() => void this.refreshAll().catch(() => undefined), options.watchMs);
      this.timer.unref();
    }
  }

  /** Checks every running network once (see {@link NetworkBackend.refresh}). */
  private refreshAll(): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return;
      for (const rec of this.store.read(() => this.store.allNetworks())) {
        if (!rec.active) continue;
        let runtime: string | null;
        try {
          runtime = await this.backend.refresh(this.defOf(rec), rec.runtime);
        } catch (err) {
          // One network that cannot be brought back (dnsmasq refusing to start) must not keep
          // the driver from opening: it is reported, and checked again next time.
          process.emitWarning(`network '${rec.name}': ${err instanceof Error ? err.message : String(err)}`);
          continue;
        }
        if (this.closed) return;
        if (runtime === null) await this.markInactive(rec);
        else if (runtime !== rec.runtime) await this.put({ ...rec, runtime });
      }
    });
  }

  /**
   * Runs `fn` after every operation queued before it, and, for the host's networks, while holding
   * the networks' job in the store: another process on the same state (tsvirtd and a library
   * user, two CLIs) waits for it, then reads what this one recorded — so of two starts of one
   * network, one brings it up and the other finds it active; never two dnsmasq on one bridge.
   */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const locked = this.backend.networkDriverRules === true ? () => this.withStoreJob(fn) : fn;
    const run = this.queue.then(locked, locked);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * `fn` under the store's job for networks (the domains' job table, which releases a job whose
   * owner process died): polled until free, for at most {@link NETWORK_JOB_WAIT_MS}.
   *
   * Errors: VIR_ERR_OPERATION_TIMEOUT when another process holds it that long.
   */
  private async withStoreJob<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + NETWORK_JOB_WAIT_MS;
    let token: string | undefined;
    for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
      await this.store.writable();
      const got = this.store.tryAcquireJob(NETWORK_JOB, 'network');
      if ('token' in got) {
        token = got.token;
        break;
      }
      if (Date.now() > deadline) {
        throw VirError.report(this.backend.errorDomain, ErrorNumber.OPERATION_TIMEOUT, 'cannot acquire state change lock (held by another process\'s network operation)');
      }
      await sleep(pause);
    }
    try {
      return await fn();
    } finally {
      await this.store.writable();
      this.store.releaseJob(NETWORK_JOB, token);
    }
  }

  private fn(name: string): string {
    return `${this.backend.functionPrefix}${name}`;
  }

  private resolve(net: NetworkRef): NetworkRecord {
    const rec = this.store.read(() => this.store.networkByUUID(net.uuid));
    if (rec === undefined) {
      const detail = this.backend.networkDriverRules === true ? `no network with matching uuid '${net.uuid}' (${net.name})` : `no network with matching uuid '${net.uuid}'`;
      throw VirError.report(this.backend.errorDomain, ErrorNumber.NO_NETWORK, detail);
    }
    return rec;
  }

  private defOf(rec: NetworkRecord, inactive = false): NetworkDef {
    const xml = (inactive ? rec.configXml ?? rec.liveXml : rec.liveXml ?? rec.configXml) ?? '';
    return parseNetworkXML(xml, { stored: true });
  }

  /**
   * A store write from this driver. tsvirtd's store does not block on another process's write
   * lock: wait for it first (a tsvirt CLI may be writing the same store at that moment).
   */
  private async mutate(fn: () => void): Promise<void> {
    await this.store.writable();
    this.store.mutate(fn);
  }

  private async put(rec: NetworkRecord): Promise<void> {
    await this.mutate(() => this.store.putNetwork(rec));
  }

  /**
   * Brings up every network that was active and checks it is still there: a network stays up
   * across daemon restarts (as libvirt's), its dnsmasq restarted when it died, its record
   * dropped to inactive when its bridge is gone. Then starts the autostart networks when
   * `autostart` (the first open since boot).
   */
  async reconcile(autostart: boolean): Promise<void> {
    await this.refreshAll();
    if (!autostart) return;
    for (const rec of this.store.read(() => this.store.allNetworks())) {
      if (rec.active || !rec.autostart) continue;
      try {
        await this.networkCreate(refOf(rec));
      } catch (err) {
        process.emitWarning(`Failed to autostart network '${rec.name}': ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  /** A network found stopped: transient ones vanish, persistent ones keep their definition. */
  private async markInactive(rec: NetworkRecord): Promise<void> {
    await this.mutate(() => {
      if (rec.persistent) this.store.putNetwork({ ...rec, active: false, liveXml: null, runtime: null });
      else this.store.deleteNetwork(rec.uuid);
    });
  }

  async listAllNetworks(flags: number): Promise<NetworkRef[]> {
    checkFlags(flags, 0x3f, this.fn('ConnectListAllNetworks'), this.backend.errorDomain);
    const pick = (on: number, off: number, value: boolean): boolean => {
      if ((flags & (on | off)) === 0 || (flags & (on | off)) === (on | off)) return true;
      return (flags & on) !== 0 ? value : !value;
    };
    return this.store
      .read(() => this.store.allNetworks())
      .filter(
        (r) =>
          pick(L.ACTIVE, L.INACTIVE, r.active) &&
          pick(L.PERSISTENT, L.TRANSIENT, r.persistent) &&
          pick(L.AUTOSTART, L.NO_AUTOSTART, r.autostart),
      )
      .map(refOf);
  }

  async numOfNetworks(): Promise<number> {
    return this.store.read(() => this.store.allNetworks()).filter((r) => r.active).length;
  }

  async numOfDefinedNetworks(): Promise<number> {
    return this.store.read(() => this.store.allNetworks()).filter((r) => !r.active).length;
  }

  async networkLookupByName(name: string): Promise<NetworkRef> {
    const rec = this.store.read(() => this.store.networkByName(name));
    if (rec === undefined) throw VirError.report(this.backend.errorDomain, ErrorNumber.NO_NETWORK, `no network with matching name '${name}'`);
    return refOf(rec);
  }

  async networkLookupByUUID(uuid: string): Promise<NetworkRef> {
    const rec = this.store.read(() => this.store.networkByUUID(uuid));
    if (rec === undefined) throw VirError.report(this.backend.errorDomain, ErrorNumber.NO_NETWORK, `no network with matching uuid '${uuid}'`);
    return refOf(rec);
  }

  /**
   * libvirt's virNetworkObjAssignDef checks: the name with another UUID, or the UUID with
   * another name, is VIR_ERR_OPERATION_FAILED; returns the record of the same network, if any.
   */
  private existing(def: NetworkDef): NetworkRecord | undefined {
    const byUUID = this.store.read(() => this.store.networkByUUID(def.uuid));
    if (byUUID !== undefined && byUUID.name !== def.name) {
      throw operationFailed(N, `network '${byUUID.name}' is already defined with uuid ${def.uuid}`);
    }
    const byName = this.store.read(() => this.store.networkByName(def.name));
    if (byName !== undefined && byName.uuid !== def.uuid) {
      throw operationFailed(N, `network '${def.name}' already exists with uuid ${byName.uuid}`);
    }
    return byUUID;
  }

  private others(uuid: string): NetworkDef[] {
    return this.store
      .read(() => this.store.allNetworks())
      .filter((r) => r.uuid !== uuid)
      .flatMap((r) => {
        const defs = [this.defOf(r)];
        if (r.active && r.configXml !== null && r.liveXml !== null) defs.push(this.defOf(r, true));
        return defs;
      });
  }

  async networkDefineXML(xml: string, flags: number): Promise<NetworkRef> {
    checkFlags(flags, NetworkDefineFlags.VALIDATE, this.fn('NetworkDefineXMLFlags'), this.backend.errorDomain);
    if ((flags & NetworkDefineFlags.VALIDATE) !== 0) await validateAgainstSchema('network', xml);
    return this.serial(async () => {
      const def = parseNetworkXML(xml);
      const old = this.existing(def);
      if (old !== undefined) {
        // A redefinition keeps what the driver assigned unless the new XML says otherwise.
        const prev = this.defOf(old, true);
        if (def.bridge?.name === undefined && prev.bridge?.name !== undefined) {
          def.bridge = { stp: true, delay: 0, ...def.bridge, name: prev.bridge.name };
        }
        def.mac ??= prev.mac;
      }
      this.backend.prepare(def, this.others(def.uuid));
      const configXml = formatNetworkXML(def);
      await this.put(
        old === undefined
          ? { uuid: def.uuid, name: def.name, persistent: true, configXml, liveXml: null, active: false, autostart: false, runtime: null }
          : { ...old, persistent: true, configXml },
      );
      return refOf(def);
    });
  }

  async networkCreateXML(xml: string, flags: number): Promise<NetworkRef> {
    checkFlags(flags, NetworkCreateFlags.VALIDATE, this.fn('NetworkCreateXMLFlags'), this.backend.errorDomain);
    if ((flags & NetworkCreateFlags.VALIDATE) !== 0) await validateAgainstSchema('network', xml);
    return this.serial(async () => {
      const def = parseNetworkXML(xml);
      const old = this.existing(def);
      if (old !== undefined) {
        if (old.active) throw operationInvalid(N, `network is already active as '${old.name}'`);
        // As libvirt: the defined, inactive network of that name and UUID runs with this
        // definition, its persistent one kept for the next start.
        const prev = this.defOf(old, true);
        if (def.bridge?.name === undefined && prev.bridge?.name !== undefined) {
          def.bridge = { stp: true, delay: 0, ...def.bridge, name: prev.bridge.name };
        }
        def.mac ??= prev.mac;
        this.backend.prepare(def, this.others(def.uuid));
        await this.startRecord(old, def);
        return refOf(def);
      }
      this.backend.prepare(def, this.others(def.uuid));
      await this.startRecord({ uuid: def.uuid, name: def.name, persistent: false, configXml: null, liveXml: null, active: false, autostart: false, runtime: null }, def);
      return refOf(def);
    });
  }

  /** Starts `def` for `rec` and records it active; on failure nothing is recorded or left up. */
  private async startRecord(rec: NetworkRecord, def: NetworkDef): Promise<void> {
    const active = this.store
      .read(() => this.store.allNetworks())
      .filter((r) => r.active && r.uuid !== rec.uuid)
      .map((r) => this.defOf(r));
    const runtime = await this.backend.start(def, active);
    try {
      await this.put({ ...rec, active: true, liveXml: formatNetworkXML(def), runtime });
    } catch (err) {
      await this.backend.stop(def, runtime).catch(() => undefined);
      throw err;
    }
  }

  async networkCreate(net: NetworkRef): Promise<void> {
    await this.serial(async () => {
      const rec = this.resolve(net);
      if (rec.active) throw operationInvalid(this.backend.errorDomain, `Network '${rec.name}' is already running`);
      await this.startRecord(rec, this.defOf(rec, true));
    });
  }

  async networkDestroy(net: NetworkRef): Promise<void> {
    await this.serial(async () => {
      const rec = this.resolve(net);
      if (!rec.active) {
        // libvirt's test driver lets an inactive network be destroyed again; its network driver does not.
        if (this.backend.networkDriverRules !== true) return;
        throw operationInvalid(this.backend.errorDomain, `network '${rec.name}' is not active`);
      }
      await this.backend.stop(this.defOf(rec), rec.runtime);
      await this.markInactive(rec);
    });
  }

  async networkUndefine(net: NetworkRef): Promise<void> {
    await this.serial(async () => {
      const rec = this.resolve(net);
      if (rec.active && this.backend.networkDriverRules !== true) {
        throw operationInvalid(this.backend.errorDomain, `Network '${rec.name}' is still running`);
      }
      if (!rec.persistent) throw operationInvalid(N, "can't undefine transient network");
      const def = this.defOf(rec, true);
      await this.mutate(() => {
        // An active network runs on as a transient one, as libvirt's.
        if (rec.active) this.store.putNetwork({ ...rec, persistent: false, configXml: null, autostart: false });
        else this.store.deleteNetwork(rec.uuid);
      });
      if (!rec.active) this.backend.forget?.(def);
    });
  }

  async networkGetXMLDesc(net: NetworkRef, flags: number): Promise<string> {
    checkFlags(flags, NetworkXMLFlags.INACTIVE, this.fn('NetworkGetXMLDesc'), this.backend.errorDomain);
    const rec = this.resolve(net);
    const inactive = (flags & NetworkXMLFlags.INACTIVE) !== 0;
    const def = this.defOf(rec, inactive);
    return formatNetworkXML(def, rec.active && !(inactive && rec.configXml !== null) ? { connections: 0, natPorts: this.backend.natPorts } : undefined);
  }

  async networkGetAutostart(net: NetworkRef): Promise<boolean> {
    return this.resolve(net).autostart;
  }

  async networkSetAutostart(net: NetworkRef, autostart: boolean): Promise<void> {
    await this.serial(async () => {
      const rec = this.resolve(net);
      if (!rec.persistent && this.backend.autostartTransient !== true) {
        throw operationInvalid(N, 'cannot set autostart for transient network');
      }
      if (rec.autostart !== autostart) await this.put({ ...rec, autostart });
    });
  }

  async networkGetBridgeName(net: NetworkRef): Promise<string> {
    const rec = this.resolve(net);
    const name = this.defOf(rec).bridge?.name;
    if (name === undefined) throw VirError.report(N, ErrorNumber.INTERNAL_ERROR, `network '${rec.name}' does not have a bridge name.`);
    return name;
  }

  async networkIsActive(net: NetworkRef): Promise<boolean> {
    return this.resolve(net).active;
  }

  async networkIsPersistent(net: NetworkRef): Promise<boolean> {
    return this.resolve(net).persistent;
  }

  async networkGetDHCPLeases(net: NetworkRef, mac: string | null, flags: number): Promise<NetworkDHCPLease[]> {
    const leases = this.backend.leases;
    if (leases === undefined) throw noSupport(N, 'virNetworkGetDHCPLeases');
    checkFlags(flags, 0, this.fn('NetworkGetDHCPLeases'), this.backend.errorDomain);
    const rec = this.resolve(net);
    if (!rec.active) return [];
    const all = await leases.call(this.backend, this.defOf(rec), rec.runtime);
    return mac === null ? all : all.filter((l) => l.mac === mac);
  }

  async leasesForMac(mac: string): Promise<NetworkDHCPLease[]> {
    const leases = this.backend.leases;
    if (leases === undefined) return [];
    const out: NetworkDHCPLease[] = [];
    for (const rec of this.store.read(() => this.store.allNetworks())) {
      if (!rec.active) continue;
      for (const l of await leases.call(this.backend, this.defOf(rec), rec.runtime)) if (l.mac === mac) out.push(l);
    }
    return out;
  }

  async bridgeForGuest(name: string): Promise<string> {
    const rec = this.store.read(() => this.store.networkByName(name));
    if (rec === undefined) throw VirError.report(N, ErrorNumber.NO_NETWORK, `no network with matching name '${name}'`);
    if (!rec.active) throw operationInvalid(N, `network '${name}' is not active`);
    const bridge = this.defOf(rec).bridge?.name;
    if (bridge === undefined) throw VirError.report(N, ErrorNumber.INTERNAL_ERROR, `network '${name}' does not have a bridge name.`);
    return bridge;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.queue.catch(() => undefined);
  }
}

/** The test driver's networks: nothing happens on the host; no DHCP leases (as libvirt's). */
export const SIMULATED_NETWORKS: NetworkBackend = {
  functionPrefix: 'test',
  errorDomain: ErrorDomain.TEST,
  autostartTransient: true,
  prepare() {},
  async start() {
    return '{}';
  },
  async stop() {},
  async refresh(_def, runtime) {
    return runtime;
  },
};

/** The UUID of libvirt's preset `default` network (its test driver's, and Debian's default.xml has none). */
export const DEFAULT_NETWORK_UUID = 'dd8fe884-6c02-601e-7551-cca97df1c5df';

/** libvirt's `default` network: NAT on virbr0, 192.168.122.0/24, DHCP .2–.254. */
export const DEFAULT_NETWORK_XML = `<network>
  <name>default</name>
  <uuid>${DEFAULT_NETWORK_UUID}</uuid>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
`;

/**
 * Defines the `default` network in `store` once in the store's life (a user who undefines it
 * keeps it undefined): active for the test driver, as libvirt's test driver presets it; defined
 * and inactive for qemu, as Debian's libvirt-daemon-config-network installs it (autostart is
 * left to the user: it needs root).
 */
export function presetDefaultNetwork(store: Store, active: boolean): void {
  store.mutate(() => {
    if (!store.claimOnce('default-network')) return;
    if (store.networkByName('default') !== undefined || store.networkByUUID(DEFAULT_NETWORK_UUID) !== undefined) return;
    store.putNetwork({
      uuid: DEFAULT_NETWORK_UUID,
      name: 'default',
      persistent: true,
      configXml: DEFAULT_NETWORK_XML,
      liveXml: active ? DEFAULT_NETWORK_XML : null,
      active,
      autostart: false,
      runtime: active ? '{}' : null,
    });
  });
}
