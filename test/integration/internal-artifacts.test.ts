/**
 * The internal artifact endpoint (replica pods fetch their model from modeld) and the init
 * container's fetcher, against a real API on loopback: an artifact token opens its one artifact
 * and nothing else, a customer token opens nothing there, and the fetcher checks every byte.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readManifest, verifyArtifact } from '../../src/engines/index.js';
import { fetchArtifact, FetchArtifactError } from '../../src/runner/fetch-artifact.js';
import { makeModeldArtifact } from '../fixtures/models.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';
import { startApi, type ApiHarness } from './api-harness.js';

describe('internal artifact endpoint and fetch-artifact', () => {
  let tmp: TempDir;
  let api: ApiHarness;
  let url: string;
  let roots: { artifacts: string; models: string };
  let manifestSha: string;

  before(async () => {
    tmp = await makeTempDir('modeld-internal-artifacts');
    roots = { artifacts: path.join(tmp.dir, 'artifacts'), models: path.join(tmp.dir, 'models') };
    await makeModeldArtifact(path.join(roots.artifacts, 'a1'));
    await makeModeldArtifact(path.join(roots.artifacts, 'a2'));
    manifestSha = createHash('sha256').update(await readFile(path.join(roots.artifacts, 'a1', 'manifest.json'))).digest('hex');
    api = await startApi({ artifactRoots: roots });
    url = await api.app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await api?.close();
    await tmp?.cleanup();
  });

  const get = (route: string, auth?: string) => fetch(`${url}${route}`, auth ? { headers: { authorization: auth } } : {});

  test('an artifact token opens its artifact’s manifest and listed files, and nothing else', async () => {
    const tok = `Bearer ${await api.tokens.issueArtifactToken('artifacts/a1', 3600)}`;
    const manifest = await get('/internal/artifacts/artifacts/a1/manifest.json', tok);
    assert.equal(manifest.status, 200);
    const listed = Object.keys((await readManifest(path.join(roots.artifacts, 'a1'))).files);
    for (const f of listed) assert.equal((await get(`/internal/artifacts/artifacts/a1/files/${f}`, tok)).status, 200, f);
    for (const route of ['/internal/artifacts/artifacts/a2/manifest.json', '/internal/artifacts/models/a1/manifest.json', '/internal/artifacts/artifacts/a1/files/..%2F..%2Fkeys', '/internal/artifacts/artifacts/a1/files/nope.bin']) {
      const r = await get(route, tok);
      assert.equal(r.status, 404, route);
      assert.equal(((await r.json()) as { code: string }).code, 'MODELD_ERR_NOT_FOUND');
    }
  });

  test('a customer’s access token does not open the endpoint, and an artifact token opens no customer route', async () => {
    const tenant = await api.tenant();
    const customer = await tenant.auth();
    assert.equal((await get('/internal/artifacts/artifacts/a1/manifest.json', customer)).status, 401);
    assert.equal((await get('/internal/artifacts/artifacts/a1/manifest.json')).status, 401);
    const art = `Bearer ${await api.tokens.issueArtifactToken('artifacts/a1', 3600)}`;
    const r = await get(`/customers/${tenant.customerId}/ai/models`, art);
    assert.equal(r.status, 401, 'audience modeld-artifact is not the API’s');
    const expired = `Bearer ${await api.tokens.issueArtifactToken('artifacts/a1', -10)}`;
    assert.equal((await get('/internal/artifacts/artifacts/a1/manifest.json', expired)).status, 401);
  });

  test('fetch-artifact downloads and verifies; a wrong manifest checksum, a tampered file or an unknown artifact are hopeless failures naming the file', async () => {
    const token = await api.tokens.issueArtifactToken('artifacts/a1', 3600);
    const dir = path.join(tmp.dir, 'pod-artifact');
    const done = await fetchArtifact({ url: `${url}/internal/artifacts/artifacts/a1`, token, manifestSha256: manifestSha, dir });
    assert.ok(done.files >= 2);
    await verifyArtifact(dir);
    assert.deepEqual((await readdir(dir)).sort(), (await readdir(path.join(roots.artifacts, 'a1'))).sort());

    await assert.rejects(fetchArtifact({ url: `${url}/internal/artifacts/artifacts/a1`, token, manifestSha256: 'f'.repeat(64), dir: path.join(tmp.dir, 'x1') }), (err: FetchArtifactError) => err.hopeless && /manifest\.json: sha256 .* is not the expected/.test(err.message));

    const manifest = await readManifest(path.join(roots.artifacts, 'a1'));
    const victim = Object.keys(manifest.files).find((f) => f.endsWith('tokenizer.json'))!;
    const file = path.join(roots.artifacts, 'a1', victim);
    const original = await readFile(file);
    await writeFile(file, Buffer.concat([original.subarray(0, original.length - 2), Buffer.from('}}')]).toString('utf8').replace('"', "'"));
    try {
      await assert.rejects(fetchArtifact({ url: `${url}/internal/artifacts/artifacts/a1`, token, manifestSha256: manifestSha, dir: path.join(tmp.dir, 'x2') }), (err: FetchArtifactError) => err.hopeless && new RegExp(`${victim.replace('.', '\\.')}: checksum mismatch`).test(err.message));
    } finally {
      await writeFile(file, original);
    }
    const other = await api.tokens.issueArtifactToken('artifacts/missing', 3600);
    await assert.rejects(fetchArtifact({ url: `${url}/internal/artifacts/artifacts/missing`, token: other, manifestSha256: manifestSha, dir: path.join(tmp.dir, 'x3') }), (err: FetchArtifactError) => err.hopeless && /manifest\.json: cannot read \(HTTP 404/.test(err.message));
    await assert.rejects(fetchArtifact({ url: 'http://127.0.0.1:9/internal/artifacts/artifacts/a1', token, manifestSha256: manifestSha, dir: path.join(tmp.dir, 'x4') }), (err: FetchArtifactError) => !err.hopeless && /cannot reach/.test(err.message));
  });
});
