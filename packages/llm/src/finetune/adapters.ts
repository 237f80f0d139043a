import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { resolve } from "node:path";
import {
  type ArtifactStore,
  ConflictError,
  columnTypes,
  IntegrityError,
  type Migration,
  NotFoundError,
  type Store,
  ValidationError,
} from "@quintet/core";
import { loadNodeLlamaCpp } from "../providers/local/binding.js";
import { assertGgufFile } from "../providers/local/gguf-header.js";

type AdapterTables = {
  llm_adapters: {
    name: string;
    version: string;
    digest: string;
    base_model: string;
    source_path: string;
    bytes: number;
    architecture: string;
    alpha: number | null;
    scale: number;
    description: string | null;
    created_at: number;
  };
};

const migrations: Migration[] = [
  {
    id: "0001_adapters",
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await db.schema
        .createTable("llm_adapters")
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("version", "text", (c) => c.notNull())
        .addColumn("digest", "text", (c) => c.notNull())
        .addColumn("base_model", "text", (c) => c.notNull())
        .addColumn("source_path", "text", (c) => c.notNull())
        .addColumn("bytes", t.bigint, (c) => c.notNull())
        .addColumn("architecture", "text", (c) => c.notNull())
        .addColumn("alpha", t.double)
        .addColumn("scale", t.double, (c) => c.notNull())
        .addColumn("description", "text")
        .addColumn("created_at", t.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint("llm_adapters_pk", ["name", "version"])
        .execute();
    },
  },
];

/** Where adapters live: their rows in the store, their files in the artifact store of the same home. */
export interface AdapterStores {
  store: Store;
  artifacts: ArtifactStore;
}

/** A registered LoRA adapter version. */
export interface AdapterRecord {
  name: string;
  /** Hex sha256 of the adapter file: identical bytes are the same version. */
  version: string;
  /** The artifact holding the file (`sha256:<version>`). */
  digest: string;
  /** What it was trained on: `llama:<absolute path>` for a local GGUF, else the id given (e.g. a Hugging Face repo). */
  baseModel: string;
  /** The artifact's file: what llama.cpp loads. */
  path: string;
  /** Where the file was registered from (it may be gone since; the artifact is what counts). */
  sourcePath: string;
  bytes: number;
  /** `general.architecture` of the adapter (llama, qwen2, …). */
  architecture: string;
  /** `adapter.lora.alpha` from the file, when present. */
  alpha: number | undefined;
  /** Default strength when serving (1 = as trained). */
  scale: number;
  description: string | undefined;
  createdAt: number;
}

/** A verified adapter, ready for `createLocalLlm(base, { lora: [adapter.lora] })`. */
export interface ResolvedAdapter extends AdapterRecord {
  lora: { path: string; scale: number };
}

export interface RegisterAdapterInput {
  name: string;
  /** The adapter GGUF file (relative paths resolve against `cwd`). */
  path: string;
  /** The base model: `llama:<path.gguf>` (checked tensor by tensor against the adapter) or another model id. */
  baseModel: string;
  scale?: number;
  description?: string;
  /** Folder relative paths resolve against (default the working directory). */
  cwd?: string;
}

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/i;
const NAMESPACE = "llm-adapters";
/** Tokenizer tables are the bulk of a model's header and irrelevant to adapter checks. */
const SKIP_KEYS = [
  "tokenizer.ggml.tokens",
  "tokenizer.ggml.merges",
  "tokenizer.ggml.token_type",
  "tokenizer.ggml.scores",
];

async function table(store: Store) {
  await store.migrate(NAMESPACE, migrations);
  return store.db.withTables<AdapterTables>();
}

function toRecord(r: AdapterTables["llm_adapters"], path: string): AdapterRecord {
  return {
    name: r.name,
    version: r.version,
    digest: r.digest,
    baseModel: r.base_model,
    path,
    sourcePath: r.source_path,
    bytes: Number(r.bytes),
    architecture: r.architecture,
    alpha: r.alpha ?? undefined,
    scale: r.scale,
    description: r.description ?? undefined,
    createdAt: Number(r.created_at),
  };
}

/** sha256 of a file, streamed so large adapters do not sit in memory. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

interface GgufHeader {
  metadata: Record<string, any>;
  tensors: Map<string, number[]>;
}

async function readHeader(path: string): Promise<GgufHeader> {
  const { readGgufFileInfo } = await loadNodeLlamaCpp();
  const info = await readGgufFileInfo(path, {
    sourceType: "filesystem",
    readTensorInfo: true,
    logWarnings: false,
    ignoreKeys: SKIP_KEYS,
  });
  return {
    metadata: info.metadata as unknown as Record<string, any>,
    tensors: new Map((info.fullTensorInfo ?? []).map((t) => [t.name, t.dimensions.map(Number)])),
  };
}

/**
 * Checks what llama.cpp checks when it applies an adapter: every `W.lora_a` is [in, rank] and
 * `W.lora_b` is [rank, out] for a base tensor `W` of [in, out]. Done at registration so a
 * mismatched adapter is refused with the tensor named, not at serving time.
 */
