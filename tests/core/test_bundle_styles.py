"""Interaction styles in bundle metadata: calls with replies, hand-offs, several producers,
joins and timeouts. Each bad value is one message naming its YAML line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pattern_articles.content import bundle
from pattern_articles.content.model import BundleModel, Event, Step, interaction_styles, json_schema, parse_join
from pattern_articles.errors import PatternError

# line numbers matter: the tests below name them
CALLS = """\
name: Orchestration
participants:
  - {id: orch, name: Orchestrator}
  - {id: pay, name: Payment service}
  - {id: acme, name: Acme}
  - {id: bolt, name: Bolt}
events:
  - name: ChargeCard
    via: call
    kind: request
    producer: orch
    consumers: [pay]
    replies: [PaymentCharged]
  - {name: PaymentCharged, via: call, kind: reply, producer: pay, consumers: [orch]}
  - {name: AskQuote, via: call, kind: request, producer: orch, consumers: [acme, bolt], replies: [Quote]}
  - {name: Quote, via: call, kind: reply, producer: [acme, bolt], consumers: [orch]}
  - {name: Done, producer: orch, consumers: [orch]}
flows:
  happy_path:
    steps:
      - {actor: orch, action: asks for quotes, parallel: true, emits: [AskQuote]}
      - {actor: acme, reacts_to: AskQuote, action: quotes, emits: [Quote]}
      - {actor: bolt, reacts_to: AskQuote, action: quotes, emits: [Quote]}
      - {actor: orch, reacts_to: Quote, join: first 2 or deadline, action: charges, emits: [ChargeCard]}
      - {actor: pay, reacts_to: ChargeCard, action: charges the card, emits: [PaymentCharged]}
      - {actor: orch, reacts_to: [PaymentCharged, Quote], action: finishes, emits: [Done]}
  failure_paths:
    - name: lost-reply
      trigger: the payment service never answers
      steps:
        - {actor: orch, on_timeout: ChargeCard, action: gives up, emits: [Done]}
