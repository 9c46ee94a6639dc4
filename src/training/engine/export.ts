import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeManifest } from '../../engines/manifest.js';
import type { ArtifactManifest } from '../../engines/types.js';
import { buildEncoderGraph, vectorSizeOf, type EncoderShape, type EncoderWeights } from './graphs.js';

export interface ExportInput {
  name: string;
  modelType: string;
  shape: EncoderShape;
  weights: EncoderWeights;
  /** The text processor's tokenizer.json: a document (written as JSON), or a base model's file text (written verbatim). */
  tokenizerJson: unknown;
  /** A base model's tokenizer_config.json text, shipped beside tokenizer.json (the runner reads it with it). */
  tokenizerConfig?: string | null;
  /** Inputs are truncated to this many tokens when served. */
  maxTokens: number;
  config: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

/**
 * Writes a trained encoder as a modeld artifact into `dir` (replacing what is there): `model.onnx`
 * (the encoder graph with the weights baked in: `input_ids`, `attention_mask` int64 [batch, seq]
 * -> `vector` [batch, 2H], L2-normalized), `tokenizer.json` (and a base model's
 * `tokenizer_config.json`), and `manifest.json` with the training
 * config and metrics. The same runner that serves imported models serves it.
 */
export async function exportArtifact(dir: string, x: ExportInput): Promise<ArtifactManifest> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'model.onnx'), buildEncoderGraph(x.shape, x.weights));
  await writeFile(path.join(dir, 'tokenizer.json'), typeof x.tokenizerJson === 'string' ? x.tokenizerJson : JSON.stringify(x.tokenizerJson));
  const files = ['model.onnx', 'tokenizer.json'];
  if (x.tokenizerConfig != null) {
    await writeFile(path.join(dir, 'tokenizer_config.json'), x.tokenizerConfig);
    files.push('tokenizer_config.json');
  }
  return writeManifest(
    dir,
    {
      name: x.name,
      modelType: x.modelType,
      engine: 'onnx',
      vectorSize: vectorSizeOf(x.shape),
      tokenizer: { kind: 'hf-tokenizer-json', file: 'tokenizer.json', maxTokens: x.maxTokens },
      onnx: {
        file: 'model.onnx',
        inputs: { ids: 'input_ids', attentionMask: 'attention_mask' },
        output: 'vector',
        outputKind: 'sentence',
        pooling: 'none',
        idType: 'int64',
      },
      normalize: true,
      training: { config: x.config, metrics: x.metrics },
    },
    files,
  );
}
