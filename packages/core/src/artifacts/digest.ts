import { join } from "node:path";
import { ValidationError } from "../errors/errors.js";

/** A content digest as Quintet writes it: `sha256:` and 64 lowercase hex characters. */
export type Digest = `sha256:${string}`;

const FORM = /^(?:sha256:)?([0-9a-fA-F]{64})$/;

/**
 * Checks a digest and returns its canonical form and hex part. Accepts `sha256:<hex>` and
 * bare hex, in either case.
 */
export function parseDigest(input: unknown): { digest: Digest; hex: string } {
  const m = typeof input === "string" ? FORM.exec(input.trim()) : null;
  if (!m) {
    const shown =
      typeof input === "string" ? `"${input.length > 80 ? `${input.slice(0, 80)}…` : input}"` : typeof input;
    throw new ValidationError(`${shown} is not an artifact digest`, {
      hint: "Pass the digest put() returned: sha256: followed by 64 hex characters.",
    });
  }
  const hex = m[1]!.toLowerCase();
  return { digest: `sha256:${hex}`, hex };
}

/** Where a blob lives: `<root>/sha256/ab/cdef…` (two-character fan-out keeps folders small). */
export function blobPath(root: string, hex: string): string {
  return join(root, "sha256", hex.slice(0, 2), hex.slice(2));
}
