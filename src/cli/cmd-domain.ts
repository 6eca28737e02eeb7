/**
 * Domain management commands (virsh-domain.c): define, create, start, shutdown, destroy, reboot,
 * suspend, resume, undefine, managedsave, managedsave-remove, dumpxml, domid, domname, domuuid.
 * Each follows virsh's handler step by step (its option checks, its fallbacks, its messages);
 * tsvirt adds hint lines after refusals a flag would overcome, and `undefine --export-snapshots`.
 */
import type { Domain, StorageVol } from '../index.js';
import {
  DomainCreateFlags,
  DomainDestroyFlags,
  DomainSaveRestoreFlags,
  DomainSnapshotListFlags,
  DomainUndefineFlags,
  DomainXMLFlags,
  ErrorNumber,
  StorageVolDeleteFlags,
} from '../core/enums.generated.js';
import { BY_ID, BY_NAME, BY_UUID, CmdFailed, FAILED, isVirError, type Cmd, type Ctl, type Handler } from './context.js';
import { readXMLFile } from './files.js';
import { jobProgress } from './progress.js';
import { stringToArray } from './text.js';
import { parseXML } from './xml.js';

// libvirt's numbers, from the one generated table.
const { NO_SUPPORT: ERR_NO_SUPPORT, INVALID_ARG: ERR_INVALID_ARG, OPERATION_INVALID: ERR_OPERATION_INVALID } = ErrorNumber;
const { START_PAUSED, START_AUTODESTROY, START_BYPASS_CACHE, START_FORCE_BOOT, START_VALIDATE, START_RESET_NVRAM } =
  DomainCreateFlags;
const {
  MANAGED_SAVE: UNDEFINE_MANAGED_SAVE,
  SNAPSHOTS_METADATA: UNDEFINE_SNAPSHOTS_METADATA,
  NVRAM: UNDEFINE_NVRAM,
  KEEP_NVRAM: UNDEFINE_KEEP_NVRAM,
  CHECKPOINTS_METADATA: UNDEFINE_CHECKPOINTS_METADATA,
  TPM: UNDEFINE_TPM,
  KEEP_TPM: UNDEFINE_KEEP_TPM,
} = DomainUndefineFlags;
const SNAPSHOT_LIST_METADATA = DomainSnapshotListFlags.METADATA;

function errorCode(ctl: Ctl): number | undefined {
  const e = ctl.lastError;
  return isVirError(e) ? e.code : undefined;
}

/** Options tsvirt parses for compatibility but cannot honour. */
function unsupported(ctl: Ctl, what: string): never {
  ctl.error(`${what} is not supported by tsvirt`);
  throw new CmdFailed();
}

const define: Handler = async (ctl, cmd) => {
  const from = cmd.string('file')!;
  const flags = cmd.bool('validate') ? 1 : 0;
  const xml = readXMLFile(ctl, from);
  const dom = await ctl.attempt(typeof xml !== 'string' ? Promise.reject(xml) : flags !== 0 ? ctl.c.defineXMLFlags(xml, flags) : ctl.c.defineXML(xml));
  if (dom === FAILED) {
    ctl.error(`Failed to define domain from ${from}`);
    return false;
  }
  ctl.extra(`Domain '${dom.name()}' defined from ${from}\n`);
  return true;
};

const create: Handler = async (ctl, cmd) => {
  const from = cmd.string('file')!;
  const xml = readXMLFile(ctl, from);
  if (cmd.string('pass-fds') !== undefined) unsupported(ctl, '--pass-fds');
  let flags = 0;
  if (cmd.bool('paused')) flags |= START_PAUSED;
  if (cmd.bool('autodestroy')) flags |= START_AUTODESTROY;
  if (cmd.bool('validate')) flags |= START_VALIDATE;
  if (cmd.bool('reset-nvram')) flags |= START_RESET_NVRAM;
  const dom = await ctl.attempt(typeof xml !== 'string' ? Promise.reject(xml) : ctl.c.createXML(xml, flags));
  if (dom === FAILED) {
    ctl.error(`Failed to create domain from ${from}`);
    return false;
  }
  ctl.extra(`Domain '${dom.name()}' created from ${from}\n`);
  // virsh ignores how the console of a created domain ends.
  if (cmd.bool('console')) {
    await (await import('./cmd-console.js')).runDomainConsole(ctl, dom, null, 0);
    ctl.resetError();
  }
  return true;
};

