import type { Command } from 'commander';
import { DataTypes, QuantizationMethods, type DataType, type EmbedOptions, type QuantizationMethod } from '../../client/index.js';
import { CommandContext } from '../context.js';
import { embeddingSummary } from '../format.js';
import type { CliIo } from '../io.js';
import { oneOf, positiveInt } from '../parse.js';

/** The API takes at most 32 texts per request; longer lists are sent in consecutive batches. */
const BATCH_SIZE = 32;

/**
 * `modeld embed ID TEXT...`: one vector per text, in order. Piped (or with --json): one JSON
 * object per line, `{"text", "tokensUsed", "vector"[, "warning"]}`. On a terminal: a summary line
 * per text.
 */
export function registerEmbed(program: Command, io: CliIo): void {
  program
    .command('embed')
    .description('embed texts with a deployment (id) or a pre-trained model (name)')
    .argument('<model-id>', 'deployment id or pre-trained model name')
    .argument('<text...>', 'texts to embed')
    .option('--data-type <type>', 'query or passage', oneOf(Object.values(DataTypes)))
    .option('--quantize <method>', 'min-max (0..255) or max-scale (-127..127)', oneOf(Object.values(QuantizationMethods)))
    .option('--dim <n>', 'Matryoshka dimension reduction (truncate, then re-normalize)', positiveInt)
    .action(async (modelId: string, texts: string[], opts: { dataType?: DataType; quantize?: QuantizationMethod; dim?: number }, command: Command) => {
      const ctx = new CommandContext(io, command);
      const embedOptions: EmbedOptions = {};
      if (opts.dataType !== undefined) embedOptions.dataType = opts.dataType;
      if (opts.quantize !== undefined) embedOptions.quantize = opts.quantize;
      if (opts.dim !== undefined) embedOptions.dimReductionSize = opts.dim;
      const summary = io.stdout.isTTY === true && !ctx.json;
      for (let start = 0; start < texts.length; start += BATCH_SIZE) {
        const batch = texts.slice(start, start + BATCH_SIZE);
        const { predictions } = await ctx.client().embed(modelId, batch, embedOptions);
        predictions.forEach((p, i) => {
          const text = batch[i] ?? '';
          ctx.out(summary ? embeddingSummary(text, p) : JSON.stringify({ text, ...p }));
        });
      }
    });
}
