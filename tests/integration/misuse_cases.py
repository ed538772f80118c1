# ruff: noqa: E501  # a table of exact messages: each is one line, as the user sees it
"""The misuse table: command lines a user gets wrong, the one line each must print, its exit status, and
proof that nothing changed. ``docs/errors.md`` is generated from this table (``python -m
tests.integration.misuse_cases`` rewrites it) and ``test_misuse.py`` runs every row.

Every case runs in a fresh copy of the workspace below (the current directory), so paths in the
messages are the relative ones typed. After each, the workspace must be byte for byte what it was:
the log's SHA-256 unchanged and no file added, removed or changed.

The workspace:

- ``log.sqlite``: the demo's synthetic session (``b1a9f365...``) and a session ``manual`` of
  another source (``example``), so the log holds data the demo did not make;
- ``afile`` (a plain file), ``empty.sqlite`` (0 bytes), ``notalog.txt`` (text), ``folder/`` (empty),
  ``previous/Trade.csv`` (an earlier export),
  ``bad.py`` (a strategy whose constructor raises), ``boom.py`` (one that raises on a trade mid-run),
  ``grid.toml`` (a small sweep grid);
- ``spot/btcusdt_20240808.gz`` and ``usdm/btcusdt_20240808.gz``: the first 300 lines of the real spot
  and USD-M captures (one base name), ``spot.sqlite`` (the spot one imported), and broken captures
  ``truncated.gz`` (the spot one cut in half), ``fake.gz`` (a gzip header, then noise), ``empty.gz``
  (a gzip of nothing).

A row that must write (a backtest, an import) names the logs it may write in ``writes``: each must
then verify clean and still pass through the head it had before (no committed event lost), and
every other file must be unchanged. ``setup`` runs a row another way: ``read-only`` in a copy of the
workspace on a read-only mount (the command's processes then cannot write anything beside the log),
``at once`` runs the command lines joined by `` & `` as concurrent processes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SESSION = "b1a9"
"""A prefix of the demo session's id (it depends on the market's start time only)."""
REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "errors.md"
BEGIN, END = "<!-- misuse table: generated from tests/integration/misuse_cases.py -->", "<!-- end of table -->"


@dataclass(frozen=True)
class Case:
    """One misuse: the arguments after ``virtuoso``, the exit status and the exact stderr line."""

    args: str
    code: int
    message: str
    issue: str = ""
    """The item of issue 20 it covers, if any (the 16 items each have a row)."""
    setup: str = ""
    """How it runs: in the workspace (""), on it mounted ``read-only``, or its `` & ``-joined commands ``at once``."""
    writes: tuple[str, ...] = ()
    """Logs it may write: each verifies clean after, through its head from before; nothing else may change."""
    output: str = ""
    """Text stdout must hold: what shows the command did the right thing."""
    sessions: int | None = None
    """How many sessions each log it writes must hold after."""


BT = f"backtest --db log.sqlite --session {SESSION}"
MA = "--strategy virtuoso.strategies:MovingAverageCross"
REPLAY = f"replay --db log.sqlite --session {SESSION}"
BOOK = f"book --db log.sqlite --session {SESSION} --symbol BTC/USDT"
EXPORT = "export --db log.sqlite --out exported"
PRUNE = "sessions prune --db log.sqlite --out new.sqlite"
SWEEP = "sweep --db log.sqlite --grid grid.toml --out swept --workers 1"
TIME_FORMS = (
    "accepted: an ISO 8601 time (2024-08-08T23:59:00Z), or epoch time with its unit (1723161540s, "
    "1723161540000ms, ...us, ...ns; a bare 13-digit number is milliseconds)"
)

CASES: tuple[Case, ...] = (
    # -- the command line itself (exit 2) --
    Case("--version", 0, "", "15", output="virtuoso "),
    Case("--foo", 2, "error: no such option: --foo (virtuoso; see virtuoso --help)", "14"),
    Case("nope", 2, "error: no such command 'nope' (virtuoso; see virtuoso --help)", "14"),
    Case(
        f"{REPLAY} --frm 2024-08-09",
        2,
        "error: no such option: --frm; did you mean --force, --from? (virtuoso replay; see virtuoso replay --help)",
        "14",
    ),
    Case(
        "replay --db log.sqlite",
        2,
        "error: missing option '--session' (virtuoso replay; see virtuoso replay --help)",
        "14",
    ),
    Case(
        "sessions list",
        2,
        "error: missing option '--db' (virtuoso sessions list; see virtuoso sessions list --help)",
        "14",
    ),
    Case(
        "sessions show --db log.sqlite",
        2,
        "error: missing argument 'session' (virtuoso sessions show; see virtuoso sessions show --help)",
    ),
    Case(
        f"{REPLAY} --workers 0",
        2,
        "error: invalid value for '--workers': Input should be greater than or equal to 1 (virtuoso replay; see virtuoso replay --help)",
    ),
    Case(
        f"{REPLAY} --order sideways",
        2,
        "error: --order must be one of position, exchange-time, not 'sideways' (virtuoso replay; see virtuoso replay --help)",
    ),
    Case(
        f"{REPLAY} --speed fast",
        2,
        "error: --speed must be 'max' or a positive number, not 'fast' (virtuoso replay; see virtuoso replay --help)",
    ),
    Case(
        f"{REPLAY} --speed -1",
        2,
        "error: --speed must be 'max' or a positive number, not '-1' (virtuoso replay; see virtuoso replay --help)",
    ),
    Case(
        f"verify-replay --db log.sqlite --session {SESSION} --workers a,b",
        2,
        "error: --workers must be comma-separated positive integers, not 'a,b' (virtuoso verify-replay; see virtuoso verify-replay --help)",
    ),
    Case(
        f"verify-replay --db log.sqlite --session {SESSION} --runs 0",
        2,
        "error: invalid value for '--runs': Input should be greater than or equal to 1 (virtuoso verify-replay; see virtuoso verify-replay --help)",
    ),
    Case(
        "demo --hours 0 --log-only --db new.sqlite",
        2,
        "error: invalid value for '--hours': Input should be greater than or equal to 0.001 (virtuoso demo; see virtuoso demo --help)",
    ),
    Case(
        "demo --log-only --capture afile --db new.sqlite",
        2,
        "error: --log-only writes the synthetic log: it takes no --capture (virtuoso demo; see virtuoso demo --help)",
    ),
    Case(
        f"{BOOK} --depth -1 --at 2024-08-08T23:55:00Z",
        2,
        "error: invalid value for '--depth': Input should be greater than or equal to 0 (virtuoso book; see virtuoso book --help)",
    ),
    Case(
        "book --db log.sqlite --symbol BTC/USDT",
        2,
        "error: missing option --session, --at (virtuoso book; see virtuoso book --help)",
    ),
    # -- times (issue 20, item 12) --
    Case(
        f"{BOOK} --at 1723161540",
        2,
        "error: --at '1723161540' is ambiguous: 10 digits read as seconds would be 2024-08-08T23:59:00Z; accepted: an ISO 8601 time (2024-08-08T23:59:00Z), or epoch time with its unit (1723161540s, 1723161540000ms, ...us, ...ns; a bare 13-digit number is milliseconds) (virtuoso book; see virtuoso book --help)",
        "12",
    ),
    Case(
        f"{BOOK} --at yesterday",
        2,
        "error: --at 'yesterday' is not a time; accepted: an ISO 8601 time (2024-08-08T23:59:00Z), or epoch time with its unit (1723161540s, 1723161540000ms, ...us, ...ns; a bare 13-digit number is milliseconds) (virtuoso book; see virtuoso book --help)",
        "12",
    ),
    Case(
        f"{BOOK} --at 1723161540000000",
        2,
        "error: --at '1723161540000000' is ambiguous: 16 digits read as microseconds would be 2024-08-08T23:59:00Z; accepted: an ISO 8601 time (2024-08-08T23:59:00Z), or epoch time with its unit (1723161540s, 1723161540000ms, ...us, ...ns; a bare 13-digit number is milliseconds) (virtuoso book; see virtuoso book --help)",
        "12",
    ),
    Case(
        f"{REPLAY} --from 1723161540",
        2,
        "error: --from '1723161540' is ambiguous: 10 digits read as seconds would be 2024-08-08T23:59:00Z; accepted: an ISO 8601 time (2024-08-08T23:59:00Z), or epoch time with its unit (1723161540s, 1723161540000ms, ...us, ...ns; a bare 13-digit number is milliseconds) (virtuoso replay; see virtuoso replay --help)",
        "12",
    ),
    Case(
        f"{REPLAY} --to 12",
        2,
        "error: --to '12' is ambiguous; accepted: an ISO 8601 time (2024-08-08T23:59:00Z), or epoch time with its unit (1723161540s, 1723161540000ms, ...us, ...ns; a bare 13-digit number is milliseconds) (virtuoso replay; see virtuoso replay --help)",
        "12",
    ),
    Case(
        f"{REPLAY} --from 2024-08-09T00:00:00Z --to 2024-08-08T00:00:00Z",
        2,
        "error: --to 2024-08-08T00:00:00Z is not after --from 2024-08-09T00:00:00Z: the time range is empty (virtuoso replay; see virtuoso replay --help)",
    ),
    # -- opening the log --
    Case("sessions list --db missing.sqlite", 1, "error: no such file (--db missing.sqlite)"),
    Case("sessions list --db folder", 1, "error: not a file (--db folder)"),
    Case("sessions list --db empty.sqlite", 1, "error: empty file, not an event log (--db empty.sqlite)"),
    Case(
        "sessions list --db notalog.txt",
        1,
        "error: notalog.txt: damaged or not a SQLite database (file is not a database)",
    ),
    Case(
        "sessions verify --db notalog.txt",
        1,
        "error: notalog.txt: damaged or not a SQLite database (file is not a database)",
    ),
    Case(f"replay --db missing.sqlite --session {SESSION}", 1, "error: no such file (--db missing.sqlite)"),
    Case("status --db missing.sqlite", 1, "error: no such file (--db missing.sqlite)"),
    # -- naming sessions (item 14) --
    Case(
        "sessions show --db log.sqlite b1a",
        1,
        "error: session prefix 'b1a' is too short: give at least 4 characters (log.sqlite)",
        "14",
    ),
    Case("sessions show --db log.sqlite ffff", 1, "error: no session with id 'ffff' (log.sqlite)"),
    Case("status --db log.sqlite --session ffff", 1, "error: no session with id 'ffff' (log.sqlite)"),
    Case(
        "replay --db log.sqlite --session b1",
        1,
        "error: session prefix 'b1' is too short: give at least 4 characters (log.sqlite)",
        "14",
    ),
    # -- empty selections (item 9) --
    Case(
        f"{REPLAY} --types Nope",
        1,
        "error: the selection matches no event of session b1a9f3655032 (types Nope): nothing to run (log.sqlite)",
        "9",
    ),
    Case(
        f"{REPLAY} --from 2030-01-01",
        1,
        "error: the selection matches no event of session b1a9f3655032 (from 2030-01-01T00:00:00.000Z): nothing to run (log.sqlite)",
        "9",
    ),
    Case(
        f"{REPLAY} --symbols DOGE/USDT", 1, "error: no symbol 'DOGE/USDT' in the session(s) replayed (log.sqlite)", "9"
    ),
    Case(
        f"{REPLAY} --streams nope:X:trades",
        1,
        "error: no stream 'nope:X:trades' in the session(s) replayed (log.sqlite)",
    ),
    Case(
        f"{REPLAY} --analyzers nope",
        1,
        "error: unknown analyzer 'nope' (known: atr, bars, bollinger, book-imbalance, confluence, cvd, depth, ema, macd, realized-vol, relative-volume, rsi, spread, trade-count, vwap, vwap-notes; or default, none)",
    ),
    # -- status thresholds (item 6) --
    Case(
        "status --db log.sqlite --stale-after -1",
        2,
        "error: --stale-after must be a positive number of seconds, not -1 (virtuoso status; see virtuoso status --help)",
        "6",
    ),
    Case(
        "status --db log.sqlite --stale-after 100 --down-after 10",
        2,
        "error: --down-after (10 s) must be more than --stale-after (100 s) (virtuoso status; see virtuoso status --help)",
        "6",
    ),
    # -- backtests (items 6, 11, 14) --
    Case(
        BT,
        2,
        "error: name a strategy: --strategy MODULE:CLASS, or a run file with [backtest] strategy (virtuoso backtest; see virtuoso backtest --help)",
    ),
    Case(
        f"{BT} {MA} --param fast",
        2,
        "error: --param takes key=value, not 'fast' (virtuoso backtest; see virtuoso backtest --help)",
    ),
    Case(
        f"{BT} {MA} --param nope=1",
        1,
        "error: strategy 'virtuoso.strategies:MovingAverageCross': strategy parameters: unknown parameter 'nope' (known: amount, fast, slow, symbol, timeframe)",
    ),
    Case(
        f"{BT} {MA} --param fast=abc",
        1,
        "error: strategy 'virtuoso.strategies:MovingAverageCross': strategy parameters: Expected `int`, got `str` - at `$.fast` (--strategy, --param)",
    ),
    Case(
        f"{BT} {MA} --report afile",
        2,
        "error: --report afile: exists and is not a folder (it names the folder to write into) (virtuoso backtest; see virtuoso backtest --help)",
        "6",
    ),
    Case(
        f"{BT} {MA} --parquet afile",
        2,
        "error: --parquet afile: exists and is not a folder (it names the folder to write into) (virtuoso backtest; see virtuoso backtest --help)",
        "6",
    ),
    Case(
        f"{BT} {MA} --order sideways",
        2,
        "error: --order must be one of position, exchange-time, not 'sideways' (virtuoso backtest; see virtuoso backtest --help)",
    ),
    Case(
        f"{BT} --strategy nomodule:X",
        1,
        "error: strategy 'nomodule:X': cannot import nomodule: No module named 'nomodule' (--strategy)",
    ),
    Case(
        f"{BT} --strategy virtuoso.strategies:Nope",
        1,
        "error: strategy 'virtuoso.strategies:Nope': virtuoso.strategies has no attribute 'Nope' (--strategy)",
    ),
    Case(
        f"{BT} --strategy bad.py:Bad",
        1,
        "error: strategy 'bad.py:Bad' failed to start: ValueError: cannot start (log.sqlite)",
        "6",
    ),
    Case(f"{BT} {MA} --config missing.toml", 1, "error: missing.toml: no such run file (--strategy, --config)"),
    Case(f"{BT} {MA} --venue missing.toml", 1, "error: missing.toml: no such venue file (--strategy, --venue)"),
    Case(
        f"{BT} {MA} --from 2030-01-01",
        1,
        "error: the selection matches no event of session b1a9f3655032 (from 2030-01-01T00:00:00.000Z): nothing to run (log.sqlite)",
    ),
    Case(f"{BT} {MA} --report /proc/nope", 1, "error: nothing can be written in /proc (--report /proc/nope)", "6"),
    Case(
        f"sessions prune --db log.sqlite --out /proc/new.sqlite --session {SESSION}",
        1,
        "error: /proc: the new log cannot be written there (No such file or directory)",
        "9",
    ),
    # -- export --
    Case(
        EXPORT, 2, "error: name exactly one of --session ID or --run ID (virtuoso export; see virtuoso export --help)"
    ),
    Case(
        f"{EXPORT} --session {SESSION} --run {SESSION}",
        2,
        "error: name exactly one of --session ID or --run ID (virtuoso export; see virtuoso export --help)",
    ),
    Case(
        f"{EXPORT} --session {SESSION} --format xlsx",
        2,
        "error: --format must be one of parquet, csv, not 'xlsx' (virtuoso export; see virtuoso export --help)",
    ),
    Case(
        f"{EXPORT} --run {SESSION}",
        1,
        "error: session b1a9f365503218c3c5424b429182330c is a 'synthetic' session, not a run (use --session)",
    ),
    Case(
        f"export --db log.sqlite --out afile --session {SESSION}",
        1,
        "error: afile: the output folder is not a folder (log.sqlite)",
    ),
    Case(
        f"export --db log.sqlite --out previous --session {SESSION} --format csv",
        1,
        "error: it holds 1 .csv file(s) an export would replace (Trade.csv): choose a new folder, or pass --force (--out previous)",
        "1",
    ),
    # -- book --
    Case(
        f"book --db log.sqlite --session {SESSION} --symbol ETH/USDT --at 2024-08-08T23:55:00Z",
        1,
        "error: no book stream for symbol 'ETH/USDT' in session b1a9f3655032 (books: BTC/USDT)",
    ),
    # -- destructive actions refuse (item 1) --
    Case(
        "demo --log-only --db log.sqlite",
        1,
        "error: the log holds data the demo did not make (1 session(s), first a6f5fe8047b7 'manual' from example): choose another --db, or pass --replace to delete it (log.sqlite)",
        "1",
    ),
    Case(
        "demo --log-only --db afile", 1, "error: afile: damaged or not a SQLite database (file is not a database)", "1"
    ),
    # -- prune (item 9) --
    Case(
        PRUNE,
        2,
        "error: name what to leave out: --session ID (repeatable) or --crashed (virtuoso sessions prune; see virtuoso sessions prune --help)",
        "9",
    ),
    Case(
        "sessions prune --db log.sqlite --out log.sqlite --session ffff",
        1,
        "error: no session with id 'ffff' (log.sqlite)",
        "9",
    ),
    Case(
        f"sessions prune --db log.sqlite --out afile --session {SESSION}",
        1,
        "error: afile exists: prune writes a new log and never overwrites a file (--out afile)",
        "9",
    ),
    Case(f"{PRUNE} --crashed", 1, "error: no crashed or open session: nothing to prune (log.sqlite)", "9"),
    Case(f"{PRUNE} --session ffff", 1, "error: no session with id 'ffff' (log.sqlite)", "9"),
    Case(
        f"sessions prune --db log.sqlite --out nofolder/new.sqlite --session {SESSION}",
        1,
        "error: nofolder: no such folder (--out nofolder/new.sqlite)",
        "9",
    ),
    # -- migrate: a new log or nothing --
    Case(
        "migrate --db log.sqlite --to afile",
        1,
        "error: afile exists: migrate writes a new log and never overwrites a file (--to afile)",
    ),
    Case("migrate --db nothere.sqlite --to new.sqlite", 1, "error: no such file (--db nothere.sqlite)"),
    Case("migrate --db empty.sqlite --to new.sqlite", 1, "error: empty file, not an event log (--db empty.sqlite)"),
    Case(
        "migrate --db notalog.txt --to new.sqlite",
        1,
        "error: notalog.txt: damaged or not a SQLite database (file is not a database)",
    ),
    Case(
        "migrate --db log.sqlite --to nofolder/new.sqlite",
        1,
        "error: nofolder: no such folder (--to nofolder/new.sqlite)",
    ),
    Case("migrate --db log.sqlite", 2, "error: missing option '--to' (virtuoso migrate; see virtuoso migrate --help)"),
    # -- sweep (item 7) --
    Case(f"sweep --db log.sqlite --grid missing.toml {MA}", 1, "error: missing.toml: no such grid file (--grid)"),
    Case(
        f"{SWEEP} {MA} --executor nope",
        2,
        "error: --executor must be one of local, dask, not 'nope' (virtuoso sweep; see virtuoso sweep --help)",
    ),
    Case(
        f"{SWEEP} {MA} --executor dask",
        2,
        "error: --executor dask needs --scheduler ADDRESS (tcp://host:8786) (virtuoso sweep; see virtuoso sweep --help)",
    ),
    Case(
        f"{SWEEP} {MA} --ship",
        2,
        "error: --scheduler and --ship are for --executor dask (virtuoso sweep; see virtuoso sweep --help)",
    ),
    Case(
        f"{SWEEP} {MA} --param fast=3",
        2,
        "error: --param fast fixes a parameter grid.toml varies (fast = [2, 4]): drop one (virtuoso sweep; see virtuoso sweep --help)",
        "7",
    ),
    Case(
        f"{SWEEP}",
        2,
        "error: name a strategy: --strategy MODULE:CLASS, or strategy in the grid's [sweep] table (virtuoso sweep; see virtuoso sweep --help)",
    ),
    # -- import (what is not another change's) --
    Case(
        "import nope afile --db new.sqlite",
        1,
        "error: unknown format 'nope': choose one of binance-capture, binance-vision, ccxt-json (import nope)",
    ),
    Case(
        "import binance-capture missing.gz --db new.sqlite",
        1,
        "error: missing.gz: no such file (import binance-capture)",
    ),
    Case(
        "import binance-capture spot/btcusdt_20240808.gz --db new.sqlite --symbol ETH/USDT",
        1,
        "error: spot/btcusdt_20240808.gz: the file holds BTC/USDT, not ETH/USDT: pass --force to import it as ETH/USDT anyway (--symbol)",
        "3",
    ),
    Case(
        "import binance-capture truncated.gz --db new.sqlite",
        1,
        "error: truncated.gz: cannot read it (Compressed file ended before the end-of-stream marker was reached)",
        "10",
    ),
    Case(
        "import binance-capture fake.gz --db new.sqlite",
        1,
        "error: fake.gz: cannot read it (Unknown compression method)",
        "10",
    ),
    Case(
        "import binance-capture empty.gz --db new.sqlite",
        1,
        "error: empty.gz: the file is empty: nothing to import (import binance-capture)",
        "10",
    ),
    Case(
        "import binance-capture spot/btcusdt_20240808.gz truncated.gz --db spot.sqlite",
        1,
        "error: truncated.gz: cannot read it (Compressed file ended before the end-of-stream marker was reached)",
        "10",
        writes=("spot.sqlite",),
        sessions=1,
    ),
    # -- what used to go silently wrong, now right (items 2, 4, 8, 13) --
    Case(
        "import binance-capture usdm/btcusdt_20240808.gz --db spot.sqlite",
        0,
        "usdm/btcusdt_20240808.gz: 100% of 19,340 bytes, 300 events",
        "2",
        writes=("spot.sqlite",),
        output="session ddd1ccef3173e0329f5864175474c0a4",
        sessions=2,
    ),
    Case(
        "import binance-capture spot/btcusdt_20240808.gz --db conc.sqlite --json & import binance-capture usdm/btcusdt_20240808.gz --db conc.sqlite --json",
        0,
        "",
        "13",
        setup="at once",
        writes=("conc.sqlite",),
        sessions=2,
    ),
    Case("sessions list --db log.sqlite", 0, "", "4", setup="read-only", output="b1a9f365503218c3c5424b429182330c"),
    Case("sessions verify --db log.sqlite", 0, "", "4", setup="read-only", output="intact: "),
    Case(
        f"verify-replay --db log.sqlite --session {SESSION} --runs 1",
        0,
        "replay 1 of 1: 87ef5dcd3158d075",
        "4",
        setup="read-only",
        output="one digest 87ef5dcd3158d075",
    ),
    Case(
        f"book --db log.sqlite --session {SESSION} --symbol BTC/USDT --at 2024-08-08T23:55:00Z",
        0,
        "",
        "4",
        setup="read-only",
        output="in sync     yes",
    ),
    Case(
        "sessions list --db log.sqlite --all",
        0,
        "",
        "16",
        output="b1a9f365503218c3c5424b429182330c  demo    synthetic  BTC/USDT  closed     480",
    ),
    Case(
        f"{BT} {MA}",
        0,
        "backtest: 100% of 480 events",
        "8",
        writes=("log.sqlite",),
        output="withheld: the run is too short to annualize (span 0:03:00, marks every 0:01:00; at least 30 days needed)",
    ),
    Case(
        f"{BT} --strategy boom.py:Boom",
        1,
        "backtest: 100% of 480 events\nerror: strategy Boom raised on event 201 (Trade, synthetic:BTC/USDT:trades): RuntimeError: boom (run <id> marked failed)",
        "9",
        writes=("log.sqlite",),
    ),
    Case(
        "import binance-capture afile --db nofolder/new.sqlite",
        1,
        "error: folder nofolder does not exist (--db nofolder/new.sqlite)",
    ),
)


OUTPUTS = ("new.sqlite", "exported", "swept", "nofolder", "conc.sqlite")
"""Paths the commands of the table would create: none may exist after a case (unless it ``writes`` them)."""


def evidence(case: Case) -> str:
    """What the test checks to show nothing changed (or, for the logs a case writes, nothing was lost)."""
    made = [
        name for name in OUTPUTS if name not in case.writes and (name in case.args.split() or f"{name}/" in case.args)
    ]
    absent = "".join(f", no `{name}`" for name in made)
    if not case.writes:
        text = f"log SHA-256 same, every file same{absent}"
    else:
        held = "" if case.sessions is None else f", holds {case.sessions} sessions"
        logs = ", ".join(f"`{name}`" for name in case.writes)
        kept = "" if set(case.writes) <= set(OUTPUTS) else " and keeps its head from before"
        text = f"every other file same{absent}; {logs} verifies clean{kept}{held}"
    if case.setup == "read-only":
        text += "; read-only mount: no file made"
    if case.output:
        text += f"; stdout holds `{_cell(case.output)}`"
    return text


def markdown_table(cases: tuple[Case, ...] = CASES) -> str:
    """The table ``docs/errors.md`` holds."""
    lines = [
        "| # | `virtuoso ...` | exit | stderr (the whole of it) | nothing changed | covers (issue 20 item) |",
        "|---|---|---|---|---|---|",
    ]
    for number, case in enumerate(cases, 1):
        args = " & ".join(f"`{_cell(part)}`" for part in case.args.split(" & "))
        if case.setup:
            args += f" ({case.setup})"
        stderr = f"`{_cell(case.message)}`" if case.message else "(nothing)"
        lines.append(f"| {number} | {args} | {case.code} | {stderr} | {evidence(case)} | {case.issue} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "`<br>`")


def documented_table(text: str) -> str:
    """The generated part of ``docs/errors.md``."""
    match = re.search(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), text, re.DOTALL)
    return match.group(1) if match else ""


if __name__ == "__main__":
    document = DOC.read_text()
    start, end = document.index(BEGIN) + len(BEGIN) + 1, document.index(END)
    DOC.write_text(document[:start] + markdown_table() + document[end:])
