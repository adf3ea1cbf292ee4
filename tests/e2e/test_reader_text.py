"""The articles' text as a reader reads it: length, spelling, links back, no paragraph or
diagram twice, no word about the build; for each demo article also the facts its sources
back (snippets/<bundle>/SOURCES.md) and the seam with the author's text.

Measured on the page a real ``mkdocs build --strict`` produced. Prose is counted by
tests/e2e/prose.py (code, outputs, diagrams and tables left out).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.browser.helpers import article_pages

from .prose import prose_text, prose_words

pytestmark = pytest.mark.e2e

Built = tuple[Path, subprocess.CompletedProcess[str], dict[str, bytes]]

#: The most prose a reader of one blog post should be asked to read (issue 22).
WORD_BUDGET = 4_500

#: British spellings the author does not use ("organizations", in the Introduction).
BRITISH = re.compile(
    r"\b\w*(?:authoris|recognis|organis|realis|normalis|decentralis|centralis|summaris|optimis"
    r"|minimis|standardis|prioritis)(?:e|ed|es|ing|ation|ations|er|ers)\b"
    r"|\b(?:[Bb]ehaviours?|[Ff]avours?|[Cc]olours?|[Cc]entres?|[Pp]rogrammes?|[Ll]icence|[Aa]nalys(?:e|ed|ing)"
    r"|[Jj]udgement|[Aa]cknowledgements?|[Cc]ancell(?:ed|ing)|[Ll]abelled|[Mm]odelling|[Tt]ravelled)\b"
)
"""Case-sensitive on purpose: identifiers such as `CANCELLED` and `OrderCancelled` are code."""

#: What the content brief requires the choreography article to say, as words a reader sees.
CHOREOGRAPHY_FACTS = {
    "1 no central controller, pub/sub": [r"publish/subscribe", r"central controller"],
    "2 the orchestrator's cost": [r"bottleneck", r"single point of failure"],
    "3 pending order, client learns later": [r"`?PENDING`?", r"polling", r"webhook"],
    "4 compensation, no rollback or isolation": [r"compensat", r"no isolation", r"pivot", r"retryable"],
    "5 at-least-once, idempotent consumers": [r"at-least-once", r"idempotent consumer"],
    "6 transactional outbox": [r"transactional outbox"],
    "7 ordering by key, versions": [r"partition", r"version"],
    "8 correlation ids and tracing": [r"correlation id", r"distributed tracing"],
    "9 cycles and event storms": [r"event storm", r"cycles"],
    "10 testing the flow": [r"contract tests", r"end to end"],
    "11 schema changes": [r"schema version", r"schema registry"],
    "12 when to prefer which": [r"Prefer orchestration", r"Prefer choreography"],
    "eventual consistency named": [r"eventually consistent"],
}


#: What the orchestration article must say (snippets/orchestration/SOURCES.md, facts 1-9).
ORCHESTRATION_FACTS = {
    "1 a coordinator that sends requests and waits for replies": [r"orchestrator", r"waits for the reply"],
    "2 the saga and its compensating transactions": [r"Garcia-Molina", r"\bsaga\b", r"compensating transactions"],
    "3 the orchestrator's cost": [r"bottleneck", r"single point of failure", r"every participant's API"],
    "4 compensations retried and idempotent": [r"same message id", r"retry every compensation"],
    "5 reverse order, and engines that differ": [r"newest first", r"reverse order", r"Camunda 8"],
    "6 compensable, pivot, retryable": [r"compensable", r"pivot", r"retryable"],
    "7 no isolation, semantic lock": [r"no isolation", r"semantic lock", r"`?PENDING`?"],
    "8 deadlines, and what a timeout does not say": [r"deadline", r"timeout says nothing", r"Temporal"],
    "9 when to prefer which": [r"Prefer orchestration", r"Prefer choreography"],
}

ARTICLES = article_pages()
CHOREOGRAPHY = "patterns/choreography-pattern/"
ORCHESTRATION = "patterns/orchestration-pattern/"
FACTS = {CHOREOGRAPHY: CHOREOGRAPHY_FACTS, ORCHESTRATION: ORCHESTRATION_FACTS}

#: Words about how the page was made, which a reader of the article has no use for (the same
#: list the browser test reads the live page with).
BUILD_TALK = re.compile(
    r"\bcach(e|ed|es|ing)\b|\bthis build\b|\bthe build\b|\bbuild of this page\b|\btest suite\b"
    r"|\bsuite in miniature\b|\bcode unchanged\b|\bgolden\b",
    re.IGNORECASE,
)


def article(built: Built, url: str = CHOREOGRAPHY) -> str:
    project, result, _ = built
    assert result.returncode == 0, result.stderr
    return (project / "site" / url / "index.html").read_text("utf-8")


@pytest.mark.parametrize("url", sorted(FACTS))
def test_each_demo_article_is_among_the_checked_ones(url: str) -> None:
    assert url in ARTICLES, ARTICLES


@pytest.mark.parametrize("url", ARTICLES)
def test_prose_stays_within_the_budget(built_site: Built, url: str) -> None:
    words = prose_words(article(built_site, url))
    assert 1_500 < words <= WORD_BUDGET, f"{url}: {words} words of prose (budget {WORD_BUDGET})"


def test_prose_count_leaves_out_code_outputs_diagrams_and_tables() -> None:
    page = """<html><body><nav>Menu words here</nav>
    <article class="md-content__inner md-typeset"><h1>A title</h1>
    <p>One two <code>three</code>.</p><table><tr><td>not counted at all</td></tr></table>
    <div class="highlight"><pre><code>def f(): pass</code></pre></div>
    <pre class="mermaid"><code>sequenceDiagram</code></pre>
    <div class="tabbed-labels"><label>Output</label></div>
    <p><span class="pa-verified">Verified output</span></p><br><img src="x.png"></article>
    <footer>footer words</footer></body></html>"""
    assert prose_text(page) == "A title One two three ."
    assert prose_words(page) == 5


@pytest.mark.parametrize("url", ARTICLES)
def test_us_spelling_throughout(built_site: Built, url: str) -> None:
    text = prose_text(article(built_site, url))
    found = sorted({m.group(0) for m in BRITISH.finditer(text)})
    assert found == [], f"{url}: British spellings on the page: {found}"


@pytest.mark.parametrize(("url", "fact"), [(url, fact) for url in sorted(FACTS) for fact in sorted(FACTS[url])])
def test_every_fact_of_the_brief_is_kept(built_site: Built, url: str, fact: str) -> None:
    text = prose_text(article(built_site, url))
    for pattern in FACTS[url][fact]:
        assert re.search(pattern, text, re.IGNORECASE), f"{url}: fact {fact}: {pattern!r} not on the page"


def test_the_first_generated_section_answers_the_problem_context(built_site: Built) -> None:
    """The author ends on "Let us take a look at the cost of using this pattern": the next
    section opens on that cost."""
    text = prose_text(article(built_site))
    assert "Let us take a look at the cost of using this pattern." in text
    after = text.split("What is Choreography Pattern", 1)[1]
    opening = after.split(". ")[0]
    assert "cost" in opening and "orchestrator" in opening, opening


@pytest.mark.parametrize("url", ARTICLES)
def test_later_sections_link_back_instead_of_repeating(built_site: Built, url: str) -> None:
    """The text links back to where a fact was stated, and every such link lands on a heading."""
    page = article(built_site, url)
    ids = set(re.findall(r'<h[2-4] id="([^"]+)"', page))
    in_text = re.findall(r'<a href="#([^"_][^"]*)">', page)  # not permalinks, not code lines
    assert len(in_text) >= 5, f"few links back in the text: {in_text}"
    assert set(in_text) <= ids, f"links to nowhere: {sorted(set(in_text) - ids)}"


def test_the_orchestration_article_opens_in_the_authors_voice(built_site: Built) -> None:
    """Its Introduction and Problem Context are empty in the source: the bundle fills them in
    the first person, the Introduction points ahead to the choreography post (which points
    back), and the definition answers the question the Problem Context ends on."""
    text = prose_text(article(built_site, ORCHESTRATION))
    introduction = text.split("Introduction", 1)[1].split("Problem Context", 1)[0]
    assert re.search(r"\bI describe\b", introduction) and "choreography" in introduction.lower()
    problem = text.split("Problem Context", 1)[1].split("What is Orchestration Pattern", 1)[0]
    assert "we have a collection of microservices" in problem and "The question is who." in problem
    after = text.split("What is Orchestration Pattern", 1)[1]
    assert after.split(". ")[0].lstrip().startswith("An orchestrator is a service"), after[:200]


@pytest.mark.parametrize("url", ARTICLES)
def test_no_paragraph_is_shown_twice(built_site: Built, url: str) -> None:
    """Issue 20, item 3: a filled section never repeats another's paragraph."""
    page = article(built_site, url)
    body = page.split('class="md-content__inner', 1)[1]
    paragraphs = [" ".join(re.sub(r"<[^>]+>", "", p).split()) for p in re.findall(r"<p>(.*?)</p>", body, re.S)]
    twice = sorted({p[:80] for p in paragraphs if len(p) > 40 and paragraphs.count(p) > 1})
    assert twice == [], f"{url}: paragraphs shown more than once: {twice}"


