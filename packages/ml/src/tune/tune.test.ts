import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConflictError, openStore, type Store, ValidationError } from "@quintet/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../datasets/rng.js";
import { binaryTable, regressionTable, sliceTable } from "../models/gbdt/test-data.js";
import { objectiveValue, resumeStudyOptions } from "./fixtures/shared.js";
import {
  categoricalParam,
  floatParam,
  gbdtObjective,
  gbdtSearchSpace,
  intParam,
  openStudy,
  type Params,
  parseSearchSpace,
  RandomSampler,
  Study,
  SuccessiveHalvingPruner,
  TpeSampler,
  TrialPruned,
  type TrialRecord,
} from "./index.js";

let dir: string;
let store: Store;
let studies = 0;
const nextName = () => `study-${++studies}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "quintet-tune-"));
  store = await openStore({ url: `sqlite:${join(dir, "tune.db")}` });
});
afterAll(async () => {
  await store.close();
});

const bowlSpace = {
  x: floatParam(0.001, 10, { log: true }),
  y: floatParam(-5, 5),
  k: intParam(1, 20),
  kind: categoricalParam(["a", "b", "c", "d"]),
};
const bowl = (p: Params) =>
  (Math.log10(p.x as number) + 1) ** 2 +
  ((p.y as number) - 2) ** 2 / 4 +
  ((p.k as number) - 7) ** 2 / 30 +
  (p.kind === "c" ? 0 : 1);

describe("search spaces", () => {
  it("validates spaces and names what is wrong", () => {
    expect(() => parseSearchSpace({})).toThrow(/empty/);
    expect(() => parseSearchSpace({ lr: floatParam(0, 1, { log: true }) })).toThrow(/log scale needs low > 0/);
    expect(() => parseSearchSpace({ d: intParam(5, 2) })).toThrow(/low 5 is above high 2/);
    expect(() => parseSearchSpace({ d: { type: "int", low: 1.5, high: 3 } })).toThrow(/"d"/);
    expect(() => parseSearchSpace({ c: categoricalParam(["a", "a"]) })).toThrow(/twice/);
    expect(() => parseSearchSpace({ "bad name!": intParam(1, 2) })).toThrow(ValidationError);
    // Names are sorted so equal spaces serialise identically.
    expect(Object.keys(parseSearchSpace({ b: intParam(1, 2), a: intParam(1, 2) }))).toEqual(["a", "b"]);
  });

  it("samples within bounds, whole numbers for ints, log-uniformly on log scales", () => {
    const rng = new Rng(3);
    const sampler = new RandomSampler();
    const xs: number[] = [];
    const ks = new Set<number>();
    for (let i = 0; i < 4000; i++) {
      const p = sampler.sample(parseSearchSpace(bowlSpace), [], rng);
      const x = p.x as number;
      expect(x).toBeGreaterThanOrEqual(0.001);
      expect(x).toBeLessThanOrEqual(10);
      expect(Number.isInteger(p.k)).toBe(true);
      ks.add(p.k as number);
      expect(["a", "b", "c", "d"]).toContain(p.kind);
      xs.push(x);
    }
    // Every integer, including both ends, is reachable.
    expect([...ks].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // Log-uniform on [1e-3, 10]: a quarter of the draws below 1e-2 (uniform would give 0.1%).
    const below = xs.filter((x) => x < 0.01).length / xs.length;
    expect(below).toBeGreaterThan(0.2);
    expect(below).toBeLessThan(0.3);
  });
});

describe("samplers", () => {
  async function bestAfter(sampler: "tpe" | "random", seed: number, trials: number): Promise<number> {
    const study = await openStudy({
      store,
      name: nextName(),
      space: bowlSpace,
      direction: "minimize",
      sampler: { type: sampler },
      seed,
    });
    const { best } = await study.optimize((t) => bowl(t.params), { trials });
    return best!.value!;
  }

  it("TPE finds better points than random search with the same budget", async () => {
    const seeds = [1, 2, 3, 4, 5, 6];
    const tpe = await Promise.all(seeds.map((s) => bestAfter("tpe", s, 50)));
    const random = await Promise.all(seeds.map((s) => bestAfter("random", s, 50)));
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(tpe)).toBeLessThan(mean(random));
    expect(tpe.filter((v, i) => v < random[i]!).length).toBeGreaterThanOrEqual(4);
  });

  it("concentrates proposals around the good region once it has seen trials", () => {
    const space = parseSearchSpace({ x: floatParam(0, 10), c: categoricalParam(["a", "b", "c"]) });
    const history: TrialRecord[] = Array.from({ length: 40 }, (_, i) => {
      const x = (i * 7.3) % 10;
      const c = ["a", "b", "c"][i % 3]!;
      return {
        number: i,
        state: "complete",
        params: { x, c },
        value: Math.abs(x - 8) + (c === "b" ? 0 : 2),
        intermediate: [],
        attrs: {},
        attempts: 1,
        error: null,
        startedAt: 0,
        endedAt: 0,
      };
    });
    const tpe = new TpeSampler();
    const rng = new Rng(9);
    const draws = Array.from({ length: 200 }, () => tpe.sample(space, history, rng, "minimize"));
    const near = draws.filter((d) => Math.abs((d.x as number) - 8) < 1.5).length / draws.length;
    const b = draws.filter((d) => d.c === "b").length / draws.length;
    expect(near).toBeGreaterThan(0.6);
    expect(b).toBeGreaterThan(0.7);
  });

  it("repeats itself in serial mode: the same seed gives the same trials, another seed others", async () => {
    const run = async (seed: number) => {
      const s = await openStudy({ store, name: nextName(), space: bowlSpace, direction: "minimize", seed });
      const { trials } = await s.optimize((t) => bowl(t.params), { trials: 25 });
      return trials.map((t) => [t.params, t.value]);
    };
    const a = await run(7);
    expect(await run(7)).toEqual(a);
    expect(await run(8)).not.toEqual(a);
  });
});

describe("successive halving", () => {
  it("judges each rung once, keeping the top 1/η of the trials seen there", () => {
    const p = new SuccessiveHalvingPruner({ minResource: 10, reductionFactor: 2 });
    const others = [
      [
        [10, 0.7],
        [20, 0.8],
      ],
      [
        [10, 0.6],
        [20, 0.65],
      ],
      [[10, 0.5]],
    ] as [number, number][][];
    // At rung 10 the values are 0.7, 0.6, 0.5 and ours: 4 trials, the best 2 go on.
    expect(p.shouldPrune([[10, 0.65]], others, "maximize")).toBe(false);
    expect(p.shouldPrune([[10, 0.55]], others, "maximize")).toBe(true);
    // Between rungs nothing is judged.
    expect(
      p.shouldPrune(
        [
          [10, 0.65],
          [15, 0.1],
        ],
        others,
        "maximize",
      ),
    ).toBe(false);
    // Rung 20: 0.8, 0.65 and ours: 3 trials, only the best goes on.
    expect(
      p.shouldPrune(
        [
          [10, 0.65],
          [20, 0.79],
        ],
        others,
        "maximize",
      ),
    ).toBe(true);
    expect(
      p.shouldPrune(
        [
          [10, 0.65],
          [20, 0.81],
        ],
        others,
        "maximize",
      ),
    ).toBe(false);
    // Minimising flips the order; the first trial at a rung always goes on.
    expect(p.shouldPrune([[10, 0.55]], others, "minimize")).toBe(false);
    expect(p.shouldPrune([[10, 0.9]], [], "maximize")).toBe(false);
    expect(p.shouldPrune([[10, Number.NaN]], [], "maximize")).toBe(true);
  });

  it("prunes trials whose curves fall behind, recording their reports", async () => {
    const study = await openStudy({
      store,
      name: nextName(),
      space: { q: floatParam(0, 1) },
      direction: "maximize",
      pruner: { type: "successiveHalving", minResource: 2, reductionFactor: 2 },
      sampler: { type: "random" },
      seed: 4,
    });
    const stepsRun: number[] = [];
    const { trials, best } = await study.optimize(
      async (trial) => {
        const q = trial.params.q as number;
        let steps = 0;
        for (let step = 1; step <= 16; step++) {
          steps = step;
          if (await trial.report(step, q * (1 - 1 / (step + 1)))) {
            stepsRun.push(steps);
            throw new TrialPruned();
          }
        }
        stepsRun.push(steps);
        return q;
      },
      { trials: 30 },
    );
    const pruned = trials.filter((t) => t.state === "pruned");
    expect(pruned.length).toBeGreaterThan(10);
    for (const t of pruned) {
      expect(t.value).toBeNull();
      expect(t.intermediate.length).toBeGreaterThan(0);
    }
    // Pruning saved work, and the best trial ran to the end.
    expect(stepsRun.reduce((s, v) => s + v, 0)).toBeLessThan(30 * 16 * 0.6);
    expect(best!.intermediate).toHaveLength(16);
    expect(best!.value).toBe(Math.max(...trials.filter((t) => t.state === "complete").map((t) => t.value!)));
  });
});

describe("studies", () => {
  it("runs functions concurrently in this thread, never past the trial budget", async () => {
    const study = await openStudy({ store, name: nextName(), space: bowlSpace, direction: "minimize" });
    let active = 0;
    let peak = 0;
    const seen: number[] = [];
    const result = await study.optimize(
      async (trial) => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 5 + (trial.number % 3) * 5));
        active--;
        return bowl(trial.params);
      },
      { trials: 17, concurrency: 4, onTrial: (t) => seen.push(t.number) },
    );
    expect(peak).toBe(4);
    expect(result.finished).toBe(17);
    expect(result.trials.map((t) => t.number)).toEqual(Array.from({ length: 17 }, (_, i) => i));
    expect(result.trials.every((t) => t.state === "complete")).toBe(true);
    expect(seen.sort((a, b) => a - b)).toEqual(result.trials.map((t) => t.number));
    // The trial budget is the study's total: asking again runs nothing new.
    const again = await study.optimize((t) => bowl(t.params), { trials: 17 });
    expect(again.finished).toBe(0);
  });

  it("stops starting trials when the time budget is spent", async () => {
    const study = await openStudy({ store, name: nextName(), space: bowlSpace, direction: "minimize" });
    const result = await study.optimize(
      async (t) => {
        await new Promise((r) => setTimeout(r, 20));
        return bowl(t.params);
      },
      { timeoutMs: 150 },
    );
    expect(result.stoppedBy).toBe("time");
    expect(result.finished).toBeGreaterThan(0);
    expect(result.finished).toBe(result.trials.length);
  });

  it("runs enqueued points first, reopens by name, refuses a conflicting space or direction", async () => {
    const name = nextName();
    const study = await openStudy({ store, name, space: bowlSpace, direction: "minimize" });
    const fixed = { k: 7, kind: "c", x: 0.1, y: 2 };
    await study.enqueue(fixed);
    await expect(study.enqueue({ ...fixed, k: 99 })).rejects.toThrow(/"k" = 99 is outside \[1, 20\]/);
    await study.optimize((t) => bowl(t.params), { trials: 3 });
    const reopened = await Study.load(store, name);
    const trials = await reopened.trials();
    expect(trials[0]!.params).toEqual(fixed);
    expect((await reopened.bestTrial())!.value).toBe(0);
    await expect(openStudy({ store, name, space: { x: intParam(1, 2) }, direction: "minimize" })).rejects.toThrow(
      ConflictError,
    );
    await expect(openStudy({ store, name, space: bowlSpace, direction: "maximize" })).rejects.toThrow(/minimizes/);
    await expect(Study.load(store, "nope")).rejects.toThrow(/no study named "nope"/);
  });

  it("fails on a throwing objective unless told to keep going, and needs a budget", async () => {
    const study = await openStudy({ store, name: nextName(), space: bowlSpace, direction: "minimize" });
    await expect(study.optimize((t) => bowl(t.params), {})).rejects.toThrow(/needs a budget/);
    await expect(
      study.optimize(
        (t) => {
          if (t.number === 1) throw new Error("boom in trial 1");
          return bowl(t.params);
        },
        { trials: 5 },
      ),
    ).rejects.toThrow(/boom in trial 1/);
    const trials = await study.trials();
    expect(trials.map((t) => t.state)).toEqual(["complete", "failed"]);
    expect(trials[1]!.error).toBe("boom in trial 1");
    const r = await study.optimize(
      (t) => {
        if (t.number % 2 === 0) throw new Error("even");
        return bowl(t.params);
      },
      { trials: 6, catchErrors: true },
    );
    expect(r.trials.map((t) => t.state)).toEqual(["complete", "failed", "failed", "complete", "failed", "complete"]);
    await expect(study.optimize(() => Number.NaN, { trials: 7 })).rejects.toThrow(/not a number/);
  });

  it("puts running trials back when cancelled, and a later call runs them again", async () => {
    const study = await openStudy({ store, name: nextName(), space: bowlSpace, direction: "minimize" });
    const controller = new AbortController();
    const run = study.optimize(
      async (trial) => {
        await new Promise((r, reject) => {
          const t = setTimeout(r, 30);
          trial.signal.addEventListener("abort", () => {
            clearTimeout(t);
            reject(new Error("stopped"));
          });
          if (trial.number === 2) controller.abort();
        });
        return bowl(trial.params);
      },
      { trials: 6, signal: controller.signal },
    );
    await expect(run).rejects.toThrow(/cancelled after 2 trials/);
    const after = await study.trials();
    expect(after.map((t) => t.state)).toEqual(["complete", "complete", "waiting"]);
    const params2 = after[2]!.params;
    const resumed = await study.optimize((t) => bowl(t.params), { trials: 6 });
    expect(resumed.trials[2]).toMatchObject({ state: "complete", params: params2, attempts: 2 });
  });
});

function spawnChild(url: string, name: string, log: string): { child: ChildProcess; ready: Promise<void> } {
  const script = fileURLToPath(new URL("./fixtures/study-child.ts", import.meta.url));
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", script, url, name, log], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (d) => {
    err += d;
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      if (String(d).includes("ready")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`child exited early (${code}): ${err}`)));
  });
  return { child, ready };
}

describe("resuming after a kill", () => {
  it("continues a study whose process was SIGKILLed mid-trial, as if it had never stopped", async () => {
    const url = `sqlite:${join(dir, "killed.db")}`;
    const log = join(dir, "killed.log");
    const name = "killed-study";
    const { child, ready } = spawnChild(url, name, log);
    await ready;
    const lines = () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []);
    const midTrial = () => {
      const l = lines();
      const ended = l.filter((x) => x.startsWith("end")).length;
      return ended >= 5 && l[l.length - 1]!.startsWith("start");
    };
    const deadline = Date.now() + 60_000;
    while (!midTrial()) {
      if (Date.now() > deadline) throw new Error(`the child never got going: ${lines().join(", ")}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const interrupted = Number(lines().at(-1)!.split(" ")[1]);

    const killedStore = await openStore({ url });
    const study = await openStudy({ store: killedStore, name, ...resumeStudyOptions });
    const before = await study.trials();
    expect(before.find((t) => t.number === interrupted)?.state).toBe("running");
    const result = await study.optimize(
      async (trial) => {
        for (let step = 1; step <= 3; step++)
          if (await trial.report(step, objectiveValue(trial.params) + (3 - step))) throw new TrialPruned();
        return objectiveValue(trial.params);
      },
      { trials: resumeStudyOptions.trials },
    );
    expect(result.resumed).toBe(1);
    const after = result.trials;
    expect(after.map((t) => t.number)).toEqual(Array.from({ length: resumeStudyOptions.trials }, (_, i) => i));
    expect(after.every((t) => t.state === "complete" || t.state === "pruned")).toBe(true);
    expect(after[interrupted]).toMatchObject({ attempts: 2, params: before[interrupted]!.params });
    // The finished trials from before the kill are kept as they were.
    for (const t of before.filter((b) => b.state === "complete" || b.state === "pruned"))
      expect(after[t.number]).toEqual(t);

    // An uninterrupted run with the same seed proposes and decides exactly the same.
    const reference = await openStudy({ store, name: nextName(), ...resumeStudyOptions });
    const ref = await reference.optimize(
      async (trial) => {
        for (let step = 1; step <= 3; step++)
          if (await trial.report(step, objectiveValue(trial.params) + (3 - step))) throw new TrialPruned();
        return objectiveValue(trial.params);
      },
      { trials: resumeStudyOptions.trials },
    );
    expect(after.map((t) => [t.params, t.state === "complete" ? t.value : null])).toEqual(
      ref.trials.map((t) => [t.params, t.state === "complete" ? t.value : null]),
    );
    await killedStore.close();
  }, 90_000);
});

