"""The trace protocol: nothing without the variable; with it, one JSON object per line, safely
appended by several processes at once."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from shop.bus import InProcessBus
from shop.events import Event
from shop.scenarios import SCENARIOS, open_shop, place_order
from shop.tracing import TRACE_ENV, trace

KEYS = {"op", "service", "event", "event_id", "correlation_id", "caused_by", "pid"}
OPS = {"publish", "consume", "duplicate", "redeliver", "crash"}


def read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_nothing_is_written_when_the_variable_is_unset(
    clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bus = InProcessBus()
    open_shop(bus)
    place_order(bus, "order-1", SCENARIOS["out-of-stock"])

    assert list(tmp_path.iterdir()) == []


def test_an_empty_variable_also_means_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(TRACE_ENV, "")
    trace("publish", "order", Event("OrderPlaced", "order", "order-1", 1))

    assert list(tmp_path.iterdir()) == []


def test_a_flow_is_traced_with_exactly_the_documented_keys(
    clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "trace.jsonl"
    monkeypatch.setenv(TRACE_ENV, str(path))
    bus = InProcessBus()
    bus.deliver_twice("OrderPlaced")
    open_shop(bus)
    place_order(bus, "order-5", SCENARIOS["happy-path"])

    records = read(path)
    assert all(set(record) == KEYS for record in records)
    assert {record["op"] for record in records} == {"publish", "consume", "redeliver", "duplicate"}
    assert all(record["correlation_id"] == "order-5" for record in records)
    assert all(isinstance(record["pid"], int) for record in records)
    assert records[0] == {
        "op": "publish",
        "service": "client",
        "event": "PlaceOrder",
        "event_id": "order-5/client/PlaceOrder/v1",
        "correlation_id": "order-5",
        "caused_by": None,
        "pid": records[0]["pid"],
    }
    published = [(r["service"], r["event"]) for r in records if r["op"] == "publish"]
    assert published == [
        ("client", "PlaceOrder"),
        ("order", "OrderPlaced"),
        ("payment", "PaymentCompleted"),
        ("inventory", "StockReserved"),
        ("shipping", "ShipmentScheduled"),
        ("order", "OrderApproved"),
    ]
    duplicates = [(r["service"], r["event"]) for r in records if r["op"] == "duplicate"]
    assert duplicates == [("payment", "OrderPlaced"), ("inventory", "OrderPlaced")]
    # every publish but the client's names the event whose handling produced it
    ids = {r["event_id"] for r in records}
    assert all(r["caused_by"] in ids for r in records if r["op"] == "publish" and r["service"] != "client")


def _write_many(path: str, worker: int) -> None:
    import os

    os.environ[TRACE_ENV] = path
    for n in range(300):
        trace(
            "consume", f"worker-{worker}", Event("OrderPlaced", "order", f"order-{worker}-{n}", 1, {"pad": "x" * 200})
        )


def test_several_processes_can_share_the_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write_many, args=(str(path), worker)) for worker in range(4)]
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join(timeout=60)
            assert process.exitcode == 0
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()

    records = read(path)  # every line parses: no torn or interleaved writes
    assert len(records) == 4 * 300
    assert len({r["pid"] for r in records}) == 4
