/**
 * The XML plumbing under the domain and snapshot parsers: well-formedness checking with
 * libvirt's error reports, a small element tree to walk, and a writer that produces libvirt's
 * layout (2-space indent, attributes in single quotes, virBufferEscapeString's escaping).
 *
 * Pure: no I/O. fast-xml-parser does the tokenizing; its validator finds most well-formedness
 * errors, and a linear pre-scan here covers what it lets through but libxml2 (and so libvirt)
 * rejects: undefined entities, bad character references, characters XML forbids, '<' inside
 * attribute values, and content before or after the root element.
 */
import { XMLParser, XMLValidator, type X2jOptions } from './fast-xml-parser.js';
import { VirError, formatErrorMessage } from '../core/errors.js';
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';

/**
 * Largest XML document accepted, in UTF-8 bytes: 4 MiB, libvirt's REMOTE_STRING_MAX, so the
 * largest document libvirtd can ever be handed. (virsh reads files of up to 10 MiB, but past
 * 4 MiB they cannot reach a daemon.) Checked before anything else, it bounds the work one call
 * can cause.
 */
export const MAX_XML_BYTES = 4 * 1024 * 1024;

/**
 * Most elements plus attributes a document may have. libxml2 itself sets no such limit; tsvirt
 * needs one because building its tree costs microseconds per node on the one event loop that
 * serves every client (600,000 empty elements took seconds). The largest domain XML in
 * libvirt's test suites has a few thousand; counting is a cheap scan done before any parsing.
 */
export const MAX_XML_NODES = 100_000;

/** libxml2's default nesting limit (xmlParserMaxDepth, without XML_PARSE_HUGE). */
export const MAX_XML_DEPTH = 256;

/** One element of a parsed document. Text is decoded; whitespace is kept as written. */
export interface XmlElement {
  /** The name as written, prefix included (`test:runstate`). */
  readonly name: string;
  /** The name without its namespace prefix. */
  readonly localName: string;
  /** The namespace URI the prefix (or a default `xmlns`) resolves to; undefined for none. */
  readonly namespaceURI: string | undefined;
  /** Attributes by name as written (`xmlns:test` included), values decoded and normalized. */
  readonly attrs: Readonly<Record<string, string>>;
  /** Child elements in document order. */
  readonly children: readonly XmlElement[];
  /** The element's own character data (text and CDATA children, concatenated). */
  readonly text: string;
}

/** Which libvirt document is being parsed: decides the error domain and the name in reports. */
export interface XmlDocumentKind {
  /** The root element the document must have, e.g. `domain`; `*` for any (a device's). */
  readonly rootName: string;
  /** The pseudo file name libvirt puts in parse errors, e.g. `(domain_definition)`. */
  readonly sourceName: string;
  /** The error domain of parse errors (libvirt's VIR_FROM_THIS of the caller). */
  readonly errorDomain: ErrorDomain;
}

/** Domain XML, as libvirt's virDomainDefParse names it in errors. */
export const DOMAIN_DOCUMENT: XmlDocumentKind = {
  rootName: 'domain',
  sourceName: '(domain_definition)',
  errorDomain: ErrorDomain.DOMAIN,
};

/**
 * Snapshot XML. libvirt 9.0's virDomainSnapshotDefParseString names the document
 * `(domain_snapshot)` and reports from VIR_FROM_DOMAIN_SNAPSHOT.
 */
export const SNAPSHOT_DOCUMENT: XmlDocumentKind = {
  rootName: 'domainsnapshot',
  sourceName: '(domain_snapshot)',
  errorDomain: ErrorDomain.DOMAIN_SNAPSHOT,
};

// ---------------------------------------------------------------------------------------------
// Errors

/** libvirt's message prefixes for codes that src/api/errors.ts does not list (virerror.c). */
const EXTRA_FORMATS: Partial<Record<ErrorNumber, [bare: string, withInfo: string]>> = {
  [ErrorNumber.NO_TARGET]: ['missing target information for device', 'missing target information for device %s'],
  [ErrorNumber.OVERFLOW]: ['numerical overflow', 'numerical overflow: %s'],
};

/**
 * Builds a VirError as libvirt's virReportError(code, …) from error domain `domain` would.
 * Goes through VirError.report so the wording table stays in one place, except for the few
 * codes that table lacks.
 */
export function confError(domain: ErrorDomain, code: ErrorNumber, detail?: string): VirError {
  const extra = EXTRA_FORMATS[code];
  if (extra !== undefined) {
    const message = detail === undefined || detail === '' ? extra[0] : extra[1].replace('%s', detail);
    return new VirError({ code, domain, message, str1: message, str2: detail ?? null });
  }
  return VirError.report(domain, code, detail);
}

/** VIR_ERR_XML_ERROR from `domain`: "XML error: …". */
export function xmlErrorFrom(domain: ErrorDomain, detail: string): VirError {
  return confError(domain, ErrorNumber.XML_ERROR, detail);
}

/**
 * virXMLPropEnum's error for a value outside the allowed set (reported from VIR_FROM_XML):
 * "XML error: Invalid value for attribute 'a' in element 'e': 'v'."
 */
export function invalidAttrValue(element: string, attr: string, value: string): VirError {
  return xmlErrorFrom(
    ErrorDomain.XML,
    `Invalid value for attribute '${attr}' in element '${element}': '${value}'.`,
  );
}

