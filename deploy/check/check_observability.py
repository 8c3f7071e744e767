#!/usr/bin/env python3
"""The observability checks (deploy/check/run): baedal's scrape configuration, alert rules and
dashboard, as far as they can be known without a cluster. Each finding names the file or object
and what is wrong; any finding fails the run.

1. Metric names: every metric a rule or a dashboard panel (or template variable) names is one
   baedal exposes (deploy/prometheus/metrics.yaml, the one list; or a series the rules record),
   and every label it matches on or groups by is one that metric or the scrape has. A metric
   the list says is in the source (`source: code`) is found there. If docs/metrics.md exists,
   it and the list name the same baedal_* metrics.
2. Rules: deploy/prometheus/baedal.rules.yaml (the source) has, for every alert, `for:`, a
   severity of critical or warning, a summary, a description and a runbook_url whose anchor is
   a section of docs/runbook.md (and every section there is an alert); every alert has a case
   in baedal.rules.test.yaml that expects it to fire; the SSE alert's cap is
   BAEDAL_STREAMS_PER_REPLICA; the roles the rules (and the dashboard's variables) name are
   the roles scraped, in a `job=~` list or one `absent(up{job="<role>"})` per role.
   `promtool check rules` and `promtool test rules` when promtool is installed (required when
   CI is set).
3. The PrometheusRule of components/observability is the rules file (spec.groups equal;
   `--write` regenerates it); the dashboard ConfigMap rendered in the eks overlay is
   deploy/grafana/baedal.json byte for byte and carries grafana_dashboard: "1".
4. Scraping, in every overlay with the component: every baedal pod that sets
   BAEDAL_METRICS_ADDR is scraped exactly once (a ServiceMonitor on a Service port, or a
   PodMonitor on a pod port, named), on that address's port and path /metrics, never on the
   public port, with job = its app.kubernetes.io/component; a NetworkPolicy admits that port
   from the namespace `monitoring` (kubernetes.io/metadata.name).
5. The dashboard: valid JSON, a datasource template variable (Prometheus) that every panel and
   query uses, namespace and pod variables, every query filtered by namespace, unique panel
   ids, and the rows the runbook refers to.
6. kube-prometheus-stack: deploy/README.md pins the release whose CRDs are vendored, and every
   key of deploy/prometheus/kube-prometheus-stack.values.yaml is one of that release's values
   (chart-keys/, extracted from its values.yaml and its Grafana subchart's).
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/k8s"
PROM = ROOT / "deploy/prometheus"
RULES = PROM / "baedal.rules.yaml"
RULE_TESTS = PROM / "baedal.rules.test.yaml"
METRICS = PROM / "metrics.yaml"
METRICS_DOC = ROOT / "docs/metrics.md"
DASHBOARD = ROOT / "deploy/grafana/baedal.json"
RUNBOOK = ROOT / "docs/runbook.md"
RUNBOOK_URL = "https://github.com/baedal/baedal/blob/main/docs/runbook.md#"
COMPONENT = K8S / "components/observability"
PROMETHEUS_RULE = COMPONENT / "prometheusrule.yaml"
OVERLAYS_WITH_COMPONENT = ["overlays/eks"]
SEVERITIES = {"critical", "warning"}
DASHBOARD_ROWS = ["Traffic", "Orders", "Money", "Read side", "Notifications", "Temporal workers", "Readiness"]
MONITORING_LABEL = ("kubernetes.io/metadata.name", "monitoring")
# kube-prometheus-stack: the release deploy/README.md installs, its values, and the key paths of
# its values.yaml (and of its Grafana subchart's, under grafana.) that the values may set.
KPS_VERSION = "88.3.0"
KPS_VALUES = PROM / "kube-prometheus-stack.values.yaml"
KPS_KEYS = pathlib.Path(__file__).parent / f"chart-keys/kube-prometheus-stack-{KPS_VERSION}.txt"
KPS_SECTIONS = ("prometheus", "alertmanager", "prometheusOperator", "grafana")

findings = []


def find(where, what):
    findings.append(f"{where}: {what}")


def rel(p):
    return str(pathlib.Path(p).relative_to(ROOT))


# ---------------------------------------------------------------------------------------------
# the metrics baedal exposes


def load_metrics():
    """{name: {type, labels, source, ...}} and the scrape's labels: the one list of what the rules
    and the dashboard may use. When docs/metrics.md (the metrics work of issue 22) lands, it can
    become the source here; until then check_metrics_doc keeps the two in step."""
    doc = yaml.safe_load(METRICS.read_text())
    return doc["metrics"], set(doc["target_labels"])


def check_metrics_source(metrics):
    """`code` metrics are in the file named; `pending` ones are reported once they appear."""
    listed = subprocess.run(["git", "ls-files", "*.rs"], cwd=ROOT, capture_output=True, text=True)
    sources = [ROOT / l for l in listed.stdout.splitlines()] if listed.returncode == 0 else [
        p for p in ROOT.glob("*/**/*.rs") if "target" not in p.parts and ".venv" not in p.parts]
    text_of = {}

    def text(p):
        if p not in text_of:
            text_of[p] = p.read_text(errors="replace")
        return text_of[p]

    for name, m in metrics.items():
        literal = f'"{name}"'
        if m["source"] == "code":
            f = ROOT / m["file"]
            if not f.exists() or literal not in text(f):
                find(rel(METRICS), f"{name} is listed as in {m['file']}, which does not name it")
        elif m["source"] == "pending":
            where = [rel(p) for p in sources if literal in text(p)]
            if where:
                print(f"observability check: note: {name} is in the source now ({where[0]}): "
                      f"make it source: code in {rel(METRICS)}", file=sys.stderr)


def check_metrics_doc(metrics):
    if not METRICS_DOC.exists():
        return
    documented = set(re.findall(r"\b(baedal_[a-z0-9_]+)", METRICS_DOC.read_text()))
    documented = {re.sub(r"_(bucket|sum|count)$", "", d) if d not in metrics else d for d in documented}
    ours = {n for n in metrics if n.startswith("baedal_")}
    for n in sorted(ours - documented):
        find(rel(METRICS), f"{n} is not in {rel(METRICS_DOC)}")
    for n in sorted(documented - ours):
        find(rel(METRICS_DOC), f"{n} is not in {rel(METRICS)} (add it, with its labels)")


# ---------------------------------------------------------------------------------------------
# PromQL: the metric names and labels an expression uses (a tokenizer, not a full parser: enough
# for names, matchers and grouping labels)

TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<range>\[[^\]]*\])
  | (?P<var>\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?:ms|s|m|h|d|w|y)?\b|Inf\b|NaN\b)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=(),{}])
""", re.X)
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
            "and", "or", "unless", "atan2", "inf", "nan"}
FUNCTIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
    "topk", "quantile", "limitk", "limit_ratio",
    "abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
    "day_of_month", "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp",
    "floor", "histogram_avg", "histogram_count", "histogram_fraction", "histogram_quantile",
    "histogram_stddev", "histogram_stdvar", "histogram_sum", "holt_winters", "double_exponential_smoothing",
    "hour", "idelta", "increase", "irate", "label_join", "label_replace", "ln", "log2", "log10",
    "minute", "month", "predict_linear", "rate", "resets", "round", "scalar", "sgn", "sort",
    "sort_desc", "sort_by_label", "sort_by_label_desc", "sqrt", "time", "timestamp", "vector", "year",
    "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
    "quantile_over_time", "stddev_over_time", "stdvar_over_time", "last_over_time",
    "present_over_time", "mad_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "cos", "cosh", "deg", "pi", "rad", "sin", "sinh", "tan", "tanh",
    # Grafana's template functions
    "label_values", "query_result", "metrics", "label_names",
}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}


def promql_uses(expr):
    """([(metric, {label used in its matchers})], {labels grouped or joined on}), or raises
    ValueError on what it cannot read."""
    tokens = []
    pos = 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot read {expr[pos:pos + 20]!r}")
        pos = m.end()
        if m.lastgroup != "ws":
            tokens.append((m.lastgroup, m.group()))
    selectors, grouping = [], set()
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        nxt = tokens[i + 1][1] if i + 1 < len(tokens) else None
        if kind == "ident" and text in GROUPING and nxt == "(":
            j = i + 2
            while tokens[j][1] != ")":
                if tokens[j][0] == "ident":
                    grouping.add(tokens[j][1])
                j += 1
            i = j + 1
            continue
        if kind == "ident" and (text.lower() in KEYWORDS):
            i += 1
            continue
        if kind == "ident" and text in FUNCTIONS and nxt in GROUPING:
            i += 1  # an aggregation with its grouping first: sum by (x) (...)
            continue
        if kind == "ident" and nxt == "(":
            if text not in FUNCTIONS:
                raise ValueError(f"unknown function {text}")
            i += 1
            continue
        if kind == "ident":
            labels = set()
            i += 1
            if i < len(tokens) and tokens[i][1] == "{":
                i += 1
                while tokens[i][1] != "}":
                    if tokens[i][0] == "ident":
                        labels.add(tokens[i][1])
                        i += 2  # operator
                    i += 1
                i += 1
            selectors.append((text, labels))
            continue
        if text == "{":
            raise ValueError("a selector without a metric name")
        i += 1
    return selectors, grouping