const start: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain(BY_NAME | BY_UUID);
  if (dom.ID() !== -1) {
    ctl.error('Domain is already active');
    return false;
  }
  if (cmd.string('pass-fds') !== undefined) unsupported(ctl, '--pass-fds');
  let flags = 0;
  if (cmd.bool('paused')) flags |= START_PAUSED;
  if (cmd.bool('autodestroy')) flags |= START_AUTODESTROY;
  if (cmd.bool('bypass-cache')) flags |= START_BYPASS_CACHE;
  if (cmd.bool('force-boot')) flags |= START_FORCE_BOOT;
  if (cmd.bool('reset-nvram')) flags |= START_RESET_NVRAM;
  const progress = jobProgress(ctl, 'Start', cmd.bool('verbose'));
  const job = progress.onProgress !== undefined ? { onProgress: progress.onProgress } : undefined;

  let started = false;
  // virsh emulates --force-boot for servers that reject it.
  if (flags & START_FORCE_BOOT) {
    if ((await ctl.attempt(dom.createWithFlags(flags, job))) !== FAILED) {
      started = true;
    } else {
      const code = errorCode(ctl);
      if (code !== ERR_NO_SUPPORT && code !== ERR_INVALID_ARG) {
        ctl.reportError();
        return false;
      }
      ctl.resetError();
      const has = await ctl.attempt(dom.hasManagedSaveImage());
      if (has === FAILED) ctl.resetError();
      else if (has && (await ctl.attempt(dom.managedSaveRemove())) === FAILED) {
        ctl.reportError();
        return false;
      }
      flags &= ~START_FORCE_BOOT;
    }
  }
  if (!started) {
    const rc = await ctl.attempt(flags !== 0 || job !== undefined ? dom.createWithFlags(flags, job) : dom.create());
    if (rc === FAILED) {
      ctl.error(`Failed to start domain '${dom.name()}'`);
      startHints(ctl);
      return false;
    }
  }
  if (job !== undefined) {
    progress.done();
    ctl.stderr('\n');
  }
  ctl.extra(`Domain '${dom.name()}' started\n`);
  if (cmd.bool('console') && !(await (await import('./cmd-console.js')).runDomainConsole(ctl, dom, null, 0))) return false;
  return true;
};

function startHints(ctl: Ctl): void {
  const e = ctl.lastError;
  if (isVirError(e) && e.code === ERR_OPERATION_INVALID && /managed save/i.test(e.message)) {
    ctl.hint('add --force-boot to discard the managed save image and boot afresh');
  }
}

/** Parses --mode for shutdown and reboot (acpi|agent|initctl|signal|paravirt, comma-separated). */
function shutdownModes(ctl: Ctl, cmd: Cmd, expecting: string): number {
  const mode = cmd.string('mode');
  if (mode === undefined) return 0;
  const bits: Record<string, number> = { acpi: 1, agent: 2, initctl: 4, signal: 8, paravirt: 16 };
  let flags = 0;
  for (const m of mode.split(',')) {
    const bit = bits[m];
    if (bit === undefined) {
      ctl.error(`Unknown mode ${m} value, expecting ${expecting}`);
      throw new CmdFailed();
    }
    flags |= bit;
  }
  return flags;
}

const shutdown: Handler = async (ctl, cmd) => {
  const flags = shutdownModes(ctl, cmd, "'acpi', 'agent', 'initctl', 'signal', or 'paravirt'");
  const { dom, name } = await cmd.domain();
  if ((await ctl.attempt(flags !== 0 ? dom.shutdownFlags(flags) : dom.shutdown())) === FAILED) {
    ctl.error(`Failed to shutdown domain '${name}'`);
    return false;
  }
  ctl.extra(`Domain '${name}' is being shutdown\n`);
  return true;
};

