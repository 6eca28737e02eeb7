/**
 * The vim25 side of XML: a small element tree for SOAP answers, and escaping for the envelopes
 * tsvirt builds by hand.
 *
 * vSphere writes polymorphic values with an `xsi:type` attribute, but not always: real vCenter
 * and ESXi put it on every element of an `ArrayOf…` value, govmomi's simulator leaves it off,
 * and the prefix bound to the XML Schema instance namespace varies (`xsi:`,
 * `XMLSchema-instance:`). So the tree records the xsi type under any prefix, elements are
 * addressed by local name, and readers never need the type to find an array's items.
 */
import { decodeReferences, xmlParser } from '../../conf/xml.js';

/** One element of an answer: local name, xsi type (if written), attributes, children, text. */
export interface VimNode {
  /** The local name, prefix removed. */
  readonly name: string;
  /** The `xsi:type` value with any prefix removed (`xsd:string` → `string`), if present. */
  readonly xsiType: string | undefined;
  /** Attributes without a prefix (e.g. a ManagedObjectReference's `type`). */
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly VimNode[];
  /** The element's own text, entity references decoded. */
  readonly text: string;
}

/** fast-xml-parser's preserveOrder output: one-key objects plus ':@' for attributes. */
type FxpNode = Record<string, unknown>;

function nodeList(value: unknown): FxpNode[] {
  return Array.isArray(value) ? (value as FxpNode[]) : [];
}

function localName(qname: string): string {
  const colon = qname.indexOf(':');
  return colon >= 0 ? qname.slice(colon + 1) : qname;
}

function toNode(qname: string, raw: FxpNode): VimNode {
  const attrs: Record<string, string> = Object.create(null) as Record<string, string>;
  let xsiType: string | undefined;
  for (const [key, value] of Object.entries((raw[':@'] ?? {}) as Record<string, unknown>)) {
    const colon = key.indexOf(':');
    if (colon < 0) {
      attrs[key] = decodeReferences(String(value));
    } else if (key.slice(colon + 1) === 'type' && !key.startsWith('xmlns')) {
      // Any prefix: only the XML Schema instance namespace puts prefixed `type` attributes
      // on vim25 elements.
      xsiType = localName(String(value));
    }
  }
  const children: VimNode[] = [];
  let text = '';
  for (const child of nodeList(raw[qname])) {
    const key = Object.keys(child).find((k) => k !== ':@');
    if (key === undefined) continue;
    if (key === '#text') text += decodeReferences(String(child['#text']));
    else if (key === '#cdata') {
      for (const part of nodeList(child['#cdata'])) if (typeof part['#text'] === 'string') text += part['#text'];
    } else children.push(toNode(key, child));
  }
  return { name: localName(qname), xsiType, attrs, children, text };
}

/**
 * Parses an XML document into its root element, or returns undefined when it is not XML a
 * SOAP answer could be (empty, not well formed, no root element).
 */
export function parseVimXML(xml: string): VimNode | undefined {
  const p = xmlParser();
  // No separate validation pass: it would double the cost of every answer, and what matters is
  // that the result is a SOAP envelope with the expected body, which the caller checks.
  let parsed: unknown;
  try {
    parsed = p.parse(xml);
  } catch {
    return undefined;
  }
  for (const top of nodeList(parsed)) {
    const key = Object.keys(top).find((k) => k !== ':@');
    if (key === undefined || key === '#text' || key === '#cdata') continue;
    try {
      return toNode(key, top);
    } catch {
      // A character reference XML does not allow (&#x110000;): libxml2 would not parse it either.
      return undefined;
    }
  }
  return undefined;
}

/** The first child element named `name`. */
export function child(node: VimNode | undefined, name: string): VimNode | undefined {
  return node?.children.find((c) => c.name === name);
}

/** Every child element named `name`, in document order. */
export function children(node: VimNode | undefined, name: string): VimNode[] {
  return node === undefined ? [] : node.children.filter((c) => c.name === name);
}

/** The text of the first child named `name`, or undefined. */
export function childText(node: VimNode | undefined, name: string): string | undefined {
  return child(node, name)?.text;
}

/** The integer in the first child named `name`, or undefined when absent or not a number. */
export function childInt(node: VimNode | undefined, name: string): number | undefined {
  const text = childText(node, name);
  if (text === undefined || !/^-?\d+$/.test(text.trim())) return undefined;
  return Number.parseInt(text, 10);
}

/** Follows a path of child names (`config.hardware` style, already split). */
export function path(node: VimNode | undefined, names: readonly string[]): VimNode | undefined {
  let cur = node;
  for (const n of names) cur = child(cur, n);
  return cur;
}

/**
 * The items of an `ArrayOf…` property value: its element children, whatever their name and
 * whether or not they carry `xsi:type`.
 */
export function arrayItems(value: VimNode | undefined): VimNode[] {
  return value === undefined ? [] : [...value.children];
}

/** Escapes text for an element body or a double-quoted attribute of an envelope. */
export function escapeXmlText(value: string): string {
  return value.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'));
}
