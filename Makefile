# The two commands of the README: `make run` (set up and run the service) and `make test`.
.PHONY: run test lint typecheck pytest demo bench sandbox token migrate clean

HOST ?= 127.0.0.1
PORT ?= 8000

run:  ## set up and run the service (embedded Postgres under ./.data when DATABASE_URL is unset)
	@scripts/bootstrap
	.venv/bin/uvicorn app.main:app --host $(HOST) --port $(PORT)

test: ## set up, lint, type-check and run the whole test suite
	@scripts/bootstrap
	$(MAKE) --no-print-directory lint typecheck pytest

lint:
	.venv/bin/ruff check app sandbox tests bench migrations scripts
	.venv/bin/ruff format --check app sandbox tests bench migrations scripts
	.venv/bin/lint-imports
	.venv/bin/uv lock --check --quiet  # uv.lock matches pyproject.toml (else: .venv/bin/uv lock)

typecheck:
	.venv/bin/mypy app sandbox

pytest:
	.venv/bin/pytest -q

demo: ## sandbox + service + a connected demo account, with live progress (DEMO_ARGS="--supporters 5000 …")
	@scripts/bootstrap
	.venv/bin/python scripts/demo.py --port $(PORT) $(DEMO_ARGS)

bench: ## benchmarks; writes bench/RESULTS.md
	@scripts/bootstrap
	.venv/bin/python -m bench.run

sandbox: ## run the Classy sandbox alone on port 8900
	@scripts/bootstrap
	.venv/bin/python -m sandbox --port 8900

# USER counts only when given on the command line: the shell's own $USER (root, …) is not a CRM user.
TOKEN_USER = $(if $(filter command line,$(origin USER)),$(USER),admin)

token: ## print an admin token: make token ACCOUNT=acme USER=alice
	@.venv/bin/python -m app token --account $(or $(ACCOUNT),acme) --user $(TOKEN_USER) --role admin

migrate:
	@scripts/bootstrap
	.venv/bin/alembic upgrade head

clean:
	rm -rf .venv .data .mypy_cache .ruff_cache .pytest_cache
