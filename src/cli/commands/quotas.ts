import type { Command } from 'commander';
import type { CustomerQuotas, QuotaOverrides } from '../../client/index.js';
import { CommandContext } from '../context.js';
import { renderTable } from '../format.js';
import type { CliIo } from '../io.js';
import { nonNegativeInt } from '../parse.js';
import { formatBytes } from '../progress.js';

/** The quotas in the order docs/api.md lists them. */
const QUOTAS = ['deployments', 'replicas', 'models', 'trainingJobs', 'uploadFiles', 'uploadBytes'] as const;

/** `quota  used  limit`, one line per quota (bytes in units); with `overridden`, where each limit comes from (override or config default). */
export function quotasTable(quotas: CustomerQuotas, overridden?: ReadonlySet<string>): string {
  const withSource = overridden !== undefined;
  const show = (name: string, v: number) => (name === 'uploadBytes' ? formatBytes(v) : String(v));
  return renderTable(
    ['QUOTA', 'USED', 'LIMIT', ...(withSource ? ['LIMIT FROM'] : [])],
    QUOTAS.map((q) => [q, show(q, quotas[q].used), show(q, quotas[q].limit), ...(withSource ? [overridden!.has(q) ? 'override' : 'default'] : [])]),
  );
}

/** `modeld quotas`: the customer's quotas, each with its usage and limit. */
export function registerQuotas(program: Command, io: CliIo): void {
  program
    .command('quotas')
    .description("the customer's quotas: what is in use and the limit of each")
    .action(async (_opts: unknown, command: Command) => {
      const ctx = new CommandContext(io, command);
      const quotas = await ctx.client().getQuotas();
      if (ctx.json) ctx.outJson(quotas);
      else ctx.out(quotasTable(quotas));
    });
}

/** `modeld admin quotas show|set <customer-id>` (scope modeld.admin), added under the `admin` command. */
export function registerAdminQuotas(admin: Command, io: CliIo): void {
  const quotas = admin.command('quotas').description("a customer's quotas and the overrides set for it");
  quotas
    .command('show')
    .description("a customer's quotas: usage, limit, and which are set for it")
    .argument('<customer-id>', 'customer id')
    .action(async (customerId: string, _opts: unknown, command: Command) => {
      const ctx = new CommandContext(io, command);
      const view = await ctx.client().getCustomerQuotas(customerId);
      if (ctx.json) ctx.outJson(view);
      else ctx.out(quotasTable(view.quotas, new Set(Object.keys(view.overrides))));
    });
  const set = quotas
    .command('set')
    .description("replace a customer's quota overrides (quotas not given take the config defaults)")
    .argument('<customer-id>', 'customer id');
  for (const q of QUOTAS) set.option(`--${kebab(q)} <n>`, `quota ${q}`, nonNegativeInt);
  set.action(async (customerId: string, opts: Record<string, number | undefined>, command: Command) => {
    const ctx = new CommandContext(io, command);
    const overrides: QuotaOverrides = {};
    for (const q of QUOTAS) if (opts[q] !== undefined) overrides[q] = opts[q];
    const view = await ctx.client().setCustomerQuotas(customerId, overrides);
    if (ctx.json) ctx.outJson(view);
    else ctx.out(quotasTable(view.quotas, new Set(Object.keys(view.overrides))));
  });
}

function kebab(name: string): string {
  return name.replaceAll(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
