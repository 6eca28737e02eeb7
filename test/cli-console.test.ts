/**
 * Unit tests of `tsvirt console`'s terminal side (src/cli/console.ts): the escape character
 * wherever it falls in what is typed, raw mode set and restored, the session's ends (escape, end of
 * the console, EOF on stdin, a channel error, a signal), keys kept from a line editor during the
 * session; and of the `console` command's checks run through main() with a stand-in terminal.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { PassThrough, Duplex } from 'node:stream';
import { describe, test } from 'node:test';
import { EscapeScanner, escapeBanner, escapeByte, holdInput, makeRaw, pumpConsole, type ConsoleEnd, type ConsoleInput, type ConsoleTerminal } from '../src/cli/console.js';
import { main } from '../src/cli/main.js';

/** A keyboard that is a TTY: a PassThrough with setRawMode, recording the modes it was set to. */
class FakeTTY extends PassThrough {
  readonly isTTY = true;
  isRaw = false;
  modes: boolean[] = [];
  failRaw = false;
  setRawMode(raw: boolean): this {
    if (this.failRaw) throw Object.assign(new Error('EIO'), { code: 'EIO' });
    this.modes.push(raw);
    this.isRaw = raw;
    return this;
  }
}

/** Both ends of a console channel: `channel` for the session, `guest` for the test. */
function channelPair(): { channel: Duplex; guest: { sent: Buffer[]; send(b: string): void; end(): void; fail(e: Error): void }; finished: Promise<void> } {
  const toGuest = new PassThrough();
  const fromGuest = new PassThrough();
  const sent: Buffer[] = [];
  toGuest.on('data', (b: Buffer) => sent.push(b));
  let finishedResolve!: () => void;
  const finished = new Promise<void>((r) => (finishedResolve = r));
  const channel = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      toGuest.write(chunk, cb);
    },
    final(cb) {
      finishedResolve();
      cb();
    },
  });
  fromGuest.on('data', (b: Buffer) => channel.push(b));
  fromGuest.on('end', () => channel.push(null));
  return {
    channel,
    finished,
    guest: {
      sent,
      send: (s) => fromGuest.write(s),
      end: () => fromGuest.end(),
      fail: (e) => channel.destroy(e),
    },
  };
}

function terminal(input: ConsoleInput, signals?: EventEmitter): { term: ConsoleTerminal; screen: Buffer[] } {
  const screen: Buffer[] = [];
  return { screen, term: { input, write: (b) => screen.push(Buffer.from(b)), signals } };
}

const tick = () => new Promise((r) => setImmediate(r));
const ESC = 0x1d;

describe('escape sequence', () => {
  test("virsh's escape strings: ^] is 0x1d, ^X any control character, or one character", () => {
    assert.equal(escapeByte('^]'), 0x1d);
    assert.equal(escapeByte('^a'), 0x01);
    assert.equal(escapeByte('^A'), 0x01);
    assert.equal(escapeByte('^@'), 0x00);
    assert.equal(escapeByte('^_'), 0x1f);
    assert.equal(escapeByte('x'), 0x78);
  });

  test("the banner names the control key as virsh's does", () => {
    assert.equal(escapeBanner('^]'), 'Escape character is ^] (Ctrl + ])\n');
    assert.equal(escapeBanner('^a'), 'Escape character is ^a (Ctrl + a)\n');
    assert.equal(escapeBanner('x'), 'Escape character is x\n');
  });

  test('detected at the start, in the middle and at the end of a chunk; what precedes it goes through', () => {
    for (const [input, forwarded] of [
      ['\x1d', ''],
      ['ab\x1dcd', 'ab'],
      ['abc\x1d', 'abc'],
      ['abc', 'abc'],
    ] as const) {
      const s = new EscapeScanner(ESC);
      assert.equal(s.push(Buffer.from(input, 'latin1')).toString('latin1'), forwarded, JSON.stringify(input));
      assert.equal(s.detached, input.includes('\x1d'));
    }
  });

  test('across chunk boundaries: chunks before it go through whole, nothing after it does', () => {
    const s = new EscapeScanner(ESC);
    const out: string[] = [];
    for (const chunk of ['ec', 'ho hi\r', 'x\x1d', 'ls\r', '\x1d', 'more']) out.push(s.push(Buffer.from(chunk, 'latin1')).toString('latin1'));
    assert.deepEqual(out, ['ec', 'ho hi\r', 'x', '', '', '']);
    assert.ok(s.detached);
  });

  test('any byte split of a typed stream forwards exactly the bytes before the first escape', () => {
    const typed = Buffer.from('echo marker-1\r\x1b[A\x1dafter\x1d', 'latin1');
    const want = typed.subarray(0, typed.indexOf(ESC)).toString('latin1');
    for (let a = 0; a <= typed.length; a++) {
      for (let b = a; b <= typed.length; b += 3) {
        const s = new EscapeScanner(ESC);
        const got = [typed.subarray(0, a), typed.subarray(a, b), typed.subarray(b)].map((c) => s.push(c).toString('latin1')).join('');
        assert.equal(got, want, `split at ${a}/${b}`);
      }
    }
  });

  test('another escape character (-e ^a) leaves ^] to the guest', () => {
    const s = new EscapeScanner(escapeByte('^a'));
    assert.equal(s.push(Buffer.from('x\x1dy\x01z', 'latin1')).toString('latin1'), 'x\x1dy');
    assert.ok(s.detached);
  });
});

