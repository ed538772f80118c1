"""Command-line interface (``virtuoso --help``). Nothing in the library imports this."""

from virtuoso.cli._app import app
from virtuoso.cli._demo import demo
from virtuoso.cli._sessions import sessions_app


def main() -> None:
    """Entry point of the ``virtuoso`` console script."""
    app()


app.add_typer(sessions_app, name="sessions")
app.command("demo")(demo)

__all__ = ["app", "main"]

from virtuoso.cli._bench import bench_app  # noqa: E402

app.add_typer(bench_app, name="bench")

from virtuoso.cli._book import book_app  # noqa: E402

app.add_typer(book_app, name="book")

from virtuoso.cli._import import import_command  # noqa: E402

app.command("import")(import_command)

from virtuoso.cli._status import status_command  # noqa: E402

app.command("status")(status_command)

from virtuoso.cli._testing import testing_app  # noqa: E402

app.add_typer(testing_app, name="testing")

from virtuoso.cli._replay import replay_command, verify_replay_command  # noqa: E402

app.command("replay")(replay_command)
app.command("verify-replay")(verify_replay_command)

from virtuoso.cli._record import record_command  # noqa: E402

app.command("record")(record_command)

from virtuoso.cli._backtest import backtest_command  # noqa: E402

app.command("backtest")(backtest_command)

from virtuoso.cli._export import export_command  # noqa: E402

app.command("export")(export_command)
from virtuoso.cli._sweep import sweep_command  # noqa: E402

app.command("sweep")(sweep_command)
