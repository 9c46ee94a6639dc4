import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { makeTempDir } from '../fixtures/tmp.js';

/**
 * The static half of scripts/run-walkthrough.mjs (`--check`: no server) on the README itself and
 * on READMEs that break the walkthrough's rules. The walkthrough is run for real by .ci/run.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const runner = path.join(root, 'scripts', 'run-walkthrough.mjs');
let tmp: Awaited<ReturnType<typeof makeTempDir>>;
before(async () => {
  tmp = await makeTempDir('modeld-readme-');
});
after(async () => {
  await tmp.cleanup();
});

function check(readme?: string) {
  const args = [runner, '--check', ...(readme ? ['--readme', readme] : [])];
  return spawnSync(process.execPath, args, { cwd: tmp.dir, encoding: 'utf8' });
}

async function readmeWith(name: string, walkthrough: string): Promise<string> {
  const file = path.join(tmp.dir, name);
  await writeFile(file, `# x\n\n## Walkthrough\n\n\`\`\`sh\n${walkthrough}\n\`\`\`\n\n## More\n\n\`\`\`sh\nnot part of it (\n\`\`\`\n`);
  return file;
}

test("the README's walkthrough parses and reaches the clone only through $M", () => {
  const res = check();
  assert.equal(res.status, 0, res.stdout + res.stderr);
  assert.match(res.stdout, /\d+ block\(s\) of .*README\.md: they parse and reach the clone only through \$M/);
});

test('a walkthrough that only works from the clone is refused, naming the line', async () => {
  const res = check(await readmeWith('relative.md', 'C=./data/admin-credentials.json\nnpm run -s sample-data -- --out /tmp/s\n(cd "$M" && npm run -s sample-data)'));
  assert.equal(res.status, 1);
  assert.match(res.stdout, /walkthrough line 1: C=\.\/data\/admin-credentials\.json: a path relative to the working directory/);
  assert.match(res.stdout, /walkthrough line 2: npm run .*: runs in the working directory/);
  assert.doesNotMatch(res.stdout, /walkthrough line 3/);
});

test('a walkthrough that does not parse is refused; blocks of other sections are not read', async () => {
  const res = check(await readmeWith('broken.md', 'if true; then echo x'));
  assert.equal(res.status, 1);
  assert.match(res.stdout, /bash -n: .*syntax error/);
  const ok = check(await readmeWith('fine.md', 'echo "$M"'));
  assert.equal(ok.status, 0, ok.stdout);
});
