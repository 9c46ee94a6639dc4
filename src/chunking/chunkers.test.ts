import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ModeldError } from '../errors/index.js';
import { chunkText, parseChunkerConfig, type ChunkerName } from './chunkers.js';
import { translatePythonRegex } from './python-regex.js';
import { maxChunksFor } from './limits.js';
import { sizeOf } from './text.js';

const texts = async (chunker: ChunkerName, text: string, config: object = {}) =>
  (await chunkText(chunker, text, parseChunkerConfig(chunker, config), { embed: async (ts) => ts.map((t) => [t.includes('cat') ? 1 : 0, t.includes('cat') ? 0 : 1]) })).map((c) => c.text);

test('each chunker on a table of inputs', async () => {
  const cases: Array<[ChunkerName, string, object, string[]]> = [
    ['dynamic-newline', 'a b\nc d\n\ne f', { maxChunkSize: 4 }, ['a b\nc d', 'e f']],
    ['dynamic-newline', 'one two three', { maxChunkSize: 2 }, ['one two', 'three']],
    ['dynamic-sentence', 'A b. C d. E f.', { maxChunkSize: 4 }, ['A b. C d.', 'E f.']],
    ['dynamic-sentence', 'A b. C d. E f.', { maxChunkSize: 4, overlapSize: 1 }, ['A b. C d.', 'C d. E f.']],
    ['sentence', 'A. B. C. D. E.', { chunkSize: 2 }, ['A. B.', 'C. D.', 'E.']],
    ['sentence', 'A. B. C. D.', { chunkSize: 2, overlapSize: 1 }, ['A. B.', 'B. C.', 'C. D.']],
    ['sentence', 'A! B? C.', {}, ['A! B? C.']],
    ['regex-splitter', 'a1b22c', { regex: '\\d+' }, ['a', 'b', 'c']],
    ['regex-splitter', 'x\n\ny\nz', {}, ['x', 'y', 'z']],
    ['regex-splitter', '## A\ntext\n## B\nmore', { regex: '(?m)^## ' }, ['A\ntext', 'B\nmore']],
    ['regex-splitter', 'a-b', { regex: '(?P<dash>-)' }, ['a', 'b']],
    ['semantic', 'The cat sat. A cat ran. Stocks fell. Bonds rose.', { maxChunkSize: 100 }, ['The cat sat. A cat ran.', 'Stocks fell. Bonds rose.']],
    ['semantic', 'The cat sat. A cat ran. Stocks fell.', { maxChunkSize: 3 }, ['The cat sat.', 'A cat ran.', 'Stocks fell.']],
    ['dynamic-sentence', '   ', {}, []],
  ];
  for (const [chunker, text, config, expected] of cases) {
    assert.deepEqual(await texts(chunker, text, config), expected, `${chunker} ${JSON.stringify(text)} ${JSON.stringify(config)}`);
  }
});

test('chunkerConfig: unknown keys, bad values and unsupported Python constructs are refused naming the field', () => {
  const refused = (chunker: ChunkerName, config: object, field: string, construct?: string) =>
    assert.throws(() => parseChunkerConfig(chunker, config), (err: ModeldError) => {
      assert.equal(err.code, 'MODELD_ERR_VALIDATION');
      assert.equal(err.status, 400);
      assert.ok(err.message.startsWith(`body.chunkerConfig.${field}`), err.message);
      if (construct) assert.ok(err.message.includes(construct), err.message);
      return true;
    });
  refused('sentence', { maxChunkSize: 3 }, 'maxChunkSize');
  refused('sentence', { chunkSize: 2, overlapSize: 2 }, 'overlapSize');
  refused('dynamic-sentence', { maxChunkSize: 0 }, 'maxChunkSize');
  refused('semantic', { cosineThreshold: 2 }, 'cosineThreshold');
  refused('regex-splitter', { regex: '(?x)a b' }, 'regex', '(?x)');
  refused('regex-splitter', { regex: 'a(?i:b)' }, 'regex', '(?i');
  refused('regex-splitter', { regex: '(?>ab)' }, 'regex', 'atomic');
  refused('regex-splitter', { regex: 'a++' }, 'regex', 'possessive');
  refused('regex-splitter', { regex: '(a)?(?(1)b|c)' }, 'regex', 'conditional');
  refused('regex-splitter', { regex: '(' }, 'regex', 'not a valid');
  assert.deepEqual(translatePythonRegex('\\Afoo\\Z'), { source: '(?<![\\s\\S])foo(?![\\s\\S])', flags: '' });
  assert.deepEqual(translatePythonRegex('(?P<w>a)(?P=w)'), { source: '(?<w>a)\\k<w>', flags: '' });
  assert.deepEqual(translatePythonRegex('(?is)x\\++'), { source: 'x\\++', flags: 'is' });
});

test('a regex that backtracks for ever fails its split instead of blocking the server', async () => {
  const config = parseChunkerConfig('regex-splitter', { regex: '(a+)+$' });
  await assert.rejects(chunkText('regex-splitter', 'a'.repeat(40) + 'b', config, { regexTimeoutMs: 50 }), /took longer than 50 ms/);
});

test('chunk limits follow the documented table', () => {
  assert.equal(maxChunksFor(32, true), 40_000);
  assert.equal(maxChunksFor(32, false), 11_000);
  assert.equal(maxChunksFor(256, false), 1_500);
  assert.equal(maxChunksFor(384, true), 4_500);
  assert.equal(maxChunksFor(100, false), 3_000);
});

test('property: chunks are spans of the text, in order, within maxChunkSize, covering every word', async () => {
  const word = fc.constantFrom('alpha', 'beta', 'cat', 'dog.', 'end!', 'x?', 'q');
  const sep = fc.constantFrom(' ', '  ', '\n', '\n\n', '. ');
  const doc = fc.array(fc.tuple(word, sep), { maxLength: 60 }).map((ps) => ps.map(([w, s]) => w + s).join(''));
  await fc.assert(
    fc.asyncProperty(doc, fc.constantFrom<ChunkerName>('dynamic-newline', 'dynamic-sentence', 'semantic'), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 3 }), async (text, chunker, max, overlap) => {
      const config = parseChunkerConfig(chunker, chunker === 'dynamic-newline' ? { maxChunkSize: max } : { maxChunkSize: max, overlapSize: overlap });
      const chunks = await chunkText(chunker, text, config, { embed: async (ts) => ts.map((t) => [t.length % 3, 1]) });
      let lastStart = -1;
      const covered = new Array<boolean>(text.length).fill(false);
      for (const c of chunks) {
        assert.equal(text.slice(c.start, c.end), c.text);
        assert.ok(c.start > lastStart, 'each chunk starts after the previous one');
        assert.ok(sizeOf(c.text) <= max, `chunk of ${sizeOf(c.text)} words > ${max}`);
        lastStart = c.start;
        for (let i = c.start; i < c.end; i++) covered[i] = true;
      }
      for (let i = 0; i < text.length; i++) if (!/\s/.test(text[i]!)) assert.ok(covered[i], `character ${i} of ${JSON.stringify(text)} is in no chunk`);
    }),
    { numRuns: 150 },
  );
});
