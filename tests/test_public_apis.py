"""The packages use only public, documented APIs of other projects (issue 14).

Every ``.py`` under ``vlens_async/`` and ``transports/vlens_transports/`` is read as an AST and
refused for: importing or reaching a private name (``_x``) of another package, or a private
attribute our code never defines; CPython's JSON accelerator internals (``json.scanner``,
``json.encoder``, ``json.decoder``); ``exec``/``compile`` of source; ``object.__new__`` of a
class that is not ours; ``.__set__`` of a descriptor; ``vars()`` of another package's object;
subclassing aiohttp's ``ClientRequest``/``ClientResponse``. ``public_api_allowlist.txt``, next
to this file, names the exceptions (``path: reason``); its target is to be empty.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [ROOT / "vlens_async", ROOT / "transports" / "vlens_transports"]
ALLOWLIST = Path(__file__).with_name("public_api_allowlist.txt")
FORBIDDEN_MODULES = ("json.scanner", "json.encoder", "json.decoder")  # C-accelerator entry points
FOREIGN_BASES = {
    "aiohttp.ClientRequest",
    "aiohttp.ClientResponse",
    "aiohttp.client_reqrep.ClientRequest",
    "aiohttp.client_reqrep.ClientResponse",
}
# Underscore names that their projects document as public (namedtuple, enum).
SETTERS = ("setattr", "__setattr__")
DOCUMENTED = {"_asdict", "_fields", "_make", "_replace", "_missing_", "_generate_next_value_"}


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def top(module: str) -> str:
    return module.split(".")[0]


def dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None for anything but names and attributes."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return None if head is None else [*head, node.attr]
    return None


class Checker(ast.NodeVisitor):
    """Collects offences in one module; ``defined`` holds every name our own code defines."""

    def __init__(self, defined: set[str], package: str) -> None:
        self.defined = defined
        self.package = package  # its own package; the other one of ours is another package
        self.aliases: dict[str, str] = {}  # local name -> another package's dotted path
        self.offences: list[str] = []

    def report(self, node: ast.AST, problem: str) -> None:
        line = f"line {getattr(node, 'lineno', '?')}: {problem}"
        if line not in self.offences:  # ``a.b.c`` holds ``a.b``: one line each
            self.offences.append(line)

    def check_path(self, node: ast.AST, path: str) -> None:
        for bad in FORBIDDEN_MODULES:
            if path == bad or path.startswith(bad + "."):
                self.report(node, f"C-accelerator internals: {bad}")
                return
        if any(is_private(part) for part in path.split(".")[1:]):
            self.report(node, f"private name of another package: {path}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if top(alias.name) == self.package:
                continue
            self.check_path(node, alias.name)
            local = alias.asname or alias.name.split(".")[0]
            self.aliases[local] = alias.name if alias.asname else local

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or top(module) == self.package:
            return
        for alias in node.names:
            path = f"{module}.{alias.name}"
            self.check_path(node, path)
            self.aliases[alias.asname or alias.name] = path

    def resolve(self, node: ast.expr) -> str | None:
        """The other package's dotted path an expression names, if it names one."""
        parts = dotted(node)
        if parts is None or parts[0] not in self.aliases:
            return None
        return ".".join([self.aliases[parts[0]], *parts[1:]])

    def visit_Attribute(self, node: ast.Attribute) -> None:
        path = self.resolve(node)
        if path is not None:
            self.check_path(node, path)
        elif is_private(node.attr) and node.attr not in self.defined | DOCUMENTED:
            self.report(node, f"private attribute our code never defines: .{node.attr}")
        if node.attr == "__set__":
            self.report(node, "a descriptor's __set__: writes another class's slots")
        if dotted(node) == ["object", "__new__"]:
            self.report(node, "object.__new__ outside a call on a class of ours")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = dotted(node.func)
        if name in (["exec"], ["compile"], ["builtins", "exec"], ["builtins", "compile"]):
            self.report(node, f"{'.'.join(name)}() of source")
        if name == ["object", "__new__"]:
            self.check_new(node)
            for argument in node.args[1:]:
                self.visit(argument)
            return
        if name == ["vars"] and node.args and self.resolve(node.args[0]) is not None:
            self.report(node, f"vars() of another package's object: {self.resolve(node.args[0])}")
        if name == ["getattr"] and len(node.args) >= 2:
            key = node.args[1]
            text = key.value if isinstance(key, ast.Constant) else None
            if isinstance(text, str) and is_private(text) and text not in self.defined:
                self.report(node, f"getattr of a private name: {text}")
        self.generic_visit(node)

    def check_new(self, node: ast.Call) -> None:
        target = node.args[0] if node.args else None
        if not (isinstance(target, ast.Name) and target.id in self.defined):
            self.report(node, "object.__new__ of a class that is not ours")
        elif target.id in self.aliases:
            self.report(node, f"object.__new__ of another package's class: {target.id}")

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            if self.resolve(base) in FOREIGN_BASES:
                self.report(node, f"subclass of {self.resolve(base)} (not an extension point)")
        self.generic_visit(node)


