import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "@quintet/core";
import { definePrompt, PromptRegistry } from "@quintet/llm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../program.js";

// The real CLI entry (`run`) in-process, over the prompt registry in a temp project's store.
let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "quintet-cli-prompts-"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function project(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function quintet(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  let out = "";
  let err = "";
  const code = await run(["node", "quintet", ...args], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: { NO_COLOR: "1", ...env },
    cwd,
  });
  return { code, out, err };
}

const v1 = [
  "name: support/answer",
  "description: Answers support questions from passages.",
  "persona: You are {{company}}'s support assistant. Be concise.",
  "messages:",
  "  - role: user",
  '    content: "Question: {{question}}"',
  "variables:",
  "  company: { type: string }",
  "  question: { type: string, minLength: 1 }",
  "options: { temperature: 0 }",
].join("\n");

const v2 = [
  "name: support/answer",
  "persona: You are {{company}}'s support assistant. Be concise and cite passages.",
  "messages:",
  "  - role: user",
  '    content: "Passages: {{passages | bullets}}\\nQuestion: {{question}}"',
  "variables:",
  "  company: { type: string }",
  "  question: { type: string, minLength: 2 }",
  "  passages: { type: 'string[]', default: [] }",
  "options: { temperature: 0 }",
].join("\n");

describe("quintet prompts", () => {
  it("adds versions from files, lists, shows, aliases and diffs them", async () => {
    const dir = project("flow");
    writeFileSync(join(dir, "answer.yaml"), v1);
    const first = await quintet(["--json", "prompts", "add", "answer.yaml", "--alias", "production"], dir);
    expect(first.err).toBe("");
    expect(first.code).toBe(0);
    const a = JSON.parse(first.out);
    expect(a).toMatchObject({ name: "support/answer", created: true, alias: "production", previous: null });
    expect(a.version).toMatch(/^[0-9a-f]{64}$/);

    const same = await quintet(["prompts", "add", "answer.yaml"], dir);
    expect(same.out).toBe(`Unchanged: support/answer@${a.version.slice(0, 12)}\n`);

    writeFileSync(join(dir, "answer.yaml"), v2);
    await new Promise((r) => setTimeout(r, 5)); // a later save time, so "latest" is the new version
    const second = await quintet(["--json", "prompts", "add", "answer.yaml"], dir);
    const b = JSON.parse(second.out);
    expect(b.created).toBe(true);
    expect(b.version).not.toBe(a.version);

    const ls = await quintet(["prompts", "ls"], dir);
    expect(ls.code).toBe(0);
    expect(ls.out).toMatch(/^NAME\s+LATEST\s+VERSIONS\s+UPDATED\s+ALIASES\n/);
    expect(ls.out).toMatch(
      new RegExp(
        `support/answer\\s+${b.version.slice(0, 12)}\\s+2\\s+\\S+ \\S+\\s+production→${a.version.slice(0, 12)}\\n`,
      ),
    );
    const lsJson = JSON.parse((await quintet(["prompts", "ls", "--json"], dir)).out);
    expect(lsJson).toEqual([
      expect.objectContaining({
        name: "support/answer",
        latest: b.version,
        versions: 2,
        aliases: { production: a.version },
      }),
    ]);

    const latest = await quintet(["prompts", "show", "support/answer"], dir);
    expect(latest.code).toBe(0);
    expect(latest.out).toContain(`support/answer@${b.version.slice(0, 12)}`);
    expect(latest.out).toContain("[persona]\nYou are {{company}}'s support assistant. Be concise and cite passages.");
    expect(latest.out).toMatch(/# variables\n {2}company: \{"type":"string"\}/);
    const prod = await quintet(["prompts", "show", "support/answer@production"], dir);
    expect(prod.out).toContain(`support/answer@${a.version.slice(0, 12)}  (production)`);
    expect(prod.out).toContain("Answers support questions from passages.");
    expect((await quintet(["prompts", "show", "support/answer@latest"], dir)).out).toBe(latest.out);
    const byPrefix = JSON.parse(
      (await quintet(["--json", "prompts", "show", `support/answer@${b.version.slice(0, 8)}`], dir)).out,
    );
    expect(byPrefix).toMatchObject({ name: "support/answer", version: b.version, aliases: [] });
    expect(byPrefix.definition.variables.passages).toEqual({ type: "string[]", default: [] });

    const diff = await quintet(["prompts", "diff", "support/answer", "production", "latest"], dir);
    expect(diff.code).toBe(0);
    expect(diff.out).toContain(`--- support/answer@${a.version.slice(0, 12)}`);
    expect(diff.out).toContain(`+++ support/answer@${b.version.slice(0, 12)}`);
    expect(diff.out).toContain("-You are {{company}}'s support assistant. Be concise.\n");
    expect(diff.out).toContain("+You are {{company}}'s support assistant. Be concise and cite passages.\n");
    expect(diff.out).toMatch(/# variables\n {2}\+ passages\n {2}~ question: .*"minLength":1.* → .*"minLength":2/);
    const diffJson = JSON.parse(
      (await quintet(["prompts", "diff", "support/answer", "production", "production", "--json"], dir)).out,
    );
    expect(diffJson).toMatchObject({ identical: true, from: a.version, to: a.version });

    const promoted = await quintet(["prompts", "alias", "support/answer", "production", b.version.slice(0, 8)], dir);
    expect(promoted.out).toBe(
      `support/answer: production → ${b.version.slice(0, 12)} (was ${a.version.slice(0, 12)})\n`,
    );
    expect((await quintet(["prompts", "show", "support/answer@production"], dir)).out).toContain(
      `support/answer@${b.version.slice(0, 12)}  (production)`,
    );
  });

  it("reads the registry in the project's store, wherever --home puts it", async () => {
    const dir = project("shared");
    const store = await openStore({ url: `sqlite:${join(dir, "state", "quintet.db")}` });
    await new PromptRegistry(store).save(
      definePrompt({
        name: "greet",
        messages: [{ role: "user", content: "Say hi to {{who}}" }],
        variables: { who: { type: "string" } },
      }),
    );
    await store.close();
    const empty = await quintet(["prompts", "ls"], dir);
    expect(empty.out).toBe("No prompts saved yet. Save one with `quintet prompts add <file.yaml>`.\n");
    const ls = await quintet(["prompts", "ls", "--home", "state"], dir);
    expect(ls.out).toMatch(/^NAME.*\ngreet\s+[0-9a-f]{12}\s+1 /);
  });

  it("explains what is wrong: unknown prompt or version, bad reference, invalid file (one line each)", async () => {
    const dir = project("errors");
    writeFileSync(join(dir, "answer.yaml"), v1);
    await quintet(["prompts", "add", "answer.yaml"], dir);

    const unknown = await quintet(["prompts", "show", "nope"], dir);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/^error\[NOT_FOUND\]: no prompt named "nope"/);
    const version = await quintet(["prompts", "diff", "support/answer", "staging", "production"], dir);
    expect(version.code).toBe(1);
    expect(version.err).toMatch(/no version or alias "staging"/);

    const ref = await quintet(["prompts", "show", "support/answer@"], dir);
    expect(ref.code).toBe(2);
    expect(ref.err).toMatch(/^error\[VALIDATION_FAILED\]: "support\/answer@" is not a prompt reference/);

    writeFileSync(join(dir, "broken.yaml"), "name: x\nmessages:\n  - role: user\n    content: '{{who}}'\n");
    const invalid = await quintet(["prompts", "add", "broken.yaml"], dir);
    expect(invalid.code).toBe(1);
    expect(invalid.err.trim().split("\n")).toHaveLength(1);
    expect(invalid.err).toMatch(/broken\.yaml: prompt "x" uses \{\{who\}\} but does not declare variable "who"/);
    const missing = await quintet(["prompts", "add", "nowhere.yaml"], dir);
    expect(missing.err).toMatch(/^error\[NOT_FOUND\]: cannot read prompt file/);

    const alias = await quintet(["prompts", "alias", "support/answer", "Bad Alias", "latest"], dir);
    expect(alias.code).toBe(1);
    expect(alias.err).toMatch(/invalid alias "Bad Alias"/);
    expect((await quintet(["prompts", "diff", "support/answer"], dir)).code).toBe(2);
  });

  it("prints help for the group and each command", async () => {
    const dir = project("help");
    for (const sub of ["ls", "show", "diff", "add", "alias"]) {
      const r = await quintet(["prompts", sub, "--help"], dir);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`^Usage: quintet prompts ${sub}`));
    }
    expect((await quintet(["prompts", "--help"], dir)).out).toContain("Aliases such as production");
  });
});
