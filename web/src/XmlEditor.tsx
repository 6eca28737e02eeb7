// The domain's persistent definition as an editor: Save defines it with
// VIR_DOMAIN_DEFINE_VALIDATE, and a refusal (libvirt's message) shows inline above the text,
// which stays as the user left it.
import { useCallback, useEffect, useState } from 'react';
import { Alert, Button, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { api, type DomainSummary } from './api';

export function XmlEditor({ uri, uuid, readonly, onSaved }: { uri: string; uuid: string; readonly: boolean; onSaved: (d: DomainSummary) => void }) {
  const [text, setText] = useState('');
  const [dirty, setDirty] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  const load = useCallback(() => {
    setError(null);
    return api.xml(uri, uuid, true).then(
      (r) => {
        setText(r.xml);
        setDirty(false);
      },
      (e: Error) => setError(e.message),
    );
  }, [uri, uuid]);
  useEffect(() => void load(), [load]);

  const save = async () => {
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const r = await api.saveXML(uri, uuid, text);
      setText(r.xml);
      setDirty(false);
      setSaved(true);
      onSaved(r.summary);
    } catch (e) {
      // The user's text stays: only the error is shown.
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div>
      <p>The persistent definition (as <code>virsh edit</code>): a running domain takes it at its next start.</p>
      {error !== null && <Alert data-testid="xml-error" variant="danger" title="libvirt refused the XML" isInline>{error}</Alert>}
      {saved && <Alert data-testid="xml-saved" variant="success" title="Saved" isInline isPlain />}
      {!readonly && (
        <Toolbar>
          <ToolbarContent>
            <ToolbarItem>
              <Button variant="primary" isLoading={busy} isDisabled={busy || !dirty} onClick={() => void save()}>
                Save XML
              </Button>
            </ToolbarItem>
            <ToolbarItem>
              <Button variant="secondary" isDisabled={busy || !dirty} onClick={() => void load()}>
                Discard changes
              </Button>
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
      )}
      <textarea
        className="tsv-xml tsv-xml-editor"
        aria-label="Domain XML"
        spellCheck={false}
        readOnly={readonly}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setDirty(true);
          setSaved(false);
        }}
      />
    </div>
  );
}
