/**
 * The small amount of linear algebra the LSA embedder needs: a CSR sparse matrix, dense
 * column-major blocks, Gram-Schmidt, a Jacobi eigensolver and randomised truncated SVD.
 * Everything is Float64 so the SVD stays accurate when singular values span many orders.
 */

/** Compressed sparse rows: row i holds `data[indptr[i]..indptr[i+1])` at columns `indices[…]`. */
export interface CsrMatrix {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  data: Float64Array;
}

/** A dense matrix stored column by column (`data[c * rows + r]`). */
export interface DenseMatrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

export function denseToCsr(rows: number, cols: number, get: (r: number, c: number) => number): CsrMatrix {
  const indptr = new Int32Array(rows + 1);
  const idx: number[] = [];
  const val: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = get(r, c);
      if (v !== 0) {
        idx.push(c);
        val.push(v);
      }
    }
    indptr[r + 1] = idx.length;
  }
  return { rows, cols, indptr, indices: Int32Array.from(idx), data: Float64Array.from(val) };
}

/** A · X for sparse A (n×m) and dense X (m×l) → dense n×l. */
export function csrTimesDense(a: CsrMatrix, x: DenseMatrix): DenseMatrix {
  const out = new Float64Array(a.rows * x.cols);
  for (let r = 0; r < a.rows; r++) {
    for (let p = a.indptr[r]!; p < a.indptr[r + 1]!; p++) {
      const c = a.indices[p]!;
      const v = a.data[p]!;
      for (let j = 0; j < x.cols; j++) out[j * a.rows + r]! += v * x.data[j * x.rows + c]!;
    }
  }
  return { rows: a.rows, cols: x.cols, data: out };
}

/** Aᵀ · Y for sparse A (n×m) and dense Y (n×l) → dense m×l. */
export function csrTransposeTimesDense(a: CsrMatrix, y: DenseMatrix): DenseMatrix {
  const out = new Float64Array(a.cols * y.cols);
  for (let r = 0; r < a.rows; r++) {
    for (let p = a.indptr[r]!; p < a.indptr[r + 1]!; p++) {
      const c = a.indices[p]!;
      const v = a.data[p]!;
      for (let j = 0; j < y.cols; j++) out[j * a.cols + c]! += v * y.data[j * y.rows + r]!;
    }
  }
  return { rows: a.cols, cols: y.cols, data: out };
}

/**
 * Orthonormalises the columns in place (modified Gram-Schmidt, run twice — "twice is enough"
 * — so the basis stays orthogonal to machine precision). Columns that turn out linearly
 * dependent are replaced by zeros and reported so callers can drop them.
 */
export function orthonormalize(m: DenseMatrix): number {
  const { rows, cols, data } = m;
  let rank = 0;
  for (let j = 0; j < cols; j++) {
    const oj = j * rows;
    let original = 0;
    for (let r = 0; r < rows; r++) original += data[oj + r]! ** 2;
    original = Math.sqrt(original);
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < j; i++) {
        const oi = i * rows;
        let dot = 0;
        for (let r = 0; r < rows; r++) dot += data[oi + r]! * data[oj + r]!;
        if (dot !== 0) for (let r = 0; r < rows; r++) data[oj + r]! -= dot * data[oi + r]!;
      }
    }
    let norm = 0;
    for (let r = 0; r < rows; r++) norm += data[oj + r]! ** 2;
    norm = Math.sqrt(norm);
    if (norm <= 1e-10 * Math.max(original, 1e-300)) {
      for (let r = 0; r < rows; r++) data[oj + r] = 0;
      continue;
    }
    for (let r = 0; r < rows; r++) data[oj + r]! /= norm;
    rank++;
  }
  return rank;
}

/**
 * Eigen-decomposition of a symmetric l×l matrix (row-major) by cyclic Jacobi rotations.
 * Returns eigenvalues in descending order and the matching eigenvectors as columns
 * (column-major l×l). Jacobi is slow for large l but exact to machine precision, and the
 * projected matrices here are at most a few hundred wide.
 */
