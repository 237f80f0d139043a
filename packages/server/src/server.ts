import type { AddressInfo } from "node:net";
import {
  createLogger,
  type Logger,
  openStore,
  type QuintetConfig,
  QuintetError,
  type Store,
  startTracing,
  type Tracing,
  toQuintetError,
  withSpan,
} from "@quintet/core";
import Fastify, { type FastifyInstance, LogController } from "fastify";
import type { QuintetServerContext } from "./context.js";
import { registerDocsUi, registerOpenApi } from "./docs.js";
import { errorHandler, errorSchema, notFoundHandler } from "./errors.js";
import { createHttpMetrics } from "./metrics.js";
import { ReadinessChecks } from "./readiness.js";
import { createRedisProbe } from "./redis.js";
import { REQUEST_ID_HEADER, requestIdFor } from "./request-id.js";
import { type RouteModule, routeModules } from "./routes/index.js";

/** Default request body limit: 1 MiB. Routes that take larger bodies set their own `bodyLimit`. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export interface BuildServerOptions {
  config: QuintetConfig;
  /** An open store. When omitted the server opens the configured one and closes it on shutdown; a store passed in stays the caller's to close. */
  store?: Store;
  /** Defaults to `createLogger(config)`. */
  logger?: Logger;
  /** Route modules mounted after the built-in ones ({@link routeModules}). */
  routes?: RouteModule[];
  /** Largest accepted request body, in bytes. */
  bodyLimit?: number;
  /** How long one readiness check may take before it counts as failed. Default 2000 ms. */
  readinessTimeoutMs?: number;
  /**
   * Record an `http` span per request (and whatever the handler records beneath it) in the
   * store's trace. Default true; pass false when the caller already started tracing.
   */
  tracing?: boolean;
}

// Probes are polled every few seconds; logging each at info would drown real traffic.
const QUIET_ROUTES = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * Builds the Quintet HTTP server (not yet listening): request ids, one structured log line
 * per request, Prometheus metrics, the JSON error shape, OpenAPI at `/openapi.json` with
 * docs at `/docs`, then the route modules from `src/routes` and `options.routes`.
 *
 * @example
 * const app = await buildServer({ config: loadConfig() });
 * const res = await app.inject({ url: "/healthz" });
 */
export async function buildServer(options: BuildServerOptions): Promise<FastifyInstance> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config);
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const ownsStore = !options.store;
  const store = options.store ?? (await openStore({ url: config.db.url, cwd: config.cwd }));

  const app = Fastify({
    loggerInstance: logger,
    // Our onResponse hook writes the one line per request; Fastify's own two are switched off.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestIdFor,
    bodyLimit,
    return503OnClosing: true,
    // Unknown fields are rejected where a schema says additionalProperties: false, not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
  }) as unknown as FastifyInstance;

  const metrics = createHttpMetrics();
  const readiness = new ReadinessChecks(options.readinessTimeoutMs);
  readiness.add({
    name: "store",
    check: async () => {
      if (store.isClosed) throw new QuintetError("STORE_UNAVAILABLE", "the store is closed");
      await store.ping();
    },
  });
  const redis = config.redis.url ? createRedisProbe(config.redis.url) : undefined;
  if (redis) readiness.add({ name: "redis", check: () => redis.ping() });

  // Tracing starts before routes register, so spans from handlers nest under the request span.
  const tracing: Tracing | undefined = options.tracing === false ? undefined : await startTracing(store);
  app.addHook("onRoute", (route) => {
    const path = route.url ?? route.path;
    if (QUIET_ROUTES.has(path) || path.startsWith("/docs")) return;
    const handler = route.handler;
    route.handler = function traced(this: unknown, request, reply) {
      return withSpan(
        "http",
        `${request.method} ${path}`,
        { "http.route": path, "http.request_id": request.id },
        async (span) => {
          const result = await handler.call(this as never, request, reply);
          span.setAttributes({ "http.status": reply.statusCode });
          return result;
        },
      );
    };
  });

  const context: QuintetServerContext = { config, store, logger, metrics: metrics.registry, readiness };
  app.decorate("quintet", context);
  app.addSchema(errorSchema);

  app.addHook("onRequest", async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    metrics.started();
  });
  app.addHook("onResponse", async (request, reply) => {
    // Unmatched URLs share one label so scanners cannot blow up the metric's cardinality.
    const route = request.routeOptions.url ?? "unmatched";
    const status = reply.statusCode;
    metrics.finished({ method: request.method, route, status }, reply.elapsedTime / 1000);
    const line = {
      method: request.method,
      url: request.url,
      route,
      status,
      ms: Math.round(reply.elapsedTime * 100) / 100,
    };
    if (QUIET_ROUTES.has(route) && status < 400) request.log.debug(line, "request completed");
    else request.log.info(line, "request completed");
    if (draining) app.server.closeIdleConnections();
  });
  app.setErrorHandler(errorHandler(bodyLimit, metrics.error));
  app.setNotFoundHandler(notFoundHandler(metrics.error));

  // Fastify keeps idle connections open for 72 s; while draining, each response closes its
  // connection so shutdown completes as soon as the last in-flight request is answered.
  let draining = false;
  app.addHook("preClose", async () => {
    draining = true;
  });
  app.addHook("onSend", async (_request, reply, payload) => {
    if (draining) reply.header("connection", "close");
    return payload;
  });

  app.addHook("onClose", async () => {
    await redis?.close();
    await tracing?.shutdown();
    if (ownsStore) await store.close();
  });

  try {
    await registerOpenApi(app);
    for (const mod of [...routeModules, ...(options.routes ?? [])]) {
      if (typeof mod === "function") await app.register(mod);
      else await app.register(mod.plugin, mod.prefix ? { prefix: mod.prefix } : {});
    }
    await registerDocsUi(app);
    await app.ready();
  } catch (err) {
    await app.close().catch(() => {});
    throw err;
  }
  return app;
}

