"""The capacity model of deploy/README.md ("Capacity"), computed from deploy/capacity.yaml, the one
place its measured inputs and planning figures live:

    python3 deploy/check/capacity.py            # print the README's generated tables
    python3 deploy/check/capacity.py --write    # rewrite them in deploy/README.md
    python3 deploy/check/capacity.py --check    # what deploy/check runs (README, caps, self-test)

deploy/check (check_deploy.py) runs `check_readme()`, `check_autoscalers()` on every rendered
overlay and `check_temporal()` on Temporal's Helm values: the README's tables must be the ones
this file renders, every autoscaler's max must reach the built-for tier at its own CPU target,
and Temporal's values (replicas, maxConns, shards, task-queue partitions, the per-host rate
limits of its dynamic config) must hold that tier's load. `self_test()` plants a fault of each
kind and fails if one passes.
"""
import copy
import math
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CAPACITY = ROOT / "deploy/capacity.yaml"
README = ROOT / "deploy/README.md"
TEMPORAL = ROOT / "deploy/temporal"
BEGIN = "<!-- capacity.py: begin {} (generated from deploy/capacity.yaml; edit that, then --write) -->"
END = "<!-- capacity.py: end {} -->"
SERVICES = ("history", "matching", "frontend", "worker")


def load(path=CAPACITY):
    return yaml.safe_load(path.read_text())


def fmt(x, digits=0):
    if isinstance(x, str):
        return x
    if digits == 0 or abs(x) >= 100:
        return f"{round(x):,}"
    return f"{x:,.{digits}f}"


def derived(cap):
    """Per-order figures the tables use, from the measured ones."""
    o = cap["per_order"]
    h, v = o["temporal_history"], o["temporal_visibility"]
    wf = o["workflow_tasks"]
    return {
        # A history shard's persistence writes: the appends and the mutable-state transactions.
        "shard_writes": h["history_appends"] + h["transactions"],
        "temporal_commits": h["commits"] + v["writes"],
        # Requests to each service per order (from the history's shape: docs in capacity.yaml).
        "frontend_requests": wf["total"] * 2 + o["temporal_client_calls"],
        "matching_requests": wf["total"] * 2,
        "history_requests": wf["total"] * 2 + o["temporal_client_calls"] + h["transactions"],
    }


def temporal_pods(cap, rate):
    """Pod counts of Temporal's services for `rate` orders/s, by CPU (dev server CPU per order,
    split between the services) and never below the tier's floor."""
    p = cap["plan"]
    cores = rate * cap["per_order"]["cpu_ms"]["temporal"] / 1000 / p["cpu_target"]["temporal"]
    pods = {}
    for s in ("history", "matching", "frontend"):
        per_pod = p["temporal_pod_cores"][s]
        pods[s] = max(p["temporal_min_pods"][s], math.ceil(cores * p["temporal_cpu_split"][s] / per_pod))
    pods["worker"] = p["temporal_min_pods"]["worker"]
    return pods, cores


def deployment_pods(cap, rate):
    """{deployment: (cores, pods)} at `rate` orders/s at each one's CPU target and request."""
    p = cap["plan"]
    out = {}
    for name, d in p["deployments"].items():
        cores = rate * cap["per_order"]["cpu_ms"][name] / 1000 / d["target"]
        out[name] = (cores, max(d["min"], math.ceil(cores / d["request"])))
    return out


def gb(x):
    return x / 1e9


