/**
 * The `event` command (virsh-domain-event.c): waits for domain events and prints them in
 * virsh's words; with tsvirt's `--json`, one JSON object per line instead.
 */
import type { Connection, Domain, DomainEventID } from '../index.js';
import type { DomainEventID as DomainEventIDs } from '../core/enums.generated.js';
import { CmdFailed, FAILED, type Handler } from './context.js';

/** virsh's event type names, indexed by VIR_DOMAIN_EVENT_ID_*. */
export const EVENT_NAMES = [
  'lifecycle',
  'reboot',
  'rtc-change',
  'watchdog',
  'io-error',
  'graphics',
  'io-error-reason',
  'control-error',
  'block-job',
  'disk-change',
  'tray-change',
  'pm-wakeup',
  'pm-suspend',
  'balloon-change',
  'pm-suspend-disk',
  'device-removed',
  'block-job-2',
  'tunable',
  'agent-lifecycle',
  'device-added',
  'migration-iteration',
  'job-completed',
  'device-removal-failed',
  'metadata-change',
  'block-threshold',
  'memory-failure',
  'memory-device-size-change',
];

/** The events whose callback gets a device alias. */
const DEVICE_EVENTS: readonly string[] = ['device-added', 'device-removed', 'device-removal-failed'];
/** virshEventMetadataChangeType: the metadata types by value. */
const METADATA_TYPES = ['description', 'title', 'element'];
const LIFECYCLE_EVENTS = ['Defined', 'Undefined', 'Started', 'Suspended', 'Resumed', 'Stopped', 'Shutdown', 'PMSuspended', 'Crashed'];
const LIFECYCLE_DETAILS: readonly (readonly string[])[] = [
  ['Added', 'Updated', 'Renamed', 'Snapshot'],
  ['Removed', 'Renamed'],
  ['Booted', 'Migrated', 'Restored', 'Snapshot', 'Event wakeup'],
  ['Paused', 'Migrated', 'I/O Error', 'Watchdog', 'Restored', 'Snapshot', 'API error', 'Post-copy', 'Post-copy Error'],
  ['Unpaused', 'Migrated', 'Snapshot', 'Post-copy', 'Post-copy Error'],
  ['Shutdown', 'Destroyed', 'Crashed', 'Migrated', 'Saved', 'Failed', 'Snapshot'],
  ['Finished', 'Finished after guest request', 'Finished after host request'],
  ['Memory', 'Disk'],
  ['Panicked', 'Crashloaded'],
];

/** virshDomainEventToString. */
export function eventString(event: number): string {
  return LIFECYCLE_EVENTS[event] ?? 'unknown';
}
/** virshDomainEventDetailToString. */
export function eventDetailString(event: number, detail: number): string {
  return LIFECYCLE_DETAILS[event]?.[detail] ?? 'unknown';
}

/** virTimeStringNowRaw: `YYYY-MM-DD HH:MM:SS.mmm+0000` in UTC. */
function timestamp(): string {
  return new Date().toISOString().replace('T', ' ').replace('Z', '+0000');
}

const INT_MAX = 2147483647;

