/**
 * The assembler of the histogram kernels' WebAssembly module, from opcodes: the source of
 * the bytes in kernel-bytes.ts, which is generated from it (`npm run gen:kernels -w
 * @quintet/ml`; a test fails when the two differ). Assembling costs 10-15 ms of cold
 * JavaScript in every process and every histogram worker, so it happens at build time,
 * not at load.
 */

import {
  EXACT_FEATURE_BYTES,
  EXP_LIMIT,
  INV_LN2,
  LN2_HI,
  LN2_LO,
  MIN_HESS,
  P1,
  P2,
  P3,
  P4,
  P5,
  PACKED_FEATURE_BYTES,
  ROUND,
  SMALL_BINS,
} from "./kernel-constants.js";
import type { KernelExports } from "./kernels.js";
import { categoryScanKernel, nodeScanKernel } from "./split-scan-assembly.js";
import {
  ADD,
  ADD_F,
  ADD_F64,
  ADD_F64X2,
  AND,
  assemble,
  BLOCK,
  br,
  brIf,
  call,
  DIV_F64X2,
  END,
  F64,
  type Func,
  GE_F,
  GE_U,
  GT_F,
  GT_S,
  GT_U,
  get,
  I32,
  IF,
  i32,
  LE_S,
  LOOP,
  LT_S,
  LT_U,
  lane,
  load8,
  load32,
  loadF64,
  loadV128,
  loopWhileBelow,
  MEMORY_COPY,
  MUL,
  MUL_F64X2,
  nextWhileBelow,
  OR,
  pairOf,
  replaceLane,
  SELECT,
  SHL,
  SPLAT_F64X2,
  SUB,
  SUB_F,
  SUB_F64X2,
  set,
  store32,
  storeF64,
  storeV128,
  tee,
  uleb,
  V128,
} from "./wasm-encoding.js";

/**
 * A histogram kernel. `packed` selects one f64 per row (else a v128 (grad, hess) pair);
 * `sparse` reads feature ids from `feats` (else features `f0..f1` in order). Features go
 * four at a time so independent read-modify-writes overlap.
 */
function histKernel(packed: boolean, sparse: boolean): Func {
  // Params: hist bins cols grad idx start end, then f0 f1 (dense) or feats fi0 fi1 (sparse).
  const HIST = 0;
  const BINS = 1;
  const COLS = 2;
  const GRAD = 3;
  const IDX = 4;
  const START = 5;
  const END_ = 6;
  const FEATS = 7;
  const FI0 = sparse ? 8 : 7;
  const FI1 = sparse ? 9 : 8;
  const params = sparse ? 10 : 9;
  // Locals: k (byte offset into idx), kEnd, rowBase, i (feature index), p, feature, value.
  const K = params;
  const KEND = params + 1;
  const RB = params + 2;
  const I = params + 3;
  const P = params + 4;
  const F = params + 5;
  const VAL = params + 6;
  const featBytes = packed ? PACKED_FEATURE_BYTES : EXACT_FEATURE_BYTES;
  const featShift = packed ? 11 : 12;
  const binShift = packed ? 3 : 4;
  const load = packed ? loadF64 : loadV128;
  const store = packed ? storeF64 : storeV128;
  const add = packed ? ADD_F64 : ADD_F64X2;

  /** hist[feature j of this step][bin] += value. */
  const cell = (j: number): number[] => {
    if (sparse) {
      return [
        ...get(FEATS),
        ...get(I),
        ...i32(2),
        ...SHL,
        ...ADD,
        ...load32(4 * j),
        ...tee(F),
        ...i32(featShift),
        ...SHL,
        ...get(HIST),
        ...ADD,
        ...get(RB),
        ...get(F),
        ...ADD,
        ...load8(),
        ...i32(binShift),
        ...SHL,
        ...ADD,
        ...tee(P),
        ...get(P),
        ...load(),
        ...get(VAL),
        ...add,
        ...store(),
      ];
    }
    // Dense: feature i + j; its offset goes into the instructions' immediates.
    return [
      ...get(I),
      ...i32(featShift),
      ...SHL,
      ...get(HIST),
      ...ADD,
      ...get(RB),
      ...get(I),
      ...ADD,
      ...load8(j),
      ...i32(binShift),
      ...SHL,
      ...ADD,
      ...tee(P),
      ...get(P),
      ...load(featBytes * j),
      ...get(VAL),
      ...add,
      ...store(featBytes * j),
    ];
  };

  const body = [
    ...get(IDX),
    ...get(START),
    ...i32(2),
    ...SHL,
    ...ADD,
    ...set(K),
    ...get(IDX),
    ...get(END_),
    ...i32(2),
    ...SHL,
    ...ADD,
    ...set(KEND),
    ...loopWhileBelow(K, KEND),
    // row = idx[k]; value = grad[row]; rowBase = bins + row * cols
    ...get(K),
    ...load32(),
    ...tee(F),
    ...i32(binShift),
    ...SHL,
    ...get(GRAD),
    ...ADD,
    ...load(),
    ...set(VAL),
    ...get(F),
    ...get(COLS),
    ...MUL,
    ...get(BINS),
    ...ADD,
    ...set(RB),
    ...get(FI0),
    ...set(I),
    // Four features per step while four remain.
    ...BLOCK,
    ...LOOP,
    ...get(I),
    ...i32(4),
    ...ADD,
    ...get(FI1),
    ...GT_U,
    ...brIf(1),
    ...cell(0),
    ...cell(1),
    ...cell(2),
    ...cell(3),
    ...get(I),
    ...i32(4),
    ...ADD,
    ...set(I),
    ...br(0),
    ...END,
    ...END,
    // The remaining features one by one.
    ...BLOCK,
    ...LOOP,
    ...get(I),
    ...get(FI1),
    ...GE_U,
    ...brIf(1),
    ...cell(0),
    ...get(I),
    ...i32(1),
    ...ADD,
    ...set(I),
    ...br(0),
    ...END,
    ...END,
    ...nextWhileBelow(K, 4, KEND),
    ...END,
  ];
  return {
    params,
    results: 0,
    locals: [
      [6, I32],
      [1, packed ? 0x7c : V128],
    ],
    body,
  };
}