/** virXMLPropEnum's error for a required attribute that is absent (VIR_FROM_XML). */
export function missingAttr(element: string, attr: string): VirError {
  return xmlErrorFrom(ErrorDomain.XML, `Missing required attribute '${attr}' in element '${element}'`);
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** A well-formedness problem at an offset of the (newline-normalized) document. */
interface SyntaxProblem {
  line: number;
  /** 1-based column of the character the caret points at. */
  col: number;
  message: string;
}

/** How a document is parsed. */
export interface ParseOptions {
  /**
   * The document is one tsvirt wrote itself (a definition from its store): the well-formedness
   * pre-checks are skipped, since their only job is libvirt's error report for bad input.
   */
  readonly stored?: boolean;
}

/**
 * Parses `xml` into an element tree after checking size, well-formedness and the root
 * element's name.
 *
 * As in libvirt, which passes libxml2 a C string, a NUL ends the document.
 *
 * @throws VirError VIR_ERR_XML_ERROR if the document is larger than {@link MAX_XML_BYTES}, has
 *   more than {@link MAX_XML_NODES} elements and attributes, or its root is not `kind.rootName`;
 *   VIR_ERR_XML_DETAIL (35) if it is not well formed or nests deeper than {@link MAX_XML_DEPTH},
 *   with libvirt's message layout: `SOURCE:LINE: what\nthe line\n-----^`.
 */
export function parseXMLDocument(xml: string, kind: XmlDocumentKind, options: ParseOptions = {}): XmlElement {
  const bytes = Buffer.byteLength(xml, 'utf8');
  if (bytes > MAX_XML_BYTES) {
    throw xmlErrorFrom(
      kind.errorDomain,
      `document is too large (${bytes} bytes, the limit is ${MAX_XML_BYTES})`,
    );
  }
  const nodes = countNodes(xml, MAX_XML_NODES);
  if (nodes > MAX_XML_NODES) {
    throw xmlErrorFrom(
      kind.errorDomain,
      `document has too many elements and attributes (more than ${MAX_XML_NODES})`,
    );
  }
  // libvirt hands libxml2 a C string: whatever follows a NUL is never seen.
  const nul = xml.indexOf('\0');
  // XML 1.0 §2.11: line ends are normalized before parsing; a byte order mark is not content.
  const text = (nul >= 0 ? xml.slice(0, nul) : xml).replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');

  const problem = options.stored === true ? undefined : findSyntaxProblem(text);
  if (problem !== undefined) throw syntaxError(text, problem, kind);

  const lifted = liftLongText(text);
  let parsed: unknown;
  try {
    parsed = xmlParser().parse(lifted.text);
  } catch (e) {
    // The validator and the pre-scan passed (or a stored document was damaged), so this is one of
    // fast-xml-parser's own limits (nesting depth, names it refuses for safety). Report it as a
    // parse error at line 1.
    const message = e instanceof Error ? e.message : String(e);
    throw syntaxError(text, { line: 1, col: 1, message }, kind);
  }
  const top = toElements(asNodeList(parsed), new Map(), lifted.runs);
  const root = top[0];
  if (root === undefined) {
    // Unreachable after findSyntaxProblem, which insists on a root element; a stored document
    // always has one.
    throw confError(kind.errorDomain, ErrorNumber.INTERNAL_ERROR, 'missing root element');
  }
  if (kind.rootName !== '*' && root.name !== kind.rootName) {
    throw xmlErrorFrom(ErrorDomain.XML, `expecting root element of '${kind.rootName}', not '${root.name}'`);
  }
  return root;
}

/**
 * Counts start tags and attributes (each '<' not followed by '/', and each '='), stopping once
 * past `limit`. An over-estimate (an '=' in text counts too), but linear, allocation-free and
 * far cheaper than parsing: the limit is refused before any tree is built.
 */
function countNodes(xml: string, limit: number): number {
  let count = 0;
  for (let i = xml.indexOf('<'); i >= 0 && count <= limit; i = xml.indexOf('<', i + 1)) {
    if (xml.charCodeAt(i + 1) !== 0x2f) count++;
  }
  for (let i = xml.indexOf('='); i >= 0 && count <= limit; i = xml.indexOf('=', i + 1)) count++;
  return count;
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const LENIENT_UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * Decodes a document's bytes as libvirt's parser reads them: up to the first NUL (libvirt passes
 * a C string), as strict UTF-8. Bytes that are not UTF-8 are refused, never replaced by U+FFFD
 * (which would make distinct inputs equal).
 *
 * @throws VirError VIR_ERR_XML_ERROR if there are more than {@link MAX_XML_BYTES};
 *   VIR_ERR_XML_DETAIL (35) for bytes that are not UTF-8, with libxml2's words as libvirt reports
 *   them: `SOURCE:LINE: Input is not proper UTF-8, indicate encoding !\nBytes: 0xE9 …`.
 */
export function decodeXmlBytes(bytes: Uint8Array, kind: XmlDocumentKind): string {
  const nul = bytes.indexOf(0);
  const doc = nul >= 0 ? bytes.subarray(0, nul) : bytes;
  if (doc.length > MAX_XML_BYTES) {
    throw xmlErrorFrom(
      kind.errorDomain,
      `document is too large (${doc.length} bytes, the limit is ${MAX_XML_BYTES})`,
    );
  }
  try {
    return STRICT_UTF8.decode(doc);
  } catch {
    throw notUtf8Error(doc, kind);
  }
}

/** The index of the first byte where `bytes` stop being UTF-8 (bytes.length if they never do). */
function firstBadUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] ?? 0;
    let n: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) [n, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [n, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    if (i + n >= bytes.length) return i; // truncated sequence
    let cp = b & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k] ?? 0;
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return i;
}

