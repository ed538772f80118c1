"""The demo (``make demo`` / ``virtuoso demo``): a seeded synthetic session (or Binance captures) taken
through the whole path: replay with the default analyzers, a backtest of the confluence strategy, metrics,
digests and a PNG + HTML report. See ``docs/demo.md``."""

from virtuoso.demo._log import (
    DEMO_NAME,
    DEMO_SOURCE,
    build_demo_log,
    check_captures,
    demo_manifest,
    import_captures,
    replace_event_log,
)
from virtuoso.demo._run import CAPTURE_PARAMS, STRATEGY, DemoResult, run_demo

__all__ = [
    "CAPTURE_PARAMS",
    "DEMO_NAME",
    "DEMO_SOURCE",
    "STRATEGY",
    "DemoResult",
    "build_demo_log",
    "check_captures",
    "demo_manifest",
    "import_captures",
    "replace_event_log",
    "run_demo",
]
