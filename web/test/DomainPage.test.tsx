import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buttons, click, domain, fakeAPI, quietSockets, render, session, settle, type Rendered } from './helpers';

// noVNC and xterm.js need a real canvas: the consoles are checked in chromium (test/web-ui.test.ts).
vi.mock('../src/Consoles', () => ({
  VncConsole: ({ readonly }: { readonly: boolean }) => <div data-testid="vnc-stub" data-readonly={String(readonly)} />,
  SerialConsole: ({ readonly }: { readonly: boolean }) => <div data-testid="serial-stub" data-readonly={String(readonly)} />,
}));
const { DomainPage } = await import('../src/DomainPage');

const URI = 'test:///default';
const running = domain('alpha', { state: 1, stateName: 'running', id: 1, tags: ['web'] });

describe('DomainPage by role', () => {
  let r: Rendered | null = null;
  beforeEach(() => {
    quietSockets();
    fakeAPI({ [`GET /api/domains/${running.uuid}`]: { json: running }, [`GET /api/domains/${running.uuid}/snapshots`]: { json: [] } });
  });
  afterEach(() => {
    r?.unmount();
    r = null;
    vi.unstubAllGlobals();
  });

  it('an admin gets every action, Undefine, tag editing and an interactive console', async () => {
    r = await render(<DomainPage session={session('admin')} uri={URI} uuid={running.uuid} />);
    await settle();
    expect(buttons(r.container)).toEqual(expect.arrayContaining(['Start', 'Shutdown', 'Reboot', 'Suspend', 'Resume', 'Managed save', 'Destroy', 'Undefine…', 'Add tag']));
    expect(r.container.querySelector("[data-testid='vnc-stub']")!.getAttribute('data-readonly')).toBe('false');
    expect(r.container.querySelector("[data-testid='domain-host']")!.textContent).toBe('here');
  });

  it('an operator gets the power actions and an interactive console, nothing else', async () => {
    r = await render(<DomainPage session={session('operator')} uri={URI} uuid={running.uuid} />);
    await settle();
    const b = buttons(r.container);
    expect(b).toEqual(expect.arrayContaining(['Start', 'Shutdown', 'Reboot', 'Suspend', 'Resume', 'Destroy']));
    for (const no of ['Managed save', 'Undefine…', 'Add tag']) expect(b).not.toContain(no);
    expect(r.container.querySelector("button[aria-label='Remove tag web']")).toBeNull();
    expect(r.container.querySelector("[data-testid='vnc-stub']")!.getAttribute('data-readonly')).toBe('false');
  });

  it('a read-only token gets no action at all and a view-only console', async () => {
    r = await render(<DomainPage session={session('readonly')} uri={URI} uuid={running.uuid} />);
    await settle();
    const b = buttons(r.container);
    for (const no of ['Start', 'Shutdown', 'Destroy', 'Managed save', 'Undefine…', 'Add tag']) expect(b).not.toContain(no);
    expect(r.container.querySelector("[aria-label='Power actions']")).toBeNull();
    expect(r.container.querySelector("[data-testid='vnc-stub']")!.getAttribute('data-readonly')).toBe('true');
  });

  it('the actions offered follow the state: a running domain cannot be started', async () => {
    r = await render(<DomainPage session={session('operator')} uri={URI} uuid={running.uuid} />);
    await settle();
    const start = [...r.container.querySelectorAll('button')].find((x) => x.textContent === 'Start')!;
    const destroy = [...r.container.querySelectorAll('button')].find((x) => x.textContent === 'Destroy')!;
    expect(start.disabled || start.getAttribute('aria-disabled') === 'true').toBe(true);
    expect(destroy.disabled || destroy.getAttribute('aria-disabled') === 'true').toBe(false);
  });

  it('the serial tab shows the serial console', async () => {
    r = await render(<DomainPage session={session('admin')} uri={URI} uuid={running.uuid} />);
    await settle();
    await click([...r.container.querySelectorAll("[role='tab']")].find((t) => t.textContent === 'Serial console'));
    expect(r.container.querySelector("[data-testid='serial-stub']")).not.toBeNull();
  });
});
