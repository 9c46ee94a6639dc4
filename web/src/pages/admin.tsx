import { useState } from 'preact/hooks';
import { ClientScopes, type ClientCredentials, type ClientInfo } from '../../../src/client/index.js';
import type { Session } from '../session.js';
import { ConfirmButton, ErrorBox, Field, Loading, Page, fmtBytes, fmtTime, useAsync, valueOf } from '../ui.js';

const ALL_SCOPES = Object.values(ClientScopes);

/**
 * Admin scope: customers, their API clients (create; rotate = a new client with the same scopes,
 * its secret shown once, then the old one disabled; disable) and their quotas.
 */
export function AdminPage(props: { session: Session }) {
  const { client } = props.session;
  const customers = useAsync((signal) => client.listCustomers({ signal }), []);
  const [selected, setSelected] = useState<string>('');
  const [newName, setNewName] = useState('');
  const [error, setError] = useState<unknown>(null);
  const current = selected || customers.data?.[0]?.id || '';

  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const c = await client.createCustomer(newName.trim());
      setNewName('');
      await customers.reload();
      setSelected(c.id);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <Page title="Admin" subtitle="Customers and their API clients (scope modeld.admin).">
      <div class="grid sidebar">
        <section class="card">
          <h2>Customers</h2>
          <ErrorBox error={customers.error} />
          {customers.loading && !customers.data && <Loading />}
          <ul class="picklist" data-testid="customers">
            {(customers.data ?? []).map((c) => (
              <li key={c.id}>
                <button type="button" class={c.id === current ? 'selected' : ''} aria-pressed={c.id === current} onClick={() => setSelected(c.id)}>
                  <strong>{c.name ?? '(no name)'}</strong>
                  <span class="mono small">{c.id}</span>
                </button>
              </li>
            ))}
          </ul>
          <form class="inline-form" onSubmit={(e) => void create(e)} aria-label="Create a customer">
            <Field id="customer-name" label="New customer name">
              <input id="customer-name" value={newName} onInput={(e) => setNewName(valueOf(e))} required />
            </Field>
            <button type="submit" disabled={newName.trim() === ''}>
              Create
            </button>
          </form>
          <ErrorBox error={error} title="Not created" />
        </section>
        {current && <Clients session={props.session} customerId={current} key={current} />}
      </div>
      <Instances session={props.session} />
    </Page>
  );
}

