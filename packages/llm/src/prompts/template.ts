import { ValidationError } from "@quintet/core";

/**
 * Template syntax (deliberately logic-free):
 *
 * - `{{name}}` inserts a variable; whitespace inside the braces is ignored.
 * - `{{name | filter}}` applies a filter: `json` (JSON.stringify), `lines` (array joined by
 *   newlines), `bullets` ("- " before each item), `upper`, `lower`, `trim`.
 * - Arrays without a filter are joined with ", "; objects render as JSON.
 * - `\{{` renders a literal `{{`.
 *
 * Rendering is a single pass over the template: a value that itself contains `{{x}}` is
 * inserted as text and never interpreted, so user input cannot inject template syntax.
 */
export const TEMPLATE_FILTERS = ["json", "lines", "bullets", "upper", "lower", "trim"] as const;
export type TemplateFilter = (typeof TEMPLATE_FILTERS)[number];

type Part = { kind: "text"; text: string } | { kind: "var"; name: string; filters: TemplateFilter[] };

const TAG = /\\\{\{|\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*((?:\|\s*[a-z]+\s*)*)\}\}|\{\{/g;

/** Parses a template, rejecting malformed tags and unknown filters with the offending text. */
export function parseTemplate(template: string): Part[] {
  const parts: Part[] = [];
  let pos = 0;
  let text = "";
  for (const m of template.matchAll(TAG)) {
    text += template.slice(pos, m.index);
    pos = m.index + m[0].length;
    if (m[0] === "\\{{") {
      text += "{{";
      continue;
    }
    if (m[0] === "{{") {
      const snippet = template.slice(m.index, m.index + 30);
      throw new ValidationError(`malformed template tag at offset ${m.index}: "${snippet}"`, {
        hint: "Use {{name}} or {{name | filter}} with a variable name of letters, digits and _; write \\{{ for a literal {{.",
      });
    }
    const filters = (m[2] ?? "")
      .split("|")
      .map((f) => f.trim())
      .filter(Boolean);
    for (const f of filters) {
      if (!(TEMPLATE_FILTERS as readonly string[]).includes(f)) {
        throw new ValidationError(`unknown template filter "${f}" in {{${m[1]}}}`, {
          hint: `Filters: ${TEMPLATE_FILTERS.join(", ")}.`,
        });
      }
    }
    if (text) parts.push({ kind: "text", text });
    text = "";
    parts.push({ kind: "var", name: m[1]!, filters: filters as TemplateFilter[] });
  }
  text += template.slice(pos);
  if (text) parts.push({ kind: "text", text });
  return parts;
}

/** The variable names a template refers to, in order of first use. */
export function templateVariables(template: string): string[] {
  return [...new Set(parseTemplate(template).flatMap((p) => (p.kind === "var" ? [p.name] : [])))];
}

function show(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(show).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function applyFilter(value: unknown, filter: TemplateFilter): unknown {
  switch (filter) {
    case "json":
      return JSON.stringify(value ?? null);
    case "lines":
      return Array.isArray(value) ? value.map(show).join("\n") : show(value);
    case "bullets":
      return (Array.isArray(value) ? value : [value]).map((v) => `- ${show(v)}`).join("\n");
    case "upper":
      return show(value).toUpperCase();
    case "lower":
      return show(value).toLowerCase();
    case "trim":
      return show(value).trim();
  }
}

/** Renders a parsed template with already-validated values. */
export function renderTemplate(template: string, values: Record<string, unknown>): string {
  let out = "";
  for (const p of parseTemplate(template)) {
    if (p.kind === "text") out += p.text;
    else out += show(p.filters.reduce<unknown>((v, f) => applyFilter(v, f), values[p.name]));
  }
  return out;
}
