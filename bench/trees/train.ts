/**
 * Training benchmark: Quintet's histogram GBDT against XGBoost `hist` and scikit-learn
 * HistGradientBoosting on the same matrices, the same split and the same hyperparameters
 * (depth 6, eta 0.1, 200 rounds, 255 value bins + missing, lambda 1, min_child_weight 1,
 * native categorical splits), with 1 and 2 threads. Reports training time, test
 * AUC/log loss (or RMSE), batch and single-row predict speed and peak memory, each model
 * in its own process.
 *
 * Data: the public tables in `QUINTET_DATA_DIR` or `../shared/data` next to the repo (or
 * the folder given as the first argument), plus two generated tables.
 *
 * Run: `npm run bench:trees`, or after `npx tsc -b` (Quintet runs from the built package)
 * `node --import tsx bench/trees/train.ts [DATA_DIR] [--only NAME] [--repeat N] [--keep DIR]`.
 * Writes `bench/results/trees-train.{json,md}`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compileEnsemble, type GbdtParams, logLoss, type Matrix, Rng, rmse, rocAuc, trainGbdt } from "@quintet/ml";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..");
const PY = "/usr/bin/python3";

/** Shared hyperparameters: what the issue asks for, in each library's terms. */
const PARAMS = {
  numRounds: 200,
  learningRate: 0.1,
  maxDepth: 6,
  maxBins: 255,
  lambda: 1,
  minChildWeight: 1,
  maxCatToOnehot: 4,
};

interface Table {
  name: string;
  task: "binary" | "regression";
  Xtr: Matrix;
  ytr: Float64Array;
  Xte: Matrix;
  yte: Float64Array;
  categorical: number[];
  note: string;
}

// ---------------------------------------------------------------- public data

const MISSING = new Set(["", "?", "NA", "NaN"]);

/** Columns of a delimited text table, header and cells trimmed. */
function readDelimited(path: string, sep: string | RegExp, header: boolean, names?: string[]) {
  const lines = readFileSync(path, "utf8")
    .split(/\r?\n/)
    .filter((l) => l.trim() !== "");
  const head = header
    ? lines
        .shift()!
        .split(sep)
        .map((s) => s.trim())
    : names!;
  const rows = lines.map((l) => l.split(sep).map((s) => s.trim()));
  return { head, rows };
}

/**
 * Encodes cells as numbers: numeric columns parse (missing tokens become NaN), other
 * columns become category codes in sorted order of their values (shared by train and test).
 */
function encode(head: string[], rows: string[][], drop: string[], target: string, positive: (v: string) => boolean) {
  const keep = head.map((_, j) => j).filter((j) => !drop.includes(head[j]!) && head[j] !== target);
  const t = head.indexOf(target);
  const categorical: number[] = [];
  const codes: (Map<string, number> | null)[] = keep.map((j, k) => {
    const numeric = rows.every((r) => MISSING.has(r[j]!) || Number.isFinite(Number(r[j])));
    if (numeric) return null;
    categorical.push(k);
    const values = [...new Set(rows.map((r) => r[j]!).filter((v) => !MISSING.has(v)))].sort();
    return new Map(values.map((v, i) => [v, i]));
  });
  const X = new Float64Array(rows.length * keep.length);
  const y = new Float64Array(rows.length);
  rows.forEach((r, i) => {
    keep.forEach((j, k) => {
      const v = r[j]!;
      const c = codes[k];
      X[i * keep.length + k] = MISSING.has(v) ? Number.NaN : c ? c.get(v)! : Number(v);
    });
    y[i] = positive(r[t]!) ? 1 : 0;
  });
  return { X, y, cols: keep.length, categorical };
}

/** Splits rows: every fifth row is test (the files are not ordered by label). */
function splitEveryFifth(X: Float64Array, y: Float64Array, cols: number) {
  const n = y.length;
  const te: number[] = [];
  const tr: number[] = [];
  for (let i = 0; i < n; i++) (i % 5 === 4 ? te : tr).push(i);
  const take = (ids: number[]) => {
    const d = new Float64Array(ids.length * cols);
    ids.forEach((r, i) => {
      d.set(X.subarray(r * cols, (r + 1) * cols), i * cols);
    });
    return { X: { data: d, rows: ids.length, cols }, y: Float64Array.from(ids, (r) => y[r]!) };
  };
  return { tr: take(tr), te: take(te) };
}

