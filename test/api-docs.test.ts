/**
 * The API reference: `npm run docs` (TypeDoc) builds with no warning — every public member
 * documented, every {@link} resolved — and each public operation's TSDoc has the house shape:
 * prerequisites, effects, and the VirError codes it raises. One TypeDoc run (about 10 s of CPU)
 * writes both the HTML and the JSON model the shape is read from, into a temporary directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The parts of TypeDoc's JSON model the checks read. */
interface CommentPart {
  text: string;
}
interface Comment {
  summary: CommentPart[];
  blockTags?: { tag: string; content: CommentPart[] }[];
}
interface Reflection {
  name: string;
  kind: number;
  comment?: Comment;
  signatures?: Reflection[];
  children?: Reflection[];
}

const KIND_FUNCTION = 64;
const KIND_CLASS = 128;
const KIND_METHOD = 2048;

function text(parts: CommentPart[] | undefined): string {
  return (parts ?? []).map((p) => p.text).join('');
}

/**
 * What a public operation's comment must say: its prerequisites (or that it delegates to a
 * documented sibling, or never fails), and the errors it raises (a @throws tag, or again a
 * delegation, "never fails" or "only the common errors" of its class).
 */
function shapeProblems(owner: string, r: Reflection): string[] {
  const sig = r.signatures?.[0];
  const comment = sig?.comment ?? r.comment;
  if (comment === undefined) return [`${owner}${r.name}: no comment`];
  const summary = text(comment.summary).replace(/\s+/g, ' ');
  const delegates = /\bsame as\b|Prerequisites, effects and errors: as\b/.test(summary);
  const neverFails = /Never fails|Never throws/.test(summary);
  const problems: string[] = [];
  if (!delegates && !neverFails && !/Prerequisites/.test(summary)) {
    problems.push(`${owner}${r.name}: states no prerequisites`);
  }
  const throwsTags = (comment.blockTags ?? []).filter((t) => t.tag === '@throws');
  if (!delegates && !neverFails && !/Raises only the common errors/.test(summary) && throwsTags.length === 0) {
    problems.push(`${owner}${r.name}: names no errors (@throws)`);
  }
  for (const t of throwsTags) {
    const body = text(t.content);
    if (!/VirError/.test(body) || !/VIR_ERR_[A-Z_]+|error/.test(body)) {
      problems.push(`${owner}${r.name}: @throws without a VirError code: ${body}`);
    }
  }
  return problems;
}

test('npm run docs builds the reference with no warning, and every public operation states prerequisites, effects and errors', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'tsvirt-docs-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const json = join(out, 'api.json');
  const html = join(out, 'html');
  const { failure, output } = await new Promise<{ failure: Error | null; output: string }>((resolve) => {
    execFile(
      'npm',
      ['run', '--silent', 'docs', '--', '--out', html, '--json', json],
      { cwd: ROOT, timeout: 240_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => resolve({ failure: err, output: stdout + stderr }),
    );
  });
  assert.equal(failure, null, `npm run docs failed:\n${output}`);
  // treatWarningsAsErrors is set; this also catches a configuration that loses it.
  assert.doesNotMatch(output, /\[warning\]|\[error\]/, output);
  assert.ok(existsSync(join(html, 'classes', 'Domain.html')), 'the HTML reference has a page for Domain');

  const model = JSON.parse(readFileSync(json, 'utf8')) as Reflection;
  const top = model.children ?? [];
  const problems: string[] = [];
  let checked = 0;
  for (const name of ['connect', 'openReadOnly', 'resolveURI']) {
    const fn = top.find((r) => r.name === name && r.kind === KIND_FUNCTION);
    assert.ok(fn !== undefined, `${name} is in the reference`);
    problems.push(...shapeProblems('', fn));
    checked++;
  }
  for (const name of ['Connection', 'Domain', 'DomainSnapshot', 'Stream', 'DomainCheckpoint']) {
    const cls = top.find((r) => r.name === name && r.kind === KIND_CLASS);
    assert.ok(cls !== undefined, `${name} is in the reference`);
    for (const m of (cls.children ?? []).filter((c) => c.kind === KIND_METHOD)) {
      problems.push(...shapeProblems(`${name}.`, m));
      checked++;
    }
  }
  assert.deepEqual(problems, []);
  // The three classes have some 70 public methods; a model that lost them must not pass.
  assert.ok(checked > 60, `only ${checked} operations found in the model`);

  // Internals stay out of the reference.
  const connection = top.find((r) => r.name === 'Connection');
  assert.equal(connection?.children?.some((c) => c.name === 'driverFor' || c.name === 'writableDriver'), false);
});
