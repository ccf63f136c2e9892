#!/usr/bin/env node
// Offline validation of every Kubernetes manifest in manifests/ (ctest:
// manifests_validate).
//
//   node tests/manifests/validate.mjs [--manifests DIR] AGENT_BINARY
//   (or KUBEMETRICS_AGENT=AGENT_BINARY node tests/manifests/validate.mjs)
//
// 1. Every YAML document under manifests/ parses (duplicate keys are errors)
//    and is either a Kubernetes object, a kustomization.yaml or, under
//    manifests/prometheus/, a Prometheus rules/test file (checked by promtool
//    in ctest instead).
// 2. Each kustomization (the base, each overlay, and each overlay plus any
//    of its *-patch.yaml files it leaves commented out) is rendered by
//    `kubectl kustomize` (kubectl from $KUBECTL or the PATH), and what it
//    renders is what the checks below see. A small emulation of it
//    (resources, strategic-merge patches, images; anything else reported
//    as unsupported rather than ignored) must render the same objects; it
//    stands in, said so in the output, where no kubectl with kustomize is
//    installed (a minimal Debian has none: its kubernetes-client 1.20
//    predates `patches:`). Every rendered object, and every patch on its own, is
//    validated against the Kubernetes OpenAPI schemas of the npm package
//    kubernetes-models: types, enums, required fields, and (beyond what its
//    validate() checks) unknown fields, which the API server rejects too.
// 3. Invariants of the deployment: non-root containers with requests and
//    limits, read-only root filesystem, no privilege escalation, every
//    capability dropped, RuntimeDefault seccomp, probes on /healthz and
//    /readyz at the port the agent's config listens on, read-only hostPath
//    mounts matching the host source's paths, tolerations on the DaemonSet,
//    a ClusterRole granting exactly the allowed list (no more, none missing),
//    NetworkPolicies covering every agent pod on ports they have, references
//    between objects (ConfigMaps, ServiceAccounts, Service selector) intact.
//    The sharded cluster role (overlays/sharded): a StatefulSet whose
//    replicas equal sharding.total_shards, whose shard is the pod name,
//    Parallel, with a headless governing Service and the API token mounted
//    for service discovery; its ClusterRole grants exactly Services and
//    EndpointSlices list/watch, pods.metrics.k8s.io list and GET /metrics. `$patch: delete` patches
//    remove their target.
//    The proxy role: each listener the node config enables (sources.listeners)
//    listens on the DaemonSet's container port of its name, the Service
//    kubemetrics-agent-listeners (internalTrafficPolicy: Local) forwards to
//    exactly those ports, a NetworkPolicy admits them, and no rule that
//    admits every namespace opens the agent's /metrics port.
// 4. Each agent config embedded in a ConfigMap is written to a temp file and
//    checked with `AGENT_BINARY --config FILE --check-config`, in the
//    environment its container would get (env values, ConfigMap keys,
//    downward-API fields with stand-in values), so a ${VAR} the pod does not
//    provide fails here, not on the cluster. Commented-out examples in a
//    config (the push exporters, whose URLs are the user's) are checked
//    the same way once uncommented.
//
// Exits 0 when everything holds, 1 otherwise, listing every problem.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

let YAML;
try {
  YAML = await import("yaml");
  await import("kubernetes-models/v1/ConfigMap");
} catch (e) {
  console.error(`validate.mjs: cannot load the npm packages (${e.message}).`);
  console.error("Install them with: npm ci --prefix tests/manifests   (scripts/setup.sh does it)");
  process.exit(1);
}

// ---------------------------------------------------------------- arguments

const argv = process.argv.slice(2);
let manifestsDir = resolve(here, "../../manifests");
let agentBinary = process.env.KUBEMETRICS_AGENT || "";
for (let i = 0; i < argv.length; ++i) {
  if (argv[i] === "--manifests") manifestsDir = resolve(argv[++i] ?? "");
  else if (argv[i].startsWith("-")) usage(`unknown option ${argv[i]}`);
  else agentBinary = argv[i];
}
if (!agentBinary) usage("missing the agent binary (argument or KUBEMETRICS_AGENT)");

function usage(message) {
  console.error(`validate.mjs: ${message}`);
  console.error("usage: node validate.mjs [--manifests DIR] AGENT_BINARY");
  process.exit(2);
}

// ------------------------------------------------------------------ results

const problems = [];
function fail(where, message) {
  problems.push(`${where}: ${message}`);
}
function ok(message) {
  console.log(`ok: ${message}`);
}
const rel = (p) => relative(resolve(manifestsDir, ".."), p) || p;

// ------------------------------------------------------------ the policy

// What the node agent may do in the Kubernetes API, and nothing more
// (manifests/base/rbac.yaml says why for each). nodes/proxy is deliberately
// absent: the Summary API on :10250 is authorized as nodes/stats.
// The agent also uses every one of them, so a rule that goes missing fails
// too (the node and pod watches of common/kube, the Summary API).
const ALLOWED_RBAC = {
  "nodes/stats": ["get"],
  nodes: ["list", "watch"],
  pods: ["list", "watch"],
};
// The same for the sharded cluster agents (manifests/overlays/sharded/
// rbac-cluster.yaml): service discovery reads Services and the
// EndpointSlices of discovery.k8s.io ("<group>/<resource>" here), the usage
// aggregates LIST the resource metrics API's pods (metrics.k8s.io, no
// watch: metrics-server serves none), the API server preset GETs the
// non-resource URL /metrics.
const ALLOWED_CLUSTER_RBAC = {
  services: ["list", "watch"],
  "discovery.k8s.io/endpointslices": ["list", "watch"],
  "metrics.k8s.io/pods": ["list"],
};
const ALLOWED_CLUSTER_NON_RESOURCE = { "/metrics": ["get"] };
// Which ClusterRole gets which policy (any other Role or ClusterRole gets
// the node agent's).
const RBAC_POLICIES = {
  "kubemetrics-agent": { resources: ALLOWED_RBAC, nonResource: {} },
  "kubemetrics-cluster-agent": { resources: ALLOWED_CLUSTER_RBAC, nonResource: ALLOWED_CLUSTER_NON_RESOURCE },
};
const AGENT_IMAGE = "kubemetrics-agent";
// The proxy role's listeners (sources.listeners): the DaemonSet container
// port each must be published as, and the agent's default listen port.
const LISTENERS = {
  wavefront: { portName: "wavefront", defaultPort: 2878 },
  remote_write: { portName: "remote-write", defaultPort: 9201 },
};
// The Service applications push to: the agent of their own node.
const LISTENERS_SERVICE = "kubemetrics-agent-listeners";
const HEALTH_PATH = "/healthz";
const READY_PATH = "/readyz";
const NON_ROOT_UID = 65532;
// Stand-ins for downward-API fields when running --check-config.
const FIELD_STANDINS = {
  "spec.nodeName": "validate-node",
  "status.hostIP": "10.0.0.10",
  "status.podIP": "10.0.0.11",
  // A StatefulSet pod's name ends in its ordinal (sharding.shard reads it).
  "metadata.name": "validate-pod-0",
  "metadata.labels['apps.kubernetes.io/pod-index']": "0",
  "metadata.namespace": "kubemetrics",
  "spec.serviceAccountName": "validate-sa",
};

