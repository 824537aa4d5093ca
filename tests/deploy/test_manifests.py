"""deploy/: every kustomization renders, validates against the Kubernetes schemas, and keeps
the rules of a safe deployment of this system (manifest_rules.py)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy import manifest_rules
from tests.deploy.manifest_rules import KUBECTL, KUBERNETES_VERSION, OVERLAYS, Doc
from tests.deploy.project import ROOT, migrate_services, procfile

Docs = list[Doc]


def _require_kubectl() -> None:
    if not KUBECTL.exists():
        pytest.fail("kubectl is not installed: run make install (Linux only)", pytrace=False)


@pytest.fixture(scope="module")
def rendered() -> dict[str, Docs]:
    """Each overlay, rendered once for this module."""
    _require_kubectl()
    return {o.name: manifest_rules.render(o) for o in sorted(OVERLAYS.iterdir())}


def _problems(docs: Docs, overlay: str) -> list[str]:
    return manifest_rules.problems(
        docs, procfile(), migrate_services(), external_backends=overlay == "prod"
    )


def test_there_are_a_prod_and_a_dev_overlay(rendered: dict[str, Docs]) -> None:
    """prod uses external Postgres/Redis; dev runs them in the cluster."""
    assert set(rendered) == {"dev", "prod"}
    dev_kinds = {(d["kind"], d["metadata"]["name"]) for d in rendered["dev"]}
    prod_kinds = {(d["kind"], d["metadata"]["name"]) for d in rendered["prod"]}
    assert {("StatefulSet", "postgres"), ("Deployment", "redis")} <= dev_kinds
    assert {("Service", "postgres"), ("Service", "redis")} <= dev_kinds
    assert not any(name in {"postgres", "redis"} for _, name in prod_kinds)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlay_keeps_every_rule(overlay: str, rendered: dict[str, Docs]) -> None:
    """The rendered overlay validates (strict schemas) and keeps every deployment rule."""
    assert _problems(rendered[overlay], overlay) == []


def test_base_renders_and_validates() -> None:
    """The base alone renders; each of its resources validates strictly."""
    _require_kubectl()
    docs = manifest_rules.render(ROOT / "deploy" / "base")
    assert manifest_rules.schema_problems(docs) == []
    images = {
        c["image"]
        for d in docs
        if d["kind"] in {"Deployment", "Job"}
        for c in [
            *d["spec"]["template"]["spec"].get("initContainers", []),
            *d["spec"]["template"]["spec"]["containers"],
        ]
    }
    assert images == {"chat-auth", "chat-rooms", "chat-messages", "chat-gateway", "chat-migrate"}


def test_every_manifest_file_is_listed_by_a_kustomization() -> None:
    """No manifest in deploy/ is left out of the kustomizations (and so out of these tests)."""
    listed: set[Path] = set()
    for kustomization in (ROOT / "deploy").rglob("kustomization.yaml"):
        data = yaml.safe_load(kustomization.read_text())
        folder = kustomization.parent
        listed |= {(folder / r).resolve() for r in data.get("resources", [])}
        listed |= {(folder / p["path"]).resolve() for p in data.get("patches", [])}
    for path in (ROOT / "deploy").rglob("*.yaml"):
        if path.name != "kustomization.yaml":
            assert path.resolve() in listed, f"{path} is in no kustomization"


def test_the_validator_rejects_an_unknown_field(rendered: dict[str, Docs]) -> None:
    """Strict validation is really on: a misspelt field in a Deployment is an error."""
    deployment = copy.deepcopy(next(d for d in rendered["prod"] if d["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def _find(docs: Docs, kind: str, name: str) -> Doc:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _container(docs: Docs, name: str) -> Doc:
    container: Doc = _find(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
    return container


def _remove(kind: str, name: str) -> Callable[[Docs], None]:
    def mutate(docs: Docs) -> None:
        docs.remove(_find(docs, kind, name))

    return mutate


def _edit(edit: Callable[[Docs], Any]) -> Callable[[Docs], None]:
    def mutate(docs: Docs) -> None:
        edit(docs)

    return mutate


BREAKAGES: dict[str, tuple[Callable[[Docs], None], str]] = {
    "a Deployment removed": (_remove("Deployment", "rooms"), "Deployment rooms is missing"),
    "readiness probe removed": (
        _edit(lambda d: _container(d, "gateway").pop("readinessProbe")),
        "Deployment gateway: readinessProbe must GET /readyz on port 8000",
    ),
    "liveness on the wrong path": (
        _edit(lambda d: _container(d, "auth")["livenessProbe"]["httpGet"].update(path="/")),
        "Deployment auth: livenessProbe must GET /healthz on port 8001",
    ),
    "limits removed": (
        _edit(lambda d: _container(d, "messages")["resources"].pop("limits")),
        "Deployment messages: set resources.limits",
    ),
    "command differs from the Procfile": (
        _edit(lambda d: _container(d, "rooms").update(command=["python", "-m", "room_service"])),
        "Deployment rooms: command",
    ),
    "autoscaler removed": (
        _remove("HorizontalPodAutoscaler", "gateway"),
        "HorizontalPodAutoscaler for Deployment gateway is missing",
    ),
    "disruption budget removed": (
        _remove("PodDisruptionBudget", "messages"),
        "PodDisruptionBudget for Deployment messages is missing",
    ),
    "gateway cannot drain": (
        _edit(lambda d: _container(d, "gateway").pop("lifecycle")),
        "Deployment gateway: needs a preStop sleep",
    ),
    "grace shorter than the drain": (
        _edit(
            lambda d: _find(d, "Deployment", "gateway")["spec"]["template"]["spec"].update(
                terminationGracePeriodSeconds=12
            )
        ),
        "Deployment gateway: terminationGracePeriodSeconds 12",
    ),
    "signing key mounted by another service": (
        _edit(
            lambda d: _find(d, "Deployment", "rooms")["spec"]["template"]["spec"].update(
                volumes=[{"name": "k", "secret": {"secretName": "chat-signing-key"}}]
            )
        ),
        "Deployment rooms: mounts the signing key",
    ),
    "websocket route removed": (
        _remove("Ingress", "chat-ws"),
        "Ingress must route /ws to Service gateway",
    ),
    "a migration left out": (
        _edit(
            lambda d: _find(d, "Job", "chat-migrate")["spec"]["template"]["spec"].pop(
                "initContainers"
            )
        ),
        "Job chat-migrate runs",
    ),
    "a Service removed": (_remove("Service", "auth"), "Service auth is missing"),
    "batch routed publicly": (
        _edit(lambda d: _find(d, "Service", "chat-unrouted")["spec"].update(selector={"a": "b"})),
        "Ingress routes /messages/batch to Service chat-unrouted",
    ),
    "metrics route removed": (
        _edit(
            lambda d: _find(d, "Ingress", "chat")["spec"]["rules"][0]["http"]["paths"].pop(
                next(
                    i
                    for i, p in enumerate(
                        _find(d, "Ingress", "chat")["spec"]["rules"][0]["http"]["paths"]
                    )
                    if p["path"] == "/metrics"
                )
            )
        ),
        "Ingress routes /metrics to Service gateway",
    ),
    "no default deny": (
        _remove("NetworkPolicy", "default-deny-ingress"),
        "NetworkPolicy: none denies incoming traffic by default",
    ),
    "a service's NetworkPolicy removed": (
        _remove("NetworkPolicy", "messages"),
        "NetworkPolicy for messages is missing",
    ),
    "a service open to another": (
        _edit(
            lambda d: _find(d, "NetworkPolicy", "messages")["spec"]["ingress"][0]["from"].append(
                {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "auth"}}}
            )
        ),
        "NetworkPolicy for messages: allows ['auth', 'gateway']",
    ),
    "a service given the administrator's URL": (
        _edit(
            lambda d: _container(d, "rooms")["envFrom"].append(
                {"secretRef": {"name": "chat-backends"}}
            )
        ),
        "Deployment rooms: reads the administrator's DATABASE_URL",
    ),
    "the gateway's secret given to auth": (
        _edit(
            lambda d: _container(d, "auth")["env"].append(
                {
                    "name": "X",
                    "valueFrom": {"secretKeyRef": {"name": "chat-gateway-secret", "key": "secret"}},
                }
            )
        ),
        "Deployment auth: only gateway and messages hold chat-gateway-secret",
    ),
    "a role not created": (
        _edit(
            lambda d: _find(d, "Job", "chat-migrate")["spec"]["template"]["spec"]["containers"][
                0
            ].pop("env")
        ),
        "Job chat-migrate: step messages must create MESSAGES_DB_ROLE",
    ),
    "pgbouncer left out": (
        _remove("Deployment", "pgbouncer"),
        "Deployment pgbouncer is missing",
    ),
    "prepared statements behind pgbouncer": (
        _edit(lambda d: _find(d, "ConfigMap", "chat-config")["data"].pop("DB_POOLER")),
        "ConfigMap chat-config: DB_POOLER must be pgbouncer",
    ),
    "no read replica setting": (
        _edit(
            lambda d: _container(d, "messages").update(
                env=[
                    e
                    for e in _container(d, "messages")["env"]
                    if e["name"] != "MESSAGES_READ_DATABASE_URL"
                ]
            )
        ),
        "Deployment messages: MESSAGES_READ_DATABASE_URL must come from Secret",
    ),
    "unknown field": (
        _edit(lambda d: _find(d, "Service", "gateway")["spec"].update(prots=[])),
        "Service gateway: schema",
    ),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_checker_reports_each_breakage(breakage: str, rendered: dict[str, Docs]) -> None:
    """A copy of the prod render with one thing broken is reported for exactly that."""
    mutate, expected = BREAKAGES[breakage]
    docs = copy.deepcopy(rendered["prod"])
    mutate(docs)
    reported = _problems(docs, "prod")
    assert any(p.startswith(expected) for p in reported), reported


DEV_BREAKAGES: dict[str, tuple[Callable[[Docs], None], str]] = {
    "replica removed": (
        _remove("StatefulSet", "postgres-replica"),
        "StatefulSet postgres-replica is missing",
    ),
    "replica not copied from the primary": (
        _edit(
            lambda d: _find(d, "StatefulSet", "postgres-replica")["spec"]["template"]["spec"].pop(
                "initContainers"
            )
        ),
        "StatefulSet postgres-replica: an init container must copy the primary",
    ),
    "reads not sent to the replica": (
        _edit(
            lambda d: next(
                s
                for s in d
                if s["kind"] == "Secret" and s["metadata"]["name"].startswith("chat-db-messages")
            )["data"].pop("READ_DATABASE_URL")
        ),
        "Secret chat-db-messages: READ_DATABASE_URL must name postgres-replica",
    ),
}


@pytest.mark.parametrize("breakage", list(DEV_BREAKAGES))
def test_checker_reports_each_dev_breakage(breakage: str, rendered: dict[str, Docs]) -> None:
    """The dev render (in-cluster Postgres) with its replica broken is reported for that."""
    mutate, expected = DEV_BREAKAGES[breakage]
    docs = copy.deepcopy(rendered["dev"])
    mutate(docs)
    reported = _problems(docs, "dev")
    assert any(p.startswith(expected) for p in reported), reported


def test_both_overlays_run_pgbouncer_and_dev_a_streaming_replica(
    rendered: dict[str, Docs],
) -> None:
    """PgBouncer's Deployment is in dev and prod; the replica's StatefulSet in dev only."""
    for overlay in ("dev", "prod"):
        names = {(d["kind"], d["metadata"]["name"]) for d in rendered[overlay]}
        assert {("Deployment", "pgbouncer"), ("Service", "pgbouncer")} <= names
    assert ("StatefulSet", "postgres-replica") in {
        (d["kind"], d["metadata"]["name"]) for d in rendered["dev"]
    }
    assert not any(d["metadata"]["name"] == "postgres-replica" for d in rendered["prod"])


def test_dev_backends_secret_is_rendered_not_assumed(rendered: dict[str, Docs]) -> None:
    """Without its generated chat-backends Secret, the dev overlay is reported."""
    docs = [
        d
        for d in copy.deepcopy(rendered["dev"])
        if not (d["kind"] == "Secret" and d["metadata"]["name"].startswith("chat-backends"))
    ]
    assert any("which nothing creates" in p for p in _problems(docs, "dev"))
