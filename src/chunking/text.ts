/**
 * Text pieces shared by the chunkers. A piece is a span [start, end) of the submitted text with
 * no surrounding whitespace; chunk texts are always `text.slice(start, end)`, so a chunk's span
 * says exactly where it came from.
 */
export interface Span {
  start: number;
  end: number;
}

export interface Chunk extends Span {
  text: string;
}

const WORD = /\S+/g;

/**
 * The size unit of `maxChunkSize`: whitespace-separated words. (Lucidworks counts model tokens;
 * words need no tokenizer in a pure chunker and a word is about 1.3 tokens of English.)
 */
export function sizeOf(text: string, span: Span = { start: 0, end: text.length }): number {
  const part = text.slice(span.start, span.end);
  return part.match(WORD)?.length ?? 0;
}

/** The span shrunk to exclude leading and trailing whitespace; null when only whitespace is left. */
export function trimSpan(text: string, start: number, end: number): Span | null {
  while (start < end && /\s/.test(text[start]!)) start++;
  while (end > start && /\s/.test(text[end - 1]!)) end--;
  return start < end ? { start, end } : null;
}

/** Non-blank lines (split on \n, \r\n, \r), trimmed. */
export function lines(text: string): Span[] {
  const out: Span[] = [];
  const re = /\r\n|\r|\n/g;
  let from = 0;
  for (let m = re.exec(text); ; m = re.exec(text)) {
    const to = m ? m.index : text.length;
    const span = trimSpan(text, from, to);
    if (span) out.push(span);
    if (!m) break;
    from = m.index + m[0].length;
  }
  return out;
}

/**
 * Sentences: a sentence ends after `.`, `!` or `?` (with closing quotes or brackets) followed
 * by whitespace, or at a line break. Abbreviations are not recognised ("e.g. x" is two sentences).
 */
export function sentences(text: string): Span[] {
  const out: Span[] = [];
  const re = /[.!?]+["')\]]*(?=\s)|\r\n|\r|\n/g;
  let from = 0;
  for (let m = re.exec(text); ; m = re.exec(text)) {
    const to = m ? m.index + (/^[\r\n]/.test(m[0]) ? 0 : m[0].length) : text.length;
    const span = trimSpan(text, from, to);
    if (span) out.push(span);
    if (!m) break;
    from = m.index + m[0].length;
  }
  return out;
}

/** Splits a piece longer than `max` words into consecutive pieces of at most `max` words. */
export function splitByWords(text: string, span: Span, max: number): Span[] {
  const words = [...text.slice(span.start, span.end).matchAll(WORD)];
  const out: Span[] = [];
  for (let i = 0; i < words.length; i += max) {
    const first = words[i]!;
    const last = words[Math.min(i + max, words.length) - 1]!;
    out.push({ start: span.start + first.index, end: span.start + last.index + last[0].length });
  }
  return out;
}

/**
 * Groups consecutive pieces into chunks of at most `max` words (a piece larger than `max` is cut
 * by words first). Each chunk after the first starts with the last `overlap` pieces of the
 * previous one (never all of them), as many as leave room for a new piece; a chunk always holds at least
 * one piece that no earlier chunk holds. `cut(group, next)` may force a boundary before `next`.
 */
export async function mergePieces(
  text: string,
  pieces: Span[],
  max: number,
  overlap: number,
  cut?: (group: Span[], next: Span) => boolean | Promise<boolean>,
): Promise<Chunk[]> {
  const units = pieces.flatMap((p) => (sizeOf(text, p) > max ? splitByWords(text, p, max) : [p]));
  const sizes = units.map((u) => sizeOf(text, u));
  const chunks: Chunk[] = [];
  let group: number[] = [];
  let carried = 0;
  let words = 0;
  for (let i = 0; i < units.length; i++) {
    const hasNew = group.length > carried;
    if (hasNew && (words + sizes[i]! > max || (cut !== undefined && (await cut(group.map((g) => units[g]!), units[i]!))))) {
      chunks.push(chunkOf(text, units[group[0]!]!, units[group[group.length - 1]!]!));
      // Never the whole previous chunk: each chunk starts after the previous one.
      let keep = group.slice(Math.max(1, group.length - overlap));
      while (keep.length > 0 && keep.reduce((n, g) => n + sizes[g]!, 0) + sizes[i]! > max) keep = keep.slice(1);
      group = keep;
      carried = keep.length;
      words = keep.reduce((n, g) => n + sizes[g]!, 0);
    }
    group.push(i);
    words += sizes[i]!;
  }
  if (group.length > carried) chunks.push(chunkOf(text, units[group[0]!]!, units[group[group.length - 1]!]!));
  return chunks;
}

export function chunkOf(text: string, first: Span, last: Span): Chunk {
  return { start: first.start, end: last.end, text: text.slice(first.start, last.end) };
}
