"""``python -m virtuoso``: the same as the ``virtuoso`` console script."""

from virtuoso.cli import main

if __name__ == "__main__":
    main()
