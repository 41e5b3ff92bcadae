#!/usr/bin/env bash
# varve as a meson subproject of another project: `dependency('varve')`
# finds it (meson.override_dependency), and with tests=disabled and
# tools=false the parent builds the library and nothing else of varve (no
# second static copy, no fuzz targets, no examples, no tests added to the
# parent). Usage: test_subproject.sh SOURCE_ROOT
set -euo pipefail
src=$(cd "$1" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/varve-subproject.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/parent/subprojects"
ln -s "$src" "$work/parent/subprojects/varve"
cat >"$work/parent/meson.build" <<'MESON'
project('parent', 'c', meson_version: '>= 0.63')
varve = dependency('varve', fallback: ['varve', 'varve_dep'],
  default_options: ['tests=disabled', 'tools=false', 'server=disabled'])
exe = executable('app', 'app.c', dependencies: varve)
test('app', exe)
MESON
cat >"$work/parent/app.c" <<'C'
#include <stdio.h>
#include "varve.h"
int main(void)
{
	printf("varve %s\n", varve_version(NULL, NULL, NULL));
	return 0;
}
C
cd "$work/parent"
meson setup build --wrap-mode=nodownload --force-fallback-for=varve >setup.log 2>&1 ||
	{ cat setup.log; echo "FAIL: meson setup of the parent project"; exit 1; }
ninja -C build >build.log 2>&1 || { cat build.log; echo "FAIL: build"; exit 1; }
./build/app | grep -q '^varve ' || { echo "FAIL: the app did not run"; exit 1; }
targets=$(ninja -C build -t targets all)
for unwanted in varve_internal fuzz_ example- test_unit varve-dump varve-bench; do
	if grep -q "$unwanted" <<<"$targets"; then
		echo "FAIL: the parent build has varve targets it did not ask for ($unwanted):"
		grep "$unwanted" <<<"$targets" | head -5
		exit 1
	fi
done
tests=$(meson test -C build --list 2>/dev/null | grep -v "^ninja:")
if [ "$tests" != "app" ]; then
	echo "FAIL: varve added tests to the parent project:"
	echo "$tests" | head
	exit 1
fi
echo "subproject: dependency('varve') found; only the library built; the parent's tests: $tests"
