/**
 * Loading the deployment files for test/deploy/: the Kubernetes manifests (YAML, validated by the
 * strict schemas in k8s-schema.ts) and a small Dockerfile parser (instructions with line
 * continuations joined, comments dropped, exec-form JSON arrays decoded, ARG defaults substituted
 * into FROM). The `yaml` package is tap's own YAML dependency (tap-yaml), pinned by package-lock.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { daemonSet, kustomization, type DaemonSet, type Kustomization } from './k8s-schema.js';
import { repo } from './daemon.js';

export const manifestsDir = path.join(repo, 'manifests');

/** Every YAML document of a file, as plain JS values; throws on a YAML syntax error. */
export function yamlDocuments(file: string): unknown[] {
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'));
  const out: unknown[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    const v: unknown = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

export interface Manifests {
  kustomization: Kustomization;
  daemonSet: DaemonSet;
  /** The resources listed by the kustomization, as parsed (before validation). */
  raw: unknown[];
}

/** Loads manifests/kustomization.yaml and its resources; throws with zod's message if invalid. */
export function loadManifests(dir = manifestsDir): Manifests {
  const k = kustomization.parse(yamlDocuments(path.join(dir, 'kustomization.yaml'))[0]);
  const raw = k.resources.flatMap((r) => yamlDocuments(path.join(dir, r)));
  const dsRaw = raw.filter((o) => typeof o === 'object' && o !== null && (o as { kind?: unknown }).kind === 'DaemonSet');
  if (dsRaw.length !== 1) throw new Error(`expected exactly one DaemonSet, found ${dsRaw.length}`);
  return { kustomization: k, daemonSet: daemonSet.parse(dsRaw[0]), raw };
}

/** The capabilities the DaemonSet's (only) container adds, lower case without CAP_ (setpriv's spelling). */
export function manifestCapabilities(ds: DaemonSet): string[] {
  const c = ds.spec.template.spec.containers[0];
  if (!c) throw new Error('no container');
  return (c.securityContext?.capabilities?.add ?? []).map((cap) => cap.toLowerCase());
}

/** What kustomize does with this kustomization: set the namespace, rewrite image references. */
export function renderKustomization(m: Manifests): DaemonSet {
  const ds: DaemonSet = structuredClone(m.daemonSet);
  if (m.kustomization.namespace !== undefined) ds.metadata.namespace = m.kustomization.namespace;
  for (const c of ds.spec.template.spec.containers) {
    const [name, tag] = splitImage(c.image);
    const rule = (m.kustomization.images ?? []).find((i) => i.name === name);
    if (rule) c.image = `${rule.newName ?? name}:${rule.newTag ?? tag ?? 'latest'}`;
  }
  return ds;
}

function splitImage(image: string): [string, string | undefined] {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? [image.slice(0, colon), image.slice(colon + 1)] : [image, undefined];
}

// ---------------------------------------------------------------- Dockerfile

export interface DockerInstruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  keyword: string;
  /** The text after the keyword, continuations joined with a space. */
  args: string;
  /** Exec form (a JSON array), when the arguments are one. */
  exec: string[] | null;
  /** --flag=value options at the start (COPY --from=build, HEALTHCHECK --interval=30s). */
  flags: Map<string, string>;
  line: number;
}

export interface DockerStage {
  /** FROM's image after ARG substitution. */
  image: string;
  name: string | null;
  instructions: DockerInstruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Map<string, string>;
  stages: DockerStage[];
  /** HEALTHCHECK's CMD, parsed as an instruction of its own. */
  all: DockerInstruction[];
}

function parseFlags(text: string): { flags: Map<string, string>; rest: string } {
  const flags = new Map<string, string>();
  let rest = text.trimStart();
  for (;;) {
    const m = /^--([a-z-]+)(?:=(\S*))?\s+/.exec(rest);
    if (!m || m[1] === undefined) break;
    flags.set(m[1], m[2] ?? '');
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}

function execForm(text: string): string[] | null {
  const t = text.trim();
  if (!t.startsWith('[')) return null;
  try {
    const v: unknown = JSON.parse(t);
    return Array.isArray(v) && v.every((x): x is string => typeof x === 'string') ? v : null;
  } catch {
    return null;
  }
}

export function parseDockerfile(text: string): Dockerfile {
  const logical: { text: string; line: number }[] = [];
  let buf = '';
  let start = 0;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (buf === '' && (/^\s*#/.test(line) || line.trim() === '')) return;
    if (buf !== '' && /^\s*#/.test(line)) return; // comments inside a continuation are dropped
    if (buf === '') start = i + 1;
    if (/\\\s*$/.test(line)) {
      buf += line.replace(/\\\s*$/, '') + ' ';
      return;
    }
    buf += line;
    logical.push({ text: buf.trim(), line: start });
    buf = '';
  });
  if (buf !== '') logical.push({ text: buf.trim(), line: start });

  const globalArgs = new Map<string, string>();
  const stages: DockerStage[] = [];
  const all: DockerInstruction[] = [];
  for (const { text: l, line } of logical) {
    const m = /^([A-Za-z]+)\s*(.*)$/s.exec(l);
    if (!m || m[1] === undefined) throw new Error(`Dockerfile line ${line}: cannot parse '${l}'`);
    const keyword = m[1].toUpperCase();
    const rest = m[2] ?? '';
    const { flags, rest: afterFlags } = parseFlags(rest);
    const ins: DockerInstruction = { keyword, args: afterFlags, exec: execForm(afterFlags), flags, line };
    all.push(ins);
    if (keyword === 'ARG' && stages.length === 0) {
      const a = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(afterFlags.trim());
      if (a && a[1] !== undefined) globalArgs.set(a[1], (a[2] ?? '').replace(/^"(.*)"$/, '$1'));
      continue;
    }
    if (keyword === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(afterFlags.trim());
      if (!f || f[1] === undefined) throw new Error(`Dockerfile line ${line}: bad FROM`);
      const image = f[1].replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_s, a: string | undefined, b: string | undefined) => globalArgs.get(a ?? b ?? '') ?? '');
      stages.push({ image, name: f[2] ?? null, instructions: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) throw new Error(`Dockerfile line ${line}: ${keyword} before FROM`);
    stage.instructions.push(ins);
  }
  return { globalArgs, stages, all };
}

/** The shell words of a RUN in shell form, split on `&&`, `;` and `|` into commands. */
export function shellCommands(run: string): string[][] {
  return run
    .split(/&&|\|\||;|\|/)
    .map((c) =>
      c
        .trim()
        .split(/\s+/)
        .filter((w) => w !== ''),
    )
    .filter((c) => c.length > 0);
}