def tier_rows(cap):
    """[(label, [value per tier])] of the tier table."""
    o, p, d = cap["per_order"], cap["plan"], derived(cap)
    h, v = o["temporal_history"], o["temporal_visibility"]
    tiers = cap["tiers"]
    day = 86400
    rows = []

    def row(label, f):
        rows.append((label, [f(r) for r in tiers]))

    def pods_text(r):
        dp = deployment_pods(cap, r)
        return ", ".join(f"{n} {dp[n][1]}" for n in p["deployments"])

    row("baedal pods (CPU-ms per order ÷ target ÷ request)", pods_text)
    row("Temporal pods: history / matching / frontend / worker",
        lambda r: " / ".join(str(temporal_pods(cap, r)[0][s]) for s in SERVICES))
    row(f"Temporal cores ({o['cpu_ms']['temporal']} ms ÷ {p['cpu_target']['temporal']})",
        lambda r: fmt(temporal_pods(cap, r)[1]))
    row(f"history shard writes/s ({fmt(d['shard_writes'], 1)} per order)", lambda r: fmt(r * d["shard_writes"]))
    row(f"… per shard with {p['history_shards']} shards (plan ≤ {p['shard_writes_per_sec']})",
        lambda r: fmt(r * d["shard_writes"] / p["history_shards"], 1))
    # temporal-db carries visibility only at the tiers whose values keep it on SQL (plan.values:
    # from 1,000 orders/s it is on OpenSearch).
    def vis(r):
        return 1 if visibility_on_sql(tier_values(r)) else 0

    row(f"Temporal DB commits/s (history {fmt(h['commits'], 1)}, + visibility {fmt(v['writes'], 1)} where the "
        f"tier's values keep it on PostgreSQL)",
        lambda r: fmt(r * (h["commits"] + vis(r) * v["writes"])))
    row(f"temporal-db WAL write IOPS (history, and visibility where on PostgreSQL, in one instance): the larger of "
        f"its fsyncs ({fmt(h['fsyncs'], 1)} per order at C={o['temporal_bench_concurrency']}, group commit) and its "
        f"WAL in 16 KiB I/Os (data-page writes come on top)",
        lambda r: fmt(max(r * h["fsyncs"], r * (h["wal_bytes"] + vis(r) * v["wal_bytes"]) / 16384)))
    row(f"WAL MB/s: Temporal history ({fmt(h['wal_bytes'] / 1000, 1)} KB per order)",
        lambda r: fmt(r * h["wal_bytes"] / 1e6, 1))
    row(f"WAL MB/s: Temporal visibility on PostgreSQL ({fmt(v['wal_bytes'] / 1000, 1)} KB per order)",
        lambda r: fmt(r * v["wal_bytes"] / 1e6, 1))
    bd = o["baedal_db"]
    row(f"WAL MB/s: baedal-db, read model + notification + ledger ({fmt(bd['wal_bytes'] / 1000, 1)} KB)",
        lambda r: fmt(r * bd["wal_bytes"] / 1e6, 1))
    row(f"visibility upserts/s ({fmt(v['writes'], 1)} per order)", lambda r: fmt(r * v["writes"]))
    bloat = p["storage_bloat"]
    row(f"temporal-db storage GB/day at the tier's rate for 24 h: (history {fmt(h['bytes_packed'] / 1000, 1)} KB, + "
        f"visibility {fmt(v['bytes_packed'] / 1000, 1)} KB where on PostgreSQL, packed per order) × {bloat}",
        lambda r: fmt(gb(r * day * bloat * (h["bytes_packed"] + vis(r) * v["bytes_packed"]))))
    row(f"… held at the namespace's retention ({p['retention_days']} d)",
        lambda r: fmt(gb(r * day * p["retention_days"] * bloat * (h["bytes_packed"] + vis(r) * v["bytes_packed"]))))
    row(f"baedal-db storage GB/day at the tier's rate for 24 h ({fmt(bd['bytes_grown'] / 1000, 1)} KB per "
        f"order as written; {fmt(bd['bytes_kept'] / 1000, 1)} KB kept long term)",
        lambda r: f"{fmt(gb(r * day * bd['bytes_grown']))} ({fmt(gb(r * day * bd['bytes_kept']))} kept)")
    row(f"read-model transactions/s (writes {bd['readmodel_write_transactions']}, all {bd['readmodel_transactions']})",
        lambda r: f"{fmt(r * bd['readmodel_write_transactions'])} / {fmt(r * bd['readmodel_transactions'])}")
    row(f"notification + ledger transactions/s ({bd['notify_transactions']} + {bd['payment_transactions']})",
        lambda r: fmt(r * (bd["notify_transactions"] + bd["payment_transactions"])))
    row("baedal-db connections at these pod counts (api 11 per pod, worker, notification, payment 8)",
        lambda r: fmt(sum(n * p["baedal_db_connections_per_pod"][d] for d, (_, n) in deployment_pods(cap, r).items())))
    row("Temporal DB connections at the values' maxConns (pods × (default + SQL visibility))",
        lambda r: fmt(temporal_connections(cap, r)))
    row(f"workflow tasks/s ({wf_text(o)}); `baedal-orders` partitions at "
        f"{p['partition_tasks_per_sec']}/s each",
        lambda r: f"{fmt(r * o['workflow_tasks']['total'])}; {partitions_needed(cap, r)}")
    return rows


