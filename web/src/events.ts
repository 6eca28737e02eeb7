// The event socket of one URI (docs/web.md): calls back for each lifecycle event, reconnecting
// after a drop, until closed.
import { wsURL, type DomainSummary } from './api';

export interface LifecycleEvent {
  uri: string;
  uuid: string;
  name: string;
  event: number;
  detail: number;
  /** The domain's row after the event; null when it is gone. */
  summary: DomainSummary | null;
}

export function watchEvents(uri: string, onEvent: (ev: LifecycleEvent) => void): () => void {
  let closed = false;
  let ws: WebSocket | null = null;
  const open = () => {
    ws = new WebSocket(wsURL(`/api/events?uri=${encodeURIComponent(uri)}`));
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data)) as LifecycleEvent | { error: { message: string } };
      // The server's refusal (the URI's daemon cannot be reached) comes before it closes the socket.
      if ('error' in msg) return;
      onEvent(msg);
    };
    ws.onclose = (e) => {
      // 4401: the token was revoked; anything else (4503: a remote daemon was lost) is retried.
      if (!closed && e.code !== 4401) setTimeout(open, 1000);
    };
  };
  open();
  return () => {
    closed = true;
    ws?.close();
  };
}