function checkAgainstBase(adapterPath: string, adapter: GgufHeader, basePath: string, base: GgufHeader): void {
  const baseArch = base.metadata.general?.architecture;
  const arch = adapter.metadata.general?.architecture;
  if (baseArch !== arch) {
    throw new ValidationError(
      `the adapter ${adapterPath} is for architecture "${arch}", the base model ${basePath} is "${baseArch}"`,
      { hint: "Register the adapter with the base model it was trained on." },
    );
  }
  for (const [name, dims] of adapter.tensors) {
    const m = /^(.*)\.lora_([ab])$/.exec(name);
    if (!m) continue;
    const target = base.tensors.get(m[1]!);
    const ok =
      target !== undefined &&
      target.length === 2 &&
      dims.length === 2 &&
      (m[2] === "a" ? dims[0] === target[0] : dims[1] === target[1]);
    if (!ok) {
      throw new ValidationError(
        `the adapter ${adapterPath} does not fit the base model ${basePath}: ${name} is [${dims.join(", ")}] but ${m[1]} is ${
          target ? `[${target.join(", ")}]` : "missing"
        }`,
        { hint: "Register the adapter with the base model it was trained on (same architecture and sizes)." },
      );
    }
  }
}

function localBasePath(baseModel: string, cwd: string): string | undefined {
  if (baseModel.startsWith("llama:")) return resolve(cwd, baseModel.slice("llama:".length));
  return undefined;
}

/**
 * Registers a LoRA adapter (GGUF) under a name: the file is copied into the artifact store
 * (content-addressed, verified on every resolve) and a row records its name, base model and
 * version. The version is the file's sha256, so registering the same bytes again returns the
 * existing version (`created: false`). The file must be a GGUF LoRA adapter; when the base
 * model is a local GGUF (`llama:<path>`), every adapter tensor is checked against it.
 *
 * @throws ValidationError for a bad name, a file that is not a LoRA adapter, or a base model it does not fit;
 *   NotFoundError for a missing file; ConflictError when the same bytes are registered for another base model;
 *   IntegrityError when the file changes while it is being registered.
 */
