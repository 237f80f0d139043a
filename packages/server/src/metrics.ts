import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Metric names exported at `/metrics` besides the default process metrics. */
export const HTTP_METRICS = {
  requests: "quintet_http_requests_total",
  duration: "quintet_http_request_duration_seconds",
  inFlight: "quintet_http_requests_in_flight",
  errors: "quintet_http_errors_total",
} as const;

export interface HttpMetrics {
  registry: Registry;
  started(): void;
  finished(labels: { method: string; route: string; status: number }, seconds: number): void;
  error(code: string): void;
}

/**
 * A registry per server (not prom-client's global one), so several servers in one process
 * (tests, embedding) never double-register metrics.
 */
export function createHttpMetrics(): HttpMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ["method", "route", "status_code"] as const;
  const requests = new Counter({
    name: HTTP_METRICS.requests,
    help: "HTTP requests answered, by method, route template and status code.",
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: HTTP_METRICS.duration,
    help: "Time from request received to response sent, in seconds.",
    labelNames,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: HTTP_METRICS.inFlight,
    help: "HTTP requests being handled right now.",
    registers: [registry],
  });
  const errors = new Counter({
    name: HTTP_METRICS.errors,
    help: "Error responses, by Quintet error code.",
    labelNames: ["code"] as const,
    registers: [registry],
  });
  return {
    registry,
    started: () => inFlight.inc(),
    finished: ({ method, route, status }, seconds) => {
      inFlight.dec();
      const l = { method, route, status_code: String(status) };
      requests.inc(l);
      duration.observe(l, seconds);
    },
    error: (code) => errors.inc({ code }),
  };
}
