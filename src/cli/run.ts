/**
 * Running parsed commands (virsh's vshCommandRun) and the command loop that reads standard
 * input or a terminal (virsh's interactive mode).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { HandlerModule } from './defs.js';
import { Cmd, CmdFailed, Ctl, isVirError, Level, type Handler } from './context.js';
import { parseCommandString, type ParsedCommand } from './parser.js';

type HandlerTable = Record<string, Handler>;

/** Handler modules, loaded on first use so that a command loads only its own code. */
const LOADERS: Record<HandlerModule, () => Promise<{ handlers: HandlerTable }>> = {
  domain: () => import('./cmd-domain.js'),
  monitor: () => import('./cmd-monitor.js'),
  host: () => import('./cmd-host.js'),
  snapshot: () => import('./cmd-snapshot.js'),
  event: () => import('./cmd-event.js'),
  transfer: () => import('./cmd-transfer.js'),
  shell: () => import('./cmd-shell.js'),
  resources: () => import('./cmd-resources.js'),
  stats: () => import('./cmd-stats.js'),
  console: () => import('./cmd-console.js'),
  checkpoint: () => import('./cmd-checkpoint.js'),
  devices: () => import('./cmd-devices.js'),
  network: () => import('./cmd-network.js'),
  storage: () => import('./cmd-storage.js'),
  misc: () => import('./cmd-misc.js'),
  migrate: () => import('./cmd-migrate.js'),
};

async function handlerFor(cmd: ParsedCommand): Promise<Handler> {
  const mod = await LOADERS[cmd.def.module]();
  const handler = mod.handlers[cmd.def.name];
  if (handler === undefined) throw new Error(`no handler for ${cmd.def.name}`);
  return handler;
}

/** Runs one command's handler; a VirError escaping it is kept as the command's error. */
async function runOne(ctl: Ctl, parsed: ParsedCommand): Promise<boolean> {
  const handler = await handlerFor(parsed);
  ctl.cmdName = parsed.def.name;
  try {
    return await handler(ctl, new Cmd(ctl, parsed));
  } catch (err) {
    if (err instanceof CmdFailed) return false;
    if (isVirError(err)) {
      ctl.lastError = err;
      return false;
    }
    ctl.error(`internal error in tsvirt: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return false;
  }
}

/** A monotonic clock in ms; process.hrtime needs no module (the global `performance` loads perf_hooks). */
function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * vshCommandRun: runs the commands in order, whatever fails; after a failure prints the kept
 * library error (and tsvirt's hints); after each command a blank line (unless -q). Returns the
 * last command's result; `quit` stops the run.
 */
export async function runCommands(ctl: Ctl, commands: readonly ParsedCommand[]): Promise<boolean> {
  let ok = true;
  for (const parsed of commands) {
    const before = nowMs();
    ctl.log(Level.INFO, `${parsed.def.name}`);
    if (parsed.def.noConnect === true || (await ctl.connection()) !== null) {
      ok = await runOne(ctl, parsed);
    } else {
      ok = false;
    }
    const after = nowMs();
    if (!ok) {
      ctl.reportError();
      ctl.reportHints();
    }
    ctl.hints = [];
    if (parsed.def.name === 'quit' || parsed.def.name === 'exit') {
      ctl.imode = false;
      ctl.flush();
      return ok;
    }
    if (ctl.timing) ctl.print(`\n(Time: ${(after - before).toFixed(3)} ms)\n\n`);
    else ctl.extra('\n');
    ctl.flush();
  }
  return ok;
}

/** Parses and runs one command string; syntax errors print and run nothing. */
export async function runLine(ctl: Ctl, line: string): Promise<boolean> {
  const parsed = parseCommandString(line);
  if (!parsed.ok) {
    for (const e of parsed.errors) ctl.error(e);
    return false;
  }
  ctl.debugParsed(parsed.commands);
  return runCommands(ctl, parsed.commands);
}

/**
 * virsh's interactive mode: a welcome, then one line at a time after a prompt until `quit` or
 * end of input. From a pipe each line is echoed after the prompt, as virsh's readline does.
 * The exit status of this mode is always success, as virsh's.
 */
export async function commandLoop(ctl: Ctl, input: NodeJS.ReadableStream & { isTTY?: boolean }): Promise<void> {
  if (!ctl.quiet) {
    ctl.print(`Welcome to ${ctl.progname}, the virtualization interactive terminal.\n\n`);
    ctl.print("Type:  'help' for help with commands\n       'quit' to quit\n\n");
  }
  const prompt = () => `${ctl.progname} ${ctl.readonly ? '>' : '#'} `;
  const tty = input.isTTY === true;

  if (tty) {
    const history = loadHistory();
    const rl = createInterface({
      input,
      output: process.stdout,
      terminal: true,
      history: history.lines,
      historySize: 500,
      removeHistoryDuplicates: false,
    });
    ctl.flush();
    // On a terminal, Ctrl-C reaches readline, not the process: it interrupts a running command
    // (event) or, at the prompt, ends the session.
    let busy = false;
    rl.on('SIGINT', () => {
      if (busy) process.emit('SIGINT');
      else rl.close();
    });
    try {
      rl.setPrompt(prompt());
      rl.prompt();
      for await (const line of rl) {
        if (line !== '') {
          history.add(line);
          busy = true;
          try {
            await runLine(ctl, line);
          } finally {
            busy = false;
          }
          if (!ctl.imode) break;
        }
        rl.setPrompt(prompt());
        rl.prompt();
      }
    } finally {
      rl.close();
      history.save();
    }
    ctl.print('\n');
    ctl.flush();
    return;
  }

  const rl = createInterface({ input, terminal: false, crlfDelay: Infinity });
  for await (const line of rl) {
    ctl.print(`${prompt()}${line}\n`);
    if (line !== '') {
      await runLine(ctl, line);
      if (!ctl.imode) break;
    }
  }
  rl.close();
  if (ctl.imode) ctl.print(prompt());
  ctl.print('\n');
  ctl.flush();
}

/** The interactive history, kept in $XDG_CACHE_HOME/tsvirt/history like virsh's. */
function loadHistory(): { lines: string[]; add(line: string): void; save(): void } {
  const base = process.env.XDG_CACHE_HOME !== undefined && process.env.XDG_CACHE_HOME !== '' ? process.env.XDG_CACHE_HOME : join(homedir(), '.cache');
  const dir = join(base, 'tsvirt');
  const file = join(dir, 'history');
  let saved: string[] = [];
  try {
    saved = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  } catch {
    saved = [];
  }
  const added: string[] = [];
  return {
    // readline keeps the newest entry first.
    lines: saved.slice(-500).reverse(),
    add: (line) => added.push(line),
    save: () => {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o755 });
        writeFileSync(file, [...saved, ...added].slice(-500).join('\n') + '\n', { mode: 0o600 });
      } catch {
        // History is a convenience: failing to keep it is not an error of the session.
      }
    },
  };
}
