"""Heading slips and heading-to-section mapping."""

from __future__ import annotations

import pytest

from pattern_articles.content import checks
from pattern_articles.settings import DEFAULT_ALIASES

OWN = ["Choreography", "Service choreography"]
OTHERS = ["Orchestration", "Choreography"]


@pytest.mark.parametrize(
    ("heading", "fixed"),
    [
        ("What is Orchestration Pattern", "What is Choreography Pattern"),
        ("Why use Orchestration Pattern", "Why use Choreography Pattern"),
        ("why use orchestration", "why use choreography"),
        ("What is the Orchestration pattern?", "What is the Choreography pattern?"),
        ("WHAT IS ORCHESTRATION PATTERN", "WHAT IS CHOREOGRAPHY PATTERN"),
    ],
)
def test_slip_is_found_and_fixed(heading: str, fixed: str) -> None:
    slip = checks.heading_slip(heading, OWN, OTHERS)
    assert slip is not None
    assert slip.fixed == fixed


@pytest.mark.parametrize(
    "heading",
    ["Choreography vs Orchestration", "Use Case", "Summary", "Orchestrating the flow", "Retry policy",
     "Using a sidecar", "The outbox table", "Saga steps",
     # the author's own sections about another pattern: never a slip (issue 20, item 4)
     "When to prefer Orchestration", "Orchestration", "Orchestration Pattern", "When to prefer Choreography",
     "What is Orchestration good at, compared with Choreography", "Why use Orchestration instead",
     "What is Choreography Pattern", "Why use Service choreography", "What is Kafka", "Why use Retry"],
)
def test_only_the_slip_form_is_a_slip(heading: str) -> None:
    assert checks.heading_slip(heading, OWN, OTHERS) is None


@pytest.mark.parametrize(
    ("heading", "fixed"),
    [("Why use the Saga Pattern", "Why use the Choreography Pattern"),
     ("What is Retry pattern", "What is Choreography pattern")],
)
def test_built_in_names_count_with_the_word_pattern(heading: str, fixed: str) -> None:
    slip = checks.heading_slip(heading, OWN, OTHERS)
    assert slip is not None and slip.fixed == fixed


def test_a_heading_beside_the_articles_own_section_is_kept() -> None:
    """An article contrasting two patterns may describe each: "What is Orchestration" next to
    "What is Choreography" is the author's, while "Why use Orchestration" with no "Why use
    Choreography" beside it is still the slip."""
    titles = ["Introduction", "What is Choreography Pattern", "What is Orchestration Pattern",
              "Why use Orchestration Pattern", "When to prefer Orchestration", "Orchestration"]
    slips = checks.heading_slips(titles, OWN, OTHERS)
    assert list(slips) == [3]
    assert slips[3].fixed == "Why use Choreography Pattern"


def test_the_seed_form_is_found_in_a_whole_article() -> None:
    titles = ["Introduction", "Problem Context", "What is Orchestration Pattern", "Use Case",
              "Implementation Details", "Why use Orchestration Pattern", "When to prefer Orchestration",
              "Summary"]
    slips = checks.heading_slips(titles, OWN, OTHERS)
    assert {i: s.fixed for i, s in slips.items()} == {2: "What is Choreography Pattern",
                                                      5: "Why use Choreography Pattern"}


@pytest.mark.parametrize(
    ("heading", "key"),
    [
        ("What is Choreography Pattern", "definition"),
        ("Use Case", "use_case"),
        ("Context and problem", "problem"),
        ("When to use this pattern", "applicability"),
        ("Why use Choreography Pattern", "benefits"),
        ("Important Considerations", "considerations"),
        ("Summary", "summary"),
        ("Implementation Details", "implementation"),
        ("Something else", None),
    ],
)
def test_headings_map_to_sections(heading: str, key: str | None) -> None:
    assert checks.match_section(heading, OWN, DEFAULT_ALIASES) == key
