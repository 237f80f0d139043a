/**
 * Prompt-injection detection for user input and for retrieved text: a scored rule set.
 * Each rule that fires contributes its weight; the score combines them as a noisy-OR
 * (1 − Π(1 − wᵢ)), so one strong signal or several weak ones push it up. Text hidden from a
 * human reader (zero-width/tag characters, base64, HTML comments) is decoded and scanned
 * again, because that is where indirect injections hide.
 */

export type InjectionSource = "user" | "retrieved";

export interface InjectionRuleMatch {
  rule: string;
  weight: number;
  /** The matched excerpt (decoded, when it came from hidden text). */
  excerpt: string;
  /** Where it was found: the visible text, or a hidden layer that was decoded. */
  via: "text" | "zero-width-tags" | "base64" | "comment";
}

export interface InjectionResult {
  /** 0..1, noisy-OR of the fired rules' weights. */
  score: number;
  /** True when `score >= threshold`. */
  flagged: boolean;
  matches: InjectionRuleMatch[];
}

export interface DetectInjectionOptions {
  /**
   * `retrieved` raises the weight of instructions addressed to the model: a web page or a
   * document has no business telling the assistant what to do, while a user sometimes does.
   */
  source?: InjectionSource;
  /** Default 0.5. */
  threshold?: number;
}

interface Rule {
  id: string;
  weight: number;
  /** Extra weight when the text came from retrieval rather than the user. */
  retrievedBoost?: number;
  patterns: RegExp[];
}

const PREV = String.raw`(?:all\s+|any\s+|the\s+|your\s+|of\s+(?:the|your)\s+)*(?:previous|prior|above|earlier|preceding|foregoing|original|initial|system|developer|safety)(?:\s+(?:and|or|&)\s+(?:following|subsequent|later|other|system|safety))?`;
const RULESET =
  "(?:instructions?|prompts?|rules|directions|directives|guidelines|context|messages?|constraints|restrictions|guardrails|programming)";

