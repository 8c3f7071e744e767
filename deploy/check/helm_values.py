"""Every key of deploy/temporal/values*.yaml is one that Temporal's pinned Helm chart reads.

Helm ignores a key it does not know: a misspelt `createDatabse: false` installs silently, and the
schema job then tries to create the database anyway (the 42501 of issue 22). So each key path
of our values must exist in the chart's own values.yaml, vendored as
deploy/temporal/chart-values-<version>.yaml, with three kinds of exception, each decided by
reading the chart's templates at that tag (temporalio/helm-charts temporal-1.6.0):

- PASS_THROUGH: keys whose value the templates copy whole into a Kubernetes object (`toYaml`):
  any keys are the chart's business no further, but Kubernetes' are. Their values are validated
  against the Kubernetes schema instead (a Pod or a PodDisruptionBudget built from them).
- TEMPLATE_ONLY: keys the templates read that values.yaml does not list.
- SERVER_CONFIG: subtrees the chart hands to Temporal server's own configuration (the
  datastores, `server.config.tls`), whose example in values.yaml is only a comment. Their keys
  are the server's (the yaml tags of config.SQL, auth.TLS, config.RootTLS and the Elasticsearch
  client config of temporalio/temporal v1.31.2, the chart's appVersion) plus the keys the chart
  reads and strips before rendering (_helpers.tpl, temporal.persistence.filterConfig).

`self_test()` plants misspellings in a copy of the values and fails if any passes.
"""
import copy

import kubernetes_validate

ANY = "*"  # in a schema: a map whose keys are names of our choosing
FREE = "free"  # in a schema: a value with no fixed keys (checked, if at all, elsewhere)

# Copied by the templates into the pod, container or PDB they render (server-deployment.yaml,
# web-deployment.yaml, admintools-deployment.yaml, server-job.yaml, server-pdb.yaml, web-pdb.yaml).
# Where each lands, to validate it against Kubernetes' schema:
POD_SPEC = {"nodeSelector": "nodeSelector", "tolerations": "tolerations", "affinity": "affinity",
            "topologySpreadConstraints": "topologySpreadConstraints",
            "securityContext": "securityContext", "additionalVolumes": "volumes"}
CONTAINER = {"resources": "resources", "additionalEnv": "env",
             "additionalVolumeMounts": "volumeMounts", "containerSecurityContext": "securityContext"}
POD_METADATA = {"podAnnotations", "podLabels"}
PASS_THROUGH = set(POD_SPEC) | set(CONTAINER) | POD_METADATA | {"podDisruptionBudget"}

# Read by server-deployment.yaml and server-pdb.yaml (`$serviceValues.replicaCount`, defaulting
# to server.replicaCount) but absent from values.yaml.
SERVICES = ("frontend", "internal-frontend", "history", "matching", "worker")
TEMPLATE_ONLY = {("server", s): {"replicaCount": None} for s in SERVICES}

# Temporal server v1.31.2's configuration, where the chart passes it on.
_AUTH_TLS = dict.fromkeys(["enabled", "certFile", "keyFile", "caFile", "enableHostVerification",
                           "serverName", "certData", "keyData", "caData"])
_SQL = {**dict.fromkeys(["user", "password", "pluginName", "databaseName", "connectAddr",
                         "connectProtocol", "maxConns", "maxIdleConns", "maxConnLifetime",
                         "taskScanPartitions"]),
        "connectAttributes": FREE, "passwordCommand": dict.fromkeys(["command", "args", "timeout"]),
        "tls": _AUTH_TLS,
        # the chart's own, stripped before the server sees them
        **dict.fromkeys(["existingSecret", "secretKey", "createDatabase", "manageSchema"])}
_ELASTICSEARCH = {**dict.fromkeys(["version", "username", "password", "logLevel",
                                   "closeIdleConnectionsInterval", "enableSniff",
                                   "enableHealthcheck", "disableGzip"]),
                  "url": dict.fromkeys(["scheme", "host", "path"]), "urls": FREE, "indices": FREE,
                  "aws-request-signing": {"enabled": None, "region": None, "credentialProvider": None,
                                          "static": dict.fromkeys(["accessKeyID", "secretAccessKey", "token"])},
                  "tls": _AUTH_TLS,
                  **dict.fromkeys(["existingSecret", "secretKey", "manageSchema"])}
