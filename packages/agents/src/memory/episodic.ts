import { randomUUID } from "node:crypto";
import { type CoreTables, type Store, ValidationError } from "@quintet/core";
import { contentTerms } from "@quintet/llm";
import type { Kysely } from "kysely";
import type { RunEvent } from "../runs/events.js";
import { fromStoredScope, type MemoryScope, parseScope, toStoredScope } from "./scope.js";
import { type MemoryTables, memoryMigrations } from "./tables.js";

export type EpisodeKind = "action" | "observation" | "outcome" | "note";

/** One thing an agent did, saw or achieved. */
export interface Episode {
  runId: string;
  key: string;
  seq: number;
  kind: EpisodeKind;
  agent: string;
  text: string;
  data: unknown;
  scope: MemoryScope;
  at: number;
}

export interface EpisodeInput {
  kind: EpisodeKind;
  agent: string;
  text: string;
  data?: unknown;
  /** Groups episodes; with `key`, makes recording idempotent (a replayed step is stored once). */
  runId?: string;
  key?: string;
  seq?: number;
  at?: number;
}

export interface EpisodeSearch {
  /** Only episodes with exactly these scope fields (unset fields match any). */
  scope?: MemoryScope;
  runId?: string;
  kinds?: EpisodeKind[];
  limit?: number;
}

export interface ScoredEpisode extends Episode {
  score: number;
}

function clip(text: string, n: number): string {
  return text.length <= n ? text : `${text.slice(0, n)}…`;
}

/** How a run event reads as an episode (undefined for events that are not actions, observations or outcomes). */
export function episodeOf(e: RunEvent): EpisodeInput | undefined {
  const common = { agent: e.agent, runId: e.runId, key: e.key, seq: e.seq, at: e.at };
  switch (e.type) {
    case "tool-call":
      return {
        ...common,
        kind: "action",
        text: `called ${e.name} with ${clip(JSON.stringify(e.arguments), 500)}`,
        data: { name: e.name, arguments: e.arguments },
      };
    case "tool-result":
      return {
        ...common,
        kind: "observation",
        text: `${e.name} returned (${e.status}): ${clip(e.content, 1000)}`,
        data: { name: e.name, status: e.status },
      };
    case "handoff":
      return {
        ...common,
        kind: "action",
        text: `handed off to ${e.to}: ${clip(e.task, 500)}${e.error ? ` (failed: ${e.error.message})` : ""}`,
      };
    case "critique":
      return {
        ...common,
        kind: "observation",
        text: `critic ${e.verdict === "pass" ? "accepted" : "rejected"} task ${e.taskId}: ${e.reasons.join("; ")}`,
      };
    case "note":
      return { ...common, kind: "note", text: e.text };
    case "final":
      return { ...common, kind: "outcome", text: `answered: ${clip(e.output, 1000)}` };
    case "stopped":
      return { ...common, kind: "outcome", text: `stopped (${e.reason}): ${e.detail}` };
    default:
      return undefined;
  }
}

function termsOf(text: string): string[] {
  return contentTerms(text);
}

/**
 * Episodic memory: every action, observation and outcome of an agent's runs, in the store
 * (table `agent_episodes`), searchable by text — so an agent can recall what it did five
 * steps (or five runs) ago. Search is lexical: stemmed content terms, ranked by TF-IDF over
 * the matching episodes, newest first on ties.
 */
export class EpisodicMemory {
  private constructor(private readonly db: Kysely<CoreTables & MemoryTables>) {}

  static async open(store: Store): Promise<EpisodicMemory> {
    await store.migrate("agents.memory", memoryMigrations);
    return new EpisodicMemory(store.db.withTables<MemoryTables>());
  }

  /** Stores an episode; recording the same `runId` + `key` again keeps the first. */
  async record(input: EpisodeInput, scope: MemoryScope = {}): Promise<void> {
    if (!input.text.trim()) throw new ValidationError("an episode needs text", { hint: "Describe what happened." });
    const s = toStoredScope(parseScope(scope));
    const terms = termsOf(input.text);
    await this.db
      .insertInto("agent_episodes")
      .values({
        run_id: input.runId ?? "",
        key: input.key ?? randomUUID(),
        ...s,
        seq: input.seq ?? 0,
        kind: input.kind,
        agent: input.agent,
        text: input.text,
        terms: ` ${terms.join(" ")} `,
        data: input.data === undefined ? null : JSON.stringify(input.data),
        at: input.at ?? Date.now(),
      })
      .onConflict((oc) => oc.columns(["run_id", "key"]).doNothing())
      .execute();
  }

  /** Records a run event if it is an action, observation or outcome. */
  async recordEvent(event: RunEvent, scope: MemoryScope = {}): Promise<void> {
    const episode = episodeOf(event);
    if (episode) await this.record(episode, scope);
  }

  private filtered(o: EpisodeSearch) {
    let q = this.db.selectFrom("agent_episodes").selectAll();
    const scope = parseScope(o.scope);
    if (scope.user) q = q.where("scope_user", "=", scope.user);
    if (scope.agent) q = q.where("scope_agent", "=", scope.agent);
    if (scope.team) q = q.where("scope_team", "=", scope.team);
    if (o.runId) q = q.where("run_id", "=", o.runId);
    if (o.kinds?.length) q = q.where("kind", "in", o.kinds);
    return q;
  }

  /** The latest episodes, newest first. */
  async recent(o: EpisodeSearch = {}): Promise<Episode[]> {
    const rows = await this.filtered(o)
      .orderBy("at", "desc")
      .orderBy("seq", "desc")
      .limit(o.limit ?? 20)
      .execute();
    return rows.map(toEpisode);
  }

  /** Episodes matching the words of `query`, best first. */
  async search(query: string, o: EpisodeSearch = {}): Promise<ScoredEpisode[]> {
    const qTerms = [...new Set(termsOf(query))].slice(0, 16);
    if (qTerms.length === 0) return [];
    const rows = await this.filtered(o)
      .where((eb) => eb.or(qTerms.map((t) => eb("terms", "like", `% ${t} %`))))
      .orderBy("at", "desc")
      .limit(2000)
      .execute();
    const docs = rows.map((r) => ({ row: r, terms: r.terms.trim().split(" ") }));
    const df = new Map<string, number>();
    for (const t of qTerms) df.set(t, docs.filter((d) => d.terms.includes(t)).length);
    const n = docs.length;
    const scored = docs.map(({ row, terms }) => {
      let score = 0;
      for (const t of qTerms) {
        const tf = terms.filter((x) => x === t).length;
        if (tf) score += (1 + Math.log(tf)) * Math.log(1 + n / (df.get(t) ?? 1));
      }
      return { ...toEpisode(row), score: score / Math.sqrt(Math.max(1, terms.length)) };
    });
    scored.sort((a, b) => b.score - a.score || b.at - a.at || b.seq - a.seq);
    return scored.slice(0, o.limit ?? 10);
  }
}

function toEpisode(r: MemoryTables["agent_episodes"]): Episode {
  return {
    runId: r.run_id,
    key: r.key,
    seq: Number(r.seq),
    kind: r.kind as EpisodeKind,
    agent: r.agent,
    text: r.text,
    data: r.data === null ? undefined : JSON.parse(r.data),
    scope: fromStoredScope(r),
    at: Number(r.at),
  };
}