def wf_text(o):
    w = o["workflow_tasks"]
    return f"{w['total']} per order, {w['normal_queue']} on the shared queue"


def partitions_needed(cap, rate):
    p = cap["plan"]
    need = rate * cap["per_order"]["workflow_tasks"]["normal_queue"] / p["partition_tasks_per_sec"]
    return max(p["min_partitions"], 2 ** math.ceil(math.log2(max(need, 1))))


def temporal_connections(cap, rate, values=None):
    """Σ pods × maxConns of the stores on PostgreSQL, for the values the tier runs with."""
    values = values or tier_values(rate)
    pods = temporal_pods(cap, rate)[0]
    stores = sql_max_conns(values)
    return sum(pods.values()) * sum(stores.values())


def visibility_on_sql(values):
    p = values["server"]["config"]["persistence"]
    return "sql" in (p["datastores"].get(p.get("visibilityStore", "visibility")) or {})


def sql_max_conns(values):
    """{store: maxConns} of the stores in use (default and visibility) that are on SQL."""
    p = values["server"]["config"]["persistence"]
    used = {"default": p.get("defaultStore", "default"), "visibility": p.get("visibilityStore", "visibility")}
    return {role: (p["datastores"][n].get("sql") or {}).get("maxConns", 0)
            for role, n in used.items() if "sql" in (p["datastores"].get(n) or {})}


def merge(a, b):
    out = copy.deepcopy(a)
    for k, v in b.items():
        if v is None:  # helm: a null removes the key
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def tier_values(rate, files=None):
    """Temporal's values for the tier `rate` belongs to (capacity.yaml `plan.values`)."""
    cap = load()
    names = None
    for t, ns in sorted(cap["plan"]["values"].items()):
        if rate >= t:
            names = ns
    files = files or {}
    v = {}
    for n in names:
        v = merge(v, files[n] if n in files else yaml.safe_load((TEMPORAL / n).read_text()))
    return v