const reboot: Handler = async (ctl, cmd) => {
  const flags = shutdownModes(ctl, cmd, "'acpi', 'agent', 'initctl', 'signal' or 'paravirt'");
  const { dom, name } = await cmd.domain();
  if ((await ctl.attempt(dom.reboot(flags))) === FAILED) {
    ctl.error(`Failed to reboot domain '${name}'`);
    return false;
  }
  ctl.extra(`Domain '${name}' is being rebooted\n`);
  return true;
};

const destroy: Handler = async (ctl, cmd) => {
  const { dom, name } = await cmd.domain();
  let flags = 0;
  if (cmd.bool('graceful')) flags |= DomainDestroyFlags.GRACEFUL;
  if (cmd.bool('remove-logs')) flags |= DomainDestroyFlags.REMOVE_LOGS;
  if ((await ctl.attempt(flags !== 0 ? dom.destroyFlags(flags) : dom.destroy())) === FAILED) {
    ctl.error(`Failed to destroy domain '${name}'`);
    return false;
  }
  ctl.extra(`Domain '${name}' destroyed\n`);
  return true;
};

const suspend: Handler = async (ctl, cmd) => {
  const { dom, name } = await cmd.domain();
  if ((await ctl.attempt(dom.suspend())) === FAILED) {
    ctl.error(`Failed to suspend domain '${name}'`);
    return false;
  }
  ctl.extra(`Domain '${name}' suspended\n`);
  return true;
};

const resume: Handler = async (ctl, cmd) => {
  const { dom, name } = await cmd.domain();
  if ((await ctl.attempt(dom.resume())) === FAILED) {
    ctl.error(`Failed to resume domain '${name}'`);
    return false;
  }
  ctl.extra(`Domain '${name}' resumed\n`);
  return true;
};

/** The disks of a domain as virsh's undefine reads them: target dev and source. */
async function domainDisks(dom: Domain): Promise<{ target: string; source: string | null; pool: string | null }[]> {
  const root = parseXML(await dom.XMLDesc(0));
  const devices = root.children.find((c) => c.name === 'domain')?.children.find((c) => c.name === 'devices');
  const disks = devices?.children.filter((c) => c.name === 'disk') ?? [];
  return disks.map((d) => {
    const src = d.children.find((c) => c.name === 'source');
    const a = src?.attrs ?? {};
    return {
      target: d.children.find((c) => c.name === 'target')?.attrs.dev ?? '',
      source: a.file ?? a.dir ?? a.name ?? a.dev ?? a.volume ?? null,
      pool: a.pool ?? null,
    };
  });
}

