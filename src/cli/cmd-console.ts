/**
 * Console and display commands (virsh-domain.c): console (and the console of `start --console`
 * and `create --console`), domdisplay, vncdisplay, screenshot; each follows virsh's handler
 * step by step, with its messages. The terminal side of the console is ./console.ts; the stream
 * comes from the public API (conn.newStream, dom.openConsole, dom.screenshot).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { Domain } from '../index.js';
import { DomainConsoleFlags, DomainState, DomainXMLFlags, StreamFlags } from '../core/enums.generated.js';
import { escapeBanner, escapeByte, holdInput, makeRaw, pumpConsole, type ConsoleInput, type ConsoleTerminal } from './console.js';
import { FAILED, isVirError, type Ctl, type Handler } from './context.js';
import { domDisplay, graphicsElements, vncDisplay } from './display.js';
import { strerror } from './files.js';

/** The process's terminal, or main's `stdin` with standard output's byte writer. */
function terminalOf(ctl: Ctl): { term: ConsoleTerminal; isTTY: boolean } {
  const own = ctl.stdin === undefined;
  const input = (ctl.stdin ?? process.stdin) as unknown as ConsoleInput;
  const bytes = ctl.streams.stdoutBytes ?? ((b: Buffer) => ctl.streams.stdout(b.toString('latin1')));
  return {
    isTTY: own ? isatty(0) : input.isTTY === true,
    term: {
      input,
      write: bytes,
      // libuv's raw mode keeps output post-processing (a lone \n becomes \r\n); cfmakeraw, which
      // virsh uses, turns it off. stty changes the terminal on standard input, as virsh does.
      tweakRaw: own ? () => void spawnSync('stty', ['-opost'], { stdio: [0, 'ignore', 'ignore'] }) : undefined,
      signals: own ? process : undefined,
    },
  };
}

/**
 * cmdRunConsole: checks the domain runs and standard input is a terminal, prints virsh's banner,
 * puts the terminal in raw mode, opens the console and relays until the escape character or the
 * end of the console. The terminal mode is restored on every way out; after a signal the
 * process then dies of that signal, as it would have without a console.
 */
export async function runDomainConsole(ctl: Ctl, dom: Domain, devName: string | null, flags: number): Promise<boolean> {
  const st = await ctl.attempt(dom.state());
  if (st === FAILED) {
    ctl.error('Unable to get domain status');
    return false;
  }
  if (st[0] === DomainState.SHUTOFF) {
    ctl.error('The domain is not running');
    return false;
  }
  const { term, isTTY } = terminalOf(ctl);
  if (!isTTY) {
    ctl.error('Cannot run interactive console without a controlling TTY');
    return false;
  }
  ctl.extra(`Connected to domain '${dom.name()}'\n`);
  ctl.extra(escapeBanner(ctl.escapeChar));
  ctl.flush();

  // From here keys are the guest's, even those typed while the console opens.
  const giveBack = holdInput(term.input);
  let restore: () => void;
  try {
    restore = makeRaw(term);
  } catch (err) {
    giveBack();
    ctl.error(`unable to set tty attributes: ${strerror(err)}`);
    return false;
  }
  let signal: NodeJS.Signals | null = null;
  try {
    const stream = await ctl.attempt(async () => ctl.c.newStream(StreamFlags.NONBLOCK));
    if (stream === FAILED) return false;
    if ((await ctl.attempt(dom.openConsole(devName, stream, flags))) === FAILED) return false;
    const channel = stream.toDuplex();
    const end = await pumpConsole(channel, term, {
      escape: escapeByte(ctl.escapeChar),
      // Stream.finish ends the channel (what was typed is sent first) and waits for it.
      finish: () => stream.finish(),
      abort: () => stream.abort(),
    });
    switch (end.kind) {
      case 'escape':
      case 'end':
        return true;
      case 'error':
        // The library's error as it is (its code too); any other failure in virsh's words.
        ctl.lastError = isVirError(end.cause) ? end.cause : { message: end.message };
        return false;
      case 'signal':
        signal = end.signal;
        return false;
    }
    return false;
  } finally {
    restore();
    giveBack();
    if (signal !== null) {
      ctl.flush();
      process.kill(process.pid, signal);
    }
  }
}

const consoleCmd: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const devName = cmd.string('devname') ?? null;
  let flags = 0;
  if (cmd.bool('force')) flags |= DomainConsoleFlags.FORCE;
  if (cmd.bool('safe')) flags |= DomainConsoleFlags.SAFE;
  return runDomainConsole(ctl, dom, devName, flags);
};