describe("gbdt objective", () => {
  const table = binaryTable(1600, 5);
  const train = sliceTable(table, 0, 1200);
  const valid = sliceTable(table, 1200, 1600);
  const params = { objective: "binary" as const, numRounds: 60, earlyStoppingRounds: 15 };

  it("gives the same values on worker threads as in this thread", async () => {
    const objective = gbdtObjective({ X: train.X, y: train.y, validation: valid, params, reportEvery: 5 });
    expect(objective.direction).toBe("maximize");
    const points = [
      { learningRate: 0.1, maxDepth: 3 },
      { learningRate: 0.3, maxDepth: 5 },
      { learningRate: 0.05, maxDepth: 2 },
      { learningRate: 0.2, maxDepth: 4 },
    ];
    const space = { learningRate: floatParam(0.01, 0.3, { log: true }), maxDepth: intParam(2, 6) };
    const values = async (concurrency: number) => {
      const study = await openStudy({ store, name: nextName(), space, direction: "maximize" });
      for (const p of points) await study.enqueue(p);
      const r = await study.optimize(objective, { trials: points.length, concurrency });
      return r.trials.map((t) => [t.params, t.value, t.attrs.rounds, t.intermediate]);
    };
    const inline = await values(1);
    expect(await values(2)).toEqual(inline);
    for (const [, v] of inline) expect(v as number).toBeGreaterThan(0.75);
  });

  it("tunes with TPE and pruning on workers, and with k-fold cross-validation", async () => {
    const objective = gbdtObjective({ X: train.X, y: train.y, validation: valid, params, reportEvery: 5 });
    const study = await openStudy({
      store,
      name: nextName(),
      space: gbdtSearchSpace(),
      direction: "maximize",
      sampler: { type: "tpe", startupTrials: 5 },
      pruner: { type: "successiveHalving", minResource: 10, reductionFactor: 3 },
      seed: 2,
    });
    const r = await study.optimize(objective, { trials: 12, concurrency: 2 });
    expect(r.trials).toHaveLength(12);
    expect(r.best!.value).toBeGreaterThan(0.8);
    for (const t of r.trials) expect(["complete", "pruned"]).toContain(t.state);

    const reg = regressionTable(600, 3);
    const cv = gbdtObjective({ X: reg.X, y: reg.y, folds: 3, params: { objective: "squared", numRounds: 40 } });
    expect(cv.direction).toBe("minimize");
    const s2 = await openStudy({ store, name: nextName(), space: { maxDepth: intParam(2, 4) }, direction: "minimize" });
    const r2 = await s2.optimize(cv, { trials: 3 });
    const t0 = r2.trials[0]!;
    expect(t0.attrs.foldValues as number[]).toHaveLength(3);
    expect(t0.value).toBeCloseTo((t0.attrs.foldValues as number[]).reduce((s, v) => s + v, 0) / 3, 12);
    expect(t0.intermediate.map(([s]) => s)).toEqual([10, 20, 30, 40]);
  });

  it("refuses bad inputs and bad trial parameters with the option named", async () => {
    expect(() => gbdtObjective({ X: train.X, y: train.y.subarray(0, 5), params })).toThrow(/y has 5 labels/);
    expect(() => gbdtObjective({ X: train.X, y: train.y, params, metric: "rmse", folds: 1 })).toThrow(/folds/);
    expect(() =>
      gbdtObjective({ X: train.X, y: train.y, params: { ...params, objective: "squared" }, metric: "auc" }),
    ).toThrow(/does not apply/);
    const objective = gbdtObjective({ X: train.X, y: train.y, validation: valid, params });
    const study = await openStudy({
      store,
      name: nextName(),
      space: { maxDeph: intParam(2, 4) },
      direction: "maximize",
    });
    await expect(study.optimize(objective, { trials: 2, concurrency: 2 })).rejects.toThrow(/maxDeph/);
  });
});
