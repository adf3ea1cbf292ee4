"""A site of three patterns with three ways of moving messages, built for real.

Why: the product grew up on one article, about event choreography, and its vocabulary and
diagrams took "an event through a broker" for granted. This test writes a site the way a new
author would, with three bundles that move messages differently: (a) publish-subscribe
through a broker, (b) a scatter-gather of direct ``asyncio`` calls with a deadline, and
(c) a pipes-and-filters pipeline of one-way hand-offs, taken block by block from the guide
page ``docs/guide/any-pattern.md`` so the guide cannot drift from what works. Goldens are
recorded with ``pattern-articles check --update`` in the temporary project, never written by
hand. Then it builds the site once with ``--strict`` and asserts, on every article page,
what a reader must get whatever the pattern:

- a broker lane only in diagrams of a bundle that sends something through a broker;
- a ``par`` block where a step fans its calls out in parallel;
- no paragraph twice;
- every heading the author wrote, as written, except the one slip form ("What is X
  Pattern" naming another pattern where this one's definition belongs);
- no "event" or "publishes" on a page whose messages are calls or hand-offs.

Finally it breaks a flow in a copy of the project and sees the strict build fail with the
line of ``bundle.yml``, and the guide's failing-check example give the guide's message.
Nothing here counts the bundles of the site: every assertion runs over whatever it holds.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt

from tests.conftest import REPO, run_mkdocs, tree_digest

pytestmark = pytest.mark.e2e

GUIDE = REPO / "docs" / "guide" / "any-pattern.md"

# -- (a) a broker: publish-subscribe through an in-process bus --------------------------------
# Its emitter writes the trace keys of before (event, event_id): traces valid then stay valid.
BROKER_FILES = {
    "docs/patterns/publish-subscribe-pattern.md": """\
---
pattern: publish-subscribe
title: 'Publish-Subscribe Pattern: <TODO>'
description: <TODO>
---

## Introduction

## What is Publish-Subscribe Pattern

## Use Case

## Implementation Details

## Why use Publish-Subscribe Pattern

## Publish-Subscribe or Choreography?

A choreography is built on publish-subscribe, but it is more than that: a business flow
that emerges from services reacting to each other. Here nobody reacts back.

## Summary
""",
    "snippets/publish-subscribe/bundle.yml": """\
name: Publish-Subscribe
subtitle: One Announcement, Every Interested Listener
description: >-
  How a shop tells every interested service that an order shipped,
  without knowing who listens.
broker: In-process bus
definition:
  text: |-
    A publisher announces a fact on a broker. Every subscriber to that kind
    of message gets its own copy, and the publisher never learns who they are.
  analogy: A notice board in a hallway, read by whoever cares.
participants:
  - {id: shop, name: Shop, owns: orders, responsibility: Announces that an order shipped.}
  - {id: email, name: Email sender, owns: the outbox, responsibility: Emails the customer.}
  - {id: sms, name: SMS sender, owns: phone numbers, responsibility: Texts the customer.}
events:
  - name: OrderShipped
    producer: shop
    consumers: [email, sms]
    kind: notification
    description: An order left the warehouse.
use_case:
  title: Telling the customer
  text: When an order ships, the customer hears of it by email and by text message.
flows:
  snippet: notify.py
  happy_path:
    title: One order ships
    scenario: one-order
    steps:
      - actor: shop
        action: marks order 7 as shipped.
        emits: [OrderShipped]
      - actor: email
        reacts_to: OrderShipped
        action: emails the customer.
      - actor: sms
        reacts_to: OrderShipped
        action: texts the customer.
implementation:
  steps:
    - title: The bus
      text: A subscriber registers a handler; a publish calls each handler in turn.
      code:
        - {snippet: notify.py, region: bus, scenarios: [one-order], show: [code, output, diagram]}
benefits:
  - {title: Listeners come and go, detail: A new subscriber needs no change to the shop.}
summary:
  text: Announce a fact once, and let whoever cares subscribe to it.
snippets:
  notify.py:
    timeout: 10
    scenarios:
      one-order: {title: One order}
