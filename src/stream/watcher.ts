/**
 * The streaming watcher: a growing Zeek conn.log, a directory where pcaps appear, or canonical
 * flows as JSON lines on a stream (stdin) → micro-batches scored by the model → alert records
 * appended durably → checkpoint committed.
 *
 * Delivery: AT-LEAST-ONCE, no loss. Per batch the order is read → parse → score → append alerts →
 * fsync → commit checkpoint (atomic). After a crash the records since the last commit are read
 * again; their alerts carry the same deterministic `event.id` and the alert writer drops ids
 * already in the file, so consumers see each alert once (and can dedupe by event.id themselves).
 * While the alert file cannot be written, the batch is retried with backoff and nothing is
 * committed or read beyond it (memory stays bounded: one batch in flight).
 *
 * event.id:
 * - file sources: sha256("line\0" + byte offset + "\0" + the line's text). Content + position,
 *   not inode: a copytruncate copy read after a crash gives the same ids as the original.
 * - pcap directory: sha256("pcap\0" + sha256 of the capture + "\0" + flow index) (flows sorted by
 *   start time, deterministic).
 * - stream (stdin): sha256("stdin\0" + line number + "\0" + line text).
 *
 * Stats: every `statsInterval` s a stats record (ECS event.kind "metric", dataset
 * netanomaly.stats; EVE event_type "stats") goes to the stats file when one is given, else into
 * the alert file (as Suricata does in eve.json); consumers select alerts by event.kind "alert" /
 * event_type "alert". When no record arrived for `staleAfter` s a warning record (event.action
 * "input-stale") is written once, until records flow again.
 *
 * The library never prints: `onLog` receives one-line messages.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { InputError } from '../errors.ts';
import { emptyTrafficReport } from '../ingest/traffic/common.ts';
import type { FlowMeterOptions } from '../ingest/traffic/flow-meter.ts';
import { flowsToTable, readTraffic, sniffFormat } from '../ingest/traffic/index.ts';
import { APP_CATEGORICALS, type Flow, NUMERIC_FEATURES } from '../ingest/traffic/schema.ts';
import { type WindowOptions, WindowState } from '../ingest/traffic/windows.ts';
import { type ZeekAppIndex, ZeekAppTail } from '../ingest/traffic/zeek-app.ts';
import type { LoadedModel } from '../model/bundle.ts';
import { type DriftReference, driftFromScores, parseDriftReference } from '../ops/drift.ts';
import { clusterName } from '../pipeline/score.ts';
import {
  ALERT_SCHEMA_VERSION,
  type AlertFormat,
  type CaptureStats,
  ecsAlert,
  ecsHostAlert,
  emptyCounters,
  eveAlert,
  eveHostAlert,
  type ScoredFlowInfo,
  type StatsInfo,
  sha256,
  statsRecord,
  topFields,
  type WatchCounters,
  warningRecord,
} from './alerts.ts';
import {
  CHECKPOINT_VERSION,
  type Checkpoint,
  CheckpointError,
  readCheckpoint,
  writeCheckpoint,
} from './checkpoint.ts';
import { HealthMeter } from './health.ts';
import { type HostWindowOptions, HostWindows } from './host-windows.ts';
import { LIVE_PREFIX, runLive } from './live.ts';
import { NETFLOW_PREFIX, runNetflow } from './netflow.ts';
import { parseFlowJson, ZeekLineParser } from './parse.ts';
import { AlertSink, recordId, SinkError } from './sink.ts';
import { FileTailer, type TailLine } from './tailer.ts';

export interface WatchOptions {
  /** A file path, a directory of captures, '-' (then `stdin` is read) or `iface:NAME` (live, src/stream/live.ts). */
  source: string;
  model: LoadedModel;
  alerts: string;
  format?: AlertFormat;
  checkpoint?: string | null;
  /** Records per micro-batch (1..1000, default 256). */
  batch?: number;
  statsInterval?: number;
  staleAfter?: number;
  /** Directory sources: a capture is read once its size has not changed for this many seconds. */
  settle?: number;
  /** Separate stats file (default: stats records go into the alert file). */
  statsFile?: string | null;
  /** Alert when anomaly_score >= minScore instead of the model's threshold (0 = every record). */
  minScore?: number | null;
  /** Alert budget (alerts per hour): the stats records report the last hour's spend against it. */
  alertBudgetPerHour?: number | null;
  pollMs?: number;
  maxBackoffMs?: number;
  /** Stop after the source is exhausted (stdin EOF; for files: when nothing new for one poll). */
  once?: boolean;
  stdin?: Readable;
  /** Live capture: flow meter timeouts and window options. */
  meter?: FlowMeterOptions;
  windows?: WindowOptions;
  /**
   * Host windows and host alerts (host-windows.ts; window, top-k and threshold from the model's
   * host calibration): bounds, or false for none. Models without a host calibration have none.
   */
  hostWindows?: HostWindowOptions | false;
  signal?: AbortSignal;
  onLog?: (line: string) => void;
}

