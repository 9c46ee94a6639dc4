import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import onnxProto from 'onnx-proto';
import { HfTokenizer, installPretrained, loadEngine, readManifest } from '../engines/index.js';
import { ModeldError } from '../errors/index.js';
import { makeBertExport, makeTinyHfModel } from '../../test/fixtures/models.js';
import { writeTinyTrainingData } from '../../test/fixtures/training-data.js';
import { runTrainingJob } from './job.js';
import { makeTempDir } from '../../test/fixtures/tmp.js';
import { loadBaseModel, readTokenEmbeddings, tokenizerVocabSize } from './base-model.js';

const { onnx } = onnxProto;

/**
 * The base model of a transformer-RNN trainer: its token embeddings found in real ONNX files (by
 * name, else by shape; inline, external, float16), and an installed folder read as the training
 * run reads it.
 */

let tmp: Awaited<ReturnType<typeof makeTempDir>>;
before(async () => {
  tmp = await makeTempDir('modeld-base-model-');
});
after(() => tmp.cleanup());

function values(n: number, start: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => start + i / 8);
}

function init(name: string, dims: number[], v: Float32Array): onnxProto.onnx.ITensorProto {
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
}

/** A graph that only carries initializers (readTokenEmbeddings never runs it). */
async function graphFile(name: string, initializer: onnxProto.onnx.ITensorProto[]): Promise<string> {
  const file = path.join(tmp.dir, name);
  const bytes = onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'g', initializer, output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [] } } } }] },
  }).finish();
  await writeFile(file, bytes);
  return file;
}

describe('readTokenEmbeddings', () => {
  test('takes the initializer named *word_embeddings.weight, even beside another one of the vocabulary size', async () => {
    const emb = values(10 * 4, 0);
    const file = await graphFile('named.onnx', [init('decoy', [10, 4], values(40, 100)), init('bert.embeddings.word_embeddings.weight', [10, 4], emb)]);
    const e = await readTokenEmbeddings(file, { vocabSize: 10 });
    assert.deepEqual([e.initializer, e.foundBy, e.rows, e.dim], ['bert.embeddings.word_embeddings.weight', 'name', 10, 4]);
    assert.deepEqual(e.values, emb);
  });

  test('else the only 2-D initializer whose first dimension is the vocabulary size, narrowed by the hidden size', async () => {
    const emb = values(10 * 4, 3);
    const file = await graphFile('shape.onnx', [init('w', [4, 4], values(16, 0)), init('onnx::Gather_7', [10, 4], emb)]);
    const e = await readTokenEmbeddings(file, { vocabSize: 10 });
    assert.deepEqual([e.initializer, e.foundBy], ['onnx::Gather_7', 'shape']);
    assert.deepEqual(e.values, emb);
    const two = await graphFile('two.onnx', [init('a', [10, 4], values(40, 0)), init('b', [10, 6], values(60, 0))]);
    assert.equal((await readTokenEmbeddings(two, { vocabSize: 10, hiddenSize: 6 })).initializer, 'b');
    await assert.rejects(readTokenEmbeddings(two, { vocabSize: 10 }), /no initializer named \*word_embeddings\.weight, and 2 2-D float initializers have 10 rows.*a \[10, 4\], b \[10, 6\]/);
    await assert.rejects(readTokenEmbeddings(two, { vocabSize: 11 }), /0 2-D float initializers have 11 rows/);
  });

  test('reads float16 and external data, and refuses a matrix above the cap', async () => {
    const half = Uint16Array.from([0x3c00, 0xc000, 0x3800, 0x0000, 0x7bff, 0x0001]); // 1, -2, 0.5, 0, 65504, 2^-24
    const f16 = await graphFile('f16.onnx', [
      { name: 'embeddings.word_embeddings.weight', dims: [3, 2], dataType: onnx.TensorProto.DataType.FLOAT16, rawData: new Uint8Array(half.buffer) },
    ]);
    assert.deepEqual(Array.from((await readTokenEmbeddings(f16, { vocabSize: 3 })).values), [1, -2, 0.5, 0, 65504, 2 ** -24]);

    const emb = values(5 * 3, 7);
    const data = Buffer.concat([Buffer.alloc(16, 9), Buffer.from(emb.buffer)]);
    await writeFile(path.join(tmp.dir, 'model.onnx_data'), data);
    const ext = await graphFile('ext.onnx', [
      {
        name: 'embeddings.word_embeddings.weight',
        dims: [5, 3],
        dataType: onnx.TensorProto.DataType.FLOAT,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: 'model.onnx_data' },
          { key: 'offset', value: '16' },
          { key: 'length', value: String(emb.byteLength) },
        ],
      },
    ]);
    assert.deepEqual((await readTokenEmbeddings(ext, { vocabSize: 5 })).values, emb);
    const escaping = await graphFile('escape.onnx', [
      { name: 'embeddings.word_embeddings.weight', dims: [5, 3], dataType: 1, dataLocation: 1, externalData: [{ key: 'location', value: '../x.bin' }] },
    ]);
    await assert.rejects(readTokenEmbeddings(escaping, { vocabSize: 5 }), /outside the model's folder/);
    await assert.rejects(readTokenEmbeddings(ext, { vocabSize: 5, maxBytes: 59 }), /\[5, 3\] take 60 bytes as float32, above the 59-byte cap/);
  });
});

