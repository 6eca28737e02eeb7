/**
 * tsvirt: the virsh-compatible command line of tsvirt.
 *
 *   tsvirt [options]... [<command_string>]
 *   tsvirt [options]... <command> [args...]
 *
 * Options are virsh's (-c URI, -r, -q, -t, -d NUM, -l FILE, -e, -k, -K, -h, -v, -V); one
 * argument is a command string (`;`-separated commands, quotes), several are one command;
 * none reads commands from standard input (or a terminal, interactively). Nothing is loaded
 * beyond what the command needs: the public API on first connection, each command group's
 * code when one of its commands runs.
 */
import { readFileSync, realpathSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ctl, Level, type Streams } from './context.js';
import { parseCommandArgv, parseCommandString, type ParsedCommand } from './parser.js';

/** The exit status of a run: 0 when the last command succeeded, 1 otherwise (virsh's). */
export type ExitStatus = 0 | 1;

/** Options of {@link main}, for running tsvirt inside another program or a test. */
export interface MainOptions {
  streams?: Streams;
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
}

interface LongOpt {
  name: string;
  arg: 'none' | 'required' | 'optional';
  val: string;
}

const LONG_OPTS: readonly LongOpt[] = [
  { name: 'connect', arg: 'required', val: 'c' },
  { name: 'debug', arg: 'required', val: 'd' },
  { name: 'escape', arg: 'required', val: 'e' },
  { name: 'help', arg: 'none', val: 'h' },
  { name: 'keepalive-interval', arg: 'required', val: 'k' },
  { name: 'keepalive-count', arg: 'required', val: 'K' },
  { name: 'log', arg: 'required', val: 'l' },
  { name: 'quiet', arg: 'none', val: 'q' },
  { name: 'readonly', arg: 'none', val: 'r' },
  { name: 'timing', arg: 'none', val: 't' },
  { name: 'version', arg: 'optional', val: 'v' },
];
const SHORT_WITH_ARG = new Set(['c', 'd', 'e', 'k', 'K', 'l']);
const SHORT_FLAGS = new Set(['h', 'q', 'r', 't', 'v', 'V']);

/** What the top-level options asked for. */
type TopLevel = { kind: 'run'; rest: string[] } | { kind: 'exit'; status: ExitStatus };

