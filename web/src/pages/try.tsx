import { useState } from 'preact/hooks';
import type { DataType, EmbeddingResponse, QuantizationMethod } from '../../../src/client/index.js';
import type { Session } from '../session.js';
import { ErrorBox, Field, Page, fmtNum, useAsync, valueOf } from '../ui.js';

const PRETRAINED = 'pre-trained (shared)';

export function norm(v: readonly number[]): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

export function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) dot += a[i]! * b[i]!;
  const n = norm(a) * norm(b);
  return n === 0 ? 0 : dot / n;
}

/** A colour for a similarity in [-1, 1]: white at 0, blue towards 1, red towards -1. */
function heat(s: number): { background: string; color: string } {
  const t = Math.max(-1, Math.min(1, s));
  const light = 100 - Math.abs(t) * 55;
  return { background: `hsl(${t >= 0 ? 215 : 0}, 80%, ${light}%)`, color: light < 60 ? '#fff' : '#111' };
}

/** Predictions from the browser: vectors, their shape, first values and norm, token counts, and the texts' cosine similarity heat map. */
export function TryPage(props: { session: Session; initialModel: string }) {
  const { client } = props.session;
  const targets = useAsync(
    async (signal) => {
      const models = await client.listModels({ signal }).catch(() => []);
      const deployments = await client.listDeployments({ signal }).catch(() => []);
      return {
        pretrained: models.filter((m) => m.category === PRETRAINED),
        deployments: deployments.filter((d) => d.state === 'DEPLOYED'),
        names: new Map(models.map((m) => [m.id, m.name])),
      };
    },
    [],
  );
  const [model, setModel] = useState(props.initialModel);
  const [texts, setTexts] = useState('red running shoes\nblue denim jacket\ntrail running sneakers');
  const [dataType, setDataType] = useState('');
  const [dim, setDim] = useState('');
  const [quant, setQuant] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<{ texts: string[]; res: EmbeddingResponse; tokens: string[][] | null } | null>(null);

  const lines = texts.split('\n').map((t) => t.trim()).filter(Boolean);
  const dimN = dim.trim() === '' ? undefined : Number(dim);
  const dimError = dimN !== undefined && (!Number.isInteger(dimN) || dimN < 1) ? 'a positive integer, or empty for the full size' : null;
  const chosen = model || targets.data?.deployments[0]?.id || targets.data?.pretrained[0]?.id || '';

  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await client.embed(chosen, lines, {
        ...(dataType && { dataType: dataType as DataType }),
        ...(dimN !== undefined && { dimReductionSize: dimN }),
        ...(quant && { quantize: quant as QuantizationMethod }),
      });
      const tokens = await client
        .tokenize(chosen, lines)
        .then((t) => t.generatedTokens.map((g) => g.tokens))
        .catch(() => null);
      setResult({ texts: lines, res, tokens });
    } catch (err) {
      setError(err);
      setResult(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title="Try it" subtitle="Embed a few texts with a deployment or a pre-trained model.">
      <form class="stack card" onSubmit={(e) => void run(e)} aria-label="Embed texts">
        <div class="grid four">
          <Field id="try-model" label="Deployment or model">
            <select id="try-model" value={chosen} onChange={(e) => setModel(valueOf(e))}>
              <optgroup label="Deployments (DEPLOYED)">
                {(targets.data?.deployments ?? []).map((d) => (
                  <option key={d.id} value={d.id}>
                    {targets.data?.names.get(d.modelId) ?? d.modelId.slice(0, 8)} · {d.id.slice(0, 8)}
                  </option>
                ))}
              </optgroup>
              <optgroup label="Pre-trained">
                {(targets.data?.pretrained ?? []).map((m) => (
                  <option key={m.id} value={m.id}>
                    {m.name}
                  </option>
                ))}
              </optgroup>
              {model && !targets.data?.deployments.some((d) => d.id === model) && !targets.data?.pretrained.some((m) => m.id === model) && <option value={model}>{model}</option>}
            </select>
          </Field>
          <Field id="try-datatype" label="dataType">
            <select id="try-datatype" value={dataType} onChange={(e) => setDataType(valueOf(e))}>
              <option value="">(none)</option>
              <option value="query">query</option>
              <option value="passage">passage</option>
            </select>
          </Field>
          <Field id="try-dim" label="dimReductionSize" error={dimError}>
            <input id="try-dim" inputMode="numeric" value={dim} placeholder="full size" onInput={(e) => setDim(valueOf(e))} />
          </Field>
          <Field id="try-quant" label="Quantization">
            <select id="try-quant" value={quant} onChange={(e) => setQuant(valueOf(e))}>
              <option value="">(none: float)</option>
              <option value="min-max">min-max</option>
              <option value="max-scale">max-scale</option>
            </select>
          </Field>
        </div>
        <Field id="try-texts" label="Texts (one per line)" hint={`${lines.length} texts`}>
          <textarea id="try-texts" rows={5} value={texts} onInput={(e) => setTexts(valueOf(e))} />
        </Field>
        <ErrorBox error={targets.error} />
        <ErrorBox error={error} title="Prediction failed" />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy || lines.length === 0 || !chosen || !!dimError}>
            {busy ? 'Embedding…' : 'Embed'}
          </button>
        </div>
      </form>
      {result && <Results {...result} />}
    </Page>
  );
}

