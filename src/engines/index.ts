export * from './types.js';
export { loadEngine } from './load-engine.js';
export { readManifest, verifyArtifact, writeManifest, artifactIdOf, hashFile, MANIFEST_FILE, type ManifestDraft } from './manifest.js';
export { HfTokenizer, type TextTokenizer, type Encoded } from './tokenizer.js';
export { l2NormalizeRows, poolTokens, type Pooling } from './pooling.js';
