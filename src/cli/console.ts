/**
 * The terminal side of `tsvirt console` (libvirt 9.0 tools/virsh-console.c): standard input in
 * raw mode goes to the console channel, the channel's bytes go to standard output, the escape
 * character (`^]` unless `-e`) detaches, and the end of the channel (the guest's console closed,
 * for example the domain stopped) ends the session successfully. The channel is a Duplex: the
 * stream's data both ways; ending it finishes the stream, destroying it aborts the stream.
 *
 * This module knows nothing of libvirt's API, so that the escape and raw-mode logic can be tested
 * with a PassThrough and a stand-in terminal.
 */
import type { Duplex } from 'node:stream';

/** virsh's default escape sequence (telnet's). */
export const DEFAULT_ESCAPE = '^]';

/** virshGetEscapeChar: `^X` is the control character of X (X upper-cased, then xor 0x40); else the character. */
export function escapeByte(seq: string): number {
  if (seq[0] === '^') return seq.toUpperCase().charCodeAt(1) ^ 0x40;
  return seq.charCodeAt(0) & 0xff;
}

/** The banner line virsh prints about the escape sequence. */
export function escapeBanner(seq: string): string {
  return `Escape character is ${seq}${seq[0] === '^' ? ` (Ctrl + ${seq[1]})` : ''}\n`;
}

/**
 * Finds the escape character in what the user types. Everything before it goes to the guest;
 * it and everything after it (in its chunk or any later one) never does. virsh looks at the first
 * byte of each read only, so a `^]` typed in the same read as other keys (fast typing, a paste,
 * tmux send-keys) would reach the guest there; tsvirt detaches at the first one wherever it is.
 */
export class EscapeScanner {
  private hit = false;
  constructor(readonly escape: number) {}

  /** True once the escape character has been seen. */
  get detached(): boolean {
    return this.hit;
  }

  /** What of `chunk` goes to the guest (empty once detached). */
  push(chunk: Buffer): Buffer {
    if (this.hit) return chunk.subarray(0, 0);
    const i = chunk.indexOf(this.escape);
    if (i < 0) return chunk;
    this.hit = true;
    return chunk.subarray(0, i);
  }
}

/** The keyboard side: standard input, a TTY whose mode can be changed. */
export interface ConsoleInput extends Pick<NodeJS.EventEmitter, 'on' | 'removeListener' | 'listeners'> {
  readonly isTTY?: boolean;
  readonly isRaw?: boolean;
  setRawMode?(raw: boolean): unknown;
  resume(): unknown;
  pause(): unknown;
  /** Readable's flowing state: true while something reads it (a line editor), else null or false. */
  readonly readableFlowing?: boolean | null;
}

/** Where the session runs: the keyboard, the screen (bytes, written in order) and the signals to watch. */
export interface ConsoleTerminal {
  input: ConsoleInput;
  /** Writes guest output; throws a file-system error when the screen is gone. */
  write(bytes: Buffer): void;
  /**
   * What raw mode needs beyond the TTY's own raw mode (in tsvirt's program: output
   * post-processing off, as cfmakeraw has it); called after setRawMode(true), may throw.
   */
  tweakRaw?(): void;
  /** Signals that end the session (the terminal is restored first); default: none. */
  signals?: SignalSource;
}

/** A source of process signals (process itself in the program, an EventEmitter in tests). */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  removeListener(signal: NodeJS.Signals, listener: () => void): unknown;
}

/** The signals after which the terminal is restored and the session ends. */
export const SESSION_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/** How a session ended. */
export type ConsoleEnd =
  | { kind: 'escape' }
  | { kind: 'end' }
  | { kind: 'error'; message: string; cause?: unknown }
  | { kind: 'signal'; signal: NodeJS.Signals };

/**
 * Puts the terminal in raw mode (vshTTYMakeRaw) and returns what restores the mode it had: the
 * original, or the raw mode an interactive session's line editor had set. Throws what the TTY
 * threw when it cannot be changed.
 */
export function makeRaw(term: ConsoleTerminal): () => void {
  const input = term.input;
  if (input.isTTY !== true || input.setRawMode === undefined) return () => {};
  const wasRaw = input.isRaw === true;
  input.setRawMode(true);
  try {
    term.tweakRaw?.();
  } catch {
    // The TTY's raw mode is in place; output post-processing merely stays on.
  }
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    // Leaving raw mode restores the mode found before the first change (and with it whatever
    // tweakRaw changed); a line editor's raw mode is then set again.
    input.setRawMode!(false);
    if (wasRaw) input.setRawMode!(true);
  };
}

/** Options of {@link pumpConsole}. */
export interface PumpOptions {
  /** The escape byte (see {@link escapeByte}). */
  escape: number;
  /** Ends the channel gracefully (virStreamFinish); default: end the Duplex and wait for it. */
  finish?: () => Promise<void>;
  /** Aborts the channel (virStreamAbort); default: destroy the Duplex. */
  abort?: () => Promise<void>;
}

