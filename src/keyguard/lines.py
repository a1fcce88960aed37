"""Byte offsets to 1-based line and column numbers, built once per file and only when needed."""

from __future__ import annotations

from bisect import bisect_right

__all__ = ["LineIndex"]


class LineIndex:
    """Map byte offsets of a file to (line, column) and give back whole lines as text.

    Columns count Unicode code points (SARIF's `unicodeCodePoints`), so they are computed by
    decoding the line's prefix; invalid UTF-8 counts one column per undecodable byte, which is
    right for latin-1 files. CRLF files keep correct numbers: only `\\n` ends a line.
    """

    __slots__ = ("_data", "_line_starts")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._line_starts: list[int] | None = None

    @property
    def _starts(self) -> list[int]:
        """Built on first use: most candidate files turn out to have no hit at all."""
        if self._line_starts is None:
            starts = [0]
            position = self._data.find(b"\n")
            while position != -1:
                starts.append(position + 1)
                position = self._data.find(b"\n", position + 1)
            self._line_starts = starts
        return self._line_starts

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def position(self, offset: int) -> tuple[int, int]:
        """(line, column), both 1-based, of the byte at `offset`.

        Until the line table exists, a position is found by counting newlines: a file with one
        or two hits never pays for the table.
        """
        if self._line_starts is None and offset < len(self._data) // 2 + 4096:
            line_start = self._data.rfind(b"\n", 0, offset) + 1
            line = self._data.count(b"\n", 0, line_start) + 1
        else:
            index = bisect_right(self._starts, offset) - 1
            line_start, line = self._starts[index], index + 1
        prefix = self._data[line_start:offset]
        return line, len(prefix.decode("utf-8", "replace")) + 1

    def line_bytes(self, line: int) -> bytes:
        """The raw bytes of a 1-based line, without its line ending."""
        if not 1 <= line <= len(self._starts):
            return b""
        start = self._starts[line - 1]
        end = self._starts[line] - 1 if line < len(self._starts) else len(self._data)
        return self._data[start:end].rstrip(b"\r")

    def line_text(self, line: int) -> str:
        """A 1-based line decoded for display (undecodable bytes replaced)."""
        if not 1 <= line <= len(self._starts):
            return ""
        return self.line_bytes(line).decode("utf-8", "replace")