def label_values_label(query):
    m = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", query, re.S)
    return (m.group(1), m.group(2)) if m else (None, None)


class Known:
    """What an expression may name: the listed metrics (histograms with their series), the
    series the rules record, and their labels."""

    def __init__(self, metrics, target_labels, recorded):
        self.target_labels = target_labels
        self.labels = {}
        for name, m in metrics.items():
            labels = set(m.get("labels", []))
            if m["type"] == "histogram":
                self.labels[f"{name}_bucket"] = labels | {"le"}
                self.labels[f"{name}_sum"] = labels
                self.labels[f"{name}_count"] = labels
            else:
                self.labels[name] = labels
        self.labels.update(recorded)
        self.sdk = {n for n, m in metrics.items() if m["source"] == "temporal-sdk"}

    def check(self, where, expr, allow_sdk=False):
        try:
            selectors, grouping = promql_uses(expr)
        except ValueError as e:
            find(where, f"cannot read the expression ({e}): {expr}")
            return []
        used = set()
        for name, labels in selectors:
            if name not in self.labels:
                find(where, f"{name} is no metric baedal exposes ({rel(METRICS)}) nor a recorded series")
                continue
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if (name in self.sdk or base in self.sdk) and not allow_sdk:
                find(where, f"{name} is a Temporal SDK metric (names unverified): use the series "
                     "recorded in the group baedal-temporal-sdk of baedal.rules.yaml")
            used.add(name)
            for label in labels - self.labels[name] - self.target_labels:
                find(where, f"{name} has no label {label}")
        allowed = set(self.target_labels) | {"le"}
        for name, _ in selectors:
            allowed |= self.labels.get(name, set())
        for label in grouping - allowed:
            find(where, f"groups or joins by {label}, which none of its metrics has")
        return used


def recorded_series(rules):
    """{record name: labels} of the recording rules: the labels of their outermost `by (...)`."""
    out = {}
    for g in rules["groups"]:
        for r in g["rules"]:
            if "record" in r:
                by = re.search(r"\bby\s*\(([^)]*)\)", r["expr"])
                labels = {x.strip() for x in by.group(1).split(",")} - {"le", ""} if by else set()
                out[r["record"]] = labels
    return out


# ---------------------------------------------------------------------------------------------
# 2. rules


def runbook_anchors():
    """GitHub's anchors of docs/runbook.md's headings."""
    anchors = {}
    for line in RUNBOOK.read_text().splitlines():
        m = re.match(r"^(#{2,3}) (.+)$", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(2).strip().lower()).replace(" ", "-")
            anchors[slug] = (len(m.group(1)), m.group(2).strip())
    return anchors


