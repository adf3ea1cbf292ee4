"""Synthetic sites for the benchmark: the same pages and code, four ways.

``generate(root, articles, per_article)`` writes, under ``root``:

* ``ours/``    a pattern-articles site: ``articles`` bundles of ``per_article`` snippets each
               (small, realistic, standard-library-only Python programs with golden outputs),
               and one skeleton article per bundle whose empty "Implementation Details"
               section the plugin fills with each snippet's code and real output;
* ``plain/``   the same pages as plain Markdown, filled in advance (the code and the output as
               static highlighted blocks, in the same tabs): plain mkdocs-material, no plugin.
               Written by :func:`write_plain` from what our plugin renders, so the pages are
               byte for byte what our build hands to MkDocs;
* ``mdexec/``  the same pages with each snippet as a markdown-exec ``exec="1"`` fence
               (code and output in tabs, executed in-process at build time);
* ``mddocs/``  one Markdown file per article with the snippets as plain ``python`` fences, for
               pytest-markdown-docs.

All four share the theme and the Markdown extensions, so only the way code gets onto the
page differs. Programs are deterministic: the golden outputs are computed here by running
each program in-process once.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

# --------------------------------------------------------------------------- programs
# Six kinds of example a pattern article shows, each parameterised so no two snippets are
# alike (different ids, amounts, failure points): an event bus, a saga with compensation,
# an idempotent consumer under redelivery, an outbox relay, retries with a circuit breaker,
# and a CQRS read-model projection.

_PROGRAMS = [
    '''\
"""Choreography: services react to each other's events on an in-process bus."""
from collections import defaultdict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    name: str
    order_id: str
    amount: int = 0


@dataclass
class Bus:
    handlers: dict = field(default_factory=lambda: defaultdict(list))
    log: list = field(default_factory=list)

    def subscribe(self, name, handler):
        self.handlers[name].append(handler)

    def publish(self, event):
        self.log.append(event)
        for handler in self.handlers[event.name]:
            handler(event)


bus = Bus()
stock = {{"sku-{i}": {stock}}}


def on_order_placed(event):
    if event.amount <= {limit}:
        bus.publish(Event("PaymentCompleted", event.order_id, event.amount))
    else:
        bus.publish(Event("PaymentDeclined", event.order_id, event.amount))


def on_payment_completed(event):
    stock["sku-{i}"] -= 1
    bus.publish(Event("InventoryReserved", event.order_id))


bus.subscribe("OrderPlaced", on_order_placed)
bus.subscribe("PaymentCompleted", on_payment_completed)
for n, amount in enumerate([{a1}, {a2}, {a3}]):
    bus.publish(Event("OrderPlaced", f"order-{i}-{{n}}", amount))
for event in bus.log:
    print(f"{{event.name:<18}} {{event.order_id}} {{event.amount}}")
print("stock left:", stock["sku-{i}"])
''',
    '''\
"""Saga: local steps with compensations run in reverse when a step fails."""


class StepFailed(Exception):
    pass


def reserve(ctx):
    ctx["reserved"] = {qty}
    return "reserved {qty} items"


def charge(ctx):
    if {fail_at} == 1:
        raise StepFailed("card declined")
    ctx["charged"] = {amount}
    return "charged {amount}"


def ship(ctx):
    if {fail_at} == 2:
        raise StepFailed("no courier")
    return "shipped order {i}"


steps = [
    (reserve, lambda ctx: "released reservation"),
    (charge, lambda ctx: f"refunded {{ctx['charged']}}"),
    (ship, lambda ctx: "cancelled shipment"),
]
ctx, done = {{}}, []
try:
    for action, undo in steps:
        print("do:  ", action(ctx))
        done.append(undo)
except StepFailed as exc:
    print("fail:", exc)
    for undo in reversed(done):
        print("undo:", undo(ctx))
print("saga", "completed" if len(done) == len(steps) else "compensated")
''',
    '''\
"""Idempotent consumer: a redelivered message is recognised and ignored."""
import hashlib
import json

processed = set()
balance = {{"acct-{i}": {start}}}


