import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tokenizerJson, type TokenizerKind } from '../../test/fixtures/models.js';
import { sampleSentences } from '../../test/fixtures/text.js';
import { Tokenizer } from '@huggingface/tokenizers';
import { HfTokenizer } from './tokenizer.js';

function load(kind: TokenizerKind, maxTokens = 512): HfTokenizer {
  return HfTokenizer.fromJson(JSON.parse(tokenizerJson(kind)), null, maxTokens);
}

test('WordPiece: lower-cases, splits unknown words into ## pieces, wraps in [CLS] ... [SEP]', () => {
  const tok = load('wordpiece');
  const { tokens, ids } = tok.encode('The Software, zqx!');
  assert.equal(tokens[0], '[CLS]');
  assert.equal(tokens.at(-1), '[SEP]');
  assert.deepEqual(tokens.slice(1, 4), ['the', 'software', ',']);
  assert.deepEqual(tokens.slice(4, 7), ['z', '##q', '##x']);
  assert.equal(ids[0], 2);
  assert.equal(ids.at(-1), 3);
  assert.equal(tok.specialTokenCount, 2);
});

test('WordLevel: known words get their id, unknown words the [UNK] id and token, no special tokens', () => {
  const tok = load('wordlevel');
  const json = JSON.parse(tokenizerJson('wordlevel')) as { model: { vocab: Record<string, number> } };
  const { tokens, ids } = tok.encode('License granted qqqzzzxx .');
  assert.deepEqual(tokens, ['license', 'granted', '[UNK]', '.']);
  assert.deepEqual(ids, [json.model.vocab.license, json.model.vocab.granted, 1, json.model.vocab['.']]);
  assert.equal(tok.specialTokenCount, 0);
});

test('BPE: applies the learned merges; every id maps back to its token', () => {
  const tok = load('bpe');
  const vocab = (JSON.parse(tokenizerJson('bpe')) as { model: { vocab: Record<string, number> } }).model.vocab;
  const { tokens, ids } = tok.encode('the license permits redistribution');
  assert.equal(tokens[0], '<s>');
  assert.equal(tokens.at(-1), '</s>');
  assert.ok(tokens.includes('the') && tokens.includes('license'), `frequent words are single merges: ${tokens.join(' ')}`);
  assert.equal(tokens.slice(1, -1).join(''), 'thelicensepermitsredistribution');
  tokens.forEach((t, i) => assert.equal(vocab[t], ids[i]));
});

test('Unigram: metaspace pieces, best segmentation, </s> appended', () => {
  const tok = load('unigram');
  const { tokens } = tok.encode('The license');
  assert.deepEqual(tokens, ['\u2581the', '\u2581license', '</s>']);
  const odd = tok.encode('qzxv').tokens;
  assert.equal(odd.at(-1), '</s>');
  assert.equal(odd.slice(0, -1).join('').replace('\u2581', ''), 'qzxv');
});

test('Unigram: a character the vocabulary lacks takes unk_id (its text kept as the token), as the library and the Rust crate give', () => {
  const json = JSON.parse(tokenizerJson('unigram'));
  const tok = HfTokenizer.fromJson(json, null, 512);
  const text = 'the `quoted` license';
  const { ids, tokens } = tok.encode(text);
  assert.ok(ids.includes(json.model.unk_id), JSON.stringify(tokens));
  assert.ok(tokens.some((t) => t.includes('`')), JSON.stringify(tokens));
  assert.deepEqual(ids, new Tokenizer(json, {}).encode(text).ids);
});

for (const kind of ['wordpiece', 'wordlevel', 'bpe', 'unigram'] as const) {
  test(`${kind}: truncation keeps the special tokens and never exceeds maxTokens`, () => {
    const full = load(kind, 512);
    const cut = load(kind, 8);
    // The fixture vocabularies know ASCII letters, digits and common punctuation; this machine's
    // text may hold other characters (a backquote in a package's copyright file), which become
    // unknown pieces: they are not what this test is about.
    for (const text of sampleSentences(20, { seed: 11, minWords: 12, maxWords: 30 }).map((t) => t.replace(/[^A-Za-z0-9 .,;:()'"-]/g, ' '))) {
      const a = full.encode(text);
      const b = cut.encode(text);
      assert.ok(a.ids.length > 8, `sentence long enough: ${text}`);
      assert.equal(b.ids.length, 8);
      const sp = cut.specialTokenCount;
      const head = kind === 'wordpiece' || kind === 'bpe' ? 1 : 0;
      // The first content tokens are kept, in order; the end specials are still there.
      assert.deepEqual(b.tokens.slice(head, 8 - (sp - head)), a.tokens.slice(head, 8 - (sp - head)));
      if (sp > head) assert.equal(b.tokens.at(-1), a.tokens.at(-1));
    }
  });
}

test('an empty text gives only the special tokens', () => {
  assert.deepEqual(load('wordpiece').encode('').tokens, ['[CLS]', '[SEP]']);
  assert.deepEqual(load('wordlevel').encode('').ids, []);
});

test('a tokenizer.json that is not one is refused with a clear error', () => {
  assert.throws(() => HfTokenizer.fromJson({ hello: 1 }, null, 16, '/x/tokenizer.json'), {
    code: 'MODELD_ERR_ARTIFACT_INVALID',
    message: /\/x\/tokenizer\.json: not a Hugging Face tokenizer\.json/,
  });
  assert.throws(() => HfTokenizer.fromJson({ model: { type: 'Nope' } }, null, 16), { code: 'MODELD_ERR_ARTIFACT_INVALID', message: /cannot load the tokenizer/ });
  assert.throws(() => HfTokenizer.fromJson(JSON.parse(tokenizerJson('wordpiece')), null, 2), { message: /leaves no room/ });
});

test('the WordLevel fast path gives exactly what the library gives', () => {
  const json = JSON.parse(tokenizerJson('wordlevel', 30_000)) as { model: { vocab: Record<string, number> } };
  const tok = HfTokenizer.fromJson(json, null, 512);
  const lib = new Tokenizer(json, { unk_token: '[UNK]' });
  const texts = [
    ...sampleSentences(500, { seed: 5, minWords: 1, maxWords: 40 }),
    'Ünïcödé naïve café — “quotes” & 3.14 x_y',
    'a [UNK] inside, and [PAD] too',
    '   ',
    '',
  ];
  for (const text of texts) {
    const expected = lib.encode(text, { add_special_tokens: false });
    const got = tok.encode(text);
    assert.deepEqual(got.ids, expected.ids, text);
    assert.deepEqual(
      got.tokens,
      expected.tokens.map((t: string) => (t in json.model.vocab ? t : '[UNK]')),
      text,
    );
  }
});
