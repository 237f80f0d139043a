import { randomUUID } from "node:crypto";
import { type CoreTables, NotFoundError, type Store, ValidationError } from "@quintet/core";
import { cosineSimilarity, type Embedder } from "@quintet/llm";
import type { Kysely } from "kysely";
import { z } from "zod";
import { FactVectorIndex, type FactVectorRow } from "./fact-index.js";
import { fromStoredScope, type MemoryScope, parseScope, toStoredScope } from "./scope.js";
import { type MemoryTables, memoryMigrations } from "./tables.js";

export type FactKind = "fact" | "preference";

/** A remembered fact or preference. */
export interface Fact {
  id: string;
  kind: FactKind;
  text: string;
  sources: string[];
  scope: MemoryScope;
  confidence: number;
  /** Times it was stated (1 + merged duplicates). */
  hits: number;
  createdAt: number;
  lastSeenAt: number;
}

export interface RecalledFact extends Fact {
  /** Similarity to the query, weighted by confidence and decay. */
  score: number;
  similarity: number;
}

const RememberSchema = z
  .object({
    text: z.string().trim().min(1).max(4000),
    kind: z.enum(["fact", "preference"]).default("fact"),
    source: z.string().min(1).max(500).optional(),
    confidence: z.number().gt(0).max(1).default(1),
  })
  .strict();

export type RememberInput = z.input<typeof RememberSchema>;

export interface SemanticMemoryOptions {
  embedder: Embedder;
  /** Cosine similarity at or above which a new fact is the same as a stored one (default 0.92). */
  dedupThreshold?: number;
  /** Days after which an unreinforced fact weighs half (default 30). */
  halfLifeDays?: number;
  /** Clock, for tests of decay. */
  now?: () => number;
  /**
   * A LanceDB folder for the fact vectors (e.g. `<home>/agents/memory`). With it, recall and
   * de-duplication ask LanceDB for the nearest facts inside the scope instead of scoring
   * every stored fact, which keeps them fast at millions of facts. The store remains the
   * record; the index is checked against it on open and rebuilt when they disagree.
   */
  vectorIndex?: string;
}

const DAY = 86_400_000;

function normalize(text: string): string {
  return text
    .toLowerCase()
    .replace(/\s+/g, " ")
    .replace(/[.!]+$/, "")
    .trim();
}

function toBlob(v: Float32Array): Uint8Array {
  return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
}

function fromBlob(b: Uint8Array): Float32Array {
  // Copy: a driver's Buffer may sit at an offset that is not a multiple of 4.
  return new Float32Array(new Uint8Array(b).buffer);
}

/**
 * Long-term semantic memory: facts and preferences with their sources, in the store (table
 * `agent_facts`), embedded with any {@link Embedder} (e.g. the offline `LsaEmbedder` or a
 * provider). Saying the same thing twice reinforces one fact instead of storing two;
 * facts fade with a half-life unless reinforced; recall ranks by similarity × confidence ×
 * decay. Scoped: a fact is visible to a query when every scope field it has equals the
 * query's (a fact with only `user: "ana"` is visible to every agent working for Ana).
 */
export class SemanticMemory {
  private readonly embedder: Embedder;
  private readonly dedupThreshold: number;
  private readonly halfLifeMs: number;
  private readonly now: () => number;

  private constructor(
    private readonly store: Store,
    private readonly db: Kysely<CoreTables & MemoryTables>,
    o: SemanticMemoryOptions,
    private readonly index?: FactVectorIndex,
  ) {
    this.embedder = o.embedder;
    this.dedupThreshold = o.dedupThreshold ?? 0.92;
    this.halfLifeMs = (o.halfLifeDays ?? 30) * DAY;
    this.now = o.now ?? Date.now;
    if (!(this.dedupThreshold > 0 && this.dedupThreshold <= 1)) {
      throw new ValidationError(`dedupThreshold must be in (0, 1], got ${o.dedupThreshold}`, { hint: "Default 0.92." });
    }
    if (!(this.halfLifeMs > 0)) {
      throw new ValidationError(`halfLifeDays must be positive, got ${o.halfLifeDays}`, { hint: "Default 30." });
    }
  }

  static async open(store: Store, options: SemanticMemoryOptions): Promise<SemanticMemory> {
    await store.migrate("agents.memory", memoryMigrations);
    const db = store.db.withTables<MemoryTables>();
    const index = options.vectorIndex ? await FactVectorIndex.open(options.vectorIndex) : undefined;
    const memory = new SemanticMemory(store, db, options, index);
    if (index) await memory.reconcileIndex();
    return memory;
  }

