/**
 * A model whose per-field rarity (field tail) SQL cannot compute is refused by in-database scoring
 * and following, before any query, unless its K-Means part alone is asked for.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClickHouseClient } from '../../src/clickhouse/client.ts';
import { checkSqlExact, scoreIntoTable, scoreRows } from '../../src/clickhouse/score-in-db.ts';
import { InputError } from '../../src/errors.ts';
import { readInput } from '../../src/ingest/read-input.ts';
import { trainFromFile } from '../../src/pipeline/train.ts';
import { dataFile } from '../helpers/data.ts';

describe('ClickHouse scoring: models with a field tail', { timeout: 120_000 }, () => {
  test('refused with one line naming the way out; --kmeans-only and --field-tail off pass', async () => {
    const capture = dataFile('pcaps/normal/1kxun.pcap');
    const train = (fieldTail: 'auto' | 'off') =>
      trainFromFile(capture, {
        format: 'pcap',
        trainOn: 'all',
        k: 4,
        reader: readInput,
        detector: { fieldTail },
      });
    const withTail = (await train('auto')).detector.toState();
    const without = (await train('off')).detector.toState();
    assert.ok(withTail.fieldTail, 'a capture model has the rarity part by default');
    // nothing listens on port 9: a refusal must come before any connection
    const client = new ClickHouseClient('clickhouse://127.0.0.1:9/default');
    for (const run of [
      () => scoreRows(withTail, { client, table: 'flows' }),
      () => scoreIntoTable(withTail, 'scores', { client, table: 'flows' }),
    ])
      await assert.rejects(run, (e: Error) => {
        assert.ok(e instanceof InputError, String(e));
        assert.match(e.message, /field tail.*--field-tail off.*--kmeans-only/);
        assert.ok(!e.message.includes('\n'));
        return true;
      });
    assert.doesNotThrow(() => checkSqlExact(withTail, true));
    assert.doesNotThrow(() => checkSqlExact(without));
  });
});
