/**
 * Compares domain XML documents as trees, the way libvirt's canonical output is compared: every
 * element path, attribute (name and value) and leaf text counts, sibling order does not.
 */
import { DOMAIN_DOCUMENT, parseXMLDocument, type XmlElement } from '../../src/conf/xml.js';

/** The multiset of element paths, attributes and texts of a tree, as `path`, `path@a=v`, `path=text`. */
export function treeKeys(root: XmlElement): Map<string, number> {
  const keys = new Map<string, number>();
  const add = (k: string) => keys.set(k, (keys.get(k) ?? 0) + 1);
  const walk = (el: XmlElement, parent: string) => {
    const path = `${parent}/${el.name}`;
    add(path);
    for (const [a, v] of Object.entries(el.attrs)) add(`${path}@${a}=${v}`);
    if (el.children.length === 0 && el.text.trim() !== '') add(`${path}=${el.text.trim()}`);
    for (const c of el.children) walk(c, path);
  };
  walk(root, '');
  return keys;
}

/** What of domain XML `reference` is missing from domain XML `got`. */
export function lostFrom(reference: string, got: string): string[] {
  const want = treeKeys(parseXMLDocument(reference, DOMAIN_DOCUMENT));
  const have = treeKeys(parseXMLDocument(got, DOMAIN_DOCUMENT));
  const out: string[] = [];
  for (const [k, n] of want) {
    const missing = n - (have.get(k) ?? 0);
    for (let i = 0; i < missing; i++) out.push(k);
  }
  return out;
}