export async function registerAdapter(
  stores: AdapterStores,
  input: RegisterAdapterInput,
): Promise<AdapterRecord & { created: boolean }> {
  if (!NAME_RE.test(input.name ?? "")) {
    throw new ValidationError(`invalid adapter name "${input.name}"`, {
      hint: "Use 1-64 letters, digits, . _ or -, starting with a letter or digit (e.g. support-bot).",
    });
  }
  if (typeof input.baseModel !== "string" || input.baseModel.trim() === "") {
    throw new ValidationError(`adapter ${input.name}: baseModel is required`, {
      hint: "Name the model the adapter was trained on: llama:./models/base.gguf or a model id such as Qwen/Qwen2.5-0.5B-Instruct.",
    });
  }
  const scale = input.scale ?? 1;
  if (!Number.isFinite(scale) || scale < 0) {
    throw new ValidationError(`adapter ${input.name}: scale must be a number >= 0, got ${input.scale}`, {
      hint: "1 applies the adapter as trained; 0 turns it off.",
    });
  }
  const cwd = input.cwd ?? process.cwd();
  const path = resolve(cwd, input.path);
  const { bytes } = await assertGgufFile(path);
  // Hash before checking: the artifact is stored only if it is still these bytes afterwards.
  const version = await sha256File(path);
  const header = await readHeader(path);
  const general = header.metadata.general ?? {};
  const adapterType = header.metadata.adapter?.type;
  if (general.type !== "adapter" || adapterType !== "lora") {
    throw new ValidationError(
      `${path} is not a LoRA adapter (general.type is ${JSON.stringify(general.type)}, adapter.type is ${JSON.stringify(adapterType)})`,
      {
        hint: "Convert the adapter with llama.cpp's convert_lora_to_gguf.py; a full model is served with llama:<path> instead.",
      },
    );
  }
  const basePath = localBasePath(input.baseModel.trim(), cwd);
  if (basePath) {
    await assertGgufFile(basePath);
    checkAgainstBase(path, header, basePath, await readHeader(basePath));
  }
  const baseModel = basePath ? `llama:${basePath}` : input.baseModel.trim();
  const { store, artifacts } = stores;
  const existing = await (await table(store))
    .selectFrom("llm_adapters")
    .selectAll()
    .where("name", "=", input.name)
    .where("version", "=", version)
    .executeTakeFirst();
  if (existing && existing.base_model !== baseModel) {
    throw new ConflictError(
      `adapter ${input.name}@${version.slice(0, 12)} is already registered for base model ${existing.base_model}`,
      { hint: "The same file cannot belong to two base models; register it under another name if that is intended." },
    );
  }
  const architecture = String(general.architecture ?? "unknown");
  // Stored (or found) before the row is written: a crash in between leaves a harmless unreferenced blob.
  const artifact = await artifacts.putFile(path, {
    name: `${input.name}.gguf`,
    mediaType: "application/octet-stream",
    labels: { kind: "lora-adapter", architecture },
    expectedDigest: `sha256:${version}`,
  });
  if (existing) return { ...toRecord(existing, artifact.path), created: false };
  const alpha = typeof header.metadata.adapter?.lora?.alpha === "number" ? header.metadata.adapter.lora.alpha : null;
  const row: AdapterTables["llm_adapters"] = {
    name: input.name,
    version,
    digest: artifact.digest,
    base_model: baseModel,
    source_path: path,
    bytes,
    architecture,
    alpha,
    scale,
    description: input.description ?? null,
    created_at: Date.now(),
  };
  const created = await store.tx(async (tx) => {
    const res = await tx
      .withTables<AdapterTables>()
      .insertInto("llm_adapters")
      .values(row)
      .onConflict((oc) => oc.columns(["name", "version"]).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  });
  return { ...toRecord(row, artifact.path), created };
}

/** Versions of one adapter (or of all), newest first. */
export async function listAdapters(stores: AdapterStores, name?: string): Promise<AdapterRecord[]> {
  const db = await table(stores.store);
  let q = db.selectFrom("llm_adapters").selectAll();
  if (name !== undefined) q = q.where("name", "=", name);
  const rows = await q.orderBy("created_at", "desc").orderBy("name").orderBy("version").execute();
  return Promise.all(rows.map(async (r) => toRecord(r, await artifactPath(stores.artifacts, r))));
}

async function artifactPath(artifacts: ArtifactStore, row: AdapterTables["llm_adapters"]): Promise<string> {
  try {
    return (await artifacts.stat(row.digest)).path;
  } catch (err) {
    if ((err as { code?: unknown }).code === "NOT_FOUND") {
      throw new NotFoundError(
        `adapter ${row.name}@${row.version.slice(0, 12)}: its artifact ${row.digest} is not in this home`,
        {
          hint: "The store and the artifact folder (QUINTET_HOME) must belong together; register the adapter again.",
        },
      );
    }
    throw err;
  }
}

/**
 * Finds an adapter by `name` (latest version) or `name@<version>` (a sha256 prefix of at
 * least 6 characters), verifies its artifact against the hash, and returns it with the
 * `lora` entry for `createLocalLlm`/`createLlm(..., { local })`.
 *
 * @example
 * const adapter = await resolveAdapter({ store, artifacts }, "support-bot");
 * const llm = await createLocalLlm("./models/base.gguf", { lora: [adapter.lora] });
 * @throws NotFoundError for an unknown name/version or a missing file; IntegrityError (ARTIFACT_CORRUPT) when the file changed.
 */
export async function resolveAdapter(
  stores: AdapterStores,
  ref: string,
  options: { scale?: number; verify?: boolean } = {},
): Promise<ResolvedAdapter> {
  const at = ref.lastIndexOf("@");
  const name = at > 0 ? ref.slice(0, at) : ref;
  const version = at > 0 ? ref.slice(at + 1) : undefined;
  if (!NAME_RE.test(name) || (version !== undefined && !/^[0-9a-f]{6,64}$/.test(version))) {
    throw new ValidationError(`invalid adapter reference "${ref}"`, {
      hint: "Use <name> for the latest version or <name>@<version> with at least 6 hex characters of the version.",
    });
  }
  const scale = options.scale;
  if (scale !== undefined && (!Number.isFinite(scale) || scale < 0)) {
    throw new ValidationError(`scale must be a number >= 0, got ${scale}`, { hint: "1 applies it as trained." });
  }
  const versions = await listAdapters(stores, name);
  if (versions.length === 0) {
    throw new NotFoundError(`no adapter named "${name}"`, {
      hint: "Register it first with registerAdapter({ store, artifacts }, { name, path, baseModel }).",
    });
  }
  const matches = version === undefined ? versions.slice(0, 1) : versions.filter((v) => v.version.startsWith(version));
  if (matches.length === 0) {
    throw new NotFoundError(`adapter "${name}" has no version ${version}`, {
      hint: `Known versions: ${versions.map((v) => v.version.slice(0, 12)).join(", ")}.`,
    });
  }
  if (matches.length > 1) {
    throw new ValidationError(`version prefix "${version}" of adapter "${name}" is ambiguous`, {
      hint: "Give more characters of the version hash.",
    });
  }
  const record = matches[0]!;
  if (options.verify !== false) {
    const check = await stores.artifacts.verify(record.digest);
    const label = `adapter ${name}@${record.version.slice(0, 12)}`;
    if (check.status === "missing") {
      throw new NotFoundError(`${label}: its file ${record.path} is gone from the artifact store`, {
        hint: `Register it again from ${record.sourcePath} (the same bytes keep the same version).`,
      });
    }
    if (check.status === "corrupt") {
      throw new IntegrityError(`${label}: ${record.path} no longer matches its registered hash`, {
        hint: `The stored file was damaged; register it again from ${record.sourcePath} or another copy.`,
      });
    }
  }
  return { ...record, lora: { path: record.path, scale: scale ?? record.scale } };
}
