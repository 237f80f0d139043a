import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { ConfigError, QuintetError, type Store } from "@quintet/core";
import { createLlm, type LlmClient, type Tool } from "@quintet/llm";
import { parseDocument } from "yaml";
import { z } from "zod";
import { Agent } from "../agent/agent.js";
import type { ApprovalGate } from "../agent/execute-tool.js";
import { AgentPoliciesSchema } from "../agent/policies.js";
import { BudgetLimitsSchema } from "../control/budget.js";
import { EpisodicMemory } from "../memory/episodic.js";
import { WorkingMemory } from "../memory/working.js";
import { McpClient, McpServerConfigSchema } from "../tools/mcp-client.js";
import { openApiTools } from "../tools/openapi.js";
import { type RetrieveFn, retrieverTool } from "../tools/retriever.js";
import { planAndExecute } from "./patterns/plan-and-execute.js";
import { reviewLoop } from "./patterns/review-loop.js";
import { supervisorPattern } from "./patterns/supervisor.js";
import { DEFAULT_INSTRUCTIONS, type Role } from "./roles.js";
import { Team } from "./team.js";

const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const ROLES = ["planner", "executor", "researcher", "critic", "supervisor", "synthesizer"] as const;

const AgentDefSchema = z
  .object({
    role: z.enum(ROLES),
    instructions: z.string().min(1).optional(),
    /** Model URI; default the team's `model`. */
    model: z.string().min(1).optional(),
    /** Names of tools (registered with buildTeam, or generated from `tools.openapi` / `tools.mcp`). */
    tools: z.array(z.string().min(1)).optional(),
    policies: AgentPoliciesSchema.optional(),
    temperature: z.number().min(0).max(2).optional(),
    memory: z
      .object({
        /** Working memory: summarise older messages above this many tokens. */
        working: z
          .object({ maxTokens: z.number().int().min(64), keepRecent: z.number().int().min(1).optional() })
          .strict()
          .optional(),
        /** Record every action, observation and outcome in the store (needs buildTeam's `store`). */
        episodic: z.boolean().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const TeamConfigSchema = z
  .object({
    name: z.string().regex(NAME, "start with a letter; letters, digits, _ and - (at most 64)"),
    pattern: z.enum(["plan-and-execute", "supervisor", "review-loop"]),
    description: z.string().optional(),
    /** Default model URI of every agent. */
    model: z.string().min(1).optional(),
    /** The team's budget (all members together). */
    policies: BudgetLimitsSchema.optional(),
    options: z
      .object({
        maxAttempts: z.number().int().min(1).optional(),
        maxPlanAttempts: z.number().int().min(1).optional(),
        concurrency: z.number().int().min(1).optional(),
        maxRounds: z.number().int().min(1).optional(),
      })
      .strict()
      .optional(),
    /** Review loop: what the result must satisfy. */
    criteria: z.array(z.string().min(1)).optional(),
    agents: z.record(
      z.string().regex(NAME, "agent names start with a letter; letters, digits, _ and -"),
      AgentDefSchema,
    ),
    tools: z
      .object({
        openapi: z
          .array(
            z
              .object({
                /** Path (relative to the team file) or URL of the document. */
                spec: z.string().min(1),
                baseUrl: z.string().url().optional(),
                prefix: z.string().optional(),
                include: z.array(z.string()).optional(),
                headers: z.record(z.string(), z.string()).optional(),
                timeoutMs: z.number().int().min(1).optional(),
              })
              .strict(),
          )
          .optional(),
        mcp: z.array(McpServerConfigSchema).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const byRole = (r: Role) => Object.entries(c.agents).filter(([, a]) => a.role === r);
    const need = (cond: boolean, message: string, path: (string | number)[] = ["agents"]) => {
      if (!cond) ctx.addIssue({ code: "custom", message, path });
    };
    if (Object.keys(c.agents).length === 0) need(false, "a team needs at least one agent");
    const workers = [...byRole("executor"), ...byRole("researcher")];
    if (c.pattern === "plan-and-execute") {
      need(byRole("planner").length === 1, 'plan-and-execute needs exactly one agent with role "planner"');
      need(workers.length >= 1, 'plan-and-execute needs at least one "executor" or "researcher"');
      need(byRole("critic").length <= 1, 'plan-and-execute takes at most one "critic"');
      need(byRole("synthesizer").length <= 1, 'plan-and-execute takes at most one "synthesizer"');
      need(byRole("supervisor").length === 0, 'plan-and-execute has no "supervisor" (use pattern: supervisor)');
    }
    if (c.pattern === "supervisor") {
      need(byRole("supervisor").length === 1, 'the supervisor pattern needs exactly one agent with role "supervisor"');
      need(workers.length >= 1, 'the supervisor pattern needs at least one "executor" or "researcher"');
      for (const [n, a] of Object.entries(c.agents)) {
        if (!["supervisor", "executor", "researcher"].includes(a.role)) {
          need(false, `role "${a.role}" has no place in the supervisor pattern`, ["agents", n, "role"]);
        }
      }
    }
    if (c.pattern === "review-loop") {
      need(workers.length === 1, 'review-loop needs exactly one "executor" or "researcher" (the worker)');
      need(byRole("critic").length === 1, 'review-loop needs exactly one "critic"');
      need(Boolean(c.criteria?.length), "review-loop needs criteria: the list of what the result must satisfy", [
        "criteria",
      ]);
    }
  });

/** A team definition (`team.yaml`). */
export type TeamConfig = z.infer<typeof TeamConfigSchema>;

function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>(
    (s, p) => (typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)),
    "",
  );
}

/**
 * Validates a parsed team definition. @throws ConfigError listing every problem with its
 * path (`agents.writer.policies.maxSteps: …`).
 */
export function parseTeamConfig(value: unknown, source = "team definition"): TeamConfig {
  const parsed = TeamConfigSchema.safeParse(value);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${formatPath(i.path) || "(root)"}: ${i.message}`);
    throw new ConfigError(`invalid ${source}:\n  ${lines.join("\n  ")}`, {
      hint: "See docs/agents.md for the team.yaml format (name, pattern, model, agents with roles, tools, policies).",
      details: { issues: lines },
    });
  }
  return parsed.data;
}

/** Reads and validates a `team.yaml`. @throws ConfigError naming the file, line and path of each problem. */
export async function loadTeamConfig(path: string): Promise<TeamConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read team file ${path}: ${(err as Error).message}`, {
      hint: "Pass the path of a team.yaml.",
    });
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    throw new ConfigError(`${path} is not valid YAML: ${doc.errors.map((e) => e.message).join("; ")}`, {
      hint: "Fix the YAML syntax at the line shown.",
    });
  }
  return parseTeamConfig(doc.toJS(), path);
}

export interface BuildTeamOptions {
  /** Folder that relative paths in the config (OpenAPI specs) are resolved from. */
  baseDir?: string;
  /** Tools agents may name, besides those generated from `tools.openapi` and `tools.mcp`. */
  tools?: readonly Tool[];
  /** For researchers: gives them a `search_documents` tool. */
  retriever?: RetrieveFn;
  /** Model used when neither the agent nor the team names one (e.g. QUINTET_LLM). */
  defaultModel?: string;
  /** Makes a client for a model URI (default `createLlm(uri, { env })`). */
  createModel?: (uri: string) => LlmClient;
  env?: Record<string, string | undefined>;
  approve?: ApprovalGate;
  /** Where agents with `memory.episodic` record their episodes. */
  store?: Store;
}

/** A team built from a config, with the connections it opened (MCP servers) to close. */
export interface BuiltTeam {
  team: Team;
  config: TeamConfig;
  /** Every tool available to the team's agents, by name. */
  tools: Map<string, Tool>;
  close(): Promise<void>;
}

/**
 * Builds a {@link Team} from a validated config: models, tools (registered, OpenAPI, MCP),
 * agents with their roles and policies, and the pattern.
 */
export async function buildTeam(config: TeamConfig, options: BuildTeamOptions = {}): Promise<BuiltTeam> {
  const baseDir = options.baseDir ?? process.cwd();
  const mcpClients: McpClient[] = [];
  const close = async () => {
    await Promise.all(mcpClients.map((c) => c.close().catch(() => {})));
  };
  try {
    const tools = new Map<string, Tool>();
    const add = (t: Tool, origin: string) => {
      if (tools.has(t.name)) {
        throw new ConfigError(`two tools are named "${t.name}" (the second from ${origin})`, {
          hint: "Give OpenAPI or MCP tools a prefix.",
        });
      }
      tools.set(t.name, t);
    };
    for (const t of options.tools ?? []) add(t, "the registered tools");
    if (options.retriever) add(retrieverTool(options.retriever), "the retriever");
    for (const [i, o] of (config.tools?.openapi ?? []).entries()) {
      const spec = /^https?:\/\//.test(o.spec) || isAbsolute(o.spec) ? o.spec : resolve(baseDir, o.spec);
      try {
        const generated = await openApiTools(spec, {
          ...(o.baseUrl ? { baseUrl: o.baseUrl } : {}),
          ...(o.prefix !== undefined ? { prefix: o.prefix } : {}),
          ...(o.include ? { include: o.include } : {}),
          ...(o.headers ? { headers: o.headers } : {}),
          ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
        });
        for (const t of generated) add(t, `tools.openapi[${i}]`);
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        throw new ConfigError(`tools.openapi[${i}] (${o.spec}): ${(err as Error).message}`, {
          hint: (err as QuintetError).hint ?? "Check the OpenAPI document.",
        });
      }
    }
    for (const [i, m] of (config.tools?.mcp ?? []).entries()) {
      const client = await McpClient.connect(
        "command" in m && m.cwd && !isAbsolute(m.cwd) ? { ...m, cwd: resolve(baseDir, m.cwd) } : m,
      ).catch((err: QuintetError) => {
        throw new ConfigError(`tools.mcp[${i}] (${m.name}): ${err.message}`, err.hint ? { hint: err.hint } : {});
      });
      mcpClients.push(client);
      for (const t of await client.tools()) add(t, `tools.mcp[${i}]`);
    }
    const models = new Map<string, LlmClient>();
    const modelFor = (uri: string) => {
      let m = models.get(uri);
      if (!m) {
        m = options.createModel ? options.createModel(uri) : createLlm(uri, options.env ? { env: options.env } : {});
        models.set(uri, m);
      }
      return m;
    };
    const agents = new Map<string, { agent: Agent; role: Role }>();
    for (const [name, def] of Object.entries(config.agents)) {
      const uri = def.model ?? config.model ?? options.defaultModel;
      if (!uri) {
        throw new QuintetError("PROVIDER_NOT_CONFIGURED", `agents.${name}: no model`, {
          hint: "Set model: (e.g. openai:gpt-4o-mini) at the top of the team file or on the agent, or set QUINTET_LLM.",
        });
      }
      const names = [...(def.tools ?? [])];
      if (def.role === "researcher" && options.retriever && !names.includes("search_documents")) {
        names.unshift("search_documents");
      }
      const agentTools = names.map((t, j) => {
        const tool = tools.get(t);
        if (!tool) {
          throw new ConfigError(`agents.${name}.tools[${j}]: no tool named "${t}"`, {
            hint: `Available tools: ${[...tools.keys()].join(", ") || "(none: register tools, or add tools.openapi / tools.mcp)"}.`,
          });
        }
        return tool;
      });
      if (def.role === "researcher" && agentTools.length === 0) {
        throw new ConfigError(`agents.${name}: a researcher needs a search tool`, {
          hint: "Give buildTeam a retriever (a RAG collection), or list search tools under tools:.",
        });
      }
      let model: LlmClient;
      try {
        model = modelFor(uri);
      } catch (err) {
        const e = err as QuintetError;
        throw new QuintetError(e.code ?? "CONFIG_INVALID", `agents.${name}.model (${uri}): ${e.message}`, {
          ...(e.hint ? { hint: e.hint } : {}),
        });
      }
      if (def.memory?.episodic && !options.store) {
        throw new ConfigError(`agents.${name}.memory.episodic: episodic memory needs a store`, {
          hint: "Pass buildTeam(config, { store }) (the CLI passes the project store).",
        });
      }
      const memory = def.memory
        ? {
            ...(def.memory.working
              ? {
                  working: new WorkingMemory({
                    maxTokens: def.memory.working.maxTokens,
                    ...(def.memory.working.keepRecent ? { keepRecent: def.memory.working.keepRecent } : {}),
                    tokenizer: uri,
                  }),
                }
              : {}),
            ...(def.memory.episodic && options.store ? { episodic: await EpisodicMemory.open(options.store) } : {}),
            scope: { agent: name, team: config.name },
          }
        : undefined;
      const agent = new Agent({
        name,
        instructions: def.instructions ?? DEFAULT_INSTRUCTIONS[def.role],
        model,
        tools: agentTools,
        ...(memory ? { memory } : {}),
        ...(def.policies ? { policies: def.policies } : {}),
        ...(def.temperature !== undefined ? { temperature: def.temperature } : {}),
      });
      agents.set(name, { agent, role: def.role });
    }
    const withRole = (...roles: Role[]) =>
      [...agents.values()].filter((a) => roles.includes(a.role)).map((a) => a.agent);
    const o = config.options ?? {};
    const pattern =
      config.pattern === "plan-and-execute"
        ? planAndExecute({
            planner: withRole("planner")[0]!,
            executors: withRole("executor", "researcher"),
            critic: withRole("critic")[0],
            synthesizer: withRole("synthesizer")[0],
            ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}),
            ...(o.maxPlanAttempts ? { maxPlanAttempts: o.maxPlanAttempts } : {}),
            ...(o.concurrency ? { concurrency: o.concurrency } : {}),
          })
        : config.pattern === "supervisor"
          ? supervisorPattern({ supervisor: withRole("supervisor")[0]!, workers: withRole("executor", "researcher") })
          : reviewLoop({
              worker: withRole("executor", "researcher")[0]!,
              critic: withRole("critic")[0]!,
              criteria: config.criteria ?? [],
              ...(o.maxRounds ? { maxRounds: o.maxRounds } : {}),
            });
    const team = new Team({
      name: config.name,
      pattern,
      ...(config.policies ? { policies: config.policies } : {}),
      ...(options.approve ? { approve: options.approve } : {}),
      config: { team: config, baseDir },
    });
    return { team, config, tools, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Reads, validates and builds a team file; relative paths resolve from the file's folder. */
export async function loadTeam(path: string, options: BuildTeamOptions = {}): Promise<BuiltTeam> {
  const config = await loadTeamConfig(path);
  return buildTeam(config, { baseDir: dirname(resolve(path)), ...options });
}
