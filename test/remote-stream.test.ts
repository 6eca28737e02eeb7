/**
 * The remote driver's stream channel (src/drivers/remote/stream.ts) against tsvirtd and a real
 * libvirtd, both on test:///default's screenshot: read to the end and finish (the daemon
 * confirms), abort mid-way (confirmed; the connection goes on), and data written into a
 * screenshot fails the channel with the daemon's error — the same error from both daemons.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RpcClient } from '../src/drivers/remote/client.js';
import { RemoteStreamChannel } from '../src/drivers/remote/stream.js';
import { Proc } from '../src/rpc/procedures.js';
import { ErrorNumber, VirError } from '../src/index.js';
import { startDaemon, type RunningDaemon } from './support/daemon-harness.js';
import { startLibvirtd, type RunningLibvirtd } from './support/libvirtd-harness.js';
import { checkPNG } from './support/png.js';

async function opened(socket: string): Promise<RpcClient> {
  const rpc = await RpcClient.connect(socket, 10_000);
  await rpc.call(Proc.AUTH_LIST, undefined);
  await rpc.call(Proc.CONNECT_OPEN, { name: 'test:///default', flags: 0 });
  return rpc;
}

async function screenshotChannel(rpc: RpcClient): Promise<RemoteStreamChannel> {
  const dom = (await rpc.call(Proc.DOMAIN_LOOKUP_BY_NAME, { name: 'test' })).dom;
  const channel = new RemoteStreamChannel(rpc, Proc.DOMAIN_SCREENSHOT);
  const r = await rpc.call(Proc.DOMAIN_SCREENSHOT, { dom, screen: 0, flags: 0 }, 0, channel);
  assert.equal(r.mime, 'image/png');
  return channel;
}

describe('the remote stream channel', () => {
  let d: RunningDaemon;
  let lv: RunningLibvirtd | undefined;
  let lvSkip = '';
  before(async () => {
    d = await startDaemon({ uris: ['test:///default'] });
    const started = await startLibvirtd();
    if ('skip' in started) lvSkip = started.skip;
    else lv = started;
  });
  after(async () => {
    await d?.dispose();
    await lv?.dispose();
  });

  const sockets = (): [string, string][] => [['tsvirtd', d.rw], ...(lv !== undefined ? [['libvirtd', lv.socket] as [string, string]] : [])];

  test('read to the end of data, then finish: confirmed by the daemon', async (t) => {
    if (lv === undefined) t.diagnostic(`libvirtd not compared: ${lvSkip}`);
    for (const [who, socket] of sockets()) {
      const rpc = await opened(socket);
      try {
        const ch = await screenshotChannel(rpc);
        const parts: Buffer[] = [];
        for await (const chunk of ch.iterator({ destroyOnReturn: false })) parts.push(chunk as Buffer);
        await new Promise<void>((resolve, reject) => ch.end((err?: Error | null) => (err ? reject(err) : resolve())));
        checkPNG(Buffer.concat(parts));
        ch.destroy();
        assert.equal((await rpc.call(Proc.CONNECT_GET_TYPE, undefined)).value, 'TEST', who);
      } finally {
        rpc.close();
      }
    }
  });

  test('destroyed before the end: an abort the daemon confirms; the connection goes on', async () => {
    for (const [who, socket] of sockets()) {
      const rpc = await opened(socket);
      try {
        const ch = await screenshotChannel(rpc);
        await new Promise<void>((resolve) => {
          ch.once('close', () => resolve());
          ch.destroy();
        });
        assert.equal((await rpc.call(Proc.CONNECT_GET_TYPE, undefined)).value, 'TEST', who);
      } finally {
        rpc.close();
      }
    }
  });

  test("data written into a screenshot: the channel fails with the daemon's error, the same from both daemons", async () => {
    const errors: VirError[] = [];
    for (const [, socket] of sockets()) {
      const rpc = await opened(socket);
      try {
        const ch = await screenshotChannel(rpc);
        const failed = new Promise<unknown>((resolve) => ch.once('error', resolve));
        ch.resume();
        ch.write(Buffer.from('not an image'));
        const err = await failed;
        assert.ok(err instanceof VirError, String(err));
        errors.push(err);
      } finally {
        rpc.close();
      }
    }
    const fields = (e: VirError) => [e.code, e.domain, e.message, e.str1, e.str2];
    assert.deepEqual(fields(errors[0]!), [ErrorNumber.RPC, 38, 'stream had unexpected termination', '%s', 'stream had unexpected termination']);
    if (errors.length === 2) assert.deepEqual(fields(errors[0]!), fields(errors[1]!), 'as libvirtd');
  });
});
