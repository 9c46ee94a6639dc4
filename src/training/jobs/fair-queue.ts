/** One job waiting for a slot. */
export interface QueuedJob {
  jobId: string;
  customerId: string;
  /** The job was RUNNING when the previous server stopped: it was admitted then, it goes first. */
  resumed: boolean;
}

/**
 * The training queue, fair between customers: one customer with many queued jobs cannot make
 * the others wait behind all of them. The next job to start is chosen by, in order:
 *
 * 1. jobs resumed after a restart (they had a slot before it);
 * 2. the customer with the fewest jobs running now;
 * 3. the customer whose last job started longest ago (one that never started one here first);
 * 4. that customer's job queued first.
 *
 * So with one slot, customers take turns (round-robin, in the order they have been waiting);
 * with several, a customer gets a second slot only when no other customer waits with fewer.
 * Memory only: the store is the truth and the manager rebuilds the queue from it at start.
 */
export class FairQueue {
  readonly #jobs: (QueuedJob & { seq: number })[] = [];
  /** Per customer, the value of #starts when one of its jobs last started. */
  readonly #lastStart = new Map<string, number>();
  #seq = 0;
  #starts = 0;

  get size(): number {
    return this.#jobs.length;
  }

  has(jobId: string): boolean {
    return this.#jobs.some((j) => j.jobId === jobId);
  }

  /** Adds a job at the back of its customer's line; a job already queued is left where it is. */
  push(job: QueuedJob): void {
    if (this.has(job.jobId)) return;
    this.#jobs.push({ ...job, seq: this.#seq++ });
  }

  /** Removes a job (cancelled); false when it was not queued. */
  remove(jobId: string): boolean {
    const i = this.#jobs.findIndex((j) => j.jobId === jobId);
    if (i < 0) return false;
    this.#jobs.splice(i, 1);
    return true;
  }

  clear(): void {
    this.#jobs.length = 0;
  }

  /**
   * Takes the next job to start (see the class comment) and records that its customer started
   * one now; undefined when nothing waits. `running` counts the jobs running per customer.
   */
  take(running: ReadonlyMap<string, number>): QueuedJob | undefined {
    let best: (QueuedJob & { seq: number }) | undefined;
    for (const job of this.#jobs) {
      if (best === undefined || this.#before(job, best, running)) best = job;
    }
    if (best === undefined) return undefined;
    this.remove(best.jobId);
    this.#lastStart.set(best.customerId, ++this.#starts);
    const { seq: _seq, ...job } = best;
    return job;
  }

  #before(a: QueuedJob & { seq: number }, b: QueuedJob & { seq: number }, running: ReadonlyMap<string, number>): boolean {
    if (a.resumed !== b.resumed) return a.resumed;
    if (a.customerId !== b.customerId) {
      const ra = running.get(a.customerId) ?? 0;
      const rb = running.get(b.customerId) ?? 0;
      if (ra !== rb) return ra < rb;
      const la = this.#lastStart.get(a.customerId) ?? 0;
      const lb = this.#lastStart.get(b.customerId) ?? 0;
      if (la !== lb) return la < lb;
    }
    return a.seq < b.seq;
  }
}
