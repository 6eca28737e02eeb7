// A domain's tags (kept in its <metadata>): shown as labels; an admin adds and removes them.
import { useState } from 'react';
import { Button, Label, LabelGroup, TextInput } from '@patternfly/react-core';
import { api, type DomainSummary } from './api';

export function Tags({ uri, dom, readonly, onChange, onError }: { uri: string; dom: DomainSummary; readonly: boolean; onChange: (d: DomainSummary) => void; onError: (m: string | null) => void }) {
  const [text, setText] = useState('');
  const tags = dom.tags ?? [];
  const save = async (next: string[]) => {
    onError(null);
    try {
      onChange(await api.setTags(uri, dom.uuid, next));
      setText('');
    } catch (e) {
      onError((e as Error).message);
    }
  };
  return (
    <div data-testid="domain-tags" style={{ display: 'flex', gap: '0.5rem', alignItems: 'center', margin: '0.5rem 0' }}>
      <span>Tags:</span>
      <LabelGroup numLabels={20}>
        {tags.map((t) => (
          <Label key={t} color="blue" data-tag={t} onClose={readonly ? undefined : () => void save(tags.filter((x) => x !== t))} closeBtnAriaLabel={`Remove tag ${t}`}>
            {t}
          </Label>
        ))}
      </LabelGroup>
      {tags.length === 0 && readonly && <span>none</span>}
      {!readonly && (
        <form
          style={{ display: 'flex', gap: '0.5rem' }}
          onSubmit={(e) => {
            e.preventDefault();
            const t = text.trim();
            if (t !== '' && !tags.includes(t)) void save([...tags, t]);
          }}
        >
          <TextInput aria-label="New tag" placeholder="new tag" value={text} onChange={(_e, v) => setText(v)} style={{ width: '10rem' }} />
          <Button type="submit" variant="secondary" isDisabled={text.trim() === ''}>
            Add tag
          </Button>
        </form>
      )}
    </div>
  );
}