describe('raw mode', () => {
  test('set on a TTY and restored to cooked mode once, however often restore is called', () => {
    const tty = new FakeTTY();
    let tweaked = 0;
    const restore = makeRaw({ input: tty, write: () => {}, tweakRaw: () => void tweaked++ });
    assert.deepEqual(tty.modes, [true]);
    assert.equal(tweaked, 1);
    restore();
    restore();
    assert.deepEqual(tty.modes, [true, false]);
    assert.equal(tty.isRaw, false);
  });

  test("a line editor's raw mode is set again after the session (from cooked, so that tweaks are undone)", () => {
    const tty = new FakeTTY();
    tty.setRawMode(true);
    tty.modes = [];
    makeRaw({ input: tty, write: () => {} })();
    assert.deepEqual(tty.modes, [true, false, true]);
    assert.equal(tty.isRaw, true);
  });

  test('a failing tweak leaves the TTY raw; a TTY that refuses raw mode throws', () => {
    const tty = new FakeTTY();
    const restore = makeRaw({
      input: tty,
      write: () => {},
      tweakRaw: () => {
        throw new Error('no stty');
      },
    });
    assert.equal(tty.isRaw, true);
    restore();
    assert.equal(tty.isRaw, false);
    const bad = new FakeTTY();
    bad.failRaw = true;
    assert.throws(() => makeRaw({ input: bad, write: () => {} }), /EIO/);
  });

  test('not a TTY: nothing is changed', () => {
    const input = new PassThrough() as unknown as ConsoleInput;
    makeRaw({ input, write: () => {} })();
  });
});

