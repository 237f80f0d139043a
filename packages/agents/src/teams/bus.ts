import type { SpanRunner } from "@quintet/llm";

/** What team members say to each other. */
export type MessageTopic = "task" | "result" | "feedback" | "verdict" | "handoff";

export interface TeamMessage {
  from: string;
  to: string;
  topic: MessageTopic;
  content: string;
  data?: unknown;
}

export type MessageHandler = (message: TeamMessage) => void | Promise<void>;

/**
 * A typed message bus between team members. Every message is recorded in the run (a
 * `message` event under the sender's step key) and traced as an `agent.message` span
 * before subscribers see it.
 */
export class MessageBus {
  private readonly handlers = new Map<MessageTopic | "*", Set<MessageHandler>>();

  constructor(
    private readonly record: (key: string, message: TeamMessage) => Promise<void>,
    private readonly tracer: SpanRunner,
  ) {}

  /** Calls `handler` for messages on `topic` (or every topic with `*`); returns the unsubscribe function. */
  subscribe(topic: MessageTopic | "*", handler: MessageHandler): () => void {
    let set = this.handlers.get(topic);
    if (!set) this.handlers.set(topic, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  async publish(key: string, message: TeamMessage): Promise<void> {
    await this.tracer(
      "agent.message",
      `${message.from} → ${message.to}: ${message.topic}`,
      { from: message.from, to: message.to, topic: message.topic },
      async () => {
        await this.record(key, message);
        for (const h of [...(this.handlers.get(message.topic) ?? []), ...(this.handlers.get("*") ?? [])]) {
          await h(message);
        }
      },
    );
  }
}
