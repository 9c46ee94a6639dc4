import { ModeldError } from '../errors/index.js';

/**
 * Text processors: how a text becomes token ids for the encoder. The three modeld can provide
 * offline learn their vocabulary from the training data; each one emits a Hugging Face
 * tokenizer.json that tokenizes exactly as the in-process processor does, so that a runner
 * serving the trained model (through `@huggingface/tokenizers`) sees the ids training saw.
 *
 * Ids: 0 is `[PAD]` (the encoder's padding), 1 is `[UNK]` (every out-of-vocabulary piece); the
 * learned pieces follow, most frequent first.
 */

/** Every `trainer_config/text_processor_config` value modeld knows. */
export const TEXT_PROCESSOR_NAMES = ['word_en', 'word_custom', 'bpe_custom', 'bpe_en_small', 'bpe_en_large', 'bpe_multi'] as const;
export type TextProcessorName = (typeof TEXT_PROCESSOR_NAMES)[number];

/** The processors learned from the training data, with their vocabulary caps ([PAD] and [UNK] included). */
export const VOCABULARY_CAPS = {
  /** The vocabulary of Lucidworks' default ecommerce encoder (30,000 ids). */
  word_en: 30_000,
  word_custom: 100_000,
  bpe_custom: 10_000,
} as const;
export type LearnedTextProcessorName = keyof typeof VOCABULARY_CAPS;

/**
 * The pre-trained processors and what each would need. modeld ships none of these vocabularies
 * and embeddings and cannot download them, so they are refused rather than replaced by a
 * learned processor (a silent fallback would train a different model than the one asked for).
 */
export const PRETRAINED_TEXT_PROCESSORS = {
  bpe_en_small: 'pre-trained English BPE subword vocabulary and embeddings (small; BPEmb "en" 10k-vocabulary kind)',
  bpe_en_large: 'pre-trained English BPE subword vocabulary and embeddings (large; BPEmb "en" 50k+-vocabulary kind)',
  bpe_multi: 'pre-trained multilingual BPE subword vocabulary and embeddings (BPEmb "multi" kind)',
} as const satisfies Record<Exclude<TextProcessorName, LearnedTextProcessorName>, string>;

export const PAD_TOKEN = '[PAD]';
export const UNK_TOKEN = '[UNK]';
export const PAD_ID = 0;
export const UNK_ID = 1;

/**
 * Throws MODELD_ERR_TRAINING_CONFIG (400) naming `field` when `name` is a pre-trained processor:
 * the message says what it needs and which processors train offline. Unknown names are the
 * config compiler's to refuse.
 */
export function assertTextProcessorTrainable(name: TextProcessorName, field: string): asserts name is LearnedTextProcessorName {
  if (Object.hasOwn(VOCABULARY_CAPS, name)) return;
  const needs = PRETRAINED_TEXT_PROCESSORS[name as keyof typeof PRETRAINED_TEXT_PROCESSORS];
  const learned = Object.keys(VOCABULARY_CAPS).join(', ');
  throw new ModeldError(
    'MODELD_ERR_TRAINING_CONFIG',
    `${field}: ${name} needs a ${needs}; modeld ships none and cannot download one, so it cannot train with ${name}. Use ${learned}, which learn their vocabulary from your data`,
    { details: { field, needs, trainable: Object.keys(VOCABULARY_CAPS) } },
  );
}

/**
 * The pre-tokenization of each learned processor: an Oniguruma-compatible pattern whose matches are
 * the words (everything else, punctuation and spaces, is dropped). The same text is compiled here
 * with the `u` flag and written into tokenizer.json as a `Split` pre-tokenizer.
 * - word_en: letter runs, and every digit as its own token (so numbers are never out of vocabulary).
 * - word_custom, bpe_custom: runs of letters and digits together (model numbers such as `x100` stay one word).
 */
const WORD_PATTERNS = {
  word_en: '[\\p{L}\\p{M}]+|\\p{N}',
  word_custom: '[\\p{L}\\p{M}\\p{N}]+',
  bpe_custom: '[\\p{L}\\p{M}\\p{N}]+',
} as const satisfies Record<LearnedTextProcessorName, string>;

