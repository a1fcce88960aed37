"""keyguard: find hard-coded API keys, OAuth client secrets and plain-http endpoints in code."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
