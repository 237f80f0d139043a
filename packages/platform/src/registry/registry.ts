import { type CoreTables, NotFoundError, type Store, ValidationError } from "@quintet/core";
import type { Kysely } from "kysely";
import type { DatasetInfo } from "../tracking/tracker.js";
import { type RegistryTables, registryMigrations } from "./schema.js";

/** Where model bundles are kept: the core ArtifactStore satisfies this. */
export interface BundleStore {
  put(
    content: Uint8Array | string,
    meta: { name: string; mediaType?: string },
  ): Promise<{ digest: string; size: number }>;
  /** Returns the bytes after checking them against the digest. */
  get(digest: string): Promise<Uint8Array>;
}

/** The columns a model takes and what it returns, checked at serving time. */
export interface ModelSignature {
  inputs: { name: string; type: string; nullable?: boolean; categories?: string[] }[];
  outputs: { name: string; type: string }[];
}

export interface ModelVersion {
  name: string;
  version: number;
  /** sha256 of the bundle in the artifact store. */
  digest: string;
  size: number;
  /** What kind of bundle this is, e.g. `quintet.gbdt` or `xgboost.json`. */
  flavor: string;
  runId: string | null;
  dataset: DatasetInfo | null;
  metrics: Record<string, number>;
  signature: ModelSignature | null;
  tags: Record<string, string>;
  createdAt: number;
  aliases: string[];
}

export interface RegisterOptions {
  name: string;
  bundle: Uint8Array | string;
  flavor: string;
  mediaType?: string;
  description?: string;
  runId?: string;
  dataset?: DatasetInfo;
  metrics?: Record<string, number>;
  signature?: ModelSignature;
  tags?: Record<string, string>;
  /** Aliases to point at the new version in the same transaction (e.g. `champion`). */
  aliases?: string[];
}

export type ModelRef = { name: string; version: number } | { name: string; alias: string } | { name: string };

const MODEL_RE = /^[a-z0-9][a-z0-9_.-]{0,127}$/;
const ALIAS_RE = /^[a-z][a-z0-9_-]{0,63}$/;

function checkModelName(name: string): void {
  if (!MODEL_RE.test(name))
    throw new ValidationError(`invalid model name "${name}"`, {
      hint: "use lowercase letters, digits, _ . - (start with a letter or digit), up to 128 characters",
    });
}

function checkAlias(alias: string): void {
  if (!ALIAS_RE.test(alias))
    throw new ValidationError(`invalid alias "${alias}"`, {
      hint: "use lowercase letters, digits, _ or - starting with a letter, e.g. champion",
    });
}

/**
 * Parses `name@alias`, `name/version` or `name` (latest version).
 *
 * @example parseModelRef("churn@champion") // { name: "churn", alias: "champion" }
 */
export function parseModelRef(ref: string): ModelRef {
  const at = ref.indexOf("@");
  if (at >= 0) {
    const name = ref.slice(0, at);
    const alias = ref.slice(at + 1);
    checkModelName(name);
    checkAlias(alias);
    return { name, alias };
  }
  const slash = ref.lastIndexOf("/");
  if (slash >= 0) {
    const name = ref.slice(0, slash);
    const v = ref.slice(slash + 1);
    checkModelName(name);
    if (!/^[1-9][0-9]{0,8}$/.test(v))
      throw new ValidationError(`invalid model version "${v}" in "${ref}"`, {
        hint: "versions are 1, 2, 3…: write name/3",
      });
    return { name, version: Number(v) };
  }
  checkModelName(ref);
  return { name: ref };
}

function refText(ref: ModelRef): string {
  return "alias" in ref ? `${ref.name}@${ref.alias}` : "version" in ref ? `${ref.name}/${ref.version}` : ref.name;
}

/**
 * A model registry on the core store (namespace `registry`): named models with immutable,
 * numbered versions whose bundles live in the artifact store, lineage (run, dataset,
 * metrics), signatures, and aliases moved atomically with an audit trail.
 *
 * A version row is written in one transaction after its bundle is stored, so a process
 * killed during registration leaves at most an unreferenced blob, never a half version.
 *
 * @example
 * const v = await registry.register({ name: "churn", bundle, flavor: "quintet.gbdt", aliases: ["champion"] });
 * const champion = await registry.resolve("churn@champion");
 */
