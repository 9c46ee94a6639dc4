import type { ComponentChildren, TargetedEvent } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { BASE, navigate } from './router.js';
import { describeError } from './session.js';

/** An in-app link: a real <a href> (middle-click, copy link), navigated without a reload. */
export function Link(props: { to: string; children: ComponentChildren; class?: string; 'aria-current'?: 'page' | undefined }) {
  const onClick = (e: MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.to);
  };
  return (
    <a href={BASE + props.to} onClick={onClick} class={props.class} aria-current={props['aria-current']}>
      {props.children}
    </a>
  );
}

/** The API's message (and its code) for a failed call; nothing when there is no error. */
export function ErrorBox(props: { error: unknown; title?: string }) {
  if (props.error === null || props.error === undefined) return null;
  const e = describeError(props.error);
  return (
    <div class="error" role="alert" data-testid="error">
      {props.title && <strong>{props.title}: </strong>}
      <span class="error-message">{e.message}</span>
      {e.code && <code class="error-code"> {e.code}</code>}
    </div>
  );
}

export interface Async<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => Promise<void>;
}

/**
 * Runs `load` now and whenever `deps` change; with `pollMs`, again every pollMs while the page
 * is open (the last good data stays shown when a poll fails, with its error).
 */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[], pollMs?: number | null): Async<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const loadRef = useRef(load);
  loadRef.current = load;
  const controller = useRef<AbortController | null>(null);
  const run = useCallback(async () => {
    controller.current?.abort();
    const c = new AbortController();
    controller.current = c;
    try {
      const value = await loadRef.current(c.signal);
      if (c.signal.aborted) return;
      setData(value);
      setError(null);
    } catch (err) {
      if (!c.signal.aborted) setError(err);
    } finally {
      if (!c.signal.aborted) setLoading(false);
    }
  }, []);
  useEffect(() => {
    setLoading(true);
    setData(undefined);
    void run();
    return () => controller.current?.abort();
  }, deps);
  useEffect(() => {
    if (!pollMs) return;
    const t = setInterval(() => void run(), pollMs);
    return () => clearInterval(t);
  }, [pollMs, ...deps]);
  return { data, error, loading, reload: run };
}

export function Loading(props: { what?: string }) {
  return (
    <p class="muted" role="status">
      Loading{props.what ? ` ${props.what}` : ''}…
    </p>
  );
}

const STATE_CLASS: Record<string, string> = {
  AVAILABLE: 'ok',
  DEPLOYED: 'ok',
  ready: 'ok',
  TRAINING: 'busy',
  DEPLOYING: 'busy',
  starting: 'busy',
  DELETING: 'busy',
  draining: 'busy',
  TRAINING_FAILED: 'bad',
  DEPLOY_FAILED: 'bad',
  DELETE_FAILED: 'bad',
  DELETING_FAILED: 'bad',
  exited: 'bad',
  Warning: 'bad',
  Normal: 'ok',
};

export function StateBadge(props: { state: string | undefined | null }) {
  const s = props.state ?? 'UNKNOWN';
  return <span class={`badge ${STATE_CLASS[s] ?? ''}`}>{s}</span>;
}

/**
 * A modal confirmation (<dialog>, so focus is trapped and Escape cancels). `onConfirm` runs when
 * the user confirms; its error is shown in the dialog, which stays open.
 */
export function ConfirmButton(props: {
  label: string;
  title: string;
  children: ComponentChildren;
  confirmLabel?: string;
  danger?: boolean;
  disabled?: boolean;
  onConfirm: () => Promise<void>;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const open = () => {
    setError(null);
    ref.current?.showModal();
  };
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
      ref.current?.close();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class={props.danger ? 'danger' : ''} onClick={open} disabled={props.disabled}>
        {props.label}
      </button>
      <dialog ref={ref} aria-label={props.title}>
        <h2>{props.title}</h2>
        <div>{props.children}</div>
        <ErrorBox error={error} />
        <div class="actions">
          <button type="button" onClick={() => ref.current?.close()} disabled={busy}>
            Cancel
          </button>
          <button type="button" class={props.danger ? 'danger' : 'primary'} onClick={() => void confirm()} disabled={busy}>
            {busy ? 'Working…' : (props.confirmLabel ?? props.label)}
          </button>
        </div>
      </dialog>
    </>
  );
}

export function Field(props: { label: string; hint?: ComponentChildren; error?: string | null; children: ComponentChildren; id: string }) {
  return (
    <div class={`field${props.error ? ' invalid' : ''}`}>
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && <small class="hint">{props.hint}</small>}
      {props.error && (
        <small class="field-error" role="alert">
          {props.error}
        </small>
      )}
    </div>
  );
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export function fmtAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const s = Math.round((now - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function fmtDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function fmtNum(n: number | null | undefined, digits = 4): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return Number.isInteger(n) ? String(n) : n.toFixed(digits);
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function Page(props: { title: string; actions?: ComponentChildren; children: ComponentChildren; subtitle?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} · modeld console`;
  }, [props.title]);
  return (
    <section class="page">
      <header class="page-head">
        <div>
          <h1>{props.title}</h1>
          {props.subtitle && <p class="muted subtitle">{props.subtitle}</p>}
        </div>
        {props.actions && <div class="actions">{props.actions}</div>}
      </header>
      {props.children}
    </section>
  );
}

export type InputEvent = TargetedEvent<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, Event>;
export const valueOf = (e: InputEvent) => e.currentTarget.value;

/**
 * The events of a model or deployment, oldest first: every page at the first load (the API
 * pages forward from the oldest, 1000 at most per call), then only the new ones (`afterId` = the
 * last id seen) every `pollMs`. `key` changes start over.
 */
export function useEvents<E extends { id: number }>(
  list: (query: { afterId?: number; limit?: number }, signal: AbortSignal) => Promise<E[]>,
  key: unknown[],
  pollMs: number | null,
): Async<E[]> {
  const seen = useRef<{ key: string; events: E[] }>({ key: '', events: [] });
  const k = JSON.stringify(key);
  return useAsync(
    async (signal) => {
      if (seen.current.key !== k) seen.current = { key: k, events: [] };
      const events = seen.current.events;
      for (;;) {
        const page = await list({ afterId: events.at(-1)?.id ?? 0, limit: 1000 }, signal);
        if (signal.aborted) return events;
        events.push(...page);
        if (page.length < 1000) break;
      }
      seen.current.events = events;
      return [...events];
    },
    key,
    pollMs,
  );
}
