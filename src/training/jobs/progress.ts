import type { TrainingPhase, TrainingProgress } from '../job-types.js';

/**
 * Where a job stands, as the API shows it (`trainingProgress` on the model object, M1 and M3) and
 * as it is stored (`training_jobs.progress`). Every key is always present in the store, null
 * until known (the API leaves null keys out). `phase` is null while the job waits for its worker;
 * it stays `exporting` while the finished artifact is checked and copied into the artifact store.
 */
export interface TrainingProgressView {
  phase: TrainingPhase | null;
  epoch: number | null;
  numEpochs: number | null;
  step: number | null;
  steps: number | null;
  loss: number | null;
  pairsPerSecond: number | null;
  etaSeconds: number | null;
  monitor: { key: string; value: number } | null;
  bestEpoch: number | null;
  updatedAt: string;
}

export function initialProgress(at: string): TrainingProgressView {
  return {
    phase: null,
    epoch: null,
    numEpochs: null,
    step: null,
    steps: null,
    loss: null,
    pairsPerSecond: null,
    etaSeconds: null,
    monitor: null,
    bestEpoch: null,
    updatedAt: at,
  };
}

/**
 * Folds one message of the worker into the view (pure). `step` messages carry the epoch in
 * progress; `epoch` messages close one (step = steps). Returns a new object.
 */
export function applyProgress(view: TrainingProgressView, p: TrainingProgress, at: string): TrainingProgressView {
  switch (p.kind) {
    case 'phase':
      return { ...view, phase: p.phase, updatedAt: at };
    case 'step':
      return {
        ...view,
        phase: 'training',
        epoch: p.epoch,
        numEpochs: p.numEpochs,
        step: p.step,
        steps: p.steps,
        loss: p.loss,
        pairsPerSecond: p.pairsPerSecond,
        etaSeconds: p.etaSeconds,
        updatedAt: at,
      };
    case 'epoch':
      return {
        ...view,
        phase: 'training',
        epoch: p.epoch,
        numEpochs: p.numEpochs,
        step: view.steps,
        loss: p.loss,
        etaSeconds: p.etaSeconds,
        monitor: { key: p.monitor.key, value: p.monitor.value },
        bestEpoch: p.bestEpoch,
        updatedAt: at,
      };
    case 'resumed':
      return { ...view, epoch: p.fromEpoch, updatedAt: at };
    default:
      return view;
  }
}

/** Reads a stored progress object back (tolerates an older or partial shape). */
export function progressFromStore(stored: Record<string, unknown> | null, at: string): TrainingProgressView {
  return { ...initialProgress(at), ...(stored ?? {}) } as TrainingProgressView;
}

const PHASE_WORDS: Record<TrainingPhase, string> = {
  'loading-data': 'loading the training data',
  'learning-vocabulary': 'learning the vocabulary',
  training: 'training',
  exporting: 'exporting the model',
};

/**
 * Where in the run a crash happened, for the failure message: "during epoch 2 of 5",
 * "while loading the training data", or "before it reported anything".
 */
export function whereInRun(view: TrainingProgressView, epochsDone: number): string {
  if (view.phase === 'training') {
    const epoch = Math.min(epochsDone + 1, view.numEpochs ?? epochsDone + 1);
    return `during epoch ${epoch}${view.numEpochs !== null ? ` of ${view.numEpochs}` : ''}`;
  }
  if (view.phase === null) return 'before it reported anything';
  return `while ${PHASE_WORDS[view.phase]}`;
}

export function phaseWords(phase: TrainingPhase): string {
  return PHASE_WORDS[phase];
}

/**
 * The EpochCompleted event's message, worded by what happened after this epoch:
 * `epoch 3 of 8: ndcg@5 0.4100 on the validation queries, loss 0.4000, best epoch 3`, then
 * `; the last epoch` when it was the last one planned, or `; stopping early: no better ndcg@5
 * since epoch 2` when early stopping ends training before it.
 */
export function epochLine(p: Extract<TrainingProgress, { kind: 'epoch' }>): string {
  const value = Number.isFinite(p.monitor.value) ? p.monitor.value.toFixed(4) : String(p.monitor.value);
  const head = `epoch ${p.epoch} of ${p.numEpochs}: ${p.monitor.key} ${value} on the validation queries, loss ${p.loss.toFixed(4)}, best epoch ${p.bestEpoch}`;
  if (p.epoch >= p.numEpochs) return `${head}; the last epoch`;
  if (p.stopping) return `${head}; stopping early: no better ${p.monitor.key} since epoch ${p.bestEpoch}`;
  return head;
}
