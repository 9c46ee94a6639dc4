import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { Type } from 'typebox';
import type { TokenService } from '../../auth/index.js';
import { MANIFEST_FILE, readManifest } from '../../engines/index.js';
import { ModeldError } from '../../errors/index.js';
import { errorResponses } from '../schemas.js';
import type { ModeldApp } from './shared.js';

/** Where the artifacts a pod may fetch live: `artifacts/<artifactId>` and `models/<name>` (pre-trained). */
export interface ArtifactRoots {
  artifacts: string;
  models: string;
}

export interface InternalArtifactRouteDeps {
  tokens: Pick<TokenService, 'verifyArtifactToken'>;
  roots: ArtifactRoots;
}

const TAGS = ['Internal'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/**
 * The internal artifact endpoint, for replica pods (runtimes/kubernetes): their `fetch-artifact`
 * init container downloads the artifact of their deployment here, with the artifact token the
 * runtime put in the pod's Secret (TokenService.issueArtifactToken). Pods need no shared disk.
 *
 * - `GET /internal/artifacts/{kind}/{name}/manifest.json`: the manifest's bytes as stored (the
 *   pod checks their sha256 against the one in its template);
 * - `GET /internal/artifacts/{kind}/{name}/files/{path}`: one file the manifest lists, streamed.
 *
 * `kind` is `artifacts` (custom models, by artifact id) or `models` (pre-trained, by folder
 * name). A token is good for the one artifact it names: any other artifact, a path the manifest
 * does not list or one leaving the folder is 404 (nothing said about what exists); a customer's
 * access token, an expired or forged token is 401. Nothing here lists a directory.
 */
export function registerInternalArtifactRoutes(app: ModeldApp, deps: InternalArtifactRouteDeps): void {
  const Params = Type.Object({ kind: Type.String(), name: Type.String() });

  const locate = async (authorization: string | undefined, kind: string, name: string): Promise<string> => {
    const allowed = await deps.tokens.verifyArtifactToken(authorization);
    if (allowed !== `${kind}/${name}` || (kind !== 'artifacts' && kind !== 'models') || !NAME.test(name)) throw notFound();
    return path.join(kind === 'artifacts' ? deps.roots.artifacts : deps.roots.models, name);
  };

  app.get(
    '/internal/artifacts/:kind/:name/manifest.json',
    { schema: { tags: TAGS, summary: "A replica pod fetches its artifact's manifest (artifact token)", params: Params, response: errorResponses(401, 404) } },
    async (req, reply) => {
      const { kind, name } = req.params as { kind: string; name: string };
      const dir = await locate(req.headers.authorization, kind, name);
      const file = path.join(dir, MANIFEST_FILE);
      const st = await stat(file).catch(() => null);
      if (!st?.isFile()) throw notFound();
      reply.header('content-type', 'application/json').header('content-length', st.size).header('cache-control', 'no-store');
      return reply.send(createReadStream(file));
    },
  );

  app.get(
    '/internal/artifacts/:kind/:name/files/*',
    { schema: { tags: TAGS, summary: 'A replica pod fetches one file its manifest lists (artifact token)', response: errorResponses(401, 404) } },
    async (req, reply) => {
      const { kind, name, '*': rel } = req.params as { kind: string; name: string; '*': string };
      const dir = await locate(req.headers.authorization, kind, name);
      let manifest;
      try {
        manifest = await readManifest(dir);
      } catch {
        throw notFound();
      }
      // Only what the manifest lists (its keys are checked to stay inside the folder), and only
      // if its real path stays inside the folder too.
      if (!Object.hasOwn(manifest.files, rel)) throw notFound();
      const root = await realpath(dir);
      const real = await realpath(path.join(dir, rel)).catch(() => null);
      if (real === null || !real.startsWith(root + path.sep)) throw notFound();
      const st = await stat(real);
      if (!st.isFile()) throw notFound();
      reply.header('content-type', 'application/octet-stream').header('content-length', st.size).header('cache-control', 'no-store');
      return reply.send(createReadStream(real));
    },
  );
}

function notFound(): ModeldError {
  return new ModeldError('MODELD_ERR_NOT_FOUND', 'no such artifact file for this token');
}
