/**
 * Text helpers with virsh's exact behaviour: the table printer (vsh-table.c), the tree printer
 * (vshTreePrint), XML and shell escaping (virBufferEscapeString, virBufferEscapeShell) and
 * comma lists (vshStringToArray).
 */

/** virBufferEscapeString: XML-escapes, dropping control characters other than \t \n \r. */
export function escapeXML(s: string): string {
  let out = '';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (ch === '&') out += '&amp;';
    else if (ch === '"') out += '&quot;';
    else if (ch === "'") out += '&apos;';
    else if (code >= 0x01 && code <= 0x19 && code !== 0x09 && code !== 0x0a && code !== 0x0d) continue;
    else out += ch;
  }
  return out;
}

/** virBufferEscapeShell: single-quotes a word when it holds shell metacharacters. */
export function escapeShell(s: string): string {
  if (s === '') return "''";
  if (!/[\r\t\n !"#$&'()*;<>?[\\\]^`{|}~]/.test(s)) return s;
  return `'${s.replace(/'/g, "'\\''")}'`;
}

/** vshStringToArray: splits on ',' where ',,' stands for a literal comma. */
export function stringToArray(s: string): string[] {
  const tmp = s.split(',');
  const out = [tmp[0]];
  let concat = false;
  for (const part of tmp.slice(1)) {
    if (concat) {
      out[out.length - 1] += ',' + part;
      concat = false;
      continue;
    }
    if (part === '') concat = true;
    else out.push(part);
  }
  if (concat) out.push('');
  return out;
}

/** The display width of one cell and its printable form (vshTableSafeEncode). */
function safeEncode(s: string): { text: string; width: number } {
  let text = '';
  let width = 0;
  for (let i = 0; i < s.length; ) {
    const code = s.codePointAt(i)!;
    const ch = String.fromCodePoint(code);
    i += ch.length;
    if ((ch === '\\' && s[i] === 'x') || code < 0x20 || code === 0x7f) {
      text += `\\x${code.toString(16).padStart(2, '0')}`;
      width += 4;
    } else if (code >= 0x300 && /\p{Mn}|\p{Me}|\u200b/u.test(ch)) {
      // (No combining mark lies below U+0300: ASCII never builds the Unicode property sets.)
      text += ch;
    } else {
      text += ch;
      width += isWide(code) ? 2 : 1;
    }
  }
  return { text, width };
}

/** East Asian wide and fullwidth characters (g_unichar_iswide), by the common ranges. */
function isWide(c: number): boolean {
  return (
    (c >= 0x1100 && c <= 0x115f) ||
    (c >= 0x2e80 && c <= 0xa4cf && c !== 0x303f) ||
    (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xfe30 && c <= 0xfe4f) ||
    (c >= 0xff00 && c <= 0xff60) ||
    (c >= 0xffe0 && c <= 0xffe6) ||
    (c >= 0x1f300 && c <= 0x1faff) ||
    (c >= 0x20000 && c <= 0x3fffd)
  );
}

/**
 * vshTablePrint: ` cell` per column padded to the widest cell plus two spaces, a dashed line of
 * (width + 3) per column under the header; no header when `header` is false (virsh -q).
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[], withHeader: boolean): string {
  const all = [header, ...rows].map((r) => r.map(safeEncode));
  const max = header.map(() => 0);
  all.forEach((row, ri) => {
    if (ri === 0 && !withHeader) return;
    row.forEach((cell, j) => {
      if (cell.width > max[j]) max[j] = cell.width;
    });
  });
  const line = (row: { text: string; width: number }[]) =>
    row.map((cell, j) => ` ${cell.text}` + (j < row.length - 1 ? ' '.repeat(max[j] - cell.width + 2) : '')).join('') + '\n';
  let out = '';
  if (withHeader) {
    out += line(all[0]);
    out += max.map((w) => '-'.repeat(w + 3)).join('') + '\n';
  }
  for (const row of all.slice(1)) out += line(row);
  return out;
}

/**
 * vshTreePrint: prints the subtree rooted at `root` of a list of (name, parent) entries, with
 * virsh's `+- ` branches, `|` continuation lines and the blank line after a last leaf.
 */
export function formatTree(entries: readonly { name: string; parent: string | null }[], root: number): string {
  let out = '';
  const walk = (devid: number, lastdev: number, isRoot: boolean, indent: string): string => {
    const dev = entries[devid].name;
    out += `${indent}${isRoot ? '' : '+- '}${dev}\n`;
    if (!isRoot) indent += (devid === lastdev ? ' ' : '|') + ' ';
    let nextlast = -1;
    entries.forEach((e, i) => {
      if (e.parent !== null && e.parent === dev) nextlast = i;
    });
    if (nextlast !== -1) out += `${indent}  |\n`;
    const childIndent = indent + '  ';
    entries.forEach((e, i) => {
      if (e.parent !== null && e.parent === dev) walk(i, nextlast, false, childIndent);
    });
    if (nextlast === -1 && devid === lastdev) out += `${indent}\n`;
    if (!isRoot) indent = indent.slice(0, -2);
    return indent;
  };
  walk(root, root, true, '');
  return out;
}
