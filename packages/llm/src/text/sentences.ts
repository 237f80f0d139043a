export interface Sentence {
  text: string;
  start: number;
  end: number;
}

// Words that end with a period without ending the sentence.
const ABBREVIATIONS = new Set(
  "mr mrs ms dr prof sr jr st vs etc eg ie e.g i.e cf al fig figs no nos vol approx inc ltd co corp dept est jan feb mar apr jun jul aug sep sept oct nov dec mt ft u.s u.k u.s.a ph.d a.m p.m".split(
    " ",
  ),
);

/**
 * Splits prose into sentences with offsets. Handles abbreviations ("Dr. Smith"), initials
 * ("J. R. Tolkien"), decimals, closing quotes and brackets, blank lines and list items, and
 * keeps trailing citation markers with the sentence they follow ("… blue. [1] Next" →
 * "… blue. [1]" + "Next").
 */
export function splitSentences(text: string): Sentence[] {
  const out: Sentence[] = [];
  let start = 0;
  const push = (end: number) => {
    const raw = text.slice(start, end);
    const lead = raw.length - raw.trimStart().length;
    const trimmed = raw.trim();
    if (trimmed) out.push({ text: trimmed, start: start + lead, end: start + lead + trimmed.length });
    start = end;
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    // Paragraph breaks and list items always end a sentence.
    if (c === "\n") {
      const rest = text.slice(i + 1);
      if (/^\s*\n/.test(rest) || /^\s*(?:[-*•]\s|\d+[.)]\s)/.test(rest)) {
        push(i);
        i++;
        continue;
      }
    }
    if (c === "." || c === "!" || c === "?" || c === "…" || c === "。") {
      let j = i + 1;
      while (j < text.length && /[.!?…]/.test(text[j]!)) j++;
      while (j < text.length && /["'”’)\]]/.test(text[j]!) && !/^\[\d/.test(text.slice(j))) j++;
      // Citation markers right after the full stop belong to this sentence.
      const cites = /^(?:\s*\[\d+(?:\s*[,–-]\s*\d+)*\])+/.exec(text.slice(j));
      if (cites) j += cites[0].length;
      const next = text.slice(j);
      const boundary = j >= text.length || (/^\s/.test(next) && /^\s+(?:["'“‘([]?[\p{Lu}\p{N}]|$)/u.test(next));
      if (boundary && c === "." && !cites && isAbbreviation(text, i)) {
        i = j;
        continue;
      }
      if (boundary) {
        push(j);
        i = j;
        continue;
      }
      i = j;
      continue;
    }
    i++;
  }
  push(text.length);
  return out;
}

function isAbbreviation(text: string, dot: number): boolean {
  const before = /([\p{L}.]+)$/u.exec(text.slice(Math.max(0, dot - 12), dot));
  if (!before) return false;
  const word = before[1]!.toLowerCase().replace(/^\.+/, "");
  if (ABBREVIATIONS.has(word)) return true;
  // A single capital letter is an initial ("J. Smith"), not a sentence end.
  return /^\p{Lu}$/u.test(before[1]!);
}
