import { ValidationError } from "@quintet/core";

/**
 * A decoder for Universal Binary JSON (ubjson.org, draft 12), the binary form XGBoost
 * writes for `*.ubj` models. Supports every value type, and the optimised containers
 * (`$` type and `#` count) XGBoost uses for its big arrays; strongly typed numeric arrays
 * come back as typed arrays so a 100k-node model decodes without boxing each number.
 */
export type UbjValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | UbjValue[]
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Int32Array
  | { [key: string]: UbjValue };

const utf8 = new TextDecoder("utf-8", { fatal: true });

class Reader {
  pos = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(msg: string): never {
    throw new ValidationError(`UBJSON: ${msg} at byte ${this.pos}`, {
      hint: "The file is truncated or not UBJSON; re-save the model (booster.save_model('model.ubj')).",
    });
  }

  need(n: number): void {
    if (this.pos + n > this.bytes.length) this.fail(`unexpected end of data (needed ${n} more bytes)`);
  }

  byte(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }

  /** Next marker, skipping no-op (`N`) padding. */
  marker(): number {
    let m = this.byte();
    while (m === 0x4e) m = this.byte();
    return m;
  }

  peek(): number {
    this.need(1);
    return this.bytes[this.pos]!;
  }

  scalar(type: number): number | bigint | boolean | null | string {
    const v = this.view;
    let p = this.pos;
    switch (type) {
      case 0x69: // i int8
        this.need(1);
        this.pos += 1;
        return v.getInt8(p);
      case 0x55: // U uint8
        this.need(1);
        this.pos += 1;
        return v.getUint8(p);
      case 0x49: // I int16
        this.need(2);
        this.pos += 2;
        return v.getInt16(p);
      case 0x6c: // l int32
        this.need(4);
        this.pos += 4;
        return v.getInt32(p);
      case 0x4c: {
        // L int64: a number when it fits exactly, else a bigint
        this.need(8);
        this.pos += 8;
        const b = v.getBigInt64(p);
        return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
      }
      case 0x64: // d float32
        this.need(4);
        this.pos += 4;
        return v.getFloat32(p);
      case 0x44: // D float64
        this.need(8);
        this.pos += 8;
        return v.getFloat64(p);
      case 0x54: // T
        return true;
      case 0x46: // F
        return false;
      case 0x5a: // Z
        return null;
      case 0x43: // C char
        this.need(1);
        this.pos += 1;
        return String.fromCharCode(v.getUint8(p));
      case 0x53: // S string
        return this.string();
      case 0x48: {
        // H high-precision number, carried as a decimal string
        const s = this.string();
        const n = Number(s);
        if (Number.isNaN(n)) this.fail(`high-precision number "${s}" is not a number`);
        return n;
      }
      default:
        p = this.pos - 1;
        this.pos = p;
        return this.fail(`unknown type marker 0x${type.toString(16)} ('${String.fromCharCode(type)}')`);
    }
  }

  length(): number {
    const t = this.marker();
    const n = this.scalar(t);
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0) this.fail(`invalid length ${String(n)}`);
    return n;
  }

  string(): string {
    const n = this.length();
    this.need(n);
    const s = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return utf8.decode(s);
    } catch {
      return this.fail("string is not valid UTF-8");
    }
  }

  value(type: number, depth: number): UbjValue {
    if (depth > 256) this.fail("nesting deeper than 256 levels");
    if (type === 0x5b) return this.array(depth);
    if (type === 0x7b) return this.object(depth);
    return this.scalar(type);
  }

  /** Reads the optional `$type` and `#count` header of a container. */
  header(): { type: number | undefined; count: number | undefined } {
    let type: number | undefined;
    let count: number | undefined;
    if (this.peek() === 0x24) {
      this.pos++;
      type = this.byte();
      if (this.peek() !== 0x23) this.fail("a typed container ($) must give a count (#)");
    }
    if (this.peek() === 0x23) {
      this.pos++;
      count = this.length();
    }
    return { type, count };
  }

  array(depth: number): UbjValue {
    const { type, count } = this.header();
    if (count !== undefined && type !== undefined) {
      const typed = this.typedArray(type, count);
      if (typed) return typed;
    }
    const out: UbjValue[] = [];
    if (count !== undefined) {
      // Guard against a corrupt count asking for billions of elements.
      if (type === undefined || (type !== 0x5a && type !== 0x54 && type !== 0x46)) this.need(Math.min(count, 1 << 30));
      for (let i = 0; i < count; i++) out.push(this.value(type ?? this.marker(), depth + 1));
      return out;
    }
    for (;;) {
      const m = this.marker();
      if (m === 0x5d) return out;
      out.push(this.value(m, depth + 1));
    }
  }

  typedArray(type: number, count: number): UbjValue | undefined {
    const size = { 105: 1, 85: 1, 73: 2, 108: 4, 100: 4, 68: 8 }[type];
    if (size === undefined) return undefined;
    this.need(count * size);
    const v = this.view;
    const p = this.pos;
    this.pos += count * size;
    switch (type) {
      case 0x55:
        return this.bytes.slice(p, p + count);
      case 0x69: {
        const a = new Int8Array(count);
        for (let i = 0; i < count; i++) a[i] = v.getInt8(p + i);
        return a;
      }
      case 0x49: {
        const a = new Int16Array(count);
        for (let i = 0; i < count; i++) a[i] = v.getInt16(p + 2 * i);
        return a;
      }
      case 0x6c: {
        const a = new Int32Array(count);
        for (let i = 0; i < count; i++) a[i] = v.getInt32(p + 4 * i);
        return a;
      }
      case 0x64: {
        const a = new Float32Array(count);
        for (let i = 0; i < count; i++) a[i] = v.getFloat32(p + 4 * i);
        return a;
      }
      default: {
        const a = new Float64Array(count);
        for (let i = 0; i < count; i++) a[i] = v.getFloat64(p + 8 * i);
        return a;
      }
    }
  }

  object(depth: number): UbjValue {
    const { type, count } = this.header();
    const out: { [key: string]: UbjValue } = {};
    const put = (k: string, val: UbjValue) => {
      // Own data property, so a key like "__proto__" cannot reach the prototype.
      Object.defineProperty(out, k, { value: val, enumerable: true, writable: true, configurable: true });
    };
    if (count !== undefined) {
      for (let i = 0; i < count; i++) {
        const k = this.string();
        put(k, this.value(type ?? this.marker(), depth + 1));
      }
      return out;
    }
    for (;;) {
      if (this.peek() === 0x7d) {
        this.pos++;
        return out;
      }
      if (this.peek() === 0x4e) {
        this.pos++;
        continue;
      }
      const k = this.string();
      put(k, this.value(this.marker(), depth + 1));
    }
  }
}

/** Decodes one UBJSON value that must span all of `bytes`. */
export function decodeUbjson(bytes: Uint8Array): UbjValue {
  const r = new Reader(bytes);
  const v = r.value(r.marker(), 0);
  if (r.pos !== bytes.length) r.fail(`${bytes.length - r.pos} trailing bytes after the value`);
  return v;
}
