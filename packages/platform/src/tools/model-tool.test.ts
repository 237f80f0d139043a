import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { serveMcp } from "@quintet/agents";
import { ArtifactStore, Store } from "@quintet/core";
import { createLlm, type FakeOpenAI, runToolLoop, startFakeOpenAI } from "@quintet/llm";
import { syntheticCustomers, toCsv } from "@quintet/ml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelRegistry, modelTool, registryTools, trainTable } from "../index.js";

let store: Store;
let registry: ModelRegistry;
let fake: FakeOpenAI;
// A row as a model would send it: typed values, not the CSV's strings.
const customer = {
  signup_date: "2021-06-05",
  region: "east",
  plan: "team",
  contract: "one-year",
  payment_method: "card",
  tenure_months: 54,
  monthly_charges: 100.95,
  total_charges: 5457.48,
  seats: 5,
  support_tickets_90d: 1,
  logins_30d: 15,
  nps_score: null,
  discount_pct: 5,
  autopay: false,
  last_outage_hours: 0,
};

beforeAll(async () => {
  const home = mkdtempSync(join(tmpdir(), "quintet-model-tool-"));
  store = await Store.open({ url: `sqlite:${join(home, "q.db")}` });
  const artifacts = await ArtifactStore.open({ home, store });
  registry = new ModelRegistry(store, artifacts);
  const csv = join(home, "c.csv");
  writeFileSync(csv, toCsv(syntheticCustomers({ rows: 1200, seed: 4, messy: false })));
  await trainTable(
    { data: csv, target: "churned", positive: "yes", name: "churn", params: { numRounds: 15 } },
    { store, artifacts, home },
  );
  fake = await startFakeOpenAI({ onUnscripted: "error" });
}, 120_000);
afterAll(async () => {
  await fake?.close();
  await store?.close();
});

describe("a registered model as a tool", () => {
  it("takes the model's input schema as parameters and answers a tool loop", async () => {
    const tool = await modelTool({ registry, ref: "churn@champion" });
    expect(tool.name).toBe("predict_churn");
    const params = tool.spec.parameters as { properties: { rows: { items: { properties: Record<string, unknown> } } } };
    expect(Object.keys(params.properties.rows.items.properties)).toContain("tenure_months");
    expect(JSON.stringify(params.properties.rows.items.properties.plan)).toContain(
      '"enum":["business","enterprise","starter","team"]',
    );

    fake.script.chat({ toolCalls: [{ name: "predict_churn", arguments: { rows: [customer] } }] });
    fake.script.chat({
      toolCalls: [{ name: "predict_churn", arguments: { rows: [{ ...customer, plan: "platinum" }] } }],
    });
    fake.script.chat({ content: "done" });
    const llm = createLlm("openai:gpt-4o-mini", { apiKey: "k", baseURL: fake.url, env: {} });
    const result = await runToolLoop({ llm, messages: [{ role: "user", content: "will they churn?" }], tools: [tool] });
    const [first, second] = result.steps.flatMap((s) => s.results);
    expect(first!.status).toBe("ok");
    const answer = JSON.parse(first!.content);
    expect(answer.model).toBe("churn/1");
    expect(answer.predictions[0].probability).toBeGreaterThan(0);
    expect(["yes", "no"]).toContain(answer.predictions[0].churned);
    // An unseen category is caught by the parameter schema before the model runs.
    expect(second!.status).toBe("invalid-arguments");
    expect(second!.content).toContain("plan");
  });

  it("is served over MCP with the other champions and called by the official SDK client", async () => {
    const tools = await registryTools(registry);
    expect(tools.map((t) => t.name)).toEqual(["predict_churn"]);
    const server = await serveMcp(tools, { name: "quintet" });
    const client = new Client({ name: "test", version: "1.0.0" });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
      const listed = await client.listTools();
      expect(listed.tools.map((t) => t.name)).toEqual(["predict_churn"]);
      const r = await client.callTool({ name: "predict_churn", arguments: { rows: [customer, customer] } });
      expect(r.isError).toBeFalsy();
      const out = r.structuredContent as { predictions: { probability: number }[] };
      expect(out.predictions).toHaveLength(2);
      expect(out.predictions[0]!.probability).toBe(out.predictions[1]!.probability);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("refuses a model that is not a Quintet bundle and an unknown reference", async () => {
    await registry.register({ name: "foreign", bundle: "{}", flavor: "xgboost.json" });
    await expect(modelTool({ registry, ref: "foreign" })).rejects.toThrow(/not a Quintet bundle/);
    await expect(modelTool({ registry, ref: "nothing@champion" })).rejects.toThrow(/not found/);
  });
});
