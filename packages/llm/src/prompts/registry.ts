import { ConflictError, columnTypes, type Migration, NotFoundError, type Store, ValidationError } from "@quintet/core";
import { createTwoFilesPatch } from "diff";
import { Prompt, type PromptDefinition, type PromptDefinitionInput } from "./prompt.js";
import type { VariableSpec } from "./variables.js";

type PromptTables = {
  llm_prompts: { name: string; version: string; created_at: number; body: string };
  llm_prompt_aliases: { name: string; alias: string; version: string; updated_at: number };
};

const migrations: Migration[] = [
  {
    id: "0001_prompts",
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await db.schema
        .createTable("llm_prompts")
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("version", "text", (c) => c.notNull())
        .addColumn("created_at", t.bigint, (c) => c.notNull())
        .addColumn("body", t.json, (c) => c.notNull())
        .addPrimaryKeyConstraint("llm_prompts_pk", ["name", "version"])
        .execute();
      await db.schema
        .createTable("llm_prompt_aliases")
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("alias", "text", (c) => c.notNull())
        .addColumn("version", "text", (c) => c.notNull())
        .addColumn("updated_at", t.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint("llm_prompt_aliases_pk", ["name", "alias"])
        .execute();
    },
  },
];

export interface PromptVersionInfo {
  name: string;
  version: string;
  createdAt: number;
  aliases: string[];
}

export interface PromptSummary {
  name: string;
  latest: string;
  versions: number;
  aliases: Record<string, string>;
  updatedAt: number;
}

export interface PromptDiff {
  name: string;
  from: string;
  to: string;
  /** Unified diff of the readable template text (persona, messages, examples, options). */
  text: string;
  variables: {
    added: string[];
    removed: string[];
    changed: Array<{ name: string; from: VariableSpec; to: VariableSpec }>;
  };
  /** True when nothing differs. */
  identical: boolean;
}

const ALIAS_RE = /^[a-z][a-z0-9_-]{0,63}$/;

/**
 * Prompt versions in the store (namespace `prompts`). A version is the content hash of the
 * prompt body, so saving the same content again is a no-op that returns the same version.
 * Aliases (`production`, `staging`, …) are movable pointers to versions: promoting or rolling
 * back a prompt is an alias move.
 */
export class PromptRegistry {
  constructor(private readonly store: Store) {}

  private async db() {
    await this.store.migrate("prompts", migrations);
    return this.store.db.withTables<PromptTables>();
  }

  /** Stores a prompt version; idempotent for identical content. */
  async save(
    definition: PromptDefinitionInput | Prompt<any>,
  ): Promise<{ name: string; version: string; created: boolean }> {
    const prompt = definition instanceof Prompt ? definition : new Prompt(definition);
    await this.db();
    const created = await this.store.tx(async (tx) => {
      const db = tx.withTables<PromptTables>();
      const res = await db
        .insertInto("llm_prompts")
        .values({
          name: prompt.name,
          version: prompt.version,
          created_at: Date.now(),
          body: JSON.stringify(prompt.definition),
        })
        .onConflict((oc) => oc.columns(["name", "version"]).doNothing())
        .executeTakeFirst();
      return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
    });
    return { name: prompt.name, version: prompt.version, created };
  }

  /** Resolves an alias, a full version hash or a unique hash prefix (≥ 6 chars) to a version. */
  async resolve(name: string, versionOrAlias?: string): Promise<string> {
    const db = await this.db();
    if (versionOrAlias === undefined) {
      const row = await db
        .selectFrom("llm_prompts")
        .select("version")
        .where("name", "=", name)
        .orderBy("created_at", "desc")
        .orderBy("version")
        .executeTakeFirst();
      if (!row) throw this.notFound(name);
      return row.version;
    }
    const alias = await db
      .selectFrom("llm_prompt_aliases")
      .select("version")
      .where("name", "=", name)
      .where("alias", "=", versionOrAlias)
      .executeTakeFirst();
    if (alias) return alias.version;
    if (/^[0-9a-f]{6,64}$/.test(versionOrAlias)) {
      const rows = await db
        .selectFrom("llm_prompts")
        .select("version")
        .where("name", "=", name)
        .where("version", "like", `${versionOrAlias}%`)
        .execute();
      if (rows.length === 1) return rows[0]!.version;
      if (rows.length > 1) {
        throw new ValidationError(`version prefix "${versionOrAlias}" of prompt "${name}" is ambiguous`, {
          hint: "Give more characters of the version hash.",
        });
      }
    }
    throw new NotFoundError(`prompt "${name}" has no version or alias "${versionOrAlias}"`, {
      hint: `List versions with registry.versions("${name}"), or set an alias with registry.alias(name, alias, version).`,
    });
  }

  /** Loads a stored prompt (latest when no version or alias is given). */
  async get(name: string, versionOrAlias?: string): Promise<Prompt> {
    const version = await this.resolve(name, versionOrAlias);
    const db = await this.db();
    const row = await db
      .selectFrom("llm_prompts")
      .select("body")
      .where("name", "=", name)
      .where("version", "=", version)
      .executeTakeFirstOrThrow();
    const prompt = new Prompt(JSON.parse(row.body) as PromptDefinition);
    if (prompt.version !== version) {
      // The body is the hash input: a mismatch means the row was altered outside the registry.
      throw new ConflictError(`stored prompt "${name}@${version}" no longer hashes to its version`, {
        hint: "The prompts table was edited by hand; save the prompt again to get a consistent version.",
      });
    }
    return prompt;
  }

