/**
 * Best-effort parsing of a JSON text that may be cut off anywhere, for showing objects
 * while they stream. Complete values parse as JSON.parse would; a cut-off string keeps
 * what has arrived; a cut-off number keeps its valid prefix; a key whose value has not
 * started yet, or a half-written literal (`tru`), is left out.
 *
 * Returns `undefined` when not even the start of a value has arrived.
 */
export function parsePartialJson(text: string): unknown {
  const p = new PartialParser(text);
  p.ws();
  if (p.done()) return undefined;
  const v = p.value();
  return v === MISSING ? undefined : v;
}

const MISSING = Symbol("missing");
type Parsed = unknown | typeof MISSING;

class PartialParser {
  private i = 0;
  /** Whether the last string read had its closing quote. */
  private closed = false;
  constructor(private readonly s: string) {}

  done(): boolean {
    return this.i >= this.s.length;
  }

  ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }

  value(): Parsed {
    this.ws();
    const c = this.s[this.i];
    if (c === undefined) return MISSING;
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return this.string();
    if (c === "-" || (c >= "0" && c <= "9")) return this.number();
    return this.literal();
  }

  private object(): Parsed {
    this.i++; // {
    const out: Record<string, unknown> = {};
    for (;;) {
      this.ws();
      const c = this.s[this.i];
      if (c === undefined) return out;
      if (c === "}") {
        this.i++;
        return out;
      }
      if (c === ",") {
        this.i++;
        continue;
      }
      if (c !== '"') throw new SyntaxError(`expected a key at ${this.i}`);
      const key = this.string();
      // A key still being written is not a key yet.
      if (!this.closed) return out;
      this.ws();
      if (this.done()) return out;
      if (this.s[this.i] !== ":") throw new SyntaxError(`expected ':' at ${this.i}`);
      this.i++;
      const v = this.value();
      if (v === MISSING) return out;
      out[key as string] = v;
    }
  }

  private array(): Parsed {
    this.i++; // [
    const out: unknown[] = [];
    for (;;) {
      this.ws();
      const c = this.s[this.i];
      if (c === undefined) return out;
      if (c === "]") {
        this.i++;
        return out;
      }
      if (c === ",") {
        this.i++;
        continue;
      }
      const v = this.value();
      if (v === MISSING) return out;
      out.push(v);
    }
  }

  /** A string, or what has arrived of it (a dangling escape dropped). */
  private string(): string {
    this.i++; // opening quote
    this.closed = false;
    let out = "";
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === '"') {
        this.i++;
        this.closed = true;
        return out;
      }
      if (c === "\\") {
        const next = this.s[this.i + 1];
        if (next === undefined) {
          this.i++;
          return out;
        }
        if (next === "u") {
          const hex = this.s.slice(this.i + 2, this.i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.i = this.s.length;
            return out;
          }
          out += String.fromCharCode(Number.parseInt(hex, 16));
          this.i += 6;
          continue;
        }
        const map: Record<string, string> = {
          n: "\n",
          t: "\t",
          r: "\r",
          b: "\b",
          f: "\f",
          "/": "/",
          "\\": "\\",
          '"': '"',
        };
        out += map[next] ?? next;
        this.i += 2;
        continue;
      }
      out += c;
      this.i++;
    }
    return out;
  }

  private number(): Parsed {
    const m = /^-?\d*(\.\d*)?([eE][+-]?\d*)?/.exec(this.s.slice(this.i))!;
    this.i += m[0].length;
    // Longest prefix that is a number: "1." -> 1, "1e" -> 1, "-" -> missing.
    for (let k = m[0].length; k > 0; k--) {
      const n = Number(m[0].slice(0, k));
      if (m[0].slice(0, k) !== "-" && Number.isFinite(n)) return n;
    }
    return MISSING;
  }

  private literal(): Parsed {
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      const rest = this.s.slice(this.i, this.i + word.length);
      if (rest === word) {
        this.i += word.length;
        return v;
      }
      if (word.startsWith(rest) && this.i + rest.length === this.s.length) {
        this.i = this.s.length;
        return MISSING;
      }
    }
    throw new SyntaxError(`unexpected '${this.s[this.i]}' at ${this.i}`);
  }
}
