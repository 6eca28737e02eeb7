/**
 * The web console's metrics history: every few seconds the server asks each served URI for the
 * statistics of its running domains (virConnectGetAllDomainStats, as `virsh domstats`) and keeps
 * a bounded ring of samples per domain, so a page opened later still sees the last minutes.
 *
 * A sample holds rates, not counters: CPU as a percentage of the domain's vCPUs, disk and network
 * bytes per second summed over devices, and the balloon's current memory. The first sample of a
 * domain (or the first after a counter went backwards: a restart) has no rates, only memory.
 */
import type { MetricsSample } from './json.js';
import { ConnectGetAllDomainStatsFlags } from '../core/enums.generated.js';
import type { Connection, DomainStats } from '../index.js';


/** The raw counters of a sample, to derive the next one's rates. */
interface Counters {
  t: number;
  cpuTime: number | null;
  vcpus: number;
  rd: number | null;
  wr: number | null;
  rx: number | null;
  tx: number | null;
}

interface History {
  samples: MetricsSample[];
  last: Counters | null;
  /** When the domain was last seen running (histories of domains gone long ago are dropped). */
  seen: number;
}

/** Samples kept per domain. */
export const METRICS_SAMPLES = 120;
/** The sampling interval by default: 120 samples of 5 s are the last 10 minutes. */
export const METRICS_INTERVAL_MS = 5000;

/** Samples the running domains of one URI on a timer. */
export class MetricsSampler {
  private readonly histories = new Map<string, History>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly conn: () => Promise<Connection>,
    private readonly intervalMs = METRICS_INTERVAL_MS,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  /** Starts sampling (idempotent); the first sample is taken at once. */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
    void this.sample();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The history of the domain with this UUID, oldest first (empty when never seen running). */
  history(uuid: string): MetricsSample[] {
    return [...(this.histories.get(uuid)?.samples ?? [])];
  }

  /** Takes one sample of every running domain. A slow driver never stacks calls up. */
  async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const conn = await this.conn();
      const stats = await conn.getAllDomainStats(0, ConnectGetAllDomainStatsFlags.ACTIVE);
      const now = Date.now();
      for (const s of stats) this.add(s, now);
      // A domain not running for as long as the history spans is forgotten.
      for (const [uuid, h] of this.histories) if (now - h.seen > METRICS_SAMPLES * this.intervalMs) this.histories.delete(uuid);
    } catch (err) {
      this.onError(err);
    } finally {
      this.busy = false;
    }
  }

  private add(s: DomainStats, now: number): void {
    const p = new Map<string, number>();
    for (const param of s.params) if (typeof param.value === 'number') p.set(param.field, param.value);
    const sum = (re: RegExp): number | null => {
      let total: number | null = null;
      for (const [k, v] of p) if (re.test(k)) total = (total ?? 0) + v;
      return total;
    };
    const c: Counters = {
      t: now,
      cpuTime: p.get('cpu.time') ?? null,
      vcpus: p.get('vcpu.current') ?? 1,
      rd: sum(/^block\.\d+\.rd\.bytes$/),
      wr: sum(/^block\.\d+\.wr\.bytes$/),
      rx: sum(/^net\.\d+\.rx\.bytes$/),
      tx: sum(/^net\.\d+\.tx\.bytes$/),
    };
    const uuid = s.domain.UUIDString();
    let h = this.histories.get(uuid);
    if (h === undefined) {
      h = { samples: [], last: null, seen: now };
      this.histories.set(uuid, h);
    }
    const last = h.last;
    const dt = last === null ? 0 : (now - last.t) / 1000;
    const rate = (cur: number | null, prev: number | null | undefined): number | null =>
      cur === null || prev === null || prev === undefined || dt <= 0 || cur < prev ? null : (cur - prev) / dt;
    const cpuRate = rate(c.cpuTime, last?.cpuTime);
    h.samples.push({
      t: now,
      // cpu.time is in ns: ns/s over 1e9 per vCPU is the share of the vCPUs, in percent.
      cpu: cpuRate === null ? null : Math.min(100, (cpuRate / 1e9 / Math.max(1, c.vcpus)) * 100),
      memoryKiB: p.get('balloon.current') ?? null,
      diskReadBps: rate(c.rd, last?.rd),
      diskWriteBps: rate(c.wr, last?.wr),
      netRxBps: rate(c.rx, last?.rx),
      netTxBps: rate(c.tx, last?.tx),
    });
    if (h.samples.length > METRICS_SAMPLES) h.samples.splice(0, h.samples.length - METRICS_SAMPLES);
    h.last = c;
    h.seen = now;
  }
}
