/** One raw engine in a worker thread: loads the artifact and reports items/s for a batch size. */
import { parentPort, workerData } from 'node:worker_threads';
import { loadEngine, measureEngineThroughput } from '../src/engines/index.js';

const { artifactDir, texts, batch, seconds } = workerData as { artifactDir: string; texts: string[]; batch: number; seconds: number };
const engine = await loadEngine(artifactDir, { intraOpThreads: 1 });
parentPort!.postMessage({ ready: true });
await new Promise<void>((resolve) => parentPort!.once('message', () => resolve()));
const itemsPerSecond = await measureEngineThroughput(engine, texts, batch, seconds);
await engine.close();
parentPort!.postMessage({ itemsPerSecond });
