"""The declared-flow cycle check of the fill: joins count every trigger, replies never loop."""

from __future__ import annotations

import textwrap
from pathlib import Path

from pattern_articles.content import bundle
from pattern_articles.pages.fill import Filler
from pattern_articles.settings import Settings

BUNDLE = """\
name: Demo
participants:
  - {id: orch, name: Orchestrator}
  - {id: pay, name: Payment}
events:
  - {name: ChargeCard, via: call, producer: orch, consumers: [pay], replies: [Charged, Refused]}
  - {name: Charged, via: call, kind: reply, producer: pay, consumers: [orch]}
  - {name: Refused, via: call, kind: reply, producer: pay, consumers: [orch]}
  - {name: Tick, producer: orch, consumers: [orch]}
flows:
  happy_path:
    steps:
      - {actor: orch, action: charges, emits: [ChargeCard]}
      - {actor: pay, reacts_to: ChargeCard, action: answers, emits: [Charged]}
      - {actor: orch, reacts_to: Charged, action: ticks, emits: [Tick]}
  failure_paths:
    - name: declined
      trigger: the card is refused
      steps:
        - {actor: pay, reacts_to: ChargeCard, action: refuses, emits: [Refused]}
        - {actor: orch, reacts_to: Refused, action: tries again, emits: [ChargeCard]}
"""


def cycles_of(tmp_path: Path, text: str) -> list[str]:
    folder = tmp_path / "snippets" / "demo"
    folder.mkdir(parents=True)
    (folder / "bundle.yml").write_text(textwrap.dedent(text), encoding="utf-8")
    filler = Filler(Settings(root=tmp_path), bundle.load(folder))
    filler.check_cycles()
    return [p.message for p in filler.problems]


def test_a_retry_after_a_reply_is_a_round_trip_not_a_cycle(tmp_path: Path) -> None:
    assert cycles_of(tmp_path, BUNDLE) == []


def test_a_join_trigger_that_loops_is_a_cycle(tmp_path: Path) -> None:
    text = BUNDLE.replace(
        "  - {name: Tick, producer: orch, consumers: [orch]}\n",
        "  - {name: Tick, producer: orch, consumers: [orch]}\n  - {name: Tock, producer: orch}\n",
    ).replace(
        "      - {actor: orch, reacts_to: Charged, action: ticks, emits: [Tick]}\n",
        "      - {actor: orch, reacts_to: [Charged, Tock], action: ticks, emits: [Tick]}\n"
        "      - {actor: orch, reacts_to: Tick, action: tocks, emits: [Tock]}\n",
    )
    assert cycles_of(tmp_path, text) == ["declared events form a cycle: Tick -> Tock -> Tick"]


def test_a_loop_of_hand_offs_is_named_as_messages_not_events(tmp_path: Path) -> None:
    text = """\
    name: Loop
    participants:
      - {id: a, name: A}
      - {id: b, name: B}
    events:
      - {name: Ping, via: send, producer: a, consumers: [b]}
      - {name: Pong, via: send, producer: b, consumers: [a]}
    flows:
      happy_path:
        steps:
          - {actor: a, action: starts, emits: [Ping]}
          - {actor: b, reacts_to: Ping, action: answers, emits: [Pong]}
          - {actor: a, reacts_to: Pong, action: pings again, emits: [Ping]}
    """
    assert cycles_of(tmp_path, text) == ["declared messages form a cycle: Ping -> Pong -> Ping"]