export class ModelRegistry {
  constructor(
    private readonly store: Store,
    private readonly bundles: BundleStore,
  ) {}

  private async db() {
    await this.store.migrate("registry", registryMigrations);
    return this.store.db.withTables<RegistryTables>();
  }

  async register(options: RegisterOptions): Promise<ModelVersion> {
    checkModelName(options.name);
    for (const a of options.aliases ?? []) checkAlias(a);
    if (!options.flavor) throw new ValidationError("register needs a flavor", { hint: 'e.g. flavor: "quintet.gbdt"' });
    for (const [k, v] of Object.entries(options.metrics ?? {}))
      if (!Number.isFinite(v))
        throw new ValidationError(`metric "${k}" is ${v}, not a finite number`, {
          hint: "register only finite metrics",
        });
    await this.db();
    const { digest, size } = await this.bundles.put(options.bundle, {
      name: `${options.name}.bundle`,
      mediaType: options.mediaType ?? "application/json",
    });
    const version = await this.store.tx(async (tx) => {
      const db = tx.withTables<RegistryTables>();
      const now = Date.now();
      await db
        .insertInto("registry_models")
        .values({ name: options.name, description: options.description ?? "", created_at: now })
        .onConflict((oc) => oc.column("name").doNothing())
        .execute();
      // Serialise version numbering per model: SQLite's BEGIN IMMEDIATE already does; on
      // PostgreSQL the model row lock does.
      if (this.store.dialect === "postgres")
        await db.selectFrom("registry_models").select("name").where("name", "=", options.name).forUpdate().execute();
      const last = await db
        .selectFrom("registry_versions")
        .select((eb) => eb.fn.max("version").as("v"))
        .where("name", "=", options.name)
        .executeTakeFirst();
      const version = Number(last?.v ?? 0) + 1;
      await db
        .insertInto("registry_versions")
        .values({
          name: options.name,
          version,
          digest,
          size,
          flavor: options.flavor,
          run_id: options.runId ?? null,
          dataset: options.dataset ? JSON.stringify(options.dataset) : null,
          metrics: JSON.stringify(options.metrics ?? {}),
          signature: options.signature ? JSON.stringify(options.signature) : null,
          tags: JSON.stringify(options.tags ?? {}),
          created_at: now,
        })
        .execute();
      for (const alias of options.aliases ?? []) await moveAlias(db, options.name, alias, version, now);
      return version;
    });
    return this.get({ name: options.name, version });
  }

  /** Points `alias` at `version` (atomically replacing where it pointed before). */
  async setAlias(name: string, alias: string, version: number): Promise<ModelVersion> {
    checkModelName(name);
    checkAlias(alias);
    await this.db();
    await this.store.tx(async (tx) => {
      const db = tx.withTables<RegistryTables>();
      const exists = await db
        .selectFrom("registry_versions")
        .select("version")
        .where("name", "=", name)
        .where("version", "=", version)
        .executeTakeFirst();
      if (!exists)
        throw new NotFoundError(`model "${name}" has no version ${version}`, {
          hint: `list versions with \`quintet models show ${name}\``,
        });
      await moveAlias(db, name, alias, version, Date.now());
    });
    return this.get({ name, version });
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    checkAlias(alias);
    await this.db();
    await this.store.tx(async (tx) => {
      const db = tx.withTables<RegistryTables>();
      const row = await db
        .selectFrom("registry_aliases")
        .select("version")
        .where("name", "=", name)
        .where("alias", "=", alias)
        .executeTakeFirst();
      if (!row) throw new NotFoundError(`model "${name}" has no alias "${alias}"`);
      await db.deleteFrom("registry_aliases").where("name", "=", name).where("alias", "=", alias).execute();
      await db
        .insertInto("registry_alias_events")
        .values({ name, alias, from_version: row.version, to_version: null, at: Date.now() })
        .execute();
    });
  }

  /** Resolves `name@alias`, `name/version` or `name` (latest) to a version. */
  async resolve(ref: string | ModelRef): Promise<ModelVersion> {
    return this.get(typeof ref === "string" ? parseModelRef(ref) : ref);
  }