const undefine: Handler = async (ctl, cmd) => {
  const managedSave = cmd.bool('managed-save');
  const snapshotsMetadata = cmd.bool('snapshots-metadata');
  const wipeStorage = cmd.bool('wipe-storage');
  const removeAllStorage = cmd.bool('remove-all-storage');
  const nvram = cmd.bool('nvram');

  cmd.requires('delete-storage-volume-snapshots', 'remove-all-storage');
  cmd.exclusive('nvram', 'keep-nvram');
  cmd.exclusive('tpm', 'keep-tpm');
  cmd.requires('export-snapshots', 'snapshots-metadata');

  let volString: string | undefined;
  try {
    volString = cmd.stringQuiet('storage');
  } catch (err) {
    if (!(err instanceof CmdFailed)) throw err;
  }
  if (volString === undefined && !removeAllStorage && wipeStorage) {
    ctl.error("'--wipe-storage' requires '--storage <string>' or '--remove-all-storage'");
    return false;
  }
  const exportDir = cmd.string('export-snapshots');

  let flags = 0;
  let managedSaveSafe = false;
  let snapshotsSafe = false;
  if (managedSave) {
    flags |= UNDEFINE_MANAGED_SAVE;
    managedSaveSafe = true;
  }
  if (snapshotsMetadata) {
    flags |= UNDEFINE_SNAPSHOTS_METADATA;
    snapshotsSafe = true;
  }
  if (cmd.bool('checkpoints-metadata')) flags |= UNDEFINE_CHECKPOINTS_METADATA;
  if (nvram) flags |= UNDEFINE_NVRAM;
  if (cmd.bool('keep-nvram')) flags |= UNDEFINE_KEEP_NVRAM;
  if (cmd.bool('tpm')) flags |= UNDEFINE_TPM;
  if (cmd.bool('keep-tpm')) flags |= UNDEFINE_KEEP_TPM;

  const { dom, name } = await cmd.domain();

  // Drop flags that are not needed, so that a server that does not know them does not refuse
  // the call, and find out whether the call can strand data (virsh's logic).
  const running = await ctl.attempt(dom.isActive());
  if (running === FAILED) {
    ctl.reportError();
    return false;
  }
  let hasManagedSave = false;
  let hasSnapshots = 0;
  let hasSnapshotsMetadata = 0;
  if (!running) {
    const ms = await ctl.attempt(dom.hasManagedSaveImage());
    if (ms === FAILED) {
      if (errorCode(ctl) !== ERR_NO_SUPPORT) {
        ctl.reportError();
        return false;
      }
      ctl.resetError();
    } else {
      hasManagedSave = ms;
    }
    const n = await ctl.attempt(dom.snapshotNum(0));
    if (n === FAILED) {
      if (errorCode(ctl) !== ERR_NO_SUPPORT) {
        ctl.reportError();
        return false;
      }
      ctl.resetError();
    } else {
      hasSnapshots = n;
    }
    if (hasSnapshots > 0) {
      const m = await ctl.attempt(dom.snapshotNum(SNAPSHOT_LIST_METADATA));
      if (m === FAILED) {
        ctl.resetError();
        hasSnapshotsMetadata = hasSnapshots;
      } else {
        hasSnapshotsMetadata = m;
        managedSaveSafe = snapshotsSafe = true;
      }
    }
  }
  if (!hasManagedSave) {
    flags &= ~UNDEFINE_MANAGED_SAVE;
    managedSaveSafe = true;
  }
  if (hasSnapshots === 0) snapshotsSafe = true;
  if (hasSnapshotsMetadata === 0) {
    flags &= ~UNDEFINE_SNAPSHOTS_METADATA;
    snapshotsSafe = true;
  }

  // Storage volumes (virsh's walk over the domain's disks): each selected disk's volume is looked
  // up now, and removed only once the undefine has succeeded.
  const volumes: { vol: StorageVol; target: string; source: string }[] = [];
  if (volString !== undefined || removeAllStorage) {
    if (running) {
      ctl.error('Storage volume deletion is supported only on stopped domains');
      return false;
    }
    if (volString !== undefined && removeAllStorage) {
      ctl.error('Specified both --storage and --remove-all-storage');
      return false;
    }
    const wanted: (string | null)[] | null = volString !== undefined ? stringToArray(volString) : null;
    for (const disk of await domainDisks(dom)) {
      if (disk.source === null) continue;
      if (wanted !== null) {
        const j = wanted.findIndex((w) => w !== null && (w === disk.target || w === disk.source));
        if (j < 0) continue;
        wanted[j] = null;
      }
      let vol: StorageVol | null = null;
      try {
        if (disk.pool !== null) {
          let pool;
          try {
            pool = await ctl.c.storagePoolLookupByName(disk.pool);
          } catch (err) {
            if (!isVirError(err)) throw err;
            ctl.error(`Storage pool '${disk.pool}' for volume '${disk.target}' not found.`);
            continue;
          }
          vol = await pool.storageVolLookupByName(disk.source);
        } else {
          vol = await ctl.c.storageVolLookupByPath(disk.source);
        }
      } catch (err) {
        if (!isVirError(err)) throw err;
      }
      if (vol === null) {
        ctl.error(`Storage volume '${disk.target}'(${disk.source}) is not managed by libvirt. Remove it manually.\n`);
        continue;
      }
      volumes.push({ vol, target: disk.target, source: disk.source });
    }
    ctl.resetError();
    const missing = (wanted ?? []).filter((w): w is string => w !== null);
    if (missing.length > 0) {
      for (const w of missing) ctl.error(`Volume '${w}' was not found in domain's definition.\n`);
      return false;
    }
  }

  // tsvirt: keep a copy of the snapshot metadata before anything is removed.
  if (exportDir !== undefined) {
    const { exportSnapshots } = await import('./cmd-transfer.js');
    const exported = await exportSnapshots(dom, exportDir);
    if (!exported.ok) {
      ctl.error(`Failed to export snapshots of domain '${name}' to '${exportDir}': ${exported.reason}`);
      ctl.error(`Domain '${name}' was not undefined; nothing was removed`);
      return false;
    }
    ctl.extra(`Domain '${name}' and its ${exported.count} snapshots exported to ${exportDir}\n`);
  }

  // The options the user gave beyond --managed-save and --snapshots-metadata: when the
  // hypervisor refuses one of them, virsh falls back to the plain call, and a hint must say so.
  const extraOptions = ['checkpoints-metadata', 'nvram', 'keep-nvram', 'tpm', 'keep-tpm'].filter((o) => cmd.bool(o)).map((o) => `--${o}`);
  let rejected: string | null = null;
  const hintMissing = () =>
    undefineHints(ctl, hasManagedSave && !managedSave, snapshotsMetadata ? 0 : hasSnapshotsMetadata, rejected !== null ? extraOptions : [], rejected);

  let rc: unknown = FAILED;
  let done = false;
  if ((managedSaveSafe && snapshotsSafe) || nvram) {
    rc = await ctl.attempt(dom.undefineFlags(flags));
    const code = errorCode(ctl);
    if (rc !== FAILED || nvram || (code !== ERR_NO_SUPPORT && code !== ERR_INVALID_ARG)) done = true;
    else {
      rejected = ctl.lastError?.message ?? null;
      ctl.resetError();
    }
  }
  if (!done) {
    // The call with flags is not available or not safe: do it piece by piece, as virsh does.
    if (hasManagedSave) {
      if (!managedSave) {
        ctl.error('Refusing to undefine while domain managed save image exists');
        hintMissing();
        return false;
      }
      if ((await ctl.attempt(dom.managedSaveRemove())) === FAILED) {
        ctl.reportError();
        return false;
      }
    }
    if (hasSnapshotsMetadata > 0) {
      if (snapshotsMetadata) ctl.error(`Unable to remove metadata of ${hasSnapshotsMetadata} snapshots`);
      else ctl.error(`Refusing to undefine while ${hasSnapshotsMetadata} snapshots exist`);
      hintMissing();
      return false;
    }
    rc = await ctl.attempt(dom.undefine());
  }
  if (rc === FAILED) {
    ctl.error(`Failed to undefine domain '${name}'`);
    if (errorCode(ctl) === ERR_OPERATION_INVALID) hintMissing();
    return false;
  }
  ctl.extra(`Domain '${name}' has been undefined\n`);
  // Only now, with the domain undefined, its volumes go (virsh's order).
  let ok = true;
  for (const v of volumes) {
    if (wipeStorage) {
      ctl.extra(`Wiping volume '${v.target}'(${v.source}) ... `);
      if ((await ctl.attempt(v.vol.wipe(0))) === FAILED) {
        ctl.error('Failed! Volume not removed.');
        ctl.reportError();
        ok = false;
        continue;
      }
      ctl.extra('Done.\n');
    }
    const deleteFlags = cmd.bool('delete-storage-volume-snapshots') ? StorageVolDeleteFlags.WITH_SNAPSHOTS : 0;
    if ((await ctl.attempt(v.vol.delete(deleteFlags))) === FAILED) {
      ctl.error(`Failed to remove storage volume '${v.target}'(${v.source})`);
      ctl.reportError();
      ok = false;
    } else {
      ctl.extra(`Volume '${v.target}'(${v.source}) removed.\n`);
    }
  }
  return ok;
};

