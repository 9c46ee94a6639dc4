/**
 * Writes a small text encoder in the layout Hugging Face exports for sentence embeddings
 * (tokenizer.json, config.json, onnx/model.onnx taking input_ids + attention_mask and giving
 * last_hidden_state), for the README walkthrough. It is a real ONNX network with a real WordPiece
 * tokenizer, but its weights are random: it exercises import, deployment and serving, not search
 * quality. Usage: node --import tsx scripts/make-example-encoder.ts <dir>
 */
import path from 'node:path';
import { makeTinyHfModel } from '../test/fixtures/models.js';

const target = process.argv[2];
if (!target) {
  console.error('usage: node --import tsx scripts/make-example-encoder.ts <dir>');
  process.exit(2);
}
const dir = await makeTinyHfModel(path.resolve(target), { tokenizer: 'wordpiece', dim: 64 });
console.log(`wrote an example encoder (Hugging Face layout, 64-d) to ${dir}`);