def inputs_rows(cap):
    o = cap["per_order"]
    h, v, bd = o["temporal_history"], o["temporal_visibility"], o["baedal_db"]
    c = o["cpu_ms"]
    return [
        ("CPU ms: worker / api order, store, rider / notification / payment / gateway",
         f"{c['worker']} / {c['api-order']}, {c['api-store']}, {c['api-rider']} / {c['notification']} / "
         f"{c['payment']} / {c['gateway']}", "bench-costs --durable"),
        ("CPU ms: Temporal dev server (frontend, history, matching and SQLite in one process)",
         f"{c['temporal']}", "bench-costs --durable"),
        ("history: batches appended / mutable-state transactions / bytes",
         f"{h['history_appends']} / {h['transactions']} / {fmt(h['history_bytes'])}",
         "dev server's SQLite (bench-costs), = the replay"),
        ("Temporal history DB: commits / rows written / WAL / fsyncs",
         f"{h['commits']} / {h['rows_written']} / {fmt(h['wal_bytes'])} B / {h['fsyncs']}",
         f"bench-temporal-db, C={o['temporal_bench_concurrency']}"),
        ("Temporal history DB: table + index growth (packed)",
         f"{fmt(h['bytes_grown'])} B ({fmt(h['bytes_packed'])} B)", "bench-temporal-db"),
        ("Temporal visibility on PostgreSQL: upserts / WAL / growth (packed)",
         f"{v['writes']} / {fmt(v['wal_bytes'])} B ({fmt(v['wal_bytes'] / v['writes'])} B each) / "
         f"{fmt(v['bytes_grown'])} B ({fmt(v['bytes_packed'])} B)", "bench-temporal-db"),
        ("retention delete (2 days later): Temporal WAL", f"{fmt(o['temporal_retention_wal_bytes'])} B",
         "bench-temporal-db --retention"),
        ("baedal-db: read-model transactions (writes) / notification / ledger",
         f"{bd['readmodel_transactions']} ({bd['readmodel_write_transactions']}) / {bd['notify_transactions']} / "
         f"{bd['payment_transactions']}", "bench-costs --durable"),
        ("baedal-db: WAL / growth / kept long term",
         f"{fmt(bd['wal_bytes'])} B / {fmt(bd['bytes_grown'])} B / {fmt(bd['bytes_kept'])} B",
         "bench-costs --durable; bench-retention"),
        ("workflow tasks (all / on the shared queue) / client calls to Temporal",
         f"{o['workflow_tasks']['total']} / {o['workflow_tasks']['normal_queue']} / {o['temporal_client_calls']}",
         "the recorded histories"),
    ]


def render(cap):
    tiers = cap["tiers"]
    inputs = ["| input (per order, the loadgen mix) | value | from |", "|---|---|---|"]
    inputs += [f"| {a} | {b} | {c} |" for a, b, c in inputs_rows(cap)]
    table = ["| | " + " | ".join(f"{t:,} orders/s" for t in tiers) + " |",
             "|---|" + "---|" * len(tiers)]
    table += [f"| {label} | " + " | ".join(vals) + " |" for label, vals in tier_rows(cap)]
    return {"inputs": "\n".join(inputs), "tiers": "\n".join(table)}


def readme_blocks(text):
    out = {}
    for name in ("inputs", "tiers"):
        m = re.search(re.escape(BEGIN.format(name)) + r"\n(.*?)\n" + re.escape(END.format(name)), text, re.S)
        out[name] = m.group(1) if m else None
    return out


def write_readme(cap):
    text = README.read_text()
    for name, block in render(cap).items():
        b, e = BEGIN.format(name), END.format(name)
        if b not in text:
            raise SystemExit(f"capacity.py: deploy/README.md has no `{b}` marker")
        text = re.sub(re.escape(b) + r"\n.*?" + re.escape(e), lambda _: f"{b}\n{block}\n{e}", text, flags=re.S)
    README.write_text(text)


def check_readme(cap, text=None):
    text = README.read_text() if text is None else text
    want = render(cap)
    got = readme_blocks(text)
    return [f"deploy/README.md: the {n} table is not the one deploy/capacity.yaml gives "
            f"(python3 deploy/check/capacity.py --write)" for n in want if got[n] != want[n]]


