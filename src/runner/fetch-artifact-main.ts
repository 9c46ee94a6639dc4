/**
 * The `fetch-artifact` init container of a replica pod: `node --import tsx
 * /app/src/runner/fetch-artifact-main.ts`. Reads MODELD_ARTIFACT_URL, MODELD_ARTIFACT_TOKEN,
 * MODELD_ARTIFACT_SHA256 and MODELD_ARTIFACT_DIR (set by the runtime's pod template), downloads
 * and checks the artifact (fetch-artifact.ts). Exits 0; or with one line on stderr saying what
 * failed (the kubelet shows it as the container's termination message): 3 when the artifact is
 * not what the pod was made for (no retry helps: the runner's load-failure code), 1 for anything
 * else (network, an expired token), 2 for a missing variable.
 */
import { fetchArtifact, FetchArtifactError } from './fetch-artifact.js';

const need = ['MODELD_ARTIFACT_URL', 'MODELD_ARTIFACT_TOKEN', 'MODELD_ARTIFACT_SHA256', 'MODELD_ARTIFACT_DIR'] as const;
const missing = need.filter((name) => !process.env[name]);
if (missing.length > 0) {
  process.stderr.write(`fetch-artifact: ${missing.join(', ')} not set\n`);
  process.exit(2);
}

try {
  const done = await fetchArtifact({
    url: process.env.MODELD_ARTIFACT_URL!,
    token: process.env.MODELD_ARTIFACT_TOKEN!,
    manifestSha256: process.env.MODELD_ARTIFACT_SHA256!,
    dir: process.env.MODELD_ARTIFACT_DIR!,
  });
  process.stdout.write(`fetch-artifact: ${done.files} file(s), ${done.bytes} bytes checked into ${process.env.MODELD_ARTIFACT_DIR}\n`);
  process.exit(0);
} catch (err) {
  process.stderr.write(`fetch-artifact: ${err instanceof FetchArtifactError ? err.message : ((err as Error).stack ?? String(err))}\n`);
  process.exit(err instanceof FetchArtifactError && err.hopeless ? 3 : 1);
}
