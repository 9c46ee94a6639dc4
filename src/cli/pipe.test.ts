import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from '../client/test-server.js';

/**
 * A reader that leaves early (`modeld embed ... | head -n 1`): the real bin/modeld.js in a shell
 * pipeline against the scripted API server on 127.0.0.1. The CLI's output (about 1 MB) is far
 * more than a pipe holds, so it is still writing when head has exited.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'modeld.js');

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

test('`modeld embed ... | head -n 1` ends quietly with exit status 0 once head has left', async () => {
  // 40 texts of 25 kB: two requests (32 + 8), each answer line carries its text.
  const texts = Array.from({ length: 40 }, (_, i) => `${i} ${'x'.repeat(25_000)}`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MODELD_')));
  const script = 'node "$0" "$@" | head -n 1 | cut -c1-20; echo "modeld exit status ${PIPESTATUS[0]}" >&2';
  const args = [bin, '--url', server.url, '--client-id', server.clientId, '--client-secret', server.clientSecret, 'embed', 'model-1', ...texts];
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn('bash', ['-c', script, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  assert.equal(result.stdout, '{"text":"0 xxxxxxxxx\n');
  // No stack trace, no EPIPE: only the shell's own line.
  assert.equal(result.stderr, 'modeld exit status 0\n');
});
