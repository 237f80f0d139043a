import { isIP } from "node:net";
import { ValidationError } from "@quintet/core";
import { z } from "zod";

export type PiiType = "email" | "phone" | "credit_card" | "iban" | "us_ssn" | "ip_address" | "secret";

export const PII_TYPES: readonly PiiType[] = [
  "email",
  "phone",
  "credit_card",
  "iban",
  "us_ssn",
  "ip_address",
  "secret",
];

export interface PiiMatch {
  type: PiiType;
  /** UTF-16 offsets into the input, `text.slice(start, end) === value`. */
  start: number;
  end: number;
  value: string;
  /** For secrets: which kind (e.g. `openai_key`, `aws_access_key_id`). */
  subtype?: string;
}

export interface DetectPiiOptions {
  /** Only look for these types (default: all). */
  types?: readonly PiiType[];
}

/** Luhn checksum used by payment card numbers. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

// Registered IBAN lengths for common countries; other countries fall back to the 15–34 range.
const IBAN_LENGTHS: Record<string, number> = {
  AD: 24,
  AT: 20,
  BE: 16,
  BG: 22,
  CH: 21,
  CY: 28,
  CZ: 24,
  DE: 22,
  DK: 18,
  EE: 20,
  ES: 24,
  FI: 18,
  FR: 27,
  GB: 22,
  GR: 27,
  HR: 21,
  HU: 28,
  IE: 22,
  IS: 26,
  IT: 27,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  MC: 27,
  MT: 31,
  NL: 18,
  NO: 15,
  PL: 28,
  PT: 25,
  RO: 24,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  TR: 26,
  UA: 29,
  SA: 24,
  AE: 23,
  IL: 23,
  QA: 29,
  BR: 29,
};

/** ISO 13616 check: country length, then the mod-97 remainder of the rearranged number is 1. */
export function ibanValid(iban: string): boolean {
  const s = iban.replace(/[\s-]/g, "").toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(s)) return false;
  const expected = IBAN_LENGTHS[s.slice(0, 2)];
  if (expected !== undefined && s.length !== expected) return false;
  const rearranged = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (const ch of rearranged) {
    const v = ch >= "A" && ch <= "Z" ? String(ch.charCodeAt(0) - 55) : ch;
    for (const d of v) rem = (rem * 10 + (d.charCodeAt(0) - 48)) % 97;
  }
  return rem === 1;
}

interface Detector {
  type: PiiType;
  /** Higher wins when two matches overlap (a card number is not also a phone number). */
  priority: number;
  find(text: string): Omit<PiiMatch, "type">[];
}

function regexDetector(
  type: PiiType,
  priority: number,
  re: RegExp,
  accept: (value: string, m: RegExpExecArray) => boolean | string = () => true,
): Detector {
  return {
    type,
    priority,
    find(text) {
      const out: Omit<PiiMatch, "type">[] = [];
      const g = new RegExp(re.source, re.flags.includes("g") ? re.flags : `${re.flags}g`);
      for (let m = g.exec(text); m; m = g.exec(text)) {
        const value = m[1] ?? m[0];
        const start = m.index + (m[1] !== undefined ? m[0].indexOf(m[1]) : 0);
        const verdict = accept(value, m);
        if (verdict)
          out.push({
            start,
            end: start + value.length,
            value,
            ...(typeof verdict === "string" ? { subtype: verdict } : {}),
          });
        if (m[0].length === 0) g.lastIndex++;
      }
      return out;
    },
  };
}

const SECRET_PATTERNS: ReadonlyArray<[string, RegExp]> = [
  ["private_key", /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z]+ )?PRIVATE KEY-----/],
  ["openai_key", /\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/],
  ["anthropic_key", /\bsk-ant-[A-Za-z0-9_-]{20,}/],
  ["stripe_key", /\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}/],
  ["aws_access_key_id", /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b/],
  ["aws_secret_access_key", /(?<=aws_secret_access_key\s*[=:]\s*["']?)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])/i],
  ["github_token", /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})/],
  ["slack_token", /\bxox[abposr]-[A-Za-z0-9-]{10,}/],
  ["google_api_key", /\bAIza[0-9A-Za-z_-]{35}/],
  ["jwt", /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/],
];

