"""Command-line interface (``virtuoso --help``). Nothing in the library imports this."""

from virtuoso.cli._app import app


def main() -> None:
    """Entry point of the ``virtuoso`` console script."""
    app()


__all__ = ["app", "main"]
