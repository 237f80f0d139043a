export {
  type ArtifactInfo,
  type ArtifactListFilter,
  type ArtifactMeta,
  ArtifactStore,
  type OpenArtifactStoreOptions,
  type PutResult,
  type VerifyReport,
  type VerifyResult,
} from "./artifact-store.js";
export { type Digest, parseDigest } from "./digest.js";
