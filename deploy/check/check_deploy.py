#!/usr/bin/env python3
"""The deploy checks (deploy/check/run): everything about the image and the manifests that can
be known without a cluster. Each finding names the file or object and what is wrong; any
finding fails the run.

1. Dockerfile: every COPY source exists in the build context (and is not .dockerignored);
   the entrypoint is baedal; the image's default command runs.
2. Every overlay renders (`kubectl kustomize`) and every object validates strictly: core kinds
   against the Kubernetes schemas of EKS_VERSION (kubernetes-validate), custom kinds against
   the CRD schemas in crd-schemas/ (unknown fields refused, as the API server's pruning would).
3. References: routes -> Gateways and Services (and ports); Gateways -> GatewayClasses;
   Services -> Deployment pod labels and named ports; HPAs and ScaledObjects -> Deployments
   (never both on one); PDBs -> pods; secretKeyRef/configMapRef -> keys that exist;
   probes on /healthz and /readyz of a declared port; every Deployment's `args` a baedal
   subcommand; every environment variable a baedal container gets is one baedal reads.
4. Security: non-root, read-only root filesystem, no privilege escalation, all capabilities
   dropped, CPU and memory requests and limits, on every baedal container.
5. The nginx gateway of scripts/cluster-local routes exactly the HTTPRoutes' paths to the
   same api roles.
6. Autoscaling and rollouts that hold: every Deployment has an autoscaler and no spec.replicas
   (an apply would reset the autoscaler's count); every PDB is a maxUnavailable; every
   Deployment behind a Service waits in a preStop sleep and has a termination grace above it
   plus the request deadline. On EKS: ALB targets sleep through deregistration (>= 30s) inside
   the target group's deregistration delay and their grace, the namespace injects ALB
   readiness gates, every autoscaler's max covers the Capacity table's 1,000 orders/s tier at
   its own CPU target, every pod (and Temporal's, in its Helm values) selects a Karpenter
   NodePool of deploy/eks/karpenter.yaml by its labels and tolerates its taints, and the KEDA
   and Karpenter versions documented are the ones whose CRDs are vendored (KEDA >= 2.19).
7. HTTPS only on EKS: every Gateway has an HTTPS listener, every route with backends attaches
   to HTTPS listeners only (by sectionName), an HTTP listener carries only a 301/302 redirect
   to https, and the HTTPS listener sets HSTS.
"""
import argparse
import copy
import json
import pathlib
import re
import subprocess
import sys

