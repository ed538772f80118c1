"""``store.session(prefix)`` says which of the three ways a prefix fails."""

from __future__ import annotations

import asyncio

import pytest

from virtuoso.errors import SessionError
from virtuoso.store import MemoryEventStore


async def _store() -> MemoryEventStore:
    store = MemoryEventStore()
    for suffix, name in (("1111", "spot"), ("2222", "futures"), ("3333", "other")):
        await store.begin_session(name, "example", started_ns=1, session_id=f"abcd{suffix}" + "0" * 24)
    return store


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("abc", "session prefix 'abc' is too short: give at least 4 characters"),
        ("ffff", "no session with id 'ffff'"),
        (
            "abcd",
            "3 sessions with id prefix 'abcd': abcd11110000 (example: spot), abcd22220000 (example: futures), "
            "abcd33330000 (example: other)",
        ),
    ],
)
def test_a_prefix_that_names_no_single_session(prefix: str, message: str) -> None:
    async def lookup() -> None:
        await (await _store()).session(prefix)

    with pytest.raises(SessionError) as raised:
        asyncio.run(lookup())
    assert str(raised.value) == message


def test_a_unique_prefix_and_a_full_id_find_the_session() -> None:
    async def lookup() -> tuple[str, str]:
        store = await _store()
        return (await store.session("abcd2")).name, (await store.session("abcd3333" + "0" * 24)).name

    assert asyncio.run(lookup()) == ("futures", "other")