/** getopt_long("+:c:d:e:hk:K:l:qrtvV") as virsh uses it: options stop at the first command word. */
async function parseTopLevel(ctl: Ctl, args: readonly string[]): Promise<TopLevel> {
  let i = 0;
  const handle = async (opt: string, optarg: string | undefined, long: boolean): Promise<TopLevel | null> => {
    switch (opt) {
      case 'c':
        ctl.connname = optarg;
        return null;
      case 'd': {
        const n = /^\s*[+-]?\d+$/.test(optarg ?? '') ? Number(optarg) : NaN;
        if (!Number.isSafeInteger(n) || Math.abs(n) > 2147483647) {
          ctl.error(`option ${long ? '--debug' : '-d'} takes a numeric argument`);
          return { kind: 'exit', status: 1 };
        }
        if (n < 0 || n > 4) ctl.error(`ignoring debug level ${n} out of range [0-4]`);
        else ctl.debug = n;
        return null;
      }
      case 'e': {
        const s = optarg ?? '';
        const ok = (s.length === 2 && s[0] === '^' && /^[a-z@-_]$/.test(s[1])) || (s.length === 1 && s !== '^');
        if (!ok) {
          ctl.error(`Invalid string '${s}' for escape sequence`);
          return { kind: 'exit', status: 1 };
        }
        ctl.escapeChar = s;
        return null;
      }
      case 'h':
        (await import('./cmd-shell.js')).printUsage(ctl);
        return { kind: 'exit', status: 0 };
      case 'k':
      case 'K': {
        const name = long ? (opt === 'k' ? '--keepalive-interval' : '--keepalive-count') : `-${opt}`;
        const s = (optarg ?? '').trim();
        const n = /^[+-]?(0x[0-9a-f]+|0[0-7]*|[1-9]\d*)$/i.test(s) ? Number.parseInt(s, s.toLowerCase().includes('0x') ? 16 : /^[+-]?0\d/.test(s) ? 8 : 10) : NaN;
        if (!Number.isSafeInteger(n)) {
          ctl.error(`Invalid value for option ${name}`);
          return { kind: 'exit', status: 1 };
        }
        if (n < 0) {
          ctl.error(`option ${name} requires a positive integer argument`);
          return { kind: 'exit', status: 1 };
        }
        return null; // keepalive applies to remote connections only
      }
      case 'l':
        if (!ctl.openLog(optarg ?? '')) return { kind: 'exit', status: 1 };
        return null;
      case 'q':
        ctl.quiet = true;
        return null;
      case 't':
        ctl.timing = true;
        return null;
      case 'r':
        ctl.readonly = true;
        return null;
      case 'v':
        if (optarg !== 'long') {
          ctl.print(`${packageVersion()}\n`);
          return { kind: 'exit', status: 0 };
        }
        (await import('./cmd-shell.js')).printLongVersion(ctl, packageVersion());
        return { kind: 'exit', status: 0 };
      case 'V':
        (await import('./cmd-shell.js')).printLongVersion(ctl, packageVersion());
        return { kind: 'exit', status: 0 };
    }
    ctl.error('unknown option');
    return { kind: 'exit', status: 1 };
  };

  while (i < args.length) {
    const a = args[i];
    if (a === '--') {
      i++;
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const exact = LONG_OPTS.find((o) => o.name === name);
      const prefixed = LONG_OPTS.filter((o) => o.name.startsWith(name));
      const opt = exact ?? (prefixed.length === 1 ? prefixed[0] : undefined);
      i++;
      if (opt === undefined) {
        ctl.error(`unsupported option '${a}'. See --help.`);
        return { kind: 'exit', status: 1 };
      }
      let optarg: string | undefined;
      if (eq >= 0) {
        if (opt.arg === 'none') {
          // getopt_long reports a value given to a flag by the flag's short name.
          ctl.error(`unsupported option '-${opt.val}'. See --help.`);
          return { kind: 'exit', status: 1 };
        }
        optarg = a.slice(eq + 1);
      } else if (opt.arg === 'required') {
        if (i >= args.length) {
          ctl.error(`option '-${opt.val}'/'--${opt.name}' requires an argument`);
          return { kind: 'exit', status: 1 };
        }
        optarg = args[i++];
      }
      const r = await handle(opt.val, optarg, true);
      if (r !== null) return r;
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      i++;
      for (let j = 1; j < a.length; j++) {
        const c = a[j];
        if (SHORT_WITH_ARG.has(c)) {
          let optarg: string;
          if (j + 1 < a.length) optarg = a.slice(j + 1);
          else if (i < args.length) optarg = args[i++];
          else {
            const long = LONG_OPTS.find((o) => o.val === c);
            ctl.error(long !== undefined ? `option '-${c}'/'--${long.name}' requires an argument` : `option '-${c}' requires an argument`);
            return { kind: 'exit', status: 1 };
          }
          const r = await handle(c, optarg, false);
          if (r !== null) return r;
          break;
        }
        if (!SHORT_FLAGS.has(c)) {
          ctl.error(`unsupported option '-${c}'. See --help.`);
          return { kind: 'exit', status: 1 };
        }
        const r = await handle(c, undefined, false);
        if (r !== null) return r;
      }
      continue;
    }
    break;
  }
  return { kind: 'run', rest: args.slice(i) };
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * A writer to standard output or error that writes the descriptor synchronously, as virsh's stdio
 * does. Touching process.stdout would load Node's stream machinery (a few ms of start-up) for
 * writes that are synchronous on Linux anyway. A non-blocking descriptor that is full (EAGAIN)
 * hands this and every later write to the stream, so order holds; a closed pipe (EPIPE, as in
 * `tsvirt ... | head`) ends the program quietly.
 */
function fdWriter(fd: 1 | 2): (s: string | Buffer) => void {
  let stream: NodeJS.WriteStream | null = null;
  return (s) => {
    if (stream !== null) {
      stream.write(s);
      return;
    }
    const buf = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(fd, buf, off);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          stream = fd === 1 ? process.stdout : process.stderr;
          stream.write(buf.subarray(off));
          return;
        }
        if (code === 'EPIPE') process.exit(process.exitCode ?? 0);
        throw err;
      }
    }
  };
}

