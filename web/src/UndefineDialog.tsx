// The undefine dialog that tells the seed's whole story before anything is removed: what the
// rules refuse and why, the flag that lifts each and what it costs, and the snapshot metadata to
// export first.
import { useEffect, useState } from 'react';
import { Alert, Button, Checkbox, List, ListItem, Modal, ModalBody, ModalFooter, ModalHeader } from '@patternfly/react-core';
import { api, UNDEFINE_FLAG_NAMES, type UndefinePreview } from './api';

/** Whether every refusal has its flag chosen (a transient domain's has none). */
function allowed(p: UndefinePreview, chosen: Set<string>): boolean {
  return p.obstacles.every((o) => o.flag !== null && UNDEFINE_FLAG_NAMES[o.flag] !== undefined && chosen.has(UNDEFINE_FLAG_NAMES[o.flag]!));
}

export function UndefineDialog({ uri, uuid, name, onClose, onDone }: { uri: string; uuid: string; name: string; onClose: () => void; onDone: () => void }) {
  const [preview, setPreview] = useState<UndefinePreview | null>(null);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api.undefinePreview(uri, uuid).then(setPreview, (e: Error) => setError(e.message));
  }, [uri, uuid]);

  const exportSnapshots = async () => {
    const snaps = await api.snapshots(uri, uuid);
    const xmls = await Promise.all(snaps.map((s) => api.snapshotXML(uri, uuid, s.name).then((r) => r.xml)));
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([xmls.join('\n')], { type: 'application/xml' }));
    a.download = `${name}-snapshots.xml`;
    a.click();
  };

  const undefine = async () => {
    setError(null);
    try {
      await api.undefine(uri, uuid, [...chosen]);
      onDone();
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <Modal isOpen onClose={onClose} aria-labelledby="undefine-title" variant="medium">
      <ModalHeader title={`Undefine ${name}`} labelId="undefine-title" />
      <ModalBody>
        {error !== null && <Alert variant="danger" title={error} isInline data-testid="undefine-error" />}
        {preview === null ? (
          <p>Checking…</p>
        ) : (
          <>
            {preview.obstacles.length === 0 ? (
              <p>Nothing stands in the way: the definition is removed.</p>
            ) : (
              <>
                <p>The rules refuse a plain undefine. Choose what to remove with it:</p>
                <List data-testid="undefine-reasons">
                  {preview.obstacles.map((o) => (
                    <ListItem key={o.kind}>
                      <strong>{o.message}</strong>
                      {o.flag !== null && UNDEFINE_FLAG_NAMES[o.flag] !== undefined ? (
                        <Checkbox
                          id={`flag-${o.kind}`}
                          label={`${o.flag}: ${o.consequence}`}
                          isChecked={chosen.has(UNDEFINE_FLAG_NAMES[o.flag]!)}
                          onChange={(_e, v) => {
                            const next = new Set(chosen);
                            const f = UNDEFINE_FLAG_NAMES[o.flag!]!;
                            if (v) next.add(f);
                            else next.delete(f);
                            setChosen(next);
                          }}
                        />
                      ) : (
                        <p>{o.consequence}</p>
                      )}
                    </ListItem>
                  ))}
                </List>
              </>
            )}
            {preview.becomesTransient && <p>The domain is running: it goes on as a transient domain and disappears when it stops.</p>}
            {preview.snapshots > 0 && (
              <Button variant="link" onClick={() => void exportSnapshots()}>
                Export the snapshot metadata first
              </Button>
            )}
          </>
        )}
      </ModalBody>
      <ModalFooter>
        <Button variant="danger" onClick={() => void undefine()} isDisabled={preview === null || !allowed(preview, chosen)}>
          Undefine
        </Button>
        <Button variant="link" onClick={onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}
