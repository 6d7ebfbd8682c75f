/** `scope-namespaces capture DIR`: snapshot the live /proc and lsns's output into a fixture. */
import { capture, CaptureError } from '../capture/snapshot.js';
import { EXIT_FAILURE, EXIT_USAGE } from './exit-codes.js';

const USAGE = `Usage: scope-namespaces capture [--force] [--retries N] [--all-cmdlines] DIR

Copies what the scanner reads from the live /proc into DIR/proc and stores /usr/bin/lsns's
output for a set of cases, taken at the same moment, in DIR/expected/<n>.args and <n>.out.
  --force          replace an existing DIR/proc and DIR/expected
  --retries N      attempts to find a moment when nothing changes (default 20)
  --all-cmdlines   store every process's cmdline (default: only those lsns can show)
`;

export async function runCapture(argv: readonly string[]): Promise<number> {
  let dest: string | null = null;
  let force = false;
  let allCmdlines = false;
  let retries = 20;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      return 0;
    } else if (a === '--force') force = true;
    else if (a === '--all-cmdlines') allCmdlines = true;
    else if (a === '--retries' && i + 1 < argv.length && /^[1-9][0-9]{0,3}$/.test(argv[i + 1] as string)) retries = Number(argv[++i]);
    else if (!a.startsWith('-') && dest === null) dest = a;
    else {
      process.stderr.write(`scope-namespaces capture: bad argument '${a}'\n${USAGE}`);
      return EXIT_USAGE;
    }
  }
  if (dest === null) {
    process.stderr.write(USAGE);
    return EXIT_USAGE;
  }
  try {
    const r = await capture({ dest, force, allCmdlines, retries, log: (l) => process.stderr.write(`capture: ${l}\n`) });
    process.stderr.write(
      `capture: ${r.pids} processes into ${dest}/proc` +
        (r.lsns ? `, ${r.cases} lsns cases into ${dest}/expected` : ' (lsns missing: no expected outputs)') +
        `, after ${r.attempts} attempt(s); passwd from ${r.passwdSource ?? 'nowhere'}` +
        (r.uidRewrites.length > 0 ? `; status uid set to the /proc owner for pids ${r.uidRewrites.join(' ')}` : '') +
        '\n',
    );
    return 0;
  } catch (err) {
    const msg = err instanceof CaptureError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`scope-namespaces capture: ${msg}\n`);
    return EXIT_FAILURE;
  }
}