export interface WatchResult {
  counters: WatchCounters;
  stopped: 'signal' | 'eof' | 'once';
  /** false when stopping left an uncommitted batch (it will be replayed on restart). */
  committed: boolean;
}

export interface PendingRecord {
  flow: Flow;
  eventId: string;
  input: ScoredFlowInfo['input'];
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** Most recent scored records kept for the drift summary in the stats records. */
const DRIFT_WINDOW = 20_000;
/** Drift is summarised once the window holds at least this many records. */
const DRIFT_MIN_ROWS = 200;

const WINDOW_NAMES = NUMERIC_FEATURES.filter((n) => n.startsWith('src_t_') || n.startsWith('src_n_'));

export class Watcher {
  readonly counters = emptyCounters();
  private readonly o: Required<
    Pick<
      WatchOptions,
      'format' | 'batch' | 'statsInterval' | 'staleAfter' | 'settle' | 'pollMs' | 'maxBackoffMs'
    >
  >;
  private readonly sink: AlertSink;
  private readonly statsSink: AlertSink | null;
  private readonly windows: WindowState;
  private readonly ruleVersion: string;
  private readonly runId = createHash('sha256')
    .update(`${process.pid}:${Date.now()}:${Math.random()}`)
    .digest('hex');
  private statsSeq = 0;
  private warnSeq = 0;
  private lastRecordAt: number | null = null;
  private readonly startedAt = Date.now();
  private lastStatsAt = Date.now();
  private staleWarned = false;
  private degraded = false;
  private checkpointDegraded = false;
  private readonly windowCounters: Record<string, number> = {};
  /** Bytes written to the source but not yet committed (file sources). */
  private lag: (() => number | undefined) | null = null;
  /** Live capture: packet and drop counters for the stats record. */
  private capture: (() => CaptureStats) | null = null;
  private readonly health: HealthMeter;
  /** The drift reference beside the model (netanomaly drift writes it), when there is one. */
  private readonly driftRef: DriftReference | null = null;
  private readonly driftScores = new Float64Array(DRIFT_WINDOW);
  private readonly driftClusters = new Int32Array(DRIFT_WINDOW);
  private driftRows = 0;
  private driftPos = 0;
  private driftReasons = '';
  /** Host windows (null: off, or the model has no host calibration). */
  private readonly hosts: HostWindows | null = null;
  /** The host-window scope of records that are not from a capture of a directory. */
  private readonly scope: string;

