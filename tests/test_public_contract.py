"""Plugins use only core's public names; ``blocks`` uses only ``fuel``'s public names.

The house rule (``docs/writing_plugins.md``, "What plugins may use"): a plugin
is written against the public contract of ``blocks`` and ``fuel`` so that a
third party can write one too, and core can rename its private helpers
without breaking anybody. This test reads the source of every plugin under
``packages/*/src`` with :mod:`ast` (nothing is imported, so it needs no plugin
installed) and fails naming ``file:line`` for

* an import of a private module or name of core: ``import blocks._builtins``,
  ``from blocks.x import _y``, ``from fuel._z import w``, or such a dotted path
  in a string (``importlib.import_module("blocks._builtins")``);
* an attribute with a private name (one leading underscore, not a dunder) of
  an object that comes from core: of a name imported from ``blocks``/``fuel``
  (``config._options``), of ``self``/``cls``/``super()`` in a class whose core
  ancestors define that private name (``self._require_init(...)`` in a
  subclass of ``Initializable``, ``self._main_loop`` in a ``TrainingExtension``),
  or of any other object when the name is a private attribute of some core
  class and the plugin defines no attribute of that name itself
  (``rule._buffer_lists`` on a step rule held in a variable);
* the same through ``getattr``/``setattr``/``hasattr``/``delattr`` with a
  literal name.

Private names of third-party libraries (``torch._foreach_mul_``, which
``torch.optim`` itself uses and has no public spelling) are not core's
contract and are out of scope. The same scan keeps ``blocks`` off ``fuel``'s
private names (``fuel`` is the lower layer and never imports ``blocks``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE_SRC = ROOT / "packages" / "core" / "src"
PLUGIN_SOURCES = sorted(p for p in (ROOT / "packages").glob("*/src") if p.parent.name != "core")

# Findings that are allowed, as "relative/path.py:name" (no line numbers: they move). Each entry needs a
# comment saying why no public spelling can exist. Empty: every use found so far had a public replacement.
ALLOWED: frozenset[str] = frozenset()


def _is_private(name: str) -> bool:
    """One leading underscore (``_x``, ``__x``), not a dunder (``__x__``)."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__")) and name != "_"


def _private_module_path(dotted: str, roots: Iterable[str]) -> bool:
    parts = dotted.split(".")
    return parts[0] in roots and any(_is_private(p) for p in parts[1:])


@dataclass
class _Class:
    name: str
    bases: list[str]
    defines: set[str] = field(default_factory=set)


@dataclass
class _Index:
    """What a body of source defines: its classes (by simple name) and every private attribute name."""

    classes: dict[str, list[_Class]] = field(default_factory=dict)
    attributes: set[str] = field(default_factory=set)

    def ancestors(self, name: str, seen: set[str] | None = None) -> Iterator[_Class]:
        """The classes called ``name`` here and, recursively, their bases defined here."""
        seen = set() if seen is None else seen
        if name in seen:
            return
        seen.add(name)
        for cls in self.classes.get(name, []):
            yield cls
            for base in cls.bases:
                yield from self.ancestors(base, seen)


def _base_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Subscript):  # Generic[T], Base[int]
        node = node.value
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _self_assignments(cls: ast.ClassDef) -> Iterator[str]:
    for node in ast.walk(cls):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            for leaf in ast.walk(target):
                if isinstance(leaf, ast.Attribute) and isinstance(leaf.value, ast.Name) and leaf.value.id in (
                    "self",
                    "cls",
                ):
                    yield leaf.attr


def _class_body_names(cls: ast.ClassDef) -> Iterator[str]:
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                yield from (leaf.id for leaf in ast.walk(target) if isinstance(leaf, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            yield node.target.id


def _module_names(tree: ast.Module) -> Iterator[str]:
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                yield from (leaf.id for leaf in ast.walk(target) if isinstance(leaf, ast.Name))


def _parse(files: Iterable[Path]) -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(), filename=str(path)) for path in files}


def _index(trees: Iterable[ast.Module], module_names: bool) -> _Index:
    """Classes and private attribute names; with ``module_names``, private module-level names count as ours too."""
    index = _Index()
    for tree in trees:
        if module_names:
            index.attributes.update(n for n in _module_names(tree) if _is_private(n))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                defines = {n for n in (*_class_body_names(node), *_self_assignments(node)) if _is_private(n)}
                bases = [b for b in map(_base_name, node.bases) if b]
                index.classes.setdefault(node.name, []).append(_Class(node.name, bases, defines))
                index.attributes.update(defines)
    return index