def check_rules(rules, known, jobs, stream_cap):
    anchors = runbook_anchors()
    alerts = []
    for g in rules["groups"]:
        sdk_group = g["name"] == "baedal-temporal-sdk"
        for r in g["rules"]:
            name = r.get("alert") or r.get("record")
            where = f"{rel(RULES)} {g['name']}/{name}"
            known.check(where, r["expr"], allow_sdk=sdk_group and "record" in r)
            if "record" in r:
                continue
            alerts.append(r["alert"])
            if "for" not in r:
                find(where, "no `for:` (write `for: 0m` where one event is enough)")
            if r.get("labels", {}).get("severity") not in SEVERITIES:
                find(where, f"severity {r.get('labels', {}).get('severity')} is not one of {sorted(SEVERITIES)}")
            ann = r.get("annotations", {})
            for key in ("summary", "description", "runbook_url"):
                if not ann.get(key):
                    find(where, f"no {key} annotation")
            url = ann.get("runbook_url", "")
            anchor = url[len(RUNBOOK_URL):] if url.startswith(RUNBOOK_URL) else None
            if anchor is None:
                find(where, f"runbook_url {url} is not {RUNBOOK_URL}<anchor>")
            elif anchor not in anchors:
                find(where, f"runbook_url anchor #{anchor} is no heading of {rel(RUNBOOK)}")
            elif anchor != r["alert"].lower():
                find(where, f"runbook_url anchor #{anchor} is not the alert's own section")
            # the roles the rule names are the roles scraped
            for m in re.finditer(r'job=~"([^"]*)"', r["expr"]):
                named = set(m.group(1).split("|"))
                if named != jobs:
                    find(where, f"names the roles {sorted(named)}, but the scraped roles are {sorted(jobs)}")
            # absent(up{job="<role>"}) is one term per role: every scraped role has one
            absent = set(re.findall(r'absent\(\s*up\{job="([^"]*)"\}\s*\)', r["expr"]))
            if absent and absent != jobs:
                find(where, f"has absent(up{{job=...}}) for the roles {sorted(absent)}, but the scraped "
                     f"roles are {sorted(jobs)}")
    if len(set(alerts)) != len(alerts):
        find(rel(RULES), "an alert name is used twice")
    sections = {a for a, (level, _) in anchors.items() if level == 2 and a.startswith("baedal")}
    for a in sorted(sections - {x.lower() for x in alerts}):
        find(rel(RUNBOOK), f"section #{a} is no alert of {rel(RULES)}")

    # The SSE alert divides by the replica's stream cap.
    sse = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "BaedalSseStreamsNearCap"]
    cap = re.search(r"baedal_sse_streams_open\)\s*/\s*(\d+)", sse[0]["expr"]) if sse else None
    if not cap:
        find(rel(RULES), "BaedalSseStreamsNearCap does not divide baedal_sse_streams_open by the cap")
    elif int(cap.group(1)) != stream_cap:
        find(rel(RULES), f"BaedalSseStreamsNearCap divides by {cap.group(1)}, but "
             f"BAEDAL_STREAMS_PER_REPLICA is {stream_cap}")

    # Every alert has a test that expects it to fire.
    tests = yaml.safe_load(RULE_TESTS.read_text())
    if tests.get("rule_files") != [RULES.name]:
        find(rel(RULE_TESTS), f"rule_files is not [{RULES.name}]")
    fired = {c["alertname"] for t in tests["tests"] for c in t.get("alert_rule_test", []) if c.get("exp_alerts")}
    quiet = {c["alertname"] for t in tests["tests"] for c in t.get("alert_rule_test", []) if not c.get("exp_alerts")}
    for a in alerts:
        if a not in fired:
            find(rel(RULE_TESTS), f"no test expects {a} to fire")
        if a not in quiet:
            find(rel(RULE_TESTS), f"no test expects {a} to stay quiet")
    return alerts


