/**
 * Capture health beside detections: what the watcher's input looked like over the last stats
 * interval (records, alerts and quarantined records per second), when the last record arrived,
 * whether the input looks lossy (capture drops, exporter sequence gaps or a high share of
 * quarantined records), and, with an alert budget, the alerts of the last hour against it.
 * A quiet network and a dead capture look alike in the alert file; these numbers tell them apart.
 */

/** Share of quarantined records in an interval above which the input is called lossy. */
export const LOSSY_QUARANTINE_SHARE = 0.05;
/** Capture loss (percent) above which the input is called lossy. */
export const LOSSY_CAPTURE_PCT = 1;

export interface HealthSnapshot {
  interval_s: number;
  records_per_s: number;
  alerts_per_s: number;
  quarantined_per_s: number;
  /** Quarantined / (records + quarantined) in the interval. */
  quarantined_share: number;
  last_record_at: string | null;
  lossy: boolean;
  /** Why the input is called lossy (empty when it is not). */
  loss_reasons: string[];
  budget?: { per_hour: number; alerts_last_hour: number; ratio: number; over: boolean };
}

export interface LossSignals {
  /** Capture loss in percent (dumpcap), null while unknown. */
  capture_loss_pct?: number | null;
  /** Flow-export packets missing by sequence number in the interval. */
  export_sequence_gaps?: number;
}

export class HealthMeter {
  private records = 0;
  private alerts = 0;
  private quarantined = 0;
  private lastRecordAt: number | null = null;
  private intervalStart: number;
  private readonly startedAt: number;
  /** Alerts per minute over the last hour (ring of 60 buckets keyed by minute number). */
  private readonly minutes = new Map<number, number>();

  constructor(
    private readonly budgetPerHour: number | null = null,
    now = Date.now(),
  ) {
    this.intervalStart = now;
    this.startedAt = now;
  }

  onRecords(n: number, now = Date.now()): void {
    this.records += n;
    if (n > 0) this.lastRecordAt = now;
  }

  onQuarantined(n: number): void {
    this.quarantined += n;
  }

  onAlerts(n: number, now = Date.now()): void {
    this.alerts += n;
    if (n <= 0) return;
    const minute = Math.floor(now / 60_000);
    this.minutes.set(minute, (this.minutes.get(minute) ?? 0) + n);
    for (const m of this.minutes.keys()) if (m <= minute - 60) this.minutes.delete(m);
  }

  /** The interval's figures; starts a new interval. */
  snapshot(signals: LossSignals = {}, now = Date.now()): HealthSnapshot {
    const dt = Math.max(1e-3, (now - this.intervalStart) / 1000);
    const total = this.records + this.quarantined;
    const share = total > 0 ? this.quarantined / total : 0;
    const reasons: string[] = [];
    if (share > LOSSY_QUARANTINE_SHARE) {
      reasons.push(`${(100 * share).toFixed(1)} % of the records in the interval were quarantined`);
    }
    if ((signals.capture_loss_pct ?? 0) > LOSSY_CAPTURE_PCT) {
      reasons.push(`capture loss ${signals.capture_loss_pct!.toFixed(2)} %`);
    }
    if ((signals.export_sequence_gaps ?? 0) > 0) {
      reasons.push(`${signals.export_sequence_gaps} flow-export packets missing (sequence gaps)`);
    }
    const snap: HealthSnapshot = {
      interval_s: round(dt),
      records_per_s: round(this.records / dt),
      alerts_per_s: round(this.alerts / dt),
      quarantined_per_s: round(this.quarantined / dt),
      quarantined_share: round(share),
      last_record_at: this.lastRecordAt === null ? null : new Date(this.lastRecordAt).toISOString(),
      lossy: reasons.length > 0,
      loss_reasons: reasons,
    };
    if (this.budgetPerHour !== null) {
      const minute = Math.floor(now / 60_000);
      let lastHour = 0;
      for (const [m, c] of this.minutes) if (m > minute - 60) lastHour += c;
      // before a full hour has passed, the rate so far is projected to an hour
      const hours = Math.min(1, Math.max(1 / 60, (now - this.startedAt) / 3_600_000));
      const rate = lastHour / hours;
      snap.budget = {
        per_hour: this.budgetPerHour,
        alerts_last_hour: lastHour,
        ratio: round(rate / this.budgetPerHour),
        over: rate > this.budgetPerHour,
      };
    }
    this.records = 0;
    this.alerts = 0;
    this.quarantined = 0;
    this.intervalStart = now;
    return snap;
  }
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
