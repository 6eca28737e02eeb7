/**
 * The paths every layer shares: where tsvirt keeps durable state ($TSVIRT_STATE_DIR, else
 * $XDG_STATE_HOME/tsvirt, else ~/.local/state/tsvirt; every driver's store lives below it), and
 * libvirt's daemon socket names and directory, which the daemon listens on and the remote driver
 * dials.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The state directory for the given environment. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TSVIRT_STATE_DIR !== undefined && env.TSVIRT_STATE_DIR !== '') return env.TSVIRT_STATE_DIR;
  const xdg = env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== '' ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(xdg, 'tsvirt');
}

/** libvirt's socket names. */
export const RW_SOCKET = 'libvirt-sock';
export const RO_SOCKET = 'libvirt-sock-ro';

/**
 * The default socket directory, as libvirt's daemons choose it: `/run/libvirt` for root (the
 * system daemon); otherwise `$XDG_RUNTIME_DIR/libvirt`, or `~/.cache/libvirt` without
 * XDG_RUNTIME_DIR (the session daemon).
 */
export function defaultSocketDir(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? -1): string {
  if (uid === 0) return '/run/libvirt';
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg !== undefined && xdg !== '') return join(xdg, 'libvirt');
  return join(homedir(), '.cache', 'libvirt');
}