/**
 * Stable partition; see {@link KernelExports.partition}. Four rows a step: their bins'
 * goLeft bits make a 4-bit mask, and one swizzle each (patterns at `shuffles`, 16 bytes
 * per mask, left ones then right ones) packs the rows going left to `idx[l..]` and the
 * others to the scratch rows, in order; the last 0-3 rows go one at a time. A step stores
 * four rows on each side, where fewer may be valid: the extra lanes land at positions a
 * later step or the final copy overwrites, all inside the range.
 */
function partitionKernel(): Func {
  const IDX = 0;
  const START = 1;
  const END_ = 2;
  const COL = 3;
  const GO = 4;
  const SCRATCH = 5;
  const SHUFFLES = 6;
  // Locals: k, kEnd (byte offsets), l (byte offset of the next left slot), r (scratch bytes), row, left, mask.
  const K = 7;
  const KEND = 8;
  const L = 9;
  const R = 10;
  const ROW = 11;
  const LEFT = 12;
  const MASK = 13;
  const V = 14;
  const op = (code: number) => [0xfd, ...uleb(code)];
  const SWIZZLE = op(14);
  const extract = (lane: number) => [...op(27), lane];
  const POPCNT = [0x69];
  /** goLeft[col[row of lane]] shifted to bit `lane`. */
  const bit = (lane: number) => [
    ...get(GO),
    ...get(COL),
    ...get(V),
    ...extract(lane),
    ...ADD,
    ...load8(),
    ...ADD,
    ...load8(),
    ...(lane > 0 ? [...i32(lane), ...SHL] : []),
  ];
  const body = [
    ...get(IDX),
    ...get(START),
    ...i32(2),
    ...SHL,
    ...ADD,
    ...tee(K),
    ...set(L),
    ...get(IDX),
    ...get(END_),
    ...i32(2),
    ...SHL,
    ...ADD,
    ...set(KEND),
    ...i32(0),
    ...set(R),
    // Steps of four rows while four remain.
    ...BLOCK,
    ...get(KEND),
    ...get(K),
    ...SUB,
    ...i32(16),
    ...LT_U,
    ...brIf(0),
    ...LOOP,
    ...get(K),
    ...loadV128(),
    ...set(V),
    ...bit(0),
    ...bit(1),
    ...OR,
    ...bit(2),
    ...OR,
    ...bit(3),
    ...OR,
    ...i32(4),
    ...SHL,
    ...get(SHUFFLES),
    ...ADD,
    ...set(MASK),
    ...get(L),
    ...get(V),
    ...get(MASK),
    ...loadV128(),
    ...SWIZZLE,
    ...storeV128(),
    ...get(SCRATCH),
    ...get(R),
    ...ADD,
    ...get(V),
    ...get(MASK),
    ...loadV128(256),
    ...SWIZZLE,
    ...storeV128(),
    // The mask's pattern pointer holds the mask in bits 4-7 above a 16-aligned base: the
    // count of rows going left is the popcount of those bits.
    ...get(MASK),
    ...get(SHUFFLES),
    ...SUB,
    ...POPCNT,
    ...i32(2),
    ...SHL,
    ...tee(LEFT),
    ...get(L),
    ...ADD,
    ...set(L),
    ...get(R),
    ...i32(16),
    ...ADD,
    ...get(LEFT),
    ...SUB,
    ...set(R),
    ...get(KEND),
    ...get(K),
    ...i32(16),
    ...ADD,
    ...tee(K),
    ...SUB,
    ...i32(16),
    ...GE_U,
    ...brIf(0),
    ...END,
    ...END,
    // The last rows one at a time.
    ...loopWhileBelow(K, KEND),
    ...get(K),
    ...load32(),
    ...set(ROW),
    ...get(GO),
    ...get(COL),
    ...get(ROW),
    ...ADD,
    ...load8(),
    ...ADD,
    ...load8(),
    ...set(LEFT),
    // Branch-free, as the JavaScript version: idx[l] was already read (l <= k).
    ...get(L),
    ...get(ROW),
    ...store32(),
    ...get(SCRATCH),
    ...get(R),
    ...ADD,
    ...get(ROW),
    ...store32(),
    ...get(L),
    ...get(LEFT),
    ...i32(2),
    ...SHL,
    ...ADD,
    ...set(L),
    ...get(R),
    ...i32(4),
    ...ADD,
    ...get(LEFT),
    ...i32(2),
    ...SHL,
    ...SUB,
    ...set(R),
    ...nextWhileBelow(K, 4, KEND),
    ...END,
    ...get(L),
    ...get(SCRATCH),
    ...get(R),
    ...MEMORY_COPY,
    // The first right position, as an index.
    ...get(L),
    ...get(IDX),
    ...SUB,
    ...i32(2),
    0x76, // i32.shr_u
  ];
  return {
    params: 7,
    results: 1,
    locals: [
      [7, I32],
      [1, V128],
    ],
    body,
  };
}