""",
    "snippets/publish-subscribe/tracing.py": '''\
"""Append one JSON line per bus operation to $PATTERN_ARTICLES_TRACE."""
import json
import os


def trace(op, service, event, event_id):
    path = os.environ.get("PATTERN_ARTICLES_TRACE")
    if not path:
        return
    record = {"op": op, "service": service, "event": event,
              "event_id": event_id, "caused_by": None, "pid": os.getpid()}
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(record) + "\\n").encode())
    finally:
        os.close(fd)
''',
    "snippets/publish-subscribe/notify.py": '''\
"""Publish-subscribe on an in-process bus: one notice, two listeners."""
from tracing import trace


# --8<-- [start:bus]
class Bus:
    def __init__(self):
        self.handlers = {}

    def subscribe(self, kind, service, handler):
        self.handlers.setdefault(kind, []).append((service, handler))

    def publish(self, service, kind, msg_id, body):
        trace("publish", service, kind, msg_id)
        for subscriber, handler in self.handlers.get(kind, []):
            handler(body)
            trace("consume", subscriber, kind, msg_id)


bus = Bus()
bus.subscribe("OrderShipped", "email",
              lambda order: print(f"email: order {order} shipped"))
bus.subscribe("OrderShipped", "sms",
              lambda order: print(f"sms: order {order} shipped"))
bus.publish("shop", "OrderShipped", "shipped-7", 7)
# --8<-- [end:bus]
''',
}

# -- (b) direct calls with a fan-out: scatter-gather over asyncio, with a deadline -----------
CALL_FILES = {
    "docs/patterns/scatter-gather-pattern.md": """\
---
pattern: scatter-gather
title: 'Scatter-Gather Pattern: <TODO>'
description: <TODO>
---

## Introduction

When one answer depends on several services, asking them one after another costs the sum
of their delays. I wanted to pay for the slowest answer only, and to put a limit on that.

## What is Orchestration Pattern

## Use Case

## Implementation Details

## Why use Scatter-Gather Pattern

## When to prefer Orchestration

When each call needs the answer of the one before, there is nothing to fan out: a
coordinator that calls the services in turn is simpler.

## Summary
""",
    "snippets/scatter-gather/bundle.yml": """\
name: Scatter-Gather
subtitle: Ask Everyone at Once, Answer by the Deadline
description: >-
  How a buyer asks three suppliers for a price at the same time and
  answers with the best quote that arrives before its deadline.
definition:
  text: |-
    A scatter-gather sends one request to several recipients at once and
    combines their replies into one answer. It waits for all of them, for
    the first few, or until a deadline; a recipient that is too slow misses
    the answer.
  analogy: Asking three shops for a price and buying from the cheapest that called back by noon.
participants:
  - {id: client, name: Client, owns: nothing, responsibility: Asks for the best price.}
  - id: buyer
    name: Buyer
    owns: the deadline and the choice
    responsibility: Asks every supplier and picks the cheapest quote.
  - {id: acme, name: Acme, owns: its price list, responsibility: Quotes from stock.}
  - {id: bolt, name: Bolt, owns: its catalog, responsibility: Quotes from its catalog.}
  - {id: cogs, name: Cogs, owns: its workshop, responsibility: Quotes only after asking its workshop.}
events:
  - name: GetBestPrice
    via: call
    kind: request
    producer: client
    consumers: [buyer]
    replies: [BestPrice]
    description: The client's question.
  - name: BestPrice
    via: call
    kind: reply
    producer: buyer
    consumers: [client]
    description: The cheapest quote that came in time.
  - name: RequestQuote
    via: call
    kind: request
    producer: buyer
    consumers: [acme, bolt, cogs]
    replies: [Quote]
    description: A request for a price.
  - name: Quote
    via: call
    kind: reply
    producer: [acme, bolt, cogs]
    consumers: [buyer]
    description: One supplier's price.
use_case:
  title: The best price for a part
  text: The buyer needs a price within a fifth of a second, and one supplier is always slow.