/** libxml2's "Input is not proper UTF-8" for `bytes`, placed as libvirt's catchXMLError does. */
function notUtf8Error(bytes: Uint8Array, kind: XmlDocumentKind): VirError {
  const bad = firstBadUtf8(bytes);
  const before = STRICT_UTF8.decode(bytes.subarray(0, bad)).replace(/\r\n?/g, '\n');
  const lineStart = before.lastIndexOf('\n') + 1;
  const line = before.split('\n').length;
  const lineEnd = bytes.indexOf(0x0a, bad);
  // The context line as a terminal would show it: the bad bytes as U+FFFD.
  const rest = LENIENT_UTF8.decode(bytes.subarray(bad, lineEnd < 0 ? bytes.length : lineEnd));
  const context = before.slice(lineStart) + rest;
  const hex = (b: number) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`;
  // libxml2 shows four bytes, or the one when fewer remain.
  const shown = bad + 4 <= bytes.length ? Array.from(bytes.subarray(bad, bad + 4)) : [bytes[bad] ?? 0];
  return syntaxErrorAt(context, line, before.length - lineStart + 1, `Input is not proper UTF-8, indicate encoding !\nBytes: ${shown.map(hex).join(' ')}`, kind);
}

/** Documents shorter than this are handed to fast-xml-parser as they are. */
const LIFT_DOCUMENT = 64 * 1024;
/** Runs of character data at least this long are lifted out of larger documents. */
const LIFT_RUN = 1024;

/**
 * Replaces long runs of character data by `\0N\0` (NUL cannot remain in a document, see
 * parseXMLDocument) and returns them. fast-xml-parser builds text one character at a time, mostly
 * garbage collection at about 150 ns a character, so a 4 MiB description held the event loop for
 * over half a second; lifted out, text costs a slice. Markup is skipped as the pre-scan skips it
 * (comments, CDATA, PIs, DOCTYPE, tags with quoted attribute values), so only real character data
 * is touched; {@link restoreLongText} puts it back before references are decoded.
 */
function liftLongText(text: string): { text: string; runs: string[] } {
  const runs: string[] = [];
  if (text.length < LIFT_DOCUMENT) return { text, runs };
  const parts: string[] = [];
  let last = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const lt = text.indexOf('<', i);
    const end = lt < 0 ? n : lt;
    if (end - i >= LIFT_RUN) {
      parts.push(text.slice(last, i), `\0${runs.length}\0`);
      runs.push(text.slice(i, end));
      last = end;
    }
    if (lt < 0) break;
    if (text.startsWith('<!--', lt)) i = afterToken(text, '-->', lt + 4);
    else if (text.startsWith('<![CDATA[', lt)) i = afterToken(text, ']]>', lt + 9);
    else if (text.startsWith('<?', lt)) i = afterToken(text, '?>', lt + 2);
    else if (text.startsWith('<!DOCTYPE', lt)) i = skipDoctype(text, lt);
    else {
      let quote: string | undefined;
      let j = lt + 1;
      for (; j < n; j++) {
        const d = text[j];
        if (quote !== undefined) {
          if (d === quote) quote = undefined;
        } else if (d === '"' || d === "'") quote = d;
        else if (d === '>') break;
      }
      i = j + 1;
    }
  }
  if (runs.length === 0) return { text, runs };
  parts.push(text.slice(last));
  return { text: parts.join(''), runs };
}

function afterToken(text: string, token: string, from: number): number {
  const at = text.indexOf(token, from);
  return at < 0 ? text.length : at + token.length;
}

/** Puts back what {@link liftLongText} lifted out of one text node. */
function restoreLongText(s: string, runs: readonly string[]): string {
  if (runs.length === 0 || !s.includes('\0')) return s;
  return s.replace(/\0(\d+)\0/g, (_, k: string) => runs[Number(k)] ?? '');
}

let parser: XMLParser | undefined;
/**
 * The one fast-xml-parser configuration tsvirt reads XML with (libvirt's documents here, vSphere's
 * SOAP answers in the ESX driver): order kept, attributes unprefixed, no value coercion, entities
 * left for the caller to decode once. Made on first use.
 */
export function xmlParser(): XMLParser {
  parser ??= new XMLParser(PARSER_OPTIONS);
  return parser;
}

const PARSER_OPTIONS: X2jOptions = {
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  // Entities are decoded here, not by the library: it leaves numeric references and unknown
  // names alone, and decoding twice would turn "&amp;lt;" into "<".
  processEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  cdataPropName: '#cdata',
  // libxml2's default nesting limit; libvirt documents are a handful of levels deep. The pre-scan
  // reports it in libxml2's words; this one guards stored documents and SOAP answers.
  maxNestedTags: MAX_XML_DEPTH,
};

/** fast-xml-parser's preserveOrder output: one-key objects plus ':@' for attributes. */
type FxpNode = Record<string, unknown>;

function asNodeList(value: unknown): FxpNode[] {
  return Array.isArray(value) ? (value as FxpNode[]) : [];
}

function toElements(nodes: FxpNode[], scope: ReadonlyMap<string, string>, runs: readonly string[]): XmlElement[] {
  const out: XmlElement[] = [];
  for (const node of nodes) {
    const name = Object.keys(node).find((k) => k !== ':@');
    if (name === undefined || name === '#text' || name === '#cdata') continue;
    out.push(toElement(name, node, scope, runs));
  }
  return out;
}

function toElement(name: string, node: FxpNode, parentScope: ReadonlyMap<string, string>, runs: readonly string[]): XmlElement {
  const rawAttrs = (node[':@'] ?? {}) as Record<string, unknown>;
  const attrs: Record<string, string> = Object.create(null) as Record<string, string>;
  let scope = parentScope;
  for (const [key, raw] of Object.entries(rawAttrs)) {
    // XML 1.0 §3.3.3: literal whitespace in attribute values becomes a space; references
    // such as &#10; survive, as they are decoded after.
    const value = decodeReferences(String(raw).replace(/[\t\n]/g, ' '));
    attrs[key] = value;
    if (key === 'xmlns' || key.startsWith('xmlns:')) {
      if (scope === parentScope) scope = new Map(parentScope);
      (scope as Map<string, string>).set(key === 'xmlns' ? '' : key.slice(6), value);
    }
  }
  const colon = name.indexOf(':');
  const prefix = colon >= 0 ? name.slice(0, colon) : '';
  const localName = colon >= 0 ? name.slice(colon + 1) : name;
  const uri = scope.get(prefix);
  let text = '';
  const childNodes = asNodeList(node[name]);
  for (const child of childNodes) {
    if (typeof child['#text'] === 'string') text += decodeReferences(restoreLongText(child['#text'], runs));
    else if (child['#cdata'] !== undefined) {
      for (const part of asNodeList(child['#cdata'])) {
        if (typeof part['#text'] === 'string') text += part['#text'];
      }
    }
  }
  const children = toElements(childNodes, scope, runs);
  // Between child elements, whitespace is indentation, not content (libvirt's formatter rewrites it).
  if (children.length > 0 && text !== '' && BLANK.test(text)) text = '';
  return {
    name,
    localName,
    namespaceURI: uri === undefined || uri === '' ? undefined : uri,
    attrs,
    children,
    text,
  };
}

const BLANK = /^[ \t\n]*$/;

const PREDEFINED_ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  apos: "'",
  quot: '"',
};

/**
 * Decodes the five predefined entities and character references (for libvirt's documents,
 * validated by the pre-scan first; the ESX driver's SOAP answers use it as they come).
 *
 * @throws VirError VIR_ERR_XML_ERROR (from VIR_FROM_XML) for a character reference to a
 *   character XML does not allow, in libxml2's words (`xmlParseCharRef: …`).
 */
export function decodeReferences(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z_][\w.-]*);/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const cp = charRefValue(ref);
      const problem = charRefProblem(cp);
      if (problem !== undefined) throw xmlErrorFrom(ErrorDomain.XML, problem);
      return String.fromCodePoint(cp);
    }
    return PREDEFINED_ENTITIES[ref] ?? whole;
  });
}

/** The value of `#xHEX` or `#DEC`; Infinity when it has too many digits to matter. */
function charRefValue(ref: string): number {
  const hex = ref.startsWith('#x');
  const digits = ref.slice(hex ? 2 : 1).replace(/^0+(?=.)/, '');
  if (digits.length > 8) return Infinity;
  return parseInt(digits, hex ? 16 : 10);
}

/** libxml2's complaint about a character reference to `cp`, or undefined when XML allows it. */
function charRefProblem(cp: number): string | undefined {
  if (cp > 0x10ffff) return 'xmlParseCharRef: character reference out of bounds';
  if (!isXmlChar(cp)) return `xmlParseCharRef: invalid xmlChar value ${cp}`;
  return undefined;
}

/** A character XML 1.0 allows (§2.2). */
function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

// Characters XML forbids, lone surrogates included (a JS string can hold them).
const FORBIDDEN_CHAR =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Finds the first well-formedness problem, combining fast-xml-parser's validator with a scan
 * for what the validator accepts but libxml2 does not. Whichever is first in the document is
 * reported, as libxml2 would stop at the first.
 */
function findSyntaxProblem(text: string): SyntaxProblem | undefined {
  const lines = lineStarts(text);
  const scanned = scanDocument(text, lines);
  const result = XMLValidator.validate(text);
  const validated = result === true ? undefined : fromValidator(text, lines, result.err);
  if (scanned === undefined) return validated;
  if (validated === undefined) return scanned;
  const before =
    scanned.line < validated.line || (scanned.line === validated.line && scanned.col <= validated.col);
  return before ? scanned : validated;
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function positionOf(lines: readonly number[], index: number): { line: number; col: number } {
  let lo = 0;
  let hi = lines.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((lines[mid] ?? 0) <= index) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: index - (lines[lo] ?? 0) + 1 };
}

/**
 * Restates fast-xml-parser's findings in libxml2's words where there is an obvious match,
 * and moves the position to where libxml2's cursor would be (after the offending token),
 * since libvirt's caret shows that cursor.
 */
function fromValidator(
  text: string,
  lines: readonly number[],
  err: { code: string; msg: string; line: number; col?: number },
): SyntaxProblem {
  const col = err.col ?? 1;
  const index = (lines[err.line - 1] ?? 0) + col - 1;
  const after = (i: number, message: string): SyntaxProblem => ({ ...positionOf(lines, i), message });
  const afterTag = (message: string): SyntaxProblem => {
    const gt = text.indexOf('>', index);
    return after(gt < 0 ? text.length : gt + 1, message);
  };

  let m = /^Expected closing tag '(.+)' \(opened in line (\d+), col \d+\) instead of closing tag '(.+)'\.$/.exec(
    err.msg,
  );
  if (m) return afterTag(`Opening and ending tag mismatch: ${m[1]} line ${m[2]} and ${m[3]}`);
  // Several tags left open at the end of the input: the pre-scan names the innermost, at the end.
  if (/^Invalid '\[[\s\S]*\]' found\.?$/.test(err.msg)) return after(text.length, 'Premature end of data');
  m = /^Unclosed tag '(.+)'\.$/.exec(err.msg);
  // libxml2 notices at the end of the input, and names where the tag was opened.
  if (m) return after(text.length, `Premature end of data in tag ${m[1]} line ${err.line}`);
  m = /^Attribute '(.+)' is repeated\.$/.exec(err.msg);
  if (m) {
    const v = /^[^=]*=\s*(?:'[^']*'|"[^"]*")?/.exec(text.slice(index));
    return after(index + (v?.[0].length ?? 0), `Attribute ${m[1]} redefined`);
  }
  m = /^Attribute '(.+)' is without value\.$/.exec(err.msg);
  if (m) {
    const eq = /^[^\s=/>]*\s*=\s*/.exec(text.slice(index));
    if (eq) return after(index + eq[0].length, `AttValue: " or ' expected`);
    return after(index + (m[1]?.length ?? 0), `Specification mandates value for attribute ${m[1]}`);
  }
  if (/^Closing tag '.+' (doesn't have proper closing|can't have attributes or invalid starting)\.$/.test(err.msg)) {
    // libxml2 reads the end tag's name, skips blanks, and wants '>' where its cursor stands.
    const open = text.lastIndexOf('</', Math.min(index, text.length - 1));
    const tag = /^<\/[^\s>]*\s*/.exec(text.slice(Math.max(open, 0)));
    if (open >= 0 && tag) return after(open + tag[0].length, "expected '>'");
  }
  if (/^Invalid space after '<'|is an invalid name\.$/.test(err.msg)) {
    return { line: err.line, col, message: 'StartTag: invalid element name' };
  }
  if (err.msg.startsWith('Start tag expected')) {
    const ws = /^\s*/.exec(text)?.[0].length ?? 0;
    return after(ws, "Start tag expected, '<' not found");
  }
  return { line: err.line, col, message: err.msg.replace(/\.$/, '') };
}

/**
 * The pre-scan: walks markup and character data once, tracking element depth, and reports
 * the first problem libxml2 would and fast-xml-parser's validator does not.
 */
function scanDocument(text: string, lines: readonly number[]): SyntaxProblem | undefined {
  const at = (index: number, message: string): SyntaxProblem => ({ ...positionOf(lines, index), message });

  if (text.length === 0) return { line: 1, col: 1, message: 'Document is empty' };
  const bad = FORBIDDEN_CHAR.exec(text);
  const badIndex = bad === null ? Infinity : bad.index;
  const badProblem = (): SyntaxProblem =>
    at(badIndex, `PCDATA invalid Char value ${text.codePointAt(badIndex) ?? 0}`);

  // Open elements, innermost last: libxml2 names the innermost when the input ends early.
  const open: { name: string; index: number }[] = [];
  let rootSeen = false;
  let rootClosed = false;
  let i = 0;
  const n = text.length;
  while (i < n) {
    if (i >= badIndex) return badProblem();
    const c = text[i];
    if (c === '<') {
      if (text.startsWith('<!--', i)) {
        const end = text.indexOf('-->', i + 4);
        if (end < 0) return at(n, 'Comment not terminated');
        i = end + 3;
        continue;
      }
      if (text.startsWith('<![CDATA[', i)) {
        if (open.length === 0) return at(i, rootClosed ? 'Extra content at the end of the document' : "Start tag expected, '<' not found");
        const end = text.indexOf(']]>', i + 9);
        if (end < 0) return at(n, 'CData section not finished');
        i = end + 3;
        continue;
      }
      if (text.startsWith('<?', i)) {
        const end = text.indexOf('?>', i + 2);
        if (end < 0) return at(i, 'ParsePI: PI xml space expected');
        i = end + 2;
        continue;
      }
      if (text.startsWith('<!DOCTYPE', i)) {
        if (rootSeen) return at(i, 'Extra content at the end of the document');
        i = skipDoctype(text, i);
        continue;
      }
      if (text.startsWith('</', i)) {
        const end = text.indexOf('>', i);
        if (end < 0) return at(n, "expected '>'");
        // A mismatched end tag is the validator's to report; this only tracks nesting.
        open.pop();
        if (open.length === 0) rootClosed = true;
        i = end + 1;
        continue;
      }
      // A start tag.
      if (rootClosed) return at(i, 'Extra content at the end of the document');
      rootSeen = true;
      let j = i + 1;
      let quote: string | undefined;
      for (; j < n; j++) {
        if (j >= badIndex) return badProblem();
        const d = text[j];
        if (quote !== undefined) {
          if (d === quote) quote = undefined;
          else if (d === '<') return at(j, "Unescaped '<' not allowed in attributes values");
          else if (d === '&') {
            const p = checkReference(text, j);
            if (p !== undefined) return at(j + p.length, p.message);
          }
        } else if (d === '"' || d === "'") quote = d;
        else if (d === '>') break;
      }
      const name = /^<([^\s/>]*)/.exec(text.slice(i, i + 256))?.[1] ?? '';
      if (j >= n) return at(n, `Couldn't find end of Start Tag ${name} line ${positionOf(lines, i).line}`);
      if (text[j - 1] === '/') {
        if (open.length === 0) rootClosed = true;
      } else {
        open.push({ name, index: i });
        if (open.length > MAX_XML_DEPTH) {
          return at(j + 1, `Excessive depth in document: ${MAX_XML_DEPTH} use XML_PARSE_HUGE option`);
        }
      }
      i = j + 1;
      continue;
    }
    if (open.length === 0) {
      if (c !== ' ' && c !== '\t' && c !== '\n') {
        return at(i, rootClosed ? 'Extra content at the end of the document' : "Start tag expected, '<' not found");
      }
      i++;
    } else if (c === '&') {
      const p = checkReference(text, i);
      if (p !== undefined) return at(i + p.length, p.message);
      i++;
    } else {
      // Character data: skip to the next markup or reference in one step.
      MARKUP.lastIndex = i;
      const next = MARKUP.exec(text);
      i = next === null ? n : next.index;
    }
  }
  if (badIndex < n) return badProblem();
  if (!rootSeen) return at(n, "Start tag expected, '<' not found");
  const inner = open[open.length - 1];
  if (inner !== undefined) {
    return at(n, `Premature end of data in tag ${inner.name} line ${positionOf(lines, inner.index).line}`);
  }
  return undefined;
}

const MARKUP = /[<&]/g;

/** Skips `<!DOCTYPE …>`, internal subset and quoted literals included. */
function skipDoctype(text: string, start: number): number {
  let bracket = 0;
  let quote: string | undefined;
  for (let j = start + 9; j < text.length; j++) {
    const d = text[j];
    if (quote !== undefined) {
      if (d === quote) quote = undefined;
    } else if (d === '"' || d === "'") quote = d;
    else if (d === '[') bracket++;
    else if (d === ']') bracket--;
    else if (d === '>' && bracket <= 0) return j + 1;
  }
  return text.length;
}

/**
 * Checks the reference starting with '&' at `index`. Only the predefined entities and
 * character references are accepted: entities declared in a DTD are not supported.
 * Returns libxml2's wording for a problem and how much of the input libxml2 would have read
 * by then, or undefined.
 */
function checkReference(text: string, index: number): { message: string; length: number } | undefined {
  const m = /^&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z_:][\w.:-]*)?(;)?/.exec(text.slice(index, index + 64));
  const ref = m?.[1];
  const length = m?.[0].length ?? 1;
  if (ref === undefined) return { message: 'xmlParseEntityRef: no name', length };
  if (m?.[2] === undefined) return { message: "EntityRef: expecting ';'", length };
  if (ref.startsWith('#')) {
    const problem = charRefProblem(charRefValue(ref));
    return problem === undefined ? undefined : { message: problem, length };
  }
  if (PREDEFINED_ENTITIES[ref] === undefined) return { message: `Entity '${ref}' not defined`, length };
  return undefined;
}