/** `parent -= child` (`op` SUB_F64X2) or `parent += child` (ADD_F64X2), two doubles at a time. */
function combineKernel(op: number[]): Func {
  const PARENT = 0;
  const CHILD = 1;
  const N = 2;
  const END_P = 3;
  const body = [
    ...get(PARENT),
    ...get(N),
    ...i32(3),
    ...SHL,
    ...ADD,
    ...set(END_P),
    ...loopWhileBelow(PARENT, END_P),
    ...get(PARENT),
    ...get(PARENT),
    ...loadV128(),
    ...get(CHILD),
    ...loadV128(),
    ...op,
    ...storeV128(),
    ...get(PARENT),
    ...i32(16),
    ...ADD,
    ...set(PARENT),
    ...get(CHILD),
    ...i32(16),
    ...ADD,
    ...set(CHILD),
    ...get(PARENT),
    ...get(END_P),
    ...LT_U,
    ...brIf(0),
    ...END,
    ...END,
  ];
  return { params: 3, results: 0, locals: [[1, I32]], body };
}

/**
 * addLeaves(margin, idx, leaves, count): for each of `count` leaf records at `leaves`
 * (16 bytes: start i32, end i32, value f64), adds the value to the f64 margin of every
 * row `idx[start..end)`. Leaves hold disjoint rows, so the order changes nothing.
 */
