/**
 * The fake API server's etcd: objects by kind, namespace and name, one global resourceVersion
 * counter, and a bounded history of changes that watches replay from a resourceVersion (older
 * than the history: 410 Gone, as the real server answers once etcd compacted).
 */
import { randomUUID } from 'node:crypto';

// Loose by design: the fake stores whatever JSON the client sent, like etcd does.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KubeObject = Record<string, any> & { metadata: Record<string, any> };

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  type: WatchEventType;
  kind: string;
  namespace: string;
  object: KubeObject;
  resourceVersion: number;
}


export class ObjectStore {
  #rv = 1;
  readonly #objects = new Map<string, KubeObject>();
  readonly #history: Change[] = [];
  readonly #listeners = new Set<(change: Change) => void>();
  readonly #historySize: number;

  /** `historySize`: how many changes watches can replay (older resourceVersions get 410 Gone). */
  constructor(historySize = 5000) {
    this.#historySize = historySize;
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  /** The oldest resourceVersion a watch may start from. */
  get oldestWatchable(): number {
    return this.#history.length === 0 ? this.#rv : this.#history[0]!.resourceVersion - 1;
  }

  get(kind: string, namespace: string, name: string): KubeObject | undefined {
    const o = this.#objects.get(key(kind, namespace, name));
    return o && clone(o);
  }

  list(kind: string, namespace?: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const [k, o] of this.#objects) {
      const [ok, ons] = k.split('\u0000');
      if (ok === kind && (namespace === undefined || ons === namespace)) out.push(clone(o));
    }
    return out.sort((a, b) => String(a.metadata.name).localeCompare(String(b.metadata.name)));
  }

  /** Stores a new object: uid, creationTimestamp, resourceVersion (and generation 1 when `generation`). */
  create(kind: string, namespace: string, object: KubeObject, options: { generation?: boolean } = {}): KubeObject {
    const stored = clone(object);
    stored.metadata.uid = randomUUID();
    stored.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    if (options.generation) stored.metadata.generation = 1;
    return this.#write('ADDED', kind, namespace, stored);
  }

  /** Replaces a stored object (same name), bumping its resourceVersion. */
  update(kind: string, namespace: string, object: KubeObject): KubeObject {
    return this.#write('MODIFIED', kind, namespace, clone(object));
  }

