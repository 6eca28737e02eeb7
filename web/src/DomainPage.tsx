// One domain: its state and power actions, its consoles, snapshots and XML, and the undefine dialog.
import { lazy, Suspense, useCallback, useEffect, useState } from 'react';
import { Alert, Button, PageSection, Tab, Tabs, TabTitleText, Title, Toolbar, ToolbarContent, ToolbarItem, Label } from '@patternfly/react-core';
import { abilities, api, hostLabel, POWER_ACTIONS, type DomainSummary, type Session } from './api';
import { watchEvents } from './events';
import { SerialConsole, VncConsole } from './Consoles';
import { Snapshots } from './Snapshots';
import { UndefineDialog } from './UndefineDialog';
import { XmlEditor } from './XmlEditor';
import { Tags } from './Tags';

// uPlot comes with the Metrics tab only: the first page stays small.
const Metrics = lazy(() => import('./Metrics'));

const ACTIONS = ['start', 'shutdown', 'reboot', 'suspend', 'resume', 'managedsave', 'destroy'];

/** Whether `action` makes sense in libvirt state `state` (the daemon still decides). */
function offered(action: string, state: number): boolean {
  const running = state === 1;
  const paused = state === 3;
  switch (action) {
    case 'start':
      return state === 5 || state === 6 || state === 0;
    case 'resume':
      return paused;
    case 'shutdown':
    case 'reboot':
    case 'suspend':
      return running;
    default:
      return running || paused;
  }
}

export function DomainPage({ session, uri, uuid }: { session: Session; uri: string; uuid: string }) {
  const [dom, setDom] = useState<DomainSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [tab, setTab] = useState<string | number>('console');
  const [undefining, setUndefining] = useState(false);
  const can = abilities(session.role);
  // Definitions, tags, snapshots and XML: an admin's only.
  const readonly = !can.manage;
  const actions = ACTIONS.filter((a) => can.manage || (can.power && POWER_ACTIONS.includes(a)));

  const load = useCallback(
    () =>
      api.domain(uri, uuid).then(setDom, (e: Error) => {
        setDom(null);
        setError(e.message);
      }),
    [uri, uuid],
  );
  useEffect(() => {
    void load();
    return watchEvents(uri, (ev) => {
      if (ev.uuid !== uuid) return;
      // Gone (undefined while inactive): back to the list.
      if (ev.summary === null) location.hash = '#/';
      else setDom(ev.summary);
    });
  }, [uri, uuid, load]);

  const act = async (a: string) => {
    setError(null);
    setBusy(a);
    try {
      setDom(await api.action(uri, uuid, a));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(null);
    }
  };

  if (dom === null) {
    return (
      <PageSection>
        {error !== null ? <Alert variant="danger" title={error} isInline /> : <p>Loading…</p>}
        <a href="#/">Back to the list</a>
      </PageSection>
    );
  }
  const running = dom.state === 1 || dom.state === 3;
  return (
    <PageSection>
      <Title headingLevel="h2">
        {dom.name}{' '}
        <Label data-testid="state" color={dom.state === 1 ? 'green' : 'grey'}>
          {dom.stateName}
        </Label>
      </Title>
      <p>
        <span data-testid="domain-host">{hostLabel(session, uri)}</span> · {uri} · {dom.vcpus} vCPU · {Math.round(dom.memory / 1024)} MiB · {dom.persistent ? 'persistent' : 'transient'} · {dom.snapshots} snapshots
      </p>
      <Tags uri={uri} dom={dom} readonly={readonly} onChange={setDom} onError={setError} />
      {error !== null && <Alert variant="danger" title={error} isInline />}
      {actions.length > 0 && (
        <Toolbar aria-label="Power actions">
          <ToolbarContent>
            {actions.map((a) => (
              <ToolbarItem key={a}>
                <Button variant={a === 'destroy' ? 'danger' : 'secondary'} isLoading={busy === a} isDisabled={busy !== null || !offered(a, dom.state)} onClick={() => void act(a)}>
                  {a === 'managedsave' ? 'Managed save' : a[0]!.toUpperCase() + a.slice(1)}
                </Button>
              </ToolbarItem>
            ))}
            {can.manage && (
              <ToolbarItem>
                <Button variant="danger" onClick={() => setUndefining(true)}>
                  Undefine…
                </Button>
              </ToolbarItem>
            )}
          </ToolbarContent>
        </Toolbar>
      )}
      <Tabs activeKey={tab} onSelect={(_e, k) => setTab(k)} aria-label="Domain views">
        <Tab eventKey="console" title={<TabTitleText>Console</TabTitleText>}>
          {tab === 'console' && (running ? <VncConsole uri={uri} uuid={uuid} readonly={!can.consoleInput} /> : <p>The domain is not running.</p>)}
        </Tab>
        <Tab eventKey="serial" title={<TabTitleText>Serial console</TabTitleText>}>
          {tab === 'serial' && (running ? <SerialConsole uri={uri} uuid={uuid} readonly={!can.consoleInput} /> : <p>The domain is not running.</p>)}
        </Tab>
        <Tab eventKey="snapshots" title={<TabTitleText>Snapshots</TabTitleText>}>
          {tab === 'snapshots' && <Snapshots uri={uri} uuid={uuid} readonly={readonly} onChange={() => void load()} />}
        </Tab>
        <Tab eventKey="metrics" title={<TabTitleText>Metrics</TabTitleText>}>
          {tab === 'metrics' && (
            <Suspense fallback={<p>Loading…</p>}>
              <Metrics uri={uri} uuid={uuid} />
            </Suspense>
          )}
        </Tab>
        <Tab eventKey="xml" title={<TabTitleText>XML</TabTitleText>}>
          {tab === 'xml' && <XmlEditor uri={uri} uuid={uuid} readonly={readonly} onSaved={setDom} />}
        </Tab>
      </Tabs>
      {undefining && (
        <UndefineDialog
          uri={uri}
          uuid={uuid}
          name={dom.name}
          onClose={() => setUndefining(false)}
          onDone={() => {
            setUndefining(false);
            location.hash = '#/';
          }}
        />
      )}
    </PageSection>
  );
}