function addLeavesKernel(): Func {
  const MARGIN = 0;
  const IDX = 1;
  const LEAVES = 2;
  const COUNT = 3;
  const REC = 4;
  const REC_END = 5;
  const K = 6;
  const K_END = 7;
  const M = 8;
  const V = 9;
  const body = [
    ...get(LEAVES),
    ...tee(REC),
    ...get(COUNT),
    ...i32(4),
    ...SHL,
    ...ADD,
    ...set(REC_END),
    ...loopWhileBelow(REC, REC_END),
    ...get(REC),
    ...loadF64(8),
    ...set(V),
    ...get(IDX),
    ...get(REC),
    ...load32(),
    ...i32(2),
    ...SHL,
    ...ADD,
    ...set(K),
    ...get(IDX),
    ...get(REC),
    ...load32(4),
    ...i32(2),
    ...SHL,
    ...ADD,
    ...set(K_END),
    ...loopWhileBelow(K, K_END),
    ...get(MARGIN),
    ...get(K),
    ...load32(),
    ...i32(3),
    ...SHL,
    ...ADD,
    ...tee(M),
    ...get(M),
    ...loadF64(),
    ...get(V),
    ...ADD_F,
    ...storeF64(),
    ...nextWhileBelow(K, 4, K_END),
    ...END,
    ...nextWhileBelow(REC, 16, REC_END),
    ...END,
  ];
  return {
    params: 4,
    results: 0,
    locals: [
      [5, I32],
      [1, F64],
    ],
    body,
  };
}

/**
 * `combine` (the function index of `subtract` or `add`) over the features `feats[0..count)`
 * of two histograms: feature f at `f * featureBytes`, its `lens[f]` doubles (even). One
 * call per node where there was one per feature.
 */
function combineListKernel(combine: number): Func {
  const PARENT = 0;
  const CHILD = 1;
  const FEATS = 2;
  const COUNT = 3;
  const LENS = 4;
  const FEATURE_BYTES = 5;
  const P = 6;
  const PEND = 7;
  const OFF = 8;
  const F = 9;
  const body = [
    ...get(FEATS),
    ...tee(P),
    ...get(COUNT),
    ...i32(2),
    ...SHL,
    ...ADD,
    ...set(PEND),
    ...loopWhileBelow(P, PEND),
    ...get(P),
    ...load32(),
    ...tee(F),
    ...get(FEATURE_BYTES),
    ...MUL,
    ...set(OFF),
    ...get(PARENT),
    ...get(OFF),
    ...ADD,
    ...get(CHILD),
    ...get(OFF),
    ...ADD,
    ...get(LENS),
    ...get(F),
    ...i32(2),
    ...SHL,
    ...ADD,
    ...load32(),
    ...call(combine),
    ...nextWhileBelow(P, 4, PEND),
    ...END,
  ];
  return { params: 6, results: 0, locals: [[4, I32]], body };
}

/**
 * The numeric split scan, operation for operation as `SplitFinder.findNumeric`'s common
 * case: the running (grad, hess) sums are one f64x2, and the left and right children's
 * g² / (h + lambda) come from one f64x2 multiply and one f64x2 divide.
 */