flows:
  snippet: quotes.py
  happy_path:
    title: Two quotes in time, one too late
    scenario: deadline
    steps:
      - actor: client
        action: asks for the best price of a part.
        emits: [GetBestPrice]
      - actor: buyer
        reacts_to: GetBestPrice
        parallel: true
        action: asks the three suppliers at once, with a deadline.
        emits: [RequestQuote]
      - actor: acme
        reacts_to: RequestQuote
        action: quotes 41.50.
        emits: [Quote]
      - actor: bolt
        reacts_to: RequestQuote
        action: quotes 39.90.
        emits: [Quote]
      - actor: cogs
        reacts_to: RequestQuote
        action: takes too long, so its quote never counts.
      - actor: buyer
        reacts_to: Quote
        join: deadline
        action: takes the quotes that came in time and picks the cheapest.
        emits: [BestPrice]
implementation:
  steps:
    - title: Fan out, then gather until the deadline
      text: Each call is an asyncio task, and asyncio.wait stops waiting at the deadline.
      code:
        - {snippet: quotes.py, region: gather, scenarios: [deadline], show: [code, output, diagram]}
benefits:
  - title: The slowest supplier sets the pace
    detail: The answer costs the slowest reply, and never more than the deadline.
summary:
  text: Ask everyone at once, and decide in advance how long the answer may wait.
snippets:
  quotes.py:
    timeout: 10
    scenarios:
      deadline: {title: "Two in time, one late"}
