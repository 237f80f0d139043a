import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FakeOpenAI, startFakeOpenAI } from "@quintet/llm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../testing.js";

// The real CLI entry (`run`) in-process, in a temp project, against the fake OpenAI server for `ask` with a model.
let root: string;
let fake: FakeOpenAI;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "quintet-cli-rag-ask-"));
  fake = await startFakeOpenAI({ onUnscripted: "error" });
});
afterAll(async () => {
  await fake.close();
  rmSync(root, { recursive: true, force: true });
});

const FILES: Record<string, string> = {
  "security.md":
    "# Security\n\nAll customer data is encrypted at rest with AES-256. Backups are taken every night and kept for 30 days.",
  "onboarding.md":
    "# Onboarding\n\nNew employees receive a laptop on their first day. The IT desk sets up accounts within two hours.",
  "pricing.md": "# Pricing\n\nThe Pro plan costs $49 per month and includes 5 seats for the whole team.",
  "travel.md": "# Travel\n\nTrain tickets are booked through the travel desk. Flights need a manager's approval first.",
};

describe("quintet rag sync and rag ask", () => {
  it("registers and syncs a folder, then reports added, changed and deleted documents", async () => {
    const cwd = join(root, "sync");
    const docs = join(cwd, "docs");
    mkdirSync(docs, { recursive: true });
    for (const [f, t] of Object.entries(FILES)) writeFileSync(join(docs, f), t);

    const first = await runCli(["rag", "sync", "docs", "--name", "handbook", "--ttl", "30d"], { cwd });
    expect(first.err).toContain('registered source "handbook" (files) for collection "default"');
    expect(first.code).toBe(0);
    for (const f of Object.keys(FILES)) expect(first.err).toContain(`+ added   ${f}`);
    expect(first.out).toMatch(/✓ handbook → default: 4 added, 0 changed, 0 deleted, 0 unchanged/);

    writeFileSync(join(docs, "security.md"), `${FILES["security.md"]} Restores are tested every quarter.`);
    unlinkSync(join(docs, "travel.md"));
    const second = await runCli(["rag", "sync", "--json"], { cwd });
    expect(second.code).toBe(0);
    const out = JSON.parse(second.out);
    expect(out.syncs).toHaveLength(1);
    expect(out.syncs[0]).toMatchObject({ source: "handbook", added: 0, changed: 1, deleted: 1, unchanged: 2 });
    expect(second.err).toBe(""); // --json: nothing but the result

    const third = await runCli(["rag", "sync", "--source", "handbook"], { cwd });
    expect(third.out).toMatch(/0 added, 0 changed, 0 deleted, 3 unchanged/);
    // No interval was given: never due.
    const due = await runCli(["rag", "sync", "--due", "--json"], { cwd });
    expect(JSON.parse(due.out).syncs).toEqual([]);

    const unknown = await runCli(["rag", "sync", "--source", "nope"], { cwd });
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/no source "nope" is registered .*Registered: handbook/);
    const bad = await runCli(["rag", "sync", "--every", "often"], { cwd });
    expect(bad.code).toBe(2);
    const empty = await runCli(["rag", "sync", "-c", "other"], { cwd });
    expect(empty.code).toBe(2);
    expect(empty.err).toMatch(/no sources are registered/);

    // Ask without a model: extractive, said so, cited, with the sources listed.
    const ask = await runCli(["rag", "ask", "How long are backups kept?"], { cwd });
    expect(ask.code).toBe(0);
    expect(ask.err).toMatch(/No language model is configured.*extractive/);
    expect(ask.out).toMatch(/^Backups are taken every night and kept for 30 days\. \[1\]/);
    expect(ask.out).toMatch(/\[1\] Security — .*security\.md · handbook/);
    expect(ask.out).toMatch(/extractive \(no LLM\) · citations passed \(validity 1\.00\) · evidence passed/);

    const json = JSON.parse(
      (await runCli(["rag", "ask", "How long are backups kept?", "--json", "-k", "2"], { cwd })).out,
    );
    expect(json).toMatchObject({ mode: "extractive", abstained: false, verdicts: { citations: { passed: true } } });
    expect(json.sources.length).toBeLessThanOrEqual(2);
    expect(json.sources[0]).toMatchObject({ marker: 1, title: "Security", source: "handbook", cited: true });

    const none = JSON.parse(
      (await runCli(["rag", "ask", "What is the airspeed of a swallow?", "--json"], { cwd })).out,
    );
    expect(none).toMatchObject({ abstained: true, answer: "I don't know based on the provided passages." });

    // With a model: generated, citations checked.
    fake.script.chat({ content: "New employees get a laptop on their first day [1]." });
    const env = { QUINTET_LLM: "openai:gpt-4o-mini", OPENAI_API_KEY: "test", OPENAI_BASE_URL: fake.url };
    const gen = await runCli(["rag", "ask", "What do new employees receive on their first day?", "--json"], {
      cwd,
      env,
    });
    expect(gen.code).toBe(0);
    const g = JSON.parse(gen.out);
    expect(g).toMatchObject({ mode: "llm", model: "openai:gpt-4o-mini", abstained: false });
    expect(g.answer).toBe("New employees get a laptop on their first day [1].");
    expect(g.verdicts.citations.passed).toBe(true);
    expect(fake.chatRequests()[0]!.messages[1].content).toContain("laptop on their first day");

    const missing = await runCli(["rag", "ask", "x", "-c", "nowhere"], { cwd });
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/no collection "nowhere"/);
    const blank = await runCli(["rag", "ask", "  "], { cwd });
    expect(blank.code).toBe(2);
  });

  it("crawls a site (loopback allowed explicitly) and re-syncs it", async () => {
    let about = "We build sensors for greenhouses and measure humidity every minute.";
    const page = (title: string, body: string) =>
      `<!doctype html><html><head><title>${title}</title></head><body><article><h1>${title}</h1><p>${body}</p><a href="/about">About</a> <a href="/contact">Contact</a></article></body></html>`;
    const server = createServer((req, res) => {
      const html = (t: string, b: string) => {
        res.writeHead(200, { "content-type": "text/html" });
        res.end(page(t, b));
      };
      if (req.url === "/")
        return html("Home", "Welcome to the greenhouse sensor company homepage and product overview.");
      if (req.url === "/about") return html("About", about);
      if (req.url === "/contact")
        return html("Contact", "Write to the support team; answers arrive within one business day.");
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const cwd = join(root, "crawl");
    mkdirSync(cwd, { recursive: true });
    try {
      const refused = await runCli(["rag", "sync", url, "-c", "site"], { cwd });
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/non-public address 127\.0\.0\.1/);

      const first = await runCli(
        ["rag", "sync", url, "-c", "site", "--allow-private", "--delay", "0", "--name", "site"],
        { cwd },
      );
      expect(first.code).toBe(0);
      expect(first.out).toMatch(/✓ site → site: 3 added/);
      about = "We build sensors for greenhouses and now also for vertical farms.";
      const again = await runCli(["rag", "sync", "-c", "site"], { cwd });
      expect(again.out).toMatch(/0 added, 1 changed, 0 deleted, 2 unchanged/);
      expect(again.err).toContain(`~ changed ${url}about`);
      const ask = await runCli(["rag", "ask", "What are the sensors built for?", "-c", "site", "--half-life", "30d"], {
        cwd,
      });
      expect(ask.out).toMatch(/^We build sensors for greenhouses and now also for vertical farms\. \[\d\]/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
