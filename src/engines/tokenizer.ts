import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModeldError } from '../errors/index.js';

/** One text after tokenization and truncation: what the model sees. */
export interface Encoded {
  /** Token ids, special tokens included, at most maxTokens. */
  ids: number[];
  tokens: string[];
}

/** A tokenizer bound to a truncation length. `encode` never returns more than `maxTokens` ids. */
export interface TextTokenizer {
  readonly maxTokens: number;
  encode(text: string): Encoded;
}

interface TokenizerJson {
  model?: { type?: string; unk_token?: string; unk_id?: number | null; vocab?: unknown };
  normalizer?: { type?: string } | null;
  pre_tokenizer?: { type?: string } | null;
  post_processor?: unknown;
  added_tokens?: Array<{ id: number; content: string; normalized?: boolean }>;
}

/** The library's `Whitespace` pre-tokenizer pattern (ASCII \w, as tokenizers.js has it). */
const WHITESPACE_PRE_TOKENS = /\w+|[^\w\s]+/g;

/**
 * A Hugging Face tokenizer.json (WordPiece, WordLevel, BPE, Unigram) through
 * `@huggingface/tokenizers`. Truncation keeps the special tokens: the text's own tokens are cut
 * to `maxTokens - <special tokens the post-processor adds>`, then the post-processor runs.
 *
 * WordLevel: the library has no WordLevel model and falls back to its `Legacy` model, which maps
 * unknown words to `undefined`; we give it the model's `unk_token` through the config so unknown
 * words get the unk id, and report the unk token (not the raw word) in `tokens`, like the Rust
 * `tokenizers` crate.
 */
export class HfTokenizer implements TextTokenizer {
  readonly maxTokens: number;
  #tok: Tokenizer;
  #idOf: Map<string, number>;
  #unkId: number | undefined;
  #unkToken: string | undefined;
  #specialCount: number;
  #wordLevel: boolean;
  /**
   * Fast path for the plain word tokenizers modeld trains (WordLevel, optional Lowercase,
   * Whitespace, no post-processor): the same steps as the library without its generic
   * machinery, about twice as fast. null when the tokenizer is anything else. Texts that contain
   * an added token's content take the library path (added tokens are matched in the raw text).
   */
  #fast: { lowercase: boolean; added: string[] } | null;

  private constructor(json: TokenizerJson, config: Record<string, unknown>, maxTokens: number) {
    this.maxTokens = maxTokens;
    this.#wordLevel = json.model?.type === 'WordLevel';
    this.#unkToken = json.model?.unk_token ?? (typeof config.unk_token === 'string' ? config.unk_token : undefined);
    const cfg = this.#wordLevel && this.#unkToken !== undefined ? { ...config, unk_token: this.#unkToken } : config;
    this.#tok = new Tokenizer(json, cfg);
    const vocab = this.#tok.get_vocab(true);
    this.#idOf = new Map(vocab);
    // Added tokens may also be looked up by their normalized content (what the library does too).
    for (const t of json.added_tokens ?? []) {
      this.#idOf.set(t.content, t.id);
      if (t.normalized && this.#tok.normalizer) this.#idOf.set(this.#tok.normalizer(t.content) as unknown as string, t.id);
    }
    // Unigram names its unknown piece by id (`unk_id`): an unknown character keeps its text as the
    // token and takes that id, as the Rust `tokenizers` crate and transformers.js do.
    const unkIdOfModel = typeof json.model?.unk_id === 'number' ? json.model.unk_id : undefined;
    this.#unkId = this.#unkToken === undefined ? unkIdOfModel : this.#idOf.get(this.#unkToken);
    const pp = this.#tok.post_processor;
    this.#specialCount = pp ? pp([], null, true).tokens.length : 0;
    const plainConfig = !config.remove_space && !config.do_lowercase_and_remove_accent;
    const norm = json.normalizer?.type;
    this.#fast =
      this.#wordLevel && plainConfig && !pp && json.pre_tokenizer?.type === 'Whitespace' && (norm === undefined || norm === 'Lowercase')
        ? { lowercase: norm === 'Lowercase', added: (json.added_tokens ?? []).map((t) => t.content) }
        : null;
    if (this.#specialCount >= maxTokens) {
      throw new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `tokenizer: maxTokens ${maxTokens} leaves no room after ${this.#specialCount} special tokens`);
    }
  }

