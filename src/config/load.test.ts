import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ModeldError } from '../errors/index.js';
import { loadConfig } from './load.js';

describe('loadConfig', () => {
  it('defaults to one machine: port 8080, ./data, SQLite, region local on processes', () => {
    const c = loadConfig({}, {}, '/srv/x');
    assert.equal(c.port, 8080);
    assert.equal(c.dataDir, '/srv/x/data');
    assert.equal(c.store.kind, 'sqlite');
    assert.equal(c.store.sqliteFile, '/srv/x/data/modeld.sqlite');
    assert.deepEqual(Object.keys(c.regions), ['local']);
    assert.equal(c.regions.local?.runtime, 'process');
    assert.deepEqual(c.training.dataRoots, ['/srv/x/data/uploads']);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.limits));
  });

  it('applies file, then env, then flags', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modeld-config-'));
    try {
      const file = path.join(dir, 'modeld.json');
      writeFileSync(file, JSON.stringify({ port: 1111, limits: { maxReplicas: 4 }, regions: { 'eu-west': { runtime: 'process' } } }));
      const fromFile = loadConfig({ configFile: file }, {}, dir);
      assert.equal(fromFile.port, 1111);
      assert.equal(fromFile.limits.maxReplicas, 4);
      assert.equal(fromFile.limits.maxBatchItems, 32, 'untouched keys keep their defaults');
      assert.deepEqual(Object.keys(fromFile.regions), ['eu-west'], 'regions given in a file replace the defaults');
      const fromEnv = loadConfig({ configFile: file }, { MODELD_PORT: '2222', MODELD_DATA_DIR: '/var/lib/modeld' }, dir);
      assert.equal(fromEnv.port, 2222);
      assert.equal(fromEnv.dataDir, '/var/lib/modeld');
      const fromFlags = loadConfig({ configFile: file, port: 3333 }, { MODELD_PORT: '2222' }, dir);
      assert.equal(fromFlags.port, 3333);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a bad value naming the key', () => {
    assert.throws(
      () => loadConfig({}, { MODELD_PORT: 'eighty' }),
      (err: unknown) => err instanceof ModeldError && err.message.includes('MODELD_PORT'),
    );
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modeld-config-'));
    try {
      const file = path.join(dir, 'bad.json');
      writeFileSync(file, JSON.stringify({ limits: { maxReplicas: 0 } }));
      assert.throws(
        () => loadConfig({ configFile: file }, {}, dir),
        (err: unknown) => err instanceof ModeldError && err.message.includes('limits.maxReplicas'),
      );
      writeFileSync(file, JSON.stringify({ colour: 'blue' }));
      assert.throws(
        () => loadConfig({ configFile: file }, {}, dir),
        (err: unknown) => err instanceof ModeldError && err.message.includes('colour'),
      );
      writeFileSync(file, '{not json');
      assert.throws(
        () => loadConfig({ configFile: file }, {}, dir),
        (err: unknown) => err instanceof ModeldError && err.message.includes('not valid JSON'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a postgres URL from the environment switches the store', () => {
    const c = loadConfig({}, { MODELD_DATABASE_URL: 'postgres://u@127.0.0.1:5432/modeld' });
    assert.equal(c.store.kind, 'postgres');
    assert.equal(c.store.postgresUrl, 'postgres://u@127.0.0.1:5432/modeld');
  });
});
