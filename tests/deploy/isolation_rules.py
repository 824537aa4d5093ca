"""Rules that keep the services apart, in the manifests and in the compose file: who may
reach whom (NetworkPolicies, what the Ingress routes, which ports compose publishes), which
database role each service uses, and who holds the gateway's secret (docs/operations.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

Doc = dict[str, Any]

# The services with a schema, the setting prefix of each, and the Secret holding its role.
DB_SERVICES = {"auth": "AUTH", "rooms": "ROOMS", "messages": "MESSAGES"}
# Paths the Ingress must not pass to any pod.
PRIVATE_PATHS = ("/messages/batch", "/metrics")
# Which services each service's pods must be reachable from, besides the Ingress controller.
CALLERS = {"auth": {"gateway", "rooms", "messages"}, "rooms": {"gateway", "messages"}}
CALLERS |= {"messages": {"gateway"}, "gateway": set()}
GATEWAY_SECRET = "chat-gateway-secret"


def _pod(doc: Doc) -> Doc:
    pod: Doc = doc["spec"]["template"]["spec"]
    return pod


def _secret_refs(container: Doc) -> set[tuple[str, str | None]]:
    """(Secret name, key or None for the whole Secret) a container reads into its env."""
    refs: set[tuple[str, str | None]] = {
        (e["secretRef"]["name"], None) for e in container.get("envFrom", []) if "secretRef" in e
    }
    for e in container.get("env", []):
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            refs.add((ref["name"], ref["key"]))
    return refs


def _base(name: str) -> str:
    """A generated Secret's name without kustomize's hash suffix."""
    head, _, tail = name.rpartition("-")
    return head if head and len(tail) == 10 and tail.isalnum() else name


def manifest_problems(by_kind: dict[str, dict[str, Doc]]) -> list[str]:
    found = _routes(by_kind)
    found += _network_policies(by_kind.get("NetworkPolicy", {}))
    deployments = by_kind.get("Deployment", {})
    for name in CALLERS:
        deployment = deployments.get(name)
        if deployment is None:
            continue
        refs = {
            (_base(secret), key)
            for c in _pod(deployment)["containers"]
            for secret, key in _secret_refs(c)
        }
        if ("chat-backends", None) in refs or ("chat-backends", "DATABASE_URL") in refs:
            found.append(f"Deployment {name}: reads the administrator's DATABASE_URL")
        if name in DB_SERVICES and (f"chat-db-{name}", "DATABASE_URL") not in refs:
            found.append(
                f"Deployment {name}: must connect as its own role "
                f"({DB_SERVICES[name]}_DATABASE_URL from Secret chat-db-{name})"
            )
        holds_secret = any(secret == GATEWAY_SECRET for secret, _ in refs)
        if holds_secret != (name in {"gateway", "messages"}):
            found.append(f"Deployment {name}: only gateway and messages hold {GATEWAY_SECRET}")
    job = by_kind.get("Job", {}).get("chat-migrate")
    if job is not None:
        pod = _pod(job)
        steps = {c["name"]: c for c in (*pod.get("initContainers", []), *pod["containers"])}
        for name, prefix in DB_SERVICES.items():
            env = {e["name"] for e in steps.get(name, {}).get("env", [])}
            if f"{prefix}_DB_ROLE" not in env:
                found.append(f"Job chat-migrate: step {name} must create {prefix}_DB_ROLE")
    return found


def _routes(by_kind: dict[str, dict[str, Doc]]) -> list[str]:
    """Each private path, routed as ingress-nginx would (the longest matching prefix wins),
    must reach a Service that selects no pod."""
    prefixes: dict[str, str] = {}
    for ingress in by_kind.get("Ingress", {}).values():
        for rule in ingress["spec"].get("rules", []):
            for path in (rule.get("http") or {}).get("paths", []):
                prefixes[path["path"]] = path["backend"]["service"]["name"]
    services = by_kind.get("Service", {})
    found = []
    for private in PRIVATE_PATHS:
        matching = [p for p in prefixes if private == p or private.startswith(p.rstrip("/") + "/")]
        if not matching:
            continue  # no route at all: the Ingress answers 404 itself
        backend = prefixes[max(matching, key=len)]
        selector = (services.get(backend) or {}).get("spec", {}).get("selector")
        if selector:
            found.append(f"Ingress routes {private} to Service {backend}: it must not be public")
    return found


def _network_policies(policies: dict[str, Doc]) -> list[str]:
    found = []
    if not any(
        p["spec"].get("podSelector") == {}
        and "Ingress" in p["spec"].get("policyTypes", [])
        and not p["spec"].get("ingress")
        for p in policies.values()
    ):
        found.append("NetworkPolicy: none denies incoming traffic by default")
    for name, callers in CALLERS.items():
        policy = next(
            (
                p
                for p in policies.values()
                if p["spec"].get("podSelector", {}).get("matchLabels")
                == {"app.kubernetes.io/name": name}
            ),
            None,
        )
        if policy is None:
            found.append(f"NetworkPolicy for {name} is missing")
            continue
        allowed: set[str] = set()
        from_ingress = False
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                labels = (peer.get("podSelector") or {}).get("matchLabels") or {}
                if "app.kubernetes.io/name" in labels and "namespaceSelector" not in peer:
                    allowed.add(labels["app.kubernetes.io/name"])
                namespace = (peer.get("namespaceSelector") or {}).get("matchLabels") or {}
                if namespace.get("kubernetes.io/metadata.name") == "ingress-nginx":
                    from_ingress = True
                if not peer:
                    allowed.add("*")
        if allowed != callers:
            found.append(
                f"NetworkPolicy for {name}: allows {sorted(allowed)}, not {sorted(callers)}"
            )
        if not from_ingress:
            found.append(f"NetworkPolicy for {name}: the Ingress controller cannot reach it")
    return found


def compose_problems(services: dict[str, Any]) -> list[str]:
    found = []
    for name in ("postgres", "redis"):
        service = services.get(name) or {}
        if service.get("ports") or service.get("network_mode") == "host":
            found.append(f"{name}: must be reached over the compose network only (no ports)")
    for name, prefix in DB_SERVICES.items():
        env = _env(services.get(name) or {})
        if not env.get(f"{prefix}_DB_ROLE"):
            found.append(f"{name}: must connect as its own role ({prefix}_DB_ROLE)")
        if urlsplit(str(env.get("DATABASE_URL", ""))).password:
            found.append(f"{name}: DATABASE_URL must not carry the administrator's password")
    migrate = _env(services.get("migrate") or {})
    for prefix in DB_SERVICES.values():
        if not migrate.get(f"{prefix}_DB_ROLE"):
            found.append(f"migrate: must create {prefix}_DB_ROLE")
    for name, service in services.items():
        mounts = [str(v).split(":")[0] for v in service.get("volumes", [])]
        if "gateway-secret" in mounts and name not in {"migrate", "messages", "gateway"}:
            found.append(f"{name}: mounts the gateway's secret (gateway and messages only)")
    for name, setting in (
        ("messages", "MESSAGES_GATEWAY_SECRET_FILE"),
        ("gateway", "GATEWAY_INTERNAL_SECRET_FILE"),
    ):
        if not str(_env(services.get(name) or {}).get(setting, "")).startswith("/internal/"):
            found.append(f"{name}: {setting} must be in the gateway-secret volume")
    return found


def _env(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return dict(env)
