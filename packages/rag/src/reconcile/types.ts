/** A passage with where it came from: what reconciliation compares. */
export interface SourcedPassage {
  id: string;
  text: string;
  title?: string;
  documentId?: string;
  source: { name: string; kind?: string; uri?: string; key?: string; priority?: number };
  /** When the content last changed (epoch ms), if the source says. */
  updatedAt?: number;
  /** When it was fetched (epoch ms). */
  fetchedAt?: number;
}

/** Source priority, 0 when unset. */
export const priorityOf = (p: SourcedPassage) => p.source.priority ?? 0;
/** The content's time: updatedAt, else fetchedAt. */
export const timeOf = (p: SourcedPassage) => p.updatedAt ?? p.fetchedAt;
