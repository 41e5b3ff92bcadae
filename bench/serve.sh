#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# serve.sh -- run varve-bench-serve (Kafka clients through `varve serve`,
# each workload next to the embedded library's) a few rounds, then write
# bench/results/serve.jsonl and bench/results/serve.md. See bench/README.md.
#
# usage: bench/serve.sh [--quick] [--rounds N] [--only LIST]
#
#   --quick     every count divided by 10 (a smoke test); 1 round by default
#   --rounds N  run N times and report medians (default 3)
#   --only LIST passed to varve-bench-serve (S1..S4, serve, embedded, S1/serve, ...)
#
# Environment:
#   VARVE_BENCH_SERVE  the benchmark binary, relative to the repository root
#                      unless absolute (default build/tools/varve-bench-serve);
#                      the `varve` program next to it is the server
#   BENCH_DATA_PARENT  where the temporary data directory is made (bench/);
#                      must be disk-backed
#   BENCH_RESULTS      output prefix (default bench/results/serve)
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
SERVE_BENCH="${VARVE_BENCH_SERVE:-build/tools/varve-bench-serve}"
[[ $SERVE_BENCH == /* ]] || SERVE_BENCH="$ROOT/$SERVE_BENCH"
OUT="${BENCH_RESULTS:-$BENCH/results/serve}"

log() { printf '%s\n' "$*" >&2; }
die() { log "serve.sh: $*"; exit 1; }

quick=()
only=()
rounds=
while (($#)); do
	case $1 in
	--quick) quick=(--quick) ;;
	--rounds)
		rounds=${2:-}
		[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive number"
		shift
		;;
	--only)
		[[ -n ${2:-} ]] || die "--only needs a list"
		only=(--only "$2")
		shift
		;;
	-h | --help) awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	*) die "unknown argument '$1' (usage: bench/serve.sh [--quick] [--rounds N] [--only LIST])" ;;
	esac
	shift
done
[[ -n $rounds ]] || rounds=$(( ${#quick[@]} ? 1 : 3 ))
[[ -x $SERVE_BENCH ]] ||
	die "$SERVE_BENCH not found: build it (ninja -C build tools/varve-bench-serve tools/varve; it needs librdkafka-dev) or set VARVE_BENCH_SERVE"
command -v jq >/dev/null || die "jq is needed (apt-get install jq)"
PYTHON="$(command -v python3)" || die "python3 is needed"

data_parent="${BENCH_DATA_PARENT:-$BENCH}"
data="$(mktemp -d "$data_parent/.data.XXXXXX")"
raw="$(mktemp "$data_parent/.results.XXXXXX")"
trap 'rm -rf "$data" "$raw"' EXIT
fstype="$(findmnt -n -o FSTYPE -T "$data" 2>/dev/null || stat -f -c %T "$data")"
case $fstype in
tmpfs | ramfs) die "$data is on $fstype; set BENCH_DATA_PARENT to a disk-backed directory" ;;
esac
device="$(df --output=source "$data" | tail -n 1)"
log "data directory: $data ($fstype on $device)"

loads=()
for ((round = 1; round <= rounds; round++)); do
	log "== round $round/$rounds"
	sync
	loads+=("$(cut -d' ' -f1 /proc/loadavg)")
	out="$data/round.jsonl"
	"$SERVE_BENCH" "${quick[@]}" "${only[@]}" "$data/run" >"$out" ||
		die "varve-bench-serve failed in round $round"
	jq -c --argjson round "$round" \
		'select(type == "object" and has("system") and has("workload")) | . + {round: $round}' \
		"$out" >>"$raw" || die "varve-bench-serve printed something that is not JSON"
	rm -rf "${data:?}/run" "$out"
done
loads+=("$(cut -d' ' -f1 /proc/loadavg)")

mkdir -p "$(dirname "$OUT")"
cp "$raw" "$OUT.jsonl"
version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }
"$PYTHON" "$BENCH/render.py" "$OUT.jsonl" \
	--meta "mode=$([[ ${#quick[@]} -gt 0 ]] && echo 'quick (counts / 10)' || echo full), $rounds round(s), median shown" \
	--meta "date=$(date -u '+%Y-%m-%d %H:%M UTC')" \
	--meta "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x $(nproc)" \
	--meta "memory=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)" \
	--meta "kernel=$(uname -sr)" \
	--meta "filesystem=$fstype on $device" \
	--meta "librdkafka=$(version librdkafka-dev)" \
	--meta "load average (1 min) at each round's start, then at the end=${loads[*]}" \
	>"$OUT.md.tmp"
mv "$OUT.md.tmp" "$OUT.md"
log "wrote $OUT.jsonl ($(wc -l <"$OUT.jsonl") results) and $OUT.md"
