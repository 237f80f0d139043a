import { type Agreement, type Claim, type Conflict, type ConflictOptions, detectConflicts } from "./conflicts.js";
import { type DuplicateCluster, findNearDuplicates, type NearDuplicateOptions } from "./dedup.js";
import { priorityOf, type SourcedPassage, timeOf } from "./types.js";

/** How a conflict is settled: the first rule that singles out one claim wins. */
export type ResolutionRule = "priority" | "recency";

export interface Resolution {
  conflictId: string;
  subject: string;
  /** The claim to believe, when a rule decided. */
  winner?: Claim;
  losers: Claim[];
  rule: ResolutionRule | "unresolved";
  /** For people: "handbook (priority 10) over wiki (priority 0)". */
  reason: string;
}

/** Where a passage stands among the others: who says the same, who says otherwise. */
export interface PassageProvenance {
  passageId: string;
  source: string;
  /** Near-duplicates of this passage in other places (dropped or kept), with their similarity. */
  duplicates: Array<{ passageId: string; source: string; similarity: number }>;
  /** Other sources that state the same content (near-duplicates) or the same values. */
  agreedBy: string[];
  disagreements: Array<{
    conflictId: string;
    subject: string;
    otherSource: string;
    otherPassageId: string;
    mine: string;
    theirs: string;
    outcome: "won" | "lost" | "unresolved";
    rule: Resolution["rule"];
  }>;
}

export interface ReconcileOptions extends NearDuplicateOptions {
  /** Conflict detection settings (judge, overlap thresholds). */
  conflicts?: ConflictOptions;
  /** Rules in order (default priority, then recency). */
  order?: ResolutionRule[];
  /** Keep one passage per near-duplicate group (default true). */
  dropDuplicates?: boolean;
}

export interface ReconcileResult {
  /** The passages to use, in input order. */
  passages: SourcedPassage[];
  dropped: Array<{ passageId: string; keptInstead: string; reason: "near-duplicate" | "superseded" }>;
  duplicates: DuplicateCluster[];
  conflicts: Conflict[];
  resolutions: Resolution[];
  agreements: Agreement[];
  provenance: Record<string, PassageProvenance>;
  judgeCalls: number;
}

/**
 * Settles each conflict by the rules in order: `priority` (the source's priority, higher wins)
 * then `recency` (the newer content wins, by updatedAt else fetchedAt). A rule that leaves a tie
 * hands the tied claims to the next; when none decides, the conflict is `unresolved`.
 */
export function resolveConflicts(
  conflicts: readonly Conflict[],
  passages: readonly SourcedPassage[],
  order: readonly ResolutionRule[] = ["priority", "recency"],
): Resolution[] {
  const byId = new Map(passages.map((p) => [p.id, p]));
  return conflicts.map((c) => {
    let pool = c.claims.filter((cl) => byId.has(cl.passageId));
    let decided: ResolutionRule | undefined;
    const notes: string[] = [];
    for (const rule of order) {
      const key = (cl: Claim) => {
        const p = byId.get(cl.passageId)!;
        return rule === "priority" ? priorityOf(p) : (timeOf(p) ?? Number.NEGATIVE_INFINITY);
      };
      const best = Math.max(...pool.map(key));
      const top = pool.filter((cl) => key(cl) === best);
      if (top.length < pool.length && Number.isFinite(best)) {
        const rest = pool.filter((cl) => key(cl) !== best);
        const fmt = (cl: Claim) =>
          rule === "priority"
            ? `${cl.source} (priority ${key(cl)})`
            : `${cl.source} (${Number.isFinite(key(cl)) ? new Date(key(cl)).toISOString().slice(0, 10) : "undated"})`;
        notes.push(`${top.map(fmt).join(", ")} over ${rest.map(fmt).join(", ")}`);
        pool = top;
        if (pool.length === 1) {
          decided = rule;
          break;
        }
      }
    }
    const winner = decided ? pool[0] : undefined;
    return {
      conflictId: c.id,
      subject: c.subject,
      ...(winner ? { winner } : {}),
      losers: winner ? c.claims.filter((cl) => cl !== winner) : [],
      rule: decided ?? "unresolved",
      reason: winner
        ? `${decided}: ${notes.join("; then ")}`
        : `no rule decides between ${c.claims.map((cl) => cl.source).join(" and ")} (same priority and date)`,
    };
  });
}

