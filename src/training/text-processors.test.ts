import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Tokenizer } from '@huggingface/tokenizers';
import { HfTokenizer } from '../engines/index.js';
import { ModeldError } from '../errors/index.js';
import {
  assertTextProcessorTrainable,
  learnTextProcessor,
  textProcessorFromTokenizerJson,
  PAD_ID,
  UNK_ID,
  type LearnedTextProcessorName,
} from './text-processors.js';

const corpus = [
  'Red running shoes, size 42',
  'Blue RUNNING shoe for trail runners',
  'Café crème & croissant x100 pack',
  'Samsung TV 55" 4K UHD (2024)',
  "Men's waterproof jacket — navy",
  'running shorts; running socks',
];

/** Texts mixing the corpus words with unseen words, case, digits, punctuation and non-Latin script. */
const texts = fc
  .array(
    fc.oneof(
      fc.constantFrom('running', 'RUN', 'shoes', 'Café', 'x100', '4K', '2024', 'crème', 'ШАПКА', '東京', 'ﬁne', '½', 'runnings', 'zzz'),
      fc.string({ maxLength: 6 }),
    ),
    { maxLength: 8 },
  )
  .chain((words) => fc.constantFrom(' ', ', ', '-', '  \t', '!?').map((sep) => words.join(sep)));

test('word_en lower-cases, splits digits into single tokens, maps unseen words to [UNK]', () => {
  const p = learnTextProcessor('word_en', corpus);
  assert.deepEqual(p.words('Samsung TV 55" 4K'), ['samsung', 'tv', '5', '5', '4', 'k']);
  assert.deepEqual(p.tokens('RUNNING Unicorns 42'), ['running', '[UNK]', '4', '2']);
  const ids = p.encode('running unicorns');
  assert.equal(ids[0], p.vocabulary().indexOf('running'));
  assert.equal(ids[1], UNK_ID);
  assert.equal(p.vocabulary()[PAD_ID], '[PAD]');
  // The most frequent word gets the first learned id.
  assert.equal(p.vocabulary()[2], 'running');
});

test('word_custom keeps letters and digits together; the cap keeps the most frequent words', () => {
  const p = learnTextProcessor('word_custom', corpus);
  assert.deepEqual(p.words('Café x100 4K'), ['café', 'x100', '4k']);
  const small = learnTextProcessor('word_custom', ['b a a', 'c a b'], { maxVocabulary: 4 });
  assert.deepEqual(small.vocabulary(), ['[PAD]', '[UNK]', 'a', 'b']);
  assert.deepEqual(small.tokens('a b c'), ['a', 'b', '[UNK]']);
});

test('bpe_custom learns merges from frequent pairs and falls back to characters, unknown characters to [UNK]', () => {
  const p = learnTextProcessor('bpe_custom', ['lower lower lowest low low', 'newer newest'], { maxVocabulary: 30 });
  assert.ok(p.vocabulary().includes('low'));
  assert.ok(p.vocabulary().length <= 30);
  assert.deepEqual(p.tokens('low'), ['low']);
  // "lowq": the learned "low", then "q", which never occurs in the data.
  assert.deepEqual(p.tokens('lowq').slice(-1), ['[UNK]']);
  assert.equal(p.tokens('lowq').join(''), 'low[UNK]');
  const again = learnTextProcessor('bpe_custom', ['newer newest', 'lower lower lowest low low'], { maxVocabulary: 30 });
  assert.deepEqual(again.vocabulary(), p.vocabulary(), 'the vocabulary depends on the word counts, not on the order of texts');
});

test('empty data cannot make a vocabulary', () => {
  assert.throws(() => learnTextProcessor('word_en', ['', '  ...  ']), (e: unknown) => e instanceof ModeldError && e.code === 'MODELD_ERR_TRAINING_CONFIG');
});

test('pre-trained processors are refused with a 400 naming what they need', () => {
  assert.throws(
    () => assertTextProcessorTrainable('bpe_multi', 'body.config.trainer_config/text_processor_config'),
    (e: unknown) => e instanceof ModeldError && e.status === 400 && /bpe_multi needs a pre-trained multilingual BPE/.test(e.message),
  );
  assert.doesNotThrow(() => assertTextProcessorTrainable('word_en', 'f'));
});

for (const name of ['word_en', 'word_custom', 'bpe_custom'] as LearnedTextProcessorName[]) {
  test(`${name}: the emitted tokenizer.json tokenizes as the in-process processor (library and runner tokenizer)`, () => {
    const p = learnTextProcessor(name, corpus, name === 'bpe_custom' ? { maxVocabulary: 60 } : {});
    const doc = JSON.parse(JSON.stringify(p.toTokenizerJson())) as Record<string, unknown>;
    const lib = new Tokenizer(doc as never, { unk_token: '[UNK]' });
    const runner = HfTokenizer.fromJson(doc, null, 100_000);
    const reread = textProcessorFromTokenizerJson(doc);
    fc.assert(
      fc.property(texts, (text) => {
        const ids = p.encode(text);
        assert.deepEqual(runner.encode(text).ids, ids, text);
        assert.deepEqual(runner.encode(text).tokens, p.tokens(text), text);
        // The library alone has no WordLevel model (it passes words through; the runner's HfTokenizer maps unknown ones), so its pieces are compared for BPE.
        if (name === 'bpe_custom') assert.deepEqual(lib.tokenize(text), p.tokens(text), text);
        assert.deepEqual(reread.encode(text), ids, text);
      }),
      { numRuns: 150, seed: 7 },
    );
  });
}
