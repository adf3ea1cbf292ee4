"""Consistency checks on the article text: the heading slip, leftovers.

Why: articles in a series are written by copying the previous one, and a heading such as
"What is Orchestration Pattern" in the choreography article slips through review easily.
Only that form is a slip: "What is X Pattern" or "Why use X Pattern", naming another pattern
where the article's own definition or benefits section belongs. Every other heading that
names another pattern ("When to prefer Orchestration", "## Orchestration" in a recap,
"Choreography vs Orchestration") is the author's choice and is kept as written: an article
that contrasts two patterns names the other one on purpose.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import Place, Problem

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


#: The slip form: "What is [the] X [Pattern]" and "Why use [the] X [Pattern]", nothing more.
_SLIP_FORM = re.compile(
    r"^(?P<lead>(?:what\s+is|why\s+use)\s+(?:the\s+)?)(?P<name>.+?)(?P<tail>(?:\s+pattern)?\s*[?!.:]*)$",
    re.IGNORECASE,
)


def _plain(title: str) -> str:
    """The heading's words without inline markup (``**What is** X``)."""
    return re.sub(r"\s+", " ", re.sub(r"[`*_]", "", title)).strip()


def heading_slip(
    title: str, own: Iterable[str], others: Iterable[str], known: Iterable[str] = KNOWN_PATTERNS
) -> HeadingSlip | None:
    """Return the slip when ``title`` is "What is X Pattern" / "Why use X Pattern" for another X.

    ``X`` counts when it is one of ``others`` (patterns the bundle or the site names) or one of
    the ``known`` names, whole, in any case. Any other heading is never a slip, whatever it
    names: "When to prefer Orchestration" is the author's own section about the other pattern.
    """
    own_names = [n for n in own if n]
    if not own_names:
        return None
    plain = _plain(title)
    form = _SLIP_FORM.match(plain)
    if form is None:
        return None
    named = form.group("name").strip()
    if any(_name_re(n).fullmatch(named) for n in own_names):
        return None
    # a built-in name counts only with the word "pattern": "Why use Retry" may mean retries
    said_pattern = "pattern" in form.group("tail").lower()
    candidates = {o for o in others if o} | ({k for k in known if k} if said_pattern else set())
    for other in sorted(candidates, key=len, reverse=True):
        if any(other.lower() == n.lower() for n in own_names):
            continue
        if _name_re(other).fullmatch(named):
            fixed = _name_re(other).sub(lambda m: _same_case(m.group(0), own_names[0]), title, count=1)
            return HeadingSlip(other=named, fixed=fixed)
    return None


def heading_slips(
    titles: Sequence[str], own: Iterable[str], others: Iterable[str], known: Iterable[str] = KNOWN_PATTERNS
) -> dict[int, HeadingSlip]:
    """The slips among an article's headings, by index.

    A slip is a heading in the place of the article's own section: when the article also has
    "What is <own>" (or "Why use <own>"), its "What is <other>" is a section the author wrote
    about the other pattern on purpose, and is kept.
    """
    own_names = [n for n in own if n]
    forms = {form.group("lead").split()[0].lower() for t in titles
             if (form := _SLIP_FORM.match(_plain(t))) is not None
             and any(_name_re(n).fullmatch(form.group("name").strip()) for n in own_names)}
    found: dict[int, HeadingSlip] = {}
    for index, title in enumerate(titles):
        slip = heading_slip(title, own_names, others, known)
        if slip is not None and _plain(slip.fixed).split()[0].lower() not in forms:
            found[index] = slip
    return found


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


# -- a skeleton not linked to its bundle ----------------------------------------------------
def unlinked_todo_title(
    text: str, path: Path | str, key: str = "pattern", bundle_ids: Iterable[str] = ()
) -> Problem | None:
    """A page whose front matter title still says TODO but names no bundle: a warning.

    Why: without the ``pattern:`` key nothing fills the page, so a skeleton copied from the
    previous article builds, even strictly, with "<TODO>" in its title for every reader to
    see. ``text`` is the file's text (its start is enough); ``path`` is how messages name it.
    """
    head = text.lstrip("\ufeff")
    if not re.match(r"---[ \t]*\r?\n", head):
        return None
    title_line = 0
    title = ""
    for number, line in enumerate(head.splitlines()[1:], 2):
        if line.strip() in ("---", "..."):
            break
        if line.startswith(f"{key}:"):
            return None
        if line.startswith("title:"):
            title_line, title = number, line.split(":", 1)[1].strip()
    if not title_line:
        return None
    from .article import has_todo

    if not has_todo(title):
        return None
    stem = Path(path).stem
    guesses = [stem, stem.removesuffix("-pattern")]
    known = [g for g in guesses if g in set(bundle_ids)]
    guess = known[0] if known else guesses[-1] or "<bundle id>"
    fix = (f"add '{key}: {guess}' to its front matter to fill it from snippets/{guess}/"
           if known else
           f"add '{key}: <bundle id>' to its front matter to fill it from that bundle "
           f"(no bundle yet: 'pattern-articles new {guess} --link' adds one and the line)")
    return Problem(
        f"the title still says TODO ({title}) and the page names no bundle, so nothing fills it",
        Place(path, title_line),
        fix + ", or write the title",
    )
