import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type FakeOpenAI,
  startFakeOpenAI,
  TRACE_ATTRIBUTES,
  writeTinyLlamaGguf,
  writeTinyLoraGguf,
} from "@quintet/llm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { run } from "../program.js";

// The real CLI entry (`run`) in-process, against the fake fine-tuning API, in temp projects.
let fake: FakeOpenAI;
let root: string;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  root = mkdtempSync(join(tmpdir(), "quintet-cli-finetune-"));
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
  rmSync(root, { recursive: true, force: true });
});

let projects = 0;
function project(): string {
  const dir = join(root, `p${++projects}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function quintet(args: string[], cwd: string, env?: NodeJS.ProcessEnv) {
  let out = "";
  let err = "";
  const code = await run(["node", "quintet", ...args], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: { NO_COLOR: "1", ...(env ?? { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: "test" }) },
    cwd,
  });
  return { code, out, err };
}

const example = (i: number) =>
  JSON.stringify({
    messages: [
      { role: "system", content: "You answer billing questions." },
      { role: "user", content: `Why was invoice ${4000 + i} charged twice in month ${i}?` },
      { role: "assistant", content: `Invoice ${4000 + i} was retried after timeout ${i}; the duplicate is refunded.` },
    ],
  });

const span = (i: number) =>
  JSON.stringify({
    kind: "llm.call",
    spanId: `span-${i}`,
    attributes: {
      [TRACE_ATTRIBUTES.messages]: [{ role: "user", content: `Can I change plan ${i} to annual billing ${i * 3}?` }],
      [TRACE_ATTRIBUTES.response]: `Yes: plan ${i} switches to annual at renewal ${i * 3}.`,
    },
  });

const lines = (...ls: string[]) => `${ls.join("\n")}\n`;

describe("quintet finetune prepare / validate", () => {
  it("turns examples and trace spans into train/validation files and a report, listing problems by line", async () => {
    const dir = project();
    const input = lines(
      ...Array.from({ length: 12 }, (_, i) => example(i)),
      ...Array.from({ length: 6 }, (_, i) => span(i)),
      "{oops", // line 19
      JSON.stringify({ messages: [{ role: "user", content: "no reply" }] }), // line 20
      example(0), // line 21: duplicate of line 1
    );
    writeFileSync(join(dir, "raw.jsonl"), input);
    const r = await quintet(
      ["finetune", "prepare", "raw.jsonl", "--out", "data/ft", "--validation-fraction", "0.2", "--seed", "1"],
      dir,
    );
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^18 of 21 lines are valid examples; 2 errors, 1 warning\./);
    expect(r.out).toContain("6 trace spans read; 0 could not become examples.");
    expect(r.out).toMatch(/error +line 19: invalid JSON/);
    expect(r.out).toMatch(/error +line 20: the last message must be the assistant's reply \[no-assistant-last\]/);
    expect(r.out).toMatch(/warning line 21: duplicate of line 1, dropped \[exact-duplicate\]/);
    expect(r.out).toContain("✓ Wrote 14 training and 4 validation examples to data/ft/");

    const train = readFileSync(join(dir, "data/ft/train.jsonl"), "utf8").trim().split("\n");
    const validation = readFileSync(join(dir, "data/ft/validation.jsonl"), "utf8").trim().split("\n");
    expect(train).toHaveLength(14);
    expect(validation).toHaveLength(4);
    expect([...train, ...validation].every((l) => Array.isArray(JSON.parse(l).messages))).toBe(true);
    expect([...train, ...validation].some((l) => l.includes("annual billing"))).toBe(true);
    const report = JSON.parse(readFileSync(join(dir, "data/ft/report.json"), "utf8"));
    expect(report).toMatchObject({ total: 21, valid: 18, ok: false, input: { traceSpans: 6 } });
    expect(report.examples).toBeUndefined();

    // The same seed gives the same files; --json carries the same numbers.
    const again = await quintet(
      ["--json", "finetune", "prepare", "raw.jsonl", "-o", "data/ft", "--validation-fraction", "0.2", "--seed", "1"],
      dir,
    );
    expect(JSON.parse(again.out)).toMatchObject({ written: true, train: 14, validation: 4 });
    expect(readFileSync(join(dir, "data/ft/validation.jsonl"), "utf8").trim().split("\n")).toEqual(validation);
  });

  it("writes nothing when the dataset is unusable or --strict finds an error (exit 1)", async () => {
    const dir = project();
    writeFileSync(join(dir, "few.jsonl"), lines(example(1), example(2)));
    const few = await quintet(["finetune", "prepare", "few.jsonl", "--out", "out1"], dir);
    expect(few.code).toBe(1);
    expect(few.out).toMatch(/error +dataset: 2 valid examples, need at least 10/);
    expect(few.out).toContain("✗ Nothing written: the valid examples do not make a dataset.");
    expect(existsSync(join(dir, "out1"))).toBe(false);

    writeFileSync(join(dir, "mixed.jsonl"), lines(...Array.from({ length: 11 }, (_, i) => example(i)), "nope"));
    const strict = await quintet(["finetune", "prepare", "mixed.jsonl", "--out", "out2", "--strict"], dir);
    expect(strict.code).toBe(1);
    expect(strict.out).toContain("--strict and some lines have errors");
    expect(existsSync(join(dir, "out2"))).toBe(false);
    expect((await quintet(["finetune", "prepare", "mixed.jsonl", "--out", "out2"], dir)).code).toBe(0);
  });

  it("validates a file: exit 0 when ready, 1 with the lines to fix", async () => {
    const dir = project();
    writeFileSync(join(dir, "good.jsonl"), lines(...Array.from({ length: 10 }, (_, i) => example(i))));
    const good = await quintet(["finetune", "validate", "good.jsonl"], dir);
    expect(good.code).toBe(0);
    expect(good.out).toMatch(/^10 of 10 lines are valid examples; 0 errors, 0 warnings\./);
    expect(good.out).toContain("✓ Ready to fine-tune.");

    const pii = JSON.stringify({
      messages: [
        { role: "user", content: "My card is 4111 1111 1111 1111" },
        { role: "assistant", content: "Thanks, noted." },
      ],
    });
    const long = JSON.stringify({
      messages: [
        { role: "user", content: "Explain every line of my bill." },
        { role: "assistant", content: "This line is a charge. ".repeat(20) },
      ],
    });
    writeFileSync(join(dir, "bad.jsonl"), lines(...Array.from({ length: 10 }, (_, i) => example(i)), pii, long));
    const bad = await quintet(["finetune", "validate", "bad.jsonl", "--pii", "error", "--context-limit", "60"], dir);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/error +line 11: contains credit_card \[pii\]/);
    expect(bad.out).toMatch(/error +line 12: \d+ tokens exceeds the context limit of 60 \[too-long\]/);
    expect(bad.out).toContain("✗ Fix the errors above before submitting.");
    const json = JSON.parse(
      (await quintet(["finetune", "validate", "bad.jsonl", "--pii", "error", "--json"], dir)).out,
    );
    expect(json).toMatchObject({ ok: false, pii: [{ line: 11, types: ["credit_card"] }] });
  });

  it("rejects bad flags and files with exit 2", async () => {
    const dir = project();
    writeFileSync(join(dir, "x.jsonl"), example(1));
    const cases: Array<[string[], RegExp]> = [
      [["finetune", "prepare", "x.jsonl"], /required option '-o, --out <dir>' not specified/],
      [["finetune", "prepare", "x.jsonl", "-o", "o", "--validation-fraction", "1"], /expected a fraction/],
      [["finetune", "prepare", "missing.jsonl", "-o", "o"], /cannot read missing\.jsonl: ENOENT/],
      [["finetune", "validate", "x.jsonl", "--pii", "sometimes"], /Allowed choices are warn, error, ignore/],
      [["finetune", "submit", "x.jsonl"], /required option '-m, --model <base>'/],
      [["finetune", "submit", "x.jsonl", "-m", "gpt-4o-mini", "--epochs", "many"], /--epochs must be a whole number/],
      [["finetune", "submit", "x.jsonl", "-m", "gpt-4o-mini", "--suffix", "a b"], /invalid --suffix "a b"/],
      [["finetune", "status", "--wait"], /--wait needs a job id/],
    ];
    for (const [args, message] of cases) {
      const r = await quintet(args, dir);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.err, args.join(" ")).toMatch(message);
    }
    expect(fake.requests).toEqual([]);
  });
});

describe("quintet finetune submit / status / cancel (fake fine-tuning API)", () => {
  const dataset = (dir: string) => {
    writeFileSync(join(dir, "train.jsonl"), lines(...Array.from({ length: 12 }, (_, i) => example(i))));
    writeFileSync(join(dir, "val.jsonl"), lines(example(50), example(51)));
  };

  it("submits, then follows the job with status until it succeeds", async () => {
    const dir = project();
    dataset(dir);
    fake.script.fineTuning({ steps: 4 });
    const sub = await quintet(
      [
        "finetune",
        "submit",
        "train.jsonl",
        "--validation",
        "val.jsonl",
        "-m",
        "gpt-4o-mini",
        "--suffix",
        "billing",
        "--epochs",
        "2",
      ],
      dir,
    );
    expect(sub.code).toBe(0);
    expect(sub.err).toMatch(/^✓ Started fine-tuning job ftjob-/);
    const id = /(ftjob-[0-9a-f]+)/.exec(sub.out)![1]!;
    expect(sub.out).toMatch(new RegExp(`^${id}  validating_files  base gpt-4o-mini\\n`));
    expect(sub.out).toContain(`Follow it with: quintet finetune status ${id} --wait`);
    const uploads = fake.requests.filter((r) => r.path === "/v1/files");
    expect(uploads.map((u) => u.body.files[0].filename)).toEqual(["train.jsonl", "validation.jsonl"]);
    expect(fake.requests.find((r) => r.path === "/v1/fine_tuning/jobs")!.body).toMatchObject({
      suffix: "billing",
      method: { supervised: { hyperparameters: { n_epochs: 2 } } },
    });

    const once = await quintet(["finetune", "status", id, "--events", "2"], dir);
    expect(once.code).toBe(0);
    expect(once.out).toMatch(new RegExp(`^${id}  queued  base gpt-4o-mini`));
    expect(once.out).toMatch(/Files validated, moving job to queued state\n$/);

    const followed = await quintet(["finetune", "status", id, "--wait", "--interval", "1"], dir);
    expect(followed.code).toBe(0);
    expect(followed.err).toContain("Fine-tuning job started");
    expect(followed.err).toContain("Step 4/4: training loss=");
    expect(followed.err).toMatch(/The job has successfully completed\n$/);
    expect(followed.out).toMatch(/succeeded {2}base gpt-4o-mini\n {2}model: {4}ft:gpt-4o-mini:quintet-fake:billing:/);

    const list = await quintet(["--json", "finetune", "status"], dir);
    expect(JSON.parse(list.out).jobs).toEqual([expect.objectContaining({ id, status: "succeeded" })]);
  });

  it("submit --wait prints events and ends with exit 1 when the job fails", async () => {
    const dir = project();
    dataset(dir);
    fake.script.fineTuning({ outcome: "failed", error: { code: "quota_exceeded", message: "Out of training quota." } });
    const r = await quintet(
      ["--json", "finetune", "submit", "train.jsonl", "-m", "gpt-4o-mini", "--wait", "--interval", "1"],
      dir,
    );
    expect(r.code).toBe(1);
    const result = JSON.parse(r.out);
    expect(result.job).toMatchObject({ status: "failed", error: { code: "quota_exceeded" } });
    expect(result.events.at(-1)).toMatchObject({ level: "error", message: "Out of training quota." });
  });

  it("cancels a job; a cancelled job's status exits 1", async () => {
    const dir = project();
    dataset(dir);
    fake.script.fineTuning({ pollsPerStage: 100 });
    const id = JSON.parse(
      (await quintet(["--json", "finetune", "submit", "train.jsonl", "-m", "gpt-4o-mini"], dir)).out,
    ).job.id;
    const cancelled = await quintet(["finetune", "cancel", id], dir);
    expect(cancelled.code).toBe(0);
    expect(cancelled.out).toMatch(new RegExp(`^${id}  cancelled`));
    expect((await quintet(["finetune", "status", id], dir)).code).toBe(1);
    const again = await quintet(["finetune", "cancel", id], dir);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^error\[VALIDATION_FAILED\]: cancelling fine-tuning job .*already completed: cancelled/);
  });

  it("refuses a dataset with errors before uploading, and reports API and configuration errors", async () => {
    const dir = project();
    writeFileSync(join(dir, "train.jsonl"), lines(...Array.from({ length: 10 }, (_, i) => example(i)), "{"));
    const bad = await quintet(["finetune", "submit", "train.jsonl", "-m", "gpt-4o-mini"], dir);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(
      /^error\[VALIDATION_FAILED\]: train\.jsonl has 1 error: line 11: invalid JSON.*quintet finetune validate train\.jsonl/,
    );
    expect(fake.requests).toEqual([]);

    dataset(dir);
    const model = await quintet(["finetune", "submit", "train.jsonl", "-m", "gpt-9"], dir);
    expect(model.code).toBe(1);
    expect(model.err).toMatch(
      /✗ Could not start the fine-tuning job\nerror\[VALIDATION_FAILED\]: .*Model gpt-9 is not available for fine-tuning/,
    );

    const unknown = await quintet(["finetune", "status", "ftjob-nope"], dir);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/^error\[NOT_FOUND\]: reading fine-tuning job ftjob-nope failed \(HTTP 404\)/);

    const noKey = await quintet(["finetune", "status"], dir, {});
    expect(noKey.code).toBe(4);
    expect(noKey.err).toMatch(/^error\[PROVIDER_NOT_CONFIGURED\]: no API key for the fine-tuning API.*OPENAI_API_KEY/);
  });
});

describe("quintet finetune adapter", () => {
  it("registers a LoRA GGUF for its base model and lists it", async () => {
    const dir = project();
    const base = writeTinyLlamaGguf(join(dir, "base.gguf"), { seed: 9, nLayers: 1, nEmbd: 32, nHead: 2, nFf: 64 });
    writeTinyLoraGguf(join(dir, "billing.gguf"), base, { seed: 3 });
    const add = await quintet(
      ["finetune", "adapter", "add", "billing", "billing.gguf", "--base", "llama:base.gguf", "-d", "billing answers"],
      dir,
    );
    expect(add.err).toBe("");
    expect(add.code).toBe(0);
    expect(add.out).toMatch(/^Registered billing@[0-9a-f]{12} \(llama, base llama:\/.*base\.gguf\)\n$/);
    const again = await quintet(
      ["finetune", "adapter", "add", "billing", "billing.gguf", "--base", "llama:base.gguf"],
      dir,
    );
    expect(again.out).toMatch(/^Already registered: billing@/);
    const ls = JSON.parse((await quintet(["--json", "finetune", "adapter", "ls"], dir)).out);
    expect(ls).toEqual([
      expect.objectContaining({ name: "billing", architecture: "llama", description: "billing answers", scale: 1 }),
    ]);
    // The file now lives in the project's artifact store.
    expect(ls[0].path.startsWith(join(dir, ".quintet", "artifacts", "sha256"))).toBe(true);
    expect(readFileSync(ls[0].path)).toEqual(readFileSync(join(dir, "billing.gguf")));
    const notAdapter = await quintet(["finetune", "adapter", "add", "oops", "base.gguf", "--base", "x"], dir);
    expect(notAdapter.code).toBe(1);
    expect(notAdapter.err).toMatch(/is not a LoRA adapter/);
  });
});
