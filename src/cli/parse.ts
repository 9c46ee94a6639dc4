import { InvalidArgumentError } from 'commander';

/**
 * Option-value parsers for commander. Each throws InvalidArgumentError, which commander prints
 * as `error: option '--min <n>' argument 'x' is invalid. <reason>` and exits 1.
 */

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be an integer >= 1');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be an integer >= 0');
  return n;
}

export function port(value: string): number {
  const n = nonNegativeInt(value);
  if (n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

export function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number of seconds > 0');
  return n;
}

/** A JSON object (the deployment `config`). */
export function jsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new InvalidArgumentError(`must be a JSON object (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError('must be a JSON object, e.g. {"key":"value"}');
  return parsed as Record<string, unknown>;
}

/** `a,b c` -> `['a','b','c']`; repeated options accumulate. */
export function listOf(value: string, previous: string[] | undefined): string[] {
  const items = value.split(/[\s,]+/).filter((s) => s !== '');
  if (items.length === 0) throw new InvalidArgumentError('must name at least one value');
  return [...(previous ?? []), ...items];
}

export function baseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('must be an absolute http(s) URL, e.g. http://127.0.0.1:8080');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('must be an http:// or https:// URL');
  return value.replace(/\/+$/, '');
}

export function oneOf<T extends string>(allowed: readonly T[]): (value: string) => T {
  return (value: string) => {
    if (!(allowed as readonly string[]).includes(value)) throw new InvalidArgumentError(`must be one of ${allowed.join(', ')}`);
    return value as T;
  };
}

/**
 * One `--set key=value`: the key is everything before the first `=`; the value is JSON when it
 * parses as JSON (`3`, `0.5`, `true`, `null`, `[16,32]`, `"007"`), else the text as it is
 * (`word_en`, `ndcg@5`). `key=` sets the empty string. Throws InvalidArgumentError without `=`
 * or with an empty key.
 */
export function parseSetting(text: string): [key: string, value: unknown] {
  const eq = text.indexOf('=');
  if (eq < 0) throw new InvalidArgumentError('must be key=value, e.g. trainer_config.num_epochs=3');
  const key = text.slice(0, eq).trim();
  if (key === '') throw new InvalidArgumentError('the key before = is empty');
  const raw = text.slice(eq + 1);
  let value: unknown = raw;
  if (raw.trim() !== '') {
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
  }
  return [key, value];
}

/** `--set` accumulates: later settings of the same key win when the config is built. */
export function settings(value: string, previous: Array<[string, unknown]> | undefined): Array<[string, unknown]> {
  return [...(previous ?? []), parseSetting(value)];
}
