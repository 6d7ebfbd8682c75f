/**
 * `scope-namespaces serve`: the Weave Scope probe plugin daemon. Order of start-up: validate the
 * configuration, refuse if another instance answers on the socket, take the first snapshot, then
 * listen (so the first answer is never empty). SIGINT/SIGTERM: stop, remove socket and directory,
 * exit 0 within 2 s. Fatal errors: log, remove the socket, exit 1.
 */
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { createReportServer } from '../server/http.js';
import { SnapshotSource } from '../server/snapshots.js';
import { AnotherInstanceError, listenOnSocket, prepareRegistration, removeRegistration, type Registration } from '../server/socket.js';
import { ConfigError, EXIT_USAGE, parseServeConfig, type ServeConfig } from './config.js';
import { createLogger } from './logging.js';

export const EXIT_FATAL = 1;
/** Hard deadline for a clean stop; the issue asks for under 2 s. */
const STOP_DEADLINE_MS = 1500;

export const SERVE_HELP = `Usage: scope-namespaces serve [options]

Serve the host's namespaces to a Weave Scope probe over <plugins-root>/<id>/<id>.sock.

Options:
  --plugins-root DIR   the probe's plugins root (default /var/run/scope/plugins)
  --plugin-id ID       plugin id and socket name (default host-namespaces)
  --hostname NAME      host node name (default: env SCOPE_HOSTNAME, else the hostname of
                       the host's UTS namespace via <proc>/1 or 2, else os.hostname())
  --interval DURATION  refresh period, e.g. 500ms, 5s, 1m (default 5s, at least 1s)
  --proc DIR           procfs to scan (default /proc)
  --topologies LIST    which Scope topologies to report: any of host,process,container,
                       comma-separated (default host,process,container)
  --log-level LEVEL    trace|debug|info|warn|error|fatal|silent (env LOG_LEVEL, default info)
  --log-format FORMAT  json|pretty|auto (env LOG_FORMAT, default auto: pretty on a terminal)
  -h, --help           this text
`;

export async function runServe(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let cfg: ServeConfig | 'help';
  try {
    cfg = await parseServeConfig(argv, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(err.problems.map((p) => `scope-namespaces serve: ${p}\n`).join('') + "Try 'scope-namespaces serve --help'.\n");
    return EXIT_USAGE;
  }
  if (cfg === 'help') {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  const log = createLogger(cfg.logLevel, cfg.logFormat);
  return new Daemon(cfg, log).run();
}

class Daemon {
  private reg: Registration | null = null;
  private ino: number | null = null;
  private server: Server | null = null;
  private source: SnapshotSource | null = null;
  private stopping = false;

  constructor(
    private readonly cfg: ServeConfig,
    private readonly log: Logger,
  ) {}

  async run(): Promise<number> {
    const { cfg, log } = this;
    log.info(
      { pluginId: cfg.pluginId, hostname: cfg.hostname, hostnameSource: cfg.hostnameSource, proc: cfg.proc, intervalMs: cfg.intervalMs, pluginsRoot: cfg.pluginsRoot, topologies: cfg.topologies },
      'starting',
    );
    if (cfg.hostnameFallback !== undefined) log.warn({ hostname: cfg.hostname, why: cfg.hostnameFallback }, 'host node named after os.hostname(): the host UTS namespace could not be read');
    process.on('SIGINT', () => this.stop('SIGINT', 0));
    process.on('SIGTERM', () => this.stop('SIGTERM', 0));
    process.on('uncaughtException', (err) => this.fatal(err, 'uncaught exception'));
    process.on('unhandledRejection', (err) => this.fatal(err, 'unhandled rejection'));

    try {
      this.reg = await prepareRegistration(cfg.pluginsRoot, cfg.pluginId);
      if (this.reg.reclaimed) log.warn({ socket: this.reg.socketPath }, 'removed a stale socket nobody answered on');
      this.source = new SnapshotSource({ params: { proc: cfg.proc, hostname: cfg.hostname, pluginId: cfg.pluginId, topologies: cfg.topologies }, intervalMs: cfg.intervalMs, log });
      await this.source.start();
      if (this.stopping) return 0;
      const source = this.source;
      this.server = createReportServer(() => source.current, log);
      this.ino = await listenOnSocket(this.server, this.reg.socketPath);
      this.server.on('error', (err) => this.fatal(err, 'server error'));
      log.info({ socket: this.reg.socketPath }, 'serving');
    } catch (err) {
      if (err instanceof AnotherInstanceError) {
        log.error({ socket: err.socketPath }, err.message);
        // The socket and directory belong to the running instance: leave them alone.
        this.reg = null;
        this.exit(EXIT_FATAL);
      } else {
        this.fatal(err, 'cannot start');
      }
    }
    // The process ends through stop()/fatal(); keep the promise pending meanwhile.
    return new Promise<number>(() => {});
  }

  private stop(signal: string, code: number): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info({ signal }, 'stopping');
    setTimeout(() => {
      this.log.warn('clean stop took too long; exiting anyway');
      this.exit(code);
    }, STOP_DEADLINE_MS).unref();
    const server = this.server;
    const closed = server
      ? new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        })
      : Promise.resolve();
    const stopped = this.source ? this.source.stop() : Promise.resolve();
    Promise.allSettled([closed, stopped]).then(() => this.exit(code), () => this.exit(code));
  }

  private fatal(err: unknown, what: string): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.log.fatal({ err: e }, `${what}: ${e.message}`);
    if (this.stopping) {
      this.exit(EXIT_FATAL);
      return;
    }
    this.stopping = true;
    void this.source?.stop();
    this.exit(EXIT_FATAL);
  }

  private exit(code: number): never {
    if (this.reg) {
      const removed = removeRegistration(this.reg, this.ino);
      this.log.info({ removed, code }, 'stopped');
      this.reg = null;
    }
    process.exit(code);
  }
}
