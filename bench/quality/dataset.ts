/**
 * A sample retrieval dataset built from real text installed on this machine, in the ecommerce
 * layout modeld's default `mlp_ecommerce` config reads: `catalog.csv` (pkid,name,description) and
 * `signals.csv` (query,pkid,aggr_count).
 *
 * Recipe (every random choice comes from mulberry32 seeded with `seed`, so the same machine and
 * seed give byte-identical files):
 *
 * 1. Items, in this order:
 *    a. Debian packages from /var/lib/dpkg/status (status "installed", one per package name, sorted
 *       by name): name = "<package> - <Description short line>", description = the long
 *       description (paragraph dots dropped, whitespace collapsed).
 *    b. Only when the packages give fewer than `items`: English man pages (/usr/share/man/man1-8)
 *       listed in /var/lib/dpkg/info/*.list, real files only (no symlinks, no `.so` redirects), at
 *       most MAX_MAN_PAGES_PER_PACKAGE per package (so that no one package, e.g. a CLI with 16,000
 *       generated pages, floods the catalog), read in a seeded order until `items` are reached:
 *       name = the NAME line ("ls - list directory contents"), description = the first
 *       DESCRIPTION_CHARS characters of the DESCRIPTION section, groff/mdoc markup stripped.
 *    Items whose description has fewer than MIN_CONTENT_WORDS content words, or whose name was
 *    already taken, are skipped. With more packages than `items`, a seeded sample is kept.
 * 2. Queries: content words of the item's *description* (never its name): lower-cased runs of
 *    letters, digits and + . - _, URLs removed, English stopwords and a few packaging words
 *    (package, provides, ...) dropped, pure numbers and words shorter than 3 dropped. Each item
 *    gets 2-5 queries; each query takes a window of 1-4 consecutive content words (1: 15 %, 2: 35 %,
 *    3: 35 %, 4: 20 %) at a random place, then noise: with p 0.2 one inner word of a window one
 *    longer is dropped, with p 0.25 the words are shuffled, with p 0.15 one word of 5+ letters gets
 *    a typo (adjacent swap, deletion, doubled letter or a QWERTY neighbour). A query equal to
 *    the lower-cased name, contained in it, or already made for the item is drawn again (at most
 *    10 tries). The same query made for several items stays: it has several relevant items.
 * 3. Weights: items get a seeded popularity rank r (a random permutation), pop = 1 / r^0.9
 *    (Zipf-like); the j-th query (0-based) of an item has aggr_count = max(1, round(1000 * pop /
 *    (j + 1) * (0.5 + u))), u uniform in [0, 1).
 */
import { lstat, readFile, readdir } from 'node:fs/promises';
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { seededRandom } from '../../src/domain/index.js';

export const DPKG_STATUS = '/var/lib/dpkg/status';
export const DPKG_INFO_DIR = '/var/lib/dpkg/info';
export const MAX_MAN_PAGES_PER_PACKAGE = 60;
export const MIN_CONTENT_WORDS = 6;
export const DESCRIPTION_CHARS = 700;
/** Fewest items and unique queries a dataset may have (modeld's loader needs 100 unique queries). */
export const MIN_ITEMS = 30;
export const MIN_UNIQUE_QUERIES = 100;
export const DEFAULT_ITEMS = 3000;
export const DEFAULT_SEED = 42;

export interface CatalogItem {
  pkid: string;
  name: string;
  description: string;
  source: 'dpkg' | 'man';
}

export interface SignalRow {
  query: string;
  pkid: string;
  aggr_count: number;
}

export interface SampleDataset {
  catalog: CatalogItem[];
  signals: SignalRow[];
  stats: { items: number; dpkgItems: number; manItems: number; signals: number; uniqueQueries: number; seed: number };
}

export interface SourcePaths {
  dpkgStatus?: string;
  dpkgInfoDir?: string;
  /** Where the absolute paths of dpkg's file lists are read from (tests point it at a fixture tree). Default `/`. */
  fsRoot?: string;
}

const collapse = (s: string): string => s.replace(/\s+/g, ' ').trim();

