/**
 * Where tsvirt keeps durable state: $TSVIRT_STATE_DIR, else $XDG_STATE_HOME/tsvirt, else
 * ~/.local/state/tsvirt. Every driver's store lives below it (test/, qemu/).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as NodeOs from 'node:os';

/**
 * node:os's homedir, loaded on first use: test:///default never needs it, and loading node:os
 * costs a command's start-up 0.4 ms.
 */
function homedir(): string {
  return (createRequire(import.meta.url)('node:os') as typeof NodeOs).homedir();
}

/** The state directory for the given environment. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TSVIRT_STATE_DIR !== undefined && env.TSVIRT_STATE_DIR !== '') return env.TSVIRT_STATE_DIR;
  const xdg = env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== '' ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(xdg, 'tsvirt');
}
