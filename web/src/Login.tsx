import { useState } from 'react';
import { ActionGroup, Alert, Button, Form, FormGroup, PageSection, TextInput, Title } from '@patternfly/react-core';
import { api } from './api';

/** Asks for a token when the page was opened without one. */
export function Login({ onLogin }: { onLogin: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  return (
    <PageSection>
      <Title headingLevel="h2">Log in</Title>
      <p>Paste a token from the daemon's token file, or open the URL tsvirtd printed at start.</p>
      <Form
        onSubmit={(e) => {
          e.preventDefault();
          api.login(token.trim()).then(onLogin, (err: Error) => setError(err.message));
        }}
      >
        {error !== null && <Alert variant="danger" title={error} isInline />}
        <FormGroup label="Token" fieldId="token" isRequired>
          <TextInput id="token" type="password" value={token} onChange={(_e, v) => setToken(v)} />
        </FormGroup>
        <ActionGroup>
          <Button type="submit">Log in</Button>
        </ActionGroup>
      </Form>
    </PageSection>
  );
}
