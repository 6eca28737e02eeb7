/**
 * Save to a file and restore from it (virDomainSave/Restore and their Flags forms, the save
 * image's XML): the managed save's machinery (the backend's memory-to-file path, the job
 * sequence, the stopped/started records and events) with a file the caller names. The file
 * starts with tsvirt's header (src/conf/save-image.ts) holding the domain XML, so a restore needs
 * no record: a transient domain, gone after its save as in libvirt, comes back from its file.
 */
import { closeSync, openSync, readSync, renameSync, rmSync, statSync, writeFileSync, fsyncSync } from 'node:fs';
import {
  DomainEventStartedDetailType as Started,
  DomainEventStoppedDetailType as Stopped,
  DomainEventSuspendedDetailType as Suspended,
  DomainEventResumedDetailType as Resumed,
  DomainEventType,
  DomainRunningReason,
  DomainSaveRestoreFlags,
  DomainShutoffReason,
  ErrorDomain,
  ErrorNumber,
} from '../../core/enums.generated.js';
import { VirError, operationInvalid } from '../../core/errors.js';
import type { DomainRef, JobOptions } from '../../core/driver.js';
import { formatDomainXML, parseDomainXML, type DomainDef } from '../../conf/domain.js';
import { SAVE_HEADER_FIXED, formatSaveHeader, parseSaveHeader, saveHeaderXmlLength, type SaveImageHeader } from '../../conf/save-image.js';
import { checkActive, runOnRestore } from '../../rules/lifecycle.js';
import type { Jobs } from './jobs.js';
import { STORED, isActive, refOf, type DomainRecords } from './records.js';

const { BYPASS_CACHE, RUNNING, PAUSED } = DomainSaveRestoreFlags;
/** VIR_DOMAIN_SAVE_IMAGE_XML_SECURE. */
const XML_SECURE = 1;

/** How a driver answers the save-file calls (libvirt's test driver and its QEMU driver differ). */
export interface SaveFileRules {
  /** QEMU's behaviour: flags BYPASS_CACHE/RUNNING/PAUSED, a replacement XML, its wording. */
  qemu: boolean;
}

function errno(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: 'No such file or directory',
    EACCES: 'Permission denied',
    EISDIR: 'Is a directory',
    ENOTDIR: 'Not a directory',
    EROFS: 'Read-only file system',
    ENOSPC: 'No space left on device',
  };
  return (code !== undefined ? words[code] : undefined) ?? (e as Error).message;
}

/** The save-file calls of one metadata driver. */
export class DomainSaveFiles {
  constructor(
    private readonly records: DomainRecords,
    private readonly jobs: Jobs,
    private readonly rules: SaveFileRules,
  ) {}

  private get d(): ErrorDomain {
    return this.records.errDomain;
  }
  private system(detail: string): VirError {
    return VirError.report(this.d, ErrorNumber.SYSTEM_ERROR, detail);
  }
  private saveFlags(): number {
    return this.rules.qemu ? BYPASS_CACHE | RUNNING | PAUSED : 0;
  }

