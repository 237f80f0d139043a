import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { syntheticCustomers, toCsv } from "@quintet/ml";
import { describe, expect, it } from "vitest";
import { runCli } from "../testing.js";

const main = fileURLToPath(new URL("../main.ts", import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

describe("quintet mcp serve", () => {
  it("says what to do when no model has the alias", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "quintet-mcp-empty-"));
    const r = await runCli(["mcp", "serve", "--port", "0"], { cwd });
    expect(r.code).toBe(1);
    expect(r.err).toContain('no registered model has the alias "champion"');
  });

  it("serves the champion models to an MCP client until SIGTERM", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "quintet-mcp-"));
    writeFileSync(join(cwd, "c.csv"), toCsv(syntheticCustomers({ rows: 800, seed: 2, messy: false })));
    const trained = await runCli(
      ["train", "c.csv", "--target", "churned", "--positive", "yes", "--name", "churn", "--rounds", "10"],
      { cwd },
    );
    expect(trained.code).toBe(0);

    const child = spawn(
      process.execPath,
      ["--conditions=source", "--import", tsx, main, "mcp", "serve", "--port", "0", "--json"],
      {
        cwd,
        env: { ...process.env, NO_COLOR: "1", QUINTET_HOME: "", QUINTET_DB_URL: "" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    let out = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (d) => {
        out += d;
        const line = out.split("\n").find((l) => l.startsWith("{"));
        if (line) resolve(JSON.parse(line).url);
      });
      child.on("close", () => reject(new Error(`mcp serve exited early: ${out}`)));
    });
    const client = new Client({ name: "test", version: "1.0.0" });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(["predict_churn"]);
      const r = await client.callTool({
        name: "predict_churn",
        arguments: { rows: [{ tenure_months: 3, plan: "starter" }] },
      });
      expect(r.isError).toBeFalsy();
      expect((r.structuredContent as { model: string }).model).toBe("churn/1");
    } finally {
      await client.close();
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  }, 120_000);
});
