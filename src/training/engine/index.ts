/**
 * The training engine: onnxruntime runs a two-tower training step (forward, loss and every
 * gradient in one graph), a second graph runs Adam; the trained encoder is exported as an ONNX modeld artifact.
 */
export { buildTrainStepGraph, buildEncoderGraph, vectorSizeOf, type EncoderShape, type EncoderWeights } from './graphs.js';
export { trainEncoder, tokenize, autoBatchSize, clip, checkpointDirOf, type TokenEncoder, type TrainerOptions, type TrainerResult, type TokenizedData } from './trainer.js';
export { SequenceEncoder, Ranker } from './evaluate.js';
export { exportArtifact, type ExportInput } from './export.js';