const RULES: readonly Rule[] = [
  {
    id: "instruction-override",
    weight: 0.8,
    patterns: [
      new RegExp(
        String.raw`\b(?:ignore|disregard|forget|skip|bypass|override|overrule|neglect)\s+(?:about\s+)?${PREV}\s+${RULESET}`,
        "i",
      ),
      /\b(?:ignore|disregard|forget)\s+(?:everything|all|anything)\s+(?:you\s+(?:were|have\s+been)\s+told|(?:said|written|stated)\s+(?:above|before)|(?:above|before))/i,
      new RegExp(
        String.raw`\b(?:do\s+not|don't|stop)\s+(?:follow(?:ing)?|obey(?:ing)?)\s+(?:the\s+|your\s+)?(?:previous|prior|above|system|original)\s+${RULESET}`,
        "i",
      ),
      /\b(?:new|updated|revised|real)\s+(?:system\s+)?instructions?\s*(?::|are\b|follow\b)/i,
      /\bfrom\s+now\s+on,?\s+(?:you\s+(?:will|must|are|shall)|ignore|respond|answer|only)/i,
      /\byour\s+(?:new|real|true)\s+(?:task|goal|purpose|objective|instructions?)\s+(?:is|are)\b/i,
    ],
  },
  {
    id: "system-prompt-exfiltration",
    weight: 0.7,
    patterns: [
      /\b(?:reveal|print|show|display|repeat|output|leak|dump|tell\s+me|give\s+me|write\s+out|recite)\s+(?:me\s+)?(?:(?:your|the)\s+(?:full\s+|entire\s+|complete\s+|exact\s+|original\s+|secret\s+)*(?:system\s+prompt|system\s+message|developer\s+message|hidden\s+instructions|initial\s+instructions|original\s+instructions|secret\s+instructions)|your\s+(?:full\s+|entire\s+|complete\s+|exact\s+)*(?:prompt|instructions))/i,
      /\b(?:repeat|print|output)\s+(?:everything|all(?:\s+the)?\s+text|the\s+text)\s+(?:above|before)\b/i,
      /\bwhat\s+(?:is|are|were)\s+your\s+(?:system\s+prompt|initial\s+instructions|original\s+instructions|hidden\s+instructions)/i,
    ],
  },
  {
    id: "jailbreak-roleplay",
    weight: 0.65,
    patterns: [
      /\bDAN\b.{0,40}\b(?:do\s+anything\s+now|mode|jailbreak)|\bdo\s+anything\s+now\b/i,
      /\b(?:god|jailbreak|jailbroken|unrestricted|unfiltered|evil|sudo|dan)\s+mode\b/i,
      /\b(?:in|with|enter|enable|activate)\s+(?:developer|debug)\s+mode,?\s+(?:you\b|in\s+(?:developer|debug)\s+mode\s+you\b)/i,
      /\bjailbreak\s+(?:prompt|this|the\s+(?:ai|model|assistant))|\byou\s+(?:are|have\s+been)\s+jailbroken\b/i,
      /\b(?:pretend|imagine|act\s+as\s+if|roleplay\s+as|role-play\s+as)\b.{0,80}\b(?:no|without|free\s+(?:of|from))\s+(?:any\s+)?(?:restrictions|filters|rules|limits|guidelines|ethic|censorship|moral)/i,
      /\byou\s+are\s+(?:now\s+)?(?:no\s+longer\s+(?:an?\s+)?(?:ai|assistant|bound|restricted|chatgpt|claude)|an?\s+(?:unrestricted|unfiltered|uncensored|rogue)\b)/i,
      /\b(?:act|behave|respond)\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored)\b/i,
      /\bstay\s+in\s+character\b.{0,80}\b(?:no\s+matter|even\s+if|regardless)/i,
    ],
  },
  {
    id: "fake-role-marker",
    weight: 0.6,
    retrievedBoost: 0.2,
    patterns: [
      /<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id)\|>/i,
      /\[\/?INST\]|<<\/?SYS>>|<\/?s>\s*\[INST\]/,
      /(?:^|\n)\s*(?:#{1,4}\s*)?(?:system|assistant|developer)\s*(?:message|prompt)?\s*:\s*\S/i,
      /(?:^|\n)\s*#{2,4}\s*(?:new\s+)?(?:system|instructions?|admin)\b/i,
    ],
  },
  {
    id: "addressed-to-ai",
    weight: 0.35,
    retrievedBoost: 0.35,
    patterns: [
      /\b(?:attention\s*(?:to|for|[:,])?|(?:note|important|message|instructions?)\s*(?:to|for|[:,]))\s+(?:the\s+|any\s+|all\s+)?(?:ai|a\.i\.|assistant|llm|language\s+model|chatbot|model|gpt|agent|bot)s?\b/i,
      /\b(?:if\s+you\s+are\s+an?|as\s+an?|dear)\s+(?:ai|llm|language\s+model|ai\s+assistant|chatbot|gpt)\b.{0,60}\b(?:you\s+must|must|should|need\s+to|have\s+to|please)\b/i,
      /\b(?:ai|assistant|llm|model)s?\s*(?:reading|processing|summari[sz]ing)\s+this\b/i,
    ],
  },
  {
    id: "exfiltration-url",
    weight: 0.6,
    retrievedBoost: 0.2,
    patterns: [
      /!\[[^\]]*\]\(\s*https?:\/\/[^)\s]*\?[^)\s]*(?:\{|%7B|\$|<)[^)\s]*\)/i,
      /\b(?:send|post|forward|upload|transmit|exfiltrate|leak|append|include|embed|encode)\b.{0,60}\b(?:conversation|chat\s+history|previous\s+messages|user(?:'s)?\s+(?:data|messages|email|password|details)|api\s+keys?|secrets?|credentials|passwords?|session|cookies?)\b.{0,60}\b(?:to|into|in|as)\s+(?:the\s+|this\s+|a\s+|an\s+)?(?:url|link|image|https?:\/\/|webhook|endpoint|query\s+string|server)/i,
      /<img\b[^>]*\bsrc\s*=\s*["']?https?:\/\/[^"'>\s]*\?[^"'>\s]*(?:\{|%7B|\$)/i,
      /\b(?:visit|open|fetch|request|load|navigate\s+to)\s+https?:\/\/\S+\?\S*(?:\{|%7B)(?:data|secret|conversation|history|user|key|token|password)/i,
    ],
  },
  {
    id: "tool-abuse",
    weight: 0.45,
    retrievedBoost: 0.2,
    patterns: [
      /\b(?:execute|run|call|invoke)\s+(?:the\s+)?(?:following|this)\s+(?:shell\s+|bash\s+|system\s+)?(?:command|code|script|tool|function)\b/i,
      /\brm\s+-rf\s+[/~]|\bcurl\s+[^|\n]{0,120}\|\s*(?:ba|z)?sh\b|\bwget\s+\S+\s*(?:&&|;|\|)\s*(?:ba)?sh\b/i,
      /\b(?:delete|drop|wipe|transfer|wire)\s+(?:all|every|the\s+entire)\s+(?:files|records|database|tables|funds|money|users|emails)\b/i,
    ],
  },
];

const HIDDEN_CHARS = /[\u200B-\u200D\u2060-\u2064\uFEFF\u202A-\u202E\u2066-\u2069\u00AD]/g;
const TAG_CHARS = /[\u{E0000}-\u{E007F}]/gu;

/** Decodes Unicode "tag" characters (U+E0020–E007E), which render invisibly but carry ASCII. */
function decodeTagCharacters(text: string): string {
  let out = "";
  for (const ch of text.matchAll(TAG_CHARS)) {
    const cp = ch[0].codePointAt(0)! - 0xe0000;
    if (cp >= 0x20 && cp <= 0x7e) out += String.fromCharCode(cp);
  }
  return out;
}

function decodeBase64Blobs(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{24,}={0,2}(?![A-Za-z0-9+/=_-])/g)) {
    const blob = m[0];
    // Long runs with no digits, no symbols and natural word shapes are prose or identifiers, not base64.
    if (!/[A-Z]/.test(blob) || !/[a-z]/.test(blob)) continue;
    let decoded: string;
    try {
      decoded = Buffer.from(blob.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8");
    } catch {
      continue;
    }
    const printable = decoded.replace(/[^\x20-\x7E\n\r\t]/g, "").length;
    if (decoded.length >= 12 && printable / decoded.length > 0.95 && /[a-z]{3,}\s+[a-z]{2,}/i.test(decoded)) {
      out.push(decoded);
    }
  }
  return out;
}

