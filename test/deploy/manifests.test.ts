/**
 * manifests/: the kustomization and the DaemonSet validate against strict schemas written from the
 * Kubernetes API reference (test/support/k8s-schema.ts) plus the API server's cross-field rules,
 * and carry what the deployment needs: Scope's namespace, hostPID, the plugins hostPath, tolerations
 * for every node, requests and limits, a liveness probe running `check`, and a non-privileged
 * security context with only the capabilities the code needs. When kubectl is installed, its
 * built-in kustomize renders the same object offline (no cluster involved).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { DaemonSet as K8sDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { daemonSet, daemonSetProblems, kustomization, quantityValue } from '../support/k8s-schema.js';
import { loadManifests, manifestCapabilities, manifestsDir, parseDockerfile, renderKustomization } from '../support/deploy.js';
import { repo } from '../support/daemon.js';

const m = loadManifests();
const ds = m.daemonSet;
const pod = ds.spec.template.spec;
const c = pod.containers[0];
const PLUGINS = '/var/run/scope/plugins';

t.test('the official OpenAPI schema (kubernetes-models) accepts the DaemonSet and rejects broken variants', async (t) => {
  const problem = (o: unknown): string | null => {
    try {
      new K8sDaemonSet(o as ConstructorParameters<typeof K8sDaemonSet>[0]).validate();
      return null;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  };
  t.equal(problem(m.raw[0]), null, 'daemonset.yaml is a valid apps/v1 DaemonSet');
  const broken: Array<[string, (o: { spec: { selector?: unknown; template: { spec: { containers: Array<{ resources: { limits: Record<string, string> } }> } } } }) => void]> = [
    ['bad quantity 64MB', (o) => (o.spec.template.spec.containers[0] ? (o.spec.template.spec.containers[0].resources.limits['memory'] = '64MB') : undefined)],
    ['no selector', (o) => delete o.spec.selector],
  ];
  for (const [name, mutate] of broken) {
    const o = structuredClone(m.raw[0]) as Parameters<typeof mutate>[0];
    mutate(o);
    t.not(problem(o), null, `rejected: ${name}`);
  }
  // kubernetes-models ignores unknown fields (a misspelled `hostPid` passes it): the strict schemas
  // below still catch those, as the API server's strict field validation would.
});

t.test('schemas: the manifests validate, and the schemas reject what the API server would', async (t) => {
  t.same(daemonSetProblems(ds), [], 'DaemonSet: no cross-field problems');
  t.equal(ds.apiVersion, 'apps/v1');
  t.same(m.kustomization.resources, ['daemonset.yaml']);
  for (const r of m.kustomization.resources) t.ok(fs.existsSync(path.join(manifestsDir, r)), `${r} exists`);

  const good = structuredClone(m.raw[0]) as Record<string, unknown>;
  t.ok(daemonSet.safeParse(good).success, 'the raw object parses');
  type Mutation = [string, (o: ReturnType<typeof clone>) => void];
  const clone = () =>
    JSON.parse(JSON.stringify(good)) as { spec: { template: { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } }; selector: { matchLabels: Record<string, string> } } };
  const bad: Mutation[] = [
    [
      'misspelled pod field hostPid',
      (o) => {
        o.spec.template.spec['hostPid'] = true;
      },
    ],
    [
      'misspelled container field livenesProbe',
      (o) => {
        o.spec.template.spec.containers[0]!['livenesProbe'] = {};
      },
    ],
    [
      'unknown capability SYS_PTRAC',
      (o) => {
        (o.spec.template.spec.containers[0]!['securityContext'] as { capabilities: { add: string[] } }).capabilities.add = ['SYS_PTRAC'];
      },
    ],
    [
      'bad quantity 64MB',
      (o) => {
        (o.spec.template.spec.containers[0]!['resources'] as { limits: Record<string, string> }).limits['memory'] = '64MB';
      },
    ],
    [
      'relative hostPath',
      (o) => {
        o.spec.template.spec['volumes'] = [{ name: 'scope-plugins', hostPath: { path: 'var/run' } }];
      },
    ],
    [
      'bad downward API field',
      (o) => {
        o.spec.template.spec.containers[0]!['env'] = [{ name: 'SCOPE_HOSTNAME', valueFrom: { fieldRef: { fieldPath: 'spec.hostname' } } }];
      },
    ],
    [
      'toleration with value and Exists',
      (o) => {
        o.spec.template.spec['tolerations'] = [{ operator: 'Exists', value: 'x' }];
      },
    ],
    [
      'container name with upper case',
      (o) => {
        o.spec.template.spec.containers[0]!['name'] = 'Scope';
      },
    ],
  ];
  for (const [what, mutate] of bad) {
    const o = clone();
    mutate(o);
    t.notOk(daemonSet.safeParse(o).success, `schema rejects: ${what}`);
  }
  const crossBad: Mutation[] = [
    [
      'selector not matching the template',
      (o) => {
        o.spec.selector.matchLabels = { app: 'other' };
      },
    ],
    [
      'SYS_ADMIN with allowPrivilegeEscalation false',
      (o) => {
        (o.spec.template.spec.containers[0]!['securityContext'] as Record<string, unknown>)['allowPrivilegeEscalation'] = false;
      },
    ],
    [
      'privileged with allowPrivilegeEscalation false',
      (o) => {
        const sc = o.spec.template.spec.containers[0]!['securityContext'] as Record<string, unknown> & { capabilities: { add: string[] } };
        sc.capabilities.add = ['SYS_PTRACE'];
        sc['allowPrivilegeEscalation'] = false;
        sc['privileged'] = true;
      },
    ],
    [
      'request above limit',
      (o) => {
        (o.spec.template.spec.containers[0]!['resources'] as { requests: Record<string, string> }).requests['memory'] = '1Gi';
      },
    ],
    [
      'mount of a missing volume',
      (o) => {
        o.spec.template.spec['volumes'] = [];
      },
    ],
  ];
  for (const [what, mutate] of crossBad) {
    const o = clone();
    mutate(o);
    const parsed = daemonSet.safeParse(o);
    t.ok(parsed.success && daemonSetProblems(parsed.data).length > 0, `cross-field rules reject: ${what}`);
  }
  t.notOk(kustomization.safeParse({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resource: ['x.yaml'] }).success, 'kustomization: misspelled resources rejected');
  t.equal(quantityValue('64Mi'), 64 * 2 ** 20);
  t.equal(quantityValue('500m'), 0.5);
  t.equal(quantityValue('1e3'), 1000);
});

t.test("Scope's namespace, and what kubectl apply -k would create", async (t) => {
  t.equal(m.kustomization.namespace, 'weave', "Weave Scope's manifests install into the weave namespace");
  const rendered = renderKustomization(m);
  t.equal(rendered.metadata.namespace, 'weave');
  t.equal(ds.metadata.namespace, undefined, 'the namespace is set in one place (the kustomization)');
  const kubectl = spawnSync('kubectl', ['kustomize', manifestsDir], { encoding: 'utf8', timeout: 30_000 });
  if (kubectl.error || kubectl.status !== 0) {
    t.skip(`compare with kubectl kustomize: unavailable (${kubectl.error?.message ?? kubectl.stderr.trim()}); rendered by the test's own kustomize rules only`, () => undefined);
    return;
  }
  const docs = parseAllDocuments(kubectl.stdout).map((d) => d.toJS() as unknown);
  t.equal(docs.length, 1, 'kubectl kustomize renders one object');
  const fromKubectl = daemonSet.parse(docs[0]);
  t.same(fromKubectl, rendered, 'kubectl kustomize (offline) renders exactly the validated object');
});

t.test('the DaemonSet has what the deployment needs', async (t) => {
  t.equal(pod.hostPID, true, 'hostPID: the host processes are visible in /proc');
  t.not(pod.hostNetwork, true, 'no hostNetwork: the plugin talks over a unix socket');
  t.equal(pod.containers.length, 1, 'one container');
  if (!c) return;

  // plugins directory
  const vol = (pod.volumes ?? []).find((v) => v.hostPath.path === PLUGINS);
  t.ok(vol, `a hostPath volume for ${PLUGINS}`);
  t.equal(vol?.hostPath.type, 'DirectoryOrCreate', 'created if the probe has not made it yet');
  const mount = (c.volumeMounts ?? []).find((vm) => vm.name === vol?.name);
  t.equal(mount?.mountPath, PLUGINS, `mounted at ${PLUGINS} (serve's default --plugins-root)`);
  t.not(mount?.readOnly, true, 'writable: serve creates its socket there');

  // every node
  t.ok(
    (pod.tolerations ?? []).some((tol) => tol.operator === 'Exists' && tol.key === undefined && tol.effect === undefined),
    'tolerates every taint (operator Exists, no key, no effect)',
  );
  t.equal(pod.nodeSelector, undefined, 'no nodeSelector');

  // resources
  for (const r of ['cpu', 'memory'] as const) {
    const rq = c.resources?.requests?.[r];
    const lm = c.resources?.limits?.[r];
    t.ok(rq !== undefined && lm !== undefined, `${r}: request and limit set`);
    if (rq !== undefined && lm !== undefined) t.ok(quantityValue(rq) <= quantityValue(lm), `${r}: ${rq} <= ${lm}`);
  }

  // probes run `check` with the image's node and compiled CLI
  const df = parseDockerfile(fs.readFileSync(path.join(repo, 'Dockerfile'), 'utf8'));
  // The ENTRYPOINT's node and main.js, without serve's node flags (check needs none).
  const entry = (df.stages.at(-1)?.instructions.find((i) => i.keyword === 'ENTRYPOINT')?.exec ?? []).filter((a) => !a.startsWith('--'));
  const live = c.livenessProbe?.exec.command ?? [];
  t.same(live.slice(0, 3), [entry[0], entry[1], 'check'], 'livenessProbe runs check with the ENTRYPOINT node and main.js');
  t.ok(live.includes('--max-age'), 'liveness fails when refreshes are stuck');
  t.same(c.startupProbe?.exec.command.slice(0, 3), [entry[0], entry[1], 'check'], 'startupProbe waits for the first snapshot');
  t.equal(c.args?.[0]?.startsWith('--'), true, 'args are serve flags (ENTRYPOINT already says serve)');

  // the host node id
  const env = (c.env ?? []).find((e) => e.name === 'SCOPE_HOSTNAME');
  t.equal(env?.valueFrom?.fieldRef.fieldPath, 'spec.nodeName', 'SCOPE_HOSTNAME from the node name (downward API)');

  // security context
  const sc = c.securityContext;
  t.not(sc?.privileged, true, 'not privileged');
  t.same(sc?.capabilities?.drop, ['ALL'], 'drops ALL capabilities');
  t.same([...manifestCapabilities(ds)].sort(), ['sys_admin', 'sys_ptrace'], 'adds only CAP_SYS_PTRACE and CAP_SYS_ADMIN (native-notes/capabilities.md)');
  t.equal(sc?.readOnlyRootFilesystem, true, 'read-only root filesystem');
  t.not(sc?.allowPrivilegeEscalation, false, 'allowPrivilegeEscalation is not false (the API server rejects it with SYS_ADMIN)');
  t.equal(sc?.runAsUser, 0, 'uid 0, as the Dockerfile (capabilities survive exec only for root)');
  t.equal(sc?.seccompProfile?.type, 'RuntimeDefault', 'the runtime default seccomp profile');
  t.equal(pod.automountServiceAccountToken, false, 'no API token: the plugin never talks to the API server');
});

t.test('native-notes/capabilities.md documents every capability the manifest adds', async (t) => {
  const notes = fs.readFileSync(path.join(repo, 'native-notes', 'capabilities.md'), 'utf8');
  for (const cap of manifestCapabilities(ds)) t.match(notes, new RegExp(`CAP_${cap.toUpperCase()}`), `CAP_${cap.toUpperCase()} documented`);
});
