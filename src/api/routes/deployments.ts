import { randomUUID } from 'node:crypto';
import { Type } from 'typebox';
import {
  DeploymentStates,
  ModelStates,
  Scopes,
  newDeploymentRecord,
  isoAt,
  type Clock,
  type DeploymentRecord,
  type ModelRecord,
  type NewEvent,
} from '../../domain/index.js';
import { ModeldError, invalidField } from '../../errors/index.js';
import type { Config } from '../../config/index.js';
import type { Store } from '../../store/index.js';
import { principalOf, type Guard } from '../plugins/auth.js';
import { renderDeployment, renderEvent } from '../render.js';
import {
  CreateDeploymentBody,
  CustomerParams,
  DeploymentParams,
  DeploymentSchema,
  EventSchema,
  EventsQuery,
  PatchDeploymentBody,
  errorResponses,
} from '../schemas.js';
import { checkRegion, modelNotFound } from './models.js';
import { requireJsonBody, type ModeldApp } from './shared.js';
import type { CustomerQuotas } from '../quotas.js';

/** The controller as the API sees it: told which deployment's desired state changed. */
export interface DeploymentNotifier {
  /** Enqueues the deployment for reconciliation; returns at once, never throws. */
  notify(deploymentId: string): void;
}

export interface DeploymentRouteDeps {
  config: Readonly<Config>;
  store: Store;
  clock: Clock;
  guard: Guard;
  controller: DeploymentNotifier;
  /** D2 and a PATCH raising maxReplicas are checked against the customer's deployments and replicas quotas. */
  quotas: CustomerQuotas;
}

const TAGS = ['Manage deployments'];
const SECURITY = [{ bearerAuth: [] }];
const DEFAULT_EVENT_PAGE = 100;

/**
 * D1-D3 and the extensions (get, PATCH, events) under `/customers/:CUSTOMER_ID/ai/deployments`,
 * scope `machinelearning.model`. The API writes desired state only and tells the controller;
 * it never starts or stops a replica. Another customer's deployment is a 404, like an unknown one.
 */
