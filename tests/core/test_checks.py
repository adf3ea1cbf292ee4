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
    ],
)
def test_slip_is_found_and_fixed(heading: str, fixed: str) -> None:
    slip = checks.heading_slip(heading, OWN, OTHERS)
    assert slip is not None
    assert slip.fixed == fixed


@pytest.mark.parametrize(
    "heading",
    ["Choreography vs Orchestration", "Use Case", "Summary", "Orchestrating the flow", "Retry policy",
     "Using a sidecar", "The outbox table", "Saga steps"],
)
def test_legitimate_headings_are_not_slips(heading: str) -> None:
    assert checks.heading_slip(heading, OWN, OTHERS) is None


@pytest.mark.parametrize(
    ("heading", "fixed"),
    [("Why use the Saga Pattern", "Why use the Choreography Pattern"),
     ("Retry pattern in practice", "Choreography pattern in practice")],
)
def test_built_in_names_count_with_the_word_pattern(heading: str, fixed: str) -> None:
    slip = checks.heading_slip(heading, OWN, OTHERS)
    assert slip is not None and slip.fixed == fixed


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
