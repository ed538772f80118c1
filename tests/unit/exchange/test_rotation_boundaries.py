"""The boundary arithmetic of ``[record] rotate``, its config key, and the session switch of the emitter and books."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virtuoso.clock import ReplayClock
from virtuoso.errors import ConfigError
from virtuoso.events import BookDelta, BookSnapshot, Event, Gap
from virtuoso.exchange._books import BookDiffer
from virtuoso.exchange._config import config_from_mapping
from virtuoso.exchange._emit import Emitter
from virtuoso.exchange._rotate import NS, next_boundary_ns, part_name, rotation_period_ns

DAY = 86_400 * NS


@pytest.mark.parametrize(
    ("text", "seconds"), [("1d", 86_400), ("2d", 172_800), ("12h", 43_200), ("1h", 3600), ("5m", 300), ("1s", 1)]
)
def test_periods(text: str, seconds: int) -> None:
    assert rotation_period_ns(text) == seconds * NS


@pytest.mark.parametrize("text", ["", "0h", "1", "h", "1w", "1.5h", " 1h", "-1h", "7m", "25h", "OFF", "01h"])
def test_bad_periods_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"rotate|expected"):
        rotation_period_ns(text)


def test_off_means_no_rotation() -> None:
    assert rotation_period_ns("off") is None


def test_daily_boundary_is_midnight_utc() -> None:
    noon = 1_723_118_400 * NS  # 2024-08-08T12:00:00Z
    assert next_boundary_ns(noon, DAY) == 1_723_161_600 * NS  # 2024-08-09T00:00:00Z
    assert part_name("rec", next_boundary_ns(noon, DAY)) == "rec @2024-08-09T00:00:00Z"


@given(st.integers(min_value=0, max_value=2**62), st.sampled_from(["1d", "1h", "15m", "1s"]))
def test_the_next_boundary_is_the_first_multiple_strictly_after_now(now_ns: int, text: str) -> None:
    period = rotation_period_ns(text)
    assert period is not None
    boundary = next_boundary_ns(now_ns, period)
    assert boundary % period == 0
    assert now_ns < boundary <= now_ns + period


def test_the_config_key() -> None:
    base = {"exchange": {"id": "binance"}, "record": {"symbols": ["BTC/USDT"]}}
    assert config_from_mapping(base, {}, source="t").rotate == "1d"
    hourly = {**base, "record": {"symbols": ["BTC/USDT"], "rotate": "1h"}}
    assert config_from_mapping(hourly, {}, source="t").rotate == "1h"
    with pytest.raises(ConfigError, match="rotate"):
        config_from_mapping({**base, "record": {"symbols": ["BTC/USDT"], "rotate": "7m"}}, {}, source="t")
    with pytest.raises(ConfigError, match="rotate"):
        config_from_mapping({**base, "record": {"symbols": ["BTC/USDT"], "rotate": 3600}}, {}, source="t")


def _book(nonce: int, bid: float) -> dict[str, object]:
    return {"nonce": nonce, "bids": [[bid, 1.0]], "asks": [[bid + 1, 1.0]]}


def test_a_book_starts_the_next_session_with_a_snapshot_and_no_gap() -> None:
    differ = BookDiffer("binance:BTC/USDT:book", snapshot_every_ns=0)
    assert isinstance(differ.on_book(_book(1, 100.0), 1)[1], BookSnapshot)
    assert isinstance(differ.on_book(_book(2, 101.0), 2)[1], BookDelta)
    differ.snapshot_next()
    gap, payload = differ.on_book(_book(2, 101.0), 3)  # unchanged, yet whole: the new session needs it
    assert gap is None
    assert payload == BookSnapshot(((101.0, 1.0),), ((102.0, 1.0),), 2)
    assert isinstance(differ.on_book(_book(3, 102.0), 4)[1], BookDelta)


def test_the_emitter_stamps_the_new_session_from_the_switch_on() -> None:
    published: list[Event] = []

    class Collect:
        async def publish(self, event: Event) -> None:
            published.append(event)

    emitter = Emitter(Collect(), ReplayClock(5), session="first", exchange="binance")

    async def emit_two() -> None:
        await emitter.emit("s", Gap("s", 1, 2, "x"))
        emitter.switch_session("second")
        await emitter.emit("s", Gap("s", 1, 2, "x"))

    asyncio.run(emit_two())
    assert [e.session for e in published] == ["first", "second"]
    assert published[0].id != published[1].id