  async get(ref: ModelRef): Promise<ModelVersion> {
    const db = await this.db();
    let version: number | undefined;
    if ("version" in ref) version = ref.version;
    else if ("alias" in ref) {
      const row = await db
        .selectFrom("registry_aliases")
        .select("version")
        .where("name", "=", ref.name)
        .where("alias", "=", ref.alias)
        .executeTakeFirst();
      version = row?.version;
    } else {
      const row = await db
        .selectFrom("registry_versions")
        .select((eb) => eb.fn.max("version").as("v"))
        .where("name", "=", ref.name)
        .executeTakeFirst();
      version = row?.v == null ? undefined : Number(row.v);
    }
    const row =
      version === undefined
        ? undefined
        : await db
            .selectFrom("registry_versions")
            .selectAll()
            .where("name", "=", ref.name)
            .where("version", "=", version)
            .executeTakeFirst();
    if (!row)
      throw new NotFoundError(`model "${refText(ref)}" not found`, { hint: "list models with `quintet models ls`" });
    return (await this.hydrate([row]))[0]!;
  }

  /** The bundle bytes of a version, integrity-checked by the artifact store. */
  async loadBundle(ref: string | ModelRef): Promise<{ version: ModelVersion; bundle: Uint8Array }> {
    const version = await this.resolve(ref);
    return { version, bundle: await this.bundles.get(version.digest) };
  }

  async listModels(): Promise<
    { name: string; description: string; latest: number; versions: number; aliases: Record<string, number> }[]
  > {
    const db = await this.db();
    const models = await db.selectFrom("registry_models").selectAll().orderBy("name").execute();
    const counts = await db
      .selectFrom("registry_versions")
      .select(["name", (eb) => eb.fn.max("version").as("latest"), (eb) => eb.fn.countAll().as("n")])
      .groupBy("name")
      .execute();
    const aliases = await db.selectFrom("registry_aliases").selectAll().execute();
    return models.map((m) => {
      const c = counts.find((x) => x.name === m.name);
      return {
        name: m.name,
        description: m.description,
        latest: Number(c?.latest ?? 0),
        versions: Number(c?.n ?? 0),
        aliases: Object.fromEntries(aliases.filter((a) => a.name === m.name).map((a) => [a.alias, a.version])),
      };
    });
  }

  async listVersions(name: string): Promise<ModelVersion[]> {
    checkModelName(name);
    const db = await this.db();
    const rows = await db
      .selectFrom("registry_versions")
      .selectAll()
      .where("name", "=", name)
      .orderBy("version", "desc")
      .execute();
    if (rows.length === 0)
      throw new NotFoundError(`model "${name}" not found`, { hint: "list models with `quintet models ls`" });
    return this.hydrate(rows);
  }

  /** Every alias move of a model, oldest first: who pointed where, and when. */
  async aliasHistory(name: string) {
    const db = await this.db();
    return db.selectFrom("registry_alias_events").selectAll().where("name", "=", name).orderBy("at").execute();
  }

  private async hydrate(rows: RegistryTables["registry_versions"][]): Promise<ModelVersion[]> {
    const db = await this.db();
    const names = [...new Set(rows.map((r) => r.name))];
    const aliases = await db.selectFrom("registry_aliases").selectAll().where("name", "in", names).execute();
    return rows.map((r) => ({
      name: r.name,
      version: r.version,
      digest: r.digest,
      size: r.size,
      flavor: r.flavor,
      runId: r.run_id,
      dataset: r.dataset ? JSON.parse(r.dataset) : null,
      metrics: JSON.parse(r.metrics),
      signature: r.signature ? JSON.parse(r.signature) : null,
      tags: JSON.parse(r.tags),
      createdAt: r.created_at,
      aliases: aliases
        .filter((a) => a.name === r.name && a.version === r.version)
        .map((a) => a.alias)
        .sort(),
    }));
  }
}

async function moveAlias(
  db: Kysely<CoreTables & RegistryTables>,
  name: string,
  alias: string,
  version: number,
  at: number,
): Promise<void> {
  const prev = await db
    .selectFrom("registry_aliases")
    .select("version")
    .where("name", "=", name)
    .where("alias", "=", alias)
    .executeTakeFirst();
  await db
    .insertInto("registry_aliases")
    .values({ name, alias, version, updated_at: at })
    .onConflict((oc) => oc.columns(["name", "alias"]).doUpdateSet({ version, updated_at: at }))
    .execute();
  await db
    .insertInto("registry_alias_events")
    .values({ name, alias, from_version: prev?.version ?? null, to_version: version, at })
    .execute();
}
