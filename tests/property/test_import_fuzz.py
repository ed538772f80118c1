"""Mutated real capture lines and CSV rows: each import is a clean ``file:line`` error or events the log accepts.

Real lines of the BTCUSDT spot capture (hftbacktest) and real Binance trade rows
(GoCryptoTrader's mock), mutated the ways files break: bytes flipped, lines cut,
numbers replaced by NaN, infinities, 1e999, -1, 0 or integers too large for the
log, fields removed or renamed, bytes that are not UTF-8. Every small file goes
into one log. After each import: either it failed with ImportFormatError or
UsageError naming the file (and the line), and only session bookkeeping was
written; or every event it wrote passes ``event_problem``. Either way no session
is left open and ``verify`` is clean. Seeded (``derandomize``), so a failure reproduces.
"""

from __future__ import annotations

import asyncio
import gzip
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import require_data
from tests.integration.test_import_vision import trades_csv
from virtuoso.errors import ImportFormatError, UsageError
from virtuoso.events import Event, event_problem
from virtuoso.importers import import_files
from virtuoso.store import EventFilter, SQLiteEventStore, open_sqlite_store

BTC_0808 = "hftbacktest/examples/spot/btcusdt_20240808.gz"
LINES_PER_FILE = 16
MUTATED_PER_FILE = 8
CAPTURE_FILES = 130  # x 8 mutated lines = 1,040
CSV_FILES = 60  # x 8 mutated rows = 480

BAD_NUMBERS = [
    b"nan", b"NaN", b"inf", b"-inf", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"-1", b"0", b"-0.0",
    b"0.0", b"99999999999999999999999", b"-99999999999999999999999", b"1e-400", b"18446744073709551616",
]  # fmt: skip
NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
FIELD = re.compile(rb'"(\w+)":("[^"]*"|true|false|null|-?[\d.eE+-]+),?')
LIFECYCLE = {"SessionStarted", "SessionEnded", "SessionResumed"}


def _real_capture_lines() -> list[bytes]:
    """Lines of the real capture after its REST snapshot (a 2,000-level line would dwarf the rest)."""
    with gzip.open(require_data(BTC_0808), "rb") as f:
        return [line.rstrip(b"\n") for line in islice(f, 8, 1208)]


# -- mutations ---------------------------------------------------------------------------


def _flip(line: bytes, at: int, mask: int) -> bytes:
    i = at % max(len(line), 1)
    return line[:i] + bytes([line[i] ^ mask]) + line[i + 1 :] if line else line


def _truncate(line: bytes, at: int, _: int) -> bytes:
    return line[: at % max(len(line), 1)]


def _number(line: bytes, at: int, which: int) -> bytes:
    found = list(NUMBER.finditer(line))
    if not found:
        return line
    match = found[at % len(found)]
    return line[: match.start()] + BAD_NUMBERS[which % len(BAD_NUMBERS)] + line[match.end() :]


def _remove_field(line: bytes, at: int, _: int) -> bytes:
    found = list(FIELD.finditer(line))
    if not found:
        return line
    match = found[at % len(found)]
    return line[: match.start()] + line[match.end() :]


def _rename_field(line: bytes, at: int, _: int) -> bytes:
    found = list(FIELD.finditer(line))
    if not found:
        return line
    match = found[at % len(found)]
    return line[: match.start(1)] + match.group(1) + b"x" + line[match.end(1) :]


