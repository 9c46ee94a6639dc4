import { createReadStream } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import { parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { seededRandom } from '../domain/index.js';
import { ModeldError, invalidField } from '../errors/index.js';
import type { DatasetColumns } from './config.js';

/**
 * Training data: where the files may come from (`resolveDataUri`), how rows are read (CSV, JSON
 * Lines, Parquet, streamed with a size cap) and how a catalog and its signals become the index,
 * the training pairs and the held-out validation pairs (`loadTrainingData`).
 *
 * Every problem with the data is a 400 MODELD_ERR_TRAINING_CONFIG naming the file and, where
 * there is one, the column and the line or row; a path outside the data roots is
 * MODELD_ERR_DATA_PATH_FORBIDDEN.
 */

/** Largest data file read when the caller sets no cap: 1 GiB. */
export const DEFAULT_MAX_DATA_BYTES = 1024 ** 3;
/** Share of unique queries held out for validation, and its bounds. */
export const VALIDATION_SHARE = 0.1;
export const MIN_VALIDATION_QUERIES = 50;
export const MAX_VALIDATION_QUERIES = 5000;
/** Unique queries needed to train: as many left for training as the smallest validation set. */
export const MIN_UNIQUE_QUERIES = 2 * MIN_VALIDATION_QUERIES;

export const DATA_FORMATS = ['csv', 'jsonl', 'parquet'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];
const EXTENSIONS: Record<string, DataFormat> = { '.csv': 'csv', '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.json': 'jsonl', '.parquet': 'parquet', '.pq': 'parquet' };

function dataError(message: string, details: Record<string, unknown>): ModeldError {
  return new ModeldError('MODELD_ERR_TRAINING_CONFIG', message, { details });
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * Resolves a training data URI to a regular file the server may read. Only absolute `file://`
 * URIs (`file:///abs/file` or `file://localhost/abs/file`) are accepted. The path as written and
 * its real path (symlinks resolved) must both lie inside one of `dataRoots`; the written path is
 * checked before anything is looked up, so a refusal tells nothing about files outside the roots.
 * No roots means no file may be read.
 *
 * Throws (400, naming `field`): MODELD_ERR_DATA_PATH_FORBIDDEN outside the roots;
 * MODELD_ERR_VALIDATION for another scheme, a relative path, a missing file or a directory.
 */
export async function resolveDataUri(uri: string, dataRoots: readonly string[], field = 'body.trainingData'): Promise<string> {
  if (typeof uri !== 'string' || uri === '') throw invalidField(field, 'must be a file:// URI such as file:///data/catalog.parquet');
  if (path.isAbsolute(uri)) throw invalidField(field, `must be a file:// URI, got a bare path; use ${JSON.stringify(`file://${uri}`)}`);
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw invalidField(field, `must be a file:// URI such as file:///data/catalog.parquet, got ${JSON.stringify(uri)}`);
  }
  if (url.protocol !== 'file:') {
    const scheme = url.protocol.replace(/:$/, '');
    throw invalidField(field, `URI scheme ${JSON.stringify(scheme)} is not supported; copy the file under a data root and give its file:// URI`, { scheme });
  }
  if (!/^file:\/\/(localhost)?\//i.test(uri)) throw invalidField(field, `the path must be absolute (file:///abs/file), got ${JSON.stringify(uri)}`);
  if (url.search !== '' || url.hash !== '') throw invalidField(field, 'a file:// URI must not carry a query or a fragment');
  let lexical: string;
  try {
    lexical = path.normalize(fileURLToPath(url));
  } catch (err) {
    throw invalidField(field, `not a usable file path (${(err as Error).message})`);
  }
  const forbidden = (): ModeldError =>
    new ModeldError(
      'MODELD_ERR_DATA_PATH_FORBIDDEN',
      dataRoots.length === 0
        ? `${field}: ${lexical} cannot be read: no training data roots are configured (training.dataRoots)`
        : `${field}: ${lexical} is outside the directories training data may be read from (${dataRoots.join(', ')})`,
      { details: { field, dataRoots: [...dataRoots] } },
    );
  const roots = await Promise.all(dataRoots.map(async (r) => ({ given: path.resolve(r), real: await realpath(r).catch(() => path.resolve(r)) })));
  if (!roots.some((r) => isInside(r.given, lexical) || isInside(r.real, lexical))) throw forbidden();
  let real: string;
  try {
    real = await realpath(lexical);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw invalidField(field, `${lexical} does not exist`);
    throw invalidField(field, `${lexical} cannot be read (${code ?? (err as Error).message})`);
  }
  if (!roots.some((r) => isInside(r.real, real))) throw forbidden();
  const info = await stat(real);
  if (!info.isFile()) throw invalidField(field, `${lexical} is not a file`);
  return real;
}

/** The format of a data file: by extension, else Parquet when it starts with the magic bytes `PAR1`. Throws naming the file. */
export async function detectFormat(file: string): Promise<DataFormat> {
  const byExt = EXTENSIONS[path.extname(file).toLowerCase()];
  if (byExt !== undefined) return byExt;
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
    if (head.toString('latin1') === 'PAR1') return 'parquet';
  } finally {
    await fh.close();
  }
  throw dataError(`${file}: unknown data format; name the file .csv, .jsonl (JSON Lines) or .parquet`, { file });
}

export interface ReadOptions {
  /** Refuse files larger than this many bytes (default DEFAULT_MAX_DATA_BYTES). */
  maxBytes?: number;
  /** Parquet only: decode just these columns (those the file has); the others are never read. */
  columns?: readonly string[];
}

/** One row: column name -> value as read (strings for CSV; JSON values; Parquet values, INT64 as bigint). */
export type DataRow = Record<string, unknown>;

/** What readRows yields first: the columns a reader knows before the rows (CSV header, Parquet schema); null for JSON Lines. */
export interface RowSource {
  format: DataFormat;
  columns: readonly string[] | null;
  rows: AsyncGenerator<{ row: DataRow; line: number }>;
  /** Releases the file; needed when `rows` is not read to its end (reading to the end releases it too). Idempotent. */
  close(): Promise<void>;
}

/**
 * What can be known of a data file before reading it, checked at submission (M2) so that the
 * client hears it at once: not empty, not over the size cap, a format modeld reads. Throws 400
 * MODELD_ERR_TRAINING_CONFIG whose message starts with `field` and names the file.
 */
export async function checkDataFile(file: string, field: string, maxBytes = DEFAULT_MAX_DATA_BYTES): Promise<void> {
  const info = await stat(file);
  const fail = (why: string, details: Record<string, unknown> = {}) => new ModeldError('MODELD_ERR_TRAINING_CONFIG', `${field}: ${file}: ${why}`, { details: { field, file, ...details } });
  if (info.size === 0) throw fail('the file is empty');
  if (info.size > maxBytes) throw fail(`${info.size} bytes is larger than the ${maxBytes}-byte limit for training data files`, { bytes: info.size, maxBytes });
  try {
    await detectFormat(file);
  } catch (err) {
    throw fail('unknown data format; name the file .csv, .jsonl (JSON Lines) or .parquet', { cause: (err as Error).message });
  }
}

/**
 * Opens `file` for streaming rows. `line` is the 1-based line (CSV: of the record's first line;
 * JSON Lines: of the object) or, for Parquet, the 1-based row number. Throws naming the file
 * when it is larger than the cap, empty, or malformed (at the line where it breaks).
 */
export async function readRows(file: string, options: ReadOptions = {}): Promise<RowSource> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_DATA_BYTES;
  const info = await stat(file);
  if (info.size > maxBytes) {
    throw dataError(`${file}: ${info.size} bytes is larger than the ${maxBytes}-byte limit for training data files`, { file, bytes: info.size, maxBytes });
  }
  if (info.size === 0) throw dataError(`${file}: the file is empty`, { file });
  const format = await detectFormat(file);
  if (format === 'parquet') return readParquet(file, info.size, options.columns);
  if (format === 'jsonl') {
    const rows = readJsonLines(file, maxBytes);
    return { format, columns: null, rows, close: async () => void (await rows.return(undefined)) };
  }
  return readCsv(file, maxBytes);
}

/** Yields the file's text in chunks, refusing to go past maxBytes (the file may grow after the size check). */
async function* textChunks(file: string, maxBytes: number): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let bytes = 0;
  let first = true;
  const stream = createReadStream(file, { highWaterMark: 1 << 16 });
  // A read error (permissions, a file replaced by a directory) is the data's problem, named, not a 500.
  const failed = (err: unknown): ModeldError =>
    err instanceof ModeldError ? err : dataError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { file });
  const chunks = stream[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await chunks.next();
      } catch (err) {
        throw failed(err);
      }
      if (next.done) break;
      const chunk = next.value;
      bytes += (chunk as Buffer).length;
      if (bytes > maxBytes) throw dataError(`${file}: larger than the ${maxBytes}-byte limit for training data files`, { file, maxBytes });
      let text = decoder.write(chunk as Buffer);
      if (first && text.length > 0) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        first = false;
      }
      if (text.length > 0) yield text;
    }
  } finally {
    // Also when the reader stops early: the descriptor is released at once, not at garbage collection.
    stream.destroy();
  }
  const rest = decoder.end();
  if (rest.length > 0) yield rest;
}