// ------------------------------------------------------------- YAML files

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

const fileCache = new Map();
// Parses every document of a YAML file; parse errors (including duplicate
// keys) are problems. Returns [{doc, index}].
function loadYaml(file) {
  if (fileCache.has(file)) return fileCache.get(file);
  const docs = [];
  const text = readFileSync(file, "utf8");
  YAML.parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true }).forEach((d, index) => {
    for (const e of d.errors) fail(`${rel(file)} (document ${index + 1})`, e.message);
    const value = d.toJS();
    if (value !== null && value !== undefined) docs.push({ doc: value, index });
  });
  fileCache.set(file, docs);
  return docs;
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const clone = (v) => structuredClone(v);
const idOf = (o) => `${o.kind}/${o.metadata?.namespace ? o.metadata.namespace + "/" : ""}${o.metadata?.name}`;

// ------------------------------------------------- schema validation

const modelsDir = resolve(here, "node_modules/kubernetes-models");
const schemaCache = new Map();

// The kubernetes-models class and its compiled schema for apiVersion/kind.
async function modelFor(apiVersion, kind) {
  const key = `${apiVersion}/${kind}`;
  if (schemaCache.has(key)) return schemaCache.get(key);
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const modelFile = join(modelsDir, group || "", version, `${kind}.mjs`);
  let result = null;
  try {
    const model = (await import(modelFile))[kind];
    const schemaName = readFileSync(modelFile, "utf8").match(/_schemas\/(\w+)\.mjs/)?.[1];
    const schema = (await import(join(modelsDir, "_schemas", `${schemaName}.mjs`))).validate;
    if (typeof model === "function" && typeof schema === "function") result = { model, schema };
  } catch {
    result = null;
  }
  schemaCache.set(key, result);
  return result;
}

// Wraps `value` so that every property the compiled schema looks at is
// recorded. A property of a schema-described object that the validator never
// looked at is not in the schema: an unknown field. Objects whose keys the
// validator enumerates are maps (labels, data, limits) and accept any key.
function track(value, path, records) {
  if (value === null || typeof value !== "object") return value;
  const record = { path, seen: new Set(), enumerated: false, value };
  if (!Array.isArray(value)) records.push(record);
  const target = Array.isArray(value)
    ? value.map((v, i) => track(v, `${path}[${i}]`, records))
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, track(v, `${path}.${k}`, records)]));
  return new Proxy(target, {
    get(t, k, r) {
      if (typeof k === "string") record.seen.add(k);
      return Reflect.get(t, k, r);
    },
    has(t, k) {
      if (typeof k === "string") record.seen.add(k);
      return Reflect.has(t, k);
    },
    ownKeys(t) {
      record.enumerated = true;
      return Reflect.ownKeys(t);
    },
  });
}

// Schema-validates one object: kubernetes-models' validate(), then the
// unknown-field check. `partial` (a patch): missing required fields are fine.
async function validateObject(obj, where, { partial = false } = {}) {
  if (!isObject(obj) || typeof obj.apiVersion !== "string" || typeof obj.kind !== "string") {
    fail(where, "not a Kubernetes object (apiVersion and kind required)");
    return false;
  }
  const found = await modelFor(obj.apiVersion, obj.kind);
  if (!found) {
    fail(where, `unknown apiVersion/kind ${obj.apiVersion} ${obj.kind} (not in kubernetes-models)`);
    return false;
  }
  let valid = true;
  if (!partial) {
    try {
      new found.model(obj).validate();
    } catch (e) {
      fail(where, `schema: ${e.message}`);
      valid = false;
    }
  }
  const records = [];
  const schema = found.schema;
  schema(track(obj, "", records));
  for (const err of schema.errors ?? []) {
    if (partial && err.keyword === "required") continue;
    if (!partial) continue;  // already reported by validate() above
    fail(where, `schema: ${err.instancePath || "/"} ${err.message ?? `${err.keyword} ${JSON.stringify(err.params)}`}`);
    valid = false;
  }
  for (const r of records) {
    if (r.enumerated) continue;
    for (const k of Object.keys(r.value)) {
      if (!r.seen.has(k)) {
        fail(where, `unknown field ${r.path}.${k}`.replace(": unknown field .", ": unknown field "));
        valid = false;
      }
    }
  }
  return valid;
}

// ------------------------------------------------ kustomize emulation

// Strategic-merge-patch list keys (patchMergeKey in the Kubernetes API) for
// the lists these manifests patch; any other list is replaced, as kustomize
// does for lists without a merge key.
const MERGE_KEYS = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
  imagePullSecrets: "name",
  ports: null,  // containerPort for containers, port for Services: see below
};

function strategicMerge(base, patch, path, where) {
  if (!isObject(base) || !isObject(patch)) return clone(patch);
  const out = clone(base);
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$")) {
      fail(where, `${path}.${k}: patch directives are not supported by this validator`);
      continue;
    }
    if (v === null) {
      delete out[k];
    } else if (Array.isArray(v) && Array.isArray(out[k]) && k in MERGE_KEYS) {
      let key = MERGE_KEYS[k];
      if (k === "ports") key = v.every((p) => "containerPort" in p) ? "containerPort" : "port";
      // As kustomize orders the result: the patch's items (merged into the
      // existing item of their key, or new) in the patch's order, then the
      // existing items the patch does not name.
      const rest = clone(out[k]);
      const patched = v.map((item) => {
        const at = rest.findIndex((m) => m[key] === item[key]);
        if (at < 0) return clone(item);
        const [existing] = rest.splice(at, 1);
        return strategicMerge(existing, item, `${path}.${k}[${item[key]}]`, where);
      });
      out[k] = [...patched, ...rest];
    } else if (isObject(v) && isObject(out[k])) {
      out[k] = strategicMerge(out[k], v, `${path}.${k}`, where);
    } else {
      out[k] = clone(v);
    }
  }
  return out;
}