def run_promtool():
    promtool = shutil.which("promtool")
    if not promtool:
        if os.environ.get("CI"):
            find("promtool", "not installed (scripts/install-test-tools installs Debian's prometheus)")
        else:
            print("observability check: note: promtool is not installed: the rules' unit tests "
                  "did not run (scripts/install-test-tools installs it)", file=sys.stderr)
        return False
    for args in (["check", "rules", RULES.name], ["test", "rules", RULE_TESTS.name]):
        out = subprocess.run([promtool, *args], cwd=PROM, capture_output=True, text=True)
        if out.returncode != 0:
            find(f"promtool {' '.join(args)}", (out.stdout + out.stderr).strip())
    return True


# ---------------------------------------------------------------------------------------------
# 3. one source each


def prometheus_rule(rules):
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "baedal",
            "namespace": "baedal",
            "labels": {"app.kubernetes.io/name": "baedal", "app.kubernetes.io/part-of": "baedal"},
        },
        "spec": {"groups": rules["groups"]},
    }


def write_prometheus_rule(rules):
    head = ("# GENERATED from deploy/prometheus/baedal.rules.yaml by\n"
            "# `deploy/check/check_observability.py --write`: edit that file, not this one\n"
            "# (deploy/check fails when they differ).\n")
    body = yaml.safe_dump(prometheus_rule(rules), sort_keys=False, width=1000, allow_unicode=True)
    PROMETHEUS_RULE.write_text(head + body)


def check_generated(rules, objs):
    if not PROMETHEUS_RULE.exists() or yaml.safe_load(PROMETHEUS_RULE.read_text()) != prometheus_rule(rules):
        find(rel(PROMETHEUS_RULE), f"is not {rel(RULES)}: regenerate it with "
             "`.venv/bin/python deploy/check/check_observability.py --write`")
    rendered = [o for o in objs if o["kind"] == "PrometheusRule"]
    if not any(o["spec"]["groups"] == rules["groups"] for o in rendered):
        find("overlays/eks", f"renders no PrometheusRule whose groups are {rel(RULES)}")
    dash = DASHBOARD.read_text()
    cms = [o for o in objs if o["kind"] == "ConfigMap" and DASHBOARD.name in o.get("data", {})]
    if len(cms) != 1:
        find("overlays/eks", f"renders {len(cms)} ConfigMaps with {DASHBOARD.name}, not one")
    for cm in cms:
        if cm["data"][DASHBOARD.name] != dash:
            find(f"ConfigMap {cm['metadata']['name']}", f"is not {rel(DASHBOARD)}")
        if cm["metadata"].get("labels", {}).get("grafana_dashboard") != "1":
            find(f"ConfigMap {cm['metadata']['name']}", 'has no label grafana_dashboard: "1" (the Grafana sidecar would not load it)')


# ---------------------------------------------------------------------------------------------
# 4. scraping


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def port_of(addr):
    m = re.search(r":(\d+)$", addr or "")
    return int(m.group(1)) if m else None