function Clients(props: { session: Session; customerId: string }) {
  const { client } = props.session;
  const clients = useAsync((signal) => client.listClients(props.customerId, { signal }), [props.customerId]);
  const quotas = useAsync((signal) => client.getCustomerQuotas(props.customerId, { signal }), [props.customerId]);
  const [scopes, setScopes] = useState<string[]>([ClientScopes.MODEL, ClientScopes.PREDICT]);
  const [secret, setSecret] = useState<{ creds: ClientCredentials; note: string } | null>(null);
  const [error, setError] = useState<unknown>(null);

  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const creds = await client.createClient(props.customerId, scopes);
      setSecret({ creds, note: 'New client' });
      await clients.reload();
    } catch (err) {
      setError(err);
    }
  };
  const rotate = async (old: ClientInfo) => {
    const creds = await client.createClient(props.customerId, old.scopes);
    await client.disableClient(props.customerId, old.clientId);
    setSecret({ creds, note: `Replaces ${old.clientId}, now disabled` });
    await clients.reload();
  };

  return (
    <div class="stack">
      <section class="card">
        <h2>API clients</h2>
        {secret && (
          <div class="secret" role="alert" data-testid="new-secret">
            <strong>{secret.note}. Copy the secret now: it is never shown again.</strong>
            <dl class="props">
              <div>
                <dt>client id</dt>
                <dd class="mono" data-testid="new-client-id">
                  {secret.creds.clientId}
                </dd>
              </div>
              <div>
                <dt>client secret</dt>
                <dd class="mono" data-testid="new-client-secret">
                  {secret.creds.clientSecret}
                </dd>
              </div>
              <div>
                <dt>scopes</dt>
                <dd>{secret.creds.scopes.join(' ')}</dd>
              </div>
            </dl>
            <button type="button" onClick={() => void navigator.clipboard?.writeText(secret.creds.clientSecret)}>
              Copy secret
            </button>{' '}
            <button type="button" onClick={() => setSecret(null)}>
              I have stored it
            </button>
          </div>
        )}
        <ErrorBox error={clients.error} />
        <div class="table-wrap">
          <table data-testid="clients-table">
            <thead>
              <tr>
                <th scope="col">Client id</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {(clients.data ?? []).map((c) => (
                <tr key={c.clientId}>
                  <td class="mono small">
                    {c.clientId}
                    {c.clientId === props.session.clientId && <span class="badge">you</span>}
                  </td>
                  <td class="small">{c.scopes.join(' ')}</td>
                  <td>{fmtTime(c.createdAt)}</td>
                  <td>{c.disabledAt ? <span class="badge bad">disabled {fmtTime(c.disabledAt)}</span> : <span class="badge ok">active</span>}</td>
                  <td class="actions">
                    {!c.disabledAt && (
                      <>
                        <ConfirmButton label="Rotate secret" title={`Rotate the secret of ${c.clientId}?`} onConfirm={() => rotate(c)} confirmLabel="Rotate">
                          <p>A new client with the same scopes is created and its secret shown once; then this client is disabled (its secret and tokens stop working).</p>
                        </ConfirmButton>
                        <ConfirmButton
                          label="Disable"
                          danger
                          title={`Disable ${c.clientId}?`}
                          onConfirm={async () => {
                            await client.disableClient(props.customerId, c.clientId);
                            await clients.reload();
                          }}
                        >
                          <p>Its secret and every token it holds stop working at once. This cannot be undone.</p>
                        </ConfirmButton>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <form class="inline-form" onSubmit={(e) => void create(e)} aria-label="Create a client">
          <fieldset>
            <legend>New client's scopes</legend>
            {ALL_SCOPES.map((s) => (
              <label class="inline" key={s}>
                <input type="checkbox" checked={scopes.includes(s)} onChange={() => setScopes((x) => (x.includes(s) ? x.filter((y) => y !== s) : [...x, s]))} /> {s}
              </label>
            ))}
          </fieldset>
          <button type="submit" disabled={scopes.length === 0}>
            Create client
          </button>
        </form>
        <ErrorBox error={error} title="Not created" />
      </section>
      <section class="card">
        <h2>Quotas</h2>
        <ErrorBox error={quotas.error} />
        {quotas.data && (
          <table class="small">
            <thead>
              <tr>
                <th scope="col">quota</th>
                <th scope="col" class="num">
                  used
                </th>
                <th scope="col" class="num">
                  limit
                </th>
                <th scope="col">override</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(quotas.data.quotas).map(([k, q]) => (
                <tr key={k}>
                  <th scope="row">{k}</th>
                  <td class="num">{k === 'uploadBytes' ? fmtBytes(q.used) : q.used}</td>
                  <td class="num">{k === 'uploadBytes' ? fmtBytes(q.limit) : q.limit}</td>
                  <td>{(quotas.data!.overrides as Record<string, number | undefined>)[k] ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

/** The modeld instances sharing this store, and which one leads (GET /admin/cluster). */
function Instances(props: { session: Session }) {
  const cluster = useAsync((signal) => props.session.client.getCluster({ signal }), [], 10_000);
  return (
    <section class="card">
      <h2>Instances</h2>
      <ErrorBox error={cluster.error} />
      {cluster.data && (
        <div class="table-wrap">
          <table class="small" data-testid="instances-table">
            <thead>
              <tr>
                <th scope="col">Instance</th>
                <th scope="col">URL</th>
                <th scope="col">Role</th>
                <th scope="col">Live</th>
                <th scope="col" class="num">
                  In flight
                </th>
                <th scope="col">Started</th>
                <th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {cluster.data.instances.map((i) => (
                <tr key={i.id}>
                  <td class="mono">
                    {i.id}
                    {i.id === cluster.data!.self && <span class="badge">this one</span>}
                  </td>
                  <td class="mono">{i.url}</td>
                  <td>{i.leader ? <span class="badge ok">leader</span> : 'follower'}</td>
                  <td>{i.live ? <span class="badge ok">live</span> : <span class="badge bad">gone</span>}</td>
                  <td class="num">{i.inflight}</td>
                  <td>{fmtTime(i.startedAt)}</td>
                  <td>{fmtTime(i.seenAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
