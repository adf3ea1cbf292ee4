"""The words a page uses for how its participants talk, chosen from what the bundle declares.

One place says "publishes", "calls … with", "passes … to" and "answers with", so no template
says "publishes" of a direct call. The choice follows the ``via`` of each message
(:func:`~pattern_articles.content.model.interaction_styles`):

========================  ===========================  ==================================
styles                    participants / messages      a message in a step
========================  ===========================  ==================================
only ``broker``           services / the events        publishes ``X`` (sends: commands)
``call`` (no broker)      services / calls, replies    calls **R** with ``X``; answers with ``Y``
only ``send``             the stages / what flows      passes ``X`` to **R**
``broker`` and others     participants / the messages  each message by its own ``via``
========================  ===========================  ==================================

Pure functions of the model, so they are tested without a page; templates reach them as
``words`` (a :class:`Vocabulary`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ..content.model import interaction_styles, parse_join

if TYPE_CHECKING:
    from ..content.model import BundleModel, Event, Step

Style = Literal["broker", "call", "send", "mixed"]

NONE = "—"  # an empty table cell, as the tables always showed it


def style_of(styles: frozenset[str]) -> Style:
    """The vocabulary for a set of ``via`` values: a bundle with no messages reads as today's."""
    if styles <= {"broker"}:
        return "broker"
    if "broker" in styles:
        return "mixed"
    if "call" in styles:
        return "call"
    return "send"


