/**
 * A real ClickHouse cluster for tests and benchmarks: N `clickhouse-server` processes (Debian's,
 * 18.16 here) on 127.0.0.1, each with a config written to a temp dir (ports, paths, a
 * `remote_servers` cluster of N one-replica shards, `log_queries` on), and tables created on
 * every shard: a MergeTree `<name>_local` and a `Distributed` `<name>` over them. `stop()` kills
 * the servers and deletes the dir; a process exit kills them too (also when a test fails).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseClient, quoteIdent, RowBinaryWriter } from '../../src/clickhouse/client.ts';
import type { Table } from '../../src/ingest/table.ts';

export const CLUSTER_NAME = 'netanomaly';
const SERVER_BIN = ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server'].find(existsSync);

export interface Shard {
  http: number;
  tcp: number;
  client: ClickHouseClient;
  process: ChildProcess;
}

export interface LocalCluster {
  dir: string;
  shards: Shard[];
  /** A client of the first shard (the coordinator of distributed queries). */
  client: ClickHouseClient;
  url(table: string): string;
  stop(): Promise<void>;
}

/** n ports free on 127.0.0.1 right now. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function configXml(dir: string, http: number, tcp: number, interserver: number, shards: number[]): string {
  const remote = shards
    .map((p) => `<shard><replica><host>127.0.0.1</host><port>${p}</port></replica></shard>`)
    .join('');
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/server.log</log><errorlog>${dir}/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${http}</http_port>
  <tcp_port>${tcp}</tcp_port>
  <interserver_http_port>${interserver}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>32</max_concurrent_queries>
  <query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>500</flush_interval_milliseconds></query_log>
  <remote_servers><${CLUSTER_NAME}>${remote}</${CLUSTER_NAME}></remote_servers>
</yandex>
`;
}

const USERS_XML = `<?xml version="1.0"?>
<yandex>
  <profiles><default><log_queries>1</log_queries><max_memory_usage>3000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
`;

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

/** Starts `n` servers forming one cluster of n shards; throws (after cleaning up) if one does not answer. */
export async function startCluster(n = 2): Promise<LocalCluster> {
  if (!SERVER_BIN) throw new Error('clickhouse-server is not installed (scripts/install-system-deps.sh)');
  const dir = mkdtempSync(join(tmpdir(), 'netanomaly-ch-'));
  const ports = await freePorts(3 * n);
  const tcp = ports.slice(n, 2 * n);
  const shards: Shard[] = [];
  const stop = async () => {
    await Promise.all(shards.map((s) => stopProcess(s.process)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < n; i++) {
      const sd = join(dir, `shard${i + 1}`);
      mkdirSync(sd, { recursive: true });
      writeFileSync(join(sd, 'users.xml'), USERS_XML);
      writeFileSync(join(sd, 'config.xml'), configXml(sd, ports[i]!, tcp[i]!, ports[2 * n + i]!, tcp));
      const proc = spawn(SERVER_BIN, [`--config-file=${join(sd, 'config.xml')}`], {
        cwd: sd,
        stdio: 'ignore',
      });
      running.add(proc);
      proc.once('exit', () => running.delete(proc));
      shards.push({
        http: ports[i]!,
        tcp: tcp[i]!,
        client: new ClickHouseClient(`clickhouse://127.0.0.1:${ports[i]}/default`),
        process: proc,
      });
    }
    await Promise.all(shards.map((s) => waitReady(s)));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    dir,
    shards,
    client: shards[0]!.client,
    url: (table) => `clickhouse://127.0.0.1:${shards[0]!.http}/default?table=${table}`,
    stop,
  };
}

async function waitReady(s: Shard): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (s.process.exitCode !== null) throw new Error(`clickhouse-server on port ${s.http} exited`);
    try {
      await s.client.version();
      return;
    } catch {
      if (Date.now() > deadline)
        throw new Error(`clickhouse-server on port ${s.http} did not answer in 60 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** ClickHouse column types of a Table: Float64 numbers, String text, plus `id UInt64` first. */
export function tableColumns(table: Table, extraText: string[] = []): [string, string][] {
  return [
    ['id', 'UInt64'],
    ...Object.keys(table.numeric).map((c) => [c, 'Float64'] as [string, string]),
    ...Object.keys(table.text).map((c) => [c, 'String'] as [string, string]),
    ...extraText.map((c) => [c, 'String'] as [string, string]),
  ];
}

/** Creates `<name>_local` (MergeTree) on every shard and `<name>` (Distributed, sharded by id). */
export async function createShardedTable(
  cluster: LocalCluster,
  name: string,
  columns: [string, string][],
): Promise<void> {
  const cols = columns.map(([c, t]) => `${quoteIdent(c)} ${t}`).join(', ');
  for (const s of cluster.shards) {
    await s.client.exec(`DROP TABLE IF EXISTS ${name}`);
    await s.client.exec(`DROP TABLE IF EXISTS ${name}_local`);
    await s.client.exec(`CREATE TABLE ${name}_local (${cols}) ENGINE = MergeTree ORDER BY id`);
    await s.client.exec(
      `CREATE TABLE ${name} AS ${name}_local ENGINE = Distributed(${CLUSTER_NAME}, default, ${name}_local, id)`,
    );
  }
}

/**
 * Inserts rows [0, n) of a table (ids `idBase + i`) straight into the shards' local tables,
 * row i to shard (idBase + i) mod N, as the Distributed table's sharding key would place it.
 */
export async function loadRows(
  cluster: LocalCluster,
  name: string,
  table: Table,
  extraText: Record<string, string[]> = {},
  rows: ArrayLike<number> | null = null,
  idBase = 0,
): Promise<void> {
  const numeric = Object.entries(table.numeric);
  const text = [...Object.entries(table.text), ...Object.entries(extraText)];
  const columns = ['id', ...numeric.map(([c]) => c), ...text.map(([c]) => c)];
  const n = cluster.shards.length;
  const writers = cluster.shards.map(() => new RowBinaryWriter());
  const count = rows ? rows.length : table.nRows;
  const flush = async (s: number) => {
    await cluster.shards[s]!.client.insertRowBinary(`${name}_local`, columns, writers[s]!.take());
  };
  for (let j = 0; j < count; j++) {
    const i = rows ? rows[j]! : j;
    const id = idBase + j;
    const s = id % n;
    const w = writers[s]!;
    w.uint64(id);
    for (const [, col] of numeric) w.float64(col[i]!);
    for (const [, col] of text) w.string(col[i]!);
    if (w.bytes > 8 << 20) await flush(s);
  }
  for (let s = 0; s < n; s++) if (writers[s]!.bytes > 0) await flush(s);
}

/** A typed column for loadColumns. */
export type TypedColumn =
  | { name: string; type: 'UInt64'; values: ArrayLike<number | bigint> }
  | { name: string; type: 'Float64'; values: ArrayLike<number> }
  | { name: string; type: 'String'; values: readonly string[] };

/**
 * Creates `<name>_local` + `<name>` (as createShardedTable, `id UInt64` first) with these
 * columns and loads their n rows, row i (id i) on shard i mod N.
 */
export async function loadColumns(
  cluster: LocalCluster,
  name: string,
  columns: TypedColumn[],
): Promise<void> {
  await createShardedTable(cluster, name, [
    ['id', 'UInt64'],
    ...columns.map((c) => [c.name, c.type] as [string, string]),
  ]);
  const n = columns[0]!.values.length;
  const writers = cluster.shards.map(() => new RowBinaryWriter());
  for (let i = 0; i < n; i++) {
    const w = writers[i % writers.length]!;
    w.uint64(i);
    for (const c of columns) {
      if (c.type === 'UInt64') w.uint64(c.values[i]!);
      else if (c.type === 'Float64') w.float64(c.values[i]!);
      else w.string(c.values[i]!);
    }
  }
  const names = ['id', ...columns.map((c) => c.name)];
  await Promise.all(
    cluster.shards.map((s, i) => s.client.insertRowBinary(`${name}_local`, names, writers[i]!.take())),
  );
}
