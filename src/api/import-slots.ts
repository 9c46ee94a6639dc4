import { ModeldError } from '../errors/index.js';

/**
 * Admission for imports (M2 with modelType "imported"): at most `total` run at once on this
 * server and at most `perCustomer` for one customer. An import over either is refused at once
 * with 429 MODELD_ERR_OVERLOADED and a Retry-After of about one import's duration, rather than
 * waiting: an import holds a child process and up to two minutes of CPU, so a queue of waiting
 * HTTP requests would only hold connections open and time clients out, while a client told when
 * to retry (the CLI does so) loses nothing. The per-customer cap keeps one customer from taking
 * every slot.
 */
export class ImportSlots {
  readonly #total: number;
  readonly #perCustomer: number;
  readonly #byCustomer = new Map<string, number>();
  #running = 0;
  /** Moving average of an import's duration, for Retry-After; 5 s until one has been measured. */
  #averageMs = 5000;

  constructor(options: { total: number; perCustomer: number }) {
    this.#total = options.total;
    this.#perCustomer = Math.min(options.perCustomer, options.total);
  }

  /** Imports running now. */
  get running(): number {
    return this.#running;
  }

  /**
   * Runs `work` in a slot of `customerId`, or throws 429 MODELD_ERR_OVERLOADED (details:
   * limit, retryAfterSeconds) without running it when no slot is free.
   */
  async run<T>(customerId: string, work: () => Promise<T>): Promise<T> {
    const mine = this.#byCustomer.get(customerId) ?? 0;
    if (this.#running >= this.#total || mine >= this.#perCustomer) {
      const perCustomer = mine >= this.#perCustomer;
      const limit = perCustomer ? 'limits.concurrentImportsPerCustomer' : 'limits.concurrentImports';
      const value = perCustomer ? this.#perCustomer : this.#total;
      const retryAfterSeconds = Math.max(1, Math.ceil(this.#averageMs / 1000));
      throw new ModeldError('MODELD_ERR_OVERLOADED', `too many imports at once (${limit} is ${value}); retry in ${retryAfterSeconds} s`, {
        details: { limit, value, retryAfterSeconds },
      });
    }
    this.#running += 1;
    this.#byCustomer.set(customerId, mine + 1);
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.#averageMs = 0.7 * this.#averageMs + 0.3 * (performance.now() - started);
      this.#running -= 1;
      const left = (this.#byCustomer.get(customerId) ?? 1) - 1;
      if (left > 0) this.#byCustomer.set(customerId, left);
      else this.#byCustomer.delete(customerId);
    }
  }
}
