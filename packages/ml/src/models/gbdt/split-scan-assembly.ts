/**
 * The categorical split scan, written for the kernel module (kernel-assembly.ts lists it
 * among its exports): `SplitFinder.findCategorical` in split.ts for the common case (no L1
 * penalty, no step cap), operation for operation, in scalar f64.
 */
import { EXACT_FEATURE_BYTES, SCAN } from "./kernel-constants.js";

/** Histogram bytes per feature, as a shift. */
const EXACT_FEATURE_BYTES_LOG2 = Math.log2(EXACT_FEATURE_BYTES);

import {
  ADD,
  ADD_F,
  AND,
  BLOCK,
  br,
  brIf,
  call,
  DIV_F,
  ELSE,
  END,
  EQ,
  EQZ,
  F64,
  type Func,
  f64,
  GE_S,
  GT_F,
  GT_S,
  get,
  I32,
  IF,
  i32,
  LE_F,
  LE_S,
  LOOP,
  LT_F64,
  LT_S,
  load32,
  loadF64,
  MEMORY_COPY,
  MUL_F,
  nextWhileBelow,
  OR,
  SELECT,
  SHL,
  SHR_U,
  SUB,
  SUB_F,
  set,
  store32,
  storeF64,
  tee,
} from "./wasm-encoding.js";

/**
 * scanCategorical(hist, nb, G, H, lambda, catL2, catSmooth, minChild, empty, best,
 * oneHotMax, maxCatThreshold, out) -> found. `hist` points at bin 0 (missing) of the
 * feature's (grad, hess) pairs; bins 1..nb are its categories. Finds the best partition
 * with gain above `best` as findCategorical does (one-vs-rest up to `oneHotMax` categories
 * present, else prefixes of the categories sorted by grad / (hess + catSmooth) from both
 * ends, at most `maxCatThreshold` long), and writes at `out` (see SCAN) its gain,
 * whether missing rows go left, the range `order[from..to]` sent left, and the order.
 */
