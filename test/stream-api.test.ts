/**
 * The public Stream API on the local test driver: conn.newStream(), dom.screenshot() and
 * dom.openConsole() checking their arguments as libvirt's entry points do, the stream's methods
 * (recv, send, recvAll, sendAll, finish, abort, event callbacks, the async iterator, toDuplex)
 * and the errors of unused, closed and failed streams.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ErrorDomain,
  ErrorNumber,
  STREAM_BUF_SIZE,
  StreamEventType,
  StreamFlags,
  VirError,
  connect,
  type Connection,
  type Domain,
  type Stream,
} from '../src/index.js';
import { checkPNG } from './support/png.js';
import { TEST_SCREENSHOT_HEIGHT, TEST_SCREENSHOT_WIDTH, testScreenshot } from '../src/drivers/test/screenshot.js';

function isVirError(code: number, message?: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof VirError, `a VirError, not ${String(e)}`);
    assert.equal(e.code, code, `code ${e.code} (${e.message})`);
    if (message !== undefined) assert.match(e.message, message);
    return true;
  };
}

describe('Stream API on test:///default', () => {
  let conn: Connection;
  let dom: Domain;
  before(async () => {
    conn = await connect('test:///default');
    dom = await conn.lookupByName('test');
  });
  after(async () => {
    await conn?.close();
  });

  const shot = async (flags = 0): Promise<Stream> => {
    const st = conn.newStream(flags);
    assert.equal(await dom.screenshot(st, 0), 'image/png');
    return st;
  };

  test('the test driver sends a valid PNG of libvirt test image size, whole, then the end of data', async () => {
    const st = await shot();
    const parts: Buffer[] = [];
    for (;;) {
      const got = await st.recv(1000);
      assert.ok(got.length <= 1000);
      if (got.length === 0) break;
      parts.push(got);
    }
    await st.finish();
    const png = Buffer.concat(parts);
    assert.ok(png.equals(testScreenshot()));
    const info = checkPNG(png);
    assert.deepEqual([info.width, info.height], [TEST_SCREENSHOT_WIDTH, TEST_SCREENSHOT_HEIGHT]);
    await assert.rejects(st.recv(10), isVirError(ErrorNumber.OPERATION_INVALID, /stream is closed/));
    await st.abort(); // a closed stream is left as it is
  });

  test('recvAll hands every piece to the handler; the async iterator and toDuplex give the same bytes', async () => {
    const a = await shot();
    const got: Buffer[] = [];
    await a.recvAll((s, data, opaque: string) => {
      assert.equal(s, a);
      assert.equal(opaque, 'op');
      got.push(data);
    }, 'op');
    await a.finish();
    assert.ok(Buffer.concat(got).equals(testScreenshot()));

    const b = await shot();
    const it: Buffer[] = [];
    for await (const chunk of b) it.push(chunk);
    await b.finish();
    assert.ok(Buffer.concat(it).equals(testScreenshot()));

    const c = await shot();
    const piped: Buffer[] = [];
    await pipeline(c.toDuplex(), new Writable({ write: (chunk: Buffer, _e, cb) => (piped.push(chunk), cb()) }));
    assert.ok(Buffer.concat(piped).equals(testScreenshot()));
    await c.abort();
  });

  test('a handler that fails aborts the stream; leaving the iterator early aborts it', async () => {
    const a = await shot();
    await assert.rejects(a.recvAll(() => -1), isVirError(ErrorNumber.SYSTEM_ERROR, /recv handler failed/));
    await assert.rejects(a.recv(1), isVirError(ErrorNumber.OPERATION_INVALID, /stream is closed/));
    const b = await shot();
    const it = b[Symbol.asyncIterator]();
    assert.equal((await it.next()).done, false);
    await it.return!();
    await assert.rejects(b.finish(), isVirError(ErrorNumber.OPERATION_INVALID, /stream is closed/));
  });

  test('sending into a screenshot fails the stream with the driver side error, and aborts it', async () => {
    const st = await shot();
    await assert.rejects(st.send(Buffer.from('x')), (e: unknown) => {
      assert.ok(e instanceof VirError);
      assert.deepEqual([e.code, e.domain, e.message], [ErrorNumber.RPC, ErrorDomain.STREAMS, 'stream had unexpected termination']);
      return true;
    });
    await assert.rejects(st.recv(1), isVirError(ErrorNumber.OPERATION_INVALID));
    const st2 = await shot();
    await assert.rejects(st2.sendAll(() => Buffer.from('y')), isVirError(ErrorNumber.RPC));
  });

  test('an unused stream: NO_SUPPORT naming the function; abort does nothing', async () => {
    const st = conn.newStream();
    await assert.rejects(st.recv(10), isVirError(ErrorNumber.NO_SUPPORT, /virStreamRecv$/));
    await assert.rejects(st.send('x'), isVirError(ErrorNumber.NO_SUPPORT, /virStreamSend$/));
    await assert.rejects(st.finish(), isVirError(ErrorNumber.NO_SUPPORT, /virStreamFinish$/));
    assert.throws(() => st.eventAddCallback(StreamEventType.READABLE, () => {}), isVirError(ErrorNumber.NO_SUPPORT));
    assert.throws(() => st.toDuplex(), isVirError(ErrorNumber.NO_SUPPORT));
    await st.abort();
  });

  test("the entry points' checks: flags, a used stream, another connection's stream, not a stream, read-only", async () => {
    assert.throws(() => conn.newStream(2), isVirError(ErrorNumber.INVALID_ARG, /unsupported flags \(0x2\) in function virStreamNew/));
    await assert.rejects(dom.screenshot(conn.newStream(), 0, 1), isVirError(ErrorNumber.INVALID_ARG, /unsupported flags \(0x1\) in function testDomainScreenshot/));
    const used = await shot();
    await assert.rejects(dom.screenshot(used, 0), isVirError(ErrorNumber.OPERATION_INVALID, /stream is already in use/));
    await used.abort();
    const other = await connect('test:///default');
    try {
      await assert.rejects(dom.screenshot(other.newStream(), 0), isVirError(ErrorNumber.INVALID_ARG, /stream must match connection of domain 'test'/));
    } finally {
      await other.close();
    }
    await assert.rejects(dom.screenshot({} as Stream, 0), isVirError(ErrorNumber.INVALID_STREAM, /invalid stream pointer in virDomainScreenshot/));
    const ro = await connect('test:///default', { readonly: true });
    try {
      const d = await ro.lookupByName('test');
      await assert.rejects(d.screenshot(ro.newStream(), 0), isVirError(ErrorNumber.OPERATION_DENIED, /read only access prevents virDomainScreenshot/));
      await assert.rejects(d.openConsole(null, ro.newStream()), isVirError(ErrorNumber.OPERATION_DENIED, /read only access prevents virDomainOpenConsole/));
    } finally {
      await ro.close();
    }
  });

  test('closing the connection aborts its open streams', async () => {
    const c = await connect('test:///default');
    const st = c.newStream();
    await (await c.lookupByName('test')).screenshot(st, 0);
    const ch = st.toDuplex();
    await c.close();
    assert.equal(ch.destroyed, true, "the driver's channel is released");
    await assert.rejects(st.recv(1), isVirError(ErrorNumber.OPERATION_INVALID, /stream is closed/));
  });

  test('the test driver has no consoles, as libvirt: NO_SUPPORT, the stream stays unused', async () => {
    const st = conn.newStream();
    await assert.rejects(dom.openConsole(null, st), isVirError(ErrorNumber.NO_SUPPORT, /virDomainOpenConsole/));
    await assert.rejects(st.recv(1), isVirError(ErrorNumber.NO_SUPPORT));
  });

  test('NONBLOCK: recvAll and sendAll refuse the stream as libvirt does; recv still waits for data', async () => {
    const st = await shot(StreamFlags.NONBLOCK);
    await assert.rejects(st.recvAll(() => {}), isVirError(ErrorNumber.OPERATION_INVALID, /data sinks cannot be used for non-blocking streams/));
    await assert.rejects(st.sendAll(() => null), isVirError(ErrorNumber.OPERATION_INVALID, /data sources cannot be used for non-blocking streams/));
    assert.ok((await st.recv(STREAM_BUF_SIZE)).length > 0);
    await st.abort();
  });

  test('event callbacks: READABLE while data or the end waits, one callback at most, update and remove', async () => {
    const st = await shot();
    assert.throws(() => st.eventUpdateCallback(StreamEventType.READABLE), isVirError(ErrorNumber.INTERNAL_ERROR, /no stream callback registered/));
    assert.throws(() => st.eventRemoveCallback(), isVirError(ErrorNumber.INTERNAL_ERROR, /no stream callback registered/));
    const parts: Buffer[] = [];
    let sawWritable = false;
    const done = new Promise<void>((resolve, reject) => {
      st.eventAddCallback(
        StreamEventType.READABLE | StreamEventType.WRITABLE,
        (s, events, opaque: string) => {
          assert.equal(opaque, 'cb');
          if ((events & StreamEventType.WRITABLE) !== 0) {
            sawWritable = true;
            s.eventUpdateCallback(StreamEventType.READABLE);
          }
          if ((events & StreamEventType.READABLE) === 0) return;
          void s.recv(4096).then((got) => {
            if (got.length === 0) {
              s.eventRemoveCallback();
              resolve();
            } else parts.push(got);
          }, reject);
        },
        'cb',
      );
    });
    assert.throws(() => st.eventAddCallback(StreamEventType.READABLE, () => {}), isVirError(ErrorNumber.INTERNAL_ERROR, /multiple stream callbacks not supported/));
    await done;
    await st.finish();
    assert.ok(sawWritable);
    assert.ok(Buffer.concat(parts).equals(testScreenshot()));
  });
});
