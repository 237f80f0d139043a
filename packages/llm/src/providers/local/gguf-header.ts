import { open, stat } from "node:fs/promises";
import { NotFoundError, ValidationError } from "@quintet/core";

/**
 * Check that `path` is a readable GGUF file before handing it to native code, so a wrong
 * path or a stray file becomes a typed error instead of a loader crash.
 */
export async function assertGgufFile(path: string): Promise<{ version: number; bytes: number }> {
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) {
      throw new ValidationError(`The local model path "${path}" is not a file.`, {
        hint: "Point llama:<path> at a .gguf model file.",
      });
    }
    size = s.size;
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new NotFoundError(`The local model file "${path}" does not exist or cannot be read.`, {
      hint: "Check the path in llama:<path> (relative paths resolve from the current directory).",
      cause: err,
    });
  }
  const header = Buffer.alloc(8);
  const fh = await open(path, "r");
  let read: number;
  try {
    ({ bytesRead: read } = await fh.read(header, 0, 8, 0));
  } finally {
    await fh.close();
  }
  const magic = header.subarray(0, 4).toString("latin1");
  if (read < 8 || magic !== "GGUF") {
    throw new ValidationError(
      `"${path}" is not a GGUF model: a GGUF file starts with the 4 bytes "GGUF" and a version number, this one starts with ${JSON.stringify(header.subarray(0, Math.min(read, 4)).toString("latin1"))}.`,
      { hint: "Use a .gguf model (convert other formats with llama.cpp's convert_hf_to_gguf.py)." },
    );
  }
  const version = header.readUInt32LE(4);
  if (version < 2 || version > 3) {
    throw new ValidationError(`"${path}" is GGUF version ${version}; llama.cpp reads versions 2 and 3.`, {
      hint: "Re-convert the model with a current llama.cpp.",
    });
  }
  return { version, bytes: size };
}
