#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check_layers.py -- the library's layering, checked from its #includes.

    check_layers.py --src DIR --table FILE

The table (layers.txt beside this script) has one line per layer, lowest
first: `<layer>: <folder> [<folder>...]`, folders relative to DIR ("."
is DIR itself); `#` starts a comment. Every .c and .h file under DIR must
live in a listed folder (or below one: the longest listed folder wins), and
may include headers of its own layer and of lower layers only. Headers are
found by bare name anywhere under DIR (a name with a '/' by its trailing
path); an include that names no header, or two, is an error, and so is a
header in no listed folder. Includes in <> and "varve.h" (the public
header) are not checked. No file may reach itself through its includes (an
include cycle), whatever the layers.

Prints every violation as `file:line: ...` with both layers, and exits 0
when there is none, 1 when there are, 2 for a bad table or directory.
Python 3 standard library only.
"""
import argparse
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
PUBLIC_HEADERS = {'varve.h'}
SOURCE_SUFFIXES = ('.c', '.h')


class TableError(Exception):
    pass


def parse_table(path):
    """[(layer, [folder, ...]), ...] lowest first; raises TableError."""
    layers, seen_names, seen_folders = [], set(), {}
    try:
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise TableError('%s: %s' % (path, e.strerror))
    for lineno, line in enumerate(lines, 1):
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        name, sep, rest = line.partition(':')
        name, folders = name.strip(), rest.split()
        if not sep or not re.fullmatch(r'[A-Za-z0-9_-]+', name) or not folders:
            raise TableError('%s:%d: expected "<layer>: <folder> [<folder>...]"'
                             % (path, lineno))
        if name in seen_names:
            raise TableError('%s:%d: layer %s listed twice' % (path, lineno, name))
        seen_names.add(name)
        for folder in folders:
            folder = os.path.normpath(folder)
            if folder.startswith('..') or os.path.isabs(folder):
                raise TableError('%s:%d: folder %s is not inside the source '
                                 'directory' % (path, lineno, folder))
            if folder in seen_folders:
                raise TableError('%s:%d: folder %s already belongs to layer %s'
                                 % (path, lineno, folder, seen_folders[folder]))
            seen_folders[folder] = name
        layers.append((name, [os.path.normpath(f) for f in folders]))
    if not layers:
        raise TableError('%s: no layer' % path)
    return layers


def source_files(src):
    """Paths of the .c and .h files under src, relative to it, sorted."""
    out = []
    for root, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(SOURCE_SUFFIXES):
                out.append(os.path.relpath(os.path.join(root, name), src))
    return out


def layer_of(relpath, layers):
    """(index, name) of the layer holding relpath, or None."""
    folder = os.path.dirname(relpath) or '.'
    best, best_len = None, -1
    for index, (name, folders) in enumerate(layers):
        for f in folders:
            inside = folder == f or (f != '.' and folder.startswith(f + os.sep))
            if inside and len(f) > best_len:
                best, best_len = (index, name), len(f)
    return best


def resolve(name, files):
    """The files under src that #include "name" can mean."""
    name = os.path.normpath(name)
    if os.sep in name:
        return [f for f in files if f == name or f.endswith(os.sep + name)]
    return [f for f in files if os.path.basename(f) == name]


def read_includes(path):
    """[(line number, included name)] of the quoted includes of a file."""
    out = []
    with open(path, encoding='utf-8', errors='replace') as f:
        for lineno, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                out.append((lineno, m.group(1)))
    return out


def check_includes(src, files, layers):
    """Layer violations; returns (errors, graph) where graph maps a file to
    [(line, included file)]."""
    errors, graph = [], {}
    for f in files:
        own = layer_of(f, layers)
        if own is None:
            errors.append('%s: in no layer of the table (folder %s)'
                          % (os.path.join(src, f), os.path.dirname(f) or '.'))
        edges = graph.setdefault(f, [])
        for lineno, name in read_includes(os.path.join(src, f)):
            if os.path.basename(name) in PUBLIC_HEADERS:
                continue
            where = '%s:%d: #include "%s"' % (os.path.join(src, f), lineno, name)
            found = resolve(name, files)
            if not found:
                errors.append('%s: no such header under the source directory' % where)
                continue
            if len(found) > 1:
                errors.append('%s: ambiguous, it could be %s' % (where, ', '.join(found)))
                continue
            target = found[0]
            edges.append((lineno, target))
            theirs = layer_of(target, layers)
            if theirs is None:
                errors.append('%s: %s lives in folder %s, which is in no layer'
                              % (where, target, os.path.dirname(target) or '.'))
            elif own is not None and theirs[0] > own[0]:
                errors.append('%s: layer %s includes a header of the higher layer '
                              '%s (%s)' % (where, own[1], theirs[1], target))
    return errors, graph


def find_cycles(graph):
    """Each include cycle once, as [(file, line of its include), ...]."""
    cycles, seen, state = [], set(), {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack = [(start, iter(graph[start]))]
        path, state[start] = [start], 1
        lines = []
        while stack:
            node, edges = stack[-1]
            step = next(edges, None)
            if step is None:
                stack.pop()
                path.pop()
                if lines:
                    lines.pop()
                state[node] = 2
                continue
            lineno, target = step
            if state.get(target) == 1:
                at = path.index(target)
                cycle = list(zip(path[at:], lines[at:] + [lineno]))
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    cycles.append(cycle)
            elif not state.get(target):
                state[target] = 1
                path.append(target)
                lines.append(lineno)
                stack.append((target, iter(graph.get(target, []))))
    return cycles


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--src', required=True, help='the source directory (src/)')
    ap.add_argument('--table', required=True, help='the layer table (layers.txt)')
    args = ap.parse_args(argv)
    if not os.path.isdir(args.src):
        print('check_layers: %s is not a directory' % args.src, file=sys.stderr)
        return 2
    try:
        layers = parse_table(args.table)
    except TableError as e:
        print('check_layers: %s' % e, file=sys.stderr)
        return 2
    files = source_files(args.src)
    errors, graph = check_includes(args.src, files, layers)
    for cycle in find_cycles(graph):
        steps = ' -> '.join('%s:%d' % (os.path.join(args.src, f), line)
                            for f, line in cycle)
        errors.append('include cycle: %s -> %s'
                      % (steps, os.path.join(args.src, cycle[0][0])))
    for e in errors:
        print(e)
    edges = sum(len(v) for v in graph.values())
    print('check_layers: %d files, %d includes, %d layers: %s'
          % (len(files), edges, len(layers),
             'ok' if not errors else '%d violations' % len(errors)))
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
