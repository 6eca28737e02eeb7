/**
 * The Node flags tsvirtd runs with. Its bin's first line (`#!/usr/bin/env -S node …` in main.ts)
 * carries the same ones, `--daemon` adds them to the detached child when they are missing, and a
 * test keeps the three equal.
 *
 * `--min-semi-space-size=16`: a 16 MiB young generation instead of V8's 1 MiB start. A small call
 * (DOMAIN_GET_STATE) allocates ~6 KB in the daemon, so with 1 MiB a scavenge — a pause of
 * 0.2–1 ms — came every ~300 calls and set the round trip's p99; with 16 MiB it comes every few
 * thousand. It costs ~28 MB of resident memory (61 → 89 MB measured after 30,000 calls). V8 reads
 * the flag only when it creates the heap, so it cannot be set from inside the process.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16'];
