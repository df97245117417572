/** In-process checks of the watcher's parts: tailer, alert sink, checkpoint, schema validator, explanation. */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { explainRows } from '../../src/explain/explain-flow.ts';
import { takeRows } from '../../src/ingest/table.ts';
import { readTraffic } from '../../src/ingest/traffic/index.ts';
import { loadModel } from '../../src/model/bundle.ts';
import { ecsAlert, eveAlert, type ScoredFlowInfo, sha256, topFields } from '../../src/stream/alerts.ts';
import { readCheckpoint, writeCheckpoint } from '../../src/stream/checkpoint.ts';
import { alertSchemaPath, JsonSchema } from '../../src/stream/json-schema.ts';
import { AlertSink } from '../../src/stream/sink.ts';
import { FileTailer } from '../../src/stream/tailer.ts';
import { type Json, tmp, trainedModel } from './helpers.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? '';

describe('FileTailer', () => {
  test('partial lines wait for their newline; offsets are exact; over-long lines are quarantined', () => {
    const dir = tmp('tailer');
    const p = join(dir, 'x.log');
    writeFileSync(p, 'a1\nb22\nc3');
    const q: string[] = [];
    const t = new FileTailer(p, { onQuarantine: (r) => q.push(r) }, 16);
    t.start(null);
    let r = t.poll(10);
    assert.deepEqual(
      r.lines.map((l) => [l.text, l.offset, l.end, l.line]),
      [
        ['a1', 0, 3, 1],
        ['b22', 3, 7, 2],
      ],
    );
    assert.equal(t.poll(10).lines.length, 0, 'c3 has no newline yet');
    appendFileSync(p, '33\r\n');
    r = t.poll(10);
    assert.deepEqual(
      r.lines.map((l) => l.text),
      ['c333'],
    );
    appendFileSync(p, `${'z'.repeat(40)}\nok\n`);
    r = t.poll(10);
    assert.deepEqual(
      r.lines.map((l) => l.text),
      ['ok'],
    );
    assert.deepEqual(q, ['line_too_long']);
    assert.equal(t.position()!.offset, readFileSync(p).length);
    t.close();
  });

  test('rename rotation: old file read to EOF, then the new file; resume by inode after a restart', () => {
    const dir = tmp('tailer-rot');
    const p = join(dir, 'x.log');
    writeFileSync(p, 'one\n');
    const t = new FileTailer(p);
    t.start(null);
    assert.deepEqual(
      t.poll(10).lines.map((l) => l.text),
      ['one'],
    );
    const saved = t.position()!;
    appendFileSync(p, 'two\n');
    renameSync(p, `${p}.1`);
    writeFileSync(p, 'three\n');
    const texts: string[] = [];
    for (let i = 0; i < 5; i++) texts.push(...t.poll(10).lines.map((l) => l.text));
    assert.deepEqual(texts, ['two', 'three']);
    t.close();
    // a new tailer from the saved position (rotated while "stopped")
    const u = new FileTailer(p);
    u.start(saved);
    const again: string[] = [];
    for (let i = 0; i < 5; i++) again.push(...u.poll(10).lines.map((l) => l.text));
    assert.deepEqual(again, ['two', 'three']);
    u.close();
  });
});

describe('AlertSink and checkpoint', () => {
  test('ids already in the file are dropped, also after reopening; a torn last line is closed', () => {
    const dir = tmp('sink-unit');
    const p = join(dir, 'a.jsonl');
    const rec = (id: string) => ({ event: { kind: 'alert', id } });
    const s = new AlertSink(p);
    assert.equal(s.append([rec('a'), rec('b'), rec('a')]), 2);
    appendFileSync(p, '{"event":{"kind":"alert","id":"c"'); // torn by a crash
    const s2 = new AlertSink(p);
    assert.equal(s2.append([rec('b'), rec('c'), rec('d')]), 2);
    assert.equal(s2.duplicatesSuppressed, 1);
    const lines = readFileSync(p, 'utf8').trim().split('\n');
    assert.equal(lines.length, 5);
    assert.deepEqual(
      lines.filter((l) => l.endsWith('}')).map((l) => (JSON.parse(l) as Json).event.id),
      ['a', 'b', 'c', 'd'],
    );
  });

  test('checkpoint round trip; corrupt or invalid checkpoints are refused, not ignored', () => {
    const dir = tmp('cp-unit');
    const p = join(dir, 'cp.json');
    assert.equal(readCheckpoint(p), null);
    const cp = {
      version: 1 as const,
      kind: 'file' as const,
      source: 'conn.log',
      model_sha256: 'f'.repeat(64),
      schema_version: '1',
      file: { path: 'conn.log', dev: 1, ino: 2, fingerprint: 'ab', fpLength: 2 },
      offset: 10,
      line: 2,
      done: [],
      updated: new Date().toISOString(),
    };
    writeCheckpoint(p, cp);
    assert.deepEqual(readCheckpoint(p), cp);
    writeFileSync(p, '{"version":1,');
    assert.throws(() => readCheckpoint(p), /checkpoint is corrupt/);
    writeFileSync(p, '{"version":1}');
    assert.throws(() => readCheckpoint(p), /checkpoint is invalid/);
  });
});

