/**
 * The install manifests (deploy/kubernetes) and the Dockerfile: every object passes the
 * Kubernetes API schemas (kubernetes-models 4.5.1, the OpenAPI document of Kubernetes 1.30/1.31),
 * every file is in the kustomization, the RBAC is the runtime's least, the server runs non-root on
 * a read-only root filesystem, its config passes modeld's own schema, and what the Dockerfile
 * copies and runs exists.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { parseAllDocuments } from 'yaml';
import { compileConfig, defaultConfig } from '../../src/config/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const base = path.join(root, 'deploy/kubernetes/base');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;
const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

function load(file: string): Obj[] {
  return parseAllDocuments(readFileSync(path.join(base, file), 'utf8')).map((d) => {
    assert.deepEqual(d.errors, [], `${file}: YAML errors`);
    return d.toJS() as Obj;
  });
}

const kustomization = load('kustomization.yaml')[0]!;
const objects = (kustomization.resources as string[]).flatMap((f) => load(f).map((o) => ({ file: f, o })));
const find = (kind: string, name?: string) => objects.find(({ o }) => o.kind === kind && (name === undefined || o.metadata.name === name))?.o;

describe('deploy/kubernetes', () => {
  test('every YAML file is listed in the kustomization and every listed file exists', () => {
    const files = readdirSync(base).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    assert.deepEqual([...(kustomization.resources as string[])].sort(), files);
  });

  test('every object passes the Kubernetes API schemas', () => {
    assert.ok(objects.length >= 10);
    for (const { file, o } of objects) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      assert.ok(Model, `${file}: no schema model for ${o.apiVersion} ${o.kind}`);
      assert.doesNotThrow(() => new Model(o as never).validate(), `${file}: ${o.kind} ${o.metadata?.name}`);
    }
    // The checker is not a rubber stamp.
    assert.throws(() => new Deployment({ metadata: { name: 'x' }, spec: { selector: {}, template: { spec: { containers: [{ name: 'c', ports: [{ containerPort: 'http' }] }] } } } } as never).validate());
  });

  test('the Role grants exactly what the Kubernetes runtime uses, in the replicas namespace only', () => {
    const role = find('Role')!;
    assert.equal(role.metadata.namespace, 'modeld-replicas');
    const rules = Object.fromEntries((role.rules as Obj[]).map((r) => [`${r.apiGroups[0] || 'core'}/${r.resources[0]}`, [...r.verbs].sort()]));
    assert.deepEqual(rules, {
      'apps/deployments': ['create', 'delete', 'get', 'list', 'patch', 'watch'],
      'core/pods': ['delete', 'get', 'list', 'patch', 'watch'],
      'core/secrets': ['create', 'delete', 'get', 'list', 'patch'],
      'core/events': ['get', 'list', 'watch'],
    });
    for (const r of role.rules as Obj[]) for (const field of ['apiGroups', 'resources', 'verbs']) assert.ok(!r[field].includes('*'), 'no wildcard');
    assert.ok(!objects.some(({ o }) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding'), 'nothing cluster-wide');
    const binding = find('RoleBinding')!;
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'modeld', namespace: 'modeld' }]);
  });

  test('the server runs non-root on a read-only root filesystem, with probes, config, data and the database URL', () => {
    const d = find('Deployment', 'modeld')!;
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    const mounts = Object.fromEntries((c.volumeMounts as Obj[]).map((m) => [m.mountPath, m.name]));
    const env = Object.fromEntries((c.env as Obj[]).map((e) => [e.name, e]));
    assert.equal(mounts[path.dirname(env.MODELD_CONFIG.value)], 'config');
    assert.equal(mounts[env.MODELD_DATA_DIR.value], 'data');
    assert.equal(mounts['/tmp'], 'tmp', 'tsx and the runner write only under /tmp besides the data dir');
    assert.equal(env.MODELD_DATABASE_URL.valueFrom.secretKeyRef.name, find('Secret')!.metadata.name);
    assert.equal(pod.serviceAccountName, find('ServiceAccount')!.metadata.name);
    assert.equal(d.spec.replicas, 2, 'two instances under the leader lease');
    assert.equal(d.spec.strategy.type, 'RollingUpdate');
    assert.equal(d.spec.strategy.rollingUpdate.maxUnavailable, 0, 'a rolling update never takes both away');
    assert.equal(env.MODELD_INSTANCE_ID.valueFrom.fieldRef.fieldPath, 'metadata.name', 'the lease names the pod');
    assert.match(env.MODELD_PUBLIC_URL.value, /^http:\/\/modeld\.modeld\.svc:8080$/, 'one token issuer for every instance');
    assert.deepEqual(find('PersistentVolumeClaim')!.spec.accessModes, ['ReadWriteMany'], 'both instances mount the data volume');
    assert.equal(find('PodDisruptionBudget')!.spec.minAvailable, 1);
  });

  test('the ConfigMap’s config passes modeld’s own schema and names the replicas namespace the Role is in', () => {
    const cm = find('ConfigMap', 'modeld-config')!;
    const raw = JSON.parse(cm.data['config.json'] as string) as Obj;
    const config = compileConfig({ ...defaultConfig(), ...raw, dataDir: '/var/lib/modeld' });
    const region = Object.values(config.regions)[0]!;
    assert.equal(region.runtime, 'kubernetes');
    assert.equal(region.runtime === 'kubernetes' && region.namespace, find('Role')!.metadata.namespace);
    assert.match(region.runtime === 'kubernetes' ? region.artifactBaseUrl : '', /^http:\/\/modeld\.modeld\.svc:8080$/);
    const svc = find('Service', 'modeld')!;
    assert.equal(svc.spec.ports[0].port, 8080);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  test('what it copies and runs exists, it runs as a non-root user, and the pod commands are in the image', () => {
    for (const m of text.matchAll(/^COPY\s+(.+)\s+\S+$/gm)) for (const src of m[1]!.split(/\s+/)) assert.ok(existsSync(path.join(root, src)), `COPY ${src}`);
    assert.match(text, /^USER 10001:10001$/m);
    assert.match(text, /npm ci --omit=dev/);
    assert.ok(existsSync(path.join(root, 'bin/modeld.js')));
    for (const entry of ['src/runner/pod-main.ts', 'src/runner/fetch-artifact-main.ts']) assert.ok(existsSync(path.join(root, entry)), entry);
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; allowScripts: Record<string, boolean> };
    assert.ok(pkg.dependencies.tsx, 'tsx runs the sources at run time: a production dependency');
    assert.ok(pkg.dependencies['@kubernetes/client-node']);
    assert.equal(pkg.allowScripts['onnxruntime-node'], false, 'no CUDA download at build time');
  });
});
