/**
 * bench:chunking — throughput of the Async Chunking API's chunkers on 1 MB of real text (man
 * pages of this machine, gunzipped, roff markup left in), and the added latency of `semantic`
 * over `dynamic-sentence` end to end through a real server with the shipped pre-trained model.
 *   npm run bench:chunking [-- --semantic-kb 32]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { chunkText, parseChunkerConfig, type ChunkerName } from '../src/chunking/index.js';
import { runServer } from '../src/main.js';
import { makeTempDir } from '../test/fixtures/tmp.js';
import { machineLine } from './lib.js';

const MB = 1_000_000;
const semanticKb = Number(process.argv[process.argv.indexOf('--semantic-kb') + 1] ?? 32) || 32;

function realText(bytes: number): { text: string; source: string } {
  const dir = '/usr/share/man/man1';
  let text = '';
  try {
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith('.gz')) continue;
      text += gunzipSync(readFileSync(path.join(dir, f))).toString('utf8') + '\n';
      if (Buffer.byteLength(text) >= bytes) return { text: text.slice(0, bytes), source: `${dir}/*.gz (gunzipped)` };
    }
  } catch {
    // no man pages: fall through to the licences
  }
  const lic = '/usr/share/common-licenses';
  for (const f of readdirSync(lic).sort()) text += readFileSync(path.join(lic, f), 'utf8') + '\n';
  while (Buffer.byteLength(text) < bytes) text += text;
  return { text: text.slice(0, bytes), source: `${lic}/* (repeated; man pages absent)` };
}

const { text, source } = realText(MB);
console.log(machineLine());
console.log(`text: ${Buffer.byteLength(text)} bytes from ${source}`);
console.log('chunking only (no embedding), one 1 MB text each:');
for (const chunker of ['dynamic-newline', 'dynamic-sentence', 'sentence', 'regex-splitter'] as ChunkerName[]) {
  const config = parseChunkerConfig(chunker, chunker === 'regex-splitter' ? { regex: '\\n\\.(?:SH|PP)' } : {});
  const t0 = performance.now();
  const chunks = await chunkText(chunker, text, config);
  const s = (performance.now() - t0) / 1000;
  console.log(`  ${chunker.padEnd(17)} ${(1 / s).toFixed(2)} texts/s  ${(chunks.length / s).toFixed(0)} chunks/s  (${chunks.length} chunks, ${(s * 1000).toFixed(0)} ms)`);
}

// End to end through a server: chunks + a vector per chunk; semantic also embeds every sentence.
const tmp = await makeTempDir('modeld-bench-chunking-');
const server = await runServer({ port: 0, dataDir: tmp.dir, logLevel: 'silent' }, { logDestination: new Writable({ write: (_c, _e, cb) => cb() }) });
try {
  const creds = JSON.parse(await readFile(path.join(tmp.dir, 'admin-credentials.json'), 'utf8')) as { clientId: string; clientSecret: string };
  const tok = await fetch(`${server.url}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${creds.clientId}:${creds.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=machinelearning.predict',
  });
  const auth = `Bearer ${((await tok.json()) as { access_token: string }).access_token}`;
  const part = text.slice(0, semanticKb * 1000);
  const run = async (chunker: string, chunkerConfig: object): Promise<{ ms: number; chunks: number }> => {
    const t0 = performance.now();
    const r = await fetch(`${server.url}/ai/async-chunking/${chunker}/universal-sentence-encoder-lite`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ batch: [{ text: part }], chunkerConfig }),
    });
    const { chunkingId } = (await r.json()) as { chunkingId: string };
    for (;;) {
      const g = (await (await fetch(`${server.url}/ai/async-chunking/${chunkingId}`, { headers: { authorization: auth } })).json()) as any;
      if (g.status === 'READY') return { ms: performance.now() - t0, chunks: g.chunkedData[0].chunks.length };
      if (g.status === 'ERROR') throw new Error(g.message);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await run('dynamic-sentence', { maxChunkSize: 64 }); // warm-up: starts the pre-trained model's replica
  const ds = await run('dynamic-sentence', { maxChunkSize: 64 });
  const se = await run('semantic', { maxChunkSize: 64 });
  console.log(`end to end through the server, ${semanticKb} kB of the same text, universal-sentence-encoder-lite:`);
  console.log(`  dynamic-sentence  ${ds.ms.toFixed(0)} ms  ${((ds.chunks / ds.ms) * 1000).toFixed(0)} chunks/s (${ds.chunks} chunks)`);
  console.log(`  semantic          ${se.ms.toFixed(0)} ms  ${((se.chunks / se.ms) * 1000).toFixed(0)} chunks/s (${se.chunks} chunks)`);
  console.log(`  semantic adds ${(se.ms - ds.ms).toFixed(0)} ms (x${(se.ms / ds.ms).toFixed(2)}) over dynamic-sentence; cpus: ${os.cpus().length}`);
} finally {
  await server.close();
  await tmp.cleanup();
}
