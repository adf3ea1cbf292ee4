"""The words a page uses follow how its messages travel (``via``): a page never says
"publishes" of a direct call, and a broker-only bundle reads exactly as before."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pattern_articles.content import article, bundle
from pattern_articles.content.model import Step
from pattern_articles.pages.fill import Filler, _paragraphs
from pattern_articles.pages.vocabulary import Vocabulary, and_list, style_of, vocabulary
from pattern_articles.settings import Settings

BROKER = """\
name: Relay
participants:
  - {id: client, name: Client, owns: nothing, responsibility: Asks.}
  - {id: order, name: Order service, owns: orders, responsibility: Keeps orders.}
  - {id: payment, name: Payment service, owns: ledger, responsibility: Charges.}
events:
  - {name: PlaceOrder, producer: client, consumers: [order], kind: command}
  - {name: OrderPlaced, producer: order, consumers: [payment]}
  - {name: PaymentCompleted, producer: payment, consumers: []}
flows:
  happy_path:
    steps:
      - {actor: client, action: asks for a widget., emits: [PlaceOrder]}
      - {actor: order, reacts_to: PlaceOrder, action: stores the order., emits: [OrderPlaced]}
      - {actor: payment, reacts_to: OrderPlaced, action: charges the card., emits: [PaymentCompleted]}
