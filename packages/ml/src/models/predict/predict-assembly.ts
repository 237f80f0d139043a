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
  GE_S,
  GT_S,
  get,
  I32,
  IF,
  i32,
  LE_S,
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
function predictBlockKernel(lanes: number): Func {
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
  const ROOT = 15;
  const GROUP = 16;
  const ROW = 17;
  const ROOT_F = 18;
  const FL = 19;
  const C = 20;
  const START = 21;
  const CODE = 22;
  const HIT = 23;
  const B = 24;
  const O = 25;
  const ACTIVE = 26;
  /** Per lane: its node, the node's feature (-1 at a leaf) and its row's address. */
  const NODE = (lane: number) => 27 + 3 * lane;
  const F = (lane: number) => 28 + 3 * lane;
  const ROW_AT = (lane: number) => 29 + 3 * lane;
  const I32_LOCALS = 27 + 3 * lanes - 13;
  // f64 locals
  const X = 27 + 3 * lanes;
  const at4 = (base: number, index: number) => [...get(base), ...get(index), ...i32(2), ...SHL, ...ADD];
  /** B = the side missing values take: 0 (left) with NAN_LEFT, else 1. */
  const defaultSide = [...i32(1), ...get(FL), ...i32(PREDICT_FLAGS.NAN_LEFT), ...AND, ...SUB, ...set(B)];
  /** B = 0 (left) or 1 (right) for the CAT node `node` and value X (flags FL). */
  const catBranch = (node: number) => [
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
    ...defaultSide,
    ...br(2),
    ...END,
    ...END,
    ...get(X),
    ...f64(0),
    ...LT_F64,
    ...IF,
    ...defaultSide,
    ...br(1),
    ...END,
    ...get(THR),
    ...get(node),
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
  /** Moves lane `lane` (not at a leaf) one node down. */
  const step = (lane: number) => [
    ...get(ROW_AT(lane)),
    ...get(F(lane)),
    ...i32(3),
    ...SHL,
    ...ADD,
    ...loadF64(),
    ...set(X),
    ...get(FLAGS),
    ...get(NODE(lane)),
    ...ADD,
    ...load8(),
    ...set(FL),
    ...at4(CHILD, NODE(lane)),
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
    ...get(NODE(lane)),
    ...i32(3),
    ...SHL,
    ...ADD,
    ...loadF64(),
    ...GE_F,
    ...ADD,
    ...set(NODE(lane)),
    ...ELSE,
    ...get(C),
    ...i32(1),
    ...ADD,
    ...get(FL),
    ...SUB,
    ...set(NODE(lane)),
    ...END,
    ...ELSE,
    ...catBranch(NODE(lane)),
    ...get(C),
    ...get(B),
    ...ADD,
    ...set(NODE(lane)),
    ...END,
    ...at4(FEAT, NODE(lane)),
    ...load32(),
    ...set(F(lane)),
  ];
  /** One step of every lane not at a leaf yet; loops while any moved to an inner node. */
  const walkStep = (lanes: number) => [
    ...i32(0),
    ...set(ACTIVE),
    ...Array.from({ length: lanes }, (_, i) => [
      ...get(F(i)),
      ...i32(0),
      ...GE_S,
      ...IF,
      ...step(i),
      ...get(ACTIVE),
      ...get(F(i)),
      ...i32(0),
      ...GE_S,
      ...OR,
      ...set(ACTIVE),
      ...END,
    ]).flat(),
    ...get(ACTIVE),
    ...brIf(0),
  ];
  /**
   * Walks `lanes` rows from ROW (consecutive) through tree T together, so the lanes' node
   * loads overlap, then adds each leaf to its row's margin from O; advances R, ROW and O.
   */
  const walkRows = (lanes: number) => {
    const lanesOf = (f: (lane: number) => number[]) => Array.from({ length: lanes }, (_, i) => f(i)).flat();
    return [
      ...lanesOf((i) => [
        ...get(ROOT),
        ...set(NODE(i)),
        ...get(ROOT_F),
        ...set(F(i)),
        ...get(ROW),
        ...i32(i),
        ...get(COLS),
        ...MUL,
        ...i32(3),
        ...SHL,
        ...ADD,
        ...set(ROW_AT(i)),
      ]),
      ...BLOCK,
      ...get(ROOT_F),
      ...i32(0),
      ...LT_S,
      ...brIf(0),
      ...LOOP,
      ...(lanes === 1 ? [...step(0), ...get(F(0)), ...i32(0), ...GE_S, ...brIf(0)] : walkStep(lanes)),
      ...END,
      ...END,
      // out[r * G + group] += thr[leaf], lane by lane.
      ...lanesOf((i) => [
        ...get(O),
        ...get(O),
        ...loadF64(),
        ...get(THR),
        ...get(NODE(i)),
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
      ]),
      ...get(ROW),
      ...get(COLS),
      ...i32(3 + Math.log2(lanes)),
      ...SHL,
      ...ADD,
      ...set(ROW),
      ...get(R),
      ...i32(lanes),
      ...ADD,
      ...set(R),
    ];
  };
  const body = [
    ...BLOCK,
    ...get(TREES),
    ...i32(0),
    ...LE_S,
    ...get(N),
    ...EQZ,
    ...OR,
    ...brIf(0),
    ...LOOP,
    ...at4(GROUPS, T),
    ...load32(),
    ...set(GROUP),
    ...at4(ROOTS, T),
    ...load32(),
    ...tee(ROOT),
    ...i32(2),
    ...SHL,
    ...get(FEAT),
    ...ADD,
    ...load32(),
    ...set(ROOT_F),
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
    // `lanes` rows at a time while that many remain, then one at a time.
    ...(lanes > 1
      ? [
          ...BLOCK,
          ...LOOP,
          ...get(R),
          ...i32(lanes),
          ...ADD,
          ...get(N),
          ...GT_S,
          ...brIf(1),
          ...walkRows(lanes),
          ...br(0),
          ...END,
          ...END,
        ]
      : []),
    ...BLOCK,
    ...LOOP,
    ...get(R),
    ...get(N),
    ...GE_S,
    ...brIf(1),
    ...walkRows(1),
    ...br(0),
    ...END,
    ...END,
    ...nextWhileBelow(T, 1, TREES, true),
    ...END,
  ];
  return {
    params: 13,
    results: 0,
    locals: [
      [I32_LOCALS, I32],
      [1, F64],
    ],
    body,
  };
}

/** Rows walked through a tree together in batches (their node loads overlap). */
const LANES = 4;

/**
 * A walk of `n` rows at `rows` through every tree into `out` (see predictBlockKernel);
 * every pointer is a byte offset into the module's memory.
 */
export type PredictWalk = (
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
) => void;

/** What the predictor module exports. */
export interface PredictExports {
  /** Blocks of rows, four lanes at a time. */
  predictBlock: PredictWalk;
  /** Single rows: the same walk in a smaller function, one lane. */
  predictRows: PredictWalk;
}

/** The predictor module's bytes, importing an unshared memory `env.memory`. */
export function predictModuleBytes(): Uint8Array {
  return assemble(
    [
      ["predictBlock", predictBlockKernel(LANES)],
      ["predictRows", predictBlockKernel(1)],
    ],
    false,
  );
}
