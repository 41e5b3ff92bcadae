#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# compare.sh -- build and run the comparison benchmarks (SQLite, RocksDB,
# LMDB, machine limits, and varve-bench when it has been built), then write
# bench/results/latest.jsonl and bench/results/latest.md. See bench/README.md.
#
# usage: bench/compare.sh [--quick] [--rounds N]
#
#   --quick     every count divided by 10 (a smoke test); 1 round by default
#   --rounds N  run everything N times and report medians (default 3)
#
# Environment:
#   VARVE_BENCH        varve's benchmark binary, relative to the repository
#                      root unless absolute (default build/tools/varve-bench)
#   BENCH_BUILD_DIR    where the comparison programs are compiled (bench/build)
#   BENCH_DATA_PARENT  where the temporary data directory is made (bench/);
#                      must be disk-backed, ideally the repository's filesystem
#   CC, CFLAGS         compiler and extra flags
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
BUILD="${BENCH_BUILD_DIR:-$BENCH/build}"
RESULTS="$BENCH/results"
CC="${CC:-cc}"
VARVE_BENCH="${VARVE_BENCH:-build/tools/varve-bench}"
[[ $VARVE_BENCH == /* ]] || VARVE_BENCH="$ROOT/$VARVE_BENCH"

log() { printf '%s\n' "$*" >&2; }
die() { log "compare.sh: $*"; exit 1; }

quick=()
rounds=
while (($#)); do
	case $1 in
	--quick) quick=(--quick) ;;
	--rounds)
		rounds=${2:-}
		[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive number"
		shift
		;;
	-h | --help) awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	*) die "unknown argument '$1' (usage: bench/compare.sh [--quick] [--rounds N])" ;;
	esac
	shift
done
# Full runs repeat 3 times by default, quick (smoke test) runs once.
[[ -n $rounds ]] || rounds=$(( ${#quick[@]} ? 1 : 3 ))

# --- dependencies ----------------------------------------------------------

ensure_packages() {
	local pkgs=(build-essential pkg-config jq python3 libsqlite3-dev librocksdb-dev liblmdb-dev)
	local missing=() p
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	((${#missing[@]} == 0)) && return
	log "installing: ${missing[*]}"
	[[ $(id -u) == 0 ]] || die "missing packages (${missing[*]}); install them as root"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q "${missing[@]}" >&2 ||
		{ apt-get update -q >&2 && apt-get install -y -q "${missing[@]}" >&2; } ||
		die "apt-get install failed"
}

command -v dpkg-query >/dev/null || die "not a Debian system: install the packages listed in bench/README.md by hand"
ensure_packages

# --- build -----------------------------------------------------------------

libs() { pkg-config --libs "$1" 2>/dev/null || echo "-l$2"; }

mkdir -p "$BUILD"
build() { # name, extra link flags...
	local name=$1
	shift
	log "building $name"
	# shellcheck disable=SC2086 # CFLAGS is a list of flags
	"$CC" -O2 -std=c11 -Wall -Wextra ${CFLAGS:-} -pthread \
		-o "$BUILD/$name" "$BENCH/$name.c" "$@" -lm
}
# shellcheck disable=SC2046 # pkg-config output is a list of flags
{
	build bench_machine
	build bench_sqlite $(libs sqlite3 sqlite3)
	build bench_rocksdb $(libs rocksdb rocksdb)
	build bench_lmdb $(libs lmdb lmdb)
}

# --- data directory ----------------------------------------------------------

data_parent="${BENCH_DATA_PARENT:-$BENCH}"
data="$(mktemp -d "$data_parent/.data.XXXXXX")"
raw="$(mktemp "$data_parent/.results.XXXXXX")"
trap 'rm -rf "$data" "$raw"' EXIT

fstype="$(findmnt -n -o FSTYPE -T "$data" 2>/dev/null || stat -f -c %T "$data")"
case $fstype in
tmpfs | ramfs) die "$data is on $fstype; set BENCH_DATA_PARENT to a disk-backed directory" ;;
esac
[[ $(stat -c %d "$data") == $(stat -c %d "$ROOT") ]] ||
	log "warning: $data is not on the repository's filesystem"
device="$(df --output=source "$data" | tail -n 1)"
log "data directory: $data ($fstype on $device)"

# --- run -------------------------------------------------------------------
#
# Every program runs once per round; the report takes the median of the
# rounds. Durable appends in particular swing a lot from run to run on
# virtualised disks. The machine limits run first in each round and the
# systems take turns at going first.

programs=(sqlite rocksdb lmdb)
if [[ -x $VARVE_BENCH ]]; then
	varve_status="run ($VARVE_BENCH)"
	programs+=(varve)
else
	varve_status="not run: $VARVE_BENCH not found"
	log "varve-bench not found at $VARVE_BENCH (build it or set VARVE_BENCH); skipping varve"
fi

program_path() {
	if [[ $1 == varve ]]; then echo "$VARVE_BENCH"; else echo "$BUILD/bench_$1"; fi
}

failed=()
run() { # round, name
	local out="$data/$2.jsonl"
	log "== round $1/$rounds: $2"
	sync
	if ! "$(program_path "$2")" "${quick[@]}" "$data/$2" >"$out"; then
		log "compare.sh: $2 failed"
		failed+=("$2 (round $1)")
	fi
	jq -c --argjson round "$1" \
		'select(type == "object" and has("system") and has("workload")) | . + {round: $round}' \
		"$out" >>"$raw" || die "$2 printed something that is not JSON"
	rm -rf "${data:?}/$2" "$out"
}

for ((round = 1; round <= rounds; round++)); do
	run "$round" machine
	n=${#programs[@]}
	for ((i = 0; i < n; i++)); do
		run "$round" "${programs[(i + round - 1) % n]}"
	done
done

# --- results -----------------------------------------------------------------

mkdir -p "$RESULTS"
cp "$raw" "$RESULTS/latest.jsonl"

version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }
python3 "$BENCH/render.py" "$RESULTS/latest.jsonl" \
	--meta "mode=$([[ ${#quick[@]} -gt 0 ]] && echo 'quick (counts / 10)' || echo full), $rounds round(s), median shown" \
	--meta "date=$(date -u '+%Y-%m-%d %H:%M UTC')" \
	--meta "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x $(nproc)" \
	--meta "memory=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)" \
	--meta "kernel=$(uname -sr)" \
	--meta "filesystem=$fstype on $device" \
	--meta "compiler=$("$CC" --version | head -n 1)" \
	--meta "sqlite=$(version libsqlite3-dev)" \
	--meta "rocksdb=$(version librocksdb-dev)" \
	--meta "lmdb=$(version liblmdb-dev)" \
	--meta "varve=$varve_status" \
	>"$RESULTS/latest.md.tmp"
mv "$RESULTS/latest.md.tmp" "$RESULTS/latest.md"
log "wrote $RESULTS/latest.jsonl ($(wc -l <"$RESULTS/latest.jsonl") results) and $RESULTS/latest.md"

((${#failed[@]} == 0)) || die "failed: ${failed[*]}"
