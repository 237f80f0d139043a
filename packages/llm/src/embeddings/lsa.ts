import { createHash } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { QuintetError, ValidationError } from "@quintet/core";
import { z } from "zod";
import { ENGLISH_STOPWORDS } from "../text/stopwords.js";
import { charNgrams, tokenize } from "../text/tokenize.js";
import { type CsrMatrix, randomizedSvd } from "./linalg.js";
import type { Embedder } from "./types.js";

export const LsaOptionsSchema = z.object({
  /** Number of latent dimensions (capped by the corpus rank). */
  dimensions: z.number().int().min(1).max(2048).default(128),
  /** Word n-gram range, e.g. [1, 2] for unigrams and bigrams. */
  wordNgrams: z.tuple([z.number().int().min(1), z.number().int().min(1)]).default([1, 1]),
  /** Character n-grams within words (e.g. [3, 5]) for typo and morphology robustness; off by default. */
  charNgrams: z.tuple([z.number().int().min(2), z.number().int().min(2)]).optional(),
  stopwords: z.boolean().default(true),
  stem: z.boolean().default(true),
  /** Use 1 + ln(tf) instead of raw counts. */
  sublinearTf: z.boolean().default(true),
  /** Drop features seen in fewer documents than this. */
  minDf: z.number().int().min(1).default(1),
  /** Drop features seen in more than this fraction of documents. */
  maxDfRatio: z.number().gt(0).max(1).default(1),
  /** Keep only the most frequent features (by document frequency). */
  maxFeatures: z.number().int().min(1).optional(),
  oversample: z.number().int().min(0).default(10),
  powerIterations: z.number().int().min(0).default(5),
  seed: z.number().int().default(42),
});
export type LsaOptions = z.input<typeof LsaOptionsSchema>;
type ResolvedLsaOptions = z.output<typeof LsaOptionsSchema>;

const SavedLsaSchema = z.object({
  kind: z.literal("quintet.lsa-tfidf"),
  version: z.literal(1),
  options: LsaOptionsSchema,
  vocabulary: z.array(z.string()),
  idf: z.string(),
  components: z.string(),
  singularValues: z.array(z.number()),
  dimensions: z.number().int().min(1),
});
export type SavedLsaModel = z.infer<typeof SavedLsaSchema>;