_CLIENT_TLS = dict.fromkeys(["serverName", "disableHostVerification", "rootCaFiles", "rootCaData", "forceTLS"])
_SERVER_TLS = dict.fromkeys(["certFile", "keyFile", "clientCaFiles", "certData", "keyData",
                             "clientCaData", "requireClientAuth"])
_GROUP_TLS = {"client": _CLIENT_TLS, "server": _SERVER_TLS, "hostOverrides": {ANY: _SERVER_TLS}}
_ROOT_TLS = {"internode": _GROUP_TLS, "frontend": _GROUP_TLS,
             "systemWorker": {**dict.fromkeys(["certFile", "keyFile", "certData", "keyData"]), "client": _CLIENT_TLS},
             "remoteClusters": {ANY: _GROUP_TLS},
             "expirationChecks": dict.fromkeys(["warningWindow", "errorWindow", "checkInterval"]),
             "refreshInterval": None}
# The dynamic config (`server.dynamicConfig`, absent from values.yaml: the chart's
# server-dynamicconfigmap.yaml copies it whole into the server's dynamic_config.yaml). Its keys
# are Temporal 1.31.2's settings (common/dynamicconfig/constants.go); the ones our values set,
# each a list of {value, constraints}. A name the server does not know is ignored by it, so a
# misspelt limit would silently stay at its default.
DYNAMIC_CONFIG_KEYS = ("frontend.rps", "frontend.namespaceRPS", "matching.rps", "history.rps",
                       "matching.numTaskqueueReadPartitions", "matching.numTaskqueueWritePartitions")
# No Cassandra here: add its keys (config.Cassandra) when a values file uses it.
SERVER_CONFIG = {
    ("server", "config", "persistence", "datastores"): {ANY: {"sql": _SQL, "elasticsearch": _ELASTICSEARCH}},
    ("server", "config", "tls"): _ROOT_TLS,
    ("server", "dynamicConfig"): {k: FREE for k in DYNAMIC_CONFIG_KEYS},
}


def _dotted(path):
    return ".".join(str(p) for p in path)


