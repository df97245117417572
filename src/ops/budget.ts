/**
 * Alert budgets: a threshold chosen so that the expected alert rate on benign traffic fits what
 * a team can read ("at most 20 alerts an hour"), instead of a false-positive rate.
 *
 * Given benign scores (held-out benign traffic, never the rows the model was fitted on when that
 * can be avoided) and the traffic rate R (flows per hour), a budget of B alerts per hour is a
 * false-positive rate of B / R, and the threshold is the (1 − B/R) quantile of the benign scores.
 * Per-cluster budgets apply the same rule within each cluster (each cluster may spend B / h);
 * per-group budgets within each host group (e.g. source /24).
 */
import { OptionError } from '../errors.ts';
import { quantileSorted } from '../model/detector.ts';

const UNITS: Record<string, number> = { s: 1 / 3600, min: 1 / 60, h: 1, d: 24 };

/** Parse "20/h", "500/d", "1/min" into alerts per hour. */
export function parseAlertBudget(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|min|h|d)\s*$/.exec(text);
  if (!m) throw new OptionError(`--alert-budget '${text}': expected N/h (or N/min, N/d), e.g. 20/h`);
  const n = Number(m[1]);
  if (!(n > 0)) throw new OptionError(`--alert-budget '${text}': the budget must be > 0`);
  return n / UNITS[m[2]!]!;
}

export interface BudgetThreshold {
  /** Anomaly-score threshold: scores above it alert. */
  threshold: number;
  /** Budget / rate: the false-positive rate the budget allows on benign traffic. */
  expectedFpr: number;
  /** Benign rows above the threshold in the calibration scores, per hour at the given rate. */
  expectedAlertsPerHour: number;
  /** The budget cannot be spent: fewer benign flows than the budget per hour (threshold = lowest score). */
  saturated: boolean;
  calibrationRows: number;
}

/** Threshold for `alertsPerHour` given sorted benign scores and `flowsPerHour`. */
export function budgetThreshold(
  sortedBenign: ArrayLike<number>,
  flowsPerHour: number,
  alertsPerHour: number,
): BudgetThreshold {
  if (!(flowsPerHour > 0)) throw new OptionError(`traffic rate must be > 0 flows/h, got ${flowsPerHour}`);
  const n = sortedBenign.length;
  if (n === 0) throw new OptionError('no benign scores to set a budget threshold from');
  const fpr = Math.min(1, alertsPerHour / flowsPerHour);
  const threshold = fpr >= 1 ? Number.NEGATIVE_INFINITY : quantileSorted(sortedBenign, 1 - fpr);
  let above = 0;
  for (let i = 0; i < n; i++) if (sortedBenign[i]! > threshold) above++;
  return {
    threshold,
    expectedFpr: fpr,
    expectedAlertsPerHour: (above / n) * flowsPerHour,
    saturated: fpr >= 1,
    calibrationRows: n,
  };
}

/** Flows per hour of traffic with start times in seconds (span from first to last flow). */
export function flowsPerHour(startTimes: ArrayLike<number>): number {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  let n = 0;
  for (let i = 0; i < startTimes.length; i++) {
    const t = startTimes[i]!;
    if (!Number.isFinite(t)) continue;
    n++;
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  const span = hi - lo;
  if (n < 2 || !(span > 0)) return Number.NaN;
  return (n / span) * 3600;
}

export interface GroupBudget extends BudgetThreshold {
  group: string;
  rows: number;
  flowsPerHour: number;
}

/**
 * One threshold per group (cluster id, host group): each group may spend `alertsPerHour`.
 * `totalFlowsPerHour` is split by each group's share of the benign rows.
 */
export function groupBudgetThresholds(
  benignScores: ArrayLike<number>,
  groups: ArrayLike<string | number>,
  totalFlowsPerHour: number,
  alertsPerHour: number,
): GroupBudget[] {
  const by = new Map<string, number[]>();
  for (let i = 0; i < benignScores.length; i++) {
    const g = String(groups[i]);
    let list = by.get(g);
    if (!list) {
      list = [];
      by.set(g, list);
    }
    list.push(benignScores[i]!);
  }
  const n = benignScores.length;
  return [...by.entries()]
    .map(([group, scores]) => {
      const rate = (totalFlowsPerHour * scores.length) / n;
      return {
        group,
        rows: scores.length,
        flowsPerHour: rate,
        ...budgetThreshold(Float64Array.from(scores).sort(), rate, alertsPerHour),
      };
    })
    .sort((a, b) => a.group.localeCompare(b.group, 'en', { numeric: true }));
}

/** Host group of an address: the IPv4 /24 or the IPv6 /64 it belongs to. */
export function hostGroup(address: string): string {
  if (address.includes(':')) {
    const parts = address.split(':');
    return `${parts.slice(0, 4).join(':')}::/64`;
  }
  const parts = address.split('.');
  return parts.length === 4 ? `${parts.slice(0, 3).join('.')}.0/24` : address;
}

export interface BudgetSpend {
  alerts: number;
  hours: number;
  alertsPerHour: number;
  budgetPerHour: number;
  /** alertsPerHour / budgetPerHour (1 = on budget). */
  ratio: number;
}

/** Live check: alerts seen over a span of hours against the budget. */
export function budgetSpend(alerts: number, hours: number, budgetPerHour: number): BudgetSpend {
  const rate = hours > 0 ? alerts / hours : Number.NaN;
  return { alerts, hours, alertsPerHour: rate, budgetPerHour, ratio: rate / budgetPerHour };
}
