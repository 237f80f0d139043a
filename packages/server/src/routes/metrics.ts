import type { FastifyPluginAsync } from "fastify";

/** Prometheus exposition of the server's registry (process metrics + HTTP metrics + any a room added). */
export const metricsRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    "/metrics",
    {
      schema: {
        tags: ["ops"],
        summary: "Prometheus metrics",
        produces: ["text/plain"],
        response: { 200: { type: "string", description: "Prometheus text exposition format 0.0.4" } },
      },
    },
    async (_req, reply) => {
      const registry = app.quintet.metrics;
      return reply.header("content-type", registry.contentType).send(await registry.metrics());
    },
  );
};
