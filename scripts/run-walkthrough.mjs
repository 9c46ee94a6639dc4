#!/usr/bin/env node
// Runs the README's walkthrough as a new user would, and fails if any step goes wrong, so that the
// README cannot drift from the code: every ```sh block of the README section whose heading starts
// with "## Walkthrough", in order, as one bash script (set -euo pipefail), from a scratch
// directory outside the clone, against a fresh `modeld serve` on a free port with a fresh data
// directory. The only things given to the script are the variables the README tells a user to
// set: M (the clone), MODELD_URL and MODELD_CREDENTIALS.
//
// It fails when: the script exits non-zero; a line on its stderr reads like an error (`error:`,
// `Error`, `curl: (N)`) or any output says `undefined` / `NaN`; the server logs an ERROR or FATAL
// line; or the whole walk takes longer than WALKTHROUGH_TIMEOUT_S (default 300 s; the walk takes 40-100 s on 2 cores).
// Prints the walkthrough's output with the elapsed seconds at each numbered step, then the total.
//
// `--check` runs no server: it only checks that the blocks parse (bash -n) and reach the clone
// only through $M (no `bin/...`, `./data/...`, `npm run` or `--import tsx` relative to the working
// directory), so that the walkthrough works from any directory; the tests run it.
//
// Usage: node scripts/run-walkthrough.mjs [--check] [--keep] [--readme FILE]
//   --keep: leave the scratch directory; --readme: another README (default: the clone's)
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const timeoutS = Number(process.env.WALKTHROUGH_TIMEOUT_S ?? 300);
const keep = process.argv.includes('--keep');
const readmeArg = process.argv.indexOf('--readme');
const readmeFile = readmeArg > 0 ? path.resolve(process.argv[readmeArg + 1] ?? '') : path.join(root, 'README.md');
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)}s`;
const say = (line) => process.stdout.write(`walkthrough: ${line}\n`);

/** The shell blocks of the README's walkthrough section, in order. Exported for reading, not reuse. */
export function walkthroughBlocks(readme) {
  const lines = readme.split('\n');
  const from = lines.findIndex((l) => /^## Walkthrough\b/.test(l));
  if (from < 0) throw new Error('README.md has no "## Walkthrough" section');
  const to = lines.findIndex((l, i) => i > from && /^## /.test(l));
  const section = lines.slice(from, to < 0 ? undefined : to);
  const blocks = [];
  let current = null;
  for (const line of section) {
    if (current === null && /^```(sh|bash)\s*$/.test(line)) current = [];
    else if (current !== null && /^```\s*$/.test(line)) {
      blocks.push(current.join('\n'));
      current = null;
    } else if (current !== null) current.push(line);
  }
  if (blocks.length === 0) throw new Error('the README walkthrough has no ```sh block');
  return blocks;
}

/** Before each `# N. ...` comment of the README, a line that prints the step and the elapsed seconds. */
function withStepMarks(script) {
  return script
    .split('\n')
    .map((line) => {
      const m = /^# (\d+)\. (.*)$/.exec(line);
      return m ? `printf '\\n== step %s (%ss): %s\\n' ${m[1]} "$SECONDS" ${shellQuote(m[2])}\n${line}` : line;
    })
    .join('\n');
}

/**
 * What --check finds wrong in the blocks, one sentence each (empty: nothing). Static: the blocks
 * are parsed by bash, not run.
 */
