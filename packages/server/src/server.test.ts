import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConflictError, createLogger, loadConfig, openStore, type QuintetConfig, SpanQuery } from "@quintet/core";
import type { FastifyPluginAsync } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "./server.js";

// Response bodies are checked field by field below.
const asAny = (v: unknown): any => v;

const dir = mkdtempSync(join(tmpdir(), "quintet-server-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configIn(sub: string, env: NodeJS.ProcessEnv = {}): QuintetConfig {
  return loadConfig({ cwd: join(dir, sub), env });
}

function logCapture() {
  const lines: Record<string, any>[] = [];
  const logger = createLogger({
    level: "debug",
    destination: {
      write: (s: string) => {
        for (const l of s.split("\n")) if (l) lines.push(JSON.parse(l));
      },
    },
  });
  return { logger, lines };
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return { open, opened };
}

const slowEntered = gate();
const slowRelease = gate();

const testRoutes: FastifyPluginAsync = async (app) => {
  app.post(
    "/echo",
    {
      schema: {
        body: {
          type: "object",
          required: ["name"],
          additionalProperties: false,
          properties: { name: { type: "string" }, count: { type: "integer", minimum: 1 } },
        },
        response: {
          200: { type: "object", properties: { hello: { type: "string" } } },
          400: { $ref: "QuintetError#" },
        },
      },
    },
    async (req) => ({ hello: (req.body as { name: string }).name }),
  );
  app.get("/boom", { schema: { response: { 500: { $ref: "QuintetError#" } } } }, async () => {
    throw new Error("secret internals at /var/lib/thing");
  });
  app.get("/taken", { schema: { response: { 409: { $ref: "QuintetError#" } } } }, async () => {
    throw new ConflictError("model churn@v3 already exists", { hint: "Use a new version." });
  });
  app.get(
    "/slow",
    { schema: { response: { 200: { type: "object", properties: { done: { type: "boolean" } } } } } },
    async () => {
      slowEntered.open();
      await slowRelease.opened;
      return { done: true };
    },
  );
};

describe("server endpoints over real HTTP", () => {
  let server: RunningServer;
  const logs = logCapture();

  beforeAll(async () => {
    server = await startServer({
      config: configIn("main"),
      port: 0,
      handleSignals: false,
      logger: logs.logger,
      routes: [testRoutes],
      bodyLimit: 2048,
    });
  });
  afterAll(async () => {
    slowRelease.open();
    await server.close();
  });

  it("binds 127.0.0.1 by default and answers /healthz with a generated request id", async () => {
    expect(server.host).toBe("127.0.0.1");
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json().then(asAny)).toMatchObject({ status: "ok" });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("honours a caller's x-request-id, echoes it and logs one structured line with it", async () => {
    const res = await fetch(`${server.url}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "req-abc.123" },
      body: JSON.stringify({ name: "ada" }),
    });
    expect(res.status).toBe(200);
    expect(await res.json().then(asAny)).toEqual({ hello: "ada" });
    expect(res.headers.get("x-request-id")).toBe("req-abc.123");
    const mine = logs.lines.filter((l) => l.reqId === "req-abc.123");
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ msg: "request completed", method: "POST", route: "/echo", status: 200, level: 30 });
    expect(typeof mine[0]!.ms).toBe("number");
  });

  it("replaces a malformed x-request-id instead of logging it", async () => {
    const res = await fetch(`${server.url}/healthz`, { headers: { "x-request-id": "bad id with spaces" } });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("/readyz reports the store answering", async () => {
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(200);
    const body = await res.json().then(asAny);
    expect(body).toMatchObject({ status: "ready", failed: [], checks: { store: { ok: true } } });
    expect(body.checks.redis).toBeUndefined();
  });

  it("answers unknown routes with 404 in the JSON error shape", async () => {
    const res = await fetch(`${server.url}/v1/nothing?x=1`, { headers: { "x-request-id": "nf-1" } });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-request-id")).toBe("nf-1");
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(await res.json().then(asAny)).toEqual({
      error: {
        code: "NOT_FOUND",
        message: "no route for GET /v1/nothing",
        hint: "See /docs (or /openapi.json) for the available routes.",
      },
    });
  });

  it("turns schema failures into VALIDATION_FAILED 400 naming the field", async () => {
    const post = (body: string) =>
      fetch(`${server.url}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const missing = await post(JSON.stringify({ count: 2 }));
    expect(missing.status).toBe(400);
    const m = await missing.json().then(asAny);
    expect(m.error).toMatchObject({ code: "VALIDATION_FAILED", details: { field: "body.name" } });
    expect(m.error.message).toContain("body.name");
    expect(m.error.hint).toContain("body.name");

    const wrongType = await (await post(JSON.stringify({ name: "x", count: 0 }))).json().then(asAny);
    expect(wrongType.error.details.field).toBe("body.count");
    expect(wrongType.error.message).toBe("body.count must be >= 1");

    const extra = await (await post(JSON.stringify({ name: "x", nmae: "typo" }))).json().then(asAny);
    expect(extra.error).toMatchObject({ code: "VALIDATION_FAILED", details: { field: "body.nmae" } });
    expect(extra.error.message).toBe("body.nmae is not an allowed field");

    const badJson = await post("{ name: ");
    expect(badJson.status).toBe(400);
    expect((await badJson.json().then(asAny)).error).toMatchObject({ code: "VALIDATION_FAILED" });
  });

  it("rejects bodies over the limit with 413 in the same shape", async () => {
    const res = await fetch(`${server.url}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "x".repeat(4000) }),
    });
    expect(res.status).toBe(413);
    expect((await res.json().then(asAny)).error).toMatchObject({
      code: "VALIDATION_FAILED",
      message: "request body is larger than the 2048-byte limit",
    });
  });

  it("maps QuintetErrors to their status and hides unexpected errors behind a 500", async () => {
    const conflict = await fetch(`${server.url}/taken`);
    expect(conflict.status).toBe(409);
    expect(await conflict.json().then(asAny)).toEqual({
      error: { code: "CONFLICT", message: "model churn@v3 already exists", hint: "Use a new version." },
    });

    const boom = await fetch(`${server.url}/boom`, { headers: { "x-request-id": "boom-1" } });
    expect(boom.status).toBe(500);
    const text = await boom.text();
    expect(text).not.toContain("secret internals");
    expect(text).not.toContain("at ");
    const body = JSON.parse(text);
    expect(body.error).toMatchObject({
      code: "INTERNAL",
      message: "internal server error",
      details: { requestId: "boom-1" },
    });
    const logged = logs.lines.find((l) => l.reqId === "boom-1" && l.level === 50);
    expect(logged?.err.message).toBe("secret internals at /var/lib/thing");
    expect(logged?.err.stack).toContain("server.test.ts");
  });

  it("/metrics counts requests by route, method and status", async () => {
    const before = await (await fetch(`${server.url}/metrics`)).text();
    const count = (text: string, labels: string) =>
      Number(text.match(new RegExp(`^quintet_http_requests_total\\{${labels}\\} (\\d+)$`, "m"))?.[1] ?? 0);
    const healthLabels = 'method="GET",route="/healthz",status_code="200"';
    for (let i = 0; i < 3; i++) await fetch(`${server.url}/healthz`);
    await fetch(`${server.url}/no/such/route`);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(count(text, healthLabels) - count(before, healthLabels)).toBe(3);
    expect(count(text, 'method="GET",route="unmatched",status_code="404"')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(
      /^quintet_http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/healthz",status_code="200"\} \d+$/m,
    );
    expect(text).toMatch(/^quintet_http_errors_total\{code="NOT_FOUND"\} \d+$/m);
    expect(text).toContain("process_cpu_user_seconds_total");
    expect(text).toContain("nodejs_eventloop_lag_seconds");
  });

  it("publishes an OpenAPI document with a schema for every route, and docs served locally", async () => {
    const doc = await (await fetch(`${server.url}/openapi.json`)).json().then(asAny);
    expect(doc.openapi).toBe("3.0.3");
    expect(doc.info.title).toBe("Quintet API");
    const paths = Object.keys(doc.paths);
    expect(paths).toEqual(expect.arrayContaining(["/healthz", "/readyz", "/metrics", "/echo", "/boom", "/slow"]));
    expect(paths.some((p) => p.startsWith("/docs") || p === "/openapi.json")).toBe(false);
    for (const [path, ops] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        const responses = Object.values<any>(op.responses ?? {});
        expect(responses.length, `${method} ${path}`).toBeGreaterThan(0);
        for (const r of responses) expect(r.content, `${method} ${path}`).toBeDefined();
      }
    }
    expect(doc.paths["/echo"].post.requestBody.content["application/json"].schema.required).toEqual(["name"]);
    expect(doc.components.schemas.QuintetError.properties.error.required).toEqual(["code", "message"]);

    const html = await fetch(`${server.url}/docs`);
    expect(html.status).toBe(200);
    const page = await html.text();
    expect(page).toContain("swagger-ui");
    expect(page).not.toMatch(/(src|href)="https?:/);
    const bundle = await fetch(`${server.url}/docs/static/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
  });
});

describe("readiness", () => {
  it("answers 503 naming the store when the store is closed", async () => {
    const config = configIn("closed");
    const store = await openStore({ url: config.db.url });
    const server = await startServer({ config, store, port: 0, handleSignals: false, logger: logCapture().logger });
    try {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      await store.close();
      const res = await fetch(`${server.url}/readyz`);
      expect(res.status).toBe(503);
      const body = await res.json().then(asAny);
      expect(body).toMatchObject({ status: "unavailable", failed: ["store"], checks: { store: { ok: false } } });
      expect(body.checks.store.error).toContain("closed");
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("answers 503 naming Redis when the configured Redis does not answer, without leaking its password", async () => {
    const config = configIn("redis", { QUINTET_REDIS_URL: "redis://:hunter2@127.0.0.1:1/0" });
    const server = await startServer({ config, port: 0, handleSignals: false, logger: logCapture().logger });
    try {
      const res = await fetch(`${server.url}/readyz`);
      expect(res.status).toBe(503);
      const text = await res.text();
      expect(text).not.toContain("hunter2");
      const body = JSON.parse(text);
      expect(body.failed).toEqual(["redis"]);
      expect(body.checks.store.ok).toBe(true);
      expect(body.checks.redis.ok).toBe(false);
    } finally {
      await server.close();
    }
  });
});

describe("graceful shutdown", () => {
  it("stops accepting, lets an in-flight request finish, then closes the store it opened", async () => {
    const entered = gate();
    const release = gate();
    const slow: FastifyPluginAsync = async (app) => {
      app.get(
        "/slow",
        { schema: { response: { 200: { type: "object", properties: { done: { type: "boolean" } } } } } },
        async () => {
          entered.open();
          await release.opened;
          return { done: true };
        },
      );
    };
    const server = await startServer({
      config: configIn("shutdown"),
      port: 0,
      handleSignals: false,
      logger: logCapture().logger,
      routes: [slow],
      // Far beyond the test timeout: shutdown must finish by draining, not by cutting connections.
      shutdownTimeoutMs: 600_000,
    });
    const inFlight = fetch(`${server.url}/slow`).then(async (r) => ({
      status: r.status,
      body: await r.json().then(asAny),
    }));
    await entered.opened;
    let closed = false;
    const closing = server.close().then(() => {
      closed = true;
    });
    // While the slow request is pending the server refuses new work (connection refused or 503).
    let refused = false;
    for (let i = 0; i < 200 && !refused; i++) {
      const attempt = await fetch(`${server.url}/healthz`).then(
        (r) => r.status,
        () => "refused" as const,
      );
      refused = attempt !== 200;
      if (!refused) await new Promise((r) => setTimeout(r, 10));
    }
    expect(refused).toBe(true);
    expect(closed).toBe(false);
    expect(server.app.quintet.store.isClosed).toBe(false);
    release.open();
    expect(await inFlight).toEqual({ status: 200, body: { done: true } });
    await closing;
    await server.closed;
    expect(server.app.quintet.store.isClosed).toBe(true);
  });

  it("reports a port already in use as one clear error", async () => {
    const first = await startServer({
      config: configIn("port"),
      port: 0,
      handleSignals: false,
      logger: logCapture().logger,
    });
    try {
      const err = await startServer({
        config: configIn("port"),
        port: first.port,
        handleSignals: false,
        logger: logCapture().logger,
      }).catch((e) => e);
      expect(err).toMatchObject({ code: "CONFLICT" });
      expect(err.message).toBe(`port ${first.port} on 127.0.0.1 is already in use`);
    } finally {
      await first.close();
    }
  });
});

describe("request tracing", () => {
  it("records one http span per request with route, request id, status and errors in the store", async () => {
    const config = configIn("traced");
    const store = await openStore({ url: config.db.url, cwd: config.cwd });
    const server = await startServer({
      config,
      store,
      port: 0,
      handleSignals: false,
      routes: [testRoutes],
      logger: logCapture().logger,
    });
    await fetch(`${server.url}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "trace-1" },
      body: JSON.stringify({ name: "ada" }),
    });
    await fetch(`${server.url}/boom`, { headers: { "x-request-id": "trace-2" } });
    await fetch(`${server.url}/healthz`);
    await server.close(); // flushes the span batch
    const spans = await new SpanQuery(store).list({ kind: "http" });
    await store.close();
    const byId = Object.fromEntries(spans.map((s) => [s.attributes["http.request_id"], s]));
    expect(Object.keys(byId).sort()).toEqual(["trace-1", "trace-2"]); // probes are not traced
    expect(byId["trace-1"]).toMatchObject({ name: "POST /echo", status: "ok" });
    expect(byId["trace-1"]!.attributes["http.status"]).toBe(200);
    expect(byId["trace-2"]).toMatchObject({ name: "GET /boom", status: "error" });
  });
});
