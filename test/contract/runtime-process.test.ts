/**
 * The runtime contract against the process runtime, plus what only processes have: replicas
 * that survive a server killed with -9, environment variables, exit codes, orphan exit, signals,
 * and the startup time of the benchmark model.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readManifest, writeManifest } from '../../src/engines/index.js';
import { MAX_SOCKET_PATH_BYTES, RunnerExitCodes, ReplicaFiles, readStatusFile, runnerEndpoint, RUNNER_ENTRY } from '../../src/runner/index.js';
import { ProcessRuntime, type ProcessRuntimeOptions } from '../../src/runtimes/index.js';
import { artifactWithModel, makeBigruArtifact, makeBrokenArtifacts, makeModeldArtifact } from '../fixtures/models.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';
import {
  callRunner,
  embedVia,
  eventually,
  jsonOf,
  replicaSpec,
  runtimeContract,
  waitForReplica,
  waitReady,
  type ContractArtifacts,
  type RuntimeHarness,
} from './runtime.contract.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** SIGKILLs the process group of every runner still alive under `replicasDir` (test cleanup, even after failures). */
function killAllRunners(replicasDir: string): void {
  if (!existsSync(replicasDir)) return;
  for (const name of readdirSyncSafe(replicasDir)) {
    const dir = path.join(replicasDir, name);
    const pid = Number.parseInt(readFileSafe(path.join(dir, ReplicaFiles.pid)), 10);
    if (!Number.isInteger(pid) || pid <= 1) continue;
    const cmdline = readFileSafe(`/proc/${pid}/cmdline`);
    if (!cmdline.split('\0').includes(dir)) continue; // gone, or the pid now belongs to someone else
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function readdirSyncSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function processHarness(options: Partial<ProcessRuntimeOptions> = {}): Promise<RuntimeHarness & { replicasDir: string; make(): ProcessRuntime }> {
  const tmp = await makeTempDir('modeld-process-runtime');
  const replicasDir = path.join(tmp.dir, 'replicas');
  const runtimes: ProcessRuntime[] = [];
  const make = (): ProcessRuntime => {
    const rt = new ProcessRuntime({ replicasDir, probeTimeoutMs: 2_000, killGraceMs: 1_000, stopGraceMs: 3_000, ...options });
    runtimes.push(rt);
    return rt;
  };
  const runtime = make();
  return {
    runtime,
    replicasDir,
    make,
    reopen: async () => make(),
    cleanup: async () => {
      try {
        await runtime.stop({ stopReplicas: true });
      } finally {
        killAllRunners(replicasDir);
        await tmp.cleanup();
      }
    },
  };
}

let artifactsDir: TempDir;
let artifacts: ContractArtifacts & { bigru: string; tiny: string };

before(async () => {
  artifactsDir = await makeTempDir('modeld-runtime-artifacts');
  const tiny = await makeModeldArtifact(path.join(artifactsDir.dir, 'tiny'));
  const broken = await makeBrokenArtifacts(path.join(artifactsDir.dir, 'broken'));
  const sessionFails = await artifactWithModel(path.join(artifactsDir.dir, 'session-fails'), path.join(broken.failsAtLoad, 'onnx', 'model.onnx'));
  const notOnnx = await artifactWithModel(path.join(artifactsDir.dir, 'not-onnx'), path.join(broken.notOnnx, 'onnx', 'model.onnx'));
  const bigru = await makeBigruArtifact(path.join(artifactsDir.dir, 'bigru'));
  artifacts = {
    tiny,
    bigru,
    model: { dir: tiny, vectorSize: 32 },
    broken: [
      { name: 'wrong checksum', dir: broken.badChecksum, reason: /tokenizer\.json: checksum mismatch/ },
      { name: 'fails at session creation', dir: sessionFails, reason: /onnxruntime cannot load the model/ },
      { name: 'not ONNX', dir: notOnnx, reason: /onnxruntime cannot load the model/ },
      { name: 'no manifest', dir: broken.missingTokenizer, reason: /manifest\.json: cannot read/ },
    ],
  };
});

after(async () => {
  await artifactsDir?.cleanup();
});

runtimeContract('process', () => processHarness(), async () => artifacts);

describe('process runtime specifics', () => {
  const harnesses: RuntimeHarness[] = [];
  after(async () => {
    for (const h of harnesses) await h.cleanup();
  });
  async function fresh(options: Partial<ProcessRuntimeOptions> = {}) {
    const h = await processHarness(options);
    harnesses.push(h);
    await h.runtime.start();
    return h;
  }

  test('the deployment config reaches the process as MODEL_CONFIG_JSON and PREDICTIVE_UNIT_PARAMETERS', async () => {
    const { runtime } = await fresh({ env: { MODELD_TEST_MARK: 'kept' } });
    const config = { threads: 4, ratio: 0.5, label: 'x y', enabled: false, nested: { deep: [1] } };
    const spec = replicaSpec(artifacts.tiny, { config });
    await runtime.createReplica(spec);
    const ready = await waitReady(runtime, spec.replicaId);
    const environ = Object.fromEntries(
      readFileSync(`/proc/${ready.pid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    assert.deepEqual(JSON.parse(environ.MODEL_CONFIG_JSON!), config);
    assert.deepEqual(JSON.parse(environ.PREDICTIVE_UNIT_PARAMETERS!), [
      { name: 'threads', value: '4', type: 'INT' },
      { name: 'ratio', value: '0.5', type: 'DOUBLE' },
      { name: 'label', value: 'x y', type: 'STRING' },
      { name: 'enabled', value: 'false', type: 'BOOL' },
    ]);
    assert.equal(environ.MODELD_TEST_MARK, 'kept');
  });

  test('the replica dir holds spec, pid, status, log and the socket the runner serves on; status follows the phases', async () => {
    // config.runner passed whole: its intraOpThreads (0 = auto) must not override the replica's own.
    const { runtime, replicasDir } = await fresh({ runner: { intraOpThreads: 0, orphanTimeoutMs: 60_000, batchWaitMs: 2, maxBatchItems: 64 } as ProcessRuntimeOptions['runner'] });
    const spec = replicaSpec(artifacts.tiny);
    await runtime.createReplica(spec);
    const ready = await waitReady(runtime, spec.replicaId);
    const dir = path.join(replicasDir, spec.replicaId);
    assert.deepEqual((await readdir(dir)).sort(), [ReplicaFiles.pid, ReplicaFiles.log, ReplicaFiles.spec, ReplicaFiles.status, ReplicaFiles.socket].sort());
    const written = JSON.parse(await readFile(path.join(dir, ReplicaFiles.spec), 'utf8')) as Record<string, unknown>;
    assert.equal(written.artifactDir, artifacts.tiny);
    assert.equal(written.maxBatchItems, 64);
    assert.equal(written.batchWaitMs, 2);
    assert.equal(written.orphanTimeoutMs, 60_000);
    assert.equal(written.intraOpThreads, 1);
    const status = readStatusFile(dir)!;
    assert.equal(status.phase, 'ready');
    assert.equal(status.pid, ready.pid);
    assert.equal(status.socketPath, path.join(dir, ReplicaFiles.socket));
    assert.equal(status.port, null);
    assert.equal(ready.endpoint, runnerEndpoint({ socketPath: status.socketPath, port: null }));
    assert.match(ready.endpoint!, /^http\+unix:\/\//);
    assert.match(await readFile(path.join(dir, ReplicaFiles.log), 'utf8'), /"msg":"ready"/);
  });

  test('a replica dir too long for a Unix socket path is served on a socket in a private short directory (never loopback TCP), removed with the replica', async () => {
    const { runtime, replicasDir } = await fresh();
    const spec = replicaSpec(artifacts.tiny, { replicaId: `long-${'x'.repeat(120)}` });
    assert.ok(Buffer.byteLength(path.join(replicasDir, spec.replicaId, ReplicaFiles.socket)) > MAX_SOCKET_PATH_BYTES);
    await runtime.createReplica(spec);
    const ready = await waitReady(runtime, spec.replicaId);
    const status = readStatusFile(path.join(replicasDir, spec.replicaId))!;
    assert.equal(status.port, null, 'no TCP port: any local user could call a TCP runner');
    assert.ok(status.socketPath && Buffer.byteLength(status.socketPath) <= MAX_SOCKET_PATH_BYTES);
    const socketDir = path.dirname(status.socketPath);
    assert.equal((statSync(socketDir).mode & 0o777).toString(8), '700', 'only this user can reach the socket');
    assert.match(ready.endpoint!, /^http\+unix:\/\//);
    const frame = await embedVia(ready.endpoint!, ['served over a short socket']);
    assert.equal(frame.count, 1);
    await runtime.deleteReplica(spec.replicaId, { graceMs: 10_000 });
    assert.equal(existsSync(path.join(replicasDir, spec.replicaId)), false);
    assert.equal(existsSync(status.socketPath), false, 'the socket outside the replica dir is removed too');
  });

  test('a socket directory another user could have planted (group or other access) is refused, naming it', async () => {
    const parent = await mkdtemp(path.join(os.tmpdir(), 'modeld-sockparent-'));
    try {
      const planted = path.join(parent, `modeld-${process.getuid!()}`);
      mkdirSync(planted, { mode: 0o777 });
      chmodSync(planted, 0o777);
      const { runtime, replicasDir } = await fresh({ socketParentDir: parent });
      const spec = replicaSpec(artifacts.tiny, { replicaId: `long-${'y'.repeat(120)}` });
      await assert.rejects(runtime.createReplica(spec), (err: Error) => err.message.includes(planted) && /mode 0700/.test(err.message));
      assert.equal(existsSync(path.join(replicasDir, spec.replicaId)), false, 'nothing half-created');
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  test('a replica survives its server being killed with -9 and the next server adopts it', async () => {
    const h = await fresh();
    const spec = replicaSpec(artifacts.tiny);
    const script = `
      const { ProcessRuntime } = await import(${JSON.stringify(path.join(repoRoot, 'src/runtimes/index.ts'))});
      const rt = new ProcessRuntime({ replicasDir: ${JSON.stringify(h.replicasDir)} });
      await rt.start();
      await rt.createReplica(${JSON.stringify(spec)});
      process.stdout.write('created\\n');
      setInterval(() => {}, 1000);
    `;
    const server = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [line] = (await once(server.stdout!, 'data')) as [Buffer];
      assert.equal(line.toString().trim(), 'created');
    } finally {
      server.kill('SIGKILL');
    }
    const [, signal] = await once(server, 'exit');
    assert.equal(signal, 'SIGKILL');

    const next = h.make();
    await next.start();
    const adopted = await waitReady(next, spec.replicaId);
    const info = jsonOf(await callRunner(adopted.endpoint!, 'GET', '/info'));
    assert.equal(info.pid, adopted.pid);
    assert.equal((await embedVia(adopted.endpoint!, ['still here'])).count, 1);

    // A replica that dies while no server watches it is reported as exited by the next one, with its last words.
    process.kill(adopted.pid!, 'SIGKILL');
    const third = h.make();
    await third.start();
    const gone = await waitForReplica(third, spec.replicaId, (r) => r.phase === 'exited', 'exited');
    assert.equal(gone.exitCode, null, 'the exit code of a process that is not our child is unknown');
    assert.match(gone.lastError ?? '', /gone without a final status/);
    assert.doesNotMatch(gone.lastError ?? '', /"msg"/, 'log lines are not for customers (lastError goes into events)');
    assert.match(gone.operatorDetail ?? '', /"msg":"ready"/, 'the log tail is kept for the operator');
    await third.deleteReplica(spec.replicaId, { graceMs: 500 });
  });

  test('exit codes: a clean drain is 0 with no error, a load failure is 3, a bad spec is 2', async () => {
    const { runtime, replicasDir } = await fresh();
    const good = replicaSpec(artifacts.tiny);
    const bad = replicaSpec(artifacts.broken[0]!.dir);
    await runtime.createReplica(good);
    await runtime.createReplica(bad);
    const ready = await waitReady(runtime, good.replicaId);
    const drained = await callRunner(ready.endpoint!, 'POST', '/drain');
    assert.equal(drained.status, 202);
    const stopped = await waitForReplica(runtime, good.replicaId, (r) => r.phase === 'exited', 'exited');
    assert.equal(stopped.exitCode, RunnerExitCodes.stopped);
    assert.equal(stopped.lastError, null);
    assert.equal(readStatusFile(path.join(replicasDir, good.replicaId))?.stopReason, 'drain request');
    const failed = await waitForReplica(runtime, bad.replicaId, (r) => r.phase === 'exited', 'exited');
    assert.equal(failed.exitCode, RunnerExitCodes.loadFailed);
    assert.equal(failed.loadFailed, true);

    // The runner itself, started by hand on a dir with a broken spec.
    const dir = path.join(replicasDir, 'hand-made');
    await mkdir(dir);
    await writeFile(path.join(dir, ReplicaFiles.spec), JSON.stringify({ replicaId: 'hand-made' }));
    const child = spawn(process.execPath, ['--import', 'tsx', RUNNER_ENTRY, dir], { cwd: repoRoot, stdio: 'ignore' });
    const [code] = await once(child, 'exit');
    assert.equal(code, RunnerExitCodes.badSpec);
    const status = readStatusFile(dir)!;
    assert.equal(status.phase, 'failed');
    assert.match(status.error ?? '', /spec\.deploymentId: must be a non-empty string/);
  });

  test('a runner nobody probes drains and exits by itself', async () => {
    const { runtime, replicasDir } = await fresh({ runner: { orphanTimeoutMs: 1_500 } });
    const spec = replicaSpec(artifacts.tiny);
    await runtime.createReplica(spec);
    const dir = path.join(replicasDir, spec.replicaId);
    const status = await eventually('the orphaned runner to stop', async () => {
      const s = readStatusFile(dir);
      return s?.phase === 'stopped' ? s : undefined;
    }, 30_000, 100);
    assert.match(status.stopReason ?? '', /^orphaned: no health probe for 1500 ms/);
    assert.notEqual(status.readyAt, null, 'it had become ready before');
    const exited = await waitForReplica(runtime, spec.replicaId, (r) => r.phase === 'exited', 'exited');
    assert.equal(exited.exitCode, 0);
  });

  test('probes keep a runner alive past its orphan timeout', async () => {
    const { runtime } = await fresh({ runner: { orphanTimeoutMs: 1_000 } });
    const spec = replicaSpec(artifacts.tiny);
    await runtime.createReplica(spec);
    await waitReady(runtime, spec.replicaId);
    const until = Date.now() + 2_500;
    while (Date.now() < until) {
      const [r] = await runtime.listReplicas(spec.deploymentId);
      assert.equal(r?.phase, 'ready');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  test('SIGTERM drains the runner; delete of a replica that ignores drain ends with signals within grace', async () => {
    const { runtime } = await fresh();
    const spec = replicaSpec(artifacts.tiny);
    await runtime.createReplica(spec);
    const ready = await waitReady(runtime, spec.replicaId);
    process.kill(ready.pid!, 'SIGTERM');
    const exited = await waitForReplica(runtime, spec.replicaId, (r) => r.phase === 'exited', 'exited');
    assert.equal(exited.exitCode, 0);

    // A replica still loading a big model when deleted: delete does not wait for the load beyond graceMs.
    const slow = replicaSpec(artifacts.bigru);
    await runtime.createReplica(slow);
    const t0 = Date.now();
    await runtime.deleteReplica(slow.replicaId, { graceMs: 100 });
    assert.ok(Date.now() - t0 < 5_000, `delete took ${Date.now() - t0} ms`);
    assert.deepEqual(await runtime.listReplicas(slow.deploymentId), []);
  });

  test('bad requests to a replica are 400 with a message naming the field', async () => {
    const { runtime } = await fresh();
    const spec = replicaSpec(artifacts.tiny);
    await runtime.createReplica(spec);
    const { endpoint } = await waitReady(runtime, spec.replicaId);
    const cases: Array<[unknown, RegExp]> = [
      [{ texts: [] }, /^texts: must be a non-empty array/],
      [{ texts: ['ok', 3] }, /^texts\[1\]: must be a string/],
      [{ texts: ['ok'], dataType: 'document' }, /^dataType: must be "query" or "passage"/],
      [[1, 2], /^body: must be a JSON object/],
    ];
    for (const [body, message] of cases) {
      const res = await callRunner(endpoint!, 'POST', '/embed', body);
      assert.equal(res.status, 400);
      assert.equal(jsonOf(res).code, 'bad_request');
      assert.match(String(jsonOf(res).error), message);
    }
    const notJson = await callRunner(endpoint!, 'POST', '/embed', Buffer.from('{"texts": ['));
    assert.equal(notJson.status, 400);
    assert.match(String(jsonOf(notJson).error), /^body: not valid JSON/);
    assert.equal((await callRunner(endpoint!, 'GET', '/embed')).status, 405);
    assert.equal((await callRunner(endpoint!, 'GET', '/nope')).status, 404);
    const tok = jsonOf<{ tokens: string[][]; ids: number[][] }>(await callRunner(endpoint!, 'POST', '/tokenize', { texts: ['hello world'] }));
    assert.equal(tok.tokens.length, 1);
    assert.equal(tok.ids[0]!.length, tok.tokens[0]!.length);
  });

  test('startup of the benchmark model: createReplica to ready', async (t) => {
    const { runtime, replicasDir } = await fresh();
    const timings: number[] = [];
    for (let i = 0; i < 3; i++) {
      const spec = replicaSpec(artifacts.bigru);
      const t0 = performance.now();
      const wall0 = Date.now();
      await runtime.createReplica(spec);
      await waitForReplica(runtime, spec.replicaId, (r) => r.phase === 'ready', 'ready', 30_000);
      const total = performance.now() - t0;
      timings.push(total);
      // Where the time went: process start and module loading (until the Runner exists), then model load + warm-up.
      const status = readStatusFile(path.join(replicasDir, spec.replicaId))!;
      const modulesMs = Date.parse(status.startedAt) - wall0;
      const modelMs = Date.parse(status.readyAt!) - Date.parse(status.startedAt);
      t.diagnostic(`bigru start ${i + 1}: ${Math.round(total)} ms = spawn + modules ${modulesMs} ms, model load + warm-up ${modelMs} ms, observed after ${Math.round(total - modulesMs - modelMs)} ms`);
      await runtime.deleteReplica(spec.replicaId, { graceMs: 2_000 });
    }
    t.diagnostic(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    // The deploy-to-DEPLOYED target is 2 s; this bound only catches gross regressions on a busy shared machine.
    assert.ok(Math.min(...timings) < 10_000, `fastest start ${Math.round(Math.min(...timings))} ms`);
  });
});
