import { rm } from 'node:fs/promises';
import path from 'node:path';
import { ModelStates } from '../domain/index.js';
import { importArtifact, listPretrained, type CheckOptions, type FileLimits } from '../engines/index.js';
import { ModeldError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import { defaultConfig, type Config } from '../config/index.js';
import type { ModelArtifacts, PretrainedCatalog } from './routes/models.js';

const FIELD = 'body.artifact.uri';
/** Artifact ids are sha256 hex digests (engines' artifactIdOf); anything else is never a folder we remove. */
const ARTIFACT_ID = /^[0-9a-f]{64}$/;

/**
 * The models routes' artifact port on engines/: `importDir` is engines' importArtifact, which
 * checks and copies the model's files into `artifactsRoot`, loads the copy and runs one
 * inference, all in a child process, before the artifact takes its content-addressed name (a
 * failed import leaves nothing behind). `limits` caps each file (config `limits.import*FileBytes`).
 * Its refusals are re-worded to name the request field (`body.artifact.uri` by default); their
 * cause keeps the operator detail (engines' operatorDetailOf).
 * `release` removes an artifact folder once no model of any customer refers to it any more
 * (two imports of the same files share one artifact).
 */
export function engineArtifacts(options: { store: Store; artifactsRoot: string; check?: CheckOptions; limits?: FileLimits }): ModelArtifacts {
  const { store, artifactsRoot } = options;
  const check: CheckOptions = { ...options.check, limits: options.limits ?? importFileLimits(defaultConfig()) };
  return {
    async importDir(sourceDir, meta, field = FIELD) {
      try {
        const imported = await importArtifact(sourceDir, artifactsRoot, meta, check);
        return { artifactId: imported.artifactId, vectorSize: imported.vectorSize };
      } catch (err) {
        if (err instanceof ModeldError && err.code === 'MODELD_ERR_ARTIFACT_INVALID') {
          const message = `${field}: ${err.message.replace(/^artifact\.uri: /, '')}`;
          throw new ModeldError(err.code, message, { details: { ...err.details, field }, cause: err });
        }
        throw err;
      }
    },
    async release(artifactId) {
      if (!ARTIFACT_ID.test(artifactId)) return;
      for (const state of Object.values(ModelStates)) {
        if ((await store.listModelsByState(state)).some((m) => m.artifactId === artifactId)) return;
      }
      await rm(path.join(artifactsRoot, artifactId), { recursive: true, force: true });
    },
  };
}

/** The caps on each file of an import, from config (`limits.importJsonFileBytes`, `limits.importModelFileBytes`; defaults.ts when absent). */
export function importFileLimits(config: Readonly<Config>): FileLimits {
  const d = defaultConfig().limits;
  return {
    jsonFileBytes: config.limits.importJsonFileBytes ?? d.importJsonFileBytes!,
    modelFileBytes: config.limits.importModelFileBytes ?? d.importModelFileBytes!,
  };
}

/**
 * The pre-trained catalog on engines' listPretrained: the usable folders of `modelsDir`, sorted by
 * id. Folders that are not usable are left out of M1 (engines reports them with a reason; the
 * composition root logs them at startup).
 */
export function pretrainedCatalog(modelsDir: string, check?: CheckOptions): PretrainedCatalog {
  return { list: async () => (await listPretrained(modelsDir, check)).models };
}