async function* readJsonLines(file: string, maxBytes: number): AsyncGenerator<{ row: DataRow; line: number }> {
  let pending = '';
  let line = 0;
  const parse = (text: string, at: number): DataRow | null => {
    if (text.trim() === '') return null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw dataError(`${file}: line ${at}: not valid JSON (${(err as Error).message})`, { file, line: at });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw dataError(`${file}: line ${at}: each line must be a JSON object`, { file, line: at });
    return value as DataRow;
  };
  for await (const chunk of textChunks(file, maxBytes)) {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      line++;
      const row = parse(pending.slice(0, nl), line);
      pending = pending.slice(nl + 1);
      if (row !== null) yield { row, line };
    }
  }
  line++;
  const row = parse(pending, line);
  if (row !== null) yield { row, line };
}

/**
 * RFC 4180 CSV: comma-separated, records end with CRLF or LF, a field in double quotes may hold
 * commas, line breaks and doubled quotes. The first record is the header. Leniencies, both common
 * in exported data: a quote inside an unquoted field is kept as a character, and blank lines are
 * skipped. Errors: a closing quote followed by anything but a comma or a line end, a quote left
 * open at the end of the file, a record whose field count differs from the header's.
 */
async function readCsv(file: string, maxBytes: number): Promise<RowSource> {
  const records = csvRecords(file, maxBytes);
  const first = await records.next();
  if (first.done) throw dataError(`${file}: the file has no header line`, { file });
  const header = first.value.fields.map((h) => h.trim());
  const seen = new Set<string>();
  for (const h of header) {
    if (seen.has(h)) throw dataError(`${file}: line 1: the header names column ${JSON.stringify(h)} twice`, { file, column: h });
    seen.add(h);
  }
  async function* rows(): AsyncGenerator<{ row: DataRow; line: number }> {
    for await (const { fields, line } of records) {
      if (fields.length !== header.length) {
        throw dataError(`${file}: line ${line}: ${fields.length} fields where the header has ${header.length}`, { file, line });
      }
      const row: DataRow = {};
      for (let i = 0; i < header.length; i++) row[header[i]!] = fields[i];
      yield { row, line };
    }
  }
  const gen = rows();
  return {
    format: 'csv',
    columns: header,
    rows: gen,
    close: async () => {
      await gen.return(undefined);
      await records.return(undefined);
    },
  };
}

