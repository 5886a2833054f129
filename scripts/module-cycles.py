#!/usr/bin/env python3
"""Reports import cycles between the modules of a Rust crate.

A module depends on another when it names it (`use crate::a::b`,
`crate::a::b::f()`, `super::b`, `self::c`). A module naming its own
ancestor or descendant is how Rust modules are built (a parent declares its
children; a child uses what its parent defines), so those edges are left
out: what remains must be acyclic, so that data flows one way between
siblings (e.g. runtime::state -> runtime::capabilities, never back).

usage: module-cycles.py SRC_DIR   (exit 1 and the cycles when there are any)
"""
import os
import re
import sys

src = sys.argv[1] if len(sys.argv) > 1 else "host/src"

def module_of(path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)

files = {}
for root, _, names in os.walk(src):
    for name in names:
        if name.endswith(".rs"):
            path = os.path.join(root, name)
            files[module_of(path)] = open(path, encoding="utf-8").read()
modules = set(files)
# Inline `mod x { ... }` blocks (tests) are part of their file's module.

def resolve(current, parts):
    """The longest known module a path names, or None."""
    if not parts:
        return None
    if parts[0] == "crate":
        base, rest = (), parts[1:]
    elif parts[0] == "super":
        base, rest = current, parts
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    elif parts[0] == "self":
        base, rest = current, parts[1:]
    else:
        return None
    best = None
    for i in range(len(rest) + 1):
        candidate = base + tuple(rest[:i])
        if candidate in modules:
            best = candidate
    return best

path_re = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
group_re = re.compile(r"\buse\s+((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\}", re.S)

def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)

edges = {m: set() for m in modules}
for module, text in files.items():
    text = strip_comments(text)
    names = [p.split("::") for p in path_re.findall(text)]
    for prefix, group in group_re.findall(text):
        for item in re.split(r"[,\s{}]+", group):
            if item and item[0].isalpha() or item.startswith("_"):
                names.append(prefix.split("::") + item.split("::"))
    for parts in names:
        target = resolve(module, parts)
        if target is None or target == module:
            continue
        related = target[: len(module)] == module or module[: len(target)] == target
        if not related:
            edges[module].add(target)

# Tarjan's strongly connected components.
index, low, on_stack, stack, cycles = {}, {}, set(), [], []
counter = [0]

def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on_stack.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        component = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            component.append(w)
            if w == v:
                break
        if len(component) > 1:
            cycles.append(component)

sys.setrecursionlimit(10000)
for v in sorted(modules):
    if v not in index:
        visit(v)

name = lambda m: "::".join(m) or "crate"
if cycles:
    for component in cycles:
        members = sorted(component)
        print("cycle among: " + ", ".join(name(m) for m in members))
        for m in members:
            for t in sorted(edges[m] & set(component)):
                print(f"  {name(m)} -> {name(t)}")
    sys.exit(1)
print(f"{src}: {len(modules)} modules, {sum(len(e) for e in edges.values())} edges between unrelated modules, no cycle")
