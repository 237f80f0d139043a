import { Redis } from "ioredis";

/**
 * A Redis connection used only to answer readiness probes. It never queues commands while
 * disconnected (a probe must fail fast, not wait) and keeps reconnecting in the background
 * so readiness recovers when Redis comes back.
 */
export interface RedisProbe {
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function createRedisProbe(url: string): RedisProbe {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 250, 2000),
  });
  // Connection errors surface through ping(); without a listener ioredis would log them itself.
  client.on("error", () => {});
  let connecting: Promise<void> | undefined;
  return {
    async ping() {
      if (client.status === "wait") {
        connecting ??= client.connect().finally(() => {
          connecting = undefined;
        });
        await connecting;
      }
      const answer = await client.ping();
      if (answer !== "PONG") throw new Error(`unexpected PING answer ${JSON.stringify(answer)}`);
    },
    async close() {
      client.disconnect();
    },
  };
}
