"""A JSON lender file read as a stream, in constant memory: its top level and its record lists
one record at a time, however large the file (a million cases is about 3.5 GB of JSON).

The text is decoded a window at a time and each value is parsed by the standard library's C
decoder (`json.JSONDecoder.raw_decode`, which says where the value ends); the object around the
record lists is walked here. What the whole-file reader refused is refused here too, with the
line and column in the file: bytes that are not UTF-8, NaN or Infinity, anything that is not
JSON. A key given twice at the top level is refused (a whole-file reader would keep the last).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from api.services.exceptions import InvalidInput

WINDOW = 1024 * 1024  # bytes decoded at a time (at least)
MAX_VALUE = 256 * 1024 * 1024  # characters one record (or top-level value) may take
_SPACE = " \t\n\r"


class MalformedFile(InvalidInput):
    """The bytes are not readable as the declared format at all."""

    status = 400
    code = "malformed_file"


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)

# What `walk` yields: ("key", name, value) for a top-level value that is not a record list;
# for a record list ("list", name, None), then ("item", name, record) for each record; in the
# order of the file.
Event = tuple[str, str, Any]


class _Text:
    """The file's text, a window at a time, with where in the file each position lies."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.text, self.pos = "", 0
        self.bytes_read = 0
        self.eof = False
        self.line, self.column = 1, 1  # of text[0] in the file

    def more(self) -> bool:
        """Drop what was read and add the next window; False at the end of the file."""
        if self.eof:
            return False
        done = self.text[:self.pos]
        newlines = done.count("\n")
        self.line += newlines
        self.column = len(done) - done.rfind("\n") if newlines else self.column + len(done)
        # a value longer than the window doubles it: reading it again costs O(its length)
        block = self.stream.read(max(WINDOW, len(self.text) - self.pos))
        pending = len(self.decoder.getstate()[0])
        try:
            added = self.decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            byte = self.bytes_read - pending + exc.start
            raise MalformedFile(f"The file is not UTF-8 (byte {byte}).",
                                fields={"file": ["not UTF-8 text"]}) from None
        self.bytes_read += len(block)
        self.eof = not block
        self.text, self.pos = self.text[self.pos:] + added, 0
        return True

    def char(self) -> str:
        """The next character that is not white space ("" at the end), not consumed."""
        while True:
            text, pos = self.text, self.pos
            while pos < len(text) and text[pos] in _SPACE:
                pos += 1
            self.pos = pos
            if pos < len(text) or not self.more():
                return text[pos] if pos < len(text) else ""

    def expect(self, wanted: str, message: str) -> str:
        char = self.char()
        if not char or char not in wanted:
            self.fail(message, self.pos)
        self.pos += 1
        return char

    def value(self) -> Any:
        """The JSON value that starts at the next character, parsed and consumed."""
        self.char()
        last = None
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                # A value cut by the window's end fails near the end; once the window grows,
                # it parses, or fails further on. The same failure twice is in the file (a
                # string longer than the window fails at its start until its end is read).
                failure = (exc.msg, exc.pos - self.pos)
                if self.eof or (failure == last and not exc.msg.startswith("Unterminated")):
                    self.fail(exc.msg, exc.pos)
                last = failure
            except (ValueError, RecursionError) as exc:
                raise MalformedFile("The file is not valid JSON.", fields={
                    "file": [str(exc)[:100] or "not valid JSON"]}) from None
            else:
                if end < len(self.text) or self.eof:  # a number at the end may go on
                    self.pos = end
                    return value
            if len(self.text) - self.pos > MAX_VALUE:
                raise MalformedFile(
                    f"A value of the file is longer than {MAX_VALUE // 2**20} MiB "
                    f"(line {self._where(self.pos)[0]}).",
                    fields={"file": ["a record too large"]})
            self.more()

    def _where(self, pos: int) -> tuple[int, int]:
        before = self.text[:pos]
        newlines = before.count("\n")
        if newlines:
            return self.line + newlines, pos - before.rfind("\n")
        return self.line, self.column + pos

    def fail(self, message: str, pos: int):
        line, column = self._where(pos)
        raise MalformedFile(f"The file is not valid JSON: {message} at line {line} column "
                            f"{column}.", fields={"file": ["not valid JSON"]})


def walk(stream: BinaryIO, lists: tuple[str, ...]) -> Iterator[Event]:
    """The events of a JSON file whose top level is an object; each of `lists` that holds a
    list is given record by record. A top level that is not an object is one ("key", "", value)
    event; `MalformedFile` for what is not JSON."""
    text = _Text(stream)
    if text.char() == "":
        raise MalformedFile("The file is empty.", fields={"file": ["is empty"]})
    if text.char() != "{":
        yield "key", "", text.value()
        if text.char() != "":
            text.fail("Extra data", text.pos)
        return
    text.pos += 1
    seen: set[str] = set()
    if text.char() == "}":
        text.pos += 1
    else:
        while True:
            if text.char() != '"':
                text.fail("Expecting property name enclosed in double quotes", text.pos)
            key = text.value()
            if key in seen:
                raise InvalidInput(f"The file gives {key!r} twice.",
                                   fields={key: ["given twice"]})
            seen.add(key)
            text.expect(":", "Expecting ':' delimiter")
            if key in lists and text.char() == "[":
                yield from _items(text, key)
            else:
                yield "key", key, text.value()
            if text.expect(",}", "Expecting ',' delimiter") == "}":
                break
    if text.char() != "":
        text.fail("Extra data", text.pos)


def _items(text: _Text, name: str) -> Iterator[Event]:
    yield "list", name, None
    text.pos += 1  # the "["
    if text.char() == "]":
        text.pos += 1
        return
    while True:
        yield "item", name, text.value()
        if text.expect(",]", "Expecting ',' delimiter") == "]":
            return


class StreamedRecords:
    """One record list of a stored JSON file, read from the file each time it is iterated."""

    def __init__(self, open_file: Callable[[], BinaryIO], name: str, lists: tuple[str, ...]):
        self.open_file, self.name, self.lists = open_file, name, lists

    def __iter__(self) -> Iterator[Any]:
        stream = self.open_file()
        try:
            for event, name, value in walk(stream, self.lists):
                if event == "item" and name == self.name:
                    yield value
        finally:
            stream.close()
