import type { ModeldClient, Upload } from '../../src/client/index.js';
import { fmtBytes } from './ui.js';

/** An upload name the server accepts, made from a local file name (other characters become '_'). */
export function uploadName(fileName: string): string {
  const cleaned = fileName.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[^A-Za-z0-9]+/, '');
  return (cleaned || 'file').slice(0, 128);
}

export interface UploadState {
  name: string;
  sent: number;
  total: number;
  done: boolean;
}

/** Uploads one Blob under `name`, reporting progress (XMLHttpRequest upload events through the client). */
export async function uploadWithProgress(client: ModeldClient, name: string, file: Blob, onState: (s: UploadState) => void): Promise<Upload> {
  onState({ name, sent: 0, total: file.size, done: false });
  const up = await client.uploadFile(name, file, { onProgress: (p) => onState({ name, sent: p.sentBytes, total: p.totalBytes ?? file.size, done: false }) });
  onState({ name, sent: file.size, total: file.size, done: true });
  return up;
}

export function UploadBar(props: { state: UploadState | null | undefined; label: string }) {
  const s = props.state;
  if (!s) return null;
  const pct = s.total > 0 ? Math.round((s.sent / s.total) * 100) : 100;
  return (
    <div class="upload-bar" data-testid={`upload-${props.label}`}>
      <label>
        {props.label}: {s.name} — {fmtBytes(s.sent)} of {fmtBytes(s.total)} {s.done ? '(uploaded)' : `(${pct}%)`}
        <progress max={100} value={pct} />
      </label>
    </div>
  );
}