""",
    # tracing.py: the guide's emitter, copied by the fixture
    "snippets/scatter-gather/quotes.py": '''\
"""Scatter-gather: ask three suppliers at once, answer by a deadline."""
import asyncio

from tracing import trace

PRICES = {"acme": 41.50, "bolt": 39.90, "cogs": 38.00}
SLOW = {"cogs"}  # answers long after the deadline
DEADLINE = 0.2  # seconds


async def supplier(name, call_id):
    await asyncio.sleep(30 if name in SLOW else 0)
    trace("reply", name, "Quote", f"quote-{name}", target="buyer",
          reply_to=call_id)
    return PRICES[name]


# --8<-- [start:gather]
async def best_price(ask_id):
    tasks = {}
    for name in PRICES:
        call_id = f"rfq-{name}"
        trace("call", "buyer", "RequestQuote", call_id, target=name,
              caused_by=ask_id, group="quotes", asynchronous=True)
        tasks[name] = asyncio.create_task(supplier(name, call_id))
    await asyncio.wait(tasks.values(), timeout=DEADLINE)
    quotes = {}
    for name, task in tasks.items():
        if task.done():
            quotes[name] = task.result()
            print(f"{name} quotes {quotes[name]:.2f}")
        else:
            task.cancel()
            trace("timeout", "buyer", "RequestQuote", f"late-{name}",
                  reply_to=f"rfq-{name}")
            print(f"{name} did not answer within {DEADLINE} s")
    best = min(quotes, key=quotes.__getitem__)
    trace("reply", "buyer", "BestPrice", "best-1", target="client",
          reply_to=ask_id, caused_by=[f"quote-{n}" for n in quotes])
    print(f"best price: {best} at {quotes[best]:.2f}")
# --8<-- [end:gather]


if __name__ == "__main__":
    trace("call", "client", "GetBestPrice", "ask-1", target="buyer")
    asyncio.run(best_price("ask-1"))
''',
}

PIPELINE_ID = "pipes-and-filters"
"""The bundle (c) the guide builds; its files come from the guide page."""

# the scatter-gather's break: the buyer answers without the quotes it gathered
CALL_BREAK = ('caused_by=[f"quote-{n}" for n in quotes]', "caused_by=ask_id")


# -- the guide page's blocks ----------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    """A fenced block of the guide: its language, its title attribute, its text, its line."""

    lang: str
    title: str
    text: str
    line: int


def guide_blocks() -> list[Block]:
    found = []
    for token in MarkdownIt().parse(GUIDE.read_text("utf-8")):
        if token.type != "fence":
            continue
        lang, _, attrs = token.info.partition(" ")
        title = re.search(r'title="([^"]*)"', attrs)
        found.append(Block(lang, title.group(1) if title else "", token.content,
                           token.map[0] + 1 if token.map else 0))
    return found


def guide_files() -> dict[str, str]:
    """Files the guide tells the author to write: blocks titled with a path (not an excerpt,
    a golden file or a patch); several blocks with one title are one file, in order."""
    files: dict[str, str] = {}
    for block in guide_blocks():
        if (re.fullmatch(r"[\w./-]+\.\w+", block.title) and block.lang != "diff"
                and "/expected/" not in block.title):
            files[block.title] = files.get(block.title, "") + block.text
    return files


def apply_diff(text: str, diff: str) -> str:
    """Apply a one-hunk diff without headers (context, ``-`` and ``+`` lines) to ``text``."""
    old, new = [], []
    for line in diff.splitlines():
        mark, body = line[:1], line[1:]
        if mark in (" ", "-"):
            old.append(body)
        if mark in (" ", "+"):
            new.append(body)
    before = "\n".join(old) + "\n"
    assert text.count(before) == 1, f"the guide's diff does not apply:\n{before}"
    return text.replace(before, "\n".join(new) + "\n")


# -- building the site ------------------------------------------------------------------------
def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PATTERN_ARTICLES_FRESH"}
    return subprocess.run([sys.executable, "-m", "pattern_articles", *args], cwd=project,
                          capture_output=True, text=True, timeout=300, env=env)


def write(project: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")


@dataclass(frozen=True)
class Site:
    project: Path
    new: subprocess.CompletedProcess[str]
    update: subprocess.CompletedProcess[str]
    build: subprocess.CompletedProcess[str]
    sources_before: dict[str, bytes]


def sources(project: Path) -> dict[str, bytes]:
    return {f"{top}/{k}": v for top in ("docs", "snippets")
            for k, v in tree_digest(project / top).items()}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The three-bundle site: written, goldens recorded, built once with --strict."""
    project = tmp_path_factory.mktemp("any-pattern")
    # the site and (c) as the guide says: the folder, the skeleton, `new --link`, the files
    files = guide_files()
    first = ["mkdocs.yml", "docs/index.md", f"docs/patterns/{PIPELINE_ID}-pattern.md"]
    write(project, {name: files.pop(name) for name in first})
    write(project, {**BROKER_FILES, **CALL_FILES})
    new = cli(project, "new", PIPELINE_ID, "--link")
    for stub in ("example.py", "expected/example.txt"):  # the guide says to delete them
        (project / "snippets" / PIPELINE_ID / stub).unlink(missing_ok=True)
    write(project, files)
    # (b) traces with the guide's emitter
    emitter = files[f"snippets/{PIPELINE_ID}/tracing.py"]
    write(project, {"snippets/scatter-gather/tracing.py": emitter})
    update = cli(project, "check", "-q", "--update")
    before = sources(project)
    build = run_mkdocs(project, "--strict", "-d", "site")
    return Site(project, new, update, build, before)