const event: Handler = async (ctl, cmd) => {
  const all = cmd.bool('all');
  const loop = cmd.bool('loop');
  const withTime = cmd.bool('timestamp');
  const json = cmd.bool('json');
  cmd.exclusive('all', 'event');
  cmd.exclusive('list', 'all');
  cmd.exclusive('list', 'event');

  if (cmd.bool('list')) {
    ctl.print(EVENT_NAMES.map((n) => `${n}\n`).join(''));
    return true;
  }
  const eventName = cmd.string('event');
  if (eventName === undefined && !all) {
    ctl.error('one of --list, --all, or --event <type> is required');
    return false;
  }
  // EVENT_NAMES is indexed by libvirt's event IDs.
  const ids = EVENT_NAMES.map((_, i) => i as DomainEventID).filter((i) => eventName === undefined || EVENT_NAMES[i] === eventName);
  if (ids.length === 0) {
    ctl.error(`unknown event type ${eventName}`);
    return false;
  }
  const timeout = cmd.uint('timeout');
  if (timeout !== undefined && (timeout === 0 || timeout > Math.floor(INT_MAX / 1000))) {
    ctl.error(`Numeric value '${timeout}' for <timeout> option is malformed or out of range`);
    return false;
  }
  let dom: Domain | null = null;
  if (cmd.bool('domain')) {
    const name = cmd.string('domain');
    if (name === undefined) throw new CmdFailed();
    dom = await ctl.lookupDomain(name);
  }

  const conn: Connection = ctl.c;
  let count = 0;
  let finish: (reason: 'done' | 'timeout' | 'interrupt') => void = () => undefined;
  const ended = new Promise<'done' | 'timeout' | 'interrupt'>((resolve) => (finish = resolve));

  const registered: number[] = [];
  /** Prints one event in virsh's words (or as JSON), and ends the wait unless --loop. */
  const report = (name: string, d: Domain, text: string, fields: Record<string, unknown>): void => {
    if (!loop && count > 0) return;
    if (json) ctl.print(JSON.stringify({ timestamp: timestamp(), event: name, domain: d.name(), uuid: d.UUIDString(), ...fields }) + '\n');
    else {
      const msg = `event '${name}' for domain '${d.name()}': ${text}\n`;
      ctl.print(withTime ? `${timestamp()}: ${msg}` : msg);
    }
    ctl.flush();
    count++;
    if (!loop) finish('done');
  };
  for (const [n, id] of ids.entries()) {
    const name = EVENT_NAMES[id]!;
    if (DEVICE_EVENTS.includes(name) || name === 'metadata-change') {
      const rc = await ctl.attempt(async () =>
        name === 'metadata-change'
          ? conn.domainEventRegisterAny(dom, 23 as typeof DomainEventIDs.METADATA_CHANGE, (_c, d, type, nsuri) =>
              report(name, d, `type ${METADATA_TYPES[type] ?? 'unknown'}, uri ${nsuri ?? '<null>'}`, { type: METADATA_TYPES[type] ?? 'unknown', typeCode: type, uri: nsuri }),
            )
          : conn.domainEventRegisterAny(dom, id as typeof DomainEventIDs.DEVICE_ADDED, (_c, d, alias) => report(name, d, alias, { alias })),
      );
      if (rc === FAILED) {
        if (n === 0) {
          for (const r of registered) conn.domainEventDeregisterAny(r);
          return false;
        }
        ctl.resetError();
      } else registered.push(rc);
      continue;
    }
    const cb = (_c: Connection, d: Domain, ev: number, detail: number) => {
      if (!loop && count > 0) return;
      if (json) {
        const record: Record<string, unknown> = {
          timestamp: timestamp(),
          event: EVENT_NAMES[id],
          domain: d.name(),
          uuid: d.UUIDString(),
          type: eventString(ev),
          typeCode: ev,
          detail: eventDetailString(ev, detail),
          detailCode: detail,
        };
        ctl.print(JSON.stringify(record) + '\n');
      } else {
        const msg = `event 'lifecycle' for domain '${d.name()}': ${eventString(ev)} ${eventDetailString(ev, detail)}\n`;
        ctl.print(withTime ? `${timestamp()}: ${msg}` : msg);
      }
      ctl.flush();
      count++;
      if (!loop) finish('done');
    };
    const rc = await ctl.attempt(async () => conn.domainEventRegisterAny(dom, id, cb));
    if (rc === FAILED) {
      // Registering for all events: only the first registration has to work.
      if (n === 0) {
        for (const r of registered) conn.domainEventDeregisterAny(r);
        return false;
      }
      ctl.resetError();
    } else {
      registered.push(rc);
    }
  }

  const onInt = () => finish('interrupt');
  process.once('SIGINT', onInt);
  const timer = timeout !== undefined ? setTimeout(() => finish('timeout'), timeout * 1000) : undefined;
  const reason = await ended;
  process.removeListener('SIGINT', onInt);
  if (timer !== undefined) clearTimeout(timer);

  if (!json) {
    if (reason === 'interrupt') ctl.print('event loop interrupted\n');
    else if (reason === 'timeout') ctl.print('event loop timed out\n');
    ctl.print(`events received: ${count}\n`);
  }
  let ok = count > 0;
  for (const r of registered) {
    if ((await ctl.attempt(async () => conn.domainEventDeregisterAny(r))) === FAILED) ok = false;
  }
  return ok;
};

export const handlers: Record<string, Handler> = { event };
