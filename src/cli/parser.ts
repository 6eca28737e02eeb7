/**
 * virsh's command-line grammar (libvirt 9.0 tools/vsh.c, vshCommandParse), written out for
 * tsvirt: `--opt value`, `--opt=value`, positional fill-in of value options in table order,
 * `--` ending options, `;` and newlines separating commands, `#` comments, single and double
 * quotes and backslash escapes in command strings, `--help` turning a command into `help CMD`.
 *
 * No general-purpose argument library fits this grammar (options are per command and filled
 * positionally by kind), so it is written by hand. Parsing never touches a connection: like
 * virsh, a whole line is parsed before any of its commands runs, and one syntax error runs none.
 */
import { findCommand, type CmdDef, type OptDef } from './defs.js';

/** One option as given on the command line. */
export interface ParsedOpt {
  readonly def: OptDef;
  /** The value; null for a boolean option. */
  readonly value: string | null;
}

/** One command ready to run. */
export interface ParsedCommand {
  readonly def: CmdDef;
  readonly opts: readonly ParsedOpt[];
}

/** The result of parsing: the commands, or the error messages virsh would print. */
export type ParseResult = { ok: true; commands: ParsedCommand[] } | { ok: false; errors: string[] };

type Token = { kind: 'arg'; value: string } | { kind: 'end' } | { kind: 'sep' } | { kind: 'error'; message: string };

/** A source of tokens: a command string (with `;`, quotes, comments) or an argv array. */
interface Tokenizer {
  next(): Token;
  /** For a comment in argv mode: skip the rest of this command. */
  readonly isString: boolean;
}

/** virsh's vshCommandStringGetArg. */
class StringTokenizer implements Tokenizer {
  readonly isString = true;
  private pos = 0;
  constructor(private readonly s: string) {}

  next(): Token {
    const s = this.s;
    let p = this.pos;
    while (s[p] === ' ' || s[p] === '\t' || (s[p] === '\\' && s[p + 1] === '\n')) p += s[p] === '\\' ? 2 : 1;
    if (p >= s.length) {
      this.pos = p;
      return { kind: 'end' };
    }
    if (s[p] === ';' || s[p] === '\n') {
      this.pos = p + 1;
      return { kind: 'sep' };
    }
    if (s[p] === '#') {
      while (p < s.length && s[p] !== '\n') p++;
      this.pos = p < s.length ? p + 1 : p;
      return { kind: 'sep' };
    }
    let out = '';
    let single = false;
    let double = false;
    while (p < s.length) {
      const c = s[p];
      if (!double && !single && (c === ' ' || c === '\t' || c === ';' || c === '\n')) break;
      if (!double && c === "'") {
        single = !single;
        p++;
        continue;
      } else if (!single && c === '\\') {
        p++;
        if (p >= s.length) return { kind: 'error', message: 'dangling \\' };
        if (s[p] === '\n') {
          p++;
          continue;
        }
      } else if (!single && c === '"') {
        double = !double;
        p++;
        continue;
      }
      out += s[p];
      p++;
    }
    if (double) return { kind: 'error', message: 'missing "' };
    this.pos = p;
    return { kind: 'arg', value: out };
  }
}

/** virsh's vshCommandArgvGetArg: every argument is one token; `;` is not special. */
class ArgvTokenizer implements Tokenizer {
  readonly isString = false;
  private i = 0;
  constructor(private readonly args: readonly string[]) {}
  next(): Token {
    if (this.i >= this.args.length) return { kind: 'end' };
    return { kind: 'arg', value: this.args[this.i++] };
  }
}

const isAlnum = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z0-9]$/.test(c);

/** Parses a command string (one argument of tsvirt, or one line of input). */
export function parseCommandString(line: string): ParseResult {
  return parse(new StringTokenizer(line));
}

/** Parses several arguments as one command (`tsvirt [options] cmd arg...`). */
export function parseCommandArgv(args: readonly string[]): ParseResult {
  return parse(new ArgvTokenizer(args));
}

