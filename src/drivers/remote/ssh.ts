/**
 * The `+ssh` transport: the user's own `ssh` client carries the protocol. As libvirt's remote
 * driver does, it runs a short `sh -c` script on the remote host that hands the session's stdin
 * and stdout to the daemon's unix socket — through `virt-ssh-helper URI` when the remote host has
 * it, else through `nc -U SOCKET` — and speaks the protocol over the ssh child's pipes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import { defaultSocketDir, RO_SOCKET, RW_SOCKET } from '../../core/paths.js';
import { fdPassing } from '../../core/fdpass.js';
import { RpcClient, systemError, type RpcClientOptions } from './client.js';
import type { RemoteTarget } from './uri.js';

/** How the remote side reaches its daemon (libvirt's `proxy=` URI parameter). */
export type SshProxy = 'auto' | 'netcat' | 'native';

/** The ssh command line for one connection. */
export interface SshCommand {
  /** The ssh binary (`command=`, default `ssh`). */
  file: string;
  args: string[];
}

/** libvirt's system daemon socket directory as the client names it for the remote host. */
const REMOTE_SYSTEM_SOCKET_DIR = '/var/run/libvirt';

/** How much of ssh's stderr goes into an error message, as libvirt reads it. */
const STDERR_LIMIT = 1024;

