import { contentTerms, splitSentences } from "@quintet/llm";

/** What kind of value a fact states. */
export type FactKind = "number" | "money" | "percent" | "date";

/** A value stated in a passage, with the words around it that say what it is about. */
export interface Fact {
  kind: FactKind;
  /** Numbers as numbers (scale words applied: "1.2 million" → 1200000); dates as epoch ms (UTC midnight). */
  value: number;
  /** Granularity of a date: "day", "month" or "year". */
  precision?: "day" | "month" | "year";
  /** The text as written ("$49", "March 5, 2024", "12%"). */
  text: string;
  /** Currency for money, the unit word after a number ("days", "gb"), "" when none. */
  unit: string;
  /** Stemmed content words near the value in its sentence: what the value is about. */
  subject: string[];
  /** Of those, the words right next to the value (within 3 words): the entity it most likely belongs to. */
  near: string[];
  sentence: string;
}

const MONTHS = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];
const MONTH_RE = `(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)`;
const monthIndex = (m: string) => MONTHS.findIndex((x) => x.startsWith(m.toLowerCase().slice(0, 3)));
const SCALE: Record<string, number> = {
  thousand: 1e3,
  k: 1e3,
  million: 1e6,
  m: 1e6,
  mn: 1e6,
  billion: 1e9,
  bn: 1e9,
  b: 1e9,
  trillion: 1e12,
};
const CURRENCY: Record<string, string> = {
  $: "usd",
  "€": "eur",
  "£": "gbp",
  "¥": "jpy",
  usd: "usd",
  eur: "eur",
  gbp: "gbp",
};

// Order matters: dates first (they contain numbers), then money, percents, plain numbers.
const PATTERNS: Array<{ kind: FactKind | "date-iso" | "date-dmy" | "date-mdy" | "date-my"; re: RegExp }> = [
  { kind: "date-iso", re: /\b(\d{4})-(\d{2})-(\d{2})\b/g },
  { kind: "date-mdy", re: new RegExp(`\\b(${MONTH_RE})\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?,?\\s+(\\d{4})\\b`, "gi") },
  { kind: "date-dmy", re: new RegExp(`\\b(\\d{1,2})(?:st|nd|rd|th)?\\s+(${MONTH_RE})\\.?,?\\s+(\\d{4})\\b`, "gi") },
  { kind: "date-my", re: new RegExp(`\\b(${MONTH_RE})\\.?\\s+(\\d{4})\\b`, "gi") },
  {
    kind: "money",
    re: /(?:([$€£¥])\s?(\d[\d,]*(?:\.\d+)?)|\b(\d[\d,]*(?:\.\d+)?)\s?(usd|eur|gbp)\b)(?:\s?(thousand|million|billion|trillion|bn|mn|[kmb])\b)?/gi,
  },
  { kind: "percent", re: /(?<![\w.])(-?\d+(?:[.,]\d+)?)\s?(%|percent\b|per cent\b)/gi },
  {
    kind: "number",
    re: /(?<![\w.,$€£¥-])(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?)(?:\s?(thousand|million|billion|trillion|bn|mn)\b)?(?![\w%]|[.,]\d)/gi,
  },
];

const UNIT_STOP = new Set([
  "and",
  "or",
  "to",
  "of",
  "in",
  "on",
  "at",
  "the",
  "a",
  "an",
  "per",
  "for",
  "by",
  "from",
  "with",
]);

function parseNumber(raw: string): number {
  const s = /,\d{3}(?!\d)/.test(raw) ? raw.replace(/,/g, "") : raw.replace(",", ".");
  return Number(s);
}

const utcDay = (y: number, m: number, d: number) => Date.UTC(y, m, d);

/**
 * Extracts the numeric and date facts of a text, sentence by sentence: money ("$49", "3.5 million
 * EUR"), percentages, plain numbers with the unit word that follows them, and dates (ISO, "March 5,
 * 2024", "5 March 2024", "March 2024"). Each fact carries the stemmed content words within
 * `window` words of it in its sentence — the subject two facts must share to be comparable.
 */
