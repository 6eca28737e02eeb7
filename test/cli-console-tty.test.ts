/**
 * `tsvirt console` on a real terminal: tmux runs it in a pane (send-keys types, capture-pane
 * reads the screen, `stty -a` on the pane's tty shows the mode). With libvirt's and tsvirt's test
 * drivers (no consoles there): the banner and the error as virsh prints them, the terminal mode
 * unchanged afterwards. With a real QEMU guest whose serial port runs a shell, locally
 * (qemu:///session) and through tsvirtd (qemu+unix): raw mode during the session, a command typed
 * into the guest and its answer read back, Ctrl+] detaching with the guest running on, the
 * terminal restored after detaching, after SIGTERM and when the domain stops, and
 * `create --console`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DomainState, connect, type Connection } from '../src/index.js';
import { TSVIRT } from './cli-harness.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, waitForText, type TestGuest } from './qemu-harness.js';
import { startDaemon, type RunningDaemon } from './support/daemon-harness.js';
import { missing } from './support/host-tools.js';

/** One tmux server on a private socket, one window running `sh`, removed by {@link Tmux.kill}. */
class Tmux {
  private constructor(
    readonly socket: string,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  static start(dir: string, env: NodeJS.ProcessEnv): Tmux {
    const t = new Tmux(join(dir, 'tmux.sock'), env);
    // -f /dev/null: no user configuration; a wide window, so that no line the test reads wraps.
    t.run('-f', '/dev/null', 'new-session', '-d', '-s', 'cli', '-x', '220', '-y', '50', 'sh');
    return t;
  }

  run(...args: string[]): string {
    const r = spawnSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8', env: this.env });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  /** Types `text` literally, then Enter. */
  line(text: string): void {
    this.run('send-keys', '-t', 'cli', '-l', text);
    this.run('send-keys', '-t', 'cli', 'Enter');
  }

  /** Sends tmux key names (`C-]`, `Enter`). */
  keys(...names: string[]): void {
    this.run('send-keys', '-t', 'cli', ...names);
  }

  /** The pane's text, history included, wrapped lines joined. */
  screen(): string {
    return this.run('capture-pane', '-p', '-J', '-S', '-2000', '-t', 'cli');
  }

  /** The pane's terminal device. */
  tty(): string {
    return this.run('display-message', '-p', '-t', 'cli', '#{pane_tty}').trim();
  }

  async waitFor(pattern: string | RegExp, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.screen();
      if (typeof pattern === 'string' ? s.includes(pattern) : pattern.test(s)) return s;
      if (Date.now() > deadline) throw new Error(`'${String(pattern)}' not on the screen within ${timeoutMs} ms; it shows:\n${s.slice(-3000)}`);
      await sleep(50);
    }
  }

  kill(): void {
    spawnSync('tmux', ['-S', this.socket, 'kill-server'], { env: this.env });
  }
}

/** The terminal settings of `tty` as `stty -a` prints them. */
function sttyAll(tty: string): string {
  const r = spawnSync('stty', ['-F', tty, '-a'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** The text between `BEGIN tag` and `END tag rc=N` lines, and N. */
function section(screen: string, tag: string): { text: string; rc: number } {
  const m = new RegExp(`^BEGIN ${tag}\\n([\\s\\S]*?)^END ${tag} rc=(\\d+)$`, 'm').exec(screen);
  assert.ok(m !== null, `no section ${tag} in:\n${screen}`);
  return { text: m[1], rc: Number(m[2]) };
}

const sh = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
const tsvirtCmd = (...args: string[]) => [process.execPath, TSVIRT, ...args].map(sh).join(' ');

const tmuxSkip = missing('tmux', 'virsh');

/**
 * The pane writes `stty -g > FILE` after its END line: under load the test may look before the
 * shell has written it. Waits (up to 10 s) for the line.
 */
async function writtenFile(path: string): Promise<string> {
  const until = Date.now() + 10_000;
  for (;;) {
    const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (text.endsWith('\n') || Date.now() > until) return text;
    await sleep(50);
  }
}

describe('tsvirt console on a terminal, with test drivers (no consoles)', { skip: tmuxSkip }, () => {
  let dir: string;
  let tmux: Tmux;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsvirt-tty-'));
    tmux = Tmux.start(dir, { ...process.env, LC_ALL: 'C', HOME: dir, TSVIRT_STATE_DIR: join(dir, 'state'), PS1: '$ ' });
  });
  after(() => {
    tmux?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  test('banner, then the error; the terminal is as it was; as virsh', async () => {
    tmux.line(`stty -g > ${dir}/before; echo BEGIN v; virsh -c test:///default console test; echo END v rc=$?; stty -g > ${dir}/after-v`);
    await tmux.waitFor(/^END v rc=\d+$/m);
    tmux.line(`echo BEGIN t; ${tsvirtCmd('-c', 'test:///default', 'console', 'test')}; echo END t rc=$?; stty -g > ${dir}/after-t`);
    const screen = await tmux.waitFor(/^END t rc=\d+$/m);
    const v = section(screen, 'v');
    const t = section(screen, 't');
    // virsh's polkit agent speaks up on a terminal with a local connection; not a console matter.
    const vText = v.text.replace(/^Authorization not available\..*\n/m, '');
    assert.equal(
      t.text,
      "Connected to domain 'test'\nEscape character is ^] (Ctrl + ])\nerror: this function is not supported by the connection driver: virDomainOpenConsole\n\n",
    );
    assert.equal(t.text, vText);
    assert.equal(t.rc, 1);
    assert.equal(v.rc, 1);
    const before = readFileSync(join(dir, 'before'), 'utf8');
    assert.equal(await writtenFile(join(dir, 'after-t')), before, 'terminal mode restored');
    assert.equal(await writtenFile(join(dir, 'after-v')), before);
  });
});

const qemuSkip = qemuSkipReason() || tmuxSkip;

describe('tsvirt console with a real QEMU guest under tmux', { skip: qemuSkip, timeout: 600_000 }, () => {
  const reaper = new Reaper();
  let dir: string;
  let guest: TestGuest;
  let state: string;
  let previous: string | undefined;
  let conn: Connection;
  let tmux: Tmux;
  let before0: string;

  before(async () => {
    dir = reaper.tempDir('tsvcc-');
    state = join(dir, 'state');
    guest = await buildTestGuest(join(dir, 'guest'));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = state;
    conn = await connect('qemu:///session');
    tmux = Tmux.start(dir, { ...process.env, LC_ALL: 'C', HOME: dir, TSVIRT_STATE_DIR: state, PS1: '$ ' });
    tmux.line(`stty -g > ${dir}/before`);
    await sleep(300);
    before0 = readFileSync(join(dir, 'before'), 'utf8');
  });

  after(async () => {
    tmux?.kill();
    if (conn !== undefined) {
      for (const dom of await conn.listAllDomains(1).catch(() => [])) await dom.destroy().catch(() => undefined);
      await conn.close().catch(() => undefined);
    }
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    await reaper.cleanup();
  });

  /** A test guest whose serial port 0 is a console (a pty) running a shell, logged to `log`. */
  function shellGuestXML(name: string, log: string): string {
    // (Built as a variable: the pty and shell options come with the QEMU console work.)
    const opts = { name, uuid: randomUUID(), guest, mode: 'B' as const, shell: true, serial: log, pty: { log: true } };
    return guestXML(opts);
  }

  /** A guest with a shell on its serial console, booted; its boot log is `log`. */
  async function bootGuest(c: Connection, name: string): Promise<{ log: string }> {
    const log = join(dir, `${name}.log`);
    await c.createXML(shellGuestXML(name, log));
    await waitForText(log, 'GUEST-SHELL', 180_000);
    return { log };
  }

  /**
   * Attaches with `tsvirt ARGS` in the pane, checks raw mode, runs `echo marker-$RANDOM` in the
   * guest and reads the number back, detaches with Ctrl+]; returns the pane's section.
   */
  async function session(tag: string, args: string[]): Promise<{ text: string; rc: number }> {
    tmux.line(`echo BEGIN ${tag}; ${tsvirtCmd(...args)}; echo END ${tag} rc=$?; stty -g > ${dir}/after-${tag}`);
    await tmux.waitFor(new RegExp(`^BEGIN ${tag}\\n(.*\\n)*Escape character is \\^\\] \\(Ctrl \\+ \\]\\)`, 'm'));
    tmux.keys('Enter');
    tmux.line('echo marker-$RANDOM');
    const screen = await tmux.waitFor(new RegExp(`^BEGIN ${tag}\\n[\\s\\S]*^marker-\\d+\\s*$`, 'm'));
    // (Checked once the guest answered: the banner comes before raw mode is set.)
    const raw = sttyAll(tmux.tty());
    for (const flag of ['-icanon', '-echo', '-isig', '-opost', '-icrnl']) assert.match(raw, new RegExp(`(^|\\s)${flag}(\\s|$)`), `${flag} during the session:\n${raw}`);
    assert.match(screen, /echo marker-\$RANDOM/, 'the guest echoed the typed line');
    tmux.keys('C-]');
    const done = await tmux.waitFor(new RegExp(`^END ${tag} rc=\\d+$`, 'm'));
    assert.equal(readFileSync(join(dir, `after-${tag}`), 'utf8'), before0, 'terminal mode restored');
    return section(done, tag);
  }

  test('qemu:///session: type into the guest, read the answer, Ctrl+] detaches, the guest runs on and can be attached again', async () => {
    await bootGuest(conn, 'cc-local');
    const first = await session('local1', ['-c', 'qemu:///session', 'console', 'cc-local']);
    assert.equal(first.rc, 0, first.text);
    assert.match(first.text, /^Connected to domain 'cc-local'\nEscape character is \^\] \(Ctrl \+ \]\)\n/);
    const dom = await conn.lookupByName('cc-local');
    assert.equal((await dom.state())[0], DomainState.RUNNING);
    const second = await session('local2', ['-c', 'qemu:///session', 'console', 'cc-local', '--devname', 'serial0']);
    assert.equal(second.rc, 0, second.text);
    assert.equal((await dom.state())[0], DomainState.RUNNING);
  });

  test("in tsvirt's interactive shell: keys typed for the guest are not read as commands; the shell goes on after Ctrl+]", async () => {
    tmux.line(`echo BEGIN shell; ${tsvirtCmd('-c', 'qemu:///session')}; echo END shell rc=$?; stty -g > ${dir}/after-shell`);
    await tmux.waitFor(/^BEGIN shell\n[\s\S]*^tsvirt # $/m);
    tmux.line('console cc-local');
    await tmux.waitFor(/^BEGIN shell\n[\s\S]*Escape character is/m);
    tmux.keys('Enter');
    tmux.line('echo marker-$RANDOM');
    await tmux.waitFor(/^BEGIN shell\n[\s\S]*^marker-\d+\s*$/m);
    tmux.keys('C-]');
    await sleep(300);
    tmux.line('domstate cc-local');
    await tmux.waitFor(/^BEGIN shell\n[\s\S]*^running$/m);
    tmux.line('quit');
    const screen = await tmux.waitFor(/^END shell rc=\d+$/m);
    const s = section(screen, 'shell');
    assert.equal(s.rc, 0, screen);
    assert.doesNotMatch(s.text, /unknown command/, 'nothing typed for the guest reached the shell');
    assert.equal(await writtenFile(join(dir, 'after-shell')), before0, 'terminal mode restored');
  });

  test('SIGTERM during a session: the terminal is restored and tsvirt dies of the signal; the guest runs on', async () => {
    const pidFile = join(dir, 'console.pid');
    tmux.line(`echo BEGIN sig; sh -c ${sh(`echo $$ > ${pidFile}; exec ${tsvirtCmd('-c', 'qemu:///session', 'console', 'cc-local')}`)}; echo END sig rc=$?; stty -g > ${dir}/after-sig`);
    await tmux.waitFor(/^BEGIN sig\n(.*\n)*Escape character is/m);
    tmux.keys('Enter');
    tmux.line('echo marker-$RANDOM');
    await tmux.waitFor(/^BEGIN sig\n[\s\S]*^marker-\d+\s*$/m);
    assert.match(sttyAll(tmux.tty()), /(^|\s)-icanon(\s|$)/);
    process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGTERM');
    const s = section(await tmux.waitFor(/^END sig rc=\d+$/m), 'sig');
    assert.equal(s.rc, 128 + 15);
    assert.equal(await writtenFile(join(dir, 'after-sig')), before0, 'terminal mode restored');
    assert.equal((await (await conn.lookupByName('cc-local')).state())[0], DomainState.RUNNING);
  });

  test('the domain stops during a session: the console ends, tsvirt succeeds, the terminal is restored', async () => {
    tmux.line(`echo BEGIN stop; ${tsvirtCmd('-c', 'qemu:///session', 'console', 'cc-local')}; echo END stop rc=$?; stty -g > ${dir}/after-stop`);
    await tmux.waitFor(/^BEGIN stop\n(.*\n)*Escape character is/m);
    // The banner comes before the console opens: wait for the guest's answer, then stop it.
    tmux.keys('Enter');
    tmux.line('echo marker-$RANDOM');
    await tmux.waitFor(/^BEGIN stop\n[\s\S]*^marker-\d+\s*$/m);
    await (await conn.lookupByName('cc-local')).destroy();
    const screen = await tmux.waitFor(/^END stop rc=\d+$/m, 60_000);
    const s = section(screen, 'stop');
    assert.equal(s.rc, 0, screen);
    assert.equal(await writtenFile(join(dir, 'after-stop')), before0, 'terminal mode restored');
  });

  test('create --console attaches once the domain runs', async () => {
    const file = join(dir, 'cc-create.xml');
    const log = join(dir, 'cc-create.log');
    writeFileSync(file, shellGuestXML('cc-create', log));
    tmux.line(`echo BEGIN create; ${tsvirtCmd('-c', 'qemu:///session', 'create', file, '--console')}; echo END create rc=$?; stty -g > ${dir}/after-create`);
    await tmux.waitFor(/^BEGIN create\nDomain 'cc-create' created from .*\nConnected to domain 'cc-create'\nEscape character is/m);
    await waitForText(log, 'GUEST-SHELL', 180_000);
    tmux.keys('Enter');
    tmux.line('echo marker-$RANDOM');
    await tmux.waitFor(/^BEGIN create\n[\s\S]*^marker-\d+\s*$/m);
    tmux.keys('C-]');
    const s = section(await tmux.waitFor(/^END create rc=\d+$/m), 'create');
    assert.equal(s.rc, 0, s.text);
    assert.equal(await writtenFile(join(dir, 'after-create')), before0);
    await (await conn.lookupByName('cc-create')).destroy();
  });

  describe('through tsvirtd (qemu+unix)', () => {
    let d: RunningDaemon;
    let remote: Connection;
    let uri: string;
    before(async () => {
      mkdirSync(join(dir, 'daemon'));
      d = await startDaemon({ dir: join(dir, 'daemon') });
      uri = `qemu+unix:///session?socket=${d.rw}`;
      remote = await connect(uri);
    });
    after(async () => {
      if (remote !== undefined) {
        for (const dom of await remote.listAllDomains(1).catch(() => [])) await dom.destroy().catch(() => undefined);
        await remote.close().catch(() => undefined);
      }
      await d?.dispose();
    });

    test('the same session over the wire; the guest runs on after Ctrl+]', async () => {
      await bootGuest(remote, 'cc-remote');
      const s = await session('remote', ['-c', uri, 'console', 'cc-remote']);
      assert.equal(s.rc, 0, s.text);
      assert.equal((await (await remote.lookupByName('cc-remote')).state())[0], DomainState.RUNNING);
    });
  });
});
