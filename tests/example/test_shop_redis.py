"""The Redis Streams transport against a real, private redis-server.

Real worker processes, a real SIGKILL, real XAUTOCLAIM: the claims the article makes about
crashes and redelivery are checked here, not assumed.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from shop.bus import RedisStreamsBus
from shop.events import Event
from shop.scenarios import SCENARIOS, open_shop, order_status, place_order
from shop.services import SEED, Payment
from shop.tracing import TRACE_ENV
from shop.worker import spawn, stop

pytestmark = pytest.mark.redis

RunScript = Callable[..., subprocess.CompletedProcess[str]]
TIMEOUT = 30.0


@pytest.fixture
def bus(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisStreamsBus]:
    monkeypatch.setenv("REDIS_URL", redis_url)  # inherited by worker processes
    monkeypatch.delenv(TRACE_ENV, raising=False)
    bus = RedisStreamsBus(redis_url)
    yield bus
    bus.close()


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    stop(started)
    for process in started:
        if process.stdout is not None:
            process.stdout.close()


def charges(bus: RedisStreamsBus, order_id: str) -> list[dict[str, object]]:
    ledger = bus.store("payment").entries("ledger")
    return [line for line in ledger if line["order_id"] == order_id and line["kind"] == "charge"]


def names(bus: RedisStreamsBus, order_id: str) -> list[str]:
    return sorted(event.name for event in bus.events(order_id))


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"no output from pid {process.pid} within {timeout} s")
    return process.stdout.readline().strip()


def traced(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- the scripts -----------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_flow_prints_the_same_on_redis_as_in_process(
    run_script: RunScript, expected: Path, redis_url: str, scenario: str
) -> None:
    result = run_script("flow.py", scenario, env={"REDIS_URL": redis_url})

    assert result.returncode == 0, result.stderr
    assert result.stdout == (expected / f"flow.{scenario}.txt").read_text()


@pytest.mark.parametrize("script", ["redis_flow.py", "crash_redelivery.py"])
def test_redis_script_prints_its_expected_output_and_cleans_up(
    run_script: RunScript, expected: Path, redis_url: str, script: str
) -> None:
    import redis

    result = run_script(script, env={"REDIS_URL": redis_url})

    assert result.returncode == 0, result.stderr
    assert result.stdout == (expected / script.replace(".py", ".txt")).read_text()
    client = redis.Redis.from_url(redis_url)
    assert client.dbsize() == 0  # the run deleted its namespace
    client.close()


def test_redis_flow_runs_each_service_in_its_own_process(run_script: RunScript, redis_url: str, tmp_path: Path) -> None:
    trace_path = tmp_path / "trace.jsonl"

    result = run_script("redis_flow.py", env={"REDIS_URL": redis_url, TRACE_ENV: str(trace_path)})

    assert result.returncode == 0, result.stderr
    records = traced(trace_path)
    consumers = {(r["service"], r["pid"]) for r in records if r["op"] == "consume"}
    assert {service for service, _ in consumers} == {"order", "payment", "inventory", "shipping"}
    assert len({pid for _, pid in consumers}) == 4  # one process per service, one service per process
    client_pids = {r["pid"] for r in records if r["service"] == "client"}
    assert client_pids.isdisjoint(pid for _, pid in consumers)


# -- partitioning and the atomic commit, in this process ---------------------------------------


def test_all_events_of_an_order_share_one_partition(bus: RedisStreamsBus) -> None:
    open_shop(bus)
    for n in range(1, 9):
        place_order(bus, f"order-{n}", SCENARIOS["out-of-stock"])
    bus.run_until_idle()

    for n in range(1, 9):
        order_id = f"order-{n}"
        home = bus.streams[bus.partition(order_id)]
        for stream in bus.streams:
            in_stream = [fields for _, fields in bus.redis.xrange(stream) if fields["correlation_id"] == order_id]
            # PlaceOrder, OrderPlaced, PaymentCompleted, OutOfStock, OrderCancelled, PaymentRefunded
            assert len(in_stream) == (6 if stream == home else 0)
    assert len({bus.partition(f"order-{n}") for n in range(1, 9)}) > 1  # and orders do spread


def test_a_duplicate_entry_is_acknowledged_without_a_second_charge(bus: RedisStreamsBus) -> None:
    open_shop(bus)
    place_order(bus, "order-1", SCENARIOS["happy-path"])
    bus.run_until_idle()
    [placed] = [e for e in bus.events("order-1") if e.name == "OrderPlaced"]

    bus.publish(placed)  # a publisher's retry: same event id, new stream entry
    bus.run_until_idle()

    assert len(charges(bus, "order-1")) == 1
    assert names(bus, "order-1").count("PaymentCompleted") == 1
    assert bus.idle()  # the duplicate was acknowledged too


def test_a_failure_before_commit_applies_nothing_and_leaves_the_entry_pending(bus: RedisStreamsBus) -> None:
    store = bus.store("payment")
    store.seed(SEED["payment"])
    bus.subscribe(Payment(store))
    placed = Event("OrderPlaced", "order", "order-1", 1, {"customer": "alice", "amount_cents": 4000})
    bus.publish(placed)

    def fail(service: object, event: Event) -> None:
        raise RuntimeError("power cut")

    bus.before_commit = fail
    with pytest.raises(RuntimeError, match="power cut"):
        bus.run_until_idle()

    assert store.entries("ledger") == []
    assert not store.processed(placed.event_id)
    assert names(bus, "order-1") == ["OrderPlaced"]
    pending = bus.redis.xpending(bus.stream_for(placed), "payment")
    assert pending["pending"] == 1


# -- a consumer killed in the middle of a flow -------------------------------------------------


def test_a_consumer_killed_mid_flow_is_replaced_and_the_charge_happens_exactly_once(
    bus: RedisStreamsBus, workers: list[subprocess.Popen[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace_path = tmp_path / "trace.jsonl"
    monkeypatch.setenv(TRACE_ENV, str(trace_path))
    services = open_shop(bus)
    workers.extend(spawn(name, bus.namespace) for name in ("order", "inventory", "shipping"))
    doomed = spawn(
        "payment", bus.namespace, "--consumer", "payment-a", "--stall-on", "OrderPlaced", stdout=subprocess.PIPE
    )
    workers.append(doomed)

    place_order(bus, "order-1", SCENARIOS["happy-path"])
    assert read_line(doomed, TIMEOUT) == "stalled order-1/order/OrderPlaced/v1"  # read, decided, not committed
    os.kill(doomed.pid, signal.SIGKILL)
    assert doomed.wait(timeout=TIMEOUT) == -signal.SIGKILL

    stream = bus.streams[bus.partition("order-1")]
    # It had read a batch: OrderPlaced and whatever followed it are pending, all held by the dead consumer.
    pending = bus.redis.xpending_range(stream, "payment", "-", "+", 100)
    assert {entry["consumer"] for entry in pending} == {"payment-a"}
    [placed_entry] = [entry_id for entry_id, fields in bus.redis.xrange(stream) if fields["name"] == "OrderPlaced"]
    assert placed_entry in {entry["message_id"] for entry in pending}
    assert charges(bus, "order-1") == []
    assert order_status(services["order"].store, "order-1").startswith("PENDING")

    replacement = spawn("payment", bus.namespace, "--consumer", "payment-b", "--min-idle-ms", "100")
    workers.append(replacement)
    bus.wait_until_idle(timeout=TIMEOUT)

    assert order_status(services["order"].store, "order-1").startswith("APPROVED")
    assert len(charges(bus, "order-1")) == 1
    assert names(bus, "order-1") == [
        "OrderApproved",
        "OrderPlaced",
        "PaymentCompleted",
        "PlaceOrder",
        "ShipmentScheduled",
        "StockReserved",
    ]
    payment_records = [
        (r["op"], r["pid"]) for r in traced(trace_path) if r["service"] == "payment" and r["event"] == "OrderPlaced"
    ]
    assert payment_records == [("redeliver", replacement.pid), ("consume", replacement.pid)]
