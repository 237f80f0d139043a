import { createColors } from "picocolors";

/** Where a command writes; a TTY gets colour and animation, anything else plain lines. */
export interface OutputStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** A status line for long work: animated on a terminal, silent under `--json`. */
export interface Spinner {
  text(text: string): void;
  succeed(text?: string): void;
  fail(text?: string): void;
  /** Removes the spinner without leaving a line. */
  stop(): void;
}

/** A progress bar for work with a known size: drawn on a terminal, silent otherwise. */
export interface Progress {
  update(done: number, detail?: string): void;
  increment(by?: number, detail?: string): void;
  stop(): void;
}

type Colors = ReturnType<typeof createColors>;

/**
 * How commands talk to the user. Results go to stdout — as text for people, or as one
 * JSON document under `--json` (nothing else is written to stdout then, so scripts can
 * parse it). Status, spinners and progress go to stderr and only animate on a terminal.
 */
export class Output {
  readonly json: boolean;
  /** Colours for human output (no-ops when not a terminal, under --json or NO_COLOR). */
  readonly c: Colors;
  private readonly stdout: OutputStream;
  private readonly stderr: OutputStream;

  constructor(opts: { stdout: OutputStream; stderr: OutputStream; json: boolean; env?: NodeJS.ProcessEnv }) {
    this.stdout = opts.stdout;
    this.stderr = opts.stderr;
    this.json = opts.json;
    const noColor = Boolean(opts.env?.NO_COLOR) || opts.env?.TERM === "dumb";
    this.c = createColors(!this.json && !noColor && Boolean(opts.stdout.isTTY));
  }

  /**
   * True when status may animate: stderr is a terminal of known width and output is for
   * people. A pseudo-terminal reporting 0 columns (some CI runners, `script`) makes
   * spinners redraw without end, so it counts as not interactive.
   */
  get interactive(): boolean {
    return !this.json && Boolean(this.stderr.isTTY) && (this.stderr.columns ?? 0) > 0;
  }

  /** A line of human output on stdout (dropped under --json). */
  line(text = ""): void {
    if (!this.json) this.stdout.write(`${text}\n`);
  }

  /** The command's result: `data` as JSON under --json, else `human(data)` as text. */
  result<T>(data: T, human?: (data: T) => string): void {
    if (this.json) this.stdout.write(`${JSON.stringify(data)}\n`);
    else if (human) {
      const text = human(data);
      if (text) this.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
    }
  }

  /** A status or warning line on stderr for people (dropped under --json). */
  status(text: string): void {
    if (!this.json) this.stderr.write(`${text}\n`);
  }

  /** One error line on stderr, always (also under --json, where stdout stays parseable). */
  error(line: string): void {
    this.stderr.write(`${line}\n`);
  }

  /** Starts a spinner on stderr. ora is loaded only when it will actually animate. */
  async spinner(text: string): Promise<Spinner> {
    if (this.json) return { text() {}, succeed() {}, fail() {}, stop() {} };
    if (!this.interactive) {
      // Not a terminal: no animation, just the outcome as a plain line.
      let current = text;
      return {
        text: (t) => {
          current = t;
        },
        succeed: (t) => this.stderr.write(`✓ ${t ?? current}\n`),
        fail: (t) => this.stderr.write(`✗ ${t ?? current}\n`),
        stop() {},
      };
    }
    const { default: ora } = await import("ora");
    const s = ora({ text, stream: this.stderr as NodeJS.WritableStream, isEnabled: true }).start();
    return {
      text: (t) => {
        s.text = t;
      },
      succeed: (t) => void s.succeed(t),
      fail: (t) => void s.fail(t),
      stop: () => void s.stop(),
    };
  }

  /** Starts a progress bar on stderr for `total` units (cli-progress, loaded only on a terminal). */
  async progress(label: string, total: number): Promise<Progress> {
    if (!this.interactive) {
      let done = 0;
      return {
        update: (n) => {
          done = n;
        },
        increment: (by = 1) => {
          done += by;
        },
        // A finished count is still useful in a log; under --json there is no status at all.
        stop: () => this.status(`${label}: ${done}/${total}`),
      };
    }
    const { SingleBar, Presets } = await import("cli-progress");
    const bar = new SingleBar(
      {
        format: `${label} {bar} {percentage}% | {value}/{total} {detail}`,
        stream: this.stderr as NodeJS.WritableStream,
        hideCursor: true,
        clearOnComplete: false,
      },
      Presets.shades_classic,
    );
    bar.start(total, 0, { detail: "" });
    return {
      update: (n, detail) => bar.update(n, { detail: detail ?? "" }),
      increment: (by = 1, detail) => bar.increment(by, { detail: detail ?? "" }),
      stop: () => bar.stop(),
    };
  }
}
