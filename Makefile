# The commands of this project. `make run` and `make test` set up everything they need:
# a pinned uv in .uv/, then the virtual environment .venv/ from uv.lock.

PYTHON    ?= python3
UV_VERSION = 0.13.8
UV         = .uv/bin/uv
VENV       = .venv
BIN        = $(VENV)/bin
# Services with database migrations, in the order `make migrate` applies them.
MIGRATE_SERVICES = auth_service
KEY_FILE  ?= .secrets/signing-key.pem

export AUTH_SIGNING_KEY_FILE ?= $(abspath $(KEY_FILE))

.PHONY: install run migrate keys lint fmt test clean

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml $(wildcard */pyproject.toml)
	$(UV) sync --frozen --quiet
	@touch $@

install: $(VENV)/.synced

keys: install
	@$(BIN)/python -m auth_service keygen $(KEY_FILE)

migrate: install
	@for s in $(MIGRATE_SERVICES); do $(BIN)/python -m $$s migrate || exit 1; done

run: install keys migrate
	$(BIN)/honcho start -f Procfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/pytest

clean:
	rm -rf .uv $(VENV) .mypy_cache .ruff_cache .pytest_cache
