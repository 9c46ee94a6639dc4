/** Events: what the system did and why, per object, visible in the API. */

export interface EventRecord {
  id: number;
  /** `deployment` or `model`. */
  objectKind: 'deployment' | 'model';
  objectId: string;
  customerId: string;
  /** `Normal` or `Warning`. */
  type: 'Normal' | 'Warning';
  /** Short CamelCase reason, e.g. `ReplicaStarted`, `ScaledUp`, `EpochFinished`. */
  reason: string;
  message: string;
  /** Structured inputs of the decision (load figures, epoch metrics...). */
  data: Record<string, unknown> | null;
  at: string;
}

export type NewEvent = Omit<EventRecord, 'id'>;
