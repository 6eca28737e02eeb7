/**
 * VBoxManage's `--machinereadable` output: one `key=value` per line, as VirtualBox 6.1 and 7.0
 * print it (VBoxManageInfo.cpp, outputMachineReadableString and the SHOW_* macros).
 *
 * What the format does, and so what this parser accepts:
 * - values are `"quoted"` strings or bare numbers (`memory=2048`);
 * - inside quotes, VirtualBox escapes `"` and `\` with a backslash — but only where it uses
 *   outputMachineReadableString; some values (snapshot names and descriptions, NAT network
 *   names) are printed raw, so a bare `"` inside a value is possible. A quote ends the value only
 *   when the line ends right after it;
 * - newlines inside a value are printed as they are, so one value may span several lines;
 * - a key containing `=` or a storage slot (`"SATA-0-0"`) is quoted and escaped like a value;
 * - VirtualBox 7.0 prints a few human lines in the middle (`Encryption:     disabled`): lines
 *   that are not `key=value` are skipped, not fatal.
 */

/** One `key=value` of the output, in order. */
export interface MachineReadableEntry {
  key: string;
  value: string;
}

/** Thrown for output that is not in the format at all (the caller makes it a VirError). */
export class MachineReadableError extends Error {}

/** Parses `--machinereadable` output into its entries, in output order. */
export function parseMachineReadable(text: string): MachineReadableEntry[] {
  const out: MachineReadableEntry[] = [];
  const s = text.replace(/\r\n/g, '\n');
  let i = 0;
  while (i < s.length) {
    const lineEnd = indexOrEnd(s, '\n', i);
    let key: string;
    let pos: number;
    if (s[i] === '"') {
      const k = readQuoted(s, i + 1, (at) => s[at + 1] === '=');
      if (k === null) {
        i = lineEnd + 1;
        continue;
      }
      key = k.value;
      pos = k.end + 1;
    } else {
      const eq = s.indexOf('=', i);
      if (eq < 0 || eq > lineEnd || eq === i) {
        i = lineEnd + 1; // not key=value: skipped (see the file comment)
        continue;
      }
      key = s.slice(i, eq);
      pos = eq;
    }
    if (s[pos] !== '=') {
      i = lineEnd + 1;
      continue;
    }
    pos++;
    if (s[pos] === '"') {
      const v = readQuoted(s, pos + 1, (at) => at + 1 >= s.length || s[at + 1] === '\n');
      if (v === null) throw new MachineReadableError(`unterminated value of '${key}'`);
      out.push({ key, value: v.value });
      i = v.end + 2;
    } else {
      out.push({ key, value: s.slice(pos, lineEnd) });
      i = lineEnd + 1;
    }
  }
  return out;
}

function indexOrEnd(s: string, ch: string, from: number): number {
  const at = s.indexOf(ch, from);
  return at < 0 ? s.length : at;
}

/**
 * Reads a quoted string starting after its opening quote; `closes(at)` says whether the quote at
 * `at` ends it. Returns the unescaped text and the index of the closing quote.
 */
function readQuoted(s: string, from: number, closes: (at: number) => boolean): { value: string; end: number } | null {
  let value = '';
  for (let i = from; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\')) {
      // An escaped quote at the end of a line could also be a raw backslash followed by the
      // closing quote; VirtualBox escapes backslashes wherever it escapes quotes, so `\"` at the
      // end of a line is taken as the escape only when another closing quote follows.
      if (s[i + 1] === '"' && closes(i + 1) && !hasLaterClose(s, i + 2, closes)) {
        value += c;
        continue;
      }
      value += s[i + 1];
      i++;
      continue;
    }
    if (c === '"' && closes(i)) return { value, end: i };
    value += c;
  }
  return null;
}

function hasLaterClose(s: string, from: number, closes: (at: number) => boolean): boolean {
  // Only a continuation line (a value spanning lines) can hold the real closing quote.
  const nextLineEnd = indexOrEnd(s, '\n', from + 1);
  for (let i = from + 1; i < nextLineEnd; i++) if (s[i] === '"' && closes(i) && s[i - 1] !== '\\') return true;
  return false;
}

/** The entries as a map (a later key wins, as it would in a shell `eval`). */
export function toMap(entries: readonly MachineReadableEntry[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of entries) map.set(e.key, e.value);
  return map;
}
