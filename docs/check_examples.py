# SPDX-License-Identifier: MIT
"""Checks that keep the documentation's C code honest (docs/meson.build).

  check_examples.py readme README.md docs/examples/readme.c
      README.md shows the program docs/examples/readme.c: everything from its
      first #include to the end must appear verbatim in one ```c block of
      README.md, so the compiled example and the README cannot drift apart.

  check_examples.py format FORMAT.md PROGRAM DIR
      docs/FORMAT.md, "Example: one batch, byte by byte", shows the bytes of
      a segment and a recovery point; PROGRAM (docs/examples/format.c) writes
      that store in DIR and prints the same files the same way. The hex
      lines of the section (without their annotations) must equal the
      program's output.

  check_examples.py warnings --cc=CC INCLUDE_DIR FILE...
      Compile each FILE as a user would (CC -std=c11 -O2 -Wall -Wextra -Werror
      -I INCLUDE_DIR -c), without the project's own warning switches (the
      project turns -Wmissing-field-initializers off; a user's -Wextra does
      not). The compiler is passed as --cc=NAME, not as a path argument, so
      the Valgrind wrapper (.ci/valgrind-wrap) runs it natively.

Exit status 0 when every check passes; otherwise the failures are printed.
"""
import os
import re
import subprocess
import sys
import tempfile


def check_readme(readme_path, example_path):
    with open(readme_path, encoding="utf-8") as f:
        readme = f.read()
    with open(example_path, encoding="utf-8") as f:
        source = f.read()
    start = source.find("#include")
    if start < 0:
        return [f"{example_path}: no #include line"]
    program = source[start:]
    blocks = [b.split("```", 1)[0] for b in readme.split("```c\n")[1:]]
    if program in blocks:
        return []
    return [f"{readme_path}: no ```c block equals {example_path} from its first "
            "#include to the end; copy the program into the README again"]


HEX_LINE = re.compile(r"^[0-9a-f]{8}:( [0-9a-f]{2,4})+$")


def hex_lines(text):
    """The xxd-style lines of text, each cut before its annotation (which
    follows two or more spaces)."""
    out = []
    for line in text.splitlines():
        head = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        if HEX_LINE.match(head):
            out.append(head)
    return out


def check_format(format_path, program, store_dir):
    with open(format_path, encoding="utf-8") as f:
        doc = f.read()
    start = doc.find("Example: one batch, byte by byte\n---")
    if start < 0:
        return [f"{format_path}: no section 'Example: one batch, byte by byte'"]
    end = doc.find("\n---", start + 40)
    section = doc[start:end if end > 0 else len(doc)]
    want = hex_lines(section)
    run = subprocess.run([program, store_dir], capture_output=True, text=True)
    if run.returncode != 0:
        return [f"{program} {store_dir} failed ({run.returncode}):\n{run.stderr}"]
    got = hex_lines(run.stdout)
    if not want:
        return [f"{format_path}: no hex lines in the example section"]
    if want == got:
        return []
    diff = [f"  doc:     {w}\n  written: {g}" for w, g in zip(want, got) if w != g]
    if len(want) != len(got):
        diff.append(f"  {len(want)} lines in the document, {len(got)} written")
    return [f"{format_path}: the example bytes differ from what varve writes:\n" +
            "\n".join(diff)]


def check_warnings(cc, include_dir, files):
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            obj = os.path.join(tmp, os.path.basename(path) + ".o")
            cmd = [cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
                   "-I", include_dir, "-c", path, "-o", obj]
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0:
                errors.append(f"{' '.join(cmd)}\n{run.stderr}")
    return errors


def main(argv):
    if len(argv) == 4 and argv[1] == "readme":
        errors = check_readme(argv[2], argv[3])
    elif len(argv) == 5 and argv[1] == "format":
        errors = check_format(argv[2], argv[3], argv[4])
    elif len(argv) >= 5 and argv[1] == "warnings" and argv[2].startswith("--cc="):
        errors = check_warnings(argv[2][len("--cc="):], argv[3], argv[4:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
