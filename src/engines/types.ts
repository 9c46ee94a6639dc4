/**
 * The model artifact and the engine port. One artifact format for trained, imported and
 * pre-trained models: a directory holding `manifest.json` plus the files it lists with their
 * sha256. A runner loads it through `loadEngine()` and refuses it, with a reason, when a checksum
 * or the manifest does not match.
 */

export const ARTIFACT_FORMAT_VERSION = 1;

export interface ManifestFile {
  sha256: string;
  bytes: number;
}

export interface ArtifactManifest {
  formatVersion: typeof ARTIFACT_FORMAT_VERSION;
  name: string;
  /** `imported`, `ecommerce-rnn`, `general-rnn`, `text-encoder`, ... */
  modelType: string;
  /** Which engine runs it: `onnx` (onnxruntime-node) or `tfjs-use` (the shipped Universal Sentence Encoder lite). */
  engine: 'onnx' | 'tfjs-use';
  vectorSize: number;
  tokenizer: {
    /** `hf-tokenizer-json`: a Hugging Face tokenizer.json (WordPiece, WordLevel, BPE, Unigram); `use-sentencepiece`: the USE vocab. */
    kind: 'hf-tokenizer-json' | 'use-sentencepiece';
    file: string;
    /** Inputs are truncated to this many tokens (special tokens included). */
    maxTokens: number;
  };
  /** ONNX graph wiring (engine `onnx` only). */
  onnx?: {
    file: string;
    /** Input names: token ids (required), attention mask and token type ids when the graph takes them. */
    inputs: { ids: string; attentionMask?: string; tokenTypeIds?: string };
    output: string;
    /** `token`: output is [batch, seq, dim] and is pooled here; `sentence`: output is [batch, dim]. */
    outputKind: 'token' | 'sentence';
    pooling: 'mean' | 'cls' | 'max' | 'none';
    /** Integer type of the id inputs. */
    idType: 'int64' | 'int32';
  };
  /** Vectors are L2-normalized by the engine (always true for served vectors). */
  normalize: boolean;
  /** Prefixes some encoders expect for queries / passages (e5 style); applied when useCaseConfig.dataType says. */
  prefixes?: { query?: string; passage?: string };
  /** Dimensions the model was trained to keep meaning when truncated (Matryoshka); absent = none. */
  matryoshkaDims?: number[];
  /** Training config and metrics, for trained models. */
  training?: { config: Record<string, unknown>; metrics: Record<string, unknown> };
  /** Every file of the artifact except manifest.json, with its checksum. */
  files: Record<string, ManifestFile>;
  createdAt: string;
}

export interface EmbedOptions {
  dataType?: 'query' | 'passage';
}

export interface EmbedResult {
  /** Row-major [texts.length, vectorSize], each row L2-normalized. */
  vectors: Float32Array;
  /** Tokens each input used after truncation (special tokens included). */
  tokenCounts: number[];
}

export interface TokenizeResult {
  tokens: string[][];
  ids: number[][];
}

/** A loaded model, ready to embed. Not safe to call `close()` while calls are pending. */
export interface EmbeddingEngine {
  readonly manifest: ArtifactManifest;
  readonly vectorSize: number;
  embed(texts: string[], options?: EmbedOptions): Promise<EmbedResult>;
  tokenize(texts: string[]): TokenizeResult;
  close(): Promise<void>;
}

export interface LoadEngineOptions {
  /** onnxruntime intra-op threads (default 1). */
  intraOpThreads?: number;
  /** Skip the checksum verification (only for an artifact verified moments ago by the same process). */
  trustChecksums?: boolean;
}
