import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat as fsStat, mkdir, readFile, rm } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { Readable } from "node:stream";
import type { Kysely } from "kysely";
import { z } from "zod";
import { ConfigError, IntegrityError, NotFoundError, ValidationError } from "../errors/errors.js";
import type { Store } from "../store/store.js";
import type { CoreTables } from "../store/types.js";
import { hashFile, listBlobHexes, publish, removeStaleTemps, writeTemp } from "./blob-files.js";
import { blobPath, type Digest, parseDigest } from "./digest.js";
import { type ArtifactRow, type ArtifactTables, migrateArtifacts } from "./migrations.js";

/** A stored artifact: its content digest and metadata. */
export interface ArtifactInfo {
  digest: Digest;
  size: number;
  mediaType: string;
  name: string | null;
  labels: Record<string, string>;
  /** When the content was first stored (epoch ms). */
  createdAt: number;
  /** The blob file, for tools that read it directly (verify first, or use get/stream). */
  path: string;
}

/** What put/putFile/putStream return. */
export type PutResult = ArtifactInfo & {
  /** True when the content was already stored (its metadata was merged). */
  deduplicated: boolean;
};

export interface VerifyResult {
  digest: Digest;
  status: "ok" | "corrupt" | "missing";
  path: string;
  /** Size recorded in the metadata. */
  size: number;
  /** What is on disk, when the file exists. */
  actual?: { digest: Digest; size: number };
}

export interface VerifyReport {
  checked: number;
  ok: number;
  corrupt: VerifyResult[];
  missing: VerifyResult[];
  /** Blobs on disk without a metadata row (a crash between rename and insert); harmless. */
  orphans: Digest[];
}

const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,127}$/;
const MEDIA_TYPE = /^[a-z0-9][\w.+-]*\/[\w.+-]+(?:\s*;.*)?$/i;

const metaSchema = z
  .object({
    name: z.string().min(1).max(1024).optional(),
    mediaType: z.string().max(255).regex(MEDIA_TYPE, "expected a media type such as application/json").optional(),
    labels: z
      .record(z.string().regex(LABEL_KEY, "label keys are letters, digits and _ . - /"), z.string().max(4096))
      .optional(),
    /** Rejects the content (and stores nothing) unless it hashes to this digest. */
    expectedDigest: z.string().optional(),
  })
  .strict();

/** Metadata given with new content. */
export type ArtifactMeta = z.input<typeof metaSchema>;

const listSchema = z
  .object({
    name: z.string().min(1).optional(),
    mediaType: z.string().min(1).optional(),
    /** Every given label must match. */
    label: z.record(z.string(), z.string()).optional(),
    limit: z.number().int().positive().max(100_000).default(1000),
  })
  .strict();

export type ArtifactListFilter = z.input<typeof listSchema>;

const openSchema = z
  .object({
    /** QUINTET_HOME: blobs go to `<home>/artifacts/sha256/`. */
    home: z.string().min(1),
    // Duck-typed: a second copy of @quintet/core (source and dist) would fail instanceof.
    store: z.custom<Store>(
      (v) => typeof (v as Store | null)?.migrate === "function" && typeof (v as Store | null)?.tx === "function",
      "expected an open Store",
    ),
  })
  .strict();

export type OpenArtifactStoreOptions = z.input<typeof openSchema>;

/** Temp files of writers that died are removed when a store opens after this long. */
const STALE_TEMP_MS = 24 * 3600 * 1000;

function invalid(what: string, error: z.ZodError, hint: string): ValidationError {
  const issue = error.issues[0];
  return new ValidationError(`invalid ${what} ${issue?.path.join(".") || "(root)"}: ${issue?.message}`, {
    hint,
    details: { issues: error.issues },
  });
}

/**
 * Content-addressed blobs under QUINTET_HOME with a metadata row each in the store.
 *
 * Writes stream into a temp file while hashing, fsync it and rename it into
 * `artifacts/sha256/ab/cdef…`, so a crash never leaves a partial blob and the same content
 * is kept once. Reads check the sha256 and fail with an IntegrityError on any mismatch.
 *
 * @example
 * const artifacts = await ArtifactStore.open({ home: config.home, store });
 * const { digest } = await artifacts.put(JSON.stringify(model), { name: "churn.json", mediaType: "application/json" });
 * const bytes = await artifacts.get(digest); // verified
 */
