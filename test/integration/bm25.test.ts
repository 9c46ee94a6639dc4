import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bm25Index, tokenize } from '../../bench/quality/bm25.js';

// Three documents, lengths 3, 2 and 4 tokens: N = 3, avgdl = 3. k1 = 1.2, b = 0.75.
const docs = ['The cat sat.', 'the DOG', 'cat-cat dog bird'];
const close = (actual: number, expected: number): void => assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} != ${expected}`);

test('tokenize lower-cases and splits on non-alphanumerics', () => {
  assert.deepEqual(tokenize('  Hello, WORLD!x86-64 über_2 '), ['hello', 'world', 'x86', '64', 'über', '2']);
  assert.deepEqual(tokenize('--'), []);
});

test('idf by hand: ln(1 + (N - df + 0.5) / (df + 0.5))', () => {
  const index = new Bm25Index(docs);
  close(index.idf('cat'), Math.log(1.6)); // df 2: ln(1 + 1.5 / 2.5)
  close(index.idf('bird'), Math.log(1 + 2.5 / 1.5)); // df 1
  assert.equal(index.idf('fish'), 0);
});

test('scores and ranking by hand', () => {
  const index = new Bm25Index(docs);
  const idf2 = Math.log(1.6);
  // "cat": doc 0 tf 1, |d| = avgdl so the norm is 1: 1 * 2.2 / (1 + 1.2) = 1.
  //        doc 2 tf 2, norm 0.25 + 0.75 * 4/3 = 1.25: 2 * 2.2 / (2 + 1.5) = 4.4 / 3.5.
  const cat = index.scores('cat');
  close(cat[0]!, idf2 * 1);
  close(cat[1]!, 0);
  close(cat[2]!, idf2 * (4.4 / 3.5));
  assert.deepEqual(index.rank('cat', 3), [2, 0, 1]);
  // "cat dog dog": distinct terms only. dog in doc 1: tf 1, norm 0.25 + 0.75 * 2/3 = 0.75: 2.2 / 1.9;
  // dog in doc 2: 2.2 / (1 + 1.5) = 0.88.
  const catDog = index.scores('Cat dog DOG');
  close(catDog[0]!, idf2);
  close(catDog[1]!, idf2 * (2.2 / 1.9));
  close(catDog[2]!, idf2 * (4.4 / 3.5 + 0.88));
  assert.deepEqual(index.rank('cat dog', 2), [2, 1]);
  // No matching term: every score 0, catalog order.
  assert.deepEqual(index.rank('fish', 3), [0, 1, 2]);
});

test('b = 0 ignores document length', () => {
  const index = new Bm25Index(docs, { b: 0 });
  const dog = index.scores('dog');
  close(dog[1]!, dog[2]!);
});
