import vm from 'node:vm';
import { ModeldError } from '../errors/index.js';
import { translatePythonRegex } from './python-regex.js';
import { lines, mergePieces, sentences, trimSpan, type Chunk, type Span } from './text.js';

export const CHUNKERS = ['dynamic-newline', 'dynamic-sentence', 'sentence', 'regex-splitter', 'semantic'] as const;
export type ChunkerName = (typeof CHUNKERS)[number];

/** The keys each chunker accepts in `chunkerConfig`, with their defaults (docs/api.md). */
export interface ChunkerConfig {
  maxChunkSize: number;
  overlapSize: number;
  chunkSize: number;
  regex: string;
  cosineThreshold: number;
  approximate: boolean;
}

const DEFAULTS: ChunkerConfig = { maxChunkSize: 512, overlapSize: 0, chunkSize: 5, regex: '\\n', cosineThreshold: 0.5, approximate: true };

const KEYS: Record<ChunkerName, Array<keyof ChunkerConfig>> = {
  'dynamic-newline': ['maxChunkSize'],
  'dynamic-sentence': ['maxChunkSize', 'overlapSize'],
  sentence: ['chunkSize', 'overlapSize'],
  'regex-splitter': ['regex'],
  semantic: ['maxChunkSize', 'overlapSize', 'cosineThreshold', 'approximate'],
};

const LIMITS = { maxChunkSize: [1, 100_000], overlapSize: [0, 1000], chunkSize: [1, 10_000] } as const;

function invalid(field: string, message: string): ModeldError {
  return new ModeldError('MODELD_ERR_VALIDATION', `body.chunkerConfig.${field}: ${message}`, { details: { field: `body.chunkerConfig.${field}` } });
}

export function isChunker(name: string): name is ChunkerName {
  return (CHUNKERS as readonly string[]).includes(name);
}

/**
 * Validates `chunkerConfig` for a chunker and fills the defaults. Unknown keys, wrong types and
 * out-of-range values are refused with a 400 naming `body.chunkerConfig.<key>`; a regex is
 * translated (python-regex.ts) so that an unsupported construct is refused at submission.
 */
export function parseChunkerConfig(chunker: ChunkerName, raw: unknown): ChunkerConfig {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ModeldError('MODELD_ERR_VALIDATION', 'body.chunkerConfig: must be an object', { details: { field: 'body.chunkerConfig' } });
  }
  const config = { ...DEFAULTS };
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!(KEYS[chunker] as string[]).includes(key)) throw invalid(key, `not a key of the ${chunker} chunker (it takes ${KEYS[chunker].join(', ')})`);
    const k = key as keyof ChunkerConfig;
    if (k === 'regex') {
      if (typeof value !== 'string' || value === '') throw invalid(k, 'must be a non-empty string');
      translatePythonRegex(value);
      config.regex = value;
    } else if (k === 'approximate') {
      if (typeof value !== 'boolean') throw invalid(k, 'must be true or false');
      config.approximate = value;
    } else if (k === 'cosineThreshold') {
      if (typeof value !== 'number' || !(value >= -1 && value <= 1)) throw invalid(k, 'must be a number from -1 to 1');
      config.cosineThreshold = value;
    } else {
      const [min, max] = LIMITS[k];
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw invalid(k, `must be an integer from ${min} to ${max}`);
      config[k] = value;
    }
  }
  if (chunker === 'sentence' && config.overlapSize >= config.chunkSize) throw invalid('overlapSize', 'must be less than chunkSize');
  return config;
}

/** Embeds texts (one normalized vector each, in order), for the semantic chunker. */
export type EmbedTexts = (texts: string[]) => Promise<Array<ArrayLike<number>>>;

export interface ChunkOptions {
  /** The semantic chunker's sentence encoder (the job's model). */
  embed?: EmbedTexts;
  /** How long one regex split may run before the job fails (a pattern that backtracks for ever). */
  regexTimeoutMs?: number;
}

/**
 * Cuts `text` into chunks, in order of their start. Every chunker keeps chunks within the
 * text's own characters (span = where the chunk is), drops whitespace-only pieces, and leaves no
 * non-whitespace character outside every chunk.
 */