export class ArtifactStore {
  /** `<home>/artifacts`. */
  readonly root: string;
  private readonly store: Store;
  private readonly tmpDir: string;

  private constructor(root: string, store: Store) {
    this.root = root;
    this.store = store;
    this.tmpDir = join(root, "tmp");
  }

  /** Opens the artifact store of a Quintet home, creating its folders and tables. */
  static async open(options: OpenArtifactStoreOptions): Promise<ArtifactStore> {
    const r = openSchema.safeParse(options);
    if (!r.success) {
      throw invalid("artifact store option", r.error, "Pass { home: <QUINTET_HOME folder>, store: <an open Store> }.");
    }
    const root = resolve(r.data.home, "artifacts");
    const artifacts = new ArtifactStore(root, r.data.store);
    try {
      await mkdir(join(root, "sha256"), { recursive: true });
      await mkdir(artifacts.tmpDir, { recursive: true });
    } catch (err) {
      throw new ConfigError(`cannot create the artifact folder ${root}: ${(err as Error).message}`, {
        hint: "Point QUINTET_HOME at a writable folder.",
        cause: err,
      });
    }
    await migrateArtifacts(r.data.store);
    await removeStaleTemps(artifacts.tmpDir, STALE_TEMP_MS);
    return artifacts;
  }

  /** Stores bytes or a UTF-8 string. */
  put(content: Uint8Array | string, meta: ArtifactMeta = {}): Promise<PutResult> {
    if (typeof content !== "string" && !(content instanceof Uint8Array)) {
      return Promise.reject(
        new ValidationError(`put() takes bytes or a string, got ${content === null ? "null" : typeof content}`, {
          hint: "Serialise the value first (JSON.stringify, Buffer.from), or use putStream for streams.",
        }),
      );
    }
    const mediaType = typeof content === "string" ? "text/plain; charset=utf-8" : undefined;
    return this.ingest([content], meta, mediaType);
  }

