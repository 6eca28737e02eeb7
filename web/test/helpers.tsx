// What the component tests share: rendering into happy-dom's document under act(), a fetch that
// answers the JSON API's routes from a table (the server itself is tested against real daemons
// in test/web-*.test.ts), and a WebSocket that never connects.
import { act, type ReactElement } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { vi } from 'vitest';
import type { DomainSummary, Session } from '../src/api';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

export interface Rendered {
  container: HTMLElement;
  root: Root;
  unmount(): void;
}

export async function render(ui: ReactElement): Promise<Rendered> {
  const container = document.createElement('div');
  document.body.appendChild(container);
  const root = createRoot(container);
  await act(async () => root.render(ui));
  return {
    container,
    root,
    unmount: () => {
      act(() => root.unmount());
      container.remove();
    },
  };
}

/** Lets pending promises (fetch answers) and the renders they cause run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await act(async () => new Promise((r) => setTimeout(r, 0)));
}

export interface Call {
  method: string;
  path: string;
  body: unknown;
}

/** A route's answer: status and JSON, or a function of the request. */
type Answer = { status?: number; json?: unknown } | ((call: Call) => { status?: number; json?: unknown });

/**
 * Replaces fetch: `routes` maps "METHOD /path?query" (exactly as the UI asks) or "METHOD /path"
 * (any query) to an answer; anything else is a 404. Returns the calls made, in order.
 */
export function fakeAPI(routes: Record<string, Answer>): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (input: string, init: RequestInit = {}) => {
    const method = init.method ?? 'GET';
    const path = String(input);
    const body: unknown = typeof init.body === 'string' ? JSON.parse(init.body) : undefined;
    const call = { method, path, body };
    calls.push(call);
    const route = routes[`${method} ${path}`] ?? routes[`${method} ${path.split('?')[0]}`];
    const a = route === undefined ? { status: 404, json: { error: { message: `no route ${method} ${path}` } } } : typeof route === 'function' ? route(call) : route;
    const status = a.status ?? 200;
    const text = a.json === undefined ? '' : JSON.stringify(a.json);
    return new Response(status === 204 ? null : text, { status });
  });
  return calls;
}

/** A WebSocket that stays connecting: the event sockets of the components under test. */
export class QuietSocket {
  static readonly OPEN = 1;
  static opened: string[] = [];
  readonly OPEN = 1;
  readyState = 0;
  binaryType = 'blob';
  onmessage: ((m: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  constructor(readonly url: string) {
    QuietSocket.opened.push(url);
  }
  send(): void {}
  close(): void {
    this.readyState = 3;
  }
}

export function quietSockets(): void {
  QuietSocket.opened = [];
  vi.stubGlobal('WebSocket', QuietSocket);
}

export function domain(name: string, over: Partial<DomainSummary> = {}): DomainSummary {
  return {
    uuid: `00000000-0000-4000-8000-${String(Math.abs(hash(name))).padStart(12, '0').slice(0, 12)}`,
    name,
    id: -1,
    state: 5,
    stateName: 'shut off',
    reason: 0,
    persistent: true,
    autostart: false,
    managedSave: false,
    snapshots: 0,
    vcpus: 1,
    memory: 65536,
    maxMemory: 65536,
    cpuTime: 0,
    tags: [],
    ...over,
  };
}

function hash(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) | 0;
  return h;
}

export function session(role: Session['role'], remote = false): Session {
  const hosts = [{ uri: 'test:///default', label: 'here', remote: false, connected: true, error: null }];
  if (remote) hosts.push({ uri: 'test+unix:///default?socket=/s', label: 'second', remote: true, connected: true, error: null });
  return { role, tokenId: 'abcdef012345', uris: hosts.map((h) => h.uri), hosts };
}

/** The visible text of the buttons in `el`. */
export function buttons(el: HTMLElement): string[] {
  return [...el.querySelectorAll('button')].map((b) => (b.textContent ?? '').trim()).filter((t) => t !== '');
}

export function click(el: Element | null | undefined): Promise<void> {
  if (el === null || el === undefined) throw new Error('nothing to click');
  return act(async () => {
    (el as HTMLElement).click();
  });
}

/** Sets an input's value the way React notices (its value setter, then an input event). */
export function type(el: Element | null, value: string): Promise<void> {
  if (el === null) throw new Error('no input');
  return act(async () => {
    const input = el as HTMLInputElement;
    const proto = input instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : input instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, 'value')!.set!.call(input, value);
    input.dispatchEvent(new Event(input instanceof HTMLSelectElement ? 'change' : 'input', { bubbles: true }));
  });
}
