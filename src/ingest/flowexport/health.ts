/**
 * Capture health read from the exports themselves, per exporter and observation domain:
 * sequence-number gaps (lost export datagrams or records), reordering and restarts, template
 * misses, the sampling rate in use, records and records/s. Bounded: at most `maxDomains` entries
 * (the least recently heard is forgotten, counted `health_domains_evicted`).
 *
 * Sequence numbers (all modulo 2^32, so a wrap is not a gap):
 * - NetFlow v5: flow_sequence counts flows → next = seq + count (unit: records);
 * - NetFlow v9: sequence counts export packets per source ID → next = seq + 1 (unit: packets);
 * - IPFIX: sequence counts data records per observation domain → next = seq + records (records);
 * - sFlow: datagram sequence per agent + sub-agent → next = seq + 1 (unit: datagrams).
 * A step forward by less than 2^31 is a gap (lost += step); a step back is reordering, or, when it
 * goes back by more than `restartJump`, an exporter restart (counted, the sequence is re-synced).
 */
import { bump, type Counters } from '../traffic/pcap.ts';

export interface DomainHealth {
  exporter: string;
  domain: number;
  version: string;
  datagrams: number;
  records: number;
  /** Lost units per the sequence numbers; `lost_unit` says what they count. */
  lost: number;
  lost_unit: 'records' | 'packets' | 'datagrams';
  reordered: number;
  restarts: number;
  template_misses: number;
  sampling_rate: number;
  first_seen: number;
  last_seen: number;
  records_per_s: number;
}

interface State extends Omit<DomainHealth, 'records_per_s'> {
  prevSeq: number;
  prevFlow: number;
  prevAll: number;
  mode: string;
  modeLearnt: boolean;
  stepWasLate: boolean;
}

const TWO32 = 4294967296;

export class ExportHealth {
  private readonly domains = new Map<string, State>();
  constructor(
    private readonly counters: Counters,
    private readonly maxDomains = 4096,
    private readonly restartJump = 1_000_000,
  ) {}

  private state(exporter: string, domain: number, version: string, now: number): State {
    const key = `${exporter}|${domain}|${version}`;
    let s = this.domains.get(key);
    if (s) {
      this.domains.delete(key);
    } else {
      if (this.domains.size >= this.maxDomains) {
        const oldest = this.domains.keys().next().value as string;
        this.domains.delete(oldest);
        bump(this.counters, 'health_domains_evicted');
      }
      s = {
        exporter,
        domain,
        version,
        datagrams: 0,
        records: 0,
        lost: 0,
        lost_unit: version === '9' ? 'packets' : version === 'sflow' ? 'datagrams' : 'records',
        reordered: 0,
        restarts: 0,
        template_misses: 0,
        sampling_rate: 1,
        first_seen: now,
        last_seen: now,
        prevSeq: Number.NaN,
        prevFlow: 0,
        prevAll: 0,
        mode: 'pre-all',
        modeLearnt: false,
        stepWasLate: false,
      };
    }
    this.domains.set(key, s);
    s.last_seen = now;
    return s;
  }

  /**
   * One export datagram: `seq` as in its header. Packet counters (v9, sFlow) pass `counts` null
   * (next = seq + 1). Record counters (v5, IPFIX) pass this datagram's record counts: RFC 7011 and
   * v5 put the count *before* the datagram in its header, some exporters (softflowd's IPFIX) the
   * count *after* it, some leave options records out. The convention in use is learnt from the
   * first in-order step (counted `export_sequence_convention_<name>`); a datagram matching any of
   * the conventions is in order, else the gap is measured by the one last seen.
   */
  sequence(
    exporter: string,
    domain: number,
    version: string,
    seq: number,
    counts: { flow: number; all: number } | null,
    now: number,
  ): void {
    const s = this.state(exporter, domain, version, now);
    s.datagrams++;
    const flow = counts ? counts.flow : 1;
    const all = counts ? counts.all : 1;
    if (!Number.isNaN(s.prevSeq)) {
      const cand: Record<string, number> = {
        'pre-all': s.prevSeq + s.prevAll,
        'pre-flow': s.prevSeq + s.prevFlow,
        'post-all': s.prevSeq + all,
        'post-flow': s.prevSeq + flow,
      };
      const expected = cand[s.mode]! % TWO32;
      if (seq !== expected) {
        const other = Object.keys(cand).find((k) => cand[k]! % TWO32 === seq);
        if (other) {
          if (!s.modeLearnt) bump(this.counters, `export_sequence_convention_${other}`);
          s.mode = other;
        } else this.step(s, (seq - expected + TWO32) % TWO32);
        if (s.stepWasLate) {
          s.stepWasLate = false;
          return; // a late datagram does not move the expectation back
        }
      }
      s.modeLearnt = true;
    }
    s.prevSeq = seq;
    s.prevFlow = flow;
    s.prevAll = all;
  }

  private step(s: State, step: number): void {
    if (step < TWO32 / 2) {
      if (step > this.restartJump) {
        s.restarts++;
        bump(this.counters, 'export_sequence_restarts');
      } else {
        s.lost += step;
        bump(this.counters, `export_lost_${s.lost_unit}`, step);
      }
    } else if (TWO32 - step > this.restartJump) {
      s.restarts++;
      bump(this.counters, 'export_sequence_restarts');
    } else {
      s.reordered++;
      s.stepWasLate = true;
      bump(this.counters, 'export_sequence_reordered');
    }
  }

  /** Forget the expected sequence number (the count of this datagram is not known). */
  resync(exporter: string, domain: number, version: string): void {
    const s = this.domains.get(`${exporter}|${domain}|${version}`);
    if (s) s.prevSeq = Number.NaN;
  }

  records(exporter: string, domain: number, version: string, n: number, now: number): void {
    if (n > 0) this.state(exporter, domain, version, now).records += n;
  }

  templateMiss(exporter: string, domain: number, version: string, now: number): void {
    this.state(exporter, domain, version, now).template_misses++;
  }

  sampling(exporter: string, domain: number, version: string, rate: number, now: number): void {
    this.state(exporter, domain, version, now).sampling_rate = rate;
  }

  /** Every domain heard, most recent last, with records/s over its lifetime (0 within 1 ms). */
  snapshot(): DomainHealth[] {
    return [...this.domains.values()].map(
      ({ prevSeq: _p, prevFlow: _f, prevAll: _a, mode: _m, modeLearnt: _l, stepWasLate: _w, ...s }) => {
        const span = s.last_seen - s.first_seen;
        return { ...s, records_per_s: span > 0.001 ? s.records / span : 0 };
      },
    );
  }
}