def check_scraping(name, objs):
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    jobs = set()
    for d in by_kind.get("Deployment", []):
        ns = d["metadata"].get("namespace")
        pod = d["spec"]["template"]
        labels = pod["metadata"]["labels"]
        where = f"{name}: Deployment/{ns}/{d['metadata']['name']}"
        for c in pod["spec"]["containers"]:
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            if "BAEDAL_METRICS_ADDR" not in env:
                continue
            mport = port_of(env["BAEDAL_METRICS_ADDR"])
            public = {port_of(env.get(k)) for k in ("BAEDAL_API_ADDR", "BAEDAL_PAYMENT_ADDR", "BAEDAL_NOTIFY_ADDR")} - {None}
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            scrapes = []  # (how, container port number, path, jobLabel)
            for svc in by_kind.get("Service", []):
                if svc["metadata"].get("namespace") != ns or not selects(svc["spec"].get("selector"), labels):
                    continue
                for sm in by_kind.get("ServiceMonitor", []):
                    if sm["metadata"].get("namespace") != ns or not selects(
                            sm["spec"]["selector"].get("matchLabels"), svc["metadata"].get("labels", {})):
                        continue
                    for ep in sm["spec"]["endpoints"]:
                        sp = next((p for p in svc["spec"]["ports"] if p.get("name") == ep.get("port")), None)
                        if sp is None:
                            find(f"{name}: ServiceMonitor/{ns}/{sm['metadata']['name']}",
                                 f"endpoint port {ep.get('port')} is no named port of Service {svc['metadata']['name']}")
                            continue
                        target = sp.get("targetPort", sp["port"])
                        number = ports.get(target) if isinstance(target, str) else target
                        job = svc["metadata"].get("labels", {}).get(sm["spec"].get("jobLabel"))
                        scrapes.append((f"ServiceMonitor {sm['metadata']['name']} via Service {svc['metadata']['name']}",
                                        number, ep.get("path", "/metrics"), job))
            for pm in by_kind.get("PodMonitor", []):
                if pm["metadata"].get("namespace") != ns or not selects(pm["spec"]["selector"].get("matchLabels"), labels):
                    continue
                for ep in pm["spec"]["podMetricsEndpoints"]:
                    if ep.get("port") not in ports:
                        find(f"{name}: PodMonitor/{ns}/{pm['metadata']['name']}",
                             f"port {ep.get('port')} is no named port of {d['metadata']['name']}")
                        continue
                    scrapes.append((f"PodMonitor {pm['metadata']['name']}", ports[ep["port"]],
                                    ep.get("path", "/metrics"), labels.get(pm["spec"].get("jobLabel"))))
            if not scrapes:
                find(where, f"serves /metrics on :{mport} but no ServiceMonitor or PodMonitor scrapes it")
            if len(scrapes) > 1:
                find(where, f"scraped {len(scrapes)} times ({'; '.join(s[0] for s in scrapes)}): every series twice")
            for how, number, path, job in scrapes:
                if number in public:
                    find(where, f"{how} scrapes the public port {number}, where /metrics is never served")
                elif number != mport:
                    find(where, f"{how} scrapes port {number}, but BAEDAL_METRICS_ADDR is :{mport}")
                if path != "/metrics":
                    find(where, f"{how} scrapes {path}, not /metrics")
                if job != labels.get("app.kubernetes.io/component"):
                    find(where, f"{how} gives job {job}, not the role {labels.get('app.kubernetes.io/component')} "
                         "(jobLabel: app.kubernetes.io/component)")
                jobs.add(job)
            # a NetworkPolicy lets the monitoring namespaces reach the port
            admitted = False
            for np in by_kind.get("NetworkPolicy", []):
                if np["metadata"].get("namespace") != ns:
                    continue
                if not selects(np["spec"]["podSelector"].get("matchLabels", {}), labels):
                    continue
                for rule in np["spec"].get("ingress", []):
                    from_monitoring = any(
                        f.get("namespaceSelector", {}).get("matchLabels", {}).get(MONITORING_LABEL[0]) == MONITORING_LABEL[1]
                        for f in rule.get("from", []))
                    if from_monitoring and any(p.get("port") in (mport, next((k for k, v in ports.items() if v == mport), None))
                                               for p in rule.get("ports", [])):
                        admitted = True
            if not admitted:
                find(where, f"no NetworkPolicy admits :{mport} from namespaces labelled "
                     f"{MONITORING_LABEL[0]}={MONITORING_LABEL[1]}: Prometheus could not scrape it")
    return jobs


# ---------------------------------------------------------------------------------------------
# 6. kube-prometheus-stack: the pinned chart, keys its values know


def key_paths(node, prefix=""):
    """Every key path of a values tree; a map that is empty or null by default takes any keys
    (nodeSelector, storageSpec, resources): `path.*`."""
    out = set()
    for k, v in (node or {}).items():
        p = f"{prefix}{k}"
        out.add(p)
        if isinstance(v, dict) and v:
            out |= key_paths(v, p + ".")
        elif v is None or v == {}:
            out.add(p + ".*")
    return out


