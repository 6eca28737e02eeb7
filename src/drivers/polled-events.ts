/**
 * Lifecycle events for hypervisors that own their domains and tell tsvirt nothing of changes
 * (ESX, VirtualBox): what a connection does itself is delivered at once; what happens elsewhere
 * (another client, a guest powering off) is found by comparing the domains' states every
 * `intervalMs` while someone listens. One implementation for both drivers.
 */
import {
  DomainEventDefinedDetailType as Defined,
  DomainEventResumedDetailType as Resumed,
  DomainEventStartedDetailType as Started,
  DomainEventStoppedDetailType as Stopped,
  DomainEventSuspendedDetailType as Suspended,
  DomainEventType,
  DomainEventUndefinedDetailType as Undefined,
} from '../core/enums.generated.js';
import type { DomainLifecycleEvent, DomainRef, DriverEventListener } from '../core/driver.js';

/** A domain's state as a poll can tell it (a hypervisor that cannot see pauses says 'running'). */
export type PolledState = 'running' | 'paused' | 'shutoff';

/** One domain as a poll reads it. */
export interface PolledDomain {
  ref: DomainRef;
  state: PolledState;
}

/** The subscriptions, the poll and the last states seen, for one connection. */
export class PolledLifecycleEvents {
  private readonly listeners = new Set<DriverEventListener>();
  private timer: NodeJS.Timeout | undefined;
  /** The states last seen or caused; null while nobody listens. */
  private seen: Map<string, PolledDomain> | null = null;
  private polling = false;
  private closed = false;

  /** `read` lists every domain with its state; a failed read is retried at the next tick. */
  constructor(
    private readonly read: () => Promise<PolledDomain[]>,
    private readonly intervalMs: number,
  ) {}

  /** Adds a listener; polling runs while there is one (not at all when intervalMs is 0). */
  subscribe(listener: DriverEventListener): () => void {
    this.listeners.add(listener);
    if (this.timer === undefined && this.intervalMs > 0 && !this.closed) {
      this.timer = setInterval(() => void this.poll(), this.intervalMs);
      this.timer.unref();
      void this.poll();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.timer !== undefined) {
        clearInterval(this.timer);
        this.timer = undefined;
        this.seen = null;
      }
    };
  }

  /**
   * Delivers an event of the connection's own doing and records the domain's new state (null:
   * gone), so that the next poll does not report the change a second time.
   */
  emit(domain: DomainRef, event: DomainEventType, detail: number, state: PolledState | null): void {
    if (this.seen !== null) {
      if (state === null) this.seen.delete(domain.uuid);
      else this.seen.set(domain.uuid, { ref: domain, state });
    }
    this.deliver({ domain, event, detail });
  }

  /** Stops polling and forgets the listeners. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const domains = await this.read();
      const now = new Map(domains.map((d) => [d.ref.uuid, d] as const));
      const before = this.seen;
      this.seen = now;
      if (before === null) return;
      for (const d of domains) {
        const was = before.get(d.ref.uuid);
        if (was === undefined) this.deliver({ domain: d.ref, event: DomainEventType.DEFINED, detail: Defined.ADDED });
        const change = transition(was?.state ?? 'shutoff', d.state);
        if (change !== undefined) this.deliver({ domain: d.ref, event: change[0], detail: change[1] });
      }
      for (const [uuid, was] of before) {
        if (!now.has(uuid)) {
          this.deliver({ domain: { ...was.ref, id: -1 }, event: DomainEventType.UNDEFINED, detail: Undefined.REMOVED });
        }
      }
    } catch {
      // A failed poll is retried at the next tick; the calls themselves report their errors.
    } finally {
      this.polling = false;
    }
  }

  private deliver(ev: DomainLifecycleEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(ev);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}

/** The event a state change seen by a poll stands for (libvirt's words for them). */
function transition(from: PolledState, to: PolledState): [DomainEventType, number] | undefined {
  if (from === to) return undefined;
  if (to === 'shutoff') return [DomainEventType.STOPPED, Stopped.SHUTDOWN];
  if (to === 'paused') return [DomainEventType.SUSPENDED, Suspended.PAUSED];
  if (from === 'paused') return [DomainEventType.RESUMED, Resumed.UNPAUSED];
  return [DomainEventType.STARTED, Started.BOOTED];
}
