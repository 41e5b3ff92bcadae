#!/usr/bin/env bash
# verify-beside-writer.sh -- how often `varve verify` reports damage on a
# healthy store while a writer runs (the figures of issue 11, items 1 and 2).
#
#   scripts/verify-beside-writer.sh [VARVE] [CHURN] [RUNS]
#
# VARVE defaults to build/tools/varve, CHURN to build/tools/varve-cli-churn
# (tests/cli/churn.c: a writer that holds a store open and appends), RUNS
# to 40. Two rounds:
#   1. verify beside a writer that has appended (64 KiB segments, a batch of
#      10 records every 200 ms, no retention): the active segment's
#      preallocated zeros and a batch in flight are not damage;
#   2. verify beside a writer whose retention deletes segments as it runs
#      (4 KiB segments, keep 3, a retention round every 2 ms): a segment
#      deleted between the listing and its open is not damage.
# Prints, per round, how many runs exited non-zero; a healthy store gives 0.
set -u
V=${1:-build/tools/varve}
C=${2:-build/tools/varve-cli-churn}
N=${3:-40}
d=$(mktemp -d "${TMPDIR:-/var/tmp}/verify-writer.XXXXXX")
cleanup() { kill "${w1:-}" "${w2:-}" 2>/dev/null; wait 2>/dev/null; rm -rf "$d"; }
trap cleanup EXIT

start_writer() { # DIR ARGS...: starts churn in the background, waits for "ready"
	local dir=$1; shift
	"$C" "$dir" t 600 "$@" < <(sleep 100000) > "$d/out" 2>&1 &
	pid=$!
	for _ in $(seq 200); do grep -q ready "$d/out" 2>/dev/null && return 0; sleep 0.05; done
	echo "the writer did not start: $(cat "$d/out")" >&2
	exit 1
}

start_writer "$d/s1" --segment-bytes 65536 --clean-every-ms 1000000 --batch 10 --pause-ms 200
w1=$pid
bad=0
for _ in $(seq "$N"); do "$V" -d "$d/s1" verify >/dev/null 2>&1 || bad=$((bad + 1)); done
kill "$w1"; wait "$w1" 2>/dev/null
echo "live writer: verify exited non-zero in $bad of $N runs"

start_writer "$d/s2" --segment-bytes 4096 --keep-segments 3 --clean-every-ms 2 --batch 20 --pause-ms 1
w2=$pid
bad=0
for _ in $(seq "$N"); do "$V" -d "$d/s2" verify >/dev/null 2>&1 || bad=$((bad + 1)); done
kill "$w2"; wait "$w2" 2>/dev/null
echo "retention running: verify exited non-zero in $bad of $N runs"
