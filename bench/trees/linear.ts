/**
 * Linear models side by side with scikit-learn: Quintet's `fitLinear` / `fitLogistic`
 * against `ElasticNet` / `LinearRegression` / `LogisticRegression` (saga for the elastic
 * net, lbfgs for L2, each library's usual solver) on the same matrices, the same split
 * and the same objective (scikit-learn gets `StandardScaler` first, since Quintet
 * penalises standardised coefficients; `C = 1 / (alpha * n)`). Both keep their default
 * tolerance (1e-4), whose meanings differ, so the table also shows each solution's value
 * of the shared objective on the training rows: lower is better, equal means both found
 * the optimum. Fit times include standardisation, single-threaded on both sides (median
 * of three fits).
 *
 * Data: three generated tables (regression, binary, 4-class) and, when present, the public
 * Adult, Bank Marketing and Telco Churn tables from `QUINTET_DATA_DIR` or `../shared/data`
 * (or the folder given as the first argument), one-hot encoded here for both libraries.
 *
 * Run: `npm run bench:trees` (all tree benches) or
 * `node --conditions=source --import tsx bench/trees/linear.ts [DATA_DIR]`.
 * Writes `bench/results/linear.{json,md}`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  accuracy,
  fitLinear,
  fitLogistic,
  type LinearModel,
  type LogisticModel,
  logLoss,
  type Matrix,
  multiLogLoss,
  Rng,
  r2,
  rmse,
  rocAuc,
} from "@quintet/ml";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..");
const PY = "/usr/bin/python3";
const REPEAT = 3;

interface Table {
  name: string;
  task: "regression" | "binary" | "multiclass";
  Xtr: Matrix;
  ytr: Float64Array;
  Xte: Matrix;
  yte: Float64Array;
  /** Some feature values are missing (NaN): both sides impute the training mean. */
  missing: boolean;
  note: string;
}

interface Run {
  /** What scikit-learn fits: elastic net (saga / coordinate descent), L2 (lbfgs) or none. */
  penalty: "elasticnet" | "l2" | "none";
  alpha: number;
  l1Ratio: number;
}

// ---------------------------------------------------------------- generated data

/** Correlated features in groups of five, on scales from 0.01 to 1000. */
function features(rng: Rng, n: number, p: number): Float64Array {
  const X = new Float64Array(n * p);
  const scale = Array.from({ length: p }, (_, j) => [0.01, 1, 30, 1000][j % 4]!);
  const shift = Array.from({ length: p }, () => rng.normal(0, 3));
  const groups = Math.ceil(p / 5);
  const f = new Float64Array(groups);
  for (let i = 0; i < n; i++) {
    for (let g = 0; g < groups; g++) f[g] = rng.normal();
    for (let j = 0; j < p; j++)
      X[i * p + j] = (0.6 * f[Math.floor(j / 5)]! + 0.8 * rng.normal() + shift[j]!) * scale[j]!;
  }
  return X;
}

/** Standardised-scale coefficients: the first `informative` are N(0, 1), the rest 0. */
function trueCoef(rng: Rng, p: number, informative: number): Float64Array {
  return Float64Array.from({ length: p }, (_, j) => (j < informative ? rng.normal() : 0));
}

function linearPredictor(X: Float64Array, i: number, p: number, coef: Float64Array, mean: number[], sd: number[]) {
  let s = 0;
  for (let j = 0; j < p; j++) s += (coef[j]! * (X[i * p + j]! - mean[j]!)) / sd[j]!;
  return s;
}

function columnStats(X: Float64Array, n: number, p: number) {
  const mean = new Array(p).fill(0);
  const sd = new Array(p).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) mean[j] += X[i * p + j]! / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) sd[j] += (X[i * p + j]! - mean[j]) ** 2 / n;
  return { mean, sd: sd.map(Math.sqrt) };
}

function split(X: Float64Array, y: Float64Array, p: number, ntr: number) {
  const n = y.length;
  return {
    Xtr: { data: X.subarray(0, ntr * p), rows: ntr, cols: p },
    ytr: y.subarray(0, ntr),
    Xte: { data: X.subarray(ntr * p), rows: n - ntr, cols: p },
    yte: y.subarray(ntr),
  };
}

