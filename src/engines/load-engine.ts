import { ModeldError } from '../errors/index.js';
import { readManifest, verifyArtifact } from './manifest.js';
import type { ArtifactManifest, EmbeddingEngine, LoadEngineOptions } from './types.js';

/**
 * Loads an artifact directory into a ready engine: reads manifest.json, checks it against the
 * schema and, unless `trustChecksums`, the sha256 of every listed file; then opens the engine the
 * manifest names (`onnx`: onnxruntime-node with `intraOpThreads`, default 1; `tfjs-use`: the
 * Universal Sentence Encoder lite on tfjs). Throws MODELD_ERR_ARTIFACT_INVALID naming the file or
 * field that is wrong. The engine is not warmed up: the caller runs its own warm-up inference.
 */
export async function loadEngine(artifactDir: string, options: LoadEngineOptions = {}): Promise<EmbeddingEngine> {
  const manifest = options.trustChecksums ? await readManifest(artifactDir) : await verifyArtifact(artifactDir);
  return openEngine(artifactDir, manifest, options);
}

/** Opens the engine for an already-checked manifest. `adoptOutputSize` is for import probing only. */
export async function openEngine(
  artifactDir: string,
  manifest: ArtifactManifest,
  options: LoadEngineOptions & { adoptOutputSize?: boolean } = {},
): Promise<EmbeddingEngine> {
  switch (manifest.engine) {
    case 'onnx': {
      // Loaded on demand: the server imports this module (through engines/index.ts) but never
      // opens an engine itself, so it does not pay for loading onnxruntime-node's native addon.
      const { OnnxEngine } = await import('./onnx-engine.js');
      return OnnxEngine.open(artifactDir, manifest, options);
    }
    case 'tfjs-use': {
      // Loaded on demand: tfjs is heavy and most runners serve ONNX models.
      const { UseEngine } = await import('./use-engine.js');
      return UseEngine.open(artifactDir, manifest);
    }
    default:
      throw new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `${artifactDir}/manifest.json: field engine: unknown engine ${JSON.stringify(manifest.engine)}`);
  }
}
