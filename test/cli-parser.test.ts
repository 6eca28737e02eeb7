/**
 * Unit tests of the CLI's grammar and text layout (virsh's vshCommandParse, vsh-table and
 * vshTreePrint), in process: no virsh and no driver needed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCommandArgv, parseCommandString, type ParseResult } from '../src/cli/parser.js';
import { formatTable, formatTree, stringToArray, escapeShell, escapeXML } from '../src/cli/text.js';
import { COMMANDS } from '../src/cli/defs.js';
import { snapshotFacts, localTime } from '../src/cli/cmd-snapshot.js';
import { main } from '../src/cli/main.js';

/** The commands of a parse as [name, {option: value}] pairs. */
function shape(r: ParseResult): unknown {
  if (!r.ok) return { errors: r.errors };
  return r.commands.map((c) => [c.def.name, c.opts.map((o) => [o.def.name, o.value])]);
}

describe('command strings', () => {
  test('`;` and newlines separate commands; empty commands are skipped', () => {
    assert.deepEqual(shape(parseCommandString('uri; ;hostname\nlist --all;')), [
      ['uri', []],
      ['hostname', []],
      ['list', [['all', null]]],
    ]);
  });

  test('quotes and escapes as virsh reads them', () => {
    assert.deepEqual(shape(parseCommandString(`echo 'a b' "c;d" e\\ f "g\\"h" 'i\\j'`)), [
      [
        'echo',
        [
          ['string', 'a b'],
          ['string', 'c;d'],
          ['string', 'e f'],
          ['string', 'g"h'],
          ['string', 'i\\j'],
        ],
      ],
    ]);
    assert.deepEqual(shape(parseCommandString('echo "abc')), { errors: ['missing "'] });
    assert.deepEqual(shape(parseCommandString('echo abc\\')), { errors: ['dangling \\'] });
  });

  test('a `#` word starts a comment to the end of the line', () => {
    assert.deepEqual(shape(parseCommandString('uri # hostname; list\nversion')), [
      ['uri', []],
      ['version', []],
    ]);
  });

  test('value options fill positionally in table order; --opt=value; --', () => {
    assert.deepEqual(shape(parseCommandString('snapshot-create-as web1 s1 "a description" --diskspec vda d2')), [
      [
        'snapshot-create-as',
        [
          ['domain', 'web1'],
          ['name', 's1'],
          ['description', 'a description'],
          ['diskspec', 'vda'],
          ['diskspec', 'd2'],
        ],
      ],
    ]);
    assert.deepEqual(shape(parseCommandString('domstate --domain=test --reason')), [
      [
        'domstate',
        [
          ['domain', 'test'],
          ['reason', null],
        ],
      ],
    ]);
    assert.deepEqual(shape(parseCommandString('echo -- --all -x')), [
      [
        'echo',
        [
          ['string', '--all'],
          ['string', '-x'],
        ],
      ],
    ]);
  });

  test('aliases, including one that supplies a value', () => {
    assert.deepEqual(shape(parseCommandString('echo --hi; undefine t --delete-snapshots')), [
      ['echo', [['string', 'hello']]],
      [
        'undefine',
        [
          ['domain', 't'],
          ['delete-storage-volume-snapshots', null],
        ],
      ],
    ]);
    assert.deepEqual(shape(parseCommandString('echo --hi=x')), { errors: ["invalid '=' after option --hi"] });
  });

  test("virsh's syntax errors", () => {
    const cases: [string, string[]][] = [
      ['frob', ["unknown command: 'frob'"]],
      ['list --frob', ["command 'list' doesn't support option --frob"]],
      ['list --all=1', ["invalid '=' after option --all"]],
      ['list --all --all', ['option --all already seen']],
      ['domstate', ["command 'domstate' requires <domain> option"]],
      ['domstate --domain', ['expected syntax: --domain <string>']],
      ['event --timeout', ['expected syntax: --timeout <number>']],
      ['domstate a b', ["unexpected data 'b'"]],
      ['domstate a --domain b', ['option --domain already seen']],
      ['snapshot-dumpxml', ["command 'snapshot-dumpxml' requires <domain> option", "command 'snapshot-dumpxml' requires <snapshotname> option"]],
      ['uri; frob', ["unknown command: 'frob'"]],
    ];
    for (const [line, errors] of cases) assert.deepEqual(shape(parseCommandString(line)), { errors }, line);
  });

  test('--help makes any command `help CMD`, even without its required options', () => {
    assert.deepEqual(shape(parseCommandString('undefine --help')), [['help', [['command', 'undefine']]]]);
    assert.deepEqual(shape(parseCommandString('help list --bogus extra')), [['help', [['command', 'list']]]]);
  });

  test('argv: each argument is one word and `;` is data', () => {
    assert.deepEqual(shape(parseCommandArgv(['echo', 'a b', ';', 'c'])), [
      [
        'echo',
        [
          ['string', 'a b'],
          ['string', ';'],
          ['string', 'c'],
        ],
      ],
    ]);
    assert.deepEqual(shape(parseCommandArgv(['domstate', 'test', ';', 'list'])), { errors: ["unexpected data ';'"] });
  });
});

