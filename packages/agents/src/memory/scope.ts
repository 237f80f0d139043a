import { ValidationError } from "@quintet/core";
import { z } from "zod";

/** Whose memory: a user, an agent, a team, or any combination. Unset fields mean "not specific to one". */
export const MemoryScopeSchema = z
  .object({
    user: z.string().min(1).max(200).optional(),
    agent: z.string().min(1).max(200).optional(),
    team: z.string().min(1).max(200).optional(),
  })
  .strict();

export type MemoryScope = z.infer<typeof MemoryScopeSchema>;

/** The scope as stored: unset fields are empty strings (same comparison on SQLite and PostgreSQL). */
export interface StoredScope {
  scope_user: string;
  scope_agent: string;
  scope_team: string;
}

export function parseScope(scope: unknown): MemoryScope {
  const parsed = MemoryScopeSchema.safeParse(scope ?? {});
  if (!parsed.success) {
    throw new ValidationError(
      `invalid memory scope: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
      { hint: "A scope is { user?, agent?, team? } with non-empty strings." },
    );
  }
  return parsed.data;
}

export function toStoredScope(scope: MemoryScope): StoredScope {
  return { scope_user: scope.user ?? "", scope_agent: scope.agent ?? "", scope_team: scope.team ?? "" };
}

export function fromStoredScope(row: StoredScope): MemoryScope {
  return {
    ...(row.scope_user ? { user: row.scope_user } : {}),
    ...(row.scope_agent ? { agent: row.scope_agent } : {}),
    ...(row.scope_team ? { team: row.scope_team } : {}),
  };
}
