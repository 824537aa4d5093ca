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
# The secret the gateway proves itself with on POST /messages/batch (docs/operations.md).
GATEWAY_SECRET_FILE ?= .secrets/gateway-secret

export AUTH_SIGNING_KEY_FILE ?= $(abspath $(KEY_FILE))
export MESSAGES_GATEWAY_SECRET_FILE ?= $(abspath $(GATEWAY_SECRET_FILE))
export GATEWAY_INTERNAL_SECRET_FILE ?= $(abspath $(GATEWAY_SECRET_FILE))

.PHONY: install run migrate keys check-services seed lint fmt test browser clean bench chaos

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

# The signing key auth-service uses and the gateway's secret, each created once (never
# committed: .secrets/ is ignored).
keys: install
	@$(BIN)/python -m auth_service keygen "$(AUTH_SIGNING_KEY_FILE)"
	@$(BIN)/python -m message_service gateway-secret "$(MESSAGES_GATEWAY_SECRET_FILE)"

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
run: install check-services keys migrate
	@$(BIN)/python scripts/announce.py & exec $(BIN)/honcho start -f Procfile

# Demo users, rooms and messages through the running services' APIs; safe to repeat.
seed: install
	@$(BIN)/python scripts/seed.py

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

test: lint browser
	$(BIN)/pytest

# Benchmarks against the peers, not part of `make test` (bench/README.md). A subset:
# make bench SCENARIOS=fanout,latency SYSTEMS=ours,socketio
bench/node_modules/.installed: bench/package.json bench/package-lock.json
	cd bench && npm ci --no-audit --no-fund --prefer-offline --loglevel=error
	@touch $@

bench: install bench/node_modules/.installed
	PYTHONPATH=bench $(BIN)/python -m harness --systems "$(SYSTEMS)" --scenarios "$(SCENARIOS)"

# The full fault, bad-input and attack suites (docs/reliability.md); prints the figures table.
# Runs on private Redis and Postgres servers it starts itself, never the shared ones.
chaos: install check-services
	CHAOS=1 $(BIN)/pytest tests/chaos tests/fuzz tests/security --timeout=900

clean:
	rm -rf .uv $(VENV) .mypy_cache .ruff_cache .pytest_cache