function Results(props: { texts: string[]; res: EmbeddingResponse; tokens: string[][] | null }) {
  const vectors = props.res.predictions.map((p) => p.vector);
  const dims = vectors[0]?.length ?? 0;
  return (
    <>
      <section class="card">
        <h2>
          Vectors <span class="muted small" data-testid="shape">[{vectors.length} × {dims}]</span>
        </h2>
        <div class="table-wrap">
          <table data-testid="vectors-table">
            <thead>
              <tr>
                <th scope="col">Text</th>
                <th scope="col" class="num">
                  Tokens
                </th>
                <th scope="col" class="num">
                  Dims
                </th>
                <th scope="col" class="num">
                  Norm
                </th>
                <th scope="col">First values</th>
              </tr>
            </thead>
            <tbody>
              {props.res.predictions.map((p, i) => (
                <tr key={i}>
                  <td>
                    {props.texts[i]}
                    {props.tokens?.[i] && <div class="small muted mono">{props.tokens[i]!.join(' · ')}</div>}
                    {p.warning && <div class="small bad-text">{p.warning}</div>}
                  </td>
                  <td class="num">{p.tokensUsed.inputTokens}</td>
                  <td class="num">{p.vector.length}</td>
                  <td class="num" data-testid="norm">
                    {fmtNum(norm(p.vector), 4)}
                  </td>
                  <td class="mono small">
                    [{p.vector
                      .slice(0, 6)
                      .map((x) => fmtNum(x, 4))
                      .join(', ')}
                    {p.vector.length > 6 ? ', …' : ''}]
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      {vectors.length > 1 && (
        <section class="card">
          <h2>Cosine similarity</h2>
          <div class="table-wrap">
            <table class="heatmap" data-testid="heatmap">
              <thead>
                <tr>
                  <th scope="col" />
                  {props.texts.map((t, j) => (
                    <th scope="col" key={j} title={t}>
                      {j + 1}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {vectors.map((a, i) => (
                  <tr key={i}>
                    <th scope="row" title={props.texts[i]}>
                      {i + 1}. {props.texts[i]!.length > 28 ? `${props.texts[i]!.slice(0, 28)}…` : props.texts[i]}
                    </th>
                    {vectors.map((b, j) => {
                      const s = cosine(a, b);
                      return (
                        <td key={j} class="num" style={heat(s)} title={`${props.texts[i]} ~ ${props.texts[j]}: ${s.toFixed(4)}`}>
                          {s.toFixed(3)}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p class="muted small">Computed in the browser from the vectors above (for quantized vectors, on the quantized values).</p>
        </section>
      )}
    </>
  );
}
