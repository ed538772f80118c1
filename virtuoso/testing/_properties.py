"""The six properties, each a check of one drawn example: ``None`` when it holds, else what went wrong."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from virtuoso.events import Event, Payload
from virtuoso.testing._report import Example
from virtuoso.testing._runs import Harness, Step, Trace, encoded, json_round_trip

Property = Callable[[Harness, Example], str | None]
Bounds = Mapping[str, tuple[float, float]]


def deterministic(harness: Harness, example: Example) -> str | None:
    """Two fresh instances fed the same inputs give the same outputs."""
    first = harness.trace(example.start_ns, example.inputs)
    second = harness.trace(example.start_ns, example.inputs)
    return differs("a second fresh instance fed the same inputs", first, second, example.inputs)


def causal(harness: Harness, example: Example) -> str | None:
    """Outputs name the input that caused them, and a prefix of the inputs gives a prefix of the outputs."""
    full = harness.trace(example.start_ns, example.inputs)
    for i, (step, event) in enumerate(zip(full, example.inputs, strict=True)):
        late = next((out for out in step.outputs if out.causation != event.position), None)
        if late is not None:
            return (
                f"input #{i} (position {event.position}) returned {late.type} {late.id} with causation="
                f"{late.causation}: an output names the input it was emitted for, so this one used later inputs"
            )
    cut = example.cut
    prefix = harness.trace(example.start_ns, example.inputs[:cut])
    return differs(f"a fresh instance fed only the first {cut} inputs", full[:cut], prefix, example.inputs)


def resumable(harness: Harness, example: Example) -> str | None:
    """Snapshot after ``cut`` inputs, restore into a fresh instance, continue: the same outputs as uninterrupted."""
    full, cut, inputs = harness.trace(example.start_ns, example.inputs), example.cut, example.inputs
    run = harness.start(example.start_ns)
    head = run.feed(inputs[:cut])
    try:
        state = json_round_trip(run.snapshot())
    except (TypeError, msgspec.EncodeError, msgspec.DecodeError) as e:
        return f"snapshot() after {cut} inputs does not survive JSON: {e}"
    resumed_at = run.clock.now_ns()
    problem = differs("the instance that took the snapshot and went on", full, head + run.feed(inputs[cut:]), inputs)
    if problem is not None:
        return f"snapshot() changed the analyzer: {problem}"
    fresh = harness.start(resumed_at)
    fresh.restore(state)
    what = f"a fresh instance restored from the snapshot taken after {cut} inputs"
    return differs(what, full, head + fresh.feed(inputs[cut:]), inputs)


def chunking(harness: Harness, example: Example) -> str | None:
    """Fed in chunks (the clock moved to each chunk's last ``ts_recv`` first): the same outputs."""
    full = harness.trace(example.start_ns, example.inputs)
    run, got, start = harness.start(example.start_ns), list[Step](), 0
    for size in example.chunks:
        got += run.feed_chunk(example.inputs[start : start + size])
        start += size
    what = f"the inputs fed in chunks of {list(example.chunks)} (clock at each chunk's last ts_recv)"
    return differs(what, full, got, example.inputs)


def bounded(harness: Harness, example: Example) -> str | None:
    """No NaN or infinity in any output; declared ``bounds`` respected; nothing emitted while not ready."""
    run = harness.start(example.start_ns)
    bounds: Bounds = getattr(run.analyzer, "bounds", None) or {}
    for i, step in enumerate(run.feed(example.inputs)):
        if step.outputs and not step.ready:
            return f"input #{i} returned {len(step.outputs)} output(s) while ready was False"
        for out in step.outputs:
            problem = value_problem(out.payload, bounds)
            if problem is not None:
                return f"input #{i} returned {out.type} {out.id} with {problem}"
    return None


def clock_clean(harness: Harness, example: Example) -> str | None:
    """The analyzer reads no wall clock while it is built, fed, snapshotted or restored."""
    harness.guard.reads.clear()
    run = harness.start(example.start_ns)
    run.feed(example.inputs[: example.cut])
    fresh = harness.start(run.clock.now_ns())
    fresh.restore(run.snapshot())
    fresh.feed(example.inputs[example.cut :])
    if not harness.guard.reads:
        return None
    return "read the wall clock instead of its Clock: " + "; ".join(harness.guard.reads)


PROPERTIES: dict[str, tuple[Property, str]] = {
    "deterministic": (deterministic, "the same input twice gives the same outputs"),
    "causal": (causal, "outputs for a prefix of the input are a prefix of the outputs (no look-ahead)"),
    "resumable": (resumable, "snapshot, restore into a fresh instance, continue: same outputs as uninterrupted"),
    "chunking": (chunking, "feeding the events in chunks of any size gives the same outputs"),
    "bounded": (bounded, "no NaN/inf, declared bounds respected, nothing emitted before ready"),
    "clock-clean": (clock_clean, "the analyzer reads time only from the Clock it was given"),
}
"""Every property by name, in the order they are checked, with what it means."""


# -- comparing and inspecting ------------------------------------------------------------------


def differs(what: str, expected: Trace, got: Trace, inputs: Sequence[Event]) -> str | None:
    """``None`` when the traces are equal to the byte, else where and how they first differ."""
    want, have = encoded(expected), encoded(got)
    if want == have:
        return None
    i = next((i for i, (a, b) in enumerate(zip(want, have, strict=False)) if a != b), min(len(want), len(have)))
    where = f"input #{i} (position {inputs[i].position})" if i < len(inputs) else f"step #{i}"
    return f"{what} differs at {where}: expected {_show(want, i, have)}, got {_show(have, i, want)}"


def _show(steps: list[tuple[bool, tuple[bytes, ...]]], i: int, other: list[tuple[bool, tuple[bytes, ...]]]) -> str:
    if i >= len(steps):
        return "no step"
    ready, outputs = steps[i]
    if i < len(other) and other[i][0] == ready and len(other[i][1]) == len(outputs):
        # Same shape: show only the first output that differs.
        k = next(k for k, (a, b) in enumerate(zip(outputs, other[i][1], strict=True)) if a != b)
        return f"output {k} = {outputs[k].decode()}"
    return f"ready={ready} outputs=[{', '.join(out.decode() for out in outputs)}]"


def value_problem(payload: Payload, bounds: Bounds) -> str | None:
    """What is wrong with a derived payload's values: a non-finite number, or a field outside its bounds."""
    values = msgspec.to_builtins(payload)
    bad = _non_finite(values, type(payload).__name__)
    if bad is not None:
        return bad
    fields = values if isinstance(values, dict) else {}
    nested = [v for v in fields.values() if isinstance(v, dict)]
    for scope in (fields, *nested):
        for name, (low, high) in bounds.items():
            number = _number(scope.get(name))
            if number is not None and not low <= number <= high:
                return f"{name}={number!r} outside its bounds [{low}, {high}]"
    return None


def _non_finite(value: Any, path: str) -> str | None:
    if isinstance(value, dict):
        items: list[tuple[str, Any]] = [(f"{path}.{k}", v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    else:
        number = _number(value)
        return f"{path}={value!r} (not finite)" if isinstance(number, float) and not math.isfinite(number) else None
    return next((bad for p, v in items if (bad := _non_finite(v, p)) is not None), None)


def _number(value: Any) -> float | int | None:
    # Numbers, and numeric strings (a Note's data carries numbers as text: "nan" there is a NaN too).
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
