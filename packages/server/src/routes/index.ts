import type { FastifyPluginAsync } from "fastify";
import { healthRoutes } from "./health.js";
import { metricsRoutes } from "./metrics.js";

/**
 * A route module: one room of the HTTP API, written as a Fastify plugin in
 * `src/routes/<room>.ts`. Inside, `app.quintet` gives the config, store, logger, metrics
 * registry and readiness checks; request and response schemas on every route feed
 * `/openapi.json` and are validated; errors are thrown as `QuintetError`s and reach the
 * client in the one JSON error shape (reference it as `{ $ref: "QuintetError#" }`).
 *
 * @example
 * // src/routes/models.ts
 * export const modelsRoutes: FastifyPluginAsync = async (app) => {
 *   app.post("/v1/models/:name/predict", { schema: { … } }, async (req) => …);
 * };
 * // then add `modelsRoutes` to `routeModules` below.
 */
export type RouteModule = FastifyPluginAsync | { plugin: FastifyPluginAsync; prefix?: string };

/**
 * Every route module the server mounts, in order. To add a room, create
 * `src/routes/<room>.ts` exporting a {@link RouteModule} and append it here.
 */
export const routeModules: RouteModule[] = [healthRoutes, metricsRoutes];

export { healthRoutes, metricsRoutes };
