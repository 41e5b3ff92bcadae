#!/bin/sh
# SPDX-License-Identifier: MIT
#
# test_check_exports.sh CHECK_EXPORTS NM GOOD_LIB BAD_LIB
#
# check_exports.sh on two small libraries built for it: one exporting only
# varve_ symbols (a function and a variable) must pass; one that also
# exports a function and a variable without the prefix must fail, naming
# both.
set -u
check=$1
nm=$2
good=$3
bad=$4
fail() {
	echo "test_check_exports: $*"
	exit 1
}
out=$(sh "$check" "$nm" "$good") || fail "the good library was refused: $out"
echo "$out"
case $out in *"2 varve_ symbols, 0 others"*) ;; *) fail "good library: $out" ;; esac
out=$(sh "$check" "$nm" "$bad")
rc=$?
echo "$out"
[ "$rc" -eq 1 ] || fail "the bad library: exit $rc, want 1"
case $out in *"exports leaky_helper (nm type T)"*) ;; *) fail "leaky_helper not named" ;; esac
case $out in *"exports leaky_counter (nm type "[BD]")"*) ;; *) fail "leaky_counter not named" ;; esac
echo "test_check_exports: ok"
