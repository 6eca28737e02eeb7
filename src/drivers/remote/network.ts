/**
 * The remote driver's networks: each NetworkDriver call as its remote procedure, to whatever
 * network driver the daemon serves (tsvirtd's, or libvirtd's).
 */
import type { NetworkDHCPLease, NetworkDriver, NetworkRef } from '../../core/network-driver.js';
import { uuidFromString, uuidToString, type WireNetwork } from '../../rpc/protocol.js';
import { Proc, type ArgsOf, type RetOf, type TableProc } from '../../rpc/procedures.js';

/** How the remote driver sends one call. */
export type RemoteCall = <P extends TableProc>(proc: P, args: ArgsOf<P>) => Promise<RetOf<P>>;

const wire = (n: NetworkRef): WireNetwork => ({ name: n.name, uuid: uuidFromString(n.uuid) });
const ref = (w: WireNetwork): NetworkRef => ({ name: w.name, uuid: uuidToString(w.uuid) });

/** A NetworkDriver over the remote protocol. */
export class RemoteNetworks implements NetworkDriver {
  constructor(private readonly call: RemoteCall) {}

  async listAllNetworks(flags: number): Promise<NetworkRef[]> {
    return (await this.call(Proc.CONNECT_LIST_ALL_NETWORKS, { needResults: 1, flags })).nets.map(ref);
  }
  async numOfNetworks(): Promise<number> {
    return (await this.call(Proc.CONNECT_NUM_OF_NETWORKS, undefined)).num;
  }
  async numOfDefinedNetworks(): Promise<number> {
    return (await this.call(Proc.CONNECT_NUM_OF_DEFINED_NETWORKS, undefined)).num;
  }
  async networkLookupByName(name: string): Promise<NetworkRef> {
    return ref((await this.call(Proc.NETWORK_LOOKUP_BY_NAME, { name })).net);
  }
  async networkLookupByUUID(uuid: string): Promise<NetworkRef> {
    return ref((await this.call(Proc.NETWORK_LOOKUP_BY_UUID, { uuid: uuidFromString(uuid) })).net);
  }
  async networkDefineXML(xml: string, flags: number): Promise<NetworkRef> {
    // The procedure without flags when there are none, as libvirt's client: older daemons lack 432.
    if (flags === 0) return ref((await this.call(Proc.NETWORK_DEFINE_XML, { xml })).net);
    return ref((await this.call(Proc.NETWORK_DEFINE_XML_FLAGS, { xml, flags })).net);
  }
  async networkCreateXML(xml: string, flags: number): Promise<NetworkRef> {
    if (flags === 0) return ref((await this.call(Proc.NETWORK_CREATE_XML, { xml })).net);
    return ref((await this.call(Proc.NETWORK_CREATE_XML_FLAGS, { xml, flags })).net);
  }
  async networkCreate(net: NetworkRef): Promise<void> {
    await this.call(Proc.NETWORK_CREATE, { net: wire(net) });
  }
  async networkDestroy(net: NetworkRef): Promise<void> {
    await this.call(Proc.NETWORK_DESTROY, { net: wire(net) });
  }
  async networkUndefine(net: NetworkRef): Promise<void> {
    await this.call(Proc.NETWORK_UNDEFINE, { net: wire(net) });
  }
  async networkGetXMLDesc(net: NetworkRef, flags: number): Promise<string> {
    return (await this.call(Proc.NETWORK_GET_XML_DESC, { net: wire(net), flags })).value;
  }
  async networkGetAutostart(net: NetworkRef): Promise<boolean> {
    return (await this.call(Proc.NETWORK_GET_AUTOSTART, { net: wire(net) })).autostart !== 0;
  }
  async networkSetAutostart(net: NetworkRef, autostart: boolean): Promise<void> {
    await this.call(Proc.NETWORK_SET_AUTOSTART, { net: wire(net), autostart: autostart ? 1 : 0 });
  }
  async networkGetBridgeName(net: NetworkRef): Promise<string> {
    return (await this.call(Proc.NETWORK_GET_BRIDGE_NAME, { net: wire(net) })).value;
  }
  async networkIsActive(net: NetworkRef): Promise<boolean> {
    return (await this.call(Proc.NETWORK_IS_ACTIVE, { net: wire(net) })).active !== 0;
  }
  async networkIsPersistent(net: NetworkRef): Promise<boolean> {
    return (await this.call(Proc.NETWORK_IS_PERSISTENT, { net: wire(net) })).persistent !== 0;
  }
  async networkGetDHCPLeases(net: NetworkRef, mac: string | null, flags: number): Promise<NetworkDHCPLease[]> {
    return (await this.call(Proc.NETWORK_GET_DHCP_LEASES, { net: wire(net), mac, needResults: 1, flags })).leases;
  }
  async leasesForMac(mac: string): Promise<NetworkDHCPLease[]> {
    const out: NetworkDHCPLease[] = [];
    for (const n of await this.listAllNetworks(2)) out.push(...(await this.networkGetDHCPLeases(n, mac, 0)));
    return out;
  }
  async bridgeForGuest(name: string): Promise<string> {
    return this.networkGetBridgeName(await this.networkLookupByName(name));
  }
  async close(): Promise<void> {}
}
