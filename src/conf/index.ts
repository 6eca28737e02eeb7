/**
 * tsvirt's XML layer: libvirt's domain and domain snapshot formats, parsed and formatted
 * without I/O. See domain.ts and snapshot.ts.
 */
export * from './domain.js';
export * from './snapshot.js';
export { validateName, MAX_NAME_BYTES, type NameKind } from './names.js';
export { parseUUID, generateUUID, parseMAC, generateMAC, isMulticastMAC, parseMemoryKiB, unitScale } from './values.js';
export {
  MAX_XML_BYTES,
  MAX_XML_NODES,
  MAX_XML_DEPTH,
  decodeXmlBytes,
  DOMAIN_DOCUMENT,
  SNAPSHOT_DOCUMENT,
  parseXMLDocument,
  escapeXml,
  XmlWriter,
  type XmlElement,
  type XmlDocumentKind,
  type XmlAttrList,
} from './xml.js';
