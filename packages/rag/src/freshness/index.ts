/** Freshness: incremental sync with tombstones, scheduled re-sync, TTLs, recency boosting, live sources. */
export {
  defineLiveSource,
  formatLiveItem,
  type HttpLiveSourceOptions,
  httpLiveSource,
  type LiveContextItem,
  type LiveResult,
  type LiveSource,
  queryLiveSources,
} from "./live.js";
export { boostByRecency, type RecencyInfo, type RecencyOptions, type Timestamped, timeDecay } from "./recency.js";
export {
  registerSyncJobs,
  runDueSyncs,
  SYNC_JOB,
  type SyncDeps,
  SyncScheduler,
  type SyncTarget,
  syncRegistered,
} from "./schedule.js";
export { type SourceFromSpecContext, type SourceSpec, SourceSpecSchema, sourceFromSpec } from "./specs.js";
export {
  type RegisteredSource,
  type SyncCounts,
  type SyncedDocument,
  type SyncRun,
  type SyncRunStatus,
  SyncState,
  type Tombstone,
} from "./state.js";
export { type SyncEvent, type SyncOptions, type SyncReport, syncSource } from "./sync.js";
export { type ExpireReport, expireDocuments, type TtlPolicy, ttlFilter } from "./ttl.js";