/**
 * tsvirt's hint after a refused undefine: the flags that would make it go through, and the
 * options to drop when the hypervisor refused them (virsh then retried without any flags).
 */
function undefineHints(ctl: Ctl, needManagedSave: boolean, snapshots: number, drop: string[], rejected: string | null): void {
  let add = '';
  if (needManagedSave && snapshots > 0) {
    add = `add --managed-save --snapshots-metadata to remove its managed save image and the metadata of its ${snapshots} snapshots as well (snapshot-export first to keep the metadata)`;
  } else if (snapshots > 0) {
    add = `add --snapshots-metadata to remove the metadata of its ${snapshots} snapshots as well (snapshot-export first to keep it)`;
  } else if (needManagedSave) {
    add = 'add --managed-save to remove its managed save image as well';
  }
  if (drop.length > 0 && rejected !== null) {
    ctl.hint(`drop ${drop.join(' ')}: the hypervisor refused it (${rejected})${add !== '' ? `, and ${add}` : ''}`);
  } else if (add !== '') {
    ctl.hint(add);
  }
}

const managedsave: Handler = async (ctl, cmd) => {
  const { dom, name } = await cmd.domain();
  let flags = 0;
  if (cmd.bool('bypass-cache')) flags |= DomainSaveRestoreFlags.BYPASS_CACHE;
  if (cmd.bool('running')) flags |= DomainSaveRestoreFlags.RUNNING;
  if (cmd.bool('paused')) flags |= DomainSaveRestoreFlags.PAUSED;
  const progress = jobProgress(ctl, 'Managedsave', cmd.bool('verbose'));
  const rc = await ctl.attempt(
    dom.managedSave(flags, progress.onProgress !== undefined ? { onProgress: progress.onProgress } : undefined),
  );
  if (rc === FAILED) {
    ctl.error(`Failed to save domain '${name}' state`);
    return false;
  }
  progress.done();
  ctl.extra(`\nDomain '${name}' state saved by libvirt\n`);
  return true;
};

