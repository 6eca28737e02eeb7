/**
 * Where `qemu:///session` and `qemu:///system` keep their state, and QEMU's version in libvirt's
 * encoding: what opening the qemu driver needs besides {@link QemuGuests}.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ErrorDomain } from '../../core/enums.generated.js';
import { internalError } from '../../core/errors.js';
import { stateDir } from '../../core/paths.js';

/** State locations of one qemu URI. */
export interface QemuLocations {
  /** Store, logs, managed save images: the QemuGuests `root`. */
  root: string;
  /** Runtime directories (sockets, pidfiles): the QemuGuests `runRoot`; short paths. */
  runRoot: string;
}

/**
 * `qemu:///session`: `$TSVIRT_STATE_DIR/qemu` (else `$XDG_STATE_HOME/tsvirt/qemu`, else
 * `~/.local/state/tsvirt/qemu`), runtime under `$XDG_RUNTIME_DIR/tsvirt/qemu` when set.
 * `qemu:///system`: `/var/lib/tsvirt/qemu` and `/run/tsvirt/qemu`.
 */
export function qemuLocations(path: '/session' | '/system', env: NodeJS.ProcessEnv = process.env): QemuLocations {
  if (path === '/system') return { root: '/var/lib/tsvirt/qemu', runRoot: '/run/tsvirt/qemu' };
  const root = join(stateDir(env), 'qemu');
  const runtime = env.XDG_RUNTIME_DIR;
  return {
    root,
    runRoot: env.TSVIRT_STATE_DIR === undefined && runtime !== undefined && runtime !== '' ? join(runtime, 'tsvirt', 'qemu') : join(root, 'run'),
  };
}

/**
 * The migration settings of libvirt's qemu.conf (migration_address, migration_host), from
 * `$TSVIRT_MIGRATION_ADDRESS` and `$TSVIRT_MIGRATION_HOST` (tsvirtd's --migration-address and
 * --migration-host set them); unset: listen on every address, tell sources this host's name.
 */
export function qemuMigrationConfig(env: NodeJS.ProcessEnv = process.env): { address?: string; host?: string } {
  const pick = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);
  return { address: pick(env.TSVIRT_MIGRATION_ADDRESS), host: pick(env.TSVIRT_MIGRATION_HOST) };
}

/**
 * QEMU's version as libvirt encodes it (major * 1,000,000 + minor * 1,000 + micro), from
 * `BINARY --version` ("QEMU emulator version 7.2.22 (…)" → 7002022).
 *
 * Errors: VIR_ERR_INTERNAL_ERROR when the binary does not run or prints no version.
 */
export function qemuVersion(binary: string): number {
  let out: string;
  try {
    out = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw internalError(ErrorDomain.QEMU, `cannot run '${binary} --version': ${(err as Error).message}`);
  }
  const m = /version (\d+)\.(\d+)(?:\.(\d+))?/.exec(out);
  if (m === null) throw internalError(ErrorDomain.QEMU, `cannot parse the version of ${binary}: ${out.slice(0, 200)}`);
  return Number(m[1]) * 1_000_000 + Number(m[2]) * 1000 + Number(m[3] ?? 0);
}