/** Formats a well-formedness problem as libvirt's catchXMLError does. */
function syntaxError(text: string, problem: SyntaxProblem, kind: XmlDocumentKind): VirError {
  // libvirt prints "(null)" for the context of an empty document; keep its output.
  const context = text.length === 0 ? '(null)' : (text.split('\n')[problem.line - 1] ?? '');
  return syntaxErrorAt(context, problem.line, problem.col, problem.message, kind);
}

/** catchXMLError's layout: `SOURCE:LINE: what`, the line, and a caret under column `col`. */
function syntaxErrorAt(context: string, line: number, col: number, what: string, kind: XmlDocumentKind): VirError {
  let pointer = '';
  const width = Math.min(col - 1, context.length);
  for (let k = 0; k < width; k++) pointer += context[k] === '\t' ? '\t' : '-';
  pointer += '^';
  const message = `${kind.sourceName}:${line}: ${what}\n${context}\n${pointer}`;
  return new VirError({
    code: ErrorNumber.XML_DETAIL,
    domain: kind.errorDomain,
    message: formatErrorMessage(ErrorNumber.XML_DETAIL, message),
    str1: message,
    int1: line,
    int2: col,
  });
}

// ---------------------------------------------------------------------------------------------
// Walking helpers. Like libvirt's XPath lookups ("./name"), these match only elements in no
// namespace: extension elements (test:runstate) are found by namespace URI instead.

