import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openStore } from "@quintet/core";
import { type FakeOpenAI, startFakeOpenAI } from "@quintet/llm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunStore } from "./run-store.js";

// A real crash: the agent runs in a child process that is killed with SIGKILL in the middle
// of a run, then a new process resumes it from the SQLite store.
const dir = mkdtempSync(join(tmpdir(), "quintet-agents-resume-"));
const child = fileURLToPath(new URL("./fixtures/child-run.ts", import.meta.url));

/** The outside world the child's tools change: counts payments, and can hang a request on cue. */
class SideEffects {
  payments: { body: string; key: string }[] = [];
  lookups = 0;
  hang: "pay" | "lookup" | undefined;
  onHang: (() => void) | undefined;
  server: Server;
  url = "";
  private held: ServerResponse[] = [];

  constructor() {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = "";
      req.on("data", (d) => {
        body += d;
      });
      req.on("end", () => {
        const path = (req.url ?? "").split("?")[0];
        const which = path === "/pay" ? "pay" : "lookup";
        if (which === "pay") this.payments.push({ body, key: String(req.headers["idempotency-key"]) });
        else this.lookups++;
        if (this.hang === which) {
          this.hang = undefined;
          this.held.push(res);
          this.onHang?.();
          return;
        }
        res.end(which === "pay" ? "paid" : "invoice A-1: paid 5 EUR");
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const r of this.held) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

let fake: FakeOpenAI;
const side = new SideEffects();
beforeAll(async () => {
  fake = await startFakeOpenAI({ onUnscripted: "error" });
  await side.start();
});
afterAll(async () => {
  await fake.close();
  await side.close();
  rmSync(dir, { recursive: true, force: true });
});

function startChild(dbUrl: string, runId: string, mode: "start" | "resume"): ChildProcess {
  return spawn(
    process.execPath,
    ["--conditions=source", "--import", "tsx", child, dbUrl, fake.url, side.url, runId, mode],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
}

function finished(p: ChildProcess): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
  let out = "";
  let err = "";
  p.stdout?.on("data", (d) => {
    out += d;
  });
  p.stderr?.on("data", (d) => {
    err += d;
  });
  return new Promise((resolve) => p.on("close", (code, signal) => resolve({ code, signal, out, err })));
}

describe("durable runs across a killed process", () => {
  it("resumes at the last step without calling the model again or repeating a side effect", async () => {
    const dbUrl = `sqlite:${join(dir, "after-effect.db")}`;
    fake.reset();
    side.payments = [];
    side.lookups = 0;
    fake.script.chat([
      { toolCalls: [{ id: "p", name: "pay", arguments: { invoice: "A-1", amount: 5 } }] },
      { toolCalls: [{ id: "l", name: "lookup", arguments: { invoice: "A-1" } }] },
      { content: "Paid A-1 and confirmed." },
    ]);
    // Kill the child while its (read-only) lookup is in flight, after the payment was recorded.
    side.hang = "lookup";
    const first = startChild(dbUrl, "run-1", "start");
    side.onHang = () => first.kill("SIGKILL");
    const killed = await finished(first);
    expect(killed.signal).toBe("SIGKILL");
    expect(side.payments).toHaveLength(1);
    expect(fake.chatRequests()).toHaveLength(2);

    const store = await openStore({ url: dbUrl });
    const runs = await RunStore.open(store);
    expect((await runs.get("run-1")).status).toBe("running");
    const before = (await runs.steps("run-1")).map((s) => s.type);
    // the payment's intent was written before it ran; the read-only lookup's is written with its result
    expect(before).toEqual(["model-call", "tool-call", "tool-result", "model-call"]);

    const second = await finished(startChild(dbUrl, "run-1", "resume"));
    expect(second.err).toContain("(replayed)");
    expect(second.code).toBe(0);
    const result = JSON.parse(second.out);
    expect(result).toMatchObject({ status: "done", output: "Paid A-1 and confirmed.", steps: 3 });
    // One payment in total; the read-only lookup ran again; the model was asked once more.
    expect(side.payments).toHaveLength(1);
    expect(side.lookups).toBe(2);
    expect(fake.chatRequests()).toHaveLength(3);
    const run = await runs.get("run-1");
    expect(run.status).toBe("done");
    expect(run.owner).toBeUndefined();
    const steps = await runs.steps("run-1");
    expect(steps.map((s) => s.seq)).toEqual(steps.map((_, i) => i + 1));
    expect(steps.map((s) => s.type)).toEqual([
      "model-call",
      "tool-call",
      "tool-result",
      "model-call",
      "tool-call",
      "tool-result",
      "model-call",
      "final",
    ]);
    await store.close();
  });

  it("reports a side-effecting call cut off by the crash as interrupted instead of repeating it", async () => {
    const dbUrl = `sqlite:${join(dir, "during-effect.db")}`;
    fake.reset();
    side.payments = [];
    fake.script.chat([
      { toolCalls: [{ id: "p", name: "pay", arguments: { invoice: "A-1", amount: 5 } }] },
      { content: "The payment may not have gone through; please check A-1." },
    ]);
    side.hang = "pay";
    const first = startChild(dbUrl, "run-2", "start");
    side.onHang = () => first.kill("SIGKILL");
    expect((await finished(first)).signal).toBe("SIGKILL");
    expect(side.payments).toHaveLength(1);
    const idempotencyKey = side.payments[0]!.key;
    expect(idempotencyKey).toBe("run-2/s1/t0");

    const second = await finished(startChild(dbUrl, "run-2", "resume"));
    expect(second.code).toBe(0);
    expect(JSON.parse(second.out)).toMatchObject({ status: "done" });
    expect(side.payments).toHaveLength(1);
    // The model learned the outcome is unknown, and was not asked the first question again.
    expect(fake.chatRequests()).toHaveLength(2);
    const toolMsg = fake.chatRequests()[1].messages.find((m: { role: string }) => m.role === "tool");
    expect(JSON.parse(toolMsg.content).error).toContain("outcome is unknown; it was not repeated");
    const store = await openStore({ url: dbUrl });
    const steps = await (await RunStore.open(store)).steps("run-2");
    expect(steps.find((s) => s.type === "tool-result")?.event).toMatchObject({ status: "interrupted" });
    await store.close();
  });
});
