"""``blocks checkpoint info`` and ``blocks continue``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _tamper import rewrite_state_json  # noqa: E402
from _tiny import build_loop  # noqa: E402

from blocks.cli import continue_command as continue_module  # noqa: E402
from blocks.cli.continue_command import RESUME_VARIABLE, continue_command  # noqa: E402
from blocks.cli.main import main  # noqa: E402
from blocks.extensions import Checkpoint, FinishAfter, SimpleExtension  # noqa: E402
from blocks.serialization import save_checkpoint  # noqa: E402

SCRIPT = """
import json, os, sys
sys.path.insert(0, {tests!r})
from _tiny import build_loop
from blocks.extensions import Checkpoint, FinishAfter
out = sys.argv[1]
loop = build_loop([Checkpoint(os.path.join(out, "c.tar")), FinishAfter(after_n_batches=6)])
loop.run()
with open(os.path.join(out, "report.json"), "w") as f:
    json.dump({{"resume": os.environ.get("BLOCKS_RESUME_FROM"), "cwd": os.getcwd(),
               "iterations": loop.status["iterations_done"], "W": loop.model.W.tolist()}}, f)
"""


def test_info_prints_verified_members_and_json(tmp_path, capsys, plugin_host):
    loop = build_loop([FinishAfter(after_n_batches=2)])
    loop.run()
    path = tmp_path / "c.tar"
    save_checkpoint(path, loop)
    assert main(["checkpoint", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "format 1, full" in out and "sha256 verified" in out and "/linear.W" in out
    assert "iterations_done 2, epochs_done 0" in out
    assert main(["checkpoint", "info", "--json", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["status"] == {"iterations_done": 2, "epochs_done": 0}
    assert all(m["verified"] for m in info["members"].values())
    data = bytearray(path.read_bytes())
    data[700] ^= 0xFF
    path.write_bytes(bytes(data))
    assert main(["checkpoint", "info", str(path)]) == 2
    assert "corrupted" in capsys.readouterr().err


def test_continue_command_line(tmp_path, monkeypatch, plugin_host):
    monkeypatch.setattr(sys, "orig_argv", ["python3", "-u", "train.py", "--epochs", "3"])
    monkeypatch.chdir(tmp_path)
    loop = build_loop([FinishAfter(after_n_batches=1)])
    loop.run()
    save_checkpoint("c.tar", loop)
    argv, cwd, env = continue_command("c.tar", force=True)
    assert argv[1:] == ["-u", "train.py", "--epochs", "3"] and os.path.exists(argv[0])
    assert cwd == str(tmp_path) and env[RESUME_VARIABLE] == str(tmp_path / "c.tar")
    assert main(["checkpoint", "info", "c.tar"]) == 0  # written after training finished
    with pytest.raises(ValueError, match=r"written after training finished.*--force"):
        continue_command("c.tar")
    save_checkpoint("p.tar", loop, parameters_only=True)
    with pytest.raises(ValueError, match="parameters checkpoint cannot be continued"):
        continue_command("p.tar")


class Crash(SimpleExtension):
    def __init__(self):
        super().__init__(after_n_batches=4)

    def do(self, which_callback, *args):
        raise RuntimeError("killed")


def test_blocks_continue_reexecutes_and_resumes(tmp_path, monkeypatch):
    """One subprocess: the run is saved in-process as if by the script, then `blocks continue` resumes it."""
    work = tmp_path / "work"
    work.mkdir()
    script = work / "train.py"
    script.write_text(SCRIPT.format(tests=str(HERE)))
    monkeypatch.setattr(sys, "orig_argv", [sys.executable, "train.py", str(tmp_path)])
    monkeypatch.chdir(work)
    first = build_loop([Checkpoint(tmp_path / "c.tar", every_n_batches=2), Crash()])
    with pytest.raises(RuntimeError, match="killed"):
        first.run()  # like a kill right after the checkpoint of iteration 4
    monkeypatch.chdir(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != RESUME_VARIABLE}
    command = [sys.executable, "-m", "blocks.cli.main", "continue", str(tmp_path / "c.tar")]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert refused.returncode == 2, refused.stderr
    assert "train.py" in refused.stderr and "pass --yes" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "report.json").exists()  # nothing ran without confirmation
    result = subprocess.run([*command, "--yes"], env=env, capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "asks to run" in result.stderr and "train.py" in result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["resume"] == str(tmp_path / "c.tar") and report["cwd"] == str(work)
    assert report["iterations"] == 6
    reference = build_loop([FinishAfter(after_n_batches=6)])
    reference.run()
    assert report["W"] == reference.model.W.tolist()


class _Executed(BaseException):  # like the process replacement it stands for, no command's error handling sees it
    pass


def _fake_execve(executed):
    def execve(*args):
        executed.append(args)
        raise _Executed  # the real one never returns

    return execve


def _main_or_exec(argv):
    try:
        return main(argv)
    except _Executed:
        return "executed"


class _Terminal:
    def __init__(self, answer):
        self.answer = answer

    def isatty(self):
        return True

    def readline(self):
        return self.answer


@pytest.fixture
def unfinished(tmp_path, monkeypatch):
    """A checkpoint of a run that did not finish, recording a command line with a space in an argument."""
    monkeypatch.setattr(sys, "orig_argv", ["python3", "train.py", "--note", "two words"])
    monkeypatch.chdir(tmp_path)
    loop = build_loop([FinishAfter(after_n_batches=1)])
    save_checkpoint("c.tar", loop)
    return tmp_path / "c.tar"


@pytest.mark.parametrize(("answer", "runs"), [("y\n", True), ("yes\n", True), ("n\n", False), ("\n", False),
                                              ("", False)])
def test_continue_asks_on_a_terminal_before_running(unfinished, monkeypatch, capsys, answer, runs, plugin_host):
    executed = []
    monkeypatch.setattr(continue_module.os, "execve", _fake_execve(executed))
    monkeypatch.setattr(continue_module.os, "chdir", lambda cwd: None)
    monkeypatch.setattr(sys, "stdin", _Terminal(answer))
    status = _main_or_exec(["continue", str(unfinished)])
    err = capsys.readouterr().err
    assert "asks to run" in err and "train.py --note 'two words'" in err and "trust" in err
    assert status == ("executed" if runs else 1)
    assert bool(executed) is runs
    if runs:
        argv, env = executed[0][1], executed[0][2]
        assert argv[1:] == ["train.py", "--note", "two words"] and env[RESUME_VARIABLE] == str(unfinished)


def test_continue_without_a_terminal_refuses_unless_yes(unfinished, monkeypatch, capsys, plugin_host):
    executed = []
    monkeypatch.setattr(continue_module.os, "execve", _fake_execve(executed))
    monkeypatch.setattr(continue_module.os, "chdir", lambda cwd: None)
    monkeypatch.setattr(sys, "stdin", None)
    assert main(["continue", str(unfinished)]) == 2
    err = capsys.readouterr().err
    assert "without confirmation" in err and "pass --yes" in err and not executed
    assert _main_or_exec(["continue", "--yes", str(unfinished)]) == "executed"
    assert len(executed) == 1 and "asks to run" in capsys.readouterr().err
    assert main(["continue", "--dry-run", str(unfinished)]) == 0
    assert "'two words'" in capsys.readouterr().out and len(executed) == 1


@pytest.mark.parametrize("run", [{"orig_argv": "/bin/sh -c boom"}, {"orig_argv": ["/bin/sh", 3]},
                                 {"argv": ["x"], "executable": ["/bin/sh"]}, {"orig_argv": ["a"], "cwd": 5}])
def test_a_malformed_recorded_command_is_refused(unfinished, run, plugin_host):
    rewrite_state_json(unfinished, lambda doc: doc.__setitem__("run", run))
    with pytest.raises(ValueError, match=r"state.json is malformed: /run/(orig_argv|executable|cwd)"):
        continue_command(str(unfinished))


HOSTILE_WORDS = [
    "train.py\r# looks harmless",  # a carriage return hides what came before it on the terminal
    "x\x1b[2K\x1b[1Ainnocent",  # erase the line, move the cursor up
    "\u202etxt.exe",  # right-to-left override
    "tab\there",
    "quote ' and \\ backslash",
    "nul-free \x7f delete",
    "wide \U0001f600 emoji",  # printable: stays as it is
]


@pytest.mark.parametrize("word", HOSTILE_WORDS)
def test_the_command_shown_escapes_what_a_terminal_would_hide_and_the_shell_reads_back(word):
    description = continue_module.describe_command(["/usr/bin/python3", word], f"/runs/{word}",
                                                   {RESUME_VARIABLE: "/runs/c.tar"})
    assert all(char.isprintable() or char == "\n" for char in description)  # the two lines, nothing hidden
    assert "\x1b" not in description and "\r" not in description and "\u202e" not in description
    shown = continue_module.shell_word(word)
    if not word.isprintable():
        assert shown.startswith("$'")
    # the shown word is the word: bash reads it back exactly (copy-paste runs what the checkpoint holds)
    echoed = subprocess.run(["bash", "-c", f"printf %s {shown}"], capture_output=True, check=True).stdout
    assert echoed.decode("utf-8", "surrogateescape") == word
