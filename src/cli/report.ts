/** `scope-namespaces report`: one report, exactly what `serve` would answer, on stdout. */
import { reportProblems } from '../scope/schema.js';
import { takeSnapshot } from '../snapshot/full-source.js';
import { ConfigError, EXIT_USAGE, parseReportConfig } from './config.js';
import { EXIT_FAILURE } from './exit-codes.js';
import { commandHelp } from './options.js';

export const REPORT_HELP = commandHelp('report', "Print one Scope plugin report (the JSON 'serve' answers on GET /report) to stdout.");

export async function runReport(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let cfg;
  try {
    cfg = await parseReportConfig(argv, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(err.problems.map((p) => `scope-namespaces report: ${p}\n`).join(''));
    return EXIT_USAGE;
  }
  if (cfg === 'help') {
    process.stdout.write(REPORT_HELP);
    return 0;
  }
  let snap;
  try {
    snap = await takeSnapshot({ proc: cfg.proc, hostname: cfg.hostname, pluginId: cfg.pluginId, topologies: cfg.topologies, processNodes: cfg.processNodes });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    process.stderr.write(`scope-namespaces report: cannot read ${cfg.proc}: ${code}\n`);
    return EXIT_FAILURE;
  }
  // stdout is the report: the host identity's source goes to stderr, only where it needs saying.
  if (cfg.hostnameFallback !== undefined) process.stderr.write(`scope-namespaces report: warning: host node named after os.hostname() (${cfg.hostname}): ${cfg.hostnameFallback}\n`);
  for (const w of snap.stats.warnings) process.stderr.write(`scope-namespaces report: warning: ${w}\n`);
  const level = env['LOG_LEVEL'];
  const issues = Object.entries(snap.stats.issues);
  if ((level === 'debug' || level === 'trace') && issues.length > 0) {
    // Files that could not be read or parsed (skipped, as lsns skips them): counts per kind.
    process.stderr.write(`scope-namespaces report: debug: read problems: ${issues.map(([k, n]) => `${k}=${n}`).join(' ')}\n`);
  }
  const problems = reportProblems(snap.report, cfg.pluginId);
  if (problems.length > 0) {
    // A bug on our side: say so rather than print something a probe would drop.
    process.stderr.write(problems.map((p) => `scope-namespaces report: invalid report at ${p.path}: ${p.message}\n`).join(''));
    return EXIT_FAILURE;
  }
  process.stdout.write(JSON.stringify(snap.report) + '\n');
  return 0;
}