describe('a console session', () => {
  test('keys go to the guest, guest output to the screen; the escape character detaches and finishes the stream', async () => {
    const tty = new FakeTTY();
    const { channel, guest, finished } = channelPair();
    const { term, screen } = terminal(tty);
    const ended = pumpConsole(channel, term, { escape: ESC });
    guest.send('login: ');
    tty.write('root\r');
    await tick();
    tty.write('ls\x1dnot this');
    const end = await ended;
    await finished;
    assert.deepEqual(end, { kind: 'escape' });
    assert.equal(Buffer.concat(screen).toString(), 'login: ');
    assert.equal(Buffer.concat(guest.sent).toString('latin1'), 'root\rls');
    // The keyboard is left alone afterwards: nothing more is read for the guest.
    tty.write('later');
    await tick();
    assert.equal(Buffer.concat(guest.sent).toString('latin1'), 'root\rls');
  });

  test('guest bytes reach the screen unchanged, split UTF-8 included', async () => {
    const tty = new FakeTTY();
    const { channel, guest } = channelPair();
    const { term, screen } = terminal(tty);
    const ended = pumpConsole(channel, term, { escape: ESC });
    const euro = Buffer.from('€\r\n\x00\xff', 'latin1');
    const bytes = Buffer.concat([Buffer.from('€'), euro]);
    guest.send(bytes.subarray(0, 2) as unknown as string);
    guest.send(bytes.subarray(2) as unknown as string);
    await tick();
    tty.write('\x1d');
    await ended;
    assert.deepEqual(Buffer.concat(screen), bytes);
  });

  test('the end of the console (the domain stopped) ends the session successfully', async () => {
    const tty = new FakeTTY();
    const { channel, guest } = channelPair();
    let finished = 0;
    const ended = pumpConsole(channel, terminal(tty).term, { escape: ESC, finish: async () => void finished++, abort: async () => assert.fail('aborted') });
    guest.send('bye\r\n');
    guest.end();
    assert.deepEqual(await ended, { kind: 'end' });
    assert.equal(finished, 1);
  });

  test("EOF on stdin aborts the stream with virsh's error", async () => {
    const tty = new FakeTTY();
    const { channel } = channelPair();
    let aborted = 0;
    const ended = pumpConsole(channel, terminal(tty).term, { escape: ESC, abort: async () => void aborted++ });
    tty.end();
    assert.deepEqual(await ended, { kind: 'error', message: 'internal error: EOF on stdin' });
    assert.equal(aborted, 1);
  });

  test("a stream error ends the session with the stream's error and aborts", async () => {
    const tty = new FakeTTY();
    const { channel, guest } = channelPair();
    let aborted = 0;
    const ended = pumpConsole(channel, terminal(tty).term, { escape: ESC, abort: async () => void aborted++ });
    const err = new Error('internal error: console stream broke');
    guest.fail(err);
    const end = (await ended) as Extract<ConsoleEnd, { kind: 'error' }>;
    assert.equal(end.kind, 'error');
    assert.equal(end.message, 'internal error: console stream broke');
    assert.equal(aborted, 1);
  });

  test('a screen that cannot be written ends the session', async () => {
    const tty = new FakeTTY();
    const { channel, guest } = channelPair();
    const term: ConsoleTerminal = {
      input: tty,
      write: () => {
        throw Object.assign(new Error('EIO'), { code: 'EIO' });
      },
    };
    const ended = pumpConsole(channel, term, { escape: ESC, abort: async () => {} });
    guest.send('x');
    const end = await ended;
    assert.equal(end.kind, 'error');
    assert.equal((end as { message: string }).message, 'cannot write to stdout: Input/output error');
  });

  test('a signal ends the session (aborting the stream) and the signal listeners are removed', async () => {
    const tty = new FakeTTY();
    const { channel } = channelPair();
    const signals = new EventEmitter();
    let aborted = 0;
    const ended = pumpConsole(channel, terminal(tty, signals).term, { escape: ESC, abort: async () => void aborted++ });
    assert.equal(signals.listenerCount('SIGTERM'), 1);
    assert.equal(signals.listenerCount('SIGHUP'), 1);
    signals.emit('SIGTERM');
    assert.deepEqual(await ended, { kind: 'signal', signal: 'SIGTERM' });
    assert.equal(aborted, 1);
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']) assert.equal(signals.listenerCount(s), 0, s);
  });

  test("a line editor's keyboard listener is set aside during the session and given back", async () => {
    const tty = new FakeTTY();
    const editor: string[] = [];
    const onData = (b: Buffer) => editor.push(b.toString());
    tty.on('data', onData);
    const { channel, guest } = channelPair();
    const ended = pumpConsole(channel, terminal(tty).term, { escape: ESC });
    tty.write('for the guest\r');
    await tick();
    tty.write('\x1d');
    await ended;
    assert.deepEqual(editor, []);
    assert.equal(Buffer.concat(guest.sent).toString(), 'for the guest\r');
    assert.deepEqual(tty.listeners('data'), [onData]);
    tty.write('quit\n');
    await tick();
    assert.deepEqual(editor, ['quit\n']);
  });

  test('keys typed while the console opens wait for it, not for the line editor (holdInput)', async () => {
    const tty = new FakeTTY();
    const editor: string[] = [];
    const onData = (b: Buffer) => editor.push(b.toString());
    tty.on('data', onData);
    const giveBack = holdInput(tty);
    tty.write('typed early\r');
    await tick();
    assert.deepEqual(editor, []);
    const { channel, guest } = channelPair();
    const ended = pumpConsole(channel, terminal(tty).term, { escape: ESC });
    await tick();
    tty.write('\x1d');
    await ended;
    giveBack();
    assert.equal(Buffer.concat(guest.sent).toString(), 'typed early\r');
    assert.equal(tty.readableFlowing, true, 'flowing again for the editor');
    tty.write('help\n');
    await tick();
    assert.deepEqual(editor, ['help\n']);
  });

  test('a slow guest pauses the keyboard until it drains (a paste)', async () => {
    const tty = new FakeTTY();
    let release!: () => void;
    const written: Buffer[] = [];
    const channel = new Duplex({
      read() {},
      writableHighWaterMark: 4,
      write(chunk: Buffer, _enc, cb) {
        written.push(chunk);
        release = cb;
      },
    });
    const ended = pumpConsole(channel, terminal(tty).term, { escape: ESC, finish: async () => {}, abort: async () => {} });
    tty.write('0123456789');
    await tick();
    assert.equal(tty.isPaused(), true, 'keyboard paused while the guest has not read');
    release();
    await tick();
    assert.equal(tty.isPaused(), false, 'keyboard resumed after drain');
    tty.write('\x1d');
    assert.equal((await ended).kind, 'escape');
  });
});