async function* csvRecords(file: string, maxBytes: number): AsyncGenerator<{ fields: string[]; line: number }> {
  let fields: string[] = [];
  let field = '';
  let quoted = false; // inside a quoted field
  let afterQuote = false; // a quoted field just closed
  let pendingQuote = false; // saw a quote inside a quoted field: a doubled quote or the closing one
  let pendingCr = false;
  let line = 1;
  let recordLine = 1;
  let started = false; // the current record has any character
  const endRecord = function* (): Generator<{ fields: string[]; line: number }> {
    fields.push(field);
    const blank = fields.length === 1 && fields[0] === '' && !afterQuote;
    if (!blank) yield { fields, line: recordLine };
    fields = [];
    field = '';
    afterQuote = false;
    started = false;
  };
  for await (const chunk of textChunks(file, maxBytes)) {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (pendingQuote) {
        pendingQuote = false;
        if (c === '"') {
          field += '"';
          continue;
        }
        quoted = false;
        afterQuote = true;
      }
      if (pendingCr) {
        pendingCr = false;
        if (c === '\n') continue; // CRLF ends one record
      }
      if (quoted) {
        if (c === '"') pendingQuote = true;
        else {
          if (c === '\n') line++;
          field += c;
        }
        continue;
      }
      if (c === ',') {
        fields.push(field);
        field = '';
        afterQuote = false;
        started = true;
      } else if (c === '\n' || c === '\r') {
        yield* endRecord();
        line++;
        recordLine = line;
        pendingCr = c === '\r';
      } else if (afterQuote) {
        throw dataError(`${file}: line ${line}: unexpected ${JSON.stringify(c)} after a closing quote (a field in quotes must end at a comma or the end of the line)`, { file, line });
      } else if (c === '"' && field === '') {
        quoted = true;
        started = true;
      } else {
        field += c;
        started = true;
      }
    }
  }
  if (pendingQuote) {
    quoted = false;
    afterQuote = true;
  }
  if (quoted) throw dataError(`${file}: line ${recordLine}: a quoted field is not closed before the end of the file`, { file, line: recordLine });
  if (started || field !== '' || afterQuote) yield* endRecord();
}

