import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ClientErrorCodes, ModeldClient, ModeldClientError, type Deployment } from './index.js';
import { startTestServer, type TestServer } from './test-server.js';

let server: TestServer;

before(async () => {
  server = await startTestServer({ expiresInSeconds: 3600 });
});
after(async () => {
  await server.close();
});

function clientFor(s: TestServer, extra: Partial<ConstructorParameters<typeof ModeldClient>[0]> = {}): ModeldClient {
  return new ModeldClient({ baseUrl: s.url, clientId: s.clientId, clientSecret: s.clientSecret, ...extra });
}

async function rejection(promise: Promise<unknown>): Promise<ModeldClientError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ModeldClientError, `expected a ModeldClientError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the promise to reject');
}

/** A port nothing listens on: bind one, then release it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('token handling', () => {
  test('one token serves many calls, including concurrent ones', async () => {
    const client = clientFor(server);
    const before = server.issued.length;
    await Promise.all([client.listModels(), client.listModels(), client.listModels()]);
    await client.listModels();
    assert.equal(server.issued.length - before, 1);
  });

  test('the token is replaced before it expires', async () => {
    let now = Date.now();
    const client = clientFor(server, { now: () => now, tokenRefreshMarginMs: 60_000 });
    const first = await client.accessToken();
    now += 3600_000 - 61_000;
    assert.equal(await client.accessToken(), first, 'still outside the refresh margin');
    now += 2_000;
    const second = await client.accessToken();
    assert.notEqual(second, first);
    const models = await client.listModels();
    assert.equal(models[0]?.id, 'text-encoder');
  });

  test('a refused token is replaced once and the request repeated', async () => {
    const client = clientFor(server);
    const old = await client.accessToken();
    server.revokeAll();
    const models = await client.listModels();
    assert.equal(models.length, 1);
    assert.notEqual(await client.accessToken(), old);
  });

  test('a second 401 is thrown, not retried forever', async () => {
    const client = clientFor(server);
    const before = server.issued.length;
    server.refuseAllTokens = true;
    try {
      const err = await rejection(client.listModels());
      assert.equal(err.status, 401);
      assert.equal(err.code, 'MODELD_ERR_UNAUTHENTICATED');
      assert.equal(server.issued.length - before, 2);
    } finally {
      server.refuseAllTokens = false;
    }
  });

  test('wrong client credentials surface the OAuth2 error', async () => {
    const client = new ModeldClient({ baseUrl: server.url, clientId: server.clientId, clientSecret: 'wrong' });
    const err = await rejection(client.listModels());
    assert.equal(err.status, 401);
    assert.equal(err.code, 'invalid_client');
    assert.equal(err.message, 'client authentication failed');
  });

  test('issueToken asks for the given scopes and returns a fresh token each time', async () => {
    const client = clientFor(server);
    const a = await client.issueToken(['machinelearning.predict']);
    const b = await client.issueToken(['machinelearning.predict']);
    assert.notEqual(a.access_token, b.access_token);
    assert.equal(a.scope, 'machinelearning.predict');
    assert.equal(a.token_type, 'Bearer');
  });

  test('the customer comes from the token claim unless configured', async () => {
    assert.equal(await clientFor(server).customerId(), server.customerId);
    const other = clientFor(server, { customerId: '22222222-2222-4222-8222-222222222222' });
    assert.equal(await other.customerId(), '22222222-2222-4222-8222-222222222222');
    const err = await rejection(other.listModels());
    assert.equal(err.status, 403);
    assert.equal(err.code, 'MODELD_ERR_FORBIDDEN_CUSTOMER');
  });
});

describe('errors', () => {
  test('API errors keep status, code, message and details', async () => {
    const err = await rejection(clientFor(server).getModel('nope'));
    assert.equal(err.status, 404);
    assert.equal(err.code, 'MODELD_ERR_MODEL_NOT_FOUND');
    assert.equal(err.message, 'model nope not found');
    assert.deepEqual(err.details, { modelId: 'nope' });
  });

  test('nothing listening is a connection-refused error with status 0', async () => {
    const port = await closedPort();
    const client = new ModeldClient({ baseUrl: `http://127.0.0.1:${port}`, clientId: 'a', clientSecret: 'b' });
    const err = await rejection(client.listModels());
    assert.equal(err.status, 0);
    assert.equal(err.code, ClientErrorCodes.CONNECTION_REFUSED);
  });

  test('a request that takes too long times out', async () => {
    const sockets = new Set<Socket>();
    // Accepts connections and never answers.
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as { port: number };
      const client = new ModeldClient({ baseUrl: `http://127.0.0.1:${port}`, clientId: 'a', clientSecret: 'b', requestTimeoutMs: 150 });
      const err = await rejection(client.listModels());
      assert.equal(err.code, ClientErrorCodes.TIMEOUT);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('predictions', () => {
  test('embed sends the batch and options the API defines', async () => {
    const client = clientFor(server);
    const res = await client.embed('text-encoder', ['hello world', 'hi'], { dataType: 'query', dimReductionSize: 2, quantize: 'min-max' });
    assert.equal(res.predictions.length, 2);
    for (const p of res.predictions) {
      assert.equal(p.vector.length, 2);
      assert.ok(p.vector.every((v) => Number.isInteger(v) && v >= 0 && v <= 255));
    }
    assert.equal(res.predictions[0]!.tokensUsed.inputTokens, 2);
    const err = await rejection(client.embed('text-encoder', ['x'], { dimReductionSize: 8 }));
    assert.equal(err.code, 'MODELD_ERR_DIM_REDUCTION_TOO_LARGE');
  });
});

describe('waitForDeployment', () => {
  test('resolves once DEPLOYED and reports every read', async () => {
    server.script('d-ok', [
      { state: 'DEPLOYING', ready: 0, desired: 2 },
      { state: 'DEPLOYING', ready: 1, desired: 2 },
      { state: 'DEPLOYED', ready: 2, desired: 2 },
    ]);
    const seen: string[] = [];
    const d = await clientFor(server).waitForDeployment('d-ok', {
      intervalMs: 5,
      onProgress: (x: Deployment) => seen.push(`${x.state} ${x.status?.readyReplicas}/${x.status?.desiredReplicas}`),
    });
    assert.equal(d.state, 'DEPLOYED');
    assert.deepEqual(seen, ['DEPLOYING 0/2', 'DEPLOYING 1/2', 'DEPLOYED 2/2']);
  });

  test('rejects with the failure reason and message on DEPLOY_FAILED', async () => {
    server.script('d-fail', [
      { state: 'DEPLOYING', ready: 0, desired: 1 },
      { state: 'DEPLOY_FAILED', ready: 0, desired: 1, failure: { reason: 'CrashLoopBackOff', message: 'replica exited with code 3: model.onnx missing' } },
    ]);
    const err = await rejection(clientFor(server).waitForDeployment('d-fail', { intervalMs: 5 }));
    assert.equal(err.code, ClientErrorCodes.DEPLOY_FAILED);
    assert.equal(err.details?.reason, 'CrashLoopBackOff');
    assert.equal(err.details?.message, 'replica exited with code 3: model.onnx missing');
    assert.match(err.message, /CrashLoopBackOff: replica exited with code 3/);
  });

  test('keeps waiting through 503s (a restarting server)', async () => {
    server.script('d-flaky', [{ state: 'DEPLOYING', ready: 0 }, { state: 'DEPLOYING', httpStatus: 503 }, { state: 'DEPLOYED', ready: 1 }]);
    const d = await clientFor(server).waitForDeployment('d-flaky', { intervalMs: 5 });
    assert.equal(d.state, 'DEPLOYED');
  });

  test('an unknown deployment is the server 404, at once', async () => {
    const err = await rejection(clientFor(server).waitForDeployment('d-unknown', { intervalMs: 5, timeoutMs: 60_000 }));
    assert.equal(err.status, 404);
    assert.equal(err.code, 'MODELD_ERR_DEPLOYMENT_NOT_FOUND');
  });

  test('times out with the last state in the message', async () => {
    server.script('d-stuck', [{ state: 'DEPLOYING', ready: 1, desired: 3 }]);
    const err = await rejection(clientFor(server).waitForDeployment('d-stuck', { intervalMs: 10, timeoutMs: 120 }));
    assert.equal(err.code, ClientErrorCodes.TIMEOUT);
    assert.match(err.message, /DEPLOYING \(ready 1\/3\)/);
  });

  test('an abort stops the wait', async () => {
    server.script('d-slow', [{ state: 'DEPLOYING', ready: 0 }]);
    const controller = new AbortController();
    const started = Date.now();
    const wait = clientFor(server).waitForDeployment('d-slow', {
      intervalMs: 1000,
      signal: controller.signal,
      onProgress: () => setImmediate(() => controller.abort()),
    });
    const err = await rejection(wait);
    assert.equal(err.code, ClientErrorCodes.ABORTED);
    assert.ok(Date.now() - started < 900, 'the abort interrupts the pause between reads');
  });

  test('waitForDeploymentDeleted resolves when the deployment is gone, rejects on DELETE_FAILED', async () => {
    server.script('d-del', [{ state: 'DELETING', ready: 1 }, { state: 'DELETING', ready: 0 }, { state: 'DELETING', httpStatus: 404 }]);
    await clientFor(server).waitForDeploymentDeleted('d-del', { intervalMs: 5 });
    server.script('d-delfail', [{ state: 'DELETE_FAILED', failure: { reason: 'DeleteTimeout', message: 'replica 2 did not stop' } }]);
    const err = await rejection(clientFor(server).waitForDeploymentDeleted('d-delfail', { intervalMs: 5 }));
    assert.equal(err.code, ClientErrorCodes.DELETE_FAILED);
    assert.equal(err.details?.reason, 'DeleteTimeout');
  });
});

describe('uploads', () => {
  const bytes = (n: number, seed = 7) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251);

  test('a buffer is streamed in chunks with progress up to its size, and stored as sent', async () => {
    const client = clientFor(server);
    const body = bytes(200_000);
    const seen: Array<[number, number | null]> = [];
    const upload = await client.uploadFile('catalog.csv', body, { onProgress: (p) => seen.push([p.sentBytes, p.totalBytes]) });
    assert.equal(upload.name, 'catalog.csv');
    assert.equal(upload.bytes, 200_000);
    assert.match(upload.uri, /^file:\/\/\/.*catalog\.csv$/);
    assert.deepEqual(new Uint8Array(server.uploads.get('catalog.csv')!.content), body);
    assert.equal(server.uploadRequests.at(-1)?.contentLength, '200000', 'a known size is announced');
    assert.deepEqual(seen[0], [0, 200_000]);
    assert.deepEqual(seen.at(-1), [200_000, 200_000]);
    assert.ok(seen.length >= 4, `64 KiB chunks give several reports, got ${seen.length}`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]![0] >= seen[i - 1]![0], 'progress never goes back');
  });

  test('an async iterable is sent as it comes; its size is known only when given', async () => {
    const client = clientFor(server);
    async function* parts() {
      yield bytes(10, 1);
      yield bytes(20, 2);
    }
    const seen: Array<number | null> = [];
    const up = await client.uploadFile('signals.jsonl', parts(), { onProgress: (p) => seen.push(p.totalBytes) });
    assert.equal(up.bytes, 30);
    assert.deepEqual(new Uint8Array(server.uploads.get('signals.jsonl')!.content), new Uint8Array([...bytes(10, 1), ...bytes(20, 2)]));
    assert.deepEqual([...new Set(seen)], [null]);
    assert.equal(server.uploadRequests.at(-1)?.contentLength, undefined, 'no size, no content-length (chunked)');
    const sized = await client.uploadFile('signals.jsonl', parts(), { size: 30, onProgress: (p) => seen.push(p.totalBytes) });
    assert.equal(sized.bytes, 30);
    assert.equal(seen.at(-1), 30);
  });

  test('a body given as a function is sent again after a 401; a bare stream is not', async () => {
    const client = clientFor(server);
    await client.accessToken();
    server.revokeAll();
    let opened = 0;
    const up = await client.uploadFile('again.csv', () => {
      opened++;
      return new Blob([bytes(1000)]);
    });
    assert.equal(up.bytes, 1000);
    assert.equal(opened, 2);

    server.revokeAll();
    async function* once() {
      yield bytes(5);
    }
    const err = await rejection(client.uploadFile('once.csv', once()));
    assert.equal(err.status, 401);
    assert.equal(server.uploads.has('once.csv'), false);
  });

  test('a name the server refuses is refused before anything is sent', async () => {
    const before = server.uploadRequests.length;
    for (const name of ['', '.hidden', 'a/../b.csv', 'a//b.csv', 'a/.b', 'a b.csv', 'x'.repeat(129), Array(9).fill('a').join('/')]) {
      const err = await rejection(clientFor(server).uploadFile(name, bytes(3)));
      assert.equal(err.code, ClientErrorCodes.INVALID_ARGUMENT, name);
    }
    assert.equal(server.uploadRequests.length, before);
  });

  test('an upload whose source stops yielding fails with a timeout instead of hanging', async () => {
    const client = clientFor(server, { requestTimeoutMs: 200 });
    await client.accessToken();
    async function* stalls() {
      yield bytes(10);
      await new Promise(() => {});
    }
    const err = await rejection(client.uploadFile('stalled.csv', stalls()));
    assert.equal(err.code, ClientErrorCodes.TIMEOUT);
    assert.equal(server.uploads.has('stalled.csv'), false);
  });

  test('list and delete', async () => {
    const client = clientFor(server);
    await client.uploadFile('listed.csv', bytes(42));
    const listed = (await client.listUploads()).find((u) => u.name === 'listed.csv');
    assert.equal(listed?.bytes, 42);
    assert.match(listed?.sha256 ?? '', /^[0-9a-f]{64}$/);
    await client.deleteUpload('listed.csv');
    assert.equal((await client.listUploads()).some((u) => u.name === 'listed.csv'), false);
    const err = await rejection(client.deleteUpload('listed.csv'));
    assert.equal(err.status, 404);
  });
});