export function categoryScanKernel(): Func {
  // Params.
  const HIST = 0;
  const NB = 1;
  const G = 2;
  const H = 3;
  const LAMBDA = 4;
  const CAT_L2 = 5;
  const CAT_SMOOTH = 6;
  const MIN_CHILD = 7;
  const EMPTY = 8;
  const BEST_IN = 9;
  const ONE_HOT_MAX = 10;
  const MAX_CAT = 11;
  const OUT = 12;
  // i32 locals.
  const B = 13;
  const USED = 14;
  const K = 15;
  const J = 16;
  const FROM = 17;
  const TO = 18;
  const MISS_L = 19;
  const HAS_MISS = 20;
  const ONE_HOT = 21;
  const LEN = 22;
  const P = 23;
  const ORDER = 24;
  const RATIO = 25;
  const FROM_V = 26;
  const TO_V = 27;
  const I = 28;
  // f64 locals.
  const GM = 29;
  const HM = 30;
  const LAM = 31;
  const PARENT = 32;
  const BEST = 33;
  const CG = 34;
  const CH = 35;
  const GL = 36;
  const HL = 37;
  const GAIN = 38;
  const R = 39;
  const GL0 = 40;
  const HL0 = 41;
  const DEN = 42;
  const X = 43;

  /** `order[k]` where `k` is the code on the stack: the address. */
  const orderAt = (k: number[]) => [...get(ORDER), ...k, ...i32(2), ...SHL, ...ADD];
  /** `ratio[b]`'s address for the bin code on the stack. */
  const ratioAt = (b: number[]) => [...get(RATIO), ...b, ...i32(3), ...SHL, ...ADD];
  /** The address of bin b's gradient (its hessian 8 bytes on). */
  const binAt = (b: number[]) => [...get(HIST), ...b, ...i32(4), ...SHL, ...ADD];
  /** score(g, h) = h + lam <= 0 ? 0 : g * g / (h + lam), for g and h on the stack as code. */
  const score = (g: number[], h: number[]) => [
    ...f64(0),
    ...g,
    ...tee(X),
    ...get(X),
    ...MUL_F,
    ...h,
    ...get(LAM),
    ...ADD_F,
    ...tee(DEN),
    ...DIV_F,
    ...get(DEN),
    ...f64(0),
    ...LE_F,
    ...SELECT,
  ];
  /** One side of `consider`: missing rows left when `m` is 1 (GL, HL already include them). */
  const tryLeft = (m: number) => [
    // if (hl < minChild || H - hl < minChild) skip
    ...get(HL),
    ...get(MIN_CHILD),
    ...LT_F64,
    ...get(H),
    ...get(HL),
    ...SUB_F,
    ...get(MIN_CHILD),
    ...LT_F64,
    ...OR,
    ...EQZ,
    ...IF,
    ...score(get(GL), get(HL)),
    ...score([...get(G), ...get(GL), ...SUB_F], [...get(H), ...get(HL), ...SUB_F]),
    ...ADD_F,
    ...get(PARENT),
    ...SUB_F,
    ...tee(GAIN),
    ...get(BEST),
    ...GT_F,
    ...IF,
    ...get(GAIN),
    ...set(BEST),
    ...get(FROM_V),
    ...set(FROM),
    ...get(TO_V),
    ...set(TO),
    ...i32(m),
    ...set(MISS_L),
    ...END,
    ...END,
  ];
  /** "Categories order[FROM_V..TO_V] left" with sums GL0, HL0: missing rows right, then left. */
  const consider = [
    ...get(GL0),
    ...set(GL),
    ...get(HL0),
    ...set(HL),
    ...tryLeft(0),
    ...get(HAS_MISS),
    ...IF,
    ...get(GL0),
    ...get(GM),
    ...ADD_F,
    ...set(GL),
    ...get(HL0),
    ...get(HM),
    ...ADD_F,
    ...set(HL),
    ...tryLeft(1),
    ...END,
  ];
  /** B = order[K]: the category bin at position K of the order. */
  const binOfK = [...orderAt(get(K)), ...load32(), ...set(B)];
  /** Adds bin order[K]'s sums to the running CG/CH and makes them GL0/HL0 (prefix scans). */
  const prefixOfK = [
    ...binOfK,
    ...binAt(get(B)),
    ...tee(P),
    ...loadF64(),
    ...get(CG),
    ...ADD_F,
    ...tee(CG),
    ...set(GL0),
    ...get(P),
    ...loadF64(8),
    ...get(CH),
    ...ADD_F,
    ...tee(CH),
    ...set(HL0),
  ];
  const body = [
    ...get(OUT),
    ...i32(SCAN.ORDER),
    ...ADD,
    ...set(ORDER),
    ...get(OUT),
    ...i32(SCAN.RATIO),
    ...ADD,
    ...set(RATIO),
    ...get(HIST),
    ...loadF64(),
    ...set(GM),
    ...get(HIST),
    ...loadF64(8),
    ...tee(HM),
    ...get(EMPTY),
    ...GT_F,
    ...set(HAS_MISS),
    // Categories present: order them by bin, with their ratios.
    ...i32(1),
    ...set(B),
    ...BLOCK,
    ...get(B),
    ...get(NB),
    ...GT_S,
    ...brIf(0),
    ...LOOP,
    ...binAt(get(B)),
    ...tee(P),
    ...loadF64(8),
    ...tee(R),
    ...get(EMPTY),
    ...GT_F,
    ...IF,
    ...orderAt(get(USED)),
    ...get(B),
    ...store32(),
    ...get(USED),
    ...i32(1),
    ...ADD,
    ...set(USED),
    ...ratioAt(get(B)),
    ...get(P),
    ...loadF64(),
    ...get(R),
    ...get(CAT_SMOOTH),
    ...ADD_F,
    ...DIV_F,
    ...storeF64(),
    ...END,
    ...get(B),
    ...i32(1),
    ...ADD,
    ...tee(B),
    ...get(NB),
    ...LE_S,
    ...brIf(0),
    ...END,
    ...END,
    ...i32(-1),
    ...set(FROM),
    ...i32(-1),
    ...set(TO),
    ...get(BEST_IN),
    ...set(BEST),
    // if (used < 2 && !(used === 1 && hasMissing)) nothing to split
    ...BLOCK,
    ...get(USED),
    ...i32(2),
    ...LT_S,
    ...get(USED),
    ...i32(1),
    ...EQ,
    ...get(HAS_MISS),
    ...AND,
    ...EQZ,
    ...AND,
    ...brIf(0),
    ...get(USED),
    ...get(ONE_HOT_MAX),
    ...LE_S,
    ...tee(ONE_HOT),
    ...IF,
    ...get(LAMBDA),
    ...set(LAM),
    ...ELSE,
    ...get(LAMBDA),
    ...get(CAT_L2),
    ...ADD_F,
    ...set(LAM),
    ...END,
    ...score(get(G), get(H)),
    ...set(PARENT),
    ...get(ONE_HOT),
    ...IF,
    // One-vs-rest, in bin order.
    ...i32(0),
    ...set(K),
    ...LOOP,
    ...binOfK,
    ...binAt(get(B)),
    ...tee(P),
    ...loadF64(),
    ...set(GL0),
    ...get(P),
    ...loadF64(8),
    ...set(HL0),
    ...get(K),
    ...set(FROM_V),
    ...get(K),
    ...set(TO_V),
    ...consider,
    ...nextWhileBelow(K, 1, USED, true),
    ...ELSE,
    // Stable insertion sort by ratio (ties keep bin order).
    ...i32(1),
    ...set(I),
    ...BLOCK,
    ...get(I),
    ...get(USED),
    ...GE_S,
    ...brIf(0),
    ...LOOP,
    ...orderAt(get(I)),
    ...load32(),
    ...set(B),
    ...ratioAt(get(B)),
    ...loadF64(),
    ...set(R),
    ...get(I),
    ...i32(1),
    ...SUB,
    ...set(J),
    ...BLOCK,
    ...LOOP,
    // while (j >= 0 && ratio[order[j]] > r) { order[j + 1] = order[j]; j-- }
    ...get(J),
    ...i32(0),
    ...LT_S,
    ...brIf(1),
    ...ratioAt([...orderAt(get(J)), ...load32()]),
    ...loadF64(),
    ...get(R),
    ...GT_F,
    ...EQZ,
    ...brIf(1),
    ...orderAt(get(J)),
    ...i32(4),
    ...ADD,
    ...orderAt(get(J)),
    ...load32(),
    ...store32(),
    ...get(J),
    ...i32(1),
    ...SUB,
    ...set(J),
    ...br(0),
    ...END,
    ...END,
    ...orderAt(get(J)),
    ...i32(4),
    ...ADD,
    ...get(B),
    ...store32(),
    ...nextWhileBelow(I, 1, USED, true),
    ...END,
    // len = min(used - 1, maxCatThreshold)
    ...get(USED),
    ...i32(1),
    ...SUB,
    ...tee(LEN),
    ...get(MAX_CAT),
    ...get(LEN),
    ...get(MAX_CAT),
    ...LT_S,
    ...SELECT,
    ...set(LEN),
    // Prefixes from the low end: order[0..k] left.
    ...f64(0),
    ...set(CG),
    ...f64(0),
    ...set(CH),
    ...i32(0),
    ...set(K),
    ...BLOCK,
    ...get(K),
    ...get(LEN),
    ...GE_S,
    ...brIf(0),
    ...LOOP,
    ...prefixOfK,
    ...i32(0),
    ...set(FROM_V),
    ...get(K),
    ...set(TO_V),
    ...consider,
    ...nextWhileBelow(K, 1, LEN, true),
    ...END,
    // Prefixes from the high end: order[k..used-1] left.
    ...f64(0),
    ...set(CG),
    ...f64(0),
    ...set(CH),
    ...get(USED),
    ...i32(1),
    ...SUB,
    ...set(K),
    ...BLOCK,
    ...get(K),
    ...get(USED),
    ...get(LEN),
    ...SUB,
    ...LT_S,
    ...brIf(0),
    ...LOOP,
    ...prefixOfK,
    ...get(K),
    ...set(FROM_V),
    ...get(USED),
    ...i32(1),
    ...SUB,
    ...set(TO_V),
    ...consider,
    ...get(K),
    ...i32(1),
    ...SUB,
    ...tee(K),
    ...get(USED),
    ...get(LEN),
    ...SUB,
    ...GE_S,
    ...brIf(0),
    ...END,
    ...END,
    ...END,
    ...END,
    ...get(OUT),
    ...get(BEST),
    ...storeF64(SCAN.GAIN),
    ...get(OUT),
    ...get(MISS_L),
    ...store32(SCAN.MISS_LEFT),
    ...get(OUT),
    ...get(FROM),
    ...store32(SCAN.FROM),
    ...get(OUT),
    ...get(TO),
    ...store32(SCAN.TO),
    ...get(FROM),
    ...i32(0),
    ...GE_S,
  ];
  return {
    params: [I32, I32, F64, F64, F64, F64, F64, F64, F64, F64, I32, I32, I32],
    results: 1,
    locals: [
      [16, I32],
      [15, F64],
    ],
    body,
  };
}