async function readParquet(file: string, size: number, only: readonly string[] | undefined): Promise<RowSource> {
  const fh = await open(file, 'r');
  const buffer = {
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const length = (end ?? size) - start;
      const out = new Uint8Array(length);
      await fh.read(out, 0, length, start);
      return out.buffer;
    },
  };
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await fh.close();
  };
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (err) {
    await close();
    throw dataError(`${file}: not a readable Parquet file (${(err as Error).message})`, { file });
  }
  // Top-level columns: the schema's first element is the root, its children follow depth-first.
  const columns: string[] = [];
  const schema = metadata.schema;
  for (let i = 1, left = schema[0]?.num_children ?? 0; i < schema.length && left > 0; left--) {
    columns.push(schema[i]!.name);
    let skip = schema[i]!.num_children ?? 0;
    i++;
    while (skip > 0 && i < schema.length) {
      skip += (schema[i]!.num_children ?? 0) - 1;
      i++;
    }
  }
  const selected = only === undefined ? undefined : columns.filter((c) => only.includes(c));
  async function* rows(): AsyncGenerator<{ row: DataRow; line: number }> {
    try {
      let rowStart = 0;
      for (const group of metadata.row_groups) {
        const n = Number(group.num_rows);
        let batch: DataRow[];
        try {
          batch = (await parquetReadObjects({ file: buffer, metadata, rowStart, rowEnd: rowStart + n, ...(selected === undefined ? {} : { columns: selected }) })) as DataRow[];
        } catch (err) {
          throw dataError(`${file}: rows ${rowStart + 1}-${rowStart + n} cannot be read (${(err as Error).message})`, { file });
        }
        for (let i = 0; i < batch.length; i++) yield { row: batch[i]!, line: rowStart + i + 1 };
        rowStart += n;
      }
    } finally {
      await close();
    }
  }
  return { format: 'parquet', columns, rows: rows(), close };
}


