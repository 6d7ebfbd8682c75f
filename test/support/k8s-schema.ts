/**
 * Strict zod schemas for the Kubernetes objects in manifests/, written from the Kubernetes API
 * reference (apps/v1 DaemonSet, core/v1 PodSpec, Container, SecurityContext, Probe, Volume,
 * Toleration, EnvVar, ResourceRequirements; kustomize.config.k8s.io/v1beta1 Kustomization).
 * Only the fields the manifests use (plus a few close relatives) are modelled, and every object
 * is strict: a misspelled or unknown field fails validation instead of being silently dropped,
 * which is what the API server's strict field validation (kubectl's default since 1.27) does.
 * Cross-field rules the API server enforces for these fields are in `daemonSetProblems`.
 *
 * Why not the npm package kubernetes-models: the design card keeps dependencies to koffi, pino,
 * zod and tap; this file covers the fields used, and is checked against known-bad inputs in
 * test/deploy/manifests.test.ts.
 */
import { z } from 'zod';

/** RFC 1123 label (container names, port names, namespace names): at most 63 characters. */
const dns1123Label = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be an RFC 1123 label');
/** RFC 1123 subdomain (object names): at most 253 characters. */
const dns1123Subdomain = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be an RFC 1123 subdomain');

/** Label keys: optional DNS prefix + '/' + name of at most 63 characters; values at most 63. */
const labelKey = z.string().regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, 'must be a qualified label key');
const labelValue = z.string().regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/, 'must be a label value');
const labels = z.record(labelKey, labelValue);
const annotations = z.record(labelKey, z.string());

export const objectMeta = z.strictObject({
  name: dns1123Subdomain,
  namespace: dns1123Label.optional(),
  labels: labels.optional(),
  annotations: annotations.optional(),
});

/** resource.Quantity in canonical-ish form: a decimal number with an SI / binary / exponent suffix. */
export const QUANTITY_RE = /^\+?(\d+(\.\d*)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+)?$/;
const quantity = z.union([z.string().regex(QUANTITY_RE, 'must be a resource quantity (e.g. 100m, 64Mi)'), z.number().nonnegative()]);

const SUFFIX: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The value of a quantity in base units (cores, bytes). */
export function quantityValue(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = QUANTITY_RE.exec(q);
  if (!m || m[1] === undefined) throw new Error(`not a quantity: ${q}`);
  const suffix = m[3] ?? '';
  if (/^[eE]/.test(suffix)) return Number(m[1] + suffix);
  const factor = SUFFIX[suffix];
  if (factor === undefined) throw new Error(`unknown quantity suffix in ${q}`);
  return Number(m[1]) * factor;
}

const resourceName = z.enum(['cpu', 'memory', 'ephemeral-storage']);
const resourceList = z.partialRecord(resourceName, quantity);
export const resourceRequirements = z.strictObject({
  requests: resourceList.optional(),
  limits: resourceList.optional(),
});

/** Linux capability names as Kubernetes takes them (capabilities(7) without the CAP_ prefix). */
export const CAPABILITY_NAMES = [
  'AUDIT_CONTROL',
  'AUDIT_READ',
  'AUDIT_WRITE',
  'BLOCK_SUSPEND',
  'BPF',
  'CHECKPOINT_RESTORE',
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'IPC_LOCK',
  'IPC_OWNER',
  'KILL',
  'LEASE',
  'LINUX_IMMUTABLE',
  'MAC_ADMIN',
  'MAC_OVERRIDE',
  'MKNOD',
  'NET_ADMIN',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_RAW',
  'PERFMON',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_CHROOT',
  'SYS_MODULE',
  'SYS_NICE',
  'SYS_PACCT',
  'SYS_PTRACE',
  'SYS_RAWIO',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'SYSLOG',
  'WAKE_ALARM',
] as const;
const capability = z.enum(['ALL', ...CAPABILITY_NAMES]);

