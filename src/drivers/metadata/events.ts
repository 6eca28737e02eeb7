/**
 * Lifecycle events of the metadata driver: recorded in the store's event log inside the
 * mutation that causes them, delivered to this driver's listeners once that mutation is
 * committed (durable, under group commit), and those of other processes on the same store
 * picked up from the log.
 */
import {
  DomainEventDefinedDetailType as Defined,
  DomainEventResumedDetailType as Resumed,
  DomainEventShutdownDetailType as ShutdownDetail,
  DomainEventSuspendedDetailType as Suspended,
  DomainEventType,
  DomainState,
} from '../../core/enums.generated.js';
import type { DomainLifecycleEvent, DriverEventListener } from '../../core/driver.js';
import type { DomainRecord, EventRecord, Store } from '../../store/store.js';

const EVENT_POLL_MS = 200;

/** The fields of a record an event names. */
type EventSource = Pick<DomainRecord, 'name' | 'uuid' | 'id'>;

/** Records, delivers and polls lifecycle events (see the file comment). */
export class DomainEvents {
  private readonly listeners = new Set<DriverEventListener>();
  private pending: DomainLifecycleEvent[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private lastSeenEvent = 0;
  private lastDataVersion = -1;
  private closed = false;

  /**
   * `monitorEvents`: the hypervisor's monitor reports vCPU and shutdown events besides the
   * lifecycle change (GuestBackend.monitorEvents); the methods below that name them record them
   * only then.
   */
  constructor(
    private readonly store: Store,
    private readonly monitorEvents: boolean,
  ) {}

  /**
   * Runs a mutation in one store transaction, then delivers the events it recorded once it is
   * committed; a mutation that throws records none. `unsynced`: see Store.mutateUnsynced.
   */
  mutate<T>(fn: () => T, options: { unsynced?: boolean } = {}): T {
    this.pending = [];
    let result: T;
    try {
      result = options.unsynced === true ? this.store.mutateUnsynced(fn) : this.store.mutate(fn);
    } catch (err) {
      this.pending = [];
      throw err;
    }
    const events = this.pending;
    this.pending = [];
    // At once, unless the store groups commits (tsvirtd): then once the change is durable.
    if (events.length > 0) this.store.afterCommit(() => events.forEach((ev) => this.deliver(ev)));
    return result;
  }

  /**
   * {@link mutate}, once the store can be written: with a store that must not block the event
   * loop (tsvirtd's, Store's `nonBlocking`), while another process holds its write lock this
   * waits on a timer (Store.writable) and fails with VIR_ERR_OPERATION_TIMEOUT after 30 s.
   */
  async mutateWhenWritable<T>(fn: () => T, options: { unsynced?: boolean } = {}): Promise<T> {
    const wait = this.store.writable();
    if (wait !== undefined) await wait;
    return this.mutate(fn, options);
  }

  /** Records an event of the running mutation; delivered when it commits. */
  emit(rec: EventSource, event: DomainEventType, detail: number): void {
    const ev: DomainLifecycleEvent = { domain: { name: rec.name, uuid: rec.uuid, id: rec.id }, event, detail };
    this.store.appendEvent({ uuid: rec.uuid, name: rec.name, id: rec.id, event, detail });
    this.pending.push(ev);
  }

  /** A started guest's vCPUs run (the monitor's RESUMED after STARTED). */
  vcpusRunning(rec: EventSource, detail: Resumed): void {
    if (this.monitorEvents) this.emit(rec, DomainEventType.RESUMED, detail);
  }

  /** A managed save stopped the vCPUs of a guest that was not paused already. */
  vcpusStoppedForSave(rec: EventSource & { state: DomainState }): void {
    if (this.monitorEvents && rec.state !== DomainState.PAUSED) this.emit(rec, DomainEventType.SUSPENDED, Suspended.PAUSED);
  }

  /** The host quit the guest's process (destroy). */
  hostShutdown(rec: EventSource): void {
    if (this.monitorEvents) this.emit(rec, DomainEventType.SHUTDOWN, ShutdownDetail.HOST);
  }

  /** A revert replaced the persistent definition. */
  definedFromSnapshot(rec: EventSource): void {
    if (this.monitorEvents) this.emit(rec, DomainEventType.DEFINED, Defined.FROM_SNAPSHOT);
  }

  /** Starts delivering events to `listener`; returns the function that stops it. */
  subscribe(listener: DriverEventListener): () => void {
    this.listeners.add(listener);
    if (this.pollTimer === undefined && this.store.path !== ':memory:') {
      // Other processes on the same store record their events in its log: poll it cheaply
      // (data_version changes only when another connection commits).
      this.lastSeenEvent = this.store.lastEventSeq();
      this.lastDataVersion = this.store.dataVersion();
      this.pollTimer = setInterval(() => this.pollForeignEvents(), EVENT_POLL_MS);
      this.pollTimer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.pollTimer !== undefined) {
        clearInterval(this.pollTimer);
        this.pollTimer = undefined;
      }
    };
  }

  /** Stops polling and forgets the listeners. */
  close(): void {
    this.closed = true;
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.listeners.clear();
  }

  private pollForeignEvents(): void {
    if (this.closed) return;
    const version = this.store.dataVersion();
    if (version === this.lastDataVersion) return;
    this.lastDataVersion = version;
    let events: EventRecord[];
    try {
      events = this.store.eventsAfter(this.lastSeenEvent);
    } catch {
      return;
    }
    for (const ev of events) {
      this.lastSeenEvent = ev.seq;
      if (ev.origin === this.store.origin) continue;
      this.deliver({ domain: { name: ev.name, uuid: ev.uuid, id: ev.id }, event: ev.event, detail: ev.detail });
    }
  }

  private deliver(ev: DomainLifecycleEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(ev);
      } catch {
        // A listener's failure must not break the call that emitted the event.
      }
    }
  }
}