/** A Fisher-Yates shuffle of a copy of `items`, fixed by `seed`. */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const rnd = seededRandom(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The number of unique queries held out: 10 %, at least 50, at most 5000. */
export function validationSize(uniqueQueries: number): number {
  return Math.min(MAX_VALIDATION_QUERIES, Math.max(MIN_VALIDATION_QUERIES, Math.round(uniqueQueries * VALIDATION_SHARE)));
}

export interface IndexItem {
  pkid: string;
  /** Title and description, joined by a space (either may be absent). */
  text: string;
  /** The body column's text, present when one is configured: it feeds the vocabulary only. */
  body?: string;
}

export interface TrainingPair {
  query: string;
  pkid: string;
  /** Sum of the weights of the signals with this query and pkid (1 each without a weight column). */
  weight: number;
}

export interface TrainingDataSummary {
  catalogFile: string;
  signalsFile: string;
  catalogRows: number;
  indexSize: number;
  duplicatePkidsDropped: number;
  emptyItemsDropped: number;
  signalRows: number;
  /** Signals dropped: pkid not in the index. */
  signalsWithoutItem: number;
  /** Signals dropped: empty query or pkid. */
  signalsEmpty: number;
  /** Signals dropped: weight 0 or negative. */
  signalsNonPositiveWeight: number;
  uniqueQueries: number;
  trnQueries: number;
  valQueries: number;
  /** Unique (query, pkid) pairs of the training split. */
  uniqueTrainingPairs: number;
  seed: number;
}

export interface TrainingData {
  index: IndexItem[];
  train: TrainingPair[];
  validation: TrainingPair[];
  summary: TrainingDataSummary;
}

export interface LoadOptions extends ReadOptions {
  dataRoots: readonly string[];
  /** Fixes the validation split: the same data and seed give the same split. */
  seed: number;
}

function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString();
  return JSON.stringify(v);
}

function requireColumns(file: string, what: string, known: readonly string[] | null, wanted: Array<[string, string]>): void {
  if (known === null) return;
  for (const [column, key] of wanted) {
    if (!known.includes(column)) {
      throw dataError(`${what} ${file}: no column ${JSON.stringify(column)} (dataset_config.${key}); its columns are ${known.map((c) => JSON.stringify(c)).join(', ')}`, {
        file,
        column,
        configKey: `dataset_config.${key}`,
        columns: [...known],
      });
    }
  }
}

interface CatalogRead {
  index: IndexItem[];
  pkids: Set<string>;
  rows: number;
  duplicatePkidsDropped: number;
  emptyItemsDropped: number;
}

async function readCatalog(file: string, columns: DatasetColumns, options: ReadOptions): Promise<CatalogRead> {
  const wanted: Array<[string, string]> = [[columns.pkid, 'pkid_col_name']];
  if (columns.title !== null) wanted.push([columns.title, 'index_title_col_name']);
  if (columns.desc !== null) wanted.push([columns.desc, 'index_desc_col_name']);
  if (columns.body !== null) wanted.push([columns.body, 'index_body_col_name']);
  const out: CatalogRead = { index: [], pkids: new Set(), rows: 0, duplicatePkidsDropped: 0, emptyItemsDropped: 0 };
  const seenColumns = new Set<string>();
  const src = await readRows(file, { ...options, columns: wanted.map(([c]) => c) });
  try {
    requireColumns(file, 'catalog', src.columns, wanted);
    for await (const { row } of src.rows) {
      out.rows++;
      if (src.columns === null) for (const k of Object.keys(row)) seenColumns.add(k);
      const pkid = cellText(row[columns.pkid]).trim();
      const text = [columns.title, columns.desc]
        .filter((c): c is string => c !== null)
        .map((c) => cellText(row[c]).trim())
        .filter((t) => t !== '')
        .join(' ');
      if (pkid === '' || text === '') {
        out.emptyItemsDropped++;
        continue;
      }
      if (out.pkids.has(pkid)) {
        out.duplicatePkidsDropped++;
        continue;
      }
      out.pkids.add(pkid);
      const item: IndexItem = { pkid, text };
      if (columns.body !== null) item.body = cellText(row[columns.body]);
      out.index.push(item);
    }
  } finally {
    await src.close();
  }
  if (out.rows === 0) throw dataError(`catalog ${file}: no rows`, { file });
  if (src.columns === null) requireColumns(file, 'catalog', [...seenColumns], wanted);
  if (out.index.length === 0) {
    throw dataError(`catalog ${file}: none of its ${out.rows} rows has both a pkid and a text (columns ${wanted.map(([c]) => JSON.stringify(c)).join(', ')})`, { file });
  }
  return out;
}

