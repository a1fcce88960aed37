"""Run keyguard as `python -m keyguard`."""

from __future__ import annotations

from keyguard.cli import main

if __name__ == "__main__":
    main()
