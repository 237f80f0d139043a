import { createRequire } from "node:module";
import { type Connection, connect, type Table } from "@lancedb/lancedb";

// LanceDB is CommonJS and checks Arrow types against the CommonJS build of apache-arrow.
const arrow: typeof import("apache-arrow") = createRequire(import.meta.url)("apache-arrow");

/** One fact as the vector index holds it: enough to filter by scope and find the store row. */
export interface FactVectorRow {
  id: string;
  vector: Float32Array;
  scope_user: string;
  scope_agent: string;
  scope_team: string;
  kind: string;
  embedder: string;
}

const TABLE = "agent_facts";

function quote(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * The LanceDB side of semantic memory: fact vectors with their scope, searched by
 * nearest neighbour inside the scope filter, so recall and de-duplication stay fast at
 * millions of facts. The store stays the record of truth (text, sources, confidence,
 * decay); this index only finds candidates and is rebuilt from the store when they
 * disagree.
 */
export class FactVectorIndex {
  private constructor(
    private readonly db: Connection,
    private table: Table | undefined,
    readonly dir: string,
  ) {}

  static async open(dir: string): Promise<FactVectorIndex> {
    const db = await connect(dir);
    const names = await db.tableNames();
    return new FactVectorIndex(db, names.includes(TABLE) ? await db.openTable(TABLE) : undefined, dir);
  }

  /** Width of the stored vectors, or undefined while empty. */
  async dimensions(): Promise<number | undefined> {
    if (!this.table) return undefined;
    const field = (await this.table.schema()).fields.find((f) => f.name === "vector");
    return (field?.type as { listSize?: number } | undefined)?.listSize;
  }

  async count(): Promise<number> {
    return this.table ? this.table.countRows() : 0;
  }

  private async ensure(dims: number): Promise<Table> {
    const have = await this.dimensions();
    if (this.table && have === dims) return this.table;
    // A different width means a different embedder: the old vectors are useless, start over.
    if (this.table) await this.db.dropTable(TABLE);
    const F = (name: string, type: any) => new arrow.Field(name, type, false);
    const schema = new arrow.Schema([
      F("id", new arrow.Utf8()),
      F("scope_user", new arrow.Utf8()),
      F("scope_agent", new arrow.Utf8()),
      F("scope_team", new arrow.Utf8()),
      F("kind", new arrow.Utf8()),
      F("embedder", new arrow.Utf8()),
      F("vector", new arrow.FixedSizeList(dims, new arrow.Field("item", new arrow.Float32(), true))),
    ]);
    this.table = await this.db.createEmptyTable(TABLE, schema, { mode: "overwrite" });
    return this.table;
  }

  /** Inserts or replaces rows by id. */
  async upsert(rows: readonly FactVectorRow[]): Promise<void> {
    if (rows.length === 0) return;
    const table = await this.ensure(rows[0]!.vector.length);
    const data = rows.map((r) => ({ ...r, vector: Array.from(r.vector) }));
    await table.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(data);
  }

  async delete(ids: readonly string[]): Promise<void> {
    if (!this.table || ids.length === 0) return;
    await this.table.delete(`id IN (${ids.map(quote).join(", ")})`);
  }

  /** Replaces everything with `rows` (used when the index and the store disagree). */
  async rebuild(rows: readonly FactVectorRow[]): Promise<void> {
    if (this.table) {
      await this.db.dropTable(TABLE);
      this.table = undefined;
    }
    await this.upsert(rows);
  }

  /**
   * Ids of the `k` nearest facts by cosine distance among those visible in the scope: a
   * fact is visible when each of its scope fields is empty or equal to the query's.
   */
  async nearest(
    vector: Float32Array,
    scope: { scope_user: string; scope_agent: string; scope_team: string },
    k: number,
    options: { kind?: string; exactScope?: boolean } = {},
  ): Promise<string[]> {
    if (!this.table || (await this.dimensions()) !== vector.length) return [];
    const clause = (col: keyof typeof scope) =>
      options.exactScope ? `${col} = ${quote(scope[col])}` : `(${col} = '' OR ${col} = ${quote(scope[col])})`;
    const where = [clause("scope_user"), clause("scope_agent"), clause("scope_team")];
    if (options.kind) where.push(`kind = ${quote(options.kind)}`);
    const rows = await this.table
      .vectorSearch(Array.from(vector))
      .distanceType("cosine")
      .where(where.join(" AND "))
      .select(["id"])
      .limit(k)
      .toArray();
    return rows.map((r: { id: string }) => r.id);
  }
}