@dataclass
class _Finding:
    path: Path
    line: int
    name: str
    why: str

    def key(self, base: Path) -> str:
        return f"{self.path.relative_to(base).as_posix()}:{self.name}"

    def render(self, base: Path) -> str:
        return f"{self.path.relative_to(base).as_posix()}:{self.line}: {self.name} ({self.why})"


_ATTRIBUTE_FUNCTIONS = {"getattr", "setattr", "hasattr", "delattr"}


class _Scanner(ast.NodeVisitor):
    """Private names of ``provider`` (root packages, their index) used in one consumer module."""

    def __init__(self, path: Path, roots: tuple[str, ...], provider: _Index, consumer: _Index) -> None:
        self.path = path
        self.roots = roots
        self.provider = provider
        self.consumer = consumer
        self.bound: dict[str, str] = {}  # local name bound to a provider module or object -> its own name
        self.classes: list[ast.ClassDef] = []
        self.findings: list[_Finding] = []

    def _flag(self, node: ast.AST, name: str, why: str) -> None:
        self.findings.append(_Finding(self.path, getattr(node, "lineno", 0), name, why))

    # imports ---------------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] in self.roots:
                if _private_module_path(alias.name, self.roots):
                    self._flag(node, alias.name, "private module of core")
                local = alias.asname or alias.name.split(".")[0]
                self.bound[local] = alias.name.split(".")[-1] if alias.asname else local

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or module.split(".")[0] not in self.roots:
            return
        if _private_module_path(module, self.roots):
            self._flag(node, module, "private module of core")
        for alias in node.names:
            if _is_private(alias.name):
                self._flag(node, f"{module}.{alias.name}", "private name of core")
            self.bound[alias.asname or alias.name] = alias.name

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            dotted = node.value.split(":")[0]
            if dotted.replace(".", "").replace("_", "").isalnum() and _private_module_path(dotted, self.roots):
                self._flag(node, dotted, "private module of core named in a string")

    # attributes ------------------------------------------------------------------------------------
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.classes.append(node)
        self.generic_visit(node)
        self.classes.pop()

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._check(node, node.value, node.attr)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in _ATTRIBUTE_FUNCTIONS
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            self._check(node, node.args[0], node.args[1].value)
        self.generic_visit(node)

    def _check(self, node: ast.AST, owner: ast.expr, name: str) -> None:
        if not _is_private(name):
            return
        root = owner
        while isinstance(root, (ast.Attribute, ast.Subscript, ast.Call)):
            root = root.func if isinstance(root, ast.Call) else root.value
        if isinstance(root, ast.Name) and root.id in self.bound:
            self._flag(node, name, f"private attribute of {ast.unparse(owner)}, which comes from core")
        elif self._is_self(owner) and self.classes:
            self._check_own_class(node, name)
        elif name in self.provider.attributes and name not in self.consumer.attributes:
            self._flag(node, name, "private attribute of a core class")

    @staticmethod
    def _is_self(owner: ast.expr) -> bool:
        if isinstance(owner, ast.Name):
            return owner.id in ("self", "cls")
        if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name):
            return owner.func.id == "super" or (
                owner.func.id == "type" and len(owner.args) == 1 and _Scanner._is_self(owner.args[0])
            )
        return False

    def _check_own_class(self, node: ast.AST, name: str) -> None:
        """``self._x`` is core's when a core ancestor of the class defines it (even if the plugin assigns it too)."""
        ours = list(self.consumer.ancestors(self.classes[-1].name))
        outside = {base for cls in ours for base in cls.bases if base not in self.consumer.classes}
        for base in sorted(outside):
            for ancestor in self.provider.ancestors(self.bound.get(base, base)):
                if name in ancestor.defines:
                    self._flag(node, name, f"private attribute of core's {ancestor.name}")
                    return


def _sources(base: Path, packages: Iterable[str] | None = None) -> list[Path]:
    tops = [base / p for p in packages] if packages else [p for p in base.iterdir() if p.is_dir()]
    return sorted(path for top in tops for path in top.rglob("*.py"))


def scan(consumer_files: list[Path], provider_files: list[Path], roots: tuple[str, ...]) -> list[_Finding]:
    """Every use, in ``consumer_files``, of a private name of the packages ``roots`` (``provider_files``)."""
    provider = _index(_parse(provider_files).values(), module_names=False)
    trees = _parse(consumer_files)
    consumer = _index(trees.values(), module_names=True)
    findings: list[_Finding] = []
    for path, tree in trees.items():
        scanner = _Scanner(path, roots, provider, consumer)
        scanner.visit(tree)
        findings.extend(scanner.findings)
    return findings


def _report(findings: list[_Finding], base: Path) -> list[str]:
    return [f.render(base) for f in findings if f.key(base) not in ALLOWED]


