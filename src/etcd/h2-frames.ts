/**
 * The few HTTP/2 frames (RFC 9113) and HPACK encodings (RFC 7541) that prepared-calls.ts writes
 * by hand; see there for why.
 */

/** The client connection preface (RFC 9113 section 3.4). */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Frame types. */
export const [DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE] = [0, 1, 3, 4, 6, 7, 8];
/** Frame flags. */
export const [END_STREAM, ACK, END_HEADERS, PADDED] = [0x1, 0x1, 0x4, 0x8];
/** The RST_STREAM error code of a stream given up. */
export const CANCEL = 0x8;
/** Stream ids are 31 bits. */
export const MAX_STREAM_ID = 0x7fffffff;

/** One frame: the 9-byte header, then `payload`. */
export function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const out = Buffer.alloc(9 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(stream, 5);
  payload.copy(out, 9);
  return out;
}

/** A 4-byte big-endian payload (WINDOW_UPDATE, RST_STREAM). */
export function uint32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}

/** An HPACK "literal header field without indexing, new name", neither part Huffman-coded. */
export function literal(name: string, value: string): Buffer {
  const [n, v] = [Buffer.from(name), Buffer.from(value)];
  return Buffer.concat([Buffer.from([0]), hpackLength(n.length), n, hpackLength(v.length), v]);
}

/** An HPACK string length: a 7-bit prefix, continued in 7-bit groups (RFC 7541 section 5.1). */
function hpackLength(length: number): Buffer {
  if (length < 127) return Buffer.from([length]);
  const bytes = [127];
  let rest = length - 127;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}