export function extractFacts(text: string, options: { window?: number } = {}): Fact[] {
  const window = options.window ?? 8;
  const out: Fact[] = [];
  for (const s of splitSentences(text)) {
    const sentence = s.text.replace(/\[\d+(?:\s*[,–-]\s*\d+)*\]/g, " ");
    const taken: Array<[number, number]> = [];
    const overlaps = (a: number, b: number) => taken.some(([x, y]) => a < y && b > x);
    const found: Array<{ fact: Omit<Fact, "subject" | "near" | "sentence">; start: number; end: number }> = [];
    for (const p of PATTERNS) {
      p.re.lastIndex = 0;
      for (const m of sentence.matchAll(p.re)) {
        const start = m.index!;
        const end = start + m[0].length;
        if (overlaps(start, end)) continue;
        let fact: Omit<Fact, "subject" | "near" | "sentence"> | undefined;
        if (p.kind === "date-iso") {
          const [y, mo, d] = [Number(m[1]), Number(m[2]) - 1, Number(m[3])];
          if (mo >= 0 && mo < 12 && d >= 1 && d <= 31)
            fact = { kind: "date", value: utcDay(y, mo, d), precision: "day", text: m[0], unit: "" };
        } else if (p.kind === "date-mdy" || p.kind === "date-dmy") {
          const [mon, day]: [string, number] = p.kind === "date-mdy" ? [m[1]!, Number(m[2])] : [m[2]!, Number(m[1])];
          const mi = monthIndex(mon);
          if (mi >= 0 && day >= 1 && day <= 31)
            fact = { kind: "date", value: utcDay(Number(m[3]), mi, day), precision: "day", text: m[0], unit: "" };
        } else if (p.kind === "date-my") {
          const mi = monthIndex(m[1]!);
          // "may 2024" is a date; a bare "may" verb followed by a year-like number is rare enough.
          if (mi >= 0)
            fact = { kind: "date", value: utcDay(Number(m[2]), mi, 1), precision: "month", text: m[0], unit: "" };
        } else if (p.kind === "money") {
          const sym = (m[1] ?? m[4] ?? "").toLowerCase();
          const n = parseNumber(m[2] ?? m[3] ?? "");
          const scale = m[5] ? (SCALE[m[5].toLowerCase()] ?? 1) : 1;
          if (Number.isFinite(n)) fact = { kind: "money", value: n * scale, text: m[0], unit: CURRENCY[sym] ?? sym };
        } else if (p.kind === "percent") {
          const n = parseNumber(m[1]!);
          if (Number.isFinite(n)) fact = { kind: "percent", value: n, text: m[0], unit: "%" };
        } else {
          const n = parseNumber(m[1]!);
          const scale = m[2] ? (SCALE[m[2].toLowerCase()] ?? 1) : 1;
          if (!Number.isFinite(n)) continue;
          // A four-digit year on its own is a date of year precision.
          if (!m[2] && /^\d{4}$/.test(m[1]!) && n >= 1800 && n <= 2200) {
            fact = { kind: "date", value: utcDay(n, 0, 1), precision: "year", text: m[0], unit: "" };
          } else {
            const after = /^\s+([\p{L}]+)/u.exec(sentence.slice(end))?.[1]?.toLowerCase() ?? "";
            const unit = after && !UNIT_STOP.has(after) ? (contentTerms(after)[0] ?? "") : "";
            fact = { kind: "number", value: n * scale, text: m[0], unit };
          }
        }
        if (!fact) continue;
        taken.push([start, end]);
        found.push({ fact, start, end });
      }
    }
    if (found.length === 0) continue;
    // Words of the sentence with their positions, for the subject window.
    const words = [...sentence.matchAll(/[\p{L}][\p{L}\p{N}'’-]*/gu)].map((w) => ({
      start: w.index!,
      end: w.index! + w[0].length,
      term: contentTerms(w[0])[0],
    }));
    for (const f of found) {
      const before = words.filter((w) => w.end <= f.start).slice(-window);
      const after = words.filter((w) => w.start >= f.end).slice(0, window);
      const keep = (w: { term: string | undefined }) =>
        Boolean(w.term) &&
        w.term !== f.fact.unit &&
        !MONTHS.some((mo) => mo.startsWith(w.term!) && w.term!.length >= 3);
      const subject = new Set([...before, ...after].filter(keep).map((w) => w.term!));
      const near = new Set([...before.slice(-3), ...after.slice(0, 3)].filter(keep).map((w) => w.term!));
      out.push({ ...f.fact, subject: [...subject].sort(), near: [...near].sort(), sentence: s.text });
    }
  }
  return out;
}
