/**
 * A small ClickHouse client over the HTTP interface (`POST /?query=…`), with node:http only.
 *
 * The official `@clickhouse/client` talks the same protocol but sends settings and headers that
 * old servers (Debian's 18.16, what the tests run) may not know, and its errors are multi-line; this
 * module keeps to what every version since 18.x understands: the query in the body (long model
 * queries exceed URL limits), settings as URL parameters, results as TabSeparated, inserts as
 * RowBinary (exact float64, no text round trip). Every failure is one line naming the server and,
 * where known, the table or column: connection refused, unknown table or column, wrong type.
 */
import { request as httpRequest } from 'node:http';
import { InputError, SchemaError } from '../errors.ts';

/** Where the data lives: `clickhouse://HOST:PORT/DB?table=T&user=U&password=P` (PORT: the HTTP port). */
export interface ClickHouseTarget {
  host: string;
  port: number;
  database: string;
  table: string | null;
  user: string;
  password: string;
  /** The URL as given, without the password (for messages and model cards). */
  display: string;
}

const DEFAULT_HTTP_PORT = 8123;

/** Parses `clickhouse://HOST[:PORT][/DB][?table=T&user=U&password=P]` (also `clickhouse+http://`). */
export function parseClickHouseUrl(url: string): ClickHouseTarget {
  const m = /^clickhouse(?:\+http)?:\/\/([^/?#:]+|\[[^\]]+\])(?::(\d+))?(?:\/([^?#]*))?(?:\?([^#]*))?$/.exec(
    url.trim(),
  );
  if (!m) {
    throw new InputError(`${url}: not a ClickHouse URL (expected clickhouse://HOST:PORT/DB?table=TABLE)`);
  }
  const params = new URLSearchParams(m[4] ?? '');
  const port = m[2] ? Number(m[2]) : DEFAULT_HTTP_PORT;
  if (!(port > 0 && port < 65536)) throw new InputError(`${url}: port ${m[2]} is out of range`);
  const database = decodeURIComponent(m[3] || 'default');
  const table = params.get('table');
  const safe = new URLSearchParams(params);
  safe.delete('password');
  const query = safe.toString();
  return {
    host: m[1]!,
    port,
    database,
    table: table || null,
    user: params.get('user') ?? 'default',
    password: params.get('password') ?? '',
    display: `clickhouse://${m[1]}:${port}/${database}${query ? `?${query}` : ''}`,
  };
}

export type Settings = Record<string, string | number>;

/** Settings every query gets: model queries are long (centres are literals) and 18.16 expands every
 * alias where it is used. */
const BASE_SETTINGS: Settings = {
  max_query_size: 256 << 20,
  max_ast_elements: 50_000_000,
  max_expanded_ast_elements: 50_000_000,
};

export interface ColumnInfo {
  name: string;
  type: string;
}

export class ClickHouseClient {
  readonly target: ClickHouseTarget;
  private readonly settings: Settings;

  constructor(target: ClickHouseTarget | string, settings: Settings = {}) {
    this.target = typeof target === 'string' ? parseClickHouseUrl(target) : target;
    this.settings = { ...BASE_SETTINGS, ...settings };
  }

  /** The server's version string (also a connection check). */
  async version(): Promise<string> {
    return (await this.text('SELECT version()')).trim();
  }

  /** Runs a statement that returns nothing (DDL, INSERT … SELECT). */
  async exec(sql: string, settings: Settings = {}): Promise<void> {
    await this.request(sql, settings);
  }

  /** The raw text result of a query. */
  async text(sql: string, settings: Settings = {}): Promise<string> {
    return this.request(sql, settings);
  }

  /** Rows of a query as arrays of unescaped TabSeparated fields. */
  async rows(sql: string, settings: Settings = {}): Promise<string[][]> {
    const body = await this.request(`${sql}\nFORMAT TabSeparated`, settings);
    const out: string[][] = [];
    for (const line of body.split('\n')) {
      if (line === '') continue;
      out.push(line.split('\t').map(unescapeTsv));
    }
    return out;
  }

  /** Inserts RowBinary bytes (see RowBinaryWriter) into a table. */
  async insertRowBinary(table: string, columns: readonly string[], body: Uint8Array): Promise<void> {
    const cols = columns.map(quoteIdent).join(', ');
    await this.request(null, {}, body, `INSERT INTO ${table} (${cols}) FORMAT RowBinary`);
  }

  /** Columns of a table (database defaults to the target's), or a SchemaError when it does not exist. */
  async columns(table: string): Promise<ColumnInfo[]> {
    const { database, name } = splitTable(table, this.target.database);
    const rows = await this.rows(
      `SELECT name, type FROM system.columns WHERE database = ${quoteString(database)} AND table = ${quoteString(name)}`,
    );
    if (rows.length === 0) {
      throw new SchemaError(`${this.target.display}: table ${database}.${name} does not exist`);
    }
    return rows.map(([n, t]) => ({ name: n!, type: t! }));
  }

  private async request(sql: string | null, settings: Settings, body?: Uint8Array, urlQuery?: string) {
    const params = new URLSearchParams();
    params.set('database', this.target.database);
    for (const [k, v] of Object.entries({ ...this.settings, ...settings })) params.set(k, String(v));
    if (urlQuery) params.set('query', urlQuery);
    const headers: Record<string, string> = { 'X-ClickHouse-User': this.target.user };
    if (this.target.password) headers['X-ClickHouse-Key'] = this.target.password;
    const payload = body ?? Buffer.from(sql ?? '');
    // One connection per request (no keep-alive): servers close idle connections after a few
    // seconds (18.16: 3 s), and a reused socket the server just closed fails the request.
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: this.target.host.replace(/^\[|\]$/g, ''),
          port: this.target.port,
          path: `/?${params}`,
          method: 'POST',
          agent: false,
          headers: { ...headers, 'Content-Length': payload.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(
          new InputError(`${this.target.display}: cannot connect to ClickHouse (${err.code ?? err.message})`),
        ),
      );
      req.end(payload);
    });
    if (status !== 200) throw new InputError(`${this.target.display}: ${describeServerError(text)}`);
    return text;
  }
}

