"""``python -m auth_service serve|migrate``, ``keygen PATH`` to create a signing key, and
``make-admin EMAIL`` to make an account a site administrator."""

from pathlib import Path

from auth_service.keys import generate_pem
from auth_service.settings import AuthSettings
from chatcore.cli import ServiceSpec, Tool, main


def keygen(path: Path) -> int:
    """Write a new Ed25519 signing key to ``path`` unless one is already there."""
    if path.exists():
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(generate_pem())
    print(f"auth-service: created signing key {path}")
    return 0


def make_admin(email: str) -> int:
    """Make the account of ``email`` a site administrator."""
    from auth_service import make_admin as command  # only this command needs the database

    return command.make_admin(email)


raise SystemExit(
    main(
        ServiceSpec(
            name="auth-service",
            settings=AuthSettings,
            factory="auth_service.app:app_from_env",
            schema="auth",
            migrations=Path(__file__).parent / "migrations",
            tools={
                "keygen": Tool(lambda path: keygen(Path(path)), "PATH", "create a signing key"),
                "make-admin": Tool(make_admin, "EMAIL", "make an account a site administrator"),
            },
        )
    )
)
