/**
 * One device's XML, as virDomainAttachDevice, virDomainDetachDevice and virDomainUpdateDevice
 * take it: parsed with the domain parser (the same validation and defaults as inside a
 * `<domain>`), so a disk or interface comes back in the domain model and any other kind as the
 * element it was written as (kept verbatim in a definition, matched by its exact form).
 */
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { parseDomainElement, unmodelledDevices, type DomainDef, type DomainDiskDef, type DomainInterfaceDef } from './domain.js';
import { XmlWriter, attr, childElement, confError, parseXMLDocument, type ParseOptions, type XmlDocumentKind, type XmlElement } from './xml.js';

/** A device document: whichever root element, named `(device_definition)` in parse errors as libvirt does. */
export const DEVICE_DOCUMENT: XmlDocumentKind = {
  rootName: '*',
  sourceName: '(device_definition)',
  errorDomain: ErrorDomain.DOMAIN,
};

/** The device elements libvirt knows (virDomainDeviceType, and the character devices). */
export const DEVICE_ELEMENTS = [
  'disk', 'lease', 'filesystem', 'interface', 'input', 'sound', 'video', 'hostdev', 'watchdog',
  'controller', 'graphics', 'hub', 'redirdev', 'smartcard', 'serial', 'parallel', 'channel',
  'console', 'memballoon', 'nvram', 'rng', 'shmem', 'tpm', 'panic', 'memory', 'iommu', 'vsock',
  'audio', 'crypto',
] as const;

/** A parsed device. `el` is the element as written. */
export type DeviceDef =
  | { kind: 'disk'; disk: DomainDiskDef; el: XmlElement }
  /** `macGiven`: the XML named a MAC (else the parser generated one, and matching ignores it). */
  | { kind: 'interface'; net: DomainInterfaceDef; macGiven: boolean; el: XmlElement }
  /** A kind tsvirt does not model (or a modelled kind in a form it cannot represent). */
  | { kind: 'other'; name: string; el: XmlElement };

/** An element as the parser would have produced it. */
function element(name: string, attrs: Record<string, string>, children: XmlElement[] = [], text = ''): XmlElement {
  const own = Object.assign(Object.create(null) as Record<string, string>, attrs);
  return { name, localName: name, namespaceURI: undefined, attrs: own, children, text };
}

/**
 * Parses one device element for a domain of `def`'s type (virDomainDeviceDefParse).
 *
 * @throws VirError VIR_ERR_XML_DETAIL for XML that is not well formed, VIR_ERR_CONFIG_UNSUPPORTED
 *   "unknown device type 'NAME'" for a root that is no device, and the domain parser's errors
 *   for a device it refuses (a disk without target: VIR_ERR_NO_TARGET, a bad MAC, …).
 */
export function parseDeviceXML(xml: string, def: Pick<DomainDef, 'type' | 'os'>, options: ParseOptions = {}): DeviceDef {
  const root = parseXMLDocument(xml, DEVICE_DOCUMENT, options);
  if (root.namespaceURI !== undefined || !(DEVICE_ELEMENTS as readonly string[]).includes(root.name)) {
    throw confError(ErrorDomain.DOMAIN, ErrorNumber.CONFIG_UNSUPPORTED, `unknown device type '${root.name}'`);
  }
  // The device inside a minimal domain of the same type: one parser, one set of rules.
  const wrapper = element('domain', { type: def.type }, [
    element('name', {}, [], 'device'),
    element('memory', {}, [], '1024'),
    element('os', {}, [element('type', {}, [], def.os.type)]),
    element('devices', {}, [root]),
  ]);
  const parsed = parseDomainElement(wrapper);
  if (root.name === 'disk' && parsed.devices.disks.length === 1) {
    return { kind: 'disk', disk: parsed.devices.disks[0] as DomainDiskDef, el: root };
  }
  if (root.name === 'interface' && parsed.devices.interfaces.length === 1) {
    const mac = childElement(root, 'mac');
    const macGiven = mac !== undefined && (attr(mac, 'address') ?? '') !== '';
    return { kind: 'interface', net: parsed.devices.interfaces[0] as DomainInterfaceDef, macGiven, el: root };
  }
  return { kind: 'other', name: root.name, el: root };
}

/** An element's canonical text, to match a device written by a user against a kept one. */
export function elementText(el: XmlElement): string {
  return new XmlWriter().verbatim(el).toString();
}

/** `<alias name=…>` of a kept (unmodelled) device element. */
export function keptAlias(el: XmlElement): string | undefined {
  const a = childElement(el, 'alias');
  return a === undefined ? undefined : attr(a, 'name');
}

/** The unmodelled device elements of `def` (kept verbatim), in order. */
export function otherDevices(def: DomainDef): XmlElement[] {
  return unmodelledDevices(def).map((k) => k.el);
}

