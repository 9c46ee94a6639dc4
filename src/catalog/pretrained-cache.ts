import { listPretrained, type PretrainedListing } from '../engines/index.js';
import type { Clock, PretrainedModel } from '../domain/index.js';

/** How long a listing of the models directory is reused before the folder is read again. */
const FRESH_MS = 10_000;

/**
 * The pre-trained catalog: the usable model folders of `<dataDir>/models`, read through engines'
 * listPretrained (which converts Hugging Face folders on first sight, in a child process) and
 * reused for FRESH_MS so that a prediction by name does not scan the disk. A folder dropped into
 * the directory shows up within FRESH_MS without a restart.
 */
export class PretrainedCache {
  readonly #modelsDir: string;
  readonly #clock: Clock;
  #listing: PretrainedListing | null = null;
  #readAt = 0;
  #pending: Promise<PretrainedListing> | null = null;

  constructor(modelsDir: string, clock: Clock) {
    this.#modelsDir = modelsDir;
    this.#clock = clock;
  }

  /** Reads the directory now (one read at a time; concurrent callers share it). */
  refresh(): Promise<PretrainedListing> {
    this.#pending ??= listPretrained(this.#modelsDir)
      .then((listing) => {
        this.#listing = listing;
        this.#readAt = this.#clock.now();
        return listing;
      })
      .finally(() => {
        this.#pending = null;
      });
    return this.#pending;
  }

  /** The usable models, sorted by id. */
  async list(): Promise<readonly PretrainedModel[]> {
    if (this.#listing && this.#clock.now() - this.#readAt < FRESH_MS) return this.#listing.models;
    return (await this.refresh()).models;
  }

  async get(id: string): Promise<PretrainedModel | null> {
    return (await this.list()).find((m) => m.id === id) ?? null;
  }
}
