"""``virtuoso import --markets`` and the markets ``virtuoso sessions show`` lists, on real Binance data."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration._cli import cli, cli_json
from tests.integration.test_import_ccxt import unified_trades
from tests.integration.test_import_markets import exchange_info


def _import(tmp_path: Path) -> tuple[Path, str]:
    trades, markets = tmp_path / "trades.json", tmp_path / "info.json"
    trades.write_text(json.dumps(unified_trades()))
    markets.write_text(json.dumps(exchange_info()))
    db = tmp_path / "log.sqlite"
    report = cli_json("import", "ccxt-json", trades, "--db", db, "--exchange", "binance", "--markets", markets)
    assert report["counts"] == {"Trade": 1000}
    return db, report["session"]


def test_sessions_show_lists_the_imported_markets(tmp_path: Path) -> None:
    db, session = _import(tmp_path)
    result = cli("sessions", "show", "--db", db, session[:8])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = lines.index("markets")
    assert lines[header + 1].split() == [
        "symbol", "tick", "step", "min", "amount", "min", "notional", "fees", "(maker/taker", "bps)", "source",
        "since", "(UTC)",
    ]  # fmt: skip
    assert lines[header + 2].split() == ["BTC/USDT", "0.01", "1e-06", "1e-06", "10", "-", "import",
                                         "2020-05-06T07:11:57.459Z"]  # fmt: skip
    detail = cli_json("sessions", "show", "--db", db, session)
    (market,) = detail["markets"]
    assert market["symbol"] == "BTC/USDT"
    assert market["tick_size"] == 0.01
    assert market["min_notional"] == 10.0
    assert (market["exchange"], market["source"], market["since_ns"]) == ("binance", "import", 1588749117459000000)


def test_a_session_without_markets_shows_none(tmp_path: Path) -> None:
    trades = tmp_path / "trades.json"
    trades.write_text(json.dumps(unified_trades()))
    db = tmp_path / "log.sqlite"
    session = cli_json("import", "ccxt-json", trades, "--db", db, "--exchange", "binance")["session"]
    assert cli_json("sessions", "show", "--db", db, session)["markets"] == []
    assert "markets" not in cli("sessions", "show", "--db", db, session).stdout.splitlines()


def test_a_bad_markets_file_fails_before_the_log_is_made(tmp_path: Path) -> None:
    trades, markets = tmp_path / "trades.json", tmp_path / "info.json"
    trades.write_text(json.dumps(unified_trades()))
    markets.write_text('{"serverTime": 1}')
    db = tmp_path / "log.sqlite"
    result = cli("import", "ccxt-json", trades, "--db", db, "--exchange", "binance", "--markets", markets)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {markets}: not a Binance exchangeInfo document (no 'symbols' list)"
    assert not db.exists()
