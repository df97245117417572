/**
 * One unidirectional flow record as an exporter sent it (NetFlow v5/v9, IPFIX, an sFlow sample,
 * a GoFlow2 line), before stitching into canonical biflows (biflow.ts). Counts are estimates of the
 * real traffic: raw counts × `sampling` (1 when the export is unsampled or says nothing).
 * Unknown values are NaN, never 0.
 */
export interface ExportRecord {
  /** Exporter address (UDP source of the export datagram, or the sFlow agent address). */
  exporter: string;
  /** NetFlow v9 source ID, IPFIX observation domain, sFlow sub-agent ID, v5 engine type/id. */
  domain: number;
  /** 5, 9, 10 (IPFIX), 'sflow' or 'goflow2'. */
  version: 5 | 9 | 10 | 'sflow' | 'goflow2';
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** IP protocol number. */
  proto: number;
  /** Epoch seconds of the first and last packet (NaN when the export carries no usable time). */
  start: number;
  end: number;
  /** Packets and IP bytes (scaled by `sampling`). */
  packets: number;
  bytes: number;
  /** RFC 5103 reverse direction (biflow records), NaN when absent. */
  rpackets: number;
  rbytes: number;
  /** OR of the TCP flags seen (NaN when the export has no flags field). */
  flags: number;
  rflags: number;
  inIf: number;
  outIf: number;
  /** Sampling rate applied to the counts (1 = unsampled or not said). */
  sampling: number;
  /** When the export datagram arrived (capture time for a pcap), epoch seconds. */
  arrival: number;
}

export function emptyRecord(
  exporter: string,
  domain: number,
  version: ExportRecord['version'],
  arrival: number,
): ExportRecord {
  return {
    exporter,
    domain,
    version,
    src: '',
    dst: '',
    sport: Number.NaN,
    dport: Number.NaN,
    proto: Number.NaN,
    start: Number.NaN,
    end: Number.NaN,
    packets: Number.NaN,
    bytes: Number.NaN,
    rpackets: Number.NaN,
    rbytes: Number.NaN,
    flags: Number.NaN,
    rflags: Number.NaN,
    inIf: Number.NaN,
    outIf: Number.NaN,
    sampling: 1,
    arrival,
  };
}

const BYTE = Array.from({ length: 256 }, (_, i) => String(i));

export function ipv4(b: Uint8Array, o: number): string {
  return `${BYTE[b[o]!]}.${BYTE[b[o + 1]!]}.${BYTE[b[o + 2]!]}.${BYTE[b[o + 3]!]}`;
}

/** Unsigned big-endian integer of 1..8 bytes (reduced-size encoding, RFC 7011 §6.2). */
export function readUint(b: Uint8Array, o: number, len: number): number {
  if (len === 4) return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  if (len === 2) return (b[o]! << 8) | b[o + 1]!;
  if (len === 1) return b[o]!;
  let v = 0;
  for (let i = 0; i < len; i++) v = v * 256 + b[o + i]!;
  return v;
}

export function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/**
 * The exporter as address:port: templates and sequence numbers belong to a transport session
 * (RFC 7011 §10.3, RFC 3954 §5), and a restarted exporter process usually sends from a new port.
 */
export function exporterId(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