/** Runs tsvirt with `args` (without the program name) and returns its exit status. */
export async function main(args: readonly string[], options: MainOptions = {}): Promise<ExitStatus> {
  let streams: Streams;
  if (options.streams !== undefined) {
    streams = options.streams;
  } else {
    const stdout = fdWriter(1);
    streams = { stdout, stderr: fdWriter(2), stdoutBytes: stdout };
  }
  const env = options.env ?? process.env;
  const ctl = new Ctl(streams);
  ctl.stdin = options.stdin;
  try {
    // TSVIRT_DEBUG and TSVIRT_LOG_FILE, as virsh reads VIRSH_DEBUG and VIRSH_LOG_FILE.
    const debugEnv = env.TSVIRT_DEBUG;
    if (debugEnv !== undefined) {
      const n = /^\s*[+-]?\d+$/.test(debugEnv) ? Number(debugEnv) : NaN;
      if (Number.isInteger(n) && n >= 0 && n <= 4) ctl.debug = n;
      else ctl.error('TSVIRT_DEBUG not set with a valid numeric value');
    }
    const top = await parseTopLevel(ctl, args);
    if (top.kind === 'exit') return top.status;
    if (ctl.logFile === null && env.TSVIRT_LOG_FILE !== undefined && env.TSVIRT_LOG_FILE !== '') {
      if (!ctl.openLog(env.TSVIRT_LOG_FILE)) return 1;
    }

    let commands: ParsedCommand[] | null = null;
    if (top.rest.length === 0) {
      ctl.imode = true;
    } else {
      if (top.rest.length === 1 && top.rest[0] === '') return 1;
      if (top.rest.length === 1) ctl.debugMsg(Level.INFO, `commands: "${top.rest[0]}"\n`);
      const parsed = top.rest.length === 1 ? parseCommandString(top.rest[0]) : parseCommandArgv(top.rest);
      if (!parsed.ok) {
        for (const e of parsed.errors) ctl.error(e);
        return 1;
      }
      commands = parsed.commands;
      ctl.debugParsed(commands);
    }

    // virshInit: a URI named with -c is connected to at once (and must work); the default
    // one only when a command needs it.
    if (ctl.connname !== undefined) {
      if (!(await ctl.reconnect(null, false))) {
        ctl.reportError();
        return 1;
      }
    }

    const { runCommands, commandLoop } = await import('./run.js');
    if (commands !== null) {
      return (await runCommands(ctl, commands)) ? 0 : 1;
    }
    await commandLoop(ctl, options.stdin ?? process.stdin);
    return 0;
  } finally {
    await ctl.close();
    ctl.flush();
  }
}

/** True when this module is the program being run (not imported, nor bundled into a loader). */
function isEntryPoint(): boolean {
  const argv1 = process.argv[1];
  if (argv1 === undefined) return false;
  try {
    // import.meta.filename (Node 20.11+, and the bundle's) spares building a URL at each start.
    return realpathSync(argv1) === realpathSync(import.meta.filename ?? fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * Runs tsvirt as this process: its arguments and standard streams, then exits with the status.
 * The bin (the bundled `tsvirt.cjs`, see scripts/build-bins.mjs) calls this.
 */
export async function runProgram(): Promise<never> {
  const status = await main(process.argv.slice(2));
  // Every write above was synchronous (see fdWriter); exiting here also ends timers a driver may
  // still hold.
  process.exit(status);
}

// No top-level await: the same module is bundled as CommonJS for the bin. A rejection still
// ends the process with the error printed, as an uncaught exception does. import.meta.main
// (Node 24.2+, and the bundle, which is never the entry: its bin is) spares two realpaths.
if ((import.meta as { main?: boolean }).main ?? isEntryPoint()) void runProgram();
