// An admin's dialog to show one more daemon (POST /api/hosts): its name and its URI, reached with
// tsvirt's remote driver by the daemon. Kept until the daemon stops (--http-connect keeps it).
import { useState } from 'react';
import { Alert, Button, Form, FormGroup, Modal, ModalBody, ModalFooter, ModalHeader, TextInput } from '@patternfly/react-core';
import { api } from './api';

export function AddHostDialog({ onClose, onAdded }: { onClose: () => void; onAdded: () => void }) {
  const [label, setLabel] = useState('');
  const [uri, setURI] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const add = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.addHost(uri.trim(), label.trim());
      onAdded();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal isOpen onClose={onClose} aria-labelledby="add-host-title" variant="small">
      <ModalHeader title="Add a host" labelId="add-host-title" />
      <ModalBody>
        {error !== null && <Alert variant="danger" title={error} isInline data-testid="add-host-error" />}
        <Form
          id="add-host-form"
          onSubmit={(e) => {
            e.preventDefault();
            void add();
          }}
        >
          <FormGroup label="Name" fieldId="host-label">
            <TextInput id="host-label" value={label} onChange={(_e, v) => setLabel(v)} placeholder="lab2" />
          </FormGroup>
          <FormGroup label="URI" fieldId="host-uri" isRequired>
            <TextInput id="host-uri" isRequired value={uri} onChange={(_e, v) => setURI(v)} placeholder="qemu+unix:///session?socket=/path/libvirt-sock" />
          </FormGroup>
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button type="submit" form="add-host-form" isDisabled={busy || uri.trim() === ''} isLoading={busy}>
          Add
        </Button>
        <Button variant="link" onClick={onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}