/** The first child element `name` in no namespace, if any. */
export function childElement(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name && c.namespaceURI === undefined);
}

/** All child elements `name` in no namespace, in document order. */
export function childElements(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name && c.namespaceURI === undefined);
}

/** The child elements in namespace `uri`, whatever prefix the document gave it. */
export function namespacedChildren(el: XmlElement, uri: string): XmlElement[] {
  return el.children.filter((c) => c.namespaceURI === uri);
}

/**
 * The text of the first child `name`, or undefined when the element is absent or empty:
 * libvirt's virXPathString("string(./name[1])") returns NULL for both.
 */
export function childText(el: XmlElement, name: string): string | undefined {
  const c = childElement(el, name);
  return c === undefined || c.text === '' ? undefined : c.text;
}

/** An attribute's value, or undefined when absent. */
export function attr(el: XmlElement, name: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(el.attrs, name) ? el.attrs[name] : undefined;
}

// ---------------------------------------------------------------------------------------------
// What the model does not interpret, kept whole

/**
 * An unmodelled child element, kept verbatim, with where it stood: after the `index`-th (0-based)
 * modelled sibling named `after` (the last modelled sibling before it in the document), or first
 * when `after` is null.
 */
export interface XmlKeptChild {
  readonly after: string | null;
  readonly index: number;
  readonly el: XmlElement;
  /**
   * The element has a modelled name but a form the model cannot represent (a disk on the network,
   * say): written back even where the formatter writes modelled elements of the same name.
   */
  readonly whole?: boolean;
}

