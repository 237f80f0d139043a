import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { ValidationError } from "@quintet/core";

/**
 * A writer for the GGUF v3 container (ggml's `docs/gguf.md`): little-endian header
 * (`GGUF`, version, tensor count, metadata count), typed metadata key/values, tensor
 * infos (name, dims with ne[0] first, ggml type, offset), then tensor data aligned to
 * `general.alignment`.
 */

/** GGUF metadata value types, numbered as in the spec. */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

export type GgufScalarKind =
  | "u8"
  | "i8"
  | "u16"
  | "i16"
  | "u32"
  | "i32"
  | "f32"
  | "bool"
  | "string"
  | "u64"
  | "i64"
  | "f64";

const KIND_TYPE: Record<GgufScalarKind, number> = {
  u8: GgufValueType.UINT8,
  i8: GgufValueType.INT8,
  u16: GgufValueType.UINT16,
  i16: GgufValueType.INT16,
  u32: GgufValueType.UINT32,
  i32: GgufValueType.INT32,
  f32: GgufValueType.FLOAT32,
  bool: GgufValueType.BOOL,
  string: GgufValueType.STRING,
  u64: GgufValueType.UINT64,
  i64: GgufValueType.INT64,
  f64: GgufValueType.FLOAT64,
};

/** One metadata value: a typed scalar or a homogeneous array of scalars. */
export type GgufValue =
  | { kind: Exclude<GgufScalarKind, "string" | "bool" | "u64" | "i64">; value: number }
  | { kind: "u64" | "i64"; value: bigint | number }
  | { kind: "bool"; value: boolean }
  | { kind: "string"; value: string }
  | { kind: "array"; of: "string"; values: readonly string[] }
  | { kind: "array"; of: Exclude<GgufScalarKind, "string" | "bool" | "u64" | "i64">; values: ArrayLike<number> }
  | { kind: "array"; of: "bool"; values: readonly boolean[] };

/** ggml tensor types this writer can emit (the float types; quantised blocks are not needed here). */
export const GgmlType = { F32: 0, F16: 1 } as const;
export type GgmlTypeName = keyof typeof GgmlType;

export interface GgufTensor {
  name: string;
  /** ggml order: `dims[0]` (ne[0]) is the contiguous row length. */
  dims: readonly number[];
  type: GgmlTypeName;
  /** Row-major data with `dims[0]` varying fastest; length must be the product of dims. */
  data: Float32Array;
}

export interface GgufFile {
  metadata: Record<string, GgufValue>;
  tensors: readonly GgufTensor[];
}

const DEFAULT_ALIGNMENT = 32;

