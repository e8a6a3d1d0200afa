# ocfbox: see README.md. `make` builds bin/ocfbox, statically linked.
#
#   make demo       install what is needed, the agents, and run one (as root)
#   make test       install what is needed, build, vet, run every test (as root)
#   make cgotest    bin/ocfbox-cgo and the libvirt contract tests with its client (make test runs it)
#   make fuzz       every Fuzz* target of the module for FUZZTIME (5s) each (make test runs it)
#   make install    DESTDIR=, PREFIX=/usr; make uninstall
#   make deb / rpm  packages in dist/ (DIST=), for ARCH= amd64 (default: this machine), arm64, ppc64le or s390x
#   make cross      static binaries for every architecture in bin/linux-ARCH/; make cross-packages their .deb and .rpm
#   make crosstest  the unit tests built for arm64, ppc64le and s390x, run under qemu-user-static (make test runs it)
#   make bench      ocfbox against the reference agents, as a table
#   make labtest    the UML lab scenarios not yet seen passing (build tag umllab; make test only vets them)
PREFIX  ?= /usr
DESTDIR ?=
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO      ?= go
LDFLAGS := -s -w -X main.version=$(VERSION)

# Build tags for every build, exported as GOFLAGS, so go vet, go test and
# the binaries tests build use them too. urfave_cli_no_docs is left from
# the CLI's former library (cli.go is on the standard flag package now)
# and has no effect; it stays so existing GOFLAGS=-tags=... lines work.
BUILD_TAGS ?= urfave_cli_no_docs
export GOFLAGS ?= -tags=$(BUILD_TAGS)

# Go is installed in /usr/local/go on the project's machines; use it when
# go is not on PATH.
ifeq ($(shell command -v $(GO) 2>/dev/null),)
export PATH := /usr/local/go/bin:$(PATH)
endif

# Every test that needs root or a program runs when OCFBOX_REQUIRE_ALL=1
# (CI), and fails instead of skipping when it cannot.
export OCFBOX_REQUIRE_ALL
TEST_TIMEOUT ?= 40m
TEST_FLAGS   ?=

# The Debian packages the tests, the benchmark and the demo need.
TEST_DEPS := $(shell sed -e 's/\#.*//' packaging/test-deps.txt)

# Package version (dpkg and rpm syntax) and architecture: ARCH is Go's
# name for it (GOARCH), this machine's unless given; the architectures
# SUSE and Red Hat ship their HA add-ons for are CROSS_ARCHES.
PKG_VERSION  := $(shell sh packaging/pkg-version)
HOST_ARCH    := $(shell PATH="$(PATH)" $(GO) env GOARCH 2>/dev/null || echo amd64)
ARCH         ?= $(HOST_ARCH)
CROSS_ARCHES ?= amd64 arm64 ppc64le s390x
deb_arch      = $(patsubst ppc64le,ppc64el,$(1))
rpm_arch      = $(patsubst amd64,x86_64,$(patsubst arm64,aarch64,$(1)))
DEB_ARCH     := $(call deb_arch,$(ARCH))
RPM_ARCH     := $(call rpm_arch,$(ARCH))
# The binary packaged for ARCH: make's own for this machine's.
ARCH_BIN     := $(if $(filter $(ARCH),$(HOST_ARCH)),bin/ocfbox,bin/linux-$(ARCH)/ocfbox)
DIST        ?= dist
STAGE       := $(DIST)/stage

.PHONY: all build deps gocheck test unit vet fmtcheck clean install uninstall labtest \
	stage deb rpm bench demo demo-cluster cgo cgotest fuzz cross cross-packages crosstest

all: build

build: bin/ocfbox

bin/ocfbox: $(shell find . -name '*.go' -o -name '*.xml' | grep -v -e '^./tests/' -e '^./dist/') go.mod go.sum | gocheck
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ .

# bin/ocfbox-cgo: VirtualDomain on libvirt's own client library
# (libvirt.org/go/libvirt, loaded with dlopen) for sites that need its
# client-side drivers or ssh transport; only libc is linked dynamically.
cgo: bin/ocfbox-cgo

bin/ocfbox-cgo: $(shell find . -name '*.go' -o -name '*.xml' | grep -v -e '^./tests/' -e '^./dist/') go.mod go.sum | gocheck
	CGO_ENABLED=1 $(GO) build -trimpath -tags $(BUILD_TAGS),libvirt_cgo,libvirt_dlopen,netgo,osusergo -ldflags '$(LDFLAGS)' -o $@ .

# bin/linux-ARCH/ocfbox: the same static build for another architecture.
cross: $(foreach a,$(CROSS_ARCHES),bin/linux-$(a)/ocfbox)

bin/linux-%/ocfbox: $(shell find . -name '*.go' -o -name '*.xml' | grep -v -e '^./tests/' -e '^./dist/') go.mod go.sum | gocheck
	CGO_ENABLED=0 GOOS=linux GOARCH=$* $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ .

