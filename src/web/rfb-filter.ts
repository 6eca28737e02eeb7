/**
 * A view-only VNC console: the bytes a client sends to a VNC server, passed on except those that
 * would change the guest (keys, pointer, clipboard, desktop size, power operations). A read-only
 * web token gets its graphical console through this filter, so "view only" is enforced by the
 * server and not left to the page. The RFB client messages are those of RFC 6143 plus the
 * extensions noVNC and QEMU use; anything the filter cannot parse ends the connection (fail
 * closed), since a byte miscounted would let input through.
 */

/** Thrown when the client's stream is not RFB the filter understands. */
export class RfbFilterError extends Error {}

const enum Phase {
  Version,
  Security,
  VncAuth,
  ClientInit,
  Messages,
}

/** RFB security type 1 (None) and 2 (VNC authentication): the only ones QEMU offers tsvirt's clients. */
const SEC_NONE = 1;
const SEC_VNC = 2;

/**
 * Client-to-server RFB filter (see the file comment). Feed it the client's bytes with
 * {@link push}; it returns what may go on to the server.
 */
export class RfbViewOnlyFilter {
  private phase = Phase.Version;
  private pending: Buffer = Buffer.alloc(0);

  /**
   * Accepts more client bytes; returns the bytes to forward (possibly empty). Throws
   * RfbFilterError on a message it cannot parse (the caller closes both sides).
   */
  push(chunk: Buffer): Buffer {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    for (;;) {
      const n = this.next(this.pending);
      if (n === null) break;
      const [length, forward] = n;
      if (forward) out.push(this.pending.subarray(0, length));
      this.pending = this.pending.subarray(length);
    }
    if (this.pending.length > 1 << 20) throw new RfbFilterError('RFB client message too long');
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** The length of the next complete unit in `b` and whether it is forwarded; null when incomplete. */
  private next(b: Buffer): [number, boolean] | null {
    switch (this.phase) {
      case Phase.Version: {
        if (b.length < 12) return null;
        const v = b.subarray(0, 12).toString('latin1');
        // 3.3 lets the server pick the security type, which this filter would have to read from
        // the other direction: only 3.7 and 3.8 (what noVNC and QEMU speak) are let through.
        if (v !== 'RFB 003.008\n' && v !== 'RFB 003.007\n') throw new RfbFilterError(`unsupported RFB version ${JSON.stringify(v)}`);
        this.phase = Phase.Security;
        return [12, true];
      }
      case Phase.Security: {
        if (b.length < 1) return null;
        const type = b[0]!;
        if (type === SEC_NONE) this.phase = Phase.ClientInit;
        else if (type === SEC_VNC) this.phase = Phase.VncAuth;
        else throw new RfbFilterError(`unsupported RFB security type ${type}`);
        return [1, true];
      }
      case Phase.VncAuth:
        if (b.length < 16) return null;
        this.phase = Phase.ClientInit;
        return [16, true];
      case Phase.ClientInit:
        if (b.length < 1) return null;
        this.phase = Phase.Messages;
        return [1, true];
      case Phase.Messages:
        return message(b);
    }
  }
}

/** One client-to-server message: [length, forwarded], or null when incomplete. */
function message(b: Buffer): [number, boolean] | null {
  if (b.length < 1) return null;
  const need = (n: number, forward: boolean): [number, boolean] | null => (b.length < n ? null : [n, forward]);
  switch (b[0]) {
    case 0: // SetPixelFormat
      return need(20, true);
    case 2: // SetEncodings
      return b.length < 4 ? null : need(4 + 4 * b.readUInt16BE(2), true);
    case 3: // FramebufferUpdateRequest
      return need(10, true);
    case 4: // KeyEvent
      return need(8, false);
    case 5: // PointerEvent
      return need(6, false);
    case 6: // ClientCutText: a negative length is the extended clipboard; either way dropped
      return b.length < 8 ? null : need(8 + Math.abs(b.readInt32BE(4)), false);
    case 150: // EnableContinuousUpdates
      return need(10, true);
    case 248: // ClientFence
      return b.length < 9 ? null : need(9 + b[8]!, true);
    case 250: // XVP (power operations)
      return need(4, false);
    case 251: // SetDesktopSize
      return b.length < 8 ? null : need(8 + 16 * b[6]!, false);
    case 255: {
      // QEMU client messages: 0 extended key event (dropped), 1 audio (harmless, forwarded).
      if (b.length < 2) return null;
      if (b[1] === 0) return need(12, false);
      if (b[1] === 1) {
        if (b.length < 4) return null;
        const op = b.readUInt16BE(2);
        if (op === 0 || op === 1) return need(4, true);
        if (op === 2) return need(10, true);
      }
      throw new RfbFilterError(`unknown QEMU RFB client message ${b[1]}`);
    }
    default:
      throw new RfbFilterError(`unknown RFB client message type ${b[0]}`);
  }
}
