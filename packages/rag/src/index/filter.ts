import { ValidationError } from "@quintet/core";
import { PUBLIC_LABEL } from "../documents/types.js";

/** A scalar a filter compares with. */
export type FilterValue = string | number | boolean;

/** Comparison operators for one field. */
export interface FieldCondition {
  $eq?: FilterValue;
  $ne?: FilterValue;
  $in?: FilterValue[];
  $nin?: FilterValue[];
  $gt?: number;
  $gte?: number;
  $lt?: number;
  $lte?: number;
  $exists?: boolean;
}

/**
 * A metadata filter, MongoDB style: `{ sourceName: "handbook", updatedAt: { $gte: t }, team: { $in: ["a", "b"] } }`,
 * combined with `$and`, `$or` and `$not`. Built-in fields (see {@link FILTER_FIELDS}) compare with
 * any operator; other keys are document metadata and support equality (`$eq`, `$ne`, `$in`, `$nin`).
 */
export type Filter = {
  $and?: Filter[];
  $or?: Filter[];
  $not?: Filter;
} & { [field: string]: FilterValue | FieldCondition | Filter[] | Filter | undefined };

/** Filterable built-in fields and their columns. */
export const FILTER_FIELDS = {
  id: "id",
  documentId: "document_id",
  title: "title",
  sourceKind: "source_kind",
  sourceName: "source_name",
  sourceUri: "source_uri",
  sourceKey: "source_key",
  priority: "source_priority",
  mimeType: "mime_type",
  createdAt: "created_at",
  updatedAt: "updated_at",
  fetchedAt: "fetched_at",
  indexedAt: "indexed_at",
  tokens: "tokens",
  kind: "kind",
} as const;

/** A SQL string literal (single quotes doubled). */
export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function literal(v: FilterValue, field: string): string {
  if (typeof v === "string") return sqlString(v);
  if (typeof v === "number") {
    if (!Number.isFinite(v))
      throw new ValidationError(`filter on ${field}: ${v} is not a finite number`, {
        hint: "Compare with finite numbers.",
      });
    return String(v);
  }
  if (typeof v === "boolean") return v ? "true" : "false";
  throw new ValidationError(`filter on ${field}: unsupported value ${JSON.stringify(v)}`, {
    hint: "Filter values are strings, numbers or booleans.",
  });
}

const OPS = new Set(["$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists"]);

function fieldSql(field: string, cond: FilterValue | FieldCondition): string {
  const c: FieldCondition =
    cond !== null && typeof cond === "object" && !Array.isArray(cond) ? cond : { $eq: cond as FilterValue };
  for (const k of Object.keys(c)) {
    if (!OPS.has(k))
      throw new ValidationError(`filter on ${field}: unknown operator ${k}`, {
        hint: `Use one of ${[...OPS].join(", ")}.`,
      });
  }
  const column = (FILTER_FIELDS as Record<string, string>)[field];
  const parts: string[] = [];
  if (column) {
    if (c.$eq !== undefined) parts.push(`${column} = ${literal(c.$eq, field)}`);
    if (c.$ne !== undefined) parts.push(`(${column} IS NULL OR ${column} <> ${literal(c.$ne, field)})`);
    if (c.$in !== undefined)
      parts.push(c.$in.length ? `${column} IN (${c.$in.map((v) => literal(v, field)).join(", ")})` : "false");
    if (c.$nin?.length)
      parts.push(`(${column} IS NULL OR ${column} NOT IN (${c.$nin.map((v) => literal(v, field)).join(", ")}))`);
    for (const [op, sym] of [
      ["$gt", ">"],
      ["$gte", ">="],
      ["$lt", "<"],
      ["$lte", "<="],
    ] as const) {
      if (c[op] !== undefined) parts.push(`${column} ${sym} ${literal(c[op]!, field)}`);
    }
    if (c.$exists !== undefined) parts.push(`${column} IS ${c.$exists ? "NOT " : ""}NULL`);
  } else {
    if (!/^[\w.-]{1,128}$/.test(field)) {
      throw new ValidationError(`filter field ${JSON.stringify(field)} is not a valid metadata key`, {
        hint: `Use a built-in field (${Object.keys(FILTER_FIELDS).join(", ")}) or a metadata key of letters, digits, _ . -.`,
      });
    }
    const kv = (v: FilterValue) => sqlString(`${field}=${String(v)}`);
    if (c.$eq !== undefined) parts.push(`array_has(meta_kv, ${kv(c.$eq)})`);
    if (c.$ne !== undefined) parts.push(`NOT array_has(meta_kv, ${kv(c.$ne)})`);
    if (c.$in !== undefined)
      parts.push(c.$in.length ? `array_has_any(meta_kv, [${c.$in.map(kv).join(", ")}])` : "false");
    if (c.$nin?.length) parts.push(`NOT array_has_any(meta_kv, [${c.$nin.map(kv).join(", ")}])`);
    if (
      c.$gt !== undefined ||
      c.$gte !== undefined ||
      c.$lt !== undefined ||
      c.$lte !== undefined ||
      c.$exists !== undefined
    ) {
      throw new ValidationError(`filter on metadata key ${field}: only $eq, $ne, $in and $nin are supported`, {
        hint: "Range filters work on the built-in fields (updatedAt, createdAt, priority, tokens…); filter the rest after retrieval.",
      });
    }
  }
  if (parts.length === 0)
    throw new ValidationError(`filter on ${field} has no condition`, { hint: "Give a value or an operator." });
  return parts.length === 1 ? parts[0]! : `(${parts.join(" AND ")})`;
}

