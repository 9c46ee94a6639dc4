import assert from 'node:assert/strict';
import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { makeTempDir, type TempDir } from '../../test/fixtures/tmp.js';
import { ModeldError } from '../errors/index.js';
import { resolveImportSource, type ImportAreas } from './artifact-source.js';

let tmp: TempDir;
let base: string;
let root: string;
let inside: string;
let outside: string;
let dataDir: string;
let mine: string;
let theirs: string;

before(async () => {
  tmp = await makeTempDir('modeld-artifact-source-');
  base = await realpath(tmp.dir);
  root = path.join(base, 'imports');
  inside = path.join(root, 'my model');
  outside = path.join(base, 'elsewhere');
  dataDir = path.join(base, 'data');
  mine = path.join(dataDir, 'uploads', 'alice');
  theirs = path.join(dataDir, 'uploads', 'bob');
  for (const d of [inside, outside, path.join(mine, 'my-encoder'), path.join(theirs, 'their-encoder')]) await mkdir(d, { recursive: true });
  await writeFile(path.join(root, 'a-file'), 'x');
  await symlink(outside, path.join(root, 'escape'));
  await symlink(inside, path.join(base, 'link-into-root'));
});
after(() => tmp.cleanup());

const areas = (importRoots: string[] = []): ImportAreas => ({ customerUploads: mine, importRoots, never: [dataDir] });

async function refusal(artifact: { uri?: string; upload?: string }, roots: string[] = []): Promise<ModeldError> {
  try {
    await resolveImportSource(artifact, areas(roots));
  } catch (err) {
    assert.ok(err instanceof ModeldError, String(err));
    assert.equal(err.status, 400);
    return err;
  }
  assert.fail(`${JSON.stringify(artifact)} was accepted`);
}

test('accepts the customer’s own upload folder (by name or by file:// URI) and folders under the import roots', async () => {
  const own = path.join(mine, 'my-encoder');
  assert.equal(await resolveImportSource({ upload: 'my-encoder' }, areas()), own);
  assert.equal(await resolveImportSource({ uri: pathToFileURL(own).href }, areas()), own);
  const url = pathToFileURL(inside).href;
  assert.match(url, /my%20model$/);
  assert.equal(await resolveImportSource({ uri: url }, areas([root])), inside);
  assert.equal(await resolveImportSource({ uri: url.replace('file://', 'file://localhost') }, areas([root])), inside);
  assert.equal(await resolveImportSource({ uri: pathToFileURL(root).href }, areas([root])), root, 'the root itself');
});

test('refuses what is not a file:// URI of an absolute path, or not one upload name, saying so', async () => {
  assert.match((await refusal({ uri: inside })).message, /bare path.*file:\/\//);
  assert.match((await refusal({ uri: 's3://bucket/model' })).message, /scheme "s3" is not supported/);
  assert.match((await refusal({ uri: 'https://example.com/model' })).message, /scheme "https"/);
  assert.match((await refusal({ uri: 'not a uri' })).message, /must be a file:\/\/ URI/);
  assert.match((await refusal({ uri: 'file:relative/dir' })).message, /must be absolute/);
  assert.match((await refusal({ uri: 'file://server/share/dir' })).message, /must be absolute/);
  assert.match((await refusal({ uri: `${pathToFileURL(inside).href}?x=1` })).message, /query or a fragment/);
  for (const upload of ['../bob/their-encoder', '.hidden', 'a//b', '/abs']) {
    const err = await refusal({ upload });
    assert.equal(err.code, 'MODELD_ERR_VALIDATION', upload);
    assert.equal(err.details?.field, 'body.artifact.upload');
  }
  assert.equal((await refusal({})).details?.field, 'body.artifact');
  assert.equal((await refusal({ uri: pathToFileURL(inside).href, upload: 'x' })).details?.field, 'body.artifact');
});