function generated(): Table[] {
  const out: Table[] = [];
  {
    const rng = new Rng(101);
    const n = 125_000;
    const p = 50;
    const X = features(rng, n, p);
    const { mean, sd } = columnStats(X, n, p);
    const c = trueCoef(rng, p, 15);
    const y = Float64Array.from({ length: n }, (_, i) => 5 + linearPredictor(X, i, p, c, mean, sd) + rng.normal(0, 2));
    out.push({
      name: "generated regression",
      task: "regression",
      ...split(X, y, p, 100_000),
      missing: false,
      note: "100k train / 25k test, 50 correlated features (15 informative), noise sd 2",
    });
  }
  {
    const rng = new Rng(202);
    const n = 125_000;
    const p = 50;
    const X = features(rng, n, p);
    const { mean, sd } = columnStats(X, n, p);
    const c = trueCoef(rng, p, 15);
    const y = Float64Array.from({ length: n }, (_, i) => {
      const m = -1 + 0.5 * linearPredictor(X, i, p, c, mean, sd);
      return rng.bernoulli(1 / (1 + Math.exp(-m))) ? 1 : 0;
    });
    out.push({
      name: "generated binary",
      task: "binary",
      ...split(X, y, p, 100_000),
      missing: false,
      note: "100k train / 25k test, 50 correlated features (15 informative)",
    });
  }
  {
    const rng = new Rng(303);
    const n = 62_500;
    const p = 20;
    const K = 4;
    const X = features(rng, n, p);
    const { mean, sd } = columnStats(X, n, p);
    const C = Array.from({ length: K }, () => trueCoef(rng, p, 8));
    const y = Float64Array.from({ length: n }, (_, i) =>
      rng.choice(
        [0, 1, 2, 3],
        C.map((c) => Math.exp(0.7 * linearPredictor(X, i, p, c, mean, sd))),
      ),
    );
    out.push({
      name: "generated 4-class",
      task: "multiclass",
      ...split(X, y, p, 50_000),
      missing: false,
      note: "50k train / 12.5k test, 20 correlated features (8 informative per class)",
    });
  }
  return out;
}

// ---------------------------------------------------------------- public data

const MISSING = new Set(["", "?", "NA"]);

function readDelimited(path: string, sep: string, header: boolean, names?: string[]) {
  const lines = readFileSync(path, "utf8")
    .split(/\r?\n/)
    .filter((l) => l.trim() !== "");
  const head = header
    ? lines
        .shift()!
        .split(sep)
        .map((s) => s.trim())
    : names!;
  return { head, rows: lines.map((l) => l.split(sep).map((s) => s.trim())) };
}

/**
 * Numeric columns as numbers (missing tokens NaN), text columns one-hot with the
 * categories seen in training (an unseen test category is all zeros).
 */
function oneHot(head: string[], train: string[][], test: string[][], drop: string[], target: string, positive: string) {
  const t = head.indexOf(target);
  const cols: { j: number; name: string; level?: string }[] = [];
  for (let j = 0; j < head.length; j++) {
    if (j === t || drop.includes(head[j]!)) continue;
    const numeric = train.every((r) => MISSING.has(r[j]!) || Number.isFinite(Number(r[j])));
    if (numeric) cols.push({ j, name: head[j]! });
    else {
      const levels = [...new Set(train.map((r) => r[j]!))].sort();
      for (const level of levels) cols.push({ j, name: `${head[j]}=${level}`, level });
    }
  }
  const encode = (rows: string[][]) => {
    const X = new Float64Array(rows.length * cols.length);
    const y = new Float64Array(rows.length);
    rows.forEach((r, i) => {
      cols.forEach((c, k) => {
        const v = r[c.j]!;
        X[i * cols.length + k] =
          c.level !== undefined ? (v === c.level ? 1 : 0) : MISSING.has(v) ? Number.NaN : Number(v);
      });
      y[i] = r[t]!.replace(/\.$/, "") === positive ? 1 : 0;
    });
    return { X: { data: X, rows: rows.length, cols: cols.length } as Matrix, y };
  };
  const tr = encode(train);
  const te = encode(test);
  return { Xtr: tr.X, ytr: tr.y, Xte: te.X, yte: te.y, missing: tr.X.data.some(Number.isNaN) };
}