def check_autoscalers(cap, where, deployments, scalers, cpu_cores):
    """Every autoscaler's max reaches the built-for tier at its own CPU target and request."""
    rate = cap["built_for"]
    findings = []
    pools = 0
    for d in deployments:
        # The model's name for it is its role: a versioned worker's Deployment is `worker-<build>`
        # (deploy/README.md, "Rolling out a release"), its component label `worker`.
        s = scalers.get(d["metadata"]["name"])
        n = (d["metadata"].get("labels") or {}).get("app.kubernetes.io/component", d["metadata"]["name"])
        if not s:
            continue
        if n not in cap["per_order"]["cpu_ms"]:
            findings.append(f"{where(s)}: scales {d['metadata']['name']}, whose role {n} deploy/capacity.yaml "
                            f"has no CPU-ms per order for: its max cannot be checked")
            continue
        if s["kind"] == "ScaledObject":
            maximum = s["spec"].get("maxReplicaCount", 100)
            target = next((int(t["metadata"]["value"]) for t in s["spec"]["triggers"] if t["type"] == "cpu"), None)
        else:
            maximum = s["spec"]["maxReplicas"]
            target = next((m["resource"]["target"].get("averageUtilization") for m in s["spec"].get("metrics", [])
                           if m["type"] == "Resource" and m["resource"]["name"] == "cpu"), None)
        pools += maximum * cap["plan"]["baedal_db_connections_per_pod"].get(n, 0)
        if target is None:
            findings.append(f"{where(s)}: no CPU target: the capacity of its max cannot be checked")
            continue
        request = cpu_cores(d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"])
        ms = cap["per_order"]["cpu_ms"][n]
        needed = rate * ms / 1000 / (target / 100) / request
        if maximum < needed:
            findings.append(f"{where(s)}: max {maximum} replicas, but {rate} orders/s need {needed:.1f} "
                            f"({ms} CPU-ms per order at {target}% of {request} core; deploy/capacity.yaml)")
        plan = cap["plan"]["deployments"].get(n)
        if plan and (plan["target"] * 100 != target or plan["request"] != request):
            findings.append(f"{where(s)}: CPU target {target}% of {request} core, but deploy/capacity.yaml plans "
                            f"{plan['target'] * 100:g}% of {plan['request']} (the README's pod counts)")
    if pools > cap["plan"]["baedal_db_connection_budget"]:
        findings.append(f"autoscalers: at their maxima baedal's pods open {pools} connections to baedal-db, over the "
                        f"{cap['plan']['baedal_db_connection_budget']} deploy/capacity.yaml allows")
    return findings


def check_temporal(cap, files=None):
    """Temporal's values at each tier they are for: replicas, connections, shards, partitions,
    per-host rate limits."""
    findings = []
    p, d = cap["plan"], derived(cap)
    files = files or {}
    shards = None
    for tier, names in sorted(p["values"].items()):
        v = tier_values(tier, files)
        w = " + ".join(f"deploy/temporal/{n}" for n in names)
        server = v["server"]
        persistence = server["config"]["persistence"]
        shards = persistence.get("numHistoryShards")
        # Shards: fixed for the cluster's life, sized for the built-for tier.
        load = cap["built_for"] * d["shard_writes"] / (shards or 1)
        if shards != p["history_shards"] or load > p["shard_writes_per_sec"]:
            findings.append(f"{w}: numHistoryShards {shards}: {cap['built_for']} orders/s make {load:.0f} writes/s "
                            f"per shard (plan ≤ {p['shard_writes_per_sec']}, deploy/capacity.yaml: "
                            f"{p['history_shards']})")
        ns = (server["config"].get("namespaces") or {}).get("namespace") or []
        kept = [x.get("retention") for x in ns if x.get("name") == "default"]
        if kept != [f"{p['retention_days']}d"]:
            findings.append(f"{w}: namespace default's retention {kept}, deploy/capacity.yaml sizes storage "
                            f"for {p['retention_days']}d")
        pods, _ = temporal_pods(cap, tier)
        for s in SERVICES:
            have = (server.get(s) or {}).get("replicaCount", server.get("replicaCount", 1))
            if have < pods[s]:
                findings.append(f"{w}: server.{s}.replicaCount {have}, but {tier:,} orders/s need {pods[s]}")
            req = ((server.get(s) or {}).get("resources") or {}).get("requests", {}).get("cpu")
            if s != "worker" and str(req) != str(p["temporal_pod_cores"][s]):
                findings.append(f"{w}: server.{s} requests {req} CPU, the model's pods have "
                                f"{p['temporal_pod_cores'][s]} (deploy/capacity.yaml)")
        # Connections: every pod opens up to maxConns per SQL store; all must fit the instance.
        conns = sql_max_conns(v)
        total = sum(pods.values()) * sum(conns.values())
        budget = p["temporal_db_connections"][tier]
        if total > budget:
            findings.append(f"{w}: {sum(pods.values())} Temporal pods × maxConns {conns} = {total} connections, "
                            f"over the {budget} deploy/capacity.yaml allows temporal-db at {tier:,} orders/s")
        # ... and a history pod's pool must carry its share of the writes.
        busy = tier * cap["per_order"]["temporal_connection_ms"] / 1000 / pods["history"]
        if conns.get("default", 0) < busy * p["connection_headroom"]:
            findings.append(f"{w}: maxConns {conns.get('default')} per history pod, but {tier:,} orders/s keep "
                            f"{busy:.1f} busy (× {p['connection_headroom']} headroom)")
        vis = persistence.get("visibilityStore")
        vis_sql = "sql" in persistence["datastores"].get(vis, {})
        vis_wal = tier * cap["per_order"]["temporal_visibility"]["wal_bytes"] / 1e6
        if vis_sql and vis_wal > p["visibility_postgresql_max_wal_mb_s"]:
            findings.append(f"{w}: visibility on PostgreSQL at {tier:,} orders/s writes {vis_wal:.0f} MB/s of WAL "
                            f"(plan ≤ {p['visibility_postgresql_max_wal_mb_s']}): OpenSearch from this tier")
        # Dynamic config: partitions of the shared queue and the per-host rate limits.
        dc = server.get("dynamicConfig") or {}

        def dyn(key, default):
            vals = [x.get("value") for x in dc.get(key, []) if not x.get("constraints")]
            return vals[0] if vals else default

        want = partitions_needed(cap, tier)
        for key in ("matching.numTaskqueueReadPartitions", "matching.numTaskqueueWritePartitions"):
            got = [x for x in dc.get(key, []) if (x.get("constraints") or {}).get("taskQueueName") == "baedal-orders"]
            n = got[0]["value"] if got else dyn(key, 4)
            if n < want:
                findings.append(f"{w}: {key} {n} for baedal-orders, but {tier:,} orders/s need {want}")
        for key, per_order, service in (("frontend.rps", d["frontend_requests"], "frontend"),
                                        ("frontend.namespaceRPS", d["frontend_requests"], "frontend"),
                                        ("matching.rps", d["matching_requests"], "matching"),
                                        ("history.rps", d["history_requests"], "history")):
            limit = dyn(key, p["temporal_rate_defaults"][key])
            need = tier * per_order / pods[service] * p["rate_headroom"]
            if limit < need:
                findings.append(f"{w}: {key} {limit} per host, but {tier:,} orders/s send {need:.0f} per "
                                f"{service} pod (with × {p['rate_headroom']} headroom)")
    return findings


def check_node_pools(cap, pools_file=ROOT / "deploy/eks/karpenter.yaml"):
    """Karpenter's CPU limit of each NodePool holds the built-for tier's requests (with a 20%
    margin for the nodes' own reservations and daemons)."""
    rate = cap["built_for"]
    limits = {o["metadata"]["name"]: float(o["spec"].get("limits", {}).get("cpu", 0))
              for o in yaml.safe_load_all(pools_file.read_text()) if o and o.get("kind") == "NodePool"}
    pods, _ = temporal_pods(cap, rate)
    want = {"apps": sum(n * cap["plan"]["deployments"][d]["request"]
                        for d, (_, n) in deployment_pods(cap, rate).items()),
            "temporal": sum(pods[s] * cap["plan"]["temporal_pod_cores"][s] for s in ("history", "matching", "frontend"))
                        + pods["worker"] * 0.25}
    return [f"deploy/eks/karpenter.yaml: NodePool {n} limits.cpu {limits.get(n)}, but {rate:,} orders/s request "
            f"{c:.0f} cores there (+20%)" for n, c in want.items() if limits.get(n, 0) < c * 1.2]


def self_test(cap):
    """Plant a fault of each kind; return the ones the checks let through."""
    missed = []
    base = {n: yaml.safe_load((TEMPORAL / n).read_text()) for ns in cap["plan"]["values"].values() for n in ns}
    top = cap["plan"]["values"][max(cap["plan"]["values"])][-1]

    def planted(name, mutate, fn=check_temporal):
        files = copy.deepcopy(base)
        c = copy.deepcopy(cap)
        mutate(files, c)
        if not fn(c, files):
            missed.append(name)

    def setp(path):
        def f(files, c):
            node = files[path[0]]
            for k in path[1:-2]:
                node = node.setdefault(k, {})
            node[path[-2]] = path[-1]
        return f

    planted("256 shards", setp(["values.yaml", "server", "config", "persistence", "numHistoryShards", 256]))
    planted("history short of pods at the top tier", setp([top, "server", "history", "replicaCount", 2]))
    planted("maxConns over the connection budget",
            setp([top, "server", "config", "persistence", "datastores", "default", "sql", "maxConns", 500]))
    planted("maxConns too small for the writes",
            setp([top, "server", "config", "persistence", "datastores", "default", "sql", "maxConns", 1]))
    planted("matching.rps at its default", lambda f, c: f["values.yaml"]["server"]["dynamicConfig"].pop("matching.rps"))
    planted("one partition", lambda f, c: f["values.yaml"]["server"]["dynamicConfig"].__setitem__(
        "matching.numTaskqueueWritePartitions", [{"value": 1, "constraints": {"taskQueueName": "baedal-orders"}}]))
    planted("more WAL per order than the plan lets visibility on PostgreSQL carry",
            lambda f, c: c["per_order"]["temporal_visibility"].__setitem__("wal_bytes", 10 ** 7))
    c = copy.deepcopy(cap)
    c["per_order"]["cpu_ms"]["worker"] *= 10
    if not check_readme(c):
        missed.append("README tables from other inputs")
    # A versioned worker, as the eks overlay renders it: Deployment `worker-<build>`, role in its label.
    dep = {"metadata": {"name": "worker-1.2.3", "labels": {"app.kubernetes.io/component": "worker"}},
           "spec": {"template": {"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}}}}
    hpa = {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "worker-1.2.3"},
           "spec": {"maxReplicas": 3, "metrics": [{"type": "Resource", "resource": {
               "name": "cpu", "target": {"averageUtilization": 60}}}]}}
    if not check_autoscalers(cap, lambda o: "hpa", [dep], {"worker-1.2.3": hpa}, lambda q: float(q)):
        missed.append("an HPA max short of the tier (a versioned worker's Deployment)")
    so = {"kind": "ScaledObject", "metadata": {"name": "worker-1.2.3"},
          "spec": {"maxReplicaCount": 3, "triggers": [{"type": "cpu", "metadata": {"value": "60"}}]}}
    if not check_autoscalers(cap, lambda o: "so", [dep], {"worker-1.2.3": so}, lambda q: float(q)):
        missed.append("a KEDA maxReplicaCount short of the tier (a versioned worker's Deployment)")
    hpa["spec"]["maxReplicas"] = 1000
    if not check_autoscalers(cap, lambda o: "hpa", [dep], {"worker-1.2.3": hpa}, lambda q: float(q)):
        missed.append("an HPA max whose pools overrun baedal-db")
    return missed


def main():
    cap = load()
    if "--write" in sys.argv:
        write_readme(cap)
        return
    if "--check" in sys.argv:
        findings = check_readme(cap) + check_temporal(cap) + check_node_pools(cap)
        missed = self_test(cap)
        findings += [f"deploy/check/capacity.py self-test: a planted fault passed: {m}" for m in missed]
        for f in findings:
            print(f"capacity: {f}", file=sys.stderr)
        sys.exit(1 if findings else 0)
    for name, block in render(cap).items():
        print(block + "\n")


if __name__ == "__main__":
    main()