function parse(tok: Tokenizer): ParseResult {
  const commands: ParsedCommand[] = [];
  const fail = (...errors: string[]): ParseResult => ({ ok: false, errors });

  for (;;) {
    let cmd: CmdDef | undefined;
    let opts: ParsedOpt[] = [];
    let dataOnly = false;
    let needArg: number[] = []; // indexes of options that can still be filled positionally
    let required: number[] = [];
    const seen = new Set<number>();
    let last: Token;

    for (;;) {
      last = tok.next();
      if (last.kind === 'error') return fail(last.message);
      if (last.kind !== 'arg') break;
      const t = last.value;

      if (cmd === undefined) {
        if (t.startsWith('#')) {
          // A comment: the rest of this command is ignored.
          let skip: Token;
          do skip = tok.next();
          while (skip.kind === 'arg');
          if (skip.kind === 'error') return fail(skip.message);
          last = skip;
          break;
        }
        cmd = findCommand(t);
        if (cmd === undefined) return fail(`unknown command: '${t}'`);
        needArg = [];
        required = [];
        cmd.opts.forEach((o, i) => {
          if (o.type === 'bool' || o.type === 'alias') return;
          if (o.reqOpt !== true) needArg.push(i);
          if (o.required === true) required.push(i);
        });
        continue;
      }

      let opt: OptDef | undefined;
      let value: string | null = null;

      if (!dataOnly && t.startsWith('--') && isAlnum(t[2])) {
        const eq = t.indexOf('=', 2);
        const name = eq >= 0 ? t.slice(2, eq) : t.slice(2);
        let optstr: string | null = eq >= 0 ? t.slice(eq + 1) : null;
        const found = lookupOption(cmd, name, optstr, seen);
        if (!found.ok) {
          if (cmd.name === 'help') continue; // help ignores spurious options
          return fail(found.error);
        }
        opt = found.def;
        optstr = found.optstr;
        const index = cmd.opts.indexOf(opt);
        if (opt.type !== 'bool') {
          if (optstr !== null) {
            value = optstr;
          } else {
            const v = tok.next();
            if (v.kind === 'error') return fail(v.message);
            if (v.kind !== 'arg') return fail(`expected syntax: --${opt.name} <${opt.type === 'int' ? 'number' : 'string'}>`);
            value = v.value;
          }
          if (opt.type !== 'argv') needArg = needArg.filter((i) => i !== index);
        } else if (optstr !== null) {
          return fail(`invalid '=' after option --${opt.name}`);
        }
      } else if (!dataOnly && t === '--') {
        dataOnly = true;
        continue;
      } else {
        // Positional data: the first option still waiting for a value.
        const index = needArg[0];
        if (index === undefined) {
          if (cmd.name === 'help') continue; // help ignores spurious data
          return fail(`unexpected data '${t}'`);
        }
        opt = cmd.opts[index];
        if (opt.type !== 'argv') needArg = needArg.slice(1);
        seen.add(index);
        value = t;
      }
      opts.push({ def: opt, value });
    }

    if (cmd !== undefined) {
      // `--help` anywhere turns the command into `help CMD`.
      if (opts.some((o) => o.def.name === 'help')) {
        const help = findCommand('help')!;
        opts = [{ def: help.opts[0], value: cmd.name }];
        cmd = help;
        required = [];
      }
      const missing = required.filter((i) => !seen.has(i));
      if (missing.length > 0) {
        return fail(
          ...missing.map((i) => {
            const o = cmd!.opts[i];
            return o.type === 'data' || o.type === 'argv'
              ? `command '${cmd!.name}' requires <${o.name}> option`
              : `command '${cmd!.name}' requires --${o.name} option`;
          }),
        );
      }
      commands.push({ def: cmd, opts });
    }
    if (last.kind === 'end') break;
  }
  return { ok: true, commands };
}

const HELP_OPT: OptDef = { name: 'help', type: 'bool', help: 'print help for this function' };

/** vshCmddefGetOption: resolves `--name` (and aliases) and rejects repeats. */
function lookupOption(
  cmd: CmdDef,
  name: string,
  optstr: string | null,
  seen: Set<number>,
): { ok: true; def: OptDef; optstr: string | null } | { ok: false; error: string } {
  if (name === 'help') return { ok: true, def: HELP_OPT, optstr };
  for (let i = 0; i < cmd.opts.length; i++) {
    const o = cmd.opts[i];
    if (o.name !== name) continue;
    if (o.type === 'alias') {
      const eq = o.help.indexOf('=');
      if (eq >= 0) {
        if (optstr !== null) return { ok: false, error: `invalid '=' after option --${o.name}` };
        optstr = o.help.slice(eq + 1);
        name = o.help.slice(0, eq);
      } else {
        name = o.help;
      }
      continue; // keep searching, for the option the alias names
    }
    if (seen.has(i) && o.type !== 'argv') return { ok: false, error: `option --${name} already seen` };
    seen.add(i);
    return { ok: true, def: o, optstr };
  }
  return { ok: false, error: `command '${cmd.name}' doesn't support option --${name}` };
}