"""

CALLS = """\
name: Conductor
participants:
  - {id: boss, name: Orchestrator, owns: the order's progress, responsibility: Drives each step.}
  - {id: payment, name: Payment service, owns: the ledger, responsibility: Charges and refunds.}
  - {id: stock, name: Inventory service, owns: stock, responsibility: Reserves goods.}
events:
  - {name: ChargeCard, producer: boss, consumers: [payment], via: call, kind: request,
     replies: [PaymentCharged, PaymentRefused]}
  - {name: PaymentCharged, producer: payment, consumers: [boss], via: call, kind: reply}
  - {name: PaymentRefused, producer: payment, consumers: [boss], via: call, kind: reply}
  - {name: ReserveStock, producer: boss, consumers: [stock], via: call, kind: request, replies: [StockReserved]}
  - {name: StockReserved, producer: stock, consumers: [boss], via: call, kind: reply}
  - {name: RefundCard, producer: boss, consumers: [payment], via: call, kind: request}
flows:
  snippet: run.py
  happy_path:
    scenario: happy
    steps:
      - {actor: boss, action: takes the order., emits: [ChargeCard]}
      - {actor: payment, reacts_to: ChargeCard, action: charges the card., emits: [PaymentCharged]}
      - {actor: boss, reacts_to: PaymentCharged, action: moves on to the goods., emits: [ReserveStock]}
      - {actor: stock, reacts_to: ReserveStock, action: sets the goods aside., emits: [StockReserved]}
  failure_paths:
    - name: stock-lost
      trigger: The inventory service never answers.
      steps:
        - {actor: boss, on_timeout: ReserveStock, action: gives up on the goods., emits: [RefundCard]}
    - name: card-refused
      trigger: The bank says no.
      steps:
        - {actor: boss, action: takes the order., emits: [ChargeCard]}
        - {actor: payment, reacts_to: ChargeCard, action: is refused., emits: [PaymentRefused]}
snippets:
  run.py:
    scenarios:
      happy: {}
"""

SENDS = """\
name: Pipeline
participants:
  - {id: source, name: Reader, responsibility: Reads lines.}
  - {id: check, name: Validate, responsibility: Drops bad lines.}
  - {id: sink, name: Writer, responsibility: Stores records.}
events:
  - {name: Line, producer: source, consumers: [check], via: send, kind: record}
  - {name: Record, producer: check, consumers: [sink], via: send, kind: record}
flows:
  happy_path:
    steps:
      - {actor: source, action: reads a line., emits: [Line]}
      - {actor: check, reacts_to: Line, action: checks it., emits: [Record]}
      - {actor: sink, reacts_to: Record, action: stores it.}
"""

MIXED = """\
name: Blend
participants:
  - {id: shop, name: Shop, owns: carts, responsibility: Sells.}
  - {id: pay, name: Payments, owns: ledger, responsibility: Charges.}
  - {id: mail, name: Mailer, owns: outbox, responsibility: Writes to customers.}
events:
  - {name: Charge, producer: shop, consumers: [pay], via: call, kind: request, replies: [Charged]}
  - {name: Charged, producer: pay, consumers: [shop], via: call, kind: reply}
  - {name: OrderPaid, producer: shop, consumers: [mail]}
  - {name: Letter, producer: shop, consumers: [mail], via: send, kind: record}
flows:
  happy_path:
    steps:
      - {actor: shop, action: checks out., emits: [Charge]}
      - {actor: pay, reacts_to: Charge, action: charges., emits: [Charged]}
      - {actor: shop, reacts_to: Charged, action: records the sale., emits: [OrderPaid, Letter]}
"""

GATHER = """\
name: Scatter Gather
participants:
  - {id: buyer, name: Buyer, responsibility: Asks for quotes.}
  - {id: acme, name: Acme, responsibility: Quotes.}
  - {id: bolt, name: Bolt, responsibility: Quotes.}
  - {id: cogs, name: Cogs, responsibility: Quotes.}
events:
  - {name: RequestQuote, producer: buyer, consumers: [acme, bolt, cogs], via: call, kind: request,
     replies: [Quote]}
  - {name: Quote, producer: [acme, bolt, cogs], consumers: [buyer], via: call, kind: reply}
  - {name: Approved, producer: buyer, consumers: [acme], via: send}
  - {name: Budget, producer: buyer, consumers: [acme], via: send}
flows:
  happy_path:
    steps:
      - {actor: buyer, action: asks every supplier., emits: [RequestQuote], parallel: true}
      - {actor: acme, reacts_to: RequestQuote, action: prices it., emits: [Quote]}
      - {actor: buyer, reacts_to: Quote, action: picks the cheapest.}
  failure_paths:
    - name: over-budget
      trigger: Every quote is too dear.
      steps:
        - {actor: buyer, action: asks for approval., emits: [Approved, Budget]}
"""


def load(tmp_path: Path, text: str, name: str = "demo") -> bundle.Bundle:
    folder = tmp_path / "snippets" / name
    folder.mkdir(parents=True)
    (folder / "bundle.yml").write_text(text)
    if "run.py" in text:
        (folder / "run.py").write_text("print('ran')\n")
    return bundle.load(folder)


def use_case(b: bundle.Bundle) -> str:
    """The Use Case section as a page shows it (no run: diagrams from the metadata)."""
    out = Filler(Settings(root=b.dir.parent.parent, run=False), b).fill(article.parse("## Use Case\n", "a.md"))
    return out.markdown


def test_style_follows_the_vias() -> None:
    assert style_of(frozenset()) == "broker"
    assert style_of(frozenset({"broker"})) == "broker"
    assert style_of(frozenset({"call"})) == "call"
    assert style_of(frozenset({"call", "send"})) == "call"
    assert style_of(frozenset({"send"})) == "send"
    assert style_of(frozenset({"broker", "send"})) == "mixed"
    assert and_list(["a"]) == "a" and and_list(["a", "b", "c"]) == "a, b and c"


def test_a_broker_only_bundle_reads_as_before(tmp_path: Path) -> None:
    md = use_case(load(tmp_path, BROKER))
    assert "### The services and what they own\n\n| Service | Owns | Responsibility |\n" in md
    assert ("### The events\n\n| Event | Published by | Consumed by | Kind |\n| --- | --- | --- | --- |\n"
            "| `PlaceOrder` | Client | Order service | command |\n") in md
    assert "| `PaymentCompleted` | Payment service | — | domain |\n" in md
    assert ("1. **Client** asks for a widget. It sends `PlaceOrder`.\n"
            "2. **Order service**, on `PlaceOrder`, stores the order. It publishes `OrderPlaced`.\n"
            "3. **Payment service**, on `OrderPlaced`, charges the card. It publishes `PaymentCompleted`.\n") in md


def test_a_call_only_bundle_never_says_publishes_events_or_broker(tmp_path: Path) -> None:
    b = load(tmp_path, CALLS)
    md = use_case(b)
    for banned in ("publish", "event", "broker", "consume"):  # the diagrams included
        assert banned not in md.lower(), (banned, md)
    assert "Note over boss: no reply to ReserveStock in time" in md, "the timeout drawn, in the metadata diagram"
    assert "### The services and what they own" in md
    assert ("### The calls and their replies\n\n| Request | Sent by | Handled by | Replies |\n"
            "| --- | --- | --- | --- |\n"
            "| `ChargeCard` | Orchestrator | Payment service | `PaymentCharged`, `PaymentRefused` |\n"
            "| `ReserveStock` | Orchestrator | Inventory service | `StockReserved` |\n"
            "| `RefundCard` | Orchestrator | Payment service | — |\n") in md, "a reply is no row of its own"
    assert "1. **Orchestrator** takes the order. It calls **Payment service** with `ChargeCard`.\n" in md
    assert "2. **Payment service**, on `ChargeCard`, charges the card. It answers with `PaymentCharged`.\n" in md
    # the run's caption (no run here, but the caption is written once a scenario is declared)
    assert ("The diagrams in this section are drawn from the messages that `run.py` sent and received "
            "when it ran each scenario.") in md
    steps = b.model.flows.failure_paths[0].steps
    assert vocabulary(b.model).step(steps[0]) == (
        "**Orchestrator**, when `ReserveStock` gets no reply in time, gives up on the goods. "
        "It calls **Payment service** with `RefundCard`.")


def test_a_send_only_bundle_says_stages(tmp_path: Path) -> None:
    md = use_case(load(tmp_path, SENDS))
    assert "### The stages\n\n| Stage | Responsibility |\n| --- | --- |\n| **Reader** | Reads lines. |\n" in md, \
        "nobody owns anything: no empty Owns column"
    assert "### What flows between them\n\n| Message | From | To |\n| --- | --- | --- |\n" in md
    assert "| `Line` | Reader | Validate |\n" in md
    assert "1. **Reader** reads a line. It passes `Line` to **Validate**.\n" in md
    assert "2. **Validate**, on `Line`, checks it. It passes `Record` to **Writer**.\n" in md
    assert "publish" not in md.lower() and "event" not in md.lower() and "broker" not in md.lower()


def test_a_mixed_bundle_says_messages_and_each_by_its_way(tmp_path: Path) -> None:
    b = load(tmp_path, MIXED)
    md = use_case(b)
    assert "### The participants and what they own\n\n| Participant | Owns | Responsibility |" in md
    assert "### The messages\n\n| Message | Sent by | Received by | How |\n" in md
    for row in ("| `Charge` | Shop | Payments | call |", "| `Charged` | Payments | Shop | reply |",
                "| `OrderPaid` | Shop | Mailer | published |", "| `Letter` | Shop | Mailer | hand-off |"):
        assert row in md
    assert "1. **Shop** checks out. It calls **Payments** with `Charge`.\n" in md
    assert "2. **Payments**, on `Charge`, charges. It answers with `Charged`.\n" in md
    assert ("3. **Shop**, on `Charged`, records the sale. "
            "It publishes `OrderPaid` and passes `Letter` to **Mailer**.\n") in md
    assert vocabulary(b.model).caption("x.py").startswith("The diagrams in this section are drawn from the messages")


@pytest.fixture
def gather(tmp_path: Path) -> Vocabulary:
    return vocabulary(load(tmp_path, GATHER).model)


def step(**fields: object) -> Step:
    return Step.model_validate({"actor": "buyer", "action": "picks one.", **fields})


@pytest.mark.parametrize(("fields", "sentence"), [
    ({"reacts_to": "Quote"}, "**Buyer**, once it has all 3 `Quote` replies, picks one."),
    ({"reacts_to": "Quote", "join": "all"}, "**Buyer**, once it has all 3 `Quote` replies, picks one."),
    ({"reacts_to": "Quote", "join": "first 2"}, "**Buyer**, on the first 2 `Quote` replies, picks one."),
    ({"reacts_to": "Quote", "join": "first 1"}, "**Buyer**, on the first `Quote` reply, picks one."),
    ({"reacts_to": "Quote", "join": "deadline"},
     "**Buyer**, when the deadline passes, with the `Quote` replies it has, picks one."),
    ({"reacts_to": "Quote", "join": "first 2 or deadline"},
     "**Buyer**, on the first 2 `Quote` replies, or when the deadline passes with fewer, picks one."),
    ({"reacts_to": ["Approved", "Budget"]}, "**Buyer**, once it has `Approved` and `Budget`, picks one."),
    ({"reacts_to": ["Approved", "Quote"]},
     "**Buyer**, once it has `Approved` and all 3 `Quote` replies, picks one."),
    ({"reacts_to": ["Approved", "Budget"], "join": "first 1"},
     "**Buyer**, on the first of `Approved` and `Budget`, picks one."),
    ({"reacts_to": ["Approved", "Budget"], "join": "deadline"},
     "**Buyer**, when the deadline passes, with what it has of `Approved` and `Budget`, picks one."),
    ({"reacts_to": "Approved"}, "**Buyer**, on `Approved`, picks one."),
    ({"on_timeout": "RequestQuote"}, "**Buyer**, when `RequestQuote` gets no reply in time, picks one."),
    ({"emits": ["RequestQuote"], "parallel": True},
     "**Buyer** picks one. It calls **Acme**, **Bolt** and **Cogs** with `RequestQuote`, all at once."),
    ({"emits": ["RequestQuote"]}, "**Buyer** picks one. It calls **Acme**, **Bolt** and **Cogs** with `RequestQuote`."),
    ({"emits": ["Approved", "Budget"]}, "**Buyer** picks one. It passes `Approved` and `Budget` to **Acme**."),
    ({"emits": ["Approved", "RequestQuote"]},
     "**Buyer** picks one. It passes `Approved` to **Acme** and calls **Acme**, **Bolt** and **Cogs** with "
     "`RequestQuote`."),
])
def test_joins_deadlines_and_timeouts_read_as_sentences(gather: Vocabulary, fields: dict[str, object],
                                                        sentence: str) -> None:
    assert gather.step(step(**fields)) == sentence


def test_the_gather_page_names_a_fan_out(tmp_path: Path) -> None:
    md = use_case(load(tmp_path, GATHER))
    assert ("1. **Buyer** asks every supplier. "
            "It calls **Acme**, **Bolt** and **Cogs** with `RequestQuote`, all at once.\n") in md
    assert "2. **Acme**, on `RequestQuote`, prices it. It answers with `Quote`.\n" in md
    assert "3. **Buyer**, once it has all 3 `Quote` replies, picks the cheapest.\n" in md
    assert "| `RequestQuote` | Buyer | Acme, Bolt, Cogs | `Quote` |" in md
    assert "| `Approved` | Buyer | Acme | one-way |" in md, "a hand-off among calls answers nothing"
    assert "par RequestQuote to Acme" in md, "the fan-out drawn as one"


def test_a_call_article_with_an_empty_introduction_shows_no_paragraph_twice(tmp_path: Path) -> None:
    text = CALLS.replace("name: Conductor\n", textwrap.dedent("""\
        name: Conductor
        description: One service drives the others.
        definition: {text: A conductor tells each service what to do and waits for its answer.}
        summary: {text: One service drives the others., takeaways: [the flow lives in one place]}
        """))
    b = load(tmp_path, text)
    skeleton = ("## Introduction\n\n## What is Conductor Pattern\n\n## Use Case\n\n## Summary\n")
    out = Filler(Settings(root=tmp_path, run=False), b).fill(article.parse(skeleton, "a.md"))
    paragraphs = [t for _, _, t, top in _paragraphs(out.markdown) if top and not t.startswith("|")]
    assert len(paragraphs) == len(set(paragraphs)), paragraphs
    assert out.markdown.count("A conductor tells each service") == 1
    assert "## Summary\n\n- the flow lives in one place" in out.markdown, "the repeated summary text dropped"