export function staticProblems(blocks) {
  const problems = [];
  const script = blocks.join('\n');
  const parsed = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
  if (parsed.status !== 0) problems.push(`bash -n: ${parsed.stderr.trim()}`);
  script.split('\n').forEach((line, i) => {
    const code = line.replace(/(^|\s)#.*$/, '');
    const where = `walkthrough line ${i + 1}: ${line.trim()}`;
    const inClone = /cd "\$M"/.test(code);
    if (!inClone && /(^|[\s"'(=])(\.\/)?(bin|scripts|src|data|node_modules)\//.test(code)) problems.push(`${where}: a path relative to the working directory (use "$M/...")`);
    if (!inClone && /\bnpm (run|start|test|exec)\b|--import tsx/.test(code)) problems.push(`${where}: runs in the working directory (wrap it in (cd "$M" && ...))`);
  });
  return problems;
}

function shellQuote(s) {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** This environment without MODELD_* (the walkthrough gets only what the README names). */
function cleanEnv(extra) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MODELD_') && k !== 'M' && k !== 'W'));
  return { ...env, ...extra };
}

const ERROR_LINE = /^error:|\bError\b|^curl: \(\d+\)|\bERR_[A-Z_]+\b/;
const SUSPICIOUS = /\bundefined\b|\bNaN\b/;

async function main() {
  const readme = await readFile(readmeFile, 'utf8');
  const blocks = walkthroughBlocks(readme);
  const staticFound = staticProblems(blocks);
  if (process.argv.includes('--check') || staticFound.length > 0) {
    for (const p of staticFound) say(p);
    say(staticFound.length === 0 ? `${blocks.length} block(s) of ${readmeFile}: they parse and reach the clone only through $M` : 'FAILED (static check)');
    process.exit(staticFound.length === 0 ? 0 : 1);
  }
  const scratch = await mkdtemp(path.join(tmpdir(), 'modeld-walkthrough-'));
  const dataDir = path.join(scratch, 'data');
  const workDir = path.join(scratch, 'elsewhere');
  await mkdir(workDir, { recursive: true });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const problems = [];

  // The server, as `npm start` runs it, with its log (JSON lines: not a terminal) kept aside.
  const server = spawn(process.execPath, [path.join(root, 'bin', 'modeld.js'), 'serve', '--port', String(port), '--data-dir', dataDir], {
    cwd: root,
    env: cleanEnv({}),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let serverLog = '';
  const serverErrors = [];
  const onServerLine = (line) => {
    serverLog += `${line}\n`;
    try {
      const entry = JSON.parse(line);
      if (typeof entry.level === 'number' && entry.level >= 50) serverErrors.push(line);
    } catch {
      // not JSON: kept in the log only
    }
  };
  lineReader(server.stdout, onServerLine);
  lineReader(server.stderr, onServerLine);
  const serverExited = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));

  let exitStatus = 1;
  try {
    say(`starting modeld on ${url}, data in ${dataDir}`);
    await waitUntilReady(url, serverExited);
    say(`modeld ready after ${elapsed()}; running ${blocks.length} shell block(s) of README.md from ${workDir}`);

    const script = `set -euo pipefail\n${withStepMarks(blocks.join('\n'))}\n`;
    const scriptFile = path.join(scratch, 'walkthrough.sh');
    await writeFile(scriptFile, script);
    const credentials = path.join(dataDir, 'admin-credentials.json');
    const walk = spawn('bash', [scriptFile], {
      cwd: workDir,
      // TMPDIR: the README's `mktemp -d` scratch folder lands in ours and goes with it.
      env: cleanEnv({ M: root, MODELD_URL: url, MODELD_CREDENTIALS: credentials, TMPDIR: scratch }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const check = (stream) => (line) => {
      process.stdout.write(`${stream === 'stderr' ? '! ' : '  '}${line}\n`);
      if ((stream === 'stderr' && ERROR_LINE.test(line)) || SUSPICIOUS.test(line)) problems.push(`${stream}: ${line}`);
    };
    lineReader(walk.stdout, check('stdout'));
    lineReader(walk.stderr, check('stderr'));
    const timer = setTimeout(() => {
      problems.push(`timed out after ${timeoutS} s (WALKTHROUGH_TIMEOUT_S)`);
      killGroup(walk, 'SIGKILL');
    }, timeoutS * 1000);
    const { code, signal } = await new Promise((resolve) => walk.on('exit', (c, s) => resolve({ code: c, signal: s })));
    clearTimeout(timer);
    // Replicas and CLI processes the script left behind are the server's to stop; the script's own group goes.
    killGroup(walk, 'SIGKILL');
    if (code !== 0) problems.push(`the walkthrough exited with ${code ?? signal}`);
    for (const line of serverErrors) problems.push(`server: ${line}`);
    exitStatus = problems.length === 0 ? 0 : 1;
  } catch (err) {
    problems.push(err.message);
  } finally {
    killGroup(server, 'SIGINT');
    const stopped = await Promise.race([serverExited, new Promise((resolve) => setTimeout(() => resolve(null), 30_000))]);
    if (stopped === null) {
      problems.push('modeld did not stop within 30 s of SIGINT');
      killGroup(server, 'SIGKILL');
    }
    if (problems.length > 0) {
      process.stdout.write(`\nwalkthrough: server log (last 40 lines):\n${serverLog.trimEnd().split('\n').slice(-40).join('\n')}\n`);
    }
    if (!keep) await rm(scratch, { recursive: true, force: true });
    else say(`kept ${scratch}`);
  }
  if (problems.length > 0) {
    say(`FAILED after ${elapsed()}:`);
    for (const p of problems) process.stdout.write(`  ${p}\n`);
    process.exit(1);
  }
  say(`passed in ${elapsed()}`);
  process.exit(exitStatus);
}

function lineReader(stream, onLine) {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    rest += chunk;
    let i;
    while ((i = rest.indexOf('\n')) >= 0) {
      onLine(rest.slice(0, i));
      rest = rest.slice(i + 1);
    }
  });
  stream.on('end', () => {
    if (rest !== '') onLine(rest);
  });
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function waitUntilReady(url, exited) {
  let gone = null;
  exited.then((how) => (gone = how));
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`modeld exited (${gone.code ?? gone.signal}) before it was ready`);
    try {
      const res = await fetch(`${url}/readyz`);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error('modeld was not ready within 120 s');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