/** Compiles a {@link Filter} to the SQL predicate LanceDB evaluates inside the search; undefined for no filter. */
export function compileFilter(filter: Filter | undefined): string | undefined {
  if (!filter) return undefined;
  if (typeof filter !== "object" || Array.isArray(filter)) {
    throw new ValidationError("a filter must be an object", {
      hint: 'E.g. { sourceName: "handbook", team: { $in: ["a"] } }.',
    });
  }
  const parts: string[] = [];
  for (const [k, v] of Object.entries(filter)) {
    if (v === undefined) continue;
    if (k === "$and" || k === "$or") {
      if (!Array.isArray(v) || v.length === 0)
        throw new ValidationError(`${k} needs a non-empty list of filters`, { hint: `{ ${k}: [{…}, {…}] }` });
      const subs = (v as Filter[]).map(compileFilter).filter((s): s is string => Boolean(s));
      if (subs.length) parts.push(`(${subs.join(k === "$and" ? " AND " : " OR ")})`);
    } else if (k === "$not") {
      const sub = compileFilter(v as Filter);
      if (sub) parts.push(`NOT (${sub})`);
    } else if (k.startsWith("$")) {
      throw new ValidationError(`unknown filter operator ${k}`, {
        hint: "Top-level operators are $and, $or and $not.",
      });
    } else {
      parts.push(fieldSql(k, v as FilterValue | FieldCondition));
    }
  }
  return parts.length ? parts.join(" AND ") : undefined;
}

/**
 * Who is searching. `labels` are the access labels the principal holds (everyone holds `public`);
 * `{ all: true }` is for trusted back-office code and evaluation, and bypasses access control.
 */
export type Principal = { labels: readonly string[] } | { all: true };

/** The SQL predicate restricting rows to those the principal may see. */
export function accessPredicate(principal: Principal): string | undefined {
  if ("all" in principal && principal.all) return undefined;
  const labels = [...new Set([PUBLIC_LABEL, ...(principal as { labels: readonly string[] }).labels])];
  for (const l of labels) {
    if (typeof l !== "string" || !/^[A-Za-z0-9_.:@/+-]{1,128}$/.test(l)) {
      throw new ValidationError(`invalid access label ${JSON.stringify(l)} for the principal`, {
        hint: "Labels are 1–128 characters of letters, digits and _ . : @ / + -.",
      });
    }
  }
  return `array_has_any(access, [${labels.map(sqlString).join(", ")}])`;
}

/** ANDs predicates, skipping absent ones. */
export function andPredicates(...preds: Array<string | undefined>): string | undefined {
  const p = preds.filter((x): x is string => Boolean(x));
  return p.length === 0 ? undefined : p.length === 1 ? p[0] : p.map((x) => `(${x})`).join(" AND ");
}
