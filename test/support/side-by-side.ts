/**
 * A tsvirtd and a libvirtd side by side, each holding `test:///default` open (both keep its
 * shared state only while a connection to it is open), for tests that compare their answers.
 */
import assert from 'node:assert/strict';
import { MessageStatus } from '../../src/rpc/message.js';
import { Proc, openArgs } from '../../src/rpc/procedures.js';
import { RawClient, startDaemon, type RunningDaemon } from './daemon-harness.js';
import { startLibvirtd, type RunningLibvirtd } from './libvirtd-harness.js';

export interface SideBySide {
  d: RunningDaemon;
  /** Undefined when no libvirtd can run here; `lvSkip` says why. */
  lv: RunningLibvirtd | undefined;
  lvSkip: string | null;
  /** Closes the held connections and stops both daemons. */
  dispose(): Promise<void>;
}

/** Starts both daemons and opens test:///default on each. */
export async function startSideBySide(): Promise<SideBySide> {
  const d = await startDaemon();
  const started = await startLibvirtd();
  const lv = 'skip' in started ? undefined : started;
  const holders: RawClient[] = [];
  const dispose = async (): Promise<void> => {
    for (const h of holders) h.close();
    await d.dispose();
    await lv?.dispose();
  };
  try {
    for (const sock of [d.rw, lv?.socket]) {
      if (sock === undefined) continue;
      const h = await RawClient.connect(sock);
      holders.push(h);
      await h.call(Proc.AUTH_LIST);
      const open = await h.callWith(Proc.CONNECT_OPEN, openArgs, { name: 'test:///default', flags: 0 });
      assert.equal(open.header.status, MessageStatus.OK);
    }
  } catch (err) {
    await dispose();
    throw err;
  }
  return { d, lv, lvSkip: 'skip' in started ? started.skip : null, dispose };
}