  constructor(private readonly opts: WatchOptions) {
    const batch = opts.batch ?? 256;
    if (!(Number.isInteger(batch) && batch >= 1 && batch <= 1000))
      throw new InputError(`--batch must be an integer in 1..1000, got ${batch}`);
    this.o = {
      format: opts.format ?? 'ecs',
      batch,
      statsInterval: opts.statsInterval ?? 60,
      staleAfter: opts.staleAfter ?? 300,
      settle: opts.settle ?? 2,
      pollMs: opts.pollMs ?? 200,
      maxBackoffMs: opts.maxBackoffMs ?? 2000,
    };
    mkdirSync(dirname(opts.alerts), { recursive: true });
    this.sink = new AlertSink(opts.alerts);
    this.statsSink = opts.statsFile ? new AlertSink(opts.statsFile) : null;
    this.windows = new WindowState(this.windowCounters);
    this.ruleVersion = opts.model.sha256.slice(0, 12);
    this.health = new HealthMeter(opts.alertBudgetPerHour ?? null);
    this.scope = `source\0${opts.source}`;
    const cal = opts.model.detector.training.host;
    if (opts.hostWindows !== false && cal && Number.isFinite(cal.threshold))
      this.hosts = new HostWindows(cal, opts.model.detector.threshold, opts.hostWindows || {});
    else if (opts.hostWindows !== false)
      this.log('the model has no host calibration (trained without flow identity): flow alerts only');
    const refPath = join(opts.model.dir, 'drift-reference.json');
    try {
      this.driftRef = parseDriftReference(JSON.parse(readFileSync(refPath, 'utf8')), refPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        this.log(`${refPath}: ignored (${(e as Error).message})`);
    }
  }

  private log(s: string): void {
    this.opts.onLog?.(s);
  }

  private get aborted(): boolean {
    return Boolean(this.opts.signal?.aborted);
  }

  async run(): Promise<WatchResult> {
    const src = this.opts.source;
    if (src === '-') return this.runStream();
    if (src.startsWith(LIVE_PREFIX) || src.startsWith(NETFLOW_PREFIX))
      return (src.startsWith(NETFLOW_PREFIX) ? runNetflow : runLive)({
        opts: this.opts,
        batch: this.o.batch,
        pollMs: this.o.pollMs,
        counters: this.counters,
        score: (r) => this.score(r),
        deliver: (a) => this.deliver(a),
        tick: (f) => this.tick(f),
        noteRecords: (n) => this.noteRecords(n),
        quarantine: (r, n) => this.quarantine(r, n),
        log: (l) => this.log(l),
        finish: (st, c) => this.finish(st, c),
        setCapture: (fn) => {
          this.capture = fn;
        },
      });
    let st: ReturnType<typeof statSync> | null = null;
    try {
      st = statSync(src);
    } catch {
      st = null;
    }
    if (st?.isDirectory()) return this.runDir();
    return this.runFile();
  }

  // ---------------------------------------------------------------- scoring and delivery

  /**
   * Score flows and build the alert records (only records that alert), each host alert right
   * after the flow that took its window over the host threshold.
   */
  private async score(recs: PendingRecord[], scope = this.scope): Promise<Record<string, unknown>[]> {
    if (recs.length === 0) return [];
    const det = this.opts.model.detector;
    const { table } = flowsToTable(recs.map((r) => r.flow));
    const { X } = det.preprocessor.transform(table);
    const s = await det.scoreMatrix(X);
    this.counters.scored += recs.length;
    if (this.driftRef) {
      for (let i = 0; i < recs.length; i++) {
        this.driftScores[this.driftPos] = s.anomalyScore[i]!;
        this.driftClusters[this.driftPos] = s.cluster[i]!;
        this.driftPos = (this.driftPos + 1) % DRIFT_WINDOW;
      }
      this.driftRows = Math.min(DRIFT_WINDOW, this.driftRows + recs.length);
    }
    const min = this.opts.minScore;
    const alerting: number[] = [];
    const hostAlerts = new Map<number, Record<string, unknown>>();
    const links = new Map<number, NonNullable<ScoredFlowInfo['host']>>();
    for (let i = 0; i < recs.length; i++) {
      const sc = s.anomalyScore[i]!;
      const r = recs[i]!;
      if (this.hosts) {
        const h = this.hosts.add(scope, {
          srcIp: r.flow.src_ip,
          startTime: r.flow.start_time,
          communityId: r.flow.community_id,
          eventId: r.eventId,
          anomalyScore: sc,
        });
        if (h.link) links.set(i, h.link);
        if (h.alert) {
          const ctx = { riskScore: Math.min(100, det.riskScore(h.alert.hostScore)), input: r.input };
          const rule = { version: this.ruleVersion };
          hostAlerts.set(
            i,
            this.o.format === 'eve' ? eveHostAlert(h.alert, ctx, rule) : ecsHostAlert(h.alert, ctx, rule),
          );
        }
      }
      if (min !== null && min !== undefined ? sc >= min : sc > det.threshold) alerting.push(i);
    }
    if (this.hosts) this.syncHostCounters();
    if (alerting.length === 0) return [...hostAlerts.values()];
    const centers = det.primary.clusterCenters;
    const sub = {
      data: new Float32Array(alerting.length * X.cols),
      rows: alerting.length,
      cols: X.cols,
    };
    for (const [j, i] of alerting.entries())
      sub.data.set(X.data.subarray(i * X.cols, (i + 1) * X.cols), j * X.cols);
    const tops = topFields(
      det.preprocessor,
      sub,
      centers,
      alerting.map((i) => s.cluster[i]!),
      5,
    );
    const out: (Record<string, unknown> | undefined)[] = new Array(recs.length);
    for (const [j, i] of alerting.entries()) {
      const r = recs[i]!;
      const fl = r.flow;
      const imputed = NUMERIC_FEATURES.filter((n) => Number.isNaN(fl.f[n] ?? Number.NaN));
      const cluster = s.cluster[i]!;
      const name = clusterName(this.opts.model, cluster);
      const info: ScoredFlowInfo = {
        eventId: r.eventId,
        startTime: fl.start_time,
        srcIp: fl.src_ip,
        srcPort: fl.src_port,
        dstIp: fl.dst_ip,
        dstPort: fl.dst_port,
        protocol: fl.protocol,
        communityId: fl.community_id,
        anomalyScore: s.anomalyScore[i]!,
        riskScore: Math.min(100, det.riskScore(s.anomalyScore[i]!)),
        threshold: det.threshold,
        cluster,
        ...(name ? { clusterName: name } : {}),
        distance: Math.sqrt(s.dist2[i]!),
        topFields: tops[j]!,
        input: r.input,
        ...(imputed.length ? { imputed } : {}),
        ...(links.has(i) ? { host: links.get(i)! } : {}),
      };
      out[i] =
        this.o.format === 'eve'
          ? eveAlert(info, { version: this.ruleVersion })
          : ecsAlert(info, { version: this.ruleVersion });
    }
    // in record order: a flow's alert, then the host alert it raised
    const ordered: Record<string, unknown>[] = [];
    for (let i = 0; i < recs.length; i++) {
      if (out[i]) ordered.push(out[i]!);
      const h = hostAlerts.get(i);
      if (h) ordered.push(h);
    }
    return ordered;
  }

  private syncHostCounters(): void {
    const c = this.hosts!.counters;
    this.counters.host_windows = c.host_windows;
    this.counters.host_windows_closed = c.host_windows_closed;
    this.counters.host_windows_capped = c.host_windows_capped;
    this.counters.host_flows_late = c.host_flows_late;
  }

  /** Append with retry and backoff; false if stopped by the signal before it succeeded. */
  private async deliver(records: Record<string, unknown>[]): Promise<boolean> {
    if (records.length === 0) return true;
    let backoff = 50;
    for (;;) {
      try {
        const before = this.sink.duplicatesSuppressed;
        // host alerts not yet in the file (ids within one batch are distinct)
        const freshHosts = records.filter((r) => isHostAlert(r) && !this.sink.has(recordId(r) ?? '')).length;
        const n = this.sink.append(records);
        const dups = this.sink.duplicatesSuppressed - before;
        this.counters.alerts += n - freshHosts;
        this.counters.host_alerts += freshHosts;
        this.health.onAlerts(n);
        this.counters.duplicates_suppressed += dups;
        this.counters.replays += dups;
        if (this.degraded) this.log('alert sink recovered');
        this.degraded = false;
        return true;
      } catch (e) {
        if (!(e instanceof SinkError)) throw e;
        this.counters.sink_failures++;
        if (!this.degraded) this.log(`alert sink degraded, retrying: ${e.message}`);
        this.degraded = true;
        if (this.aborted) return false;
        await this.tick();
        await sleep(backoff, this.opts.signal);
        backoff = Math.min(this.o.maxBackoffMs, backoff * 2);
        if (this.aborted) return false;
      }
    }
  }

  /**
   * Commit a checkpoint, retrying with backoff while it cannot be written (disk full, directory
   * gone): nothing is read beyond the batch meanwhile; false if stopped by the signal first.
   */
  private async commitDurably(write: () => void): Promise<boolean> {
    let backoff = 50;
    for (;;) {
      try {
        write();
        if (this.checkpointDegraded) this.log('checkpoint writes recovered');
        this.checkpointDegraded = false;
        return true;
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw e;
        this.counters.sink_failures++;
        if (!this.checkpointDegraded) this.log(`checkpoint degraded, retrying: ${e.message}`);
        this.checkpointDegraded = true;
        if (this.aborted) return false;
        await this.tick();
        await sleep(backoff, this.opts.signal);
        backoff = Math.min(this.o.maxBackoffMs, backoff * 2);
        if (this.aborted) return false;
      }
    }
  }

  private secondsSinceLastRecord(): number | null {
    return this.lastRecordAt === null ? null : (Date.now() - this.lastRecordAt) / 1000;
  }

  private noteRecords(n: number): void {
    this.health.onRecords(n);
    if (n > 0) {
      this.lastRecordAt = Date.now();
      if (this.staleWarned) this.log('input is flowing again');
      this.staleWarned = false;
    }
  }

  /** Periodic duties: stats record, staleness warning. Never throws on a sink failure. */
  private async tick(force = false): Promise<void> {
    const now = Date.now();
    const since =
      this.lastRecordAt === null ? (now - this.startedAt) / 1000 : (now - this.lastRecordAt) / 1000;
    const stale = since >= this.o.staleAfter;
    if (stale && !this.staleWarned) {
      this.staleWarned = true;
      const msg = `input ${this.opts.source} stale: no record for ${since.toFixed(1)} s (--stale-after ${this.o.staleAfter})`;
      this.log(msg);
      this.writeSide(warningRecord('input-stale', msg, this.o.format, this.warnSeq++, this.runId));
    }
    if (force || (now - this.lastStatsAt) / 1000 >= this.o.statsInterval) {
      this.lastStatsAt = now;
      const capture = this.capture?.();
      const input = this.health.snapshot({ capture_loss_pct: capture?.loss_pct ?? null }, now);
      if (input.lossy) {
        const msg = `input ${this.opts.source} looks lossy: ${input.loss_reasons.join('; ')}`;
        this.log(msg);
        this.writeSide(warningRecord('input-lossy', msg, this.o.format, this.warnSeq++, this.runId));
      }
      if (input.budget?.over) {
        const msg = `alert budget exceeded: ${input.budget.alerts_last_hour} alerts in the last hour, budget ${input.budget.per_hour}/h`;
        this.log(msg);
        this.writeSide(
          warningRecord('alert-budget-exceeded', msg, this.o.format, this.warnSeq++, this.runId),
        );
      }
      const drift = this.driftSummary();
      const rec = statsRecord(
        {
          input,
          ...(drift ? { drift } : {}),
          counters: { ...this.counters, quarantined: { ...this.counters.quarantined } },
          secondsSinceLastRecord: this.secondsSinceLastRecord(),
          source: this.opts.source,
          uptime: (now - this.startedAt) / 1000,
          health: this.degraded ? 'degraded' : stale ? 'stale' : 'ok',
          ...(this.lag?.() !== undefined ? { lag_bytes: this.lag?.() } : {}),
          ...(capture ? { capture } : {}),
        },
        this.o.format,
        this.statsSeq++,
        this.runId,
      );
      this.writeSide(rec);
    }
  }

  /** Drift of the last records against the reference beside the model; a warning when its reasons change. */
  private driftSummary(): StatsInfo['drift'] {
    if (!this.driftRef || this.driftRows < DRIFT_MIN_ROWS) return undefined;
    const det = this.opts.model.detector;
    const names = Object.fromEntries(
      Object.entries(this.opts.model.card.clusterNames ?? {}).map(([id, c]) => [id, c.name]),
    );
    const r = driftFromScores(
      this.driftRef,
      this.driftScores.subarray(0, this.driftRows),
      this.driftClusters.subarray(0, this.driftRows),
      det.k,
      names,
    );
    const reasons = r.reasons.slice(0, 10);
    if (r.retrain && reasons.join('|') !== this.driftReasons) {
      const msg = `drift: retrain suggested: ${reasons.join('; ')}`;
      this.log(msg);
      this.writeSide(warningRecord('drift', msg, this.o.format, this.warnSeq++, this.runId));
    }
    this.driftReasons = r.retrain ? reasons.join('|') : '';
    return {
      rows: r.rows,
      share_psi: round3(r.sharePsi),
      score_psi: round3(r.scorePsi),
      far_share: round3(r.farShare),
      retrain: r.retrain,
      reasons,
      clusters_flagged: r.clusters
        .filter((c) => c.status !== 'stable' && c.status !== 'too-few-rows')
        .map((c) => c.cluster),
    };
  }

  private writeSide(rec: Record<string, unknown>): void {
    try {
      (this.statsSink ?? this.sink).append([rec]);
    } catch {
      this.counters.sink_failures++;
    }
  }

  private quarantine(reason: string, n = 1): void {
    this.counters.quarantined[reason] = (this.counters.quarantined[reason] ?? 0) + n;
    this.health.onQuarantined(n);
  }

  private baseCheckpoint(kind: Checkpoint['kind']): Checkpoint {
    return {
      version: CHECKPOINT_VERSION,
      kind,
      source: this.opts.source,
      model_sha256: this.opts.model.sha256,
      schema_version: ALERT_SCHEMA_VERSION,
      file: null,
      offset: 0,
      line: 0,
      done: [],
      ...(this.hosts ? { host_windows: this.hosts.snapshot() } : {}),
      updated: new Date().toISOString(),
    };
  }

  private loadCheckpoint(kind: Checkpoint['kind']): Checkpoint | null {
    if (!this.opts.checkpoint) return null;
    const cp = readCheckpoint(this.opts.checkpoint);
    if (!cp) return null;
    if (cp.kind !== kind || cp.source !== this.opts.source) {
      throw new InputError(
        `${this.opts.checkpoint}: checkpoint belongs to source ${cp.source} (${cp.kind}), not ${this.opts.source}; use another --checkpoint file`,
      );
    }
    if (cp.model_sha256 !== this.opts.model.sha256) {
      this.log(
        `checkpoint was written with model ${cp.model_sha256.slice(0, 12)}; continuing from its position with model ${this.ruleVersion}`,
      );
      if (cp.host_windows?.windows.length) this.log('host windows start afresh (another model wrote them)');
    } else if (this.hosts && cp.host_windows && !this.hosts.restore(cp.host_windows)) {
      this.log('host windows start afresh (the checkpoint kept another window length)');
    }
    return cp;
  }

  private finish(stopped: WatchResult['stopped'], committed: boolean): WatchResult {
    void this.tick(true);
    return { counters: this.counters, stopped, committed };
  }

  // ---------------------------------------------------------------- file source (Zeek conn.log)

  private async runFile(): Promise<WatchResult> {
    const cp = this.loadCheckpoint('file');
    const tailer = new FileTailer(this.opts.source, {
      onQuarantine: (reason) => this.quarantine(reason),
      onInfo: (what, detail) => {
        if (what.startsWith('rotation') || what.startsWith('resume_rotated')) this.counters.rotations++;
        if (what === 'rotated_file_not_found' || what === 'truncated_without_copy') {
          const msg = `${what}: ${detail}; lines not read before the rotation may be missing`;
          this.log(msg);
          this.writeSide(warningRecord(what, msg, this.o.format, this.warnSeq++, this.runId));
        } else this.log(`${what}: ${detail}`);
      },
    });
    tailer.start(cp?.file ? { file: cp.file, offset: cp.offset, line: cp.line } : null);
    const parser = new ZeekLineParser();
    // dns.log / ssl.log / http.log beside the conn.log feed the application fields, as in training
    const appReport = emptyTrafficReport(this.opts.source, 'quarantine');
    const app = ZeekAppTail.forConn(this.opts.source, appReport);
    if (app) this.log(`joining the Zeek application logs beside ${this.opts.source} by uid`);
    this.lag = () => {
      const pos = tailer.position();
      if (!pos) return undefined;
      try {
        return Math.max(0, statSync(tailer.currentFile() ?? this.opts.source).size - pos.offset);
      } catch {
        return undefined;
      }
    };
    // header lines before the checkpointed offset are needed to parse TSV rows: re-read them
    if (cp?.file && cp.offset > 0) this.replayHeader(tailer, parser);
    const commit = async (): Promise<boolean> => {
      const path = this.opts.checkpoint;
      const pos = tailer.position();
      if (!path || !pos) return true;
      return this.commitDurably(() =>
        writeCheckpoint(path, {
          ...this.baseCheckpoint('file'),
          file: pos.file,
          offset: pos.offset,
          line: pos.line,
        }),
      );
    };
    try {
      for (;;) {
        if (this.aborted) return this.finish('signal', true);
        const { lines, switched } = tailer.poll(this.o.batch);
        if (switched) {
          // a new file: its header comes with it
          if (!(await commit())) return this.finish('signal', false);
        }
        if (lines.length === 0) {
          await this.tick();
          if (this.opts.once && !switched) return this.finish('once', true);
          if (!switched) await sleep(this.o.pollMs, this.opts.signal);
          continue;
        }
        app?.catchUp();
        const ok = await this.processLines(lines, parser, app?.index ?? null);
        if (!ok || !(await commit())) return this.finish('signal', false);
        this.counters.batches++;
        await this.tick();
      }
    } finally {
      parser.close();
      tailer.close();
    }
  }

  /** After a restart mid-file: recover the Zeek header lines before the offset (no records). */
  private replayHeader(tailer: FileTailer, parser: ZeekLineParser): void {
    const pos = tailer.position();
    if (!pos) return;
    const path = tailer.currentFile() ?? this.opts.source;
    let fd: number | null = null;
    try {
      fd = openSync(path, 'r');
      const buf = Buffer.alloc(64 * 1024);
      let carry = '';
      let at = 0;
      while (at < pos.offset) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, pos.offset - at), at);
        if (n === 0) break;
        at += n;
        const parts = (carry + buf.toString('latin1', 0, n)).split('\n');
        carry = parts.pop() ?? '';
        if (carry.length > 1 << 20) carry = '';
        for (const l of parts)
          if (l.startsWith('#'))
            parser.headerLine(Buffer.from(l, 'latin1').toString('utf8').replace(/\r$/, ''));
      }
    } catch (e) {
      this.log(`${path}: could not re-read the header before offset ${pos.offset}: ${(e as Error).message}`);
    } finally {
      if (fd !== null) closeSync(fd);
    }
  }

  private async processLines(
    lines: TailLine[],
    parser: ZeekLineParser,
    app: ZeekAppIndex | null = null,
  ): Promise<boolean> {
    this.counters.read += lines.length;
    this.noteRecords(lines.length);
    const recs: PendingRecord[] = [];
    let data: { text: string; item: TailLine }[] = [];
    const flush = async () => {
      const parsed = await parser.parse(data, this.opts.source, app);
      for (const p of parsed) {
        if (!p.ok) {
          if (p.reason !== 'empty line') this.quarantine(p.reason);
          continue;
        }
        this.counters.parsed++;
        this.windows.push(p.flow);
        const l = p.item;
        recs.push({
          flow: p.flow,
          eventId: sha256(`line\0${l.offset}\0${l.text}`),
          input: {
            format: l.text.startsWith('{') ? 'zeek-conn-json' : 'zeek-conn-tsv',
            file: l.file,
            offset: l.offset,
            line: l.line,
          },
        });
      }
      data = [];
    };
    for (const l of lines) {
      if (l.text.startsWith('#')) {
        await flush();
        parser.headerLine(l.text);
        continue;
      }
      data.push({ text: l.text, item: l });
    }
    await flush();
    const alerts = await this.score(recs);
    return this.deliver(alerts);
  }

  // ---------------------------------------------------------------- directory of captures

  private async runDir(): Promise<WatchResult> {
    const dir = this.opts.source;
    const cp = this.loadCheckpoint('dir');
    const done = new Set<string>(cp?.done ?? []);
    const seen = new Map<string, { size: number; mtimeMs: number; since: number }>();
    const commit = async (): Promise<boolean> => {
      const path = this.opts.checkpoint;
      if (!path) return true;
      const list = [...done].slice(-10_000);
      return this.commitDurably(() => writeCheckpoint(path, { ...this.baseCheckpoint('dir'), done: list }));
    };
    for (;;) {
      if (this.aborted) return this.finish('signal', true);
      let names: string[] = [];
      try {
        names = readdirSync(dir)
          .filter((n) => !n.startsWith('.'))
          .sort();
      } catch (e) {
        this.log(`${dir}: cannot list: ${(e as Error).message}`);
      }
      const present = new Set(names.map((n) => join(dir, n)));
      for (const p of [...seen.keys()]) if (!present.has(p)) seen.delete(p);
      let progressed = false;
      let waiting = false;
      for (const n of names) {
        if (this.aborted) break;
        const p = join(dir, n);
        let st: ReturnType<typeof statSync>;
        try {
          st = statSync(p);
        } catch {
          seen.delete(p);
          continue;
        }
        if (!st.isFile()) continue;
        const prev = seen.get(p);
        const now = Date.now();
        if (!prev || prev.size !== st.size || prev.mtimeMs !== st.mtimeMs) {
          seen.set(p, { size: st.size, mtimeMs: st.mtimeMs, since: now });
          if (![...done].some((k) => k.startsWith(`${p}|${st.size}|`))) waiting = true;
          continue;
        }
        if (st.size === 0) continue;
        if ((now - prev.since) / 1000 < this.o.settle) {
          waiting = true;
          continue;
        }
        const bytes = readFileSync(p);
        const hash = createHash('sha256').update(bytes).digest('hex');
        const key = `${p}|${bytes.length}|${hash}`;
        if (done.has(key)) continue;
        const ok = await this.processCapture(p, hash);
        if (!ok) return this.finish('signal', false);
        done.add(key);
        if (done.size > 10_000) done.delete(done.values().next().value as string);
        this.counters.files_done++;
        if (!(await commit())) return this.finish('signal', false);
        progressed = true;
      }
      await this.tick();
      if (this.opts.once && !progressed && !waiting) return this.finish('once', true);
      await sleep(this.o.pollMs, this.opts.signal);
    }
  }

  private async processCapture(path: string, hash: string): Promise<boolean> {
    let flows: Flow[];
    try {
      await sniffFormat(path);
      const t = await readTraffic(path, { format: 'pcap' });
      // rebuild flows from the table (sorted by start_time, window features computed per file)
      const n = t.table.nRows;
      flows = [];
      for (let i = 0; i < n; i++) {
        const f: Record<string, number> = {};
        for (const name of NUMERIC_FEATURES) f[name] = t.table.numeric[name]![i]!;
        flows.push({
          src_ip: t.identity.src_ip[i]!,
          dst_ip: t.identity.dst_ip[i]!,
          src_port: t.identity.src_port[i]!,
          dst_port: t.identity.dst_port[i]!,
          protocol: t.identity.protocol[i]!,
          start_time: t.identity.start_time[i]!,
          community_id: t.identity.community_id[i]!,
          conn_state: t.table.text.conn_state![i]!,
          port_class: t.table.text.port_class![i]!,
          f,
          app: Object.fromEntries(APP_CATEGORICALS.map((n) => [n, t.table.text[n]![i]!])),
        });
      }
      // what the capture reader skipped or found damaged, counted per reason
      if (t.report.rowsSkipped > 0) this.quarantine('pcap_packets_not_decoded', t.report.rowsSkipped);
      for (const [k, v] of Object.entries(t.report.counters))
        if (/truncat|corrupt|^bad_|unsupported/.test(k)) this.quarantine(`pcap_${k}`, v);
    } catch (e) {
      this.quarantine('unreadable_capture');
      const m = (e as Error).message;
      const msg = m.startsWith(path) ? m : `${path}: ${m}`;
      this.log(msg);
      this.writeSide(warningRecord('unreadable-capture', msg, this.o.format, this.warnSeq++, this.runId));
      return true;
    }
    this.counters.read += flows.length;
    this.counters.parsed += flows.length;
    this.noteRecords(flows.length);
    for (let start = 0; start < flows.length; start += this.o.batch) {
      const recs = flows.slice(start, start + this.o.batch).map((flow, j) => ({
        flow,
        eventId: sha256(`pcap\0${hash}\0${start + j}`),
        input: { format: 'pcap', file: path, offset: start + j },
      }));
      const alerts = await this.score(recs, `pcap\0${hash}`);
      if (!(await this.deliver(alerts))) return false;
      this.counters.batches++;
      await this.tick();
    }
    // a capture has its own clock: its host windows end with it
    this.hosts?.endScope(`pcap\0${hash}`);
    if (this.hosts) this.syncHostCounters();
    return true;
  }

  // ---------------------------------------------------------------- stream (stdin)

  private async runStream(): Promise<WatchResult> {
    const input = this.opts.stdin;
    if (!input) throw new InputError('source - needs a stdin stream');
    const queue: string[] = [];
    let ended = false;
    const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    const cap = this.o.batch * 4;
    rl.on('line', (l) => {
      queue.push(l);
      if (queue.length >= cap) rl.pause();
    });
    rl.on('close', () => {
      ended = true;
    });
    let lineNo = 0;
    try {
      for (;;) {
        if (this.aborted) return this.finish('signal', true);
        if (queue.length === 0) {
          if (ended) return this.finish('eof', true);
          await this.tick();
          await sleep(Math.min(this.o.pollMs, 50), this.opts.signal);
          continue;
        }
        const lines = queue.splice(0, this.o.batch);
        if (queue.length < cap) rl.resume();
        this.counters.read += lines.length;
        this.noteRecords(lines.length);
        const recs: PendingRecord[] = [];
        for (const text of lines) {
          lineNo++;
          if (text.trim() === '') continue;
          if (Buffer.byteLength(text) > 1 << 20) {
            this.quarantine('line_too_long');
            continue;
          }
          const p = parseFlowJson(text);
          if ('error' in p) {
            this.quarantine(p.error);
            continue;
          }
          this.counters.parsed++;
          if (!p.hasWindows) this.windows.push(p.flow);
          else
            for (const n of WINDOW_NAMES)
              if (Number.isNaN(p.flow.f[n] ?? Number.NaN)) p.flow.f[n] = Number.NaN;
          recs.push({
            flow: p.flow,
            eventId: sha256(`stdin\0${lineNo}\0${text}`),
            input: { format: 'flows-jsonl', file: '-', offset: lineNo },
          });
        }
        const alerts = await this.score(recs);
        if (!(await this.deliver(alerts))) return this.finish('signal', false);
        this.counters.batches++;
        await this.tick();
      }
    } finally {
      rl.close();
    }
  }
}

/** Is this output record a host alert (ECS dataset netanomaly.host, or EVE metadata with a host block)? */
function isHostAlert(r: Record<string, unknown>): boolean {
  const ev = r.event as { dataset?: unknown } | undefined;
  if (ev) return ev.dataset === 'netanomaly.host';
  const meta = (r.alert as { metadata?: { netanomaly?: { host?: { ip?: unknown } } } } | undefined)?.metadata;
  return typeof meta?.netanomaly?.host?.ip === 'string';
}

/** Convenience: build and run a watcher. */
export async function watch(opts: WatchOptions): Promise<WatchResult> {
  return new Watcher(opts).run();
}

function round3(v: number): number {
  return Number.isFinite(v) ? Math.round(v * 1000) / 1000 : 0;
}
