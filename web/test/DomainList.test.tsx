import { act } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DomainList, matches, windowOf, ROW_HEIGHT } from '../src/DomainList';
import { buttons, click, domain, fakeAPI, quietSockets, QuietSocket, render, session, settle, type, type Rendered } from './helpers';

const REMOTE = 'test+unix:///default?socket=/s';
const q = (uri: string) => `?uri=${encodeURIComponent(uri)}`;

describe('DomainList', () => {
  let r: Rendered | null = null;
  beforeEach(() => quietSockets());
  afterEach(() => {
    r?.unmount();
    r = null;
    vi.unstubAllGlobals();
  });

  it('labels each domain with its host and filters by host and by text', async () => {
    fakeAPI({
      [`GET /api/domains${q('test:///default')}`]: { json: [domain('alpha', { state: 1, stateName: 'running', tags: ['web'] }), domain('beta')] },
      [`GET /api/domains${q(REMOTE)}`]: { json: [domain('gamma')] },
    });
    r = await render(<DomainList session={session('admin', true)} />);
    await settle();
    const rows = () => [...r!.container.querySelectorAll('tr[data-domain]')].map((tr) => `${tr.getAttribute('data-domain')}@${tr.getAttribute('data-host')}`);
    expect(rows()).toEqual(['alpha@here', 'beta@here', 'gamma@second']);
    expect(QuietSocket.opened.map((u) => decodeURIComponent(u.split('uri=')[1]!))).toEqual(['test:///default', REMOTE]);
    expect(r.container.querySelector("[data-host='second'][data-connected='yes']")).not.toBeNull();

    await type(r.container.querySelector("select[aria-label='Filter domains by host']"), REMOTE);
    expect(rows()).toEqual(['gamma@second']);
    await type(r.container.querySelector("select[aria-label='Filter domains by host']"), '');
    await type(r.container.querySelector("input[aria-label='Filter domains by name or state']"), 'tag:web');
    expect(rows()).toEqual(['alpha@here']);
    expect(r.container.querySelector("[data-testid='domain-count']")!.textContent).toBe('1 of 3 domains');
  });

  it('an admin gets bulk actions and Create; an operator bulk power only; a read-only token neither, and no checkboxes', async () => {
    fakeAPI({ 'GET /api/domains': { json: [domain('alpha')] } });
    r = await render(<DomainList session={session('admin')} />);
    await settle();
    expect(buttons(r.container)).toEqual(expect.arrayContaining(['Start selected', 'Shutdown selected', 'Destroy selected']));
    expect(r.container.textContent).toContain('Create VM…');
    r.unmount();

    r = await render(<DomainList session={session('operator')} />);
    await settle();
    expect(buttons(r.container)).toEqual(expect.arrayContaining(['Start selected', 'Destroy selected']));
    expect(r.container.textContent).not.toContain('Create VM…');
    expect(r.container.querySelectorAll("input[type='checkbox']").length).toBe(1);
    r.unmount();

    r = await render(<DomainList session={session('readonly')} />);
    await settle();
    expect(buttons(r.container).filter((b) => b.endsWith('selected'))).toEqual([]);
    expect(r.container.textContent).not.toContain('Create VM…');
    expect(r.container.querySelectorAll("input[type='checkbox']").length).toBe(0);
  });

  it('an admin gets Add host and can stop showing a remote host; an operator neither', async () => {
    const calls = fakeAPI({ 'GET /api/domains': { json: [] }, 'DELETE /api/hosts': { status: 204 } });
    const changed = vi.fn();
    r = await render(<DomainList session={session('admin', true)} onHostsChanged={changed} />);
    await settle();
    expect(buttons(r.container)).toContain('Add host…');
    await click(r.container.querySelector("button[aria-label='Stop showing host second']"));
    await settle();
    expect(calls.find((c) => c.method === 'DELETE')!.body).toEqual({ uri: REMOTE });
    expect(changed).toHaveBeenCalledOnce();
    expect(r.container.querySelector("button[aria-label='Stop showing host here']")).toBeNull();
    r.unmount();
    r = await render(<DomainList session={session('operator', true)} />);
    await settle();
    expect(buttons(r.container)).not.toContain('Add host…');
    expect(r.container.querySelector("button[aria-label='Stop showing host second']")).toBeNull();
  });

  it('a bulk action runs on each selected domain on its own host', async () => {
    const calls = fakeAPI({
      [`GET /api/domains${q('test:///default')}`]: { json: [domain('alpha')] },
      [`GET /api/domains${q(REMOTE)}`]: { json: [domain('gamma')] },
      [`POST /api/domains/${domain('alpha').uuid}/actions/start`]: { json: domain('alpha') },
      [`POST /api/domains/${domain('gamma').uuid}/actions/start`]: { json: domain('gamma') },
    });
    r = await render(<DomainList session={session('operator', true)} />);
    await settle();
    await click(r.container.querySelector("input[aria-label='Select alpha']"));
    await click(r.container.querySelector("input[aria-label='Select gamma']"));
    await click([...r.container.querySelectorAll('button')].find((b) => b.textContent === 'Start selected'));
    await settle();
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.path)).toEqual([
      `/api/domains/${domain('alpha').uuid}/actions/start${q('test:///default')}`,
      `/api/domains/${domain('gamma').uuid}/actions/start${q(REMOTE)}`,
    ]);
  });

  it('renders only the rows in view of a long list, and the whole count', async () => {
    const many = Array.from({ length: 1000 }, (_, i) => domain(`d${String(i).padStart(4, '0')}`));
    fakeAPI({ 'GET /api/domains': { json: many } });
    r = await render(<DomainList session={session('admin')} />);
    await settle();
    const rendered = r.container.querySelectorAll('tr[data-domain]').length;
    expect(rendered).toBeGreaterThan(0);
    expect(rendered).toBeLessThan(100);
    expect(r.container.querySelector("[data-testid='domain-count']")!.getAttribute('data-count')).toBe('1000');
    expect(r.container.querySelector('table')!.getAttribute('aria-rowcount')).toBe('1001');
    // Scrolled to the end: the last rows are in the page, the first are not.
    const box = r.container.querySelector('.tsv-scroll') as HTMLElement;
    Object.defineProperty(box, 'scrollTop', { value: 999 * ROW_HEIGHT, configurable: true });
    await act(async () => {
      box.dispatchEvent(new Event('scroll'));
    });
    expect(r.container.querySelector("tr[data-domain='d0999']")).not.toBeNull();
    expect(r.container.querySelector("tr[data-domain='d0000']")).toBeNull();
  });
});

describe('windowOf and matches', () => {
  it('windowOf keeps a margin around the rows in view and stays within the list', () => {
    expect(windowOf(1000, 0, 800)).toEqual([0, 40]);
    expect(windowOf(1000, 100 * ROW_HEIGHT, 800)).toEqual([80, 140]);
    expect(windowOf(10, 0, 800)).toEqual([0, 10]);
    expect(windowOf(0, 0, 800)).toEqual([0, 0]);
  });
  it('matches every word: tag:NAME exactly, others in the name, state or tags', () => {
    const d = domain('web-01', { stateName: 'running', tags: ['Prod', 'eu'] });
    expect(matches(d, '')).toBe(true);
    expect(matches(d, 'web run')).toBe(true);
    expect(matches(d, 'tag:prod')).toBe(true);
    expect(matches(d, 'tag:pro')).toBe(false);
    expect(matches(d, 'web shut')).toBe(false);
  });
});
