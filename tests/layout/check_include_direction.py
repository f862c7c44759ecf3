#!/usr/bin/python3
"""Every #include of every module against the include roots the build gives that module.

usage: check_include_direction.py LAYOUT_JSON

LAYOUT_JSON is build/sparq_layout.json, written by cmake/SparqModules.cmake from the modules'
USES lists: each include root (name -> the folder or header it exposes) and each owner (a
module, or the CLI) with its folder, the include directories its target compiles with and
its sources. Fails, listing every offence, when
  - a file includes a file of ours that none of its owner's include roots exposes (also
    through a relative "../" path or <...>, which the roots alone do not stop);
  - the owners' uses form a cycle;
  - a file under runtime/ lies outside every owner's folder, or is a .cpp its owner does
    not compile.
Standard library only.
"""
import json
import os
import re
import sys

SOURCE_SUFFIXES = (".h", ".hpp", ".cpp", ".cc")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')


def within(path, prefix):
    """Whether path is the folder or header prefix, or lies inside it."""
    return path == prefix or path.startswith(prefix + "/")


class Layout:
    def __init__(self, table):
        self.source_dir = table["source_dir"]
        self.roots = table["roots"]
        self.owners = table["owners"]
        prefix = table["include_roots"] + "/"
        self.visible = {}
        for name, owner in self.owners.items():
            names = {d[len(prefix):] for d in owner["include_dirs"] if d.startswith(prefix)}
            unknown = names - self.roots.keys()
            if unknown:
                raise SystemExit(f"{name} compiles with include roots missing from the table: {sorted(unknown)}")
            self.visible[name] = names

    def owner_of(self, path):
        """The owner whose folder holds path, the innermost when folders nest."""
        best = None
        for name, owner in self.owners.items():
            if within(path, owner["folder"]) and (best is None or len(owner["folder"]) > len(self.owners[best]["folder"])):
                best = name
        return best

    def roots_exposing(self, path):
        return sorted(name for name, root in self.roots.items() if within(path, root))

    def resolve(self, includer, quote, spelled):
        """The source-tree path an include reaches, as the compiler would look: next to the
        includer first for "...", then from the top of the tree; None when it is not ours."""
        candidates = []
        if quote == '"':
            candidates.append(os.path.normpath(os.path.join(os.path.dirname(includer), spelled)))
        candidates.append(os.path.normpath(spelled))
        for c in candidates:
            if not c.startswith("../") and os.path.isfile(os.path.join(self.source_dir, c)):
                return c
        return None


def source_files(source_dir, folder):
    for dirpath, dirnames, filenames in os.walk(os.path.join(source_dir, folder)):
        # npm installs third-party trees here (tools/node/node_modules, git-ignored).
        dirnames[:] = sorted(d for d in dirnames if d != "node_modules")
        for f in sorted(filenames):
            yield os.path.relpath(os.path.join(dirpath, f), source_dir)


def forbidden_includes(layout):
    problems, scanned = [], 0
    for name, owner in sorted(layout.owners.items()):
        for path in source_files(layout.source_dir, owner["folder"]):
            if not path.endswith(SOURCE_SUFFIXES) or layout.owner_of(path) != name:
                continue
            with open(os.path.join(layout.source_dir, path), encoding="utf-8", errors="replace") as f:
                for number, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = layout.resolve(path, m.group(1), m.group(2))
                    if target is None:
                        continue
                    scanned += 1
                    reachable = layout.roots_exposing(target)
                    if set(reachable) & layout.visible[name]:
                        continue
                    spelled = m.group(2) if m.group(2) == target else f"{m.group(2)} ({target})"
                    problems.append(
                        f"{path}:{number} -> {' or '.join(reachable) or 'no module'}: includes {spelled}; "
                        f"{name} may include only {', '.join(sorted(layout.visible[name]))}")
    return problems, scanned


def cycles(layout):
    """Owner A uses owner B when A sees a root exposing something in B's folder."""
    uses = {name: set() for name in layout.owners}
    for name in layout.owners:
        for root in layout.visible[name]:
            for other, owner in layout.owners.items():
                if other != name and within(layout.roots[root], owner["folder"]):
                    uses[name].add(other)
    found, state = [], {}

    def visit(name, stack):
        state[name] = "open"
        for other in sorted(uses[name]):
            if state.get(other) == "open":
                found.append(" -> ".join(stack[stack.index(other):] + [other]))
            elif other not in state:
                visit(other, stack + [other])
        state[name] = "done"

    for name in sorted(uses):
        if name not in state:
            visit(name, [name])
    return [f"cycle: {c}" for c in found]


def unowned_runtime_files(layout):
    compiled = {os.path.relpath(s, layout.source_dir) for o in layout.owners.values() for s in o["sources"] if s}
    problems = []
    for path in source_files(layout.source_dir, "runtime"):
        if path == os.path.join("runtime", "CMakeLists.txt"):
            continue
        owner = layout.owner_of(path)
        if owner is None:
            problems.append(f"{path}: under runtime/ but in no module's folder")
        elif path.endswith((".cpp", ".cc")) and path not in compiled:
            problems.append(f"{path}: in {owner}'s folder but {layout.owners[owner]['target']} does not compile it")
    return problems


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        layout = Layout(json.load(f))
    problems, scanned = forbidden_includes(layout)
    problems += cycles(layout) + unowned_runtime_files(layout)
    if scanned == 0:
        problems.append(f"no include of ours found under {layout.source_dir}: wrong source directory?")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"FAIL: {len(problems)} layout problems", file=sys.stderr)
        sys.exit(1)
    print(f"{scanned} includes in {len(layout.owners)} owners' folders follow the include roots; no cycle")


if __name__ == "__main__":
    main()
