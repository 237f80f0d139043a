import { categoryStrings, requireColumn, resolveColumns } from "./columns.js";
import type { StepState, TextHashStep } from "./specs.js";
import type { Feature, StepKind, Work } from "./types.js";

/** 32-bit FNV-1a over UTF-16 code units: fixed, so a token lands in the same bucket everywhere. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const WORD = /[\p{L}\p{N}]+/gu;

/** Lower-cased words (letters and digits), plus adjacent pairs for `ngrams: 2`. */
export function tokens(text: string, ngrams: 1 | 2): string[] {
  const words = text.toLowerCase().match(WORD) ?? [];
  if (ngrams === 1) return words;
  const out = [...words];
  for (let i = 1; i < words.length; i++) out.push(`${words[i - 1]} ${words[i]}`);
  return out;
}

function apply(spec: TextHashStep, work: Work, state: StepState<"textHash">): Work {
  const buckets = spec.buckets ?? 32;
  const ngrams = spec.ngrams ?? 1;
  const out: Feature[] = [];
  for (const name of state.columns) {
    const strings = categoryStrings(requireColumn("textHash", work, name, ["text", "categorical"]));
    const cols = Array.from({ length: buckets }, () => new Float64Array(strings.length));
    strings.forEach((s, i) => {
      if (s === null) return;
      for (const t of tokens(s, ngrams)) {
        const b = fnv1a(t) % buckets;
        cols[b]![i] = spec.binary ? 1 : cols[b]![i]! + 1;
      }
    });
    cols.forEach((values, b) => {
      out.push({ name: `${name}#${b}`, values, categorical: false });
    });
  }
  const consumed = new Set(work.consumed);
  for (const n of state.columns) consumed.add(n);
  return { frame: work.frame, features: [...work.features, ...out], consumed };
}

/**
 * The hashing trick for free text: words (and word pairs) counted into a fixed number
 * of buckets per column (`notes#0` ... `notes#31`). Nothing is learned, so unseen
 * words at serving time still land in a bucket; missing text counts no words.
 */
export const textHashKind: StepKind<TextHashStep, StepState<"textHash">> = {
  fit(spec, work) {
    const state = {
      columns: resolveColumns("textHash", spec.columns, work, spec.columns ? ["text", "categorical"] : ["text"]),
    };
    return { state, work: apply(spec, work, state) };
  },
  transform: (spec, state, work) => apply(spec, work, state),
};
