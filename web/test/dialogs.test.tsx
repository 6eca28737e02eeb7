import { act } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UndefineDialog } from '../src/UndefineDialog';
import { Login } from '../src/Login';
import { XmlEditor } from '../src/XmlEditor';
import { Snapshots } from '../src/Snapshots';
import { Tags } from '../src/Tags';
import { AddHostDialog } from '../src/AddHostDialog';
import { buttons, click, domain, fakeAPI, quietSockets, render, settle, type, type Rendered } from './helpers';

const URI = 'test:///default';
const U = domain('alpha').uuid;

describe('components', () => {
  let r: Rendered | null = null;
  beforeEach(() => quietSockets());
  afterEach(() => {
    r?.unmount();
    r = null;
    vi.unstubAllGlobals();
    document.body.innerHTML = '';
  });

  it('UndefineDialog lists the refusals, enables Undefine once their flags are chosen, sends them, and Escape closes it', async () => {
    const calls = fakeAPI({
      [`GET /api/domains/${U}/undefine`]: {
        json: {
          persistent: true,
          active: false,
          snapshots: 1,
          checkpoints: 0,
          managedSave: false,
          becomesTransient: false,
          obstacles: [{ kind: 'snapshots', message: 'cannot delete inactive domain with 1 snapshots', flag: 'VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA', value: 1, consequence: 'their metadata goes' }],
        },
      },
      [`POST /api/domains/${U}/undefine`]: { status: 204 },
    });
    const onClose = vi.fn();
    const onDone = vi.fn();
    r = await render(<UndefineDialog uri={URI} uuid={U} name="alpha" onClose={onClose} onDone={onDone} />);
    await settle();
    const dialog = document.querySelector("[role='dialog']") as HTMLElement;
    expect(dialog.textContent).toContain('cannot delete inactive domain with 1 snapshots');
    const undefine = [...dialog.querySelectorAll('button')].find((b) => b.textContent === 'Undefine')!;
    expect(undefine.disabled).toBe(true);
    await click(dialog.querySelector("input[type='checkbox']"));
    expect(undefine.disabled).toBe(false);
    await click(undefine);
    await settle();
    expect(calls.find((c) => c.method === 'POST')!.body).toEqual({ flags: ['snapshots-metadata'] });
    expect(onDone).toHaveBeenCalledOnce();
    await act(async () => {
      dialog.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
      document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    });
    expect(onClose).toHaveBeenCalled();
  });

  it('Login posts the pasted token and shows a refusal', async () => {
    const calls = fakeAPI({ 'POST /api/login': { status: 401, json: { error: { message: 'unknown token' } } } });
    const onLogin = vi.fn();
    r = await render(<Login onLogin={onLogin} />);
    const input = r.container.querySelector('#token');
    expect(r.container.querySelector("label[for='token']")).not.toBeNull();
    await type(input, '  abcdefghijklmnopqrstuvwxyz  ');
    await act(async () => {
      r!.container.querySelector('form')!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
    });
    await settle();
    expect(calls[0]).toEqual({ method: 'POST', path: '/api/login', body: { token: 'abcdefghijklmnopqrstuvwxyz' } });
    expect(r.container.textContent).toContain('unknown token');
    expect(onLogin).not.toHaveBeenCalled();
  });

  it('XmlEditor: read-only shows no Save and a read-only text; a refused save keeps the text and shows the message', async () => {
    fakeAPI({
      [`GET /api/domains/${U}/xml`]: { json: { xml: '<domain/>' } },
      [`PUT /api/domains/${U}/xml`]: { status: 400, json: { error: { message: "Invalid value 'lots'" } } },
    });
    r = await render(<XmlEditor uri={URI} uuid={U} readonly onSaved={() => undefined} />);
    await settle();
    expect(buttons(r.container)).not.toContain('Save XML');
    expect((r.container.querySelector('textarea') as HTMLTextAreaElement).readOnly).toBe(true);
    r.unmount();

    r = await render(<XmlEditor uri={URI} uuid={U} readonly={false} onSaved={() => undefined} />);
    await settle();
    const area = r.container.querySelector('textarea') as HTMLTextAreaElement;
    expect(area.value).toBe('<domain/>');
    await type(area, '<domain>lots</domain>');
    await click([...r.container.querySelectorAll('button')].find((b) => b.textContent === 'Save XML'));
    await settle();
    expect(r.container.querySelector("[data-testid='xml-error']")!.textContent).toContain("Invalid value 'lots'");
    expect(area.value).toBe('<domain>lots</domain>');
  });

  it('Snapshots draws children under their parent, marks the current one, and hides the controls when read-only', async () => {
    fakeAPI({
      [`GET /api/domains/${U}/snapshots`]: {
        json: [
          { name: 'root', parent: null, current: false, state: 'shutoff', creationTime: 1, description: '', memory: false },
          { name: 'other', parent: null, current: false, state: 'running', creationTime: 3, description: '', memory: true },
          { name: 'child', parent: 'root', current: true, state: 'shutoff', creationTime: 2, description: '', memory: false },
        ],
      },
    });
    r = await render(<Snapshots uri={URI} uuid={U} readonly onChange={() => undefined} />);
    await settle();
    const names = [...r.container.querySelectorAll('tr[data-snapshot]')].map((tr) => tr.getAttribute('data-snapshot'));
    expect(names).toEqual(['root', 'child', 'other']);
    expect(r.container.querySelector("tr[data-snapshot='child']")!.textContent).toContain('current');
    expect(r.container.querySelector("tr[data-snapshot='other']")!.textContent).toContain('memory and disks');
    expect(buttons(r.container)).not.toContain('Create snapshot');
    expect(buttons(r.container)).not.toContain('Revert');
    expect(buttons(r.container)).toContain('Export');
  });

  it('Tags adds a tag through the API and shows the answer', async () => {
    const d = domain('alpha', { tags: ['a'] });
    const calls = fakeAPI({ [`PUT /api/domains/${U}/tags`]: { json: { ...d, tags: ['a', 'b'] } } });
    let now = d;
    r = await render(<Tags uri={URI} dom={d} readonly={false} onChange={(x) => (now = x)} onError={() => undefined} />);
    await type(r.container.querySelector("input[aria-label='New tag']"), 'b');
    await act(async () => {
      r!.container.querySelector('form')!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
    });
    await settle();
    expect(calls[0]!.body).toEqual({ tags: ['a', 'b'] });
    expect(now.tags).toEqual(['a', 'b']);
  });

  it('AddHostDialog posts the name and URI, shows a refusal, and reports success', async () => {
    let answer: { status: number; json: unknown } = { status: 400, json: { error: { message: "'test:///default' names no other daemon" } } };
    const calls = fakeAPI({ 'POST /api/hosts': () => answer });
    const onAdded = vi.fn();
    r = await render(<AddHostDialog onClose={() => undefined} onAdded={onAdded} />);
    const dialog = document.querySelector("[role='dialog']") as HTMLElement;
    const add = [...dialog.querySelectorAll('button')].find((b) => b.textContent === 'Add')!;
    expect(add.disabled).toBe(true);
    await type(dialog.querySelector('#host-label'), 'lab2');
    await type(dialog.querySelector('#host-uri'), 'test:///default');
    await click(add);
    await settle();
    expect(calls[0]).toEqual({ method: 'POST', path: '/api/hosts', body: { uri: 'test:///default', label: 'lab2' } });
    expect(dialog.querySelector("[data-testid='add-host-error']")!.textContent).toContain('names no other daemon');
    expect(onAdded).not.toHaveBeenCalled();
    answer = { status: 200, json: { uri: 'test+unix:///default?socket=/s', label: 'lab2', remote: true, connected: true, error: null } };
    await type(dialog.querySelector('#host-uri'), 'test+unix:///default?socket=/s');
    await click(add);
    await settle();
    expect(onAdded).toHaveBeenCalledOnce();
  });
});