def check_keys(values, chart, where, k8s_version):
    """Findings (strings) for every key of `values` the chart does not read, and every pass-through
    value Kubernetes would refuse."""
    findings = []

    def walk(ours, ref, path):
        if path in SERVER_CONFIG:
            return schema_walk(ours, SERVER_CONFIG[path], path)
        if isinstance(ours, dict):
            typed(ours, path)
            if ref is not None and not isinstance(ref, dict):
                findings.append(f"{where}: {_dotted(path)} is a map, but the chart's is not")
                return
            known = dict(ref or {})
            known.update(TEMPLATE_ONLY.get(path, {}))
            known.update({p[-1]: None for p in SERVER_CONFIG if p[:-1] == path})
            for k, v in ours.items():
                if k in PASS_THROUGH:
                    continue
                if k not in known:
                    findings.append(f"{where}: {_dotted(path + (k,))}: the chart has no such key "
                                    f"(no {k!r} under {_dotted(path) or 'the top level'})")
                    continue
                walk(v, known[k], path + (k,))
        elif isinstance(ours, list) and isinstance(ref, list):
            item_keys = {k for item in ref if isinstance(item, dict) for k in item}
            for i, item in enumerate(ours):
                if isinstance(item, dict) and item_keys:
                    for k in item:
                        if k not in item_keys:
                            findings.append(f"{where}: {_dotted(path)}[{i}].{k}: the chart's items have "
                                            f"only {sorted(item_keys)}")
        elif isinstance(ours, list) and ref not in (None, []):
            findings.append(f"{where}: {_dotted(path)} is a list, but the chart's is not")

    def schema_walk(ours, schema, path):
        if schema is FREE:
            return
        if schema is None:
            if isinstance(ours, dict):
                findings.append(f"{where}: {_dotted(path)} takes a value, not a map")
            return
        if not isinstance(ours, dict):
            if ours is not None:
                findings.append(f"{where}: {_dotted(path)} takes a map")
            return
        for k, v in ours.items():
            sub = schema.get(k, schema.get(ANY, KeyError))
            if sub is KeyError:
                findings.append(f"{where}: {_dotted(path + (k,))}: Temporal's configuration has no "
                                f"{k!r} here (one of {sorted(schema)})")
            else:
                schema_walk(v, sub, path + (k,))

    def typed(node, path):
        """The pass-through values of one component, each in the Pod or PDB the chart renders."""
        at = lambda k: f"{where}: {_dotted(path + (k,))}"
        for k in set(POD_SPEC) & set(node):
            k8s(at(k), {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                        "spec": {POD_SPEC[k]: node[k], "containers": [{"name": "c", "image": "i"}]}})
        for k in set(CONTAINER) & set(node):
            k8s(at(k), {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                        "spec": {"containers": [{"name": "c", "image": "i", CONTAINER[k]: node[k]}]}})
        volumes = {v.get("name") for v in node.get("additionalVolumes") or []}
        for m in node.get("additionalVolumeMounts") or []:
            if volumes and m.get("name") not in volumes:
                findings.append(f"{at('additionalVolumeMounts')}: {m.get('name')} is no additionalVolumes entry")
        for k in POD_METADATA & set(node):
            if not isinstance(node[k], dict) or not all(isinstance(v, str) for v in node[k].values()):
                findings.append(f"{at(k)}: a map of strings")
        if "podDisruptionBudget" in node:
            k8s(at("podDisruptionBudget"), {
                "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"},
                "spec": {**node["podDisruptionBudget"], "selector": {"matchLabels": {"a": "b"}}}})

    def k8s(w, obj):
        try:
            kubernetes_validate.validate(obj, k8s_version, strict=True)
        except kubernetes_validate.ValidationError as e:
            findings.append(f"{w}: as the chart renders it, Kubernetes refuses it: {e.message} at {list(e.path)}")

    walk(values, chart, ())
    return findings


def self_test(values, chart, k8s_version):
    """Plant misspellings the check must catch; return what it let through."""
    v = lambda values: values["server"]["config"]
    # (what the finding must name, the misspelling)
    planted = [
        ("createDatabse", lambda v_: v(v_)["persistence"]["datastores"]["default"]["sql"].update(createDatabse=False)),
        ("enableHostVerfication", lambda v_: v(v_)["persistence"]["datastores"]["visibility"]["sql"]["tls"].update(enableHostVerfication=True)),
        ("requireClientAuht", lambda v_: v(v_)["tls"]["frontend"]["server"].update(requireClientAuht=True)),
        ("numHistoryShard", lambda v_: v(v_)["persistence"].update(numHistoryShard=512)),
        ("retnetion", lambda v_: v(v_)["namespaces"]["namespace"][0].update(retnetion="2d")),
        ("podDisruptionBudgets", lambda v_: v_["server"]["history"].update(podDisruptionBudgets={"maxUnavailable": 1})),
        ("maxUnavailble", lambda v_: v_["server"]["matching"].update(podDisruptionBudget={"maxUnavailble": 1})),
        ("replicas", lambda v_: v_["web"].update(replicas=2)),
        ("additionalEnv", lambda v_: v_["admintools"].update(additionalEnv=[{"nmae": "X", "value": "y"}])),
        ("matching.numTaskqueueWritePartition",
         lambda v_: v_["server"]["dynamicConfig"].update({"matching.numTaskqueueWritePartition": [{"value": 4}]})),
    ]
    missed = []
    for token, plant in planted:
        broken = copy.deepcopy(values)
        plant(broken)
        if not any(token in f for f in check_keys(broken, chart, "self-test", k8s_version)):
            missed.append(token)
    return missed
