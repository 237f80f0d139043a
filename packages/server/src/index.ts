/**
 * @quintet/server: the Quintet HTTP API on Fastify — health, readiness, Prometheus
 * metrics, OpenAPI and docs, request ids, structured logs, one JSON error shape and
 * graceful shutdown. Rooms of the API are route modules in `src/routes/`.
 */
export type { QuintetServerContext } from "./context.js";
export { SERVER_VERSION } from "./docs.js";
export { ERROR_SCHEMA_ID, type ErrorBody, errorSchema, httpErrorFor } from "./errors.js";
export { HTTP_METRICS } from "./metrics.js";
export { type ReadinessCheck, ReadinessChecks, type ReadinessResult } from "./readiness.js";
export { createRedisProbe, type RedisProbe } from "./redis.js";
export { REQUEST_ID_HEADER } from "./request-id.js";
export { type RouteModule, routeModules } from "./routes/index.js";
export {
  type BuildServerOptions,
  buildServer,
  DEFAULT_BODY_LIMIT,
  type RunningServer,
  type StartServerOptions,
  startServer,
} from "./server.js";
