/**
 * Tap devices for guest interfaces of `type='network'` and `type='bridge'`, as libvirt's qemu
 * driver makes them: a persistent tap `vnetN` owned by the user QEMU runs as, plugged into the
 * bridge and up before QEMU opens it (`-netdev tap,ifname=…`). The taps a guest holds are listed
 * in its runtime directory (`taps`), so that whoever cleans up after the guest, whatever way it
 * ended, deletes them too.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';

const run = promisify(execFile);

/** The file in a guest's runtime directory that lists its taps, one a line. */
export const TAPS_FILE = 'taps';

let queue: Promise<unknown> = Promise.resolve();

/**
 * Creates one tap on `bridge` for a guest NIC with MAC `mac`. The tap's own MAC is the guest's
 * with the first byte 0xfe, as libvirt sets it, so the bridge never takes the guest's address.
 * Serialized in the process, so two starts never pick the same name.
 *
 * Errors: VIR_ERR_SYSTEM_ERROR when the bridge does not exist or a command fails.
 */
export function createTap(bridge: string, mac: string): Promise<string> {
  const work = async (): Promise<string> => {
    if (!existsSync(join('/sys/class/net', bridge))) {
      throw VirError.report(ErrorDomain.NONE, ErrorNumber.SYSTEM_ERROR, `Cannot get interface MTU on '${bridge}': No such device`);
    }
    let n = 0;
    while (existsSync(join('/sys/class/net', `vnet${n}`))) n++;
    const tap = `vnet${n}`;
    const uid = process.getuid?.() ?? 0;
    try {
      await run('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap', 'user', String(uid)]);
      await run('ip', ['link', 'set', 'dev', tap, 'address', `fe${mac.slice(2)}`]);
      await run('ip', ['link', 'set', 'dev', tap, 'master', bridge, 'up']);
    } catch (err) {
      deleteTaps([tap]);
      const e = err as { stderr?: string; message: string };
      throw VirError.report(ErrorDomain.NONE, ErrorNumber.SYSTEM_ERROR, `Unable to create tap device ${tap}: ${(e.stderr ?? e.message).trim()}`);
    }
    return tap;
  };
  const p = queue.then(work, work);
  queue = p.catch(() => undefined);
  return p;
}

/** Records the guest's taps in its runtime directory. */
export function recordTaps(runDir: string, taps: readonly string[]): void {
  if (taps.length > 0) writeFileSync(join(runDir, TAPS_FILE), `${taps.join('\n')}\n`, { mode: 0o600 });
}

/** Deletes taps (those already gone are skipped). Synchronous: it runs in exit paths. */
export function deleteTaps(taps: readonly string[]): void {
  for (const tap of taps) {
    if (!/^vnet\d+$/.test(tap) || !existsSync(join('/sys/class/net', tap))) continue;
    try {
      execFileSync('ip', ['link', 'del', 'dev', tap], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      // gone meanwhile
    }
  }
}

/** Deletes the taps a guest's runtime directory lists. */
export function deleteRecordedTaps(runDir: string): void {
  let text: string;
  try {
    text = readFileSync(join(runDir, TAPS_FILE), 'utf8');
  } catch {
    return;
  }
  deleteTaps(text.split('\n').filter((t) => t !== ''));
}