gocheck:
	@command -v $(GO) >/dev/null || { echo "make: Go (1.26 or later) is needed: not on PATH and not in /usr/local/go/bin" >&2; exit 1; }

# Installs the packages of packaging/test-deps.txt that are missing.
deps: gocheck
	@missing=; for p in $(TEST_DEPS); do \
		dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null | grep -qx installed || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "make deps: the $(words $(TEST_DEPS)) packages of packaging/test-deps.txt are installed"; exit 0; fi; \
	echo "make deps: installing$$missing"; \
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing

vet: gocheck
	$(GO) vet ./...
	$(GO) vet -tags $(BUILD_TAGS),umllab ./tests/seeds/

# The UML lab scenarios not yet seen passing, kept out of make test (a
# failure there would hold back everything else) but compiled and vetted by
# it: seed 000 and the OCFS2 power cut with both Filesystem agents. They
# take the lab in turn; allow an hour.
LABTEST_TIMEOUT ?= 80m
labtest: deps build
	$(GO) test -count=1 -p 1 -tags $(BUILD_TAGS),umllab -timeout $(LABTEST_TIMEOUT) $(TEST_FLAGS) -v ./tests/seeds/

fmtcheck: gocheck
	@files=$$(gofmt -l $$(find . -name '*.go' -not -path './dist/*')); \
	if [ -n "$$files" ]; then echo "gofmt would change:" $$files >&2; exit 1; fi

unit: gocheck
	$(GO) test ./...

# The whole suite, as the README and .ci/run call it: every package, then
# pkg/virt's contract tests again with the cgo client (make cgo) in them.
test: deps build vet fmtcheck
	$(GO) test -count=1 -p 2 -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...
	$(MAKE) cgotest
	$(MAKE) fuzz
	$(MAKE) crosstest

# Every Fuzz* function of the module, found by go test -list (in the
# packages whose tests declare one, so that only those are linked), run for
# FUZZTIME each (their seed corpora and testdata/fuzz crashers already
# ran as tests above). A crasher fails the run and stays in the package's
# testdata/fuzz/<FuzzName>/ as a regression case to commit with the fix. A
# bare "context deadline exceeded" with no input written is Go 1.26's
# coordinator race at the end of -fuzztime (go.dev/issue/75804, fixed in
# Go 1.27) on a loaded machine, not a finding.
FUZZTIME ?= 5s
fuzz: gocheck
	@$(GO) test -list '^Fuzz' $$(grep -rlE --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u) | awk '/^Fuzz/ { f[n++] = $$1; next } /^ok/ { for (i = 0; i < n; i++) print $$2, f[i]; n = 0 }' >.fuzz-targets
	@echo "make fuzz: $$(wc -l <.fuzz-targets) targets, $(FUZZTIME) each"
	@while read -r pkg fn; do \
		echo "fuzz $$pkg $$fn"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg >.fuzz-out 2>&1 && continue; \
		if grep -q 'context deadline exceeded' .fuzz-out && ! grep -q -e 'Failing input written' -e '^panic' .fuzz-out; then \
			echo "  no crasher: Go 1.26's fuzzing deadline race (go.dev/issue/75804), not a finding"; continue; \
		fi; \
		cat .fuzz-out; rm -f .fuzz-targets .fuzz-out; exit 1; \
	done <.fuzz-targets; rm -f .fuzz-targets .fuzz-out

# VirtualDomain's other client: libvirt's library, loaded with dlopen,
# passes the same contract tests against a real libvirtd; bin/ocfbox-cgo
# builds.
cgotest: gocheck cgo
	CGO_ENABLED=1 $(GO) test -count=1 -tags $(BUILD_TAGS),libvirt_cgo,libvirt_dlopen -timeout 10m $(TEST_FLAGS) ./pkg/virt/

# The unit tests on the other architectures, under qemu-user-static
# (tests/crosstest.sh says how).
CROSS_TEST_ARCHES ?= $(filter-out $(HOST_ARCH),$(CROSS_ARCHES))
crosstest: gocheck
	GO=$(GO) sh tests/crosstest.sh $(abspath $(DIST))/crosstest $(CROSS_TEST_ARCHES)

# The binary, one symlink per agent made by the binary itself, and the
# tmpfiles.d entry for the state directory. Pacemaker's OCF root is
# /usr/lib/ocf whatever PREFIX is.
# INSTALL_BIN is the binary installed (another architecture's for a
# package); the links are made by this machine's.
INSTALL_BIN ?= bin/ocfbox
install: build
	install -d -m 0755 $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib/tmpfiles.d
	install -m 0755 $(INSTALL_BIN) $(DESTDIR)$(PREFIX)/sbin/ocfbox
	bin/ocfbox install --root $(or $(DESTDIR),/) --target $(PREFIX)/sbin/ocfbox
	install -m 0644 packaging/tmpfiles.d/ocfbox.conf $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/ocfbox.conf
	@if [ -z "$(DESTDIR)" ] && command -v systemd-tmpfiles >/dev/null; then \
		echo systemd-tmpfiles --create $(PREFIX)/lib/tmpfiles.d/ocfbox.conf; \
		systemd-tmpfiles --create $(PREFIX)/lib/tmpfiles.d/ocfbox.conf; \
	fi

