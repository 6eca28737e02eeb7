/**
 * The network driver table, like libvirt's virNetworkDriver: virtual networks (a bridge, DHCP and
 * DNS, NAT) beside a hypervisor driver. A hypervisor driver that has networks exposes one as
 * {@link HypervisorDriver.network}; the public API answers VIR_ERR_NO_SUPPORT without it.
 */

/** What a Network handle carries: identity as of lookup, like libvirt's virNetworkPtr. */
export interface NetworkRef {
  /** The network's name. */
  readonly name: string;
  /** The network's UUID, canonical (lower-case, dashed); drivers resolve the network by it. */
  readonly uuid: string;
}

/** One DHCP lease of a network (libvirt's virNetworkDHCPLease). */
export interface NetworkDHCPLease {
  /** The network's bridge the lease was given on. */
  iface: string;
  /** Seconds since the epoch when the lease ends (0: never). */
  expirytime: number;
  /** VIR_IP_ADDR_TYPE_IPV4 (0) or IPV6 (1). */
  type: number;
  /** The client's MAC address (null for IPv6 leases without one). */
  mac: string | null;
  /** IPv6 identity association ID, else null. */
  iaid: string | null;
  /** The leased address. */
  ipaddr: string;
  /** The network's prefix length. */
  prefix: number;
  /** The name the client sent, else null. */
  hostname: string | null;
  /** The client ID the client sent, else null. */
  clientid: string | null;
}

/**
 * A network driver. Every method is async; errors are VirError. The public API
 * ({@link Connection}, {@link Network}) has checked the connection, read-only access and
 * argument types; each method checks its flags first (R7), then does the work. The contract of
 * each method is that of the public method named beside it.
 */
export interface NetworkDriver {
  /** virConnectListAllNetworks: {@link Connection.listAllNetworks}. */
  listAllNetworks(flags: number): Promise<NetworkRef[]>;
  /** virConnectNumOfNetworks: active networks. */
  numOfNetworks(): Promise<number>;
  /** virConnectNumOfDefinedNetworks: inactive networks. */
  numOfDefinedNetworks(): Promise<number>;
  /** virNetworkLookupByName: VIR_ERR_NO_NETWORK when absent. */
  networkLookupByName(name: string): Promise<NetworkRef>;
  /** virNetworkLookupByUUID, `uuid` canonical: VIR_ERR_NO_NETWORK when absent. */
  networkLookupByUUID(uuid: string): Promise<NetworkRef>;
  /** virNetworkDefineXMLFlags: {@link Connection.networkDefineXML}. */
  networkDefineXML(xml: string, flags: number): Promise<NetworkRef>;
  /** virNetworkCreateXMLFlags: {@link Connection.networkCreateXML}. */
  networkCreateXML(xml: string, flags: number): Promise<NetworkRef>;
  /** virNetworkCreate: {@link Network.create}. */
  networkCreate(net: NetworkRef): Promise<void>;
  /** virNetworkDestroy: {@link Network.destroy}. */
  networkDestroy(net: NetworkRef): Promise<void>;
  /** virNetworkUndefine: {@link Network.undefine}. */
  networkUndefine(net: NetworkRef): Promise<void>;
  /** virNetworkGetXMLDesc: {@link Network.XMLDesc}. */
  networkGetXMLDesc(net: NetworkRef, flags: number): Promise<string>;
  /** virNetworkGetAutostart: {@link Network.autostart}. */
  networkGetAutostart(net: NetworkRef): Promise<boolean>;
  /** virNetworkSetAutostart: {@link Network.setAutostart}. */
  networkSetAutostart(net: NetworkRef, autostart: boolean): Promise<void>;
  /** virNetworkGetBridgeName: {@link Network.bridgeName}. */
  networkGetBridgeName(net: NetworkRef): Promise<string>;
  /** virNetworkIsActive: {@link Network.isActive}. */
  networkIsActive(net: NetworkRef): Promise<boolean>;
  /** virNetworkIsPersistent: {@link Network.isPersistent}. */
  networkIsPersistent(net: NetworkRef): Promise<boolean>;
  /** virNetworkGetDHCPLeases: {@link Network.DHCPLeases}; `mac` canonical or null for all. */
  networkGetDHCPLeases(net: NetworkRef, mac: string | null, flags: number): Promise<NetworkDHCPLease[]>;
  /**
   * The DHCP leases of every active network for the guest interface with MAC `mac` (canonical):
   * what virDomainInterfaceAddresses with VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE reads.
   */
  leasesForMac(mac: string): Promise<NetworkDHCPLease[]>;
  /**
   * The bridge a guest interface of `type='network'` plugs into: the network must be active.
   * VIR_ERR_NO_NETWORK when there is no such network, VIR_ERR_OPERATION_INVALID "network 'X' is
   * not active" when it is not running, as libvirt's qemu driver reports at domain start.
   */
  bridgeForGuest(name: string): Promise<string>;
  /** Releases what the driver holds (timers); networks keep running. */
  close(): Promise<void>;
}