/** Largest BPE alphabet; rarer characters are [UNK]. */
const MAX_BPE_ALPHABET = 1000;

/** The Hugging Face tokenizer.json document a learned processor emits. */
export interface TokenizerJsonDocument {
  version: '1.0';
  truncation: null;
  padding: null;
  added_tokens: [];
  normalizer: { type: 'Sequence'; normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }] };
  pre_tokenizer: { type: 'Split'; pattern: { Regex: string }; behavior: 'Removed'; invert: true };
  post_processor: null;
  decoder: null;
  model:
    | { type: 'WordLevel'; vocab: Record<string, number>; unk_token: string }
    | {
        type: 'BPE';
        dropout: null;
        unk_token: string;
        continuing_subword_prefix: null;
        end_of_word_suffix: null;
        fuse_unk: false;
        byte_fallback: false;
        ignore_merges: false;
        vocab: Record<string, number>;
        merges: Array<[string, string]>;
      };
}

/** A learned text processor. `tokens` and `encode` never fail; unknown pieces are [UNK] / 1. */
export interface TextProcessor {
  readonly name: LearnedTextProcessorName;
  /** Number of ids, [PAD] and [UNK] included. */
  readonly vocabSize: number;
  /** The words of a text after normalization and pre-tokenization (before the vocabulary). */
  words(text: string): string[];
  /** The pieces of a text, out-of-vocabulary ones as [UNK]. */
  tokens(text: string): string[];
  encode(text: string): number[];
  /** The vocabulary, index = id. */
  vocabulary(): readonly string[];
  toTokenizerJson(): TokenizerJsonDocument;
}

export interface LearnOptions {
  /** Lower than the processor's cap, for small experiments and tests; never above it. */
  maxVocabulary?: number;
}

/**
 * Learns `name`'s vocabulary from `texts` (index titles, descriptions and bodies, and queries).
 * Word processors keep the most frequent words up to the cap (ties by code-unit order, so the
 * result depends only on the multiset of words). bpe_custom starts from the most frequent
 * characters (at most 1,000) and merges the most frequent adjacent pair (ties by order) until the
 * cap is reached or no pair occurs twice. Deterministic: the same texts give the same vocabulary.
 * Throws MODELD_ERR_TRAINING_CONFIG when the texts hold no word at all.
 */
export function learnTextProcessor(name: LearnedTextProcessorName, texts: Iterable<string>, options: LearnOptions = {}): TextProcessor {
  const cap = Math.min(VOCABULARY_CAPS[name], options.maxVocabulary ?? Infinity);
  if (!Number.isInteger(cap) || cap < 3) throw new RangeError(`maxVocabulary must be an integer >= 3, got ${cap}`);
  const split = new RegExp(WORD_PATTERNS[name], 'gu');
  const words = (text: string): string[] => text.normalize('NFKC').toLowerCase().match(split) ?? [];
  const counts = new Map<string, number>();
  for (const text of texts) for (const w of words(text)) counts.set(w, (counts.get(w) ?? 0) + 1);
  if (counts.size === 0) {
    throw new ModeldError('MODELD_ERR_TRAINING_CONFIG', `training data: no words to learn a ${name} vocabulary from (the index texts and queries are empty)`, {
      details: { textProcessor: name },
    });
  }
  return name === 'bpe_custom' ? BpeProcessor.learn(counts, cap, words) : WordProcessor.learn(name, counts, cap, words);
}

/**
 * Rebuilds a learned processor from the tokenizer.json it emitted (a trained artifact). Throws
 * MODELD_ERR_ARTIFACT_INVALID for a document modeld did not write.
 */