/**
 * scanNode(hist, count, G, H, lambda, catL2, catSmooth, minChild, empty, parentScore,
 * best, oneHotMax, maxCatThreshold, out, info) -> index: `SplitFinder.find` over the
 * features `out.FEATS[0..count)` of one node's exact histogram at `hist` (4096 bytes a
 * feature), calling the numeric and categorical scans (function indices `numeric`,
 * `categorical` in the module) in feature order with the running best gain, as find
 * does. Returns the position in the list of the winning feature, or -1, and leaves its
 * result in the NODE_ fields of `out` (a categorical winner's order in BEST_ORDER). `info`
 * holds per feature `numValueBins | categorical << 16`.
 */
export function nodeScanKernel(numeric: number, categorical: number): Func {
  const HIST = 0;
  const COUNT = 1;
  const G = 2;
  const H = 3;
  const LAMBDA = 4;
  const CAT_L2 = 5;
  const CAT_SMOOTH = 6;
  const MIN_CHILD = 7;
  const EMPTY = 8;
  const PARENT = 9;
  const BEST_IN = 10;
  const ONE_HOT_MAX = 11;
  const MAX_CAT = 12;
  const OUT = 13;
  const INFO = 14;
  // i32 locals
  const I = 15;
  const F = 16;
  const INF = 17;
  const PTR = 18;
  const WIN = 19;
  const BIN = 20;
  // f64 locals
  const BEST = 21;
  const nb = [...get(INF), ...i32(0xffff), ...AND];
  const outField = (offset: number, value: number[]) => [...get(OUT), ...value, ...store32(offset)];
  const body = [
    ...i32(-1),
    ...set(WIN),
    ...get(BEST_IN),
    ...set(BEST),
    ...BLOCK,
    ...get(COUNT),
    ...i32(0),
    ...LE_S,
    ...brIf(0),
    ...LOOP,
    ...get(OUT),
    ...get(I),
    ...i32(2),
    ...SHL,
    ...ADD,
    ...load32(SCAN.FEATS),
    ...tee(F),
    ...i32(2),
    ...SHL,
    ...get(INFO),
    ...ADD,
    ...load32(),
    ...set(INF),
    ...get(HIST),
    ...get(F),
    ...i32(EXACT_FEATURE_BYTES_LOG2),
    ...SHL,
    ...ADD,
    ...set(PTR),
    ...get(INF),
    ...i32(16),
    ...SHR_U,
    ...IF,
    ...get(PTR),
    ...nb,
    ...get(G),
    ...get(H),
    ...get(LAMBDA),
    ...get(CAT_L2),
    ...get(CAT_SMOOTH),
    ...get(MIN_CHILD),
    ...get(EMPTY),
    ...get(BEST),
    ...get(ONE_HOT_MAX),
    ...get(MAX_CAT),
    ...get(OUT),
    ...call(categorical),
    ...IF,
    ...get(OUT),
    ...loadF64(SCAN.GAIN),
    ...set(BEST),
    ...get(I),
    ...set(WIN),
    ...outField(SCAN.NODE_MISS_LEFT, [...get(OUT), ...load32(SCAN.MISS_LEFT)]),
    ...outField(SCAN.NODE_FROM, [...get(OUT), ...load32(SCAN.FROM)]),
    ...outField(SCAN.NODE_TO, [...get(OUT), ...load32(SCAN.TO)]),
    ...get(OUT),
    ...i32(SCAN.BEST_ORDER),
    ...ADD,
    ...get(OUT),
    ...i32(SCAN.ORDER),
    ...ADD,
    ...i32(256 * 4),
    ...MEMORY_COPY,
    ...END,
    ...ELSE,
    // Missing rows present: as findNumeric, hm > H * EMPTY_FRACTION.
    ...get(PTR),
    ...nb,
    ...get(PTR),
    ...loadF64(8),
    ...get(EMPTY),
    ...GT_F,
    ...get(G),
    ...get(H),
    ...get(LAMBDA),
    ...get(MIN_CHILD),
    ...get(PARENT),
    ...get(BEST),
    ...get(OUT),
    ...call(numeric),
    ...tee(BIN),
    ...i32(0),
    ...GE_S,
    ...IF,
    ...get(OUT),
    ...loadF64(SCAN.GAIN),
    ...set(BEST),
    ...get(I),
    ...set(WIN),
    ...outField(SCAN.NODE_BIN, get(BIN)),
    ...outField(SCAN.NODE_MISS_LEFT, [...get(OUT), ...load32(SCAN.MISS_LEFT)]),
    ...END,
    ...END,
    ...nextWhileBelow(I, 1, COUNT, true),
    ...END,
    ...get(OUT),
    ...get(BEST),
    ...storeF64(SCAN.NODE_GAIN),
    ...outField(SCAN.NODE_INDEX, get(WIN)),
    ...get(WIN),
  ];
  return {
    params: [I32, I32, F64, F64, F64, F64, F64, F64, F64, F64, F64, I32, I32, I32, I32],
    results: 1,
    locals: [
      [6, I32],
      [1, F64],
    ],
    body,
  };
}
