import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ValidationError } from "../errors/errors.js";

/** What streaming a source into a temp file produced. */
export interface WrittenTemp {
  tmpPath: string;
  hex: string;
  size: number;
}

async function writeAll(fh: FileHandle, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}

/**
 * Streams `source` into a new file in `tmpDir`, hashing as it goes, and fsyncs it. If the
 * source fails, the temp file is removed and the error rethrown: nothing is left behind.
 */
export async function writeTemp(source: AsyncIterable<Uint8Array | string>, tmpDir: string): Promise<WrittenTemp> {
  const tmpPath = join(tmpDir, `${Date.now()}-${process.pid}-${randomBytes(6).toString("hex")}.part`);
  const fh = await open(tmpPath, "wx", 0o644);
  const hash = createHash("sha256");
  let size = 0;
  try {
    for await (const chunk of source) {
      const buf = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
      if (!(buf instanceof Uint8Array)) {
        throw new ValidationError(`artifact streams must yield bytes or strings, got ${typeof chunk}`, {
          hint: "Use a byte stream (not object mode), or serialise the objects first.",
        });
      }
      hash.update(buf);
      size += buf.length;
      await writeAll(fh, buf);
    }
    await fh.sync();
    await fh.close();
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmpPath, { force: true });
    throw err;
  }
  return { tmpPath, hex: hash.digest("hex"), size };
}

/** Renames a complete temp file into place and makes the new directory entry durable. */
export async function publish(tmpPath: string, finalPath: string): Promise<void> {
  const dir = dirname(finalPath);
  try {
    await mkdir(dir, { recursive: true });
    // Atomic on one filesystem: readers see the old blob or the whole new one, never a part.
    // Replacing an existing blob is fine (same content), and repairs a damaged one.
    await rename(tmpPath, finalPath);
  } catch (err) {
    await rm(tmpPath, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself has happened.
  } finally {
    await fh?.close().catch(() => {});
  }
}

/** Hashes a file on disk without loading it whole. Undefined when the file is absent. */
export async function hashFile(path: string): Promise<{ hex: string; size: number } | undefined> {
  const hash = createHash("sha256");
  let size = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  return { hex: hash.digest("hex"), size };
}

/** Removes temp files older than `maxAgeMs` that a crashed writer left behind. */
export async function removeStaleTemps(tmpDir: string, maxAgeMs: number): Promise<number> {
  let removed = 0;
  const now = Date.now();
  for (const name of await readdir(tmpDir).catch(() => [] as string[])) {
    if (!name.endsWith(".part")) continue;
    const path = join(tmpDir, name);
    const s = await stat(path).catch(() => undefined);
    if (s && now - s.mtimeMs > maxAgeMs) {
      await rm(path, { force: true });
      removed++;
    }
  }
  return removed;
}

/** Every blob on disk, as hex digests (from the fan-out folder names). */
export async function listBlobHexes(root: string): Promise<string[]> {
  const base = join(root, "sha256");
  const out: string[] = [];
  for (const prefix of await readdir(base).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
    for (const rest of await readdir(join(base, prefix)).catch(() => [] as string[])) {
      if (/^[0-9a-f]{62}$/.test(rest)) out.push(prefix + rest);
    }
  }
  return out.sort();
}