function scanKernel(): Func {
  const HIST = 0;
  const NB = 1;
  const MISSING = 2;
  const G = 3;
  const H = 4;
  const LAMBDA = 5;
  const MIN_CHILD = 6;
  const PARENT = 7;
  const BEST = 8;
  const OUT = 9;
  // i32 locals
  const B = 10;
  const LAST = 11;
  const P = 12;
  const BEST_BIN = 13;
  const MISS_LEFT = 14;
  // v128 locals
  const SUM = 15;
  const TOTAL = 16;
  const MISS = 17;
  const LAM = 18;
  const LEFT = 19;
  const RIGHT = 20;
  const DEN = 21;
  const NUM = 22;
  // f64 local
  const GAIN = 23;
  /** Scores the split with left sums in LEFT; takes it when better, with missing side `m`. */
  const consider = (m: number): number[] => [
    ...get(TOTAL),
    ...get(LEFT),
    ...SUB_F64X2,
    ...set(RIGHT),
    // (hl, hr) and (gl, gr)
    ...get(LEFT),
    ...get(RIGHT),
    ...pairOf(1, 1),
    ...tee(DEN),
    ...lane(0),
    ...get(MIN_CHILD),
    ...GE_F,
    ...get(DEN),
    ...lane(1),
    ...get(MIN_CHILD),
    ...GE_F,
    ...AND,
    ...IF,
    ...get(LEFT),
    ...get(RIGHT),
    ...pairOf(0, 0),
    ...tee(NUM),
    ...get(NUM),
    ...MUL_F64X2,
    ...get(DEN),
    ...get(LAM),
    ...ADD_F64X2,
    ...DIV_F64X2,
    ...tee(NUM),
    ...lane(0),
    ...get(NUM),
    ...lane(1),
    ...ADD_F,
    ...get(PARENT),
    ...SUB_F,
    ...tee(GAIN),
    ...get(BEST),
    ...GT_F,
    ...IF,
    ...get(GAIN),
    ...set(BEST),
    ...get(B),
    ...set(BEST_BIN),
    ...i32(m),
    ...set(MISS_LEFT),
    ...END,
    ...END,
  ];
  const body = [
    ...get(G),
    ...SPLAT_F64X2,
    ...get(H),
    ...replaceLane(1),
    ...set(TOTAL),
    ...get(HIST),
    ...loadV128(),
    ...set(MISS),
    ...get(LAMBDA),
    ...SPLAT_F64X2,
    ...set(LAM),
    ...i32(-1),
    ...set(BEST_BIN),
    // With missing rows, "every value left, missing right" (bin nb) is a split too.
    ...get(NB),
    ...get(NB),
    ...i32(1),
    ...SUB,
    ...get(MISSING),
    ...SELECT,
    ...set(LAST),
    ...i32(1),
    ...set(B),
    ...get(HIST),
    ...i32(16),
    ...ADD,
    ...set(P),
    ...BLOCK,
    ...get(B),
    ...get(LAST),
    ...GT_S,
    ...brIf(0),
    ...LOOP,
    ...get(SUM),
    ...get(P),
    ...loadV128(),
    ...ADD_F64X2,
    ...tee(SUM),
    ...set(LEFT),
    ...consider(0),
    ...get(MISSING),
    ...get(B),
    ...get(NB),
    ...LT_S,
    ...AND,
    ...IF,
    ...get(SUM),
    ...get(MISS),
    ...ADD_F64X2,
    ...set(LEFT),
    ...consider(1),
    ...END,
    ...get(P),
    ...i32(16),
    ...ADD,
    ...set(P),
    ...get(B),
    ...i32(1),
    ...ADD,
    ...tee(B),
    ...get(LAST),
    ...LE_S,
    ...brIf(0),
    ...END,
    ...END,
    ...get(OUT),
    ...get(BEST),
    ...storeF64(),
    ...get(OUT),
    ...get(MISS_LEFT),
    ...store32(8),
    ...get(BEST_BIN),
  ];
  return {
    params: [I32, I32, I32, F64, F64, F64, F64, F64, F64, I32],
    results: 1,
    locals: [
      [5, I32],
      [8, V128],
      [1, F64],
    ],
    body,
  };
}

/**
 * The histogram of `features` features (1 or 2) with at most {@link SMALL_BINS} bins, its
 * sums kept in registers. Row-wise accumulation stalls on such features: consecutive rows
 * keep updating the same few memory slots, each update waiting for the one before. Here
 * every row adds its pair to each bin's sum, masked to zero for the other bins; adding +0
 * leaves a sum unchanged (sums start at +0 and so are never -0), so the result is the
 * same, bit for bit. Only `width` bins from a per-feature first bin `lo` are summed (a
 * feature without missing values never fills bin 0), and only those are stored, from the
 * feature's `hist` pointer, which points at bin `lo`: the caller zeroes the others.
 */
