"""NetworkPolicy semantics, enough to ask of rendered manifests "may this pod open this
connection?" (deploy/check, section 9). The rules are the Kubernetes API's:

- A pod is isolated for a direction when a policy of its namespace selects it and lists that
  direction in policyTypes (default: Ingress, plus Egress when the policy has egress rules).
  An isolated pod allows a connection when any rule of any policy selecting it matches; a pod
  no policy isolates allows everything.
- A connection needs the source's egress and the destination's ingress. Addresses outside the
  cluster have no policies of their own.
- A peer with only podSelector means pods of the policy's own namespace; with a
  namespaceSelector, pods of the namespaces it selects (all of them without podSelector); an
  ipBlock matches addresses, and on EKS a pod's address too (the VPC CNI gives pods VPC
  addresses), which is why pods carry an address here.
- No `ports` means every port; a port without protocol is TCP; named ports are not modelled
  (they never match, so a check built on this errs on the refusing side).
"""
import ipaddress
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: dict = field(hash=False)
    ip: str = "10.244.0.10"


@dataclass(frozen=True)
class Address:
    ip: str


def selects(selector, labels):
    """A LabelSelector against labels ({} selects everything)."""
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        present = key in labels
        if (op == "In" and not (present and labels[key] in values)
                or op == "NotIn" and present and labels[key] in values
                or op == "Exists" and not present
                or op == "DoesNotExist" and present):
            return False
    return True


def _in_block(ip, block):
    addr = ipaddress.ip_address(ip)
    return (addr in ipaddress.ip_network(block["cidr"], strict=False)
            and not any(addr in ipaddress.ip_network(x, strict=False) for x in block.get("except") or []))


class Network:
    def __init__(self, policies, namespace_labels=None):
        self.policies = [p for p in policies if p["kind"] == "NetworkPolicy"]
        self.namespace_labels = namespace_labels or {}

    def _ns_labels(self, ns):
        return {"kubernetes.io/metadata.name": ns, **self.namespace_labels.get(ns, {})}

    @staticmethod
    def _types(policy):
        spec = policy["spec"]
        return spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))

    def _peer(self, peer, policy_ns, other):
        if "ipBlock" in peer:
            return _in_block(other.ip, peer["ipBlock"])
        if not isinstance(other, Pod):
            return False
        ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
        ns_ok = other.namespace == policy_ns if ns_sel is None else selects(ns_sel, self._ns_labels(other.namespace))
        return ns_ok and (pod_sel is None or selects(pod_sel, other.labels))

    @staticmethod
    def _port(ports, port, protocol):
        if not ports:
            return True
        for p in ports:
            if p.get("protocol", "TCP") != protocol:
                continue
            if "port" not in p:
                return True
            if isinstance(p["port"], int) and (p["port"] == port or p["port"] <= port <= p.get("endPort", 0)):
                return True
        return False

    def allows(self, direction, pod, other, port, protocol="TCP"):
        """Whether `pod`'s policies let `other` in (Ingress) or let `pod` reach `other` (Egress)."""
        selecting = [p for p in self.policies
                     if p["metadata"].get("namespace") == pod.namespace
                     and selects(p["spec"].get("podSelector") or {}, pod.labels)
                     and direction in self._types(p)]
        if not selecting:
            return True
        rules, peers = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        for p in selecting:
            for rule in p["spec"].get(rules) or []:
                if ((not rule.get(peers) or any(self._peer(x, p["metadata"]["namespace"], other) for x in rule[peers]))
                        and self._port(rule.get("ports"), port, protocol)):
                    return True
        return False

    def connects(self, src, dst, port, protocol="TCP"):
        """Both ends agree: the source's egress and the destination's ingress."""
        return ((not isinstance(src, Pod) or self.allows("Egress", src, dst, port, protocol))
                and (not isinstance(dst, Pod) or self.allows("Ingress", dst, src, port, protocol)))
