import { Type, type TSchema } from 'typebox';

/**
 * TypeBox schemas of the Models API objects and bodies. Request schemas are enforced by the
 * validator (unknown fields are refused, no type coercion on bodies); response schemas document
 * the wire format in the OpenAPI document and are checked against real responses by the tests.
 */

export const ErrorBodySchema = Type.Object(
  {
    message: Type.String(),
    code: Type.String({ description: 'Stable error code, see docs/errors.md' }),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false, description: 'Every error the API sends' },
);

/** Documented error responses of a route, by status. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorBodySchema]));
}

const customerId = Type.String({ description: 'The customer id; must equal the token customerId claim' });

export const CustomerParams = Type.Object({ CUSTOMER_ID: customerId });
export const ModelParams = Type.Object({
  CUSTOMER_ID: customerId,
  MODEL_ID: Type.String({ description: 'Custom model UUID, or a pre-trained model name' }),
});
export const DeploymentParams = Type.Object({
  CUSTOMER_ID: customerId,
  DEPLOYMENT_ID: Type.String({ description: 'Deployment UUID (also the MODEL_ID used for predictions)' }),
});

const JsonObject = Type.Record(Type.String(), Type.Unknown());
const IsoTime = Type.String({ format: 'date-time' });

export const ModelDeploymentRefSchema = Type.Object(
  { id: Type.String(), region: Type.String(), state: Type.String(), deployedAt: IsoTime },
  { additionalProperties: false },
);

/**
 * Extension on models being trained (TRAINING, and TRAINING_FAILED to show where it stopped):
 * where the training job stands. A key is absent until the job has reported it.
 */
export const TrainingProgressSchema = Type.Object(
  {
    phase: Type.Optional(
      Type.Union([Type.Literal('loading-data'), Type.Literal('learning-vocabulary'), Type.Literal('training'), Type.Literal('exporting')]),
    ),
    epoch: Type.Optional(Type.Integer({ description: '1-based: the epoch running, or the last one finished' })),
    numEpochs: Type.Optional(Type.Integer()),
    step: Type.Optional(Type.Integer()),
    steps: Type.Optional(Type.Integer()),
    loss: Type.Optional(Type.Number()),
    pairsPerSecond: Type.Optional(Type.Number()),
    etaSeconds: Type.Optional(Type.Number()),
    monitor: Type.Optional(Type.Object({ key: Type.String(), value: Type.Number() }, { additionalProperties: false })),
    bestEpoch: Type.Optional(Type.Integer()),
    updatedAt: Type.Optional(IsoTime),
  },
  { additionalProperties: false },
);

/** The model object: one union for pre-trained and custom models; fields are absent when they do not apply. */
export const ModelSchema = Type.Object(
  {
    id: Type.String({ description: 'Pre-trained: a name such as text-encoder; custom: a UUID' }),
    name: Type.String(),
    category: Type.Union([Type.Literal('pre-trained (shared)'), Type.Literal('CUSTOM')]),
    modelType: Type.String({ description: 'Pre-trained: equals id; custom: imported, ecommerce-rnn, general-rnn, ...' }),
    description: Type.Optional(Type.String()),
    region: Type.Optional(Type.String()),
    vectorSize: Type.Optional(Type.Integer()),
    trainingData: Type.Optional(Type.Object({ catalog: Type.String(), signals: Type.String() }, { additionalProperties: false })),
    config: Type.Optional(JsonObject),
    state: Type.Optional(
      Type.Union([
        Type.Literal('TRAINING'),
        Type.Literal('TRAINING_FAILED'),
        Type.Literal('AVAILABLE'),
        Type.Literal('DELETING'),
        Type.Literal('DELETING_FAILED'),
      ]),
    ),
    trainingStarted: Type.Optional(IsoTime),
    trainingCompleted: Type.Optional(IsoTime),
    createdBy: Type.Optional(Type.String()),
    trainingMetrics: Type.Optional(JsonObject),
    deployments: Type.Optional(Type.Array(ModelDeploymentRefSchema)),
    errorMessage: Type.Optional(Type.String({ description: 'Extension: why training failed (TRAINING_FAILED only)' })),
    trainingProgress: Type.Optional(TrainingProgressSchema),
  },
  { additionalProperties: false },
);

const ConditionSchema = Type.Object(
  {
    type: Type.String(),
    status: Type.Union([Type.Literal('True'), Type.Literal('False'), Type.Literal('Unknown')]),
    reason: Type.String(),
    message: Type.String(),
    lastTransitionTime: IsoTime,
  },
  { additionalProperties: false },
);

const FailureSchema = Type.Object({ reason: Type.String(), message: Type.String(), at: IsoTime }, { additionalProperties: false });

