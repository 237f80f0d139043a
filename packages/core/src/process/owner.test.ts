import { spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { ownerProcessGone, processGone, processOwner } from "../index.js";

describe("process owners", () => {
  it("tells a finished process from a live one, on this host only", () => {
    const child = spawnSync(process.execPath, ["-e", "0"]);
    const gonePid = child.pid!;
    expect(processGone(hostname(), gonePid)).toBe(true);
    expect(ownerProcessGone(`${hostname()}:${gonePid}:token`)).toBe(true);
    // This process, another host, and malformed owners are never "gone".
    expect(processGone(hostname(), process.pid)).toBe(false);
    expect(ownerProcessGone(processOwner())).toBe(false);
    expect(processGone(`not-${hostname()}`, gonePid)).toBe(false);
    expect(ownerProcessGone("nonsense")).toBe(false);
    expect(ownerProcessGone(`${hostname()}:-3`)).toBe(false);
  });
});
