"""Byte offsets to 1-based line and column numbers, built once per file and only when needed."""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

__all__ = ["LineIndex"]

FEW_POSITIONS = 4
_ONE = 1
EXCERPT_WIDTH = 240  # characters of a long line kept around a finding


class LineIndex:
    """Map byte offsets of a file to (line, column) and give back whole lines as text.

    Columns count Unicode code points (SARIF's `unicodeCodePoints`), so they are computed by
    decoding the line's prefix; invalid UTF-8 counts one column per undecodable byte, which is
    right for latin-1 files. CRLF files keep correct numbers: only `\\n` ends a line.
    """

    __slots__ = ("_calls", "_data", "_last", "_line_starts", "_texts")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._line_starts: list[int] | None = None
        self._calls = 0
        # (line start, offset, column) of the last answer: hits come in order, and on a long
        # minified line each column is then decoded from the previous one, not from the start.
        self._last = (-1, -1, 0)
        self._texts: dict[int, str] = {}

    @property
    def _starts(self) -> list[int]:
        """Built on first use: most candidate files turn out to have no hit at all."""
        if self._line_starts is None:
            # Each line starts one byte after the previous line's end: C loops, no Python one.
            lengths = map(len, self._data.split(b"\n"))
            starts = list(accumulate(map(_ONE.__add__, lengths), initial=0))
            starts.pop()  # the offset past the end of the last line
            self._line_starts = starts
        return self._line_starts

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def position(self, offset: int) -> tuple[int, int]:
        """(line, column), both 1-based, of the byte at `offset`.

        The first few positions are found by counting newlines, so a file with one or two hits
        never pays for the line table; after that the table answers in log time.
        """
        self._calls += 1
        if self._line_starts is None and self._calls <= FEW_POSITIONS:
            line_start = self._data.rfind(b"\n", 0, offset) + 1
            line = self._data.count(b"\n", 0, line_start) + 1
        else:
            index = bisect_right(self._starts, offset) - 1
            line_start, line = self._starts[index], index + 1
        last_start, last_offset, last_column = self._last
        if last_start == line_start and last_offset <= offset:
            begin, column = last_offset, last_column
        else:
            begin, column = line_start, 1
        column += len(self._data[begin:offset].decode("utf-8", "replace"))
        self._last = (line_start, offset, column)
        return line, column

    def offset(self, line: int, column: int) -> int:
        """The byte offset of a 1-based (line, column): the inverse of `position`.

        Columns count code points of the line decoded as `position` decodes it, so the length
        of the prefix is searched for rather than re-encoded (undecodable bytes would differ).
        """
        line = max(1, min(line, len(self._starts)))
        raw = self.line_bytes(line)
        low, high = 0, len(raw) + 1
        while low < high:  # the shortest prefix that decodes to more than column - 1 characters
            middle = (low + high) // 2
            if len(raw[:middle].decode("utf-8", "replace")) <= column - 1:
                low = middle + 1
            else:
                high = middle
        return self._starts[line - 1] + low - 1

    def line_bytes(self, line: int) -> bytes:
        """The raw bytes of a 1-based line, without its line ending."""
        if not 1 <= line <= len(self._starts):
            return b""
        start = self._starts[line - 1]
        end = self._starts[line] - 1 if line < len(self._starts) else len(self._data)
        return self._data[start:end].rstrip(b"\r")

    def line_text(self, line: int) -> str:
        """A 1-based line decoded for display (undecodable bytes replaced), decoded once."""
        text = self._texts.get(line)
        if text is None:
            in_range = 1 <= line <= len(self._starts)
            text = self.line_bytes(line).decode("utf-8", "replace") if in_range else ""
            self._texts[line] = text
        return text

    def excerpt(self, line: int, column: int, end_column: int | None = None) -> str:
        """The line around a span: all of it when short, a window of it on a minified line."""
        text = self.line_text(line)
        if len(text) <= EXCERPT_WIDTH:
            return text
        start = max(0, column - 1 - EXCERPT_WIDTH // 3)
        stop = max(start + EXCERPT_WIDTH, (end_column or column) - 1 + EXCERPT_WIDTH // 3)
        head = "…" if start else ""
        tail = "…" if stop < len(text) else ""
        return f"{head}{text[start:stop]}{tail}"
