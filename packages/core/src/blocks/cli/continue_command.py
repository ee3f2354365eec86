"""``blocks continue PATH [--dry-run] [--yes] [--force]``: resume the run that wrote a checkpoint.

It re-executes the command line recorded in the checkpoint, in its recorded
working directory, with ``BLOCKS_RESUME_FROM=PATH`` in the environment;
``MainLoop.run()`` then resumes from that checkpoint. The command comes from
the file, and the file's hashes prove integrity, not who wrote it: so the
command is shown and run only after a "yes" at the terminal, or with
``--yes``; without a terminal and without ``--yes`` it refuses.

Nothing here imports torch until the command runs.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

__all__ = [
    "RESUME_VARIABLE", "add_parser", "confirm_command", "continue_command", "describe_command", "run", "shell_word",
]

RESUME_VARIABLE = "BLOCKS_RESUME_FROM"


def add_parser(subparsers: Any) -> None:
    """Add ``blocks continue``."""
    parser = subparsers.add_parser(
        "continue",
        help="resume the run that wrote a checkpoint",
        description="Re-run the command line recorded in the checkpoint, in its recorded working directory, "
        f"with {RESUME_VARIABLE}=PATH so that MainLoop.run() resumes from it. The command is read from the file: "
        "it is shown and run only after you confirm it (or with --yes). Continue only checkpoints you trust: "
        "their hashes detect damage, not tampering.",
    )
    parser.add_argument("path", metavar="PATH", help="checkpoint file")
    parser.add_argument("--dry-run", action="store_true", help="print the command and directory, run nothing")
    parser.add_argument("--yes", "-y", action="store_true",
                        help="run the recorded command without asking (scripts; only for checkpoints you trust)")
    parser.add_argument("--force", action="store_true", help="continue even a run that had finished training")
    parser.set_defaults(func=run)


def continue_command(path: str, force: bool = False) -> tuple[list[str], str, dict[str, str]]:
    """The ``(argv, cwd, environment)`` that continues the run which wrote ``path``.

    Raises
    ------
    ValueError
        For a damaged checkpoint, one without a recorded command line, a
        recorded working directory that no longer exists, or (unless
        ``force``) a checkpoint written after training had finished.
    """
    from blocks.serialization import checkpoint_info

    info = checkpoint_info(path)
    run = info.get("run") or {}
    orig = run.get("orig_argv") or ([run.get("executable") or sys.executable, *run["argv"]] if run.get("argv") else [])
    if not orig:
        raise ValueError(f"{path}: the checkpoint records no command line (kind {info['kind']!r}); run your script "
                         f"with {RESUME_VARIABLE}={os.path.abspath(path)} instead")
    if info["kind"] != "full":
        raise ValueError(f"{path}: a {info['kind']} checkpoint cannot be continued; only full checkpoints hold "
                         "the training state")
    if info.get("training_finished") and not force:
        raise ValueError(f"{path}: written after training finished (iteration "
                         f"{info['status'].get('iterations_done')}); nothing to continue (use --force to run anyway)")
    executable = run.get("executable")
    if not executable or not os.path.exists(executable):
        executable = sys.executable
    cwd = run.get("cwd") or os.getcwd()
    if not os.path.isdir(cwd):
        raise ValueError(f"{path}: the recorded working directory {cwd!r} does not exist")
    env = dict(os.environ)
    env[RESUME_VARIABLE] = os.path.abspath(path)
    return [executable, *orig[1:]], cwd, env


def describe_command(argv: list[str], cwd: str, env: dict[str, str]) -> str:
    """The shell lines that :func:`continue_command`'s result stands for (quoted, copy-pastable).

    Examples
    --------
    >>> print(describe_command(["/usr/bin/python3", "train.py", "--lr", "0.1 0.2"], "/runs/a",
    ...                        {RESUME_VARIABLE: "/runs/a/c.tar"}))
    cd /runs/a
    BLOCKS_RESUME_FROM=/runs/a/c.tar /usr/bin/python3 train.py --lr '0.1 0.2'
    """
    words = " ".join(shell_word(word) for word in argv)
    return f"cd {shell_word(cwd)}\n{RESUME_VARIABLE}={shell_word(env[RESUME_VARIABLE])} {words}"


def shell_word(text: str) -> str:
    """``text`` as one shell word that shows every character it holds.

    ``shlex.quote`` keeps control characters as they are, so a recorded
    command holding an escape sequence, a carriage return or a right-to-left
    override would be printed raw and could hide what runs. A word with any
    character that is not printable is written in bash's ``$'...'`` form with
    those characters escaped (``\\x1b``, ``\\r``, ``\\u202e``), which the shell
    reads back as the same word.

    Examples
    --------
    >>> shell_word("a b"), shell_word("x\\x1b[2Ky"), shell_word("\\u202eexe.txt")
    ("'a b'", "$'x\\\\x1b[2Ky'", "$'\\\\u202eexe.txt'")
    """
    if text.isprintable():
        return shlex.quote(text)
    out = []
    for char in text:
        if char == "\\" or char == "'":
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "$'" + "".join(out) + "'"


def confirm_command(path: str, description: str, yes: bool = False) -> bool:
    """Show the command a checkpoint asks to run and return whether to run it.

    ``yes=True`` runs it without asking. Otherwise the question goes to the
    terminal; without one (a pipe, a batch job) nothing is asked and a
    ``ValueError`` explains how to run it anyway.

    Raises
    ------
    ValueError
        When standard input is not a terminal and ``yes`` is false.
    """
    print(f"{path} asks to run:", file=sys.stderr)
    print("  " + description.replace("\n", "\n  "), file=sys.stderr)
    if yes:
        return True
    stdin = sys.stdin
    if stdin is None or not stdin.isatty():
        raise ValueError(
            f"{path}: not running the command recorded in the checkpoint without confirmation, and there is no "
            "terminal to ask on. A checkpoint's hashes prove it is intact, not who wrote it: check the command "
            "above (or with --dry-run) and pass --yes to run it"
        )
    print("The command comes from the checkpoint file; run it only if you trust where the file came from.",
          file=sys.stderr)
    try:
        answer = input("Run it? [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def run(args: Any) -> int:
    """Run ``blocks continue`` (it replaces this process with the recorded command)."""
    argv, cwd, env = continue_command(args.path, force=args.force)
    description = describe_command(argv, cwd, env)
    if args.dry_run:
        print(description)
        return 0
    if not confirm_command(args.path, description, yes=args.yes):
        print("not run", file=sys.stderr)
        return 1
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(cwd)
    if hasattr(os, "execve"):
        os.execve(argv[0], argv, env)  # noqa: S606 - the recorded command line is what the user asked for
    import subprocess  # pragma: no cover - platforms without exec

    return subprocess.call(argv, cwd=cwd, env=env)  # pragma: no cover