uninstall: build
	bin/ocfbox install --uninstall --root $(or $(DESTDIR),/)
	rm -f $(DESTDIR)$(PREFIX)/sbin/ocfbox $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/ocfbox.conf

# The installed tree both packages are made of, for ARCH.
stage: build $(ARCH_BIN)
	rm -rf $(STAGE)
	umask 022 && $(MAKE) --no-print-directory install DESTDIR=$(abspath $(STAGE)) PREFIX=/usr INSTALL_BIN=$(ARCH_BIN)

# Every architecture's packages, one after the other (they share the stage).
cross-packages:
	for a in $(CROSS_ARCHES); do $(MAKE) --no-print-directory deb rpm ARCH=$$a || exit 1; done

deb: stage
	rm -rf $(DIST)/deb $(DIST)/ocfbox_*_$(DEB_ARCH).deb
	cp -a $(STAGE) $(DIST)/deb
	install -d -m 0755 $(DIST)/deb/DEBIAN
	sed -e 's/@VERSION@/$(PKG_VERSION)/' -e 's/@ARCH@/$(DEB_ARCH)/' \
		-e "s/@SIZE@/$$(du -sk $(DIST)/deb | cut -f1)/" packaging/deb/control >$(DIST)/deb/DEBIAN/control
	install -m 0755 packaging/deb/postinst $(DIST)/deb/DEBIAN/postinst
	dpkg-deb --root-owner-group --build $(DIST)/deb $(DIST)/ocfbox_$(PKG_VERSION)_$(DEB_ARCH).deb
	rm -rf $(DIST)/deb

rpm: stage
	@command -v rpmbuild >/dev/null || { echo "make rpm: rpmbuild is needed (Debian package rpm)" >&2; exit 1; }
	rm -rf $(DIST)/rpmbuild $(DIST)/ocfbox-*.$(RPM_ARCH).rpm
	rpmbuild -bb --nodeps --target $(RPM_ARCH) \
		--define '_topdir $(abspath $(DIST))/rpmbuild' \
		--define 'staging $(abspath $(STAGE))' \
		--define 'pkgversion $(PKG_VERSION)' \
		packaging/rpm/ocfbox.spec
	mv $(DIST)/rpmbuild/RPMS/*/ocfbox-*.rpm $(DIST)/
	rm -rf $(DIST)/rpmbuild

# ocfbox against the reference agents, measured in one run and printed as
# one table (VirtualDomain's guests run on a private libvirtd the benchmark
# starts and closes). BENCH_FLAGS=-n 50, or -run VirtualDomain for some rows.
BENCH_FLAGS ?=
bench: deps build
	$(GO) run ./tests/bench -bin $(CURDIR)/bin/ocfbox $(BENCH_FLAGS)

# A first look: install the agents, run Dummy by hand and through Pacemaker.
SHOW = @show() { printf '\n$$ %s\n' "$$*"; "$$@"; rc=$$?; [ $$rc -eq 0 ] || echo "(exit status $$rc)"; }; show
demo: deps build install
	$(SHOW) ocfbox version
	$(SHOW) ocfbox list
	$(SHOW) ls -l /usr/lib/ocf/resource.d/ocfbox/
	$(SHOW) ocfbox run --instance demo Dummy start
	$(SHOW) ocfbox run --instance demo Dummy monitor
	$(SHOW) ls -l /run/resource-agents/Dummy-demo.state
	$(SHOW) ocfbox run --instance demo Dummy stop
	$(SHOW) ocfbox run --instance demo --interval 10s Dummy monitor
	$(SHOW) crm_resource --validate --class ocf --provider ocfbox --agent Dummy
	$(SHOW) crm_resource --validate --class ocf --provider ocfbox --agent Dummy --option state=/nonexistent/dir/state
	@printf '\n$$ %s\n' 'crm_resource --show-metadata ocf:ocfbox:Dummy | head -n 12'
	@crm_resource --show-metadata ocf:ocfbox:Dummy | head -n 12
	@printf '\n$$ %s\n' 'go run ./tests/cluster/cmd/demo -ocfbox bin/ocfbox'
	$(GO) run ./tests/cluster/cmd/demo -ocfbox $(CURDIR)/bin/ocfbox

# Three Pacemaker nodes in network namespaces: ocfbox agents, a node killed, the failover.
demo-cluster: deps build
	$(GO) run ./tests/cluster/cmd/demo -ocfbox $(CURDIR)/bin/ocfbox

clean:
	rm -rf bin dist