const DETECTORS: readonly Detector[] = [
  {
    type: "secret",
    priority: 100,
    find(text) {
      const out: Omit<PiiMatch, "type">[] = [];
      for (const [subtype, re] of SECRET_PATTERNS) {
        const g = new RegExp(re.source, `${re.flags}g`);
        for (let m = g.exec(text); m; m = g.exec(text)) {
          // sk-ant- keys are also matched by the generic sk- rule; the specific one wins below.
          out.push({ start: m.index, end: m.index + m[0].length, value: m[0], subtype });
        }
      }
      return out;
    },
  },
  regexDetector("email", 90, /[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}/),
  regexDetector("iban", 80, /\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,4})?\b/i, (v) => ibanValid(v)),
  regexDetector("credit_card", 70, /(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])/, (v) => {
    const digits = v.replace(/[ -]/g, "");
    // Issuer prefixes (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay) keep random Luhn-valid numbers out.
    return (
      digits.length >= 13 &&
      digits.length <= 19 &&
      /^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|6|35)/.test(digits) &&
      luhnValid(digits)
    );
  }),
  regexDetector("us_ssn", 60, /(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])/),
  regexDetector(
    "ip_address",
    50,
    /(?<![\w.:])(?:(?:\d{1,3}\.){3}\d{1,3}|(?:[A-F0-9]{0,4}:){2,7}[A-F0-9]{0,4})(?![\w.:])/i,
    (v) => isIP(v) !== 0 && v !== "::" && /\d|[a-f]{2}/i.test(v),
  ),
  // International (+CC …) or North-American style numbers; 7–15 digits (E.164) with common separators.
  regexDetector(
    "phone",
    40,
    /(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{2,4}){1,5}(?![\w])/,
    (v) => {
      const digits = v.replace(/\D/g, "");
      if (digits.length < 7 || digits.length > 15) return false;
      const international = v.startsWith("+");
      const grouped = /[\s.()-]/.test(v);
      // Bare digit runs are ids or amounts far more often than phone numbers; dates and versions are not phones.
      if (!international && !grouped) return false;
      if (/^\d{4}[-./]\d{1,2}[-./]\d{1,2}$/.test(v) || /^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$/.test(v)) return false;
      if (!international && /^\d+\.\d+(\.\d+)*$/.test(v)) return false;
      return international || digits.length >= 10 || /^\(\d{3}\)/.test(v);
    },
  ),
];

/**
 * Finds personal data and secrets in text: emails, phone numbers (international and North
 * American formats), payment cards (Luhn-checked, issuer prefixes), IBANs (mod-97), US SSNs,
 * IPv4/IPv6 addresses and API-key-like secrets. Returns non-overlapping matches in text order;
 * where two detectors overlap the more specific one wins.
 */
export function detectPii(text: string, options: DetectPiiOptions = {}): PiiMatch[] {
  const wanted = new Set(options.types ?? PII_TYPES);
  const candidates: (PiiMatch & { priority: number })[] = [];
  for (const d of DETECTORS) {
    if (!wanted.has(d.type)) continue;
    for (const m of d.find(text)) candidates.push({ ...m, type: d.type, priority: d.priority });
  }
  candidates.sort((a, b) => b.priority - a.priority || b.end - b.start - (a.end - a.start) || a.start - b.start);
  const taken: (PiiMatch & { priority: number })[] = [];
  for (const c of candidates) {
    if (taken.some((t) => c.start < t.end && t.start < c.end)) continue;
    taken.push(c);
  }
  return taken.sort((a, b) => a.start - b.start).map(({ priority: _p, ...m }) => m);
}

export const RedactOptionsSchema = z.object({
  mode: z.enum(["mask", "placeholder"]).default("placeholder"),
  types: z.array(z.enum(PII_TYPES as [PiiType, ...PiiType[]])).optional(),
  maskChar: z.string().length(1).default("*"),
});
export type RedactOptions = z.input<typeof RedactOptionsSchema>;

export interface RedactResult {
  text: string;
  matches: PiiMatch[];
  /**
   * Placeholder → original value (placeholder mode only). The same value gets the same
   * placeholder everywhere, so the model can still refer to "the same email" consistently.
   */
  placeholders: Record<string, string>;
}

/**
 * Removes detected PII from text. `mask` overwrites each character of a match (except
 * separators like `@`, `-`, spaces) with `*`, keeping offsets; irreversible. `placeholder`
 * replaces each match with `<EMAIL_1>`-style tokens and returns the map so {@link restorePii}
 * can put the originals back (e.g. after a model has answered).
 */
export function redactPii(text: string, options: RedactOptions = {}): RedactResult {
  const parsed = RedactOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ValidationError(
      `invalid redact options: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      {
        hint: 'Use { mode: "mask" | "placeholder", types?: PiiType[] }.',
      },
    );
  }
  const opts = parsed.data;
  const matches = detectPii(text, opts.types ? { types: opts.types } : {});
  const placeholders: Record<string, string> = {};
  const byValue = new Map<string, string>();
  const counters = new Map<PiiType, number>();
  let out = "";
  let pos = 0;
  for (const m of matches) {
    out += text.slice(pos, m.start);
    if (opts.mode === "mask") {
      out += m.value.replace(/[^\s@.:/-]/g, opts.maskChar);
    } else {
      const key = `${m.type}\u0000${m.value}`;
      let ph = byValue.get(key);
      if (!ph) {
        const n = (counters.get(m.type) ?? 0) + 1;
        counters.set(m.type, n);
        ph = `<${m.type.toUpperCase()}_${n}>`;
        byValue.set(key, ph);
        placeholders[ph] = m.value;
      }
      out += ph;
    }
    pos = m.end;
  }
  out += text.slice(pos);
  return { text: out, matches, placeholders };
}

/** Puts the original values back into text produced from a placeholder-mode redaction. */
export function restorePii(text: string, placeholders: Record<string, string>): string {
  return text.replace(/<([A-Z_]+_\d+)>/g, (whole) => placeholders[whole] ?? whole);
}