function everyFifth(rows: string[][]) {
  return { train: rows.filter((_, i) => i % 5 !== 4), test: rows.filter((_, i) => i % 5 === 4) };
}

function publicTables(dir: string): Table[] {
  const out: Table[] = [];
  const adultTr = join(dir, "adult/adult.data");
  const adultTe = join(dir, "adult/adult.test");
  if (existsSync(adultTr) && existsSync(adultTe)) {
    const names = [
      "age",
      "workclass",
      "fnlwgt",
      "education",
      "education-num",
      "marital-status",
      "occupation",
      "relationship",
      "race",
      "sex",
      "capital-gain",
      "capital-loss",
      "hours-per-week",
      "native-country",
      "income",
    ];
    const a = readDelimited(adultTr, ",", false, names);
    const b = readDelimited(adultTe, ",", false, names);
    out.push({
      name: "adult",
      task: "binary",
      ...oneHot(names, a.rows, b.rows, [], "income", ">50K"),
      note: "official train/test files, categoricals one-hot ('?' is a level)",
    });
  }
  const bank = join(dir, "bank-marketing/bank-full.csv");
  if (existsSync(bank)) {
    const { head, rows } = readDelimited(bank, ";", true);
    const s = everyFifth(rows);
    out.push({
      name: "bank-marketing",
      task: "binary",
      ...oneHot(head, s.train, s.test, ["duration"], "y", "yes"),
      note: "bank-full without duration (leaks); every 5th row test; one-hot",
    });
  }
  const telco = join(dir, "telco-churn/Telco-Customer-Churn.csv");
  if (existsSync(telco)) {
    const { head, rows } = readDelimited(telco, ",", true);
    const s = everyFifth(rows);
    out.push({
      name: "telco-churn",
      task: "binary",
      ...oneHot(head, s.train, s.test, ["customerID"], "Churn", "Yes"),
      note: "customerID dropped; blank TotalCharges imputed with the training mean; every 5th row test; one-hot",
    });
  }
  return out;
}

// ---------------------------------------------------------------- the peer

const PEER = `
import json, sys, time, warnings
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, LinearRegression, LogisticRegression
from sklearn.preprocessing import StandardScaler

spec = json.load(open(sys.argv[1]))
X = np.fromfile(spec["Xtr"], dtype="<f8").reshape(spec["ntr"], -1)
y = np.fromfile(spec["ytr"], dtype="<f8")
Xte = np.fromfile(spec["Xte"], dtype="<f8").reshape(spec["nte"], -1)
n = len(y)
a, l1, pen = spec["alpha"], spec["l1Ratio"], spec["penalty"]

def model():
    if spec["task"] == "regression":
        if pen == "none":
            return LinearRegression()
        return ElasticNet(alpha=a, l1_ratio=l1)
    y_int = y.astype(int)
    if pen == "elasticnet":
        return LogisticRegression(penalty="elasticnet", solver="saga", C=1 / (a * n), l1_ratio=l1, max_iter=1000)
    return LogisticRegression(penalty="l2", solver="lbfgs", C=1 / (a * n), max_iter=1000)

times = []
for r in range(spec["repeat"]):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        t0 = time.perf_counter()
        imp = SimpleImputer(strategy="mean").fit(X) if spec["missing"] else None
        Xi = imp.transform(X) if imp else X
        sc = StandardScaler().fit(Xi)
        m = model().fit(sc.transform(Xi), y if spec["task"] == "regression" else y.astype(int))
        times.append(time.perf_counter() - t0)
converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
Xt = sc.transform(imp.transform(Xte) if imp else Xte)
coef = np.atleast_2d(m.coef_) / sc.scale_
intercept = np.atleast_1d(m.intercept_) - coef @ sc.mean_
pred = m.predict(Xt) if spec["task"] == "regression" else m.predict_proba(Xt)
pred.astype("<f8").tofile(spec["pred"])
n_iter = np.max(m.n_iter_) if hasattr(m, "n_iter_") and m.n_iter_ is not None else 0
print(json.dumps({
    "seconds": float(np.median(times)),
    "converged": converged,
    "iterations": int(n_iter),
    "coef": coef.tolist(),
    "intercept": intercept.tolist(),
    "impute": imp.statistics_.tolist() if imp else None,
}))
`;