def defined_names(trees: Iterable[ast.AST]) -> set[str]:
    """Every name our code defines: functions, classes, arguments, assigned names and
    attributes, and the strings of ``__slots__`` and of ``setattr`` calls."""
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Store):
                names.add(node.id if isinstance(node, ast.Name) else node.attr)
            elif isinstance(node, ast.alias) and node.asname:
                names.add(node.asname)
            names.update(_slot_strings(node))
    return names


def _slot_strings(node: ast.AST) -> Iterator[str]:
    """The names in ``__slots__ = (...)`` and in ``setattr(obj, "name", value)``."""
    strings: Sequence[ast.AST] = ()
    if isinstance(node, ast.Assign) and any(dotted(t) == ["__slots__"] for t in node.targets):
        strings = list(ast.walk(node.value))
    elif isinstance(node, ast.Call) and (dotted(node.func) or [""])[-1] in SETTERS:
        strings = node.args[:2]
    for item in strings:
        if isinstance(item, ast.Constant) and isinstance(item.value, str):
            yield item.value


def offences(source: str, package: str = "vlens_async") -> list[str]:
    """What the checker refuses in ``source``, a module of ``package``."""
    tree = ast.parse(source)
    checker = Checker(defined_names([tree]), package)
    checker.visit(tree)
    return checker.offences


def modules() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted(package.rglob("*.py"))


def read_allowlist() -> dict[str, str]:
    """``path: reason`` lines; blank lines and ``#`` comments are skipped."""
    allowed: dict[str, str] = {}
    for line in ALLOWLIST.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            path, _, reason = line.partition(":")
            assert reason.strip(), f"{ALLOWLIST.name}: {line!r} gives no reason"
            allowed[path.strip()] = reason.strip()
    return allowed


def test_the_packages_use_public_apis_only() -> None:
    """No module outside the allowlist has an offence; every allowlisted one still has one."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in modules()}
    defined = defined_names(trees.values())
    allowed = read_allowlist()
    found: dict[str, list[str]] = {}
    for path, tree in trees.items():
        package = next(top(p.name) for p in PACKAGES if p in path.parents)
        checker = Checker(defined, package)
        checker.visit(tree)
        if checker.offences:
            found[path.relative_to(ROOT).as_posix()] = checker.offences
    unexpected = {path: lines for path, lines in found.items() if path not in allowed}
    assert not unexpected, "\n".join(f"{p}: {line}" for p, ls in unexpected.items() for line in ls)
    stale = sorted(set(allowed) - set(found))
    assert not stale, f"allowlisted but clean (remove the lines): {stale}"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("import aiohttp\naiohttp._helpers.x", "private name of another package: aiohttp._helpers"),
        ("from aiohttp import web\nweb._x", "private name of another package: aiohttp.web._x"),
        ("from attrs import _make", "private name of another package: attrs._make"),
        ("import cattrs._compat", "private name of another package: cattrs._compat"),
        ("from aiohttp._http import x", "private name of another package: aiohttp._http.x"),
        ("import json.scanner", "C-accelerator internals: json.scanner"),
        ("import json\njson.encoder.c_make_encoder", "C-accelerator internals: json.encoder"),
        ("from json.encoder import c_make_encoder", "C-accelerator internals: json.encoder"),
        (
            "from vlens_transports._models import response_of",
            "private name of another package: vlens_transports._models",
        ),
        ("def f(r):\n    return r._body", "private attribute our code never defines: ._body"),
        ("getattr(x, '_closed')", "getattr of a private name: _closed"),
        ("exec('x = 1')", "exec() of source"),
        ("compile('1', '<s>', 'eval')", "compile() of source"),
        ("import uuid\nobject.__new__(uuid.UUID)", "object.__new__ of a class that is not ours"),
        ("from uuid import UUID\nobject.__new__(UUID)", "object.__new__ of a class that is not"),
        ("_new = object.__new__", "object.__new__ outside a call on a class of ours"),
        ("import uuid\nvars(uuid.UUID)['int']", "vars() of another package's object: uuid.UUID"),
        ("def f(slot, o):\n    slot.__set__(o, 1)", "a descriptor's __set__"),
        (
            "import aiohttp\nclass R(aiohttp.ClientRequest): ...",
            "subclass of aiohttp.ClientRequest",
        ),
        (
            "from aiohttp.client_reqrep import ClientResponse as C\nclass R(C): ...",
            "subclass of aiohttp.client_reqrep.ClientResponse",
        ),
    ],
)
def test_the_checker_finds_each_kind_of_offence(source: str, problem: str) -> None:
    found = offences(source)
    assert any(problem in line for line in found), found


@pytest.mark.parametrize(
    "source",
    [
        "import re\nre.compile('x')",
        "import json\njson.loads('1'), json.JSONDecodeError",
        "class A:\n    def __init__(self):\n        self._x = 1\n\n    def f(self):\n"
        "        return self._x",
        "class A: ...\nobject.__new__(A)",
        "from . import _json\n_json.loads",
        "from vlens_transports import Request",
        "from ._models import response_of",
        "import attrs\nattrs.fields(A), attrs.NOTHING, type(x).__name__",
        "import collections\ncollections.namedtuple('P', 'a')(1)._replace(a=2)",
    ],
)
def test_the_checker_lets_public_and_own_names_pass(source: str) -> None:
    assert offences(source) == []
