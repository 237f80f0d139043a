import { describe, expect, it } from "vitest";
import { predictModuleBytes } from "../predict/predict-assembly.js";
import { binningModuleBytes } from "./binning-assembly.js";
import { moduleBytes } from "./kernel-assembly.js";
import { BINNING_MODULE, KERNEL_MODULES, PREDICT_MODULE } from "./kernel-bytes.js";
import { instantiateBinning, instantiatePredict, KernelArena, kernelsAvailable } from "./kernels.js";

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
    expect(Buffer.from(predictModuleBytes()).toString("base64"), "kernel-bytes.ts is stale: npm run gen:kernels").toBe(
      PREDICT_MODULE,
    );
  });

  it("compiles here, so training uses the wasm kernels rather than their JavaScript twins", () => {
    // A bad module would fall back to JavaScript silently (same trees, 3x slower).
    expect(kernelsAvailable(false)).toBe(true);
    expect(kernelsAvailable(true)).toBe(true);
    const arena = new KernelArena();
    arena.alloc(64);
    const memory = arena.create(false)!;
    expect(instantiateBinning(memory)?.binRows).toBeTypeOf("function");
    expect(instantiatePredict(memory)?.predictBlock).toBeTypeOf("function");
  });
});
