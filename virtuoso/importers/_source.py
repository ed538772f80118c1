"""Input files: hashing, transparent gzip/zip opening, and reading them incrementally.

Compression is recognised by the file's first bytes, not its name. Progress is
measured in bytes of the file *as stored* (compressed bytes for gzip and zip),
which is what the size on disk and an ETA are based on.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

from virtuoso.errors import ImportFormatError, UsageError

_GZIP = b"\x1f\x8b"
_ZIP = b"PK\x03\x04"
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file named on the command line, with its size and content hash."""

    path: Path
    bytes: int
    sha256: str

    @property
    def label(self) -> str:
        """How errors and reports name the file: as it was given."""
        return str(self.path)

    @classmethod
    def of(cls, path: Path) -> SourceFile:
        """Check that ``path`` is a readable file and hash it."""
        if not path.exists():
            raise UsageError(f"{path}: no such file")
        if not path.is_file():
            raise UsageError(f"{path}: not a file")
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as raw:
            while block := raw.read(_HASH_BLOCK):
                digest.update(block)
                size += len(block)
        return cls(path, size, digest.hexdigest())


class Opened:
    """A source opened for reading: decompressed binary lines, and how far into the stored file we are."""

    def __init__(self, raw: IO[bytes], stream: IO[bytes], member: str) -> None:
        self._raw = raw
        self.stream = stream
        self.member = member
        """The name of the file inside a zip archive, else ``""``."""

    def position(self) -> int:
        """Bytes of the stored (possibly compressed) file consumed so far."""
        return self._raw.tell()


@contextmanager
def open_source(source: SourceFile) -> Iterator[Opened]:
    """Open ``source`` for reading, gunzipping or unzipping it as its first bytes say."""
    raw = source.path.open("rb")
    try:
        magic = raw.read(4)
        raw.seek(0)
        if magic.startswith(_GZIP):
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield Opened(raw, unzipped, "")  # type: ignore[arg-type]
        elif magic.startswith(_ZIP):
            with zipfile.ZipFile(raw) as archive, archive.open(_single_member(source, archive)) as member:
                yield Opened(raw, member, member.name)
        else:
            yield Opened(raw, raw, "")
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise UsageError(f"{source.label}: cannot read it ({exc})") from exc
    finally:
        raw.close()


def _single_member(source: SourceFile, archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    files = [info for info in archive.infolist() if not info.is_dir()]
    if len(files) != 1:
        raise UsageError(f"{source.label}: a zip archive must hold exactly one file, not {len(files)}")
    return files[0]


def numbered_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` from 1, line endings removed, blank lines left out."""
    number = 0
    for lines in line_blocks(stream):
        for line in lines:
            number += 1
            stripped = line.rstrip(b"\r")
            if stripped:
                yield number, stripped


_BLOCK = 1 << 20


def line_blocks(stream: IO[bytes]) -> Iterator[list[bytes]]:
    """The lines of ``stream`` (without ``\\n``; a ``\\r`` before it stays) a block at a time.

    Every line is in exactly one list, in order, so line numbers are a running count.
    Splitting a megabyte at once costs far less than reading line by line.
    """
    for text in text_blocks(stream):
        yield text.split(b"\n")


def text_blocks(stream: IO[bytes]) -> Iterator[bytes]:
    """``stream`` in blocks of whole lines, about a megabyte each, without the last ``\\n`` of each block."""
    rest = b""
    while block := stream.read(_BLOCK):
        if rest:
            block = rest + block
        end = block.rfind(b"\n")
        if end < 0:
            rest = block
            continue
        rest = block[end + 1 :]
        yield block[:end]
    if rest:
        yield rest


_READ = 1 << 16
_SPACE = " \t\r\n"
_LONGEST_ITEM = 1 << 20
"""An item that still does not parse with this much text after its start is malformed, not cut off."""


def json_array_items(stream: IO[bytes], label: str) -> Iterator[tuple[int, Any]]:
    """The items of a top-level JSON array, one at a time, each with the line it starts on.

    Reads the text in blocks, so memory holds one block and one item, whatever
    the size of the array.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8")
    try:
        yield from _ArrayReader(text, label)
    finally:
        text.detach()  # the caller owns the stream: the wrapper must not close it


class _ArrayReader:
    """Incremental reader of ``[item, item, ...]`` on a text stream."""

    def __init__(self, text: IO[str], label: str) -> None:
        self._text = text
        self._label = label
        self._buffer = ""
        self._at = 0
        self._mark = 0  # lines are counted up to this index of the buffer
        self._line = 1  # the line number at self._mark
        self._eof = False
        self._decoder = json.JSONDecoder()

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        self._expect("[", "the file must hold one JSON array")
        if self._peek() == "]":
            self._at += 1
            return
        while True:
            yield self._item()
            separator = self._peek()
            self._at += 1
            if separator == "]":
                break
            if separator != ",":
                self._fail(f"expected ',' or ']' after an item, found {separator or 'the end of the file'!r}")
        if self._peek():
            self._fail("text after the end of the array")

    def _item(self) -> tuple[int, Any]:
        self._peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buffer, self._at)
            except json.JSONDecodeError as exc:
                if self._eof or len(self._buffer) - self._at > _LONGEST_ITEM:
                    self._fail(f"invalid JSON: {exc.msg}")
                self._fill()
                continue
            if end == len(self._buffer) and not self._eof:
                self._fill()  # a number may continue in the next block
                continue
            line = self._line_of(self._at)
            self._at = end
            return line, value

    def _peek(self) -> str:
        """The next non-blank character (consumed blanks only), ``""`` at the end."""
        while True:
            while self._at < len(self._buffer) and self._buffer[self._at] in _SPACE:
                self._at += 1
            if self._at < len(self._buffer) or self._eof:
                return self._buffer[self._at : self._at + 1]
            self._fill()

    def _expect(self, char: str, what: str) -> None:
        if self._peek() != char:
            self._fail(what)
        self._at += 1

    def _fill(self) -> None:
        # Drop what was consumed, counting its lines, then append the next block.
        self._line_of(self._at)
        self._buffer = self._buffer[self._at :]
        self._at = self._mark = 0
        try:
            block = self._text.read(_READ)
        except UnicodeDecodeError as exc:
            self._fail(f"not UTF-8 text ({exc.reason}) in the next {_READ:,} characters")
        self._eof = not block
        self._buffer += block

    def _line_of(self, index: int) -> int:
        # Indexes only move forward, so each newline is counted once.
        self._line += self._buffer.count("\n", self._mark, index)
        self._mark = index
        return self._line

    def _fail(self, what: str) -> NoReturn:
        raise ImportFormatError(self._label, self._line_of(self._at), what)


def check_content(source: SourceFile) -> None:
    """Refuse a file that does not decompress to its end (truncated, or a fake archive) or holds nothing.

    Read whole before anything is written, so that a broken file never leaves a
    session behind; decompressing costs a small part of parsing the lines.
    """
    holds_something = False
    with open_source(source) as opened:
        while block := opened.stream.read(_BLOCK):
            holds_something = holds_something or bool(block.strip())
    if not holds_something:
        raise UsageError(f"{source.label}: the file is empty: nothing to import")