const managedsaveRemove: Handler = async (ctl, cmd) => {
  const { dom, name } = await cmd.domain();
  const has = await ctl.attempt(dom.hasManagedSaveImage());
  if (has === FAILED) {
    ctl.error('Failed to check for domain managed save image');
    return false;
  }
  if (!has) {
    ctl.extra(`Domain '${name}' has no manage save image; removal skipped`);
    return true;
  }
  if ((await ctl.attempt(dom.managedSaveRemove())) === FAILED) {
    ctl.error(`Failed to remove managed save image for domain '${name}'`);
    return false;
  }
  ctl.extra(`Removed managedsave image for domain '${name}'`);
  return true;
};

const dumpxml: Handler = async (ctl, cmd) => {
  let flags = 0;
  if (cmd.bool('inactive')) flags |= DomainXMLFlags.INACTIVE;
  if (cmd.bool('security-info')) flags |= DomainXMLFlags.SECURE;
  if (cmd.bool('update-cpu')) flags |= DomainXMLFlags.UPDATE_CPU;
  if (cmd.bool('migratable')) flags |= DomainXMLFlags.MIGRATABLE;
  const { dom } = await cmd.domain();
  if (cmd.stringQuiet('xpath') !== undefined) unsupported(ctl, '--xpath');
  ctl.print(await dom.XMLDesc(flags));
  return true;
};

const domid: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain(BY_NAME | BY_UUID);
  const id = dom.ID();
  ctl.print(id >= 0 ? `${id}\n` : '-\n');
  return true;
};

const domname: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain(BY_ID | BY_UUID);
  ctl.print(`${dom.name()}\n`);
  return true;
};

const domuuid: Handler = async (ctl, cmd) => {
  const { dom } = await cmd.domain(BY_NAME | BY_ID);
  ctl.print(`${dom.UUIDString()}\n`);
  return true;
};

export const handlers: Record<string, Handler> = {
  define,
  create,
  start,
  shutdown,
  reboot,
  destroy,
  suspend,
  resume,
  undefine,
  managedsave,
  'managedsave-remove': managedsaveRemove,
  dumpxml,
  domid,
  domname,
  domuuid,
};