function publicTables(dataDir: string): Table[] {
  const out: Table[] = [];
  const file = (p: string) => join(dataDir, p);

  const synth = file("synthetic-gbdt/gbdt_100k.csv");
  if (existsSync(synth)) {
    const { head, rows } = readDelimited(synth, ",", true);
    const e = encode(head, rows, [], "label", (v) => v === "1");
    // cat0 and cat1 hold integer codes (numeric text), categorical by the README.
    const cat = [head.indexOf("cat0"), head.indexOf("cat1")];
    const ntr = Math.round(e.y.length * 0.8);
    out.push({
      name: "synthetic-gbdt 100k",
      task: "binary",
      Xtr: { data: e.X.subarray(0, ntr * e.cols), rows: ntr, cols: e.cols },
      ytr: e.y.subarray(0, ntr),
      Xte: { data: e.X.subarray(ntr * e.cols), rows: e.y.length - ntr, cols: e.cols },
      yte: e.y.subarray(ntr),
      categorical: cat,
      note: "first 80% train, last 20% test (as its README)",
    });
  }

  const adultTr = file("adult/adult.data");
  const adultTe = file("adult/adult.test");
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
    const e = encode(names, [...a.rows, ...b.rows], [], "income", (v) => v.startsWith(">50K"));
    const ntr = a.rows.length;
    out.push({
      name: "adult",
      task: "binary",
      Xtr: { data: e.X.subarray(0, ntr * e.cols), rows: ntr, cols: e.cols },
      ytr: e.y.subarray(0, ntr),
      Xte: { data: e.X.subarray(ntr * e.cols), rows: e.y.length - ntr, cols: e.cols },
      yte: e.y.subarray(ntr),
      categorical: e.categorical,
      note: "official train/test files",
    });
  }

  const bank = file("bank-marketing/bank-full.csv");
  if (existsSync(bank)) {
    const { head, rows } = readDelimited(bank, ";", true);
    const e = encode(head, rows, ["duration"], "y", (v) => v === "yes");
    const s = splitEveryFifth(e.X, e.y, e.cols);
    out.push({
      name: "bank-marketing",
      task: "binary",
      Xtr: s.tr.X,
      ytr: s.tr.y,
      Xte: s.te.X,
      yte: s.te.y,
      categorical: e.categorical,
      note: "bank-full without duration (leaks); every 5th row test",
    });
  }

  const telco = file("telco-churn/Telco-Customer-Churn.csv");
  if (existsSync(telco)) {
    const { head, rows } = readDelimited(telco, ",", true);
    const e = encode(head, rows, ["customerID"], "Churn", (v) => v === "Yes");
    const s = splitEveryFifth(e.X, e.y, e.cols);
    out.push({
      name: "telco-churn",
      task: "binary",
      Xtr: s.tr.X,
      ytr: s.tr.y,
      Xte: s.te.X,
      yte: s.te.y,
      categorical: e.categorical,
      note: "customerID dropped, blank TotalCharges missing; every 5th row test",
    });
  }
  return out;
}

// ---------------------------------------------------------------- generated data

/** A larger table than the public ones: 250k rows, 24 features, 5% missing, one 50-level category. */
function generatedBinary(): Table {
  const rng = new Rng(2024);
  const n = 250_000;
  const cols = 24;
  const effect = Array.from({ length: 50 }, () => rng.normal(0, 0.7));
  const X = new Float64Array(n * cols);
  const y = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const x = Array.from({ length: cols - 1 }, () => rng.normal());
    const c = rng.int(0, 50);
    const z =
      1.2 * x[0]! - x[1]! + 0.8 * x[2]! * x[3]! + (x[4]! > 0.3 ? 1 : -0.5) + Math.sin(2 * x[5]!) + 0.5 * x[6]! ** 2;
    y[r] = rng.next() < 1 / (1 + Math.exp(-(z + effect[c]! - 1.5))) ? 1 : 0;
    for (let j = 0; j < cols - 1; j++) X[r * cols + j] = rng.next() < 0.05 ? Number.NaN : x[j]!;
    X[r * cols + cols - 1] = c;
  }
  const ntr = 200_000;
  return {
    name: "generated binary 250k",
    task: "binary",
    Xtr: { data: X.subarray(0, ntr * cols), rows: ntr, cols },
    ytr: y.subarray(0, ntr),
    Xte: { data: X.subarray(ntr * cols), rows: n - ntr, cols },
    yte: y.subarray(ntr),
    categorical: [cols - 1],
    note: "Rng(2024): nonlinear logit over 7 of 23 normals, 5% missing, a 50-level category; 200k/50k",
  };
}