  /** Stores a file, streaming it. The name defaults to the file's base name. */
  async putFile(path: string, meta: ArtifactMeta = {}): Promise<PutResult> {
    const s = await fsStat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") {
        throw new NotFoundError(`file ${path} does not exist`, { hint: "Check the path (relative to the cwd)." });
      }
      throw err;
    });
    if (!s.isFile()) {
      throw new ValidationError(`${path} is not a regular file`, { hint: "Pass a file, not a folder or device." });
    }
    return this.ingest(createReadStream(path, { highWaterMark: 1 << 20 }), { name: basename(path), ...meta });
  }

  /**
   * Stores what a stream yields (a Node Readable, a web ReadableStream or any async
   * iterable of bytes or strings). If the stream fails, nothing is stored.
   */
  putStream(source: AsyncIterable<Uint8Array | string>, meta: ArtifactMeta = {}): Promise<PutResult> {
    if (
      source === null ||
      typeof (source as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== "function"
    ) {
      return Promise.reject(
        new ValidationError("putStream() takes a readable stream or an async iterable of bytes", {
          hint: "Pass fs.createReadStream(path), a fetch response body, or use put() for bytes in memory.",
        }),
      );
    }
    return this.ingest(source, meta);
  }

  private async ingest(
    source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
    meta: ArtifactMeta,
    defaultMediaType?: string,
  ): Promise<PutResult> {
    const m = metaSchema.safeParse(meta);
    if (!m.success) {
      throw invalid(
        "artifact metadata",
        m.error,
        "Give name (text), mediaType (type/subtype), labels ({ key: value }) and expectedDigest (sha256:…).",
      );
    }
    const expected = m.data.expectedDigest === undefined ? undefined : parseDigest(m.data.expectedDigest);
    const iterable: AsyncIterable<Uint8Array | string> =
      Symbol.asyncIterator in source
        ? source
        : (async function* () {
            yield* source;
          })();
    const written = await writeTemp(iterable, this.tmpDir);
    const { digest, hex } = parseDigest(written.hex);
    if (expected && expected.hex !== hex) {
      await rm(written.tmpPath, { force: true });
      throw new IntegrityError(`the content hashes to ${digest}, not the expected ${expected.digest}`, {
        hint: "The source changed or was cut short; fetch it again. Nothing was stored.",
        details: { expected: expected.digest, actual: digest, size: written.size },
      });
    }
    const path = blobPath(this.root, hex);
    await publish(written.tmpPath, path);
    return this.record(digest, path, written.size, {
      name: m.data.name ?? null,
      mediaType: m.data.mediaType ?? defaultMediaType ?? "application/octet-stream",
      labels: m.data.labels ?? {},
    });
  }

  /**
   * Adds the metadata row, or merges into the existing one: the first name and media type
   * stay (unset ones are filled), labels are merged with the new values winning.
   */
  private async record(
    digest: Digest,
    path: string,
    size: number,
    meta: { name: string | null; mediaType: string; labels: Record<string, string> },
  ): Promise<PutResult> {
    return this.store.tx(async (tx) => {
      const db = tx.withTables<ArtifactTables>();
      const inserted = await db
        .insertInto("artifacts")
        .values({
          digest,
          size,
          media_type: meta.mediaType,
          name: meta.name,
          created_at: Date.now(),
          labels: JSON.stringify(sortKeys(meta.labels)),
        })
        // Concurrent puts of the same content: the second waits, then merges below.
        .onConflict((oc) => oc.column("digest").doNothing())
        .executeTakeFirst();
      const fresh = Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
      let current = db.selectFrom("artifacts").selectAll().where("digest", "=", digest);
      // Concurrent merges must not overwrite each other's labels: lock the row. (SQLite's
      // BEGIN IMMEDIATE already serialises writers and has no FOR UPDATE.)
      if (this.store.dialect === "postgres") current = current.forUpdate();
      let row = await current.executeTakeFirstOrThrow();
      if (!fresh) {
        const labels = sortKeys({ ...(JSON.parse(row.labels) as Record<string, string>), ...meta.labels });
        const name = row.name ?? meta.name;
        const labelsText = JSON.stringify(labels);
        if (labelsText !== row.labels || name !== row.name) {
          await db.updateTable("artifacts").set({ labels: labelsText, name }).where("digest", "=", digest).execute();
          row = { ...row, labels: labelsText, name };
        }
      }
      for (const [key, value] of Object.entries(meta.labels)) {
        await db
          .insertInto("artifact_labels")
          .values({ digest, key, value })
          .onConflict((oc) => oc.columns(["digest", "key"]).doUpdateSet({ value }))
          .execute();
      }
      return { ...this.toInfo(row), path, deduplicated: !fresh };
    });
  }

  private async db(): Promise<Kysely<CoreTables & ArtifactTables>> {
    await migrateArtifacts(this.store);
    return this.store.db.withTables<ArtifactTables>();
  }

  private toInfo(row: ArtifactRow): ArtifactInfo {
    const { digest, hex } = parseDigest(row.digest);
    return {
      digest,
      size: Number(row.size),
      mediaType: row.media_type,
      name: row.name,
      labels: JSON.parse(row.labels) as Record<string, string>,
      createdAt: Number(row.created_at),
      path: blobPath(this.root, hex),
    };
  }

  private async row(digest: unknown): Promise<ArtifactRow | undefined> {
    const d = parseDigest(digest).digest;
    const db = await this.db();
    return db.selectFrom("artifacts").selectAll().where("digest", "=", d).executeTakeFirst();
  }

  /** The metadata of an artifact; NotFoundError if it was never stored. */
  async stat(digest: string): Promise<ArtifactInfo> {
    const row = await this.row(digest);
    if (!row) {
      throw new NotFoundError(`no artifact ${parseDigest(digest).digest}`, {
        hint: "Use a digest that put() returned for this QUINTET_HOME; list() shows what is stored.",
      });
    }
    return this.toInfo(row);
  }

  /** True when the artifact has a metadata row and its blob file exists. */
  async has(digest: string): Promise<boolean> {
    const row = await this.row(digest);
    if (!row) return false;
    return fsStat(this.toInfo(row).path).then(
      (s) => s.isFile(),
      () => false,
    );
  }

  /** The content, read whole and checked against its digest. */
  async get(digest: string): Promise<Buffer> {
    const info = await this.stat(digest);
    let data: Buffer;
    try {
      data = await readFile(info.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw missingError(info);
      throw err;
    }
    const hex = createHash("sha256").update(data).digest("hex");
    if (`sha256:${hex}` !== info.digest || data.length !== info.size) {
      throw corruptError(info, { digest: `sha256:${hex}`, size: data.length });
    }
    return data;
  }

  /**
   * The content as a stream, hashed as it flows; the stream fails with an IntegrityError
   * at the end if the bytes do not match. Treat the data as untrusted until it ends cleanly.
   */
  async stream(digest: string): Promise<Readable> {
    const info = await this.stat(digest);
    const file = createReadStream(info.path, { highWaterMark: 1 << 20 });
    // Surface a missing file now rather than as a late stream error.
    await new Promise<void>((ok, fail) => {
      file.once("open", () => ok());
      file.once("error", (err: NodeJS.ErrnoException) => fail(err.code === "ENOENT" ? missingError(info) : err));
    });
    async function* verified(): AsyncGenerator<Buffer> {
      const hash = createHash("sha256");
      let size = 0;
      for await (const chunk of file) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      const actual = `sha256:${hash.digest("hex")}` as Digest;
      if (actual !== info.digest || size !== info.size) throw corruptError(info, { digest: actual, size });
    }
    return Readable.from(verified(), { objectMode: false });
  }

  /** Checks one artifact's blob against its digest without loading it whole. */
  async verify(digest: string): Promise<VerifyResult> {
    return this.verifyInfo(await this.stat(digest));
  }

  private async verifyInfo(info: ArtifactInfo): Promise<VerifyResult> {
    const base = { digest: info.digest, path: info.path, size: info.size };
    const h = await hashFile(info.path);
    if (!h) return { ...base, status: "missing" };
    const actual = { digest: `sha256:${h.hex}` as Digest, size: h.size };
    const ok = actual.digest === info.digest && actual.size === info.size;
    return { ...base, status: ok ? "ok" : "corrupt", actual };
  }

  /** Checks every artifact, and lists blobs on disk that have no metadata. */
  async verifyAll(): Promise<VerifyReport> {
    const db = await this.db();
    const report: VerifyReport = { checked: 0, ok: 0, corrupt: [], missing: [], orphans: [] };
    const known = new Set<string>();
    let after = "";
    for (;;) {
      const rows = await db
        .selectFrom("artifacts")
        .selectAll()
        .where("digest", ">", after)
        .orderBy("digest")
        .limit(500)
        .execute();
      if (rows.length === 0) break;
      for (const row of rows) {
        const r = await this.verifyInfo(this.toInfo(row));
        known.add(r.digest);
        report.checked++;
        if (r.status === "ok") report.ok++;
        else report[r.status].push(r);
      }
      after = rows[rows.length - 1]!.digest;
    }
    for (const hex of await listBlobHexes(this.root)) {
      if (!known.has(`sha256:${hex}`)) report.orphans.push(`sha256:${hex}`);
    }
    return report;
  }

  /** Artifacts matching the filter, newest first. */
  async list(filter: ArtifactListFilter = {}): Promise<ArtifactInfo[]> {
    const f = listSchema.safeParse(filter);
    if (!f.success) {
      throw invalid(
        "artifact filter",
        f.error,
        "Filter with name, mediaType, label ({ key: value }) and a positive limit.",
      );
    }
    const db = await this.db();
    let q = db.selectFrom("artifacts").selectAll();
    if (f.data.name !== undefined) q = q.where("name", "=", f.data.name);
    if (f.data.mediaType !== undefined) q = q.where("media_type", "=", f.data.mediaType);
    for (const [key, value] of Object.entries(f.data.label ?? {})) {
      q = q.where("digest", "in", (sub) =>
        sub.selectFrom("artifact_labels").select("digest").where("key", "=", key).where("value", "=", value),
      );
    }
    const rows = await q.orderBy("created_at", "desc").orderBy("digest").limit(f.data.limit).execute();
    return rows.map((r) => this.toInfo(r));
  }
}

function sortKeys(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const REPAIR_HINT =
  "Re-put the original content (put/putFile/putStream write the blob again), or run verifyAll() to find every damaged blob.";

function missingError(info: ArtifactInfo): IntegrityError {
  return new IntegrityError(`artifact ${info.digest} is missing its blob file ${info.path}`, {
    hint: REPAIR_HINT,
    details: { digest: info.digest, path: info.path },
  });
}

function corruptError(info: ArtifactInfo, actual: { digest: string; size: number }): IntegrityError {
  return new IntegrityError(
    `artifact ${info.digest} is corrupt: ${info.path} holds ${actual.size} bytes hashing to ${actual.digest} (expected ${info.size} bytes)`,
    { hint: REPAIR_HINT, details: { digest: info.digest, path: info.path, actual } },
  );
}
