/**
 * The Universal Sentence Encoder lite tokenizer: a sentencepiece-style unigram Viterbi over the
 * model's 8,000-piece vocab.json (`[piece, score]` pairs, ids 0-5 reserved, 0 = unknown).
 *
 * Ported from the tokenizer of TensorFlow.js models (universal-sentence-encoder, Apache-2.0, also
 * shipped in @energetic-ai/embeddings) and kept decision-for-decision identical, including its
 * tie rule (a later segmentation with an equal score wins) and the merging of consecutive unknown
 * pieces, because the ids must be the ones the model was exported with. Rewritten over code-point
 * arrays and a Map trie so that encoding allocates little; importing the original would also load
 * a second bundled copy of tfjs.
 */

const SEPARATOR = '\u2581';
const RESERVED_SYMBOLS = 6;

interface TrieNode {
  children: Map<string, TrieNode>;
  /** Vocabulary index when a piece ends here, else -1. */
  index: number;
  score: number;
  /** Length of the piece in code points. */
  length: number;
}

function newNode(length: number): TrieNode {
  return { children: new Map(), index: -1, score: 0, length };
}

export type UseVocabulary = Array<[string, number]>;

export class UseTokenizer {
  readonly maxTokens: number;
  #vocab: UseVocabulary;
  #root: TrieNode = newNode(0);

  /** Id of the lone word-separator piece (0 when the vocabulary has none). */
  readonly separatorId: number;

  constructor(vocabulary: UseVocabulary, maxTokens: number) {
    this.#vocab = vocabulary;
    this.maxTokens = maxTokens;
    this.separatorId = Math.max(0, vocabulary.findIndex(([p], i) => i >= RESERVED_SYMBOLS && p === SEPARATOR));
    for (let i = RESERVED_SYMBOLS; i < vocabulary.length; i++) {
      const [piece, score] = vocabulary[i]!;
      let node = this.#root;
      let depth = 0;
      for (const ch of piece) {
        depth++;
        let next = node.children.get(ch);
        if (!next) {
          next = newNode(depth);
          node.children.set(ch, next);
        }
        node = next;
      }
      node.index = i;
      node.score = score;
    }
  }

  /** The piece string of an id (`'\ufffd'`-like unknown piece for 0). */
  piece(id: number): string {
    return this.#vocab[id]?.[0] ?? '';
  }

  /** Token ids of `input`, at most maxTokens (the first ones). */
  encode(input: string): number[] {
    const normalized = input.normalize('NFKC');
    if (normalized.length === 0) return [];
    const symbols = Array.from(SEPARATOR + normalized.replaceAll(' ', SEPARATOR));
    const n = symbols.length;
    // best[e]: best score of a segmentation of symbols[0, e); words[e]: last piece's id; lens[e]: its length.
    const best = new Float64Array(n + 1);
    const words = new Int32Array(n + 1);
    const lens = new Int32Array(n + 1);
    // Candidate pieces are grouped by end position, in increasing start order, as in the original.
    const ends: Array<Array<{ start: number; index: number; score: number; length: number }>> = Array.from({ length: n + 1 }, () => []);
    for (let i = 0; i < n; i++) {
      let node = this.#root.children.get(symbols[i]!);
      let found = false;
      for (let j = i; node; ) {
        if (node.index >= 0) {
          ends[i + node.length]!.push({ start: i, index: node.index, score: node.score, length: node.length });
          found = true;
        }
        j++;
        node = j < n ? node.children.get(symbols[j]!) : undefined;
      }
      if (!found) ends[i + 1]!.push({ start: i, index: 0, score: 0, length: 1 });
    }
    for (let e = 0; e <= n; e++) {
      const cands = ends[e]!;
      // The original iterates `for (startPos in nodes[endPos])`: integer keys in ascending order.
      cands.sort((a, b) => a.start - b.start);
      for (const c of cands) {
        const score = c.score + best[e - c.length]!;
        if (best[e] === 0 || score >= best[e]!) {
          best[e] = score;
          words[e] = c.index;
          lens[e] = c.length;
        }
      }
    }
    const reversed: number[] = [];
    for (let it = n; it > 0; ) {
      const id = words[it]!;
      reversed.push(id);
      // The original steps back by the vocabulary piece's length (the unknown piece has length 1).
      it -= id === 0 ? 1 : lens[it]!;
    }
    const out: number[] = [];
    let previousUnknown = false;
    for (const id of reversed) {
      if (!(previousUnknown && id === 0)) out.push(id);
      previousUnknown = id === 0;
    }
    out.reverse();
    return out.length > this.maxTokens ? out.slice(0, this.maxTokens) : out;
  }
}
