import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Model } from '../../src/client/index.js';
import { browserSkipReason, launchChromium, recordTraffic, signIn, startConsoleServer, type ConsoleServer, type Traffic } from '../fixtures/console.js';
import { makeModeldArtifact } from '../fixtures/models.js';
import { writeTinyTrainingData } from '../fixtures/training-data.js';

/**
 * The web console end to end: a real modeld on 127.0.0.1 (runServer, fresh data dir) and Debian's
 * Chromium driven by playwright-core. One browser context walks through what a user does (sign
 * in, import, deploy, try an embedding, train and watch the curve, read a DEPLOY_FAILED reason,
 * admin clients, sign out) while every request it makes is recorded: at the end none went to
 * a host other than modeld, and the page reported no Content-Security-Policy violation.
 */

/** What the page functions below use of the browser (this file is typed without the DOM library). */
interface BrowserGlobals {
  document: { cookie: string; documentElement: { scrollWidth: number; clientWidth: number }; querySelector(s: string): { getAttribute(n: string): string | null } | null };
  localStorage: { length: number };
  sessionStorage: { length: number };
}
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
}

const skip = browserSkipReason();

/** A link of the console's main navigation. */
function nav(page: Page, name: string) {
  return page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
}
const WAIT = 150_000;

describe('web console in Chromium', { skip: skip ?? false, timeout: 480_000 }, () => {
  let s: ConsoleServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let traffic: Traffic;
  const pageErrors: string[] = [];
  let importedId = '';
  let deploymentId = '';

  before(async () => {
    s = await startConsoleServer();
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    traffic = recordTraffic(context);
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.setDefaultTimeout(45_000);
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

  test('the console is served with a self-only CSP; a missing file is a 404, any other path the app', async () => {
    const res = await fetch(`${s.url}/console/`);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /connect-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.match(await res.text(), /<script type="module" src="\/console\/app\.js"><\/script>/);
    const deep = await fetch(`${s.url}/console/models/some-id`);
    assert.equal(deep.status, 200);
    assert.equal(deep.headers.get('content-type'), 'text/html; charset=utf-8');
    await deep.arrayBuffer();
    const missing = await fetch(`${s.url}/console/nope.js`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { code: string }).code, 'MODELD_ERR_NOT_FOUND');
    const traversal = await fetch(`${s.url}/console/..%2f..%2fpackage.json`);
    assert.equal(traversal.status, 404);
    await traversal.arrayBuffer();
    const redirect = await fetch(`${s.url}/console`, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), '/console/');
  });

  test('sign-in refuses a wrong secret with the API message, then signs in with the keyboard alone', async () => {
    await signIn(page, s.url, s.creds.clientId, 'wrong-secret');
    await page.getByTestId('error').waitFor();
    assert.match(await page.getByTestId('error').innerText(), /client authentication failed/);
    assert.match(await page.getByTestId('error').innerText(), /invalid_client/);

    await page.goto(`${s.url}/console/`);
    await page.getByLabel('Client id').waitFor();
    // The id field has the focus; Tab to the secret, Enter submits.
    await page.keyboard.type(s.creds.clientId);
    await page.keyboard.press('Tab');
    await page.keyboard.type(s.creds.clientSecret);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Models', exact: true }).waitFor();
    await page.getByRole('link', { name: 'Universal Sentence Encoder lite' }).waitFor();
    assert.equal(await nav(page, 'Admin').count(), 1, 'the admin scope shows the Admin page');
  });

  test('import a model from a folder of this computer, then deploy it and see its replica', async () => {
    const dir = await makeModeldArtifact(path.join(s.tmp.dir, 'exports', 'tiny-encoder'));
    await page.getByRole('button', { name: 'Import a model' }).click();
    await page.getByLabel('Name', { exact: true }).fill('tiny-encoder');
    await page.getByLabel('A folder from this computer').check();
    await page.getByLabel('Folder', { exact: true }).setInputFiles(dir);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.waitForURL(/\/console\/models\/[0-9a-f-]{36}$/, { timeout: WAIT });
    importedId = page.url().split('/').at(-1)!;
    await page.getByRole('heading', { name: 'tiny-encoder' }).waitFor();
    assert.equal(await page.getByTestId('vector-size').innerText(), '32');

    await page.getByLabel('Max replicas').fill('2');
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await page.waitForURL(/\/console\/deployments\/[0-9a-f-]{36}$/);
    deploymentId = page.url().split('/').at(-1)!;
    await page.locator('.page-head .badge', { hasText: 'DEPLOYED' }).waitFor({ timeout: WAIT });
    const row = page.getByTestId('replicas-table').locator('tbody tr').first();
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, /ready/);
    assert.match(text, /pid \d+/);
    const replicas = await s.api.listReplicas(deploymentId);
    assert.ok(replicas.some((r) => r.phase === 'ready' && r.pid !== null && text.includes(String(r.pid))), 'the table shows what the API says');
  });

  test('start a training with uploaded files: a wrong key is named before sending, the upload shows its progress', async () => {
    const data = await writeTinyTrainingData(s.tmp.dir, { items: 120 });
    await nav(page, 'Models').click();
    await page.getByRole('button', { name: 'Train a model' }).click();
    await page.getByLabel('Name', { exact: true }).fill('shop-curve');
    await page.locator('#catalog-file').setInputFiles(new URL(data.catalog).pathname);
    await page.locator('#signals-file').setInputFiles(new URL(data.signals).pathname);
    await page.getByLabel('Epochs').fill('100');
    await page.getByText('trainer_config.num_epochs: must be an integer from 1 to 64').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Start training' }).isDisabled(), true);
    await page.getByLabel('Epochs').fill('2');
    await page.getByLabel('RNN units').fill('[16]');
    await page.getByLabel('Batch size').fill('16');
    assert.equal(await page.getByRole('button', { name: 'Start training' }).isDisabled(), false);
    const preview = JSON.parse(await page.getByTestId('config-preview').textContent() ?? '{}') as Record<string, unknown>;
    assert.deepEqual(preview, {
      dataset_config: 'mlp_ecommerce',
      trainer_config: 'mlp_ecommerce',
      'trainer_config.num_epochs': 2,
      'trainer_config.trn_batch_size': 16,
      'trainer_config.encoder_config.rnn_units_list': [16],
    });
    // The server's answer to the catalog upload is held back a moment, long enough to read the bar.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/ai/uploads/catalog.csv', async (route) => {
      await held;
      await route.continue();
    });
    await page.getByRole('button', { name: 'Start training' }).click();
    const bar = page.getByTestId('upload-catalog');
    await bar.waitFor();
    await page.waitForFunction(() => {
      const p = (globalThis as unknown as BrowserGlobals).document.querySelector('[data-testid="upload-catalog"] progress');
      return p !== null && p.getAttribute('value') === '100';
    });
    assert.match(await bar.innerText(), /catalog: catalog\.csv/);
    release();
    await page.waitForURL(/\/console\/models\/[0-9a-f-]{36}$/, { timeout: WAIT });
    await page.unroute('**/ai/uploads/catalog.csv');
    const uploads = await s.api.listUploads();
    assert.deepEqual(uploads.filter((u) => !u.folderUri).map((u) => u.name).sort(), ['catalog.csv', 'signals.csv']);
  });

  test('watch the training reach AVAILABLE with its curve drawn and its final metrics', async () => {
    const trainedId = page.url().split('/').at(-1)!;
    await page.getByRole('heading', { name: 'shop-curve' }).waitFor();
    await page.locator('.page-head .badge', { hasText: 'AVAILABLE' }).waitFor({ timeout: WAIT });
    const chart = page.getByTestId('epoch-chart');
    await page.waitForFunction(() => Number((globalThis as unknown as BrowserGlobals).document.querySelector('[data-testid="epoch-chart"]')?.getAttribute('data-points')) >= 4, null, {
      timeout: WAIT,
    });
    // Drawn: the canvas has painted pixels (Chart.js draws axes, lines and points).
    const painted = await chart.evaluate((element) => {
      const c = element as unknown as CanvasLike;
      const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
      return n;
    });
    assert.ok(painted > 1000, `the chart painted ${painted} pixels`);
    const table = page.getByTestId('final-metrics-val');
    await table.waitFor();
    const model = (await s.api.getModel(trainedId, { metrics: true })) as Model;
    const ndcg5 = model.trainingMetrics!.final_metrics.ndcg!.val['5'];
    const cells = await table.locator('tr', { has: page.locator('th', { hasText: /^ndcg$/ }) }).locator('td').allInnerTexts();
    assert.equal(cells[2], ndcg5.toFixed(4), 'the table shows the API figures');
    await page.getByTestId('metric-curves').waitFor();
  });

  test('compare the trained model with the imported one', async () => {
    await nav(page, 'Models').click();
    await page.getByLabel('compare shop-curve').check();
    await page.getByLabel('compare tiny-encoder').check();
    await page.getByRole('button', { name: 'Compare 2/2' }).click();
    await page.getByTestId('compare-table').waitFor();
    const text = await page.getByTestId('compare-table').innerText();
    assert.match(text, /val ndcg@5/);
    assert.match(text, /shop-curve/);
    assert.match(text, /tiny-encoder/);
  });

  test('try an embedding: vectors, norms, token counts and the similarity heat map; an API refusal shows its message', async () => {
    await nav(page, 'Try it').click();
    await page.getByLabel('Deployment or model').selectOption(deploymentId);
    await page.getByLabel('Texts (one per line)').fill('red running shoes\nblue denim jacket');
    await page.getByRole('button', { name: 'Embed' }).click();
    await page.getByTestId('vectors-table').waitFor();
    assert.equal(await page.getByTestId('shape').innerText(), '[2 × 32]');
    for (const n of await page.getByTestId('norm').allInnerTexts()) assert.equal(n, '1.0000');
    const diagonal = await page.getByTestId('heatmap').locator('tbody tr').evaluateAll((rows) => rows.map((r, i) => r.querySelectorAll('td')[i]!.textContent));
    assert.deepEqual(diagonal, ['1.000', '1.000']);
    const tokens = await page.getByTestId('vectors-table').locator('tbody tr td:nth-child(2)').allInnerTexts();
    assert.ok(tokens.every((t) => Number(t) > 0), `token counts ${tokens.join(',')}`);

    await page.getByLabel('dimReductionSize').fill('4096');
    await page.getByRole('button', { name: 'Embed' }).click();
    await page.getByTestId('error').waitFor();
    assert.match(await page.getByTestId('error').innerText(), /MODELD_ERR_DIM_REDUCTION_TOO_LARGE/);
  });

  test('a deployment whose model cannot load shows DEPLOY_FAILED with its reason', async () => {
    // A distinct artifact (other maxTokens), its files uploaded by the API, imported from its URI in the console.
    const dir = await makeModeldArtifact(path.join(s.tmp.dir, 'exports', 'doomed'));
    const manifestFile = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { tokenizer: Record<string, unknown> };
    await writeFile(manifestFile, JSON.stringify({ ...manifest, tokenizer: { ...manifest.tokenizer, maxTokens: 96 } }, null, 2));
    let folderUri = '';
    for (const f of ['manifest.json', 'model.onnx', 'tokenizer.json']) {
      folderUri = (await s.api.uploadFile(`doomed/${f}`, await readFile(path.join(dir, f)))).folderUri!;
    }
    const artifacts = path.join(s.dataDir, 'artifacts');
    const before = new Set(await readdir(artifacts));
    await nav(page, 'Models').click();
    await page.getByRole('button', { name: 'Import a model' }).click();
    await page.getByLabel('Name', { exact: true }).fill('doomed');
    await page.getByLabel('URI', { exact: true }).fill(folderUri);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByRole('heading', { name: 'doomed' }).waitFor({ timeout: WAIT });
    const stored = (await readdir(artifacts)).filter((f) => !before.has(f));
    assert.equal(stored.length, 1);
    const tokenizerFile = path.join(artifacts, stored[0]!, 'tokenizer.json');
    await writeFile(tokenizerFile, (await readFile(tokenizerFile, 'utf8')).replace('"', "'"));

    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await page.waitForURL(/\/console\/deployments\/[0-9a-f-]{36}$/);
    await page.getByTestId('failure').waitFor({ timeout: WAIT });
    assert.equal(await page.getByTestId('failure-reason').innerText(), 'ModelLoadFailed');
    assert.match(await page.getByTestId('failure-message').innerText(), /tokenizer\.json: checksum mismatch/);
    await page.locator('ol.timeline li.warning', { hasText: 'ModelLoadFailed' }).first().waitFor();
  });

  test('uploads: the files and folders with the quotas; delete one with confirmation', async () => {
    await nav(page, 'Uploads').click();
    const table = page.getByTestId('uploads-table');
    await table.locator('tr', { hasText: 'signals.csv' }).waitFor();
    await table.locator('tr', { hasText: 'doomed/' }).waitFor();
    assert.match(await page.getByTestId('quotas').innerText(), /uploadFiles\s*\d+ of 200/);
    await table.locator('tr', { hasText: 'signals.csv' }).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete signals.csv?' }).getByRole('button', { name: 'Delete' }).click();
    await table.locator('tr', { hasText: 'signals.csv' }).waitFor({ state: 'detached' });
    assert.equal((await s.api.listUploads()).some((u) => u.name === 'signals.csv'), false);
  });

  test("the deployment page charts the last hour and PATCH changes replicas; an invalid PATCH shows the API's message", async () => {
    await page.goto(`${s.url}/console/deployments/${deploymentId}`);
    // A reload forgets the session: the console asks to sign in again, then shows the page asked for.
    await page.getByLabel('Client id').fill(s.creds.clientId);
    await page.getByLabel('Client secret').fill(s.creds.clientSecret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('traffic-chart').waitFor({ timeout: WAIT });
    await page.getByTestId('latency-chart').waitFor();
    await page.getByLabel('Max replicas').fill('3');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    assert.equal((await s.api.getDeployment(deploymentId)).maxReplicas, 3);
    await page.locator('ol.timeline li', { hasText: 'SpecChanged' }).first().waitFor();

    await page.getByLabel('Max replicas').fill('100');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('error').waitFor();
    assert.match(await page.getByTestId('error').innerText(), /maxReplicas/);
  });

  test('keyboard: a confirmation dialog takes the focus and Escape cancels it; Tab and Enter follow the navigation', async () => {
    const del = page.getByRole('button', { name: 'Delete', exact: true });
    await del.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.equal(await dialog.evaluate((d) => d.contains((d.ownerDocument as unknown as { activeElement: unknown }).activeElement as never)), true, 'the focus is in the dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await s.api.getDeployment(deploymentId)).state, 'DEPLOYED', 'Escape deleted nothing');
    await nav(page, 'Models').focus();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Deployments', exact: true }).waitFor();
  });

  test('admin: create a customer and a client (secret shown once), rotate it, and the old secret stops working', async () => {
    await nav(page, 'Admin').click();
    const instance = page.getByTestId('instances-table').locator('tbody tr');
    await instance.first().waitFor();
    assert.equal(await instance.count(), 1);
    assert.match(await instance.first().innerText(), /this one[\s\S]*live/);
    await page.getByLabel('New customer name').fill('acme');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('button', { name: /acme/ }).waitFor();
    await page.getByRole('button', { name: 'Create client' }).click();
    await page.getByTestId('new-secret').waitFor();
    const firstId = await page.getByTestId('new-client-id').innerText();
    const firstSecret = await page.getByTestId('new-client-secret').innerText();
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate' }).click();
    await page.getByTestId('new-secret').filter({ hasText: `Replaces ${firstId}` }).waitFor();
    const secondId = await page.getByTestId('new-client-id').innerText();
    const secondSecret = await page.getByTestId('new-client-secret').innerText();
    assert.notEqual(secondId, firstId);
    await page.getByTestId('clients-table').locator('tr', { hasText: firstId }).getByText(/disabled/).waitFor();

    await page.getByTestId('sign-out').click();
    await signIn(page, s.url, firstId, firstSecret);
    await page.getByTestId('error').waitFor();
    await signIn(page, s.url, secondId, secondSecret);
    await page.getByRole('heading', { name: 'Models', exact: true }).waitFor();
    assert.equal(await nav(page, 'Admin').count(), 0, 'a customer client has no Admin page');
    assert.equal(await page.getByRole('link', { name: 'tiny-encoder' }).count(), 0, "another customer's models are not listed");
  });

  test('readable at phone width: nothing but the tables scrolls sideways', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await nav(page, 'Deployments').click();
    await page.getByRole('heading', { name: 'Deployments' }).waitFor();
    const overflow = await page.evaluate(() => {
      const { documentElement } = (globalThis as unknown as BrowserGlobals).document;
      return documentElement.scrollWidth - documentElement.clientWidth;
    });
    assert.ok(overflow <= 1, `the page is ${overflow}px wider than the screen`);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('sign-out forgets the session: back to the sign-in form, nothing stored', async () => {
    await page.getByTestId('sign-out').click();
    await page.getByLabel('Client id').waitFor();
    const stored = await page.evaluate(() => {
      const g = globalThis as unknown as BrowserGlobals;
      return { local: g.localStorage.length, session: g.sessionStorage.length, cookie: g.document.cookie };
    });
    assert.deepEqual(stored, { local: 0, session: 0, cookie: '' });
    assert.deepEqual(await context.cookies(), []);
  });

  test('no page asked any host but modeld, broke the CSP or threw', () => {
    const origin = new URL(s.url).origin;
    assert.ok(traffic.requests.length > 20, `recorded ${traffic.requests.length} requests`);
    const foreign = traffic.requests.filter((u) => new URL(u).origin !== origin);
    assert.deepEqual(foreign, []);
    assert.deepEqual(traffic.cspViolations, []);
    assert.deepEqual(pageErrors, []);
    void importedId;
  });
});
