import assert from 'node:assert/strict';
import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { makeTempDir, type TempDir } from '../../test/fixtures/tmp.js';
import { ModeldError } from '../errors/index.js';
import { resolveImportDir } from './artifact-source.js';

let tmp: TempDir;
let root: string;
let inside: string;
let outside: string;

before(async () => {
  tmp = await makeTempDir('modeld-artifact-source-');
  root = path.join(await realpath(tmp.dir), 'imports');
  inside = path.join(root, 'my model');
  outside = path.join(await realpath(tmp.dir), 'elsewhere');
  await mkdir(inside, { recursive: true });
  await mkdir(outside, { recursive: true });
  await writeFile(path.join(root, 'a-file'), 'x');
  await symlink(outside, path.join(root, 'escape'));
  await symlink(inside, path.join(tmp.dir, 'link-into-root'));
});
after(() => tmp.cleanup());

async function refusal(uri: string, roots: string[] = []): Promise<ModeldError> {
  try {
    await resolveImportDir(uri, roots);
  } catch (err) {
    assert.ok(err instanceof ModeldError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.details?.field, 'body.artifact.uri');
    assert.ok(err.message.startsWith('body.artifact.uri: '), err.message);
    return err;
  }
  assert.fail(`${uri} was accepted`);
}

test('accepts file:///abs and file://localhost/abs, percent-encoding included', async () => {
  const url = pathToFileURL(inside).href;
  assert.match(url, /my%20model$/);
  assert.equal(await resolveImportDir(url, []), inside);
  assert.equal(await resolveImportDir(url.replace('file://', 'file://localhost'), []), inside);
  assert.equal(await resolveImportDir(url, [root]), inside);
  assert.equal(await resolveImportDir(pathToFileURL(root).href, [root]), root, 'the root itself');
});

test('refuses what is not a file:// URI of an absolute path, saying so', async () => {
  assert.match((await refusal(inside)).message, /bare path.*file:\/\//);
  assert.match((await refusal('s3://bucket/model')).message, /scheme "s3" is not supported/);
  assert.match((await refusal('https://example.com/model')).message, /scheme "https"/);
  assert.match((await refusal('not a uri')).message, /must be a file:\/\/ URI/);
  assert.match((await refusal('file:relative/dir')).message, /must be absolute/);
  assert.match((await refusal('file://server/share/dir')).message, /must be absolute/);
  assert.match((await refusal(`${pathToFileURL(inside).href}?x=1`)).message, /query or a fragment/);
});

test('refuses a missing path and a file', async () => {
  const missing = await refusal(pathToFileURL(path.join(root, 'nope')).href);
  assert.equal(missing.code, 'MODELD_ERR_VALIDATION');
  assert.match(missing.message, /does not exist/);
  const file = await refusal(pathToFileURL(path.join(root, 'a-file')).href);
  assert.match(file.message, /is not a directory/);
});

test('with import roots: outside, dot-dot and symlink escapes are forbidden, before existence is looked at', async () => {
  for (const uri of [
    pathToFileURL(outside).href,
    `file://${root}/../elsewhere`,
    pathToFileURL(path.join(root, 'escape')).href,
    pathToFileURL(`${root}-sibling`).href,
    pathToFileURL('/definitely/not/there').href,
  ]) {
    const err = await refusal(uri, [root]);
    assert.equal(err.code, 'MODELD_ERR_DATA_PATH_FORBIDDEN', uri);
    assert.match(err.message, /outside the directories models may be imported from/);
    assert.doesNotMatch(err.message, /does not exist/);
  }
  // Both the path as written and its target must be inside: a link outside the roots is refused even when it points inside.
  assert.equal((await refusal(pathToFileURL(path.join(tmp.dir, 'link-into-root')).href, [root])).code, 'MODELD_ERR_DATA_PATH_FORBIDDEN');
});