function smallKernel(features: number, width: number): Func {
  // Params: (hist, col, lo) per feature, then grad idx start end.
  const HIST = (f: number) => 3 * f;
  const COL = (f: number) => 3 * f + 1;
  const LO = (f: number) => 3 * f + 2;
  const GRAD = 3 * features;
  const IDX = GRAD + 1;
  const START = GRAD + 2;
  const END_ = GRAD + 3;
  const params = GRAD + 4;
  const K = params;
  const KEND = params + 1;
  const ROW = params + 2;
  const VAL = params + 3;
  const BINS = params + 4;
  const ACC = BINS + features;
  // Masks from a vector compare: a select on vectors may compile to a branch, which
  // random bins would mispredict.
  const accumulate = (f: number, j: number) => [
    ...get(ACC + f * width + j),
    ...get(VAL),
    ...get(BINS + f),
    0xfd,
    0x0c,
    ...[j, 0, 0, 0, 0, 0, 0, 0, j, 0, 0, 0, 0, 0, 0, 0],
    0xfd,
    ...uleb(214), // i64x2.eq
    0xfd,
    ...uleb(78), // v128.and
    ...ADD_F64X2,
    ...set(ACC + f * width + j),
  ];
  const feats = Array.from({ length: features }, (_, f) => f);
  const bins = Array.from({ length: width }, (_, j) => j);
  const body = [
    ...get(IDX),
    ...get(START),
    ...i32(2),
    ...SHL,
    ...ADD,
    ...set(K),
    ...get(IDX),
    ...get(END_),
    ...i32(2),
    ...SHL,
    ...ADD,
    ...set(KEND),
    ...loopWhileBelow(K, KEND),
    ...get(K),
    ...load32(),
    ...tee(ROW),
    ...i32(4),
    ...SHL,
    ...get(GRAD),
    ...ADD,
    ...loadV128(),
    ...set(VAL),
    ...feats.flatMap((f) => [
      ...get(COL(f)),
      ...get(ROW),
      ...ADD,
      ...load8(),
      ...get(LO(f)),
      ...SUB,
      0xad, // i64.extend_i32_u (bins below lo never occur)
      0xfd,
      ...uleb(18), // i64x2.splat
      ...set(BINS + f),
    ]),
    ...feats.flatMap((f) => bins.flatMap((j) => accumulate(f, j))),
    ...nextWhileBelow(K, 4, KEND),
    ...END,
    ...feats.flatMap((f) => bins.flatMap((j) => [...get(HIST(f)), ...get(ACC + f * width + j), ...storeV128(16 * j)])),
  ];
  return {
    params,
    results: 0,
    locals: [
      [3, I32],
      [1 + features + features * width, V128],
    ],
    body,
  };
}

/** Gradient and hessian sums of rows `idx[start..end)`, as one f64x2, stored at `out`. */
function sumKernel(): Func {
  const GRAD = 0;
  const IDX = 1;
  const START = 2;
  const END_ = 3;
  const OUT = 4;
  const K = 5;
  const KEND = 6;
  const SUM = 7;
  const body = [
    ...get(IDX),
    ...get(START),
    ...i32(2),
    ...SHL,
    ...ADD,
    ...set(K),
    ...get(IDX),
    ...get(END_),
    ...i32(2),
    ...SHL,
    ...ADD,
    ...set(KEND),
    ...loopWhileBelow(K, KEND),
    ...get(SUM),
    ...get(K),
    ...load32(),
    ...i32(4),
    ...SHL,
    ...get(GRAD),
    ...ADD,
    ...loadV128(),
    ...ADD_F64X2,
    ...set(SUM),
    ...nextWhileBelow(K, 4, KEND),
    ...END,
    ...get(OUT),
    ...get(SUM),
    ...storeV128(),
  ];
  return {
    params: 5,
    results: 0,
    locals: [
      [2, I32],
      [1, V128],
    ],
    body,
  };
}

/**
 * Squared-error gradients for rows 0..n (pointers to f64 margins, labels and weights;
 * interleaved output): `g = (m - y) * w`, `h = w`, two rows at a time (with n odd, one
 * row past n is read and written too), as `squaredGradients` in kernels.ts.
 */