const KUSTOMIZATION_KEYS = new Set(["apiVersion", "kind", "resources", "patches", "images"]);
const POD_TEMPLATE_KINDS = new Set(["DaemonSet", "Deployment", "StatefulSet", "Job"]);

// Renders the kustomization in `dir`, plus `extraPatches` (file paths)
// applied last. Returns [{obj, from}] in resource order.
async function render(dir, extraPatches = []) {
  const kfile = join(dir, "kustomization.yaml");
  const where = rel(kfile);
  const docs = loadYaml(kfile);
  if (docs.length !== 1) {
    fail(where, "expected exactly one document");
    return [];
  }
  const k = docs[0].doc;
  for (const key of Object.keys(k)) {
    if (!KUSTOMIZATION_KEYS.has(key)) fail(where, `${key}: not supported by this validator's kustomize emulation`);
  }
  if (k.apiVersion !== "kustomize.config.k8s.io/v1beta1" || k.kind !== "Kustomization") {
    fail(where, "apiVersion/kind must be kustomize.config.k8s.io/v1beta1 Kustomization");
  }
  const objects = [];
  for (const r of k.resources ?? []) {
    const p = resolve(dir, r);
    let st;
    try {
      st = statSync(p);
    } catch {
      fail(where, `resources: ${r}: no such file or directory`);
      continue;
    }
    if (st.isDirectory()) objects.push(...(await render(p)));
    else for (const { doc } of loadYaml(p)) objects.push({ obj: clone(doc), from: rel(p) });
  }
  const seen = new Set();
  for (const { obj, from } of objects) {
    const id = idOf(obj);
    if (seen.has(id)) fail(where, `${id} defined twice (last in ${from})`);
    seen.add(id);
  }
  const patches = [...(k.patches ?? []).map((p) => {
    if (!isObject(p) || typeof p.path !== "string" || Object.keys(p).length !== 1) {
      fail(where, `patches: only {path: FILE} entries are supported (got ${JSON.stringify(p)})`);
      return null;
    }
    return resolve(dir, p.path);
  }), ...extraPatches].filter(Boolean);
  for (const file of patches) {
    for (const { doc: patch, index } of loadYaml(file)) {
      const pwhere = `${rel(file)} (document ${index + 1})`;
      // `$patch: delete` at the top: the object goes (as kustomize does).
      if (patch?.$patch === "delete") {
        const at = objects.findIndex(({ obj }) => idOf(obj) === idOf(patch));
        if (at < 0) fail(pwhere, `delete patch matches no resource (${idOf(patch)})`);
        else objects.splice(at, 1);
        if (Object.keys(patch).some((k) => !["$patch", "apiVersion", "kind", "metadata"].includes(k))) {
          fail(pwhere, "a delete patch has nothing but apiVersion, kind and metadata");
        }
        continue;
      }
      const targets = objects.filter(
        ({ obj }) => obj.apiVersion === patch.apiVersion && obj.kind === patch.kind &&
          obj.metadata?.name === patch.metadata?.name &&
          (obj.metadata?.namespace ?? "") === (patch.metadata?.namespace ?? ""));
      if (targets.length !== 1) {
        fail(pwhere, `patch must match exactly one resource, matches ${targets.length} (${idOf(patch)})`);
        continue;
      }
      targets[0].obj = strategicMerge(targets[0].obj, patch, "", pwhere);
      targets[0].from += ` + ${rel(file)}`;
    }
  }
  for (const image of k.images ?? []) {
    const allowed = new Set(["name", "newName", "newTag", "digest"]);
    for (const key of Object.keys(image)) if (!allowed.has(key)) fail(where, `images: ${key} not supported`);
    let used = false;
    for (const { obj } of objects) {
      for (const c of podSpecOf(obj) ? containersOf(podSpecOf(obj)) : []) {
        const [name, tag] = splitImage(c.image);
        if (name !== image.name) continue;
        used = true;
        c.image = (image.newName ?? name) + (image.digest ? `@${image.digest}` : `:${image.newTag ?? tag}`);
      }
    }
    if (!used) fail(where, `images: no container uses image ${image.name}`);
  }
  return objects;
}

// `kubectl kustomize`, when a kubectl that has it is installed: its path,
// or "" (then the emulation renders alone).
const kubectl = (() => {
  const candidate = process.env.KUBECTL || "kubectl";
  const probe = spawnSync(candidate, ["kustomize", "--help"], { encoding: "utf8" });
  return probe.status === 0 ? candidate : "";
})();

