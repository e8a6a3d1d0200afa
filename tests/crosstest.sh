#!/bin/sh
# make crosstest: the unit tests of every package outside tests/ (whose
# tests are about the host's programs), built for each architecture given
# with go test -c and run under Debian's qemu-user-static, each from its
# package's directory as go test runs it. The emulator is called directly,
# so no binfmt_misc registration is needed. OCFBOX_EMULATOR tells
# internal/testenv, which skips what needs root, a program, a file or a
# build for the host, and runs the test binary's helper programs through
# the emulator.
#
#   tests/crosstest.sh DIR ARCH...    (GO: the go command)
set -eu
GO=${GO:-go}
dir=$1
shift
module=$($GO list -m)
pkgs=$($GO list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}={{.Dir}}{{end}}' ./... | grep -v '^[^=]*/tests/')
# A test binary is named after its package; two packages of one name
# (agents/drbd, pkg/drbd) are named after their path instead.
dups=$(for p in $pkgs; do p=${p%%=*}; echo "${p##*/}"; done | sort | uniq -d)
binary() {
	base=${1##*/}
	if echo "$dups" | grep -qx "$base"; then
		echo "${1#"$module"/}" | tr / _
	else
		echo "$base"
	fi
}
failed=
for arch in "$@"; do
	qarch=$arch
	[ "$arch" = arm64 ] && qarch=aarch64
	qemu=$(command -v "qemu-$qarch-static") || {
		echo "make crosstest: qemu-$qarch-static is needed for $arch (Debian package qemu-user-static)" >&2
		exit 1
	}
	out=$dir/$arch
	rm -rf "$out"
	mkdir -p "$out"
	began=$(date +%s)
	unique=
	for p in $pkgs; do
		p=${p%%=*}
		if [ "$(binary "$p")" = "${p##*/}" ]; then unique="$unique $p"; fi
	done
	# One go command for the packages of unique names: it builds them in
	# parallel.
	GOARCH=$arch CGO_ENABLED=0 $GO test -c -ldflags=-s -o "$out/" $unique
	for p in $pkgs; do
		p=${p%%=*}
		name=$(binary "$p")
		if [ "$name" != "${p##*/}" ]; then
			GOARCH=$arch CGO_ENABLED=0 $GO test -c -ldflags=-s -o "$out/$name.test" "$p"
		fi
	done
	built=$(date +%s)
	for p in $pkgs; do
		path=${p%%=*}
		name=$(binary "$path")
		[ -e "$out/$name.test" ] || continue # no test binary: the package's tests are all build-tagged out
		if (cd "${p#*=}" && OCFBOX_EMULATOR=$qemu "$qemu" "$out/$name.test" -test.timeout 10m) >"$out/$name.out" 2>&1; then
			echo "ok   $arch $path"
		else
			echo "FAIL $arch $path"
			cat "$out/$name.out"
			failed="$failed $arch:$path"
		fi
	done
	echo "make crosstest: $arch: built in $((built - began)) s, ran in $(($(date +%s) - built)) s"
done
if [ -n "$failed" ]; then
	echo "make crosstest: failed:$failed" >&2
	exit 1
fi
