import { ModeldError } from '../errors/index.js';

/**
 * JSON columns hold what callers pass, and give back a deep-equal value. PostgreSQL's JSONB cannot
 * hold the character U+0000 nor an unpaired UTF-16 surrogate in any string or key, so both stores
 * refuse those values with the same 400 (naming the field) instead of one of them failing with an
 * internal error. JSON.stringify escapes exactly those characters as `\u0000` / `\udXXX`, so they
 * are found in the encoded text: an escape preceded by an even number of backslashes.
 */
const UNSTORABLE_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/;

/**
 * Encodes a JSON column value: null stays SQL NULL, anything else becomes JSON text.
 * Throws MODELD_ERR_VALIDATION naming `field` when the value holds U+0000 or a lone surrogate.
 */
export function encodeJson(field: string, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const text = JSON.stringify(value);
  if (UNSTORABLE_ESCAPE.test(text)) {
    throw new ModeldError('MODELD_ERR_VALIDATION', `${field}: strings may not contain U+0000 or unpaired surrogates`, {
      details: { field },
    });
  }
  return text;
}

/**
 * Checks that `value` names an instant (ISO-8601 as toISOString() writes it, or with an offset).
 * Throws MODELD_ERR_VALIDATION naming `field` otherwise, so both stores refuse the same inputs.
 */
export function checkInstant(field: string, value: string): void {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new ModeldError('MODELD_ERR_VALIDATION', `${field}: not an ISO-8601 instant: ${JSON.stringify(value)}`, { details: { field } });
  }
}