export function registerDeploymentRoutes(app: ModeldApp, deps: DeploymentRouteDeps): void {
  const { store, clock, config, controller, quotas } = deps;
  const guard = deps.guard(Scopes.MODEL);
  const base = '/customers/:CUSTOMER_ID/ai/deployments';

  /** The customer's deployment, or 404 (unknown and foreign ids are not told apart). */
  async function ownDeployment(customerId: string, id: string): Promise<DeploymentRecord> {
    const d = await store.getDeployment(customerId, id);
    if (!d) throw deploymentNotFound(id);
    return d;
  }

  /** The customer's model named by `field`, which must be AVAILABLE to be deployed. */
  async function deployableModel(customerId: string, modelId: string, field: string): Promise<ModelRecord> {
    const model = await store.getModel(customerId, modelId);
    if (!model) throw modelNotFound(modelId, field);
    if (model.state !== ModelStates.AVAILABLE) {
      throw new ModeldError('MODELD_ERR_MODEL_NOT_AVAILABLE', `${field}: model ${modelId} is ${model.state}; only AVAILABLE models can be deployed`, {
        details: { field, modelId, state: model.state },
      });
    }
    return model;
  }

  async function record(d: DeploymentRecord, reason: string, message: string, data: Record<string, unknown> | null, at: string): Promise<void> {
    const event: NewEvent = { objectKind: 'deployment', objectId: d.id, customerId: d.customerId, type: 'Normal', reason, message, data, at };
    await store.appendEvent(event);
  }

  app.get(
    base,
    {
      onRequest: guard,
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'D1: list the customer’s deployments (removed ones no longer appear)',
        params: CustomerParams,
        response: { 200: Type.Array(DeploymentSchema), ...errorResponses(401, 403) },
      },
    },
    async (request) => (await store.listDeployments(principalOf(request).customerId)).map(renderDeployment),
  );

  app.post(
    base,
    {
      onRequest: [guard, requireJsonBody],
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'D2: deploy a custom model',
        description:
          'The model must belong to the customer and be AVAILABLE; 1 <= minReplicas <= maxReplicas <= the configured limit; region must be configured. The customer’s deployments and replicas quotas must allow it (403 MODELD_ERR_QUOTA_EXCEEDED). Answers 200 with state DEPLOYING; progress shows in status and events.',
        params: CustomerParams,
        body: CreateDeploymentBody,
        response: { 200: DeploymentSchema, ...errorResponses(400, 401, 403, 404, 413, 415) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const body = request.body;
      const minReplicas = body.minReplicas ?? 1;
      const maxReplicas = body.maxReplicas ?? 1;
      checkRegion(config, body.region);
      checkReplicas(config, minReplicas, maxReplicas);
      if (body.config !== undefined) checkDeploymentConfig(config, body.config);
      await deployableModel(principal.customerId, body.modelId, 'body.modelId');

      const now = isoAt(clock.now());
      const deployment = newDeploymentRecord({
        id: randomUUID(),
        customerId: principal.customerId,
        modelId: body.modelId,
        region: body.region,
        minReplicas,
        maxReplicas,
        config: body.config ?? {},
        autoscaling: body.autoscaling ?? null,
        createdBy: principal.clientId,
        at: now,
      });
      // Checked in the store's transaction that inserts (race-free); 403 MODELD_ERR_QUOTA_EXCEEDED, nothing written.
      const limits = await quotas.storeLimits(principal.customerId);
      await store.createDeployment(deployment, { deployments: limits.deployments, replicas: limits.replicas });
      await record(deployment, 'Created', `deploy model ${deployment.modelId} in ${deployment.region} with ${minReplicas}..${maxReplicas} replicas`, {
        modelId: deployment.modelId,
        region: deployment.region,
        minReplicas,
        maxReplicas,
      }, now);
      controller.notify(deployment.id);
      return renderDeployment(deployment);
    },
  );

  app.get(
    `${base}/:DEPLOYMENT_ID`,
    {
      onRequest: guard,
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Extension: get one deployment',
        params: DeploymentParams,
        response: { 200: DeploymentSchema, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => renderDeployment(await ownDeployment(principalOf(request).customerId, request.params.DEPLOYMENT_ID)),
  );

  app.patch(
    `${base}/:DEPLOYMENT_ID`,
    {
      onRequest: [guard, requireJsonBody],
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Extension: change minReplicas, maxReplicas, config or modelId (rolled out without dropping requests)',
        description: 'Changes the desired state and bumps its generation; 409 while the deployment is being deleted; 403 MODELD_ERR_QUOTA_EXCEEDED when a raise of maxReplicas passes the replicas quota.',
        params: DeploymentParams,
        body: PatchDeploymentBody,
        response: { 200: DeploymentSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 415) },
      },
    },
    async (request) => {
      const customerId = principalOf(request).customerId;
      const id = request.params.DEPLOYMENT_ID;
      const body = request.body;
      const current = await ownDeployment(customerId, id);
      if (current.deletionRequestedAt !== null) throw beingDeleted(id);
      checkReplicas(config, body.minReplicas ?? current.minReplicas, body.maxReplicas ?? current.maxReplicas, body.minReplicas === undefined && body.maxReplicas !== undefined);
      if (body.modelId !== undefined && body.modelId !== current.modelId) await deployableModel(customerId, body.modelId, 'body.modelId');
      if (body.config !== undefined) checkDeploymentConfig(config, body.config);

      const now = isoAt(clock.now());
      const patch = {
        ...(body.minReplicas !== undefined && { minReplicas: body.minReplicas }),
        ...(body.maxReplicas !== undefined && { maxReplicas: body.maxReplicas }),
        ...(body.config !== undefined && { config: body.config }),
        ...(body.modelId !== undefined && { modelId: body.modelId }),
        ...(body.autoscaling !== undefined && { autoscaling: body.autoscaling }),
      };
      const updated = await store.updateDeploymentSpec(id, patch, now, { replicas: (await quotas.storeLimits(customerId)).replicas });
      if (!updated) {
        // Gone or marked for deletion between the read and the write.
        const again = await ownDeployment(customerId, id);
        throw beingDeleted(again.id);
      }
      await record(updated, 'SpecChanged', `spec changed: ${Object.keys(patch).join(', ')} (generation ${updated.generation})`, { ...patch, generation: updated.generation }, now);
      controller.notify(id);
      return renderDeployment(updated);
    },
  );

  app.delete(
    `${base}/:DEPLOYMENT_ID`,
    {
      onRequest: guard,
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'D3: delete a deployment (also while DEPLOYING; idempotent)',
        description: 'Answers 200 with state DELETING; the replicas are drained and the record removed by the controller.',
        params: DeploymentParams,
        response: { 200: DeploymentSchema, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const customerId = principalOf(request).customerId;
      const id = request.params.DEPLOYMENT_ID;
      const current = await ownDeployment(customerId, id);
      const now = isoAt(clock.now());
      const marked = await store.requestDeploymentDeletion(id, now);
      if (!marked) throw deploymentNotFound(id);
      if (current.deletionRequestedAt === null) await record(marked, 'DeletionRequested', 'deletion requested', null, now);
      controller.notify(id);
      return renderDeployment(marked);
    },
  );

  app.get(
    `${base}/:DEPLOYMENT_ID/events`,
    {
      onRequest: guard,
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Extension: what happened to a deployment and why, oldest first',
        description: 'Page with afterId = the last id seen; limit defaults to 100.',
        params: DeploymentParams,
        querystring: EventsQuery,
        response: { 200: Type.Array(EventSchema), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const d = await ownDeployment(principalOf(request).customerId, request.params.DEPLOYMENT_ID);
      const events = await store.listEvents('deployment', d.id, {
        afterId: request.query.afterId ?? 0,
        limit: request.query.limit ?? DEFAULT_EVENT_PAGE,
      });
      return events.map(renderEvent);
    },
  );
}

/**
 * `1 <= minReplicas <= maxReplicas <= config.limits.maxReplicas`. The schema already refuses
 * values below 1; this names the field that breaks the order or the limit: 400
 * MODELD_ERR_REPLICA_LIMIT (with `details.limit`) above the limit, MODELD_ERR_VALIDATION when
 * min > max. `blameMax`: name maxReplicas then instead (a PATCH that only lowered maxReplicas).
 */
export function checkReplicas(config: Readonly<Config>, minReplicas: number, maxReplicas: number, blameMax = false): void {
  const limit = config.limits.maxReplicas;
  if (maxReplicas > limit) {
    throw new ModeldError('MODELD_ERR_REPLICA_LIMIT', `body.maxReplicas: ${maxReplicas} is above the limit of ${limit} replicas`, {
      details: { field: 'body.maxReplicas', limit, value: maxReplicas },
    });
  }
  if (minReplicas > maxReplicas) {
    if (blameMax) throw invalidField('body.maxReplicas', `must be >= minReplicas (${minReplicas}), got ${maxReplicas}`, { minReplicas, maxReplicas, limit });
    throw invalidField('body.minReplicas', `must be <= maxReplicas (${maxReplicas}), got ${minReplicas}`, { minReplicas, maxReplicas, limit });
  }
}

/**
 * A deployment `config` reaches every replica in environment variables (MODEL_CONFIG_JSON and
 * PREDICTIVE_UNIT_PARAMETERS, where Linux caps one variable at 128 KiB): refused with 400 naming
 * `body.config` when its JSON is larger than `limits.deploymentConfigBytes`, so that no accepted
 * config leaves a deployment unable to start. (Depth is bounded for every body by limits.maxJsonDepth.)
 */
export function checkDeploymentConfig(config: Readonly<Config>, value: Record<string, unknown>): void {
  const limit = config.limits.deploymentConfigBytes;
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > limit) {
    throw invalidField('body.config', `is ${bytes} bytes as JSON; at most ${limit} are accepted (limits.deploymentConfigBytes)`, { limitBytes: limit, bytes });
  }
}

export function deploymentNotFound(id: string): ModeldError {
  return new ModeldError('MODELD_ERR_DEPLOYMENT_NOT_FOUND', `deployment ${id} not found`, { details: { deploymentId: id } });
}

function beingDeleted(id: string): ModeldError {
  return new ModeldError('MODELD_ERR_CONFLICT', `deployment ${id} is being deleted; it can no longer be changed`, {
    details: { deploymentId: id, state: DeploymentStates.DELETING },
  });
}
