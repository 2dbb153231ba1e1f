/** A tiny little-endian byte builder for on-disk records. */
export class Bytes {
  private buf: Buffer;
  private len = 0;

  constructor(capacity = 64) {
    this.buf = Buffer.alloc(capacity);
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  u16(v: number): this {
    this.room(2);
    this.buf.writeUInt16LE(v, this.len);
    this.len += 2;
    return this;
  }

  i16(v: number): this {
    this.room(2);
    this.buf.writeInt16LE(v, this.len);
    this.len += 2;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    this.buf.writeUInt32LE(v >>> 0, this.len);
    this.len += 4;
    return this;
  }

  /** u64 from a JS number below 2^53. */
  u64(v: number): this {
    this.room(8);
    this.buf.writeUInt32LE(v % 0x100000000, this.len);
    this.buf.writeUInt32LE(Math.floor(v / 0x100000000), this.len + 4);
    this.len += 8;
    return this;
  }

  /** Raw bytes; strings are byte strings (latin1). */
  raw(b: Uint8Array | string): this {
    const src = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
    this.room(src.length);
    this.buf.set(src, this.len);
    this.len += src.length;
    return this;
  }

  get length(): number {
    return this.len;
  }

  /** The bytes written so far (a view; do not keep across further writes). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}
