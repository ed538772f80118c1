"""``virtuoso replay`` and ``virtuoso verify-replay``: a session through the analyzers, into a run, with its digest."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from virtuoso.app import AppConfig
from virtuoso.cli._app import err_console, error_text, fail, out_console, print_json, run, time_range
from virtuoso.cli._progress import progress
from virtuoso.cli._sessions import existing_log
from virtuoso.cli._tables import print_table
from virtuoso.errors import VirtuosoError
from virtuoso.replay import ORDERS, ReplayOptions, ReplaySelection, RunConfig, RunResult, analyzers_named, replay_run
from virtuoso.replay._selection import Order
from virtuoso.store import open_sqlite_store

DbOption = Annotated[Path, typer.Option("--db", help="The SQLite event log (never created).")]
SessionOption = Annotated[
    str, typer.Option("--session", help="Session id, or a unique prefix of at least 4 characters.")
]
FromOption = Annotated[
    str | None,
    typer.Option("--from", help="Start (exchange time): ISO 8601 UTC, or epoch time with a unit (1723161540s, ...ms)."),
]
ToOption = Annotated[
    str | None, typer.Option("--to", help="End, exclusive (exchange time): ISO 8601 UTC, or epoch time with a unit.")
]
TypesOption = Annotated[str | None, typer.Option("--types", help="Comma-separated event types (Trade,BookDelta,...).")]
StreamsOption = Annotated[str | None, typer.Option("--streams", help="Comma-separated stream names.")]
SymbolsOption = Annotated[str | None, typer.Option("--symbols", help="Comma-separated symbols (BTC/USDT,...).")]
AnalyzersOption = Annotated[
    str,
    typer.Option("--analyzers", help="default, none, analyzer names (rsi,vwap,confluence) or an analyzers .toml file."),
]
OrderOption = Annotated[str, typer.Option("--order", help=f"One of: {', '.join(ORDERS)}.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the analyzers' random generator.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

_VERIFY_CHUNKS = (5_000, 997, 64)
"""Read chunk sizes verify-replay cycles through (one large, one odd, one small)."""


def _split(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(part.strip() for part in text.split(",") if part.strip())


def _run_config(
    *, session: str, start: str | None, end: str | None, types: str | None, streams: str | None, symbols: str | None,
    analyzers: str, order: str, seed: int,
) -> RunConfig:  # fmt: skip
    if order not in ORDERS:
        raise fail(f"--order must be one of {', '.join(ORDERS)}, not {order!r}", code=2)
    start_ns, end_ns = time_range(start, end)
    try:
        selection = ReplaySelection(
            sessions=(session,),
            streams=_split(streams),
            symbols=_split(symbols),
            types=_split(types),
            start_ns=start_ns,
            end_ns=end_ns,
            order=_order(order),
        )
        return RunConfig(selection, analyzers_named(analyzers), seed)
    except VirtuosoError as exc:
        raise fail(error_text(exc)) from None


def _order(text: str) -> Order:
    return "exchange-time" if text == "exchange-time" else "position"


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        raise fail(f"--speed must be 'max' or a positive number, not {text!r}", code=2) from None
    if not speed > 0:
        raise fail(f"--speed must be 'max' or a positive number, not {text!r}", code=2)
    return speed


async def selected_events(db: Path, session: str) -> int:
    """How many events ``session`` holds (a progress bar's total; filters may publish fewer)."""
    store = await open_sqlite_store(db, readonly=True)
    try:
        info = await store.session(session)
    finally:
        await store.close()
    return info.events


@contextmanager
def progress_bar(label: str, total: int, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """Progress of ``total`` events on stderr (``_progress.py``) and the callback moving it; None if not ``enabled``."""
    with progress(label, quiet=not enabled) as show:
        yield None if show is None else (lambda done: show(done, total))


def replay_command(
    *,
    db: DbOption,
    session: SessionOption,
    start: FromOption = None,
    end: ToOption = None,
    types: TypesOption = None,
    streams: StreamsOption = None,
    symbols: SymbolsOption = None,
    analyzers: AnalyzersOption = "default",
    order: OrderOption = "position",
    speed: Annotated[str, typer.Option("--speed", help="max (as fast as possible) or N (recorded time x N).")] = "max",
    seed: SeedOption = 0,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Processor workers (the digest does not depend on it).")
    ] = 4,
    force: Annotated[
        bool, typer.Option("--force", help="Compute a new run even if one with this config exists.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Replay a session through the analyzers into a run of the log, and print the run's digest."""
    existing_log(db)
    config = _run_config(
        session=session, start=start, end=end, types=types, streams=streams, symbols=symbols,
        analyzers=analyzers, order=order, seed=seed,
    )  # fmt: skip
    options = ReplayOptions(speed=_speed(speed))

    async def work() -> tuple[RunResult, float]:
        total = await selected_events(db, config.selection.sessions[0])
        with progress_bar("replay", total, not json_output) as on_progress:
            began = time.perf_counter()
            result = await replay_run(
                AppConfig(db=db, workers=workers), config, options=options, force=force, on_progress=on_progress
            )
            return result, time.perf_counter() - began

    result, seconds = run(work)
    summary: dict[str, Any] = result.summary()
    summary["seconds"] = round(seconds, 3)
    summary["events_per_s"] = None if result.cached else round(result.events_in / max(seconds, 1e-9), 1)
    if json_output:
        print_json(summary)
        return
    for key in ("run", "events_in", "events_out", "digest", "events_per_s", "cached", "resumed"):
        out_console.print(f"{key:<12} {summary[key]}", markup=False)


def verify_replay_command(
    *,
    db: DbOption,
    session: SessionOption,
    start: FromOption = None,
    end: ToOption = None,
    types: TypesOption = None,
    streams: StreamsOption = None,
    symbols: SymbolsOption = None,
    analyzers: AnalyzersOption = "default",
    order: OrderOption = "position",
    seed: SeedOption = 0,
    runs: Annotated[int, typer.Option("--runs", min=1, help="Number of replays.")] = 3,
    workers: Annotated[str, typer.Option("--workers", help="Comma-separated worker counts, cycled.")] = "1,8",
    json_output: JsonOption = False,
) -> None:
    """Replay a session N times (worker counts and read chunk sizes varied) and fail if any digest differs."""
    existing_log(db)
    config = _run_config(
        session=session, start=start, end=end, types=types, streams=streams, symbols=symbols,
        analyzers=analyzers, order=order, seed=seed,
    )  # fmt: skip
    counts = _worker_counts(workers)
    plan = [(counts[i % len(counts)], _VERIFY_CHUNKS[i % len(_VERIFY_CHUNKS)]) for i in range(runs)]

    async def work() -> list[RunResult]:
        results = []
        for number, (count, chunk) in enumerate(plan, 1):
            options = ReplayOptions(chunk_size=chunk)
            # Read-only: it writes nothing, so it also runs on a log it cannot write (and leaves nothing beside it).
            app_config = AppConfig(db=db, workers=count, readonly=True)
            results.append(await replay_run(app_config, config, options=options, write=False))
            if not json_output:  # a line per replay, so a long verification is never silent
                err_console.print(f"replay {number} of {len(plan)}: {results[-1].digest[:16]}", markup=False)
        return results

    results = run(work)
    rows = [
        {
            "workers": count,
            "chunk_size": chunk,
            "events_in": r.events_in,
            "events_out": r.events_out,
            "digest": r.digest,
        }
        for (count, chunk), r in zip(plan, results, strict=True)
    ]
    same = len({r.digest for r in results}) == 1
    if json_output:
        print_json({"ok": same, "digest": results[0].digest if same else None, "runs": rows})
    else:
        print_table(_runs_table(rows))
    if not same:
        raise fail(f"digests differ across {runs} replays of session {session}: the replay is not deterministic")
    if not json_output:
        out_console.print(f"ok: {runs} replays, one digest {results[0].digest}", markup=False)


def _worker_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise fail(f"--workers must be comma-separated positive integers, not {text!r}", code=2) from None
    if not counts or min(counts) < 1:
        raise fail(f"--workers must be comma-separated positive integers, not {text!r}", code=2)
    return counts


def _runs_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="replays", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("workers", "chunk size", "events in", "events out", "digest (first 16)"):
        table.add_column(column, justify="left" if column.startswith("digest") else "right")
    for row in rows:
        table.add_row(
            str(row["workers"]),
            str(row["chunk_size"]),
            f"{row['events_in']:,}",
            f"{row['events_out']:,}",
            row["digest"][:16],
        )
    return table