/**
 * Takes the keyboard from whoever reads it (an interactive session's line editor): its 'data'
 * listeners are set aside and the input paused, so that keys typed from now on wait for the
 * console, as they do in a terminal nobody reads. Returns what gives it back as it was found.
 */
export function holdInput(input: ConsoleInput): () => void {
  const setAside = input.listeners('data');
  for (const l of setAside) input.removeListener('data', l as (...args: unknown[]) => void);
  const wasFlowing = input.readableFlowing === true;
  input.pause();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    for (const l of setAside) input.on('data', l as (...args: unknown[]) => void);
    if (wasFlowing) input.resume();
  };
}

/**
 * Runs one console session on an open channel until the escape character, the end of the
 * channel, an error or a signal, then finishes or aborts the channel as virsh does and gives the
 * input back as it was found ({@link holdInput}: keys typed for the guest are not read as commands
 * too). The terminal mode
 * is the caller's business ({@link makeRaw}), so that it is restored however this ends.
 */
export function pumpConsole(channel: Duplex, term: ConsoleTerminal, opts: PumpOptions): Promise<ConsoleEnd> {
  const input = term.input;
  const scanner = new EscapeScanner(opts.escape);
  const giveBack = holdInput(input);

  return new Promise<ConsoleEnd>((resolve) => {
    let done = false;
    let inputPaused = false;

    const cleanup = () => {
      input.removeListener('data', onInput);
      input.removeListener('end', onInputEnd);
      input.removeListener('error', onInputError);
      channel.removeListener('data', onChannel);
      channel.removeListener('end', onChannelEnd);
      channel.removeListener('error', onChannelError);
      channel.removeListener('drain', onDrain);
      for (const s of SESSION_SIGNALS) term.signals?.removeListener(s, signalHandlers[s]);
      input.pause();
      giveBack();
    };

    /** virConsoleShutdown: a graceful end finishes the stream, any other aborts it. */
    const end = (how: ConsoleEnd) => {
      if (done) return;
      done = true;
      cleanup();
      // A late error of the channel must not become an uncaught exception.
      channel.on('error', () => {});
      const graceful = how.kind === 'escape' || how.kind === 'end';
      const close = graceful ? (opts.finish ?? (() => endDuplex(channel))) : (opts.abort ?? (async () => void channel.destroy()));
      // virsh ignores a failure to terminate the stream: the session's outcome is already known.
      close().then(
        () => resolve(how),
        () => resolve(how),
      );
    };

    const onInput = (chunk: Buffer | string) => {
      if (done) return;
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      const forward = scanner.push(buf);
      if (forward.length > 0 && !channel.write(forward) && !inputPaused) {
        // The guest reads slowly (a paste): stop reading the keyboard until it catches up.
        inputPaused = true;
        input.pause();
      }
      if (scanner.detached) end({ kind: 'escape' });
    };
    const onDrain = () => {
      if (inputPaused && !done) {
        inputPaused = false;
        input.resume();
      }
    };
    const onInputEnd = () => end({ kind: 'error', message: 'internal error: EOF on stdin' });
    const onInputError = (err: Error) => end({ kind: 'error', message: `cannot read from stdin: ${errnoText(err)}`, cause: err });
    const onChannel = (chunk: Buffer | string) => {
      if (done) return;
      try {
        term.write(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
      } catch (err) {
        end({ kind: 'error', message: `cannot write to stdout: ${errnoText(err)}`, cause: err });
      }
    };
    const onChannelEnd = () => end({ kind: 'end' });
    const onChannelError = (err: Error) => end({ kind: 'error', message: err.message, cause: err });
    const signalHandlers = Object.fromEntries(SESSION_SIGNALS.map((s) => [s, () => end({ kind: 'signal', signal: s })])) as Record<
      NodeJS.Signals,
      () => void
    >;

    for (const s of SESSION_SIGNALS) term.signals?.on(s, signalHandlers[s]);
    channel.on('data', onChannel);
    channel.on('end', onChannelEnd);
    channel.on('error', onChannelError);
    channel.on('drain', onDrain);
    input.on('data', onInput);
    input.on('end', onInputEnd);
    input.on('error', onInputError);
    input.resume();
  });
}

/** Ends the writable side of a Duplex and waits until it is finished (or failed, or closed). */
function endDuplex(channel: Duplex): Promise<void> {
  return new Promise((resolve) => {
    if (channel.writableFinished || channel.destroyed) {
      resolve();
      return;
    }
    const settle = () => {
      channel.removeListener('finish', settle);
      channel.removeListener('close', settle);
      channel.removeListener('error', settle);
      resolve();
    };
    channel.once('finish', settle);
    channel.once('close', settle);
    channel.once('error', settle);
    channel.end();
  });
}

/** strerror() for the errors a terminal read or write meets. */
function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const texts: Record<string, string> = {
    EIO: 'Input/output error',
    EPIPE: 'Broken pipe',
    EBADF: 'Bad file descriptor',
    ENXIO: 'No such device or address',
  };
  if (code !== undefined && texts[code] !== undefined) return texts[code];
  return err instanceof Error ? err.message : String(err);
}
