"""The log key: where it comes from, what is refused, and that it never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from virtuoso.errors import UsageError
from virtuoso.store import KEY_ENV, read_key_file
from virtuoso.store._keys import FROM_ENV, resolve_key

SECRET = "correct horse battery staple"


def test_the_environment_gives_the_key_and_none_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert resolve_key(FROM_ENV) is None
    monkeypatch.setenv(KEY_ENV, SECRET)
    assert resolve_key(FROM_ENV) == SECRET.encode()
    assert resolve_key(None) is None  # an explicit "no key" wins over the environment


@pytest.mark.parametrize("content", [b"", b"short\n", b"fifteen bytes!!"])
def test_a_key_under_sixteen_bytes_is_refused_without_showing_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "key"
    path.write_bytes(content)
    with pytest.raises(UsageError, match="at least 16 bytes") as refused:
        read_key_file(path)
    assert content.strip() == b"" or content.strip().decode() not in str(refused.value)


def test_a_key_file_loses_its_trailing_newline_only(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_bytes(b"  " + SECRET.encode() + b"\r\n")
    assert read_key_file(path) == b"  " + SECRET.encode()


def test_a_missing_key_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot read the key file \(.*nope\)"):
        read_key_file(tmp_path / "nope")


def test_a_short_key_in_the_environment_names_the_variable_not_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "tiny-secret")
    with pytest.raises(UsageError, match=KEY_ENV) as refused:
        resolve_key(FROM_ENV)
    assert "tiny-secret" not in str(refused.value)
