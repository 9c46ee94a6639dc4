/**
 * The simulated scheduler and kubelet: pods become real processes on this machine.
 *
 * - Scheduling: a pod goes to the first node whose allocatable cpu and memory cover the requests
 *   of the pods already there plus its own; else it stays Pending with PodScheduled=False, reason
 *   Unschedulable and the scheduler's message (`0/1 nodes are available: 1 Insufficient cpu.`).
 * - The "image": `images[name].root` is a local directory playing the image's `/app`. An image
 *   marked with setImagePullError never starts: ErrImagePull, then ImagePullBackOff.
 * - Containers run as child processes of this process: `node` is this Node.js; any argument or
 *   environment value beginning with a volume's mountPath is rewritten to that volume's directory
 *   on this machine (emptyDir: a fresh temp directory per pod), `/app/` to the image root; the
 *   working directory is the image root; a volume mounted at /tmp becomes TMPDIR. Environment
 *   `valueFrom` fieldRef (status.podIP, metadata.name, metadata.namespace) and secretKeyRef resolve.
 * - Networking: each pod gets its own loopback address 127.a.b.c (never 127.0.0.1) as
 *   status.podIP, so every pod can listen on the same port as in a cluster.
 * - Init containers run in order to completion; then the containers. An exit is followed by a
 *   restart after a doubling back-off (state.waiting CrashLoopBackOff meanwhile; restartCount,
 *   lastState.terminated with the exit code and the last line of output as message, like
 *   terminationMessagePolicy FallbackToLogsOnError).
 * - readinessProbe httpGet is called every probePeriodMs; the Ready condition follows.
 * - Deletion: SIGTERM, terminationGracePeriodSeconds (or the request's grace), SIGKILL, then the
 *   object is removed. Eviction: containers killed, phase Failed, reason Evicted.
 * Not simulated: liveness/startup probes, exec probes and hooks, resource limits (OOMKilled),
 * node failures, image pulling time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { KubeObject, ObjectStore } from './object-store.js';

export interface FakeNode {
  name: string;
  cpu: string;
  memory: string;
}

export interface KubeletOptions {
  images: Record<string, { root: string }>;
  nodes: FakeNode[];
  restartBackoffMs: number;
  maxRestartBackoffMs: number;
  probePeriodMs: number;
  /** Extra environment for every container (e.g. PATH); the pod's own env wins. */
  baseEnv?: Record<string, string>;
}

interface ContainerRun {
  name: string;
  init: boolean;
  proc: ChildProcess | null;
  restartCount: number;
  state: Record<string, unknown>;
  lastState: Record<string, unknown>;
  ready: boolean;
  done: boolean; // init container that completed
  output: string[];
  restartTimer: NodeJS.Timeout | null;
  terminationFile?: string;
}

interface PodRun {
  ns: string;
  name: string;
  ip: string;
  dir: string;
  volumes: Map<string, string>;
  containers: ContainerRun[];
  phase: 'init' | 'running' | 'terminating' | 'evicted';
  evictMessage?: string;
}

const OUTPUT_LINES = 50;

export class FakeKubelet {
  readonly #store: ObjectStore;
  readonly #options: KubeletOptions;
  readonly #pods = new Map<string, PodRun>();
  readonly #pullErrors = new Map<string, string>();
  readonly #usedIps = new Set<string>();
  readonly #probeTimer: NodeJS.Timeout;
  #scheduled = false;
  #closed = false;

  constructor(store: ObjectStore, options: KubeletOptions) {
    this.#store = store;
    this.#options = options;
    this.#probeTimer = setInterval(() => void this.#probe(), options.probePeriodMs);
  }

  setImagePullError(image: string, message?: string): void {
    this.#pullErrors.set(image, message ?? `rpc error: code = NotFound desc = failed to pull and unpack image "${image}": not found`);
    this.kick();
  }

