// Every domain of every served URI, live from the event sockets: state, persistence, autostart,
// managed save, snapshots, CPU and memory; filter, search and bulk actions.
import { memo, useCallback, useEffect, useMemo, useState } from 'react';
import { Alert, Button, Label, PageSection, SearchInput, Title, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { api, type DomainSummary, type Session } from './api';
import { watchEvents } from './events';

interface Row extends DomainSummary {
  uri: string;
}

const stateColor = (s: number): 'green' | 'orange' | 'grey' | 'red' => (s === 1 ? 'green' : s === 3 ? 'orange' : s === 6 ? 'red' : 'grey');

export function DomainList({ session }: { session: Session }) {
  const [rows, setRows] = useState<Row[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [search, setSearch] = useState('');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const readonly = session.role === 'readonly';

  const loadURI = useCallback(async (uri: string) => {
    try {
      const list = await api.domains(uri);
      setRows((old) => [...(old ?? []).filter((r) => r.uri !== uri), ...list.map((d) => ({ ...d, uri }))]);
    } catch (err) {
      setError((err as Error).message);
    }
  }, []);

  useEffect(() => {
    setRows([]);
    for (const uri of session.uris) void loadURI(uri);
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

  const shown = useMemo(
    () =>
      (rows ?? [])
        .filter((r) => matches(r, search))
        .sort((a, b) => a.uri.localeCompare(b.uri) || a.name.localeCompare(b.name)),
    [rows, search],
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

  return (
    <PageSection>
      <Title headingLevel="h2">Domains</Title>
      {error !== null && <Alert variant="danger" title={error} isInline />}
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <SearchInput aria-label="Filter domains by name or state" placeholder="Filter by name, state or tag (tag:NAME for one tag)" value={search} onChange={(_e, v) => setSearch(v)} onClear={() => setSearch('')} />
          </ToolbarItem>
          {!readonly &&
            ['start', 'shutdown', 'destroy'].map((a) => (
              <ToolbarItem key={a}>
                <Button variant="secondary" isDisabled={selected.size === 0} onClick={() => void bulk(a)}>
                  {a[0]!.toUpperCase() + a.slice(1)} selected
                </Button>
              </ToolbarItem>
            ))}
          {!readonly && (
            <ToolbarItem>
              <Button variant="primary" component="a" href="#/create">
                Create VM…
              </Button>
            </ToolbarItem>
          )}
        </ToolbarContent>
      </Toolbar>
      <table className="tsv-table" aria-label="Domains">
        <thead>
          <tr>
            {!readonly && <th><span className="pf-v6-screen-reader">Select</span></th>}
            <th>Name</th>
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
          {shown.map((r) => {
            const key = `${r.uri} ${r.uuid}`;
            return <DomainRow key={key} row={r} readonly={readonly} selected={selected.has(key)} onSelect={onSelect} onTag={setSearch} />;
          })}
        </tbody>
      </table>
      {rows !== null && shown.length === 0 && <p>No domains.</p>}
    </PageSection>
  );
}

/**
 * Whether a row passes the filter: every word must match; `tag:NAME` a tag exactly, another word
 * a part of the name, the state or a tag.
 */
function matches(r: Row, search: string): boolean {
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

/** One row; re-rendered only when its domain or selection changes (a list of 1,000 follows events). */
const DomainRow = memo(function DomainRow({
  row: r,
  readonly,
  selected,
  onSelect,
  onTag,
}: {
  row: Row;
  readonly: boolean;
  selected: boolean;
  onSelect: (key: string, on: boolean) => void;
  onTag: (filter: string) => void;
}) {
  const key = `${r.uri} ${r.uuid}`;
  return (
    <tr data-domain={r.name}>
      {!readonly && (
        <td>
          <input type="checkbox" aria-label={`Select ${r.name}`} checked={selected} onChange={(e) => onSelect(key, e.target.checked)} />
        </td>
      )}
      <td>
        <a href={`#/domain/${encodeURIComponent(r.uri)}/${r.uuid}`}>{r.name}</a>
      </td>
      <td>{r.uri}</td>
      <td>
        <Label color={stateColor(r.state)} data-state={r.stateName}>
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
