import { NotFoundError, TimeoutError } from "../errors/errors.js";
import type { JobEventName, JobEvents, JobInfo, WaitOptions } from "./types.js";
import { TERMINAL_STATES } from "./types.js";

type Listener<E extends JobEventName> = (event: JobEvents[E]) => void;

/** Typed listeners; a listener that throws is reported once and never breaks the runner. */
export class JobEmitter {
  private readonly listeners = new Map<JobEventName, Set<Listener<any>>>();

  constructor(private readonly onListenerError: (err: unknown, event: JobEventName) => void) {}

  on<E extends JobEventName>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  has(event: JobEventName): boolean {
    return (this.listeners.get(event)?.size ?? 0) > 0;
  }

  emit<E extends JobEventName>(event: E, payload: JobEvents[E]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(payload);
      } catch (err) {
        this.onListenerError(err, event);
      }
    }
  }
}

/**
 * Waits for a job to reach a terminal state: woken by this runner's events and, for jobs
 * another process runs, by polling `get` every `pollMs`.
 */
export async function waitForJob(
  id: string,
  options: WaitOptions | undefined,
  get: (id: string) => Promise<JobInfo | undefined>,
  emitter: JobEmitter,
  pollMs: number,
): Promise<JobInfo> {
  const first = await get(id);
  if (!first) {
    throw new NotFoundError(`job ${id} does not exist`, { hint: "Check the id returned by enqueue()." });
  }
  if (TERMINAL_STATES.includes(first.state)) return first;
  return new Promise<JobInfo>((resolve, reject) => {
    let done = false;
    let checking = false;
    let recheck = false;
    const unsubscribe = (["completed", "failed", "cancelled"] as const).map((e) =>
      emitter.on(e, (ev) => {
        if (ev.id === id) void check();
      }),
    );
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearInterval(poll);
      if (deadline) clearTimeout(deadline);
      for (const u of unsubscribe) u();
      fn();
    };
    const check = async (): Promise<void> => {
      if (done) return;
      if (checking) {
        recheck = true;
        return;
      }
      checking = true;
      try {
        const info = await get(id);
        if (!info) {
          finish(() => reject(new NotFoundError(`job ${id} no longer exists`)));
        } else if (TERMINAL_STATES.includes(info.state)) {
          finish(() => resolve(info));
        }
      } catch (err) {
        finish(() => reject(err));
      } finally {
        checking = false;
        if (recheck && !done) {
          recheck = false;
          void check();
        }
      }
    };
    const poll = setInterval(() => void check(), pollMs);
    const deadline =
      options?.timeoutMs !== undefined
        ? setTimeout(() => {
            void get(id)
              .catch(() => undefined)
              .then((info) =>
                finish(() =>
                  reject(
                    new TimeoutError(
                      `job ${id} did not finish within ${options.timeoutMs} ms (it is ${info?.state ?? "unknown"})`,
                      { hint: "Wait longer, or cancel() the job if it is stuck.", details: { id } },
                    ),
                  ),
                ),
              );
          }, options.timeoutMs)
        : undefined;
    // A job that finished between the first read and the subscription is caught here.
    void check();
  });
}
