import { ValidationError } from "@quintet/core";
import { z } from "zod";
import { BudgetLimitsSchema } from "../control/budget.js";

export const ToolPolicySchema = z
  .object({
    /** Overrides the tool's own timeout. */
    timeoutMs: z.number().int().min(1).optional(),
    /**
     * `auto` (default): ask the approval gate for tools with side effects; `always`: ask for
     * every call; `never`: this tool is pre-approved.
     */
    approval: z.enum(["auto", "always", "never"]).optional(),
    /** Calls allowed per agent run. */
    maxCalls: z.number().int().min(1).optional(),
  })
  .strict();

export type ToolPolicy = z.infer<typeof ToolPolicySchema>;

export const AgentPoliciesSchema = z
  .object({
    ...BudgetLimitsSchema.shape,
    /** Tool names this agent may call (default: all it was given). */
    allowedTools: z.array(z.string().min(1)).optional(),
    /** Per-tool timeouts, approval and call limits, by tool name. */
    tools: z.record(z.string(), ToolPolicySchema).optional(),
    /** Run side-effect tools without an approval gate (otherwise they are refused). */
    allowSideEffects: z.boolean().optional(),
    /** Consecutive failures of one tool before it is disabled for the run (default 3). */
    maxToolFailures: z.number().int().min(1).optional(),
    loop: z
      .object({ warnAfter: z.number().int().min(2).optional(), stopAfter: z.number().int().min(2).optional() })
      .strict()
      .optional(),
    /** Run the calls of one step concurrently (default true). */
    parallelToolCalls: z.boolean().optional(),
    /** Tool results longer than this are cut before the model sees them (default 20000 characters). */
    maxResultChars: z.number().int().min(100).optional(),
  })
  .strict();

/** Limits and permissions of one agent. */
export type AgentPolicies = z.infer<typeof AgentPoliciesSchema>;

export function parsePolicies(policies: unknown, who: string): AgentPolicies {
  const parsed = AgentPoliciesSchema.safeParse(policies ?? {});
  if (!parsed.success) {
    throw new ValidationError(
      `invalid policies for ${who}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
      {
        hint: "Policies: maxSteps, maxTokens, maxCostUsd, maxWallMs, allowedTools, tools.<name>.{timeoutMs,approval,maxCalls}, allowSideEffects, maxToolFailures, loop, parallelToolCalls, maxResultChars.",
      },
    );
  }
  return parsed.data;
}
