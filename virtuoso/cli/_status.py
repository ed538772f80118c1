"""``virtuoso status``: the health of a running or finished recording, from its log alone."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from virtuoso.cli._app import fail, out_console, print_json, run
from virtuoso.cli._sessions import DbOption, JsonOption, existing_log, iso, opened
from virtuoso.cli._tables import print_table
from virtuoso.exchange import rejected_counts
from virtuoso.resilience import HealthThresholds, SessionHealth, session_health

DOWN_EXIT_CODE = 3
"""Exit status when the overall health is ``down`` (1 is an error, 2 a wrong command line)."""

_STYLE = {"ok": "green", "degraded": "yellow", "down": "red"}


def status_command(
    db: DbOption,
    session: Annotated[
        str | None, typer.Option("--session", help="Session id or prefix (default: the latest session).")
    ] = None,
    stale_after: Annotated[
        float, typer.Option("--stale-after", help="Seconds without events before a stream is degraded.")
    ] = 60.0,
    down_after: Annotated[
        float, typer.Option("--down-after", help="Seconds without events before a stream is down.")
    ] = 300.0,
    as_json: JsonOption = False,
) -> None:
    """Show a recording's health: session, streams, breakers, gaps, last health report, rejected answers.

    Exits 0 when the health is ok or degraded, 3 when it is down.
    """
    _check_thresholds(stale_after, down_after)
    path = existing_log(db)
    thresholds = HealthThresholds(stale_degraded_s=stale_after, stale_down_s=down_after)

    async def work() -> tuple[SessionHealth, list[tuple[str, str, int]]]:
        async with opened(path, readonly=True) as store:
            health = await session_health(store, session, now_ns=time.time_ns(), thresholds=thresholds)
            return health, await rejected_counts(store, health.session.id)

    health, rejected = run(work)
    if as_json:
        rows = [{"stream": stream, "reason": reason, "count": count} for stream, reason, count in rejected]
        print_json({**health.to_json(), "rejected": rows})
    else:
        print_health(health)
        if rejected:
            print_table(_rejected_table(rejected))
    if health.status == "down":
        raise typer.Exit(DOWN_EXIT_CODE)


def _check_thresholds(stale_after: float, down_after: float) -> None:
    if not stale_after > 0:
        raise fail(f"--stale-after must be a positive number of seconds, not {stale_after:g}", code=2)
    if not down_after > stale_after:
        raise fail(f"--down-after ({down_after:g} s) must be more than --stale-after ({stale_after:g} s)", code=2)


def print_health(health: SessionHealth) -> None:
    """The text form: one headline, the components, then the streams."""
    info = health.session
    headline = Text.assemble(
        f"session {info.id[:12]} {info.name} ({info.status}) as of {iso(health.as_of_ns)}: ",
        (health.status, f"bold {_STYLE[health.status]}"),
    )
    out_console.print(headline)
    print_table(_components_table(health))
    if health.streams:
        print_table(_streams_table(health), drop=("last received (UTC)",))


def _components_table(health: SessionHealth) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for name in ("component", "status", "reason"):
        table.add_column(name)
    for component in health.components:
        status = Text(component.status, style=_STYLE[component.status])
        table.add_row(Text(component.name), status, Text(component.reason))
    return table


def _streams_table(health: SessionHealth) -> Table:
    table = Table(title="streams", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("stream")
    table.add_column("events", justify="right")
    table.add_column("last received (UTC)", no_wrap=True)
    table.add_column("age (s)", justify="right")
    table.add_column("gaps", justify="right")
    for stream in health.streams:
        age = "-" if stream.age_s is None else f"{stream.age_s:.3f}"
        last = iso(stream.last_ts_recv, "milliseconds")
        table.add_row(Text(stream.stream), str(stream.events), last, age, str(stream.gaps))
    return table


def _rejected_table(rejected: list[tuple[str, str, int]]) -> Table:
    """What the exchange sent that was not recorded, per stream and reason."""
    table = Table(title="rejected", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("stream", overflow="fold")
    table.add_column("reason", overflow="fold")
    table.add_column("count", justify="right")
    for stream, reason, count in rejected:
        table.add_row(Text(stream), Text(reason), f"{count:,}")
    return table
