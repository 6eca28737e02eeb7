// The graphical console (noVNC over the daemon's VNC WebSocket) and the serial console (xterm.js
// over the daemon's console stream WebSocket).
import { useEffect, useRef, useState } from 'react';
import { Alert, Button, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import RFB from '@novnc/novnc';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { wsURL } from './api';

const path = (uri: string, uuid: string, kind: string, extra = '') => `/api/domains/${uuid}/console/${kind}?uri=${encodeURIComponent(uri)}${extra}`;

export function VncConsole({ uri, uuid, readonly }: { uri: string; uuid: string; readonly: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  const rfb = useRef<RFB | null>(null);
  const [status, setStatus] = useState('connecting');
  const [paste, setPaste] = useState('');

  useEffect(() => {
    const r = new RFB(box.current!, wsURL(path(uri, uuid, 'vnc')), { shared: true });
    r.scaleViewport = true;
    r.viewOnly = readonly;
    r.addEventListener('connect', () => setStatus('connected'));
    r.addEventListener('disconnect', () => setStatus('disconnected'));
    r.addEventListener('credentialsrequired', () => {
      const password = window.prompt('VNC password') ?? '';
      r.sendCredentials({ password });
    });
    rfb.current = r;
    return () => r.disconnect();
  }, [uri, uuid, readonly]);

  const typeText = (text: string) => {
    for (const ch of text) {
      const keysym = ch === '\n' ? 0xff0d : ch.codePointAt(0)!;
      rfb.current?.sendKey(keysym, null, true);
      rfb.current?.sendKey(keysym, null, false);
    }
  };

  return (
    <div>
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>VNC: {status}</ToolbarItem>
          {!readonly && (
            <>
              <ToolbarItem>
                <Button variant="secondary" onClick={() => rfb.current?.sendCtrlAltDel()}>
                  Send Ctrl+Alt+Del
                </Button>
              </ToolbarItem>
              <ToolbarItem>
                <input aria-label="Text to type into the guest" value={paste} onChange={(e) => setPaste(e.target.value)} placeholder="Paste as keystrokes" />
                <Button variant="secondary" onClick={() => typeText(paste)}>
                  Type
                </Button>
              </ToolbarItem>
            </>
          )}
          <ToolbarItem>
            <Button variant="secondary" onClick={() => void box.current?.requestFullscreen()}>
              Fullscreen
            </Button>
          </ToolbarItem>
          <ToolbarItem>
            <Button variant="link" component="a" href={`#/domain/${encodeURIComponent(uri)}/${uuid}`} target="_blank">
              Pop out
            </Button>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <div ref={box} className="tsv-vnc" data-testid="vnc" />
    </div>
  );
}

export function SerialConsole({ uri, uuid, readonly }: { uri: string; uuid: string; readonly: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  const [force, setForce] = useState(0);

  useEffect(() => {
    setError(null);
    const term = new Terminal({ convertEol: false, cursorBlink: true, fontSize: 14, disableStdin: readonly });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current!);
    fit.fit();
    const ws = new WebSocket(wsURL(path(uri, uuid, 'serial', force > 0 ? '&force=1' : '')));
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (m) => {
      if (typeof m.data === 'string') {
        const e = JSON.parse(m.data) as { error?: { message: string } };
        if (e.error !== undefined) setError(e.error.message);
        return;
      }
      term.write(new Uint8Array(m.data as ArrayBuffer));
    };
    const input = term.onData((d) => {
      if (!readonly && ws.readyState === WebSocket.OPEN) ws.send(new TextEncoder().encode(d));
    });
    return () => {
      input.dispose();
      ws.close();
      term.dispose();
    };
  }, [uri, uuid, readonly, force]);

  return (
    <div>
      {error !== null && (
        <Alert variant="warning" title={error} isInline actionLinks={<Button variant="link" onClick={() => setForce(force + 1)}>Take over the console</Button>} />
      )}
      <div ref={box} className="tsv-serial" data-testid="serial" />
    </div>
  );
}
