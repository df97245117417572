/**
 * Canonical flows in a two-shard ClickHouse cluster (Debian's 18.16, started and removed here):
 * the flows of the shared pcaps (all 406 normal captures to train on; every 4th normal flow and
 * every flow of the 12 attack captures to score) loaded as a Distributed table, and the same flows as a GoFlow2-shaped table
 * (GoFlow2's v2 ClickHouse column names) scored through the GoFlow2 column map. In-database scores
 * must equal the library's on every row: the flow model has one-hot categoricals with values
 * unseen in training, NaN imputation, and (for GoFlow2) most fields absent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ClickHouseClient } from '../../src/clickhouse/client.ts';
import { GOFLOW2_FIELDS, goflow2ColumnMap } from '../../src/clickhouse/goflow2.ts';
import { scoreQuery, sqlModel } from '../../src/clickhouse/model-sql.ts';
import { scoreRows } from '../../src/clickhouse/score-in-db.ts';
import { flowFieldSpecs } from '../../src/features/flow-fields.ts';
import { type Table, takeRows } from '../../src/ingest/table.ts';
import { readTrafficMany } from '../../src/ingest/traffic/many.ts';
import { portClass, protocolName, protocolNumber } from '../../src/ingest/traffic/schema.ts';
import { AnomalyDetector, type Scored } from '../../src/model/detector.ts';
import { dataFile } from '../helpers/data.ts';
import { type LocalCluster, loadColumns, startCluster, type TypedColumn } from './cluster.ts';

let cluster: LocalCluster;
let client: ClickHouseClient;
let det: AnomalyDetector;
/** Normal then attack flows (the rows scored). */
let flows: Table;
let dstPorts: Float64Array;
let startTimes: Float64Array;

function concat(a: Table, b: Table): Table {
  const numeric: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries(a.numeric)) {
    const out = new Float64Array(a.nRows + b.nRows);
    out.set(v);
    out.set(b.numeric[k]!, a.nRows);
    numeric[k] = out;
  }
  const text: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(a.text)) text[k] = [...v, ...b.text[k]!];
  return { nRows: a.nRows + b.nRows, numeric, text };
}

/** Rows [id, anomaly_score, cluster, is_anomaly] against the library: worst relative difference, mismatches. */
function compare(rows: string[][], lib: Scored) {
  let maxRel = 0;
  let clusters = 0;
  let verdicts = 0;
  for (const [id, score, c, a] of rows) {
    const i = Number(id);
    const want = lib.anomalyScore[i]!;
    const got = Number(score);
    maxRel = Math.max(
      maxRel,
      got === want ? 0 : Math.abs(got - want) / Math.max(Math.abs(want), Number.MIN_VALUE),
    );
    if (Number(c) !== lib.cluster[i]) clusters++;
    if (Number(a) !== lib.isAnomaly[i]) verdicts++;
  }
  return { maxRel, clusters, verdicts };
}

before(async () => {
  const normal = await readTrafficMany([dataFile('pcaps/normal')]);
  const attack = await readTrafficMany([dataFile('pcaps/attack')]);
  det = await new AnomalyDetector(flowFieldSpecs(), { k: 8, ensembleK: [16], engine: 'js' }).fit(
    normal.table,
  );
  // Scored: every 4th normal flow (time budget) and every attack flow.
  const some = Array.from({ length: Math.ceil(normal.table.nRows / 4) }, (_, j) => 4 * j);
  flows = concat(takeRows(normal.table, some), attack.table);
  dstPorts = Float64Array.from([
    ...some.map((i) => normal.identity.dst_port[i]!),
    ...attack.identity.dst_port,
  ]);
  startTimes = Float64Array.from([
    ...some.map((i) => normal.identity.start_time[i]!),
    ...attack.identity.start_time,
  ]);
  cluster = await startCluster(2);
  client = new ClickHouseClient(cluster.url('flows_dist'), { prefer_localhost_replica: 0 });
});

after(async () => {
  await cluster?.stop();
});