/** Characters that make a word need quoting in a shell (libvirt's list, so the scripts are byte-identical). */
const SHELL_META = /[\r\t\n !"#$&'()*;<>?[\\\]^`{|}~]/;

/** Quotes `s` for a POSIX shell when it needs it: '…' with each ' as '\''. */
export function shellQuote(s: string): string {
  if (s !== '' && !SHELL_META.test(s)) return s;
  return `'${s.replace(/'/g, "'\\''")}'`;
}

/**
 * Quoted twice: the remote login shell parses the command once, and the `sh -c` it starts
 * parses it again.
 */
function doubleQuote(s: string): string {
  return shellQuote(shellQuote(s));
}

function invalidArg(message: string): VirError {
  return VirError.report(ErrorDomain.REMOTE, ErrorNumber.INVALID_ARG, message);
}

/**
 * The `sh -c '…'` command run on the remote host, byte for byte what libvirt 9.0's client
 * sends: `auto` runs virt-ssh-helper when `which` finds it and nc otherwise, `netcat` only nc
 * (`-q0` when that nc needs it to quit at end of input), `native` only virt-ssh-helper.
 * A `netcat` path turns `auto` into `netcat`. Errors: VIR_ERR_INVALID_ARG for a netcat path
 * with the native proxy.
 */
export function remoteCommand(proxy: SshProxy, netcat: string | null, socketPath: string, driverURI: string, readonly: boolean): string {
  const nc = doubleQuote(netcat ?? 'nc');
  const effective = proxy === 'auto' && netcat !== null ? 'netcat' : proxy;
  const ncScript = `if '${nc}' -q 2>&1 | grep "requires an argument" >/dev/null 2>&1; then ARG=-q0;else ARG=;fi;'${nc}' $ARG -U ${socketPath}`;
  const helper = `virt-ssh-helper${readonly ? ' -r ' : ' '}'${doubleQuote(driverURI)}'`;
  switch (effective) {
    case 'auto':
      return `sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then     ${helper}; else    ${ncScript}; fi'`;
    case 'netcat':
      return `sh -c '${ncScript}'`;
    case 'native':
      if (netcat !== null) throw invalidArg('netcat path not valid with native proxy mode');
      return `sh -c '${helper}'`;
  }
}

/** Whether this process has a controlling terminal ssh could prompt on. */
function haveTty(): boolean {
  try {
    closeSync(openSync('/dev/tty', 'r'));
    return true;
  } catch {
    return false;
  }
}

/** A boolean URI parameter as libvirt reads it (an integer; true unless 0). */
function flag(url: URL, name: string): boolean {
  const v = url.searchParams.get(name);
  if (v === null) return false;
  if (!/^[-+]?\d+$/.test(v.trim())) throw invalidArg(`Failed to parse value of URI component ${name}`);
  return Number(v) !== 0;
}

function param(url: URL, name: string): string | null {
  return url.searchParams.get(name);
}

/**
 * Builds the ssh command line for `target` as libvirt's client does (`-p PORT`, `-l USER`,
 * `-i KEYFILE`, `-T -e none`, `-o BatchMode=yes` with `no_tty=1`, `-o
 * StrictHostKeyChecking=no` with `no_verify=1`, `-- HOST COMMAND`). Two additions: `known_hosts=`
 * becomes `-o UserKnownHostsFile=…` (libvirt honours it only in its libssh transports), and
 * BatchMode is also set when there is no terminal to ask a password on (`tty` false), so ssh
 * fails at once instead of waiting. Errors: VIR_ERR_INVALID_ARG for an unknown `proxy=` or
 * `mode=`, a netcat path with the native proxy, or a boolean parameter that is not a number.
 */
export function sshCommand(target: RemoteTarget, opts: { tty?: boolean; uid?: number; env?: NodeJS.ProcessEnv } = {}): SshCommand {
  const readonly = target.readonly;
  const url = target.url;
  const proxyParam = param(url, 'proxy');
  if (proxyParam !== null && !['auto', 'netcat', 'native'].includes(proxyParam)) throw invalidArg(`Unnkown proxy type '${proxyParam}'`);
  const mode = param(url, 'mode');
  if (mode !== null && !['auto', 'legacy', 'direct'].includes(mode)) throw invalidArg(`Unknown remote mode '${mode}'`);
  const noTty = flag(url, 'no_tty');
  const noVerify = flag(url, 'no_verify');
  const socketParam = param(url, 'socket');
  const uid = opts.uid ?? process.getuid?.() ?? -1;
  // libvirt picks the session socket (and the helper, which knows the remote user's paths) for
  // a non-root client opening /session or the test driver.
  const scheme = url.protocol.replace(/:$/, '');
  const user = uid > 0 && (url.pathname === '/session' || scheme.startsWith('test+'));
  let socketPath: string;
  if (socketParam !== null) socketPath = socketParam;
  else if (user) socketPath = `${defaultSocketDir(opts.env, uid)}/${RW_SOCKET}`;
  else socketPath = `${REMOTE_SYSTEM_SOCKET_DIR}/${readonly ? RO_SOCKET : RW_SOCKET}`;
  const proxy: SshProxy = (proxyParam as SshProxy | null) ?? (socketParam !== null ? 'netcat' : user ? 'native' : 'auto');
  const command = remoteCommand(proxy, param(url, 'netcat'), socketPath, target.inner, readonly);

  const args: string[] = [];
  if (url.port !== '') args.push('-p', url.port);
  if (url.username !== '') args.push('-l', decodeURIComponent(url.username));
  const keyfile = param(url, 'keyfile');
  if (keyfile !== null) args.push('-i', keyfile);
  args.push('-T', '-e', 'none');
  if (noTty || opts.tty === false) args.push('-o', 'BatchMode=yes');
  if (noVerify) args.push('-o', 'StrictHostKeyChecking=no');
  const knownHosts = param(url, 'known_hosts');
  if (knownHosts !== null) args.push('-o', `UserKnownHostsFile=${knownHosts}`);
  const host = url.hostname === '' ? 'localhost' : url.hostname.replace(/^\[(.*)\]$/, '$1');
  args.push('--', host, command);
  return { file: param(url, 'command') ?? 'ssh', args };
}

/**
 * The ssh binary could not be started, in libvirt's words: a bare name not on PATH is refused
 * before forking ("Cannot find 'ssh' in path"), a path that does not execute fails in the child,
 * whose message then reaches the client as ssh's stderr would.
 */
function cannotRun(file: string, err: NodeJS.ErrnoException): VirError {
  const code = err.code ?? 'EIO';
  if (!file.includes('/')) {
    const e = systemError(`Cannot find '${file}' in path`, code);
    return new VirError({ code: e.code, domain: ErrorDomain.NONE, message: e.message, str1: e.str1, str2: e.str2, int1: e.int1 });
  }
  const reason = systemError('', code).message.replace(/^: /, '');
  return systemError(`Cannot recv data: libvirt:  error : cannot execute binary ${file}: ${reason}`, 'ECONNRESET');
}

/** Grace for ssh to leave by itself once its input is closed, before SIGTERM (then SIGKILL). */
const EXIT_GRACE_MS = 2000;
/** How long a dead connection waits for the rest of ssh's stderr before failing. */
const STDERR_WAIT_MS = 1000;

/**
 * The ssh child's stdin and stdout as one stream. libvirt gives ssh one end of a socket pair
 * for both; so does this when the fdpass addon can make the pair (else two pipes). That matters
 * for the error when ssh goes away while the connection is open, which carries ssh's own words
 * (its stderr) as libvirt's does: ssh that never read the client's first call (login refused)
 * resets the pair — "Cannot recv data: …: Connection reset by peer" —, ssh that passed the call
 * on and then lost the remote side closes it — "End of file while reading data: …:
 * Input/output error". Destroying the stream closes ssh's input and makes sure the child goes.
 */
class SshStream extends Duplex {
  private stderr = '';
  private stderrDone = false;
  private failing = false;

  constructor(
    private readonly child: ChildProcess,
    private readonly io: Duplex,
  ) {
    super();
    child.stderr?.on('data', (b: Buffer) => {
      if (this.stderr.length < STDERR_LIMIT) this.stderr = (this.stderr + b.toString('utf8')).slice(0, STDERR_LIMIT);
    });
    child.stderr?.once('close', () => (this.stderrDone = true));
    io.on('data', (b: Buffer) => {
      if (!this.push(b)) io.pause();
    });
    io.once('end', () => this.fail('End of file while reading data', 'EIO'));
    io.on('error', (err: NodeJS.ErrnoException) => this.fail('Cannot recv data', err.code ?? 'ECONNRESET'));
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (this.destroyed || this.failing) return;
      this.failing = true;
      this.destroy(cannotRun(child.spawnfile, err));
    });
  }

  /** Fails the stream once ssh's stderr is all in (libvirt reads it when the read fails). */
  private fail(what: string, code: string): void {
    if (this.destroyed || this.failing) return;
    this.failing = true;
    const finish = (): void => {
      clearTimeout(timer);
      if (this.destroyed) return;
      const said = this.stderr.replace(/[\r\n]+$/, '');
      this.destroy(systemError(said === '' ? what : `${what}: ${said}`, code));
    };
    const timer = setTimeout(finish, STDERR_WAIT_MS);
    if (this.stderrDone) finish();
    else this.child.stderr?.once('close', finish);
  }

  override _read(): void {
    this.io.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.io.destroyed) {
      cb();
      return;
    }
    // A write ssh can no longer take fails here; the read side reports why.
    this.io.write(chunk, () => cb());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.failing = true;
    this.io.destroy();
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      // ssh normally leaves when its input ends; one that lingers is ended, as libvirt does.
      const term = setTimeout(() => {
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), EXIT_GRACE_MS);
        kill.unref();
        child.once('exit', () => clearTimeout(kill));
      }, EXIT_GRACE_MS);
      term.unref();
      child.once('exit', () => clearTimeout(term));
    }
    cb(err);
  }
}