  kick(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#closed) this.#sync();
    });
  }

  /** A DELETE of a pod: SIGTERM, grace, SIGKILL, then the object goes. */
  deletePod(ns: string, name: string, graceSeconds: number | null): void {
    const pod = this.#store.get('Pod', ns, name);
    if (!pod) return;
    const grace = graceSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    if (!pod.metadata.deletionTimestamp) {
      pod.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      pod.metadata.deletionGracePeriodSeconds = grace;
      this.#store.update('Pod', ns, pod);
    }
    const run = this.#pods.get(`${ns}/${name}`);
    if (!run || run.phase === 'evicted' || !run.containers.some((c) => c.proc)) {
      this.#forget(ns, name);
      this.#store.delete('Pod', ns, name);
      return;
    }
    if (run.phase === 'terminating') return;
    run.phase = 'terminating';
    for (const c of run.containers) if (c.restartTimer) clearTimeout(c.restartTimer);
    const live = run.containers.filter((c) => c.proc && c.proc.exitCode === null && c.proc.signalCode === null);
    const exited = Promise.all(live.map((c) => new Promise<void>((resolve) => c.proc!.once('exit', () => resolve()))));
    for (const c of live) c.proc!.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const c of live) c.proc?.kill('SIGKILL');
    }, grace * 1000);
    void exited.then(() => {
      clearTimeout(killer);
      this.#forget(ns, name);
      this.#store.delete('Pod', ns, name);
    });
  }

  /** Kills a running container (a crash, the OOM killer): the kubelet then restarts it. False when none runs. */
  killContainer(ns: string, name: string, container: string, signal: NodeJS.Signals = 'SIGKILL'): boolean {
    const c = this.#pods.get(`${ns}/${name}`)?.containers.find((x) => x.name === container);
    if (!c?.proc) return false;
    return c.proc.kill(signal);
  }

  /** Evicts a pod as the kubelet does under node pressure. */
  evictPod(ns: string, name: string, message = 'The node was low on resource: memory. '): void {
    const run = this.#pods.get(`${ns}/${name}`);
    if (!run) return;
    run.phase = 'evicted';
    run.evictMessage = message;
    for (const c of run.containers) {
      if (c.restartTimer) clearTimeout(c.restartTimer);
      c.proc?.kill('SIGKILL');
    }
    this.#writeStatus(run);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#probeTimer);
    const waits: Promise<void>[] = [];
    for (const run of this.#pods.values()) {
      for (const c of run.containers) {
        if (c.restartTimer) clearTimeout(c.restartTimer);
        if (c.proc && c.proc.exitCode === null && c.proc.signalCode === null) {
          waits.push(new Promise((resolve) => c.proc!.once('exit', () => resolve())));
          c.proc.kill('SIGKILL');
        }
      }
    }
    await Promise.all(waits);
    for (const run of this.#pods.values()) rmSync(run.dir, { recursive: true, force: true });
    this.#pods.clear();
  }

  #sync(): void {
    for (const pod of this.#store.list('Pod')) {
      const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
      if (pod.metadata.deletionTimestamp) {
        if (!this.#pods.get(key) || this.#pods.get(key)!.phase !== 'terminating') this.deletePod(pod.metadata.namespace, pod.metadata.name, pod.metadata.deletionGracePeriodSeconds ?? null);
        continue;
      }
      if (!pod.spec.nodeName) {
        this.#schedule(pod);
        continue;
      }
      if (!this.#pods.has(key)) this.#start(pod);
    }
  }

  #schedule(pod: KubeObject): void {
    const need = requests(pod);
    const short: string[] = [];
    for (const node of this.#options.nodes) {
      const used = this.#store
        .list('Pod')
        .filter((p) => p.spec.nodeName === node.name && !['Failed', 'Succeeded'].includes(p.status?.phase))
        .map(requests)
        .reduce((a, b) => ({ cpu: a.cpu + b.cpu, memory: a.memory + b.memory }), { cpu: 0, memory: 0 });
      const cpuOk = used.cpu + need.cpu <= parseCpu(node.cpu);
      const memOk = used.memory + need.memory <= parseMemory(node.memory);
      if (cpuOk && memOk) {
        pod.spec.nodeName = node.name;
        pod.status = { ...(pod.status ?? {}), phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: now() }] };
        this.#store.update('Pod', pod.metadata.namespace, pod);
        this.#event(pod, 'Normal', 'Scheduled', `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${node.name}`);
        return;
      }
      if (!cpuOk) short.push('Insufficient cpu');
      if (!memOk) short.push('Insufficient memory');
    }
    const counts = new Map<string, number>();
    for (const s of short) counts.set(s, (counts.get(s) ?? 0) + 1);
    const n = this.#options.nodes.length;
    const message = `0/${n} nodes are available: ${[...counts].map(([s, c]) => `${c} ${s}`).join(', ')}. preemption: 0/${n} nodes are available: ${n} No preemption victims found for incoming pod.`;
    const existing = (pod.status?.conditions ?? []).find((c: { type: string }) => c.type === 'PodScheduled');
    if (existing?.message === message) return;
    pod.status = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: now() }] };
    this.#store.update('Pod', pod.metadata.namespace, pod);
    this.#event(pod, 'Warning', 'FailedScheduling', message);
  }

  #start(pod: KubeObject): void {
    const ns = pod.metadata.namespace as string;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modeld-fake-pod-'));
    const volumes = new Map<string, string>();
    for (const v of (pod.spec.volumes ?? []) as Array<{ name: string }>) {
      const hostDir = path.join(dir, 'volumes', v.name);
      mkdirSync(hostDir, { recursive: true });
      volumes.set(v.name, hostDir);
    }
    const run: PodRun = {
      ns,
      name: pod.metadata.name,
      ip: this.#newIp(),
      dir,
      volumes,
      containers: [
        ...((pod.spec.initContainers ?? []) as Array<{ name: string }>).map((c) => newRun(c.name, true)),
        ...((pod.spec.containers ?? []) as Array<{ name: string }>).map((c) => newRun(c.name, false)),
      ],
      phase: 'init',
    };
    this.#pods.set(`${ns}/${pod.metadata.name}`, run);
    this.#next(run);
  }

  /** Starts what comes next: the first unfinished init container, else every container. */
  #next(run: PodRun): void {
    if (run.phase === 'terminating' || run.phase === 'evicted' || this.#closed) return;
    const pod = this.#store.get('Pod', run.ns, run.name);
    if (!pod) return;
    const init = run.containers.find((c) => c.init && !c.done);
    const toStart = init ? [init] : run.containers.filter((c) => !c.init);
    if (!init) run.phase = 'running';
    for (const c of toStart) if (!c.proc && !c.restartTimer) this.#run(run, pod, c);
    this.#writeStatus(run);
  }

  #run(run: PodRun, pod: KubeObject, c: ContainerRun): void {
    const spec = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((s: { name: string }) => s.name === c.name) as KubeObject;
    const image = spec.image as string;
    const pullError = this.#pullErrors.get(image);
    const root = this.#options.images[image]?.root;
    if (pullError !== undefined || root === undefined) {
      const first = c.state.waiting === undefined;
      c.state = first
        ? { waiting: { reason: 'ErrImagePull', message: pullError ?? `rpc error: code = NotFound desc = failed to pull and unpack image "${image}": not found` } }
        : { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } };
      this.#event(pod, 'Warning', first ? 'Failed' : 'BackOff', first ? `Failed to pull image "${image}": ${pullError ?? 'not found'}` : `Back-off pulling image "${image}"`);
      this.#startLater(run, c, this.#options.restartBackoffMs);
      this.#writeStatus(run);
      return;
    }
    const mounts = ((spec.volumeMounts ?? []) as Array<{ name: string; mountPath: string }>)
      .map((m) => ({ mountPath: m.mountPath.replace(/\/+$/, ''), hostDir: run.volumes.get(m.name) }))
      .filter((m): m is { mountPath: string; hostDir: string } => m.hostDir !== undefined)
      .sort((a, b) => b.mountPath.length - a.mountPath.length);
    const rewrite = (value: string): string => {
      for (const m of mounts) if (value === m.mountPath || value.startsWith(`${m.mountPath}/`)) return m.hostDir + value.slice(m.mountPath.length);
      if (value.startsWith('/app/')) return path.join(root, value.slice('/app/'.length));
      return value;
    };
    const env: Record<string, string> = { ...(this.#options.baseEnv ?? {}) };
    const tmp = mounts.find((m) => m.mountPath === '/tmp');
    if (tmp) env.TMPDIR = tmp.hostDir;
    for (const e of (spec.env ?? []) as Array<{ name: string; value?: string; valueFrom?: KubeObject }>) {
      if (e.value !== undefined) env[e.name] = rewrite(e.value);
      else if (e.valueFrom?.fieldRef) {
        const field = e.valueFrom.fieldRef.fieldPath as string;
        env[e.name] = field === 'status.podIP' ? run.ip : field === 'metadata.name' ? run.name : field === 'metadata.namespace' ? run.ns : '';
      } else if (e.valueFrom?.secretKeyRef) {
        const ref = e.valueFrom.secretKeyRef as { name: string; key: string };
        const secret = this.#store.get('Secret', run.ns, ref.name);
        const data = secret?.data?.[ref.key] as string | undefined;
        if (data === undefined) {
          c.state = { waiting: { reason: 'CreateContainerConfigError', message: secret ? `couldn't find key ${ref.key} in Secret ${run.ns}/${ref.name}` : `secret "${ref.name}" not found` } };
          this.#startLater(run, c, this.#options.restartBackoffMs);
          this.#writeStatus(run);
          return;
        }
        env[e.name] = Buffer.from(data, 'base64').toString('utf8');
      }
    }
    // The termination message file (terminationMessagePath, default /dev/termination-log): a
    // fresh file per start, read when the container ends.
    const termPath = (spec.terminationMessagePath as string | undefined) ?? '/dev/termination-log';
    const termFile = path.join(run.dir, `termination-${c.name}-${c.restartCount}`);
    writeFileSync(termFile, '');
    for (const [k, v] of Object.entries(env)) if (v === termPath) env[k] = termFile;
    c.terminationFile = termFile;
    const argv = [...((spec.command ?? []) as string[]), ...((spec.args ?? []) as string[])].map(rewrite);
    const cmd = argv[0] === 'node' ? process.execPath : argv[0]!;
    const proc = spawn(cmd, argv.slice(1), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    c.proc = proc;
    c.state = { running: { startedAt: now() } };
    c.ready = false;
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) c.output.push(line);
      if (c.output.length > OUTPUT_LINES) c.output.splice(0, c.output.length - OUTPUT_LINES);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    proc.on('error', (err) => c.output.push(`exec: ${err.message}`));
    proc.on('exit', (code, signal) => this.#exited(run, c, code, signal));
  }

  #exited(run: PodRun, c: ContainerRun, code: number | null, signal: NodeJS.Signals | null): void {
    c.proc = null;
    c.ready = false;
    const exitCode = code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0);
    let written = '';
    try {
      written = c.terminationFile ? readFileSync(c.terminationFile, 'utf8').trim() : '';
    } catch {
      // no file
    }
    // The termination message file first; else, on failure, the last line of output (FallbackToLogsOnError).
    const message = written || (exitCode !== 0 ? c.output.at(-1) : undefined);
    const terminated = {
      exitCode,
      reason: run.phase === 'evicted' ? 'Error' : exitCode === 0 ? 'Completed' : 'Error',
      ...(message ? { message } : {}),
      finishedAt: now(),
    };
    if (run.phase === 'terminating' || run.phase === 'evicted' || this.#closed) {
      c.state = { terminated };
      if (run.phase === 'evicted') this.#writeStatus(run);
      return;
    }
    if (c.init && exitCode === 0) {
      c.done = true;
      c.state = { terminated };
      this.#next(run);
      return;
    }
    // restartPolicy Always (what a Deployment's pods have): back off, then start again.
    c.restartCount += 1;
    c.lastState = { terminated };
    const backoff = Math.min(this.#options.restartBackoffMs * 2 ** (c.restartCount - 1), this.#options.maxRestartBackoffMs);
    c.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(backoff / 1000)}s restarting failed container=${c.name} pod=${run.name}_${run.ns}` } };
    const pod = this.#store.get('Pod', run.ns, run.name);
    if (pod) this.#event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    this.#startLater(run, c, backoff);
    this.#writeStatus(run);
  }

  /** Tries the container again after `delayMs` (pull back-off, missing Secret, crash back-off), unless the pod is going. */
  #startLater(run: PodRun, c: ContainerRun, delayMs: number): void {
    c.restartTimer = setTimeout(() => {
      c.restartTimer = null;
      const fresh = this.#store.get('Pod', run.ns, run.name);
      if (fresh && run.phase !== 'terminating' && run.phase !== 'evicted') this.#run(run, fresh, c);
      this.#writeStatus(run);
    }, delayMs);
  }

  async #probe(): Promise<void> {
    for (const run of [...this.#pods.values()]) {
      if (run.phase !== 'running') continue;
      const pod = this.#store.get('Pod', run.ns, run.name);
      if (!pod) continue;
      let changed = false;
      for (const c of run.containers.filter((x) => !x.init)) {
        const spec = (pod.spec.containers as KubeObject[]).find((s) => s.name === c.name);
        const probe = spec?.readinessProbe?.httpGet as { path?: string; port: number | string } | undefined;
        let ready = c.proc !== null;
        if (ready && probe) {
          const port = typeof probe.port === 'number' ? probe.port : Number(((spec!.ports ?? []) as Array<{ name?: string; containerPort: number }>).find((p) => p.name === probe.port)?.containerPort ?? probe.port);
          ready = await httpOk(`http://${run.ip}:${port}${probe.path ?? '/'}`);
        }
        if (ready !== c.ready) {
          c.ready = ready;
          changed = true;
        }
      }
      if (changed) this.#writeStatus(run);
    }
  }

  #writeStatus(run: PodRun): void {
    const pod = this.#store.get('Pod', run.ns, run.name);
    if (!pod) return;
    const statusOf = (c: ContainerRun) => {
      const spec = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((s: { name: string }) => s.name === c.name) as KubeObject;
      return { name: c.name, image: spec.image, ready: c.ready, restartCount: c.restartCount, started: c.proc !== null, state: c.state, lastState: c.lastState };
    };
    const mains = run.containers.filter((c) => !c.init);
    const initsDone = run.containers.filter((c) => c.init).every((c) => c.done);
    const allReady = run.phase === 'running' && mains.every((c) => c.ready);
    const t = now();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const status: Record<string, any> = {
      phase: run.phase === 'evicted' ? 'Failed' : run.phase === 'running' && mains.some((c) => c.proc) ? 'Running' : 'Pending',
      ...(run.phase === 'evicted' ? { reason: 'Evicted', message: run.evictMessage } : {}),
      hostIP: '10.0.0.1',
      podIP: run.ip,
      podIPs: [{ ip: run.ip }],
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: t },
        { type: 'Initialized', status: initsDone ? 'True' : 'False', lastTransitionTime: t },
        { type: 'ContainersReady', status: allReady ? 'True' : 'False', lastTransitionTime: t },
        { type: 'Ready', status: allReady ? 'True' : 'False', lastTransitionTime: t },
      ],
      initContainerStatuses: run.containers.filter((c) => c.init).map(statusOf),
      containerStatuses: mains.map(statusOf),
      startTime: pod.status?.startTime ?? t,
    };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const comparable = (s: Record<string, any> | undefined) => JSON.stringify({ ...(s ?? {}), conditions: (s?.conditions ?? []).map((c: Record<string, unknown>) => ({ ...c, lastTransitionTime: undefined })), startTime: undefined });
    if (comparable(pod.status) === comparable(status)) return;
    const previous = new Map(((pod.status?.conditions ?? []) as Array<{ type: string; status: string; lastTransitionTime: string }>).map((c) => [c.type, c]));
    status.conditions = (status.conditions as Array<{ type: string; status: string; lastTransitionTime: string }>).map((c) => (previous.get(c.type)?.status === c.status ? { ...c, lastTransitionTime: previous.get(c.type)!.lastTransitionTime } : c));
    this.#store.update('Pod', run.ns, { ...pod, status });
  }

  #event(pod: KubeObject, type: string, reason: string, message: string): void {
    const ns = pod.metadata.namespace as string;
    if (!this.#store.get('Namespace', '', ns)) return;
    const name = `${pod.metadata.name}.${Date.now().toString(16)}${Math.floor(Math.random() * 4096).toString(16)}`;
    this.#store.create('Event', ns, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: ns },
      involvedObject: { kind: 'Pod', namespace: ns, name: pod.metadata.name, uid: pod.metadata.uid },
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: now(),
      lastTimestamp: now(),
      source: { component: reason === 'Scheduled' || reason === 'FailedScheduling' ? 'default-scheduler' : 'kubelet' },
    });
  }

  #forget(ns: string, name: string): void {
    const run = this.#pods.get(`${ns}/${name}`);
    if (!run) return;
    this.#pods.delete(`${ns}/${name}`);
    this.#usedIps.delete(run.ip);
    rmSync(run.dir, { recursive: true, force: true });
  }

  #newIp(): string {
    for (;;) {
      const ip = `127.${1 + Math.floor(Math.random() * 254)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;
      if (!this.#usedIps.has(ip)) {
        this.#usedIps.add(ip);
        return ip;
      }
    }
  }
}

function newRun(name: string, init: boolean): ContainerRun {
  return { name, init, proc: null, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } }, lastState: {}, ready: false, done: false, output: [], restartTimer: null };
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) >= 200 && (res.statusCode ?? 500) < 400);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function requests(pod: KubeObject): { cpu: number; memory: number } {
  let cpu = 0;
  let memory = 0;
  for (const c of (pod.spec.containers ?? []) as KubeObject[]) {
    cpu += parseCpu(c.resources?.requests?.cpu ?? '0');
    memory += parseMemory(c.resources?.requests?.memory ?? '0');
  }
  return { cpu, memory };
}

/** Kubernetes cpu quantity in millicores ("500m", "2", "0.5"). */
export function parseCpu(q: string | number): number {
  const s = String(q);
  return s.endsWith('m') ? Number(s.slice(0, -1)) : Math.round(Number(s) * 1000);
}

/** Kubernetes memory quantity in bytes ("1Gi", "512Mi", "1G", "1000"). */
export function parseMemory(q: string | number): number {
  const m = /^(\d+(?:\.\d+)?)([KMGTE]i?)?$/.exec(String(q));
  if (!m) return 0;
  const units: Record<string, number> = { K: 1e3, M: 1e6, G: 1e9, T: 1e12, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Ei: 2 ** 60 };
  return Number(m[1]) * (m[2] ? units[m[2]]! : 1);
}
