// The snapshot tree: current snapshot marked, memory or disk only, creation time; create,
// revert, delete (with children, metadata only) and export.
import { useCallback, useEffect, useState } from 'react';
import { Alert, Button, Checkbox, Label, TextInput, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { api, type SnapshotSummary } from './api';

function depthOf(s: SnapshotSummary, all: SnapshotSummary[]): number {
  let d = 0;
  let p = s.parent;
  while (p !== null && d < 100) {
    d++;
    p = all.find((x) => x.name === p)?.parent ?? null;
  }
  return d;
}

export function Snapshots({ uri, uuid, readonly, onChange }: { uri: string; uuid: string; readonly: boolean; onChange: () => void }) {
  const [snaps, setSnaps] = useState<SnapshotSummary[]>([]);
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [children, setChildren] = useState(false);
  const [metadataOnly, setMetadataOnly] = useState(false);

  const load = useCallback(() => api.snapshots(uri, uuid).then(setSnaps, (e: Error) => setError(e.message)), [uri, uuid]);
  useEffect(() => void load(), [load]);

  const run = async (f: () => Promise<unknown>) => {
    setError(null);
    try {
      await f();
    } catch (e) {
      setError((e as Error).message);
    }
    await load();
    onChange();
  };
  const exportXML = async (n: string) => {
    const { xml } = await api.snapshotXML(uri, uuid, n);
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([xml], { type: 'application/xml' }));
    a.download = `${n}.xml`;
    a.click();
  };

  // Parents before children: the API lists them topologically; draw each under its parent.
  const ordered: SnapshotSummary[] = [];
  const visit = (parent: string | null) => {
    for (const s of snaps.filter((x) => x.parent === parent)) {
      ordered.push(s);
      visit(s.name);
    }
  };
  visit(null);

  return (
    <div>
      {error !== null && <Alert variant="danger" title={error} isInline />}
      {!readonly && (
        <Toolbar>
          <ToolbarContent>
            <ToolbarItem>
              <TextInput aria-label="New snapshot name" placeholder="snapshot name (optional)" value={name} onChange={(_e, v) => setName(v)} />
            </ToolbarItem>
            <ToolbarItem>
              <Button
                onClick={() =>
                  void run(() => api.createSnapshot(uri, uuid, `<domainsnapshot>${name === '' ? '' : `<name>${name.replace(/[<&>'"]/g, '')}</name>`}</domainsnapshot>`)).then(() => setName(''))
                }
              >
                Create snapshot
              </Button>
            </ToolbarItem>
            <ToolbarItem>
              <Checkbox id="del-children" label="Delete with children" isChecked={children} onChange={(_e, v) => setChildren(v)} />
            </ToolbarItem>
            <ToolbarItem>
              <Checkbox id="del-meta" label="Metadata only" isChecked={metadataOnly} onChange={(_e, v) => setMetadataOnly(v)} />
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
      )}
      <table className="tsv-table" aria-label="Snapshots">
        <thead>
          <tr>
            <th>Name</th>
            <th>Kind</th>
            <th>State</th>
            <th>Created</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {ordered.map((s) => (
            <tr key={s.name} data-snapshot={s.name}>
              <td>
                <span className="tsv-tree-indent" style={{ width: `${depthOf(s, snaps) * 1.5}rem` }} />
                {depthOf(s, snaps) > 0 ? '└ ' : ''}
                {s.name} {s.current && <Label color="blue" isCompact>current</Label>}
              </td>
              <td>{s.memory ? 'memory and disks' : 'disks only'}</td>
              <td>{s.state}</td>
              <td>{new Date(s.creationTime * 1000).toLocaleString()}</td>
              <td>
                <Button variant="link" onClick={() => void exportXML(s.name)}>
                  Export
                </Button>
                {!readonly && (
                  <>
                    <Button variant="link" onClick={() => void run(() => api.revert(uri, uuid, s.name))}>
                      Revert
                    </Button>
                    <Button variant="link" isDanger onClick={() => void run(() => api.deleteSnapshot(uri, uuid, s.name, { children, metadataOnly }))}>
                      Delete
                    </Button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {snaps.length === 0 && <p>No snapshots.</p>}
    </div>
  );
}
