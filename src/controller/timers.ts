/**
 * Timers, injected next to the Clock so that the controller's waits (requeue after N ms, backoff,
 * periodic resync) run on a manual clock in tests. The system implementation unrefs its timers:
 * a pending requeue never keeps the process alive on its own.
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
