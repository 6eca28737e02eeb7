/**
 * A small reader for the few values the CLI takes from libvirt XML it was handed by the API
 * (a snapshot's state, parent and creation time; a domain's OS type and title), as virsh reads
 * them with XPath. It walks tags by depth, so a `<name>` inside the embedded `<domain>` of a
 * snapshot is never mistaken for the snapshot's own. Not a validating parser: the XML comes
 * from the API, which formats it.
 */

/** An element: its name, attributes, text content and children. */
export interface XMLElement {
  name: string;
  attrs: Record<string, string>;
  children: XMLElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (m, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number.parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? m;
  });
}

/** Parses `xml` into a tree of elements; throws on markup it cannot follow. */
export function parseXML(xml: string): XMLElement {
  const root: XMLElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XMLElement[] = [root];
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const top = stack[stack.length - 1];
    if (lt < 0) {
      top.text += decode(xml.slice(i));
      break;
    }
    if (lt > i) top.text += decode(xml.slice(i, lt));
    if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt + 4);
      if (end < 0) throw new Error('unterminated comment');
      i = end + 3;
    } else if (xml.startsWith('<![CDATA[', lt)) {
      const end = xml.indexOf(']]>', lt + 9);
      if (end < 0) throw new Error('unterminated CDATA');
      top.text += xml.slice(lt + 9, end);
      i = end + 3;
    } else if (xml.startsWith('<?', lt) || xml.startsWith('<!', lt)) {
      const end = xml.indexOf('>', lt);
      if (end < 0) throw new Error('unterminated declaration');
      i = end + 1;
    } else if (xml.startsWith('</', lt)) {
      const end = xml.indexOf('>', lt);
      if (end < 0) throw new Error('unterminated end tag');
      const name = xml.slice(lt + 2, end).trim();
      if (stack.length <= 1 || top.name !== name) throw new Error(`mismatched </${name}>`);
      stack.pop();
      i = end + 1;
    } else {
      const m = /^<([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(xml.slice(lt));
      if (m === null) throw new Error('malformed tag');
      const el: XMLElement = { name: m[1], attrs: {}, children: [], text: '' };
      for (const a of m[2].matchAll(/([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
        el.attrs[a[1]] = decode(a[2] ?? a[3] ?? '');
      }
      top.children.push(el);
      if (m[3] !== '/') stack.push(el);
      i = lt + m[0].length;
    }
  }
  if (stack.length !== 1) throw new Error('unterminated element');
  return root;
}

/** The first element at `path` below `el` (for example ['domainsnapshot', 'parent', 'name']). */
export function find(el: XMLElement | undefined, path: readonly string[]): XMLElement | undefined {
  let cur = el;
  for (const name of path) {
    cur = cur?.children.find((c) => c.name === name);
    if (cur === undefined) return undefined;
  }
  return cur;
}

/** XPath's string(path): the text of the first element at `path`, or '' when there is none. */
export function text(el: XMLElement | undefined, path: readonly string[]): string {
  const found = find(el, path);
  return found === undefined ? '' : allText(found);
}

function allText(el: XMLElement): string {
  return el.text + el.children.map(allText).join('');
}
