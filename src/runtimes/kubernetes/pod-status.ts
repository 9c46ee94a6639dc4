/**
 * What a pod's status says about the replica it runs, in the runtime port's terms (pure). The
 * reasons and messages are Kubernetes' own, since they are what an operator will search for:
 *
 * | Pod                                                        | phase     | lastError / waitingReason                     |
 * |------------------------------------------------------------|-----------|-----------------------------------------------|
 * | deletionTimestamp set                                      | draining  |                                               |
 * | status.phase Failed (Evicted, ...)                         | exited    | `Evicted: The node was low on resource: ...`  |
 * | a container waiting ErrImagePull / ImagePullBackOff / InvalidImageName / CreateContainerConfigError | exited, loadFailed | `ImagePullBackOff: Back-off pulling image "x"` |
 * | a container terminated or restarted (CrashLoopBackOff)     | exited    | `CrashLoopBackOff: runner exited with code 3: <last line>`; loadFailed for code 3 (runner or fetch-artifact) |
 * | Ready condition True                                       | ready     |                                               |
 * | PodScheduled False                                         | starting  | waitingReason `Unschedulable: 0/3 nodes ...`  |
 * | otherwise                                                  | starting  | waitingReason from a waiting container, if any |
 */
import type { ReplicaPhase } from '../types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

export interface PodVerdict {
  phase: ReplicaPhase;
  lastError: string | null;
  waitingReason: string | null;
  exitCode: number | null;
  loadFailed: boolean;
  readyAt: string | null;
}

/** Waiting reasons that another start of the same pod template will not cure. */
const HOPELESS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'CreateContainerConfigError', 'CreateContainerError']);
/** The runner's exit code for "the model cannot be loaded" (runner/replica-dir.ts RunnerExitCodes.loadFailed). */
const LOAD_FAILED_EXIT = 3;

export function podVerdict(pod: Obj): PodVerdict {
  const status = pod.status ?? {};
  const conditions = (status.conditions ?? []) as Obj[];
  const ready = conditions.find((c) => c.type === 'Ready');
  const base: PodVerdict = { phase: 'starting', lastError: null, waitingReason: null, exitCode: null, loadFailed: false, readyAt: null };
  if (pod.metadata?.deletionTimestamp) return { ...base, phase: 'draining' };
  if (status.phase === 'Failed' || status.phase === 'Succeeded') {
    const reason = status.reason ?? (status.phase === 'Failed' ? 'Failed' : 'Completed');
    return { ...base, phase: 'exited', lastError: `${reason}: ${String(status.message ?? 'the pod ended').trim()}` };
  }
  const containers: Obj[] = [...((status.initContainerStatuses ?? []) as Obj[]).map((c) => ({ ...c, init: true })), ...((status.containerStatuses ?? []) as Obj[])];
  for (const c of containers) {
    const waiting = c.state?.waiting;
    if (waiting && HOPELESS.has(waiting.reason)) {
      return { ...base, phase: 'exited', loadFailed: true, lastError: `${waiting.reason}: ${String(waiting.message ?? '').trim() || 'the container cannot start'}` };
    }
  }
  for (const c of containers) {
    // A container that ended (or was restarted by the kubelet since) is a replica that exited:
    // modeld replaces replicas itself, with its own back-off and crash-loop verdict, so a pod
    // whose runner restarted stays `exited` until the controller deletes it.
    const terminated = c.state?.terminated ?? c.lastState?.terminated;
    const ended = c.state?.terminated ? !(c.init && Number(c.state.terminated.exitCode) === 0) : Number(c.restartCount ?? 0) > 0;
    if (ended && terminated) {
      const exitCode = Number(terminated.exitCode);
      const who = c.init ? `init container ${c.name}` : c.name === 'runner' ? 'runner' : `container ${c.name}`;
      const said = lastWords(terminated.message);
      const reason = c.state?.waiting?.reason ?? terminated.reason ?? 'Terminated';
      return {
        ...base,
        phase: 'exited',
        exitCode,
        loadFailed: exitCode === LOAD_FAILED_EXIT,
        lastError: `${reason}: ${who} exited with code ${exitCode}${said ? `: ${said}` : ''}`,
      };
    }
  }
  if (ready?.status === 'True') return { ...base, phase: 'ready', readyAt: ready.lastTransitionTime ?? null };
  const scheduled = conditions.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') return { ...base, waitingReason: `${scheduled.reason ?? 'Unschedulable'}: ${scheduled.message ?? ''}`.trim() };
  const waiting = containers.map((c) => c.state?.waiting).find((w) => w && !['PodInitializing', 'ContainerCreating'].includes(w.reason));
  return waiting ? { ...base, waitingReason: `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` } : base;
}

/**
 * The useful part of a termination message (the last line of the container's output): a runner's
 * JSON log line gives its `error` (or `msg`), anything else is kept as it is.
 */
function lastWords(message: unknown): string | null {
  if (typeof message !== 'string' || message.trim() === '') return null;
  const line = message.trim().split('\n').at(-1)!.trim();
  try {
    const parsed = JSON.parse(line) as { error?: unknown; msg?: unknown };
    const text = parsed.error ?? parsed.msg;
    if (typeof text === 'string') return text.split('\n')[0]!;
  } catch {
    // not JSON
  }
  return line.length > 500 ? `${line.slice(0, 500)}...` : line;
}