/** Extension: per-deployment autoscaling; null restores the server's defaults. */
export const AutoscalingSchema = Type.Union([
  Type.Object(
    {
      targetConcurrencyPerReplica: Type.Number({
        exclusiveMinimum: 0,
        maximum: 10_000,
        description: 'Concurrent requests (in flight + queued) one replica should carry; the autoscaler keeps replicas at about this load',
      }),
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);

/** The deployment object: the Lucidworks fields plus the extensions status, updatedAt, lastUsedAt. */
export const DeploymentSchema = Type.Object(
  {
    id: Type.String({ description: 'Deployment UUID, also the MODEL_ID used for predictions' }),
    modelId: Type.String(),
    region: Type.String(),
    config: JsonObject,
    minReplicas: Type.Integer({ minimum: 1 }),
    maxReplicas: Type.Integer({ minimum: 1 }),
    state: Type.Union([
      Type.Literal('DEPLOYING'),
      Type.Literal('DEPLOYED'),
      Type.Literal('DEPLOY_FAILED'),
      Type.Literal('DELETING'),
      Type.Literal('DELETE_FAILED'),
    ]),
    deployedAt: IsoTime,
    createdBy: Type.String(),
    status: Type.Object(
      {
        replicas: Type.Integer(),
        readyReplicas: Type.Integer(),
        desiredReplicas: Type.Integer(),
        conditions: Type.Array(ConditionSchema),
        failure: Type.Union([FailureSchema, Type.Null()]),
      },
      { additionalProperties: false, description: 'Extension: observed state, written by the controller' },
    ),
    updatedAt: IsoTime,
    lastUsedAt: Type.Union([IsoTime, Type.Null()]),
    autoscaling: Type.Optional(AutoscalingSchema),
  },
  { additionalProperties: false },
);

export const EventSchema = Type.Object(
  {
    id: Type.Integer(),
    type: Type.Union([Type.Literal('Normal'), Type.Literal('Warning')]),
    reason: Type.String(),
    message: Type.String(),
    data: Type.Union([JsonObject, Type.Null()]),
    at: IsoTime,
  },
  { additionalProperties: false },
);

/**
 * M2. The training fields are typed loosely here so that M2's own checks (and the training config
 * compiler) name the exact field that is wrong.
 */
export const CreateModelBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256 }),
    modelType: Type.String({ minLength: 1, description: 'ecommerce-rnn or general-rnn (train from trainingData with config), or imported (from artifact.uri or artifact.upload)' }),
    description: Type.Optional(Type.String({ maxLength: 4096 })),
    region: Type.Optional(Type.String({ minLength: 1 })),
    artifact: Type.Optional(
      Type.Object(
        {
          uri: Type.Optional(
            Type.String({
              minLength: 1,
              description: 'file:///absolute/dir holding a modeld artifact or a Hugging Face model folder: one of your upload folders (folderUri of an upload) or a folder under the server’s importRoots',
            }),
          ),
          upload: Type.Optional(Type.String({ minLength: 1, description: 'Extension: the name of one of your upload folders (my-encoder for files uploaded as my-encoder/...)' })),
          prefixes: Type.Optional(
            Type.Object(
              { query: Type.Optional(Type.String({ maxLength: 256 })), passage: Type.Optional(Type.String({ maxLength: 256 })) },
              { additionalProperties: false, description: 'Extension: what the model prepends for useCaseConfig.dataType query / passage (e5: "query: " / "passage: "); overrides the folder’s' },
            ),
          ),
          pooling: Type.Optional(
            Type.Union([Type.Literal('mean'), Type.Literal('cls')], { description: 'Extension: pooling of a token-output graph (default mean, or the manifest’s)' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    trainingData: Type.Optional(Type.Unknown()),
    trainingDataCredentials: Type.Optional(Type.Unknown()),
    config: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);

export const ModelQuery = Type.Object({
  metrics: Type.Optional(Type.Boolean({ description: 'Adds trainingMetrics' })),
});

/** D2, exactly the operation in spec/deploy-custom-model.openapi.yaml, plus the autoscaling extension. */
export const CreateDeploymentBody = Type.Object(
  {
    modelId: Type.String({ minLength: 1, description: 'The custom model (UUID) to deploy' }),
    region: Type.String({ minLength: 1, description: 'A configured region' }),
    minReplicas: Type.Optional(Type.Integer({ minimum: 1, default: 1 })),
    maxReplicas: Type.Optional(Type.Integer({ minimum: 1, default: 1 })),
    config: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { default: {}, description: 'Raw JSON object handed to the replicas' })),
    autoscaling: Type.Optional(AutoscalingSchema),
  },
  { additionalProperties: false },
);

export const PatchDeploymentBody = Type.Object(
  {
    modelId: Type.Optional(Type.String({ minLength: 1 })),
    minReplicas: Type.Optional(Type.Integer({ minimum: 1 })),
    maxReplicas: Type.Optional(Type.Integer({ minimum: 1 })),
    config: Type.Optional(JsonObject),
    autoscaling: Type.Optional(AutoscalingSchema),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const EventsQuery = Type.Object({
  afterId: Type.Optional(Type.Integer({ minimum: 0, description: 'Only events with a larger id' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});
