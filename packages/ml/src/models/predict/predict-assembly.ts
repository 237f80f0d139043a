/**
 * The batch predictor's WebAssembly module (generated into gbdt/kernel-bytes.ts at build
 * time, like the training kernels): walks a block of rows through every tree of a
 * compiled ensemble (compile.ts), in the same order and with the same comparisons as the
 * JavaScript walk, so the margins are the same bit for bit.
 */
import {
  ADD,
  ADD_F,
  AND,
  assemble,
  BLOCK,
  br,
  brIf,
  CONVERT_I32_S_F64,
  ELSE,
  END,
  EQ_F64,
  EQZ,
  F64,
  type Func,
  f64,
  GE_F,
  get,
  I32,
  IF,
  i32,
  LOOP,
  LT_F64,
  LT_S,
  load8,
  load32,
  loadF64,
  MUL,
  nextWhileBelow,
  OR,
  SHL,
  SHR_S,
  SHR_U,
  SUB,
  set,
  storeF64,
  TRUNC_F64_S,
  tee,
} from "../gbdt/wasm-encoding.js";

/** Node flags, as compile.ts sets them. */
export const PREDICT_FLAGS = { NAN_LEFT: 1, SLOW: 2, CAT: 4, CAT_SET_LEFT: 8, NAN_IS_ZERO: 16 } as const;

/**
 * predictBlock(rows, n, cols, trees, roots, groups, G, feat, child, thr, flags, cat, out):
 * for each tree t (root `roots[t]`, group `groups[t]`) and each of the `n` f64 rows at
 * `rows` (`cols` each), walks to a leaf and adds its value to `out[r * G + group]`. Nodes
 * as compile.ts lays them out: `feat` -1 at leaves (value in `thr`), children at
 * `child`, `child + 1`; CAT nodes' bitsets in `cat` from the index in `thr`. SLOW nodes
 * are not handled here (such ensembles take the JavaScript walk).
 */
