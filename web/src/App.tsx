// The web console: log in with the token from the URL's fragment (or a pasted one), then the
// domain list of each served URI, live from the event socket, and a domain's page.
import { lazy, Suspense, useCallback, useEffect, useState } from 'react';
import { Alert, Button, Masthead, MastheadBrand, MastheadContent, MastheadMain, Page, PageSection, Title } from '@patternfly/react-core';
import { api, ApiError, type Session } from './api';
import { Login } from './Login';
import { DomainList } from './DomainList';
import { DomainPage } from './DomainPage';

// The wizard is loaded when opened: the first page stays small.
const CreateVM = lazy(() => import('./CreateVM'));

/** Where the page is: the list, or a domain (by URI and UUID), kept in the URL's hash. */
interface Route {
  uri: string | null;
  uuid: string | null;
  create?: boolean;
}

function parseRoute(): Route {
  if (location.hash === '#/create') return { uri: null, uuid: null, create: true };
  const m = /^#\/domain\/([^/]+)\/([0-9a-f-]{36})$/.exec(location.hash);
  return m === null ? { uri: null, uuid: null } : { uri: decodeURIComponent(m[1]!), uuid: m[2]! };
}

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checked, setChecked] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [route, setRoute] = useState<Route>(parseRoute());

  const load = useCallback(async () => {
    try {
      setSession(await api.session());
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) setError((err as Error).message);
      setSession(null);
    } finally {
      setChecked(true);
    }
  }, []);

  useEffect(() => {
    // A token in the fragment (#token=…) logs in at once and leaves the address bar.
    const m = /^#token=([A-Za-z0-9_-]+)$/.exec(location.hash);
    if (m !== null) {
      history.replaceState(null, '', location.pathname);
      api.login(m[1]!).then(load, (err: Error) => {
        setError(err.message);
        setChecked(true);
      });
    } else {
      void load();
    }
    const onHash = () => setRoute(parseRoute());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, [load]);

  const masthead = (
    <Masthead>
      <MastheadMain>
        <MastheadBrand>
          <Title headingLevel="h1" size="xl" style={{ whiteSpace: 'nowrap' }}>
            <a href="#/" style={{ color: 'inherit', textDecoration: 'none' }}>tsvirt</a>
          </Title>
        </MastheadBrand>
      </MastheadMain>
      <MastheadContent>
        {session !== null && (
          <span>
            {session.role === 'readonly' ? 'read-only · ' : session.role === 'operator' ? 'operator (consoles and power) · ' : ''}token {session.tokenId}{' '}
            <Button variant="link" onClick={() => void api.logout().then(() => setSession(null))}>
              Log out
            </Button>
          </span>
        )}
      </MastheadContent>
    </Masthead>
  );

  return (
    <Page masthead={masthead}>
      {error !== null && (
        <PageSection>
          <Alert variant="danger" title={error} isInline />
        </PageSection>
      )}
      {checked && session === null && <Login onLogin={load} />}
      {session !== null && route.create === true && session.role === 'admin' && (
        <Suspense fallback={<PageSection>Loading…</PageSection>}>
          <CreateVM session={session} />
        </Suspense>
      )}
      {session !== null && route.uuid === null && route.create !== true && <DomainList session={session} onHostsChanged={() => void load()} />}
      {session !== null && route.uuid !== null && route.uri !== null && <DomainPage session={session} uri={route.uri} uuid={route.uuid} />}
    </Page>
  );
}