def handle(message):
    key = hashlib.sha256(json.dumps(message, sort_keys=True).encode()).hexdigest()[:12]
    if key in processed:
        return f"duplicate {{message['id']}} ignored"
    processed.add(key)
    balance[message["account"]] += message["delta"]
    return f"applied {{message['id']}}: {{message['delta']:+d}}"


messages = [
    {{"id": "m1", "account": "acct-{i}", "delta": {d1}}},
    {{"id": "m2", "account": "acct-{i}", "delta": -{d2}}},
    {{"id": "m1", "account": "acct-{i}", "delta": {d1}}},  # redelivered after a crash
    {{"id": "m3", "account": "acct-{i}", "delta": {d3}}},
]
for message in messages:
    print(handle(message))
print("balance:", balance["acct-{i}"])
''',
    '''\
"""Transactional outbox: state and outgoing events are saved together, then relayed."""
import json
import sqlite3

db = sqlite3.connect(":memory:")
db.execute("create table orders (id text primary key, total integer)")
db.execute("create table outbox (seq integer primary key, topic text, body text, sent integer)")


def place_order(order_id, total):
    with db:
        db.execute("insert into orders values (?, ?)", (order_id, total))
        body = json.dumps({{"order_id": order_id, "total": total}})
        db.execute("insert into outbox (topic, body, sent) values (?, ?, 0)", ("OrderPlaced", body))


def relay(publish):
    rows = db.execute("select seq, topic, body from outbox where sent = 0 order by seq").fetchall()
    for seq, topic, body in rows:
        publish(topic, json.loads(body))
        db.execute("update outbox set sent = 1 where seq = ?", (seq,))
    return len(rows)


for n in range({count}):
    place_order(f"order-{i}-{{n}}", {base} + 10 * n)
sent = relay(lambda topic, body: print(f"-> {{topic}} {{body['order_id']}} total={{body['total']}}"))
print("relayed", sent, "then", relay(print))
''',
    '''\
"""Retries with backoff behind a circuit breaker (a fake clock keeps it deterministic)."""


class Clock:
    def __init__(self):
        self.now = 0.0

    def sleep(self, seconds):
        self.now += seconds


class Breaker:
    def __init__(self, limit):
        self.limit, self.failures, self.state = limit, 0, "closed"

    def call(self, func):
        if self.state == "open":
            raise RuntimeError("circuit open")
        try:
            result = func()
        except ConnectionError:
            self.failures += 1
            if self.failures >= self.limit:
                self.state = "open"
            raise
        self.failures = 0
        return result


clock, breaker = Clock(), Breaker(limit={limit})
attempts = iter([False] * {fails} + [True])


def flaky():
    if not next(attempts):
        raise ConnectionError("timeout")
    return "200 OK"


for attempt in range(1, 6):
    try:
        print(f"t={{clock.now:5.1f}} attempt {{attempt}}:", breaker.call(flaky))
        break
    except (ConnectionError, RuntimeError) as exc:
        print(f"t={{clock.now:5.1f}} attempt {{attempt}}: {{exc}} ({{breaker.state}})")
        clock.sleep(0.5 * 2 ** attempt)
''',
    '''\
"""CQRS: a read model projected from the event stream."""
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    kind: str
    customer: str
    amount: int


stream = [
    Event("OrderPlaced", "ada", {a1}),
    Event("OrderPlaced", "grace", {a2}),
    Event("OrderCancelled", "ada", {a1}),
    Event("OrderPlaced", "ada", {a3}),
    Event("OrderPlaced", "linus", {a2}),
]
totals, orders = Counter(), Counter()
for event in stream:
    sign = -1 if event.kind == "OrderCancelled" else 1
    totals[event.customer] += sign * event.amount
    orders[event.customer] += sign
print(f"{{'customer':<8}} {{'orders':>6}} {{'total':>6}}")
for customer in sorted(totals):
    print(f"{{customer:<8}} {{orders[customer]:>6}} {{totals[customer]:>6}}")