"""


def make(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "demo"
    while folder.exists():  # a test may load several variants
        folder = folder.with_name(folder.name + "x")
    folder.mkdir()
    (folder / "bundle.yml").write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(PatternError) as info:
        bundle.load(make(tmp_path, text))
    return info.value.format()


def test_calls_replies_joins_and_timeouts_load(tmp_path: Path) -> None:
    loaded = bundle.load(make(tmp_path, CALLS))
    events = {e.name: e for e in loaded.model.events}
    assert events["Quote"].producers == ["acme", "bolt"]
    assert events["ChargeCard"].producers == ["orch"]
    assert events["Done"].via == "broker"  # the default: what every bundle meant before
    steps = loaded.model.flows.happy_path.steps  # type: ignore[union-attr]
    assert steps[0].parallel and not steps[1].parallel
    assert steps[3].triggers == ["Quote"] and steps[5].triggers == ["PaymentCharged", "Quote"]
    assert steps[0].triggers == []
    assert loaded.model.broker == "Event broker"
    assert interaction_styles(loaded.model) == {"call", "broker"}


def test_styles_of_a_bundle() -> None:
    assert interaction_styles(BundleModel(name="x")) == frozenset()
    assert interaction_styles(BundleModel(name="x", events=[Event(name="A", producer="a")])) == {"broker"}
    sends = [Event(name="R", producer="a", via="send", consumers=["b"])]
    assert interaction_styles(BundleModel(name="x", events=sends)) == {"send"}


@pytest.mark.parametrize(("text", "parsed"), [
    ("all", ("all", None, False)),
    ("deadline", ("deadline", None, True)),
    ("first 2", ("first", 2, False)),
    ("first 12 or deadline", ("first", 12, True)),
    ("  first 1  ", ("first", 1, False)),
])
def test_join_forms(text: str, parsed: tuple[str, int | None, bool]) -> None:
    assert parse_join(text) == parsed


@pytest.mark.parametrize("text", ["first two", "first 0", "some", "first 2 or", "any", "", "ALL", "first -1"])
def test_bad_join_names_its_line(tmp_path: Path, text: str) -> None:
    message = error_of(tmp_path, CALLS.replace("join: first 2 or deadline", f"join: '{text}'"))
    assert "join must be 'all', 'first N', 'deadline' or 'first N or deadline'" in message
    assert "bundle.yml:24" in message
    assert message.count("join must be") == 1


def test_join_without_trigger(tmp_path: Path) -> None:
    text = CALLS.replace("{actor: orch, action: asks for quotes,", "{actor: orch, join: all, action: asks for quotes,")
    message = error_of(tmp_path, text)
    assert "join without reacts_to" in message and "bundle.yml:21" in message


def test_join_waits_for_more_than_can_come(tmp_path: Path) -> None:
    message = error_of(tmp_path, CALLS.replace("join: first 2 or deadline", "join: first 3"))
    assert "join 'first 3' waits for 3 messages, but the step can get only 2" in message
    assert "bundle.yml:24" in message


def test_timeout_and_trigger_together(tmp_path: Path) -> None:
    text = CALLS.replace("{actor: orch, on_timeout: ChargeCard,",
                         "{actor: orch, reacts_to: Quote, on_timeout: ChargeCard,")
    message = error_of(tmp_path, text)
    assert "either reacts_to or on_timeout, not both" in message and "bundle.yml:31" in message


def test_timeout_of_an_undeclared_or_published_message(tmp_path: Path) -> None:
    message = error_of(tmp_path, CALLS.replace("on_timeout: ChargeCard", "on_timeout: ChargeCrad"))
    assert "on_timeout names undeclared message 'ChargeCrad'" in message and "bundle.yml:31" in message
    message = error_of(tmp_path, CALLS.replace("on_timeout: ChargeCard", "on_timeout: Done"))
    assert "on_timeout names 'Done', which travels by 'broker'" in message


def test_replies_on_a_published_event(tmp_path: Path) -> None:
    text = CALLS.replace("{name: Done, producer: orch,", "{name: Done, replies: [Quote], producer: orch,")
    message = error_of(tmp_path, text)
    assert "'Done' lists replies but travels by 'broker': only a call is answered" in message
    assert "bundle.yml:17" in message
    assert "1 problem(s)" in message


def test_reply_not_declared(tmp_path: Path) -> None:
    text = CALLS.replace("replies: [PaymentCharged]", "replies: [PaymentCharged, PaymentRefused]")
    message = error_of(tmp_path, text)
    assert "'ChargeCard' names reply 'PaymentRefused', which is not a declared message" in message
    assert "bundle.yml:13" in message


def test_reply_of_the_wrong_kind(tmp_path: Path) -> None:
    message = error_of(tmp_path, CALLS.replace("via: call, kind: reply, producer: pay", "via: call, producer: pay"))
    assert "'ChargeCard' names reply 'PaymentCharged', which is declared with kind 'domain'" in message
    assert "bundle.yml:13" in message


def test_reply_from_someone_who_got_no_call(tmp_path: Path) -> None:
    message = error_of(tmp_path, CALLS.replace("consumers: [acme, bolt]", "consumers: [acme]"))
    assert "reply 'Quote' is produced by 'bolt', which does not receive 'AskQuote'" in message


@pytest.mark.parametrize("via", ["call", "send"])
def test_a_direct_message_goes_to_someone(tmp_path: Path, via: str) -> None:
    text = CALLS.replace("{name: Done, producer: orch, consumers: [orch]}",
                         f"{{name: Done, via: {via}, producer: orch}}")
    message = error_of(tmp_path, text)
    assert f"'Done' travels by '{via}' but has no consumers" in message
    assert "name its receiver in consumers" in message and "bundle.yml:17" in message


def test_actor_not_among_several_producers(tmp_path: Path) -> None:
    text = CALLS.replace("{actor: bolt, reacts_to: AskQuote", "{actor: pay, reacts_to: AskQuote")
    message = error_of(tmp_path, text)
    assert "'pay' emits 'Quote', which is not among its producers ('acme', 'bolt')" in message
    assert "add 'pay' to the producers of 'Quote'" in message
    assert "bundle.yml:23" in message


def test_actor_not_the_one_producer_keeps_its_message(tmp_path: Path) -> None:
    text = CALLS.replace("{actor: pay, reacts_to: ChargeCard", "{actor: acme, reacts_to: ChargeCard")
    message = error_of(tmp_path, text)
    assert "'acme' emits 'PaymentCharged', but the event's producer is 'pay'" in message


def test_one_of_several_producers_undeclared_names_its_item(tmp_path: Path) -> None:
    text = CALLS.replace("producer: [acme, bolt]", "producer: [acme, bolt, cogs]")
    message = error_of(tmp_path, text)
    assert "event 'Quote' is produced by 'cogs', which is not a declared participant" in message
    assert "bundle.yml:16" in message


@pytest.mark.parametrize(("value", "said"), [
    ("3", "3 must be a name or a list of names"),
    ("[acme, 4]", "4 is not a name"),
    ("[]", "producer is an empty list"),
])
def test_bad_producer_is_one_message(tmp_path: Path, value: str, said: str) -> None:
    message = error_of(tmp_path, CALLS.replace("producer: [acme, bolt]", f"producer: {value}"))
    assert said in message and "bundle.yml:16" in message
    assert "valid string" not in message and "valid list" not in message


def test_reacts_to_list_undeclared_item(tmp_path: Path) -> None:
    text = CALLS.replace("reacts_to: [PaymentCharged, Quote]", "reacts_to: [PaymentCharged, Qoute]")
    message = error_of(tmp_path, text)
    assert "flow step reacts to undeclared event 'Qoute'" in message and "bundle.yml:26" in message


def test_bad_via_and_kind(tmp_path: Path) -> None:
    message = error_of(tmp_path, CALLS.replace("via: call, kind: request, producer: orch, consumers: [acme",
                                               "via: rpc, kind: request, producer: orch, consumers: [acme"))
    assert "events.2.via" in message and "'broker', 'call' or 'send'" in message and "bundle.yml:15" in message
    message = error_of(tmp_path, CALLS.replace("kind: request\n", "kind: query\n"))
    assert "events.0.kind" in message and "'reply'" in message and "bundle.yml:10" in message


def test_model_steps_and_events_directly() -> None:
    step = Step(actor="a", action="b", reacts_to="X")
    assert step.triggers == ["X"] and step.join is None and not step.parallel
    assert Step(actor="a", action="b", on_timeout="C").triggers == []
    assert Event(name="A", producer="a").producers == ["a"]


def test_schema_describes_the_new_keys() -> None:
    schema = json_schema()
    event = schema["$defs"]["Event"]["properties"]
    step = schema["$defs"]["Step"]["properties"]
    assert set(event["via"]["enum"]) == {"broker", "call", "send"}
    assert {"type": "array", "items": {"type": "string"}} in event["producer"]["anyOf"]
    assert "reply" in event["kind"]["enum"] and "record" in event["kind"]["enum"]
    assert {"join", "on_timeout", "parallel"} <= set(step)
    assert "first N" in step["join"]["description"]
    assert schema["properties"]["broker"]["default"] == "Event broker"
