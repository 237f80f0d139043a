import { describe, expect, it } from "vitest";
import { binningModuleBytes } from "./binning-assembly.js";
import { moduleBytes } from "./kernel-assembly.js";
import { BINNING_MODULE, KERNEL_MODULES } from "./kernel-bytes.js";
import { instantiateBinning, KernelArena, kernelsAvailable } from "./kernels.js";

describe("kernel-bytes.ts", () => {
  it("holds what the assembler produces (else run `npm run gen:kernels`)", () => {
    for (const shared of [false, true]) {
      const stored = KERNEL_MODULES[shared ? "shared" : "unshared"];
      expect(Buffer.from(moduleBytes(shared)).toString("base64"), "kernel-bytes.ts is stale: npm run gen:kernels").toBe(
        stored,
      );
    }
    expect(Buffer.from(binningModuleBytes()).toString("base64"), "kernel-bytes.ts is stale: npm run gen:kernels").toBe(
      BINNING_MODULE,
    );
  });

  it("compiles here, so training uses the wasm kernels rather than their JavaScript twins", () => {
    // A bad module would fall back to JavaScript silently (same trees, 3x slower).
    expect(kernelsAvailable(false)).toBe(true);
    expect(kernelsAvailable(true)).toBe(true);
    const arena = new KernelArena();
    arena.alloc(64);
    expect(instantiateBinning(arena.create(false)!)?.binRows).toBeTypeOf("function");
  });
});