describe('alert records', () => {
  const info: ScoredFlowInfo = {
    eventId: sha256('x'),
    startTime: 1_700_000_000.25,
    srcIp: '10.0.0.5',
    srcPort: 51512,
    dstIp: '203.0.113.7',
    dstPort: 443,
    protocol: 'tcp',
    communityId: '1:LQU9qZlK+B5F3KDmev6m5PMibrg=',
    anomalyScore: 14.2,
    riskScore: 97,
    threshold: 6.1,
    cluster: 3,
    distance: 14.2,
    topFields: [
      ['dst_bytes', 0.59],
      ['duration', 0.31],
    ],
    input: { format: 'zeek-conn-tsv', file: 'conn.log', offset: 1048576, line: 9000 },
  };

  test('ECS and EVE records validate against the published schema; broken ones do not', () => {
    const schema = JsonSchema.load(alertSchemaPath());
    const ecs = ecsAlert(info, { version: 'abcdef012345' }) as Json;
    const eve = eveAlert(info, { version: 'abcdef012345' }) as Json;
    assert.deepEqual(schema.validate(ecs), []);
    assert.deepEqual(schema.validate(eve), []);
    assert.equal(ecs['@timestamp'], '2023-11-14T22:13:20.250000Z');
    assert.equal(ecs.event.id, info.eventId);
    assert.equal(eve.alert.metadata.netanomaly.event_id, info.eventId);
    const broken = [
      { ...ecs, event: { ...ecs.event, risk_score: 101 } },
      { ...ecs, event: { ...ecs.event, id: 'nope' } },
      { ...ecs, network: { transport: 'tcp', community_id: 'x' } },
      { ...ecs, rule: { ...ecs.rule, version: 'f1' } },
      { ...ecs, extra: 1 },
      { ...eve, src_port: 70000 },
    ];
    for (const b of broken) assert.notDeepEqual(schema.validate(b), [], JSON.stringify(b).slice(0, 120));
    assert.throws(
      () => new JsonSchema({ type: 'object', patternProperties: {} }),
      /unsupported schema keyword/,
    );
  });

  test('top fields are the shares of the primary-run squared distance, as explainRows computes them', async () => {
    assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
    const model = await loadModel(await trainedModel());
    const det = model.detector;
    const t = await readTraffic(join(DATA, 'pcaps', 'attack', 'synscan.pcap'), { format: 'pcap' });
    const rows = [0, 100, 1000, 1900];
    const sub = takeRows(t.table, rows);
    const { X } = det.preprocessor.transform(sub);
    const s = await det.scoreMatrix(X);
    const mine = topFields(det.preprocessor, X, det.primary.clusterCenters, s.cluster, 5);
    const theirs = await explainRows(det, t.table, rows);
    for (const [i, ex] of theirs.entries()) {
      assert.equal(ex.cluster, s.cluster[i]);
      const want = ex.top_fields.map((f) => [f.field, Math.round(f.share * 1e4) / 1e4]);
      assert.deepEqual(
        mine[i]!.map(([f]) => f),
        want.map(([f]) => f),
      );
      for (const [j, [, share]] of mine[i]!.entries())
        assert.ok(Math.abs(share - (want[j]![1] as number)) < 1e-3);
    }
  });
});