interface SignalsRead {
  byQuery: Map<string, Map<string, number>>;
  rows: number;
  withoutItem: number;
  empty: number;
  nonPositiveWeight: number;
}

async function readSignals(file: string, catalogFile: string, catalog: CatalogRead, columns: DatasetColumns, options: ReadOptions): Promise<SignalsRead> {
  const wanted: Array<[string, string]> = [[columns.query, 'query_col_name'], [columns.pkid, 'pkid_col_name']];
  if (columns.weight !== null) wanted.push([columns.weight, 'weight_col_name']);
  const out: SignalsRead = { byQuery: new Map(), rows: 0, withoutItem: 0, empty: 0, nonPositiveWeight: 0 };
  const seenColumns = new Set<string>();
  const missingExamples: string[] = [];
  const src = await readRows(file, { ...options, columns: wanted.map(([c]) => c) });
  try {
    requireColumns(file, 'signals', src.columns, wanted);
    for await (const { row, line } of src.rows) {
      out.rows++;
      if (src.columns === null) for (const k of Object.keys(row)) seenColumns.add(k);
      const query = cellText(row[columns.query]).trim();
      const pkid = cellText(row[columns.pkid]).trim();
      if (query === '' || pkid === '') {
        out.empty++;
        continue;
      }
      let weight = 1;
      if (columns.weight !== null) {
        const raw = row[columns.weight];
        weight = typeof raw === 'number' ? raw : typeof raw === 'bigint' ? Number(raw) : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
        if (!Number.isFinite(weight)) {
          throw dataError(
            `signals ${file}: ${src.format === 'parquet' ? 'row' : 'line'} ${line}: column ${JSON.stringify(columns.weight)} (dataset_config.weight_col_name) must be a number, got ${JSON.stringify(cellText(raw).slice(0, 40))}`,
            { file, column: columns.weight, line },
          );
        }
        if (weight <= 0) {
          out.nonPositiveWeight++;
          continue;
        }
      }
      if (!catalog.pkids.has(pkid)) {
        out.withoutItem++;
        if (missingExamples.length < 3) missingExamples.push(pkid);
        continue;
      }
      let rel = out.byQuery.get(query);
      if (rel === undefined) out.byQuery.set(query, (rel = new Map()));
      rel.set(pkid, (rel.get(pkid) ?? 0) + weight);
    }
  } finally {
    await src.close();
  }
  if (out.rows === 0) throw dataError(`signals ${file}: no rows`, { file });
  if (src.columns === null) requireColumns(file, 'signals', [...seenColumns], wanted);
  if (out.byQuery.size === 0) {
    throw dataError(
      `signals ${file}: no signal's pkid (column ${JSON.stringify(columns.pkid)}) is in the catalog ${catalogFile}` +
        (missingExamples.length > 0
          ? ` (signal pkids such as ${missingExamples.map((p) => JSON.stringify(p)).join(', ')}; catalog pkids such as ${catalog.index.slice(0, 3).map((i) => JSON.stringify(i.pkid)).join(', ')})`
          : ''),
      { file, column: columns.pkid },
    );
  }
  if (out.byQuery.size < MIN_UNIQUE_QUERIES) {
    throw dataError(`signals ${file}: ${out.byQuery.size} unique queries match the catalog; training needs at least ${MIN_UNIQUE_QUERIES} (${MIN_VALIDATION_QUERIES} are held out for validation)`, {
      file,
      uniqueQueries: out.byQuery.size,
    });
  }
  return out;
}

