/**
 * The simulated kube-controller-manager: the Deployment controller (one ReplicaSet per pod
 * template, named `<deployment>-<pod-template-hash>`; a changed template scales the old
 * ReplicaSets to 0 at once, like strategy Recreate — modeld never changes a template, it makes a
 * Deployment per generation), the ReplicaSet controller (creates pods from the template, and on
 * scale-down deletes the pods the real controller would: see rankForDeletion) and the garbage
 * collector (objects whose owner is gone are deleted; pods gracefully, through the kubelet).
 */
import { createHash } from 'node:crypto';
import { RESOURCES, type FakeApiServer } from './api-server.js';
import { clone, type KubeObject, type ObjectStore } from './object-store.js';

const rsInfo = RESOURCES.find((r) => r.kind === 'ReplicaSet')!;
const podInfo = RESOURCES.find((r) => r.kind === 'Pod')!;

export class FakeControllers {
  readonly #store: ObjectStore;
  readonly #api: FakeApiServer;
  #scheduled = false;
  #closed = false;

  constructor(store: ObjectStore, api: FakeApiServer) {
    this.#store = store;
    this.#api = api;
  }

  /** Runs the controllers soon (coalesced): called on every change. */
  kick(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#closed) this.#sync();
    });
  }

  close(): void {
    this.#closed = true;
  }

  #sync(): void {
    for (const d of this.#store.list('Deployment')) this.#syncDeployment(d);
    for (const rs of this.#store.list('ReplicaSet')) this.#syncReplicaSet(rs);
    this.#collectGarbage();
  }

  #syncDeployment(d: KubeObject): void {
    const ns = d.metadata.namespace as string;
    const template = d.spec.template as KubeObject;
    const hash = createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 10).replace(/[^a-z0-9]/g, 'a');
    const rsName = `${d.metadata.name}-${hash}`;
    const owned = this.#store.list('ReplicaSet', ns).filter((rs) => ownedBy(rs, d));
    const desired = d.spec.replicas ?? 1;
    let current = owned.find((rs) => rs.metadata.name === rsName);
    if (!current) {
      const labels = { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash };
      current = this.#api.create(rsInfo, ns, {
        metadata: { name: rsName, namespace: ns, labels, ownerReferences: [ownerRef(d)], annotations: { 'deployment.kubernetes.io/revision': String(d.metadata.generation ?? 1) } },
        spec: {
          replicas: desired,
          selector: { matchLabels: { ...d.spec.selector.matchLabels, 'pod-template-hash': hash } },
          template: { ...clone(template), metadata: { ...(template.metadata ?? {}), labels } },
        },
      });
    } else if (current.spec.replicas !== desired) {
      current = this.#api.patch(rsInfo, ns, rsName, 'application/merge-patch+json', { spec: { replicas: desired } });
    }
    for (const old of owned) {
      if (old.metadata.name !== rsName && old.spec.replicas !== 0) this.#api.patch(rsInfo, ns, old.metadata.name, 'application/merge-patch+json', { spec: { replicas: 0 } });
    }
    const pods = this.#store.list('Pod', ns).filter((p) => owned.some((rs) => ownedBy(p, rs)) && !p.metadata.deletionTimestamp);
    const ready = pods.filter(isReady).length;
    const updated = pods.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash).length;
    const status = {
      observedGeneration: d.metadata.generation,
      replicas: pods.length,
      updatedReplicas: updated,
      readyReplicas: ready,
      availableReplicas: ready,
      ...(pods.length - ready > 0 ? { unavailableReplicas: pods.length - ready } : {}),
      conditions: [
        { type: 'Available', status: ready >= desired ? 'True' : 'False', reason: ready >= desired ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable', message: ready >= desired ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.' },
        { type: 'Progressing', status: 'True', reason: updated >= desired && ready >= desired ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated', message: `ReplicaSet "${rsName}" ${updated >= desired && ready >= desired ? 'has successfully progressed' : 'is progressing'}.` },
      ],
    };
    if (JSON.stringify(stripTimes(d.status)) !== JSON.stringify(status)) {
      const fresh = this.#store.get('Deployment', ns, d.metadata.name);
      if (fresh) this.#store.update('Deployment', ns, { ...fresh, status });
    }
  }

  #syncReplicaSet(rs: KubeObject): void {
    const ns = rs.metadata.namespace as string;
    const all = this.#store.list('Pod', ns).filter((p) => ownedBy(p, rs));
    // Pods being deleted, failed or succeeded do not count (a Failed pod, e.g. evicted, is replaced).
    const active = all.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded');
    const desired = rs.spec.replicas ?? 1;
    const template = rs.spec.template as KubeObject;
    for (let i = active.length; i < desired; i++) {
      this.#api.create(podInfo, ns, {
        metadata: { ...clone(template.metadata ?? {}), generateName: `${rs.metadata.name}-`, namespace: ns, ownerReferences: [ownerRef(rs)] },
        spec: clone(template.spec),
        status: { phase: 'Pending', conditions: [] },
      });
    }
    if (active.length > desired) {
      for (const victim of rankForDeletion(active).slice(0, active.length - desired)) this.#api.delete(podInfo, ns, victim.metadata.name, null);
    }
    const ready = active.filter(isReady).length;
    const status = { replicas: active.length, readyReplicas: ready, availableReplicas: ready, observedGeneration: rs.metadata.generation };
    if (JSON.stringify(rs.status ?? {}) !== JSON.stringify(status)) {
      const fresh = this.#store.get('ReplicaSet', ns, rs.metadata.name);
      if (fresh) this.#store.update('ReplicaSet', ns, { ...fresh, status });
    }
    // Failed pods of a ReplicaSet stay (as the real controller leaves evicted pods for inspection).
  }

  #collectGarbage(): void {
    const uids = new Set<string>();
    for (const info of RESOURCES) for (const o of this.#store.list(info.kind)) uids.add(o.metadata.uid as string);
    for (const info of RESOURCES) {
      for (const o of this.#store.list(info.kind)) {
        const owners = (o.metadata.ownerReferences ?? []) as Array<{ uid: string }>;
        if (owners.length > 0 && owners.every((r) => !uids.has(r.uid))) {
          if (info.kind === 'Pod') {
            if (!o.metadata.deletionTimestamp) this.#api.delete(podInfo, o.metadata.namespace, o.metadata.name, null);
          } else {
            this.#store.delete(info.kind, o.metadata.namespace ?? '', o.metadata.name);
            this.kick();
          }
        }
      }
    }
  }
}

