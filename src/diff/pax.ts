/**
 * PAX extended header records ("<len> <key>=<value>\n"), binary-safe: keys are byte strings and
 * values raw bytes, because SCHILY.xattr.* values (security.capability) are binary and paths are
 * bytes (tar-stream, say, decodes them as UTF-8), so the engine parses them itself (tar-reader.ts).
 */
import { LayerFormatError } from './errors.js';

export type PaxRecords = Map<string, Buffer>;

export function decodePax(data: Buffer): PaxRecords {
  const records: PaxRecords = new Map();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const lenText = space < 0 ? '' : data.toString('latin1', at, space);
    const len = /^[0-9]+$/.test(lenText) ? Number(lenText) : NaN;
    if (!(len > space - at + 1) || at + len > data.length || data[at + len - 1] !== 0x0a) {
      // Trailing NUL padding is tolerated (some writers pad the record block).
      if (data.subarray(at).every((b) => b === 0)) break;
      throw new LayerFormatError('invalid PAX extended header record');
    }
    const record = data.subarray(space + 1, at + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new LayerFormatError('invalid PAX extended header record');
    records.set(record.toString('latin1', 0, eq), Buffer.from(record.subarray(eq + 1)));
    at += len;
  }
  return records;
}

export function encodePax(records: Iterable<[string, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    const body = key.length + value.length + 3; // " " "=" "\n"
    let len = body + String(body).length;
    if (String(len).length !== String(body).length) len = body + String(len).length;
    parts.push(Buffer.from(`${len} ${key}=`, 'latin1'), value, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** A PAX time "[-]sec[.frac]" in nanoseconds (fraction truncated to 9 digits), as Go parses it. */
export function parsePaxTime(value: Buffer): bigint {
  const text = value.toString('latin1');
  const m = /^(-?)([0-9]+)(?:\.([0-9]*))?$/.exec(text);
  if (!m) throw new LayerFormatError(`invalid PAX time ${JSON.stringify(text)}`);
  const sec = BigInt(m[2]!);
  const frac = BigInt(((m[3] ?? '') + '000000000').slice(0, 9));
  const ns = sec * 1_000_000_000n + frac;
  return m[1] ? -ns : ns;
}

export function parsePaxInt(value: Buffer, key: string): number {
  const text = value.toString('latin1');
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new LayerFormatError(`invalid PAX ${key} ${JSON.stringify(text)}`);
  }
  return Number(text);
}
