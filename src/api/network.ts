/**
 * Network: a handle on one virtual network (libvirt's virNetworkPtr), with python-libvirt's
 * method names, and the Connection-side network calls ({@link networkCall}).
 */
import type { Connection } from './connection.js';
import type { NetworkDHCPLease, NetworkDriver, NetworkRef } from '../core/network-driver.js';
import { ErrorDomain } from '../core/enums.generated.js';
import { VirError, noSupport } from '../core/errors.js';
import { parseMAC } from '../conf/values.js';

/**
 * @internal The connection's network driver for `api`: VIR_ERR_NO_SUPPORT (VIR_FROM_NETWORK)
 * when its driver has no networks, VIR_ERR_OPERATION_DENIED for a mutating call on a read-only
 * connection, VIR_ERR_INVALID_CONN once it is closed.
 */
export function networkCall(conn: Connection, api: string, writable: boolean): NetworkDriver {
  const drv = writable ? conn.writableDriver(api, ErrorDomain.NETWORK) : conn.driverFor(api);
  const net = drv.network;
  if (net === undefined) throw noSupport(ErrorDomain.NETWORK, api);
  return net;
}

/**
 * A handle on a virtual network (libvirt's virNetworkPtr): a bridge guests plug into, with DHCP
 * and DNS (dnsmasq) and, for `<forward mode='nat'>`, NAT to the host's networks. Addressed by
 * its UUID; python-libvirt's method names, async. Get handles from {@link Connection}'s network
 * calls.
 *
 * Networks exist on the test driver (simulated, preset `default` as libvirt's) and the qemu
 * driver (real bridges; starting one needs root — without it, VIR_ERR_SYSTEM_ERROR
 * "Unable to create bridge …: Operation not permitted", as libvirt's session daemon); through a
 * daemon, on whatever it serves. Other drivers answer VIR_ERR_NO_SUPPORT. Besides the codes each
 * method lists, every method that reaches the driver can raise VIR_ERR_INVALID_CONN once the
 * connection is closed, VIR_ERR_NO_NETWORK when the network was removed since the lookup, and
 * VIR_ERR_INVALID_ARG for flags the driver does not support, before anything changes.
 * Queries say "Effects: none": they change nothing, whether they succeed or fail.
 */
export class Network {
  /** @internal Use the Connection's network calls to get handles. */
  constructor(
    /** The connection the handle belongs to. */
    readonly connection: Connection,
    /** @internal The identity as of lookup. */
    readonly ref: NetworkRef,
  ) {}

  /** The network's name (virNetworkGetName). Never fails; asks no driver. */
  name(): string {
    return this.ref.name;
  }
  /** The network's UUID, canonical (virNetworkGetUUIDString). Never fails; asks no driver. */
  UUIDString(): string {
    return this.ref.uuid;
  }

