import { describe, expect, it } from "vitest";
import { Output } from "./output.js";

function stream(isTTY: boolean) {
  const chunks: string[] = [];
  return { isTTY, write: (s: string) => void chunks.push(s), text: () => chunks.join("") };
}

describe("Output", () => {
  it("writes only the JSON result on stdout under --json, and no status or spinner output", async () => {
    const out = stream(true);
    const err = stream(true);
    const o = new Output({ stdout: out, stderr: err, json: true });
    o.line("human only");
    o.status("working");
    const s = await o.spinner("Loading");
    s.succeed("done");
    const p = await o.progress("Rows", 10);
    p.increment(5);
    p.stop();
    o.result({ a: 1 }, () => "human");
    expect(out.text()).toBe('{"a":1}\n');
    expect(err.text()).toBe("");
    o.error("error[X]: y");
    expect(err.text()).toBe("error[X]: y\n");
  });

  it("prints outcomes as plain lines, without animation or colour, when not a terminal", async () => {
    const out = stream(false);
    const err = stream(false);
    const o = new Output({ stdout: out, stderr: err, json: false });
    expect(o.interactive).toBe(false);
    const s = await o.spinner("Loading");
    s.text("Loading rows");
    s.succeed();
    const f = await o.spinner("Connecting");
    f.fail("Could not connect");
    const p = await o.progress("Rows", 10);
    p.update(4);
    p.increment(2);
    p.stop();
    o.result({ n: 3 }, (r) => `${o.c.green("n")}=${r.n}`);
    expect(err.text()).toBe("✓ Loading rows\n✗ Could not connect\nRows: 6/10\n");
    expect(out.text()).toBe("n=3\n");
  });

  it("does not animate on a terminal that reports no width", async () => {
    const err = Object.assign(stream(true), { columns: 0 });
    const o = new Output({ stdout: stream(true), stderr: err, json: false });
    expect(o.interactive).toBe(false);
    const s = await o.spinner("Checking");
    s.succeed("Checked");
    expect(err.text()).toBe("✓ Checked\n");
  });

  it("animates a spinner and draws a progress bar on a terminal", async () => {
    const out = stream(true);
    const err = Object.assign(stream(true), { columns: 80, cursorTo() {}, clearLine() {}, moveCursor() {}, on() {} });
    const o = new Output({ stdout: out, stderr: err, json: false });
    expect(o.interactive).toBe(true);
    const s = await o.spinner("Training");
    s.succeed("Trained");
    expect(err.text()).toContain("Trained");
    const before = err.text().length;
    const p = await o.progress("Rows", 4);
    p.update(4, "all");
    p.stop();
    expect(err.text().slice(before)).toContain("4/4");
  });
});
