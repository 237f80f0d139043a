import type { EmbeddingModelV3, LanguageModelV3, LanguageModelV3StreamPart } from "@ai-sdk/provider";
import { costOf, type ModelPrice } from "../pricing/prices.js";
import { fromContent, fromFinishReason, fromUsage, parseArguments, toCallOptions } from "./convert.js";
import { CallControl, type CallTarget, type ResolvedRetry } from "./retry.js";
import type {
  EmbedRequest,
  EmbedResult,
  FinishReason,
  GenerateRequest,
  GenerateResult,
  LlmCapabilities,
  LlmClient,
  StreamEvent,
  ToolCall,
  Usage,
} from "./types.js";

export interface SdkClientConfig {
  target: CallTarget;
  language: LanguageModelV3;
  embedding?: EmbeddingModelV3;
  capabilities: LlmCapabilities;
  retry: ResolvedRetry;
  timeoutMs: number;
  price: ModelPrice | undefined;
  embeddingPrice: ModelPrice | undefined;
}

/**
 * An {@link LlmClient} over an AI SDK provider model. The SDK speaks the wire protocol
 * (we call the model's `doGenerate`/`doStream`/`doEmbed` directly, which never retry);
 * this class owns retries, timeouts, cancellation, usage and cost, so each is counted once.
 */
export class SdkLlmClient implements LlmClient {
  readonly uri: string;
  readonly capabilities: LlmCapabilities;
  readonly embed: ((request: EmbedRequest) => Promise<EmbedResult>) | undefined;

  constructor(private readonly config: SdkClientConfig) {
    this.uri = config.target.uri;
    this.capabilities = config.capabilities;
    this.embed = config.embedding ? (r) => this.doEmbed(r) : undefined;
  }

  private control(signal: AbortSignal | undefined): CallControl {
    return new CallControl(this.config.target, this.config.retry, this.config.timeoutMs, signal);
  }

  private result(
    text: string,
    toolCalls: ToolCall[],
    finishReason: FinishReason,
    usage: Usage & { cacheWriteTokens?: number },
    ctl: CallControl,
  ): GenerateResult {
    const { cacheWriteTokens: _w, ...publicUsage } = usage;
    return {
      text,
      toolCalls,
      finishReason,
      usage: publicUsage,
      costUsd: this.config.price ? costOf(this.config.price, usage) : undefined,
      model: this.uri,
      latencyMs: Date.now() - ctl.started,
      attempts: ctl.attempts,
    };
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const options = toCallOptions(request);
    const ctl = this.control(request.signal);
    for (;;) {
      const attempt = ctl.attempt();
      try {
        const r = await this.config.language.doGenerate({ ...options, abortSignal: attempt.abortSignal });
        const { text, toolCalls } = fromContent(r.content);
        return this.result(text, toolCalls, fromFinishReason(r.finishReason), fromUsage(r.usage), ctl);
      } catch (err) {
        const fatal = await ctl.afterFailure(err, attempt);
        if (fatal) throw fatal;
      } finally {
        attempt.dispose();
      }
    }
  }

  /**
   * Streams text deltas and completed tool calls. A failure before the first event reached
   * the caller is retried like `generate`; after that it is thrown, since the caller has
   * already acted on part of the answer.
   */
  async *stream(request: GenerateRequest): AsyncGenerator<StreamEvent> {
    const options = toCallOptions(request);
    const ctl = this.control(request.signal);
    for (;;) {
      const attempt = ctl.attempt();
      let delivered = false;
      let reader: ReadableStreamDefaultReader<LanguageModelV3StreamPart> | undefined;
      try {
        const { stream } = await this.config.language.doStream({ ...options, abortSignal: attempt.abortSignal });
        reader = stream.getReader();
        let text = "";
        const toolCalls: ToolCall[] = [];
        let finish: Extract<LanguageModelV3StreamPart, { type: "finish" }> | undefined;
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          attempt.touch();
          if (value.type === "text-delta" && value.delta) {
            text += value.delta;
            delivered = true;
            yield { type: "text-delta", delta: value.delta };
          } else if (value.type === "tool-call" && !value.providerExecuted) {
            const call = { id: value.toolCallId, name: value.toolName, arguments: parseArguments(value.input) };
            toolCalls.push(call);
            delivered = true;
            yield { type: "tool-call", toolCall: call };
          } else if (value.type === "finish") {
            finish = value;
          } else if (value.type === "error") {
            throw value.error;
          }
        }
        // The SDK closes the stream quietly when the fetch is aborted mid-body.
        if (attempt.abortSignal.aborted) throw new DOMException("aborted", "AbortError");
        yield {
          type: "finish",
          result: this.result(text, toolCalls, fromFinishReason(finish?.finishReason), fromUsage(finish?.usage), ctl),
        };
        return;
      } catch (err) {
        if (delivered) {
          throw (await ctl.afterFailure(err, attempt, { retry: false })) ?? err;
        }
        const fatal = await ctl.afterFailure(err, attempt);
        if (fatal) throw fatal;
      } finally {
        attempt.dispose();
        // Stops the HTTP body when the caller broke out of the loop or we failed.
        if (reader) await reader.cancel().catch(() => {});
        attempt.controller.abort();
      }
    }
  }

  private async doEmbed(request: EmbedRequest): Promise<EmbedResult> {
    const model = this.config.embedding!;
    const limit = (await model.maxEmbeddingsPerCall) ?? 2048;
    const ctl = this.control(request.signal);
    const vectors: Float32Array[] = [];
    let tokens = 0;
    for (let start = 0; start < request.texts.length; start += limit) {
      const values = request.texts.slice(start, start + limit);
      for (;;) {
        const attempt = ctl.attempt();
        try {
          const r = await model.doEmbed({ values, abortSignal: attempt.abortSignal });
          for (const e of r.embeddings) vectors.push(Float32Array.from(e));
          tokens += r.usage?.tokens ?? 0;
          break;
        } catch (err) {
          const fatal = await ctl.afterFailure(err, attempt);
          if (fatal) throw fatal;
        } finally {
          attempt.dispose();
        }
      }
    }
    const price = this.config.embeddingPrice;
    return {
      vectors,
      usage: { inputTokens: tokens },
      model: this.uri,
      ...(price ? { costUsd: costOf(price, { inputTokens: tokens, outputTokens: 0 }) } : {}),
      attempts: ctl.attempts,
    };
  }
}
