import { defineTool, type Tool } from "@quintet/llm";
import { z } from "zod";
import type { EpisodicMemory } from "./episodic.js";
import type { MemoryScope } from "./scope.js";
import type { SemanticMemory } from "./semantic.js";

/** A tool that lets an agent search what it did before (its episodic memory in `scope`). */
export function recallEpisodesTool(memory: EpisodicMemory, scope: MemoryScope, options: { runId?: string } = {}): Tool {
  return defineTool({
    name: "recall_episodes",
    description:
      "Search your own earlier actions, tool results and outcomes by words (e.g. what you found when you called a tool a few steps ago).",
    parameters: z.object({
      query: z.string().min(1).describe("words to look for"),
      limit: z.number().int().min(1).max(20).optional(),
    }),
    execute: async ({ query, limit }) => {
      const found = await memory.search(query, {
        scope,
        limit: limit ?? 5,
        ...(options.runId ? { runId: options.runId } : {}),
      });
      return found.map((e) => ({ kind: e.kind, agent: e.agent, text: e.text, at: new Date(e.at).toISOString() }));
    },
  });
}

/** Tools to store and look up long-term facts and preferences in `scope`. */
export function semanticMemoryTools(memory: SemanticMemory, scope: MemoryScope): Tool[] {
  const remember = defineTool({
    name: "remember_fact",
    description: "Store a durable fact or user preference for future conversations (duplicates are merged).",
    parameters: z.object({
      text: z.string().min(1).describe("the fact, as one self-contained sentence"),
      kind: z.enum(["fact", "preference"]).optional(),
      source: z.string().optional().describe("where it came from"),
    }),
    sideEffects: false,
    execute: async ({ text, kind, source }, ctx) => {
      const { fact, merged } = await memory.remember(
        { text, ...(kind ? { kind } : {}), ...(source ? { source } : {}) },
        scope,
        ctx.signal,
      );
      return { id: fact.id, merged };
    },
  });
  const recall = defineTool({
    name: "recall_facts",
    description: "Look up stored facts and preferences relevant to a question.",
    parameters: z.object({ query: z.string().min(1), k: z.number().int().min(1).max(20).optional() }),
    execute: async ({ query, k }, ctx) => {
      const facts = await memory.recall(query, { scope, k: k ?? 5, signal: ctx.signal });
      return facts.map((f) => ({ text: f.text, kind: f.kind, sources: f.sources, score: Number(f.score.toFixed(3)) }));
    },
  });
  return [remember, recall];
}
