/**
 * The HTTP face of the fake Kubernetes API (see index.ts for why it exists): the REST paths,
 * verbs, content types, list/watch protocol and Status errors of the real kube-apiserver, for the
 * resources modeld's runtime uses. Objects live in an ObjectStore; the simulated controllers and
 * kubelet (controllers.ts, kubelet.ts) react to its changes like the real ones react to etcd's.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Secret } from 'kubernetes-models/v1/Secret';
import { clone, jsonPatch, mergePatch, parseLabelSelector, strategicMergePatch, type KubeObject, type ObjectStore } from './object-store.js';

export interface ResourceInfo {
  group: string; // '' for core
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
  /** metadata.generation is kept (bumped on spec changes). */
  generation: boolean;
}

export const RESOURCES: readonly ResourceInfo[] = [
  { group: '', version: 'v1', resource: 'namespaces', kind: 'Namespace', namespaced: false, generation: false },
  { group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true, generation: false },
  { group: '', version: 'v1', resource: 'secrets', kind: 'Secret', namespaced: true, generation: false },
  { group: '', version: 'v1', resource: 'events', kind: 'Event', namespaced: true, generation: false },
  { group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment', namespaced: true, generation: true },
  { group: 'apps', version: 'v1', resource: 'replicasets', kind: 'ReplicaSet', namespaced: true, generation: true },
];

export interface Forbidden {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
}

export interface ApiServerHooks {
  /** A pod was asked to go (DELETE): the kubelet stops its containers, then removes the object. */
  deletePod(namespace: string, name: string, graceSeconds: number | null): void;
  /** Something changed: the simulated controllers look again. */
  changed(): void;
}

export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

const DNS_1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export class FakeApiServer {
  readonly #store: ObjectStore;
  readonly #token: string;
  readonly #forbid: Forbidden[];
  readonly #hooks: ApiServerHooks;
  readonly #user: string;
  readonly #server: http.Server;
  readonly #watches = new Set<http.ServerResponse>();
  #suffix = 0;

  constructor(options: { store: ObjectStore; token: string; forbid?: Forbidden[]; hooks: ApiServerHooks; user?: string }) {
    this.#store = options.store;
    this.#token = options.token;
    this.#forbid = options.forbid ?? [];
    this.#hooks = options.hooks;
    this.#user = options.user ?? 'system:serviceaccount:modeld:modeld';
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (err instanceof StatusError) return sendStatus(res, err);
        sendStatus(res, new StatusError(500, 'InternalError', `fake api server: ${(err as Error).message}`));
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const res of this.#watches) res.end();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Whether `verb` on the resource is allowed (the `forbid` option plays RBAC). */
  allowed(verb: string, group: string, resource: string, namespace: string | undefined): boolean {
    return !this.#forbid.some((f) => f.verb === verb && f.group === group && f.resource === resource && (f.namespace === undefined || f.namespace === namespace));
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.headers.authorization !== `Bearer ${this.#token}`) throw new StatusError(401, 'Unauthorized', 'Unauthorized');
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (url.pathname === '/version') return sendJson(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0-modeld-fake' });

    if (segments[0] === 'apis' && segments[1] === 'authorization.k8s.io' && segments[3] === 'selfsubjectaccessreviews' && method === 'POST') {
      const body = (await readJson(req)) as KubeObject;
      const attrs = body.spec?.resourceAttributes ?? {};
      const allowed = this.allowed(attrs.verb, attrs.group ?? '', attrs.resource, attrs.namespace);
      return sendJson(res, 201, { ...body, apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', status: { allowed, ...(allowed ? {} : { reason: 'forbidden by the fake RBAC' }) } });
    }

    let group: string;
    let version: string;
    let rest: string[];
    if (segments[0] === 'api') [group, version, rest] = ['', segments[1] ?? '', segments.slice(2)];
    else if (segments[0] === 'apis') [group, version, rest] = [segments[1] ?? '', segments[2] ?? '', segments.slice(3)];
    else throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');

    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const info = RESOURCES.find((r) => r.group === group && r.version === version && r.resource === rest[0]);
    if (!info) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    const name = rest[1];
    if (rest.length > 2) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    const ns = info.namespaced ? (namespace ?? '') : '';
    const q = url.searchParams;
    const watch = q.get('watch') === 'true' || q.get('watch') === '1';
    const verb =
      method === 'GET' ? (name ? 'get' : watch ? 'watch' : 'list') : method === 'POST' ? 'create' : method === 'PATCH' ? 'patch' : method === 'PUT' ? 'update' : method === 'DELETE' ? 'delete' : method.toLowerCase();
    if (!this.allowed(verb, group, info.resource, namespace)) {
      const what = group ? `${info.resource}.${group}` : info.resource;
      const target = name ? `${what} "${name}"` : what;
      throw new StatusError(
        403,
        'Forbidden',
        `${target} is forbidden: User "${this.#user}" cannot ${verb} resource "${info.resource}" in API group "${group}"${namespace ? ` in the namespace "${namespace}"` : ' at the cluster scope'}`,
        { name, group, kind: info.resource },
      );
    }

    if (method === 'GET' && !name) {
      const matches = parseSelectors(q);
      if (watch) return this.#watch(req, res, info, ns, namespace !== undefined || !info.namespaced, matches, q);
      const items = this.#store
        .list(info.kind, info.namespaced && namespace !== undefined ? ns : undefined)
        .filter(matches);
      return sendJson(res, 200, { kind: `${info.kind}List`, apiVersion: apiVersion(info), metadata: { resourceVersion: String(this.#store.resourceVersion) }, items });
    }
    if (method === 'GET') return sendJson(res, 200, this.#mustGet(info, ns, name!));
    if (method === 'POST' && !name) {
      const body = (await readJson(req)) as KubeObject;
      return sendJson(res, 201, this.create(info, ns, body, q.get('dryRun') === 'All'));
    }
    if (method === 'PATCH' && name) {
      const body = await readJson(req);
      const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
      return sendJson(res, 200, this.patch(info, ns, name, type, body, q.get('dryRun') === 'All'));
    }
    if (method === 'PUT' && name) {
      const body = (await readJson(req)) as KubeObject;
      return sendJson(res, 200, this.replace(info, ns, name, body));
    }
    if (method === 'DELETE' && name) {
      let options: KubeObject | null = null;
      const text = await readText(req);
      if (text.trim()) options = JSON.parse(text) as KubeObject;
      const grace = q.get('gracePeriodSeconds') ?? options?.gracePeriodSeconds;
      return sendJson(res, 200, this.delete(info, ns, name, grace === undefined || grace === null ? null : Number(grace)));
    }
    throw new StatusError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
  }

  #mustGet(info: ResourceInfo, ns: string, name: string): KubeObject {
    const o = this.#store.get(info.kind, ns, name);
    if (!o) throw notFound(info, name);
    return o;
  }

  /** POST: validates like the real server (422), checks the namespace (404) and the name (409). */
  create(info: ResourceInfo, ns: string, body: KubeObject, dryRun = false): KubeObject {
    const obj = clone(body);
    obj.apiVersion = apiVersion(info);
    obj.kind = info.kind;
    obj.metadata = { ...(obj.metadata ?? {}) };
    if (info.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== ns) {
        throw new StatusError(400, 'BadRequest', `the namespace of the provided object does not match the namespace sent on the request`);
      }
      obj.metadata.namespace = ns;
      if (!this.#store.get('Namespace', '', ns)) throw new StatusError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
    }
    if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = `${obj.metadata.generateName}${this.#randomSuffix()}`;
    validate(info, obj);
    if (this.#store.get(info.kind, ns, obj.metadata.name)) {
      throw new StatusError(409, 'AlreadyExists', `${qualified(info)} "${obj.metadata.name}" already exists`, { name: obj.metadata.name, group: info.group, kind: info.resource });
    }
    delete obj.metadata.resourceVersion;
    if (dryRun) return { ...obj, metadata: { ...obj.metadata, uid: 'dry-run' } };
    const created = this.#store.create(info.kind, ns, obj, { generation: info.generation });
    this.#hooks.changed();
    return created;
  }

  patch(info: ResourceInfo, ns: string, name: string, contentType: string, body: unknown, dryRun = false): KubeObject {
    const current = this.#mustGet(info, ns, name);
    let next: KubeObject;
    try {
      if (contentType === 'application/merge-patch+json') next = mergePatch(current, body) as KubeObject;
      else if (contentType === 'application/strategic-merge-patch+json') next = strategicMergePatch(current, body) as KubeObject;
      else if (contentType === 'application/json-patch+json') next = jsonPatch(current, body as Array<{ op: string; path: string; value?: unknown }>) as KubeObject;
      else throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`);
    } catch (err) {
      if (err instanceof StatusError) throw err;
      throw new StatusError(422, 'Invalid', `${qualified(info)} "${name}" is invalid: ${(err as Error).message}`);
    }
    const sentRv = (body as KubeObject | null)?.metadata?.resourceVersion;
    if (typeof sentRv === 'string' && sentRv !== current.metadata.resourceVersion) {
      throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(info)} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    return this.#store_update(info, ns, current, next, dryRun);
  }

  replace(info: ResourceInfo, ns: string, name: string, body: KubeObject): KubeObject {
    const current = this.#mustGet(info, ns, name);
    if (body.metadata?.resourceVersion && body.metadata.resourceVersion !== current.metadata.resourceVersion) {
      throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(info)} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    return this.#store_update(info, ns, current, { ...clone(body), metadata: { ...current.metadata, ...body.metadata } }, false);
  }

  #store_update(info: ResourceInfo, ns: string, current: KubeObject, next: KubeObject, dryRun: boolean): KubeObject {
    // What the client may not change.
    next.metadata.name = current.metadata.name;
    next.metadata.namespace = current.metadata.namespace;
    next.metadata.uid = current.metadata.uid;
    next.metadata.creationTimestamp = current.metadata.creationTimestamp;
    next.apiVersion = current.apiVersion;
    next.kind = current.kind;
    validate(info, next);
    if (info.generation && JSON.stringify(next.spec) !== JSON.stringify(current.spec)) next.metadata.generation = (current.metadata.generation ?? 1) + 1;
    else next.metadata.generation = current.metadata.generation;
    if (dryRun) return next;
    const stored = this.#store.update(info.kind, ns, next);
    this.#hooks.changed();
    return stored;
  }

  /** DELETE: pods go through the kubelet (graceful); other objects at once, their dependents by garbage collection. */
  delete(info: ResourceInfo, ns: string, name: string, graceSeconds: number | null): KubeObject {
    const current = this.#mustGet(info, ns, name);
    if (info.kind === 'Pod') {
      this.#hooks.deletePod(ns, name, graceSeconds);
      return this.#store.get('Pod', ns, name) ?? current;
    }
    this.#store.delete(info.kind, ns, name);
    this.#hooks.changed();
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: info.group, kind: info.resource, uid: current.metadata.uid } };
  }

  #watch(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    info: ResourceInfo,
    ns: string,
    scoped: boolean,
    matches: (o: KubeObject) => boolean,
    q: URLSearchParams,
  ): void {
    const from = q.get('resourceVersion');
    const bookmarks = q.get('allowWatchBookmarks') === 'true';
    const timeoutSeconds = Number(q.get('timeoutSeconds') ?? 1800);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // The real API server answers a watch's headers at once; a client waits for them before it
    // counts the watch as started.
    res.flushHeaders();
    this.#watches.add(res);
    const send = (type: string, object: unknown) => res.write(`${JSON.stringify({ type, object })}\n`);
    const relevant = (c: { kind: string; namespace: string; object: KubeObject }) => c.kind === info.kind && (!scoped || !info.namespaced || c.namespace === ns);
    let since: number;
    if (from === null || from === '' || from === '0') {
      // No resourceVersion: the current state as ADDED events, then changes.
      for (const o of this.#store.list(info.kind, scoped && info.namespaced ? ns : undefined)) if (matches(o)) send('ADDED', o);
      since = this.#store.resourceVersion;
    } else {
      since = Number(from);
      const backlog = this.#store.changesSince(since);
      if (backlog === null) {
        send('ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from} (${this.#store.oldestWatchable})`, reason: 'Expired', code: 410 });
        this.#watches.delete(res);
        res.end();
        return;
      }
      for (const c of backlog) if (relevant(c) && matches(c.object)) send(c.type, c.object);
    }
    const off = this.#store.onChange((c) => {
      if (relevant(c) && matches(c.object)) send(c.type, c.object);
    });
    const bookmark = bookmarks
      ? setInterval(() => send('BOOKMARK', { kind: info.kind, apiVersion: apiVersion(info), metadata: { resourceVersion: String(this.#store.resourceVersion) } }), 1000)
      : null;
    const end = () => {
      off();
      if (bookmark) clearInterval(bookmark);
      clearTimeout(timer);
      this.#watches.delete(res);
      res.end();
    };
    const timer = setTimeout(end, timeoutSeconds * 1000);
    req.on('close', end);
  }

  #randomSuffix(): string {
    const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
    let s = '';
    let n = Math.floor(Math.random() * 1e9) + ++this.#suffix;
    for (let i = 0; i < 5; i++) {
      s += alphabet[n % alphabet.length];
      n = Math.floor(n / alphabet.length) + Math.floor(Math.random() * 97);
    }
    return s;
  }
}

export function apiVersion(info: ResourceInfo): string {
  return info.group ? `${info.group}/${info.version}` : info.version;
}

function qualified(info: ResourceInfo): string {
  return info.group ? `${info.resource}.${info.group}` : info.resource;
}

function notFound(info: ResourceInfo, name: string): StatusError {
  return new StatusError(404, 'NotFound', `${qualified(info)} "${name}" not found`, { name, group: info.group, kind: info.resource });
}

function parseSelectors(q: URLSearchParams): (o: KubeObject) => boolean {
  let labels: (l: Record<string, string> | undefined) => boolean;
  try {
    labels = parseLabelSelector(q.get('labelSelector') ?? undefined);
  } catch (err) {
    throw new StatusError(400, 'BadRequest', `unable to parse requirement: ${(err as Error).message}`);
  }
  const field = q.get('fieldSelector');
  const fieldMatch = field ? /^metadata\.name=(.*)$/.exec(field) : null;
  if (field && !fieldMatch) throw new StatusError(400, 'BadRequest', `field label not supported: ${field.split('=')[0]}`);
  return (o) => labels(o.metadata.labels) && (!fieldMatch || o.metadata.name === fieldMatch[1]);
}

/** The checks of the real server that modeld's objects could fail (422 Invalid), plus the Kubernetes schemas. */
function validate(info: ResourceInfo, obj: KubeObject): void {
  const causes: string[] = [];
  const name = obj.metadata.name;
  if (typeof name !== 'string' || name === '') causes.push('metadata.name: Required value: name or generateName is required');
  else if (!DNS_1123_SUBDOMAIN.test(name) || name.length > 253) causes.push(`metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
  for (const [k, v] of Object.entries((obj.metadata.labels ?? {}) as Record<string, unknown>)) {
    if (!LABEL_KEY.test(k)) causes.push(`metadata.labels: Invalid value: "${k}": name part must consist of alphanumeric characters, '-', '_' or '.'`);
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) causes.push(`metadata.labels: Invalid value: "${String(v)}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
  }
  if (info.kind === 'Deployment' || info.kind === 'ReplicaSet') {
    const selector = obj.spec?.selector?.matchLabels as Record<string, string> | undefined;
    const labels = (obj.spec?.template?.metadata?.labels ?? {}) as Record<string, string>;
    if (!selector || Object.keys(selector).length === 0) causes.push('spec.selector: Required value');
    else if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) causes.push('spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`');
    for (const c of [...(obj.spec?.template?.spec?.containers ?? []), ...(obj.spec?.template?.spec?.initContainers ?? [])]) {
      if (!c.image) causes.push(`spec.template.spec.containers[${String(c.name)}].image: Required value`);
    }
  }
  if (causes.length === 0) {
    try {
      if (info.kind === 'Deployment') new Deployment(obj as never).validate();
      if (info.kind === 'Secret') new Secret(obj as never).validate();
    } catch (err) {
      causes.push(String((err as Error).message).split('\n')[0]!);
    }
  }
  if (causes.length > 0) {
    throw new StatusError(422, 'Invalid', `${info.kind} "${String(name ?? '')}" is invalid: ${causes.join(', ')}`, {
      name,
      group: info.group,
      kind: info.kind,
      causes: causes.map((message) => ({ message })),
    });
  }
}

async function readText(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const text = await readText(req);
  try {
    return JSON.parse(text);
  } catch {
    throw new StatusError(400, 'BadRequest', 'the request body is not valid JSON');
  }
}

function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendStatus(res: http.ServerResponse, err: StatusError): void {
  if (res.headersSent) return void res.end();
  sendJson(res, err.code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: err.message, reason: err.reason, ...(err.details && { details: err.details }), code: err.code });
}