def extract_chart_keys(kps_values, grafana_values):
    """Write KPS_KEYS from the chart's values.yaml and its Grafana subchart's (fetched once from
    the tagged releases; see the file's header)."""
    kps = yaml.safe_load(pathlib.Path(kps_values).read_text())
    grafana = yaml.safe_load(pathlib.Path(grafana_values).read_text())
    keys = {p for p in key_paths(kps) if p.split(".")[0] in KPS_SECTIONS}
    keys |= {f"grafana.{p}" for p in key_paths(grafana)}
    KPS_KEYS.parent.mkdir(exist_ok=True)
    KPS_KEYS.write_text(
        f"# Key paths of kube-prometheus-stack {KPS_VERSION}'s values.yaml (sections "
        f"{', '.join(KPS_SECTIONS)}):\n"
        "# prometheus-community/helm-charts 54199b5bd7cdc3e6f27457791d744dd2761d378e charts/kube-prometheus-stack,\n"
        "# and of its Grafana subchart 12.10.4's, under grafana.:\n"
        "# grafana-community/helm-charts e3b4194f1b86b90dd2db4034f657f227cdfa79a5 charts/grafana.\n"
        "# `path.*`: a map that takes any keys. Written by\n"
        "# `check_observability.py --extract-chart-keys <kps values.yaml> <grafana values.yaml>`.\n"
        + "".join(f"{k}\n" for k in sorted(keys)))


def check_chart_values():
    readme = (ROOT / "deploy/README.md").read_text()
    m = re.search(r"kube-prometheus-stack[^\n]*--version (\S+)", readme)
    if not m:
        find("deploy/README.md", "installs kube-prometheus-stack without a pinned --version")
    elif m.group(1) != KPS_VERSION:
        find("deploy/README.md", f"installs kube-prometheus-stack {m.group(1)}, the checked values and "
             f"CRDs are {KPS_VERSION}'s")
    keys = {l for l in KPS_KEYS.read_text().splitlines() if l and not l.startswith("#")}

    def walk(node, prefix=""):
        for k, v in node.items():
            p = f"{prefix}{k}"
            parts = p.split(".")
            if not any(".".join(parts[:i]) + ".*" in keys for i in range(1, len(parts))):
                if p not in keys:
                    find(rel(KPS_VALUES), f"{p} is no key of kube-prometheus-stack {KPS_VERSION}'s values")
                    continue
                if isinstance(v, dict):
                    walk(v, p + ".")

    walk(yaml.safe_load(KPS_VALUES.read_text()))


# ---------------------------------------------------------------------------------------------
# 5. the dashboard


def check_dashboard(known, jobs):
    where = rel(DASHBOARD)
    try:
        dash = json.loads(DASHBOARD.read_text())
    except json.JSONDecodeError as e:
        find(where, f"not JSON: {e}")
        return
    for key in ("uid", "title", "panels", "templating"):
        if not dash.get(key):
            find(where, f"no {key}")
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        find(where, "no template variable `datasource` of type datasource (query prometheus)")
    ds_ref = {"type": "prometheus", "uid": "${datasource}"}
    for v in ("namespace", "pod"):
        if v not in variables:
            find(where, f"no template variable `{v}`")
    for v in variables.values():
        if v["type"] != "query":
            continue
        if v.get("datasource") != ds_ref:
            find(f"{where} variable {v['name']}", "does not query the ${datasource} variable")
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        inner, label = label_values_label(q)
        if inner is None:
            find(f"{where} variable {v['name']}", f"not a label_values(...) query: {q}")
            continue
        used = known.check(f"{where} variable {v['name']}", inner)
        for m in re.finditer(r'job=~"([^"$]*)"', inner):
            if set(m.group(1).split("|")) != jobs:
                find(f"{where} variable {v['name']}", f"names the roles {m.group(1)}, but the scraped "
                     f"roles are {'|'.join(sorted(jobs))}")
        for metric in used:
            if label not in known.labels[metric] | known.target_labels:
                find(f"{where} variable {v['name']}", f"{metric} has no label {label}")
    ids = set()
    rows = []
    for p in dash.get("panels", []):
        if p["id"] in ids:
            find(where, f"panel id {p['id']} used twice")
        ids.add(p["id"])
        if p["type"] == "row":
            rows.append(p["title"])
            if p.get("panels"):
                find(where, f"row {p['title']} is collapsed with panels inside: keep rows open")
            continue
        pw = f"{where} panel {p['title']!r}"
        if p.get("datasource") != ds_ref:
            find(pw, "does not use the ${datasource} variable")
        if not p.get("targets"):
            find(pw, "no queries")
        for t in p.get("targets", []):
            if t.get("datasource") != ds_ref:
                find(pw, f"query {t.get('refId')} does not use the ${{datasource}} variable")
            expr = t.get("expr", "")
            known.check(pw, expr)
            for metric, labels in promql_uses(expr)[0] if _readable(expr) else []:
                if "namespace" not in labels:
                    find(pw, f"{metric} is not filtered by namespace=\"$namespace\": it would mix namespaces")
    for r in DASHBOARD_ROWS:
        if r not in rows:
            find(where, f"no row {r!r}")