export function textProcessorFromTokenizerJson(doc: unknown): TextProcessor {
  const d = doc as Partial<TokenizerJsonDocument> | null;
  const pattern = d?.pre_tokenizer?.pattern?.Regex;
  const name = (Object.keys(WORD_PATTERNS) as LearnedTextProcessorName[]).find(
    (n) => WORD_PATTERNS[n] === pattern && (n === 'bpe_custom') === (d?.model?.type === 'BPE'),
  );
  if (d === null || typeof d !== 'object' || name === undefined || typeof d.model?.vocab !== 'object') {
    throw new ModeldError('MODELD_ERR_ARTIFACT_INVALID', 'tokenizer.json: not a tokenizer written by a modeld text processor');
  }
  const vocab = Object.entries(d.model.vocab).sort((a, b) => a[1] - b[1]).map(([t]) => t);
  const split = new RegExp(pattern!, 'gu');
  const words = (text: string): string[] => text.normalize('NFKC').toLowerCase().match(split) ?? [];
  if (d.model.type === 'BPE') return new BpeProcessor(vocab, d.model.merges, words);
  return new WordProcessor(name, vocab, words);
}

function baseDocument(name: LearnedTextProcessorName): Omit<TokenizerJsonDocument, 'model'> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'Split', pattern: { Regex: WORD_PATTERNS[name] }, behavior: 'Removed', invert: true },
    post_processor: null,
    decoder: null,
  };
}