/**
 * The parts of one parsed element that the model does not interpret: attributes and child
 * elements, kept to be written back verbatim, at their places, by {@link XmlWriter.element}.
 */
export interface XmlRest {
  /** Unmodelled attributes, in document order. */
  readonly attrs?: ReadonlyArray<readonly [string, string]>;
  /** Unmodelled child elements, in document order. */
  readonly children?: readonly XmlKeptChild[];
}

/**
 * Collects what `el` holds beyond `knownAttrs` and the children `isKnown` accepts; undefined when
 * nothing. Children that `demoted` lists are kept whole although their name is modelled.
 */
export function restOf(
  el: XmlElement,
  knownAttrs: readonly string[],
  isKnown: (child: XmlElement) => boolean,
  demoted?: ReadonlySet<XmlElement>,
): XmlRest | undefined {
  let attrs: [string, string][] | undefined;
  for (const name in el.attrs) {
    if (!knownAttrs.includes(name)) (attrs ??= []).push([name, el.attrs[name] ?? '']);
  }
  let children: XmlKeptChild[] | undefined;
  if (el.children.length > 0) {
    let after: string | null = null;
    let index = 0;
    let counts: Map<string, number> | undefined;
    for (const c of el.children) {
      const whole = demoted?.has(c) === true;
      if (!whole && isKnown(c)) {
        counts ??= new Map();
        const n = counts.get(c.name) ?? 0;
        counts.set(c.name, n + 1);
        after = c.name;
        index = n;
      } else {
        (children ??= []).push(whole ? { after, index, el: c, whole } : { after, index, el: c });
      }
    }
  }
  if (attrs === undefined && children === undefined) return undefined;
  const rest: { attrs?: [string, string][]; children?: XmlKeptChild[] } = {};
  if (attrs !== undefined) rest.attrs = attrs;
  if (children !== undefined) rest.children = children;
  return rest;
}

