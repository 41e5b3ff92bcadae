#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check_exports.sh NM LIBRARY
#
# Every symbol the shared library exports (nm -D --defined-only) must start
# with varve_: anything else is an internal function or variable leaking
# into the users' namespace (the library is built with hidden visibility
# and marks its API with VARVE_API). The linker's own _init, _fini,
# __bss_start, _edata, _end and version nodes (type A) are not ours and are
# ignored, and so are AddressSanitizer's __odr_asan* indicators (one per
# exported variable in -fsanitize=address builds) and the coverage
# runtime's __gcov_* / __llvm_* symbols and libgcov's mangle_path
# (-Db_coverage=true links libgcov.a into every shared object); a
# "@VERSION" suffix is not part of the name.
# Prints every offending symbol with its nm type; exits 0 when there is
# none, 1 when there are, 2 when nm fails or the library exports no varve_
# symbol at all (not the library we meant).
set -u
nm=$1
lib=$2
out=$("$nm" -D --defined-only "$lib") || {
	echo "check_exports: $nm -D --defined-only $lib failed" >&2
	exit 2
}
# mangle_path is ignored only in a library that carries the gcov runtime
gcov=0
case $out in *__gcov_*) gcov=1 ;; esac
printf '%s\n' "$out" | awk -v lib="$lib" -v gcov="$gcov" '
	NF < 2 { next }
	{
		type = $(NF - 1)
		name = $NF
		sub(/@.*/, "", name)
	}
	type == "A" { next }
	name == "_init" || name == "_fini" || name == "__bss_start" ||
	name == "_edata" || name == "_end" || name ~ /^__odr_asan/ ||
	name ~ /^__gcov_/ || name ~ /^__llvm_(gcov|profile)/ ||
	(name == "mangle_path" && gcov) { next }
	name ~ /^varve_/ { good++; next }
	{ printf "%s: exports %s (nm type %s), not varve_*\n", lib, name, type; bad++ }
	END {
		if (good == 0) {
			printf "%s: no varve_ symbol exported: not libvarve?\n", lib
			exit 2
		}
		printf "check_exports: %d varve_ symbols, %d others\n", good, bad + 0
		exit (bad ? 1 : 0)
	}'