function generatedRegression(): Table {
  const rng = new Rng(7);
  const n = 100_000;
  const cols = 12;
  const X = new Float64Array(n * cols);
  const y = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const x = Array.from({ length: cols }, () => rng.next() * 4 - 2);
    y[r] = 2 * Math.sin(x[0]!) + x[1]! ** 2 - 1.5 * x[2]! + (x[3]! > 0 ? 1 : -1) + x[4]! * x[5]! + rng.normal(0, 0.5);
    for (let j = 0; j < cols; j++) X[r * cols + j] = x[j]!;
  }
  const ntr = 80_000;
  return {
    name: "generated regression 100k",
    task: "regression",
    Xtr: { data: X.subarray(0, ntr * cols), rows: ntr, cols },
    ytr: y.subarray(0, ntr),
    Xte: { data: X.subarray(ntr * cols), rows: n - ntr, cols },
    yte: y.subarray(ntr),
    categorical: [],
    note: "Rng(7): smooth function of 6 of 12 uniforms + N(0, 0.5) noise; 80k/20k",
  };
}

// ---------------------------------------------------------------- runs

interface Spec {
  dir: string;
  task: Table["task"];
  trainRows: number;
  testRows: number;
  cols: number;
  categorical: number[];
  params: typeof PARAMS;
}

interface RunResult {
  model: string;
  threads: number;
  train_s: number;
  predict_s: number;
  single_row_us: number;
  auc?: number;
  logloss?: number;
  rmse?: number;
  peak_rss_mb: number;
  version?: string;
  error?: string;
}

function writeTable(t: Table, dir: string): Spec {
  mkdirSync(dir, { recursive: true });
  const f64 = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  writeFileSync(join(dir, "Xtr.f64"), f64(t.Xtr.data));
  writeFileSync(join(dir, "Xte.f64"), f64(t.Xte.data));
  writeFileSync(join(dir, "ytr.f64"), f64(t.ytr));
  writeFileSync(join(dir, "yte.f64"), f64(t.yte));
  const spec: Spec = {
    dir,
    task: t.task,
    trainRows: t.Xtr.rows,
    testRows: t.Xte.rows,
    cols: t.Xtr.cols,
    categorical: t.categorical,
    params: PARAMS,
  };
  writeFileSync(join(dir, "spec.json"), JSON.stringify(spec));
  return spec;
}

/** Child process: trains Quintet on a written table and prints one JSON line. */
async function child(specPath: string, threads: number, quantized: boolean): Promise<void> {
  const spec = JSON.parse(readFileSync(specPath, "utf8")) as Spec;
  const read = (name: string) => {
    const b = readFileSync(join(spec.dir, name));
    return new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8).slice();
  };
  const Xtr = { data: read("Xtr.f64"), rows: spec.trainRows, cols: spec.cols };
  const Xte = { data: read("Xte.f64"), rows: spec.testRows, cols: spec.cols };
  const ytr = read("ytr.f64");
  const yte = read("yte.f64");
  const options: GbdtParams = {
    objective: spec.task === "binary" ? "binary" : "squared",
    numRounds: PARAMS.numRounds,
    learningRate: PARAMS.learningRate,
    maxDepth: PARAMS.maxDepth,
    maxBins: PARAMS.maxBins,
    lambda: PARAMS.lambda,
    minChildWeight: PARAMS.minChildWeight,
    maxCatToOnehot: PARAMS.maxCatToOnehot,
    categoricalFeatures: spec.categorical,
    threads,
    quantizedGradients: quantized,
  };
  const t0 = performance.now();
  const model = await trainGbdt(Xtr, ytr, options);
  const trainS = (performance.now() - t0) / 1000;
  const predictor = compileEnsemble(model);
  predictor.predict(Xte);
  const t1 = performance.now();
  const pred = predictor.predict(Xte);
  const predictS = (performance.now() - t1) / 1000;
  const out = new Float64Array(1);
  const row = (i: number) => Xte.data.subarray((i % Xte.rows) * Xte.cols, ((i % Xte.rows) + 1) * Xte.cols);
  for (let i = 0; i < 5000; i++) predictor.predictRowInto(row(i), out);
  const calls = 20_000;
  const s0 = performance.now();
  for (let i = 0; i < calls; i++) predictor.predictRowInto(row(i), out);
  const single = ((performance.now() - s0) * 1000) / calls;
  const res: RunResult = {
    model: quantized ? "quintet-q" : "quintet",
    threads,
    train_s: trainS,
    predict_s: predictS,
    single_row_us: single,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  };
  if (spec.task === "binary") {
    res.auc = rocAuc(yte, pred);
    res.logloss = logLoss(yte, pred);
  } else {
    res.rmse = rmse(yte, pred);
  }
  console.log(JSON.stringify(res));
}

