/**
 * The view-only VNC filter a read-only web token's graphical console goes through: the
 * handshake and the messages that only ask for pictures pass; keys, pointer, clipboard, desktop
 * size and power operations are dropped, whatever the chunking; what it cannot parse ends it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RfbFilterError, RfbViewOnlyFilter } from '../src/web/rfb-filter.js';

const handshake = Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([2]), Buffer.alloc(16, 7), Buffer.from([1])]);
const setEncodings = Buffer.from([2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21]);
const updateRequest = Buffer.from([3, 0, 0, 0, 0, 0, 0, 100, 0, 100]);
const key = Buffer.from([4, 1, 0, 0, 0, 0, 0, 0x61]);
const pointer = Buffer.from([5, 1, 0, 10, 0, 10]);
const cut = Buffer.concat([Buffer.from([6, 0, 0, 0, 0, 0, 0, 3]), Buffer.from('abc')]);
const qemuKey = Buffer.from([255, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 30]);
const xvp = Buffer.from([250, 0, 1, 4]);
const desktopSize = Buffer.concat([Buffer.from([251, 0, 4, 0, 3, 0, 1, 0]), Buffer.alloc(16)]);
const pixelFormat = Buffer.concat([Buffer.from([0, 0, 0, 0]), Buffer.alloc(16, 1)]);

test('the handshake and picture requests pass, input is dropped', () => {
  const f = new RfbViewOnlyFilter();
  const input = Buffer.concat([handshake, pixelFormat, setEncodings, key, pointer, cut, qemuKey, xvp, desktopSize, updateRequest]);
  const out = f.push(input);
  assert.deepEqual(out, Buffer.concat([handshake, pixelFormat, setEncodings, updateRequest]));
});

test('the same stream cut at every byte gives the same output', () => {
  const input = Buffer.concat([handshake, setEncodings, key, updateRequest, pointer, cut, updateRequest]);
  const expected = Buffer.concat([handshake, setEncodings, updateRequest, updateRequest]);
  for (let size = 1; size <= 7; size++) {
    const f = new RfbViewOnlyFilter();
    const parts: Buffer[] = [];
    for (let i = 0; i < input.length; i += size) parts.push(f.push(input.subarray(i, i + size)));
    assert.deepEqual(Buffer.concat(parts), expected, `chunks of ${size}`);
  }
});

test('security type None skips the VNC authentication response', () => {
  const f = new RfbViewOnlyFilter();
  const hs = Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1]), Buffer.from([1])]);
  assert.deepEqual(f.push(Buffer.concat([hs, key, updateRequest])), Buffer.concat([hs, updateRequest]));
});

test('what the filter cannot parse ends the connection (fail closed)', () => {
  assert.throws(() => new RfbViewOnlyFilter().push(Buffer.from('RFB 003.003\n')), RfbFilterError);
  assert.throws(() => new RfbViewOnlyFilter().push(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([19])])), RfbFilterError);
  assert.throws(() => new RfbViewOnlyFilter().push(Buffer.concat([handshake, Buffer.from([77])])), RfbFilterError);
  assert.throws(() => new RfbViewOnlyFilter().push(Buffer.concat([handshake, Buffer.from([255, 9])])), RfbFilterError);
});
