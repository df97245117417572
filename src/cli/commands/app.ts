/** `netanomaly app`: the web app (JSON API + pages) on 127.0.0.1 unless told otherwise. */
import type { Command } from 'commander';
import { isLoopback, startApp } from '../../web/server.ts';
import { intOption } from '../options.ts';

export function registerAppCommands(program: Command): void {
  program
    .command('app')
    .description('start the web app: overview, clusters, predict, batch upload and live alerts')
    .option('--model <dir>', 'model bundle directory', 'models/nsl-kdd')
    .option('--host <host>', 'address to listen on (non-loopback needs the printed token)', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', intOption(0), 8501)
    .option('--alerts <file>', 'alert file (ECS JSON lines) the Live page follows')
    .option(
      '--token <token>',
      'access token for non-loopback binds (default: generated; env NETANOMALY_APP_TOKEN)',
    )
    .option('--rate-limit <n>', 'API POST requests per second per client (0 = no limit)', intOption(0), 100)
    .action(async (o) => {
      const token = o.token ?? process.env.NETANOMALY_APP_TOKEN;
      const app = await startApp({
        modelDir: o.model,
        host: o.host,
        port: o.port,
        alertsFile: o.alerts,
        rateLimit: o.rateLimit,
        ...(token ? { token } : {}),
      });
      const shown = app.token ? `${app.url}/?token=${app.token}` : app.url;
      process.stdout.write(`netanomaly app listening on ${shown}\n`);
      if (!isLoopback(app.host)) {
        process.stdout.write(
          '  bound beyond loopback: every request needs the token above (cookie or Bearer)\n',
        );
      }
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          app.close().then(resolve, resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
