import type { Command } from 'commander';
import { isModeldClientError, type DeploymentEvent, type PatchDeploymentRequest } from '../../client/index.js';
import { CliError, CliErrorCodes } from '../cli-error.js';
import { CommandContext } from '../context.js';
import { deploymentsTable, eventLine, eventsTable } from '../format.js';
import type { CliIo } from '../io.js';
import { jsonObject, nonNegativeInt, positiveInt, seconds } from '../parse.js';
import { waitWithProgress } from '../waiting.js';

const DEFAULT_WAIT_SECONDS = 600;
const FOLLOW_INTERVAL_MS = 1000;

/** `modeld deploy MODEL ...`: creates a deployment, optionally waits for it with a progress line. */
export function registerDeploy(program: Command, io: CliIo): void {
  program
    .command('deploy')
    .description('deploy a custom model (AVAILABLE) with min..max replicas')
    .argument('<model>', 'custom model id')
    .option('--region <region>', 'region to run the replicas in', 'local')
    .option('--min <n>', 'minimum replicas', positiveInt, 1)
    .option('--max <n>', 'maximum replicas (default: --min)', positiveInt)
    .option('--config <json>', 'deployment config, a JSON object handed to every replica', jsonObject)
    .option('--wait', 'wait until DEPLOYED (progress on stderr); exit 1 on DEPLOY_FAILED, 130 on Ctrl-C (the deployment stays)')
    .option('--timeout <seconds>', 'give up waiting after this long', seconds, DEFAULT_WAIT_SECONDS)
    .action(
      async (
        modelId: string,
        opts: { region: string; min: number; max?: number; config?: Record<string, unknown>; wait?: boolean; timeout: number },
        command: Command,
      ) => {
        const ctx = new CommandContext(io, command);
        const created = await ctx.client().createDeployment({
          modelId,
          region: opts.region,
          minReplicas: opts.min,
          maxReplicas: opts.max ?? opts.min,
          ...(opts.config !== undefined && { config: opts.config }),
        });
        if (!opts.wait) {
          if (ctx.json) ctx.outJson(created);
          else ctx.out(`deployment ${created.id} ${created.state} (model ${created.modelId}, region ${created.region}, ${created.minReplicas}..${created.maxReplicas} replicas)`);
          return;
        }
        ctx.note(`deployment ${created.id} created; waiting for it (Ctrl-C stops waiting, not the deployment)`);
        const deployed = await waitWithProgress(ctx, created.id, 'deployed', opts.timeout * 1000);
        if (ctx.json) ctx.outJson(deployed);
        else ctx.out(`deployment ${deployed.id} DEPLOYED: ${deployed.status?.readyReplicas ?? '?'}/${deployed.status?.desiredReplicas ?? '?'} replicas ready`);
      },
    );
}

/** `modeld deployments list|get|scale|delete|events`. */
export function registerDeployments(program: Command, io: CliIo): void {
  const deployments = program.command('deployments').description('deployments of models and their replicas');

  deployments
    .command('list')
    .description('list deployments')
    .action(async (_opts: unknown, command: Command) => {
      const ctx = new CommandContext(io, command);
      const list = await ctx.client().listDeployments();
      if (ctx.json) ctx.outJson(list);
      else ctx.out(deploymentsTable(list));
    });

  deployments
    .command('get')
    .description('show one deployment with its status')
    .argument('<id>', 'deployment id')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = new CommandContext(io, command);
      ctx.outJson(await ctx.client().getDeployment(id));
    });

  deployments
    .command('scale')
    .description('change the replica range (rolled out without dropping requests)')
    .argument('<id>', 'deployment id')
    .option('--min <n>', 'minimum replicas', positiveInt)
    .option('--max <n>', 'maximum replicas', positiveInt)
    .action(async (id: string, opts: { min?: number; max?: number }, command: Command) => {
      const ctx = new CommandContext(io, command);
      if (opts.min === undefined && opts.max === undefined) throw new CliError(CliErrorCodes.USAGE, 'give --min, --max or both');
      const patch: PatchDeploymentRequest = {};
      if (opts.min !== undefined) patch.minReplicas = opts.min;
      if (opts.max !== undefined) patch.maxReplicas = opts.max;
      const d = await ctx.client().patchDeployment(id, patch);
      if (ctx.json) ctx.outJson(d);
      else ctx.out(`deployment ${d.id} now ${d.minReplicas}..${d.maxReplicas} replicas (${d.state})`);
    });

  deployments
    .command('delete')
    .description('delete a deployment (also while DEPLOYING); its replicas are drained, then stopped')
    .argument('<id>', 'deployment id')
    .option('--wait', 'wait until the deployment is gone (progress on stderr)')
    .option('--timeout <seconds>', 'give up waiting after this long', seconds, DEFAULT_WAIT_SECONDS)
    .action(async (id: string, opts: { wait?: boolean; timeout: number }, command: Command) => {
      const ctx = new CommandContext(io, command);
      const d = await ctx.client().deleteDeployment(id);
      if (!opts.wait) {
        if (ctx.json) ctx.outJson(d);
        else ctx.out(`deployment ${d.id} ${d.state}`);
        return;
      }
      await waitWithProgress(ctx, id, 'deleted', opts.timeout * 1000);
      if (ctx.json) ctx.outJson({ id, deleted: true });
      else ctx.out(`deployment ${id} deleted`);
    });

  deployments
    .command('events')
    .description('what happened to a deployment and why, oldest first')
    .argument('<id>', 'deployment id')
    .option('--after <event-id>', 'only events after this id', nonNegativeInt)
    .option('--limit <n>', 'at most this many events', positiveInt)
    .option('-f, --follow', 'keep printing new events until Ctrl-C or the deployment is removed')
    .action(async (id: string, opts: { after?: number; limit?: number; follow?: boolean }, command: Command) => {
      const ctx = new CommandContext(io, command);
      const client = ctx.client();
      const first = await client.listDeploymentEvents(id, { afterId: opts.after, limit: opts.limit });
      if (!opts.follow) {
        if (ctx.json) ctx.outJson(first);
        else ctx.out(eventsTable(first));
        return;
      }
      // Follow: one event per line (JSON lines with --json), polling with afterId = last id seen.
      const print = (events: DeploymentEvent[]) => {
        for (const e of events) ctx.out(ctx.json ? JSON.stringify(e) : eventLine(e));
      };
      print(first);
      let afterId = first.at(-1)?.id ?? opts.after ?? 0;
      const stop = new AbortController();
      const unregister = io.onStopSignal(() => stop.abort());
      try {
        while (!stop.signal.aborted) {
          await pause(FOLLOW_INTERVAL_MS, stop.signal);
          if (stop.signal.aborted) break;
          let events: DeploymentEvent[];
          try {
            events = await client.listDeploymentEvents(id, { afterId }, { signal: stop.signal });
          } catch (err) {
            if (stop.signal.aborted) break;
            if (isModeldClientError(err) && err.status === 404) {
              ctx.note(`deployment ${id} was removed`);
              break;
            }
            throw err;
          }
          print(events);
          afterId = events.at(-1)?.id ?? afterId;
        }
      } finally {
        unregister();
      }
    });
}

/** Resolves after `ms`, or at once when `signal` fires (never rejects). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
