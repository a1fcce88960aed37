"""Loggers that cost nothing until something is logged.

Importing `logging` takes a few milliseconds, and a clean pre-commit run never logs: modules
on that path ask for their logger only when they have something to say.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

__all__ = ["logger"]


def logger(name: str) -> logging.Logger:
    """`logging.getLogger(name)`, with `logging` imported on first use."""
    import logging

    return logging.getLogger(name)
