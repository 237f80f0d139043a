/**
 * A small WebAssembly binary encoder: LEB128 numbers, sections, the opcodes our kernels
 * use, and a module of functions over one imported memory. The kernel assemblers
 * (kernel-assembly.ts, binning-assembly.ts) write their functions with these; their
 * bytes are generated at build time into kernel-bytes.ts.
 */

export function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

export const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
export const vector = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

export const I32 = 0x7f;
export const V128 = 0x7b;
export const get = (i: number) => [0x20, ...uleb(i)];
export const set = (i: number) => [0x21, ...uleb(i)];
export const tee = (i: number) => [0x22, ...uleb(i)];
export const i32 = (v: number) => [0x41, ...sleb(v)];
export const ADD = [0x6a];
export const SUB = [0x6b];
export const MUL = [0x6c];
export const SHL = [0x74];
export const GE_U = [0x4f];
export const GT_U = [0x4b];
export const LT_U = [0x49];
export const load32 = (offset = 0) => [0x28, 2, ...uleb(offset)];
export const store32 = (offset = 0) => [0x36, 2, ...uleb(offset)];
export const load8 = (offset = 0) => [0x2d, 0, ...uleb(offset)];
export const loadF64 = (offset = 0) => [0x2b, 3, ...uleb(offset)];
export const storeF64 = (offset = 0) => [0x39, 3, ...uleb(offset)];
export const ADD_F64 = [0xa0];
export const loadV128 = (offset = 0) => [0xfd, 0x00, 4, ...uleb(offset)];
export const storeV128 = (offset = 0) => [0xfd, 0x0b, 4, ...uleb(offset)];
export const ADD_F64X2 = [0xfd, ...uleb(240)];
export const SUB_F64X2 = [0xfd, ...uleb(241)];
export const MEMORY_COPY = [0xfc, ...uleb(10), 0, 0];
export const F64 = 0x7c;
export const AND = [0x71];
export const GT_S = [0x4a];
export const LT_S = [0x48];
export const LE_S = [0x4c];
export const SELECT = [0x1b];
export const ADD_F = [0xa0];
export const SUB_F = [0xa1];
export const GT_F = [0x64];
export const GE_F = [0x66];
export const MUL_F64X2 = [0xfd, ...uleb(242)];
export const DIV_F64X2 = [0xfd, ...uleb(243)];
export const SPLAT_F64X2 = [0xfd, ...uleb(20)];
export const lane = (i: number) => [0xfd, ...uleb(33), i];
export const replaceLane = (i: number) => [0xfd, ...uleb(34), i];
/** i8x16.shuffle picking the 64-bit lane `a` of the first operand and lane `b` of the second. */
export const pairOf = (a: number, b: number) => [
  0xfd,
  0x0d,
  ...Array.from({ length: 8 }, (_, i) => a * 8 + i),
  ...Array.from({ length: 8 }, (_, i) => 16 + b * 8 + i),
];
export const IF = [0x04, 0x40];
/** `block` and `loop` with no result; `end`; branches by relative depth. */
export const BLOCK = [0x02, 0x40];
export const LOOP = [0x03, 0x40];
export const END = [0x0b];
export const br = (depth: number) => [0x0c, ...uleb(depth)];
export const brIf = (depth: number) => [0x0d, ...uleb(depth)];

export interface Func {
  /** Parameter count (all i32) or types. */
  params: number | number[];
  results: number;
  /** Extra locals as [count, type] groups. */
  locals: [number, number][];
  body: number[];
}

/**
 * A module importing memory `env.memory` (shared or not, as it will be given) and
 * exporting `funcs` under their names. Results are i32.
 */
export function assemble(funcs: readonly (readonly [string, Func])[], shared: boolean): Uint8Array {
  const types = funcs.map(([, f]) => [
    0x60,
    ...vector((typeof f.params === "number" ? Array.from({ length: f.params }, () => I32) : f.params).map((t) => [t])),
    ...vector(Array.from({ length: f.results }, () => [I32])),
  ]);
  // A shared memory must declare a maximum; 65536 pages is the whole 32-bit space.
  const limits = shared ? [0x03, 1, ...uleb(65536)] : [0x00, 1];
  const codes = funcs.map(([, f]) => {
    const body = [...vector(f.locals.map(([n, t]) => [...uleb(n), t])), ...f.body, ...END];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vector(types)),
    ...section(2, vector([[...name("env"), ...name("memory"), 0x02, ...limits]])),
    ...section(3, vector(funcs.map((_, i) => uleb(i)))),
    ...section(7, vector(funcs.map(([n], i) => [...name(n), 0x00, ...uleb(i)]))),
    ...section(10, vector(codes)),
  ]);
}

// Integer, float-conversion and memory opcodes of the binning kernels.
export const F32 = 0x7d;
export const EQZ = [0x45];
export const EQ = [0x46];
export const NE = [0x47];
export const LE_U = [0x4d];
export const OR = [0x72];
export const XOR = [0x73];
export const SHR_S = [0x75];
export const SHR_U = [0x76];
export const EQ_F64 = [0x61];
export const LT_F64 = [0x63];
export const LE_F32 = [0x5f];
export const TRUNC_F64_S = [0xaa];
export const CONVERT_I32_S_F64 = [0xb7];
export const DEMOTE_F64 = [0xb6];
export const PROMOTE_F32 = [0xbb];
export const BITS_OF_F32 = [0xbc];
export const F32_OF_BITS = [0xbe];
export const ELSE = [0x05];
export const RETURN = [0x0f];
export const MEMORY_FILL = [0xfc, 11, 0];
export const loadF32 = (offset = 0) => [0x2a, 2, ...uleb(offset)];
export const store8 = (offset = 0) => [0x3a, 0, ...uleb(offset)];
export const f64 = (v: number) => [0x44, ...new Uint8Array(new Float64Array([v]).buffer)];
export const MUL_F = [0xa2];
export const DIV_F = [0xa3];
export const LE_F = [0x65];
export const GE_S = [0x4e];
/** `call` of function index `i` in the module. */
export const call = (i: number) => [0x10, ...uleb(i)];

/**
 * Opens a `block` and a `loop` in it, skipping both when local `counter` is not below
 * local `end` (unsigned): the head of a loop that {@link nextWhileBelow} closes (the
 * block's own `end` follows).
 */
export const loopWhileBelow = (counter: number, end: number) => [
  ...BLOCK,
  ...get(counter),
  ...get(end),
  ...GE_U,
  ...brIf(0),
  ...LOOP,
];

/**
 * The tail of a counted `loop`: adds `step` to local `counter`, branches back while it is
 * below local `end` (compared unsigned, or signed), and closes the loop.
 */
export const nextWhileBelow = (counter: number, step: number, end: number, signed = false) => [
  ...get(counter),
  ...i32(step),
  ...ADD,
  ...tee(counter),
  ...get(end),
  ...(signed ? LT_S : LT_U),
  ...brIf(0),
  ...END,
];
