/**
 * Where tsvirt keeps durable state: $TSVIRT_STATE_DIR, else $XDG_STATE_HOME/tsvirt, else
 * ~/.local/state/tsvirt. Every driver's store lives below it (test/, qemu/).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The state directory for the given environment. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TSVIRT_STATE_DIR !== undefined && env.TSVIRT_STATE_DIR !== '') return env.TSVIRT_STATE_DIR;
  const xdg = env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== '' ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(xdg, 'tsvirt');
}
