# SPDX-License-Identifier: MIT
"""Checks that keep the documentation's C code honest (docs/meson.build).

  check_examples.py readme README.md docs/examples/readme.c
      README.md shows the program docs/examples/readme.c: everything from its
      first #include to the end must appear verbatim in one ```c block of
      README.md, so the compiled example and the README cannot drift apart.

  check_examples.py warnings --cc=CC INCLUDE_DIR FILE...
      Compile each FILE as a user would (CC -std=c11 -O2 -Wall -Wextra -Werror
      -I INCLUDE_DIR -c), without the project's own warning switches (the
      project turns -Wmissing-field-initializers off; a user's -Wextra does
      not). The compiler is passed as --cc=NAME, not as a path argument, so
      the Valgrind wrapper (.ci/valgrind-wrap) runs it natively.

Exit status 0 when every check passes; otherwise the failures are printed.
"""
import os
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
