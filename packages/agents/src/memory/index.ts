/** Agent memory: token-budgeted working memory, episodic memory of runs, long-term semantic facts; scoped per user, agent and team. */
export {
  type Episode,
  type EpisodeInput,
  type EpisodeKind,
  type EpisodeSearch,
  EpisodicMemory,
  episodeOf,
  type ScoredEpisode,
} from "./episodic.js";
export { type MemoryScope, MemoryScopeSchema } from "./scope.js";
export {
  type Fact,
  type FactKind,
  type RecalledFact,
  type RememberInput,
  SemanticMemory,
  type SemanticMemoryOptions,
} from "./semantic.js";
export { recallEpisodesTool, semanticMemoryTools } from "./tools.js";
export {
  type CompactionPlan,
  SUMMARISER_INSTRUCTIONS,
  SUMMARY_PREFIX,
  WorkingMemory,
  type WorkingMemoryOptions,
} from "./working.js";