import jsonschema
import kubernetes_validate
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/k8s"
OVERLAYS = ["overlays/local", "overlays/eks"]
EKS_VERSION = "1.34.0"
SCHEMAS = pathlib.Path(__file__).parent / "crd-schemas"
CORE_GROUPS = {"", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io"}
# Read by baedal's logging (tracing-subscriber's EnvFilter), not a clap flag.
ALSO_READ = {"RUST_LOG"}
# The overlays that run in production: HTTPS only, Karpenter node pools, capacity (6, 7).
PRODUCTION = {"overlays/eks"}
KARPENTER = ROOT / "deploy/eks/karpenter.yaml"
# CPU-ms per order lifecycle of each role (BENCHMARKS.md "Per-order costs"; deploy/README.md
# "Capacity"), and the tier of the Capacity table every autoscaler's max must reach. (10,000
# orders/s is, as that table says, another architecture, not more pods.)
CPU_MS_PER_ORDER = {"api-order": 6.6, "api-store": 3.6, "api-rider": 3.6, "worker": 23.4,
                    "notification": 2.6, "payment": 0.5}
CAPACITY_TIER = 1000
# An ALB target keeps serving this long after it starts terminating: the controller
# deregisters it and the ALB stops sending some seconds later.
ALB_DEREGISTRATION_SLEEP = 30
MIN_HSTS_MAX_AGE = 31536000

findings = []


def find(where, what):
    findings.append(f"{where}: {what}")


# ---------------------------------------------------------------------------------------------
# what baedal reads


def baedal_surface(baedal):
    """(subcommands, environment variables) from `baedal --help` and each subcommand's."""
    top = subprocess.run([baedal, "--help"], check=True, capture_output=True, text=True).stdout
    commands = re.findall(r"^  ([a-z][a-z-]*)\s", top.split("Commands:")[1].split("Options:")[0], re.M)
    commands = [c for c in commands if c != "help"]
    env = set(re.findall(r"\[env: ([A-Z0-9_]+)", top))
    for c in commands:
        out = subprocess.run([baedal, c, "--help"], check=True, capture_output=True, text=True).stdout
        env |= set(re.findall(r"\[env: ([A-Z0-9_]+)", out))
    return set(commands), env | ALSO_READ


# ---------------------------------------------------------------------------------------------
# 1. Dockerfile


def check_dockerfile(commands):
    path = ROOT / "Dockerfile"
    text = path.read_text()
    ignored = [l.strip().lstrip("/") for l in (ROOT / ".dockerignore").read_text().splitlines()
               if l.strip() and not l.startswith("#")]
    lines = re.sub(r"\\\n", " ", text).splitlines()
    for n, line in enumerate(lines, 1):
        words = line.split()
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from") for w in words):
            continue
        for src in args[:-1]:
            if src == ".":
                continue
            if not (ROOT / src).exists():
                find("Dockerfile", f"COPY source {src} does not exist")
            if any(src.rstrip("/") == i.rstrip("/") for i in ignored):
                find("Dockerfile", f"COPY source {src} is excluded by .dockerignore")
    entry = re.search(r'^ENTRYPOINT \["([^"]+)"', text, re.M)
    if not entry or not entry.group(1).endswith("/baedal"):
        find("Dockerfile", "ENTRYPOINT is not the baedal binary")
    cmd = re.search(r"^CMD (\[.*\])", text, re.M)
    if cmd:
        first = json.loads(cmd.group(1))[0]
        if not first.startswith("-") and first not in commands:
            find("Dockerfile", f"CMD {first} is not a baedal subcommand")
    if re.search(r"^HEALTHCHECK", text, re.M):
        find("Dockerfile", "HEALTHCHECK: Kubernetes probes check health, not the image")
    if not re.search(r"^USER (?!root|0)", text, re.M):
        find("Dockerfile", "the runtime image must run as a non-root USER")
    for needed in ("target/release", "--locked", "ca-certificates"):
        if needed not in text:
            find("Dockerfile", f"missing {needed}")


# ---------------------------------------------------------------------------------------------
# 2. schemas


def strict(schema):
    """The CRD's structural schema as JSON Schema that refuses unknown fields."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if node.get("x-kubernetes-int-or-string"):
                node.pop("type", None)
                node["anyOf"] = node.get("anyOf") or [{"type": "integer"}, {"type": "string"}]
            if node.get("nullable"):
                t = node.get("type")
                if isinstance(t, str):
                    node["type"] = [t, "null"]
            if ("properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for k, v in list(node.items()):
                if k != "enum":
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    # metadata is the API server's ObjectMeta (validated for core kinds): any object here.
    schema.get("properties", {})["metadata"] = {"type": "object"}
    return schema


def crd_schema(api_version, kind):
    group, _, version = api_version.rpartition("/")
    path = SCHEMAS / f"{group}_{version}_{kind}.json"
    return strict(json.loads(path.read_text())) if path.exists() else None


def validate(where, obj):
    group = obj["apiVersion"].rpartition("/")[0]
    if group in CORE_GROUPS:
        try:
            kubernetes_validate.validate(obj, EKS_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            find(where, f"invalid for Kubernetes {EKS_VERSION}: {e.message} at {list(e.path)}")
        except kubernetes_validate.SchemaNotFoundError:
            find(where, f"no Kubernetes {EKS_VERSION} schema for {obj['apiVersion']} {obj['kind']}")
        return
    schema = crd_schema(obj["apiVersion"], obj["kind"])
    if schema is None:
        find(where, f"no CRD schema for {obj['apiVersion']} {obj['kind']} in {SCHEMAS.name}/")
        return
    for e in jsonschema.Draft7Validator(schema).iter_errors(obj):
        find(where, f"invalid {obj['kind']}: {e.message} at {'/'.join(map(str, e.path))}")


# ---------------------------------------------------------------------------------------------
# 3, 4. references and security


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_objects(name, objs, commands, env_read):
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)

    def get(kind, n, ns):
        return next((o for o in by_kind.get(kind, [])
                     if o["metadata"]["name"] == n and o["metadata"].get("namespace") == ns), None)

    where = lambda o: f"{name}: {o['kind']}/{o['metadata'].get('namespace', '-')}/{o['metadata']['name']}"
    deployments = by_kind.get("Deployment", []) + by_kind.get("StatefulSet", [])

    def pods(ns):
        return [d for d in deployments if d["metadata"].get("namespace") == ns]

    for o in objs:
        if o["kind"] not in ("Namespace", "GatewayClass") and not o["metadata"].get("namespace"):
            find(where(o), "no namespace (it would land in whatever namespace kubectl points at)")

    # Gateways and routes.
    for gw in by_kind.get("Gateway", []):
        if not any(c["metadata"]["name"] == gw["spec"]["gatewayClassName"] for c in by_kind.get("GatewayClass", [])):
            find(where(gw), f"GatewayClass {gw['spec']['gatewayClassName']} is not defined")
    for r in by_kind.get("HTTPRoute", []):
        ns = r["metadata"]["namespace"]
        for p in r["spec"].get("parentRefs", []):
            if not get("Gateway", p["name"], p.get("namespace", ns)):
                find(where(r), f"parent Gateway {p['name']} does not exist")
        for rule in r["spec"]["rules"]:
            for b in rule.get("backendRefs", []):
                svc = get("Service", b["name"], b.get("namespace", ns))
                if not svc:
                    find(where(r), f"backend Service {b['name']} does not exist")
                elif not any(p["port"] == b.get("port") for p in svc["spec"]["ports"]):
                    find(where(r), f"Service {b['name']} has no port {b.get('port')}")

    # Services select pods and name their ports.
    for svc in by_kind.get("Service", []):
        ns = svc["metadata"]["namespace"]
        matched = [d for d in pods(ns) if selects(svc["spec"].get("selector"), d["spec"]["template"]["metadata"]["labels"])]
        if not matched:
            find(where(svc), "selects no Deployment's pods")
        for d in matched:
            ports = {p.get("name") for c in d["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
            for p in svc["spec"]["ports"]:
                if isinstance(p.get("targetPort"), str) and p["targetPort"] not in ports:
                    find(where(svc), f"targetPort {p['targetPort']} is no port of {d['metadata']['name']}")

    # Scalers and budgets.
    scaled = {}
    for kind in ("HorizontalPodAutoscaler", "ScaledObject"):
        for s in by_kind.get(kind, []):
            target = s["spec"]["scaleTargetRef"]
            if target.get("kind", "Deployment") != "Deployment" or not get("Deployment", target["name"], s["metadata"]["namespace"]):
                find(where(s), f"scales {target['name']}, which is no Deployment here")
            scaled.setdefault(target["name"], []).append(kind)
    for target, kinds in scaled.items():
        if len(kinds) > 1:
            find(f"{name}: Deployment {target}", f"scaled by {kinds}: KEDA and an HPA would fight")
    for pdb in by_kind.get("PodDisruptionBudget", []):
        sel = pdb["spec"]["selector"]["matchLabels"]
        if not any(selects(sel, d["spec"]["template"]["metadata"]["labels"]) for d in pods(pdb["metadata"]["namespace"])):
            find(where(pdb), "selects no pods")

    # Configuration and secrets.
    def config_keys(ns, cm):
        o = get("ConfigMap", cm, ns)
        return set(o.get("data", {})) if o else None

    def secret_keys(ns, secret):
        o = get("Secret", secret, ns)
        if o:
            return set(o.get("data", {})) | set(o.get("stringData", {}))
        es = next((e for e in by_kind.get("ExternalSecret", [])
                   if e["spec"]["target"]["name"] == secret and e["metadata"]["namespace"] == ns), None)
        return {d["secretKey"] for d in es["spec"]["data"]} if es else None

    for kind in ("Deployment", "Job"):
        for d in by_kind.get(kind, []):
            ns = d["metadata"]["namespace"]
            spec = d["spec"]["template"]["spec"]
            for c in spec["containers"]:
                baedal = c["image"].rsplit("/", 1)[-1].split(":")[0] == "baedal"
                if not baedal:
                    continue
                w = f"{where(d)} container {c['name']}"
                args = c.get("args", [])
                if not args or args[0] not in commands:
                    find(w, f"args {args} do not start with a baedal subcommand ({sorted(commands)})")
                names = [e["name"] for e in c.get("env", [])]
                for e in c.get("env", []):
                    ref = e.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        keys = secret_keys(ns, ref["name"])
                        if keys is None and ref.get("optional") is True:
                            continue  # an optional Secret this overlay does not provide
                        if keys is None:
                            find(w, f"Secret {ref['name']} is neither defined nor written by an ExternalSecret")
                        elif ref["key"] not in keys:
                            find(w, f"Secret {ref['name']} has no key {ref['key']}")
                for src in c.get("envFrom", []):
                    cm = src.get("configMapRef", {}).get("name")
                    if cm:
                        keys = config_keys(ns, cm)
                        if keys is None:
                            find(w, f"ConfigMap {cm} does not exist")
                        else:
                            names += sorted(keys)
                for n in names:
                    if n not in env_read:
                        find(w, f"sets {n}, which baedal does not read")
                sc = c.get("securityContext", {})
                if not (sc.get("runAsNonRoot") or spec.get("securityContext", {}).get("runAsNonRoot")):
                    find(w, "may run as root")
                if sc.get("readOnlyRootFilesystem") is not True:
                    find(w, "root filesystem is writable")
                if sc.get("allowPrivilegeEscalation") is not False:
                    find(w, "allows privilege escalation")
                if "ALL" not in sc.get("capabilities", {}).get("drop", []):
                    find(w, "keeps Linux capabilities")
                res = c.get("resources", {})
                for part in ("requests", "limits"):
                    for r in ("cpu", "memory"):
                        if r not in res.get(part, {}):
                            find(w, f"no {r} {part[:-1]}")
                if spec.get("automountServiceAccountToken") is not False:
                    find(w, "mounts a service account token it never uses")
                if kind == "Deployment":
                    ports = {p.get("name") for p in c.get("ports", [])} | {p.get("containerPort") for p in c.get("ports", [])}
                    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                        get_ = c.get(probe, {}).get("httpGet")
                        if not get_ or get_.get("path") != path:
                            find(w, f"{probe} is not an HTTP GET of {path}")
                        elif get_.get("port") not in ports:
                            find(w, f"{probe} port {get_.get('port')} is not a declared port")


# ---------------------------------------------------------------------------------------------
# 6, 7. autoscaling, rollouts, node pools, HTTPS


def seconds(value):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", str(value))
    if not m:
        return None
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def cpu_cores(q):
    q = str(q)
    return int(q[:-1]) / 1000 if q.endswith("m") else float(q)


def karpenter_pools():
    """[(name, labels, taints)] of the NodePools in deploy/eks/karpenter.yaml."""
    pools = []
    for o in yaml.safe_load_all(KARPENTER.read_text()):
        if o and o["kind"] == "NodePool":
            tmpl = o["spec"]["template"]
            pools.append((o["metadata"]["name"], tmpl.get("metadata", {}).get("labels", {}),
                          tmpl["spec"].get("taints", [])))
    return pools


def check_placement(where, pod_spec, pools):
    """The pod's nodeSelector names one NodePool's labels, and it tolerates that pool's taints."""
    sel = pod_spec.get("nodeSelector") or {}
    if not sel:
        find(where, "no nodeSelector: it may land on any node, not on a Karpenter NodePool")
        return
    matching = [p for p in pools if all(p[1].get(k) == v for k, v in sel.items())]
    if not matching:
        find(where, f"nodeSelector {sel} matches no NodePool's labels in {KARPENTER.name}")
        return
    tolerations = pod_spec.get("tolerations") or []
    for name, _, taints in matching:
        for taint in taints:
            if not any((t.get("operator") == "Exists" and t.get("key") in (None, taint["key"]))
                       or (t.get("key") == taint["key"] and t.get("value") == taint.get("value"))
                       and t.get("effect") in (None, taint["effect"]) for t in tolerations):
                find(where, f"does not tolerate NodePool {name}'s taint {taint['key']}={taint.get('value')}:{taint['effect']}")


def check_day_two(name, objs, pools):
    production = name in PRODUCTION
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    where = lambda o: f"{name}: {o['kind']}/{o['metadata'].get('namespace', '-')}/{o['metadata']['name']}"
    deployments = by_kind.get("Deployment", [])
    config = {k: v for cm in by_kind.get("ConfigMap", []) for k, v in cm.get("data", {}).items()}
    request_timeout = seconds(config.get("BAEDAL_REQUEST_TIMEOUT", "10s")) or 10

    # Autoscalers own the replica count.
    scalers = {}
    for kind in ("HorizontalPodAutoscaler", "ScaledObject"):
        for s in by_kind.get(kind, []):
            scalers[s["spec"]["scaleTargetRef"]["name"]] = s
    for d in deployments:
        n = d["metadata"]["name"]
        if n not in scalers:
            find(where(d), "no HorizontalPodAutoscaler or ScaledObject scales it")
        elif "replicas" in d["spec"]:
            find(where(d), f"sets spec.replicas ({d['spec']['replicas']}) but {scalers[n]['kind']} "
                 f"{scalers[n]['metadata']['name']} owns the count: every apply would reset it")
    for pdb in by_kind.get("PodDisruptionBudget", []):
        if "minAvailable" in pdb["spec"] or "maxUnavailable" not in pdb["spec"]:
            find(where(pdb), "not a maxUnavailable budget (minAvailable blocks drains at the "
                 "minimum and lets all but one go when scaled out)")

    # Rollouts: a preStop sleep on everything behind a Service, a grace above it.
    served = set()
    for svc in by_kind.get("Service", []):
        for d in deployments:
            if selects(svc["spec"].get("selector"), d["spec"]["template"]["metadata"]["labels"]):
                served.add(d["metadata"]["name"])
    alb_backends = set()
    for r in by_kind.get("HTTPRoute", []):
        for rule in r["spec"]["rules"]:
            for b in rule.get("backendRefs", []):
                svc = next((s for s in by_kind.get("Service", []) if s["metadata"]["name"] == b["name"]), None)
                for d in deployments:
                    if svc and selects(svc["spec"].get("selector"), d["spec"]["template"]["metadata"]["labels"]):
                        alb_backends.add(d["metadata"]["name"])
    dereg = None
    for tg in by_kind.get("TargetGroupConfiguration", []):
        for a in tg["spec"].get("defaultConfiguration", {}).get("targetGroupAttributes", []):
            if a["key"] == "deregistration_delay.timeout_seconds":
                dereg = int(a["value"])
    for d in deployments:
        n = d["metadata"]["name"]
        spec = d["spec"]["template"]["spec"]
        grace = spec.get("terminationGracePeriodSeconds", 30)
        if n not in served:
            continue
        for c in spec["containers"]:
            pre = c.get("lifecycle", {}).get("preStop")
            sleep = (pre or {}).get("sleep", {}).get("seconds")
            if sleep is None:
                find(f"{where(d)} container {c['name']}", "no preStop sleep: it would stop while callers still send to it")
                continue
            if grace <= sleep + request_timeout:
                find(where(d), f"terminationGracePeriodSeconds {grace} does not cover preStop {sleep}s "
                     f"plus the request deadline {request_timeout}s")
            if production and n in alb_backends:
                if sleep < ALB_DEREGISTRATION_SLEEP:
                    find(where(d), f"an ALB target sleeps {sleep}s in preStop, less than the "
                         f"{ALB_DEREGISTRATION_SLEEP}s the ALB may take to stop sending after deregistration")
                if dereg is None:
                    find(where(d), "an ALB target, but no target group sets deregistration_delay.timeout_seconds")
                elif not (sleep + request_timeout <= dereg <= grace):
                    find(where(d), f"target group deregistration delay {dereg}s should lie between preStop "
                         f"+ deadline ({sleep + request_timeout}s) and the termination grace ({grace}s)")

    if not production:
        return

    # ALB readiness gates.
    for ns in by_kind.get("Namespace", []):
        if ns["metadata"].get("labels", {}).get("elbv2.k8s.aws/pod-readiness-gate-inject") != "enabled":
            find(where(ns), "no ALB pod readiness gates (label elbv2.k8s.aws/pod-readiness-gate-inject: enabled): "
                 "a rollout can take old targets away before the ALB finds the new ones healthy")

    # Capacity: every autoscaler's max reaches the tier at its own CPU target.
    for d in deployments:
        n = d["metadata"]["name"]
        s = scalers.get(n)
        if n not in CPU_MS_PER_ORDER or not s:
            continue
        if s["kind"] == "ScaledObject":
            maximum = s["spec"].get("maxReplicaCount", 100)
            target = next((int(t["metadata"]["value"]) for t in s["spec"]["triggers"] if t["type"] == "cpu"), None)
        else:
            maximum = s["spec"]["maxReplicas"]
            target = next((m["resource"]["target"].get("averageUtilization") for m in s["spec"].get("metrics", [])
                           if m["type"] == "Resource" and m["resource"]["name"] == "cpu"), None)
        if target is None:
            find(where(s), "no CPU target: the capacity of its max cannot be checked")
            continue
        request = cpu_cores(d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"])
        needed = CAPACITY_TIER * CPU_MS_PER_ORDER[n] / 1000 / (target / 100) / request
        if maximum < needed:
            find(where(s), f"max {maximum} replicas, but {CAPACITY_TIER} orders/s need {needed:.1f} "
                 f"({CPU_MS_PER_ORDER[n]} CPU-ms per order at {target}% of {request} core)")

    # Karpenter node pools.
    for kind in ("Deployment", "Job"):
        for d in by_kind.get(kind, []):
            check_placement(where(d), d["spec"]["template"]["spec"], pools)

    # HTTPS only.
    gateways = by_kind.get("Gateway", [])
    for gw in gateways:
        listeners = {l["name"]: l for l in gw["spec"]["listeners"]}
        if not any(l["protocol"] == "HTTPS" for l in listeners.values()):
            find(where(gw), "no HTTPS listener")
        for l in listeners.values():
            if l["protocol"] != "HTTP":
                continue
            attached = [r for r in by_kind.get("HTTPRoute", []) for p in r["spec"].get("parentRefs", [])
                        if p["name"] == gw["metadata"]["name"] and p.get("sectionName") in (None, l["name"])]
            if not attached:
                find(where(gw), f"HTTP listener {l['name']} has no redirect route: plain HTTP would answer 404, not send clients to https")
            for r in attached:
                for rule in r["spec"]["rules"]:
                    redirects = [f["requestRedirect"] for f in rule.get("filters", []) if f["type"] == "RequestRedirect"]
                    if rule.get("backendRefs") or not redirects or any(
                            x.get("scheme") != "https" or x.get("statusCode", 302) not in (301, 302) for x in redirects):
                        find(where(r), f"attached to the HTTP listener {l['name']} with a rule that is not "
                             "only a redirect to https: the API would be served in cleartext")
        for r in by_kind.get("HTTPRoute", []):
            if not any(rule.get("backendRefs") for rule in r["spec"]["rules"]):
                continue
            for p in r["spec"].get("parentRefs", []):
                if p["name"] != gw["metadata"]["name"]:
                    continue
                l = listeners.get(p.get("sectionName"))
                if not l or l["protocol"] != "HTTPS":
                    find(where(r), f"routes to backends through parentRef sectionName {p.get('sectionName')}, "
                         "not an HTTPS listener only")
    for lbc in by_kind.get("LoadBalancerConfiguration", []):
        for lc in lbc["spec"].get("listenerConfigurations", []):
            if not lc["protocolPort"].startswith("HTTPS"):
                continue
            attrs = {a["key"]: a["value"] for a in lc.get("listenerAttributes", [])}
            hsts = attrs.get("routing.http.response.strict_transport_security.header_value", "")
            age = re.search(r"max-age=(\d+)", hsts)
            if not age or int(age.group(1)) < MIN_HSTS_MAX_AGE:
                find(where(lbc), f"HTTPS listener {lc['protocolPort']} sets no HSTS of a year or more")


def check_versions(pools):
    """KEDA and Karpenter: the versions installed are the ones whose CRDs are vendored."""
    import extract_crd_schemas
    readme = (ROOT / "deploy/README.md").read_text()
    keda = re.search(r"kedacore/keda\b[^\n]*--version (\S+)", readme)
    vendored = extract_crd_schemas.SOURCES["keda.sh"].split()[1].lstrip("v")
    if not keda:
        find("deploy/README.md", "installs KEDA without a pinned --version")
    else:
        v = tuple(int(x) for x in keda.group(1).split("."))
        if v < (2, 19):
            find("deploy/README.md", f"KEDA {keda.group(1)}: 2.19 or later is needed for Kubernetes {EKS_VERSION}")
        if keda.group(1) != vendored:
            find("deploy/README.md", f"installs KEDA {keda.group(1)}, the vendored ScaledObject CRD is {vendored}")
    cluster = yaml.safe_load((ROOT / "deploy/eks/cluster.yaml").read_text())
    karpenter = str(cluster.get("karpenter", {}).get("version", ""))
    vendored = extract_crd_schemas.SOURCES["karpenter.sh"].split()[1].lstrip("v")
    if karpenter != vendored:
        find("deploy/eks/cluster.yaml", f"Karpenter {karpenter or 'not installed'}, the vendored NodePool CRD is {vendored}")
    managed = {g.get("labels", {}).get("baedal.dev/pool") for g in cluster.get("managedNodeGroups", [])}
    for name, labels, _ in pools:
        if labels.get("baedal.dev/pool") in managed:
            find(KARPENTER.name, f"NodePool {name} duplicates a managed node group of cluster.yaml")
    # Temporal's services on their pool.
    values = yaml.safe_load((ROOT / "deploy/temporal/values.yaml").read_text())
    check_placement("deploy/temporal/values.yaml server", values.get("server", {}), pools)


# ---------------------------------------------------------------------------------------------
# 5. nginx against the HTTPRoutes


def route_table(objs):
    """{(match type, path): service} of every HTTPRoute rule (the SSE rules route alike)."""
    table = {}
    for r in objs:
        if r["kind"] != "HTTPRoute":
            continue
        for rule in r["spec"]["rules"]:
            services = {b["name"] for b in rule.get("backendRefs", [])}
            for m in rule.get("matches", []):
                key = (m["path"]["type"], m["path"]["value"])
                for s in services:
                    if table.get(key, s) != s:
                        find(f"HTTPRoute {r['metadata']['name']}", f"{key} routed to two services")
                    table[key] = s
    return table


def nginx_table(path):
    text = path.read_text()
    table = {}
    exact, prefix = {}, {}
    for m in re.finditer(r"location (=\s+)?(/[^\s{]*)\s*\{(.*?)\n        \}", text, re.S):
        is_exact, loc, body = bool(m.group(1)), m.group(2), m.group(3)
        up = re.search(r"proxy_pass http://(\w+);", body)
        if not up or loc.startswith("/__sse/") or "internal;" in body:
            continue
        service = up.group(1).replace("_", "-")
        if "text/event-stream" not in body:
            find(f"{path.name} location {loc}", "sends live streams (Accept: text/event-stream) nowhere special")
        (exact if is_exact else prefix)[loc] = service
    for loc, service in exact.items():
        if loc + "/" in prefix:
            if prefix[loc + "/"] != service:
                find(path.name, f"{loc} and {loc}/ go to different roles")
            table[("PathPrefix", loc)] = service
        else:
            table[("Exact", loc)] = service
    for loc, service in prefix.items():
        if loc.endswith("/") and loc[:-1] not in exact:
            table[("PathPrefix", loc[:-1])] = service
        elif not loc.endswith("/"):
            table[("PathPrefix?", loc)] = service
    return table


def check_nginx(base_objs):
    routes = route_table(base_objs)
    nginx = nginx_table(ROOT / "deploy/nginx/gateway.conf.template")
    for key, service in sorted(routes.items()):
        if nginx.get(key) != service:
            find("deploy/nginx/gateway.conf.template", f"HTTPRoute {key[0]} {key[1]} -> {service}, nginx -> {nginx.get(key)}")
    for key, service in sorted(nginx.items()):
        if key not in routes:
            find("deploy/nginx/gateway.conf.template", f"routes {key[0]} {key[1]} -> {service}, which no HTTPRoute does")


# ---------------------------------------------------------------------------------------------


def render(path):
    out = subprocess.run(["kubectl", "kustomize", str(K8S / path)], capture_output=True, text=True)
    if out.returncode != 0:
        find(f"deploy/k8s/{path}", f"does not render: {out.stderr.strip()}")
        return []
    return [o for o in yaml.safe_load_all(out.stdout) if o]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baedal", required=True)
    args = ap.parse_args()
    commands, env_read = baedal_surface(args.baedal)

    check_dockerfile(commands)
    base = render("base")
    check_nginx(base)
    counts = {}
    pools = karpenter_pools()
    for o in yaml.safe_load_all(KARPENTER.read_text()):
        if o:
            validate(f"deploy/eks/{KARPENTER.name}: {o['kind']}/{o['metadata']['name']}", o)
    check_versions(pools)
    for overlay in OVERLAYS:
        objs = render(overlay)
        counts[overlay] = len(objs)
        for o in objs:
            validate(f"{overlay}: {o['kind']}/{o['metadata']['name']}", o)
        check_objects(overlay, objs, commands, env_read)
        check_day_two(overlay, objs, pools)
    temporal_extras = [*(ROOT / "deploy/temporal").glob("*job.yaml"),
                       ROOT / "deploy/temporal/networkpolicy.yaml"]
    for extra in sorted(temporal_extras):
        for o in yaml.safe_load_all(extra.read_text()):
            if o:
                validate(f"deploy/temporal/{extra.name}", o)

    for f in findings:
        print(f"deploy check: {f}", file=sys.stderr)
    if findings:
        print(f"deploy check: {len(findings)} findings", file=sys.stderr)
        sys.exit(1)
    print(f"deploy check: ok — Dockerfile; {', '.join(f'{k} ({v} objects)' for k, v in counts.items())} "
          f"valid for Kubernetes {EKS_VERSION} and their CRDs; references, environment, "
          f"security and gateway routes agree; autoscaling, rollouts, node pools, capacity and "
          f"HTTPS only hold", file=sys.stderr)


if __name__ == "__main__":
    main()
