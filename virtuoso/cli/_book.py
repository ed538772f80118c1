"""``virtuoso book``: the order book of a recorded session at any time, and its checkpoints.

``virtuoso book --db PATH --session ID --symbol SYMBOL --at TIME`` prints the book;
``virtuoso book checkpoint --db PATH --session ID`` writes the checkpoints that make
that fast. See ``docs/book.md`` for what "the book at a time" means.
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from itertools import zip_longest
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from virtuoso.book import (
    DEFAULT_CHECKPOINT_EVERY,
    BookState,
    CheckpointReport,
    SyncRule,
    book_at,
    find_book_stream,
    write_checkpoints,
)
from virtuoso.cli._app import fail, out_console, print_json, run, time_option
from virtuoso.cli._sessions import existing_log, iso, opened
from virtuoso.cli._tables import print_table

book_app = typer.Typer(
    name="book",
    help=(
        "Print the order book of a session at an exchange time; `book checkpoint` makes it fast.\n\n"
        "virtuoso book --db PATH --session ID --symbol SYMBOL --at TIME"
    ),
    invoke_without_command=True,
    add_completion=False,
)

DbOption = Annotated[Path | None, typer.Option("--db", help="The SQLite event log (never created).")]
SessionOption = Annotated[
    str | None, typer.Option("--session", help="Session id, or a unique prefix of at least 4 characters.")
]
RuleOption = Annotated[
    SyncRule | None,
    typer.Option("--rule", help="The delta sync rule, when the exchange does not say it (binance: spot)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _required(**options: str | None) -> list[str]:
    """The values of ``options``; a one-line usage error (exit 2) naming those missing."""
    missing = [f"--{name}" for name, value in options.items() if value is None]
    if missing:
        raise fail(f"missing option {', '.join(missing)}", code=2)
    return [value for value in options.values() if value is not None]


@book_app.callback()
def book(
    ctx: typer.Context,
    *,
    db: DbOption = None,
    session: SessionOption = None,
    symbol: Annotated[
        str | None, typer.Option("--symbol", help="ccxt symbol (BTC/USDT, BTC/USDT:USDT) or, if unambiguous, BTCUSDT.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="ISO 8601 UTC time, or epoch time with a unit (1723161540s); a bare 13-digit number is ms."
        ),
    ] = None,
    depth: Annotated[int, typer.Option("--depth", min=0, help="Levels per side; 0 for all.")] = 10,
    rule: RuleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the order book of SYMBOL in a session at exchange time TIME, with the update id it reflects."""
    if ctx.invoked_subcommand is not None:
        return
    db_text, session_id, symbol_name, at_text = _required(
        db=None if db is None else str(db), session=session, symbol=symbol, at=at
    )
    at_ns = time_option(at_text, "--at")
    path = existing_log(Path(db_text))

    async def work() -> BookState:
        async with opened(path, readonly=True) as store:
            info = await store.session(session_id)
            stream = find_book_stream(info, symbol_name)
            return await book_at(store, info.id, stream, at_ns, depth=depth or None, rule=rule)

    state = run(work)
    if as_json:
        print_json(state.as_dict())
    else:
        print_book(state)


def print_book(state: BookState) -> None:
    """The text form: a header of times and ids, then bids and asks side by side."""
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column()
    at = "-" if state.at_ns is None else f"{iso(state.at_ns, 'milliseconds')} ({state.at_ns})"
    last = "-" if state.ts_event is None else f"{iso(state.ts_event, 'milliseconds')} at position {state.position}"
    for key, value in (
        ("stream", Text(state.stream)),
        ("session", Text(state.session)),
        ("at", Text(at)),
        ("last event", Text(last)),
        ("update id", Text("-" if state.sequence is None else str(state.sequence))),
        ("in sync", Text("yes", "green") if state.in_sync else Text(f"no: {state.reason}", "red")),
    ):
        header.add_row(key, value)
    print_table(header)
    if state.in_sync:
        print_table(_levels_table(state))


def _levels_table(state: BookState) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for name in ("bid size", "bid", "ask", "ask size"):
        table.add_column(name, justify="right")
    for bid, ask in zip_longest(state.bids, state.asks):
        bid_cells = ("", "") if bid is None else (number(bid[1]), number(bid[0]))
        ask_cells = ("", "") if ask is None else (number(ask[0]), number(ask[1]))
        table.add_row(*bid_cells, *ask_cells)
    return table


def number(value: float) -> str:
    """``value`` in the fewest digits that read back as it, never in exponent form.

    >>> number(61717.63), number(9e-05), number(2.0)
    ('61717.63', '0.00009', '2.0')
    """
    text = repr(value)
    return format(Decimal(text), "f") if "e" in text else text


@book_app.command("checkpoint")
def checkpoint(
    *,
    db: Annotated[Path, typer.Option("--db", help="The SQLite event log (never created).")],
    session: Annotated[str, typer.Option("--session", help="Session id, or a unique prefix of at least 4 characters.")],
    symbol: Annotated[
        str | None, typer.Option("--symbol", help="Only this symbol's book (default: every book of the session).")
    ] = None,
    every: Annotated[int, typer.Option("--every", min=1, help="Book events between checkpoints.")] = (
        DEFAULT_CHECKPOINT_EVERY
    ),
    rule: RuleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write book checkpoints into the log so that `virtuoso book` seeks instead of replaying.

    Idempotent: running it again writes nothing new.
    """
    path = existing_log(db)

    async def work() -> list[CheckpointReport]:
        async with opened(path, readonly=False) as store:
            info = await store.session(session)
            books = sorted(name for name in info.streams if name.endswith(":book"))
            streams = [find_book_stream(info, symbol)] if symbol else books
            return [await write_checkpoints(store, info.id, s, every=every, rule=rule) for s in streams]

    reports = run(work)
    if as_json:
        print_json([asdict(report) for report in reports])
        return
    if not reports:
        out_console.print("no book streams in this session", markup=False)
    for report in reports:
        out_console.print(
            f"{report.stream}: {report.checkpoints} checkpoints over {report.events} book events"
            f" ({report.written} new, {report.duplicates} already there), {report.gaps} gaps",
            markup=False,
        )