/**
 * Reconciles passages retrieved from several sources: groups near-duplicates (MinHash + LSH),
 * detects conflicting facts (numbers and dates around the same subject; an LLM judge optionally
 * confirms them and checks near-duplicate pairs), resolves each by source priority then recency,
 * keeps one passage per near-duplicate group (the one that won its conflicts, else the higher
 * priority, else the newer), and records for every passage which sources agreed and which
 * disagreed — provenance an answer can show.
 */
export async function reconcile(
  passages: readonly SourcedPassage[],
  options: ReconcileOptions = {},
): Promise<ReconcileResult> {
  const order = options.order ?? ["priority", "recency"];
  const { clusters, pairs } = findNearDuplicates(
    passages.map((p) => ({ id: p.id, text: p.text })),
    options,
  );
  const judgePairs = pairs.map((p) => [p.a, p.b] as [string, string]);
  const { conflicts, agreements, judgeCalls } = await detectConflicts(passages, {
    ...options.conflicts,
    ...(options.conflicts?.judge ? { judgePairs: [...(options.conflicts.judgePairs ?? []), ...judgePairs] } : {}),
  });
  const resolutions = resolveConflicts(conflicts, passages, order);
  const byId = new Map(passages.map((p) => [p.id, p]));
  const index = new Map(passages.map((p, i) => [p.id, i]));
  const lost = new Set(resolutions.flatMap((r) => r.losers.map((l) => l.passageId)));
  const won = new Set(resolutions.flatMap((r) => (r.winner ? [r.winner.passageId] : [])));

  const dropped: ReconcileResult["dropped"] = [];
  if (options.dropDuplicates ?? true) {
    for (const c of clusters) {
      const rank = (id: string) => {
        const p = byId.get(id)!;
        return [won.has(id) ? 1 : 0, lost.has(id) ? 0 : 1, priorityOf(p), timeOf(p) ?? 0, -index.get(id)!];
      };
      const best = [...c.ids].sort((a, b) => {
        const ra = rank(a);
        const rb = rank(b);
        for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return rb[i]! - ra[i]!;
        return 0;
      })[0]!;
      for (const id of c.ids) {
        if (id === best) continue;
        const between = (r: Resolution) => {
          const c2 = conflicts.find((x) => x.id === r.conflictId)!;
          return c2.claims.some((l) => l.passageId === id) && c2.claims.some((l) => l.passageId === best);
        };
        // An open disagreement between the two is for the reader to see: keep both.
        if (resolutions.some((r) => r.rule === "unresolved" && between(r))) continue;
        const superseded = resolutions.some(
          (r) => r.winner?.passageId === best && r.losers.some((l) => l.passageId === id),
        );
        dropped.push({ passageId: id, keptInstead: best, reason: superseded ? "superseded" : "near-duplicate" });
      }
    }
  }
  const droppedIds = new Set(dropped.map((d) => d.passageId));

  const provenance: Record<string, PassageProvenance> = {};
  for (const p of passages) {
    const dups = pairs
      .filter((x) => x.a === p.id || x.b === p.id)
      .map((x) => {
        const other = x.a === p.id ? x.b : x.a;
        return { passageId: other, source: byId.get(other)!.source.name, similarity: x.similarity };
      });
    const agreedBy = new Set<string>();
    for (const d of dups) if (d.source !== p.source.name) agreedBy.add(d.source);
    for (const a of agreements) {
      if (a.passageIds.includes(p.id)) for (const s of a.sources) if (s !== p.source.name) agreedBy.add(s);
    }
    const disagreements: PassageProvenance["disagreements"] = [];
    for (const c of conflicts) {
      const mine = c.claims.find((cl) => cl.passageId === p.id);
      if (!mine) continue;
      const r = resolutions.find((x) => x.conflictId === c.id)!;
      for (const other of c.claims) {
        if (other === mine) continue;
        disagreements.push({
          conflictId: c.id,
          subject: c.subject,
          otherSource: other.source,
          otherPassageId: other.passageId,
          mine: mine.text,
          theirs: other.text,
          outcome: !r.winner ? "unresolved" : r.winner.passageId === p.id ? "won" : "lost",
          rule: r.rule,
        });
      }
    }
    provenance[p.id] = {
      passageId: p.id,
      source: p.source.name,
      duplicates: dups,
      agreedBy: [...agreedBy],
      disagreements,
    };
  }
  return {
    passages: passages.filter((p) => !droppedIds.has(p.id)),
    dropped,
    duplicates: clusters,
    conflicts,
    resolutions,
    agreements,
    provenance,
    judgeCalls,
  };
}