export const securityContext = z.strictObject({
  privileged: z.boolean().optional(),
  allowPrivilegeEscalation: z.boolean().optional(),
  readOnlyRootFilesystem: z.boolean().optional(),
  runAsUser: z.number().int().nonnegative().optional(),
  runAsGroup: z.number().int().nonnegative().optional(),
  runAsNonRoot: z.boolean().optional(),
  procMount: z.enum(['Default', 'Unmasked']).optional(),
  capabilities: z
    .strictObject({
      add: z.array(capability).optional(),
      drop: z.array(capability).optional(),
    })
    .optional(),
  seccompProfile: z
    .strictObject({
      type: z.enum(['RuntimeDefault', 'Unconfined', 'Localhost']),
      localhostProfile: z.string().optional(),
    })
    .optional(),
});

const execAction = z.strictObject({ command: z.array(z.string().min(1)).min(1) });
export const probe = z.strictObject({
  exec: execAction,
  initialDelaySeconds: z.number().int().nonnegative().optional(),
  periodSeconds: z.number().int().min(1).optional(),
  timeoutSeconds: z.number().int().min(1).optional(),
  successThreshold: z.literal(1).optional(),
  failureThreshold: z.number().int().min(1).optional(),
  terminationGracePeriodSeconds: z.number().int().min(1).optional(),
});

const envVarName = z.string().regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/, 'must be a valid environment variable name');
/** fieldPaths the downward API accepts in env (core/v1 validation). */
const DOWNWARD_ENV_FIELDS = [
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
] as const;
const envVar = z
  .strictObject({
    name: envVarName,
    value: z.string().optional(),
    valueFrom: z
      .strictObject({
        fieldRef: z.strictObject({
          apiVersion: z.literal('v1').optional(),
          fieldPath: z.enum(DOWNWARD_ENV_FIELDS),
        }),
      })
      .optional(),
  })
  .refine((e) => !(e.value !== undefined && e.valueFrom !== undefined), { error: 'value and valueFrom are exclusive' });

const volumeMount = z.strictObject({
  name: dns1123Label,
  mountPath: z.string().startsWith('/'),
  readOnly: z.boolean().optional(),
  mountPropagation: z.enum(['None', 'HostToContainer', 'Bidirectional']).optional(),
  subPath: z.string().optional(),
});

export const container = z.strictObject({
  name: dns1123Label,
  image: z.string().min(1),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  env: z.array(envVar).optional(),
  resources: resourceRequirements.optional(),
  startupProbe: probe.optional(),
  livenessProbe: probe.optional(),
  readinessProbe: probe.optional(),
  securityContext: securityContext.optional(),
  volumeMounts: z.array(volumeMount).optional(),
  terminationMessagePolicy: z.enum(['File', 'FallbackToLogsOnError']).optional(),
});

export const toleration = z
  .strictObject({
    key: z.string().optional(),
    operator: z.enum(['Exists', 'Equal']).optional(),
    value: z.string().optional(),
    effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
    tolerationSeconds: z.number().int().optional(),
  })
  .refine((t) => !(t.operator === 'Exists' && t.value !== undefined && t.value !== ''), { error: 'value must be empty when operator is Exists' })
  .refine((t) => !(t.key === undefined && t.operator !== 'Exists'), { error: 'operator must be Exists when key is empty' })
  .refine((t) => t.tolerationSeconds === undefined || t.effect === 'NoExecute', { error: 'tolerationSeconds requires effect NoExecute' });

const hostPathType = z.enum(['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice']);
export const volume = z.strictObject({
  name: dns1123Label,
  hostPath: z.strictObject({ path: z.string().startsWith('/'), type: hostPathType.optional() }),
});

export const podSpec = z.strictObject({
  hostPID: z.boolean().optional(),
  hostNetwork: z.boolean().optional(),
  hostIPC: z.boolean().optional(),
  automountServiceAccountToken: z.boolean().optional(),
  enableServiceLinks: z.boolean().optional(),
  serviceAccountName: dns1123Subdomain.optional(),
  priorityClassName: z.string().optional(),
  terminationGracePeriodSeconds: z.number().int().nonnegative().optional(),
  nodeSelector: z.record(z.string(), z.string()).optional(),
  tolerations: z.array(toleration).optional(),
  containers: z.array(container).min(1),
  volumes: z.array(volume).optional(),
});

