/**
 * The Lucidworks pre-trained embedding catalogue: the model names Fusion's LWAI Vectorize, LWAI
 * Chunker and Neural Hybrid Search stages are configured with, and what modeld must know to
 * serve a Hugging Face export of each exactly as its authors do (pooling, normalization, the
 * query/passage prefixes, the longest input, the Matryoshka sizes it was trained for). No weights
 * ship with modeld: an operator installs a name from an export folder (docs/api.md, "Pre-trained
 * catalogue"). Facts come from each model's card, cited per entry.
 */

/** Architecture family: decides which tokenizer model an export must carry (WordPiece for BERT, Unigram for XLM-RoBERTa). */
export type CatalogueFamily = 'bert' | 'xlm-roberta' | 'lucidworks';

export interface CatalogueEntry {
  /** The Lucidworks name (model id in URLs, folder name under `<dataDir>/models/`). */
  name: string;
  /** Where the weights come from (Hugging Face repository), for the install message. */
  source: string;
  family: CatalogueFamily;
  /** Vector size = the export's hidden size; null when the publisher does not document it (taken from the folder). */
  vectorSize: number | null;
  pooling: 'mean' | 'cls';
  normalize: true;
  /** Prepended to the text for `useCaseConfig.dataType` query / passage (absent = nothing). */
  prefixes: { query?: string; passage?: string };
  /** Longest input in tokens, special tokens included (modeld caps every model at 512). */
  maxTokens: number;
  /** Sizes the model was trained to be truncated to (Matryoshka); empty = none. */
  matryoshkaDims: number[];
}

const E5 = { query: 'query: ', passage: 'passage: ' } as const;
/** BGE v1.5 and arctic-embed v1/v1.5 retrieval instruction for queries; passages take none. */
const RETRIEVAL_INSTRUCTION = 'Represent this sentence for searching relevant passages: ';

function entry(name: string, source: string, family: CatalogueFamily, vectorSize: number | null, pooling: 'mean' | 'cls', prefixes: CatalogueEntry['prefixes'], maxTokens = 512, matryoshkaDims: number[] = []): CatalogueEntry {
  return { name, source, family, vectorSize, pooling, normalize: true, prefixes, maxTokens, matryoshkaDims };
}

export const PRETRAINED_CATALOGUE: readonly CatalogueEntry[] = [
  // https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2 : 384-d, mean pooling, normalized, max_seq_length 256, no prefix.
  entry('all-minilm-l6-v2', 'sentence-transformers/all-MiniLM-L6-v2', 'bert', 384, 'mean', {}, 256),
  // https://huggingface.co/intfloat/e5-small-v2 (and -base-v2, -large-v2): "query: " / "passage: " prefixes, average pooling, 512 tokens.
  entry('e5-small-v2', 'intfloat/e5-small-v2', 'bert', 384, 'mean', E5),
  entry('e5-base-v2', 'intfloat/e5-base-v2', 'bert', 768, 'mean', E5),
  entry('e5-large-v2', 'intfloat/e5-large-v2', 'bert', 1024, 'mean', E5),
  // https://huggingface.co/intfloat/multilingual-e5-small (base, large): XLM-RoBERTa tokenizer, same prefixes and pooling.
  entry('multilingual-e5-small', 'intfloat/multilingual-e5-small', 'xlm-roberta', 384, 'mean', E5),
  entry('multilingual-e5-base', 'intfloat/multilingual-e5-base', 'xlm-roberta', 768, 'mean', E5),
  entry('multilingual-e5-large', 'intfloat/multilingual-e5-large', 'xlm-roberta', 1024, 'mean', E5),
  // https://huggingface.co/thenlper/gte-small (base, large): mean pooling, no instruction or prefix, 512 tokens.
  entry('gte-small', 'thenlper/gte-small', 'bert', 384, 'mean', {}),
  entry('gte-base', 'thenlper/gte-base', 'bert', 768, 'mean', {}),
  entry('gte-large', 'thenlper/gte-large', 'bert', 1024, 'mean', {}),
  // https://huggingface.co/BAAI/bge-small-en-v1.5 (bge-large-en-v1.5): CLS pooling, normalized, query instruction only.
  entry('bge-small', 'BAAI/bge-small-en-v1.5', 'bert', 384, 'cls', { query: RETRIEVAL_INSTRUCTION }),
  entry('bge-large', 'BAAI/bge-large-en-v1.5', 'bert', 1024, 'cls', { query: RETRIEVAL_INSTRUCTION }),
  // https://huggingface.co/Snowflake/snowflake-arctic-embed-xs (-s): CLS pooling, the query instruction above, no Matryoshka.
  entry('snowflake-arctic-embed-xs', 'Snowflake/snowflake-arctic-embed-xs', 'bert', 384, 'cls', { query: RETRIEVAL_INSTRUCTION }),
  entry('snowflake-arctic-embed-s', 'Snowflake/snowflake-arctic-embed-s', 'bert', 384, 'cls', { query: RETRIEVAL_INSTRUCTION }),
  // https://huggingface.co/Snowflake/snowflake-arctic-embed-m-v1.5 : 768-d, CLS, query instruction, trained (MRL) to truncate to 256.
  entry('snowflake-arctic-embed-m-v1.5', 'Snowflake/snowflake-arctic-embed-m-v1.5', 'bert', 768, 'cls', { query: RETRIEVAL_INSTRUCTION }, 512, [256]),
  // https://huggingface.co/Snowflake/snowflake-arctic-embed-l-v2.0 : XLM-RoBERTa based, 1024-d, CLS, "query: " prefix, MRL to 256 (8192 tokens, capped at 512 here).
  entry('snowflake-arctic-embed-l-v2.0', 'Snowflake/snowflake-arctic-embed-l-v2.0', 'xlm-roberta', 1024, 'cls', { query: 'query: ' }, 512, [256]),
  // Lucidworks' own English text encoder: no public model card, so its size is taken from the installed export; mean pooling, no prefix.
  entry('text-encoder', 'Lucidworks (export provided by Lucidworks)', 'lucidworks', null, 'mean', {}),
];

const BY_NAME = new Map(PRETRAINED_CATALOGUE.map((e) => [e.name, e]));

/** The catalogue entry of a Lucidworks pre-trained name, or null. */
export function catalogueEntry(name: string): CatalogueEntry | null {
  return BY_NAME.get(name) ?? null;
}

/** The sentence a 404 carries for a catalogue name that is not installed on this server. */
export function notInstalledMessage(e: CatalogueEntry): string {
  return (
    `pre-trained model ${e.name} is known but not installed on this server; an operator installs it from a Hugging Face export ` +
    `of ${e.source} (tokenizer.json, config.json, onnx/model.onnx) with \`modeld models install ${e.name} <folder>\` on the server machine`
  );
}