  /**
   * Starts a defined, inactive network (virNetworkCreate): on qemu, creates its bridge, gives it
   * its address, starts dnsmasq for DHCP and DNS and loads its nftables rules.
   *
   * Prerequisites: a writable connection; the network is inactive; on qemu, root, a bridge name
   * no host interface has, and a subnet no host interface routes.
   *
   * Effects on success: the network is active. Effects on failure: nothing of it is left on the
   * host (no bridge, dnsmasq or rules) and it stays inactive.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "network is already active".
   * @throws {@link VirError} VIR_ERR_INTERNAL_ERROR "bridge name 'X' already in use." when a host
   * interface has the bridge's name; "Network is already in use by interface X" when the subnet
   * overlaps a route of the host (another network's bridge included); a failing dnsmasq or nft.
   * @throws {@link VirError} VIR_ERR_SYSTEM_ERROR when the bridge cannot be created (not root).
   */
  async create(): Promise<void> {
    await networkCall(this.connection, 'virNetworkCreate', true).networkCreate(this.ref);
  }
  /**
   * Stops an active network (virNetworkDestroy): dnsmasq ends, the nftables rules and the bridge
   * go. A transient network vanishes; a persistent one keeps its definition (and lease file).
   * Guests plugged into it lose their link.
   *
   * Prerequisites: a writable connection; the network is active.
   *
   * Effects on success: inactive (or gone, when transient). Effects on failure: unchanged.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "network 'X' is not active".
   */
  async destroy(): Promise<void> {
    await networkCall(this.connection, 'virNetworkDestroy', true).networkDestroy(this.ref);
  }
  /**
   * Removes the network's persistent definition (virNetworkUndefine). On qemu an active network
   * runs on as a transient one, until destroyed; the test driver refuses to undefine an active
   * network, as libvirt's does.
   *
   * Prerequisites: a writable connection; the network is persistent (test driver: inactive).
   *
   * Effects on success: no definition is stored; an inactive network is gone (with its lease
   * file). Effects on failure: unchanged.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "can't undefine transient network";
   * "Network 'X' is still running" (test driver).
   */
  async undefine(): Promise<void> {
    await networkCall(this.connection, 'virNetworkUndefine', true).networkUndefine(this.ref);
  }
  /**
   * The network's XML (virNetworkGetXMLDesc): the running definition while active, else the
   * persistent one; {@link NetworkXMLFlags} INACTIVE asks for the persistent one.
   *
   * Prerequisites: none beyond the handle. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for unknown flags.
   */
  async XMLDesc(flags = 0): Promise<string> {
    return networkCall(this.connection, 'virNetworkGetXMLDesc', false).networkGetXMLDesc(this.ref, flags);
  }
  /**
   * Whether the network starts when the driver first opens after the host boots
   * (virNetworkGetAutostart).
   *
   * Prerequisites: none beyond the handle. Effects: none. Raises only the common errors.
   */
  async autostart(): Promise<boolean> {
    return networkCall(this.connection, 'virNetworkGetAutostart', false).networkGetAutostart(this.ref);
  }
  /**
   * Marks the network to start at boot, or not (virNetworkSetAutostart).
   *
   * Prerequisites: a writable connection; the network is persistent.
   *
   * Effects on success: the mark is stored. Effects on failure: unchanged.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "cannot set autostart for transient network".
   */
  async setAutostart(autostart: boolean): Promise<void> {
    await networkCall(this.connection, 'virNetworkSetAutostart', true).networkSetAutostart(this.ref, autostart === true);
  }
  /**
   * The name of the network's bridge (virNetworkGetBridgeName).
   *
   * Prerequisites: none beyond the handle. Effects: none.
   * @throws {@link VirError} VIR_ERR_INTERNAL_ERROR "network 'X' does not have a bridge name."
   */
  async bridgeName(): Promise<string> {
    return networkCall(this.connection, 'virNetworkGetBridgeName', false).networkGetBridgeName(this.ref);
  }
  /**
   * Whether the network is active (virNetworkIsActive).
   *
   * Prerequisites: none beyond the handle. Effects: none. Raises only the common errors.
   */
  async isActive(): Promise<boolean> {
    return networkCall(this.connection, 'virNetworkIsActive', false).networkIsActive(this.ref);
  }
  /**
   * Whether the network has a persistent definition (virNetworkIsPersistent).
   *
   * Prerequisites: none beyond the handle. Effects: none. Raises only the common errors.
   */
  async isPersistent(): Promise<boolean> {
    return networkCall(this.connection, 'virNetworkIsPersistent', false).networkIsPersistent(this.ref);
  }
  /**
   * The network's current DHCP leases (virNetworkGetDHCPLeases), all or those of MAC `mac`, as
   * python-libvirt's dicts: iface, expirytime, type, mac, iaid, ipaddr, prefix, hostname,
   * clientid. An inactive network has none.
   *
   * Prerequisites: a driver with DHCP (qemu; libvirt's test driver has none, nor tsvirt's).
   * Effects: none (a dnsmasq found dead is restarted first, its leases kept).
   * @throws {@link VirError} VIR_ERR_INVALID_ARG when `mac` is not a MAC address, or for flags.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT on the test driver.
   */
  async DHCPLeases(mac: string | null = null, flags = 0): Promise<NetworkDHCPLease[]> {
    const drv = networkCall(this.connection, 'virNetworkGetDHCPLeases', false);
    let canonical: string | null = null;
    if (mac !== null && mac !== undefined) {
      const parsed = typeof mac === 'string' ? parseMAC(mac) : undefined;
      if (parsed === undefined) throw VirError.invalidArg(ErrorDomain.NETWORK, `invalid MAC address '${String(mac)}'`);
      canonical = parsed;
    }
    return drv.networkGetDHCPLeases(this.ref, canonical, flags);
  }
}

export type { NetworkDHCPLease };