describe('canonical flows on a ClickHouse cluster (2 shards, 18.16)', () => {
  test('pcap flows: in-database scores equal the library on every row', async () => {
    const columns: TypedColumn[] = [
      ...Object.entries(flows.numeric).map(([name, values]) => ({ name, type: 'Float64' as const, values })),
      ...Object.entries(flows.text).map(([name, values]) => ({ name, type: 'String' as const, values })),
    ];
    await loadColumns(cluster, 'flows_dist', columns);
    const rows = await client.rows(
      `${scoreQuery(sqlModel(det.toState()), 'flows_dist', { keep: ['id'] })} ORDER BY id`,
    );
    assert.equal(rows.length, flows.nRows);
    const lib = await det.evaluateRows(flows);
    const r = compare(rows, lib);
    let nan = 0;
    for (const v of Object.values(flows.numeric)) for (const x of v) if (Number.isNaN(x)) nan++;
    const unseen = Object.entries(flows.text).filter(([f, v]) =>
      v.some((s) => !det.preprocessor.toState().vocabularies[f]!.includes(s)),
    );
    console.log(
      `pcap flows: ${flows.nRows} rows (${nan} NaN cells, unseen values in ${unseen.map(([f]) => f).join(', ')}): max relative difference ${r.maxRel.toExponential(2)}, cluster mismatches ${r.clusters}, verdict mismatches ${r.verdicts}`,
    );
    assert.ok(nan > 0 && unseen.length > 0, 'the rows exercise imputation and unknown categories');
    assert.ok(r.maxRel <= 1e-6, `max relative difference ${r.maxRel}`);
    assert.equal(r.clusters, 0);
    assert.equal(r.verdicts, 0);
    assert.ok(lib.isAnomaly.some((v) => v === 1) && lib.isAnomaly.some((v) => v === 0));
  });

  test('a GoFlow2-shaped table scored through the GoFlow2 column map equals the library', async () => {
    const n = flows.nRows;
    const proto = Array.from(flows.text.protocol!, (p) => protocolNumber(p));
    const port = Array.from(dstPorts, (p) => (Number.isFinite(p) ? p : 0));
    const num = (v: number) => (Number.isFinite(v) ? v : 0);
    const start = Array.from(startTimes, (t) => BigInt(Math.round(num(t) * 1e9)));
    const end = start.map((s, i) => s + BigInt(Math.round(num(flows.numeric.duration![i]!) * 1e9)));
    const bytes = Array.from(flows.numeric.fwd_bytes!, num);
    const packets = Array.from(flows.numeric.fwd_packets!, num);
    const u = (name: string, values: ArrayLike<number | bigint>): TypedColumn => ({
      name,
      type: 'UInt64',
      values,
    });
    await loadColumns(cluster, 'goflow2_flows', [
      u('time_received_ns', end),
      u('time_flow_start_ns', start),
      u('time_flow_end_ns', end),
      u(
        'sequence_num',
        Array.from({ length: n }, (_, i) => i),
      ),
      u('sampling_rate', new Array<number>(n).fill(1)),
      { name: 'sampler_address', type: 'String', values: new Array<string>(n).fill('127.0.0.1') },
      u('etype', new Array<number>(n).fill(0x800)),
      u('proto', proto),
      u('src_port', new Array<number>(n).fill(40000)),
      u('dst_port', port),
      u('bytes', bytes),
      u('packets', packets),
      u('tcp_flags', new Array<number>(n).fill(0)),
    ]);
    // What the library sees from such a table: the mapped fields, everything else absent.
    const numeric: Record<string, Float64Array> = {};
    const text: Record<string, string[]> = {};
    for (const f of flowFieldSpecs()) {
      if (f.kind === 'numeric') numeric[f.name] = new Float64Array(n).fill(Number.NaN);
      else text[f.name] = new Array<string>(n).fill('unknown');
    }
    text.protocol = proto.map(protocolName);
    text.port_class = proto.map((p, i) => portClass(protocolName(p), port[i]!));
    numeric.duration = Float64Array.from(start, (s, i) => Number(end[i]! - s) / 1e9);
    numeric.fwd_bytes = Float64Array.from(bytes);
    numeric.fwd_packets = Float64Array.from(packets);
    numeric.fwd_pkt_len_mean = Float64Array.from(bytes, (b, i) =>
      packets[i]! > 0 ? b / packets[i]! : Number.NaN,
    );
    const table: Table = { nRows: n, numeric, text };
    assert.deepEqual(Object.keys(GOFLOW2_FIELDS).sort(), [
      'duration',
      'fwd_bytes',
      'fwd_packets',
      'fwd_pkt_len_mean',
      'port_class',
      'protocol',
    ]);
    const scored = await scoreRows(det.toState(), {
      client: new ClickHouseClient(cluster.url('goflow2_flows'), { prefer_localhost_replica: 0 }),
      table: 'goflow2_flows',
      columns: goflow2ColumnMap(det.preprocessor.fieldSpecs()),
      keep: ['id'],
      orderBy: 'id',
    });
    const rows = scored.map((s) => [
      s.keep[0]!,
      String(s.anomalyScore),
      String(s.cluster),
      s.isAnomaly ? '1' : '0',
    ]);
    assert.equal(rows.length, n);
    const lib = await det.evaluateRows(table);
    const r = compare(rows, lib);
    const classes = new Set(text.port_class);
    console.log(
      `GoFlow2 table: ${n} rows, ${classes.size} port classes: max relative difference ${r.maxRel.toExponential(2)}, cluster mismatches ${r.clusters}, verdict mismatches ${r.verdicts}`,
    );
    assert.ok(classes.size > 3);
    assert.ok(r.maxRel <= 1e-6, `max relative difference ${r.maxRel}`);
    assert.equal(r.clusters, 0);
    assert.equal(r.verdicts, 0);
  });
});