  /** Builds a tokenizer from parsed tokenizer.json (and tokenizer_config.json) objects. Throws MODELD_ERR_ARTIFACT_INVALID. */
  static fromJson(json: unknown, config: Record<string, unknown> | null, maxTokens: number, where = 'tokenizer.json'): HfTokenizer {
    if (typeof json !== 'object' || json === null || !('model' in json)) {
      throw new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `${where}: not a Hugging Face tokenizer.json (no "model" key)`);
    }
    try {
      return new HfTokenizer(json as TokenizerJson, config ?? {}, maxTokens);
    } catch (err) {
      if (err instanceof ModeldError) throw err;
      throw new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `${where}: cannot load the tokenizer (${(err as Error).message})`, { cause: err });
    }
  }

  /** Reads tokenizer.json (and, when given, tokenizer_config.json). Throws MODELD_ERR_ARTIFACT_INVALID naming the file. */
  static async fromFile(file: string, maxTokens: number, configFile?: string): Promise<HfTokenizer> {
    const json = await readJson(file);
    const config = configFile ? ((await readJson(configFile)) as Record<string, unknown>) : null;
    return HfTokenizer.fromJson(json, config, maxTokens, file);
  }

  /** Number of special tokens the post-processor adds to one sequence (e.g. 2 for [CLS] ... [SEP]). */
  get specialTokenCount(): number {
    return this.#specialCount;
  }

  encode(text: string): Encoded {
    const fast = this.#fast;
    if (fast !== null && !fast.added.some((a) => text.includes(a))) return this.#encodeWords(fast.lowercase ? text.toLowerCase() : text);
    let tokens = this.#tok.tokenize(text, { add_special_tokens: false });
    const room = this.maxTokens - this.#specialCount;
    if (tokens.length > room) tokens = tokens.slice(0, room);
    const pp = this.#tok.post_processor;
    if (pp) tokens = pp(tokens, null, true).tokens;
    const ids = new Array<number>(tokens.length);
    const idOf = this.#idOf;
    for (let i = 0; i < tokens.length; i++) {
      const id = idOf.get(tokens[i]!);
      if (id === undefined) {
        if (this.#unkId === undefined) {
          throw new ModeldError('MODELD_ERR_VALIDATION', `text has a token with no id and the tokenizer has no unk token: ${JSON.stringify(tokens[i])}`);
        }
        ids[i] = this.#unkId;
        if (this.#wordLevel) tokens[i] = this.#unkToken!;
      } else {
        ids[i] = id;
      }
    }
    return { ids, tokens };
  }

  #encodeWords(text: string): Encoded {
    const words = text.match(WHITESPACE_PRE_TOKENS) ?? [];
    const n = Math.min(words.length, this.maxTokens);
    const ids = new Array<number>(n);
    const tokens = new Array<string>(n);
    const idOf = this.#idOf;
    for (let i = 0; i < n; i++) {
      const w = words[i]!;
      const id = idOf.get(w);
      if (id === undefined) {
        if (this.#unkId === undefined) {
          throw new ModeldError('MODELD_ERR_VALIDATION', `text has a token with no id and the tokenizer has no unk token: ${JSON.stringify(w)}`);
        }
        ids[i] = this.#unkId;
        tokens[i] = this.#unkToken!;
      } else {
        ids[i] = id;
        tokens[i] = w;
      }
    }
    return { ids, tokens };
  }
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `${file}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}
