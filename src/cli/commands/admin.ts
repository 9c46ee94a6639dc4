import type { Command } from 'commander';
import { CommandContext } from '../context.js';
import type { CliIo } from '../io.js';
import { renderTable, shortTime } from '../format.js';
import { listOf } from '../parse.js';
import { registerAdminQuotas } from './quotas.js';

/** `modeld admin customers create`, `modeld admin clients create`, `modeld admin cluster` and `modeld admin quotas show|set` (scope modeld.admin). */
export function registerAdmin(program: Command, io: CliIo): void {
  const admin = program.command('admin').description('customers and API clients (needs the modeld.admin scope)');

  const customers = admin.command('customers').description('customers (tenants)');
  customers
    .command('create')
    .description('create a customer')
    .argument('<name>', 'customer name')
    .action(async (name: string, _opts: unknown, command: Command) => {
      const ctx = new CommandContext(io, command);
      const customer = await ctx.client().createCustomer(name);
      if (ctx.json) ctx.outJson(customer);
      else ctx.out(`customer ${customer.id} (${customer.name ?? 'unnamed'}) created`);
    });

  const clients = admin.command('clients').description("customers' API clients (OAuth2 client credentials)");
  clients
    .command('create')
    .description('create an API client for a customer; its secret is shown only once')
    .argument('<customer-id>', 'customer id')
    .requiredOption('--scopes <scopes>', 'comma-separated scopes: machinelearning.model, machinelearning.predict, modeld.admin', listOf)
    .action(async (customerId: string, opts: { scopes: string[] }, command: Command) => {
      const ctx = new CommandContext(io, command);
      const created = await ctx.client().createClient(customerId, opts.scopes);
      if (ctx.json) ctx.outJson(created);
      else {
        ctx.out(
          [
            `client id:      ${created.clientId}`,
            `client secret:  ${created.clientSecret}`,
            `customer:       ${created.customerId}`,
            `scopes:         ${created.scopes.join(', ')}`,
          ].join('\n'),
        );
        ctx.note('store the secret now: the server keeps only its hash and never shows it again');
      }
    });

  admin
    .command('cluster')
    .description('the modeld instances sharing this server\'s database, and which one leads (runs the controller and the training jobs)')
    .action(async (_opts: unknown, command: Command) => {
      const ctx = new CommandContext(io, command);
      const view = await ctx.client().getCluster();
      if (ctx.json) return ctx.outJson(view);
      ctx.out(
        renderTable(
          ['INSTANCE', 'ROLE', 'LIVE', 'IN FLIGHT', 'LAST SEEN', 'URL'],
          view.instances.map((i) => [i.id + (i.id === view.self ? ' (answered)' : ''), i.leader ? 'leader' : 'follower', i.live ? 'yes' : 'no', i.inflight, shortTime(i.seenAt), i.url]),
        ),
      );
      if (view.leader === null) ctx.note('no instance holds the leader lease right now: nothing reconciles deployments until one takes it');
    });

  registerAdminQuotas(admin, io);
}
