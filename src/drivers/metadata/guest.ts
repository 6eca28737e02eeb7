/**
 * What a hypervisor supplies to the metadata driver: the guest actions. Everything else — records,
 * snapshot metadata, the rules of src/rules, events — is the metadata driver's.
 */
import type { ErrorDomain } from '../../api/enums.generated.js';
import type { DomainDef } from '../../conf/domain.js';
import type { DomainRecord } from '../../store/store.js';

/** The flag bits each driver call accepts (R7); calls not listed accept 0 only. */
export interface SupportedFlags {
  defineXML: number;
  createXML: number;
  create: number;
  shutdown: number;
  destroy: number;
  reboot: number;
  undefine: number;
  getXMLDesc: number;
  managedSave: number;
  snapshotCreateXML: number;
  snapshotGetXMLDesc: number;
  revertToSnapshot: number;
  snapshotDelete: number;
}

/** The answer of the power button: did the guest stop at once? */
export type PowerButtonResult = 'stopped' | 'requested' | 'ignored';

/**
 * Guest actions. The simulator's are instant and synchronous; they run inside the store
 * transaction of the call, so the whole call commits or fails as one.
 */
export interface GuestBackend {
  /** libvirt's driver prefix in function names: 'test' gives `testDomainUndefineFlags`. */
  readonly functionPrefix: string;
  /** Error domain of the driver's own errors (VIR_FROM_TEST, VIR_FROM_QEMU). */
  readonly errorDomain: ErrorDomain;
  /** libvirt's hypervisor type name ('Test', 'QEMU'). */
  readonly type: string;
  readonly supported: SupportedFlags;
  /** The domain type attribute this driver runs ('test'), checked at define. */
  checkDefinition(def: DomainDef): void;
  /** Boots (or, with `image`, resumes from a managed save image) a guest. */
  start(rec: DomainRecord, def: DomainDef, opts: { paused: boolean; image: string | null }): void;
  /** ACPI power button (R8): asks; the guest may ignore it. */
  powerButton(rec: DomainRecord, def: DomainDef): PowerButtonResult;
  /** Pulls the power cord (R8); returns when the guest is gone. */
  kill(rec: DomainRecord): void;
  suspend(rec: DomainRecord): void;
  resume(rec: DomainRecord): void;
  reboot(rec: DomainRecord, def: DomainDef): void;
  /** Saves memory and stops the guest; returns the image reference to record. */
  saveMemory(rec: DomainRecord): string;
  /** Forgets a managed save image. */
  removeImage(image: string): void;
}
