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
   to https, and the HTTPS listener sets HSTS; the ALB health-checks /healthz, never /readyz.
   Every chart deploy/README.md installs is pinned to an exact release, the one whose schema
   is vendored here; deploy/eks/cluster.yaml is valid for eksctl's schema.
8. Temporal installs as documented: every key of deploy/temporal/values*.yaml exists in the
   pinned chart's vendored values.yaml (helm_values.py, with its self-test); the datastores
   do not create databases, the guide's SQL creates them and a user without CREATEDB; TLS to
   RDS verifies the host against a mounted CA bundle (server and schema job); the chart's
   PDBs are maxUnavailable; 512 or 1,024 history shards, as the README says.
9. The rest of the review: each RDS instance the guide creates is KMS-encrypted, Multi-AZ,
   private, deletion-protected, autoscales storage, keeps backups >= 7 days and forces TLS;
   on EKS the secrets store is a SecretStore of the namespace with an IRSA role for baedal/*
   only, refreshes within an hour, and Reloader rolls every Deployment that reads a changed
   Secret; every pod with a database URL mounts the RDS CA and the URLs verify-full; the
   NetworkPolicies, evaluated (netpol.py), let each role reach exactly what the EGRESS table
   says and be reached only as INGRESS says, Temporal's frontend only from the worker, the
   apis, KEDA and itself, and name the VPC only by cluster.yaml's range.
"""
import argparse
import copy
import ipaddress
import json
import pathlib
import re
import shlex
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
TEMPORAL = ROOT / "deploy/temporal"
# History shards are fixed for a cluster's life: the counts issue 22 accepts, each justified by
# the Capacity arithmetic in deploy/README.md.
HISTORY_SHARDS = {512, 1024}
# RDS, as the guide creates it (deploy/README.md step 2).
RDS_INSTANCES = {"temporal-db", "baedal-db"}
MIN_BACKUP_DAYS = 7
RDS_CA_CONFIGMAP = "rds-ca"
# Secrets: baedal's path in Secrets Manager, what its store may do there, how soon a rotated
# value reaches the Secret, and the annotation through which Reloader rolls the Deployments.
SECRETS_PATH = "baedal/"
SECRET_READ_ACTIONS = {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
MAX_SECRET_REFRESH = 3600
RELOAD_ANNOTATION = "secret.reloader.stakater.com/reload"
# The capacity model (deploy/capacity.yaml, through capacity.py): the CPU-ms per order of each
# role, the tier every autoscaler's max must reach, and what Temporal's values must hold.
import capacity  # noqa: E402
CAPACITY = capacity.load()
# An ALB target keeps serving this long after it starts terminating: the controller
# deregisters it and the ALB stops sending some seconds later.
ALB_DEREGISTRATION_SLEEP = 30
MIN_HSTS_MAX_AGE = 31536000
# The charts deploy/README.md installs, and the vendored schema each must be the release of: an
# API group of crd-schemas/ (extract_crd_schemas.SOURCES), or "temporal" for the chart values
# in deploy/temporal/. Reloader has no CRD: pinned, nothing to compare.
CHART_PINS = {
    "eks/aws-load-balancer-controller": "gateway.k8s.aws",
    "external-secrets/external-secrets": "external-secrets.io",
    "kedacore/keda": "keda.sh",
    "stakater/reloader": None,
    # The local overlay's gateway; v1.7.x carries the Gateway API v1.4.1 CRDs (its go.mod).
    "oci://docker.io/envoyproxy/gateway-helm": None,
    "temporal/temporal": "temporal",
    # Its pin is checked against the vendored chart keys by check_observability.py.
    "prometheus-community/kube-prometheus-stack": None,
}

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

    # The ALB health-checks liveness, never readiness: a readiness that goes false on every
    # replica at once (Temporal or the read model slow for all) would empty the target group.
    for tg in by_kind.get("TargetGroupConfiguration", []):
        path = tg["spec"].get("defaultConfiguration", {}).get("healthCheckConfig", {}).get("healthCheckPath")
        if path != "/healthz":
            find(where(tg), f"ALB health check on {path}: /healthz (readiness must not drive the target group)")

    # ALB readiness gates.
    for ns in by_kind.get("Namespace", []):
        if ns["metadata"].get("labels", {}).get("elbv2.k8s.aws/pod-readiness-gate-inject") != "enabled":
            find(where(ns), "no ALB pod readiness gates (label elbv2.k8s.aws/pod-readiness-gate-inject: enabled): "
                 "a rollout can take old targets away before the ALB finds the new ones healthy")

    # Capacity: every autoscaler's max reaches the built-for tier at its own CPU target.
    for f in capacity.check_autoscalers(CAPACITY, where, deployments, scalers, cpu_cores):
        findings.append(f)

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


def shell_commands(markdown):
    """The commands of a Markdown file's shell blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", markdown, re.S):
        text = re.sub(r"\\\n\s*", " ", block)
        for line in text.splitlines():
            line = re.sub(r"(^|\s)#.*$", "", line).strip()
            if line:
                commands.append(line)
    return commands


def args_of(command):
    """A command line's words, its --flags as {flag: value or True}."""
    words = shlex.split(command)
    flags, positional, i = {}, [], 0
    while i < len(words):
        w = words[i]
        if w.startswith("--"):
            if "=" in w:
                k, v = w.split("=", 1)
                flags[k] = v
            elif i + 1 < len(words) and not words[i + 1].startswith("--"):
                flags[w] = words[i + 1]
                i += 1
            else:
                flags[w] = True
        else:
            positional.append(w)
        i += 1
    return positional, flags


def vendored_release(source):
    """The release of a vendored schema: the API group's CRD source, or Temporal's chart values."""
    import extract_crd_schemas
    if source == "temporal":
        return temporal_chart_version()
    return extract_crd_schemas.SOURCES[source].split()[1].lstrip("v")


def check_versions(pools):
    """Every chart and manifest deploy/README.md installs is pinned to an exact release, the
    release whose schema deploy/check validates against where one is vendored; KEDA is new
    enough for the cluster; Karpenter (cluster.yaml) is its vendored CRDs' release."""
    readme_path = ROOT / "deploy/README.md"
    commands = shell_commands(readme_path.read_text())
    helm = [c for c in commands if re.match(r"helm (install|upgrade)\b", c)]
    if not helm:
        find("deploy/README.md", "installs no Helm chart (expected at least Temporal's)")
    installed = {}
    for c in helm:
        positional, flags = args_of(c)
        chart = positional[3] if len(positional) > 3 else "?"
        version = flags.get("--version")
        installed[chart] = version
        if not isinstance(version, str) or not re.fullmatch(r"v?\d+\.\d+\.\d+", version):
            find("deploy/README.md", f"`{c[:60]}…` installs {chart} without an exact --version")
        elif chart not in CHART_PINS:
            find("deploy/README.md", f"installs {chart}, which deploy/check's CHART_PINS does not name")
        elif CHART_PINS[chart] and version != vendored_release(CHART_PINS[chart]):
            find("deploy/README.md", f"installs {chart} {version}, but the vendored schema is of "
                 f"{vendored_release(CHART_PINS[chart])} ({CHART_PINS[chart]})")
    for chart in CHART_PINS:
        if chart not in installed:
            find("deploy/README.md", f"does not install {chart} (CHART_PINS names it)")
    keda = installed.get("kedacore/keda")
    if keda and re.fullmatch(r"\d+\.\d+\.\d+", keda) and tuple(int(x) for x in keda.split(".")) < (2, 19):
        find("deploy/README.md", f"KEDA {keda}: 2.19 or later is needed for Kubernetes {EKS_VERSION}")
    for c in commands:
        for url in re.findall(r"kubectl apply [^|]*?-f (https://\S+)", c):
            version = re.search(r"/v(\d+\.\d+\.\d+)/", url)
            if not version:
                find("deploy/README.md", f"applies {url} without a release in its URL")
            elif "gateway-api" in url and version.group(1) != vendored_release("gateway.networking.k8s.io"):
                find("deploy/README.md", f"applies Gateway API {version.group(1)}, the vendored CRDs are "
                     f"{vendored_release('gateway.networking.k8s.io')}")
    cluster = yaml.safe_load((ROOT / "deploy/eks/cluster.yaml").read_text())
    karpenter = str(cluster.get("karpenter", {}).get("version", ""))
    if karpenter != vendored_release("karpenter.sh"):
        find("deploy/eks/cluster.yaml", f"Karpenter {karpenter or 'not installed'}, the vendored NodePool CRD is "
             f"{vendored_release('karpenter.sh')}")
    managed = {g.get("labels", {}).get("baedal.dev/pool") for g in cluster.get("managedNodeGroups", [])}
    for name, labels, _ in pools:
        if labels.get("baedal.dev/pool") in managed:
            find(KARPENTER.name, f"NodePool {name} duplicates a managed node group of cluster.yaml")
    # Temporal's pods on their pool: the services, the admin tools (and with them the chart's
    # schema and namespace jobs) and the Web UI.
    values = yaml.safe_load((ROOT / "deploy/temporal/values.yaml").read_text())
    for part in ("server", "admintools", "web"):
        check_placement(f"deploy/temporal/values.yaml {part}", values.get(part, {}), pools)


# ---------------------------------------------------------------------------------------------
# 8. The documented install of Temporal works


def temporal_chart_file():
    files = sorted(TEMPORAL.glob("chart-values-*.yaml"))
    if len(files) != 1:
        find("deploy/temporal", f"{len(files)} vendored chart values (chart-values-<version>.yaml): expected one")
    return files[-1] if files else None


def temporal_chart_version():
    f = temporal_chart_file()
    return re.fullmatch(r"chart-values-(.+)\.yaml", f.name).group(1) if f else "?"


def check_temporal_install():
    """Temporal's values against the pinned chart, and the rules that make the guide's install
    work: databases the guide creates, a user without CREATEDB, TLS to RDS verified, PDBs the
    chart renders as maxUnavailable, a shard count justified by the Capacity table."""
    import helm_values
    chart_file = temporal_chart_file()
    if not chart_file:
        return
    where = f"deploy/temporal/{chart_file.name}"
    if not re.search(r"^# .*commit [0-9a-f]{40}", chart_file.read_text(), re.M):
        find(where, "its header names no commit of the chart's source")
    chart = yaml.safe_load(chart_file.read_text())
    values = {n: yaml.safe_load((TEMPORAL / n).read_text())
              for n in ("values.yaml", "values-local.yaml", "values-opensearch.yaml")}
    for n, v in values.items():
        findings.extend(helm_values.check_keys(v, chart, f"deploy/temporal/{n}", EKS_VERSION))
    missed = helm_values.self_test(values["values.yaml"], chart, EKS_VERSION)
    if missed:
        find("deploy/check/helm_values.py", f"self-test: misspelt keys passed the key check: {missed}")

    v = values["values.yaml"]
    w = "deploy/temporal/values.yaml"
    server = v.get("server") or {}
    persistence = (server.get("config") or {}).get("persistence") or {}
    sql_file = (TEMPORAL / "databases.sql").read_text()
    created = dict(re.findall(r"^CREATE DATABASE (\w+) OWNER (\w+);", sql_file, re.M))
    roles = dict(re.findall(r"^CREATE ROLE (\w+) ([^;]*);", sql_file, re.M))
    for role, attrs in roles.items():
        words = set(attrs.upper().split())
        if "NOCREATEDB" not in words or words & {"CREATEDB", "CREATEROLE", "SUPERUSER", "REPLICATION", "BYPASSRLS"}:
            find("deploy/temporal/databases.sql", f"role {role} ({attrs.split(' PASSWORD')[0]}) is not "
                 "NOCREATEDB without CREATEROLE, SUPERUSER, REPLICATION, BYPASSRLS")

    def mounted_configmap(part, path):
        """Is `path` in a ConfigMap volume mounted into the chart's `part` pods?"""
        p = v.get(part) or {}
        volumes = {x["name"]: x for x in p.get("additionalVolumes") or []}
        for m in p.get("additionalVolumeMounts") or []:
            if path.startswith(m["mountPath"].rstrip("/") + "/"):
                return "configMap" in volumes.get(m["name"], {})
        return False

    readme = (ROOT / "deploy/README.md").read_text()
    install = next((c for c in shell_commands(readme) if re.match(r"helm install temporal\b", c)), "")
    for store, ds in (persistence.get("datastores") or {}).items():
        sql = (ds or {}).get("sql")
        if not sql:
            continue
        at = f"{w} datastores.{store}.sql"
        if sql.get("createDatabase") is not False:
            find(at, "createDatabase is not false: the schema job would create the database, which "
                 "takes CREATEDB (42501 with the guide's user)")
        db, user = sql.get("databaseName"), sql.get("user")
        if db not in created:
            find(at, f"database {db} is not created by deploy/temporal/databases.sql")
        elif created[db] != user:
            find(at, f"user {user} is not the owner databases.sql gives {db} ({created[db]})")
        if user not in roles:
            find(at, f"user {user} is not created by deploy/temporal/databases.sql")
        tls = sql.get("tls") or {}
        if tls.get("enabled") is not True or tls.get("enableHostVerification") is not True:
            find(at, "TLS to the database is not on with host verification (tls.enabled, tls.enableHostVerification)")
        host = str(sql.get("connectAddr", "")).rsplit(":", 1)[0]
        if tls.get("serverName") != host:
            find(at, f"tls.serverName {tls.get('serverName')!r} is not connectAddr's host {host!r}")
        ca = tls.get("caFile")
        if not ca:
            find(at, "no tls.caFile: the RDS certificate authorities are not trusted")
        else:
            # The server, and the schema job, which runs with the admin tools' volumes.
            for part in ("server", "admintools"):
                if not mounted_configmap(part, ca):
                    find(at, f"tls.caFile {ca} is in no ConfigMap mounted by {part}.additionalVolumeMounts")
        # The guide points connectAddr and serverName at the same instance.
        addr = re.search(rf"datastores\.{store}\.sql\.connectAddr=(\S+):\d+", install)
        name = re.search(rf"datastores\.{store}\.sql\.tls\.serverName=(\S+)", install)
        if not addr or not name or addr.group(1) != name.group(1):
            find("deploy/README.md", f"`helm install temporal` does not set datastores.{store}.sql "
                 "connectAddr and tls.serverName to the same host")
    if "-f deploy/temporal/values.yaml" not in install:
        find("deploy/README.md", "`helm install temporal` does not use deploy/temporal/values.yaml")

    budgets = [(f"server.{s}", server.get(s) or {}) for s in ("frontend", "history", "matching", "worker")]
    web = v.get("web") or {}
    if web.get("enabled", True) and int(web.get("replicaCount") or 1) > 1:
        budgets.append(("web", web))
    for part, values_ in budgets:
        pdb = values_.get("podDisruptionBudget") or {}
        if values_.get("enabled", True) and ("maxUnavailable" not in pdb or "minAvailable" in pdb):
            find(f"{w} {part}", "podDisruptionBudget is not a maxUnavailable budget (the chart renders it as the PDB's spec)")

    shards = persistence.get("numHistoryShards")
    if shards not in HISTORY_SHARDS:
        find(w, f"numHistoryShards {shards}: {' or '.join(map(str, sorted(HISTORY_SHARDS)))}, from the Capacity arithmetic")
    documented = re.search(r"History shards: ([\d,]+)", readme)
    if not documented or int(documented.group(1).replace(",", "")) != shards:
        find("deploy/README.md", f"Capacity says {documented and documented.group(1)} history shards, values.yaml {shards}")

    # The capacity model: the README's tables are deploy/capacity.yaml's, and Temporal's values
    # (with values-opensearch.yaml at 1,000 orders/s) hold each tier they are for.
    findings.extend(capacity.check_readme(CAPACITY) + capacity.check_temporal(CAPACITY)
                    + capacity.check_node_pools(CAPACITY))
    missed = capacity.self_test(CAPACITY)
    if missed:
        find("deploy/check/capacity.py", f"self-test: planted faults passed the capacity check: {missed}")

    tag = chart["server"]["image"]["tag"]
    shims = {k: (v.get("shims") or {}).get(k, d) for k, d in chart["shims"].items()}
    if tuple(int(x) for x in tag.split(".")[:2]) >= (1, 30) and any(shims.values()):
        find(w, f"shims {shims} on for server {tag}: the chart says to turn them off from 1.30")
    job = yaml.safe_load((TEMPORAL / "search-attributes-job.yaml").read_text())
    image = job["spec"]["template"]["spec"]["containers"][0]["image"]
    if image.rsplit(":", 1)[-1] != chart["admintools"]["image"]["tag"]:
        find("deploy/temporal/search-attributes-job.yaml", f"{image}, but the chart runs admin tools "
             f"{chart['admintools']['image']['tag']}")


# ---------------------------------------------------------------------------------------------
# 9. The rest of the review: RDS in the guide, the secrets store, TLS to the databases, network


def check_rds_guide():
    """The guide's `aws rds create-db-instance` of each instance: encrypted with KMS, backups of
    MIN_BACKUP_DAYS or more, deletion protection, storage autoscaling, Multi-AZ, private, and a
    parameter group that forces TLS. RDS is made by these commands, not a manifest: this is where
    the rules can be read."""
    commands = shell_commands((ROOT / "deploy/README.md").read_text())
    instances = {}
    for c in commands:
        if c.startswith("aws rds create-db-instance"):
            _, flags = args_of(c)
            instances[flags.get("--db-instance-identifier")] = flags
    force_ssl = {args_of(c)[1].get("--db-parameter-group-name") for c in commands
                 if c.startswith("aws rds modify-db-parameter-group")
                 and re.search(r"ParameterName=rds\.force_ssl,ParameterValue=1\b", c)}
    for name in sorted(RDS_INSTANCES - set(instances)):
        find("deploy/README.md", f"creates no RDS instance {name} (aws rds create-db-instance)")
    for name, f in sorted(instances.items(), key=lambda x: str(x[0])):
        w = f"deploy/README.md: aws rds create-db-instance {name}"
        for flag, why in (("--storage-encrypted", "storage not encrypted"),
                          ("--deletion-protection", "no deletion protection"),
                          ("--multi-az", "not Multi-AZ"),
                          ("--no-publicly-accessible", "may be publicly accessible")):
            if f.get(flag) is not True:
                find(w, f"{why} ({flag})")
        if not isinstance(f.get("--kms-key-id"), str):
            find(w, "no --kms-key-id: encrypted with the AWS-managed key, which cannot be shared or audited as ours")
        backups = f.get("--backup-retention-period")
        if not (isinstance(backups, str) and backups.isdigit() and int(backups) >= MIN_BACKUP_DAYS):
            find(w, f"--backup-retention-period {backups}: at least {MIN_BACKUP_DAYS} days")
        try:
            grows = int(f.get("--max-allocated-storage")) > int(f.get("--allocated-storage"))
        except (TypeError, ValueError):
            grows = False
        if not grows:
            find(w, "no storage autoscaling (--max-allocated-storage above --allocated-storage)")
        if f.get("--db-parameter-group-name") not in force_ssl:
            find(w, f"parameter group {f.get('--db-parameter-group-name')} is not set to rds.force_ssl=1 by the guide")


def check_secrets(name, objs, cluster):
    """On EKS: the secrets store is the namespace's own, assumes a role that reads baedal's path
    and nothing else, refreshes often, and a changed Secret rolls the Deployments that read it."""
    if name not in PRODUCTION:
        return
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    where = lambda o: f"{name}: {o['kind']}/{o['metadata'].get('namespace', '-')}/{o['metadata']['name']}"
    for o in by_kind.get("ClusterSecretStore", []):
        find(where(o), "a ClusterSecretStore: any namespace could read baedal's secrets through it")
    stores = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in by_kind.get("SecretStore", [])}
    for es in by_kind.get("ExternalSecret", []):
        ns, ref = es["metadata"]["namespace"], es["spec"]["secretStoreRef"]
        if ref.get("kind") != "SecretStore" or (ns, ref["name"]) not in stores:
            find(where(es), f"reads through {ref.get('kind', 'SecretStore')} {ref['name']}, not a SecretStore of its namespace")
        refresh = seconds(es["spec"].get("refreshInterval", "1h"))
        if not refresh or refresh > MAX_SECRET_REFRESH:
            find(where(es), f"refreshInterval {es['spec'].get('refreshInterval')}: a rotated secret would take "
                 f"more than {MAX_SECRET_REFRESH // 60} minutes (or forever) to reach the Secret")
        for d in es["spec"].get("data", []):
            if not d["remoteRef"]["key"].startswith(SECRETS_PATH):
                find(where(es), f"reads {d['remoteRef']['key']}, outside {SECRETS_PATH}")
    irsa = {(s["metadata"]["namespace"], s["metadata"]["name"]): s
            for s in cluster.get("iam", {}).get("serviceAccounts", [])}
    for (ns, _), store in stores.items():
        sa_name = store["spec"]["provider"].get("aws", {}).get("auth", {}).get("jwt", {}).get("serviceAccountRef", {}).get("name")
        sa = next((o for o in by_kind.get("ServiceAccount", []) if o["metadata"]["name"] == sa_name
                   and o["metadata"]["namespace"] == ns), None)
        if not sa:
            find(where(store), f"authenticates as service account {sa_name}, which is not in the overlay")
            continue
        role = sa["metadata"].get("annotations", {}).get("eks.amazonaws.com/role-arn", "").rsplit("/", 1)[-1]
        grant = irsa.get((ns, sa_name))
        if not grant or grant.get("roleName") != role:
            find(where(sa), f"role {role or '(none)'} is not the IRSA role of {ns}/{sa_name} in deploy/eks/cluster.yaml")
            continue
        for st in grant.get("attachPolicy", {}).get("Statement", []):
            actions = st.get("Action") if isinstance(st.get("Action"), list) else [st.get("Action")]
            resources = st.get("Resource") if isinstance(st.get("Resource"), list) else [st.get("Resource")]
            if set(actions) - SECRET_READ_ACTIONS or not all(
                    re.fullmatch(rf"arn:aws:secretsmanager:[^:]+:[^:]+:secret:{re.escape(SECRETS_PATH)}\*?", r or "")
                    for r in resources):
                find("deploy/eks/cluster.yaml", f"role {role} may do {actions} on {resources}: "
                     f"only reading {SECRETS_PATH}* is the store's")
    for assoc in cluster.get("iam", {}).get("podIdentityAssociations", []):
        if "secretsmanager" in json.dumps(assoc.get("permissionPolicy", {})):
            find("deploy/eks/cluster.yaml", f"{assoc['namespace']}/{assoc['serviceAccountName']} reads Secrets "
                 "Manager outside the namespace's SecretStore")
    # Rotation reaches the pods: each Deployment names exactly the Secrets it reads.
    for d in by_kind.get("Deployment", []):
        spec = d["spec"]["template"]["spec"]
        reads = {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
        for c in spec["containers"]:
            reads |= {e["valueFrom"]["secretKeyRef"]["name"] for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}
            reads |= {e["secretRef"]["name"] for e in c.get("envFrom", []) if "secretRef" in e}
        listed = d["metadata"].get("annotations", {}).get(RELOAD_ANNOTATION, "")
        listed = {x.strip() for x in listed.split(",") if x.strip()}
        if listed != reads:
            find(where(d), f"{RELOAD_ANNOTATION} lists {sorted(listed)}, but it reads {sorted(reads)}: "
                 "a rotated Secret would not reach its pods (or restart them for nothing)")
    readme = (ROOT / "deploy/README.md").read_text()
    helm = {args_of(c)[0][3]: c for c in shell_commands(readme) if re.match(r"helm install\b", c)}
    eso = helm.get("external-secrets/external-secrets", "")
    if "scopedNamespace=baedal" not in eso or "scopedRBAC=true" not in eso:
        find("deploy/README.md", "the External Secrets Operator is not installed scoped to the namespace "
             "(scopedNamespace=baedal, scopedRBAC=true)")
    reloader = helm.get("stakater/reloader", "")
    if "reloader.watchGlobally=false" not in reloader or "baedal" not in reloader:
        find("deploy/README.md", "Reloader is not installed watching baedal's namespace only")


def check_rollout(name, objs):
    """Rollouts are ordered and versioned (deploy/README.md, "Rolling out a release"): every
    Deployment's pods wait for the release's migration (an init container `baedal migrate
    --wait` with the same database URLs, and on EKS the same RDS CA, as the role); on EKS the
    worker is a Deployment per build, named and labelled by its image tag, which is its
    BAEDAL_BUILD_ID and the build its ScaledObject scales (authenticated to Temporal)."""
    for o in objs:
        if o["kind"] != "Deployment":
            continue
        w = f"{name}: Deployment/{o['metadata']['name']}"
        spec = o["spec"]["template"]["spec"]
        main = spec["containers"][0]
        inits = [c for c in spec.get("initContainers", []) if c.get("args", [])[:2] == ["migrate", "--wait"]]
        if not inits:
            find(w, "has no init container `baedal migrate --wait`: its pods could start before the release's migration")
            continue
        init = inits[0]
        if init.get("image") != main.get("image"):
            find(w, "waits for the migration with another image than it runs")
        urls = lambda c: {e["name"]: e.get("valueFrom") for e in c.get("env", []) if e["name"].endswith("DATABASE_URL")}
        if urls(init) != urls(main):
            find(w, f"its init container checks the databases {sorted(urls(init))}, the role uses {sorted(urls(main))}")
        mounts = lambda c: {m["mountPath"] for m in c.get("volumeMounts", [])}
        if name in PRODUCTION and "/etc/baedal/rds-ca" in mounts(main) and "/etc/baedal/rds-ca" not in mounts(init):
            find(w, "its init container connects without the RDS CA the database URLs name")
    if name not in PRODUCTION:
        return
    workers = [o for o in objs if o["kind"] == "Deployment"
               and o["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == "worker"]
    for o in workers:
        w = f"{name}: Deployment/{o['metadata']['name']}"
        c = o["spec"]["template"]["spec"]["containers"][0]
        tag = c["image"].rsplit(":", 1)[-1]
        # The tag names a Deployment and labels pods: a DNS label's characters, and a tag (not a
        # digest, whose ':' would split wrongly).
        if "@" in c["image"] or not re.fullmatch(r"[a-z0-9]([a-z0-9.-]{0,50}[a-z0-9])?", tag):
            find(w, f"image {c['image']!r}: a worker build needs a lowercase tag of letters, digits, '.' and '-' (it names the Deployment and the Temporal build)")
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        if env.get("BAEDAL_BUILD_ID") != tag:
            find(w, f"BAEDAL_BUILD_ID is {env.get('BAEDAL_BUILD_ID')!r}, its image tag {tag!r}")
        if o["metadata"]["name"] != f"worker-{tag}":
            find(w, f"a worker build runs as worker-{tag}, beside the previous build's Deployment")
        if o["spec"]["selector"]["matchLabels"].get("baedal.dev/build") != tag:
            find(w, "its selector does not name its build: two builds' Deployments would adopt each other's pods")
        scalers = [s for s in objs if s["kind"] == "ScaledObject"
                   and s["spec"]["scaleTargetRef"]["name"] == o["metadata"]["name"]]
        for so in scalers:
            t = next((t for t in so["spec"]["triggers"] if t["type"] == "temporal"), None)
            meta = (t or {}).get("metadata", {})
            if meta.get("workerDeploymentName") != "baedal-worker" or meta.get("workerDeploymentBuildId") != tag:
                find(f"{name}: ScaledObject/{so['metadata']['name']}",
                     f"does not scale on build {tag}'s own backlog (workerDeploymentName/workerDeploymentBuildId)")
            if t and not t.get("authenticationRef"):
                find(f"{name}: ScaledObject/{so['metadata']['name']}",
                     "reaches Temporal's mTLS frontend without a TriggerAuthentication")
        if not scalers:
            find(w, "no ScaledObject scales this build")


def check_next_tag():
    """A new image tag is a new worker build beside the running one: the eks overlay rendered
    with another tag names, labels, versions and scales its worker by that tag (kustomize runs
    a component's replacements before the overlay's `images:`, so a tag copied too early would
    roll the running build in place with new code under its old build id)."""
    import shutil
    import tempfile
    eks = K8S / "overlays/eks"
    with tempfile.TemporaryDirectory(dir=K8S / "overlays", prefix=".next-tag-") as tmp:
        tmp = pathlib.Path(tmp)
        for f in eks.iterdir():
            shutil.copy(f, tmp / f.name)
        k = tmp / "kustomization.yaml"
        text, n = re.subn(r"(?m)^(\s*newTag:\s*).*$", r"\g<1>9.9.9-next", k.read_text())
        if n != 1:
            find("deploy/k8s/overlays/eks/kustomization.yaml", "sets no single image tag (images: newTag)")
            return
        k.write_text(text)
        out = subprocess.run(["kubectl", "kustomize", str(tmp)], capture_output=True, text=True)
    if out.returncode != 0:
        find("deploy/k8s/overlays/eks", f"does not render with another tag: {out.stderr.strip()}")
        return
    objs = [o for o in yaml.safe_load_all(out.stdout) if o]
    before = len(findings)
    check_rollout("overlays/eks", objs)
    if not any(o["kind"] == "Deployment" and o["metadata"]["name"] == "worker-9.9.9-next" for o in objs):
        find("deploy/k8s/overlays/eks", "with the tag 9.9.9-next the worker does not run as worker-9.9.9-next")
    for i in range(before, len(findings)):
        findings[i] = f"(image tag 9.9.9-next) {findings[i]}"


def check_database_tls(name, objs):
    """On EKS every pod with a database URL mounts the RDS CA bundle, and the guide's URLs verify
    the server against it."""
    if name not in PRODUCTION:
        return
    readme = (ROOT / "deploy/README.md").read_text()
    mounts = set()
    for o in objs:
        if o["kind"] not in ("Deployment", "Job"):
            continue
        spec = o["spec"]["template"]["spec"]
        c = spec["containers"][0]
        if not any(e["name"].endswith("DATABASE_URL") for e in c.get("env", [])):
            continue
        w = f"{name}: {o['kind']}/{o['metadata']['name']}"
        volumes = {v["name"] for v in spec.get("volumes", []) if v.get("configMap", {}).get("name") == RDS_CA_CONFIGMAP}
        mount = next((m["mountPath"] for m in c.get("volumeMounts", []) if m["name"] in volumes), None)
        if not mount:
            find(w, f"reads a database URL but does not mount the ConfigMap {RDS_CA_CONFIGMAP} (the RDS CA bundle)")
        else:
            mounts.add(mount)
    for mount in sorted(mounts):
        if f"sslrootcert={mount}/global-bundle.pem" not in readme:
            find("deploy/README.md", f"the database URLs do not name sslrootcert={mount}/global-bundle.pem")
    if "sslmode=verify-full" not in readme or "sslmode=require" in readme:
        find("deploy/README.md", "the database URLs do not use sslmode=verify-full (require encrypts without checking who answers)")


# What each baedal pod may open a connection to, by its app.kubernetes.io/component (the table
# atop deploy/k8s/base/networkpolicies.yaml); everything else must be refused.
APIS = ("api-order", "api-store", "api-rider")
EGRESS = {
    **{a: {"dns", "temporal", "postgresql", "notification", "internet-https", "otel-collector"} for a in APIS},
    "worker": {"dns", "temporal", "postgresql", "payment", "notification", "otel-collector"},
    "payment": {"dns", "postgresql", "otel-collector"},
    "notification": {"dns", "postgresql", "internet-https", "otel-collector"},
    "migrate": {"dns", "postgresql", "otel-collector"},
}
# Who may reach a role's own port inside the namespace.
INGRESS = {"payment": (8081, {"worker"}), "notification": (8082, {"worker", *APIS})}
TEMPORAL_CLIENTS = {"worker", *APIS}


def check_network(name, objs, vpc_cidr):
    """Evaluate the NetworkPolicies (the overlay's and Temporal's) for every baedal pod."""
    import netpol
    production = name in PRODUCTION
    temporal_policies = [o for o in yaml.safe_load_all((TEMPORAL / "networkpolicy.yaml").read_text()) if o]
    ns_labels = {o["metadata"]["name"]: o["metadata"].get("labels", {}) for o in objs if o["kind"] == "Namespace"}
    ns_labels["gateway"] = {"baedal.dev/gateway": "true"}  # where the local gateway runs
    net = netpol.Network([o for o in objs if o["kind"] == "NetworkPolicy"] + temporal_policies, ns_labels)
    vpc = ipaddress.ip_network(vpc_cidr)
    # On EKS pods have VPC addresses; locally, the cluster's own range.
    pod_ip = str(vpc[1000]) if production else "10.244.1.10"
    pod = lambda ns, labels: netpol.Pod(ns, labels, pod_ip)
    pods = {}
    for o in objs:
        if o["kind"] in ("Deployment", "Job") and o["metadata"].get("namespace") == "baedal":
            labels = o["spec"]["template"]["metadata"].get("labels", {})
            pods[labels.get("app.kubernetes.io/component", o["metadata"]["name"])] = pod("baedal", labels)
    temporal = lambda component: pod("temporal", {"app.kubernetes.io/name": "temporal",
                                                  "app.kubernetes.io/component": component})
    dns = pod("kube-system", {"k8s-app": "kube-dns"})
    postgresql = netpol.Address(str(vpc[2000])) if production else pod("baedal-data", {"app.kubernetes.io/name": "postgres"})
    public = netpol.Address("8.8.8.8")
    # The OpenTelemetry collector of OTEL_EXPORTER_OTLP_ENDPOINT (base/config.yaml): OTLP/HTTP.
    collector = pod("monitoring", {"app.kubernetes.io/name": "opentelemetry-collector"})
    destinations = {
        "dns": [(dns, 53, "UDP"), (dns, 53, "TCP")],
        "temporal": [(temporal("frontend"), 7233, "TCP")],
        "postgresql": [(postgresql, 5432, "TCP")],
        "payment": [(pods.get("payment"), 8081, "TCP")],
        "notification": [(pods.get("notification"), 8082, "TCP")],
        "internet-https": [(public, 443, "TCP")],
        "otel-collector": [(collector, 4318, "TCP")],
    }
    never = [(netpol.Address("169.254.169.254"), 80, "the instance metadata service"),
             (public, 80, "the internet on plain http"),
             (temporal("history"), 7234, "Temporal's history service"),
             (temporal("matching"), 7235, "Temporal's matching service"),
             (temporal("frontend"), 6933, "Temporal's membership port"),
             (temporal("frontend"), 7243, "Temporal's HTTP API"),
             (collector, 4317, "the collector's OTLP/gRPC (baedal exports OTLP/HTTP)"),
             (collector, 8888, "the collector's own metrics"),
             (pod("monitoring", {"app.kubernetes.io/name": "prometheus"}), 4318, "another monitoring pod on 4318"),
             (pod("default", {"app.kubernetes.io/name": "opentelemetry-collector"}), 4318,
              "a pod labelled as the collector outside the namespace monitoring")]
    # Not the public internet, even on 443: the VPC, private, link-local (the metadata
    # service), carrier-grade NAT and loopback ranges.
    never += [(netpol.Address(ip), 443, f"{ip} on 443 (not the public internet)")
              for ip in (str(vpc[3000]), "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                         "100.64.0.1", "127.0.0.1")]
    monitoring = pod("monitoring", {"app.kubernetes.io/name": "prometheus"})
    outsider = pod("default", {"app": "debug"})
    for component, p in sorted(pods.items()):
        needs = EGRESS.get(component)
        w = f"{name}: {component}"
        if needs is None:
            find(w, "has no row in deploy/check's EGRESS table: say what it may reach")
            continue
        for dest, targets in destinations.items():
            for target, port, protocol in targets:
                if target is None:
                    continue
                # What a role needs must get through both ends; what it does not need its own
                # egress must refuse, whatever the other end would say.
                if dest in needs and not net.connects(p, target, port, protocol):
                    find(w, f"may not reach {dest} ({port}/{protocol}): the role needs it")
                elif dest not in needs and net.allows("Egress", p, target, port, protocol):
                    find(w, f"its egress allows {dest} ({port}/{protocol}): the role does not need it")
        for target, port, what in never:
            if net.allows("Egress", p, target, port):
                find(w, f"its egress allows {what} ({port})")
        if not net.connects(monitoring, p, 9090):
            find(w, "Prometheus (namespace monitoring) cannot scrape its metrics port 9090")
        if net.connects(outsider, p, 9090):
            find(w, "a pod of another namespace may reach its metrics port")
    for component, (port, allowed) in INGRESS.items():
        for src_component, src in pods.items():
            if component not in pods:
                continue
            if src_component in allowed and not net.connects(src, pods[component], port):
                find(f"{name}: {component}", f"{src_component} may not reach it on {port}")
            elif src_component not in allowed and net.allows("Ingress", pods[component], src, port):
                find(f"{name}: {component}", f"its ingress admits {src_component} on {port}")
    gateway = netpol.Address(str(vpc[10])) if production else pod("gateway", {})
    for a in APIS:
        if a in pods and not net.connects(gateway, pods[a], 8080):
            find(f"{name}: {a}", "the gateway cannot reach it on 8080")
        if a in pods and not production and net.connects(outsider, pods[a], 8080):
            find(f"{name}: {a}", "a pod outside the gateway's namespace may reach it on 8080")
    # Temporal's frontend, by its own policy alone (deploy/temporal/networkpolicy.yaml): it must
    # hold even where baedal's egress policies do not.
    frontend = temporal("frontend")
    for component, p in sorted(pods.items()):
        if net.allows("Ingress", frontend, p, 7233) != (component in TEMPORAL_CLIENTS):
            find(f"deploy/temporal/networkpolicy.yaml ({name})", f"{component} may "
                 f"{'not ' if component in TEMPORAL_CLIENTS else ''}reach the frontend")
    for component in sorted(TEMPORAL_CLIENTS & set(pods)):
        for target, port in ((frontend, 6933), (frontend, 7243), (temporal("history"), 7234), (temporal("matching"), 7235)):
            if net.allows("Ingress", target, pods[component], port):
                find(f"deploy/temporal/networkpolicy.yaml ({name})", f"{component} may reach Temporal's "
                     f"{target.labels['app.kubernetes.io/component']} on {port}, not only the frontend's 7233")
    others = [(pod("keda", {"app.kubernetes.io/name": "keda-operator"}), 7233, True, "KEDA's operator"),
              (temporal("web"), 7233, True, "Temporal's own pods"),
              (outsider, 7233, False, "a pod of another namespace"),
              (monitoring, 7233, False, "Prometheus, on the gRPC port"),
              (monitoring, 9090, True, "Prometheus, on the metrics port")]
    for src, port, allowed, what in others:
        if net.allows("Ingress", frontend, src, port) != allowed:
            find(f"deploy/temporal/networkpolicy.yaml ({name})", f"{what} may {'not ' if allowed else ''}reach the frontend on {port}")
    # An explicit default deny for each direction in every namespace with baedal's pods, so
    # narrowing or removing an allow policy can never open anything.
    for direction in ("Ingress", "Egress"):
        if not any(o["kind"] == "NetworkPolicy" and o["metadata"].get("namespace") == "baedal"
                   and not (o["spec"].get("podSelector") or {}) and direction in netpol.Network._types(o)
                   and not o["spec"].get(direction.lower()) for o in objs):
            find(f"{name}: namespace baedal", f"no default-deny {direction} NetworkPolicy (podSelector {{}}, no rules)")
    if production:
        for o in objs:
            if o["kind"] != "NetworkPolicy":
                continue
            for rule in o["spec"].get("ingress", []) + o["spec"].get("egress", []):
                for peer in rule.get("from", []) + rule.get("to", []):
                    cidr = peer.get("ipBlock", {}).get("cidr")
                    if cidr and cidr != "0.0.0.0/0" and cidr != vpc_cidr:
                        find(f"{name}: NetworkPolicy/{o['metadata']['name']}", f"ipBlock {cidr} is not the VPC's "
                             f"{vpc_cidr} (deploy/eks/cluster.yaml; set it in overlays/eks/network.yaml)")


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
    cluster = yaml.safe_load((ROOT / "deploy/eks/cluster.yaml").read_text())
    validate("deploy/eks/cluster.yaml", cluster)
    vpc_cidr = cluster["vpc"]["cidr"]
    check_versions(pools)
    check_temporal_install()
    check_rds_guide()
    for overlay in OVERLAYS:
        objs = render(overlay)
        counts[overlay] = len(objs)
        for o in objs:
            validate(f"{overlay}: {o['kind']}/{o['metadata']['name']}", o)
        check_objects(overlay, objs, commands, env_read)
        check_day_two(overlay, objs, pools)
        check_secrets(overlay, objs, cluster)
        check_database_tls(overlay, objs)
        check_rollout(overlay, objs)
        check_network(overlay, objs, vpc_cidr)
    check_next_tag()
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
          f"HTTPS only hold; pods wait for their release's migration and worker builds run side by side; Temporal's values match chart {temporal_chart_version()} and install as the "
          f"guide says; RDS, the secrets store, TLS to the databases and every pod's network "
          f"reach are as reviewed", file=sys.stderr)


if __name__ == "__main__":
    main()
