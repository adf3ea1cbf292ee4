"""The metadata schema of a pattern bundle (pydantic v2).

Every model forbids unknown keys: a misspelt key is the most common authoring slip and it
must be an error naming the line, not silently ignored. Field descriptions end up in the
JSON Schema (``pattern-articles schema``) so editors can complete and explain the YAML.
Prose fields are Markdown.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    WrapValidator,
    field_validator,
    model_validator,
)

from .prose import TEXT_JSON_SCHEMA, text_or_file

MAX_TIMEOUT = 86_400.0
"""A day: a snippet timeout beyond it is a typo (and ``1e300`` or ``.inf`` overflowed the
runner's clock arithmetic)."""


def _env_name(value: str) -> str:
    """The kernel takes an environment as ``NAME=value`` strings ending in NUL: a name
    holding ``=`` or NUL cannot be passed, and an empty one is nothing."""
    if not value or "=" in value or "\0" in value:
        raise ValueError(f"{value!r} cannot be an environment variable name "
                         "(it must be non-empty, without '=' or a NUL character)")
    return value


def _no_nul(value: str) -> str:
    """Arguments and environment values are C strings for the kernel: NUL ends them."""
    if "\0" in value:
        raise ValueError(f"{value!r} holds a NUL character, which no program can be given")
    return value


def _input_glob(value: str) -> str:
    """``inputs`` are globs inside the bundle folder: the cache hashes what they match."""
    from pathlib import PurePosixPath

    if not value.strip() or "\0" in value:
        raise ValueError(f"{value!r} is not a file pattern")
    if value.startswith(("/", "\\")) or PurePosixPath(value).is_absolute() or ":" in value[:3]:
        raise ValueError(f"input '{value}' is absolute; it must be a pattern relative to the bundle folder")
    if ".." in PurePosixPath(value.replace("\\", "/")).parts:
        raise ValueError(f"input '{value}' leaves the bundle folder ('..'); name files inside it")
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]
Text = Annotated[str, AfterValidator(_no_nul)]
InputGlob = Annotated[str, AfterValidator(_input_glob)]


#: Prose (Markdown): a string, or ``{file: prose/x.md}``, a Markdown file of the bundle (see prose.py).
Prose = Annotated[str, WrapValidator(text_or_file), WithJsonSchema(TEXT_JSON_SCHEMA)]


def _requirement(value: str) -> str:
    from .requirements import check_syntax

    return check_syntax(value)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contrast(Strict):
    aspect: str = Field(description="What is compared, e.g. 'Who knows the flow'.")
    this: str = Field(description="How this pattern handles it.")
    other: str = Field(description="How the contrasted pattern handles it.")


class Definition(Strict):
    text: Prose = Field(description="What the pattern is, in a paragraph or two (Markdown).")
    analogy: Prose = Field("", description="An everyday analogy that makes the idea stick.")
    contrast_with: str = Field("", description="Pattern id the definition contrasts with.")
    contrast: list[Contrast] = Field(default_factory=list)


class Problem(Strict):
    context: Prose = Field("", description="The situation; fills an empty Problem section.")
    forces: list[Prose] = Field(default_factory=list, description="Pressures a solution must balance.")


class Participant(Strict):
    id: str = Field(description="Short id used in events, flows and traces, e.g. 'order'.")
    name: str = Field(description="Display name, e.g. 'Order service'.")
    owns: str = Field("", description="The data this participant owns and nobody else writes.")
    responsibility: Prose = Field("", description="What it does, in one sentence.")


#: How a message travels. ``broker``: published to a publish/subscribe broker (every
#: subscriber gets it); ``call``: a direct request to one receiver that answers (sync or
#: async); ``send``: a one-way direct hand-off (a pipeline stage passing to the next, a queue).
Via = Literal["broker", "call", "send"]

MessageKind = Literal[
    "domain", "compensation", "command", "integration", "notification", "request", "reply", "record"
]

JOIN_HINT = "join must be 'all', 'first N', 'deadline' or 'first N or deadline'"
_JOIN = re.compile(r"^(?:all|deadline|first ([1-9][0-9]*)(?: or deadline)?)$")