describe('the command table', () => {
  test('names are unique and every value option is reachable', () => {
    const names = COMMANDS.map((c) => c.name);
    assert.equal(new Set(names).size, names.length);
    for (const c of COMMANDS) {
      const opts = c.opts.map((o) => o.name);
      assert.equal(new Set(opts).size, opts.length, c.name);
      for (const o of c.opts.filter((x) => x.type === 'alias')) {
        assert.ok(c.opts.some((t) => t.name === o.help.split('=')[0] && t.type !== 'alias'), `${c.name} --${o.name}`);
      }
    }
  });
});

describe('layout', () => {
  test("tables: ' cell' padded to the widest plus two, dashes of width + 3", () => {
    assert.equal(
      formatTable(['Id', 'Name', 'State'], [['1', 'test', 'running'], ['-', 'a-long-name', 'shut off']], true),
      ' Id   Name          State\n' + '------------------------------\n' + ' 1    test          running\n' + ' -    a-long-name   shut off\n',
    );
    assert.equal(formatTable(['Id', 'Name'], [['1', 'x']], false), ' 1   x\n');
    assert.equal(formatTable(['A', 'B'], [['tab\there', 'wide 漢字']], true), ' A             B\n--------------------------\n tab\\x09here   wide 漢字\n');
  });

  test('trees as vshTreePrint draws them', () => {
    const entries = [
      { name: 'a', parent: null },
      { name: 'b', parent: 'a' },
      { name: 'c', parent: 'a' },
      { name: 'd', parent: 'c' },
      { name: 'e', parent: null },
    ];
    assert.equal(formatTree(entries, 0), 'a\n  |\n  +- b\n  +- c\n      |\n      +- d\n        \n');
    assert.equal(formatTree(entries, 4), 'e\n\n');
  });

  test('comma lists, shell and XML escaping', () => {
    assert.deepEqual(stringToArray('a,,b,c'), ['a,b', 'c']);
    assert.deepEqual(stringToArray('a,'), ['a', '']);
    assert.equal(escapeShell("it's"), "'it'\\''s'");
    assert.equal(escapeShell('plain'), 'plain');
    assert.equal(escapeShell(''), "''");
    assert.equal(escapeXML(`<a href="x">&'\u0001`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
  });

  test('snapshot facts come from the snapshot, not its embedded domain', () => {
    const xml =
      "<domainsnapshot>\n  <name>s2</name>\n  <state>running</state>\n  <parent>\n    <name>s1</name>\n  </parent>\n" +
      "  <creationTime>1700000000</creationTime>\n  <memory snapshot='external' file='/m'/>\n" +
      "  <domain type='test'><name>web1</name><description>not mine</description></domain>\n</domainsnapshot>\n";
    assert.deepEqual(snapshotFacts(xml), { state: 'running', parent: 's1', creationTime: 1700000000, description: '', external: true });
    const prev = process.env.TZ;
    assert.match(localTime(0), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}$/);
    process.env.TZ = prev;
  });
});

describe('main() in process', () => {
  test('runs commands and returns the last status, with virsh separators', async () => {
    let out = '';
    let err = '';
    const status = await main(['-c', 'test:///default', 'uri; domstate nosuch; echo done'], {
      streams: { stdout: (s) => void (out += s), stderr: (s) => void (err += s) },
    });
    assert.equal(status, 0);
    assert.equal(out, 'test:///default\n\n\ndone\n');
    assert.equal(err, "error: failed to get domain 'nosuch'\n");
  });

  test('a syntax error exits 1 before connecting', async () => {
    let err = '';
    const status = await main(['-c', 'frob:///nothing', 'list --bogus'], {
      streams: { stdout: () => undefined, stderr: (s) => void (err += s) },
    });
    assert.equal(status, 1);
    assert.equal(err, "error: command 'list' doesn't support option --bogus\n");
  });
});
