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
  /** The text processor's tokenizer.json document. */
  tokenizerJson: unknown;
  /** Inputs are truncated to this many tokens when served. */
  maxTokens: number;
  config: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

/**
 * Writes a trained encoder as a modeld artifact into `dir` (replacing what is there): `model.onnx`
 * (the encoder graph with the weights baked in: `input_ids`, `attention_mask` int64 [batch, seq]
 * -> `vector` [batch, 2H], L2-normalized), `tokenizer.json`, and `manifest.json` with the training
 * config and metrics. The same runner that serves imported models serves it.
 */
export async function exportArtifact(dir: string, x: ExportInput): Promise<ArtifactManifest> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'model.onnx'), buildEncoderGraph(x.shape, x.weights));
  await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(x.tokenizerJson));
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
    ['model.onnx', 'tokenizer.json'],
  );
}
