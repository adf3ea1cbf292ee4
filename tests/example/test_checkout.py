"""The orchestration example (snippets/orchestration): the checkout orchestrator, its services,
its network of calls with deadlines, its trace, and its scripts as a reader runs them.

What the article says the code does is tested here against the code itself: compensations
newest first, only for steps done; a timed-out step counted as maybe done; a retried request
applied once; a late reply dropped; a stuck compensation reported, not hidden.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from checkout.messages import Message
from checkout.network import Answer, Network, NoReply
from checkout.orchestrator import ATTEMPTS, CHECKOUT, Orchestrator
from checkout.scenarios import SCENARIOS, Checkout, Scenario, open_checkout, place_order
from checkout.services import InventoryService, OrderService, PaymentService
from checkout.tracing import TRACE_ENV
from tests.example.conftest import EXAMPLE_ENV, ORCHESTRATION

EXPECTED = ORCHESTRATION / "expected"
T = TypeVar("T")


def arun(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` in a thread of its own: a browser test's Playwright, sharing this test
    process under xdist, keeps an event loop running in the main thread, where
    ``asyncio.run`` refuses to start (it failed the whole module in a full run)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def run(scenario: Scenario, *, lose: tuple[str, ...] = (), deadline: float = 0.5
        ) -> tuple[Checkout, Message, list[str]]:
    """Place one order on a fresh network; returns the checkout, the client's reply, the log.

    The deadline is generous so that a reply that does come never misses it on a busy machine;
    only a lost reply waits it out."""
    log: list[str] = []

    async def go() -> tuple[Checkout, Message]:
        network = Network(log=log.append)
        checkout = open_checkout(network)
        checkout.orchestrator.deadline = deadline
        for name in lose:
            network.lose_next_reply(name)
        try:
            return checkout, await place_order(network, scenario)
        finally:
            await network.close()

    checkout, reply = arun(go())
    return checkout, reply, log


def services(checkout: Checkout) -> tuple[OrderService, InventoryService, PaymentService]:
    order, inventory, payment = (checkout.services[n] for n in ("order", "inventory", "payment"))
    assert isinstance(order, OrderService)
    assert isinstance(inventory, InventoryService)
    assert isinstance(payment, PaymentService)
    return order, inventory, payment


def calls(log: list[str]) -> list[str]:
    """The requests the orchestrator sent, in order."""
    return [line.split()[3] for line in log if line.startswith("orchestrator -> ")]


@pytest.fixture(autouse=True)
def no_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in EXAMPLE_ENV:
        monkeypatch.delenv(name, raising=False)


def test_the_happy_path_calls_each_step_once_in_order() -> None:
    checkout, reply, log = run(SCENARIOS["happy-path"])
    order, inventory, payment = services(checkout)

    assert reply.name == "OrderConfirmed"
    assert calls(log) == [step.request for step in CHECKOUT]
    assert order.orders["order-2001"]["status"] == "APPROVED"
    assert inventory.stock["widget"] == 8
    assert payment.ledger == [("order-2001", "charge", 40_00)]
    assert checkout.orchestrator.sagas["order-2001"].status == "APPROVED"


def test_a_declined_payment_undoes_the_steps_done_newest_first() -> None:
    checkout, reply, log = run(SCENARIOS["payment-declined"])
    order, inventory, payment = services(checkout)

    assert reply.name == "OrderFailed" and reply.payload["reason"] == "over credit limit"
    assert calls(log) == ["CreateOrder", "ReserveStock", "ChargeCard", "ReleaseStock", "CancelOrder"]
    assert inventory.stock["widget"] == 10
    assert payment.ledger == [], "nothing was charged, and nobody asked for a refund"
    assert order.orders["order-2002"] == {"status": "CANCELLED", "reason": "over credit limit"}


def test_a_lost_reply_times_out_and_the_maybe_done_step_is_undone_first() -> None:
    checkout, reply, log = run(SCENARIOS["payment-timeout"], lose=("PaymentCharged",))
    order, inventory, payment = services(checkout)

    assert reply.name == "OrderFailed" and reply.payload["reason"] == "no reply to ChargeCard"
    assert calls(log)[3:] == ["RefundPayment", "ReleaseStock", "CancelOrder"]
    assert payment.ledger == [("order-2003", "charge", 45_00), ("order-2003", "refund", 45_00)]
    assert payment.balance("order-2003") == 0
    assert inventory.stock["gadget"] == 5
    assert order.orders["order-2003"]["status"] == "CANCELLED"


def test_a_lost_reservation_reply_is_undone_and_nobody_is_charged() -> None:
    """Inventory reserves, but its reply is lost: the orchestrator counts the reservation as
    maybe done, never calls Payment, and the release finds the reservation and gives it back."""
    checkout, reply, log = run(SCENARIOS["happy-path"], lose=("StockReserved",))
    _, inventory, payment = services(checkout)

    assert reply.payload["reason"] == "no reply to ReserveStock"
    assert calls(log) == ["CreateOrder", "ReserveStock", "ReleaseStock", "CancelOrder"]
    assert "released 2, 10 left" in "\n".join(log)
    assert payment.ledger == []
    assert inventory.stock["widget"] == 10


def test_refund_and_release_answer_when_there_is_nothing_to_undo() -> None:
    async def go() -> list[str]:
        notes = []
        for service, name in ((PaymentService(), "RefundPayment"), (InventoryService(), "ReleaseStock")):
            request = Message(name, "orchestrator", service.name, "order-9", {"reason": "test"})
            notes.append((await service.handle(request)).note)
        return notes

    assert arun(go()) == ["nothing charged, nothing to refund", "nothing reserved, nothing to release"]


def test_a_repeated_request_gets_the_first_answer_and_changes_nothing() -> None:
    inventory = InventoryService()
    request = Message("ReserveStock", "orchestrator", "inventory", "order-7", {"sku": "widget", "quantity": 3})

    async def twice() -> tuple[Answer, Answer]:
        return await inventory.handle(request), await inventory.handle(request)

    first, second = arun(twice())
    assert first.reply == second.reply
    assert second.note == "repeat: no change"
    assert inventory.stock["widget"] == 7


def test_a_lost_compensation_reply_is_retried_with_the_same_id_and_applied_once() -> None:
    checkout, reply, log = run(SCENARIOS["payment-declined"], lose=("StockReleased",))
    _, inventory, _ = services(checkout)

    assert calls(log) == ["CreateOrder", "ReserveStock", "ChargeCard", "ReleaseStock", "ReleaseStock",
                          "CancelOrder"]
    assert inventory.stock["widget"] == 10, "released once, not twice"
    assert checkout.orchestrator.sagas["order-2002"].status == "COMPENSATED"
    assert reply.name == "OrderFailed"


def test_a_compensation_that_never_answers_marks_the_checkout_stuck() -> None:
    """Every reply to ReleaseStock is lost: the orchestrator tries ATTEMPTS times, then says
    so in the saga's status and in the client's reply, instead of hiding it."""
    inventory = InventoryService()
    releases = 0

    async def deaf(request: Message) -> Answer:
        nonlocal releases
        if request.name == "ReleaseStock":
            releases += 1
            network.lose_next_reply("StockReleased")
        return await inventory.handle(request)

    network = Network(log=lambda _: None)

    async def go() -> tuple[Orchestrator, Message]:
        orchestrator = Orchestrator(network, deadline=0.2)
        for service in (OrderService(), PaymentService()):
            network.serve(service.name, service.handle)
        network.serve("inventory", deaf)
        network.serve(orchestrator.name, orchestrator.handle)
        try:
            return orchestrator, await place_order(network, SCENARIOS["payment-declined"])
        finally:
            await network.close()

    orchestrator, reply = arun(go())
    assert releases == ATTEMPTS
    assert inventory.stock["widget"] == 10, "released on the first try; only the replies were lost"
    assert orchestrator.sagas["order-2002"].status == "STUCK: ReleaseStock never answered"
    assert reply.payload["reason"] == "over credit limit; ReleaseStock never answered"


def test_a_late_reply_is_dropped_not_delivered() -> None:
    """A service slower than the deadline: the caller gets NoReply, and the reply that comes
    afterwards is neither traced nor logged as received."""
    log: list[str] = []

    async def slow(request: Message) -> Answer:
        await asyncio.sleep(0.05)
        return Answer(request.answer("Done"), "finally")

    async def go() -> None:
        network = Network(log=log.append)
        network.serve("slow", slow)
        with pytest.raises(NoReply):
            await network.call(Message("Work", "caller", "slow", "order-1"), 0.01)
        await asyncio.sleep(0.1)  # the reply comes, too late
        await network.close()

    arun(go())
    assert log == ["caller       -> slow         Work",
                   "caller       -- slow         Work             gave up after 0.01 s"]


def test_the_trace_has_calls_replies_and_timeouts_with_their_causes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "trace.jsonl"
    monkeypatch.setenv(TRACE_ENV, str(path))
    run(SCENARIOS["payment-timeout"], lose=("PaymentCharged",))

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert {line["op"] for line in lines} == {"call", "reply", "timeout"}
    assert all(line["correlation_id"] == "order-2003" and line["pid"] == os.getpid() for line in lines)
    by_id = {line["id"]: line for line in lines}
    for line in lines:
        if line["op"] == "reply":  # from the callee back to the caller of the call it answers
            call = by_id[line["reply_to"]]
            assert call["op"] == "call"
            assert (line["service"], line["target"]) == (call["target"], call["service"])
        if line["op"] != "call" or line["service"] == "client":
            continue
        assert line["caused_by"] in by_id, f"{line['message']} names a cause that is in the trace"
    timeout = next(line for line in lines if line["op"] == "timeout")
    assert timeout == {
        "op": "timeout", "service": "orchestrator", "message": "ChargeCard",
        "id": "order-2003/orchestrator/ChargeCard/timeout", "reply_to": "order-2003/orchestrator/ChargeCard",
        "caused_by": "order-2003/orchestrator/ChargeCard", "correlation_id": "order-2003", "pid": os.getpid(),
    }
    refund = next(line for line in lines if line["message"] == "RefundPayment")
    assert refund["caused_by"] == timeout["id"], "the compensation was set off by the timeout"
    assert not any(line["message"] == "PaymentCharged" for line in lines), "a lost reply is not traced"


def test_nothing_is_traced_without_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run(SCENARIOS["happy-path"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "golden"), [
    (["flow.py", "happy-path"], "flow.happy-path.txt"),
    (["flow.py", "payment-declined"], "flow.payment-declined.txt"),
    (["flow.py", "payment-timeout"], "flow.payment-timeout.txt"),
    (["retry.py"], "retry.txt"),
])
def test_script_prints_its_expected_output(tmp_path: Path, args: list[str], golden: str) -> None:
    environment = {k: v for k, v in os.environ.items() if k not in EXAMPLE_ENV}
    result = subprocess.run([sys.executable, str(ORCHESTRATION / args[0]), *args[1:]], cwd=tmp_path,
                            env=environment, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == (EXPECTED / golden).read_text()


def test_flow_rejects_an_unknown_scenario(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(ORCHESTRATION / "flow.py"), "lost-in-the-post"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "choose one of: happy-path, payment-declined, payment-timeout" in result.stderr


def test_every_listing_fits_72_columns() -> None:
    """The article's code is read in a blog's text column (ruff.toml's line-length)."""
    long = [f"{path.relative_to(ORCHESTRATION)}:{number}"
            for path in sorted(ORCHESTRATION.rglob("*.py"))
            for number, line in enumerate(path.read_text("utf-8").splitlines(), 1) if len(line) > 72]
    assert long == []
