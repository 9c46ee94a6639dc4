import { rm } from 'node:fs/promises';
import path from 'node:path';
import { ModelStates } from '../domain/index.js';
import { importArtifact, listPretrained, type CheckOptions } from '../engines/index.js';
import { ModeldError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import type { ModelArtifacts, PretrainedCatalog } from './routes/models.js';

const FIELD = 'body.artifact.uri';
/** Artifact ids are sha256 hex digests (engines' artifactIdOf); anything else is never a folder we remove. */
const ARTIFACT_ID = /^[0-9a-f]{64}$/;

/**
 * The models routes' artifact port on engines/: `importDir` is engines' importArtifact, which
 * copies the model's files into `artifactsRoot`, loads the copy in a child process and runs one
 * inference before the artifact takes its content-addressed name (a failed import leaves
 * nothing behind). Its refusals are re-worded to name the request field `body.artifact.uri`.
 * `release` removes an artifact folder once no model of any customer refers to it any more
 * (two imports of the same files share one artifact).
 */
export function engineArtifacts(options: { store: Store; artifactsRoot: string; check?: CheckOptions }): ModelArtifacts {
  const { store, artifactsRoot } = options;
  return {
    async importDir(sourceDir, meta) {
      try {
        const imported = await importArtifact(sourceDir, artifactsRoot, meta, options.check);
        return { artifactId: imported.artifactId, vectorSize: imported.manifest.vectorSize };
      } catch (err) {
        if (err instanceof ModeldError && err.code === 'MODELD_ERR_ARTIFACT_INVALID') {
          const message = err.message.startsWith('artifact.uri: ') ? `body.${err.message}` : `${FIELD}: ${err.message}`;
          throw new ModeldError(err.code, message, { details: { ...err.details, field: FIELD }, cause: err });
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

/**
 * The pre-trained catalog on engines' listPretrained: the usable folders of `modelsDir`, sorted by
 * id. Folders that are not usable are left out of M1 (engines reports them with a reason; the
 * composition root logs them at startup).
 */
export function pretrainedCatalog(modelsDir: string, check?: CheckOptions): PretrainedCatalog {
  return { list: async () => (await listPretrained(modelsDir, check)).models };
}
