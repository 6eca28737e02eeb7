/**
 * Holes in sparse streams (libvirt's virStreamSendHole / STREAM_HOLE packets): a stream's channel
 * that carries holes is a Duplex in object mode whose chunks are Buffers (data) and
 * {@link StreamHole}s (a run of bytes that reads as zeros and need not be stored). A channel in
 * byte mode carries no holes. Drivers that offer sparse transfers (volume upload and download
 * with their SPARSE flags) hand the API such a channel; tsvirtd and the remote driver carry
 * holes as STREAM_HOLE packets.
 */
import type { Duplex } from 'node:stream';

/** A hole of `length` bytes in a sparse stream. */
export class StreamHole {
  constructor(
    /** The hole's size in bytes. */
    readonly length: number,
  ) {}
}

/** Whether a stream's channel carries holes (it is in object mode). */
export function isSparseChannel(ch: Duplex): boolean {
  return ch.readableObjectMode || ch.writableObjectMode;
}