describe('training', () => {
  const request = {
    name: 'shoes',
    modelType: 'ecommerce-rnn',
    region: 'local',
    trainingData: { catalog: 'file:///u/c.csv', signals: 'file:///u/s.csv' },
    config: { dataset_config: 'mlp_ecommerce', trainer_config: 'mlp_ecommerce', 'trainer_config.num_epochs': 2 },
  };

  test('trainModel sends M2; waitForModel reports progress and resolves AVAILABLE with trainingMetrics', async () => {
    const client = clientFor(server);
    server.nextTrainingSteps = [
      { state: 'TRAINING', progress: { phase: 'loading-data' } },
      { state: 'TRAINING', progress: { phase: 'training', epoch: 1, numEpochs: 2, step: 3, steps: 4 } },
      { state: 'TRAINING', httpStatus: 503 },
      { state: 'TRAINING', progress: { phase: 'exporting' } },
      { state: 'AVAILABLE' },
    ];
    const model = await client.trainModel(request);
    assert.equal(model.state, 'TRAINING');
    assert.deepEqual(server.trainRequests.at(-1), request);
    const phases: string[] = [];
    const done = await client.waitForModel(model.id, { intervalMs: 5, onProgress: (m) => phases.push(`${m.state} ${m.trainingProgress?.phase ?? '-'}`) });
    assert.equal(done.state, 'AVAILABLE');
    assert.equal(done.vectorSize, 32);
    assert.deepEqual(done.trainingMetrics, server.trainingMetrics);
    assert.deepEqual(phases, ['TRAINING loading-data', 'TRAINING training', 'TRAINING exporting', 'AVAILABLE -']);
    const events = await client.listModelEvents(model.id);
    assert.equal(events[0]?.reason, 'TrainingStarted');
    assert.deepEqual(await client.listModelEvents(model.id, { afterId: events[0]!.id }), []);
  });

  test('TRAINING_FAILED rejects with the errorMessage', async () => {
    const client = clientFor(server);
    server.nextTrainingSteps = [{ state: 'TRAINING' }, { state: 'TRAINING_FAILED', errorMessage: 'signals /u/s.csv: no column "query"' }];
    const model = await client.trainModel(request);
    const err = await rejection(client.waitForModel(model.id, { intervalMs: 5 }));
    assert.equal(err.code, ClientErrorCodes.TRAINING_FAILED);
    assert.equal(err.details?.errorMessage, 'signals /u/s.csv: no column "query"');
    assert.equal(err.details?.modelId, model.id);
    assert.match(err.message, /no column "query"/);
  });

  test('an unknown model is the 404 at once; an abort stops the wait, not the training', async () => {
    const client = clientFor(server);
    const missing = await rejection(client.waitForModel('nope', { intervalMs: 5 }));
    assert.equal(missing.code, 'MODELD_ERR_MODEL_NOT_FOUND');
    server.nextTrainingSteps = [{ state: 'TRAINING', progress: { phase: 'training', epoch: 1 } }];
    const model = await client.trainModel(request);
    const controller = new AbortController();
    const err = await rejection(client.waitForModel(model.id, { intervalMs: 60_000, signal: controller.signal, onProgress: () => setImmediate(() => controller.abort()) }));
    assert.equal(err.code, ClientErrorCodes.ABORTED);
    assert.match(err.message, new RegExp(`model ${model.id}`));
    assert.equal((await client.getModel(model.id)).state, 'TRAINING');
  });
});