const domdisplay: Handler = async (ctl, cmd) => {
  const all = cmd.bool('all');
  cmd.exclusive('all', 'type');
  const { dom } = await cmd.domain();
  // virDomainIsActive's -1 (an error) is not "inactive" for virsh.
  const active = await ctl.attempt(dom.isActive());
  if (active === FAILED) ctl.resetError();
  else if (!active) {
    ctl.error('Domain is not running');
    return false;
  }
  const flags = cmd.bool('include-password') ? DomainXMLFlags.SECURE : 0;
  const type = cmd.string('type');
  const xml = await ctl.attempt(dom.XMLDesc(flags));
  if (xml === FAILED) return false;
  const r = domDisplay(graphicsElements(xml), { type, all }, () => ctl.c.getURI());
  if (cmd.bool('json')) {
    if (r.found.length > 0) ctl.print(JSON.stringify(r.found, null, 2) + '\n');
  } else {
    ctl.print(r.stdout);
  }
  // D-Bus, the one type whose error does not end the search, comes last: its error follows the
  // displays found before it, as virsh prints them.
  for (const e of r.errors) ctl.error(e);
  return r.found.length > 0;
};

const vncdisplay: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain();
  const active = await ctl.attempt(dom.isActive());
  if (active === FAILED) ctl.resetError();
  else if (!active) {
    ctl.error('Domain is not running');
    return false;
  }
  const xml = await ctl.attempt(dom.XMLDesc(0));
  if (xml === FAILED) return false;
  const r = vncDisplay(graphicsElements(xml));
  if ('error' in r) {
    ctl.error(r.error);
    return false;
  }
  if (cmd.bool('json')) ctl.print(JSON.stringify({ listen: r.listen, port: r.port, display: r.port - 5900 }, null, 2) + '\n');
  else ctl.print(r.text);
  return true;
};

/** virshGenFileName: `NAME-YYYY-MM-DD-HH:MM:SS` in local time, and the MIME type's extension. */
export function screenshotFileName(name: string, mime: string, now: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}-${p(now.getHours())}:${p(now.getMinutes())}:${p(now.getSeconds())}`;
  const ext = mime === 'image/x-portable-pixmap' ? '.ppm' : mime === 'image/png' ? '.png' : '';
  return `${name}-${stamp}${ext}`;
}

const screenshot: Handler = async (ctl, cmd) => {
  let file = cmd.string('file');
  const screen = cmd.uint('screen') ?? 0;
  const { dom, name } = await cmd.domain();
  const stream = await ctl.attempt(async () => ctl.c.newStream(0));
  if (stream === FAILED) return false;
  const mime = await ctl.attempt(dom.screenshot(stream, screen, 0));
  if (mime === FAILED) {
    ctl.error(`could not take a screenshot of ${name}`);
    await stream.abort();
    return false;
  }
  file ??= screenshotFileName(dom.name(), mime);

  let fd: number;
  let created = false;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o666);
    created = true;
  } catch (err) {
    try {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      fd = openSync(file, constants.O_WRONLY | constants.O_TRUNC, 0o666);
    } catch {
      ctl.error(`cannot create file ${file}`);
      await stream.abort();
      return false;
    }
  }
  let ok = false;
  try {
    // virStreamRecvAll: a failing sink aborts the stream with "recv handler failed".
    let sinkError: unknown = null;
    const received = await ctl.attempt(async () => {
      for await (const chunk of stream) {
        try {
          for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off);
        } catch (err) {
          sinkError = err;
          await stream.abort();
          return;
        }
      }
    });
    if (sinkError !== null) ctl.lastError = { message: `recv handler failed: ${strerror(sinkError)}` };
    if (received === FAILED || sinkError !== null) {
      ctl.error(`could not receive data from domain '${name}'`);
      return false;
    }
    try {
      closeSync(fd);
      fd = -1;
    } catch {
      ctl.error(`cannot close file ${file}`);
      return false;
    }
    if ((await ctl.attempt(stream.finish())) === FAILED) {
      ctl.error(`cannot close stream on domain '${name}'`);
      return false;
    }
    ctl.extra(`Screenshot saved to ${file}, with type of ${mime}`);
    ok = true;
    return true;
  } finally {
    if (fd >= 0) {
      try {
        closeSync(fd);
      } catch {
        // Already failing: the first error is the one reported.
      }
    }
    if (!ok && created) {
      try {
        unlinkSync(file);
      } catch {
        // virsh ignores a failed unlink too.
      }
    }
  }
};

export const handlers: Record<string, Handler> = { console: consoleCmd, domdisplay, vncdisplay, screenshot };
