import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { makeModeldArtifact } from '../../test/fixtures/models.js';
import { makeTempDir } from '../../test/fixtures/tmp.js';
import { ProcessRuntime } from '../runtimes/index.js';
import { RUNNER_ENTRY } from './index.js';

/**
 * A module loader hook, registered in the runner process after tsx's, that appends every URL the
 * process resolves to the file named by MODELD_TEST_TRACE (appendFileSync: nothing is lost when
 * the process exits).
 */
const TRACE_HOOKS = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.MODELD_TEST_TRACE, result.url + '\\n');
  return result;
}
`;

// Each of these cost a runner start from a few hundred milliseconds to over a second of CPU and
// none is needed to serve an ONNX model: typebox (the manifest is checked by hand), tfjs (the USE
// engine is loaded only for USE artifacts), protobufjs / onnx-proto (graph inspection at import).
const HEAVY = ['/node_modules/typebox/', '/node_modules/@tensorflow/', '/node_modules/protobufjs/', '/node_modules/onnx-proto/', '/node_modules/fastify/'];

test('a runner serving an ONNX model loads none of the heavy modules it does not need', async () => {
  const tmp = await makeTempDir('modeld-load-path');
  const trace = path.join(tmp.dir, 'resolved.txt');
  const hooks = path.join(tmp.dir, 'trace-hooks.mjs');
  const register = path.join(tmp.dir, 'register-trace.mjs');
  await writeFile(trace, '');
  await writeFile(hooks, TRACE_HOOKS);
  await writeFile(register, `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hooks}`)});\n`);
  const runtime = new ProcessRuntime({
    replicasDir: path.join(tmp.dir, 'replicas'),
    runnerArgs: ['--import', fileURLToPath(import.meta.resolve('tsx/esm')), '--import', register, RUNNER_ENTRY],
    env: { MODELD_TEST_TRACE: trace },
    killGraceMs: 1_000,
  });
  try {
    const artifactDir = await makeModeldArtifact(path.join(tmp.dir, 'tiny'));
    await runtime.start();
    await runtime.createReplica({ replicaId: 'r1', deploymentId: 'd1', customerId: 'c1', generation: 1, modelId: 'm1', artifactDir, config: {}, intraOpThreads: 1 });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const [r] = await runtime.listReplicas('d1');
      if (r?.phase === 'ready') break;
      assert.notEqual(r?.phase, 'exited', `the runner exited: ${r?.lastError}`);
      assert.ok(Date.now() < deadline, 'the runner did not become ready within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const resolved = (await readFile(trace, 'utf8')).split('\n').filter(Boolean);
    assert.ok(resolved.some((u) => u.includes('/node_modules/onnxruntime-node/')), 'the trace saw the engine being loaded');
    const heavy = resolved.filter((u) => HEAVY.some((h) => u.includes(h)));
    assert.deepEqual(heavy, [], `the runner loaded:\n${heavy.join('\n')}`);
  } finally {
    await runtime.stop({ stopReplicas: true });
    await tmp.cleanup();
  }
});
