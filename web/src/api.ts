// The web console's client of tsvirtd's JSON API (docs/web.md): same origin, session cookie.
import type { DomainSummary, HostSummary, MetricsSample, NetworkSummary, PoolSummary, SessionSummary, SnapshotSummary, UndefinePreview, VolumeSummary } from '../../src/web/json';

export type { DomainSummary, HostSummary, MetricsSample, NetworkSummary, PoolSummary, SnapshotSummary, UndefinePreview, VolumeSummary };

export type Session = SessionSummary;
export type Role = Session['role'];

/** What a role may do in the UI (the server enforces the same: the UI only hides what it would refuse). */
export interface Abilities {
  /** Consoles take keyboard and mouse input. */
  consoleInput: boolean;
  /** Start, shutdown, reboot, destroy, suspend, resume. */
  power: boolean;
  /** Everything else that changes something: define, edit, tags, snapshots, managed save, undefine, volumes. */
  manage: boolean;
}

export function abilities(role: Role): Abilities {
  return { consoleInput: role !== 'readonly', power: role !== 'readonly', manage: role === 'admin' };
}

/** The power actions an operator token may run (the server's POWER_ACTIONS). */
export const POWER_ACTIONS: readonly string[] = ['start', 'shutdown', 'reboot', 'reset', 'destroy', 'suspend', 'resume'];

/** The label of the host that serves `uri` (the URI itself when the session does not know it). */
export function hostLabel(session: Session, uri: string): string {
  return session.hosts?.find((h) => h.uri === uri)?.label ?? uri;
}

/** An error the API answered, with libvirt's message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json: unknown = text === '' ? undefined : JSON.parse(text);
  if (!res.ok) {
    const message = (json as { error?: { message?: string } } | undefined)?.error?.message ?? res.statusText;
    throw new ApiError(res.status, message);
  }
  return json as T;
}

const q = (uri: string): string => `?uri=${encodeURIComponent(uri)}`;

export const api = {
  login: (token: string) => call<{ role: string }>('POST', '/api/login', { token }),
  logout: () => call<void>('POST', '/api/logout', {}),
  session: () => call<Session>('GET', '/api/session'),
  hosts: () => call<HostSummary[]>('GET', '/api/hosts'),
  addHost: (uri: string, label: string) => call<HostSummary>('POST', '/api/hosts', { uri, label }),
  removeHost: (uri: string) => call<void>('DELETE', '/api/hosts', { uri }),
  domains: (uri: string) => call<DomainSummary[]>('GET', `/api/domains${q(uri)}`),
  define: (uri: string, xml: string) => call<DomainSummary>('POST', `/api/domains${q(uri)}`, { xml }),
  domain: (uri: string, uuid: string) => call<DomainSummary>('GET', `/api/domains/${uuid}${q(uri)}`),
  xml: (uri: string, uuid: string, inactive = false) => call<{ xml: string }>('GET', `/api/domains/${uuid}/xml${q(uri)}${inactive ? '&inactive=1' : ''}`),
  saveXML: (uri: string, uuid: string, xml: string) => call<{ summary: DomainSummary; xml: string }>('PUT', `/api/domains/${uuid}/xml${q(uri)}`, { xml }),
  setTags: (uri: string, uuid: string, tags: string[]) => call<DomainSummary>('PUT', `/api/domains/${uuid}/tags${q(uri)}`, { tags }),
  metrics: (uri: string, uuid: string) => call<{ intervalMs: number; samples: MetricsSample[] }>('GET', `/api/domains/${uuid}/metrics${q(uri)}`),
  pools: (uri: string) => call<PoolSummary[]>('GET', `/api/pools${q(uri)}`),
  volumes: (uri: string, pool: string) => call<VolumeSummary[]>('GET', `/api/pools/${encodeURIComponent(pool)}/volumes${q(uri)}`),
  createVolume: (uri: string, pool: string, name: string, capacity: number, format: string) =>
    call<VolumeSummary>('POST', `/api/pools/${encodeURIComponent(pool)}/volumes${q(uri)}`, { name, capacity, format }),
  networks: (uri: string) => call<NetworkSummary[]>('GET', `/api/networks${q(uri)}`),
  action: (uri: string, uuid: string, action: string) => call<DomainSummary>('POST', `/api/domains/${uuid}/actions/${action}${q(uri)}`, {}),
  snapshots: (uri: string, uuid: string) => call<SnapshotSummary[]>('GET', `/api/domains/${uuid}/snapshots${q(uri)}`),
  createSnapshot: (uri: string, uuid: string, xml: string, flags = 0) => call<{ name: string }>('POST', `/api/domains/${uuid}/snapshots${q(uri)}`, { xml, flags }),
  snapshotXML: (uri: string, uuid: string, name: string) => call<{ xml: string }>('GET', `/api/domains/${uuid}/snapshots/${encodeURIComponent(name)}/xml${q(uri)}`),
  revert: (uri: string, uuid: string, name: string) => call<DomainSummary>('POST', `/api/domains/${uuid}/snapshots/${encodeURIComponent(name)}/revert${q(uri)}`, {}),
  deleteSnapshot: (uri: string, uuid: string, name: string, opts: { children?: boolean; metadataOnly?: boolean }) =>
    call<void>('DELETE', `/api/domains/${uuid}/snapshots/${encodeURIComponent(name)}${q(uri)}`, opts),
  undefinePreview: (uri: string, uuid: string) => call<UndefinePreview>('GET', `/api/domains/${uuid}/undefine${q(uri)}`),
  undefine: (uri: string, uuid: string, flags: string[]) => call<void>('POST', `/api/domains/${uuid}/undefine${q(uri)}`, { flags }),
};

/** A WebSocket URL on this server. */
export function wsURL(path: string): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;
}

/** The flag names the undefine route takes, by libvirt flag. */
export const UNDEFINE_FLAG_NAMES: Record<string, string> = {
  VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA: 'snapshots-metadata',
  VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA: 'checkpoints-metadata',
  VIR_DOMAIN_UNDEFINE_MANAGED_SAVE: 'managed-save',
};