// Renders `dir` with `kubectl kustomize`, plus `extraPatches` (file paths)
// through a temporary kustomization that takes `dir` as its resource (the
// patches copied in: kustomize loads patches from under its root only).
// Returns [{obj, from}] or null when kubectl failed (a problem).
function kubectlRender(dir, extraPatches = []) {
  let target = dir;
  let temp = "";
  if (extraPatches.length) {
    temp = mkdtempSync(join(tmpdir(), "km-kustomize-"));
    const patches = extraPatches.map((file, i) => {
      const name = `extra-${i}-${basename(file)}`;
      writeFileSync(join(temp, name), readFileSync(file));
      return { path: name };
    });
    writeFileSync(join(temp, "kustomization.yaml"), YAML.stringify({
      apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization",
      resources: [relative(temp, dir)], patches,
    }));
    target = temp;
  }
  const run = spawnSync(kubectl, ["kustomize", target], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (temp) rmSync(temp, { recursive: true, force: true });
  const from = `kubectl kustomize ${rel(dir)}${extraPatches.map((f) => " + " + basename(f)).join("")}`;
  if (run.status !== 0) {
    fail(from, `failed: ${(run.stderr || run.error?.message || "").trim()}`);
    return null;
  }
  return YAML.parseAllDocuments(run.stdout)
    .map((d) => d.toJS())
    .filter((o) => o !== null && o !== undefined)
    .map((obj) => ({ obj, from }));
}

// JSON with object keys sorted, to compare two renders whatever their key order.
const canonical = (v) => JSON.stringify(v, (_, x) =>
  isObject(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x);

// Where two values first differ ("spec.template.spec.containers.0.env: ..."),
// or "" when they are equal.
function firstDifference(a, b, path = "") {
  if (canonical(a) === canonical(b)) return "";
  if (isObject(a) && isObject(b) || Array.isArray(a) && Array.isArray(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference(a[key], b[key], path ? `${path}.${key}` : key);
      if (d) return d;
    }
  }
  return `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
}

// Renders with kubectl (where installed) and the emulation; they must agree.
async function renderChecked(dir, extraPatches = []) {
  const emulated = await render(dir, extraPatches);
  if (!kubectl) return emulated;
  const rendered = kubectlRender(dir, extraPatches);
  if (!rendered) return emulated;
  const name = `${rel(dir)}${extraPatches.map((f) => " + " + basename(f)).join("")}`;
  const byId = new Map(emulated.map(({ obj }) => [idOf(obj), obj]));
  for (const { obj } of rendered) {
    const mine = byId.get(idOf(obj));
    if (!mine) fail(name, `kubectl kustomize renders ${idOf(obj)}, the emulation does not`);
    else if (canonical(mine) !== canonical(obj)) {
      fail(name, `${idOf(obj)}: the emulation and kubectl kustomize differ at ${firstDifference(mine, obj)}`);
    }
    byId.delete(idOf(obj));
  }
  for (const id of byId.keys()) fail(name, `the emulation renders ${id}, kubectl kustomize does not`);
  return rendered;
}

function splitImage(image = "") {
  const at = image.lastIndexOf(":");
  return at > image.lastIndexOf("/") ? [image.slice(0, at), image.slice(at + 1)] : [image, "latest"];
}
const podSpecOf = (o) => (POD_TEMPLATE_KINDS.has(o.kind) ? o.spec?.template?.spec : undefined);
const containersOf = (spec) => [...(spec.initContainers ?? []), ...(spec.containers ?? [])];

// -------------------------------------------------------------- invariants

function checkContainer(c, spec, where) {
  const sc = c.securityContext ?? {};
  const psc = spec.securityContext ?? {};
  const nonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
  const uid = sc.runAsUser ?? psc.runAsUser;
  if (nonRoot !== true) fail(where, "runAsNonRoot must be true");
  if (uid !== NON_ROOT_UID) fail(where, `runAsUser must be ${NON_ROOT_UID} (got ${uid})`);
  if (sc.readOnlyRootFilesystem !== true) fail(where, "readOnlyRootFilesystem must be true");
  if (sc.allowPrivilegeEscalation !== false) fail(where, "allowPrivilegeEscalation must be false");
  if (sc.privileged === true) fail(where, "must not be privileged");
  if (!(sc.capabilities?.drop ?? []).includes("ALL")) fail(where, "capabilities.drop must contain ALL");
  if ((sc.capabilities?.add ?? []).length) fail(where, "capabilities.add must be empty");
  const seccomp = sc.seccompProfile?.type ?? psc.seccompProfile?.type;
  if (seccomp !== "RuntimeDefault") fail(where, `seccompProfile must be RuntimeDefault (got ${seccomp})`);
  for (const kind of ["requests", "limits"]) {
    for (const r of ["cpu", "memory"]) {
      if (!c.resources?.[kind]?.[r]) fail(where, `resources.${kind}.${r} missing`);
    }
  }
}

// The port number a probe's or Service's port (name or number) refers to.
function portNumber(c, port) {
  if (typeof port === "number") return port;
  return (c.ports ?? []).find((p) => p.name === port)?.containerPort;
}

// The config file the container is started with, as {configMap, key}, via
// its `--config PATH` argument and the ConfigMap volume mounted at PATH's dir.
function configOf(c, spec, byId, ns, where) {
  const args = [...(c.command ?? []), ...(c.args ?? [])];
  const at = args.indexOf("--config");
  if (at < 0 || !args[at + 1]) {
    fail(where, "agent container without --config FILE");
    return null;
  }
  const file = args[at + 1];
  const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === dirname(file));
  const volume = mount && (spec.volumes ?? []).find((v) => v.name === mount.name);
  if (!volume?.configMap) {
    fail(where, `--config ${file}: no ConfigMap volume mounted at ${dirname(file)}`);
    return null;
  }
  const cm = byId.get(`ConfigMap/${ns}/${volume.configMap.name}`);
  const key = basename(file);
  if (!cm) {
    fail(where, `ConfigMap ${volume.configMap.name} (the --config volume) not in the manifests`);
    return null;
  }
  if (typeof cm.data?.[key] !== "string") {
    fail(where, `ConfigMap ${volume.configMap.name} has no key ${key}`);
    return null;
  }
  return { name: volume.configMap.name, key, text: cm.data[key] };
}

// The container's environment as the kubelet would build it.
function envOf(c, byId, ns, where) {
  const env = {};
  for (const e of c.env ?? []) {
    if ("value" in e) env[e.name] = String(e.value);
    else if (e.valueFrom?.fieldRef) {
      const v = FIELD_STANDINS[e.valueFrom.fieldRef.fieldPath];
      if (v === undefined) fail(where, `env ${e.name}: no stand-in for fieldRef ${e.valueFrom.fieldRef.fieldPath}`);
      else env[e.name] = v;
    } else if (e.valueFrom?.configMapKeyRef) {
      const ref = e.valueFrom.configMapKeyRef;
      const v = byId.get(`ConfigMap/${ns}/${ref.name}`)?.data?.[ref.key];
      if (typeof v === "string") env[e.name] = v;
      else if (!ref.optional) fail(where, `env ${e.name}: ConfigMap ${ref.name} key ${ref.key} not in the manifests`);
    } else {
      fail(where, `env ${e.name}: only value, fieldRef and configMapKeyRef are checked here`);
    }
  }
  if (c.envFrom?.length) fail(where, "envFrom is not supported by this validator");
  return env;
}

const checkedConfigs = new Map();
// Runs --check-config on the embedded config with the container's env.
function checkConfig(config, env, where) {
  const cacheKey = JSON.stringify([config.text, env]);
  if (checkedConfigs.has(cacheKey)) return checkedConfigs.get(cacheKey);
  const dir = mkdtempSync(join(tmpdir(), "km-manifests-"));
  try {
    const file = join(dir, config.key);
    writeFileSync(file, config.text);
    const run = spawnSync(agentBinary, ["--config", file, "--check-config"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
      encoding: "utf8",
      timeout: 30000,
    });
    const passed = run.status === 0;
    if (run.error) fail(where, `cannot run ${agentBinary}: ${run.error.message}`);
    else if (!passed) {
      const output = `${run.stdout}${run.stderr}`.trim().split("\n").filter((l) => !l.startsWith("#") && /:\s/.test(l));
      fail(where, `ConfigMap ${config.name} key ${config.key}: kubemetrics-agent --check-config exited ${run.status}:\n    ${output.slice(-20).join("\n    ")}`);
    }
    checkedConfigs.set(cacheKey, passed);
    return passed;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// A commented-out example block in an agent config:
//   # remote_write:
//   #   enabled: true
//   #   # a comment inside the example
// (a `# key:` line, then lines at the same indentation starting with `#`
// and two more spaces) becomes live YAML. Returns {text, count}.
function uncommentExamples(configText) {
  const lines = configText.split("\n");
  let count = 0;
  for (let i = 0; i < lines.length; ++i) {
    const head = lines[i].match(/^(\s*)# ([a-z_]+):\s*$/);
    if (!head) continue;
    const indent = head[1];
    let j = i + 1;
    while (j < lines.length && lines[j].startsWith(`${indent}#   `)) ++j;
    if (j === i + 1) continue;  // a lone `# key:` is prose, not an example
    for (let k = i; k < j; ++k) lines[k] = indent + lines[k].slice(indent.length + 2);
    ++count;
    i = j - 1;
  }
  return { text: lines.join("\n"), count };
}

function listenPort(configText) {
  let doc;
  try {
    doc = YAML.parse(configText.replace(/\$\{[^}]*\}/g, "x"));
  } catch {
    return null;
  }
  const listen = doc?.server?.listen ?? "0.0.0.0:9464";
  return Number(String(listen).split(":").pop());
}

function parsedConfig(configText) {
  try {
    return YAML.parse(configText.replace(/\$\{[^}]*\}/g, "x")) ?? {};
  } catch {
    return {};
  }
}

function checkRbac(obj, where) {
  if (obj.kind !== "ClusterRole" && obj.kind !== "Role") return;
  if (obj.aggregationRule) fail(where, "aggregationRule not allowed");
  const policy = (obj.kind === "ClusterRole" && RBAC_POLICIES[obj.metadata.name]) || RBAC_POLICIES["kubemetrics-agent"];
  const granted = new Set();
  for (const [i, rule] of (obj.rules ?? []).entries()) {
    const rw = `${where} rules[${i}]`;
    if (rule.nonResourceURLs) {
      if (obj.kind !== "ClusterRole") fail(rw, "nonResourceURLs only in a ClusterRole");
      if (rule.resources || rule.apiGroups) fail(rw, "a nonResourceURLs rule names no resources or apiGroups");
      for (const url of rule.nonResourceURLs) {
        const allowed = policy.nonResource[url];
        if (!allowed) {
          fail(rw, `nonResourceURL ${url} not allowed (only ${Object.keys(policy.nonResource).join(", ") || "none"})`);
          continue;
        }
        for (const verb of rule.verbs ?? []) {
          if (!allowed.includes(verb)) fail(rw, `verb ${verb} on ${url} not allowed (only ${allowed.join(", ")})`);
          granted.add(`${verb} ${url}`);
        }
      }
      continue;
    }
    if ((rule.apiGroups ?? []).length !== 1) fail(rw, `one apiGroup per rule (got ${JSON.stringify(rule.apiGroups)})`);
    const group = (rule.apiGroups ?? [""])[0];
    for (const name of rule.resources ?? []) {
      const res = group ? `${group}/${name}` : name;
      const allowed = policy.resources[res];
      if (!allowed) {
        fail(rw, `resource ${res} not in the allowed list (${Object.keys(policy.resources).join(", ")})`);
        continue;
      }
      for (const verb of rule.verbs ?? []) {
        if (!allowed.includes(verb)) fail(rw, `verb ${verb} on ${res} not allowed (only ${allowed.join(", ")})`);
        granted.add(`${verb} ${res}`);
      }
    }
    if (!(rule.resources ?? []).length) fail(rw, "no resources");
  }
  if (obj.kind !== "ClusterRole" || !RBAC_POLICIES[obj.metadata.name]) return;
  for (const [res, verbs] of [...Object.entries(policy.resources), ...Object.entries(policy.nonResource)]) {
    for (const verb of verbs) {
      if (!granted.has(`${verb} ${res}`)) fail(where, `no rule grants ${verb} on ${res}, which the agent uses`);
    }
  }
}

function checkWorkload(obj, byId, where, stats) {
  const spec = podSpecOf(obj);
  const ns = obj.metadata.namespace;
  const psc = spec.securityContext ?? {};
  if (psc.runAsNonRoot !== true) fail(where, "pod securityContext.runAsNonRoot must be true");
  if (spec.hostPID || spec.hostIPC) fail(where, "hostPID/hostIPC not allowed");
  const sa = spec.serviceAccountName;
  if (!sa || !byId.has(`ServiceAccount/${ns}/${sa}`)) fail(where, `serviceAccountName ${sa} not in the manifests`);
  const podLabels = obj.spec.template.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(obj.spec.selector?.matchLabels ?? {})) {
    if (podLabels[k] !== v) fail(where, `selector ${k}=${v} does not match the pod labels`);
  }
  for (const v of spec.volumes ?? []) {
    if (v.configMap && !byId.has(`ConfigMap/${ns}/${v.configMap.name}`)) fail(where, `volume ${v.name}: ConfigMap ${v.configMap.name} not in the manifests`);
  }
  for (const c of containersOf(spec)) {
    const cw = `${where} container ${c.name}`;
    checkContainer(c, spec, cw);
    for (const m of c.volumeMounts ?? []) {
      const v = (spec.volumes ?? []).find((x) => x.name === m.name);
      if (!v) fail(cw, `volumeMount ${m.name}: no such volume`);
      else if (v.hostPath && m.readOnly !== true && !/spool/.test(m.name)) fail(cw, `hostPath volume ${m.name} must be mounted readOnly`);
    }
    if (splitImage(c.image)[0].split("/").pop() !== AGENT_IMAGE) continue;

    // The agent container.
    const config = configOf(c, spec, byId, ns, cw);
    const port = config ? listenPort(config.text) : 9464;
    const live = c.livenessProbe?.httpGet;
    const ready = c.readinessProbe?.httpGet;
    if (live?.path !== HEALTH_PATH) fail(cw, `livenessProbe must GET ${HEALTH_PATH} (got ${live?.path})`);
    if (ready?.path !== READY_PATH) fail(cw, `readinessProbe must GET ${READY_PATH} (got ${ready?.path})`);
    for (const [name, probe] of [["livenessProbe", live], ["readinessProbe", ready]]) {
      if (probe && portNumber(c, probe.port) !== port) fail(cw, `${name} port ${probe.port} is not the agent's port ${port}`);
    }
    const metricsPort = (c.ports ?? []).find((p) => p.name === "metrics");
    if (metricsPort?.containerPort !== port) fail(cw, `needs a port named metrics = ${port} (server.listen)`);
    const ann = obj.spec.template.metadata?.annotations ?? {};
    if (ann["prometheus.io/scrape"] !== "true") fail(where, 'pod annotation prometheus.io/scrape must be "true"');
    if (ann["prometheus.io/port"] !== String(port)) fail(where, `pod annotation prometheus.io/port must be "${port}"`);
    if (!config) continue;
    const cfg = parsedConfig(config.text);
    if (ann["prometheus.io/path"] !== (cfg.exporters?.prometheus?.path ?? "/metrics")) fail(where, "pod annotation prometheus.io/path is not exporters.prometheus.path");

    const role = cfg.role ?? "node";
    if (obj.kind === "DaemonSet" && role !== "node") fail(where, `a DaemonSet's agent must run role: node (got ${role})`);
    if (obj.kind === "Deployment") {
      if (role !== "cluster") fail(where, `a Deployment's agent must run role: cluster (got ${role})`);
      if (obj.spec.replicas !== 1) fail(where, "the cluster agent must have exactly 1 replica");
      if ((cfg.sharding?.total_shards ?? 1) !== 1) fail(where, "a Deployment's agent is one replica: no sharding");
    }
    if (obj.kind === "StatefulSet") checkShardedCluster(obj, c, cfg, byId, where);
    if (obj.kind === "DaemonSet") checkListeners(obj, c, cfg, [...byId.values()], where);
    if (obj.kind === "DaemonSet") {
      const tolerateAll = (spec.tolerations ?? []).some((t) => t.operator === "Exists" && !t.key && !t.effect);
      if (!tolerateAll) fail(where, "tolerations must include {operator: Exists} (every node, tainted ones too)");
    }
    // The host source's paths are read-only mounts of the host's /proc and /.
    const host = cfg.sources?.host;
    if (host?.enabled !== false) {
      for (const [key, hostPath] of [["proc_path", "/proc"], ["rootfs_path", "/"]]) {
        const path = host?.[key];
        if (!path || path === hostPath) {
          if (obj.kind === "DaemonSet") fail(where, `sources.host.${key} must point at the host's ${hostPath} mount`);
          continue;
        }
        const m = (c.volumeMounts ?? []).find((x) => x.mountPath === path);
        const v = m && (spec.volumes ?? []).find((x) => x.name === m.name);
        if (v?.hostPath?.path !== hostPath || m.readOnly !== true) fail(where, `sources.host.${key} ${path} is not a read-only hostPath mount of ${hostPath}`);
      }
    }
    const env = envOf(c, byId, ns, cw);
    if (checkConfig(config, env, `${where} (${config.name})`)) stats.configs.add(`${config.name} (${obj.kind} ${obj.metadata.name})`);
    // The commented-out examples (push exporters whose URLs are the
    // user's) must be valid too once uncommented.
    const examples = uncommentExamples(config.text);
    if (examples.count > 0) {
      const variant = { ...config, text: examples.text };
      if (checkConfig(variant, env, `${where} (${config.name}, ${examples.count} commented example(s) uncommented)`)) {
        stats.configs.add(`${config.name} with its ${examples.count} commented example(s) (${obj.kind} ${obj.metadata.name})`);
      }
    }
  }
}

// The sharded cluster agents (overlays/sharded): a StatefulSet of
// sharding.total_shards replicas, each taking its shard from its pod name,
// started in parallel, governed by a headless Service of the manifests.
function checkShardedCluster(obj, c, cfg, byId, where) {
  const role = cfg.role ?? "node";
  if (role !== "cluster") fail(where, `a StatefulSet's agent must run role: cluster (got ${role})`);
  const total = cfg.sharding?.total_shards ?? 1;
  if (obj.spec.replicas !== total) fail(where, `replicas (${obj.spec.replicas}) must equal sharding.total_shards (${total})`);
  const shard = String(cfg.sharding?.shard ?? "");
  const podName = (c.env ?? []).find((e) => e.valueFrom?.fieldRef?.fieldPath === "metadata.name")?.name;
  if (!podName || shard !== "x") {
    // parsedConfig() turns every ${VAR} into "x": the shard must be one variable.
    fail(where, "sharding.shard must be ${VAR} of an env var set from metadata.name (the pod's ordinal)");
  } else {
    const text = configOf(c, podSpecOf(obj), byId, obj.metadata.namespace, where)?.text ?? "";
    if (!new RegExp(`shard:\\s*\\$\\{${podName}\\}`).test(text)) fail(where, `sharding.shard must be \${${podName}} (metadata.name)`);
  }
  if (obj.spec.podManagementPolicy !== "Parallel") fail(where, "podManagementPolicy must be Parallel: one replica that cannot start must not hold back the other shards");
  const svc = byId.get(`Service/${obj.metadata.namespace}/${obj.spec.serviceName}`);
  if (!svc) fail(where, `serviceName ${obj.spec.serviceName} is not a Service of the manifests`);
  else if (svc.spec?.clusterIP !== "None") fail(where, `serviceName ${obj.spec.serviceName} must be headless (clusterIP: None)`);
  const sa = byId.get(`ServiceAccount/${obj.metadata.namespace}/${podSpecOf(obj).serviceAccountName}`);
  if (cfg.sources?.kubernetes_services?.enabled === true && sa?.automountServiceAccountToken === false &&
      podSpecOf(obj).automountServiceAccountToken !== true) {
    fail(where, "sources.kubernetes_services needs the API token, but the service account does not mount it");
  }
}

function checkService(obj, objects, where) {
  if (obj.kind !== "Service") return;
  const selector = obj.spec?.selector ?? {};
  const pods = objects.filter((o) => podSpecOf(o) && o.metadata.namespace === obj.metadata.namespace &&
    Object.entries(selector).every(([k, v]) => o.spec.template.metadata?.labels?.[k] === v));
  if (pods.length === 0) fail(where, "selector matches no workload");
  for (const p of obj.spec.ports ?? []) {
    for (const w of pods) {
      const c = podSpecOf(w).containers.find((x) => portNumber(x, p.targetPort ?? p.port) !== undefined);
      if (!c) fail(where, `port ${p.name}: targetPort ${p.targetPort} not a port of ${w.kind} ${w.metadata.name}`);
    }
  }
}

// Whether NetworkPolicy `policy` applies to the pods of workload `w`.
function policySelects(policy, w) {
  if (policy.metadata.namespace !== w.metadata.namespace) return false;
  const selector = policy.spec?.podSelector?.matchLabels ?? {};
  return Object.entries(selector).every(([k, v]) => w.spec.template.metadata?.labels?.[k] === v);
}

// The NetworkPolicies together must cover every agent workload (a pod none
// selects accepts anyone; policies add up, so one per workload is enough).
function checkNetworkPolicyCoverage(objects, where) {
  const policies = objects.filter((o) => o.kind === "NetworkPolicy");
  const namespaces = new Set(policies.map((p) => p.metadata.namespace));
  for (const w of objects.filter((o) => podSpecOf(o) && namespaces.has(o.metadata.namespace))) {
    if (!policies.some((p) => policySelects(p, w))) fail(where, `no NetworkPolicy selects ${w.kind} ${w.metadata.name}: it is open`);
  }
}

// A NetworkPolicy must name ports the pods it selects have (a port the pods
// lack allows nothing, and the scrapers are refused).
function checkNetworkPolicy(obj, objects, where) {
  if (obj.kind !== "NetworkPolicy") return;
  const selects = (w) => policySelects(obj, w);
  const agents = objects.filter((o) => podSpecOf(o) && o.metadata.namespace === obj.metadata.namespace);
  for (const [i, rule] of (obj.spec.ingress ?? []).entries()) {
    for (const p of rule.ports ?? []) {
      for (const w of agents.filter(selects)) {
        if (!podSpecOf(w).containers.some((c) => portNumber(c, p.port) !== undefined)) {
          fail(where, `ingress[${i}] port ${p.port} is not a port of ${w.kind} ${w.metadata.name}`);
        }
      }
    }
  }
}

// The container port entry `port` (a name or a number) refers to, if any.
function containerPortOf(c, port) {
  return (c.ports ?? []).find((p) => (typeof port === "number" ? p.containerPort === port : p.name === port));
}

// Whether an ingress rule admits every pod of every namespace (or anyone):
// no `from`, or a peer that is `namespaceSelector: {}` with no podSelector
// narrowing it, or an ipBlock of a whole address family.
function admitsEveryone(rule) {
  if (!rule.from?.length) return true;
  const empty = (sel) => sel && !Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length;
  return rule.from.some((peer) =>
    (empty(peer.namespaceSelector) && (!peer.podSelector || empty(peer.podSelector))) ||
    ["0.0.0.0/0", "::/0"].includes(peer.ipBlock?.cidr));
}

// The proxy role, on the node DaemonSet `w` whose agent container `c` runs
// config `cfg`: each enabled listener listens on the container port of its
// name; the listeners Service keeps traffic on the sender's node and
// forwards to exactly the enabled listeners; a NetworkPolicy admits each;
// and no rule that admits everyone opens the agent's own HTTP port.
function checkListeners(w, c, cfg, objects, where) {
  const ns = w.metadata.namespace;
  const enabled = new Map();  // container port number -> listener
  for (const [key, { portName, defaultPort }] of Object.entries(LISTENERS)) {
    const listener = cfg.sources?.listeners?.[key];
    if (listener?.enabled !== true) continue;
    const port = listener.listen ? Number(String(listener.listen).split(":").pop()) : defaultPort;
    enabled.set(port, key);
    const lw = `${where} sources.listeners.${key}`;
    const cp = containerPortOf(c, portName);
    if (!cp) fail(lw, `enabled, but the agent container has no port named ${portName}`);
    else if (cp.containerPort !== port) fail(lw, `listens on ${port}, but container port ${portName} is ${cp.containerPort}`);
    else if ((cp.protocol ?? "TCP") !== "TCP") fail(lw, `container port ${portName} must be TCP`);
    const admitted = objects.some((p) => p.kind === "NetworkPolicy" && policySelects(p, w) &&
      (p.spec.ingress ?? []).some((rule) => !rule.ports?.length ||
        rule.ports.some((rp) => containerPortOf(c, rp.port)?.containerPort === port)));
    if (!admitted) fail(lw, `no NetworkPolicy admits port ${port}: every sender would be refused`);
  }

  const service = objects.find((o) => o.kind === "Service" && o.metadata.name === LISTENERS_SERVICE && o.metadata.namespace === ns);
  if (!service) {
    if (enabled.size) fail(where, `listeners enabled but no Service ${LISTENERS_SERVICE} in ${ns}`);
  } else {
    const sw = `${where} Service ${LISTENERS_SERVICE}`;
    const spec = service.spec ?? {};
    if (spec.internalTrafficPolicy !== "Local") fail(sw, `internalTrafficPolicy must be Local, so a sender reaches the agent of its own node (got ${spec.internalTrafficPolicy})`);
    if ((spec.type ?? "ClusterIP") !== "ClusterIP" || spec.clusterIP === "None") fail(sw, "must be a ClusterIP Service with a virtual IP (not headless)");
    if (!Object.entries(spec.selector ?? {}).every(([k, v]) => w.spec.template.metadata?.labels?.[k] === v)) fail(sw, `selector does not select ${w.kind} ${w.metadata.name}`);
    const served = new Set();
    for (const sp of spec.ports ?? []) {
      const target = containerPortOf(c, sp.targetPort ?? sp.port);
      const listener = target && enabled.get(target.containerPort);
      if (!listener) fail(sw, `port ${sp.name ?? sp.port} forwards to ${sp.targetPort ?? sp.port}, where no enabled listener listens`);
      else if ((sp.protocol ?? "TCP") !== "TCP") fail(sw, `port ${sp.name ?? sp.port} must be TCP`);
      else served.add(target.containerPort);
    }
    for (const [port, key] of enabled) {
      if (!served.has(port)) fail(sw, `no port forwards to sources.listeners.${key} (${port})`);
    }
  }

  // /metrics, /healthz and /readyz stay with the namespaces that scrape.
  const metrics = containerPortOf(c, "metrics")?.containerPort;
  for (const p of objects.filter((o) => o.kind === "NetworkPolicy" && policySelects(o, w))) {
    for (const [i, rule] of (p.spec.ingress ?? []).entries()) {
      if (!admitsEveryone(rule)) continue;
      const opensMetrics = !rule.ports?.length || rule.ports.some((rp) => containerPortOf(c, rp.port)?.containerPort === metrics);
      if (opensMetrics) fail(`${where} NetworkPolicy ${p.metadata.name} ingress[${i}]`, `admits every namespace to the agent's HTTP port ${metrics} (/metrics)`);
    }
  }
}

function checkBindings(obj, byId, where) {
  if (obj.kind !== "ClusterRoleBinding" && obj.kind !== "RoleBinding") return;
  const ref = obj.roleRef;
  const roleNs = ref.kind === "Role" ? `${obj.metadata.namespace}/` : "";
  if (!byId.has(`${ref.kind}/${roleNs}${ref.name}`)) fail(where, `roleRef ${ref.kind} ${ref.name} not in the manifests`);
  for (const s of obj.subjects ?? []) {
    if (s.kind !== "ServiceAccount") fail(where, `subject ${s.kind} ${s.name}: only ServiceAccounts may be bound`);
    else if (!byId.has(`ServiceAccount/${s.namespace}/${s.name}`)) fail(where, `subject ServiceAccount ${s.namespace}/${s.name} not in the manifests`);
  }
}

const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass"]);

async function checkRender(name, objects) {
  const stats = { configs: new Set() };
  const byId = new Map(objects.map(({ obj }) => [idOf(obj), obj]));
  const namespaces = new Set(objects.filter(({ obj }) => obj.kind === "Namespace").map(({ obj }) => obj.metadata.name));
  let valid = 0;
  for (const { obj, from } of objects) {
    const where = `${name}: ${idOf(obj)} (${from})`;
    if (await validateObject(obj, where)) ++valid;
    if (CLUSTER_SCOPED.has(obj.kind)) {
      if (obj.metadata.namespace) fail(where, "cluster-scoped object with a namespace");
    } else if (!namespaces.has(obj.metadata.namespace)) {
      fail(where, `namespace ${obj.metadata.namespace} is not created by the manifests`);
    }
    if (JSON.stringify(obj).includes("nodes/proxy")) fail(where, "mentions nodes/proxy, which the agent must not need");
    checkRbac(obj, where);
    checkBindings(obj, byId, where);
    checkService(obj, objects.map((o) => o.obj), where);
    checkNetworkPolicy(obj, objects.map((o) => o.obj), where);
    if (podSpecOf(obj)) checkWorkload(obj, byId, where, stats);
  }
  checkNetworkPolicyCoverage(objects.map((o) => o.obj), name);
  const kinds = (k) => objects.filter(({ obj }) => obj.kind === k).length;
  for (const k of ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet", "Service", "NetworkPolicy"]) {
    if (kinds(k) === 0) fail(name, `no ${k} rendered`);
  }
  // The cluster role: one Deployment replica, or a sharded StatefulSet.
  if (kinds("Deployment") + kinds("StatefulSet") !== 1) fail(name, `expected one cluster-role workload (Deployment or StatefulSet), got ${kinds("Deployment") + kinds("StatefulSet")}`);
  ok(`${name}: ${valid}/${objects.length} objects valid against the schemas; ` +
     `configs accepted by --check-config: ${[...stats.configs].join(", ") || "none"}`);
}

// -------------------------------------------------------------------- main

const files = walk(manifestsDir);
const kustomizationDirs = [];
const patchFiles = new Set();
for (const f of files) {
  if (basename(f) === "kustomization.yaml") {
    kustomizationDirs.push(dirname(f));
    for (const { doc } of loadYaml(f)) for (const p of doc.patches ?? []) if (p?.path) patchFiles.add(resolve(dirname(f), p.path));
  }
}
// Optional patches an overlay mentions but leaves out (e.g. hostNetwork on
// EKS) are rendered as a variant too.
const optionalPatches = new Map();
for (const f of files) {
  if (/-patch\.ya?ml$/.test(f) && !patchFiles.has(f)) {
    const dir = dirname(f);
    if (!kustomizationDirs.includes(dir)) fail(rel(f), "patch file outside a kustomization directory");
    else {
      if (!optionalPatches.has(dir)) optionalPatches.set(dir, []);
      optionalPatches.get(dir).push(f);
      patchFiles.add(f);
    }
  }
}

let documents = 0;
for (const f of files) {
  if (basename(f) === "kustomization.yaml") continue;
  const isPromFile = relative(manifestsDir, f).startsWith("prometheus/");
  for (const { doc, index } of loadYaml(f)) {
    ++documents;
    const where = `${rel(f)} (document ${index + 1})`;
    if (isPromFile && isObject(doc) && ("groups" in doc || "rule_files" in doc)) continue;  // promtool's
    if (!isObject(doc) || !doc.apiVersion || !doc.kind) {
      fail(where, "neither a Kubernetes object nor a kustomization");
      continue;
    }
    // Complete objects and patches alike: types and unknown fields now,
    // required fields once rendered.
    // A delete patch (`$patch: delete`) names its target only.
    const { $patch, ...fields } = doc;
    if ($patch !== undefined && ($patch !== "delete" || !patchFiles.has(f))) fail(where, `$patch: only "delete", in a patch`);
    await validateObject(fields, where, { partial: patchFiles.has(f) });
  }
}
ok(`${files.length} YAML files, ${documents} documents parsed; every object and patch checked on its own`);

const referenced = new Set();
for (const dir of kustomizationDirs) {
  for (const { doc } of loadYaml(join(dir, "kustomization.yaml"))) {
    for (const r of doc.resources ?? []) referenced.add(resolve(dir, r));
  }
}
for (const f of files) {
  if (basename(f) === "kustomization.yaml" || patchFiles.has(f)) continue;
  if (relative(manifestsDir, f).startsWith("prometheus/")) continue;
  if (!referenced.has(f)) fail(rel(f), "not listed in any kustomization's resources");
}

ok(kubectl ? `rendering with ${kubectl} kustomize (the emulation must agree)`
            : "no kubectl with kustomize installed: rendering with the emulation alone");
for (const dir of kustomizationDirs) {
  const name = rel(dir);
  await checkRender(name, await renderChecked(dir));
  for (const extra of optionalPatches.get(dir) ?? []) {
    await checkRender(`${name} + ${basename(extra)}`, await renderChecked(dir, [extra]));
  }
}

if (problems.length) {
  console.error(`\n${problems.length} problem(s):`);
  for (const p of problems) console.error(`FAIL ${p}`);
  process.exit(1);
}
console.log("all manifests valid");
