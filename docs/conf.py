"""Sphinx configuration: MyST Markdown + napoleon (NumPy docstrings), built offline."""

from __future__ import annotations

project = "Blocks and Fuel on PyTorch"
author = "The Blocks developers"
copyright = "2026, the Blocks developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "README.md"]
myst_heading_anchors = 3
napoleon_numpy_docstring = True
napoleon_google_docstring = False
autodoc_typehints = "description"
autodoc_mock_imports: list[str] = []
html_theme = "alabaster"
nitpicky = False
suppress_warnings = ["myst.xref_missing"]