def and_list(items: Sequence[str]) -> str:
    """``a``; ``a and b``; ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def code(name: str) -> str:
    return f"`{name}`"


@dataclass(frozen=True)
class Vocabulary:
    """Headings, table columns and sentences for one bundle's messages."""

    model: BundleModel
    style: Style
    names: dict[str, str] = field(default_factory=dict)  # participant id -> display name
    by_name: dict[str, Event] = field(default_factory=dict)  # message kind -> its declaration
    answered: frozenset[str] = frozenset()  # kinds some call names among its replies

    # -- headings and tables -------------------------------------------------------------
    @property
    def participant(self) -> str:
        """The participants table's first column."""
        return {"broker": "Service", "call": "Service", "send": "Stage"}.get(self.style, "Participant")

    @property
    def participants_heading(self) -> str:
        return {"send": "The stages", "mixed": "The participants and what they own"}.get(
            self.style, "The services and what they own")

    @property
    def messages_heading(self) -> str:
        return {"broker": "The events", "call": "The calls and their replies",
                "send": "What flows between them"}.get(self.style, "The messages")

    @property
    def messages(self) -> str:
        """What the page calls the things that travel, in running text."""
        return "events" if self.style == "broker" else "messages"

    @property
    def columns(self) -> tuple[str, ...]:
        return {
            "broker": ("Event", "Published by", "Consumed by", "Kind"),
            "call": ("Request", "Sent by", "Handled by", "Replies"),
            "send": ("Message", "From", "To"),
        }.get(self.style, ("Message", "Sent by", "Received by", "How"))

    def rows(self) -> list[tuple[str, ...]]:
        """The messages table's rows (Markdown cells), one per message kind; in the calls
        table a reply sits in the column of the request it answers, not in a row of its own."""
        out: list[tuple[str, ...]] = []
        for event in self.model.events:
            sent_by = ", ".join(self.name(p) for p in event.producers)
            received = ", ".join(self.name(c) for c in event.consumers) or NONE
            if self.style == "broker":
                out.append((code(event.name), sent_by, received, event.kind))
            elif self.style == "call":
                if event.name in self.answered:
                    continue
                replies = ", ".join(code(r) for r in event.replies) or ("one-way" if event.via == "send" else NONE)
                out.append((code(event.name), sent_by, received, replies))
            elif self.style == "send":
                out.append((code(event.name), sent_by, received))
            else:
                out.append((code(event.name), sent_by, received, self.how(event)))
        return out

    def how(self, event: Event) -> str:
        """How one message travels, in the mixed table's last column."""
        if event.via == "broker":
            return "published"
        if event.via == "send":
            return "hand-off"
        return "reply" if self.is_reply(event) else "call"

    # -- sentences ---------------------------------------------------------------------
    def step(self, step: Step) -> str:
        """One step of a flow: "**Actor**, on `X`, does this. It publishes `Y`." """
        trigger = self.trigger(step)
        text = f"**{self.name(step.actor)}**" + (f", {trigger}," if trigger else "") + f" {step.action}"
        emitted = self.emitted(step)
        return text + (f" It {emitted}." if emitted else "")

    def trigger(self, step: Step) -> str:
        """What the step waits for: "on `X`", "once it has `A` and `B`", "on the first 2
        `Quote` replies", "when the deadline passes, with the `Quote` replies it has",
        "when `ReserveStock` gets no reply in time"; empty for a first step."""
        if step.on_timeout:
            return f"when {code(step.on_timeout)} gets no reply in time"
        kinds = step.triggers
        if not kinds:
            return ""
        counts = [len(e.producers) if (e := self.event(k)) is not None else 1 for k in kinds]
        several = len(kinds) > 1 or counts[0] > 1
        mode, n, deadline = parse_join(step.join) if step.join else ("all", None, False)
        if mode == "all" and not several:
            return f"on {code(kinds[0])}"
        if mode == "all":
            items = [code(k) if c == 1 else f"all {c} {code(k)} {self.noun(k, True)}"
                     for k, c in zip(kinds, counts, strict=True)]
            return f"once it has {and_list(items)}"
        if len(kinds) == 1:
            if mode == "first":
                first = (f"the first {n} {code(kinds[0])} {self.noun(kinds[0], True)}" if n != 1
                         else f"the first {code(kinds[0])} {self.noun(kinds[0], False)}")
            held = f"the {code(kinds[0])} {self.noun(kinds[0], True)} it has"
        else:
            listed = and_list([code(k) for k in kinds])
            first = f"the first {n} of {listed}" if n != 1 else f"the first of {listed}"
            held = f"what it has of {listed}"
        if mode == "deadline":
            return f"when the deadline passes, with {held}"
        return f"on {first}" + (", or when the deadline passes with fewer" if deadline else "")

    def emitted(self, step: Step) -> str:
        """What the step sends, each message by its ``via``: "publishes `A` and `B`",
        "calls **Payment service** with `ChargeCard`", "answers with `PaymentCharged`",
        "passes `Record` to **Validate**"; never "publishes" of a call or a hand-off."""
        groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for name in step.emits:
            event = self.event(name)
            via: str = event.via if event is not None else "broker"
            if via == "broker":
                key: tuple[str, tuple[str, ...]] = ("broker", ())
            elif event is not None and self.is_reply(event):
                key = ("reply", ())
            else:
                key = (via, tuple(event.consumers) if event is not None else ())
            groups.setdefault(key, []).append(name)
        clauses: list[str] = []
        fanned = 0
        for (via, receivers), names in groups.items():
            messages = and_list([code(n) for n in names])
            to = and_list([f"**{self.name(r)}**" for r in receivers])
            if via == "broker":
                commands = all((e := self.event(n)) is not None and e.kind == "command" for n in names)
                clauses.append(f"{'sends' if commands else 'publishes'} {messages}")
            elif via == "reply":
                clauses.append(f"answers with {messages}")
            elif not receivers:  # a call or hand-off to nobody is refused at load; say no more
                clauses.append(f"sends {messages}")
            elif via == "call":
                clauses.append(f"calls {to} with {messages}")
                fanned += len(receivers) * len(names)
            else:
                clauses.append(f"passes {messages} to {to}")
                fanned += len(receivers) * len(names)
        text = and_list(clauses)
        if step.parallel and fanned > 1:
            text += ", all at once"
        return text

    def caption(self, snippet: str) -> str:
        """The line above a section's diagrams: they are drawn from a real run."""
        if self.style == "broker":
            return (f"The diagrams in this section are drawn from the events that {code(snippet)} "
                    "published and consumed when it ran each scenario.")
        return (f"The diagrams in this section are drawn from the messages that {code(snippet)} "
                "sent and received when it ran each scenario.")

    # -- lookups -------------------------------------------------------------------------
    def name(self, pid: str) -> str:
        return self.names.get(pid, pid)

    def event(self, name: str) -> Event | None:
        return self.by_name.get(name)

    def is_reply(self, event: Event) -> bool:
        """A call's answer: declared ``kind: reply``, or named in a call's ``replies``."""
        return event.via == "call" and (event.kind == "reply" or event.name in self.answered)

    def noun(self, name: str, plural: bool) -> str:
        """What one message of a kind is called: a reply, an event (broker) or a message."""
        event = self.event(name)
        word = ("reply" if event is not None and self.is_reply(event)
                else "event" if event is None or event.via == "broker" else "message")
        if not plural:
            return word
        return "replies" if word == "reply" else word + "s"


def vocabulary(model: BundleModel) -> Vocabulary:
    """The words for ``model``, from the ``via`` of its messages."""
    return Vocabulary(
        model,
        style_of(interaction_styles(model)),
        {p.id: p.name for p in model.participants},
        {e.name: e for e in model.events},
        frozenset(r for e in model.events for r in e.replies),
    )


__all__ = ["Vocabulary", "and_list", "style_of", "vocabulary"]