  /**
   * Brings the vector index in line with the store: facts embedded by another embedder are
   * re-embedded, and the index is rebuilt when its rows or embedder differ from the store's
   * (a crash between the store write and the index write, or a new embedder).
   */
  private async reconcileIndex(): Promise<void> {
    const index = this.index!;
    const rows = await this.db.selectFrom("agent_facts").selectAll().execute();
    const stale = rows.filter((r) => r.embedder !== this.embedder.id);
    if (stale.length > 0) {
      const vectors = await this.embed(stale.map((r) => r.text));
      for (let i = 0; i < stale.length; i++) {
        const r = stale[i]!;
        r.vector = toBlob(vectors[i]!);
        r.dims = vectors[i]!.length;
        r.embedder = this.embedder.id;
        await this.db
          .updateTable("agent_facts")
          .set({ vector: r.vector, dims: r.dims, embedder: r.embedder })
          .where("id", "=", r.id)
          .execute();
      }
    }
    if (stale.length > 0 || (await index.count()) !== rows.length) await index.rebuild(rows.map(indexRow));
  }

  private async embed(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    return this.embedder.embed(texts, signal ? { signal } : undefined);
  }

  /**
   * Stores a fact, or reinforces the stored one it duplicates (same scope, same text or
   * cosine ≥ dedupThreshold): its hit count and last-seen time go up, the source is added.
   */
  async remember(
    input: RememberInput,
    scope: MemoryScope = {},
    signal?: AbortSignal,
  ): Promise<{ fact: Fact; merged: boolean }> {
    const parsed = RememberSchema.safeParse(input);
    if (!parsed.success) {
      throw new ValidationError(
        `invalid fact: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
        { hint: "remember({ text, kind?: 'fact' | 'preference', source?, confidence? })" },
      );
    }
    const f = parsed.data;
    const s = toStoredScope(parseScope(scope));
    const norm = normalize(f.text);
    const [vector] = await this.embed([f.text], signal);
    const now = this.now();
    const near = this.index ? await this.index.nearest(vector!, s, 8, { exactScope: true }) : undefined;
    const result = await this.store.tx(async (tx) => {
      const db = tx.withTables<MemoryTables>();
      let q = db
        .selectFrom("agent_facts")
        .selectAll()
        .where("scope_user", "=", s.scope_user)
        .where("scope_agent", "=", s.scope_agent)
        .where("scope_team", "=", s.scope_team);
      // With an index, only the nearest facts and an exact text match can be duplicates.
      if (near) q = q.where((eb) => eb.or([eb("norm", "=", norm), ...(near.length ? [eb("id", "in", near)] : [])]));
      const rows = await q.execute();
      let best: { row: (typeof rows)[number]; sim: number } | undefined;
      for (const row of rows) {
        const sim =
          row.norm === norm
            ? 1
            : row.embedder === this.embedder.id
              ? cosineSimilarity(vector!, fromBlob(row.vector))
              : 0;
        if (!best || sim > best.sim) best = { row, sim };
      }
      if (best && best.sim >= this.dedupThreshold) {
        const sources = JSON.parse(best.row.sources) as string[];
        if (f.source && !sources.includes(f.source)) sources.push(f.source);
        const confidence = Math.max(Number(best.row.confidence), f.confidence);
        const hits = Number(best.row.hits) + 1;
        await db
          .updateTable("agent_facts")
          .set({ sources: JSON.stringify(sources), confidence, hits, last_seen_at: now })
          .where("id", "=", best.row.id)
          .execute();
        return {
          fact: toFact({ ...best.row, sources: JSON.stringify(sources), confidence, hits, last_seen_at: now }),
          merged: true,
        };
      }
      const row: MemoryTables["agent_facts"] = {
        id: randomUUID(),
        ...s,
        kind: f.kind,
        text: f.text,
        norm,
        sources: JSON.stringify(f.source ? [f.source] : []),
        vector: toBlob(vector!),
        dims: vector!.length,
        embedder: this.embedder.id,
        confidence: f.confidence,
        hits: 1,
        created_at: now,
        last_seen_at: now,
      };
      await db.insertInto("agent_facts").values(row).execute();
      return { fact: toFact(row), merged: false, row };
    });
    if (this.index && "row" in result && result.row) await this.index.upsert([indexRow(result.row)]);
    return { fact: result.fact, merged: result.merged };
  }

  /** Weight of a fact now: confidence × 0.5^(days since last seen / half-life). */
  weight(fact: Pick<Fact, "confidence" | "lastSeenAt">): number {
    const age = Math.max(0, this.now() - fact.lastSeenAt);
    return fact.confidence * 0.5 ** (age / this.halfLifeMs);
  }

  private visible(scope: MemoryScope) {
    const s = toStoredScope(parseScope(scope));
    return this.db
      .selectFrom("agent_facts")
      .selectAll()
      .where((eb) => eb.or([eb("scope_user", "=", ""), eb("scope_user", "=", s.scope_user)]))
      .where((eb) => eb.or([eb("scope_agent", "=", ""), eb("scope_agent", "=", s.scope_agent)]))
      .where((eb) => eb.or([eb("scope_team", "=", ""), eb("scope_team", "=", s.scope_team)]));
  }

  /** The facts most relevant to `query` visible in `scope`, best first. */
  async recall(
    query: string,
    o: { scope?: MemoryScope; k?: number; minScore?: number; kind?: FactKind; signal?: AbortSignal } = {},
  ): Promise<RecalledFact[]> {
    if (!query.trim()) return [];
    let q = this.visible(o.scope ?? {});
    if (o.kind) q = q.where("kind", "=", o.kind);
    if (this.index) {
      // Candidates by vector from LanceDB, then the store's weights decide the order.
      const [qv] = await this.embed([query], o.signal);
      const ids = await this.index.nearest(
        qv!,
        toStoredScope(parseScope(o.scope ?? {})),
        Math.max(50, (o.k ?? 5) * 10),
        {
          ...(o.kind ? { kind: o.kind } : {}),
        },
      );
      if (ids.length === 0) return [];
      const rows = await q.where("id", "in", ids).execute();
      return this.rank(rows, qv!, o);
    }
    const rows = await q.execute();
    if (rows.length === 0) return [];
    // Facts embedded by another embedder (or an older fit) are re-embedded, so one query space is compared.
    const stale = rows.filter((r) => r.embedder !== this.embedder.id);
    const [qv, ...fresh] = await this.embed([query, ...stale.map((r) => r.text)], o.signal);
    for (let i = 0; i < stale.length; i++) {
      const r = stale[i]!;
      r.vector = toBlob(fresh[i]!);
      r.dims = fresh[i]!.length;
      r.embedder = this.embedder.id;
      await this.db
        .updateTable("agent_facts")
        .set({ vector: r.vector, dims: r.dims, embedder: r.embedder })
        .where("id", "=", r.id)
        .execute();
    }
    return this.rank(rows, qv!, o);
  }

  private rank(
    rows: MemoryTables["agent_facts"][],
    qv: Float32Array,
    o: { k?: number; minScore?: number },
  ): RecalledFact[] {
    const out = rows.map((r) => {
      const fact = toFact(r);
      const similarity = cosineSimilarity(qv, fromBlob(r.vector));
      return { ...fact, similarity, score: similarity * this.weight(fact) };
    });
    const minScore = o.minScore ?? 0.1;
    return out
      .filter((f) => f.score >= minScore)
      .sort((a, b) => b.score - a.score)
      .slice(0, o.k ?? 5);
  }

  /** Every fact visible in `scope`, most recently seen first. */
  async list(scope: MemoryScope = {}): Promise<Fact[]> {
    const rows = await this.visible(scope).orderBy("last_seen_at", "desc").execute();
    return rows.map(toFact);
  }

  /** @throws NotFoundError */
  async forget(id: string): Promise<void> {
    const r = await this.db.deleteFrom("agent_facts").where("id", "=", id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) {
      throw new NotFoundError(`no fact with id ${id}`, { hint: "List facts with memory.list(scope)." });
    }
    await this.index?.delete([id]);
  }

  /** Deletes facts whose weight fell below `minWeight` (decayed and never reinforced); returns how many. */
  async prune(minWeight = 0.05): Promise<number> {
    const rows = await this.db.selectFrom("agent_facts").select(["id", "confidence", "last_seen_at"]).execute();
    const gone = rows
      .filter((r) => this.weight({ confidence: Number(r.confidence), lastSeenAt: Number(r.last_seen_at) }) < minWeight)
      .map((r) => r.id);
    if (gone.length) await this.db.deleteFrom("agent_facts").where("id", "in", gone).execute();
    await this.index?.delete(gone);
    return gone.length;
  }
}

function toFact(r: MemoryTables["agent_facts"]): Fact {
  return {
    id: r.id,
    kind: r.kind as FactKind,
    text: r.text,
    sources: JSON.parse(r.sources) as string[],
    scope: fromStoredScope(r),
    confidence: Number(r.confidence),
    hits: Number(r.hits),
    createdAt: Number(r.created_at),
    lastSeenAt: Number(r.last_seen_at),
  };
}

function indexRow(r: MemoryTables["agent_facts"]): FactVectorRow {
  return {
    id: r.id,
    vector: fromBlob(r.vector),
    scope_user: r.scope_user,
    scope_agent: r.scope_agent,
    scope_team: r.scope_team,
    kind: r.kind,
    embedder: r.embedder,
  };
}
