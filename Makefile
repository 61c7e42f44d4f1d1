# NeuronMeet API. `make run` serves on an embedded SQLite file; `make test`
# runs every check and test, on SQLite and on PostgreSQL (TEST_DATABASE_URL,
# default postgres://postgres@127.0.0.1:5432/postgres).
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: run test lint generate check-generated seed migrate migrate-status migrate-rollback build bench bench-variants audit-deps graphql-ws-deps playground-assets

run:
	$(GO) run .

build:
	$(GO) build -o bin/neuronmeet .

seed:
	$(GO) run . seed

migrate:
	$(GO) run . migrate

migrate-status:
	$(GO) run . migrate status

# Undoes the last group of migrations (README: Subcommands).
migrate-rollback:
	$(GO) run . migrate rollback

generate:
	$(GO) generate ./...

# Fails when graph/ is not what `go generate` makes of schema.graphqls.
check-generated: generate
	@git diff --exit-code --stat -- graph/ gqlgen.yml schema.graphqls || \
		(echo "generated GraphQL code is stale: run 'make generate' and commit graph/" >&2; exit 1)
	@test -z "$$(git status --porcelain -- graph/)" || \
		(echo "go generate produced untracked files under graph/:" >&2; git status --porcelain -- graph/ >&2; exit 1)

lint:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:" >&2; gofmt -l . >&2; exit 1)
	$(GO) vet ./...

test: lint check-generated audit-deps graphql-ws-deps
	$(GO) test -race -count=1 -timeout 10m ./...

# The graphql-http audit suite (test/e2e/graphql_http_audit_test.go), pinned by its lockfile and
# installed into test/graphql-http/node_modules. Without npm the audit test
# skips locally and fails under CI=true.
audit-deps:
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix test/graphql-http --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the graphql-http audit will not run" >&2; fi

# The graphql-ws npm client (test/e2e/live_events_test.go), pinned by its lockfile
# and installed into test/graphql-ws/node_modules; without npm that test
# skips locally and fails under CI=true.
graphql-ws-deps:
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix test/graphql-ws --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the graphql-ws client test will not run" >&2; fi

# Rebuilds GraphiQL's committed bundle (internal/playground/dist, embedded in
# the binary) from the npm packages pinned in
# internal/playground/assets-src/package-lock.json. Only to upgrade or change
# the playground: make run and make test use the committed files. The build
# is deterministic: unchanged sources give the same files.
playground-assets:
	npm ci --prefix internal/playground/assets-src --no-audit --no-fund --loglevel=error
	node internal/playground/assets-src/build.mjs

# Load benchmark on PostgreSQL against two references, a one-SQL handler and a
# hand-written Go + pgx server, in interleaved rounds (bench/README.md;
# BENCH_ROUNDS, BENCH_DURATION to tune). Writes bench/RESULTS.md.
bench:
	bash bench/run.sh

# The measurements behind the references' choices (bench/README.md).
bench-variants:
	bash bench/variants.sh
