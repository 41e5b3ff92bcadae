#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_check_layers.py -- check_layers.py on small made-up source trees.

    test_check_layers.py CHECK_LAYERS_PY LAYERS_TXT

Each case writes a tiny src/ and a table in a temporary directory, runs the
script and checks its exit code and what it prints: a good layout passes; an
include of a higher layer, an include cycle, a header in no listed folder,
a file in no layer, an unknown or ambiguous header fail with file:line and
the layers named; a malformed table is a usage error. The committed
layers.txt is checked to list the eight layers in their order. Python 3
standard library only.
"""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = None
LAYERS_TXT = None

TWO_LAYERS = 'base: base\nlog: log\n'


def run(files, table):
    """Write files ({relpath: text}) under a temp src/, run the script;
    returns (exit code, output)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, 'src')
        os.makedirs(src)
        for rel, text in files.items():
            path = os.path.join(src, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as f:
                f.write(text)
        table_path = os.path.join(tmp, 'layers.txt')
        with open(table_path, 'w') as f:
            f.write(table)
        p = subprocess.run([sys.executable, SCRIPT, '--src', src, '--table', table_path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return p.returncode, p.stdout.replace(src + os.sep, 'src/')


GOOD = {
    'base/util.h': '#include <stdint.h>\n#include "varve.h"\n',
    'base/util.c': '#include <stdio.h>\n#include "util.h"\n',
    'log/seg.h': '#include "util.h"\n',
    'log/seg.c': '/* SPDX */\n#include "seg.h"\n#include "util.h"\n#include "base/util.h"\n',
}


class CheckLayers(unittest.TestCase):
    def test_good_layout_passes(self):
        rc, out = run(GOOD, TWO_LAYERS)
        self.assertEqual(rc, 0, out)
        self.assertIn('4 files, 5 includes, 2 layers: ok', out)

    def test_include_of_a_higher_layer_fails_with_file_line_and_layers(self):
        files = dict(GOOD)
        files['base/util.c'] = '#include <stdio.h>\n#include "util.h"\n#include "seg.h"\n'
        rc, out = run(files, TWO_LAYERS)
        self.assertEqual(rc, 1, out)
        self.assertIn('src/base/util.c:3: #include "seg.h": layer base includes a header '
                      'of the higher layer log (log/seg.h)', out)
        self.assertIn('1 violations', out)

    def test_same_layer_and_lower_layers_are_allowed(self):
        table = 'base: base\nlog: log\nstore: store\n'
        files = dict(GOOD)
        files['store/store.c'] = '#include "seg.h"\n#include "util.h"\n#include "store.h"\n'
        files['store/store.h'] = '\n'
        rc, out = run(files, table)
        self.assertEqual(rc, 0, out)

    def test_include_cycle_fails_and_names_the_cycle(self):
        files = dict(GOOD)
        files['log/a.h'] = '#include "b.h"\n'
        files['log/b.h'] = '\n#include "a.h"\n'
        rc, out = run(files, TWO_LAYERS)
        self.assertEqual(rc, 1, out)
        self.assertIn('include cycle: src/log/a.h:1 -> src/log/b.h:2 -> src/log/a.h', out)

    def test_longer_cycle_is_reported_once(self):
        files = dict(GOOD)
        files['log/a.h'] = '#include "b.h"\n'
        files['log/b.h'] = '#include "c.h"\n'
        files['log/c.h'] = '#include "a.h"\n'
        files['log/x.c'] = '#include "b.h"\n#include "a.h"\n'
        rc, out = run(files, TWO_LAYERS)
        self.assertEqual(rc, 1, out)
        self.assertEqual(out.count('include cycle'), 1, out)

    def test_self_include_is_a_cycle(self):
        files = dict(GOOD)
        files['log/a.h'] = '#include "a.h"\n'
        rc, out = run(files, TWO_LAYERS)
        self.assertEqual(rc, 1, out)
        self.assertIn('include cycle: src/log/a.h:1 -> src/log/a.h', out)

    def test_header_in_no_listed_folder_fails(self):
        files = dict(GOOD)
        files['misc/extra.h'] = '\n'
        files['log/seg.c'] = '#include "extra.h"\n'
        rc, out = run(files, TWO_LAYERS)
        self.assertEqual(rc, 1, out)
        self.assertIn('src/misc/extra.h: in no layer of the table (folder misc)', out)
        self.assertIn('src/log/seg.c:1: #include "extra.h": misc/extra.h lives in folder '
                      'misc, which is in no layer', out)

    def test_file_at_the_top_of_src_is_in_no_layer(self):
        files = dict(GOOD)
        files['loose.c'] = '#include "util.h"\n'
        rc, out = run(files, TWO_LAYERS)
        self.assertEqual(rc, 1, out)
        self.assertIn('src/loose.c: in no layer of the table (folder .)', out)

    def test_dot_folder_is_src_itself(self):
        rc, out = run({'a.c': '#include "a.h"\n', 'a.h': '\n'}, 'flat: .\n')
        self.assertEqual(rc, 0, out)

    def test_subfolder_belongs_to_its_listed_parent(self):
        files = dict(GOOD)
        files['log/sub/deep.h'] = '#include "util.h"\n'
        files['base/util.c'] = '#include "deep.h"\n'
        rc, out = run(files, TWO_LAYERS)
        self.assertEqual(rc, 1, out)
        self.assertIn('layer base includes a header of the higher layer log '
                      '(log/sub/deep.h)', out)

    def test_unknown_header_fails(self):
        files = dict(GOOD)
        files['log/seg.c'] = '#include "nowhere.h"\n'
        rc, out = run(files, TWO_LAYERS)
        self.assertEqual(rc, 1, out)
        self.assertIn('src/log/seg.c:1: #include "nowhere.h": no such header', out)

    def test_ambiguous_bare_name_fails(self):
        files = dict(GOOD)
        files['log/util.h'] = '\n'
        rc, out = run(files, TWO_LAYERS)
        self.assertEqual(rc, 1, out)
        self.assertIn('ambiguous, it could be base/util.h, log/util.h', out)

    def test_system_and_public_headers_are_ignored(self):
        files = {'base/a.c': '#include <seg.h>\n#include "varve.h"\n#  include <stdio.h>\n'}
        rc, out = run(files, TWO_LAYERS)
        self.assertEqual(rc, 0, out)
        self.assertIn('1 files, 0 includes', out)

    def test_malformed_tables_are_usage_errors(self):
        for table in ('base base\n', 'base:\n', 'base: base\nbase: log\n',
                      'base: base\nlog: base\n', 'base: ../x\n', '# nothing\n'):
            rc, out = run(GOOD, table)
            self.assertEqual(rc, 2, 'table %r: %s' % (table, out))

    def test_missing_source_directory_is_a_usage_error(self):
        p = subprocess.run([sys.executable, SCRIPT, '--src', '/nonexistent/src',
                            '--table', LAYERS_TXT],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertEqual(p.returncode, 2, p.stdout)

    def test_committed_table_orders_the_eight_layers(self):
        with open(LAYERS_TXT) as f:
            table = f.read()
        order = ['base', 'log', 'meta', 'topic', 'clean', 'produce', 'consume', 'store']
        # each layer includes the one below it: allowed all the way up
        files = {}
        for i, name in enumerate(order):
            below = '#include "%s.h"\n' % order[i - 1] if i else ''
            files['%s/%s.h' % (name, name)] = below
            files['%s/%s.c' % (name, name)] = '#include "%s.h"\n' % name
        rc, out = run(files, table)
        self.assertEqual(rc, 0, out)
        self.assertIn('16 files, 15 includes, 8 layers: ok', out)
        # and every include going up the list is refused
        for i in range(len(order) - 1):
            bad = dict(files)
            bad['%s/%s.c' % (order[i], order[i])] = '#include "%s.h"\n' % order[i + 1]
            rc, out = run(bad, table)
            self.assertEqual(rc, 1, out)
            self.assertIn('layer %s includes a header of the higher layer %s'
                          % (order[i], order[i + 1]), out)


if __name__ == '__main__':
    if len(sys.argv) != 3:
        print('usage: test_check_layers.py CHECK_LAYERS_PY LAYERS_TXT', file=sys.stderr)
        sys.exit(2)
    SCRIPT, LAYERS_TXT = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