/** A predicate for {@link restOf}: children in no namespace whose name is in `names`. */
export function knownNames(names: readonly string[]): (child: XmlElement) => boolean {
  return (c) => c.namespaceURI === undefined && names.includes(c.name);
}

/** Joins two rests (attributes and children of both); undefined when both are. */
export function joinRest(a: XmlRest | undefined, b: XmlRest | undefined): XmlRest | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const attrs = [...(a.attrs ?? []), ...(b.attrs ?? [])];
  const children = [...(a.children ?? []), ...(b.children ?? [])];
  const out: { attrs?: (readonly [string, string])[]; children?: XmlKeptChild[] } = {};
  if (attrs.length > 0) out.attrs = attrs;
  if (children.length > 0) out.children = children;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** Attributes to write, in order; undefined values are skipped (libvirt's "%s if set"). */
export type XmlAttrList = ReadonlyArray<readonly [name: string, value: string | number | undefined]>;

/**
 * Escapes text or an attribute value as libvirt's virBufferEscapeString: & < > ' " become
 * entities and other control characters, which XML 1.0 cannot carry, are dropped. Unlike
 * libvirt, tab, newline and carriage return are written as character references where a
 * parser would otherwise change them (in attributes, and \r anywhere), so values round-trip.
 */
export function escapeXml(value: string, inAttribute = false): string {
  // Most values need nothing: one scan instead of a copy character by character.
  if (!NEEDS_ESCAPE.test(value)) return value;
  let out = '';
  for (const ch of value) {
    switch (ch) {
      case '&':
        out += '&amp;';
        break;
      case '<':
        out += '&lt;';
        break;
      case '>':
        out += '&gt;';
        break;
      case "'":
        out += '&apos;';
        break;
      case '"':
        out += '&quot;';
        break;
      case '\r':
        out += '&#13;';
        break;
      case '\n':
        out += inAttribute ? '&#10;' : '\n';
        break;
      case '\t':
        out += inAttribute ? '&#9;' : '\t';
        break;
      default:
        if (isXmlChar(ch.codePointAt(0) ?? 0)) out += ch;
    }
  }
  return out;
}

// Anything escapeXml changes: markup characters, control characters (tab and newline included, for
// attributes), and what XML 1.0 forbids (U+FFFE, U+FFFF, lone surrogates; a pair is let through slowly).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NEEDS_ESCAPE = /[&<>'"\x00-\x1f\ufffe\uffff\ud800-\udfff]/;

function formatAttrs(attrs: XmlAttrList | undefined): string {
  let out = '';
  for (const [name, value] of attrs ?? []) {
    if (value === undefined) continue;
    out += ` ${name}='${escapeXml(String(value), true)}'`;
  }
  return out;
}

const INDENT = Array.from({ length: 16 }, (_, i) => '  '.repeat(i));

/**
 * Writes XML the way libvirt's virBuffer code does: one element per line, two spaces per
 * level, every line ending in a newline.
 */
export class XmlWriter {
  private readonly parts: string[] = [];
  private depth: number;
  /** Top-level elements written so far (for {@link element}'s kept children): name and first part. */
  private marks: { name: string; part: number }[] | undefined;

  /** @param depth indentation level to start at (for documents embedded in another). */
  constructor(depth = 0) {
    this.depth = depth;
  }

  private line(s: string): void {
    this.parts.push(`${INDENT[this.depth] ?? '  '.repeat(this.depth)}${s}\n`);
  }

  /** Notes that an element `name` starts at the next part, when writing at the base depth. */
  private mark(name: string): void {
    if (this.marks !== undefined && this.depth === this.baseDepth) this.marks.push({ name, part: this.parts.length });
  }

  private baseDepth = 0;

  /** `<name attrs/>` */
  empty(name: string, attrs?: XmlAttrList): this {
    this.mark(name);
    this.line(`<${name}${formatAttrs(attrs)}/>`);
    return this;
  }

  /** `<name attrs>text</name>`; skipped when text is undefined. */
  text(name: string, text: string | number | undefined, attrs?: XmlAttrList): this {
    if (text === undefined) return this;
    this.mark(name);
    this.line(`<${name}${formatAttrs(attrs)}>${escapeXml(String(text))}</${name}>`);
    return this;
  }

  /** `<name attrs>` and one level deeper. */
  open(name: string, attrs?: XmlAttrList): this {
    this.mark(name);
    this.line(`<${name}${formatAttrs(attrs)}>`);
    this.depth++;
    return this;
  }

  /** One level up and `</name>`. */
  close(name: string): this {
    this.depth--;
    this.line(`</${name}>`);
    return this;
  }

  /**
   * An element with children written by `body`, or `<name attrs/>` when `body` writes
   * nothing (unless `collapse` is false): libvirt's virXMLFormatElement. `rest`: what the
   * element held beyond the model, written back in place (attributes after the model's).
   */
  element(name: string, attrs: XmlAttrList | undefined, body: (w: XmlWriter) => void, rest?: XmlRest, collapse = true): this {
    const child = new XmlWriter(this.depth + 1);
    const kept = rest?.children;
    if (kept !== undefined) {
      child.marks = [];
      child.baseDepth = this.depth + 1;
    }
    body(child);
    if (kept !== undefined) child.insertKept(kept);
    const allAttrs = rest?.attrs === undefined ? attrs : [...(attrs ?? []), ...rest.attrs];
    if (child.parts.length === 0 && collapse) return this.empty(name, allAttrs);
    this.mark(name);
    this.line(`<${name}${formatAttrs(allAttrs)}>`);
    for (const p of child.parts) this.parts.push(p);
    this.line(`</${name}>`);
    return this;
  }

  /**
   * Puts kept children where they stood: after the modelled sibling they followed (or, when the
   * formatter did not write that one, after the last sibling of that name it wrote, else last).
   * A kept child whose name the formatter writes itself is skipped unless it was kept whole: the
   * element is modelled now, and the model's version is the one that counts.
   */
  private insertKept(kept: readonly XmlKeptChild[]): void {
    const marks = this.marks ?? [];
    const written = new Set(marks.map((m) => m.name));
    // Insertion point (a part index) → the kept children going there, in order.
    const at = new Map<number, XmlKeptChild[]>();
    for (const k of kept) {
      if (k.whole !== true && written.has(k.el.name)) continue;
      let point = 0;
      if (k.after !== null) {
        let seen = -1;
        let found = -1;
        for (let i = 0; i < marks.length; i++) {
          const m = marks[i] as { name: string; part: number };
          if (m.name !== k.after) continue;
          seen++;
          found = i;
          if (seen === k.index) break;
        }
        if (found >= 0) point = marks[found + 1]?.part ?? this.parts.length;
        else point = this.parts.length;
      }
      let list = at.get(point);
      if (list === undefined) at.set(point, (list = []));
      list.push(k);
    }
    if (at.size === 0) return;
    const old = this.parts.splice(0);
    const points = [...at.keys()].sort((x, y) => x - y);
    let from = 0;
    for (const point of points) {
      for (let i = from; i < point; i++) this.parts.push(old[i] as string);
      from = point;
      for (const k of at.get(point) ?? []) this.verbatim(k.el);
    }
    for (let i = from; i < old.length; i++) this.parts.push(old[i] as string);
  }

  /**
   * Writes `text` (lines already formatted, e.g. libxml2's dump of a metadata element) at the
   * current depth, as one element `name` for the placement of kept children.
   */
  preformatted(name: string, text: string): this {
    this.mark(name);
    for (const l of text.split('\n')) this.line(l);
    return this;
  }

  /** Writes a parsed element back as it was read: attributes in order, children, or its text. */
  verbatim(el: XmlElement): this {
    let attrs = '';
    for (const name in el.attrs) attrs += ` ${name}='${escapeXml(el.attrs[name] ?? '', true)}'`;
    if (el.children.length > 0) {
      this.line(`<${el.name}${attrs}>`);
      this.depth++;
      for (const c of el.children) this.verbatim(c);
      this.depth--;
      this.line(`</${el.name}>`);
    } else if (el.text !== '') {
      this.line(`<${el.name}${attrs}>${escapeXml(el.text)}</${el.name}>`);
    } else {
      this.line(`<${el.name}${attrs}/>`);
    }
    return this;
  }

  toString(): string {
    return this.parts.join('');
  }
}