function runChild(cmd: string, args: string[]): RunResult {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: repo, maxBuffer: 1 << 24 });
  const line = r.stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  if (r.status !== 0 || !line) {
    return { error: (r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ") } as RunResult;
  }
  return JSON.parse(line) as RunResult;
}

function hasPeers(): boolean {
  return spawnSync(PY, ["-c", "import xgboost, sklearn, threadpoolctl"], { stdio: "ignore" }).status === 0;
}

const MODEL_NAMES: Record<string, string> = {
  quintet: "Quintet",
  "quintet-q": "Quintet, quantized gradients",
  xgb: "XGBoost hist",
  hgb: "sklearn HGB",
};

const fmt = (v: number | undefined, d: number) => (v === undefined || Number.isNaN(v) ? "–" : v.toFixed(d));

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "--child") return child(args[1]!, Number(args[2]), args[3] === "quantized");
  const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
  const repeat = args.includes("--repeat") ? Number(args[args.indexOf("--repeat") + 1]) : 1;
  const positional = args.filter((a, i) => !a.startsWith("--") && !(i > 0 && args[i - 1]!.startsWith("--")));
  const dataDir = resolve(positional[0] ?? process.env.QUINTET_DATA_DIR ?? join(repo, "..", "shared", "data"));
  let tables: Table[] = [];
  if (existsSync(dataDir)) tables = publicTables(dataDir);
  else {
    console.log(
      `public datasets not found at ${dataDir}: pass the folder as an argument or set QUINTET_DATA_DIR (see its README.md); running the generated tables only`,
    );
  }
  tables.push(generatedBinary(), generatedRegression());
  if (only) tables = tables.filter((t) => t.name.includes(only));
  const peers = hasPeers();
  if (!peers)
    console.log(
      `(no peers: ${PY} lacks xgboost/sklearn/threadpoolctl; apt-get install python3-xgboost python3-sklearn)`,
    );

  // --keep DIR writes the tables (spec.json + .f64 files) there and leaves them, so a
  // single configuration can be rerun or profiled: `train.ts --child DIR/<table>/spec.json 2`.
  const keep = args.includes("--keep") ? resolve(args[args.indexOf("--keep") + 1]!) : undefined;
  const work = keep ?? mkdtempSync(join(tmpdir(), "quintet-bench-trees-"));
  const load0 = loadavg();
  const results: { table: string; task: string; shape: string; note: string; runs: RunResult[] }[] = [];
  try {
    for (const t of tables) {
      const spec = writeTable(t, join(work, t.name.replace(/\W+/g, "-")));
      const specPath = join(spec.dir, "spec.json");
      const runs: RunResult[] = [];
      const configs: [string, number][] = [
        ["quintet", 1],
        ["quintet", 2],
        ["quintet-q", 1],
        ["quintet-q", 2],
        ...(peers
          ? ([
              ["xgb", 1],
              ["xgb", 2],
              ["hgb", 1],
              ["hgb", 2],
            ] as [string, number][])
          : []),
      ];
      // The fastest of `repeat` runs of each configuration, taken in rounds (every
      // configuration once per round), so a slow spell of the shared machine hits all of
      // them rather than one.
      const best: (RunResult | undefined)[] = configs.map(() => undefined);
      for (let k = 0; k < repeat; k++) {
        for (const [i, [model, threads]] of configs.entries()) {
          if (best[i]?.error) continue;
          const r = model.startsWith("quintet")
            ? runChild(process.execPath, [
                // The built package (`npm run bench:trees` builds it first), as a user runs it:
                // from source, every histogram worker would load the TypeScript loader too.
                "--import",
                "tsx",
                fileURLToPath(import.meta.url),
                "--child",
                specPath,
                String(threads),
                model === "quintet-q" ? "quantized" : "exact",
              ])
            : runChild(PY, [join(here, "peers.py"), specPath, model, String(threads)]);
          if (r.error) best[i] = { model, threads, ...r } as RunResult;
          else if (!best[i] || r.train_s < best[i]!.train_s) best[i] = r;
        }
      }
      for (const r of best as RunResult[]) {
        runs.push(r);
        console.log(
          `${t.name.padEnd(26)} ${r.model.padEnd(8)} t=${r.threads} ${r.error ? `ERROR ${r.error}` : `train ${fmt(r.train_s, 2)} s  ${t.task === "binary" ? `auc ${fmt(r.auc, 4)} logloss ${fmt(r.logloss, 4)}` : `rmse ${fmt(r.rmse, 4)}`}  rss ${fmt(r.peak_rss_mb, 0)} MB`}`,
        );
      }
      results.push({
        table: t.name,
        task: t.task,
        shape: `${t.Xtr.rows}/${t.Xte.rows} × ${t.Xtr.cols} (${t.categorical.length} categorical)`,
        note: t.note,
        runs,
      });
    }
  } finally {
    if (!keep) rmSync(work, { recursive: true, force: true });
  }
  const load1 = loadavg();

  const md: string[] = [];
  md.push(
    "| data (train/test × features) | model | threads | train s | ×XGB | AUC | log loss | RMSE | predict rows/s | 1-row µs | peak MB |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const r of results) {
    for (const run of r.runs) {
      const xgb = r.runs.find((x) => x.model === "xgb" && x.threads === run.threads);
      const ratio = xgb && !run.error && !xgb.error ? run.train_s / xgb.train_s : undefined;
      const testRows = Number(r.shape.split("/")[1]!.split(" ")[0]);
      md.push(
        `| ${r.table} ${r.shape} | ${MODEL_NAMES[run.model] ?? run.model} | ${run.threads} | ${run.error ? "error" : fmt(run.train_s, 2)} | ${fmt(ratio, 2)} | ${fmt(run.auc, 4)} | ${fmt(run.logloss, 4)} | ${fmt(run.rmse, 4)} | ${run.predict_s ? Math.round(testRows / run.predict_s).toLocaleString("en-US") : "–"} | ${fmt(run.single_row_us, 1)} | ${fmt(run.peak_rss_mb, 0)} |`,
      );
    }
  }
  const loadNote = `load average at start ${load0.map((v) => v.toFixed(2)).join(", ")}; at end ${load1.map((v) => v.toFixed(2)).join(", ")} (2 cores, shared with other work)`;
  console.log(`\n${md.join("\n")}\n\n${loadNote}`);
  const dir = join(here, "..", "results");
  mkdirSync(dir, { recursive: true });
  const meta = {
    node: process.version,
    date: new Date().toISOString(),
    params: PARAMS,
    repeat,
    loadavgStart: load0,
    loadavgEnd: load1,
    dataDir,
  };
  writeFileSync(join(dir, "trees-train.json"), `${JSON.stringify({ ...meta, results }, null, 2)}\n`);
  writeFileSync(
    join(dir, "trees-train.md"),
    `# Tree training (${meta.date}, Node ${meta.node})\n\nSame matrices, split and hyperparameters for every model: ${PARAMS.numRounds} rounds, depth ${PARAMS.maxDepth}, eta ${PARAMS.learningRate}, ${PARAMS.maxBins} value bins (+ missing values, which need no value bin: XGBoost max_bin ${PARAMS.maxBins}, sklearn max_bins ${PARAMS.maxBins}), lambda ${PARAMS.lambda}, min_child_weight ${PARAMS.minChildWeight}, native categorical splits (one-hot up to ${PARAMS.maxCatToOnehot} categories). sklearn HGB: max_depth 6, no leaf limit, l2 1, its default min_samples_leaf 20. Each run in its own process (Quintet from the built package); time is the fastest of ${repeat}, taken in rounds of every configuration. Predict = batch over the test rows (Quintet: compiled predictor, second call; XGBoost: DMatrix + predict; HGB: predict_proba). 1-row = one row per call, in-process.\n\n${md.join("\n")}\n\n${loadNote}\n\nData:\n${results.map((r) => `- ${r.table}: ${r.note}`).join("\n")}\n`,
  );
}

await main();
