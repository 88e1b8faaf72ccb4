#!/bin/sh
# The README's tour shows what "rollbackd -t" prints for three typos in the
# shipped conf/policies.d/checkout.yaml. Make the same typos in a copy and
# compare, line for line, so the tour never drifts from the code.
RBD_BUILD=${1:-build}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

step "the three typos of the README's tour, in a copy of conf/"
mkdir -p "$T/tour/policies.d"
cp "$ROOT"/conf/policies.d/*.yaml "$T/tour/policies.d/"
sed 's|^policies:.*|policies: policies.d|' "$ROOT/conf/rollbackd.yaml" > "$T/tour/rollbackd.yaml"
# The README says where each typo is; make each one there.
want=$(sed -n 's|^/etc/rollbackd/policies.d/checkout.yaml:\([0-9]*:[0-9]*: .*\)|\1|p' "$ROOT/README.md")
[ "$(echo "$want" | wc -l)" -eq 3 ] || fail "expected 3 error lines in the README's tour, found: $want"
line_of() { echo "$want" | grep -- "$1" | cut -d: -f1; }
l1=$(line_of '{verison}') l2=$(line_of 'fial_after') l3=$(line_of 'http.timeout')
p=$T/tour/policies.d/checkout.yaml
sed -i "${l1}s/{version}/{verison}/; ${l2}s/fail_after:/fial_after:/; ${l3}s/timeout: [0-9a-z]*/timeout: 10s/" "$p"
got=$("$RBD" -t -c "$T/tour/rollbackd.yaml" 2>&1) && fail "rollbackd -t accepted the typos"
got=$(echo "$got" | sed -n "s|^$p:||p")
echo "$got"
assert_eq "$want" "$got" "rollbackd -t on the README's typos"