@dataclass(frozen=True)
class Broken:
    project: Path
    bundle_lines: range  # the lines of the scatter-gather step whose flow was broken
    build: subprocess.CompletedProcess[str]
    check: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def broken(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Broken:
    """A copy of the built project (its cache too: only what changed runs again) with two
    flows broken: the scatter-gather's buyer answers without its quotes, and the guide's
    pipeline loses its filter (the guide's own diff)."""
    project = tmp_path_factory.mktemp("broken") / "p"
    shutil.copytree(site.project, project, ignore=shutil.ignore_patterns("site"))
    quotes = project / "snippets/scatter-gather/quotes.py"
    old, new = CALL_BREAK
    assert quotes.read_text("utf-8").count(old) == 1
    quotes.write_text(quotes.read_text("utf-8").replace(old, new), "utf-8")
    [diff] = [b for b in guide_blocks() if b.lang == "diff"]
    pipeline = project / diff.title
    pipeline.write_text(apply_diff(pipeline.read_text("utf-8"), diff.text), "utf-8")
    # the join step: from its "- actor: buyer" line to the line before the next step
    lines = (project / "snippets/scatter-gather/bundle.yml").read_text("utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if "join: deadline" in line)
    while not lines[start].lstrip().startswith("- actor:"):
        start -= 1
    end = start + 1
    while end < len(lines) and lines[end].startswith(" " * 8):
        end += 1
    build = run_mkdocs(project, "--strict", "-d", "site")
    check = cli(project, "check", "-q", f"snippets/{PIPELINE_ID}")
    return Broken(project, range(start + 1, end + 1), build, check)


# -- reading the built pages ------------------------------------------------------------------
class _Reader(HTMLParser):
    """The article of a built page: its headings, its paragraphs and list items, its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0  # > 0 inside <article>
        self.open: list[tuple[str, list[str]]] = []  # elements whose text is collected
        self.headings: list[tuple[int, str]] = []
        self.paragraphs: list[str] = []
        self.skip = 0  # inside a heading's permalink anchor, a script or a style
        self.text: list[str] = []
        self.labels: list[str] = []  # open elements that are labels, not prose (their tags)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "article":
            self.depth += 1
        if not self.depth:
            return
        if tag in ("script", "style"):
            self.skip += 1
        if tag == "a" and ("class", "headerlink") in attrs:
            self.skip += 1
        if tag in ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6"):
            self.open.append((tag, []))
        # a run's badge ("Verified output" under each output) and a note's title are labels,
        # repeated by design: their words are not a paragraph's
        classes = (dict(attrs).get("class") or "").split()
        if "pa-verified" in classes or "admonition-title" in classes:
            self.labels.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self.depth -= 1
        if not self.depth:
            return
        if self.labels and self.labels[-1] == tag:
            self.labels.pop()
        if tag in ("a", "script", "style") and self.skip:
            self.skip -= 1
        if self.open and self.open[-1][0] == tag:
            _, parts = self.open.pop()
            text = " ".join("".join(parts).split())
            if tag in ("p", "li"):
                self.paragraphs.append(text)
            else:
                self.headings.append((int(tag[1]), text))
            for _, outer in self.open:
                outer.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.depth or self.skip:
            return
        self.text.append(data)
        for _, parts in [] if self.labels else self.open:
            parts.append(data)


@dataclass(frozen=True)
class Article:
    """An article of the site: its source, its bundle's metadata and its built page."""

    source: Path
    bundle: dict[str, Any]
    html: str
    page: _Reader

    @property
    def diagrams(self) -> list[str]:
        return [html.unescape(d) for d in
                re.findall(r'<pre class="mermaid"><code>(.*?)</code></pre>', self.html, re.S)]

    @property
    def styles(self) -> set[str]:
        return {str(e.get("via", "broker")) for e in self.bundle.get("events", [])}


def articles(site: Site) -> list[Article]:
    """Every article of the site (a page naming a bundle), with its built page."""
    found = []
    for source in sorted((site.project / "docs").rglob("*.md")):
        text = source.read_text("utf-8")
        front = yaml.safe_load(text.split("---\n")[1]) if text.startswith("---\n") else {}
        if not isinstance(front, dict) or "pattern" not in front:
            continue
        bundle = yaml.safe_load(
            (site.project / "snippets" / front["pattern"] / "bundle.yml").read_text("utf-8"))
        rel = source.relative_to(site.project / "docs").with_suffix("")
        built = (site.project / "site" / rel / "index.html").read_text("utf-8")
        reader = _Reader()
        reader.feed(built)
        found.append(Article(source, bundle, built, reader))
    return found


@pytest.fixture(scope="module")
def pages(site: Site) -> list[Article]:
    assert site.build.returncode == 0, site.build.stderr
    found = articles(site)
    bundles = {p.parent.name for p in (site.project / "snippets").glob("*/bundle.yml")}
    assert {a.bundle["name"] for a in found} and len(found) == len(bundles), \
        "every bundle of the site has its article"
    return found


def author_headings(source: Path) -> list[tuple[int, str]]:
    body = source.read_text("utf-8").split("---\n", 2)[2]
    tokens = MarkdownIt().parse(body)
    return [(int(t.tag[1]), tokens[i + 1].content) for i, t in enumerate(tokens)
            if t.type == "heading_open"]


def author_paragraphs(source: Path) -> list[str]:
    body = source.read_text("utf-8").split("---\n", 2)[2]
    tokens = MarkdownIt().parse(body)
    return [" ".join(tokens[i + 1].content.split()) for i, t in enumerate(tokens)
            if t.type == "paragraph_open"]


SLIP = re.compile(r"^(?P<lead>What is|Why use) (?P<name>.+?) Pattern$")


def as_shown(heading: str, own: str) -> str:
    """How a reader must see an author's heading: as written, but for the slip form."""
    slip = SLIP.match(heading)
    if slip and slip.group("name").lower() != own.lower():
        return f"{slip.group('lead')} {own} Pattern"
    return heading


def words(article: Article) -> str:
    return " ".join(html.unescape("".join(article.page.text)).split())


# -- the tests --------------------------------------------------------------------------------
def test_the_guides_steps_run(site: Site) -> None:
    """`new --link` on the guide's skeleton, then `check --update` records every golden."""
    assert site.new.returncode == 0, site.new.stdout + site.new.stderr
    skeleton = site.project / f"docs/patterns/{PIPELINE_ID}-pattern.md"
    assert skeleton.read_text("utf-8").startswith(f"---\npattern: {PIPELINE_ID}\n")
    assert site.update.returncode == 0, site.update.stdout + site.update.stderr
    for bundle in (site.project / "snippets").glob("*/bundle.yml"):
        data = yaml.safe_load(bundle.read_text("utf-8"))
        for snippet, spec in data["snippets"].items():
            for scenario in (spec or {}).get("scenarios") or {}:
                golden = bundle.parent / "expected" / f"{Path(snippet).stem}.{scenario}.txt"
                assert golden.is_file() and golden.read_text("utf-8").strip(), golden


def test_the_guide_shows_what_new_says(site: Site) -> None:
    [shown] = [b for b in guide_blocks() if b.title.startswith("pattern-articles new")]
    for line in shown.text.splitlines():
        assert line in site.new.stdout.splitlines(), f"guide line {shown.line}: {line!r}"


def test_messages_name_no_folder_outside_the_project(site: Site, broken: Broken) -> None:
    """Issue 20, item 9: messages name paths relative to the project, never this machine's."""
    for run in (site.new, site.build, broken.build, broken.check):
        # MkDocs' own lines ("Building documentation to directory: /tmp/...") are not ours
        said = "\n".join(line for line in (run.stdout + run.stderr).splitlines()
                         if not re.match(r"(INFO|WARNING) +- ", line) or "pattern_articles" in line)
        assert said.strip(), run.args
        assert str(site.project) not in said, run.args
        assert str(broken.project) not in said, run.args


def test_update_names_goldens_relative_to_the_project(site: Site) -> None:
    assert str(site.project) not in site.update.stdout + site.update.stderr


def test_the_guides_golden_output_is_what_the_run_recorded(site: Site) -> None:
    shown = [b for b in guide_blocks() if "/expected/" in b.title]
    assert shown, "the guide shows the golden output that check --update records"
    for block in shown:
        assert (site.project / block.title).read_text("utf-8") == block.text, block.title


def test_the_guides_excerpts_are_in_the_scatter_gather_bundle(site: Site) -> None:
    """The guide's call examples are lines of bundle (b), not a sketch that might not run."""
    excerpts = [b for b in guide_blocks() if b.title.endswith(" (excerpt)")]
    assert {b.lang for b in excerpts} >= {"yaml", "python"}
    for block in excerpts:
        path = site.project / block.title.removesuffix(" (excerpt)")
        text = path.read_text("utf-8")
        if block.lang == "yaml":
            assert contains(yaml.safe_load(text), yaml.safe_load(block.text)), \
                f"guide line {block.line}: not in {path.name}"
        else:
            assert block.text in text, f"guide line {block.line}: not in {path.name}"


def contains(whole: Any, part: Any) -> bool:
    """``part`` is ``whole`` with keys or list items left out (list items in order)."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(
            k in whole and contains(whole[k], v) for k, v in part.items())
    if isinstance(part, list):
        if not isinstance(whole, list):
            return False
        items = iter(whole)
        return all(any(contains(w, p) for w in items) for p in part)
    return bool(whole == part)


def test_strict_build_passes_and_leaves_the_sources_alone(site: Site) -> None:
    assert site.build.returncode == 0, site.build.stderr
    assert "WARNING -" not in site.build.stderr
    assert sources(site.project) == site.sources_before


def test_catalogue_has_a_card_per_bundle(site: Site, pages: list[Article]) -> None:
    home = (site.project / "site" / "index.html").read_text("utf-8")
    for article in pages:
        assert html.escape(article.bundle["name"], quote=False) in home


def test_broker_lane_only_where_a_broker_carried_a_message(pages: list[Article]) -> None:
    for article in pages:
        assert article.diagrams, f"{article.source.name}: no diagram"
        lanes = ["participant broker" in d for d in article.diagrams]
        if "broker" in article.styles:
            assert all(lanes), f"{article.source.name}: a diagram without its broker"
        else:
            assert not any(lanes), f"{article.source.name}: a broker lane with no broker"


def test_the_broker_lane_bears_the_bundles_name_for_it(pages: list[Article]) -> None:
    """``broker:`` in bundle.yml names the lane ("In-process bus", "Redis Streams")."""
    named = [a for a in pages if "broker" in a.styles and "broker" in a.bundle]
    assert named, "the site has a bundle that names its broker"
    for article in named:
        for diagram in article.diagrams:
            assert f"participant broker as {article.bundle['broker']}" in diagram, diagram


def test_parallel_calls_are_drawn_in_a_par_block(pages: list[Article]) -> None:
    fanning = [a for a in pages if any(
        step.get("parallel") for flow in flows(a.bundle) for step in flow.get("steps", []))]
    assert fanning, "the site has a bundle whose step fans out in parallel"
    for article in fanning:
        blocks = [d for d in article.diagrams
                  if re.search(r"^\s*par\b.*?^\s*and\b.*?^\s*end\s*$", d, re.M | re.S)]
        assert blocks, f"{article.source.name}: no par block in\n" + "\n\n".join(article.diagrams)


def flows(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    declared = bundle.get("flows") or {}
    return [f for f in [declared.get("happy_path"), *declared.get("failure_paths", [])] if f]


def test_no_paragraph_is_shown_twice(pages: list[Article]) -> None:
    for article in pages:
        seen: dict[str, int] = {}
        for text in article.page.paragraphs:
            if text:
                seen[text] = seen.get(text, 0) + 1
        twice = [t for t, n in seen.items() if n > 1]
        assert not twice, f"{article.source.name}: shown more than once: {twice}"


def test_every_author_heading_is_kept_but_the_slip(pages: list[Article]) -> None:
    slips = 0
    for article in pages:
        own = article.bundle["name"]
        wanted = [(level, as_shown(text, own)) for level, text in author_headings(article.source)]
        slips += sum(as_shown(text, own) != text for _, text in author_headings(article.source))
        shown = iter(article.page.headings)
        missing = [h for h in wanted if h not in shown]  # in order, among the generated ones
        assert not missing, f"{article.source.name}: {missing} not in {article.page.headings}"
        for level, text in author_headings(article.source):
            if as_shown(text, own) != text:
                assert (level, text) not in article.page.headings
    assert slips, "the site has a heading slip for the check to fix"


def test_the_authors_paragraphs_are_on_the_page(pages: list[Article]) -> None:
    for article in pages:
        for paragraph in author_paragraphs(article.source):
            assert paragraph in article.page.paragraphs, f"{article.source.name}: {paragraph}"


def test_no_event_words_where_nothing_was_published(pages: list[Article]) -> None:
    plain = [a for a in pages if "broker" not in a.styles]
    assert {s for a in plain for s in a.styles} >= {"call", "send"}
    for article in plain:
        text = words(article)
        for word in re.findall(r"\b(?:publish\w*|events?)\b", text, re.I):
            at = text.lower().index(word.lower())
            pytest.fail(f"{article.source.name}: '{word}' in ...{text[max(0, at - 80):at + 40]}...")


def test_the_guides_diagrams_are_the_built_ones(pages: list[Article]) -> None:
    built = [d.strip() for a in pages for d in a.diagrams]
    shown = [b for b in guide_blocks() if b.lang == "mermaid"]
    assert shown
    for block in shown:
        assert block.text.strip() in built, \
            f"guide line {block.line}: a diagram no page has; the build's:\n" + "\n\n".join(built)


def test_a_broken_flow_fails_the_strict_build_naming_the_bundle_line(broken: Broken) -> None:
    assert broken.build.returncode != 0
    out = broken.build.stderr
    assert "Traceback" not in out
    named = [line for line in out.splitlines()
             if (at := re.search(r"snippets/scatter-gather/bundle\.yml:(\d+):", line))
             and int(at.group(1)) in broken.bundle_lines]
    assert any("'BestPrice'" in line for line in named), \
        f"no message about BestPrice names lines {broken.bundle_lines} of the join step:\n{out}"
    assert "patterns/scatter-gather-pattern.md" in out


def test_the_guides_failing_check_says_what_the_guide_says(broken: Broken) -> None:
    assert broken.check.returncode == 1, broken.check.stdout + broken.check.stderr
    [shown] = [b for b in guide_blocks() if b.title.startswith("pattern-articles check")]
    for line in shown.text.splitlines():
        assert line in broken.check.stdout.splitlines(), \
            f"guide line {shown.line}: {line!r} not in\n{broken.check.stdout}"
        if line.startswith("snippets/"):  # "and so do mkdocs build --strict"
            assert line in broken.build.stderr, f"guide line {shown.line}: not in the build's log"
    # "The script still runs, and stores the impossible reading."
    assert "+stored m2: -3.00 kWh" in broken.check.stdout.splitlines()
    assert "Traceback" not in broken.check.stdout + broken.check.stderr


GUIDE_CLAIMS = [
    # (what section 9 of the guide quotes, as a page's text shows it)
    ('headed "The stages"', "The stages"),
    ('"What flows between them"', "What flows between them"),
    ("**Parse**, on `RawLine`, splits the line into a meter and a number. It passes `Reading` to "
     "**Validate**.", "Parse, on RawLine, splits the line into a meter and a number. It passes "
     "Reading to Validate."),
    ("It calls **Acme**, **Bolt** and **Cogs** with `RequestQuote`, all at once",
     "It calls Acme, Bolt and Cogs with RequestQuote, all at once"),
    ("when the deadline passes, with the `Quote` replies it has",
     "when the deadline passes, with the Quote replies it has"),
]


def test_the_guide_quotes_the_page_as_built(pages: list[Article]) -> None:
    """What the guide says the Use Case reads like is what the build wrote."""
    guide = " ".join(GUIDE.read_text("utf-8").split())
    site = " ".join(words(a) for a in pages)
    for quoted, shown in GUIDE_CLAIMS:
        assert quoted in guide, f"the guide no longer says {quoted!r}: update GUIDE_CLAIMS"
        assert shown in site, f"no page says {shown!r}"


def test_check_lists_every_slip_it_fixed(site: Site, pages: list[Article]) -> None:
    """The fix is shown on the page, and `check` names it with its line, as the build does."""
    said = site.update.stdout + site.build.stderr
    for article in pages:
        own = article.bundle["name"]
        rel = article.source.relative_to(site.project).as_posix()
        for number, line in enumerate(article.source.read_text("utf-8").splitlines(), 1):
            heading = line.lstrip("#").strip()
            if line.startswith("#") and as_shown(heading, own) != heading:
                assert f"{rel}:{number}: heading '{heading}'" in site.update.stdout, said
                assert f"{rel}:{number}: heading '{heading}'" in site.build.stderr, said
