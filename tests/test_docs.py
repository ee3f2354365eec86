"""The documentation tells the truth.

* Every hook of ``blocks.hookspecs`` appears in ``docs/reference/hooks.md``
  with its exact signature, and nothing else does.
* Every ``python`` code block in ``docs/`` runs (blocks of one page share a
  namespace, like a tutorial read top to bottom). A block preceded by a line
  ``<!-- not-executed: REASON -->`` is skipped; the reason must say why (a GPU,
  several processes) and the page must say so in visible text too. A block
  whose reason is ``needs a CUDA device`` does run where torch sees one.
* A block preceded by ``<!-- file: DIST/PATH -->`` is a file of an example
  plugin, and one preceded by ``<!-- installed: DIST -->`` uses that plugin:
  ``tests/test_template.py`` installs the plugin and runs those blocks.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

import fuel
from blocks import hookspecs
from blocks.config import config as blocks_config

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(
    r"(?P<marker><!-- (?P<tag>not-executed|file|installed): (?P<reason>[^>]*) -->\s*\n)?```python\n(?P<code>.*?)```",
    re.S,
)


def _hooks() -> dict[str, str]:
    out = {}
    for name, func in vars(hookspecs).items():
        if callable(func) and hasattr(func, "blocks_spec"):
            params = ", ".join(inspect.signature(func).parameters)
            out[name] = f"{name}({params})"
    return out


def test_every_hook_is_documented_with_its_signature():
    text = (DOCS / "reference" / "hooks.md").read_text()
    documented = set(re.findall(r"^## (\w+\(.*\))$", text, re.M))
    assert documented == set(_hooks().values())


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _pages() -> list[Path]:
    # design.md records contracts between packages as fragments; every user-facing page runs
    pages = (p for p in DOCS.rglob("*.md") if "_build" not in p.parts and p.name != "design.md")
    return sorted(p for p in pages if FENCE.search(p.read_text()))


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_code_blocks_run(page, tmp_path, monkeypatch, plugin_host, register_plugin):
    # the pages are read with the six packages installed: their registries, not the installed entry points
    for module, distribution in (("blocks_rnn.plugin", "blocks-bricks-rnn"), ("fuel_datasets.plugin", "fuel-datasets"),
                                 ("blocks_step_rules.plugin", "blocks-step-rules"),
                                 ("blocks_extensions.plugin", "blocks-extensions")):
        register_plugin(importlib.import_module(module), module, distribution=distribution)
    if _cuda() and "<!-- not-executed: needs a CUDA device -->" in page.read_text():
        import blocks_cuda.plugin

        register_plugin(blocks_cuda.plugin, "blocks_cuda.plugin", distribution="blocks-gpu-cuda")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__docs__"}
    # Pages set options in code as a reader would (fuel.config.data_path = ...): restore them afterwards.
    configs = [blocks_config, fuel.config]
    saved = [dict(cfg._code) for cfg in configs]
    try:
        for number, match in enumerate(FENCE.finditer(page.read_text()), start=1):
            if match["tag"] in ("file", "installed"):  # a plugin's file, or a use of it: tests/test_template.py
                continue
            if match["marker"]:
                assert match["reason"].strip(), f"{page}: block {number} is skipped without a reason"
                if not (match["reason"].strip() == "needs a CUDA device" and _cuda()):
                    continue
            code = compile(match["code"], f"{page.name}[block {number}]", "exec")
            exec(code, namespace)  # noqa: S102 - the documentation's own examples
    finally:
        for cfg, values in zip(configs, saved):
            cfg._code.clear()
            cfg._code.update(values)


def test_every_stability_rewrite_is_documented():
    from blocks.stability import REWRITES

    text = (DOCS / "guides" / "bricks_and_graph.md").read_text()
    table = re.findall(r"^\| `(\w+)` \|", text, re.M)
    assert table == list(REWRITES)
