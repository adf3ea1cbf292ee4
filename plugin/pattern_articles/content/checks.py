"""Consistency checks on the article text: headings that name the wrong pattern, leftovers.

Why: articles in a series are written by copying the previous one, and a heading such as
"What is Orchestration Pattern" in the choreography article slips through review easily.
A heading that names another pattern *and* the article's own ("Choreography vs
Orchestration") is a legitimate comparison, not a slip.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

#: Pattern names the heading check knows even when no bundle mentions them.
KNOWN_PATTERNS = (
    "Orchestration",
    "Choreography",
    "Saga",
    "Scatter-Gather",
    "Pipes and Filters",
    "Load Balancing",
    "Circuit Breaker",
    "Event Sourcing",
    "CQRS",
    "Transactional Outbox",
    "Outbox",
    "Publish-Subscribe",
    "Publisher-Subscriber",
    "Strangler Fig",
    "Bulkhead",
    "Retry",
    "Ambassador",
    "Sidecar",
    "Gateway Aggregation",
    "Backends for Frontends",
    "Competing Consumers",
    "Compensating Transaction",
)


@dataclass(frozen=True)
class HeadingSlip:
    other: str  # the pattern the heading wrongly names
    fixed: str  # the heading text with the article's own pattern name


@functools.lru_cache(maxsize=512)  # the same few names, for every heading of every article
def _name_re(name: str) -> re.Pattern[str]:
    words = re.split(r"[\s-]+", name.strip())
    return re.compile(r"\b" + r"[\s-]+".join(re.escape(w) for w in words) + r"\b", re.IGNORECASE)


def _same_case(template: str, word: str) -> str:
    if template.isupper():
        return word.upper()
    if template.islower():
        return word.lower()
    return word


def heading_slip(
    title: str, own: Iterable[str], others: Iterable[str], known: Iterable[str] = KNOWN_PATTERNS
) -> HeadingSlip | None:
    """Return the slip when ``title`` names another pattern and not the article's own.

    ``others`` are patterns the bundle itself names (related, contrasted): a bare mention is
    enough. ``known`` are the built-in names; many are everyday words ("Retry policy",
    "Using a sidecar"), so they count only when followed by the word *pattern*.
    """
    own_names = [n for n in own if n]
    if any(_name_re(n).search(title) for n in own_names):
        return None
    own_first = own_names[0] if own_names else ""
    candidates = [(o, _name_re(o)) for o in {o for o in others if o}]
    candidates += [(k, _name_re(k + " pattern")) for k in known if k]
    for other, regex in sorted(candidates, key=lambda pair: len(pair[0]), reverse=True):
        if any(other.lower() == n.lower() for n in own_names):
            continue
        match = regex.search(title)
        if match:
            name_re = _name_re(other)
            fixed = name_re.sub(lambda m: _same_case(m.group(0), own_first), title)
            return HeadingSlip(other=name_re.search(title).group(0), fixed=fixed)  # type: ignore[union-attr]
    return None


def normalise_heading(title: str, own: Iterable[str]) -> str:
    """Lower-case the heading and replace the article's own pattern name by ``{pattern}``."""
    text = re.sub(r"[`*_]", "", title).strip().rstrip("?:.!").lower()
    for name in sorted((n for n in own if n), key=len, reverse=True):
        text = _name_re(name).sub("{pattern}", text)
    return re.sub(r"\s+", " ", text)


def match_section(title: str, own: Iterable[str], aliases: dict[str, list[str]]) -> str | None:
    """Map a heading to a bundle section key via the alias table, or ``None``."""
    norm = normalise_heading(title, own)
    for key, names in aliases.items():
        if norm in (n.lower() for n in names):
            return key
    return None
