import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { EmbeddingsModel, type EmbeddingsModelData } from '@energetic-ai/embeddings';
import { sampleSentences } from '../../test/fixtures/text.js';
import { shippedUseSourceDir } from './shipped-use.js';
import { UseTokenizer, type UseVocabulary } from './use-tokenizer.js';

// The original tokenizer ships inside @energetic-ai/embeddings and is reached through EmbeddingsModel
// (its constructor builds it from the vocabulary and does not touch the model).
test('UseTokenizer gives exactly the ids of the original USE tokenizer', async () => {
  const vocab = JSON.parse(await readFile(path.join(shippedUseSourceDir(), 'vocab.json'), 'utf8')) as UseVocabulary;
  const original = new EmbeddingsModel({ vocabulary: vocab, model: null } as unknown as EmbeddingsModelData).tokenizer;
  const ours = new UseTokenizer(vocab, 100_000);
  const texts = [
    ...sampleSentences(300, { seed: 17, minWords: 1, maxWords: 40 }),
    'Ünïcödé ｆｕｌｌｗｉｄｔｈ  double  spaces',
    '日本語のテキスト and emoji 🙂🙂 mixed',
    'zzzqqq xkcd',
    '',
  ];
  for (const t of texts) assert.deepEqual(ours.encode(t), original.encode(t), JSON.stringify(t));
});

test('UseTokenizer truncates at maxTokens and names pieces', async () => {
  const vocab = JSON.parse(await readFile(path.join(shippedUseSourceDir(), 'vocab.json'), 'utf8')) as UseVocabulary;
  const tok = new UseTokenizer(vocab, 5);
  const ids = tok.encode('the quick brown fox jumps over the lazy dog');
  assert.equal(ids.length, 5);
  assert.equal(tok.piece(ids[0]!), '\u2581the');
  assert.equal(tok.piece(tok.separatorId), '\u2581');
});