describe('loadBaseModel', () => {
  test('reads an installed export: tokenizer files verbatim, the embeddings of the graph, a tokenizer that truncates as a runner does', async () => {
    const src = await makeBertExport(path.join(tmp.dir, 'export'), 384, 11, { embeddingName: 'embeddings.word_embeddings.weight' });
    const modelsDir = path.join(tmp.dir, 'models');
    await installPretrained(modelsDir, 'e5-small-v2', src);
    const base = await loadBaseModel(modelsDir, 'e5-small-v2');
    const tokText = await readFile(path.join(src, 'tokenizer.json'), 'utf8');
    assert.equal(base.tokenizerJson, tokText);
    assert.equal(base.tokenizerConfig, await readFile(path.join(src, 'tokenizer_config.json'), 'utf8'));
    assert.equal(base.vocabSize, tokenizerVocabSize(JSON.parse(tokText)));
    assert.deepEqual([base.embeddings.initializer, base.embeddings.foundBy, base.embeddings.rows, base.embeddings.dim], ['embeddings.word_embeddings.weight', 'name', base.vocabSize, 384]);
    assert.equal(base.maxTokens, 512);
    const t = base.tokenizer(5);
    const ids = t.encode('the quick brown fox jumps over the lazy dog').ids;
    assert.equal(ids.length, 5);
    assert.equal(ids[0], t.encode('').ids[0], '[CLS] first');
    assert.equal(ids[4], t.encode('').ids[1], '[SEP] kept at the end');
  });

  test('a model that is not installed is the 400 naming the model, the command and the field', async () => {
    await assert.rejects(loadBaseModel(path.join(tmp.dir, 'models'), 'gte-small'), (err: unknown) => {
      assert.ok(err instanceof ModeldError);
      assert.equal(err.code, 'MODELD_ERR_TRAINING_CONFIG');
      assert.equal(err.status, 400);
      assert.equal(err.details?.field, 'body.config.trainer_config');
      assert.match(err.message, /^body\.config\.trainer_config: gte_small_rnn starts from the pre-trained model gte-small's tokenizer and token embeddings, and gte-small is not installed.*`modeld models install gte-small <folder>`/);
      return true;
    });
  });
});

describe('runTrainingJob on an XLM-RoBERTa-family base (Unigram tokenizer, embeddings found by shape)', () => {
  test('multilingual_e5_small_rnn, frozen: the artifact ships the base tokenizer, its embedding is the base one, the engine tokenizes as the base', async () => {
    const modelsDir = path.join(tmp.dir, 'models-xlmr');
    const src = await makeTinyHfModel(path.join(tmp.dir, 'export-xlmr'), { tokenizer: 'unigram', dim: 384 });
    await installPretrained(modelsDir, 'multilingual-e5-small', src);
    const base = await loadBaseModel(modelsDir, 'multilingual-e5-small');
    assert.equal(base.embeddings.foundBy, 'shape', 'the fixture names its embeddings "emb"');
    const data = await writeTinyTrainingData(tmp.dir, { items: 120 });
    const phases: string[] = [];
    const result = await runTrainingJob(
      {
        modelId: 'm',
        modelName: 'xlmr-rnn',
        modelType: 'general-rnn',
        config: {
          dataset_config: 'mlp_ecommerce',
          trainer_config: 'multilingual_e5_small_rnn',
          'trainer_config/text_processor_config': 'multilingual-e5-small',
          'trainer_config.encoder_config.emb_trainable': false,
          'trainer_config.encoder_config.rnn_units_list': [16],
          'trainer_config.num_epochs': 1,
          'trainer_config.trn_batch_size': 16,
        },
        trainingData: { catalog: data.catalog, signals: data.signals },
        dataRoots: [tmp.dir],
        workDir: path.join(tmp.dir, 'work-xlmr'),
        threads: 1,
        modelsDir,
      },
      { onProgress: (p) => p.kind === 'phase' && phases.push(p.message) },
    );
    assert.ok(phases.some((m) => m === 'reading the tokenizer and token embeddings of multilingual-e5-small'), phases.join(' | '));
    assert.ok(phases.some((m) => m.includes(`multilingual-e5-small's tokenizer (${base.vocabSize} ids) and token embeddings emb [${base.vocabSize}, 384]`)), phases.join(' | '));
    assert.equal(result.config['trainer_config/text_processor_config'], 'multilingual_e5_small');
    assert.equal(await readFile(path.join(result.artifactDir, 'tokenizer.json'), 'utf8'), base.tokenizerJson);
    const exported = await readTokenEmbeddings(path.join(result.artifactDir, 'model.onnx'), { vocabSize: base.embeddings.rows });
    assert.deepEqual(exported.values, base.embeddings.values);
    const manifest = await readManifest(result.artifactDir);
    const engine = await loadEngine(result.artifactDir);
    try {
      const reference = HfTokenizer.fromJson(JSON.parse(base.tokenizerJson), null, manifest.tokenizer.maxTokens);
      const texts = ['the history of the world', 'Zebra crossing'];
      assert.deepEqual(engine.tokenize(texts).ids, texts.map((t) => reference.encode(t).ids));
    } finally {
      await engine.close();
    }
  });

  test('a run whose base was removed since M2 fails with the not-installed 400, naming the text processor key when that named it', async () => {
    const data = await writeTinyTrainingData(tmp.dir, { items: 120 });
    await assert.rejects(
      runTrainingJob({
        modelId: 'm',
        modelName: 'gone',
        modelType: 'ecommerce-rnn',
        config: { dataset_config: 'mlp_ecommerce', trainer_config: 'mlp_ecommerce', 'trainer_config.text_processor_config': 'gte-small' },
        trainingData: { catalog: data.catalog, signals: data.signals },
        dataRoots: [tmp.dir],
        workDir: path.join(tmp.dir, 'work-gone'),
        modelsDir: path.join(tmp.dir, 'models-empty'),
      }),
      (err: unknown) => {
        assert.ok(err instanceof ModeldError);
        assert.equal(err.details?.field, 'body.config.trainer_config.text_processor_config');
        assert.match(err.message, /^body\.config\.trainer_config\.text_processor_config: gte_small starts from the pre-trained model gte-small's .*`modeld models install gte-small <folder>`/);
        return true;
      },
    );
  });
});