def parse_join(value: str) -> tuple[str, int | None, bool]:
    """``(mode, n, deadline)`` of a valid join: ``("all", None, False)``,
    ``("first", 2, False)``, ``("deadline", None, True)``, ``("first", 2, True)``.

    One parser for the validator, the flow check and the templates, so the three never
    disagree about what ``first 2 or deadline`` means."""
    match = _JOIN.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r}: {JOIN_HINT}")
    text = value.strip()
    if text == "all":
        return ("all", None, False)
    if text == "deadline":
        return ("deadline", None, True)
    return ("first", int(match.group(1)), text.endswith("or deadline"))


def _join(value: str) -> str:
    parse_join(value)
    return value.strip()


def _name_or_names(value: object) -> str | list[str]:
    """One name or a list of names, with one message for anything else (a plain union would
    report one error per member: "should be a valid string" and "should be a valid list")."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    if isinstance(value, list):
        bad = next(item for item in value if not isinstance(item, str))
        raise ValueError(f"{bad!r} is not a name: write each as text (quote it in YAML)")
    raise ValueError(f"{value!r} must be a name or a list of names")


#: A participant or message name, or a list of them.
NameOrNames = Annotated[
    str | list[str],
    PlainValidator(_name_or_names),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


class Event(Strict):
    """A message kind. The key stays ``events`` for the bundles of today; the guide calls
    them messages, because a direct call or a pipeline hand-off is one too."""

    name: str = Field(description="Message name, e.g. 'OrderPlaced' (an event, in past tense) or 'ChargeCard'.")
    producer: NameOrNames = Field(
        description="Participant id that publishes or sends it; a list when several do (three suppliers "
                    "answering 'Quote')."
    )
    consumers: list[str] = Field(default_factory=list, description="Participant ids that react to it or receive it.")
    kind: MessageKind = "domain"
    via: Via = Field(
        "broker",
        description="How it travels: 'broker' (published to a publish/subscribe broker), 'call' (a direct "
                    "request answered by a reply, sync or async) or 'send' (a one-way direct hand-off).",
    )
    replies: list[str] = Field(
        default_factory=list,
        description="Only for 'via: call': the message kinds that may answer it, each declared with "
                    "'kind: reply'.",
    )
    payload: dict[str, str] = Field(default_factory=dict, description="Field name -> type.")
    description: Prose = ""

    @field_validator("producer")
    @classmethod
    def _some_producer(cls, value: str | list[str]) -> str | list[str]:
        """An empty list would be a message nobody may send: surely a slip."""
        if isinstance(value, list) and not value:
            raise ValueError("producer is an empty list; name at least one participant id")
        return value

    @property
    def producers(self) -> list[str]:
        """The producers as a list, whichever form the author wrote."""
        return [self.producer] if isinstance(self.producer, str) else list(self.producer)


class Step(Strict):
    actor: str = Field(description="Participant id that acts.")
    reacts_to: NameOrNames | None = Field(
        None,
        description="Message that triggers the step (none for the first); a list when the step waits for "
                    "several (a join). Not `on`: YAML reads `on` as true.",
    )
    join: Annotated[str, AfterValidator(_join)] | None = Field(
        None,
        description="How many awaited messages the step waits for: 'all' (the default when it waits for "
                    "several), 'first N', 'deadline' (whatever arrived before a deadline) or "
                    "'first N or deadline'.",
    )
    on_timeout: str | None = Field(
        None, description="The step runs when a call of this kind got no reply in time (then no reacts_to)."
    )
    parallel: bool = Field(False, description="The step's calls or sends go out together (a fan-out).")
    action: str = Field(description="What the actor does.")
    emits: list[str] = Field(default_factory=list, description="Messages the step publishes, calls or sends.")

    @field_validator("reacts_to")
    @classmethod
    def _some_trigger(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and not value:
            raise ValueError("reacts_to is an empty list; name the messages, or leave it out for a first step")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Step:
        """A timeout step has no message that triggers it, and a join needs something to join."""
        if self.on_timeout is not None and self.reacts_to is not None:
            raise ValueError("a step has either reacts_to or on_timeout, not both: an on_timeout step runs "
                             "because no reply came")
        if self.join is not None and self.reacts_to is None:
            raise ValueError("join without reacts_to: name the messages the step waits for")
        return self

    @property
    def triggers(self) -> list[str]:
        """The awaited message kinds as a list (empty for a first step or an ``on_timeout`` one)."""
        if self.reacts_to is None:
            return []
        return [self.reacts_to] if isinstance(self.reacts_to, str) else list(self.reacts_to)


class Compensation(Strict):
    participant: str
    undoes: str = Field(description="The earlier effect this compensating action reverses.")
    via_event: str = Field(description="The event that triggers or announces the compensation.")


class Flow(Strict):
    title: str = ""
    description: Prose = ""
    scenario: str = Field("", description="Scenario name of the snippet run that shows this flow.")
    steps: list[Step] = Field(default_factory=list)


class FailureFlow(Flow):
    name: str = Field(description="Short id, e.g. 'payment-declined'.")
    trigger: Prose = Field(description="What goes wrong.")
    compensations: list[Compensation] = Field(default_factory=list)


class Flows(Strict):
    snippet: str = Field("", description="Snippet whose scenarios perform the flows (diagrams, trace checks).")
    happy_path: Flow | None = None
    failure_paths: list[FailureFlow] = Field(default_factory=list)


class UseCase(Strict):
    title: str = ""
    text: Prose = Field("", description="The business scenario (Markdown).")
    outcome: Prose = Field("", description="How the client learns the result (polling, callback, ...).")


class SnippetRef(Strict):
    """Where to show code in the article: ``path`` (relative to the bundle), optional region."""

    snippet: str = Field(description="Path relative to the bundle folder, optionally '#region'.")
    region: str = ""
    scenarios: list[str] = Field(default_factory=list, description="Scenario outputs to show as tabs.")
    show: list[Literal["code", "output", "diagram"]] = Field(default_factory=lambda: ["code", "output"])  # type: ignore[arg-type]
    title: str = ""


class ImplementationStep(Strict):
    title: str
    text: Prose = ""
    code: list[SnippetRef] = Field(default_factory=list, description="Code to show (as tabs if several).")


class Implementation(Strict):
    intro: Prose = ""
    steps: list[ImplementationStep] = Field(default_factory=list)


class Benefit(Strict):
    title: str
    detail: Prose


class Consideration(Strict):
    title: str
    risk: Prose
    mitigation: Prose
    demonstrated_by: SnippetRef | None = None


class Alternative(Strict):
    pattern: str
    when: Prose


class Applicability(Strict):
    use_when: list[Prose] = Field(default_factory=list)
    avoid_when: list[Prose] = Field(default_factory=list)
    prefer_instead: list[Alternative] = Field(default_factory=list)


class Related(Strict):
    pattern: str = Field(description="Pattern id; linked when the site has its article.")
    name: str = ""
    relation: str = Field("", description="alternative, implements, complements, ...")
    note: Prose = ""
    url: str = ""


class Reference(Strict):
    title: str
    url: str
    publisher: str = ""
    note: Prose = ""


class Summary(Strict):
    text: Prose = ""
    takeaways: list[Prose] = Field(default_factory=list)


class Normaliser(Strict):
    pattern: str = Field(description="Regular expression to mask.")
    replace: str = ""


class Scenario(Strict):
    args: list[Text] = Field(default_factory=list)
    env: dict[EnvName, Text] = Field(default_factory=dict)
    title: str = ""
    needs: list[Literal["redis"]] = Field(
        default_factory=list, description="Services this scenario needs beyond the snippet's own."
    )
    flow: str = Field("", description="Flow this scenario performs (default: the flow whose scenario has this name).")


class SnippetSpec(Strict):
    """How to run one snippet file."""

    scenarios: dict[str, Scenario] = Field(default_factory=dict)
    timeout: float | None = Field(None, gt=0, le=MAX_TIMEOUT, allow_inf_nan=False,
                                  description="Seconds, at most a day.")
    memory_limit: int | str | None = Field(
        None, description="Writable memory each process of a run may use: 512 MiB, 2 GiB; 0 or none: no limit.")
    cpu_limit: float | None = Field(None, ge=0, allow_inf_nan=False,
                                    description="CPU seconds a run may use; 0: no limit.")
    needs: list[Literal["redis"]] = Field(default_factory=list)
    normalize: list[str | Normaliser] = Field(default_factory=list)
    inputs: list[InputGlob] = Field(default_factory=list,
                                    description="Extra files it reads (globs relative to the bundle folder).")
    language: str = "python"
    run: bool = True
    flow: str = Field("", description="Flow this snippet demonstrates (checked against its trace).")

    @field_validator("memory_limit", mode="before")
    @classmethod
    def _size(cls, value: object) -> object:
        from ..settings import parse_size

        size = parse_size(value) if value is not None else None
        if value is not None and size is None:
            raise ValueError("must be a size such as 512 MiB or 2 GiB, or 0 for none")
        return size


class BundleModel(Strict):
    name: str = Field(description="The pattern's name, e.g. 'Choreography'.")
    aliases: list[str] = Field(default_factory=list, description="Other names of the pattern.")
    subtitle: str = Field("", description="Fills 'Choreography Pattern: <TODO>' in the title.")
    description: Prose = Field("", description="Fills 'description: <TODO>'.")
    tags: list[str] = Field(default_factory=list)
    definition: Definition | None = None
    problem: Problem | None = None
    participants: list[Participant] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    flows: Flows = Field(default_factory=lambda: Flows())
    use_case: UseCase | None = None
    implementation: Implementation | None = None
    benefits: list[Benefit] = Field(default_factory=list)
    considerations: list[Consideration] = Field(default_factory=list)
    applicability: Applicability | None = None
    related: list[Related] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    summary: Summary | None = None
    broker: str = Field(
        "Event broker",
        description="Display name of the broker lane in diagrams, e.g. 'Redis Streams'; drawn only when a "
                    "broker carried a message.",
    )
    snippets: dict[str, SnippetSpec] = Field(default_factory=dict, description="How to run each snippet.")
    normalize: list[str | Normaliser] = Field(default_factory=list, description="Bundle-wide normalisers.")
    # each item validated alone, so a malformed one is an error at load naming its own line
    requires: list[Annotated[str, AfterValidator(_requirement)]] = Field(
        default_factory=list,
        description="Distributions the snippets need, as PEP 508 requirements (e.g. 'redis>=5'); checked "
                    "before any run in the interpreter that runs the snippets.",
    )

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        """An empty name would title the article with nothing and link to it as nothing."""
        if not value.strip():
            raise ValueError("the pattern's name is empty")
        return value

    def all_flows(self) -> list[tuple[tuple[str | int, ...], Flow]]:
        out: list[tuple[tuple[str | int, ...], Flow]] = []
        if self.flows.happy_path is not None:
            out.append((("flows", "happy_path"), self.flows.happy_path))
        for index, flow in enumerate(self.flows.failure_paths):
            out.append((("flows", "failure_paths", index), flow))
        return out

    def snippet_refs(self) -> list[tuple[tuple[str | int, ...], str]]:
        refs: list[tuple[tuple[str | int, ...], str]] = []
        if self.implementation is not None:
            for s_index, step in enumerate(self.implementation.steps):
                for c_index, ref in enumerate(step.code):
                    refs.append((("implementation", "steps", s_index, "code", c_index, "snippet"), ref.snippet))
        for index, item in enumerate(self.considerations):
            if item.demonstrated_by is not None:
                refs.append((("considerations", index, "demonstrated_by", "snippet"), item.demonstrated_by.snippet))
        return refs


def interaction_styles(model: BundleModel) -> frozenset[str]:
    """The ``via`` values the bundle's messages use, so templates and diagrams pick their
    vocabulary from what the pattern really does (no "publishes" of a direct call)."""
    return frozenset(event.via for event in model.events)


def json_schema() -> dict[str, Any]:
    schema = BundleModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "pattern-articles bundle"
    return schema