export async function chunkText(chunker: ChunkerName, text: string, config: ChunkerConfig, options: ChunkOptions = {}): Promise<Chunk[]> {
  switch (chunker) {
    case 'dynamic-newline':
      return mergePieces(text, lines(text), config.maxChunkSize, 0);
    case 'dynamic-sentence':
      return mergePieces(text, sentences(text), config.maxChunkSize, config.overlapSize);
    case 'sentence':
      return fixedSentences(text, config.chunkSize, config.overlapSize);
    case 'regex-splitter':
      return regexSplit(text, config.regex, options.regexTimeoutMs ?? 10_000);
    case 'semantic':
      if (!options.embed) throw new ModeldError('MODELD_ERR_INTERNAL', 'the semantic chunker needs an encoder');
      return semantic(text, config, options.embed);
  }
}

function fixedSentences(text: string, size: number, overlap: number): Chunk[] {
  const all = sentences(text);
  const chunks: Chunk[] = [];
  for (let i = 0; i < all.length; i += size - overlap) {
    const group = all.slice(i, i + size);
    chunks.push({ start: group[0]!.start, end: group[group.length - 1]!.end, text: text.slice(group[0]!.start, group[group.length - 1]!.end) });
    if (i + size >= all.length) break;
  }
  return chunks;
}

/**
 * Python `re.split` semantics without the captured groups: the pieces between matches, trimmed,
 * blank ones dropped. Runs in a vm context with a timeout, so that a pattern that backtracks
 * catastrophically fails its job instead of blocking the server.
 */
function regexSplit(text: string, pattern: string, timeoutMs: number): Chunk[] {
  const { source, flags } = translatePythonRegex(pattern);
  let cuts: number[];
  try {
    cuts = vm.runInNewContext(
      `(() => { const re = new RegExp(source, flags + 'g'); const out = []; let m;
        while ((m = re.exec(text)) !== null) { out.push(m.index, m.index + m[0].length); if (m[0].length === 0) re.lastIndex++; }
        return out; })()`,
      { text, source, flags },
      { timeout: timeoutMs },
    ) as number[];
  } catch (err) {
    throw new ModeldError('MODELD_ERR_VALIDATION', `body.chunkerConfig.regex: the split took longer than ${timeoutMs} ms (${(err as Error).message})`, {
      details: { field: 'body.chunkerConfig.regex' },
    });
  }
  const chunks: Chunk[] = [];
  let from = 0;
  for (let k = 0; k <= cuts.length; k += 2) {
    const to = k < cuts.length ? cuts[k]! : text.length;
    const span = trimSpan(text, from, to);
    if (span) chunks.push({ ...span, text: text.slice(span.start, span.end) });
    if (k < cuts.length) from = cuts[k + 1]!;
  }
  return chunks;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/**
 * Sentences grouped while each next sentence is similar to the chunk being built (cosine of
 * their vectors >= cosineThreshold) and the chunk stays within maxChunkSize words. The chunk's
 * vector is the mean of its sentences' vectors when `approximate` (one encoder pass over the
 * sentences), else the encoding of the chunk text so far (one more encoder call per merge).
 */
async function semantic(text: string, config: ChunkerConfig, embed: EmbedTexts): Promise<Chunk[]> {
  const all = sentences(text);
  if (all.length === 0) return [];
  const vectors = await embed(all.map((s) => text.slice(s.start, s.end)));
  const index = new Map<number, number>(all.map((s, i) => [s.start, i]));
  const vectorOf = (s: Span): ArrayLike<number> => vectors[index.get(s.start) ?? -1] ?? [];
  return mergePieces(text, all, config.maxChunkSize, config.overlapSize, async (group, next) => {
    let current: ArrayLike<number>;
    if (config.approximate || group.length === 1) {
      const vs = group.map(vectorOf).filter((v) => v.length > 0);
      if (vs.length === 0) return false;
      current = Array.from({ length: vs[0]!.length }, (_, d) => vs.reduce((n, v) => n + v[d]!, 0) / vs.length);
    } else {
      current = (await embed([text.slice(group[0]!.start, group[group.length - 1]!.end)]))[0]!;
    }
    const v = vectorOf(next);
    return v.length > 0 && cosine(current, v) < config.cosineThreshold;
  });
}
