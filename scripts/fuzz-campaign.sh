#!/usr/bin/env bash
# A long fuzzing campaign: every target (or the ones named) for SECONDS each
# (default 3600), two at a time, through .ci/fuzz; scratch corpora, logs and
# artifacts stay in fuzz/corpus-work/campaign/ (ignored by git). Afterwards the inputs
# each run found are merged (new edges only) against the checked-in seeds into
# fuzz/corpus-work/campaign/merged/<target>/ for review.
#
#   scripts/fuzz-campaign.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-3600}
shift || true
targets="$*"
out=$PWD/fuzz/corpus-work/campaign
mkdir -p "$out"
rc=0
VARVE_FUZZ_SECONDS=$seconds VARVE_FUZZ_OUT=$out ${targets:+VARVE_FUZZ_TARGETS="$targets"} \
	.ci/fuzz || rc=$?
for d in "$out"/fuzz_*; do
	[ -d "$d/corpus" ] || continue
	t=$(basename "$d")
	m=$out/merged/$t
	rm -rf "$m"
	mkdir -p "$m"
	cp -r "fuzz/corpus/$t/." "$m/"
	before=$(ls "$m" | wc -l)
	"build-fuzz/fuzz/$t" -merge=1 -use_counters=0 "$m" "$d/corpus" >/dev/null 2>&1 || true
	echo "campaign: $t: $(( $(ls "$m" | wc -l) - before )) inputs with new edges in $m"
done
exit "$rc"
