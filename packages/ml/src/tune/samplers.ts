import { ValidationError } from "@quintet/core";
import { z } from "zod";
import type { Rng } from "../datasets/rng.js";
import { CategoricalParzen, NumericParzen } from "./parzen.js";
import { fromInternal, internalRange, type Params, type SearchSpace, sampleUniform, toInternal } from "./space.js";
import { better, type Direction, type TrialRecord } from "./types.js";

/** How a study picks the next trial's parameters (stored with the study as plain JSON). */
export type SamplerSpec =
  | { type: "random" }
  | {
      type: "tpe";
      /** Trials drawn at random before the model takes over. Default 10. */
      startupTrials?: number;
      /** Candidates drawn from l(x) per parameter; the best l(x)/g(x) wins. Default 24. */
      candidates?: number;
      /** Share of complete trials that form the "good" group. Default 0.2 (at most 25 trials). */
      gamma?: number;
      /** Weight of the wide prior component in each estimator. Default 1. */
      priorWeight?: number;
    };

const samplerSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("random") }).strict(),
  z
    .object({
      type: z.literal("tpe"),
      startupTrials: z.number().int().min(1).max(10_000).optional(),
      candidates: z.number().int().min(1).max(10_000).optional(),
      gamma: z.number().gt(0).lt(1).optional(),
      priorWeight: z.number().gt(0).max(1000).optional(),
    })
    .strict(),
]);

export function parseSamplerSpec(spec: unknown): SamplerSpec {
  const r = samplerSchema.safeParse(spec);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ValidationError(`sampler option "${issue.path.join(".") || "type"}": ${issue.message}`, {
      hint: 'Use { type: "tpe" } (optionally startupTrials, candidates, gamma, priorWeight) or { type: "random" }.',
    });
  }
  return r.data as SamplerSpec;
}

/**
 * Picks parameters from the finished trials before this one. A sampler is a pure function
 * of (space, history, rng): the same seed and history give the same point, which is what
 * makes serial studies repeatable and resumed studies continue as if never stopped.
 */
export interface Sampler {
  sample(space: SearchSpace, history: readonly TrialRecord[], rng: Rng, direction: Direction): Params;
}

/** Every parameter drawn independently and uniformly (log-uniformly on log scales). */
export class RandomSampler implements Sampler {
  sample(space: SearchSpace, _history: readonly TrialRecord[], rng: Rng): Params {
    const out: Params = {};
    for (const name of Object.keys(space).sort()) out[name] = sampleUniform(space[name]!, rng);
    return out;
  }
}

/**
 * Tree-structured Parzen Estimator. After `startupTrials` random trials, the observed
 * trials are split at the `gamma` quantile of their values into good and bad groups (pruned
 * trials rank below complete ones, by how far they got). Per parameter, a Parzen estimator l(x) is fitted to the good
 * trials' values and g(x) to the bad ones'; `candidates` points are drawn from l and the one
 * with the largest l(x)/g(x) is chosen — the point most likely to be good rather than bad.
 */
export class TpeSampler implements Sampler {
  private readonly startup: number;
  private readonly candidates: number;
  private readonly gamma: number;
  private readonly priorWeight: number;
  private readonly fallback = new RandomSampler();

  constructor(options: Omit<Extract<SamplerSpec, { type: "tpe" }>, "type"> = {}) {
    this.startup = options.startupTrials ?? 10;
    this.candidates = options.candidates ?? 24;
    this.gamma = options.gamma ?? 0.2;
    this.priorWeight = options.priorWeight ?? 1;
  }

  sample(space: SearchSpace, history: readonly TrialRecord[], rng: Rng, direction: Direction): Params {
    const ranked = rankTrials(history, direction);
    if (ranked.length < this.startup || ranked.length < 2) return this.fallback.sample(space, history, rng);
    const nGood = Math.min(25, ranked.length - 1, Math.max(1, Math.ceil(this.gamma * ranked.length)));
    const good = ranked.slice(0, nGood);
    const bad = ranked.slice(nGood);

    const out: Params = {};
    for (const name of Object.keys(space).sort()) {
      const spec = space[name]!;
      if (spec.type === "categorical") {
        const index = (t: TrialRecord) => spec.choices.indexOf(t.params[name]!);
        const l = new CategoricalParzen(
          good.map(index).filter((i) => i >= 0),
          spec.choices.length,
          this.priorWeight,
        );
        const g = new CategoricalParzen(
          bad.map(index).filter((i) => i >= 0),
          spec.choices.length,
          this.priorWeight,
        );
        let best = 0;
        let bestScore = Number.NEGATIVE_INFINITY;
        for (let k = 0; k < this.candidates; k++) {
          const c = l.sample(rng);
          const score = l.logPdf(c) - g.logPdf(c);
          if (score > bestScore) {
            bestScore = score;
            best = c;
          }
        }
        out[name] = spec.choices[best]!;
        continue;
      }
      if (spec.low === spec.high) {
        out[name] = spec.low;
        continue;
      }
      const { lo, hi } = internalRange(spec);
      const values = (ts: TrialRecord[]) =>
        ts
          .map((t) => t.params[name])
          .filter((v): v is number => typeof v === "number")
          .map((v) => toInternal(spec, v));
      const l = new NumericParzen(values(good), lo, hi, this.priorWeight);
      const g = new NumericParzen(values(bad), lo, hi, this.priorWeight);
      let best = l.sample(rng);
      let bestScore = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < this.candidates; k++) {
        // Whole numbers are scored where they will be used: at the rounded value.
        const x = k === 0 ? best : l.sample(rng);
        const v = fromInternal(spec, x);
        const xi = toInternal(spec, v);
        const score = l.logPdf(xi) - g.logPdf(xi);
        if (score > bestScore) {
          bestScore = score;
          best = x;
        }
      }
      out[name] = fromInternal(spec, best);
    }
    return out;
  }
}

/**
 * Observed trials, best first: complete trials by value, then pruned ones — those that got
 * further first, then by their last reported value (as Optuna ranks them). Pruned trials
 * count as observations, so a study that prunes a lot still leaves the random phase.
 */
function rankTrials(history: readonly TrialRecord[], direction: Direction): TrialRecord[] {
  const complete = history.filter((t) => t.state === "complete" && t.value !== null && Number.isFinite(t.value));
  const pruned = history.filter((t) => t.state === "pruned" && t.intermediate.length > 0);
  const cmp = (a: number, b: number) => (better(direction, a, b) ? -1 : better(direction, b, a) ? 1 : 0);
  complete.sort((a, b) => cmp(a.value!, b.value!) || a.number - b.number);
  const last = (t: TrialRecord) => t.intermediate[t.intermediate.length - 1]!;
  pruned.sort((a, b) => {
    const [sa, va] = last(a);
    const [sb, vb] = last(b);
    if (sa !== sb) return sb - sa;
    const fa = Number.isFinite(va);
    const fb = Number.isFinite(vb);
    if (fa !== fb) return fa ? -1 : 1;
    return (fa ? cmp(va, vb) : 0) || a.number - b.number;
  });
  return [...complete, ...pruned];
}

/** The sampler a spec describes. */
export function createSampler(spec: SamplerSpec): Sampler {
  return spec.type === "random" ? new RandomSampler() : new TpeSampler(spec);
}
