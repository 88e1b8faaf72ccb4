#!/bin/sh
# make demo: check the shipped configuration, then a copy with the typos a
# person makes at 3 a.m., and show that every one of them is caught.
set -eu
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "== rollbackd -t on the shipped examples (conf/)"
"$build/rollbackd" -t -c conf/rollbackd.yaml

cp -R conf/. "$tmp/"
sed -e 's/^    fail_after: 3/    fial_after: 3/' \
    -e 's/      timeout: 2s/      timeout: 10s/' \
    -e 's/"{version}"/"{verison}"/' \
    conf/policies.d/checkout.yaml > "$tmp/policies.d/checkout.yaml"
echo
echo "== the same with three typos in checkout.yaml"
if "$build/rollbackd" -t -c "$tmp/rollbackd.yaml"; then
	echo "demo: the broken copy was accepted" >&2
	exit 1
fi
echo "(refused: nothing would run with this configuration)"
