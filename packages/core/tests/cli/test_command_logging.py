"""A command called in-process configures logging only while it runs.

Before: ``fuel_download.main([...])`` (as the quickstart and the tutorials call it) ran
``logging.basicConfig(level=INFO)``, so every INFO record of every library printed for the rest of the
calling program (the checkpoints' two INFO lines per save broke the quickstart's progress bar).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import logging, sys
    from blocks.cli import fuel_info, main as blocks_main
    {configure}
    during = []
    class Spy(logging.Handler):
        def emit(self, record):
            during.append(record.getMessage())
    blocks_main.main(["plugins"])
    fuel_info.main([sys.argv[1]])
    logging.getLogger("another.library").info("INFO AFTER THE COMMAND")
    print("handlers", len(logging.getLogger().handlers), "level", logging.getLogger().level)
    """
)


def _run(tmp_path, configure=""):
    script = tmp_path / "caller.py"
    script.write_text(SCRIPT.format(configure=configure))
    missing = tmp_path / "missing.hdf5"
    return subprocess.run([sys.executable, str(script), str(missing)], capture_output=True, text=True, timeout=120)


def test_an_in_process_command_leaves_logging_as_it_found_it(tmp_path):
    result = _run(tmp_path)
    assert "INFO AFTER THE COMMAND" not in result.stderr
    assert "handlers 0 level 30" in result.stdout  # unconfigured, WARNING: Python's defaults
    assert "missing.hdf5" in result.stderr  # the command's own error still shows


def test_a_program_that_configured_logging_keeps_its_configuration(tmp_path):
    result = _run(tmp_path, configure="logging.basicConfig(level=logging.INFO)")
    assert "INFO AFTER THE COMMAND" in result.stderr
    assert "handlers 1 level 20" in result.stdout