/** The server's error text on one line, without the exception class noise. */
export function describeServerError(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  const m = /Code: (\d+), e\.displayText\(\) = DB::Exception: (.*?)(?:, e\.what\(\) = .*)?$/.exec(line);
  const msg = m ? `${m[2]} (ClickHouse code ${m[1]})` : line;
  return msg.length > 400 ? `${msg.slice(0, 400)}…` : msg;
}

function splitTable(table: string, database: string): { database: string; name: string } {
  const unq = (s: string) => s.replace(/^`|`$/g, '');
  const dot = table.indexOf('.');
  return dot > 0
    ? { database: unq(table.slice(0, dot)), name: unq(table.slice(dot + 1)) }
    : { database, name: unq(table) };
}

/** A backtick-quoted identifier (`db.table` keeps its dot). */
export function quoteIdent(name: string): string {
  return name
    .split('.')
    .map((p) => (/^`.*`$/.test(p) ? p : `\`${p.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``))
    .join('.');
}

/** A single-quoted string literal. */
export function quoteString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function unescapeTsv(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(/\\(.)/g, (_, c: string) =>
    c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c === '0' ? '\0' : c,
  );
}

/** Whether a ClickHouse type holds numbers (Nullable and LowCardinality unwrapped). */
export function isNumericType(type: string): boolean {
  return /^(Nullable\()?(U?Int(8|16|32|64)|Float(32|64)|Decimal.*)\)?$/.test(unwrap(type));
}

/** Whether a ClickHouse type holds text (String, FixedString, Enum, LowCardinality(String)). */
export function isTextType(type: string): boolean {
  return /^(String|FixedString\(\d+\)|Enum(8|16)?\(.*\))$/.test(unwrap(type));
}

function unwrap(type: string): string {
  let t = type.trim();
  for (;;) {
    const m = /^(?:Nullable|LowCardinality)\((.*)\)$/.exec(t);
    if (!m) return t;
    t = m[1]!;
  }
}

/** Builds RowBinary rows: Float64 little-endian, String as LEB128 length + UTF-8, UInt64. */
export class RowBinaryWriter {
  private buf = Buffer.alloc(1 << 16);
  private at = 0;

  private ensure(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  float64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.at);
    this.at += 8;
  }

  uint64(v: number | bigint): void {
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.at);
    this.at += 8;
  }

  string(s: string): void {
    const bytes = Buffer.byteLength(s);
    this.ensure(bytes + 10);
    let n = bytes;
    do {
      let b = n & 0x7f;
      n >>>= 7;
      if (n) b |= 0x80;
      this.buf[this.at++] = b;
    } while (n);
    this.at += this.buf.write(s, this.at);
  }

  get bytes(): number {
    return this.at;
  }

  /** The rows written so far (and a fresh buffer). */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.at);
    this.buf = Buffer.alloc(1 << 16);
    this.at = 0;
    return out;
  }
}