/**
 * Parses a dpkg status file (RFC 822-like stanzas) into items: installed packages only, the first
 * stanza of a package name wins (multi-arch duplicates), sorted by package name.
 */
export function parseDpkgStatus(text: string): CatalogItem[] {
  const byName = new Map<string, CatalogItem>();
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | null = null;
    for (const line of stanza.split('\n')) {
      if (/^\s/.test(line) && last !== null) fields.set(last, `${fields.get(last)}\n${line}`);
      else {
        const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
        if (m === null) continue;
        last = m[1]!;
        fields.set(last, m[2]!);
      }
    }
    const pkg = fields.get('Package');
    const desc = fields.get('Description');
    if (pkg === undefined || desc === undefined) continue;
    if (!/\binstalled\b/.test(fields.get('Status') ?? 'installed') || /not-installed|config-files/.test(fields.get('Status') ?? '')) continue;
    if (byName.has(pkg)) continue;
    const [short, ...rest] = desc.split('\n');
    const long = collapse(
      rest
        .map((l) => l.trim())
        .map((l) => (l === '.' ? '' : l))
        .join(' '),
    );
    byName.set(pkg, { pkid: `deb:${pkg}`, name: `${pkg} - ${collapse(short ?? '')}`, description: long, source: 'dpkg' });
  }
  return [...byName.values()].sort((a, b) => (a.pkid < b.pkid ? -1 : a.pkid > b.pkid ? 1 : 0));
}

const ROFF_CHARS: Record<string, string> = { em: '-', en: '-', hy: '-', aq: "'", dq: '"', lq: '"', rq: '"', oq: "'", cq: "'", bu: '*', co: '(c)', rg: '(R)', tm: '(TM)', mi: '-', pl: '+', mu: 'x', ga: '`', ti: '~', ha: '^', rs: '\\' };

/** Removes groff escapes from one line of text. */
export function stripRoffEscapes(s: string): string {
  return s
    .replace(/\\f(\[[^\]]*\]|\(..|.)/g, '')
    .replace(/\\s[+-]?\d+/g, '')
    .replace(/\\\*(\[[^\]]*\]|\(..|.)/g, '')
    .replace(/\\\((..)/g, (_m, c: string) => ROFF_CHARS[c] ?? ' ')
    .replace(/\\\[([^\]]*)\]/g, (_m, c: string) => ROFF_CHARS[c] ?? ' ')
    .replace(/\\[-e]/g, (m) => (m === '\\-' ? '-' : '\\'))
    .replace(/\\[&,/|^0~:c%)!]/g, (m) => (m === '\\~' || m === '\\0' ? ' ' : ''))
    .replace(/\\(.)/g, '$1');
}

/** Macros whose arguments are text (man and mdoc); any other request line is markup. */
const TEXT_MACROS = new Set(['B', 'I', 'BR', 'RB', 'BI', 'IB', 'IR', 'RI', 'SM', 'SB', 'Nm', 'Nd', 'Ar', 'Fl', 'Cm', 'Pa', 'Xr', 'Em', 'Sy', 'Dv', 'Ev', 'Li', 'Ql', 'Va', 'Fn', 'Fa', 'Ft', 'Ic', 'Dq', 'Sq', 'Pq', 'Op', 'It', 'Tn', 'Ux', 'At', 'Bx', 'Nx', 'Fx']);

function macroArgs(args: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"]|"")*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(args)) !== null) out.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!);
  return out;
}

/**
 * The NAME line and the start of the DESCRIPTION of a man page source (man or mdoc macros), or
 * null for a `.so` redirect or a page without both sections.
 */
