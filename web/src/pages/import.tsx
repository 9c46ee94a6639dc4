import { useState } from 'preact/hooks';
import { navigate } from '../router.js';
import type { Session } from '../session.js';
import { ErrorBox, Field, Link, Page, valueOf } from '../ui.js';
import { UploadBar, uploadName, type UploadState } from '../upload.js';

/**
 * M2 `imported`: from a URI (`file:///...`: one of your upload folders, or a folder under the
 * server's import roots), or from a local folder whose files are uploaded into an upload folder first.
 */
export function ImportPage(props: { session: Session }) {
  const { client } = props.session;
  const [mode, setMode] = useState<'uri' | 'folder'>('uri');
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [uri, setUri] = useState('');
  const [files, setFiles] = useState<File[]>([]);
  const [progress, setProgress] = useState<UploadState | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const uriError = mode === 'uri' && uri !== '' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(uri.trim()) ? 'a URI such as file:///srv/models/my-encoder' : null;
  const canSubmit = name.trim() !== '' && !busy && (mode === 'uri' ? uri.trim() !== '' && !uriError : files.length > 0);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!canSubmit) return;
    setBusy(true);
    setError(null);
    try {
      const base = { name: name.trim(), ...(description.trim() && { description: description.trim() }) };
      let model;
      if (mode === 'uri') {
        model = await client.importModel({ ...base, uri: uri.trim() });
      } else {
        const folder = uploadName(name.trim());
        const total = files.reduce((n, f) => n + f.size, 0);
        let done = 0;
        for (const f of files) {
          // webkitRelativePath is "<picked folder>/<path>": the path inside the picked folder is kept.
          const rel = (f.webkitRelativePath || f.name).split('/').slice(f.webkitRelativePath ? 1 : 0).map(uploadName).join('/');
          await client.uploadFile(`${folder}/${rel}`, f, {
            onProgress: (p) => setProgress({ name: `${folder}/${rel}`, sent: done + p.sentBytes, total, done: false }),
          });
          done += f.size;
        }
        setProgress({ name: folder, sent: total, total, done: true });
        model = await client.importModel({ ...base, upload: folder });
      }
      navigate(`/models/${model.id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title="Import a model" subtitle={<Link to="/models">Back to the models</Link>}>
      <form class="stack card" onSubmit={(e) => void submit(e)} aria-label="Import a model">
        <p class="muted">
          A modeld artifact (<code>manifest.json</code> and its files) or a Hugging Face export (<code>config.json</code>, <code>tokenizer.json</code>,{' '}
          <code>onnx/model.onnx</code>). The server loads it in a child process and runs one inference before it is AVAILABLE.
        </p>
        <Field id="import-name" label="Name">
          <input id="import-name" value={name} onInput={(e) => setName(valueOf(e))} required />
        </Field>
        <Field id="import-description" label="Description (optional)">
          <input id="import-description" value={description} onInput={(e) => setDescription(valueOf(e))} />
        </Field>
        <fieldset>
          <legend>Source</legend>
          <label class="inline">
            <input type="radio" name="source" checked={mode === 'uri'} onChange={() => setMode('uri')} /> A URI on the server
          </label>
          <label class="inline">
            <input type="radio" name="source" checked={mode === 'folder'} onChange={() => setMode('folder')} /> A folder from this computer
          </label>
        </fieldset>
        {mode === 'uri' ? (
          <Field
            id="import-uri"
            label="URI"
            error={uriError}
            hint="file:// URI of one of your upload folders (an upload answers its folderUri) or of a folder under the server's import roots"
          >
            <input id="import-uri" value={uri} placeholder="file:///…" onInput={(e) => setUri(valueOf(e))} required />
          </Field>
        ) : (
          <Field id="import-folder" label="Folder" hint={files.length ? `${files.length} files` : 'Pick the model folder; its files are uploaded, then imported'}>
            {/* webkitdirectory: every file of the picked folder, with its relative path */}
            <input id="import-folder" type="file" multiple {...{ webkitdirectory: true }} onChange={(e) => setFiles([...(e.currentTarget.files ?? [])])} />
          </Field>
        )}
        <UploadBar state={progress} label="files" />
        <ErrorBox error={error} title="Import failed" />
        <div class="actions">
          <button type="submit" class="primary" disabled={!canSubmit}>
            {busy ? 'Importing…' : 'Import'}
          </button>
        </div>
      </form>
    </Page>
  );
}
