"""The interactive report in a real headless browser (Debian's chromium over the DevTools protocol).

A backtest of the real BTC/USDT capture: the page renders without console errors,
its round-trip table has one row per round trip and sorts and filters, and a
screenshot is kept under the test's tmp path. Also the comparison page, and a
generated 2M-trade day (``slow``): its size and how long the browser takes to draw it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from tests.conftest import require_data
from tests.integration._browser import Page, chromium_or_skip, headless_page
from tests.integration._cli import cli, cli_json
from tests.unit.backtest._ledger import Ledger
from virtuoso.app import AppConfig
from virtuoso.backtest import (
    BacktestConfig,
    BacktestResult,
    MarketData,
    StrategySpec,
    VenueConfig,
    load_result,
    run_backtest,
    with_market,
)
from virtuoso.importers import import_files
from virtuoso.replay import ReplaySelection, analyzers_named
from virtuoso.store import open_sqlite_store

CAPTURE = "hftbacktest/examples/spot/btcusdt_20240808.gz"
MA_CROSS = "virtuoso.strategies:MovingAverageCross"
RENDERED = (
    "document.readyState === 'complete' && document.querySelectorAll('.plotly-graph-div').length > 0 &&"
    " [...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('.main-svg') !== null &&"
    " d.querySelectorAll('g.trace').length >= d.data.length)"
)
"""True once the page has loaded and plotly has drawn every figure: each figure's div holds its SVG and a drawn
group per trace (plotly makes two ``.main-svg`` per figure, so counting them against the divs would stop halfway)."""
TYPE = "(i => {{ i.value = '{text}'; i.dispatchEvent(new Event('input')); }})(document.querySelector('input.filter'))"
"""Type ``text`` into the round trips' filter box."""
FILL_MARKERS = (
    "[...document.querySelectorAll('.scatterlayer .trace')].filter(g => g.__data__[0].trace.name.endsWith(' fills'))"
    ".reduce((n, g) => n + g.querySelectorAll('.points path').length, 0)"
)
"""How many fill markers the price chart has drawn (plotly binds each trace group to its calcdata)."""
FILL_POINTS = (
    "[...document.querySelectorAll('.plotly-graph-div')].flatMap(d => d._fullData)"
    ".filter(t => (t.name || '').endsWith(' fills')).flatMap(t => Array.from(t.x, (x, i) => [x, t.y[i]]))"
)
"""Where the fill markers are: (ms since the epoch, price) as plotly read them from the page."""
TRIP_ROWS = "document.querySelectorAll('#trips tbody tr').length"
SHOWN_ROWS = (
    "Array.prototype.filter.call(document.querySelectorAll('#trips tbody tr'), r => r.style.display !== 'none').length"
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The capture imported and backtested with two parameter sets; the log and the two run ids."""
    source = require_data(CAPTURE)
    chromium_or_skip()
    path = tmp_path_factory.mktemp("report") / "btc.sqlite"

    async def build() -> list[str]:
        store = await open_sqlite_store(path)
        try:
            session = (await import_files(store, "binance-capture", [source])).session
        finally:
            await store.close()
        return [
            (await run_backtest(AppConfig(db=path), _config(session, fast, slow))).run
            for fast, slow in ((3, 10), (5, 20))
        ]

    return path, asyncio.run(build())


def _config(session: str, fast: int, slow: int) -> BacktestConfig:
    spec = StrategySpec.named(MA_CROSS, {"timeframe": "1s", "fast": fast, "slow": slow, "amount": 0.01})
    selection = ReplaySelection(sessions=(session,), order="exchange-time")
    return BacktestConfig(
        selection, spec, VenueConfig(mark_interval_s=10.0), analyzers_named(spec.cls.analyzers_for(spec.config))
    )


async def _result(path: Path, run: str) -> BacktestResult:
    store = await open_sqlite_store(path, readonly=True)
    try:
        return (await with_market(store, await load_result(store, run)))[0]
    finally:
        await store.close()


async def _browse(url: str, profile: Path, checks: dict[str, str]) -> tuple[list[str], dict[str, object], bytes]:
    async with headless_page(profile) as page:
        await page.open(url, RENDERED)
        values = {name: await page.evaluate(expression) for name, expression in checks.items()}
        values.update(await _use_the_table(page))
        return page.errors, values, await page.screenshot()


async def _use_the_table(page: Page) -> dict[str, object]:
    """Filter the round trips on 'zzz' (nothing) then clear it; sort by net PnL twice (up, then down)."""
    if not await page.evaluate("document.getElementById('trips') !== null"):
        return {}
    await page.evaluate(TYPE.format(text="zzz-no-such-row"))
    hidden = await page.evaluate(SHOWN_ROWS)
    await page.evaluate(TYPE.format(text=""))
    column = "[...document.querySelectorAll('#trips thead th')].findIndex(th => th.textContent === 'net PnL')"
    read = f"[...document.querySelectorAll('#trips tbody tr')].map(r => parseFloat(r.cells[{column}].dataset.v))"
    await page.evaluate(f"document.querySelectorAll('#trips thead th')[{column}].click()")
    ascending = await page.evaluate(read)
    await page.evaluate(f"document.querySelectorAll('#trips thead th')[{column}].click()")
    descending = await page.evaluate(read)
    return {
        "hidden": hidden,
        "shown": await page.evaluate(SHOWN_ROWS),
        "ascending": ascending,
        "descending": descending,
    }


def test_the_report_of_a_real_backtest_renders_in_a_browser(runs: tuple[Path, list[str]], tmp_path: Path) -> None:
    path, (run, _) = runs
    written = cli_json("report", run[:10], "--db", path, "--out", tmp_path / "report")
    page_path = Path(written["report"])
    result = asyncio.run(_result(path, run))
    assert len(result.round_trips) > 5
    checks = {"rows": TRIP_ROWS, "fills": FILL_MARKERS, "points": FILL_POINTS}
    errors, values, screenshot = asyncio.run(_browse(page_path.as_uri(), tmp_path / "profile", checks))
    (tmp_path / "report.png").write_bytes(screenshot)  # the test's artifact: look at it
    assert errors == []
    assert values["rows"] == len(result.round_trips)
    assert values["fills"] == len(result.fills)  # every fill drawn
    drawn = np.array(sorted(map(tuple, values["points"])))
    fills = np.array(sorted(zip(result.fills["ts_ns"] / 1e6, result.fills["price"], strict=True)))
    assert drawn.shape == fills.shape
    assert np.abs(drawn - fills).max() < 1e-3  # each at its time (ms, to the µs) and its price
    assert (values["hidden"], values["shown"]) == (0, len(result.round_trips))
    net = sorted(result.round_trips["net_pnl"].tolist())
    assert values["ascending"] == pytest.approx(net)
    assert values["descending"] == pytest.approx(net[::-1])
    assert screenshot.startswith(b"\x89PNG")
    assert len(screenshot) > 50_000
    again = cli_json("report", run, "--db", path, "--out", tmp_path / "again")
    assert (
        hashlib.sha256(Path(again["report"]).read_bytes()).digest() == hashlib.sha256(page_path.read_bytes()).digest()
    )


def test_the_report_shows_what_the_strategy_consumed_and_the_fills_at_their_prices(
    runs: tuple[Path, list[str]], tmp_path: Path
) -> None:
    path, (run, _) = runs
    page = Path(cli_json("report", run, "--db", path, "--out", tmp_path)["report"]).read_text()
    assert "MovingAverageCross BTC/USDT" in page
    assert "fast=3" in page
    assert "slow=10" in page
    assert '"name":"bars:1s"' in page  # the 1-second bars the strategy traded on, drawn over the prices
    assert '"name":"BTC\\u002fUSDT trades"' in page  # plotly writes "/" as \u002f
    assert "too short to annualize" in page
    assert "marks every" in page


def test_runs_compared_side_by_side(runs: tuple[Path, list[str]], tmp_path: Path) -> None:
    path, ids = runs
    written = cli_json("report", "compare", ids[0], ids[1][:8], "--db", path, "--out", tmp_path / "cmp")
    page_path = Path(written["report"])
    assert page_path.name == "compare.html"
    page = page_path.read_text()
    assert "strategy.config.fast" in page
    assert "strategy.config.slow" in page
    assert "strategy.config.amount" not in page  # only what differs
    curves = "document.querySelectorAll('.scatterlayer .trace').length"
    errors, values, _ = asyncio.run(_browse(page_path.as_uri(), tmp_path / "profile", {"curves": curves}))
    assert errors == []
    assert values["curves"] == 2


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (("compare", "abcd"), "report compare takes two or more run ids", 2),
        (("abcd", "ef01"), "report takes one run id, got 2", 2),
        (("ffff0000",), "ffff0000", 1),
    ],
)
def test_report_misuse_is_one_line(
    runs: tuple[Path, list[str]], tmp_path: Path, args: tuple[str, ...], message: str, code: int
) -> None:
    path, _ = runs
    result = cli("report", *args, "--db", path, "--out", tmp_path / "x")
    assert result.exit_code == code
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_reporting_a_session_that_is_not_a_backtest_run_is_refused(
    runs: tuple[Path, list[str]], tmp_path: Path
) -> None:
    path, _ = runs
    sessions = cli_json("sessions", "list", "--db", path)
    imported = next(s["id"] for s in sessions if s["source"] == "binance-capture")
    result = cli("report", imported, "--db", path, "--out", tmp_path / "x")
    assert result.exit_code == 1
    assert "is a 'binance-capture' session, not a backtest run" in result.stderr


DAY_NS = 86_400 * 1_000_000_000
T0 = 1_723_075_200_000_000_000  # 2024-08-08 00:00 UTC


def generated_day(trades: int, seed: int = 22) -> tuple[BacktestResult, MarketData]:
    """A day of ``trades`` random-walk trades and a ledger of a round trip every ~4 minutes on them."""
    rng = np.random.default_rng(seed)
    ts = T0 + np.sort(rng.integers(0, DAY_NS, trades))
    price = 60_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.00005, trades)))
    ledger = Ledger()
    cash, position, step = 10_000.0, 0.0, trades // 720
    for i, at in enumerate(range(0, trades - step, step)):
        side, amount = ("buy", 0.01) if position == 0 else ("sell", position)
        fee = price[at] * amount * 0.001
        ledger.fill(int(ts[at]), f"o{i}", side, float(price[at]), amount, fee=fee)
        cash += (-1 if side == "buy" else 1) * price[at] * amount - fee
        position = 0.01 if side == "buy" else 0.0
    for mark in range(0, 1441):
        at = min(int(np.searchsorted(ts, T0 + mark * 60_000_000_000)), trades - 1)
        held = 0.01 if any(f for f in ()) else 0.0
        ledger.mark(
            T0 + mark * 60_000_000_000,
            cash + held * price[at],
            cash,
            {"BTC/USDT": float(price[at])},
            {"BTC/USDT": held},
        )
    ledger.events.sort(key=lambda e: e.ts_event)
    result = BacktestResult.from_events(
        ledger.events, run="2m" * 16, digest="d" * 64, events_in=trades, initial_cash=10_000.0,
        interval_ns=60_000_000_000, config={"strategy": {"ref": "generated"}},
    )  # fmt: skip
    market = MarketData(
        pd.DataFrame({"ts_ns": ts, "symbol": "BTC/USDT", "price": price}),
        MarketData.empty().series,
        MarketData.empty().signals,
    )
    return result.with_prices(market.trades), market


FLOOR_RATIO = 1.8
"""A first open of the 2M-trade day's report may cost at most this many times the floor's (see the test)."""
ROUNDS = 3


@pytest.mark.slow
def test_a_2m_trade_day_report_is_small_and_opens_fast(tmp_path: Path) -> None:
    """The 2M-trade day's page is under 10 MB, and a first open draws all of it for under 1.8 times the floor's cost.

    A first open: a fresh chromium with a new profile, from navigation until every figure
    is drawn (``RENDERED``), not inspected (see ``_browser``). The floor is plotly.js alone
    with a two-point figure, the least a self-contained plotly page costs, opened the
    same way in the same run, in turn with the report, ``ROUNDS`` times each. The cost
    compared is the CPU time of the page's main thread, summed over the rounds: on this
    shared 2-core machine the wall time of one open varied fourfold with the other jobs,
    the CPU time within ±20 %. Measured: the report 1.1 to 1.7 times the floor per pair of
    opens (the page before this layout 1.8 to 2.3). The wall times, the 3 s target and
    the load they were measured at are in docs/backtest-results.md ("Size and speed");
    this test prints them too.
    """
    chromium_or_skip()
    result, market = generated_day(2_000_000)
    started = time.perf_counter()
    page_path = result.report(tmp_path / "day", market)
    written_s = time.perf_counter() - started
    size = page_path.stat().st_size
    floor_path = tmp_path / "floor.html"
    pio.write_html(go.Figure(go.Scatter(x=[0, 1], y=[0, 1])), floor_path, include_plotlyjs=True, div_id="floor")
    opened = asyncio.run(_first_opens({"floor": floor_path, "report": page_path}, tmp_path))
    report, floor = opened["report"], opened["floor"]
    ratio = sum(o.cpu_s for o in report) / sum(o.cpu_s for o in floor)
    print(f"\n2M-trade day: report written in {written_s:.2f} s, {size / 1e6:.2f} MB; first opens (load {_load()}):")
    print(f"report {_times(report)}; floor {_times(floor)}; report/floor CPU {ratio:.2f}")
    assert opened.errors == []
    assert opened.rows == [len(result.round_trips)] * ROUNDS
    assert size < 10_000_000
    assert ratio < FLOOR_RATIO


@dataclass(frozen=True)
class Open:
    """One first open: seconds from navigation until drawn, and the CPU seconds its main thread ran."""

    wall_s: float
    cpu_s: float


@dataclass
class Opens:
    """The first opens of each page, the errors they recorded and the round trips' rows each report showed."""

    pages: dict[str, list[Open]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    def __getitem__(self, name: str) -> list[Open]:
        return self.pages[name]


async def _first_opens(pages: dict[str, Path], tmp_path: Path) -> Opens:
    """Each page opened ``ROUNDS`` times, in turn, each time in a fresh browser with a new profile."""
    opened = Opens({name: [] for name in pages})
    for turn in range(ROUNDS):
        for name, path in pages.items():
            async with headless_page(tmp_path / f"profile-{name}-{turn}", inspected=False) as page:
                await page.send("Performance.enable", timeDomain="threadTicks")
                wall_s = await page.open(path.as_uri(), RENDERED)
                opened[name].append(Open(wall_s, await page.main_thread_s()))
                if name == "report":
                    opened.rows.append(await page.evaluate(TRIP_ROWS))
                opened.errors.extend(page.errors)
    return opened


def _times(opens: list[Open]) -> str:
    return ", ".join(f"{o.wall_s:.2f} s ({o.cpu_s:.2f} s CPU)" for o in opens)


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())