export const daemonSet = z.strictObject({
  apiVersion: z.literal('apps/v1'),
  kind: z.literal('DaemonSet'),
  metadata: objectMeta,
  spec: z.strictObject({
    selector: z.strictObject({ matchLabels: labels }),
    updateStrategy: z
      .strictObject({
        type: z.enum(['RollingUpdate', 'OnDelete']),
        rollingUpdate: z
          .strictObject({
            maxUnavailable: z.union([z.number().int().nonnegative(), z.string().regex(/^\d+%$/)]).optional(),
            maxSurge: z.union([z.number().int().nonnegative(), z.string().regex(/^\d+%$/)]).optional(),
          })
          .optional(),
      })
      .optional(),
    minReadySeconds: z.number().int().nonnegative().optional(),
    revisionHistoryLimit: z.number().int().nonnegative().optional(),
    template: z.strictObject({
      metadata: z.strictObject({ labels, annotations: annotations.optional() }),
      spec: podSpec,
    }),
  }),
});
export type DaemonSet = z.output<typeof daemonSet>;

export const kustomization = z.strictObject({
  apiVersion: z.literal('kustomize.config.k8s.io/v1beta1'),
  kind: z.literal('Kustomization'),
  namespace: dns1123Label.optional(),
  resources: z.array(z.string().min(1)).min(1),
  images: z.array(z.strictObject({ name: z.string().min(1), newName: z.string().min(1).optional(), newTag: z.string().min(1).optional(), digest: z.string().optional() })).optional(),
});
export type Kustomization = z.output<typeof kustomization>;

/**
 * Cross-field rules of the API server's validation for the fields used (apps/v1 DaemonSet and
 * core/v1 PodSpec): selector must match the template's labels; volume mounts must name a volume;
 * names unique; RollingUpdate's maxUnavailable must not be 0 (with no maxSurge);
 * allowPrivilegeEscalation=false is rejected together with privileged=true or an added SYS_ADMIN;
 * limits must not be below requests.
 */
export function daemonSetProblems(ds: DaemonSet): string[] {
  const problems: string[] = [];
  const tmplLabels = ds.spec.template.metadata.labels;
  for (const [k, v] of Object.entries(ds.spec.selector.matchLabels)) {
    if (tmplLabels[k] !== v) problems.push(`spec.selector: ${k}=${v} does not match the template's labels`);
  }
  const pod = ds.spec.template.spec;
  const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
  if (volumes.size !== (pod.volumes ?? []).length) problems.push('spec.template.spec.volumes: duplicate names');
  const names = new Set<string>();
  for (const c of pod.containers) {
    if (names.has(c.name)) problems.push(`containers: duplicate name ${c.name}`);
    names.add(c.name);
    for (const m of c.volumeMounts ?? []) {
      if (!volumes.has(m.name)) problems.push(`container ${c.name}: volumeMount ${m.name} names no volume`);
    }
    const sc = c.securityContext;
    if (sc?.allowPrivilegeEscalation === false) {
      if (sc.privileged === true) problems.push(`container ${c.name}: cannot set allowPrivilegeEscalation to false and privileged to true`);
      if ((sc.capabilities?.add ?? []).includes('SYS_ADMIN')) problems.push(`container ${c.name}: cannot set allowPrivilegeEscalation to false and capabilities.Add CAP_SYS_ADMIN`);
    }
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    for (const r of ['cpu', 'memory', 'ephemeral-storage'] as const) {
      const rq = req[r];
      const lm = lim[r];
      if (rq !== undefined && lm !== undefined && quantityValue(rq) > quantityValue(lm)) {
        problems.push(`container ${c.name}: ${r} request ${rq} exceeds its limit ${lm}`);
      }
    }
    const seen = new Set<string>();
    for (const e of c.env ?? []) {
      if (e.value === undefined && e.valueFrom === undefined) continue;
      if (seen.has(e.name)) problems.push(`container ${c.name}: env ${e.name} twice`);
      seen.add(e.name);
    }
  }
  const ru = ds.spec.updateStrategy?.rollingUpdate;
  if (ru && (ru.maxUnavailable === 0 || ru.maxUnavailable === '0%') && (ru.maxSurge === undefined || ru.maxSurge === 0 || ru.maxSurge === '0%')) {
    problems.push('spec.updateStrategy.rollingUpdate: maxUnavailable and maxSurge cannot both be 0');
  }
  return problems;
}
