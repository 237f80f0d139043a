import { readFileSync } from "node:fs";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";

/** Version of this package, shown in the OpenAPI document. */
export const SERVER_VERSION: string = JSON.parse(
  readFileSync(new URL("../package.json", import.meta.url), "utf8"),
).version;

/**
 * Collects every route's schema into an OpenAPI 3 document. Must be registered before
 * any route so its onRoute hook sees them all.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "Quintet API",
        version: SERVER_VERSION,
        description: "The HTTP API of Quintet, the AI engineering stack for TypeScript.",
      },
      tags: [{ name: "ops", description: "Health, readiness and metrics" }],
    },
    // Shared schemas keep their `$id` as the component name (`#/components/schemas/QuintetError`).
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
}

/** `/openapi.json` and the Swagger UI at `/docs`, whose assets are served from the package (no CDN). */
export async function registerDocsUi(app: FastifyInstance): Promise<void> {
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  await app.register(swaggerUi, {
    routePrefix: "/docs",
    uiConfig: { deepLinking: true },
  });
}