const f64ToBase64 = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
function base64ToF64(s: string): Float64Array {
  const buf = Buffer.from(s, "base64");
  const out = new Float64Array(buf.byteLength / 8);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/**
 * Latent semantic analysis embeddings: TF-IDF (sublinear tf, smoothed idf, word and optional
 * character n-grams, stopwords, Porter stemming) projected onto the top singular vectors of
 * the corpus's TF-IDF matrix. It is a corpus-trained statistical model, not a neural one: it
 * knows only the words of the corpus it was fitted on, and captures co-occurrence (documents
 * that share vocabulary, and words used in the same documents), not meaning beyond that.
 * Needs no download and fits in seconds on tens of thousands of documents.
 */
export class LsaEmbedder implements Embedder {
  private readonly opts: ResolvedLsaOptions;
  private vocab = new Map<string, number>();
  private vocabulary: string[] = [];
  private idf: Float64Array = new Float64Array(0);
  /** Term → concept loadings, row-major (feature × dimensions). */
  private components: Float64Array = new Float64Array(0);
  private singularValues: number[] = [];
  private dims = 0;
  private hash = "";

  constructor(options: LsaOptions = {}) {
    const parsed = LsaOptionsSchema.safeParse(options);
    if (!parsed.success) {
      throw new ValidationError(
        `invalid LSA options: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
        {
          hint: "See LsaOptions: dimensions (1–2048), wordNgrams [min, max], charNgrams [min, max], minDf, maxDfRatio.",
        },
      );
    }
    this.opts = parsed.data;
  }

  get id(): string {
    return this.hash ? `lsa-tfidf:${this.hash.slice(0, 16)}` : "lsa-tfidf:unfitted";
  }

  get dimensions(): number | undefined {
    return this.dims || undefined;
  }

  get fitted(): boolean {
    return this.dims > 0;
  }

  /** Singular values of the fitted components (how much of the corpus each dimension explains). */
  get spectrum(): readonly number[] {
    return this.singularValues;
  }

  /** The features a text contributes, before weighting (exposed for inspection and tests). */
  features(text: string): string[] {
    const words = tokenize(text, {
      stopwords: this.opts.stopwords ? ENGLISH_STOPWORDS : false,
      stem: this.opts.stem,
    }).map((t) => t.term);
    const out: string[] = [];
    const [lo, hi] = this.opts.wordNgrams;
    for (let n = lo; n <= hi; n++)
      for (let i = 0; i + n <= words.length; i++) out.push(words.slice(i, i + n).join(" "));
    if (this.opts.charNgrams) {
      const [clo, chi] = this.opts.charNgrams;
      for (const w of words) for (let n = clo; n <= chi; n++) for (const g of charNgrams(w, n)) out.push(`#${g}`);
    }
    return out;
  }

  /** Learns the vocabulary, idf weights and latent components from a corpus. */
  fit(corpus: readonly string[]): this {
    if (corpus.length < 2) {
      throw new ValidationError(`LSA needs at least 2 documents to fit, got ${corpus.length}`, {
        hint: "Fit on the corpus you will search (hundreds of documents or more give useful dimensions).",
      });
    }
    const docs = corpus.map((d) => this.features(d));
    const df = new Map<string, number>();
    for (const f of docs) for (const term of new Set(f)) df.set(term, (df.get(term) ?? 0) + 1);
    const n = docs.length;
    let kept = [...df.entries()].filter(([, c]) => c >= this.opts.minDf && c / n <= this.opts.maxDfRatio);
    // Sort by frequency then term so the vocabulary (and hence the model hash) is deterministic.
    kept.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    if (this.opts.maxFeatures) kept = kept.slice(0, this.opts.maxFeatures);
    kept.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    if (kept.length === 0) {
      throw new ValidationError("LSA found no features in the corpus after filtering", {
        hint: "Lower minDf, raise maxDfRatio, or check the corpus is not empty/stopwords only.",
      });
    }
    this.vocabulary = kept.map(([t]) => t);
    this.vocab = new Map(this.vocabulary.map((t, i) => [t, i]));
    this.idf = Float64Array.from(kept, ([, c]) => Math.log((1 + n) / (1 + c)) + 1);

    const indptr = new Int32Array(n + 1);
    const indices: number[] = [];
    const data: number[] = [];
    docs.forEach((f, r) => {
      const row = this.weigh(f);
      for (const [c, v] of row) {
        indices.push(c);
        data.push(v);
      }
      indptr[r + 1] = indices.length;
    });
    const a: CsrMatrix = {
      rows: n,
      cols: this.vocabulary.length,
      indptr,
      indices: Int32Array.from(indices),
      data: Float64Array.from(data),
    };
    const svd = randomizedSvd(a, this.opts.dimensions, {
      oversample: this.opts.oversample,
      powerIterations: this.opts.powerIterations,
      seed: this.opts.seed,
    });
    // Keep only dimensions that carry signal; a zero singular value means the corpus has lower rank.
    let k = 0;
    while (k < svd.s.length && svd.s[k]! > 1e-9 * (svd.s[0] ?? 1)) k++;
    const m = this.vocabulary.length;
    this.components = new Float64Array(m * k);
    for (let c = 0; c < k; c++) for (let r = 0; r < m; r++) this.components[r * k + c] = svd.v.data[c * m + r]!;
    this.singularValues = Array.from(svd.s.subarray(0, k));
    this.dims = k;
    this.hash = this.contentHash();
    return this;
  }

  /** Sparse TF-IDF row (L2-normalised) as (feature index, weight) pairs. */
  private weigh(features: readonly string[]): Map<number, number> {
    const tf = new Map<number, number>();
    for (const f of features) {
      const i = this.vocab.get(f);
      if (i !== undefined) tf.set(i, (tf.get(i) ?? 0) + 1);
    }
    let norm = 0;
    for (const [i, c] of tf) {
      const w = (this.opts.sublinearTf ? 1 + Math.log(c) : c) * this.idf[i]!;
      tf.set(i, w);
      norm += w * w;
    }
    norm = Math.sqrt(norm);
    if (norm > 0) for (const [i, w] of tf) tf.set(i, w / norm);
    return tf;
  }

  /**
   * Projects texts into the latent space, L2-normalised. A text with no word from the fitted
   * vocabulary gets the zero vector (similarity 0 to everything) rather than a made-up one.
   */
  async embed(texts: readonly string[], options: { signal?: AbortSignal } = {}): Promise<Float32Array[]> {
    return this.embedSync(texts, options.signal);
  }

  /** Synchronous {@link embed}. */
  embedSync(texts: readonly string[], signal?: AbortSignal): Float32Array[] {
    if (!this.fitted) {
      throw new QuintetError("VALIDATION_FAILED", "the LSA embedder is not fitted", {
        hint: "Call fit(corpus) first, or load a saved model with LsaEmbedder.load(path) / fromJSON(json).",
      });
    }
    const k = this.dims;
    return texts.map((t) => {
      signal?.throwIfAborted();
      const out = new Float64Array(k);
      for (const [i, w] of this.weigh(this.features(t))) {
        const o = i * k;
        for (let c = 0; c < k; c++) out[c]! += w * this.components[o + c]!;
      }
      let norm = 0;
      for (let c = 0; c < k; c++) norm += out[c]! * out[c]!;
      norm = Math.sqrt(norm);
      const v = new Float32Array(k);
      if (norm > 0) for (let c = 0; c < k; c++) v[c] = out[c]! / norm;
      return v;
    });
  }

  private contentHash(): string {
    const h = createHash("sha256");
    h.update(JSON.stringify(this.opts));
    h.update(this.vocabulary.join("\n"));
    h.update(Buffer.from(this.idf.buffer, this.idf.byteOffset, this.idf.byteLength));
    h.update(Buffer.from(this.components.buffer, this.components.byteOffset, this.components.byteLength));
    return h.digest("hex");
  }

  /** A JSON-serialisable snapshot; floats are stored bit-exactly (base64 Float64). */
  toJSON(): SavedLsaModel {
    if (!this.fitted) {
      throw new QuintetError("VALIDATION_FAILED", "cannot save an unfitted LSA embedder", {
        hint: "Call fit(corpus) first.",
      });
    }
    return {
      kind: "quintet.lsa-tfidf",
      version: 1,
      options: this.opts,
      vocabulary: this.vocabulary,
      idf: f64ToBase64(this.idf),
      components: f64ToBase64(this.components),
      singularValues: this.singularValues,
      dimensions: this.dims,
    };
  }

  static fromJSON(json: unknown): LsaEmbedder {
    const parsed = SavedLsaSchema.safeParse(json);
    if (!parsed.success) {
      throw new ValidationError(
        `not a saved LSA model: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
        {
          hint: "Load a file written by LsaEmbedder.save() (kind quintet.lsa-tfidf, version 1).",
        },
      );
    }
    const s = parsed.data;
    const e = new LsaEmbedder(s.options);
    e.vocabulary = s.vocabulary;
    e.vocab = new Map(s.vocabulary.map((t, i) => [t, i]));
    e.idf = base64ToF64(s.idf);
    e.components = base64ToF64(s.components);
    e.singularValues = s.singularValues;
    e.dims = s.dimensions;
    if (e.idf.length !== e.vocabulary.length || e.components.length !== e.vocabulary.length * e.dims) {
      throw new ValidationError("saved LSA model is inconsistent: vocabulary, idf and components sizes disagree", {
        hint: "The file is truncated or was edited; refit and save again.",
      });
    }
    e.hash = e.contentHash();
    return e;
  }

  /** Writes the model to a JSON file atomically (temp file + rename). */
  save(path: string): void {
    const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.toJSON()));
    renameSync(tmp, path);
  }

  static load(path: string): LsaEmbedder {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new QuintetError("NOT_FOUND", `cannot read LSA model at ${path}: ${(err as Error).message}`, {
        hint: "Check the path; save one with embedder.save(path) after fit(corpus).",
        cause: err,
      });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new ValidationError(`LSA model at ${path} is not valid JSON`, {
        hint: "Refit and save again.",
        cause: err,
      });
    }
    return LsaEmbedder.fromJSON(json);
  }
}
