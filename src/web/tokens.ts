/**
 * The web console's access tokens, as Jupyter's: random secrets kept in a file of the daemon's
 * user (mode 0600, never a symbolic link), one per line as `ROLE TOKEN [LABEL]`. An `admin` token
 * may do what a read-write libvirt connection may; an `operator` token sees everything, uses the
 * consoles (keyboard and mouse included) and runs the power actions (start, shutdown, reboot,
 * reset, destroy, suspend, resume) but changes no definition; a `readonly` token sees domains and
 * watches their consoles but changes nothing and types nothing. Removing a line revokes that token: the file is read again
 * whenever it changes, and sessions and WebSockets of a revoked token end.
 *
 * Tokens are compared in constant time, and only their digests are held after loading. Nothing
 * here logs a token: callers log a token's ID (the first 12 hex digits of its SHA-256).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, constants as fsc, fstatSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';

/** What a token may do. */
export type WebRole = 'admin' | 'operator' | 'readonly';

/** Every role, most powerful first. */
export const WEB_ROLES: readonly WebRole[] = ['admin', 'operator', 'readonly'];

/** A token as the server knows it: never the secret itself. */
export interface WebTokenInfo {
  /** The first 12 hex digits of the token's SHA-256: safe to show and log. */
  id: string;
  role: WebRole;
  /** Free text after the token on its line. */
  label: string;
}

interface Entry extends WebTokenInfo {
  digest: Buffer;
}

const digestOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();
const LINE = /^(admin|operator|readonly)\s+([A-Za-z0-9_-]{16,256})(?:\s+(.*))?$/;

/** Opens `path` for reading and writing as a file of ours only: no symlink, no FIFO, one link, our uid. */
function openOwned(path: string, flags: number): number {
  let fd: number;
  try {
    fd = openSync(path, flags | fsc.O_NOFOLLOW | fsc.O_NONBLOCK, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`token file ${path} is a symbolic link: refusing it`, { cause: err });
    throw new Error(`token file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const st = fstatSync(fd);
  const me = process.geteuid?.() ?? 0;
  const problem = !st.isFile()
    ? 'is not a regular file'
    : st.uid !== me
      ? `is owned by uid ${st.uid}, not ${me}`
      : st.nlink !== 1
        ? `has ${st.nlink} hard links`
        : (st.mode & 0o077) !== 0
          ? `is readable or writable by others (mode ${(st.mode & 0o777).toString(8)})`
          : null;
  if (problem !== null) {
    closeSync(fd);
    throw new Error(`token file ${path} ${problem}: refusing it`);
  }
  return fd;
}

/** A new token: 32 random bytes, base64url. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The tokens of one token file (see the file comment). */
export class WebTokens {
  private entries: Entry[] = [];
  private stamp = '';

  private constructor(readonly path: string) {}

  /**
   * Opens the token file, creating it (0600) when missing. When it holds no admin token one is
   * created and returned, so the caller can show it once (printed at start, as Jupyter does);
   * otherwise `created` is null. Throws when the file is a symlink, not ours, or open to others.
   */
  static open(path: string): { tokens: WebTokens; created: string | null } {
    closeSync(openOwned(path, fsc.O_RDONLY | fsc.O_CREAT));
    const tokens = new WebTokens(path);
    tokens.reload(true);
    let created: string | null = null;
    if (!tokens.entries.some((e) => e.role === 'admin')) created = tokens.add('admin', 'created at start');
    return { tokens, created };
  }

  /** Adds a token of `role` to the file and returns it (the only time it is seen). */
  add(role: WebRole, label = ''): string {
    const token = newToken();
    const fd = openOwned(this.path, fsc.O_WRONLY | fsc.O_APPEND);
    try {
      writeSync(fd, `${role} ${token}${label === '' ? '' : ` ${label.replace(/[\r\n]/g, ' ')}`}\n`);
    } finally {
      closeSync(fd);
    }
    this.reload(true);
    return token;
  }

  /** The tokens in the file, without their secrets. */
  list(): WebTokenInfo[] {
    this.reload();
    return this.entries.map(({ id, role, label }) => ({ id, role, label }));
  }

  /** The token `token` is, or null when it is not (or no longer) in the file. Constant time per entry. */
  verify(token: string): WebTokenInfo | null {
    this.reload();
    const d = digestOf(token);
    let found: Entry | null = null;
    for (const e of this.entries) if (timingSafeEqual(e.digest, d)) found = e;
    return found === null ? null : { id: found.id, role: found.role, label: found.label };
  }

  /** Whether the token with ID `id` is still in the file (a session's token may have been revoked). */
  has(id: string): boolean {
    this.reload();
    return this.entries.some((e) => e.id === id);
  }

  /** Reads the file again when its size, mtime or inode changed (or when `force`). */
  private reload(force = false): void {
    let stamp: string;
    try {
      const st = statSync(this.path, { bigint: true });
      stamp = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    } catch {
      stamp = 'missing';
    }
    if (!force && stamp === this.stamp) return;
    this.stamp = stamp;
    if (stamp === 'missing') {
      this.entries = [];
      return;
    }
    const fd = openOwned(this.path, fsc.O_RDONLY);
    let text: string;
    try {
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
    const entries: Entry[] = [];
    for (const raw of text.split('\n')) {
      const m = LINE.exec(raw.trim());
      if (m === null) continue;
      const digest = digestOf(m[2]!);
      entries.push({ id: digest.toString('hex').slice(0, 12), role: m[1] as WebRole, label: m[3] ?? '', digest });
    }
    this.entries = entries;
  }
}