def _readable(expr):
    try:
        promql_uses(expr)
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------


def stream_cap(objs):
    """BAEDAL_STREAMS_PER_REPLICA as the eks overlay runs it: its ConfigMap or env, else the
    production default in the source (RateLimits::PRODUCTION)."""
    for o in objs:
        if o["kind"] == "ConfigMap" and "BAEDAL_STREAMS_PER_REPLICA" in o.get("data", {}):
            return int(o["data"]["BAEDAL_STREAMS_PER_REPLICA"])
    src = (ROOT / "api/src/limits/mod.rs").read_text()
    m = re.search(r"PRODUCTION: RateLimits = RateLimits \{.*?streams_per_replica: ([\d_]+)", src, re.S)
    return int(m.group(1).replace("_", "")) if m else None


def render(path):
    out = subprocess.run(["kubectl", "kustomize", str(K8S / path)], capture_output=True, text=True)
    if out.returncode != 0:
        find(f"deploy/k8s/{path}", f"does not render: {out.stderr.strip()}")
        return []
    return [o for o in yaml.safe_load_all(out.stdout) if o]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true", help=f"regenerate {rel(PROMETHEUS_RULE)} from {rel(RULES)}")
    ap.add_argument("--extract-chart-keys", nargs=2, metavar=("KPS_VALUES", "GRAFANA_VALUES"),
                    help=f"write {rel(KPS_KEYS)} from the charts' values.yaml")
    args = ap.parse_args()
    if args.extract_chart_keys:
        extract_chart_keys(*args.extract_chart_keys)
        return
    rules = yaml.safe_load(RULES.read_text())
    if args.write:
        write_prometheus_rule(rules)
        print(f"wrote {rel(PROMETHEUS_RULE)}", file=sys.stderr)
        return

    metrics, target_labels = load_metrics()
    check_metrics_source(metrics)
    check_metrics_doc(metrics)
    known = Known(metrics, target_labels, recorded_series(rules))

    jobs = set()
    eks = []
    for overlay in OVERLAYS_WITH_COMPONENT:
        objs = render(overlay)
        eks = objs
        jobs |= check_scraping(overlay, objs)
        check_generated(rules, objs)
    alerts = check_rules(rules, known, jobs, stream_cap(eks))
    check_dashboard(known, jobs)
    check_chart_values()
    tested = run_promtool()

    for f in findings:
        print(f"observability check: {f}", file=sys.stderr)
    if findings:
        print(f"observability check: {len(findings)} findings", file=sys.stderr)
        sys.exit(1)
    print(f"observability check: ok — {len(jobs)} roles scraped once each on their metrics port; "
          f"{len(alerts)} alerts and the dashboard use only metrics baedal exposes; the "
          f"PrometheusRule and the dashboard ConfigMap are their source files"
          + ("; promtool check and unit tests pass" if tested else ""), file=sys.stderr)


if __name__ == "__main__":
    main()