#: The Use Case template's caption under the flows' diagrams: the same words on every page
#: by design, so a reader recognizes what the diagrams are.
CAPTION = "The diagrams in this section are drawn from the "


def paragraphs_of(page: str) -> list[str]:
    body = page.split('class="md-content__inner', 1)[1]
    return [" ".join(re.sub(r"<[^>]+>", "", p).split()) for p in re.findall(r"<p>(.*?)</p>", body, re.S)]


def test_no_article_repeats_another_articles_paragraph(built_site: Built) -> None:
    """Articles of one series are read one after the other: a paragraph copied from the
    previous post, even with a sentence added, reads as filler."""
    from difflib import SequenceMatcher

    by_url = {url: [p for p in paragraphs_of(article(built_site, url)) if len(p) > 80 and not p.startswith(CAPTION)]
              for url in ARTICLES}
    for index, url in enumerate(ARTICLES):
        for other in ARTICLES[index + 1:]:
            for mine in by_url[url]:
                for theirs in by_url[other]:
                    match = SequenceMatcher(None, mine, theirs, autojunk=False)
                    if match.real_quick_ratio() >= 0.85 and match.quick_ratio() >= 0.85:
                        assert match.ratio() < 0.85, f"{url} and {other} share a paragraph: {mine[:100]}"