function squaredKernel(): Func {
  const MARGIN = 0;
  const Y = 1;
  const W = 2;
  const GRAD = 3;
  const N = 4;
  const I = 5;
  const W2 = 6;
  const D = 7;
  const at = (base: number, shift: number) => [...get(base), ...get(I), ...i32(shift), ...SHL, ...ADD];
  const body = [
    ...BLOCK,
    ...get(N),
    ...i32(0),
    ...LE_S,
    ...brIf(0),
    ...LOOP,
    ...at(W, 3),
    ...loadV128(),
    ...set(W2),
    ...at(MARGIN, 3),
    ...loadV128(),
    ...at(Y, 3),
    ...loadV128(),
    ...SUB_F64X2,
    ...get(W2),
    ...MUL_F64X2,
    ...set(D),
    // Interleave: (g0, w0) then (g1, w1).
    ...at(GRAD, 4),
    ...get(D),
    ...get(W2),
    ...pairOf(0, 0),
    ...storeV128(),
    ...at(GRAD, 4),
    ...get(D),
    ...get(W2),
    ...pairOf(1, 1),
    ...storeV128(16),
    ...nextWhileBelow(I, 2, N, true),
    ...END,
  ];
  return {
    params: 5,
    results: 0,
    locals: [
      [1, I32],
      [2, V128],
    ],
    body,
  };
}

/** {@link logisticGradients}, two rows per step. */
function logisticKernel(): Func {
  const MARGIN = 0;
  const Y = 1;
  const W = 2;
  const GRAD = 3;
  const N = 4;
  const I = 5;
  const Z = 6;
  const KD = 7;
  const K = 8;
  const HI = 9;
  const LO = 10;
  const X = 11;
  const T = 12;
  const C = 13;
  const P = 14;
  const G = 15;
  const H = 16;
  const W2 = 17;
  const f64x2 = (v: number) => {
    const b = new Uint8Array(new Float64Array([v, v]).buffer);
    return [0xfd, 0x0c, ...b];
  };
  const i64x2 = (v: number) => [0xfd, 0x0c, ...new Uint8Array(new BigInt64Array([BigInt(v), BigInt(v)]).buffer)];
  const op = (code: number) => [0xfd, ...uleb(code)];
  const NEG = op(237);
  // pmin/pmax (one minpd/maxpd each) where f64x2.min/max spend ~8 instructions on NaN and
  // signed-zero rules: 2.5 of 5.8 ns a row. Nothing here is NaN, and each use keeps its
  // first operand on ties (pmax(a, b) = a < b ? b : a, pmin(a, b) = b < a ? b : a), so the
  // results equal Math.max / Math.min's in the JavaScript twin bit for bit.
  const MIN = op(246);
  const MAX = op(247);
  const I64_ADD = op(206);
  const I64_SHL = op(203);
  const body = [
    ...BLOCK,
    ...get(N),
    ...i32(0),
    0x4c, // i32.le_s
    ...brIf(0),
    ...LOOP,
    // z = min(max(-m, -LIMIT), LIMIT)
    ...get(MARGIN),
    ...get(I),
    ...i32(3),
    ...SHL,
    ...ADD,
    ...loadV128(),
    ...NEG,
    ...f64x2(-EXP_LIMIT),
    ...MAX,
    ...f64x2(EXP_LIMIT),
    ...MIN,
    ...tee(Z),
    ...f64x2(INV_LN2),
    ...MUL_F64X2,
    ...f64x2(ROUND),
    ...ADD_F64X2,
    ...tee(KD),
    ...f64x2(ROUND),
    ...SUB_F64X2,
    ...set(K),
    ...get(Z),
    ...get(K),
    ...f64x2(LN2_HI),
    ...MUL_F64X2,
    ...SUB_F64X2,
    ...set(HI),
    ...get(K),
    ...f64x2(LN2_LO),
    ...MUL_F64X2,
    ...set(LO),
    ...get(HI),
    ...get(LO),
    ...SUB_F64X2,
    ...tee(X),
    ...get(X),
    ...MUL_F64X2,
    ...set(T),
    // c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))))
    ...get(X),
    ...get(T),
    ...f64x2(P1),
    ...get(T),
    ...f64x2(P2),
    ...get(T),
    ...f64x2(P3),
    ...get(T),
    ...f64x2(P4),
    ...get(T),
    ...f64x2(P5),
    ...MUL_F64X2,
    ...ADD_F64X2,
    ...MUL_F64X2,
    ...ADD_F64X2,
    ...MUL_F64X2,
    ...ADD_F64X2,
    ...MUL_F64X2,
    ...ADD_F64X2,
    ...MUL_F64X2,
    ...SUB_F64X2,
    ...set(C),
    // e = (1 - (lo - (x * c) / (2 - c) - hi)) * 2^k, 2^k from the low bits of kd
    ...f64x2(1),
    ...get(LO),
    ...get(X),
    ...get(C),
    ...MUL_F64X2,
    ...f64x2(2),
    ...get(C),
    ...SUB_F64X2,
    ...DIV_F64X2,
    ...SUB_F64X2,
    ...get(HI),
    ...SUB_F64X2,
    ...SUB_F64X2,
    ...get(KD),
    ...i64x2(1023),
    ...I64_ADD,
    ...i32(52),
    ...I64_SHL,
    ...MUL_F64X2,
    // p = 1 / (1 + e)
    ...set(P),
    ...f64x2(1),
    ...f64x2(1),
    ...get(P),
    ...ADD_F64X2,
    ...DIV_F64X2,
    ...set(P),
    ...get(W),
    ...get(I),
    ...i32(3),
    ...SHL,
    ...ADD,
    ...loadV128(),
    ...set(W2),
    // g = (p - y) * w; h = max(p * (1 - p), MIN_HESS) * w
    ...get(P),
    ...get(Y),
    ...get(I),
    ...i32(3),
    ...SHL,
    ...ADD,
    ...loadV128(),
    ...SUB_F64X2,
    ...get(W2),
    ...MUL_F64X2,
    ...set(G),
    ...get(P),
    ...f64x2(1),
    ...get(P),
    ...SUB_F64X2,
    ...MUL_F64X2,
    ...f64x2(MIN_HESS),
    ...MAX,
    ...get(W2),
    ...MUL_F64X2,
    ...set(H),
    // Interleave: (g0, h0) then (g1, h1).
    ...get(GRAD),
    ...get(I),
    ...i32(4),
    ...SHL,
    ...ADD,
    ...get(G),
    ...get(H),
    ...pairOf(0, 0),
    ...storeV128(),
    ...get(GRAD),
    ...get(I),
    ...i32(4),
    ...SHL,
    ...ADD,
    ...get(G),
    ...get(H),
    ...pairOf(1, 1),
    ...storeV128(16),
    ...nextWhileBelow(I, 2, N, true),
    ...END,
  ];
  return {
    params: 5,
    results: 0,
    locals: [
      [1, I32],
      [12, V128],
    ],
    body,
  };
}

