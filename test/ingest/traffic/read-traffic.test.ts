import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readTraffic, sniffFormat } from '../../../src/ingest/traffic/index.ts';
import { CATEGORICAL_FEATURES, FLOW_SCHEMA, NUMERIC_FEATURES } from '../../../src/ingest/traffic/schema.ts';
import { handshake, pcapFile, pcapngFile, tmpDir, write } from './pcap-writer.ts';

const dir = tmpDir();

describe('readTraffic entry point', () => {
  test('format sniffed by content, not by name', async () => {
    assert.equal(await sniffFormat(write(dir, 'a.txt', pcapFile(handshake()))), 'pcap');
    assert.equal(await sniffFormat(write(dir, 'b.csv', pcapngFile([{ linktype: 1 }], handshake()))), 'pcap');
    assert.equal(await sniffFormat(write(dir, 'c.pcap', '#separator \\x09\n#path\tconn\n')), 'zeek');
    assert.equal(await sniffFormat(write(dir, 'd.pcap', '{"ts":1,"id.orig_h":"1.2.3.4"}\n')), 'zeek');
    assert.equal(
      await sniffFormat(
        write(dir, 'e.log', ' Destination Port, Flow Duration, Total Fwd Packets, Total Backward Packets\n'),
      ),
      'cic',
    );
    await assert.rejects(sniffFormat(write(dir, 'f.bin', 'hello world, this is text\n')), {
      name: 'ParseError',
      message: /f\.bin: unknown file format \(magic 0x68656c6c\)/,
    });
    await assert.rejects(readTraffic(`${dir}/does-not-exist.pcap`), {
      name: 'InputError',
      message: /no such file/,
    });
  });

  test('the table has exactly the schema features; identity stays beside it', async () => {
    const { table, identity } = await readTraffic(write(dir, 'hs.pcap', pcapFile(handshake())));
    assert.deepEqual(Object.keys(table.numeric).sort(), [...NUMERIC_FEATURES].sort());
    assert.deepEqual(Object.keys(table.text).sort(), [...CATEGORICAL_FEATURES].sort());
    for (const f of FLOW_SCHEMA.filter((x) => x.kind === 'identity')) assert.ok(f.name in identity, f.name);
    assert.ok(!('src_ip' in table.text));
  });

  test('a capture of non-IP packets only yields 0 flows and says so', async () => {
    const arp = { ts: 1, data: [...new Array(12).fill(0), 0x08, 0x06, ...new Array(28).fill(0)] };
    const { table, report } = await readTraffic(write(dir, 'arp.pcap', pcapFile([arp])));
    assert.equal(table.nRows, 0);
    assert.equal(report.counters.non_ip, 1);
    assert.match(report.warnings.join('\n'), /0 flows extracted \(1 packets read\)/);
  });
});
