// Every domain of every connection (the daemon's own URIs and the other daemons it was told to
// show), live from the event sockets: host, state, persistence, autostart, managed save,
// snapshots, CPU and memory; filter by text and by host, bulk actions. Only the rows in view
// (and a margin) are in the page, so a list of thousands renders as fast as one of dozens.
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { Alert, Button, Label, PageSection, SearchInput, Title, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { abilities, api, hostLabel, type DomainSummary, type HostSummary, type Session } from './api';
import { watchEvents } from './events';
import { AddHostDialog } from './AddHostDialog';

export interface Row extends DomainSummary {
  uri: string;
}

const stateColor = (s: number): 'green' | 'orange' | 'grey' | 'red' => (s === 1 ? 'green' : s === 3 ? 'orange' : s === 6 ? 'red' : 'grey');

/** Each row's height in pixels (app.css keeps rows on one line at this height). */
export const ROW_HEIGHT = 40;
/** Rows kept in the page above and below the visible ones: keyboard focus moving down finds them there. */
const OVERSCAN = 20;
/** How often the hosts' connection state is asked for while a remote daemon is shown. */
const HOSTS_POLL_MS = 3000;

/** The rows to render for a scroll position: [first, end). */
export function windowOf(count: number, scrollTop: number, height: number): [number, number] {
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const end = Math.min(count, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  return [first, Math.max(first, end)];
}

export function DomainList({ session, onHostsChanged }: { session: Session; onHostsChanged?: () => void }) {
  const [rows, setRows] = useState<Row[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [search, setSearch] = useState('');
  const [host, setHost] = useState('');
  const [hosts, setHosts] = useState<HostSummary[]>(session.hosts ?? []);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [adding, setAdding] = useState(false);
  const can = abilities(session.role);

  const loadURI = useCallback(async (uri: string) => {
    try {
      const list = await api.domains(uri);
      setRows((old) => [...(old ?? []).filter((r) => r.uri !== uri), ...list.map((d) => ({ ...d, uri }))]);
    } catch (err) {
      setError(`${uri}: ${(err as Error).message}`);
    }
  }, []);

  useEffect(() => setHosts(session.hosts ?? []), [session]);

  const connected = useCallback((uri: string) => hosts.find((h) => h.uri === uri)?.connected !== false, [hosts]);

  useEffect(() => {
    setRows([]);
    for (const uri of session.uris) if ((session.hosts ?? []).find((h) => h.uri === uri)?.connected !== false) void loadURI(uri);
    // Each event carries the domain's new row: patch it in (or drop it), no refetch.
    const stops = session.uris.map((uri) =>
      watchEvents(uri, (ev) =>
        setRows((old) => {
          const rest = (old ?? []).filter((r) => !(r.uri === uri && r.uuid === ev.uuid));
          return ev.summary === null ? rest : [...rest, { ...ev.summary, uri }];
        }),
      ),
    );
    return () => stops.forEach((s) => s());
  }, [session, loadURI]);

  // A remote daemon that comes back is listed again (its events missed while it was away).
  useEffect(() => {
    if (!(session.hosts ?? []).some((h) => h.remote)) return;
    let live = true;
    const timer = setInterval(() => {
      api.hosts().then(
        (next) => {
          if (!live) return;
          setHosts((old) => {
            for (const h of next) if (h.connected && old.find((o) => o.uri === h.uri)?.connected === false) void loadURI(h.uri);
            return next;
          });
        },
        () => undefined,
      );
    }, HOSTS_POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [session, loadURI]);

  const order = useMemo(() => new Map(session.uris.map((u, i) => [u, i])), [session]);
  const shown = useMemo(
    () =>
      (rows ?? [])
        .filter((r) => (host === '' || r.uri === host) && matches(r, search))
        .sort((a, b) => (order.get(a.uri) ?? 0) - (order.get(b.uri) ?? 0) || a.name.localeCompare(b.name)),
    [rows, search, host, order],
  );

  const onSelect = useCallback((key: string, on: boolean) => {
    setSelected((old) => {
      const next = new Set(old);
      if (on) next.add(key);
      else next.delete(key);
      return next;
    });
  }, []);

  const bulk = async (action: string) => {
    setError(null);
    for (const key of selected) {
      const row = (rows ?? []).find((r) => `${r.uri} ${r.uuid}` === key);
      if (row === undefined) continue;
      try {
        await api.action(row.uri, row.uuid, action);
      } catch (err) {
        setError(`${row.name}: ${(err as Error).message}`);
      }
    }
    setSelected(new Set());
  };

  // Windowing: the scroll box's position and height pick the rows in the page.
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 800 });
  useLayoutEffect(() => {
    const el = box.current;
    if (el === null) return;
    const measure = () => setView({ top: el.scrollTop, height: el.clientHeight || 800 });
    measure();
    el.addEventListener('scroll', measure, { passive: true });
    const ro = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(measure);
    ro?.observe(el);
    return () => {
      el.removeEventListener('scroll', measure);
      ro?.disconnect();
    };
  }, []);
  const [first, end] = windowOf(shown.length, view.top, view.height);
  const showHosts = session.uris.length > 1;
  const columns = (can.power ? 1 : 0) + 8 + (showHosts ? 1 : 0);

  return (
    <PageSection>
      <Title headingLevel="h2">Domains</Title>
      {error !== null && <Alert variant="danger" title={error} isInline />}
      {(hosts.some((h) => h.remote) || can.manage) && (
        <div className="tsv-hosts-bar">
          <ul className="tsv-hosts" aria-label="Hosts">
            {hosts.map((h) => (
              <li key={h.uri} data-host={h.label} data-connected={h.connected ? 'yes' : 'no'}>
                <Label
                  color={h.connected ? 'green' : 'red'}
                  isCompact
                  title={h.connected ? h.uri : `${h.uri}: ${h.error ?? 'unreachable'}`}
                  onClose={can.manage && h.remote ? () => void api.removeHost(h.uri).then(() => onHostsChanged?.(), (e: Error) => setError(e.message)) : undefined}
                  closeBtnAriaLabel={`Stop showing host ${h.label}`}
                >
                  {h.label}: {h.connected ? 'connected' : 'disconnected'}
                </Label>
              </li>
            ))}
          </ul>
          {can.manage && (
            <Button variant="link" isInline onClick={() => setAdding(true)}>
              Add host…
            </Button>
          )}
        </div>
      )}
      {adding && (
        <AddHostDialog
          onClose={() => setAdding(false)}
          onAdded={() => {
            setAdding(false);
            onHostsChanged?.();
          }}
        />
      )}
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <SearchInput aria-label="Filter domains by name or state" placeholder="Filter by name, state or tag (tag:NAME for one tag)" value={search} onChange={(_e, v) => setSearch(v)} onClear={() => setSearch('')} />
          </ToolbarItem>
          {showHosts && (
            <ToolbarItem>
              <label className="tsv-inline-label">
                Host{' '}
                <select className="tsv-select" value={host} onChange={(e) => setHost(e.target.value)} aria-label="Filter domains by host">
                  <option value="">All hosts</option>
                  {session.uris.map((u) => (
                    <option key={u} value={u}>
                      {hostLabel(session, u)} ({u})
                    </option>
                  ))}
                </select>
              </label>
            </ToolbarItem>
          )}
          {can.power &&
            ['start', 'shutdown', 'destroy'].map((a) => (
              <ToolbarItem key={a}>
                <Button variant="secondary" isDisabled={selected.size === 0} onClick={() => void bulk(a)}>
                  {a[0]!.toUpperCase() + a.slice(1)} selected
                </Button>
              </ToolbarItem>
            ))}
          {can.manage && (
            <ToolbarItem>
              <Button variant="primary" component="a" href="#/create">
                Create VM…
              </Button>
            </ToolbarItem>
          )}
          <ToolbarItem>
            <span data-testid="domain-count" data-count={shown.length} aria-live="polite">
              {rows === null ? '' : `${shown.length} of ${rows.length} domains`}
            </span>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <div ref={box} className="tsv-scroll">
        <table className="tsv-table tsv-list" aria-label="Domains" aria-rowcount={shown.length + 1}>
          <thead>
            <tr aria-rowindex={1}>
              {can.power && (
                <th>
                  <span className="pf-v6-screen-reader">Select</span>
                </th>
              )}
              <th>Name</th>
              {showHosts && <th>Host</th>}
              <th>Connection</th>
              <th>State</th>
              <th>vCPUs</th>
              <th>Memory</th>
              <th>Snapshots</th>
              <th>Flags</th>
              <th>Tags</th>
            </tr>
          </thead>
          <tbody>
            {first > 0 && <tr aria-hidden="true" className="tsv-spacer" style={{ height: first * ROW_HEIGHT }}><td colSpan={columns} /></tr>}
            {shown.slice(first, end).map((r, i) => {
              const key = `${r.uri} ${r.uuid}`;
              return (
                <DomainRow
                  key={key}
                  row={r}
                  index={first + i + 2}
                  host={showHosts ? hostLabel(session, r.uri) : null}
                  online={connected(r.uri)}
                  selectable={can.power}
                  selected={selected.has(key)}
                  onSelect={onSelect}
                  onTag={setSearch}
                />
              );
            })}
            {end < shown.length && <tr aria-hidden="true" className="tsv-spacer" style={{ height: (shown.length - end) * ROW_HEIGHT }}><td colSpan={columns} /></tr>}
          </tbody>
        </table>
      </div>
      {rows !== null && shown.length === 0 && <p>No domains.</p>}
    </PageSection>
  );
}

/**
 * Whether a row passes the filter: every word must match; `tag:NAME` a tag exactly, another word
 * a part of the name, the state or a tag.
 */
export function matches(r: DomainSummary, search: string): boolean {
  for (const word of search.toLowerCase().split(/\s+/).filter((w) => w !== '')) {
    const tags = (r.tags ?? []).map((t) => t.toLowerCase());
    if (word.startsWith('tag:')) {
      if (!tags.includes(word.slice(4))) return false;
    } else if (!r.name.toLowerCase().includes(word) && !r.stateName.includes(word) && !tags.some((t) => t.includes(word))) {
      return false;
    }
  }
  return true;
}

/** One row; re-rendered only when its domain, host state or selection changes (a list of 1,000 follows events). */
const DomainRow = memo(function DomainRow({
  row: r,
  index,
  host,
  online,
  selectable,
  selected,
  onSelect,
  onTag,
}: {
  row: Row;
  index: number;
  host: string | null;
  online: boolean;
  selectable: boolean;
  selected: boolean;
  onSelect: (key: string, on: boolean) => void;
  onTag: (filter: string) => void;
}) {
  const key = `${r.uri} ${r.uuid}`;
  return (
    <tr data-domain={r.name} data-host={host ?? undefined} aria-rowindex={index} className={online ? undefined : 'tsv-offline'}>
      {selectable && (
        <td>
          <input type="checkbox" aria-label={`Select ${r.name}`} checked={selected} onChange={(e) => onSelect(key, e.target.checked)} />
        </td>
      )}
      <td>
        <a href={`#/domain/${encodeURIComponent(r.uri)}/${r.uuid}`}>{r.name}</a>
      </td>
      {host !== null && (
        <td>
          <span className="tsv-host">{host}</span>
          {!online && (
            <>
              {' '}
              <Label isCompact color="red">
                disconnected
              </Label>
            </>
          )}
        </td>
      )}
      <td className="tsv-uri">{r.uri}</td>
      <td>
        <Label color={stateColor(r.state)} data-state={r.stateName} isCompact>
          {r.stateName}
        </Label>
      </td>
      <td>{r.vcpus}</td>
      <td>{Math.round(r.memory / 1024)} MiB</td>
      <td>{r.snapshots}</td>
      <td>
        {!r.persistent && <Label isCompact>transient</Label>} {r.autostart && <Label isCompact>autostart</Label>} {r.managedSave && <Label isCompact>saved</Label>}
      </td>
      <td data-testid="tags">
        {(r.tags ?? []).map((t) => (
          <Label key={t} isCompact color="blue" data-tag={t} onClick={() => onTag(`tag:${t}`)}>
            {t}
          </Label>
        ))}
      </td>
    </tr>
  );
});