/** A growable little-endian byte buffer. */
class ByteSink {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf.writeUInt8(v, this.length);
    this.length += 1;
  }
  i8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.length);
    this.length += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16LE(v, this.length);
    this.length += 2;
  }
  i16(v: number): void {
    this.ensure(2);
    this.buf.writeInt16LE(v, this.length);
    this.length += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
  }
  i32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32LE(v, this.length);
    this.length += 4;
  }
  f32(v: number): void {
    this.ensure(4);
    this.buf.writeFloatLE(v, this.length);
    this.length += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.length);
    this.length += 8;
  }
  u64(v: bigint | number): void {
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  i64(v: bigint | number): void {
    this.ensure(8);
    this.buf.writeBigInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  /** GGUF strings: u64 byte length then UTF-8 bytes, no terminator. */
  str(s: string): void {
    const bytes = Buffer.from(s, "utf8");
    this.u64(bytes.length);
    this.bytes(bytes);
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  padTo(alignment: number): void {
    const rem = this.length % alignment;
    if (rem !== 0) this.bytes(new Uint8Array(alignment - rem));
  }
  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

const SCALAR_WRITERS: Record<GgufScalarKind, (sink: ByteSink, v: unknown) => void> = {
  u8: (s, v) => s.u8(v as number),
  i8: (s, v) => s.i8(v as number),
  u16: (s, v) => s.u16(v as number),
  i16: (s, v) => s.i16(v as number),
  u32: (s, v) => s.u32(v as number),
  i32: (s, v) => s.i32(v as number),
  f32: (s, v) => s.f32(v as number),
  f64: (s, v) => s.f64(v as number),
  u64: (s, v) => s.u64(v as bigint | number),
  i64: (s, v) => s.i64(v as bigint | number),
  bool: (s, v) => s.u8(v ? 1 : 0),
  string: (s, v) => s.str(v as string),
};

function writeScalar(sink: ByteSink, kind: GgufScalarKind, v: unknown): void {
  SCALAR_WRITERS[kind](sink, v);
}

function writeValue(sink: ByteSink, value: GgufValue): void {
  if (value.kind === "array") {
    sink.u32(GgufValueType.ARRAY);
    sink.u32(KIND_TYPE[value.of]);
    sink.u64(value.values.length);
    for (let i = 0; i < value.values.length; i++) writeScalar(sink, value.of, value.values[i]);
    return;
  }
  sink.u32(KIND_TYPE[value.kind]);
  writeScalar(sink, value.kind, value.value);
}

function tensorByteSize(t: GgufTensor): number {
  const n = t.dims.reduce((a, b) => a * b, 1);
  return n * (t.type === "F32" ? 4 : 2);
}

function validateTensor(t: GgufTensor): void {
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.dims.length < 1 || t.dims.length > 4 || t.dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ValidationError(`GGUF tensor "${t.name}" has invalid dims [${t.dims.join(", ")}].`, {
      hint: "Give 1 to 4 positive integer dims, ne[0] (the row length) first.",
    });
  }
  if (t.data.length !== n) {
    throw new ValidationError(
      `GGUF tensor "${t.name}" has ${t.data.length} values but dims [${t.dims.join(", ")}] need ${n}.`,
      { hint: "Make the data length the product of the dims." },
    );
  }
}

/** Serialise a GGUF v3 file into memory. */
export function encodeGguf(file: GgufFile): Buffer {
  const alignmentValue = file.metadata["general.alignment"];
  const alignment = alignmentValue && alignmentValue.kind === "u32" ? alignmentValue.value : DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0) {
    throw new ValidationError(`general.alignment must be a power of two, got ${alignment}.`, {
      hint: "Leave general.alignment unset (32) or set it to a power of two as a u32.",
    });
  }
  const names = new Set<string>();
  for (const t of file.tensors) {
    validateTensor(t);
    if (names.has(t.name)) throw new ValidationError(`GGUF tensor name "${t.name}" is used twice.`);
    names.add(t.name);
  }

  const sink = new ByteSink();
  sink.bytes(Buffer.from("GGUF", "ascii"));
  sink.u32(3);
  sink.u64(file.tensors.length);
  const entries = Object.entries(file.metadata);
  sink.u64(entries.length);
  for (const [key, value] of entries) {
    sink.str(key);
    writeValue(sink, value);
  }

  // Offsets are relative to the start of the data section and each one aligned.
  let offset = 0;
  const offsets: number[] = [];
  for (const t of file.tensors) {
    offsets.push(offset);
    offset += tensorByteSize(t);
    offset = Math.ceil(offset / alignment) * alignment;
  }
  file.tensors.forEach((t, i) => {
    sink.str(t.name);
    sink.u32(t.dims.length);
    for (const d of t.dims) sink.u64(d);
    sink.u32(GgmlType[t.type]);
    sink.u64(offsets[i]!);
  });
  sink.padTo(alignment);

  for (const t of file.tensors) {
    if (t.type === "F32") {
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      // Float32Array is host-endian; every platform node-llama-cpp ships for is little-endian.
      sink.bytes(bytes);
    } else {
      for (let i = 0; i < t.data.length; i++) sink.u16(toHalf(t.data[i]!));
    }
    sink.padTo(alignment);
  }
  return Buffer.from(sink.view());
}

/** Write a GGUF file atomically (temp file + rename), so a crash never leaves half a model. */
export function writeGgufFile(path: string, file: GgufFile): { bytes: number } {
  const data = encodeGguf(file);
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const fd = openSync(tmp, "w");
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return { bytes: data.length };
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE 754 binary32 -> binary16 with round-to-nearest-even. */
export function toHalf(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}