/**
 * Reads the catalog and the signals and builds what training needs (API.md's rules):
 * - index: one item per pkid (the first row wins; later duplicates are dropped and counted), its
 *   text the title and description joined; items with neither are dropped and counted;
 * - signals: (query, pkid, weight) rows whose pkid is in the index; weight 1 without a weight
 *   column; pairs with the same query and pkid are merged, their weights summed;
 * - split: the unique queries, sorted then shuffled by `seed`; 10 % of them (at least 50, at most
 *   5000) and all their pairs are validation, the rest training.
 *
 * Throws 400s naming the file (and column or line): MODELD_ERR_DATA_PATH_FORBIDDEN / _VALIDATION
 * from resolveDataUri; MODELD_ERR_TRAINING_CONFIG for an empty or unreadable file, a missing
 * column, a weight that is not a number, no signal pkid in the catalog, fewer than 100 unique
 * queries.
 */
export async function loadTrainingData(catalogUri: string, signalsUri: string, columns: DatasetColumns, options: LoadOptions): Promise<TrainingData> {
  const catalogFile = await resolveDataUri(catalogUri, options.dataRoots, 'body.trainingData.catalog');
  const signalsFile = await resolveDataUri(signalsUri, options.dataRoots, 'body.trainingData.signals');
  const catalog = await readCatalog(catalogFile, columns, options);
  const signals = await readSignals(signalsFile, catalogFile, catalog, columns, options);
  const { byQuery } = signals;
  // Split: sorting first makes the split independent of the order of the rows.
  const queries = [...byQuery.keys()].sort();
  const shuffled = seededShuffle(queries, options.seed);
  const nVal = validationSize(queries.length);
  const valSet = new Set(shuffled.slice(0, nVal));
  const train: TrainingPair[] = [];
  const validation: TrainingPair[] = [];
  for (const query of queries) {
    const target = valSet.has(query) ? validation : train;
    for (const [pkid, weight] of byQuery.get(query)!) target.push({ query, pkid, weight });
  }
  return {
    index: catalog.index,
    train,
    validation,
    summary: {
      catalogFile,
      signalsFile,
      catalogRows: catalog.rows,
      indexSize: catalog.index.length,
      duplicatePkidsDropped: catalog.duplicatePkidsDropped,
      emptyItemsDropped: catalog.emptyItemsDropped,
      signalRows: signals.rows,
      signalsWithoutItem: signals.withoutItem,
      signalsEmpty: signals.empty,
      signalsNonPositiveWeight: signals.nonPositiveWeight,
      uniqueQueries: queries.length,
      trnQueries: queries.length - nVal,
      valQueries: nVal,
      uniqueTrainingPairs: train.length,
      seed: options.seed,
    },
  };
}

/** Up to `n` of `queries`, chosen by `seed` (the training queries evaluated each epoch alongside validation). */
export function sampleQueries<T>(queries: readonly T[], n: number, seed: number): T[] {
  return queries.length <= n ? [...queries] : seededShuffle(queries, seed).slice(0, n);
}

/**
 * The texts a text processor learns its vocabulary from: every index text and body, and the
 * training queries. Validation queries are left out, so that held-out queries meet the vocabulary
 * as unseen queries would.
 */
export function* vocabularyTexts(data: Pick<TrainingData, 'index' | 'train'>): Generator<string> {
  for (const item of data.index) {
    yield item.text;
    if (item.body !== undefined && item.body !== '') yield item.body;
  }
  let last: string | undefined;
  // Pairs come grouped by query: each query once.
  for (const pair of data.train) {
    if (pair.query !== last) yield pair.query;
    last = pair.query;
  }
}