  /** A replacement XML (`dxml`), where the driver takes one: same name and UUID as the saved domain. */
  private replacement(dxml: string | null, saved: DomainDef): DomainDef | null {
    if (dxml === null) return null;
    if (!this.rules.qemu) throw VirError.report(this.d, ErrorNumber.ARGUMENT_UNSUPPORTED, 'xml modification unsupported');
    const def = this.records.parseDef(dxml);
    if (def.name !== saved.name) {
      throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.CONFIG_UNSUPPORTED, `Target domain name '${def.name}' does not match source '${saved.name}'`);
    }
    if (def.uuid !== saved.uuid) {
      throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.CONFIG_UNSUPPORTED, `Target domain uuid ${def.uuid} does not match source ${saved.uuid}`);
    }
    return def;
  }

  /** The file can be created (before the guest is stopped for it): libvirt's open error otherwise. */
  private checkWritable(name: string, path: string): void {
    const probe = `${path}.part`;
    try {
      closeSync(openSync(probe, 'w', 0o600));
      rmSync(probe, { force: true });
    } catch (e) {
      if (this.rules.qemu) throw this.system(`Failed to create file '${path}': ${errno(e)}`);
      throw this.system(`saving domain '${name}' to '${path}': open failed: ${errno(e)}`);
    }
  }

  /** virDomainSaveFlags (`flags` null: virDomainSave). */
  async save(dom: DomainRef, path: string, dxml: string | null, flags: number | null, options?: JobOptions): Promise<void> {
    const r = this.records;
    const f = flags ?? 0;
    r.check(f, this.saveFlags(), 'DomainSaveFlags');
    const backend = r.backend;
    const write = backend.saveToFile?.bind(backend);
    if (dxml !== null && !this.rules.qemu) throw VirError.report(this.d, ErrorNumber.ARGUMENT_UNSUPPORTED, 'xml modification unsupported');
    await this.jobs.run(dom, 'virDomainSaveFlags', {
      plan: (rec) => {
        checkActive({ active: isActive(rec) });
        const live = r.currentDef(rec);
        const def = this.replacement(dxml, live) ?? live;
        this.checkWritable(rec.name, path);
        return formatSaveHeader(formatDomainXML(def, { secure: true }), runOnRestore(f, rec.state));
      },
      act: async (rec, header) => {
        if (write !== undefined) await write(rec, path, header, options);
        else {
          writeAtomically(path, header);
          options?.onProgress?.({ processed: 1, total: 1 });
        }
      },
      commit: (rec) => {
        r.events.vcpusStoppedForSave(rec);
        // R5 as for any stop: a transient domain is gone, its file is what is left of it.
        r.stopped(rec, DomainShutoffReason.SAVED, Stopped.SAVED);
      },
    });
  }

  /** Reads a save file's header, with the driver's errors for a missing or foreign file. */
  readHeader(path: string): SaveImageHeader {
    const d = this.d;
    const open = this.rules.qemu ? `Failed to open domain image file '${path}'` : `cannot read domain image '${path}'`;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw this.system(`${open}: ${errno(e)}`);
    }
    try {
      const fixed = Buffer.alloc(SAVE_HEADER_FIXED);
      let n: number;
      try {
        n = readSync(fd, fixed, 0, SAVE_HEADER_FIXED, 0);
      } catch (e) {
        if (this.rules.qemu) throw VirError.report(d, ErrorNumber.OPERATION_FAILED, 'failed to read qemu header');
        throw this.system(`incomplete save header in '${path}': ${errno(e)}`);
      }
      const len = saveHeaderXmlLength(fixed.subarray(0, n));
      if (typeof len !== 'number') throw this.badHeader(len);
      const all = Buffer.alloc(SAVE_HEADER_FIXED + len);
      const got = readSync(fd, all, 0, all.length, 0);
      const header = parseSaveHeader(all.subarray(0, got));
      if (typeof header === 'string') throw this.badHeader(header);
      return header;
    } finally {
      closeSync(fd);
    }
  }

  private badHeader(problem: 'short' | 'magic' | 'version'): VirError {
    if (this.rules.qemu) {
      if (problem === 'short') return VirError.report(this.d, ErrorNumber.OPERATION_FAILED, 'failed to read qemu header');
      if (problem === 'version') return VirError.report(this.d, ErrorNumber.OPERATION_FAILED, 'image version is not supported');
      return VirError.report(this.d, ErrorNumber.OPERATION_FAILED, 'image magic is incorrect');
    }
    if (problem === 'short') return VirError.report(this.d, ErrorNumber.INTERNAL_ERROR, 'failed to read metadata length');
    return VirError.report(this.d, ErrorNumber.INTERNAL_ERROR, 'mismatched header magic');
  }

  /** virDomainRestoreFlags (`flags` null: virDomainRestore). */
  async restore(path: string, dxml: string | null, flags: number | null, options?: JobOptions): Promise<void> {
    const r = this.records;
    const f = flags ?? 0;
    r.check(f, this.saveFlags(), 'DomainRestoreFlags');
    if (dxml !== null && !this.rules.qemu) throw VirError.report(this.d, ErrorNumber.ARGUMENT_UNSUPPORTED, 'xml modification unsupported');
    const header = this.readHeader(path);
    const saved = parseDomainXML(header.xml, STORED);
    const def = this.replacement(dxml, saved) ?? saved;
    r.backend.checkDefinition(def);
    // libvirt's test driver always resumes; QEMU as the header says, unless the flags say.
    const paused = this.rules.qemu && ((f & PAUSED) !== 0 || ((f & RUNNING) === 0 && !header.running));
    const ref: DomainRef = { name: def.name, uuid: def.uuid, id: -1 };
    options?.onProgress?.({ processed: 0, total: 0 });
    await this.jobs.runCreate(ref, {
      plan: () => {
        const existing = r.conflictsFor(def);
        // The job on this UUID is ours (runCreate holds it): another call waits for it.
        if (existing !== undefined && isActive(existing)) throw operationInvalid(ErrorDomain.DOMAIN, `domain '${def.name}' is already active`);
        return existing;
      },
      act: (existing) => r.backend.start(existing ?? r.newRecord(def, null), def, { paused, image: path, imageOffset: header.dataOffset }),
      undo: (runtime) => r.backend.kill({ ...r.newRecord(def, null), runtime }),
      commit: (runtime) => {
        const existing = r.conflictsFor(def);
        const rec = existing ?? r.newRecord(def, null);
        r.markStarted(rec, def, paused, DomainRunningReason.RESTORED, runtime);
        if (existing === undefined) r.store.insertDomain(rec);
        else r.write(rec);
        r.events.emit(rec, DomainEventType.STARTED, Started.RESTORED);
        if (paused) r.events.emit(rec, DomainEventType.SUSPENDED, Suspended.RESTORED);
        else r.events.vcpusRunning(rec, Resumed.UNPAUSED);
        return refOf(rec);
      },
    });
  }

  /** virDomainSaveImageGetXMLDesc. */
  getXMLDesc(path: string, flags: number): string {
    this.records.check(flags, XML_SECURE, 'DomainSaveImageGetXMLDesc');
    const def = parseDomainXML(this.readHeader(path).xml, STORED);
    return formatDomainXML(def, { secure: (flags & XML_SECURE) !== 0 });
  }

  /** virDomainSaveImageDefineXML: the header's XML (and, on QEMU, RUNNING/PAUSED) replaced in place. */
  defineXML(path: string, dxml: string, flags: number): void {
    const r = this.records;
    r.check(flags, RUNNING | PAUSED, 'DomainSaveImageDefineXML');
    const header = this.readHeader(path);
    const saved = parseDomainXML(header.xml, STORED);
    // libvirt's test driver takes any definition; QEMU one of the same domain.
    const def = this.rules.qemu ? (this.replacement(dxml, saved) as DomainDef) : r.parseDef(dxml);
    const running = (flags & RUNNING) !== 0 ? true : (flags & PAUSED) !== 0 ? false : header.running;
    const head = formatSaveHeader(formatDomainXML(def, { secure: true }), running);
    rewriteHeader(path, head, header.dataOffset, (e) => this.system(`cannot write domain image '${path}': ${errno(e)}`));
  }
}

/** A small file written whole: `path.part`, synced, renamed over `path`. */
function writeAtomically(path: string, data: Buffer): void {
  const part = `${path}.part`;
  const fd = openSync(part, 'w', 0o600);
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(part, path);
}

/**
 * Puts a new header before a save file's memory stream: a copy with the new header and the old
 * stream, renamed over the file once complete (a crash leaves the old file).
 */
function rewriteHeader(path: string, head: Buffer, dataOffset: number, fail: (e: unknown) => VirError): void {
  const part = `${path}.part`;
  let src: number | undefined;
  let dst: number | undefined;
  try {
    src = openSync(path, 'r');
    dst = openSync(part, 'w', statSync(path).mode & 0o777);
    writeFileSync(dst, head);
    const buf = Buffer.alloc(1 << 20);
    let pos = dataOffset;
    for (;;) {
      const n = readSync(src, buf, 0, buf.length, pos);
      if (n === 0) break;
      writeFileSync(dst, buf.subarray(0, n));
      pos += n;
    }
    fsyncSync(dst);
  } catch (e) {
    rmSync(part, { force: true });
    throw fail(e);
  } finally {
    if (src !== undefined) closeSync(src);
    if (dst !== undefined) closeSync(dst);
  }
  renameSync(part, path);
}
