import { useState } from 'preact/hooks';
import type { Upload } from '../../../src/client/index.js';
import type { Session } from '../session.js';
import { ConfirmButton, ErrorBox, Loading, Page, fmtBytes, fmtTime, useAsync } from '../ui.js';
import { UploadBar, uploadName, uploadWithProgress, type UploadState } from '../upload.js';

/** The customer's uploaded files (training data, model folders) and quotas: upload, delete. */
export function UploadsPage(props: { session: Session }) {
  const { client } = props.session;
  const uploads = useAsync((signal) => client.listUploads({ signal }), []);
  const quotas = useAsync((signal) => client.getQuotas({ signal }), []);
  const [progress, setProgress] = useState<UploadState | null>(null);
  const [error, setError] = useState<unknown>(null);

  const reload = async () => {
    await Promise.all([uploads.reload(), quotas.reload()]);
  };
  const onFile = async (file: File | null) => {
    if (!file) return;
    setError(null);
    try {
      await uploadWithProgress(client, uploadName(file.name), file, setProgress);
      await reload();
    } catch (err) {
      setError(err);
    }
  };
  // Files inside an upload folder are listed by path; the folder is deleted as a whole.
  const folders = new Map<string, Upload[]>();
  const files: Upload[] = [];
  for (const u of uploads.data ?? []) {
    const slash = u.name.indexOf('/');
    if (slash < 0) files.push(u);
    else {
      const top = u.name.slice(0, slash);
      folders.set(top, [...(folders.get(top) ?? []), u]);
    }
  }

  return (
    <Page title="Uploads" subtitle="Training data and model folders uploaded to this server for your customer.">
      <section class="card">
        <label class="inline">
          Upload a file{' '}
          <input type="file" data-testid="upload-input" onChange={(e) => void onFile(e.currentTarget.files?.[0] ?? null)} />
        </label>
        <UploadBar state={progress} label="file" />
        <ErrorBox error={error} title="Upload failed" />
      </section>
      <ErrorBox error={uploads.error} />
      {uploads.loading && !uploads.data ? (
        <Loading what="uploads" />
      ) : (
        <div class="table-wrap">
          <table data-testid="uploads-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col" class="num">
                  Size
                </th>
                <th scope="col">SHA-256</th>
                <th scope="col">Uploaded</th>
                <th scope="col">URI (for training data)</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {files.map((u) => (
                <tr key={u.name}>
                  <td>{u.name}</td>
                  <td class="num">{fmtBytes(u.bytes)}</td>
                  <td class="mono small">{u.sha256.slice(0, 12)}…</td>
                  <td>{fmtTime(u.uploadedAt)}</td>
                  <td class="mono small">{u.uri}</td>
                  <td>
                    <ConfirmButton
                      label="Delete"
                      danger
                      title={`Delete ${u.name}?`}
                      onConfirm={async () => {
                        await client.deleteUpload(u.name);
                        await reload();
                      }}
                    >
                      <p>The file is removed from the server. Models already trained from it keep what they learned.</p>
                    </ConfirmButton>
                  </td>
                </tr>
              ))}
              {[...folders.entries()].map(([name, inside]) => (
                <tr key={`${name}/`}>
                  <td>
                    {name}/ <span class="muted small">({inside.length} files)</span>
                  </td>
                  <td class="num">{fmtBytes(inside.reduce((n, u) => n + u.bytes, 0))}</td>
                  <td />
                  <td>{fmtTime(inside.map((u) => u.uploadedAt).sort().at(-1))}</td>
                  <td class="mono small">{inside[0]?.folderUri}</td>
                  <td>
                    <ConfirmButton
                      label="Delete"
                      danger
                      title={`Delete the folder ${name} and its ${inside.length} files?`}
                      onConfirm={async () => {
                        await client.deleteUpload(name);
                        await reload();
                      }}
                    >
                      <p>The folder and every file in it are removed. Models imported from it keep their own copy.</p>
                    </ConfirmButton>
                  </td>
                </tr>
              ))}
              {files.length + folders.size === 0 && (
                <tr>
                  <td colSpan={6} class="muted">
                    Nothing uploaded.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
      <section class="card">
        <h2>Quotas</h2>
        <ErrorBox error={quotas.error} />
        {quotas.data && (
          <dl class="props" data-testid="quotas">
            {Object.entries(quotas.data).map(([k, q]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>
                  {k === 'uploadBytes' ? `${fmtBytes(q.used)} of ${fmtBytes(q.limit)}` : `${q.used} of ${q.limit}`}
                  <progress max={q.limit || 1} value={Math.min(q.used, q.limit)} aria-label={`${k} used`} />
                </dd>
              </div>
            ))}
          </dl>
        )}
      </section>
    </Page>
  );
}
