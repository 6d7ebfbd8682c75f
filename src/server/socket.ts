/**
 * Registration with the Scope probe: a unix socket at `<root>/<id>/<id>.sock` in a 0700 directory.
 * Refuses to start while another instance answers on the socket, reclaims a stale one, and removes
 * socket and directory on the way out (a socket without a server stays listed as an error in Scope).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** sun_path is 108 bytes with the terminating NUL; libuv silently truncates longer paths. */
export const MAX_SOCKET_PATH_BYTES = 107;

export function socketPathFor(pluginsRoot: string, pluginId: string): string {
  return path.join(pluginsRoot, pluginId, `${pluginId}.sock`);
}

export class AnotherInstanceError extends Error {
  constructor(readonly socketPath: string) {
    super(`another instance is serving on ${socketPath}; stop it first (or pick another --plugin-id)`);
    this.name = 'AnotherInstanceError';
  }
}

/** The plugins root or the plugin directory cannot be created or used: a one-line, expected failure. */
export class RegistrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistrationError';
  }
}

function errno(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}

function cannot(what: string, p: string, err: unknown): RegistrationError {
  const code = errno(err);
  const hint = code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? ': serve needs write access to the plugins root (run it as root, or give --plugins-root a writable directory)' : '';
  return new RegistrationError(`cannot ${what} ${p}: ${code}${hint}`);
}

export type SocketState = 'absent' | 'live' | 'stale';

/** Does something answer on this socket? Refused or dead: stale. */
export function probeSocket(socketPath: string, timeoutMs = 500): Promise<SocketState> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ path: socketPath });
    const timer = setTimeout(() => {
      s.destroy();
      // Accepting connections slowly is still somebody serving: never steal a socket from a live server.
      resolve('live');
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve('live');
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT') resolve('absent');
      else if (err.code === 'ECONNREFUSED') resolve('stale');
      else reject(err);
    });
  });
}

export interface Registration {
  dir: string;
  socketPath: string;
  /** The stale socket we removed, if any. */
  reclaimed: boolean;
}

/** Creates the plugin directory (0700) and clears the way for listen(). */
export async function prepareRegistration(pluginsRoot: string, pluginId: string): Promise<Registration> {
  const socketPath = socketPathFor(pluginsRoot, pluginId);
  const dir = path.dirname(socketPath);
  try {
    fs.mkdirSync(pluginsRoot, { recursive: true });
  } catch (err) {
    throw cannot('create the plugins root', pluginsRoot, err);
  }
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw cannot('create the plugin directory', dir, err);
    const st = fs.lstatSync(dir);
    if (!st.isDirectory()) throw new RegistrationError(`${dir} exists and is not a directory; refusing to replace it`);
    try {
      if ((st.mode & 0o777) !== 0o700) fs.chmodSync(dir, 0o700);
    } catch (e) {
      throw cannot('make 0700 the plugin directory', dir, e);
    }
  }
  let reclaimed = false;
  let st: fs.Stats | null = null;
  try {
    st = fs.lstatSync(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (st) {
    if (!st.isSocket()) throw new RegistrationError(`${socketPath} exists and is not a socket; refusing to replace it`);
    const state = await probeSocket(socketPath);
    if (state === 'live') throw new AnotherInstanceError(socketPath);
    if (state === 'stale') {
      fs.rmSync(socketPath, { force: true });
      reclaimed = true;
    }
  }
  return { dir, socketPath, reclaimed };
}

/** Listens on the socket; losing a start-up race to another instance is reported as such. */
export function listenOnSocket(server: net.Server, socketPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') reject(new AnotherInstanceError(socketPath));
      else if (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS') reject(cannot('listen on', socketPath, err));
      else reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      // Remember which socket file is ours, so cleanup never removes a successor's.
      resolve(fs.statSync(socketPath).ino);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(socketPath);
  });
}

/**
 * Removes our socket (only if it is still ours: `ino` is what listen created; null = we never
 * listened, so any socket there belongs to another instance) and the plugin directory (only if
 * empty). Sync: safe in exit paths.
 */
export function removeRegistration(reg: Pick<Registration, 'dir' | 'socketPath'>, ino: number | null): string[] {
  const done: string[] = [];
  try {
    const st = fs.lstatSync(reg.socketPath);
    if (st.isSocket() && ino !== null && st.ino === ino) {
      fs.unlinkSync(reg.socketPath);
      done.push(reg.socketPath);
    }
  } catch {
    // already gone
  }
  try {
    fs.rmdirSync(reg.dir);
    done.push(reg.dir);
  } catch {
    // gone, or not empty (someone else's files): leave it
  }
  return done;
}

export type RegistrationState = 'ours' | 'missing' | 'replaced' | 'unknown';

/**
 * Is our socket still where the probe looks for it? `missing`: removed (with its directory, or the
 * whole plugins root), e.g. by a cleanup job; `replaced`: something else is at that path now;
 * `unknown`: lstat failed otherwise (look again later).
 */
export function registrationState(socketPath: string, ino: number | null): RegistrationState {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(socketPath);
  } catch (err) {
    const code = errno(err);
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'unknown';
  }
  return st.isSocket() && (ino === null || st.ino === ino) ? 'ours' : 'replaced';
}
