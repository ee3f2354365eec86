"""docs/migration.md has a row for every step rule, with Blocks' meaning of its hyper-parameters and ours."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import blocks_step_rules
from blocks.algorithms import StepRule

ROOT = Path(__file__).resolve().parents[1]
HEADING = "### Hyper-parameters of step rules and bricks: Blocks' meaning and ours"


def _section() -> str:
    text = (ROOT / "docs" / "migration.md").read_text()
    assert HEADING in text, "the conventions table is missing from docs/migration.md"
    section = text.split(HEADING, 1)[1]
    return re.split(r"\n#{1,3} ", section, maxsplit=1)[0]


def test_every_step_rule_and_the_recurrent_bricks_have_a_row():
    rows = [line for line in _section().splitlines() if line.startswith("| `")]
    assert all(line.count(" | ") >= 3 for line in rows), "each row: hyper-parameter | Blocks | here | what we do"
    named = " ".join(line.split(" | ")[0] for line in rows)
    rules = [name for name in blocks_step_rules.__all__
             if inspect.isclass(getattr(blocks_step_rules, name)) and issubclass(getattr(blocks_step_rules, name),
                                                                                 StepRule)]
    missing = [name for name in rules + ["Scale", "GatedRecurrent", "LSTM", "BatchNormalization", "apply_dropout"]
               if f"`{name}" not in named and f" {name}" not in named]
    assert not missing, f"no row for {missing}"
    adam = next(line for line in rows if line.startswith("| `Adam(beta1, beta2)`"))
    assert "beta2 < 0.5" in adam and "beta1 = 0" in adam
