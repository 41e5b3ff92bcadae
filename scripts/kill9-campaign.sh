#!/usr/bin/env bash
# kill9-campaign.sh -- a long kill -9 campaign against varve (issue "Reliability").
#
# Runs N kill points (default 10,000) with tests/faults/kill9_child: for each,
# a child appends under one of the sync policies (single records, batches
# across partitions with 4 KiB segments so rolls are frequent, keyed records
# to a compacted topic, group commits, forced compaction rounds, syncs) and
# reports every acknowledged call through a pipe; it is killed with SIGKILL
# after a random delay; the store is reopened (recovery runs) and checked:
#   always           nothing acknowledged is lost (records, latest value per
#                    key of the compacted topic, group commits);
#   interval, none   no corruption (every record read is one that was
#                    appended, offsets dense and in order, older data
#                    unchanged) and only a tail of a partition may be lost.
# Stops at the first violation and keeps the store (path printed).
#
# usage: scripts/kill9-campaign.sh [-n N] [-b BUILD_DIR] [-d WORK_DIR]
#            [-p always,interval,none] [--min-ms 5] [--max-ms 120] [-s SEED]
#            [-j JOBS]
#   -b   meson build directory holding tests/faults/kill9_child (built if
#        missing; default: build)
#   -d   where the stores go (default: a new directory under ${TMPDIR:-/tmp};
#        kept on failure, removed on success)
#   -j   parallel campaigns, each with N/JOBS kill points and its own seed
# Environment: KILL9_VERBOSE=1 prints every kill point; KILL9_KEEP_PRECHECK=1
# keeps a copy of each store as the kill left it (precheck-<policy>);
# KILL9_NO_COMPACTION=1 leaves out the compaction rounds (bisecting).
set -euo pipefail

N=10000
BUILD=build
WORK=""
POLICIES=always,interval,none
MIN_MS=5
MAX_MS=120
SEED=$(date +%s)
JOBS=1
cd "$(dirname "$0")/.."
while [ $# -gt 0 ]; do
	case "$1" in
	-n) N=$2; shift 2 ;;
	-b) BUILD=$2; shift 2 ;;
	-d) WORK=$2; shift 2 ;;
	-p) POLICIES=$2; shift 2 ;;
	--min-ms) MIN_MS=$2; shift 2 ;;
	--max-ms) MAX_MS=$2; shift 2 ;;
	-s) SEED=$2; shift 2 ;;
	-j) JOBS=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//; /^set -euo/d'; exit 0 ;;
	*) echo "unknown argument: $1" >&2; exit 2 ;;
	esac
done

CHILD="$BUILD/tests/faults/kill9_child"
if [ ! -x "$CHILD" ]; then
	[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
	ninja -C "$BUILD" tests/faults/kill9_child >/dev/null
fi
CHILD=$(realpath "$CHILD")
[ -n "$WORK" ] || WORK=$(mktemp -d "${TMPDIR:-/tmp}/varve-kill9.XXXXXX")
mkdir -p "$WORK"

echo "kill -9 campaign: $N kill points, policies $POLICIES, delays ${MIN_MS}..${MAX_MS} ms," \
     "seed $SEED, $JOBS job(s), stores in $WORK"
start=$(date +%s)
per=$(( (N + JOBS - 1) / JOBS ))
pids=()
for j in $(seq 1 "$JOBS"); do
	"$CHILD" campaign "$WORK/job$j" "$per" "$POLICIES" "$MIN_MS" "$MAX_MS" $((SEED + j)) \
		>"$WORK/job$j.log" 2>&1 &
	pids+=($!)
done
fail=0
for j in $(seq 1 "$JOBS"); do
	if ! wait "${pids[$((j - 1))]}"; then
		fail=1
	fi
	cat "$WORK/job$j.log"
done
echo "campaign finished in $(( $(date +%s) - start )) s"
if [ "$fail" -ne 0 ]; then
	echo "VIOLATION found: stores and logs kept in $WORK" >&2
	exit 1
fi
rm -rf "$WORK"
echo "no violation"
