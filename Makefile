# authd — see README.md. `make run` starts the server with its dependencies;
# `make test` runs every test.
GO      ?= go
BIN     ?= bin/authd
PKGS    ?= ./...
DB_NAME ?= authd

# Development settings for `make run`; override any of them on the command line.
RUN_ENV ?= DEV_MODE=true AUTO_MIGRATE=true \
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/$(DB_NAME)?sslmode=disable} \
	VALKEY_URL=$${VALKEY_URL:-redis://127.0.0.1:6379/0} \
	PUBLIC_URL=$${PUBLIC_URL:-http://localhost:8080}

# Version, commit and date stamped into the binary (authd version, the
# authd_build_info metric) and the image's labels.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
BUILDINFO := github.com/authd/authd/internal/buildinfo
LDFLAGS := -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).commit=$(COMMIT) -X $(BUILDINFO).date=$(DATE)

.PHONY: run test test-e2e build image up down migrate lint openapi-lint services fuzz clean bench

## run: start PostgreSQL, Valkey and a Mailpit inbox if needed, then authd in dev mode on :8080
run: build
	@scripts/services.sh --database $(DB_NAME) --mail
	$(RUN_ENV) ./$(BIN) serve

## test: start what the tests need, then run every test (unit, integration, fuzz seed corpora, the deployment checks, redocly lint, the browser tests) and print the total coverage
test:
	@scripts/services.sh --install-mailpit
	@mkdir -p bin
	$(GO) test -count=1 -race -timeout 12m -coverprofile=bin/cover.out $(PKGS)
	@$(GO) tool cover -func=bin/cover.out | tail -n 1
	@scripts/openapi-lint.sh
	@scripts/e2e.sh

## openapi-lint: redocly lint of api/openapi.yaml with the recommended rules (installs the pinned Redocly CLI if missing)
openapi-lint:
	@scripts/openapi-lint.sh

## test-e2e: the web app's browser tests alone, in headless Chromium (installs Chromium and the npm packages if missing)
test-e2e:
	@scripts/e2e.sh

## build: compile the authd binary into bin/, stamped with VERSION, COMMIT and DATE
build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/authd

## image: build the container image authd:$(VERSION) (needs a Docker engine)
image:
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) --build-arg DATE=$(DATE) -t authd:$(VERSION) .

# Compose profiles for make up, e.g. make up PROFILES="monitoring tracing k6".
PROFILES ?=
COMPOSE_ENV = $(if $(filter tracing,$(PROFILES)),OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318) \
	$(if $(filter k6,$(PROFILES)),REGISTER_LIMIT_PER_IP=0 LOGIN_IP_FREE_ATTEMPTS=0)

# The long-running services make up waits for (healthy); the one-shot
# migrate runs before authd, the one-shot k6 after it is up.
UP_SERVICES = authd $(if $(filter monitoring,$(PROFILES)),prometheus alertmanager grafana) $(if $(filter tracing,$(PROFILES)),jaeger)

## up: run authd, PostgreSQL, Valkey and Mailpit with docker compose (PROFILES adds monitoring, tracing, k6); needs a Docker engine
up:
	$(COMPOSE_ENV) docker compose $(foreach p,$(PROFILES),--profile $(p)) up -d --build --wait $(UP_SERVICES)
	$(if $(filter k6,$(PROFILES)),$(COMPOSE_ENV) docker compose --profile k6 run --rm k6)

## down: stop and remove everything make up started, volumes included
down:
	docker compose --profile k6 --profile monitoring --profile tracing down --volumes --remove-orphans

## migrate: apply pending migrations to DATABASE_URL (default: the dev database)
migrate: build
	@scripts/services.sh --database $(DB_NAME)
	$(RUN_ENV) ./$(BIN) migrate up

# Pinned linters, installed into GOPATH/bin when missing.
STATICCHECK_VERSION ?= v0.8.2
DEADCODE_VERSION    ?= v0.52.0
GOBIN := $(shell $(GO) env GOPATH)/bin

## lint: gofmt, go vet, staticcheck, deadcode, go.mod tidy and the import rules of the layers
lint:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@test -x $(GOBIN)/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GOBIN)/staticcheck $(PKGS)
	@test -x $(GOBIN)/deadcode || $(GO) install golang.org/x/tools/cmd/deadcode@$(DEADCODE_VERSION)
	@out=$$($(GOBIN)/deadcode -test $(PKGS)); if [ -n "$$out" ]; then echo "dead code:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) test -count=1 ./internal/layering

## fuzz: run each fuzz target for FUZZTIME (default 30s)
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run=NONE -fuzz=FuzzValueObjects -fuzztime=$(FUZZTIME) ./internal/auth
	$(GO) test -run=NONE -fuzz=FuzzDecodeBody -fuzztime=$(FUZZTIME) ./internal/httpapi
	$(GO) test -run=NONE -fuzz=FuzzParsePHC -fuzztime=$(FUZZTIME) ./internal/argon2id
	$(GO) test -run=NONE -fuzz=FuzzVerify -fuzztime=$(FUZZTIME) ./internal/argon2id

## bench: build authd, run it on the local services and write BENCHMARKS.md (about 11 minutes)
bench:
	@scripts/services.sh
	$(GO) run ./devtools/cmd/bench -out BENCHMARKS.md

services:
	@scripts/services.sh

clean:
	rm -rf bin