function predictBlockKernel(): Func {
  const ROWS = 0;
  const N = 1;
  const COLS = 2;
  const TREES = 3;
  const ROOTS = 4;
  const GROUPS = 5;
  const G = 6;
  const FEAT = 7;
  const CHILD = 8;
  const THR = 9;
  const FLAGS = 10;
  const CAT = 11;
  const OUT = 12;
  // i32 locals
  const T = 13;
  const R = 14;
  // Local 15 is unused.
  const GROUP = 16;
  const ROW = 17;
  const NODE = 18;
  const F = 19;
  const FL = 20;
  const C = 21;
  const START = 22;
  const CODE = 23;
  const HIT = 24;
  const B = 25;
  const O = 26;
  // f64 locals
  const X = 27;
  const at4 = (base: number, index: number) => [...get(base), ...get(index), ...i32(2), ...SHL, ...ADD];
  /** B = 0 (left) or 1 (right) for the CAT node NODE and value X. */
  const catBranch = [
    // Missing: NaN (unless read as code 0) and negative codes go the default way.
    ...BLOCK,
    ...get(X),
    ...get(X),
    ...EQ_F64,
    ...EQZ,
    ...IF,
    ...get(FL),
    ...i32(PREDICT_FLAGS.NAN_IS_ZERO),
    ...AND,
    ...IF,
    ...f64(0),
    ...set(X),
    ...ELSE,
    ...i32(1),
    ...get(FL),
    ...i32(PREDICT_FLAGS.NAN_LEFT),
    ...AND,
    ...SUB,
    ...set(B),
    ...br(2),
    ...END,
    ...END,
    ...get(X),
    ...f64(0),
    ...LT_F64,
    ...IF,
    ...i32(1),
    ...get(FL),
    ...i32(PREDICT_FLAGS.NAN_LEFT),
    ...AND,
    ...SUB,
    ...set(B),
    ...br(1),
    ...END,
    ...get(THR),
    ...get(NODE),
    ...i32(3),
    ...SHL,
    ...ADD,
    ...loadF64(),
    ...TRUNC_F64_S,
    ...set(START),
    ...i32(0),
    ...set(HIT),
    // Codes past the set's words are not in it (this also keeps the truncation in range).
    ...get(X),
    ...at4(CAT, START),
    ...load32(),
    ...i32(32),
    ...MUL,
    ...CONVERT_I32_S_F64,
    ...LT_F64,
    ...IF,
    ...get(X),
    ...TRUNC_F64_S,
    ...set(CODE),
    ...get(CAT),
    ...get(START),
    ...i32(1),
    ...ADD,
    ...get(CODE),
    ...i32(5),
    ...SHR_S,
    ...ADD,
    ...i32(2),
    ...SHL,
    ...ADD,
    ...load32(),
    ...get(CODE),
    ...i32(31),
    ...AND,
    ...SHR_U,
    ...i32(1),
    ...AND,
    ...set(HIT),
    ...END,
    // Codes in the set go left with CAT_SET_LEFT, else right.
    ...get(FL),
    ...i32(PREDICT_FLAGS.CAT_SET_LEFT),
    ...AND,
    ...IF,
    ...i32(1),
    ...get(HIT),
    ...SUB,
    ...set(B),
    ...ELSE,
    ...get(HIT),
    ...set(B),
    ...END,
    ...END,
  ];
  const walk = [
    ...at4(ROOTS, T),
    ...load32(),
    ...set(NODE),
    ...at4(FEAT, NODE),
    ...load32(),
    ...set(F),
    ...BLOCK,
    ...get(F),
    ...i32(0),
    ...LT_S,
    ...brIf(0),
    ...LOOP,
    ...get(ROW),
    ...get(F),
    ...i32(3),
    ...SHL,
    ...ADD,
    ...loadF64(),
    ...set(X),
    ...get(FLAGS),
    ...get(NODE),
    ...ADD,
    ...load8(),
    ...set(FL),
    ...at4(CHILD, NODE),
    ...load32(),
    ...set(C),
    ...get(FL),
    ...i32(PREDICT_FLAGS.SLOW),
    ...LT_S,
    ...IF,
    // A plain numeric node: x >= thr goes right; NaN by its flag.
    ...get(X),
    ...get(X),
    ...EQ_F64,
    ...IF,
    ...get(C),
    ...get(X),
    ...get(THR),
    ...get(NODE),
    ...i32(3),
    ...SHL,
    ...ADD,
    ...loadF64(),
    ...GE_F,
    ...ADD,
    ...set(NODE),
    ...ELSE,
    ...get(C),
    ...i32(1),
    ...ADD,
    ...get(FL),
    ...SUB,
    ...set(NODE),
    ...END,
    ...ELSE,
    ...catBranch,
    ...get(C),
    ...get(B),
    ...ADD,
    ...set(NODE),
    ...END,
    ...at4(FEAT, NODE),
    ...load32(),
    ...tee(F),
    ...i32(0),
    ...LT_S,
    ...EQZ,
    ...brIf(0),
    ...END,
    ...END,
  ];
  const body = [
    ...BLOCK,
    ...get(TREES),
    ...i32(0),
    ...LT_S,
    ...get(TREES),
    ...EQZ,
    ...get(N),
    ...EQZ,
    ...OR,
    ...OR,
    ...brIf(0),
    ...LOOP,
    ...at4(GROUPS, T),
    ...load32(),
    ...set(GROUP),
    ...i32(0),
    ...set(R),
    ...get(ROWS),
    ...set(ROW),
    ...get(OUT),
    ...get(GROUP),
    ...i32(3),
    ...SHL,
    ...ADD,
    ...set(O),
    ...LOOP,
    ...walk,
    // out[r * G + group] += thr[leaf]
    ...get(O),
    ...get(O),
    ...loadF64(),
    ...get(THR),
    ...get(NODE),
    ...i32(3),
    ...SHL,
    ...ADD,
    ...loadF64(),
    ...ADD_F,
    ...storeF64(),
    ...get(O),
    ...get(G),
    ...i32(3),
    ...SHL,
    ...ADD,
    ...set(O),
    ...get(ROW),
    ...get(COLS),
    ...i32(3),
    ...SHL,
    ...ADD,
    ...set(ROW),
    ...nextWhileBelow(R, 1, N, true),
    ...nextWhileBelow(T, 1, TREES, true),
    ...END,
  ];
  return {
    params: 13,
    results: 0,
    locals: [
      [14, I32],
      [1, F64],
    ],
    body,
  };
}

/** What the predictor module exports (byte offsets into the memory it was given). */
export interface PredictExports {
  predictBlock(
    rows: number,
    n: number,
    cols: number,
    trees: number,
    roots: number,
    groups: number,
    G: number,
    feat: number,
    child: number,
    thr: number,
    flags: number,
    cat: number,
    out: number,
  ): void;
}

/** The predictor module's bytes, importing an unshared memory `env.memory`. */
export function predictModuleBytes(): Uint8Array {
  return assemble([["predictBlock", predictBlockKernel()]], false);
}
