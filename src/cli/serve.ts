/**
 * `scope-namespaces serve`: the Weave Scope probe plugin daemon. Order of start-up: validate the
 * configuration, refuse if another instance answers on the socket, take the first snapshot, then
 * listen (so the first answer is never empty). SIGINT/SIGTERM: stop, remove socket and directory,
 * exit 0 within 2 s. Fatal errors: log, remove the socket, exit 1.
 */
import type { Logger } from 'pino';
import { createReportServer, type ReportServer } from '../server/http.js';
import { IncrementalSource } from '../snapshot/incremental-source.js';
import { setMallocArenaMax } from '../native/malloc.js';
import { SERVE_NODE_FLAGS } from './node-flags.js';
import { AnotherInstanceError, listenOnSocket, prepareRegistration, RegistrationError, registrationState, removeRegistration, type Registration } from '../server/socket.js';
import { ConfigError, EXIT_USAGE, parseServeConfig, type ServeConfig } from './config.js';
import { createLogger } from './logging.js';
import { commandHelp } from './options.js';

export const EXIT_FATAL = 1;
/** Hard deadline for a clean stop: an orchestrator waits a few seconds before SIGKILL. */
const STOP_DEADLINE_MS = 1500;

/** How often the daemon checks that its socket is still there (the probe rescans every 5 s). */
const REGISTRATION_CHECK_MS = 1000;

export const SERVE_HELP = commandHelp('serve', "Serve the host's namespaces to a Weave Scope probe over <plugins-root>/<id>/<id>.sock.");

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
  // One malloc arena: the daemon allocates on its main thread; helper threads' own arenas were
  // ~5-10 MB of its resident memory (see native-notes/performance-history.md).
  const arenas = setMallocArenaMax(1);
  const log = createLogger(cfg.logLevel, cfg.logFormat);
  if (!process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) {
    log.info(`node runs without ${SERVE_NODE_FLAGS.join(' ')}: V8's young generation may grow to ~32 MB more resident memory (the image's entrypoint and 'npm start' set it)`);
  }
  if (!arenas) log.debug('malloc arenas not capped (no glibc mallopt)');
  return new Daemon(cfg, log).run();
}

class Daemon {
  private reg: Registration | null = null;
  private ino: number | null = null;
  private server: ReportServer | null = null;
  /** Servers of earlier registrations, still finishing their connections. */
  private readonly retired = new Set<ReportServer>();
  private source: IncrementalSource | null = null;
  private stopping = false;
  private watcher: NodeJS.Timeout | null = null;
  private reregistering = false;

  constructor(
    private readonly cfg: ServeConfig,
    private readonly log: Logger,
  ) {}

  async run(): Promise<number> {
    const { cfg, log } = this;
    log.info(
      {
        pluginId: cfg.pluginId,
        hostname: cfg.hostname,
        hostnameSource: cfg.hostnameSource,
        proc: cfg.proc,
        intervalMs: cfg.intervalMs,
        fullRescanMs: cfg.fullRescanMs,
        processNodes: cfg.processNodes,
        pluginsRoot: cfg.pluginsRoot,
        topologies: cfg.topologies,
      },
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
      this.source = new IncrementalSource({
        params: { proc: cfg.proc, hostname: cfg.hostname, pluginId: cfg.pluginId, topologies: cfg.topologies, processNodes: cfg.processNodes },
        intervalMs: cfg.intervalMs,
        fullRescanMs: cfg.fullRescanMs,
        log,
      });
      await this.source.start();
      if (this.stopping) return 0;
      await this.listen(this.reg);
      log.info({ socket: this.reg.socketPath }, 'serving');
      this.watcher = setInterval(() => void this.checkRegistration(), REGISTRATION_CHECK_MS);
    } catch (err) {
      if (err instanceof AnotherInstanceError) {
        log.error({ socket: err.socketPath }, err.message);
        // The socket and directory belong to the running instance: leave them alone.
        this.reg = null;
        this.exit(EXIT_FATAL);
      } else if (err instanceof RegistrationError) {
        // Expected and explained by the message (permissions, something in the way): no stack.
        log.fatal(`cannot start: ${err.message}`);
        this.exit(EXIT_FATAL);
      } else {
        this.fatal(err, 'cannot start');
      }
    }
    // The process ends through stop()/fatal(); keep the promise pending meanwhile.
    return new Promise<number>(() => {});
  }

  /** A fresh HTTP server on the registration's socket; the previous one stops accepting. */
  private async listen(reg: Registration): Promise<void> {
    const source = this.source;
    if (!source) throw new Error('no snapshot source');
    const old = this.server;
    if (old) {
      // Its socket file is gone: nobody can connect to it any more. Let its requests finish.
      // Closed BEFORE the new listen: closing a unix-socket server unlinks its path, which would
      // otherwise remove the new socket.
      this.retired.add(old);
      old.close(() => this.retired.delete(old));
      old.closeIdleConnections();
      this.server = null;
    }
    const server = createReportServer(() => source.current, this.log);
    this.ino = null;
    this.ino = await listenOnSocket(server, reg.socketPath);
    // Only now: listen errors (EADDRINUSE when another instance won a start-up race) are
    // listenOnSocket's to report, and must not remove the other instance's socket on the way out.
    server.on('error', (err) => this.fatal(err, 'server error'));
    this.server = server;
  }

  /**
   * The plugin directory (or the whole plugins root) was deleted while we run: recreate it and
   * listen on a new socket, so the probe finds us again on its next rescan. If something else now
   * holds the socket path, or the directory cannot be recreated, exit 1 with the reason.
   */
  private async checkRegistration(): Promise<void> {
    const reg = this.reg;
    if (this.stopping || this.reregistering || !reg) return;
    const state = registrationState(reg.socketPath, this.ino);
    if (state === 'ours' || state === 'unknown') return;
    if (state === 'replaced') {
      this.log.fatal({ socket: reg.socketPath }, 'our socket was replaced by another file or instance; exiting');
      this.reg = null; // not ours any more: leave it alone
      this.stopping = true;
      void this.source?.stop();
      this.exit(EXIT_FATAL);
    }
    this.reregistering = true;
    try {
      this.log.warn({ socket: reg.socketPath }, 'plugin socket was removed; registering again');
      const fresh = await prepareRegistration(this.cfg.pluginsRoot, this.cfg.pluginId);
      if (this.stopping) return;
      this.reg = fresh;
      await this.listen(fresh);
      this.log.info({ socket: fresh.socketPath }, 'serving again');
    } catch (err) {
      if (this.stopping) return;
      if (err instanceof AnotherInstanceError) {
        this.log.fatal({ socket: err.socketPath }, `${err.message}; exiting`);
        this.reg = null;
        this.exit(EXIT_FATAL);
      }
      const message = err instanceof Error ? err.message : String(err);
      this.log.fatal(`cannot register again: ${message}`);
      this.stopping = true;
      void this.source?.stop();
      this.exit(EXIT_FATAL);
    } finally {
      this.reregistering = false;
    }
  }

  private stop(signal: string, code: number): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info({ signal }, 'stopping');
    setTimeout(() => {
      this.log.warn('clean stop took too long; exiting anyway');
      this.exit(code);
    }, STOP_DEADLINE_MS).unref();
    if (this.watcher) clearInterval(this.watcher);
    const servers = [...this.retired, ...(this.server ? [this.server] : [])];
    const closed = servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          if (!server.listening) resolve();
          else server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const stopped = this.source ? this.source.stop() : Promise.resolve();
    Promise.allSettled([...closed, stopped]).then(
      () => this.exit(code),
      () => this.exit(code),
    );
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
