# ocfbox: see README.md. `make` builds bin/ocfbox, statically linked.
PREFIX  ?= /usr
DESTDIR ?=
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO      ?= go
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: all build test unit vet clean install uninstall deb rpm

all: build

build: bin/ocfbox

bin/ocfbox: $(shell find . -name '*.go' -o -name '*.xml' | grep -v '^./tests/') go.mod go.sum
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ .

vet:
	$(GO) vet ./...

unit:
	$(GO) test ./...

clean:
	rm -rf bin dist