export function parseManPage(src: string): { name: string; description: string } | null {
  const sections = new Map<string, string[]>();
  let current: string | null = null;
  for (const raw of src.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (/^[.']\s*\\"/.test(line) || line.startsWith('\\"')) continue;
    const req = /^[.']\s*([A-Za-z]{1,3})\b\s*(.*)$/.exec(line);
    if (req !== null) {
      const [, macro, args] = req as unknown as [string, string, string];
      if (macro === 'so') return null;
      if (macro === 'SH' || macro === 'Sh') {
        current = collapse(macroArgs(args).join(' ')).toUpperCase();
        if (!sections.has(current)) sections.set(current, []);
        continue;
      }
      if (current === null) continue;
      if (TEXT_MACROS.has(macro)) {
        let words = macroArgs(args).filter((a) => !/^(Ns|No|Ar|Fl|Pa|Cm|Xr)$/.test(a));
        if (macro === 'Xr') words = words.slice(0, 1);
        const text = words.join(' ');
        sections.get(current)!.push(macro === 'Nd' ? `- ${text}` : macro === 'Fl' ? `-${text}` : text);
      } else sections.get(current)!.push('\n');
      continue;
    }
    if (current !== null) sections.get(current)!.push(line);
  }
  const name = collapse(stripRoffEscapes((sections.get('NAME') ?? []).join(' ')));
  const descLines = sections.get('DESCRIPTION') ?? [];
  let description = collapse(stripRoffEscapes(descLines.join(' ')));
  if (name === '' || description === '' || !name.includes('-')) return null;
  if (description.length > DESCRIPTION_CHARS) {
    const cut = description.slice(0, DESCRIPTION_CHARS);
    const end = cut.lastIndexOf('. ');
    description = end > DESCRIPTION_CHARS / 3 ? cut.slice(0, end + 1) : cut.replace(/\s+\S*$/, '');
  }
  return { name, description };
}

/** Man page files per package, from dpkg's file lists: English sections 1-8, `.gz`, sorted. */
async function manPagesByPackage(infoDir: string, fsRoot = '/'): Promise<Array<{ pkg: string; files: string[] }>> {
  let names: string[];
  try {
    names = (await readdir(infoDir)).filter((n) => n.endsWith('.list')).sort();
  } catch {
    return [];
  }
  const out: Array<{ pkg: string; files: string[] }> = [];
  for (const n of names) {
    const text = await readFile(path.join(infoDir, n), 'utf8');
    const files = text
      .split('\n')
      .filter((l) => /^\/usr\/share\/man\/man[1-8]\/[^/]+\.gz$/.test(l))
      .sort()
      .map((l) => path.join(fsRoot, l));
    if (files.length > 0) out.push({ pkg: n.replace(/\.list$/, '').replace(/:.*$/, ''), files });
  }
  return out;
}

/** Reads one man page file into an item; null when it is a symlink, a redirect, unreadable or unparseable. */
async function readManItem(file: string): Promise<CatalogItem | null> {
  try {
    if (!(await lstat(file)).isFile()) return null;
    const page = parseManPage(gunzipSync(await readFile(file)).toString('utf8'));
    if (page === null) return null;
    const base = path.basename(file).replace(/\.gz$/, '');
    return { pkid: `man:${base}`, name: page.name, description: page.description, source: 'man' };
  } catch {
    return null;
  }
}

const STOPWORDS = new Set(
  (
    'a about above after again against all almost also although always am among an and any are as at be because been before being below between both but by can cannot could ' +
    'did do does doing done down during each either else etc even ever every few for from further had has have having he her here hers him his how however i if in into is it its itself ' +
    'just least less like made make makes many may might more most much must my neither no nor not now of off often on once one only or other others otherwise our out over own per ' +
    'rather same several shall she should since so some such than that the their them then there these they this those though through thus to too two under until up upon us very via ' +
    'was we well were what when where whether which while who whom whose why will with within without would yet you your ' +
    // packaging boilerplate of Debian descriptions: nobody searches for these
    'package packages provides provided contains contain containing includes include including used use uses using allows allow based support supports supported ' +
    'version versions debian program programs file files set various see new need needed useful user users'
  ).split(' '),
);

/** Content words of a text, in order: lower-cased, URLs removed, stopwords, numbers and words under 3 characters dropped. */
export function contentWords(text: string): string[] {
  const noUrls = text.replace(/\b(?:https?|ftp):\/\/\S+|\bwww\.\S+/gi, ' ');
  const words = noUrls.toLowerCase().match(/[a-z0-9][a-z0-9+._-]*[a-z0-9+]|[a-z]/g) ?? [];
  return words.filter((w) => w.length >= 3 && !/^[0-9._-]+$/.test(w) && !STOPWORDS.has(w) && !STOPWORDS.has(w.replace(/[.]+$/, '')));
}

const QWERTY_ROWS = ['qwertyuiop', 'asdfghjkl', 'zxcvbnm'];
function keyboardNeighbour(c: string, rnd: () => number): string {
  for (const row of QWERTY_ROWS) {
    const i = row.indexOf(c);
    if (i < 0) continue;
    const options = [row[i - 1], row[i + 1]].filter((x): x is string => x !== undefined);
    return options[Math.floor(rnd() * options.length)]!;
  }
  return c;
}

/** One typo in a word of 5+ letters: adjacent swap, deletion, doubled letter or QWERTY neighbour. */
export function typo(word: string, rnd: () => number): string {
  const i = 1 + Math.floor(rnd() * (word.length - 2)); // keep the first letter, as most typos do
  switch (Math.floor(rnd() * 4)) {
    case 0:
      return word.slice(0, i) + word[i + 1]! + word[i]! + word.slice(i + 2);
    case 1:
      return word.slice(0, i) + word.slice(i + 1);
    case 2:
      return word.slice(0, i) + word[i]! + word.slice(i);
    default:
      return word.slice(0, i) + keyboardNeighbour(word[i]!, rnd) + word.slice(i + 1);
  }
}

function pickLength(rnd: () => number): number {
  const u = rnd();
  return u < 0.15 ? 1 : u < 0.5 ? 2 : u < 0.85 ? 3 : 4;
}

/** One noisy query from an item's description content words (step 2 of the recipe). */
export function makeQuery(words: readonly string[], rnd: () => number): string {
  const length = Math.min(pickLength(rnd), words.length);
  const drop = length >= 2 && length < words.length && rnd() < 0.2;
  const window = length + (drop ? 1 : 0);
  const start = Math.floor(rnd() * (words.length - window + 1));
  let picked = words.slice(start, start + window);
  if (drop) {
    const j = 1 + Math.floor(rnd() * (picked.length - 2));
    picked = [...picked.slice(0, j), ...picked.slice(j + 1)];
  }
  if (picked.length > 1 && rnd() < 0.25) {
    for (let i = picked.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [picked[i], picked[j]] = [picked[j]!, picked[i]!];
    }
  }
  if (rnd() < 0.15) {
    const long = picked.map((w, i) => [w, i] as const).filter(([w]) => /^[a-z]{5,}$/.test(w));
    if (long.length > 0) {
      const [w, i] = long[Math.floor(rnd() * long.length)]!;
      picked[i] = typo(w, rnd);
    }
  }
  return picked.join(' ');
}

/** Queries and weights for the catalog (steps 2 and 3 of the recipe). */
export function generateSignals(catalog: readonly CatalogItem[], seed: number): SignalRow[] {
  const rnd = seededRandom(seed ^ 0x5eed5);
  // Popularity rank: a seeded permutation of the items.
  const order = catalog.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const rank = new Array<number>(catalog.length);
  order.forEach((itemIndex, r) => (rank[itemIndex] = r + 1));
  const out: SignalRow[] = [];
  catalog.forEach((item, idx) => {
    const words = contentWords(item.description);
    const title = item.name.toLowerCase();
    const pop = 1 / rank[idx]! ** 0.9;
    const n = 2 + Math.floor(rnd() * 4);
    const made = new Set<string>();
    for (let j = 0; j < n; j++) {
      let q = '';
      for (let tries = 0; tries < 10; tries++) {
        const c = makeQuery(words, rnd);
        if (c !== '' && c !== title && !title.includes(c) && !made.has(c)) {
          q = c;
          break;
        }
      }
      if (q === '') continue;
      made.add(q);
      out.push({ query: q, pkid: item.pkid, aggr_count: Math.max(1, Math.round(((1000 * pop) / (j + 1)) * (0.5 + rnd()))) });
    }
  });
  return out;
}

/**
 * The items of step 1 of the recipe. Throws an Error naming the sources when fewer than MIN_ITEMS
 * usable items are found.
 */
export async function collectItems(items: number, seed: number, paths: SourcePaths = {}): Promise<CatalogItem[]> {
  const statusPath = paths.dpkgStatus ?? DPKG_STATUS;
  const infoDir = paths.dpkgInfoDir ?? DPKG_INFO_DIR;
  let status = '';
  try {
    status = await readFile(statusPath, 'utf8');
  } catch {
    // no dpkg: man pages alone may still do, else the error below
  }
  const names = new Set<string>();
  const usable = (it: CatalogItem): boolean => {
    if (names.has(it.name.toLowerCase()) || contentWords(it.description).length < MIN_CONTENT_WORDS) return false;
    names.add(it.name.toLowerCase());
    return true;
  };
  let out = parseDpkgStatus(status).filter(usable);
  const rnd = seededRandom(seed);
  if (out.length > items) {
    const keep = new Set(shuffle(out.map((_, i) => i), rnd).slice(0, items));
    out = out.filter((_, i) => keep.has(i));
  } else if (out.length < items) {
    const pages = (await manPagesByPackage(infoDir, paths.fsRoot)).flatMap(({ files }) => files.slice(0, MAX_MAN_PAGES_PER_PACKAGE));
    const seen = new Set<string>();
    for (const file of shuffle(pages, rnd)) {
      if (out.length >= items) break;
      const item = await readManItem(file);
      if (item === null || seen.has(item.pkid) || !usable(item)) continue;
      seen.add(item.pkid);
      out.push(item);
    }
  }
  if (out.length < MIN_ITEMS) {
    throw new Error(
      `sample dataset: only ${out.length} usable items found in ${statusPath} and the man pages listed in ${infoDir}/*.list; ` +
        `at least ${MIN_ITEMS} are needed (items need a description of ${MIN_CONTENT_WORDS}+ content words)`,
    );
  }
  return out;
}

function shuffle<T>(items: T[], rnd: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The whole dataset (recipe above). Throws when too little text is found or fewer than MIN_UNIQUE_QUERIES queries result. */
export async function buildSampleDataset(options: { items?: number; seed?: number } & SourcePaths = {}): Promise<SampleDataset> {
  const items = options.items ?? DEFAULT_ITEMS;
  const seed = options.seed ?? DEFAULT_SEED;
  if (!Number.isInteger(items) || items < MIN_ITEMS) throw new Error(`sample dataset: items must be an integer >= ${MIN_ITEMS}, got ${items}`);
  const catalog = await collectItems(items, seed, options);
  const signals = generateSignals(catalog, seed);
  const uniqueQueries = new Set(signals.map((s) => s.query)).size;
  if (uniqueQueries < MIN_UNIQUE_QUERIES) {
    throw new Error(`sample dataset: ${catalog.length} items gave only ${uniqueQueries} unique queries; at least ${MIN_UNIQUE_QUERIES} are needed (raise --items)`);
  }
  const dpkgItems = catalog.filter((c) => c.source === 'dpkg').length;
  return { catalog, signals, stats: { items: catalog.length, dpkgItems, manItems: catalog.length - dpkgItems, signals: signals.length, uniqueQueries, seed } };
}

/** One CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180). */
export function csvField(value: string | number): string {
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}

/** Writes `dir/catalog.csv` and `dir/signals.csv` (creating dir); returns their paths. */
export async function writeSampleDataset(dir: string, data: Pick<SampleDataset, 'catalog' | 'signals'>): Promise<{ catalog: string; signals: string }> {
  await mkdir(dir, { recursive: true });
  const catalog = path.join(dir, 'catalog.csv');
  const signals = path.join(dir, 'signals.csv');
  await writeFile(catalog, toCsv(['pkid', 'name', 'description'], data.catalog.map((c) => [c.pkid, c.name, c.description])));
  await writeFile(signals, toCsv(['query', 'pkid', 'aggr_count'], data.signals.map((s) => [s.query, s.pkid, s.aggr_count])));
  return { catalog, signals };
}

/**
 * Splits signals by unique query: a seeded `testShare` of the (sorted) unique queries, with all
 * their rows, is the test set; the rest is training. No query is in both.
 */
export function splitSignalsByQuery(signals: readonly SignalRow[], testShare: number, seed: number): { train: SignalRow[]; test: SignalRow[] } {
  const queries = [...new Set(signals.map((s) => s.query))].sort();
  const test = new Set(shuffle(queries, seededRandom(seed ^ 0x7e57)).slice(0, Math.round(queries.length * testShare)));
  return { train: signals.filter((s) => !test.has(s.query)), test: signals.filter((s) => test.has(s.query)) };
}

/**
 * A second recipe, whose queries are not cut from the text being indexed: the **man-page
 * summaries** dataset. Items are the installed Debian packages (as in step 1, packages only);
 * each query is the one-line summary of a man page the package ships (the part of its NAME line
 * after " - ", e.g. "list directory contents" for coreutils), lower-cased: text a person wrote to
 * say what a command does, which is close to what a user types to find it. At most
 * MAX_MAN_PAGES_PER_PACKAGE pages a package; a summary met twice for a package counts once; a
 * summary contained in the item's name is dropped. Weights as in step 3 (seeded popularity).
 */
export async function buildManSummaryDataset(options: { seed?: number } & SourcePaths = {}): Promise<SampleDataset> {
  const seed = options.seed ?? DEFAULT_SEED;
  const statusPath = options.dpkgStatus ?? DPKG_STATUS;
  const infoDir = options.dpkgInfoDir ?? DPKG_INFO_DIR;
  const packages = new Map(parseDpkgStatus(await readFile(statusPath, 'utf8')).map((it) => [it.pkid.replace(/^deb:/, ''), it]));
  const rnd = seededRandom(seed ^ 0x3a11);
  const catalog: CatalogItem[] = [];
  const summaries = new Map<string, string[]>();
  for (const { pkg, files } of await manPagesByPackage(infoDir, options.fsRoot)) {
    const item = packages.get(pkg);
    if (item === undefined) continue;
    const title = item.name.toLowerCase();
    const seen = new Set<string>();
    for (const file of files.slice(0, MAX_MAN_PAGES_PER_PACKAGE)) {
      let page: { name: string } | null = null;
      try {
        if ((await lstat(file)).isFile()) page = parseManPage(gunzipSync(await readFile(file)).toString('utf8'));
      } catch {
        page = null;
      }
      const summary = page?.name.split(/\s+-+\s+/).slice(1).join(' - ').toLowerCase().replace(/[.\s]+$/, '').trim() ?? '';
      if (summary === '' || contentWords(summary).length === 0 || title.includes(summary) || seen.has(summary)) continue;
      seen.add(summary);
    }
    if (seen.size === 0) continue;
    catalog.push(item);
    summaries.set(item.pkid, [...seen]);
  }
  const order = shuffle(
    catalog.map((_, i) => i),
    rnd,
  );
  const rank = new Array<number>(catalog.length);
  order.forEach((itemIndex, r) => (rank[itemIndex] = r + 1));
  const signals: SignalRow[] = [];
  catalog.forEach((item, idx) => {
    const pop = 1 / rank[idx]! ** 0.9;
    summaries.get(item.pkid)!.forEach((query, j) => {
      signals.push({ query, pkid: item.pkid, aggr_count: Math.max(1, Math.round(((1000 * pop) / (Math.min(j, 4) + 1)) * (0.5 + rnd()))) });
    });
  });
  const uniqueQueries = new Set(signals.map((s) => s.query)).size;
  if (catalog.length < MIN_ITEMS || uniqueQueries < MIN_UNIQUE_QUERIES) {
    throw new Error(`man-page summaries dataset: ${catalog.length} packages with man pages and ${uniqueQueries} unique summaries in ${statusPath} and ${infoDir}/*.list; at least ${MIN_ITEMS} and ${MIN_UNIQUE_QUERIES} are needed`);
  }
  return { catalog, signals, stats: { items: catalog.length, dpkgItems: catalog.length, manItems: 0, signals: signals.length, uniqueQueries, seed } };
}