interface PeerResult {
  seconds: number;
  converged: boolean;
  iterations: number;
  coef: number[][];
  intercept: number[];
  impute: number[] | null;
}

function runPeer(dir: string, t: Table, run: Run): PeerResult {
  const spec = {
    Xtr: join(dir, "Xtr.f64"),
    ytr: join(dir, "ytr.f64"),
    Xte: join(dir, "Xte.f64"),
    ntr: t.Xtr.rows,
    nte: t.Xte.rows,
    pred: join(dir, "pred.f64"),
    task: t.task,
    missing: t.missing,
    repeat: REPEAT,
    ...run,
  };
  writeFileSync(join(dir, "spec.json"), JSON.stringify(spec));
  writeFileSync(join(dir, "peer.py"), PEER);
  const env = { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1", MKL_NUM_THREADS: "1" };
  const r = spawnSync(PY, [join(dir, "peer.py"), join(dir, "spec.json")], { encoding: "utf8", env });
  if (r.status !== 0) throw new Error(`scikit-learn peer failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

// ---------------------------------------------------------------- the shared objective

/**
 * The objective both libraries minimise, on the training rows: mean loss (squared error
 * over two, or log loss) plus alpha * (l1Ratio |c * s|_1 + (1 - l1Ratio)/2 |c * s|^2),
 * with `s` the feature standard deviations (both sides standardise the same way).
 */
function objective(t: Table, run: Run, coef: number[][], intercept: number[], scales: Float64Array, impute?: number[]) {
  const { data, rows: n, cols: p } = t.Xtr;
  const K = coef.length;
  const m = new Float64Array(K);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < K; k++) {
      let s = intercept[k]!;
      for (let j = 0; j < p; j++) {
        let x = data[i * p + j]!;
        if (Number.isNaN(x)) x = impute![j]!;
        s += coef[k]![j]! * x;
      }
      m[k] = s;
    }
    const y = t.ytr[i]!;
    if (t.task === "regression") loss += 0.5 * (y - m[0]!) ** 2;
    else if (K === 1) loss += Math.max(m[0]!, 0) + Math.log1p(Math.exp(-Math.abs(m[0]!))) - y * m[0]!;
    else {
      let mx = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < K; k++) mx = Math.max(mx, m[k]!);
      let s = 0;
      for (let k = 0; k < K; k++) s += Math.exp(m[k]! - mx);
      loss += mx + Math.log(s) - m[y]!;
    }
  }
  let a1 = 0;
  let b2 = 0;
  for (const row of coef) {
    for (let j = 0; j < p; j++) {
      const c = row[j]! * scales[j]!;
      a1 += Math.abs(c);
      b2 += c * c;
    }
  }
  return loss / n + run.alpha * (run.l1Ratio * a1 + ((1 - run.l1Ratio) / 2) * b2);
}

function testMetric(t: Table, pred: Float64Array): { name: string; value: number; extra: string } {
  if (t.task === "regression") {
    return { name: "RMSE", value: rmse(t.yte, pred), extra: `R² ${r2(t.yte, pred).toFixed(4)}` };
  }
  if (t.task === "binary") {
    const p1 = Float64Array.from({ length: t.yte.length }, (_, i) => pred[2 * i + 1]!);
    return { name: "AUC", value: rocAuc(t.yte, p1), extra: `log loss ${logLoss(t.yte, p1).toFixed(4)}` };
  }
  const K = pred.length / t.yte.length;
  const labels = Float64Array.from({ length: t.yte.length }, (_, i) => {
    let best = 0;
    for (let k = 1; k < K; k++) if (pred[i * K + k]! > pred[i * K + best]!) best = k;
    return best;
  });
  return {
    name: "mlogloss",
    value: multiLogLoss(t.yte, pred, K),
    extra: `accuracy ${accuracy(t.yte, labels).toFixed(4)}`,
  };
}

function nonzeros(coef: ArrayLike<number>[]): number {
  let c = 0;
  for (const row of coef) for (let j = 0; j < row.length; j++) if (row[j] !== 0) c++;
  return c;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

// ---------------------------------------------------------------- main

interface Row {
  table: string;
  task: string;
  rows: number;
  features: number;
  penalty: string;
  alpha: number;
  l1Ratio: number;
  metric: string;
  quintet: {
    seconds: number;
    test: number;
    extra: string;
    objective: number;
    nonzeros: number;
    converged: boolean;
    iterations: number;
  };
  sklearn: {
    seconds: number;
    test: number;
    extra: string;
    objective: number;
    nonzeros: number;
    converged: boolean;
    iterations: number;
  };
  maxCoefDiff: number;
}

const RUNS: Record<Table["task"], Run[]> = {
  regression: [
    { penalty: "elasticnet", alpha: 0.05, l1Ratio: 0.5 },
    { penalty: "elasticnet", alpha: 0.2, l1Ratio: 1 },
    { penalty: "none", alpha: 0, l1Ratio: 0.5 },
  ],
  binary: [
    { penalty: "elasticnet", alpha: 1e-3, l1Ratio: 0.5 },
    { penalty: "l2", alpha: 1e-4, l1Ratio: 0 },
  ],
  multiclass: [
    { penalty: "elasticnet", alpha: 1e-3, l1Ratio: 0.5 },
    { penalty: "l2", alpha: 1e-4, l1Ratio: 0 },
  ],
};

function main() {
  const arg = process.argv.slice(2).find((a) => !a.startsWith("-"));
  const dataDir = resolve(arg ?? process.env.QUINTET_DATA_DIR ?? join(repo, "..", "shared", "data"));
  const tables = generated();
  if (existsSync(dataDir)) tables.push(...publicTables(dataDir));
  else console.log(`(public tables skipped: ${dataDir} not found; pass the data folder or set QUINTET_DATA_DIR)`);

  const tmp = mkdtempSync(join(tmpdir(), "quintet-bench-linear-"));
  const rows: Row[] = [];
  try {
    for (const t of tables) {
      writeFileSync(join(tmp, "Xtr.f64"), t.Xtr.data);
      writeFileSync(join(tmp, "ytr.f64"), t.ytr);
      writeFileSync(join(tmp, "Xte.f64"), t.Xte.data);
      for (const run of RUNS[t.task]) {
        const opts = {
          alpha: run.alpha,
          l1Ratio: run.l1Ratio,
          missing: t.missing ? ("mean" as const) : ("error" as const),
          onWarning: (w: string) => console.log(`  quintet warning: ${w}`),
        };
        const times: number[] = [];
        let model: LinearModel | LogisticModel | undefined;
        for (let r = 0; r < REPEAT; r++) {
          const t0 = process.hrtime.bigint();
          model = t.task === "regression" ? fitLinear(t.Xtr, t.ytr, opts) : fitLogistic(t.Xtr, t.ytr, opts);
          times.push(Number(process.hrtime.bigint() - t0) / 1e9);
        }
        const m = model!;
        const qPred = m.kind === "linear" ? m.predict(t.Xte) : m.predictProba(t.Xte);
        const qCoef = m.kind === "linear" ? [Array.from(m.coefficients)] : m.coefficients.map((c) => Array.from(c));
        const qIntercept = m.kind === "linear" ? [m.intercept] : Array.from(m.intercept);
        const impute = m.imputeValues ? Array.from(m.imputeValues) : undefined;

        const peer = runPeer(tmp, t, run);
        const sPred = new Float64Array(readFileSync(join(tmp, "pred.f64")).buffer.slice(0));
        let maxCoefDiff = 0;
        for (const [k, row] of qCoef.entries()) {
          for (const [j, c] of row.entries()) {
            maxCoefDiff = Math.max(maxCoefDiff, Math.abs(c - peer.coef[k]![j]!) * m.featureScales[j]!);
          }
        }
        const qm = testMetric(t, qPred);
        const sm = testMetric(t, sPred);
        const row: Row = {
          table: t.name,
          task: t.task,
          rows: t.Xtr.rows,
          features: t.Xtr.cols,
          penalty:
            run.penalty === "none" ? "none (OLS)" : run.penalty === "l2" ? "L2" : `elastic net, l1Ratio ${run.l1Ratio}`,
          alpha: run.alpha,
          l1Ratio: run.l1Ratio,
          metric: qm.name,
          quintet: {
            seconds: median(times),
            test: qm.value,
            extra: qm.extra,
            objective: objective(t, run, qCoef, qIntercept, m.featureScales, impute),
            nonzeros: nonzeros(qCoef),
            converged: m.fitInfo.converged,
            iterations: m.fitInfo.iterations,
          },
          sklearn: {
            seconds: peer.seconds,
            test: sm.value,
            extra: sm.extra,
            objective: objective(t, run, peer.coef, peer.intercept, m.featureScales, peer.impute ?? undefined),
            nonzeros: nonzeros(peer.coef),
            converged: peer.converged,
            iterations: peer.iterations,
          },
          maxCoefDiff,
        };
        rows.push(row);
        console.log(
          `${t.name} | ${row.penalty} alpha ${run.alpha}: quintet ${row.quintet.seconds.toFixed(3)}s ${qm.name} ${qm.value.toFixed(4)} obj ${row.quintet.objective.toPrecision(8)} | sklearn ${peer.seconds.toFixed(3)}s ${sm.value.toFixed(4)} obj ${row.sklearn.objective.toPrecision(8)}`,
        );
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const sk = (r: Row) =>
    r.task === "regression"
      ? r.penalty.startsWith("none")
        ? "LinearRegression"
        : "ElasticNet"
      : r.penalty === "L2"
        ? "LogReg lbfgs"
        : "LogReg saga";
  const md = [
    "| table | rows × features | penalty (alpha) | sklearn estimator | fit s quintet | fit s sklearn | time ratio q/s | test metric quintet | test metric sklearn | objective quintet | objective sklearn | nonzero coefs q / s | max std. coef diff |",
    "| --- | --- | --- | --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: |",
    ...rows.map(
      (r) =>
        `| ${r.table} | ${r.rows.toLocaleString("en-US")} × ${r.features} | ${r.penalty} (${r.alpha}) | ${sk(r)} | ${r.quintet.seconds.toFixed(3)}${r.quintet.converged ? "" : " (not converged)"} | ${r.sklearn.seconds.toFixed(3)}${r.sklearn.converged ? "" : " (not converged)"} | ${(r.quintet.seconds / r.sklearn.seconds).toFixed(2)} | ${r.metric} ${r.quintet.test.toFixed(4)}, ${r.quintet.extra} | ${r.metric} ${r.sklearn.test.toFixed(4)}, ${r.sklearn.extra} | ${r.quintet.objective.toPrecision(8)} | ${r.sklearn.objective.toPrecision(8)} | ${r.quintet.nonzeros} / ${r.sklearn.nonzeros} | ${r.maxCoefDiff.toExponential(1)} |`,
    ),
  ].join("\n");
  console.log(`\n${md}`);

  const meta = {
    node: process.version,
    date: new Date().toISOString(),
    cpus: cpus().length,
    loadavg: loadavg().map((l) => Number(l.toFixed(2))),
    repeat: REPEAT,
    note: "single-threaded on both sides; median of fits; other work may share the machine (see loadavg)",
  };
  const dir = join(here, "..", "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "linear.json"),
    `${JSON.stringify({ ...meta, tables: tables.map((t) => ({ name: t.name, note: t.note })), results: rows }, null, 2)}\n`,
  );
  writeFileSync(
    join(dir, "linear.md"),
    `# Linear models vs scikit-learn (${meta.date}, Node ${meta.node}, ${meta.cpus} cores, load ${meta.loadavg.join(" ")})\n\n` +
      "Same matrices, split and objective; fit time is the median of 3 fits including standardisation, one thread each. " +
      "Objective: the shared training objective at each library's solution (lower is better). " +
      "Max std. coef diff: largest |difference| of coefficients on the standardised scale.\n\n" +
      `${tables.map((t) => `- ${t.name}: ${t.note}`).join("\n")}\n\n${md}\n`,
  );
}

main();
