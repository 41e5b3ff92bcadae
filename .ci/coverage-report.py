#!/usr/bin/env python3
"""Summary of gcovr's JSON for .ci/coverage: totals of src/, the storage
core figure, and the I/O error branches no test reached.

Usage: coverage-report.py build-cov/coverage.json

I/O error branches: every call of a mutating, syncing or opening I/O
wrapper (vv_io_pwrite, _datasync, _syncfs, _sync_dir, _rename, _unlink,
_allocate, _extend, _open, _lock, _map, _truncate, _write_atomic, _mkdir,
_remove_tree, _list_dir) in src/, and every call of the backend table
(IO->pwrite ...) inside the wrappers of src/io.c. For each call, the check
of its result is the first line from the call on (up to 3 lines further)
that has branches (VV_TRY, if, ?:, ||, &&). The error branch counts as
reached when every branch of that line was taken at least once; a call
whose result is returned to the caller or ignored with (void) is listed as
such, not as a miss.
"""
import json
import os
import re
import sys

# The storage core: the log itself (I/O, batches, indexes, segments,
# partitions, readers, recovery, compaction, retention, the store and its
# metadata). Left out: consumer groups, asynchronous produce, idempotent
# producers and message-id dedup (features on top of the log), and the
# allocation/error helpers.
CORE = ["io.c", "batch.c", "index.c", "segment.c", "partition.c", "reader.c", "iter.c",
        "compact.c", "cleaner.c", "store.c", "topic.c", "meta.c"]

IO_OPS = ("pwrite|datasync|syncfs|sync_dir|rename|unlink|allocate|extend|open|lock|map|"
          "truncate|write_atomic|mkdir|remove_tree|list_dir")
CALL = re.compile(r"\bvv_io_(%s)\s*\(" % IO_OPS)
BACKEND = re.compile(r"\bIO->(open|pwrite|datasync|sync_dir|rename|unlink|allocate|extend|lock|"
                     r"truncate|mkdir)\s*\(")
DEFINITION = re.compile(r"^(int|void|static|const)\b")


def pct(a, b):
    return 100.0 * a / b if b else 100.0


def main():
    data = json.load(open(sys.argv[1]))
    files = {}
    for f in data["files"]:
        name = f["file"]
        if not name.startswith("src/"):
            continue
        lines = {l["line_number"]: l for l in f["lines"]
                 if not l.get("gcovr/noncode") and not l.get("gcovr/excluded")}
        files[name] = lines

    def totals(names):
        lt = lc = bt = bc = 0
        for n in names:
            for l in files.get(n, {}).values():
                lt += 1
                lc += l["count"] > 0
                bt += len(l["branches"])
                bc += sum(b["count"] > 0 for b in l["branches"])
        return lt, lc, bt, bc

    allf = sorted(files)
    lt, lc, bt, bc = totals(allf)
    print("== totals, src/ (%d files)" % len(allf))
    print("lines    %5d of %5d  %5.1f%%" % (lc, lt, pct(lc, lt)))
    print("branches %5d of %5d  %5.1f%%" % (bc, bt, pct(bc, bt)))
    core = ["src/" + c for c in CORE]
    lt, lc, bt, bc = totals(core)
    print("== storage core (%s)" % ", ".join(CORE))
    print("lines    %5d of %5d  %5.1f%%" % (lc, lt, pct(lc, lt)))
    print("branches %5d of %5d  %5.1f%%" % (bc, bt, pct(bc, bt)))
    print("== per file: lines, branches (taken at least once)")
    for n in allf:
        lt, lc, bt, bc = totals([n])
        print("%-18s %5.1f%% of %4d   %5.1f%% of %4d%s" % (n, pct(lc, lt), lt, pct(bc, bt), bt,
                                                       "   (core)" if n in core else ""))

    print("== I/O error branches (error return after a vv_io_* call)")
    reached = missed = never = passed = ignored = 0
    misses = []
    for n in allf:
        src = open(n).read().split("\n")
        lines = files[n]
        for i, text in enumerate(src, 1):
            m = CALL.search(text) or (n == "src/io.c" and BACKEND.search(text))
            if not m:
                continue
            if DEFINITION.match(text):
                continue
            op = m.group(1)
            code = text.strip()
            if re.search(r"\(void\)\s*(vv_io_|IO->)", text):
                ignored += 1
                continue
            call = lines.get(i)
            if call is None:
                continue
            if call["count"] == 0:
                never += 1
                misses.append("%s:%d: %s  -- call never executed" % (n, i, code))
                continue
            check = None
            for j in range(i, i + 4):
                l = lines.get(j)
                if l and l["branches"]:
                    check = (j, l)
                    break
            if check is None or re.match(r"\s*return\b", text) and check[0] != i:
                passed += 1
                continue
            j, l = check
            counts = [b["count"] for b in l["branches"]]
            if all(c > 0 for c in counts):
                reached += 1
            else:
                missed += 1
                misses.append("%s:%d: %s  -- check at line %d, branch counts %s" %
                              (n, i, code, j, counts))
    print("calls: %d with the error branch reached, %d not reached, %d never executed, "
          "%d returned to the caller, %d ignored with (void)" %
          (reached, missed, never, passed, ignored))
    for m in misses:
        print("  " + m)


if __name__ == "__main__":
    main()