const EXPORTS: [keyof KernelExports, () => Func][] = [
  ["histDense", () => histKernel(false, false)],
  ["histSparse", () => histKernel(false, true)],
  ["packedDense", () => histKernel(true, false)],
  ["packedSparse", () => histKernel(true, true)],
  ["partition", partitionKernel],
  ["subtract", () => combineKernel(SUB_F64X2)],
  ["scanNumeric", scanKernel],
  ["histSmall1", () => smallKernel(1, 1)],
  ["histSmall2", () => smallKernel(1, 2)],
  ["histSmall3", () => smallKernel(1, 3)],
  ["histSmall4", () => smallKernel(1, 4)],
  ["histPair1", () => smallKernel(2, 1)],
  ["histPair2", () => smallKernel(2, 2)],
  ["histPair3", () => smallKernel(2, 3)],
  ["histPair4", () => smallKernel(2, 4)],
  ["sumRows", sumKernel],
  ["logistic", logisticKernel],
  ["add", () => combineKernel(ADD_F64X2)],
  ["squared", squaredKernel],
  ["scanCategorical", categoryScanKernel],
  ["scanNode", () => nodeScanKernel(exportIndex("scanNumeric"), exportIndex("scanCategorical"))],
  ["subtractList", () => combineListKernel(exportIndex("subtract"))],
  ["addList", () => combineListKernel(exportIndex("add"))],
  ["addLeaves", addLeavesKernel],
];

/** The function index of an export (functions are numbered in export order). */
function exportIndex(name: keyof KernelExports): number {
  return EXPORTS.findIndex(([n]) => n === name);
}

/** The module's bytes, importing memory `env.memory` (shared or not, as it will be given). */
export function moduleBytes(shared: boolean): Uint8Array {
  return assemble(
    EXPORTS.map(([n, make]) => [n, make()] as const),
    shared,
  );
}