/** By count descending, then by code-unit order: the deterministic frequency order used everywhere here. */
function byFrequency(a: [string, number], b: [string, number]): number {
  return b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

class WordProcessor implements TextProcessor {
  readonly name: LearnedTextProcessorName;
  readonly vocabSize: number;
  readonly words: (text: string) => string[];
  #vocab: string[];
  #ids: Map<string, number>;

  constructor(name: LearnedTextProcessorName, vocab: string[], words: (text: string) => string[]) {
    this.name = name;
    this.#vocab = vocab;
    this.vocabSize = vocab.length;
    this.#ids = new Map(vocab.map((t, i) => [t, i]));
    this.words = words;
  }

  static learn(name: LearnedTextProcessorName, counts: Map<string, number>, cap: number, words: (text: string) => string[]): WordProcessor {
    const kept = [...counts].sort(byFrequency).slice(0, cap - 2).map(([w]) => w);
    return new WordProcessor(name, [PAD_TOKEN, UNK_TOKEN, ...kept], words);
  }

  tokens(text: string): string[] {
    return this.words(text).map((w) => (this.#ids.has(w) ? w : UNK_TOKEN));
  }

  encode(text: string): number[] {
    return this.words(text).map((w) => this.#ids.get(w) ?? UNK_ID);
  }

  vocabulary(): readonly string[] {
    return this.#vocab;
  }

  toTokenizerJson(): TokenizerJsonDocument {
    return { ...baseDocument(this.name), model: { type: 'WordLevel', vocab: Object.fromEntries(this.#ids), unk_token: UNK_TOKEN } };
  }
}

/** A max-heap of candidate merges; entries go stale when a pair's count changes and are skipped on pop. */
class PairHeap {
  #items: Array<{ key: string; count: number }> = [];
  push(key: string, count: number): void {
    const a = this.#items;
    a.push({ key, count });
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!PairHeap.#before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): { key: string; count: number } | undefined {
    const a = this.#items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && PairHeap.#before(a[l]!, a[m]!)) m = l;
        if (r < a.length && PairHeap.#before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
  static #before(x: { key: string; count: number }, y: { key: string; count: number }): boolean {
    return x.count > y.count || (x.count === y.count && x.key < y.key);
  }
}

/** Separates the two halves of a pair key; pre-tokenized words never contain it (letters, marks, digits only). */
const SEP = '\u0000';

class BpeProcessor implements TextProcessor {
  readonly name = 'bpe_custom' as const;
  readonly vocabSize: number;
  readonly words: (text: string) => string[];
  #vocab: string[];
  #ids: Map<string, number>;
  #merges: Array<[string, string]>;
  #rank: Map<string, number>;
  #cache = new Map<string, string[]>();

  constructor(vocab: string[], merges: Array<[string, string]>, words: (text: string) => string[]) {
    this.#vocab = vocab;
    this.vocabSize = vocab.length;
    this.#ids = new Map(vocab.map((t, i) => [t, i]));
    this.#merges = merges;
    this.#rank = new Map(merges.map(([a, b], i) => [a + SEP + b, i]));
    this.words = words;
  }

  static learn(counts: Map<string, number>, cap: number, words: (text: string) => string[]): BpeProcessor {
    const chars = new Map<string, number>();
    for (const [w, c] of counts) for (const ch of w) chars.set(ch, (chars.get(ch) ?? 0) + c);
    const alphabet = [...chars].sort(byFrequency).slice(0, Math.min(MAX_BPE_ALPHABET, cap - 2)).map(([ch]) => ch);
    const vocab = [PAD_TOKEN, UNK_TOKEN, ...alphabet];
    const known = new Set(vocab);

    // Unique words as symbol lists; pair counts and, per pair, the words holding it.
    const wordSyms: string[][] = [];
    const wordCount: number[] = [];
    for (const [w, c] of counts) {
      wordSyms.push(Array.from(w));
      wordCount.push(c);
    }
    const pairCount = new Map<string, number>();
    const pairWords = new Map<string, Set<number>>();
    const addPairs = (wi: number, sign: 1 | -1, touched: Set<string>): void => {
      const s = wordSyms[wi]!;
      for (let i = 0; i + 1 < s.length; i++) {
        if (!known.has(s[i]!) || !known.has(s[i + 1]!)) continue;
        const key = s[i]! + SEP + s[i + 1]!;
        pairCount.set(key, (pairCount.get(key) ?? 0) + sign * wordCount[wi]!);
        if (sign === 1) {
          let set = pairWords.get(key);
          if (set === undefined) pairWords.set(key, (set = new Set()));
          set.add(wi);
        }
        touched.add(key);
      }
    };
    const heap = new PairHeap();
    const initial = new Set<string>();
    for (let wi = 0; wi < wordSyms.length; wi++) addPairs(wi, 1, initial);
    for (const key of initial) heap.push(key, pairCount.get(key)!);

    const merges: Array<[string, string]> = [];
    while (vocab.length < cap) {
      const top = heap.pop();
      if (top === undefined) break;
      if (pairCount.get(top.key) !== top.count) continue; // stale entry
      if (top.count < 2) break;
      const [a, b] = top.key.split(SEP) as [string, string];
      const merged = a + b;
      merges.push([a, b]);
      if (!known.has(merged)) {
        vocab.push(merged);
        known.add(merged);
      }
      const touched = new Set<string>();
      for (const wi of pairWords.get(top.key) ?? []) {
        addPairs(wi, -1, touched);
        const s = wordSyms[wi]!;
        const out: string[] = [];
        for (let i = 0; i < s.length; i++) {
          if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
            out.push(merged);
            i++;
          } else {
            out.push(s[i]!);
          }
        }
        wordSyms[wi] = out;
        addPairs(wi, 1, touched);
      }
      pairWords.delete(top.key);
      for (const key of touched) {
        const c = pairCount.get(key)!;
        if (c <= 0) {
          pairCount.delete(key);
          pairWords.delete(key);
        } else {
          heap.push(key, c);
        }
      }
    }
    return new BpeProcessor(vocab, merges, words);
  }

  /**
   * Splits one word into pieces: repeatedly merges the adjacent pair with the lowest merge rank,
   * the leftmost one among equal ranks (the order `@huggingface/tokenizers` and the Rust crate use).
   */
  #pieces(word: string): string[] {
    const cached = this.#cache.get(word);
    if (cached !== undefined) return cached;
    const s = Array.from(word);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < s.length; i++) {
        const r = this.#rank.get(s[i]! + SEP + s[i + 1]!);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      s.splice(best, 2, s[best]! + s[best + 1]!);
    }
    const pieces = s.map((p) => (this.#ids.has(p) ? p : UNK_TOKEN));
    if (this.#cache.size < 10_000) this.#cache.set(word, pieces);
    return pieces;
  }

  tokens(text: string): string[] {
    return this.words(text).flatMap((w) => this.#pieces(w));
  }

  encode(text: string): number[] {
    return this.tokens(text).map((p) => this.#ids.get(p)!);
  }

  vocabulary(): readonly string[] {
    return this.#vocab;
  }

  toTokenizerJson(): TokenizerJsonDocument {
    return {
      ...baseDocument('bpe_custom'),
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: UNK_TOKEN,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab: Object.fromEntries(this.#ids),
        merges: this.#merges.map(([a, b]) => [a, b]),
      },
    };
  }
}
