# The commands of this project. `make run` and `make test` set up everything they need:
# a pinned uv in .uv/, then the virtual environment .venv/ from uv.lock.

PYTHON    ?= python3
UV_VERSION = 0.13.8
UV         = .uv/bin/uv
VENV       = .venv
BIN        = $(VENV)/bin
# Services with database migrations, in the order `make migrate` applies them.
MIGRATE_SERVICES = auth_service room_service message_service
KEY_FILE  ?= .secrets/signing-key.pem
VAPID_KEY_FILE ?= .secrets/vapid-key.pem
# The secret the gateway proves itself with on POST /messages/batch (docs/operations.md).
GATEWAY_SECRET_FILE ?= .secrets/gateway-secret

export AUTH_SIGNING_KEY_FILE ?= $(abspath $(KEY_FILE))
export MESSAGES_VAPID_PRIVATE_KEY_FILE ?= $(abspath $(VAPID_KEY_FILE))
export MESSAGES_GATEWAY_SECRET_FILE ?= $(abspath $(GATEWAY_SECRET_FILE))
export GATEWAY_INTERNAL_SECRET_FILE ?= $(abspath $(GATEWAY_SECRET_FILE))

.PHONY: install run migrate keys check-services check-ports seed backup restore lint fmt test unit browser monitoring-tools pgbouncer-tools clean bench chaos admin

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Bytecode is compiled once here: where PYTHONDONTWRITEBYTECODE is set (as on our CI machines),
# every process start would otherwise compile each imported module again (~2.5 s a start).
$(VENV)/.synced: $(UV) uv.lock pyproject.toml $(wildcard */pyproject.toml)
	$(UV) sync --frozen --quiet --compile-bytecode
	@touch $@

install: $(VENV)/.synced

# Postgres and Redis must answer before anything else; if not, one line says what to do.
check-services: install
	@$(BIN)/python scripts/check_services.py

# Each service's port must be free; if one is taken, one line says which.
check-ports: install
	@$(BIN)/python scripts/check_ports.py

# The signing key auth-service uses, message-service's Web Push (VAPID) key and the gateway's
# secret, each created once (never committed: .secrets/ is ignored).
keys: install
	@$(BIN)/python -m auth_service keygen "$(AUTH_SIGNING_KEY_FILE)"
	@$(BIN)/python -m message_service vapid-keygen "$(MESSAGES_VAPID_PRIVATE_KEY_FILE)"
	@$(BIN)/python -m message_service gateway-secret "$(MESSAGES_GATEWAY_SECRET_FILE)"

# Makes an account a site administrator: make admin EMAIL=someone@example.com
admin: install check-services migrate
	@test -n "$(EMAIL)" || { echo "usage: make admin EMAIL=someone@example.com"; exit 2; }
	@$(BIN)/python -m auth_service make-admin "$(EMAIL)"

# Creates the database if it is missing, then applies each service's pending migrations.
migrate: install check-services
	@for s in $(MIGRATE_SERVICES); do $(BIN)/python -m $$s migrate || exit 1; done

# Each service runs as a Postgres role of its own, with rights on its own schema only: migrate
# (as DATABASE_URL's administrator) creates and grants the roles, and the services connect as
# them (docs/operations.md, "Database roles"). Set a role to nothing to connect as
# DATABASE_URL's user instead; give <SERVICE>_DB_PASSWORD where the server checks passwords.
run migrate: export AUTH_DB_ROLE ?= chat_auth
run migrate: export ROOMS_DB_ROLE ?= chat_rooms
run migrate: export MESSAGES_DB_ROLE ?= chat_messages

# honcho starts every Procfile process and stops them all on Ctrl-C; announce.py prints the
# URLs once every service is ready.
run: install check-services check-ports keys migrate
	@$(BIN)/python scripts/announce.py & exec $(BIN)/honcho start -f Procfile

# Demo users, rooms and messages through the running services' APIs; safe to repeat.
seed: install
	@$(BIN)/python scripts/seed.py

# A pg_dump of each service schema, all from one snapshot, into backups/<UTC time>/; and its
# restore (make restore BACKUP=backups/<UTC time>), followed by the migrations (grants).
backup: install check-services
	@$(BIN)/python scripts/backup.py backup --dir backups

restore: install check-services
	@test -n "$(BACKUP)" || { echo "say which: make restore BACKUP=backups/<folder>"; exit 2; }
	@$(BIN)/python scripts/backup.py restore "$(BACKUP)"
	@$(MAKE) --no-print-directory migrate

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The browser tests drive Debian's Chromium; the script installs it once (needs root or sudo).
browser:
	@sh scripts/install-browser.sh >/dev/null

# promtool and Prometheus for the monitoring tests (deploy/monitoring), from Debian's package.
monitoring-tools:
	@sh scripts/install-prometheus.sh >/dev/null

# PgBouncer for the data-tier tests (tests/scaleout), from Debian's package.
pgbouncer-tools:
	@sh scripts/install-pgbouncer.sh >/dev/null

test: lint browser monitoring-tools pgbouncer-tools
	$(BIN)/pytest

# The fast tier: tests that need no Postgres, Redis or process (protocol cores, codecs, rules),
# in seconds; the plugin picks them by the fixtures they use (testkit/chat_testkit/plugin.py).
unit: install
	$(BIN)/pytest --unit -q

# Benchmarks against the peers, not part of `make test` (bench/README.md). A subset:
# make bench SCENARIOS=fanout,latency SYSTEMS=ours,socketio; make bench QUICK=1 (~3 minutes)
bench/node_modules/.installed: bench/package.json bench/package-lock.json
	cd bench && npm ci --no-audit --no-fund --prefer-offline --loglevel=error
	@touch $@

bench: install bench/node_modules/.installed
	PYTHONPATH=bench $(BIN)/python -m harness --systems "$(SYSTEMS)" --scenarios "$(SCENARIOS)" --quick "$(QUICK)"

# The full fault, bad-input and attack suites (docs/reliability.md); prints the figures table.
# Runs on private Redis and Postgres servers it starts itself, never the shared ones.
chaos: install check-services
	CHAOS=1 $(BIN)/pytest tests/chaos tests/fuzz tests/security --timeout=900

clean:
	rm -rf .uv $(VENV) .mypy_cache .ruff_cache .pytest_cache