/** Runs main() with a stand-in terminal and captured output. */
async function runMain(args: string[], stdin: NodeJS.ReadableStream & { isTTY?: boolean }): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await main(args, {
    streams: { stdout: (s) => (out += s), stderr: (s) => (err += s), stdoutBytes: (b) => (out += b.toString()) },
    stdin,
    env: {},
  });
  return { status, out, err };
}

describe('the console command (main, test driver)', () => {
  test('standard input that is not a terminal: virsh\'s refusal, before any banner', async () => {
    const r = await runMain(['-c', 'test:///default', 'console', 'test'], new PassThrough());
    assert.equal(r.status, 1);
    assert.equal(r.out, '\n', "only the runner's blank line after a command");
    assert.equal(r.err, 'error: Cannot run interactive console without a controlling TTY\n');
  });

  test('a shut-off domain, an unknown domain and an empty --devname, in virsh\'s words', async () => {
    const tty = new FakeTTY();
    const r = await runMain(['-c', 'test:///default', 'destroy test; console test; start test; console nosuch; console test --devname ""'], tty);
    assert.equal(r.err, "error: The domain is not running\nerror: failed to get domain 'nosuch'\nerror: Failed to get option 'devname': Option argument is empty\n");
    assert.deepEqual(tty.modes, [], 'raw mode never set');
  });

  test('a driver without consoles: banner, raw mode set, then restored before the error is printed', async () => {
    const tty = new FakeTTY();
    let modesAtError: boolean[] | null = null;
    let out = '';
    let err = '';
    const status = await main(['-c', 'test:///default', 'console', 'test'], {
      streams: {
        stdout: (s) => (out += s),
        stderr: (s) => {
          modesAtError ??= [...tty.modes];
          err += s;
        },
      },
      stdin: tty,
      env: {},
    });
    assert.equal(status, 1);
    assert.equal(out, "Connected to domain 'test'\nEscape character is ^] (Ctrl + ])\n\n");
    assert.match(err, /^error: this function is not supported by the connection driver: virDomainOpenConsole\n$/);
    assert.deepEqual(modesAtError, [true, false]);
    assert.equal(tty.isRaw, false);
  });

  test('-e changes the banner; -q drops it', async () => {
    const tty = new FakeTTY();
    const r = await runMain(['-e', '^a', '-c', 'test:///default', 'console', 'test'], tty);
    assert.equal(r.out, "Connected to domain 'test'\nEscape character is ^a (Ctrl + a)\n\n");
    const q = await runMain(['-q', '-e', 'x', '-c', 'test:///default', 'console', 'test'], new FakeTTY());
    assert.equal(q.out, '');
  });
});
