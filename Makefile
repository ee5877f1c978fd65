# ChatBridge: `make run` starts everything locally, `make test` runs lint and the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
# The production profile's virtualenv: requirements.txt alone, as the Dockerfile installs it.
PRODUCTION_VENV := .venv-production
PRODUCTION_STAMP := $(PRODUCTION_VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)

CHROMIUM ?= /usr/bin/chromium

.PHONY: install production-venv migrate run test test-production lint format bench bench-failover bench-floor bench-quotas bench-rolling browser nginx clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ChatBridge needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --quiet --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

# Built afresh whenever requirements.txt changes: nothing but the runtime's requirements in it.
$(PRODUCTION_STAMP): requirements.txt
	rm -rf $(PRODUCTION_VENV)
	$(PYTHON) -m venv $(PRODUCTION_VENV)
	$(PRODUCTION_VENV)/bin/python -m pip install --disable-pip-version-check --quiet -r requirements.txt
	@touch $(PRODUCTION_STAMP)

production-venv: $(PRODUCTION_STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py runstack

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo --no-cache

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Browser tests drive Debian's chromium; install it where this machine can (root with apt).
browser:
	@test -x $(CHROMIUM) || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "Note: no $(CHROMIUM); browser tests will be skipped (install Debian's chromium to run them)."

# The production profile puts Debian's nginx in front of ChatBridge; install it where this
# machine can, as chromium.
NGINX ?= /usr/sbin/nginx
nginx:
	@test -x $(NGINX) || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; } || \
		echo "Note: no $(NGINX); the production profile's tests will be skipped (install Debian's nginx-light to run them)."

test: install production-venv lint browser nginx
	$(BIN)/python -m pytest

# Only the production profile (tests/production/): TLS through nginx to a production daphne.
test-production: install production-venv browser nginx
	$(BIN)/python -m pytest -m production

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-failover: install
	$(BIN)/python -m bench.failover $(BENCH_ARGS)

# ChatBridge against a bare relay on its own stack, one message and one chat start at a time.
bench-floor: install
	$(BIN)/python -m bench.floor $(BENCH_ARGS)

# ChatBridge as deployed against the emulator with AWS's default Connect quotas on.
bench-quotas: install
	$(BIN)/python -m bench.quotas $(BENCH_ARGS)

# Every process restarted in turn behind nginx under live chats (nginx as for the tests).
bench-rolling: install nginx
	$(BIN)/python -m bench.rolling $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(PRODUCTION_VENV) .pytest_cache .ruff_cache
