/**
 * One row of a Gram matrix: `out[outOff + k] = sum_i a[aOff + i] * z[k * n + i]` for every
 * column k in [from, cols) that is not skipped. Four columns share each read of `a`, which
 * roughly halves the memory traffic of the one-column-at-a-time loop on long columns.
 */
export function gramRow(
  a: Float64Array,
  aOff: number,
  z: Float64Array,
  n: number,
  from: number,
  cols: number,
  skip: Uint8Array,
  out: Float64Array,
  outOff: number,
): void {
  let k = from;
  for (; k + 3 < cols; k += 4) {
    const o0 = k * n;
    const o1 = o0 + n;
    const o2 = o1 + n;
    const o3 = o2 + n;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let i = 0; i < n; i++) {
      const x = a[aOff + i]!;
      s0 += x * z[o0 + i]!;
      s1 += x * z[o1 + i]!;
      s2 += x * z[o2 + i]!;
      s3 += x * z[o3 + i]!;
    }
    out[outOff + k] = skip[k] ? 0 : s0;
    out[outOff + k + 1] = skip[k + 1] ? 0 : s1;
    out[outOff + k + 2] = skip[k + 2] ? 0 : s2;
    out[outOff + k + 3] = skip[k + 3] ? 0 : s3;
  }
  for (; k < cols; k++) {
    if (skip[k]) {
      out[outOff + k] = 0;
      continue;
    }
    const o = k * n;
    let s = 0;
    for (let i = 0; i < n; i++) s += a[aOff + i]! * z[o + i]!;
    out[outOff + k] = s;
  }
}