@pytest.mark.parametrize("source", PLUGIN_SOURCES, ids=lambda p: p.parent.name)
def test_plugins_use_only_public_names_of_core(source):
    findings = scan(_sources(source), _sources(CORE_SRC, ["blocks", "fuel"]), ("blocks", "fuel"))
    bad = _report(findings, ROOT)
    assert not bad, "plugins must use only core's public names; found:\n" + "\n".join(bad)


def test_blocks_uses_only_public_names_of_fuel():
    findings = scan(_sources(CORE_SRC, ["blocks"]), _sources(CORE_SRC, ["fuel"]), ("fuel",))
    bad = _report(findings, ROOT)
    assert not bad, "blocks must use only fuel's public names; found:\n" + "\n".join(bad)


def test_rendered_templates_use_only_public_names_of_core(tmp_path):
    """What ``blocks new-plugin`` gives a third-party author starts on the public contract."""
    from blocks.cli.new_plugin import KINDS, render_plugin

    out = render_plugin("blocks-scan", tmp_path / "blocks-scan", kinds=list(KINDS))
    findings = scan(sorted(out.rglob("*.py")), _sources(CORE_SRC, ["blocks", "fuel"]), ("blocks", "fuel"))
    bad = [f.render(tmp_path) for f in findings]
    assert not bad, "the plugin template must use only core's public names; found:\n" + "\n".join(bad)


# The scanner itself, on small sources: it catches each way of reaching a private name, and only those.
_CORE = {
    "blocks/__init__.py": "",
    "blocks/_hidden.py": "def helper(): pass\n",
    "blocks/base.py": """
class Base:
    def __init__(self):
        self._state = 1
        self.public = 2
    def _helper(self):
        pass
class Child(Base):
    _flag = True
""",
    "fuel/__init__.py": "",
    "fuel/config.py": "def _parse(value):\n    return value\n",
}

_CAUGHT = {
    "private module": "import blocks._hidden\n",
    "private module, from": "from blocks._hidden import helper\n",
    "private name": "from fuel.config import _parse\n",
    "private module in a string": "import importlib\nimportlib.import_module('blocks._hidden')\n",
    "attribute of an imported module": "from fuel import config\nconfig._parse(1)\n",
    "inherited method on self": "from blocks.base import Base\nclass Mine(Base):\n    def f(self):\n"
    "        self._helper()\n",
    "inherited state, through an alias and a subclass of ours": (
        "from blocks.base import Child as C\nclass A(C):\n    pass\nclass B(A):\n    def f(self):\n"
        "        return self._state\n"
    ),
    "assigning core's private on self": "from blocks.base import Base\nclass Mine(Base):\n"
    "    def f(self):\n        self._state = 3\n",
    "super()": "from blocks.base import Base\nclass Mine(Base):\n    def f(self):\n        super()._helper()\n",
    "class attribute through cls": "from blocks import base\nclass Mine(base.Child):\n"
    "    @classmethod\n    def f(cls):\n        return cls._flag\n",
    "another object": "def f(rule):\n    return rule._state\n",
    "getattr with a literal": "def f(rule):\n    return getattr(rule, '_helper')\n",
}

_CLEAN = {
    "public names": "from blocks.base import Base\nclass Mine(Base):\n    def f(self):\n        return self.public\n",
    "our own private state": "class Mine:\n    def __init__(self):\n        self._state = 0\n    def f(self):\n"
    "        return self._state\n",
    "our own private name on another object": "class Mine:\n    _flag = 1\ndef f(x):\n    return x._flag\n",
    "a third party's private name": "import torch\ntorch._foreach_mul_([], 2.0)\n",
    "dunders": "from blocks.base import Base\nclass Mine(Base):\n    def f(self):\n        return self.__dict__\n",
    "our own private modules": "from blocks_scan._impl import _thing\n",
}


def _scan_snippet(tmp_path, code: str) -> list[str]:
    for relative, text in _CORE.items():
        path = tmp_path / "core" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    plugin = tmp_path / "plugin" / "mine.py"
    plugin.parent.mkdir(parents=True, exist_ok=True)
    plugin.write_text(code)
    return [f.render(tmp_path) for f in scan([plugin], _sources(tmp_path / "core"), ("blocks", "fuel"))]


@pytest.mark.parametrize("code", _CAUGHT.values(), ids=_CAUGHT.keys())
def test_the_scan_catches(tmp_path, code):
    found = _scan_snippet(tmp_path, code)
    assert found and all(line.startswith("plugin/mine.py:") for line in found), found


@pytest.mark.parametrize("code", _CLEAN.values(), ids=_CLEAN.keys())
def test_the_scan_allows(tmp_path, code):
    assert _scan_snippet(tmp_path, code) == []
