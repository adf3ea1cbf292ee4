"""The scripts behind two Important Considerations: an event storm and a schema change.

Each test checks the behaviour the article claims for them, not only their printed output:
the hop limit is what stops the storm and "no change, no event" is what settles it; an
in-place rename strands the old consumer, a missing upcaster strands the new one, and the
compatible change lets both read both schemas.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import event_storm
import pytest
import schema_evolution
from event_storm import HopLimitedBus
from schema_evolution import schema_1, schema_2_additive, schema_2_renamed, upcast
from shop.events import Event
from shop.store import Record

RunScript = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.parametrize("script", ["event_storm.py", "schema_evolution.py"])
def test_script_prints_its_expected_output(run_script: RunScript, expected: Path, script: str) -> None:
    result = run_script(script)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == (expected / script.replace(".py", ".txt")).read_text()


# --- event_storm.py ---------------------------------------------------------------------


def chain(bus: HopLimitedBus) -> list[tuple[str, str, int]]:
    """(source, event, hops) of everything the bus let through, request included."""
    seen: dict[str, Event] = {}
    for _, event in bus.deliveries:
        seen.setdefault(event.event_id, event)
    return [(e.source, e.name, bus.hops[e.event_id]) for e in seen.values()]


def test_without_the_rule_the_loop_runs_until_the_hop_limit_parks_it(clean_env: None) -> None:
    bus, _, services = event_storm.run(no_change_no_event=False)

    published = chain(bus)[1:]
    assert len(published) == event_storm.HOP_LIMIT
    # the cycle, one reaction per hop: PriceChanged, SalePriceChanged, PriceChanged, ...
    assert [name for _, name, _ in published[:4]] == ["PriceChanged", "SalePriceChanged"] * 2
    assert [hops for _, _, hops in published] == list(range(1, event_storm.HOP_LIMIT + 1))
    assert [(e.name, e.source) for e in bus.parked] == [("PriceChanged", "pricing")]
    # the storm repeated the same facts: nothing in it was news
    assert services["pricing"].store.get("prices", "widget") == {
        "list_cents": 2000, "shelf_cents": 1800, "version": event_storm.HOP_LIMIT // 2 + 1,
    }


def test_the_hop_limit_alone_decides_where_the_storm_stops(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_storm, "HOP_LIMIT", 5)

    bus, _, _ = event_storm.run(no_change_no_event=False)

    assert len(chain(bus)) - 1 == 5
    assert len(bus.parked) == 1
    assert bus.parked[0].caused_by == max(bus.hops, key=bus.hops.__getitem__)


def test_with_the_rule_the_same_loop_settles_after_three_events(clean_env: None) -> None:
    bus, lines, services = event_storm.run(no_change_no_event=True)

    assert [(source, name) for source, name, _ in chain(bus)] == [
        ("backoffice", "SetListPrice"),
        ("pricing", "PriceChanged"),
        ("promotions", "SalePriceChanged"),
        ("pricing", "PriceChanged"),
    ]
    assert bus.parked == []
    assert lines[-1].startswith("promotions <- PriceChanged")
    assert lines[-1].endswith("unchanged, no event")
    price = services["pricing"].store.get("prices", "widget")
    assert price is not None
    assert (price["list_cents"], price["shelf_cents"]) == (2000, 1800)


def test_the_rule_still_announces_a_real_change(clean_env: None) -> None:
    bus, _, services = event_storm.run(no_change_no_event=True)
    before = len(chain(bus))

    bus.publish(Event("SetListPrice", "backoffice", "widget", 2, {"sku": "widget", "list_cents": 3000}))

    assert [name for _, name, _ in chain(bus)[before:]] == [
        "SetListPrice", "PriceChanged", "SalePriceChanged", "PriceChanged",
    ]
    assert services["promotions"].store.get("sale_prices", "widget") == {"sale_cents": 2700, "version": 2}
    price = services["pricing"].store.get("prices", "widget")
    assert price is not None
    assert (price["list_cents"], price["shelf_cents"]) == (3000, 2700)


# --- schema_evolution.py ----------------------------------------------------------------


def stuck(outcomes: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    return {key: text for key, text in outcomes.items() if text.startswith("cannot read it")}


def test_a_rename_in_place_strands_each_consumer_on_the_schema_it_was_not_written_for(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcomes = schema_evolution.run("t", schema_2_renamed, upcaster=False)

    assert stuck(outcomes) == {
        ("payment", "order-1002"): "cannot read it: KeyError 'amount_cents'",
        ("invoicing", "order-1001"): "cannot read it: KeyError 'total'",
    }
    assert "2 of 4 deliveries handled, 2 stuck" in capsys.readouterr().out


def test_the_compatible_change_lets_the_old_and_the_new_consumer_read_both_schemas() -> None:
    outcomes = schema_evolution.run("t", schema_2_additive, upcaster=True)

    assert outcomes == {
        ("payment", "order-1001"): "charged alice 40.00 -> PaymentCompleted",
        ("invoicing", "order-1001"): "invoiced alice 40.00 EUR",
        ("payment", "order-1002"): "charged alice 45.00 -> PaymentCompleted",
        ("invoicing", "order-1002"): "invoiced alice 45.00 EUR",
    }


def test_without_the_upcaster_the_new_consumer_fails_on_events_of_the_old_schema() -> None:
    outcomes = schema_evolution.run("t", schema_2_additive, upcaster=False)

    assert stuck(outcomes) == {("invoicing", "order-1001"): "cannot read it: KeyError 'total'"}


def test_an_upcaster_cannot_save_an_old_consumer_from_a_breaking_producer() -> None:
    outcomes = schema_evolution.run("t", schema_2_renamed, upcaster=True)

    assert stuck(outcomes) == {("payment", "order-1002"): "cannot read it: KeyError 'amount_cents'"}


@pytest.mark.parametrize("make", [schema_2_renamed, schema_2_additive])
def test_upcast_turns_schema_1_into_schema_2_and_leaves_schema_2_alone(make: Callable[[str], Record]) -> None:
    old, new = schema_1("order-1001"), make("order-1001")

    assert upcast(new) == new
    assert upcast(old) == {**old, "schema": 2, "total": {"cents": 4000, "currency": "EUR"}}
    assert "schema" not in old  # the upcaster copies; the event it was given stays as it was
