/**
 * The QEMU driver's own calls: what the metadata driver does not cover because QEMU itself must
 * answer (statistics, hotplug, vCPU and balloon changes, tuning, guest facts). Each reads or
 * changes the domain's records as the metadata driver does and asks the running guest's QEMU
 * over QMP through {@link QemuGuests.monitor}. Calls are grouped by concern in the modules beside
 * this one; this class only binds them to the driver table.
 */
import type { DomainRef } from '../../core/driver.js';
import type { QmpClient } from './qmp.js';
import type { QemuRuntime } from './process.js';
import type { DomainRecord } from '../../store/store.js';
import { MetadataDriver, type MetadataDriverOptions } from '../metadata/driver.js';
import { checkActive } from '../../rules/lifecycle.js';
import { isActive } from '../metadata/records.js';
import type { QemuGuests } from './backend.js';

/** What a call on a running guest works with: its record, monitor and process. */
export interface RunningGuest {
  rec: DomainRecord;
  qmp: QmpClient;
  runtime: QemuRuntime;
}

/** The QEMU driver: the metadata driver with real QEMU guests (QemuGuests) and QEMU's own calls. */
export class QemuDriver extends MetadataDriver {
  /** The backend, typed as QEMU's. */
  protected readonly guests: QemuGuests;

  constructor(options: MetadataDriverOptions & { backend: QemuGuests }) {
    super(options);
    this.guests = options.backend;
    this.guests.storage = this.storage;
  }

  /**
   * The running guest `dom` names, with its monitor. VIR_ERR_NO_DOMAIN when it is gone;
   * VIR_ERR_OPERATION_INVALID "domain is not running" when it is inactive.
   */
  protected async running(dom: DomainRef): Promise<RunningGuest> {
    const rec = this.records.resolve(dom);
    checkActive({ active: isActive(rec) });
    const { qmp, runtime } = await this.guests.monitor(rec);
    return { rec, qmp, runtime };
  }
}