@pytest.mark.parametrize("url", ARTICLES)
def test_each_diagram_is_shown_once(built_site: Built, url: str) -> None:
    page = article(built_site, url)
    diagrams = [" ".join(d.split()) for d in re.findall(r'<pre class="mermaid"><code>(.*?)</code></pre>', page, re.S)]
    assert diagrams, f"{url}: no diagram"
    twice = sorted({d[:120] for d in diagrams if diagrams.count(d) > 1})
    assert twice == [], f"{url}: diagrams shown more than once: {twice}"


@pytest.mark.parametrize("url", ARTICLES)
def test_no_text_talks_about_the_build(built_site: Built, url: str) -> None:
    page = article(built_site, url)
    body = page.split('class="md-content__inner', 1)[1].split("</article>", 1)[0]
    texts = [prose_text('<article class="md-content__inner">' + body + "</article>"),
             *re.findall(r'title="([^"]*)"', body)]
    for text in texts:
        found = BUILD_TALK.search(text)
        where = text[max(0, found.start() - 80):found.end() + 80] if found else ""
        assert found is None, f"{url}: reader-facing text mentions the build: …{where}…"


@pytest.mark.parametrize(("url", "other"), [(CHOREOGRAPHY, ORCHESTRATION), (ORCHESTRATION, CHOREOGRAPHY)])
def test_the_two_articles_contrast_tables_link_to_each_other(built_site: Built, url: str, other: str) -> None:
    """Each article's "side by side" table heads its other column with the other article,
    linked, and its related patterns link there too (not to an outside page)."""
    page = article(built_site, url)
    href = "../" + other.rstrip("/").rsplit("/", 1)[1] + "/"
    name = other.rstrip("/").rsplit("/", 1)[1].removesuffix("-pattern").title()
    assert f'<th><a href="{href}">{name}</a></th>' in page, f"{url}: the contrast column is not linked to {other}"
    related = page.split('id="related-patterns"', 1)[1]
    assert f'<a href="{href}">{name}</a>' in related.split("</ul>", 1)[0]
