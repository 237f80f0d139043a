import { describe, expect, it } from "vitest";
import { CTRL, CTRL_SIZE, claimChunk, claimTag } from "./protocol.js";

describe("histogram worker protocol", () => {
  it("hands out each chunk of the current task once, and nothing of another task", () => {
    const ctrl = new Int32Array(new SharedArrayBuffer(CTRL_SIZE * 4));
    const tag = claimTag(7);
    Atomics.store(ctrl, CTRL.CLAIM, tag);
    expect([0, 1, 2].map(() => claimChunk(ctrl, tag, 3))).toEqual([0, 1, 2]);
    expect(claimChunk(ctrl, tag, 3)).toBe(-1);
    // A worker woken for task 7 claims nothing once task 8 is being written or running.
    Atomics.store(ctrl, CTRL.CLAIM, -1);
    expect(claimChunk(ctrl, tag, 3)).toBe(-1);
    Atomics.store(ctrl, CTRL.CLAIM, claimTag(8));
    expect(claimChunk(ctrl, tag, 3)).toBe(-1);
    expect(claimChunk(ctrl, claimTag(8), 3)).toBe(0);
    // Tags wrap after 2^20 tasks without colliding with the chunk bits.
    expect(claimTag(2 ** 20 + 8)).toBe(claimTag(8));
    expect(claimTag(2 ** 20 - 1) & 0x7ff).toBe(0);
    expect(claimTag(2 ** 20 - 1)).toBeGreaterThan(0);
  });
});
