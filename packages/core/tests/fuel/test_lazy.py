"""fuel.utils.lazy: one table drives a package's lazy attributes, __dir__, __all__ and registration."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from fuel.utils.lazy import Export, Exports


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package ``lazypkg`` with two modules, whose __init__ is driven by an Exports table."""
    root = tmp_path / "lazypkg"
    root.mkdir()
    (root / "__init__.py").write_text(textwrap.dedent('''
        from fuel.utils.lazy import Exports
        __version__ = "1.0"
        EXPORTS = Exports(__name__, [
            ("Rule", ".rules", "step_rules", "my_rule"),
            ("helper", ".rules"),
            ("Data", ".data", "datasets", "my_data", {"download": ".data:fill", "description": "tiny"}),
        ], eager=["__version__"])
        __getattr__, __dir__, __all__ = EXPORTS.module_attributes()
    '''))
    (root / "rules.py").write_text("IMPORTED = True\nclass Rule: pass\ndef helper(): return 'help'\n")
    (root / "data.py").write_text("class Data: pass\ndef fill(subparser): return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "lazypkg"
    for name in [m for m in sys.modules if m == "lazypkg" or m.startswith("lazypkg.")]:
        del sys.modules[name]


def test_names_are_imported_on_first_use_and_cached(package):
    import lazypkg

    assert "lazypkg.rules" not in sys.modules
    assert lazypkg.helper() == "help"
    assert "lazypkg.rules" in sys.modules and "lazypkg.data" not in sys.modules
    assert "helper" in vars(lazypkg)  # cached: __getattr__ is not called again
    from lazypkg import Rule

    assert Rule.__module__ == "lazypkg.rules"


def test_all_and_dir_come_from_the_table(package):
    import lazypkg

    assert lazypkg.__all__ == ["Data", "Rule", "__version__", "helper"]
    assert {"Data", "Rule", "helper", "__version__", "EXPORTS"} <= set(dir(lazypkg))
    namespace: dict = {}
    exec("from lazypkg import *", namespace)  # noqa: S102
    assert {"Data", "Rule", "helper", "__version__"} <= set(namespace)


def test_unknown_name_is_an_attribute_error(package):
    import lazypkg

    with pytest.raises(AttributeError, match="module 'lazypkg' has no attribute 'Rules'"):
        lazypkg.Rules  # noqa: B018
    assert not hasattr(lazypkg, "nothing")


def test_registration_passes_lazy_references_with_absolute_metadata(package):
    import lazypkg

    calls = []
    lazypkg.EXPORTS.register("datasets", lambda name, obj, **meta: calls.append((name, obj, meta)))
    assert calls == [("my_data", "lazypkg.data:Data", {"download": "lazypkg.data:fill", "description": "tiny"})]
    calls.clear()
    lazypkg.EXPORTS.register("step_rules", lambda name, obj, **meta: calls.append((name, obj)))
    assert calls == [("my_rule", "lazypkg.rules:Rule")]
    assert lazypkg.EXPORTS.kinds() == ["datasets", "step_rules"]
    assert "lazypkg.rules" not in sys.modules and "lazypkg.data" not in sys.modules  # registering imports nothing


def test_fallback_answers_names_outside_the_table():
    exports = Exports("demo", [("sqrt", "math")], fallback=lambda name: f"old {name}")
    assert exports.attribute("Old") == "old Old"


@pytest.mark.parametrize("rows, message", [
    ([("A", "math"), ("A", "math")], "listed twice"),
    ([("A", "math", "step_rules")], r"\(attribute, module\[, kind, name"),
    ([("A", "math", "step_rules", None)], "both a registry kind and a name"),
    ([("A", "math", "step_rules", "a"), ("B", "math", "step_rules", "a")], "given to both 'A' and 'B'"),
])
def test_malformed_tables_are_refused(rows, message):
    with pytest.raises(ValueError, match=message):
        Exports("demo", rows)


def test_export_objects_and_tuples_mix():
    exports = Exports("demo", [Export("sqrt", "math"), ("pi", "math")])
    assert exports.all == ["pi", "sqrt"] and exports.attribute("pi") > 3


def test_fuel_utils_imports_none_of_its_modules():
    probe = "import sys, fuel.utils; print(sorted(m for m in sys.modules if m.startswith('fuel.utils.')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['fuel.utils.lazy']"
