import type { Logger, QuintetConfig, Store } from "@quintet/core";
import type { Registry } from "prom-client";
import type { ReadinessChecks } from "./readiness.js";

/**
 * What every route module can reach through `app.quintet`: the resolved config, the open
 * store, the logger, the Prometheus registry (to add its own metrics) and the readiness
 * checks (to add a dependency that `/readyz` must see answering).
 */
export interface QuintetServerContext {
  config: QuintetConfig;
  store: Store;
  logger: Logger;
  metrics: Registry;
  readiness: ReadinessChecks;
}

declare module "fastify" {
  interface FastifyInstance {
    quintet: QuintetServerContext;
  }
}
