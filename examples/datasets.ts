/**
 * The public tables the examples (and bench/ml-workflow) run on: where each file lives in
 * the data folder, where it comes from, how to read it, and the held-out test split every
 * example reports on.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Frame, holdout, type LoadOptions, loadTable, splitTarget } from "@quintet/ml";

export interface ExampleData {
  /** Path inside the data folder. */
  file: string;
  /** What the dataset is and where to get it, printed when the file is missing. */
  source: string;
  load?: LoadOptions;
  target: string;
  positive: string;
  /** Columns that must not be features (IDs, values known only after the outcome). */
  exclude: string[];
}

export const DATASETS = {
  churn: {
    file: "telco-churn/Telco-Customer-Churn.csv",
    source:
      "IBM Telco Customer Churn sample: data/Telco-Customer-Churn.csv in github.com/IBM/telco-customer-churn-on-icp4d (7,043 rows, target Churn).",
    target: "Churn",
    positive: "Yes",
    exclude: ["customerID"],
  },
  "lead-scoring": {
    file: "bank-marketing/bank-full.csv",
    source:
      "UCI Bank Marketing (Moro et al. 2011, CC BY 4.0): bank-full.csv from https://archive.ics.uci.edu/dataset/222/bank+marketing (45,211 rows, ';'-separated, target y).",
    load: { delimiter: ";" },
    target: "y",
    positive: "yes",
    // UCI: the call's duration is only known after the call, and it decides the outcome.
    exclude: ["duration"],
  },
  fraud: {
    file: "fraud-vehicle-insurance/fraud_oracle.csv",
    source:
      'Vehicle Insurance Claim Fraud (Oracle/Angoss sample, Kaggle "shivamb/vehicle-claim-fraud-detection"): fraud_oracle.csv (15,420 rows, target FraudFound_P, about 6% fraud).',
    target: "FraudFound_P",
    positive: "1",
    exclude: ["PolicyNumber"],
  },
} satisfies Record<string, ExampleData>;

export type ExampleName = keyof typeof DATASETS;

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The data folder: `--data <dir>`, else QUINTET_DATA_DIR, else ../shared/data next to the repo. */
export function dataDir(argv: readonly string[] = process.argv.slice(2)): string {
  const i = argv.indexOf("--data");
  if (i >= 0 && argv[i + 1]) return resolve(argv[i + 1]!);
  if (process.env.QUINTET_DATA_DIR) return resolve(process.env.QUINTET_DATA_DIR);
  return resolve(repo, "..", "shared", "data");
}

/**
 * The dataset's file, or (when it is not there) a message saying where the public dataset
 * lives and how to point the example at it, then exit code 2.
 */
export function dataFile(name: ExampleName, dir: string): string {
  const spec: ExampleData = DATASETS[name];
  const path = join(dir, spec.file);
  if (existsSync(path)) return path;
  process.stderr.write(
    `The ${name} example needs ${spec.file} in the data folder ${dir}, which is not there.\n` +
      `  Dataset: ${spec.source}\n` +
      `  Put it at ${path}, or pass --data <folder> (or set QUINTET_DATA_DIR) to the folder that holds ${spec.file}.\n`,
  );
  process.exit(2);
}

/** Loads the table as it is (raw: cleaning is part of the workflow). */
export async function loadExample(name: ExampleName, dir: string): Promise<Frame> {
  const spec: ExampleData = DATASETS[name];
  const { frame } = await loadTable(dataFile(name, dir), spec.load ?? {});
  return frame;
}

/** Seed of the held-out split, shared by the examples and the benchmark. */
export const SPLIT_SEED = 2024;

/**
 * 20% of the rows, stratified by the target, held out before anything is fitted: the
 * examples score them with the registered model, the benchmark compares models on them.
 */
export function heldOutSplit(name: ExampleName, frame: Frame): { history: Frame; test: Frame } {
  const spec: ExampleData = DATASETS[name];
  const { y } = splitTarget(frame, spec.target, { positive: spec.positive });
  const [fold] = holdout({ testShare: 0.2, stratify: true, seed: SPLIT_SEED }).split({ n: frame.rows, y });
  return { history: frame.take(fold!.train), test: frame.take(fold!.valid) };
}
