import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createLlm, type FakeOpenAI, runToolLoop, startFakeOpenAI } from "@quintet/llm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webFetchTool } from "./web.js";

let site: Server;
let base: string;
let fake: FakeOpenAI;

beforeAll(async () => {
  site = createServer((req, res) => {
    if (req.url === "/article") {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(
        `<html><head><title>Refund policy</title></head><body><nav>menu</nav><article><h1>Refund policy</h1><p>${"Refunds are paid within 14 days of a return. ".repeat(20)}</p></article></body></html>`,
      );
    } else if (req.url === "/moved") {
      res.writeHead(302, { location: "/article" });
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => site.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  fake = await startFakeOpenAI({ onUnscripted: "error" });
});
afterAll(async () => {
  await fake.close();
  await new Promise((r) => site.close(r));
});

describe("webFetchTool", () => {
  it("reads a page's main text through redirects, within a character budget", async () => {
    const tool = webFetchTool({ allowPrivate: true, maxChars: 200 });
    const page = (await tool.execute(
      { url: `${base}/moved` },
      { signal: new AbortController().signal, callId: "c", step: 1 },
    )) as {
      title: string;
      text: string;
      truncated: boolean;
    };
    expect(page.title).toBe("Refund policy");
    expect(page.text).toContain("Refunds are paid within 14 days");
    expect(page.text).not.toContain("menu");
    expect(page.truncated).toBe(true);
    expect(page.text.length).toBeLessThanOrEqual(202);
  });

  it("refuses private addresses and hosts outside the allow list, as errors the model reads", async () => {
    fake.script.chat({ toolCalls: [{ name: "fetch_page", arguments: { url: `${base}/article` } }] });
    fake.script.chat({ toolCalls: [{ name: "fetch_page", arguments: { url: "not a url" } }] });
    fake.script.chat({ content: "could not read it" });
    const llm = createLlm("openai:gpt-4o-mini", { apiKey: "k", baseURL: fake.url, env: {} });
    const result = await runToolLoop({
      llm,
      messages: [{ role: "user", content: "read it" }],
      tools: [webFetchTool()],
    });
    const [privateCall, badUrl] = result.steps.flatMap((s) => s.results);
    expect(privateCall!.status).toBe("error");
    expect(privateCall!.content).toMatch(/private|loopback|non-public/i);
    expect(badUrl!.status).toBe("invalid-arguments");

    const limited = webFetchTool({ allowPrivate: true, allowHosts: ["*.example.com"] });
    const denied = await limited.execute(
      { url: `${base}/article` },
      { signal: new AbortController().signal, callId: "c", step: 1 },
    );
    expect(denied).toMatchObject({ error: "reading 127.0.0.1 is not allowed for this agent" });
  });
});
