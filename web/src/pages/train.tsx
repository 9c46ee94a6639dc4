import { useMemo, useState } from 'preact/hooks';
import type { Upload } from '../../../src/client/index.js';
import { navigate } from '../router.js';
import type { Session } from '../session.js';
import { CONFIG_KEYS, effectiveConfig, familiesOf, parseField, validateConfig } from '../training-keys.js';
import { ErrorBox, Field, Link, Page, fmtBytes, useAsync, valueOf } from '../ui.js';
import { UploadBar, uploadName, uploadWithProgress, type UploadState } from '../upload.js';

const TYPES: Record<string, string> = { 'ecommerce-rnn': 'mlp_ecommerce', 'general-rnn': 'mlp_general' };

/** M2 for a training: upload (or pick) catalog and signals, set config keys (defaults shown, checked here first), start. */
export function TrainPage(props: { session: Session }) {
  const { client } = props.session;
  const uploads = useAsync((signal) => client.listUploads({ signal }), []);
  // Installed pre-trained models: each can be the base of a transformer-RNN trainer (<id>_rnn).
  const pretrained = useAsync(async (signal) => (await client.listModels({ signal })).filter((m) => m.category === 'pre-trained (shared)').map((m) => m.id), []);
  const [name, setName] = useState('');
  const [modelType, setModelType] = useState('ecommerce-rnn');
  const [region, setRegion] = useState('local');
  const [files, setFiles] = useState<{ catalog: File | null; signals: File | null }>({ catalog: null, signals: null });
  const [existing, setExisting] = useState<{ catalog: string; signals: string }>({ catalog: '', signals: '' });
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [progress, setProgress] = useState<{ catalog?: UploadState; signals?: UploadState }>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  // The form's text per key -> the config to send (keys left empty are not sent: the server's default applies).
  const { given, parseErrors } = useMemo(() => {
    const given: Record<string, unknown> = { dataset_config: TYPES[modelType], trainer_config: TYPES[modelType] };
    const parseErrors: Record<string, string> = {};
    for (const k of CONFIG_KEYS) {
      const text = texts[k.key];
      if (text === undefined) continue;
      const r = parseField(k, text);
      if (r.error) parseErrors[k.key] = r.error;
      else if (r.unset) delete given[k.key];
      else given[k.key] = r.value;
    }
    return { given, parseErrors };
  }, [texts, modelType]);
  const configErrors = { ...validateConfig(given), ...parseErrors };
  const effective = effectiveConfig(given);
  const fam = familiesOf(given);
  const dataReady = (files.catalog || existing.catalog) && (files.signals || existing.signals);
  const canSubmit = name.trim() !== '' && region.trim() !== '' && dataReady && Object.keys(configErrors).length === 0 && !busy;

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!canSubmit) return;
    setBusy(true);
    setError(null);
    try {
      const uri = async (which: 'catalog' | 'signals'): Promise<string> => {
        const f = files[which];
        if (!f) return existing[which];
        const up = await uploadWithProgress(client, uploadName(f.name), f, (s) => setProgress((p) => ({ ...p, [which]: s })));
        return up.uri;
      };
      const catalog = await uri('catalog');
      const signals = await uri('signals');
      const model = await client.trainModel({ name: name.trim(), modelType, region: region.trim(), trainingData: { catalog, signals }, config: given });
      navigate(`/models/${model.id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const uploadOptions = (uploads.data ?? []).filter((u: Upload) => !u.folderUri);
  const dataField = (which: 'catalog' | 'signals', label: string, hint: string) => (
    <fieldset class="data-field">
      <legend>{label}</legend>
      <Field id={`${which}-file`} label="Upload a file" hint={hint}>
        <input
          id={`${which}-file`}
          type="file"
          accept=".csv,.tsv,.jsonl,.json,.parquet,.gz"
          onChange={(e) => {
            const f = e.currentTarget.files?.[0] ?? null;
            setFiles((x) => ({ ...x, [which]: f }));
            setProgress((p) => ({ ...p, [which]: undefined }));
          }}
        />
      </Field>
      <Field id={`${which}-existing`} label="or use an uploaded file">
        <select id={`${which}-existing`} value={existing[which]} onChange={(e) => setExisting((x) => ({ ...x, [which]: valueOf(e) }))} disabled={!!files[which]}>
          <option value="">(none)</option>
          {uploadOptions.map((u) => (
            <option key={u.uri} value={u.uri}>
              {u.name} ({fmtBytes(u.bytes)})
            </option>
          ))}
        </select>
      </Field>
      <UploadBar state={progress[which]} label={which} />
    </fieldset>
  );

  return (
    <Page title="Train a model" subtitle={<Link to="/models">Back to the models</Link>}>
      <form onSubmit={(e) => void submit(e)} class="stack" aria-label="Train a model" noValidate>
        <div class="grid three">
          <Field id="train-name" label="Name" error={name.trim() === '' ? 'required' : null}>
            <input id="train-name" value={name} onInput={(e) => setName(valueOf(e))} required />
          </Field>
          <Field id="train-type" label="Model type">
            <select id="train-type" value={modelType} onChange={(e) => setModelType(valueOf(e))}>
              {Object.keys(TYPES).map((t) => (
                <option key={t}>{t}</option>
              ))}
            </select>
          </Field>
          <Field id="train-region" label="Region">
            <input id="train-region" value={region} onInput={(e) => setRegion(valueOf(e))} required />
          </Field>
        </div>
        <div class="grid two">
          {dataField('catalog', 'Catalog', 'CSV, TSV, JSON lines or Parquet with the item id and text columns')}
          {dataField('signals', 'Signals', 'Queries and the items they led to (query, item id, optional weight)')}
        </div>
        <ErrorBox error={uploads.error} />
        <section class="card">
          <h2>Config</h2>
          <p class="muted">
            Leave a key empty for its default ({fam.dataset} dataset, {fam.trainer} trainer). Nullable columns take <code>null</code> for none.
          </p>
          <div class="table-wrap">
            <table class="config" data-testid="config-table">
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Value</th>
                  <th scope="col">Default</th>
                  <th scope="col">What it does</th>
                </tr>
              </thead>
              <tbody>
                {CONFIG_KEYS.map((k) => {
                  const id = `cfg-${k.key.replace(/[^a-z0-9]/gi, '-')}`;
                  const def = k.defaultFor(fam.dataset, fam.trainer, given);
                  const choices = k.choicesFor ? k.choicesFor(given, pretrained.data ?? []) : (k.choices ?? []);
                  const err = configErrors[k.key];
                  const text = texts[k.key] ?? (k.key === 'dataset_config' || k.key === 'trainer_config' ? String(given[k.key] ?? '') : '');
                  const set = (v: string) => setTexts((t) => ({ ...t, [k.key]: v }));
                  return (
                    <tr key={k.key} class={err ? 'invalid' : ''}>
                      <th scope="row">
                        <label for={id}>{k.label}</label>
                        <div class="mono small muted">{k.key}</div>
                      </th>
                      <td>
                        {k.kind === 'choice' ? (
                          <select id={id} value={text} onChange={(e) => set(valueOf(e))} aria-invalid={!!err}>
                            {k.key !== 'dataset_config' && k.key !== 'trainer_config' && <option value="">(default)</option>}
                            {choices.map((c) => (
                              <option key={c}>{c}</option>
                            ))}
                          </select>
                        ) : k.kind === 'boolean' ? (
                          <select id={id} value={text} onChange={(e) => set(valueOf(e))} aria-invalid={!!err}>
                            <option value="">(default)</option>
                            <option>true</option>
                            <option>false</option>
                          </select>
                        ) : (
                          <input
                            id={id}
                            value={text}
                            placeholder={def === undefined ? 'required' : JSON.stringify(def)}
                            onInput={(e) => set(valueOf(e))}
                            aria-invalid={!!err}
                            aria-describedby={err ? `${id}-err` : undefined}
                            inputMode={k.kind === 'integer' || k.kind === 'number' ? 'decimal' : undefined}
                          />
                        )}
                        {err && (
                          <small class="field-error" id={`${id}-err`} role="alert">
                            {k.key}: {err}
                          </small>
                        )}
                      </td>
                      <td class="mono small">{def === undefined ? '—' : JSON.stringify(def)}</td>
                      <td class="small">{k.doc}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <details>
            <summary>Config as it will be sent</summary>
            <pre data-testid="config-preview">{JSON.stringify(given, null, 2)}</pre>
            <p class="muted small">Effective values: {JSON.stringify(effective)}</p>
          </details>
        </section>
        <ErrorBox error={error} title="Training not started" />
        <div class="actions">
          <button type="submit" class="primary" disabled={!canSubmit}>
            {busy ? 'Uploading and starting…' : 'Start training'}
          </button>
          {!dataReady && <span class="muted">Choose a catalog and signals file.</span>}
        </div>
      </form>
    </Page>
  );
}
