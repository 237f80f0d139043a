import type { FastifyPluginAsync } from "fastify";

const checkResult = {
  type: "object",
  required: ["ok", "ms"],
  properties: { ok: { type: "boolean" }, ms: { type: "number" }, error: { type: "string" } },
} as const;

const readinessBody = {
  type: "object",
  required: ["status", "failed", "checks"],
  properties: {
    status: { type: "string", enum: ["ready", "unavailable"] },
    failed: { type: "array", items: { type: "string" }, description: "Names of the dependencies that did not answer." },
    checks: { type: "object", additionalProperties: checkResult },
  },
} as const;

/**
 * Probes for orchestrators. `/healthz`: the process is alive and serving (never touches a
 * dependency, so a slow database cannot get the process restarted). `/readyz`: every
 * dependency answers (store, Redis when configured, and whatever route modules added);
 * 503 names the ones that did not.
 */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    "/healthz",
    {
      schema: {
        tags: ["ops"],
        summary: "Liveness: the process is up",
        response: {
          200: {
            type: "object",
            required: ["status", "uptimeSeconds"],
            properties: { status: { type: "string", enum: ["ok"] }, uptimeSeconds: { type: "number" } },
          },
        },
      },
    },
    async () => ({ status: "ok" as const, uptimeSeconds: Math.round(process.uptime()) }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        tags: ["ops"],
        summary: "Readiness: the store (and Redis when configured) answer",
        response: { 200: readinessBody, 503: readinessBody },
      },
    },
    async (_req, reply) => {
      const r = await app.quintet.readiness.run();
      if (!r.ready) app.log.warn({ failed: r.failed, checks: r.checks }, "not ready");
      return reply
        .status(r.ready ? 200 : 503)
        .send({ status: r.ready ? "ready" : "unavailable", failed: r.failed, checks: r.checks });
    },
  );
};