''',
]


def program(index: int) -> str:
    """The ``index``-th synthetic snippet: one of the six kinds, with its own numbers."""
    kind = index % len(_PROGRAMS)
    i = index
    values = {
        "i": i, "stock": 5 + i % 7, "limit": 100 + i % 50, "a1": 40 + i % 30, "a2": 90 + i % 40,
        "a3": 150 + i % 20, "qty": 1 + i % 4, "amount": 20 + i % 80, "fail_at": i % 3,
        "start": 100 + i % 10, "d1": 10 + i % 9, "d2": 5 + i % 4, "d3": 7 + i % 5,
        "count": 2 + i % 3, "base": 30 + i % 25, "fails": i % 4,
    }
    if kind == 4:
        values["limit"] = 2 + i % 2
    return _PROGRAMS[kind].format(**values)


def run_in_process(code: str) -> tuple[str, float]:
    """Output and own run time of a program executed in this process (what markdown-exec does)."""
    buffer = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(buffer):
        exec(compile(code, "<snippet>", "exec"), {"__name__": "__main__"})
    return buffer.getvalue(), time.perf_counter() - started


# --------------------------------------------------------------------------- sites

_EXTENSIONS = """\
markdown_extensions:
  - admonition
  - attr_list
  - md_in_html
  - tables
  - toc:
      permalink: true
  - pymdownx.details
  - pymdownx.highlight:
      anchor_linenums: true
  - pymdownx.inlinehilite
  - pymdownx.superfences:
      custom_fences:
        - name: mermaid
          class: mermaid
          format: !!python/name:pymdownx.superfences.fence_code_format
  - pymdownx.tabbed:
      alternate_style: true
"""


def _mkdocs_yml(name: str, plugins: str) -> str:
    return (f"site_name: {name}\ntheme:\n  name: material\n  features:\n    - content.code.copy\n"
            f"plugins:\n  - search\n{plugins}{_EXTENSIONS}")


@dataclass
class Sites:
    root: Path
    ours: Path
    plain: Path
    mdexec: Path
    mddocs: Path
    snippets: list[Path]  # every snippet file of ours, in order
    own_seconds: float  # in-process run time of every program, summed
    articles: int
    per_article: int

    @property
    def count(self) -> int:
        return len(self.snippets)


def _article_intro(a: int) -> str:
    return (f"Bench pattern {a} keeps services loosely coupled through events. "
            "This article walks through its example code step by step; every output "
            "below is what the code really printed.\n")


def generate(root: Path, articles: int, per_article: int) -> Sites:
    """Write the four sites under ``root`` (see the module docstring)."""
    ours, plain, mdexec, mddocs = (root / n for n in ("ours", "plain", "mdexec", "mddocs"))
    for site in (ours, plain, mdexec, mddocs):
        if site.exists():
            shutil.rmtree(site)
        site.mkdir(parents=True)
    # one site name for all: the pages must differ only in how code gets onto them
    (ours / "mkdocs.yml").write_text(_mkdocs_yml("bench", "  - pattern-articles:\n      snippets: snippets\n"))
    (plain / "mkdocs.yml").write_text(_mkdocs_yml("bench", ""))
    (mdexec / "mkdocs.yml").write_text(_mkdocs_yml("bench", "  - markdown-exec\n"))
    # pytest: the plugin collects from the snippet folder; the same flags for both tools
    (ours / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\ntestpaths = snippets\n"
                                     "pattern_articles = true\n")
    (mddocs / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    index = "# Bench\n\nA synthetic site for the pattern-articles benchmark.\n"
    for site in (ours, plain, mdexec):
        (site / "docs").mkdir()
        (site / "docs" / "index.md").write_text(index)
    snippets: list[Path] = []
    own = 0.0
    n = 0
    for a in range(articles):
        bundle_id = f"bench-{a:03d}"
        folder = ours / "snippets" / bundle_id
        (folder / "expected").mkdir(parents=True)
        steps = []
        exec_parts = [f"---\ntitle: Bench pattern {a}\n---\n\n## Introduction\n\n{_article_intro(a)}\n"
                      "## Implementation Details\n\n"]
        docs_parts = [f"# Bench pattern {a}\n\n"]
        for s in range(per_article):
            code = program(n)
            n += 1
            name = f"s{s:02d}.py"
            path = folder / name
            path.write_text(code)
            output, seconds = run_in_process(code)
            own += seconds
            (folder / "expected" / f"s{s:02d}.txt").write_text(output)
            snippets.append(path)
            headline = code.splitlines()[0].strip('"').split(":")[0]
            title = f"Step {s + 1}: {headline}"
            text = "The code below runs as it is; its output is shown beside it."
            steps.append(f"    - title: \"{title}\"\n      text: {text}\n      code:\n"
                         f"        - snippet: {name}\n")
            exec_parts.append(f"### {title}\n\n{text}\n\n"
                              f'```python exec="1" source="tabbed-left" result="text" '
                              f'title="{bundle_id}/{name}"\n{code.rstrip()}\n```\n\n')
            docs_parts.append(f"## {name}\n\n```python\n{code.rstrip()}\n```\n\n")
        (folder / "bundle.yml").write_text(
            f"name: Bench {a}\nsubtitle: Synthetic article {a}\n"
            f"description: A synthetic article for the benchmark.\n"
            "implementation:\n  intro: How the pieces fit, one runnable step at a time.\n"
            "  steps:\n" + "".join(steps))
        article = (f"---\npattern: {bundle_id}\ntitle: Bench pattern {a}\n---\n\n"
                   f"## Introduction\n\n{_article_intro(a)}\n## Implementation Details\n\n")
        (ours / "docs" / "patterns").mkdir(exist_ok=True)
        (ours / "docs" / "patterns" / f"{bundle_id}.md").write_text(article)
        (mdexec / "docs" / "patterns").mkdir(exist_ok=True)
        (mdexec / "docs" / "patterns" / f"{bundle_id}.md").write_text("".join(exec_parts))
        (mddocs / f"{bundle_id}.md").write_text("".join(docs_parts))
    return Sites(root, ours, plain, mdexec, mddocs, snippets, own, articles, per_article)


def write_plain(sites: Sites) -> None:
    """The plain site's pages: exactly the Markdown our plugin hands to MkDocs, filled.

    Rendered through the project API with running on, so the outputs are the real ones; the
    front matter keeps only the title (the plain site has no plugin to read ``pattern:``).
    """
    from pattern_articles import settings as settings_mod
    from pattern_articles.project import Project

    settings = settings_mod.load(sites.ours / "mkdocs.yml")
    settings.cache_dir = None  # do not warm the cache the cold runs must find empty
    project = Project(settings)
    try:
        refs = project.articles()
        project.start([project.bundle(r.bundle_id) for r in refs])
        for ref in refs:
            text = ref.path.read_text(encoding="utf-8")
            body = text.split("---\n", 2)[2]
            title = text.split("title: ", 1)[1].split("\n", 1)[0]
            rendered = project.fill(body, ref.path, ref.bundle_id, meta={"title": title},
                                    links=project.links(ref.docs_path))
            bad = [p for p in rendered.problems if p.level == "warning"]
            if bad:
                raise SystemExit(f"synthetic article {ref.docs_path} does not build cleanly: {bad[0].format()}")
            target = sites.plain / "docs" / ref.docs_path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"---\ntitle: {title}\n---\n{rendered.markdown}")
    finally:
        project.close()


def edit_snippet(path: Path, round_number: int) -> None:
    """A change a writer makes: the code changes (a comment), so the snippet must re-run."""
    text = path.read_text()
    marker = "# edited in round "
    lines = [line for line in text.splitlines() if not line.startswith(marker)]
    path.write_text("\n".join(lines) + f"\n{marker}{round_number}\n")


def edit_plain_page(page: Path, round_number: int) -> None:
    """The plain site's equivalent of :func:`edit_snippet`: one code block of one page changes."""
    text = page.read_text()
    marker = "# edited in round "
    lines = [line for line in text.splitlines() if marker not in line]
    out = []
    done = False
    for line in lines:
        out.append(line)
        if not done and line.strip().startswith("```python"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}{marker}{round_number}")
            done = True
    page.write_text("\n".join(out) + "\n")


__all__ = ["Sites", "edit_plain_page", "edit_snippet", "generate", "program", "run_in_process", "write_plain"]