  /** Every prompt name with its latest version, version count and aliases. */
  async list(): Promise<PromptSummary[]> {
    const db = await this.db();
    const rows = await db.selectFrom("llm_prompts").select(["name", "version", "created_at"]).orderBy("name").execute();
    const aliases = await db.selectFrom("llm_prompt_aliases").selectAll().execute();
    const out = new Map<string, PromptSummary>();
    for (const r of rows) {
      const s = out.get(r.name);
      if (!s) out.set(r.name, { name: r.name, latest: r.version, versions: 1, aliases: {}, updatedAt: r.created_at });
      else {
        s.versions++;
        if (r.created_at > s.updatedAt || (r.created_at === s.updatedAt && r.version < s.latest)) {
          s.latest = r.version;
          s.updatedAt = r.created_at;
        }
      }
    }
    for (const a of aliases) {
      const s = out.get(a.name);
      if (s) s.aliases[a.alias] = a.version;
    }
    return [...out.values()];
  }

  /** The versions of one prompt, newest first, with the aliases pointing at each. */
  async versions(name: string): Promise<PromptVersionInfo[]> {
    const db = await this.db();
    const rows = await db
      .selectFrom("llm_prompts")
      .select(["version", "created_at"])
      .where("name", "=", name)
      .orderBy("created_at", "desc")
      .orderBy("version")
      .execute();
    if (rows.length === 0) throw this.notFound(name);
    const aliases = await db.selectFrom("llm_prompt_aliases").selectAll().where("name", "=", name).execute();
    return rows.map((r) => ({
      name,
      version: r.version,
      createdAt: r.created_at,
      aliases: aliases.filter((a) => a.version === r.version).map((a) => a.alias),
    }));
  }

  /** Points `alias` at a version (or another alias's version); returns the previous target. */
  async alias(
    name: string,
    alias: string,
    versionOrAlias: string,
  ): Promise<{ version: string; previous: string | undefined }> {
    if (!ALIAS_RE.test(alias) || /^[0-9a-f]{6,}$/.test(alias)) {
      throw new ValidationError(`invalid alias "${alias}"`, {
        hint: "Aliases are lower-case words like production or staging (letters, digits, _ and -), not hex hashes.",
      });
    }
    const version = await this.resolve(name, versionOrAlias);
    await this.db();
    return this.store.tx(async (tx) => {
      const db = tx.withTables<PromptTables>();
      const prev = await db
        .selectFrom("llm_prompt_aliases")
        .select("version")
        .where("name", "=", name)
        .where("alias", "=", alias)
        .executeTakeFirst();
      await db
        .insertInto("llm_prompt_aliases")
        .values({ name, alias, version, updated_at: Date.now() })
        .onConflict((oc) => oc.columns(["name", "alias"]).doUpdateSet({ version, updated_at: Date.now() }))
        .execute();
      return { version, previous: prev?.version };
    });
  }

  /** A readable diff between two versions (or aliases) of a prompt. */
  async diff(name: string, a: string, b: string): Promise<PromptDiff> {
    const [pa, pb] = [await this.get(name, a), await this.get(name, b)];
    return diffPrompts(pa, pb);
  }

  private notFound(name: string): NotFoundError {
    return new NotFoundError(`no prompt named "${name}"`, {
      hint: "Save it first with registry.save(definition); list names with registry.list().",
    });
  }
}

/** The text a human reviews: persona, messages, examples and options, one block each. */
export function promptText(def: PromptDefinition): string {
  const parts: string[] = [`# strategy: ${def.strategy}`];
  if (def.persona !== undefined) parts.push(`[persona]\n${def.persona}`);
  for (const m of def.messages) parts.push(`[${m.role}]\n${m.content}`);
  if (def.strategy === "chain-of-thought") parts.push(`[reasoning instruction]\n${def.reasoningInstruction}`);
  for (const [i, e] of def.examples.entries()) {
    parts.push(`[example ${i + 1} input]\n${e.input}\n[example ${i + 1} output]\n${e.output}`);
  }
  if (def.strategy === "few-shot") parts.push(`# few-shot k: ${def.fewShotK}`);
  if (Object.keys(def.options).length) parts.push(`# options: ${JSON.stringify(def.options)}`);
  return `${parts.join("\n\n")}\n`;
}

export function diffPrompts(a: Prompt<any>, b: Prompt<any>): PromptDiff {
  const da = a.definition;
  const db = b.definition;
  const text = createTwoFilesPatch(
    `${da.name}@${a.version.slice(0, 12)}`,
    `${db.name}@${b.version.slice(0, 12)}`,
    promptText(da),
    promptText(db),
    undefined,
    undefined,
    { context: 3 },
  );
  const added = Object.keys(db.variables).filter((k) => !(k in da.variables));
  const removed = Object.keys(da.variables).filter((k) => !(k in db.variables));
  const changed = Object.keys(da.variables)
    .filter((k) => k in db.variables && JSON.stringify(da.variables[k]) !== JSON.stringify(db.variables[k]))
    .map((k) => ({ name: k, from: da.variables[k]!, to: db.variables[k]! }));
  return {
    name: db.name,
    from: a.version,
    to: b.version,
    text,
    variables: { added, removed, changed },
    identical: a.version === b.version,
  };
}