function extractComments(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/<!--([\s\S]*?)-->/g)) out.push(m[1]!);
  for (const m of text.matchAll(/^\s*\[\/\/\]:\s*#\s*\(([^)]*)\)/gm)) out.push(m[1]!);
  for (const m of text.matchAll(
    /<(\w+)[^>]*style\s*=\s*["'][^"']*(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0)[^>]*>([\s\S]*?)<\/\1>/gi,
  ))
    out.push(m[2]!);
  return out;
}

function runRules(
  text: string,
  via: InjectionRuleMatch["via"],
  source: InjectionSource,
  extra: number,
): InjectionRuleMatch[] {
  const out: InjectionRuleMatch[] = [];
  for (const rule of RULES) {
    for (const re of rule.patterns) {
      const m = re.exec(text);
      if (!m) continue;
      const weight = Math.min(0.99, rule.weight + (source === "retrieved" ? (rule.retrievedBoost ?? 0) : 0) + extra);
      out.push({ rule: rule.id, weight, excerpt: m[0].slice(0, 160), via });
      break;
    }
  }
  return out;
}

/**
 * Scores text for prompt injection. Use `source: "retrieved"` for documents and tool output
 * headed into a prompt, where any instruction addressed to the model is suspect.
 *
 * Rule-based, so it catches known phrasings and hiding tricks, not novel paraphrases; treat a
 * low score as "no known pattern", not as "safe".
 */
export function detectInjection(text: string, options: DetectInjectionOptions = {}): InjectionResult {
  const source = options.source ?? "user";
  const threshold = options.threshold ?? 0.5;
  const matches: InjectionRuleMatch[] = [];
  const visible = text.normalize("NFKC").replace(HIDDEN_CHARS, "").replace(TAG_CHARS, "");
  matches.push(...runRules(visible, "text", source, 0));

  const hiddenCount = (text.match(HIDDEN_CHARS)?.length ?? 0) + (text.match(TAG_CHARS)?.length ?? 0);
  const tagged = decodeTagCharacters(text);
  if (tagged.trim()) {
    // Invisible ASCII is only ever there to be read by a machine: any instruction in it is hostile.
    matches.push({ rule: "hidden-characters", weight: 0.6, excerpt: tagged.slice(0, 160), via: "zero-width-tags" });
    matches.push(...runRules(tagged, "zero-width-tags", source, 0.1));
  } else if (hiddenCount >= 3) {
    matches.push({
      rule: "hidden-characters",
      weight: Math.min(0.5, 0.15 + hiddenCount * 0.03),
      excerpt: `${hiddenCount} invisible characters`,
      via: "text",
    });
  }
  for (const decoded of decodeBase64Blobs(visible)) {
    const inner = runRules(decoded, "base64", source, 0.1);
    if (inner.length)
      matches.push(
        { rule: "encoded-instructions", weight: 0.5, excerpt: decoded.slice(0, 160), via: "base64" },
        ...inner,
      );
  }
  for (const comment of extractComments(visible)) {
    const inner = runRules(comment, "comment", source, 0.1);
    if (inner.length)
      matches.push(
        { rule: "hidden-comment", weight: 0.5, excerpt: comment.trim().slice(0, 160), via: "comment" },
        ...inner,
      );
  }

  // The same rule seen through two layers counts once, at its strongest.
  const best = new Map<string, InjectionRuleMatch>();
  for (const m of matches) {
    const prev = best.get(m.rule);
    if (!prev || m.weight > prev.weight) best.set(m.rule, m);
  }
  const unique = [...best.values()].sort((a, b) => b.weight - a.weight);
  const score = 1 - unique.reduce((p, m) => p * (1 - m.weight), 1);
  return { score, flagged: score >= threshold, matches: unique };
}

/** The rule ids {@link detectInjection} can report. */
export const INJECTION_RULES: readonly string[] = [
  ...RULES.map((r) => r.id),
  "hidden-characters",
  "encoded-instructions",
  "hidden-comment",
];