/**
 * Pods in the order the ReplicaSet controller deletes them on scale-down (kubernetes
 * pkg/controller/controller_utils.go, ActivePodsWithRanks): unscheduled before scheduled; Pending
 * before Unknown before Running; not ready before ready; lower
 * `controller.kubernetes.io/pod-deletion-cost` first; more container restarts first; newer first.
 * (The real controller also ranks by how many of the set's pods share the node; left out here.)
 */
export function rankForDeletion(pods: KubeObject[]): KubeObject[] {
  const phaseRank = (p: KubeObject) => ({ Pending: 0, Unknown: 1, Running: 2 })[p.status?.phase as string] ?? 0;
  const cost = (p: KubeObject) => Number(p.metadata.annotations?.['controller.kubernetes.io/pod-deletion-cost'] ?? 0) || 0;
  const restarts = (p: KubeObject) => ((p.status?.containerStatuses ?? []) as Array<{ restartCount?: number }>).reduce((n, c) => n + (c.restartCount ?? 0), 0);
  return [...pods].sort(
    (a, b) =>
      Number(Boolean(a.spec.nodeName)) - Number(Boolean(b.spec.nodeName)) ||
      phaseRank(a) - phaseRank(b) ||
      Number(isReady(a)) - Number(isReady(b)) ||
      cost(a) - cost(b) ||
      restarts(b) - restarts(a) ||
      String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)),
  );
}

export function isReady(pod: KubeObject): boolean {
  return ((pod.status?.conditions ?? []) as Array<{ type: string; status: string }>).some((c) => c.type === 'Ready' && c.status === 'True');
}

function ownedBy(o: KubeObject, owner: KubeObject): boolean {
  return ((o.metadata.ownerReferences ?? []) as Array<{ uid: string }>).some((r) => r.uid === owner.metadata.uid);
}

function ownerRef(o: KubeObject) {
  return { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, uid: o.metadata.uid, controller: true, blockOwnerDeletion: true };
}

function stripTimes(status: unknown): unknown {
  return status ?? {};
}
