"""The `keyguard` console script and `python -m keyguard`: the CLI in a short-lived process."""

from __future__ import annotations

import contextlib
import gc
import os
import sys

__all__ = ["run"]


def run() -> None:
    """Run the CLI, then end the process without the interpreter's teardown.

    keyguard runs once per commit in a pre-commit hook, where start-up is most of its time.
    Two costs there buy nothing for a process about to exit: garbage collection passes while
    some thousand objects of imported modules are created (none of them garbage), and the
    interpreter's teardown, which frees every module and object one by one. Together they were
    about 15 ms of a 90 ms run. So collection is off while the CLI loads (and what loaded is
    then frozen out of later collections), and the process ends
    with `os._exit` once its output is flushed (the scan has already closed its pool and
    files). Library use (`keyguard.cli.main`, the tests) keeps the normal `sys.exit`.
    """
    gc.disable()
    from keyguard.cli import main

    gc.freeze()  # what the imports made lives as long as the process: never scan it again
    gc.enable()
    try:
        main()
        code = 0
    except SystemExit as done:
        code = _exit_status(done.code)
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe or stream: nothing more can be said.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _exit_status(code: object) -> int:
    """What `sys.exit(code)` would make the process's status (`None` is 0, text goes to stderr)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    run()
