/**
 * `npm run console:screenshots`: writes a screenshot of each main screen of the web console to
 * docs/console/*.png (1280x800, plus the models list at phone width). It starts a throwaway modeld
 * on 127.0.0.1 (fresh data folder under the system temp folder), fills it through the API with
 * what the screens show (an imported model and its deployment under some traffic, two small
 * trainings, a deployment that fails to load its model), then drives Debian's Chromium
 * (/usr/bin/chromium, playwright-core) through the console. About a minute and a half.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { CHROMIUM, launchChromium, signIn, startConsoleServer } from '../test/fixtures/console.js';
import { makeModeldArtifact } from '../test/fixtures/models.js';
import { writeTinyTrainingData } from '../test/fixtures/training-data.js';
import { existsSync } from 'node:fs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'docs', 'console');

if (!existsSync(CHROMIUM)) {
  console.error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  process.exit(1);
}
await mkdir(out, { recursive: true });
const s = await startConsoleServer('modeld-screenshots-');
const api = s.api;
const step = (what: string) => console.log(`- ${what}`);

try {
  step('import a model and deploy it');
  const upload = async (folder: string, dir: string) => {
    for (const f of ['manifest.json', 'model.onnx', 'tokenizer.json']) await api.uploadFile(`${folder}/${f}`, await readFile(path.join(dir, f)));
  };
  await upload('tiny-encoder', await makeModeldArtifact(path.join(s.tmp.dir, 'tiny-encoder')));
  const imported = await api.importModel({ name: 'tiny-encoder', upload: 'tiny-encoder', description: 'a 32-d test encoder (random weights)' });
  const dep = await api.createDeployment({ modelId: imported.id, region: 'local', minReplicas: 1, maxReplicas: 3 });
  await api.waitForDeployment(dep.id, { timeoutMs: 120_000, intervalMs: 250 });

  step('two trainings');
  const data = await writeTinyTrainingData(s.tmp.dir, { items: 150 });
  const cat = await api.uploadFile('catalog.csv', await readFile(new URL(data.catalog)));
  const sig = await api.uploadFile('signals.csv', await readFile(new URL(data.signals)));
  const train = (name: string, units: number) =>
    api.trainModel({
      name,
      modelType: 'ecommerce-rnn',
      region: 'local',
      trainingData: { catalog: cat.uri, signals: sig.uri },
      config: {
        dataset_config: 'mlp_ecommerce',
        trainer_config: 'mlp_ecommerce',
        'trainer_config.num_epochs': 6,
        'trainer_config.encoder_config.rnn_units_list': [units],
        'trainer_config.trn_batch_size': 16,
      },
    });
  const a = await train('shop-encoder-16', 16);
  const b = await train('shop-encoder-32', 32);

  step('traffic on the deployment for the metrics chart (40 s), and a deployment that fails');
  const texts = ['red running shoes', 'blue denim jacket', 'leather office chair', 'wool winter scarf'];
  // A low autoscaler target, so that the burst scales the deployment up (a ScaledUp event with its inputs).
  await api.patchDeployment(dep.id, { autoscaling: { targetConcurrencyPerReplica: 1 } });
  const started = Date.now();
  const until = started + 40_000;
  const traffic = (async () => {
    let i = 0;
    while (Date.now() < until) {
      const burst = Date.now() - started < 20_000 ? 8 : 2;
      await Promise.all(Array.from({ length: burst }, () => api.embed(dep.id, [texts[i++ % texts.length]!]).catch(() => null)));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const doomedDir = await makeModeldArtifact(path.join(s.tmp.dir, 'doomed'));
  const manifestFile = path.join(doomedDir, 'manifest.json');
  const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { tokenizer: Record<string, unknown> };
  await writeFile(manifestFile, JSON.stringify({ ...manifest, tokenizer: { ...manifest.tokenizer, maxTokens: 96 } }, null, 2));
  const artifacts = path.join(s.dataDir, 'artifacts');
  const before = new Set(await readdir(artifacts));
  await upload('doomed', doomedDir);
  const doomed = await api.importModel({ name: 'doomed', upload: 'doomed' });
  const stored = (await readdir(artifacts)).filter((f) => !before.has(f));
  const tokenizerFile = path.join(artifacts, stored[0]!, 'tokenizer.json');
  await writeFile(tokenizerFile, (await readFile(tokenizerFile, 'utf8')).replace('"', "'"));
  const failed = await api.createDeployment({ modelId: doomed.id, region: 'local' });
  await api.waitForModel(a.id, { intervalMs: 500 });
  await api.waitForModel(b.id, { intervalMs: 500 });
  await traffic;
  await new Promise((r) => setTimeout(r, 11_000));

  step('screenshots');
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const shot = async (name: string, full = false) => {
      await page.waitForTimeout(400);
      await page.screenshot({ path: path.join(out, `${name}.png`), fullPage: full });
      console.log(`  docs/console/${name}.png`);
    };
    const go = async (to: string, ready: (p: Page) => Promise<unknown>) => {
      // In-app navigation (a reload would forget the session, as it should).
      await page.evaluate(`history.pushState(null, '', ${JSON.stringify(`/console${to}`)}); dispatchEvent(new PopStateEvent('popstate'))`);
      await ready(page);
    };

    await page.goto(`${s.url}/console/`);
    await page.getByLabel('Client id').fill(s.creds.clientId);
    await shot('sign-in');
    await signIn(page, s.url, s.creds.clientId, s.creds.clientSecret);
    await page.getByRole('link', { name: 'shop-encoder-32' }).waitFor();
    await shot('models');
    await go(`/models/${b.id}`, (p) => p.getByTestId('final-metrics-val').waitFor());
    await shot('model', true);
    await go(`/models/compare?a=${a.id}&b=${b.id}`, (p) => p.getByTestId('compare-chart').waitFor());
    await shot('compare', true);
    await go('/models/train', (p) => p.getByTestId('config-table').waitFor());
    await page.getByLabel('Name', { exact: true }).fill('shop-encoder-64');
    await page.getByLabel('Epochs').fill('100');
    await shot('train');
    await go('/models/import', (p) => p.getByLabel('URI', { exact: true }).waitFor());
    await page.getByLabel('Name', { exact: true }).fill('minilm');
    await page.getByLabel('URI', { exact: true }).fill('file:///srv/modeld-imports/all-MiniLM-L6-v2');
    await shot('import');
    await go('/deployments', (p) => p.getByTestId('deployments-table').locator('tbody tr').nth(1).waitFor());
    await shot('deployments');
    await go(`/deployments/${dep.id}`, (p) => p.getByTestId('traffic-chart').waitFor());
    await page.getByTestId('replicas-table').waitFor();
    await shot('deployment', true);
    await go(`/deployments/${failed.id}`, (p) => p.getByTestId('failure').waitFor({ timeout: 120_000 }));
    await shot('deployment-failed');
    await go('/uploads', (p) => p.getByTestId('quotas').waitFor());
    await shot('uploads');
    await go(`/try?model=${dep.id}`, (p) => p.getByRole('button', { name: 'Embed' }).waitFor());
    await page.getByLabel('Texts (one per line)').fill(texts.join('\n'));
    await page.getByRole('button', { name: 'Embed' }).click();
    await page.getByTestId('heatmap').waitFor();
    await shot('try-it', true);
    await go('/admin', (p) => p.getByTestId('clients-table').locator('tbody tr').first().waitFor());
    await page.getByRole('button', { name: 'Create client' }).click();
    await page.getByTestId('new-secret').waitFor();
    await shot('admin');

    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
    const small = await phone.newPage();
    await signIn(small, s.url, s.creds.clientId, s.creds.clientSecret);
    await small.getByRole('link', { name: 'shop-encoder-32' }).waitFor();
    await small.waitForTimeout(300);
    await small.screenshot({ path: path.join(out, 'models-phone.png') });
    console.log('  docs/console/models-phone.png');
  } finally {
    await browser.close();
  }
} finally {
  await s.close();
}