  delete(kind: string, namespace: string, name: string): KubeObject | undefined {
    const k = key(kind, namespace, name);
    const o = this.#objects.get(k);
    if (!o) return undefined;
    this.#objects.delete(k);
    const gone = clone(o);
    gone.metadata.resourceVersion = String(++this.#rv);
    this.#record({ type: 'DELETED', kind, namespace, object: gone, resourceVersion: this.#rv });
    return gone;
  }

  /** Changes after `resourceVersion`, oldest first, or null when they are no longer kept. */
  changesSince(resourceVersion: number): Change[] | null {
    if (resourceVersion < this.oldestWatchable) return null;
    return this.#history.filter((c) => c.resourceVersion > resourceVersion);
  }

  onChange(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #write(type: WatchEventType, kind: string, namespace: string, object: KubeObject): KubeObject {
    object.metadata.resourceVersion = String(++this.#rv);
    this.#objects.set(key(kind, namespace, object.metadata.name as string), object);
    this.#record({ type, kind, namespace, object: clone(object), resourceVersion: this.#rv });
    return clone(object);
  }

  #record(change: Change): void {
    this.#history.push(change);
    if (this.#history.length > this.#historySize) this.#history.splice(0, this.#history.length - this.#historySize);
    for (const l of this.#listeners) l(change);
  }
}

function key(kind: string, namespace: string, name: string): string {
  return `${kind}\u0000${namespace}\u0000${name}`;
}

export function clone<T>(o: T): T {
  return structuredClone(o);
}

/** A label selector as the API takes it (`a=b,c!=d,e in (f,g),h notin (i),j,!k`), as a predicate. */
export function parseLabelSelector(selector: string | undefined): (labels: Record<string, string> | undefined) => boolean {
  if (!selector) return () => true;
  const terms: Array<(l: Record<string, string>) => boolean> = [];
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts.map((p) => p.trim()).filter(Boolean)) {
    let m: RegExpExecArray | null;
    if ((m = /^([^\s!=]+)\s*(==|=|!=)\s*(\S*)$/.exec(raw))) {
      const [, k, op, v] = m as unknown as [string, string, string, string];
      terms.push(op === '!=' ? (l) => l[k] !== v : (l) => l[k] === v);
    } else if ((m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(raw))) {
      const [, k, op, list] = m as unknown as [string, string, string, string];
      const values = new Set(list.split(',').map((s) => s.trim()));
      terms.push(op === 'in' ? (l) => l[k] !== undefined && values.has(l[k]) : (l) => l[k] === undefined || !values.has(l[k]));
    } else if ((m = /^!(\S+)$/.exec(raw))) {
      const k = m[1]!;
      terms.push((l) => l[k] === undefined);
    } else if (/^\S+$/.test(raw)) {
      terms.push((l) => l[raw] !== undefined);
    } else {
      throw new Error(`unable to parse requirement: ${raw}`);
    }
  }
  return (labels) => terms.every((t) => t(labels ?? {}));
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? clone(target as Record<string, unknown>) : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Lists the strategic merge patch merges by a key (those a modeld pod template uses); others are replaced. */
const MERGE_KEYS: Record<string, string> = { containers: 'name', initContainers: 'name', env: 'name', volumes: 'name', volumeMounts: 'mountPath', ports: 'containerPort', imagePullSecrets: 'name' };

/** Strategic merge patch, the subset the real server applies to the fields above (merge lists of named items). */
export function strategicMergePatch(target: unknown, patch: unknown, field = ''): unknown {
  if (Array.isArray(patch) && Array.isArray(target) && MERGE_KEYS[field]) {
    const mk = MERGE_KEYS[field]!;
    const out = clone(target) as Record<string, unknown>[];
    for (const item of patch as Record<string, unknown>[]) {
      const i = out.findIndex((o) => o[mk] === item[mk]);
      if (i >= 0) out[i] = strategicMergePatch(out[i], item) as Record<string, unknown>;
      else out.push(clone(item));
    }
    return out;
  }
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? clone(target as Record<string, unknown>) : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = strategicMergePatch(out[k], v, k);
  }
  return out;
}

/** RFC 6902 JSON patch: add, replace, remove, test. Throws on a path that does not exist. */
export function jsonPatch(target: unknown, ops: Array<{ op: string; path: string; value?: unknown }>): unknown {
  const doc = clone(target) as Record<string, unknown>;
  for (const op of ops) {
    const parts = op.path.split('/').slice(1).map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = parts.pop();
    if (last === undefined) throw new Error(`invalid path ${op.path}`);
    let parent: Record<string, unknown> | unknown[] = doc;
    for (const p of parts) {
      const next: unknown = (parent as Record<string, unknown>)[p];
      if (next === null || typeof next !== 'object') throw new Error(`path ${op.path} does not exist`);
      parent = next as Record<string, unknown>;
    }
    const bag = parent as Record<string, unknown>;
    if (op.op === 'add' || op.op === 'replace') {
      if (Array.isArray(parent) && op.op === 'add') {
        if (last === '-') parent.push(op.value);
        else parent.splice(Number(last), 0, op.value);
      } else {
        if (op.op === 'replace' && !(last in bag)) throw new Error(`path ${op.path} does not exist`);
        bag[last] = op.value;
      }
    } else if (op.op === 'remove') {
      if (!(last in bag)) throw new Error(`path ${op.path} does not exist`);
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete bag[last];
    } else if (op.op === 'test') {
      if (JSON.stringify(bag[last]) !== JSON.stringify(op.value)) throw new Error(`test failed at ${op.path}`);
    } else {
      throw new Error(`unsupported op ${op.op}`);
    }
  }
  return doc;
}