export function symmetricEigen(matrix: Float64Array, l: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(l * l);
  for (let i = 0; i < l; i++) v[i * l + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < l; i++) {
      diag += a[i * l + i]! ** 2;
      for (let j = i + 1; j < l; j++) off += a[i * l + j]! ** 2;
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < l; p++) {
      for (let q = p + 1; q < l; q++) {
        const apq = a[p * l + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const app = a[p * l + p]!;
        const aqq = a[q * l + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < l; k++) {
          const akp = a[k * l + p]!;
          const akq = a[k * l + q]!;
          a[k * l + p] = c * akp - s * akq;
          a[k * l + q] = s * akp + c * akq;
        }
        for (let k = 0; k < l; k++) {
          const apk = a[p * l + k]!;
          const aqk = a[q * l + k]!;
          a[p * l + k] = c * apk - s * aqk;
          a[q * l + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < l; k++) {
          // v is column-major: column p is v[p*l .. p*l+l).
          const vkp = v[p * l + k]!;
          const vkq = v[q * l + k]!;
          v[p * l + k] = c * vkp - s * vkq;
          v[q * l + k] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = [...Array(l).keys()].sort((i, j) => a[j * l + j]! - a[i * l + i]!);
  const values = new Float64Array(l);
  const vectors = new Float64Array(l * l);
  order.forEach((src, dst) => {
    values[dst] = a[src * l + src]!;
    vectors.set(v.subarray(src * l, src * l + l), dst * l);
  });
  return { values, vectors };
}

/** Seeded PRNG (mulberry32) with standard normal draws (Box–Muller). */
export function seededNormal(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    let u = 0;
    while (u === 0) u = uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}

export interface TruncatedSvd {
  /** Singular values, descending. */
  s: Float64Array;
  /** Right singular vectors as columns (m×k, column-major): the term → concept map. */
  v: DenseMatrix;
  /** Left singular vectors as columns (n×k, column-major). */
  u: DenseMatrix;
}

export interface SvdOptions {
  /** Extra random directions beyond k (Halko et al. recommend 5–10; default 10). */
  oversample?: number;
  /** Power (subspace) iterations; more helps when the spectrum decays slowly (default 5). */
  powerIterations?: number;
  seed?: number;
}

/**
 * Rank-k truncated SVD of a sparse matrix by randomised subspace iteration (Halko,
 * Martinsson & Tropp 2011, algorithms 4.4 + 5.1): sketch the range with a Gaussian block,
 * refine with re-orthonormalised power iterations, then solve the small projected problem
 * exactly with Jacobi. Signs are fixed so the largest entry of each right vector is positive,
 * which makes results reproducible for a given seed.
 */
export function randomizedSvd(a: CsrMatrix, k: number, options: SvdOptions = {}): TruncatedSvd {
  const maxRank = Math.min(a.rows, a.cols);
  k = Math.max(1, Math.min(k, maxRank));
  const l = Math.min(maxRank, k + (options.oversample ?? 10));
  const normal = seededNormal(options.seed ?? 42);
  const omega: DenseMatrix = { rows: a.cols, cols: l, data: new Float64Array(a.cols * l) };
  for (let i = 0; i < omega.data.length; i++) omega.data[i] = normal();
  let q = csrTimesDense(a, omega);
  orthonormalize(q);
  for (let it = 0; it < (options.powerIterations ?? 5); it++) {
    const z = csrTransposeTimesDense(a, q);
    orthonormalize(z);
    q = csrTimesDense(a, z);
    orthonormalize(q);
  }
  // B = Qᵀ A (l×m); we keep Bᵀ = Aᵀ Q (m×l) column-major, then eigen-decompose B Bᵀ (l×l).
  const bt = csrTransposeTimesDense(a, q);
  const m = a.cols;
  const gram = new Float64Array(l * l);
  for (let i = 0; i < l; i++) {
    for (let j = i; j < l; j++) {
      let dot = 0;
      const oi = i * m;
      const oj = j * m;
      for (let r = 0; r < m; r++) dot += bt.data[oi + r]! * bt.data[oj + r]!;
      gram[i * l + j] = dot;
      gram[j * l + i] = dot;
    }
  }
  const { values, vectors } = symmetricEigen(gram, l);
  const s = new Float64Array(k);
  const v: DenseMatrix = { rows: m, cols: k, data: new Float64Array(m * k) };
  const u: DenseMatrix = { rows: a.rows, cols: k, data: new Float64Array(a.rows * k) };
  for (let c = 0; c < k; c++) {
    const sigma = Math.sqrt(Math.max(0, values[c]!));
    s[c] = sigma;
    if (sigma <= 1e-12) continue;
    // v_c = Bᵀ w_c / σ_c ; u_c = Q w_c.
    const w = vectors.subarray(c * l, c * l + l);
    for (let j = 0; j < l; j++) {
      const wj = w[j]!;
      if (wj === 0) continue;
      for (let r = 0; r < m; r++) v.data[c * m + r]! += (bt.data[j * m + r]! * wj) / sigma;
      for (let r = 0; r < a.rows; r++) u.data[c * a.rows + r]! += q.data[j * a.rows + r]! * wj;
    }
    let maxAbs = 0;
    let sign = 1;
    for (let r = 0; r < m; r++) {
      const x = v.data[c * m + r]!;
      if (Math.abs(x) > maxAbs) {
        maxAbs = Math.abs(x);
        sign = Math.sign(x);
      }
    }
    if (sign < 0) {
      for (let r = 0; r < m; r++) v.data[c * m + r] = -v.data[c * m + r]!;
      for (let r = 0; r < a.rows; r++) u.data[c * a.rows + r] = -u.data[c * a.rows + r]!;
    }
  }
  return { s, v, u };
}
