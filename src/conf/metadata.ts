/**
 * A domain's `<metadata>`: one element per XML namespace, kept whole, as libvirt keeps it
 * (virDomainDefSetMetadata / virDomainDefGetMetadata). Pure: no I/O.
 *
 * libvirt writes these elements with libxml2's serializer (double-quoted attributes), not with
 * its own buffer code, so the dump here follows libxml2's layout.
 */
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { VirError } from '../core/errors.js';
import { parseXMLDocument, type XmlDocumentKind, type XmlElement } from './xml.js';

/** What virDomainSetMetadata parses: whichever root element, errors named `(metadata_xml)`. */
export const METADATA_DOCUMENT: XmlDocumentKind = { rootName: '*', sourceName: '(metadata_xml)', errorDomain: ErrorDomain.DOMAIN };

function prefixOf(name: string): string | undefined {
  const i = name.indexOf(':');
  return i < 0 ? undefined : name.slice(0, i);
}

function withName(el: XmlElement, name: string, namespaceURI: string | undefined, attrs: Record<string, string>, children: XmlElement[]): XmlElement {
  return { name, localName: el.localName, namespaceURI, attrs, children, text: el.text };
}

/**
 * The children of a parsed `<metadata>` element libvirt keeps: those in a namespace, the first
 * of each namespace URI (libvirt drops the others when it parses a definition). Each carries the
 * declaration of its own prefix, so that it stands alone wherever it is written.
 */
export function sanitizeMetadata(metadata: XmlElement | undefined): XmlElement[] {
  if (metadata === undefined) return [];
  const seen = new Set<string>();
  const out: XmlElement[] = [];
  for (const c of metadata.children) {
    const uri = c.namespaceURI;
    if (uri === undefined || seen.has(uri)) continue;
    seen.add(uri);
    const prefix = prefixOf(c.name);
    const decl = prefix === undefined ? 'xmlns' : `xmlns:${prefix}`;
    out.push(c.attrs[decl] === uri ? c : withName(c, c.name, uri, { [decl]: uri, ...c.attrs }, [...c.children]));
  }
  return out;
}

/** libxml2's escaping of attribute values. */
function escapeAttr(v: string): string {
  return v.replace(/[&<>"\n\r\t]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\n': '&#10;', '\r': '&#13;', '\t': '&#9;' })[ch] ?? ch);
}
/** libxml2's escaping of character data. */
function escapeText(v: string): string {
  return v.replace(/[&<>\r]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' })[ch] ?? ch);
}

/**
 * `el` as libxml2's xmlNodeDump writes it with formatting on: two spaces per level, double
 * quotes; an element with child elements has them on lines of their own (blank text between
 * them dropped, as libvirt parses without blanks).
 */
export function dumpMetadataElement(el: XmlElement, depth = 0): string {
  const pad = '  '.repeat(depth);
  let open = `${pad}<${el.name}`;
  // libxml2 writes namespace declarations before the attributes.
  for (const name in el.attrs) if (name === 'xmlns' || name.startsWith('xmlns:')) open += ` ${name}="${escapeAttr(el.attrs[name] ?? '')}"`;
  for (const name in el.attrs) if (!(name === 'xmlns' || name.startsWith('xmlns:'))) open += ` ${name}="${escapeAttr(el.attrs[name] ?? '')}"`;
  if (el.children.length === 0) return el.text === '' ? `${open}/>` : `${open}>${escapeText(el.text)}</${el.name}>`;
  if (el.text.trim() !== '') {
    // Mixed content: libxml2 does not indent it; the text comes first in this model.
    return `${open}>${escapeText(el.text)}${el.children.map((c) => dumpMetadataElement(c, 0)).join('')}</${el.name}>`;
  }
  return [`${open}>`, ...el.children.map((c) => dumpMetadataElement(c, depth + 1)), `${pad}</${el.name}>`].join('\n');
}

/**
 * virDomainGetMetadata(ELEMENT): the element of namespace `uri`, without its namespace (the
 * element and its descendants in that namespace lose the prefix, its declaration goes), as
 * libxml2 dumps it; undefined when there is none.
 */
export function getMetadataElement(list: readonly XmlElement[] | undefined, uri: string): string | undefined {
  const el = (list ?? []).find((c) => c.namespaceURI === uri);
  if (el === undefined) return undefined;
  const prefix = prefixOf(el.name);
  const strip = (e: XmlElement): XmlElement => {
    const attrs: Record<string, string> = {};
    for (const a in e.attrs) if (a !== (prefix === undefined ? 'xmlns' : `xmlns:${prefix}`)) attrs[a] = e.attrs[a] ?? '';
    const mine = e.namespaceURI === uri && prefixOf(e.name) === prefix;
    return withName(e, mine ? e.localName : e.name, mine ? undefined : e.namespaceURI, attrs, e.children.map(strip));
  };
  return dumpMetadataElement(strip(el));
}

/** An XML NCName, as xmlValidateNCName checks a namespace prefix (ASCII and beyond). */
const NCNAME = /^[\p{L}_][\p{L}\p{N}\p{M}_.\-\u00B7\u203F-\u2040]*$/u;

/**
 * virDomainSetMetadata(ELEMENT): `list` with the element of namespace `uri` replaced by `xml`
 * (appended last), or removed when `xml` is null. The new element's root, and its descendants
 * in no namespace, are put in namespace `uri` with prefix `key`.
 *
 * @throws VirError VIR_ERR_XML_DETAIL when `xml` is not one well-formed element;
 *   VIR_ERR_INTERNAL_ERROR (VIR_FROM_XML) "failed to validate prefix for a new XML namespace"
 *   when `key` is not an XML name.
 */
export function setMetadataElement(list: readonly XmlElement[] | undefined, xml: string | null, key: string | null, uri: string): XmlElement[] {
  const rest = (list ?? []).filter((c) => c.namespaceURI !== uri);
  if (xml === null) return rest;
  const root = parseXMLDocument(xml, METADATA_DOCUMENT);
  const k = key ?? '';
  if (!NCNAME.test(k) || k.includes(':')) {
    throw VirError.report(ErrorDomain.XML, ErrorNumber.INTERNAL_ERROR, 'failed to validate prefix for a new XML namespace');
  }
  const adopt = (e: XmlElement): XmlElement =>
    e.namespaceURI === undefined && !Object.prototype.hasOwnProperty.call(e.attrs, 'xmlns')
      ? withName(e, `${k}:${e.localName}`, uri, { ...e.attrs }, e.children.map(adopt))
      : withName(e, e.name, e.namespaceURI, { ...e.attrs }, e.children.map(adopt));
  const attrs: Record<string, string> = { [`xmlns:${k}`]: uri };
  for (const a in root.attrs) if (a !== `xmlns:${k}`) attrs[a] = root.attrs[a] ?? '';
  const top = withName(root, `${k}:${root.localName}`, uri, attrs, root.children.map(adopt));
  return [...rest, top];
}