/**
 * Starts `cmd` with stdin and stdout on one end of a socket pair (the other end returned as a
 * socket), or on two pipes without the fdpass addon; stderr is a pipe.
 */
function spawnSsh(cmd: SshCommand): { child: ChildProcess; io: Duplex } {
  const addon = fdPassing();
  if (addon !== null) {
    const [mine, theirs] = addon.socketpair();
    try {
      const child = spawn(cmd.file, cmd.args, { stdio: [theirs, theirs, 'pipe'] });
      return { child, io: new Socket({ fd: mine, readable: true, writable: true }) };
    } finally {
      closeSync(theirs);
    }
  }
  const child = spawn(cmd.file, cmd.args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin?.on('error', () => undefined);
  return { child, io: Duplex.from({ readable: child.stdout, writable: child.stdin }) };
}

/**
 * Spawns ssh for `target` and returns the client over its stdin/stdout (before the handshake).
 * ssh's own failures (host unreachable, key refused, no daemon on the remote side) surface on
 * the first call as VIR_ERR_SYSTEM_ERROR with ssh's stderr, in libvirt's words (see
 * SshStream). Errors here: VIR_ERR_INVALID_ARG for bad URI parameters (see sshCommand).
 */
export function openSsh(target: RemoteTarget, opts: RpcClientOptions): RpcClient {
  const cmd = sshCommand(target, { tty: haveTty() });
  const { child, io } = spawnSsh(cmd);
  return RpcClient.over(new SshStream(child, io), opts);
}