def _not_utf8(line: bytes, at: int, which: int) -> bytes:
    i = at % max(len(line), 1)
    return line[:i] + [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"][which % 4] + line[i:]


MUTATIONS: list[Callable[[bytes, int, int], bytes]] = [
    _flip, _truncate, _number, _number, _number, _remove_field, _rename_field, _not_utf8,
]  # fmt: skip

mutation = st.tuples(
    st.integers(0, len(MUTATIONS) - 1), st.integers(0, 10_000), st.integers(1, 255), st.integers(0, LINES_PER_FILE - 1)
)


def _mutated(lines: list[bytes], mutations: list[tuple[int, int, int, int]]) -> list[bytes]:
    lines = list(lines)
    for kind, at, extra, row in mutations:
        lines[row] = MUTATIONS[kind](lines[row], at, extra)
    return lines


# -- one import and its checks -------------------------------------------------------------


class _Log:
    """One log for every example; checks each import against it."""

    def __init__(self, runner: asyncio.Runner, store: SQLiteEventStore, folder: Path) -> None:
        self.runner = runner
        self.store = store
        self.folder = folder
        self.count = 0
        self.outcomes = {"imported": 0, "refused": 0}

    def path(self, name: str) -> Path:
        self.count += 1
        return self.folder / f"{self.count:04d}-{name}"

    def check_import(self, fmt: str, path: Path, **options: str) -> None:
        self.runner.run(self._check(fmt, path, **options))

    async def _check(self, fmt: str, path: Path, **options: str) -> None:
        before = await self.store.max_position()
        refused: ImportFormatError | UsageError | None = None
        try:
            await import_files(self.store, fmt, [path], **options)  # type: ignore[arg-type]
        except (ImportFormatError, UsageError) as exc:
            refused = exc
        written = await self._since(before)
        if refused is not None:
            self.outcomes["refused"] += 1
            _check_refusal(refused, path)
            assert {e.type for e in written} <= LIFECYCLE, "nothing of a refused file is stored"
        else:
            self.outcomes["imported"] += 1
            for event in written:
                assert event_problem(event) is None, (event, event_problem(event))
        assert not [s.id for s in await self.store.sessions() if s.status == "open"]
        report = await self.store.verify()
        assert report.ok, report

    async def _since(self, position: int) -> list[Event]:
        return [e async for e in self.store.read(EventFilter(after_position=position))]


def _check_refusal(error: ImportFormatError | UsageError, path: Path) -> None:
    """One line naming the file; an ImportFormatError names its line too."""
    text = str(error)
    assert "\n" not in text
    assert text.startswith(f"{path}"), text
    if isinstance(error, ImportFormatError):
        assert error.path == str(path)
        assert error.line >= 1
        assert text.startswith(f"{path}:{error.line}: ")


@contextmanager
def _log(folder: Path) -> Iterator[_Log]:
    with asyncio.Runner() as runner:
        store = runner.run(open_sqlite_store(folder / "fuzz.sqlite"))
        try:
            yield _Log(runner, store, folder)
        finally:
            runner.run(store.close())


FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_mutated_capture_lines(tmp_path: Path) -> None:
    real = _real_capture_lines()
    with _log(tmp_path) as log:

        @settings(FUZZ, max_examples=CAPTURE_FILES)
        @given(
            start=st.integers(0, len(real) - LINES_PER_FILE),
            mutations=st.lists(mutation, min_size=MUTATED_PER_FILE, max_size=MUTATED_PER_FILE),
            packed=st.booleans(),
        )
        def one_file(start: int, mutations: list[tuple[int, int, int, int]], packed: bool) -> None:
            text = b"\n".join(_mutated(real[start : start + LINES_PER_FILE], mutations)) + b"\n"
            path = log.path("btcusdt_20240808.gz" if packed else "btcusdt_20240808.txt")
            path.write_bytes(gzip.compress(text) if packed else text)
            log.check_import("binance-capture", path)

        one_file()
        assert log.outcomes["refused"] > CAPTURE_FILES // 4, log.outcomes
        assert log.outcomes["imported"] > 0, log.outcomes


def test_mutated_csv_rows(tmp_path: Path) -> None:
    real = [row.encode() for row in trades_csv()]
    with _log(tmp_path) as log:

        @settings(FUZZ, max_examples=CSV_FILES)
        @given(
            start=st.integers(0, len(real) - LINES_PER_FILE),
            mutations=st.lists(mutation, min_size=MUTATED_PER_FILE, max_size=MUTATED_PER_FILE),
        )
        def one_file(start: int, mutations: list[tuple[int, int, int, int]]) -> None:
            path = log.path("BTCUSDT-trades-2020-08-31.csv")
            path.write_bytes(b"\n".join(_mutated(real[start : start + LINES_PER_FILE], mutations)) + b"\n")
            log.check_import("binance-vision", path)

        one_file()
        assert log.outcomes["refused"] > CSV_FILES // 4, log.outcomes


@pytest.mark.parametrize(
    ("row", "what"),
    [
        (b"1,nan,0.5,1,1598850897967,true,true", "price nan"),
        (b"1,-61000.5,0.5,1,1598850897967,true,true", "price -61000.5"),
        (b"1,0,0.5,1,1598850897967,true,true", "price 0.0"),
        (b"1,61000.5,-0.5,1,1598850897967,true,true", "amount -0.5"),
        (b"1,61000.5,1e999,1,1598850897967,true,true", "amount inf"),
        (b"1,61000.5,0.5,1,99999999999999999999999,true,true", "ts_event"),
    ],
)
def test_a_bad_value_names_its_row(tmp_path: Path, row: bytes, what: str) -> None:
    good = trades_csv()[0].encode()
    path = tmp_path / "BTCUSDT-trades-2020-08-31.csv"
    path.write_bytes(good + b"\n" + row + b"\n")
    with _log(tmp_path) as log:
        with pytest.raises(ImportFormatError, match=rf"^{re.escape(str(path))}:2: .*{re.escape(what)}"):
            log.runner.run(import_files(log.store, "binance-vision", [path]))
        assert log.runner.run(log.store.verify()).ok
