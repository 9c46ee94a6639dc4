/**
 * Model engines, tokenizers and artifacts: what a runner loads (`loadEngine`), how the API brings
 * a model in (`importArtifact`, `checkArtifactIsolated`), and the pre-trained catalog
 * (`ensureShippedPretrained`, `listPretrained`).
 */
export * from './types.js';
export { loadEngine } from './load-engine.js';
export {
  readManifest,
  verifyArtifact,
  writeManifest,
  buildManifest,
  saveManifest,
  artifactIdOf,
  hashFile,
  MANIFEST_FILE,
  type ManifestDraft,
} from './manifest.js';
export { importArtifact, type ImportedArtifact, type ModelImportMeta } from './import-artifact.js';
export { checkArtifactIsolated, checkChildEnv, operatorDetailOf, type CheckOptions } from './check-isolated.js';
export { isSafeRelativePath, MAX_ARTIFACT_FILES, type FileLimits } from './safe-files.js';
export { ensureShippedPretrained, SHIPPED_USE_ID } from './shipped-use.js';
export { installPretrained, listPretrained, type PretrainedListing, type SkippedPretrained } from './pretrained.js';
export { measureEngineThroughput, measureTokenizeThroughput } from './throughput.js';
export { HfTokenizer, type TextTokenizer, type Encoded } from './tokenizer.js';
export { l2NormalizeRows, poolTokens, type Pooling } from './pooling.js';