export interface StartServerOptions extends BuildServerOptions {
  /** Interface to bind; default `config.server.host` (127.0.0.1 unless configured). */
  host?: string;
  /** Port; default `config.server.port` (7400). 0 picks a free port. */
  port?: number;
  /** Stop gracefully on SIGINT/SIGTERM (a second signal forces open connections closed). Default true. */
  handleSignals?: boolean;
  /** After this long, connections still open at shutdown are cut. Default 10 000 ms. */
  shutdownTimeoutMs?: number;
}

export interface RunningServer {
  /** `http://host:port` actually bound. */
  url: string;
  host: string;
  port: number;
  app: FastifyInstance;
  /** Stops accepting connections, lets in-flight requests finish, then closes the store. Idempotent. */
  close(): Promise<void>;
  /** Settles once the server has shut down, whether by {@link RunningServer.close} or a signal. */
  closed: Promise<void>;
}

/**
 * Builds the server and listens.
 *
 * @example
 * const server = await startServer({ config: loadConfig(), port: 0 });
 * console.log(server.url);
 * await server.closed; // until SIGINT/SIGTERM
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const app = await buildServer(options);
  const host = options.host ?? options.config.server.host;
  const port = options.port ?? options.config.server.port;
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close().catch(() => {});
    throw listenError(err, host, port);
  }
  const address = app.server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;

  let closing: Promise<void> | undefined;
  let resolveClosed!: () => void;
  let rejectClosed!: (err: unknown) => void;
  const closed = new Promise<void>((res, rej) => {
    resolveClosed = res;
    rejectClosed = rej;
  });
  closed.catch(() => {});

  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      app.log.warn({ signal }, "second signal: closing open connections now");
      app.server.closeAllConnections();
      return;
    }
    app.log.info({ signal }, "shutting down: finishing in-flight requests");
    void close().catch(() => {});
  };
  const signals: NodeJS.Signals[] = options.handleSignals === false ? [] : ["SIGINT", "SIGTERM"];
  for (const s of signals) process.on(s, onSignal);

  function close(): Promise<void> {
    closing ??= (async () => {
      const force = setTimeout(() => {
        app.log.warn("shutdown timeout: closing open connections");
        app.server.closeAllConnections();
      }, options.shutdownTimeoutMs ?? 10_000);
      force.unref();
      try {
        await app.close();
        app.log.info("server stopped");
        resolveClosed();
      } catch (err) {
        rejectClosed(err);
        throw err;
      } finally {
        clearTimeout(force);
        // Listeners stay until the close completes so a second signal can still force it.
        for (const s of signals) process.off(s, onSignal);
      }
    })();
    return closing;
  }

  return { url, host: address.address, port: address.port, app, close, closed };
}

function listenError(err: unknown, host: string, port: number): QuintetError {
  const code = (err as { code?: string }).code;
  if (code === "EADDRINUSE") {
    return new QuintetError("CONFLICT", `port ${port} on ${host} is already in use`, {
      hint: "Stop the process using it, or pick another port (--port N, or 0 for any free port).",
      cause: err,
    });
  }
  if (code === "EACCES") {
    return new QuintetError("FORBIDDEN", `not allowed to listen on ${host}:${port}`, {
      hint: "Use a port above 1023, or run with the needed privileges.",
      cause: err,
    });
  }
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") {
    return new QuintetError("VALIDATION_FAILED", `cannot bind to host ${host}: it is not an address of this machine`, {
      hint: "Use 127.0.0.1 (local only) or 0.0.0.0 (all interfaces).",
      cause: err,
    });
  }
  return toQuintetError(err);
}
