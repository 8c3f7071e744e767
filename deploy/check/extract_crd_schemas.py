#!/usr/bin/env python3
"""Extract the OpenAPI schemas of the custom resources baedal's manifests use from their
upstream CRD files, into deploy/check/crd-schemas/<group>_<version>_<kind>.json, without the
descriptions (they are most of a CRD's size and no part of validation).

The CRDs come from the projects' tagged releases (see SOURCES below). To move to a newer
release: fetch the tag, run this script on its CRD files, commit the JSON and the new tag here.

    python3 deploy/check/extract_crd_schemas.py <crd.yaml>...
"""
import json
import pathlib
import sys

import yaml

SOURCES = {
    "gateway.networking.k8s.io": "kubernetes-sigs/gateway-api v1.4.1 config/crd/standard",
    "keda.sh": "kedacore/keda v2.20.2 config/crd/bases",
    "gateway.k8s.aws": "kubernetes-sigs/aws-load-balancer-controller v3.5.0 config/crd/gateway",
    "external-secrets.io": "external-secrets/external-secrets v1.3.2 config/crds/bases",
    "karpenter.sh": "aws/karpenter-provider-aws v1.14.1 pkg/apis/crds",
    "karpenter.k8s.aws": "aws/karpenter-provider-aws v1.14.1 pkg/apis/crds",
    # The operator of kube-prometheus-stack 88.3.0 (deploy/README.md, "Observability"), whose
    # charts/crds are these files unchanged.
    "monitoring.coreos.com": "prometheus-operator/prometheus-operator v0.93.0 example/prometheus-operator-crd",
}
KINDS = {
    "SecretStore", "TriggerAuthentication",
    "Gateway", "GatewayClass", "HTTPRoute", "ScaledObject", "LoadBalancerConfiguration",
    "TargetGroupConfiguration", "ExternalSecret", "ClusterSecretStore", "NodePool", "EC2NodeClass",
    "ServiceMonitor", "PodMonitor", "PrometheusRule", "TriggerAuthentication",
}
OUT = pathlib.Path(__file__).parent / "crd-schemas"


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def main(paths):
    for path in paths:
        for doc in yaml.safe_load_all(open(path)):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            kind, group = spec["names"]["kind"], spec["group"]
            if kind not in KINDS:
                continue
            # The storage version: the one the manifests are written in.
            for v in spec["versions"]:
                if not v.get("storage"):
                    continue
                schema = strip(v["schema"]["openAPIV3Schema"])
                schema["x-source"] = SOURCES.get(group, "unknown")
                out = OUT / f"{group}_{v['name']}_{kind}.json"
                out.write_text(json.dumps(schema, sort_keys=True, separators=(",", ":")) + "\n")
                print(f"{out.name}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
