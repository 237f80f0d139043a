import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { IntegrityError, NotFoundError, ValidationError } from "../errors/errors.js";
import type { Store } from "../store/store.js";
import { ArtifactStore } from "./artifact-store.js";

const sha = (data: Uint8Array | string) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** Deterministic pseudo-random bytes (xorshift32), `total` bytes in `chunk`-sized pieces. */
function* generated(total: number, chunk: number, seed = 0x9e3779b9): Generator<Buffer> {
  let x = seed >>> 0;
  for (let done = 0; done < total; done += chunk) {
    const n = Math.min(chunk, total - done);
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      b[i] = x & 0xff;
    }
    yield b;
  }
}

/** Every file under a folder, relative to it. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(relative(dir, join(d, e.name)));
    }
  };
  walk(dir);
  return out.sort();
}

async function drain(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The behaviour of the artifact store on every metadata backend. `open` must return a
 * store of its own each call (a fresh SQLite file, or a fresh PostgreSQL schema), since
 * verifyAll checks every row it finds against this test's blob folder.
 */
export function artifactConformance(label: string, open: () => Promise<Store>): void {
  describe(`artifact store conformance: ${label}`, () => {
    const cleanup: Array<() => Promise<void> | void> = [];
    afterEach(async () => {
      for (const f of cleanup.splice(0).reverse()) await f();
    });
    const setup = async () => {
      const home = mkdtempSync(join(tmpdir(), "quintet-artifacts-"));
      cleanup.push(() => rmSync(home, { recursive: true, force: true }));
      const store = await open();
      cleanup.push(() => store.close());
      const artifacts = await ArtifactStore.open({ home, store });
      return { home, store, artifacts };
    };

    it("round-trips bytes and strings under <home>/artifacts/sha256/ab/cdef…", async () => {
      const { home, artifacts } = await setup();
      const bytes = Buffer.from([0, 1, 2, 250, 251, 252]);
      const put = await artifacts.put(bytes, {
        name: "weights.bin",
        mediaType: "application/octet-stream",
        labels: { run: "r1" },
      });
      expect(put).toMatchObject({
        digest: sha(bytes),
        size: 6,
        name: "weights.bin",
        mediaType: "application/octet-stream",
        labels: { run: "r1" },
        deduplicated: false,
      });
      const hex = put.digest.slice("sha256:".length);
      expect(put.path).toBe(join(home, "artifacts", "sha256", hex.slice(0, 2), hex.slice(2)));
      expect(readFileSync(put.path)).toEqual(bytes);
      expect(await artifacts.get(put.digest)).toEqual(bytes);
      expect(await artifacts.has(put.digest)).toBe(true);
      const { deduplicated: _, ...info } = put;
      expect(await artifacts.stat(put.digest)).toEqual(info);
      // Bare and upper-case hex name the same artifact.
      expect((await artifacts.stat(hex.toUpperCase())).digest).toBe(put.digest);

      const text = await artifacts.put("héllo wörld", { name: "greeting.txt" });
      expect(text).toMatchObject({ digest: sha("héllo wörld"), size: 13, mediaType: "text/plain; charset=utf-8" });
      expect((await artifacts.get(text.digest)).toString("utf8")).toBe("héllo wörld");
      expect(await artifacts.stream(text.digest).then(drain)).toEqual(Buffer.from("héllo wörld"));
      const empty = await artifacts.put(new Uint8Array(0));
      expect(empty).toMatchObject({ size: 0, name: null, labels: {} });
      expect((await artifacts.get(empty.digest)).length).toBe(0);
    });

    it("stores the same content once and merges its metadata, also under concurrent puts", async () => {
      const { home, artifacts } = await setup();
      const content = `model-${randomBytes(8).toString("hex")}`;
      const first = await artifacts.put(content, { name: "model.json", labels: { stage: "dev", run: "1" } });
      await sleep(2);
      const second = await artifacts.put(content, { name: "copy.json", labels: { stage: "prod" } });
      expect(second.digest).toBe(first.digest);
      expect(second).toMatchObject({
        deduplicated: true,
        name: "model.json",
        labels: { run: "1", stage: "prod" },
        createdAt: first.createdAt,
      });
      expect(await artifacts.list({ label: { stage: "prod" } })).toHaveLength(1);
      expect(await artifacts.list({ label: { stage: "dev" } })).toHaveLength(0);

      const other = randomBytes(300_000);
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => artifacts.put(other, { labels: { [`put${i}`]: "yes" } })),
      );
      expect(new Set(results.map((r) => r.digest))).toEqual(new Set([sha(other)]));
      expect(results.filter((r) => !r.deduplicated)).toHaveLength(1);
      expect(Object.keys((await artifacts.stat(sha(other))).labels).sort()).toEqual([
        "put0",
        "put1",
        "put2",
        "put3",
        "put4",
        "put5",
      ]);
      expect(await artifacts.get(sha(other))).toEqual(other);
      expect(filesUnder(join(home, "artifacts", "sha256"))).toHaveLength(2);
      expect(filesUnder(join(home, "artifacts", "tmp"))).toEqual([]);
      const report = await artifacts.verifyAll();
      expect(report).toMatchObject({ checked: 2, ok: 2, corrupt: [], missing: [], orphans: [] });
    });

    it("streams several megabytes in and out, hashing on the way", async () => {
      const { artifacts } = await setup();
      const total = 6 * 1024 * 1024 + 123;
      const expected = createHash("sha256");
      for (const b of generated(total, 64 * 1024)) expected.update(b);
      const digest = `sha256:${expected.digest("hex")}`;

      async function* source() {
        for (const b of generated(total, 64 * 1024)) {
          await Promise.resolve();
          yield b;
        }
      }
      const put = await artifacts.putStream(source(), { name: "big.bin", expectedDigest: digest });
      expect(put).toMatchObject({ digest, size: total });
      const out = createHash("sha256");
      let size = 0;
      for await (const chunk of await artifacts.stream(digest)) {
        out.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      expect([`sha256:${out.digest("hex")}`, size]).toEqual([digest, total]);
      expect((await artifacts.get(digest)).length).toBe(total);
      expect(await artifacts.verify(digest)).toMatchObject({ status: "ok", actual: { digest, size: total } });
    });

    it("stores files by streaming them, named after the file", async () => {
      const { home, artifacts } = await setup();
      const file = join(home, "report.html");
      writeFileSync(file, "<html>report</html>");
      const put = await artifacts.putFile(file, { mediaType: "text/html", labels: { kind: "report" } });
      expect(put).toMatchObject({ name: "report.html", mediaType: "text/html", digest: sha("<html>report</html>") });
      expect((await artifacts.putFile(file, { name: "renamed.html" })).name).toBe("report.html");
      await expect(artifacts.putFile(join(home, "absent.txt"))).rejects.toBeInstanceOf(NotFoundError);
      await expect(artifacts.putFile(home)).rejects.toBeInstanceOf(ValidationError);
    });

    it("detects a flipped byte on every read path, and a re-put repairs it", async () => {
      const { artifacts } = await setup();
      const content = Buffer.concat([...generated(200_000, 50_000, 7)]);
      const { digest, path } = await artifacts.put(content, { name: "model.bin" });
      const damaged = readFileSync(path);
      damaged[123_456] = (damaged[123_456] ?? 0) ^ 0x01;
      writeFileSync(path, damaged);

      const err = await artifacts.get(digest).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IntegrityError);
      expect((err as IntegrityError).code).toBe("ARTIFACT_CORRUPT");
      expect((err as IntegrityError).message).toContain(path);
      expect((err as IntegrityError).hint).toMatch(/re-put/i);
      expect((err as IntegrityError).hint).toMatch(/verify/);
      await expect(artifacts.stream(digest).then(drain)).rejects.toBeInstanceOf(IntegrityError);
      expect(await artifacts.verify(digest)).toMatchObject({
        status: "corrupt",
        actual: { digest: sha(damaged), size: content.length },
      });
      const report = await artifacts.verifyAll();
      expect(report.corrupt.map((r) => r.digest)).toEqual([digest]);
      expect(report).toMatchObject({ checked: 1, ok: 0, missing: [] });

      await artifacts.put(content);
      expect(await artifacts.get(digest)).toEqual(content);
      expect((await artifacts.verifyAll()).corrupt).toEqual([]);
    });

    it("reports a missing blob as an integrity problem, not as an unknown artifact", async () => {
      const { artifacts } = await setup();
      const { digest, path } = await artifacts.put("soon gone");
      rmSync(path);
      const err = await artifacts.get(digest).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IntegrityError);
      expect((err as Error).message).toContain("missing");
      expect((err as Error).message).toContain(path);
      await expect(artifacts.stream(digest)).rejects.toBeInstanceOf(IntegrityError);
      expect(await artifacts.has(digest)).toBe(false);
      expect(await artifacts.verify(digest)).toMatchObject({ status: "missing", path });
      expect((await artifacts.verifyAll()).missing.map((r) => r.digest)).toEqual([digest]);
    });

    it("leaves no blob, temp file or row when the source fails midway or the digest is wrong", async () => {
      const { home, artifacts } = await setup();
      const failure = new Error("upstream connection reset");
      async function* failing() {
        let sent = 0;
        for (const b of generated(8 * 1024 * 1024, 256 * 1024, 3)) {
          yield b;
          sent += b.length;
          if (sent >= 3 * 1024 * 1024) throw failure;
        }
      }
      await expect(artifacts.putStream(failing(), { name: "partial.bin" })).rejects.toBe(failure);
      const mismatch = await artifacts
        .put("actual content", { name: "wrong.txt", expectedDigest: sha("other content") })
        .catch((e: unknown) => e);
      expect(mismatch).toBeInstanceOf(IntegrityError);
      expect(filesUnder(join(home, "artifacts"))).toEqual([]);
      expect(await artifacts.list({ name: "partial.bin" })).toEqual([]);
      expect(await artifacts.list({ name: "wrong.txt" })).toEqual([]);
      expect(await artifacts.has(sha("actual content"))).toBe(false);
    });

    it("lists by name, media type and labels, newest first", async () => {
      const { artifacts } = await setup();
      const a = await artifacts.put("a", {
        name: "model",
        mediaType: "application/json",
        labels: { env: "dev", team: "ml" },
      });
      await sleep(3);
      const b = await artifacts.put("b", {
        name: "model",
        mediaType: "application/json",
        labels: { env: "prod", team: "ml" },
      });
      await sleep(3);
      const c = await artifacts.put("c", { name: "data", labels: { env: "prod" } });
      const digests = (list: { digest: string }[]) => list.map((x) => x.digest);
      expect(digests(await artifacts.list())).toEqual([c.digest, b.digest, a.digest]);
      expect(digests(await artifacts.list({ name: "model" }))).toEqual([b.digest, a.digest]);
      expect(digests(await artifacts.list({ label: { env: "prod" } }))).toEqual([c.digest, b.digest]);
      expect(digests(await artifacts.list({ label: { env: "prod", team: "ml" } }))).toEqual([b.digest]);
      expect(digests(await artifacts.list({ mediaType: "application/json", limit: 1 }))).toEqual([b.digest]);
      expect(await artifacts.list({ name: "nothing" })).toEqual([]);
      expect((await artifacts.list({ name: "data" }))[0]).toMatchObject({ labels: { env: "prod" }, size: 1 });
    });

    it("reports blobs without metadata as orphans", async () => {
      const { artifacts } = await setup();
      const { digest, path } = await artifacts.put("kept");
      // What a crash between the rename and the metadata insert leaves behind.
      const orphan = "orphan content";
      const hex = sha(orphan).slice("sha256:".length);
      const orphanPath = join(path, "..", "..", hex.slice(0, 2), hex.slice(2));
      mkdirSync(join(orphanPath, ".."), { recursive: true });
      writeFileSync(orphanPath, orphan);
      const report = await artifacts.verifyAll();
      expect(report).toMatchObject({ checked: 1, ok: 1, orphans: [sha(orphan)] });
      expect(await artifacts.has(sha(orphan))).toBe(false);
      // Putting it properly adopts the blob.
      await artifacts.put(orphan);
      expect((await artifacts.verifyAll()).orphans).toEqual([]);
      expect(statSync(path).isFile()).toBe(true);
      expect(digest).toBe(sha("kept"));
    });

    it("rejects bad input with validation errors that name the problem", async () => {
      const { store, artifacts } = await setup();
      await expect(artifacts.get("abc")).rejects.toBeInstanceOf(ValidationError);
      await expect(artifacts.get("md5:0123")).rejects.toThrow(/not an artifact digest/);
      await expect(artifacts.stat(sha("never stored"))).rejects.toBeInstanceOf(NotFoundError);
      await expect(artifacts.get(sha("never stored"))).rejects.toBeInstanceOf(NotFoundError);
      await expect(artifacts.has(sha("never stored"))).resolves.toBe(false);
      await expect(artifacts.put(42 as never)).rejects.toBeInstanceOf(ValidationError);
      await expect(artifacts.putStream("not a stream" as never)).rejects.toBeInstanceOf(ValidationError);
      await expect(artifacts.putStream(Readable.from([{ row: 1 }]))).rejects.toThrow(/bytes or strings/);
      await expect(artifacts.put("x", { mediaType: "not a media type" })).rejects.toThrow(/mediaType/);
      await expect(artifacts.put("x", { labels: { "bad key!": "v" } })).rejects.toThrow(/labels/);
      await expect(artifacts.put("x", { unknown: 1 } as never)).rejects.toBeInstanceOf(ValidationError);
      await expect(artifacts.list({ limit: -1 })).rejects.toBeInstanceOf(ValidationError);
      await expect(ArtifactStore.open({ home: "", store })).rejects.toBeInstanceOf(ValidationError);
      await expect(ArtifactStore.open({ home: "/tmp", store: {} as never })).rejects.toThrow(/store/);
      // Nothing was stored by any of these.
      expect(await artifacts.list()).toEqual([]);
    });
  });
}
