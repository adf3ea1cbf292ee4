"""The bad-input corpus: each case, what is broken, and the exact result in every adapter.

A case is data: edits to the small project of ``kit.py`` and, per adapter, the exit code and
a fragment of the one message expected, with the file and line it must name. ``test_corpus``
runs every case in the CLI (``pattern-articles check``), in ``mkdocs build --strict`` and in
``pytest --pattern-articles``; ``test_docs_table`` renders :func:`markdown_table` into
``docs/guide/bad-input.md`` and fails when the committed page differs.

Exit codes: the CLI exits 2 when its input cannot be loaded (usage, settings, metadata, an
article it cannot read) and 1 when something loaded but failed (a snippet run, an output, a
check of an article). MkDocs exits 1 on any error or, with ``--strict``, warning. pytest
exits 1 when a test failed and 4 on a usage error (bad settings). Exit 0 means the input is
accepted, not an error (say, a page without front matter is simply not an article).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .kit import DIRECTIVE_LINE, Edit, append, delete, fifo, replace, symlink, write

B = "snippets/demo/bundle.yml"
H = "snippets/demo/hello.py"
G = "snippets/demo/expected/hello.txt"
A = "docs/demo.md"
M = "mkdocs.yml"
D = DIRECTIVE_LINE


@dataclass(frozen=True)
class Expect:
    """What one adapter must do: exit ``code`` and print ``fragment`` exactly once.

    ``fragment`` is None for an accepted input (exit 0, no warning); "…" in it stands for any
    text on the same line (an absolute path, say). ``ours`` is False when
    the message is MkDocs' or pytest's own (validated before our code runs): then no hint of
    ours is required.
    """

    code: int
    fragment: str | None = None
    ours: bool = True


OK = Expect(0)


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    broken: str
    edits: tuple[Edit, ...]
    cli: Expect
    mkdocs: Expect
    pytest: Expect
    args: tuple[str, ...] = ()  # paths named to the CLI and to pytest
    snippet_traceback: bool = False  # the snippet's own traceback is part of the report
    note: str = ""  # why an adapter accepts the input, for the docs table
    slow: bool = False


def same(code_cli: int, fragment: str, code_pytest: int = 1) -> dict[str, Expect]:
    """The same message everywhere; MkDocs and pytest exit 1 (or pytest 4 for settings)."""
    return {"cli": Expect(code_cli, fragment), "mkdocs": Expect(1, fragment), "pytest": Expect(code_pytest, fragment)}


def directive(body: str) -> Edit:
    return append(A, f"\n```pattern-snippet\n{body}\n```\n")


def snippet(code: str, timeout: int | None = None) -> tuple[Edit, ...]:
    edits: list[Edit] = [write(H, code)]
    if timeout is not None:
        edits.append(replace(B, "hello.py: {timeout: 10}", f"hello.py: {{timeout: {timeout}}}"))
    return tuple(edits)


BIG_PARAGRAPH = ("Authored prose that goes on and on, the way a pasted log or a generated file would. " * 12
                 + "\n\n")
BIG_ARTICLE_REPEAT = 10_700_000 // len(BIG_PARAGRAPH)

CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------ malformed YAML
    Case("yaml-tab", "malformed YAML", "a tab indents a key in bundle.yml",
         (append(B, "\tcolour: red\n"),),
         **same(2, f"{B}:21: invalid YAML: found character '\\t' that cannot start any token")),
    Case("yaml-unclosed-flow", "malformed YAML", "a flow sequence is never closed",
         (replace(B, "consumers: [payment]}", "consumers: [payment}"),),
         **same(2, f"{B}:8: invalid YAML")),
    Case("yaml-duplicate-key", "malformed YAML", "a key is given twice (YAML silently keeps the last)",
         (append(B, "name: Other\n"),),
         **same(2, f"{B}:21: key 'name' is given twice in the same mapping (first on line 1)")),
    Case("yaml-recursive-alias", "malformed YAML", "an alias contains itself",
         (append(B, "tags: &t [*t]\n"),),
         **same(2, f"{B}:21: YAML alias refers to a value that contains it")),
    Case("yaml-billion-laughs", "malformed YAML", "aliases expand to millions of values",
         (append(B, "x0: &x0 [a, a, a, a, a, a, a, a, a, a]\n" + "".join(
             f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10)}]\n" for i in range(1, 7))),),
         **same(2, f"{B}:27: metadata expands to more than 200000 values")),
    Case("metadata-not-mapping", "malformed YAML", "bundle.yml is a list, not a mapping",
         (write(B, "- Demo\n- Order\n"),),
         **same(2, f"{B}:1: metadata must be a mapping of keys to values, not a list")),
    Case("metadata-empty", "malformed YAML", "bundle.yml is empty",
         (write(B, ""),),
         **same(2, f"{B}:1: missing required key 'name'")),
    Case("metadata-not-utf8", "malformed YAML", "bundle.yml holds bytes that are not UTF-8",
         (write(B, b"name: Demo\nsubtitle: caf\xe9\n"),),
         **same(2, f"{B}:2: metadata is not UTF-8 text")),
    # ------------------------------------------------------------------ wrong types
    Case("type-name-list", "wrong types", "name is a list",
         (replace(B, "name: Demo", "name: [Demo, Other]"),),
         **same(2, f"{B}:1: name: Input should be a valid string")),
    Case("type-participants-string", "wrong types", "participants is a string",
         (replace(B, "  - {id: order, name: Order service}\n  - {id: payment, name: Payment service}\n", ""),
          replace(B, "participants:", "participants: order")),
         **same(2, f"{B}:4: participants: Input should be a valid list")),
    Case("type-timeout-text", "wrong types", "a snippet timeout is text",
         (replace(B, "{timeout: 10}", "{timeout: soon}"),),
         **same(2, f"{B}:15: snippets.hello.py.timeout: Input should be a valid number")),
    Case("type-timeout-negative", "wrong types", "a snippet timeout is negative",
         (replace(B, "{timeout: 10}", "{timeout: -5}"),),
         **same(2, f"{B}:15: snippets.hello.py.timeout: Input should be greater than 0")),
    Case("type-needs-unknown", "wrong types", "a snippet needs a service nobody provides",
         (replace(B, "{timeout: 10}", "{timeout: 10, needs: [postgres]}"),),
         **same(2, f"{B}:15: snippets.hello.py.needs.0: Input should be 'redis'")),
    # ------------------------------------------------------------------ unknown keys
    Case("unknown-key-top", "unknown keys", "a misspelt top-level key",
         (append(B, "colour: red\n"),),
         **same(2, f"{B}:21: unknown key 'colour' at colour")),
    Case("unknown-key-nested", "unknown keys", "a misspelt key inside a participant",
         (replace(B, "{id: order, name: Order service}", "{id: order, name: Order service, colour: red}"),),
         **same(2, f"{B}:5: unknown key 'colour' at participants.0.colour")),
    Case("unknown-key-yaml-on", "unknown keys", "'on:' in a flow step (YAML reads it as true)",
         (replace(B, "reacts_to: OrderPlaced", "on: OrderPlaced"),),
         **same(2, f"{B}:13: flows.happy_path.steps.1: a key is not a name")),
    # ------------------------------------------------------------------ dangling references
    Case("dangling-consumer", "dangling references", "an event's consumer is not a participant",
         (replace(B, "consumers: [payment]", "consumers: [payment, shipping]"),),
         **same(2, f"{B}:8: event 'OrderPlaced' names consumer 'shipping', which is not a declared participant")),
    Case("dangling-producer", "dangling references", "an event's producer is not a participant",
         (replace(B, "producer: order,", "producer: warehouse,"),),
         **same(2, f"{B}:8: event 'OrderPlaced' is produced by 'warehouse', which is not a declared participant")),
    Case("dangling-emits", "dangling references", "a flow step emits an undeclared event",
         (replace(B, "emits: [OrderPlaced]", "emits: [OrderPlaced, OrderShipped]"),),
         **same(2, f"{B}:12: flow step emits undeclared event 'OrderShipped'")),
    Case("dangling-actor", "dangling references", "a flow step's actor is not a participant",
         (replace(B, "{actor: payment,", "{actor: billing,"),),
         **same(2, f"{B}:13: flow step actor 'billing' is not a declared participant")),
    Case("dangling-flow-snippet", "dangling references", "flows.snippet names a missing script",
         (replace(B, "flows:\n", "flows:\n  snippet: flow.py\n"),),
         **same(2, f"{B}:10: flows.snippet 'flow.py' does not exist in demo/")),
    # ------------------------------------------------------------------ duplicates
    Case("duplicate-event", "duplicate names", "two events share a name",
         (replace(B, "events:\n", "events:\n  - {name: OrderPlaced, producer: order}\n"),),
         **same(2, f"{B}:9: event 'OrderPlaced' is declared twice")),
    Case("duplicate-participant", "duplicate names", "two participants share an id",
         (replace(B, "participants:\n", "participants:\n  - {id: order, name: Orders again}\n"),),
         **same(2, f"{B}:6: participant 'order' is declared twice")),
    # ------------------------------------------------------------------ missing snippet file
    Case("snippet-file-missing", "missing snippet file", "the declared script was deleted",
         (delete(H),),
         **same(2, f"{B}:15: snippets: 'hello.py' does not exist in demo/")),
    Case("code-ref-missing", "missing snippet file", "the implementation shows a file that does not exist",
         (replace(B, "- snippet: hello.py", "- snippet: nothere.py"),),
         **same(2, f"{B}:20: 'nothere.py' names a snippet that does not exist in demo/")),
    # ------------------------------------------------------------------ regions
    Case("region-missing", "missing or unterminated region", "the shown region is not marked in the file",
         (replace(B, "- snippet: hello.py", "- snippet: hello.py#publish"),),
         **same(2, f"{B}:20: region 'publish' not found in hello.py (regions: none)")),
    Case("region-unterminated", "missing or unterminated region", "a region starts and never ends",
         (replace(B, "- snippet: hello.py", "- snippet: hello.py#greet"),
          write(H, '# --8<-- [start:greet]\nprint("hello")\n')),
         **same(2, f"{H}:1: region 'greet' is not terminated")),
    Case("region-end-only", "missing or unterminated region", "a region ends but never starts",
         (replace(B, "- snippet: hello.py", "- snippet: hello.py#greet"),
          write(H, 'print("hello")\n# --8<-- [end:greet]\n')),
         **same(2, f"{H}:2: region 'greet' ends but never starts")),
    # ------------------------------------------------------------------ path safety: code refs
    Case("ref-traversal", "path traversal, absolute path, symlink (code refs)",
         "the implementation shows ../../etc/passwd",
         (replace(B, "- snippet: hello.py", "- snippet: ../../etc/passwd"),),
         **same(2, f"{B}:20: snippet path '../../etc/passwd' leaves the bundle folder demo/")),
    Case("ref-deep-traversal", "path traversal, absolute path, symlink (code refs)",
         "enough ../ to reach the real /etc/passwd",
         (replace(B, "- snippet: hello.py", "- snippet: " + "../" * 30 + "etc/passwd"),),
         **same(2, f"{B}:20: snippet path '{'../' * 30}etc/passwd' leaves the bundle folder demo/")),
    Case("ref-absolute", "path traversal, absolute path, symlink (code refs)", "the implementation shows /etc/passwd",
         (replace(B, "- snippet: hello.py", "- snippet: /etc/passwd"),),
         **same(2, f"{B}:20: snippet path '/etc/passwd' is absolute")),
    Case("ref-symlink", "path traversal, absolute path, symlink (code refs)",
         "leak.py is a symlink to /etc/passwd",
         (symlink("snippets/demo/leak.py", "/etc/passwd"), replace(B, "- snippet: hello.py", "- snippet: leak.py")),
         **same(2, f"{B}:20: snippet path 'leak.py' leaves the bundle folder demo/ (a symlink to /etc/passwd)")),
    Case("run-traversal", "path traversal, absolute path, symlink (code refs)",
         "a snippet to run is declared as ../../etc/passwd",
         (replace(B, "  hello.py: {timeout: 10}\n", "  hello.py: {timeout: 10}\n  ../../etc/passwd: {}\n"),),
         **same(2, f"{B}:16: snippet path '../../etc/passwd' leaves the bundle folder demo/")),
    # ------------------------------------------------------------------ path safety: directive
    Case("directive-traversal", "path traversal, absolute path, symlink (pattern-snippet directive)",
         "a pattern-snippet block names ../../etc/passwd",
         (directive("../../etc/passwd"),),
         **same(2, f"{A}:{D}: snippet '../../etc/passwd' leaves its bundle folder demo/")),
    Case("directive-absolute", "path traversal, absolute path, symlink (pattern-snippet directive)",
         "a pattern-snippet block names /etc/passwd",
         (directive("/etc/passwd"),),
         **same(2, f"{A}:{D}: snippet '/etc/passwd' leaves its bundle folder demo/")),
    Case("directive-symlink", "path traversal, absolute path, symlink (pattern-snippet directive)",
         "a pattern-snippet block names a symlink to /etc/passwd",
         (symlink("snippets/demo/leak.py", "/etc/passwd"), directive("leak.py")),
         **same(2, f"{A}:{D}: snippet 'leak.py' leaves its bundle folder demo/")),
    Case("directive-missing", "missing snippet file", "a pattern-snippet block names a missing file",
         (directive("nothere.py"),),
         **same(2, f"{A}:{D}: snippet 'nothere.py' not found in")),
    Case("directive-option", "pattern-snippet directive", "a pattern-snippet block has an unknown option",
         (directive("hello.py colour=red"),),
         **same(2, f"{A}:{D}: unknown pattern-snippet option 'colour'")),
    Case("directive-empty", "pattern-snippet directive", "a pattern-snippet block is empty",
         (directive(""),),
         **same(2, f"{A}:{D}: empty pattern-snippet block")),
    # ------------------------------------------------------------------ binary snippet
    Case("binary-ref", "binary snippet file", "the implementation shows a binary file",
         (write("snippets/demo/blob.bin", b"\x00\x01\x02binary\x00"),
          replace(B, "- snippet: hello.py", "- snippet: blob.bin")),
         **same(2, f"{B}:20: 'blob.bin' names a binary file; only text can be shown as code")),
    Case("binary-directive", "binary snippet file", "a pattern-snippet block names a binary file",
         (write("snippets/demo/blob.bin", b"\x00\x01\x02binary\x00"), directive("blob.bin")),
         **same(2, f"{A}:{D}: snippet snippets/demo/blob.bin is a binary file")),
    # ------------------------------------------------------------------ articles
    Case("article-not-utf8", "article", "the linked article holds bytes that are not UTF-8",
         (write(A, b"---\npattern: demo\n---\n\n## Introduction\n\nCaf\xe9\n"),),
         **same(2, f"{A}:7: the Markdown file is not UTF-8 text")),
    Case("article-front-matter-list", "article", "the linked article's front matter is a list",
         (write(A, "---\n[\npattern: demo\n]\n---\n\n## Introduction\n\nText.\n"),),
         **same(2, f"{A}:2: front matter must be a mapping of keys to values, not a list")),
    Case("article-front-matter-yaml", "article", "the linked article's front matter is invalid YAML",
         (replace(A, "description: <TODO>", "description: [unclosed"),),
         **same(2, f"{A}:5: front matter is not valid YAML")),
    Case("article-front-matter-open", "article", "the linked article's front matter is never closed",
         (replace(A, "description: <TODO>\n---\n", "description: <TODO>\n"),),
         **same(2, f"{A}:1: front matter is not closed")),
    Case("article-unknown-bundle", "bundle id that does not exist", "the article names a bundle that does not exist",
         (replace(A, "pattern: demo", "pattern: nope"),),
         **same(2, f"{A}:2: no bundle 'nope' in the snippet folders")),
    Case("named-unknown-bundle", "bundle id that does not exist", "the CLI (and pytest) are given snippets/nope",
         (), cli=Expect(2, "snippets/nope: no such file or folder"), mkdocs=OK,
         pytest=Expect(4, "file or directory not found: snippets/nope", ours=False),
         args=("snippets/nope",), note="MkDocs is not given paths; its build of the intact project passes"),
    Case("article-linked-empty", "article", "the linked article has front matter and nothing else",
         (write(A, "---\npattern: demo\n---\n"),),
         cli=OK, mkdocs=OK, pytest=OK,
         note="accepted: an article may be all generated; 'append' adds the sections no heading covers"),
    Case("named-empty", "article", "an empty Markdown file named to the CLI (and pytest)",
         (write("docs/empty.md", ""),),
         cli=Expect(2, "docs/empty.md:1: the file is empty, so it is not an article"), mkdocs=OK,
         pytest=Expect(1, "docs/empty.md:1: the file is empty, so it is not an article"),
         args=("docs/empty.md",), note="for MkDocs a page without the key is not an article, just a page"),
    Case("named-no-front-matter", "article", "a file without front matter named to the CLI (and pytest)",
         (write("docs/plain.md", "# Plain\n\nText.\n"),),
         cli=Expect(2, "docs/plain.md:1: the file has no front matter, so it is not an article"), mkdocs=OK,
         pytest=Expect(1, "docs/plain.md:1: the file has no front matter, so it is not an article"),
         args=("docs/plain.md",), note="for MkDocs a page without front matter is just a page"),
    Case("named-front-matter-list", "article", "a file whose front matter is a list, named to the CLI (and pytest)",
         (write("docs/list.md", "---\n- a\n- b\n---\n\nText.\n"),),
         cli=Expect(2, "docs/list.md:2: front matter must be a mapping of keys to values, not a list"), mkdocs=OK,
         pytest=Expect(1, "docs/list.md:2: front matter must be a mapping of keys to values, not a list"),
         args=("docs/list.md",), note="for MkDocs a page whose front matter names no bundle is just a page"),
    Case("named-not-utf8", "article", "a file that is not UTF-8, named to the CLI (and pytest)",
         (write("docs/latin1.md", b"# Caf\xe9\n"),),
         cli=Expect(2, "docs/latin1.md:1: the Markdown file is not UTF-8 text"),
         mkdocs=Expect(1, "docs/latin1.md:1: the Markdown file is not UTF-8 text"),
         pytest=Expect(1, "docs/latin1.md:1: the Markdown file is not UTF-8 text"),
         args=("docs/latin1.md",), note="the MkDocs plugin checks every page, or MkDocs would stop with a traceback"),
    Case("article-10mb", "article", "a 10 MB article (linked)",
         (append(A, "\n## Appendix\n\n" + BIG_PARAGRAPH * BIG_ARTICLE_REPEAT),),
         cli=OK, mkdocs=OK, pytest=OK, slow=True,
         note="accepted: filled and built in seconds, no hang"),
    # ------------------------------------------------------------------ snippet runs
    Case("run-exit-1", "snippet runs", "the snippet exits 1",
         snippet('import sys\nprint("hello")\nsys.exit(1)\n'),
         **same(1, f"{H}:1: snippets/demo/hello.py::hello failed: exit code 1")),
    Case("run-raises", "snippet runs", "the snippet raises an exception",
         snippet('def charge():\n    raise RuntimeError("card declined")\n\n\ncharge()\n'),
         **same(1, f"{H}:2: snippets/demo/hello.py::hello failed: exit code 1 (RuntimeError: card declined)"),
         snippet_traceback=True),
    Case("run-syntax-error", "snippet runs", "the snippet has a syntax error",
         snippet('print("hello"\n'),
         **same(1, f"{H}:1: snippets/demo/hello.py::hello failed: exit code 1"), snippet_traceback=True),
    Case("run-sigkill", "snippet runs", "the snippet is killed by SIGKILL",
         snippet('import os, signal\nprint("hello", flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n'),
         **same(1, f"{H}:1: snippets/demo/hello.py::hello failed: killed by SIGKILL")),
    Case("run-timeout", "snippet runs", "the snippet loops forever",
         snippet("while True:\n    pass\n", timeout=1),
         **same(1, f"{H}:1: snippets/demo/hello.py::hello timeout: timed out after 1 s; killed 1 process")),
    Case("run-flood", "snippet runs", "the snippet prints endlessly",
         snippet('while True:\n    print("spam " * 20)\n', timeout=2),
         **same(1, f"{H}:1: snippets/demo/hello.py::hello timeout: timed out after 2 s")),
    Case("run-reads-stdin", "snippet runs", "the snippet waits for input on stdin",
         snippet("name = input()\nprint('hello', name)\n"),
         **same(1, f"{H}:1: snippets/demo/hello.py::hello failed: exit code 1 (EOFError: EOF when reading a line)"),
         snippet_traceback=True),
    Case("run-daemon", "snippet runs", "the snippet leaves a daemon behind",
         snippet('import subprocess, sys\n'  # the daemon names this file: test_corpus looks for it
                 'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", __file__],\n'
                 '                 start_new_session=True)\nprint("hello")\n'),
         **same(1, f"{H}:1: snippets/demo/hello.py::hello failed: left processes running: "
                   "killed 1 process still running after the snippet exited")),
    Case("run-output-changed", "snippet runs", "the snippet prints something else than its golden file",
         snippet('print("goodbye")\n'),
         **same(1, f"{H}:1: output of snippets/demo/hello.py::hello differs from hello.txt")),
    Case("golden-not-utf8", "snippet runs", "the golden file is not UTF-8",
         (write("snippets/demo/expected/hello.txt", b"hell\xf6\n"),),
         **same(1, f"{H}:1: output of snippets/demo/hello.py::hello differs from hello.txt")),
    # ------------------------------------------------------------------ requires: (issue 20)
    Case("requires-missing", "declared requirements", "the bundle requires a distribution not installed",
         (append(B, "requires:\n  - not-a-real-distribution-xyz>=1\n"),),
         **same(1, f"{B}:22: snippets/demo/hello.py::hello not run: missing requirement "
                   "'not-a-real-distribution-xyz>=1' (not installed)")),
    Case("requires-malformed", "declared requirements", "a requirement is not PEP 508",
         (append(B, "requires: ['redis is great']\n"),),
         **same(2, f"{B}:21: requires.0: 'redis is great' is not a requirement")),
    Case("run-module-missing", "declared requirements", "the snippet imports a package nobody installed",
         snippet("import not_a_module_xyz\n"),
         **same(1, f"{H}:1: snippets/demo/hello.py::hello failed: exit code 1 (ModuleNotFoundError"),
         snippet_traceback=True),
    # ------------------------------------------------------------------ prose files (issue 20)
    Case("prose-missing", "prose in Markdown files", "a text field names a Markdown file that does not exist",
         (replace(B, "description: A bundle for the bad-input corpus.", "description: {file: prose/d.md}"),),
         **same(2, f"{B}:3: description: prose file 'prose/d.md' not found in demo/")),
    Case("prose-escapes", "prose in Markdown files", "a text field names a file outside the bundle",
         (replace(B, "description: A bundle for the bad-input corpus.", "description: {file: ../../docs/demo.md}"),),
         **same(2, f"{B}:3: description: '../../docs/demo.md' leaves the bundle folder demo/")),
    Case("prose-unclosed-fence", "prose in Markdown files", "a prose file opens a code fence and never closes it",
         (replace(B, "description: A bundle for the bad-input corpus.", "description: {file: prose/d.md}"),
          write("snippets/demo/prose/d.md", "A bundle.\n\n```python\nx = 1\n")),
         **same(2, "snippets/demo/prose/d.md:3: this code fence is never closed")),
    Case("prose-not-utf8", "prose in Markdown files", "a prose file is not UTF-8",
         (replace(B, "description: A bundle for the bad-input corpus.", "description: {file: prose/d.md}"),
          write("snippets/demo/prose/d.md", b"A bundle\ncaf\xe9.\n")),
         **same(2, "snippets/demo/prose/d.md:2: not UTF-8 text")),
    # ------------------------------------------------------------------ unlinked skeleton (issue 20)
    Case("title-todo-unlinked", "unlinked skeleton", "a page's title says TODO and it names no bundle",
         (write("docs/other.md", "---\ntitle: 'Other Pattern: <TODO>'\n---\n\nText.\n"),),
         **same(1, "docs/other.md:2: the title still says TODO ('Other Pattern: <TODO>') and the page names "
                   "no bundle")),
    # ------------------------------------------------------------------ interaction styles (issue 20)
    Case("join-malformed", "interaction styles", "a step's join is not a form the check knows",
         (replace(B, "reacts_to: OrderPlaced, action", "reacts_to: OrderPlaced, join: first two, action"),),
         **same(2, f"{B}:13: flows.happy_path.steps.1.join: 'first two': join must be 'all', 'first N', "
                   "'deadline' or 'first N or deadline'")),
    Case("replies-on-broker-event", "interaction styles", "a published event lists replies",
         (replace(B, "consumers: [payment]}", "consumers: [payment], replies: [OrderPlaced]}"),),
         **same(2, f"{B}:8: 'OrderPlaced' lists replies but travels by 'broker': only a call is answered")),
    Case("reply-undeclared", "interaction styles", "a call names a reply that is not declared",
         (replace(B, "{name: OrderPlaced, producer: order, consumers: [payment]}",
                  "{name: OrderPlaced, via: call, producer: order, consumers: [payment], replies: [Accepted]}"),),
         **same(2, f"{B}:8: 'OrderPlaced' names reply 'Accepted', which is not a declared message")),
    Case("actor-not-a-producer", "interaction styles", "a step's actor is not among its message's producers",
         (replace(B, "  - {id: payment, name: Payment service}\n",
                  "  - {id: payment, name: Payment service}\n  - {id: bank, name: Bank}\n"),
          replace(B, "producer: order,", "producer: [payment, bank],")),
         **same(2, f"{B}:13: 'order' emits 'OrderPlaced', which is not among its producers ('payment', 'bank')")),
    # ------------------------------------------------------------------ mkdocs.yml settings
    Case("settings-unknown", "bad mkdocs.yml plugin settings", "a misspelt setting",
         (append(M, "      colour: red\n"),),
         cli=Expect(2, f"{M}:5: unknown setting 'colour' for the pattern-articles plugin"),
         mkdocs=Expect(1, "Plugin 'pattern-articles' option 'colour': Unrecognised configuration name: colour",
                       ours=False),
         pytest=Expect(4, f"{M}:5: unknown setting 'colour' for the pattern-articles plugin"),
         note="MkDocs validates setting names itself, before the plugin runs"),
    Case("settings-type", "bad mkdocs.yml plugin settings", "timeout is text",
         (replace(M, "timeout: 10", "timeout: soon"),),
         **same(2, f"{M}:4: setting 'timeout' must be a positive number of seconds, not 'soon'", 4)),
    Case("settings-negative", "bad mkdocs.yml plugin settings", "timeout is negative",
         (replace(M, "timeout: 10", "timeout: -1"),),
         **same(2, f"{M}:4: setting 'timeout' must be a positive number of seconds, not -1", 4)),
    Case("settings-allowlist", "bad mkdocs.yml plugin settings", "env_allowlist is a string",
         (append(M, "      env_allowlist: PATH\n"),),
         **same(2, f"{M}:5: setting 'env_allowlist' must be a list of names, not 'PATH'", 4)),
    Case("settings-sandbox", "bad mkdocs.yml plugin settings", "an unknown sandbox",
         (append(M, "      sandbox: docker\n"),),
         **same(2, f"{M}:5: setting 'sandbox' must be 'off' or 'auto' or 'bwrap', not 'docker'", 4)),
    Case("settings-not-mapping", "bad mkdocs.yml plugin settings", "the plugin's settings are a list",
         (replace(M, "  - pattern-articles:\n      timeout: 10\n", "  - pattern-articles: [timeout]\n"),),
         cli=Expect(2, f"{M}:3: the pattern-articles plugin settings must be a mapping of names to values, not a list"),
         mkdocs=Expect(1, "Invalid config options for the 'pattern-articles' plugin.", ours=False),
         pytest=Expect(4, f"{M}:3: the pattern-articles plugin settings must be a mapping of names to values"),
         note="MkDocs checks the shape of a plugin's settings itself, before the plugin runs"),
    Case("settings-yaml", "bad mkdocs.yml plugin settings", "mkdocs.yml is not valid YAML",
         (append(M, "    - [unclosed\n"),),
         cli=Expect(2, f"{M}:5: invalid YAML"),
         mkdocs=Expect(1, "line 5", ours=False),
         pytest=Expect(4, f"{M}:5: invalid YAML"),
         note="MkDocs reads mkdocs.yml itself and reports the YAML error"),
    Case("settings-cache-in-docs", "bad mkdocs.yml plugin settings",
         "cache_dir inside docs_dir (the site would publish every run's output)",
         (append(M, "      cache_dir: docs/.cache\n"),),
         **same(2, f"{M}:5: setting 'cache_dir' (docs/.cache) is inside docs_dir (docs): "
                   "the site would publish every run's output", 4)),
    Case("settings-cache-in-bundle", "bad mkdocs.yml plugin settings",
         "cache_dir inside a bundle folder (a build would write among its files)",
         (append(M, "      cache_dir: snippets/demo/.cache\n"),),
         **same(2, f"{M}:5: setting 'cache_dir' (snippets/demo/.cache) is inside the snippet folder "
                   "…/snippets: a build would write among the bundles' files", 4)),
    # ------------------------------------------------------------------ hostile bundles (issue 23)
    Case("golden-link-environ", "hostile golden files",
         "the golden file is a symlink to /proc/self/environ (would publish the build's secrets in the diff)",
         (symlink(G, "/proc/self/environ"),),
         **same(2, f"{B}:15: refusing the golden file expected/hello.txt: it is a symlink to "
                   "/proc/self/environ, outside demo/")),
    Case("golden-link-passwd", "hostile golden files", "the golden file is a symlink to /etc/passwd",
         (symlink(G, "/etc/passwd"),),
         **same(2, f"{B}:15: refusing the golden file expected/hello.txt: it is a symlink to /etc/passwd, "
                   "outside demo/")),
    Case("golden-link-service-missing", "hostile golden files",
         "the golden file links to /etc/passwd and the snippet needs a service (shown as 'last verified output')",
         (symlink(G, "/etc/passwd"), replace(B, "{timeout: 10}", "{timeout: 10, needs: [redis]}")),
         **same(2, f"{B}:15: refusing the golden file expected/hello.txt: it is a symlink to /etc/passwd, "
                   "outside demo/")),
    Case("golden-folder-link", "hostile golden files", "the expected/ folder is a symlink to /etc",
         (delete(G), Edit("rmdir", "snippets/demo/expected"), symlink("snippets/demo/expected", "/etc")),
         **same(2, f"{B}:15: refusing the golden file expected/hello.txt: it resolves to /etc/hello.txt, "
                   "outside demo/")),
    Case("golden-fifo", "hostile golden files", "the golden file is a FIFO (reading it blocks forever)",
         (fifo(G),),
         **same(2, f"{B}:15: refusing the golden file expected/hello.txt: it is a FIFO (named pipe), "
                   "not a regular file")),
    Case("golden-dev-zero", "hostile golden files", "the golden file is a symlink to /dev/zero (endless)",
         (symlink(G, "/dev/zero"),),
         **same(2, f"{B}:15: refusing the golden file expected/hello.txt: it is a symlink to /dev/zero, "
                   "outside demo/")),
    Case("golden-huge", "hostile golden files", "the golden file is larger than 16 MiB",
         (Edit("sparse", G, str(17 << 20)),),
         **same(2, f"{B}:15: refusing the golden file expected/hello.txt: it is larger than 16 MiB (17 MiB)"),
         slow=True),
    Case("scenario-traversal", "hostile scenario names",
         "a scenario named x/../../../../../../tmp/victim (update would write /tmp/victim.txt)",
         (replace(B, "{timeout: 10}", "{timeout: 10, scenarios: {x/../../../../../../tmp/victim: {}}}"),),
         **same(2, f"{B}:15: scenario name 'x/../../../../../../tmp/victim' of 'hello.py' cannot be part "
                   "of a file name")),
    Case("scenario-empty", "hostile scenario names", "an empty scenario name (its golden is the snippet's own)",
         (replace(B, "{timeout: 10}", '{timeout: 10, scenarios: {"": {}}}'),),
         **same(2, f"{B}:15: an empty scenario name: its golden file would be the snippet's own")),
    Case("scenario-newline", "hostile scenario names", "a scenario name holds a newline",
         (replace(B, "{timeout: 10}", '{timeout: 10, scenarios: {"en\\nfr": {}}}'),),
         **same(2, f"{B}:15: scenario name 'en\\nfr' of 'hello.py' cannot be part of a file name")),
    Case("scenario-colons", "hostile scenario names", "a scenario name holds '::' (a test id separator)",
         (replace(B, "{timeout: 10}", '{timeout: 10, scenarios: {"en::fr": {}}}'),),
         **same(2, f"{B}:15: scenario name 'en::fr' of 'hello.py' cannot be part of a file name")),
    Case("snippet-fifo", "hostile bundle files", "the declared script is a FIFO",
         (fifo(H),),
         **same(2, f"{B}:15: snippets: 'hello.py' is a FIFO (named pipe), not a regular file")),
    Case("metadata-link", "hostile bundle files", "bundle.yml is a symlink to /etc/passwd",
         (symlink(B, "/etc/passwd"),),
         **same(2, f"{B}:1: refusing to read the metadata: it is a symlink to /etc/passwd, outside demo/")),
    Case("input-fifo", "hostile bundle files", "an input file (inputs: glob) is a FIFO",
         (fifo("snippets/demo/data.txt"), replace(B, "{timeout: 10}", "{timeout: 10, inputs: ['*.txt']}")),
         **same(2, f"{B}:15: input file data.txt of 'hello.py' is refused: it is a FIFO (named pipe), "
                   "not a regular file")),
    Case("input-link-out", "hostile bundle files", "an input file is a symlink to /etc/passwd",
         (symlink("snippets/demo/data.txt", "/etc/passwd"),
          replace(B, "{timeout: 10}", "{timeout: 10, inputs: ['*.txt']}")),
         **same(2, f"{B}:15: input file data.txt of 'hello.py' is refused: it is a symlink to /etc/passwd, "
                   "outside demo/")),
    Case("bundle-fifo", "hostile bundle files", "a FIFO lies in the bundle folder (the page cache hashes every file)",
         (fifo("snippets/demo/pipe"),), cli=OK, mkdocs=OK, pytest=OK,
         note="accepted: no file of the bundle names it; hashed as 'a FIFO', never opened"),
    Case("bundle-link-loops", "hostile bundle files", "two symlink loops in the bundle (ln -s . a; ln -s . b)",
         (symlink("snippets/demo/a", "."), symlink("snippets/demo/b", ".")), cli=OK, mkdocs=OK, pytest=OK,
         note="accepted: links are hashed as the text they point to, never walked into"),
    Case("bundle-link-dev", "hostile bundle files", "a symlink to /dev in the bundle (ln -s /dev d)",
         (symlink("snippets/demo/d", "/dev"),), cli=OK, mkdocs=OK, pytest=OK,
         note="accepted: never walked into"),
    Case("bundle-id-absolute", "hostile bundle ids", "the article names its bundle by an absolute path",
         (replace(A, "pattern: demo", "pattern: /etc"),),
         **same(2, f"{A}:2: bundle id '/etc' is not the name of a folder in the snippet folders")),
    Case("bundle-folder-link-out", "hostile bundle ids",
         "the bundle folder is a symlink to a folder outside the snippet folders",
         (write("elsewhere/evil/bundle.yml", "name: Evil\nsnippets:\n  run.py: {}\n"),
          write("elsewhere/evil/run.py", 'print("evil")\n'),
          symlink("snippets/evil", "../elsewhere/evil"), replace(A, "pattern: demo", "pattern: evil")),
         **same(2, "bundle folder snippets/evil is a symlink to ../elsewhere/evil, outside the snippet folders")),
    Case("directive-show-unknown", "pattern-snippet directive", "a pattern-snippet block asks for show=ouput",
         (directive("hello.py show=ouput"),),
         **same(2, f"{A}:{D}: unknown pattern-snippet show= value 'ouput'")),
    Case("directive-scenario-empty", "pattern-snippet directive", "a pattern-snippet block has scenario= and no name",
         (directive("hello.py scenario="),),
         **same(2, f"{A}:{D}: empty value in the pattern-snippet option scenario=''")),
    Case("directive-unterminated-quote", "pattern-snippet directive", "a pattern-snippet title's quote is never closed",
         (directive('hello.py title="Say hello'),),
         **same(2, f"{A}:{D}: unterminated quote in the pattern-snippet block")),
    Case("directive-golden", "pattern-snippet directive",
         "a pattern-snippet block names expected/hello.txt (ran as Python)",
         (directive("expected/hello.txt"),),
         **same(2, f"{A}:{D}: 'expected/hello.txt' is a golden output (in expected/), not a snippet")),
    Case("directive-golden-link", "hostile golden files",
         "a pattern-snippet block shows an undeclared script whose golden links to /proc/self/environ",
         (write("snippets/demo/other.py", 'print("other")\n'), symlink("snippets/demo/expected/other.txt",
                                                                       "/proc/self/environ"),
          directive("other.py")),
         **same(2, f"{A}:{D}: refusing to read the golden file other.txt: it is a symlink to /proc/self/environ, "
                   "outside demo/")),
    Case("ref-metadata", "pattern-snippet directive", "the implementation shows bundle.yml as a snippet",
         (replace(B, "- snippet: hello.py", "- snippet: bundle.yml"),),
         **same(2, f"{B}:20: 'bundle.yml' is the bundle's metadata, not a snippet")),
    Case("run-golden", "pattern-snippet directive", "a golden file is declared as a snippet to run",
         (replace(B, "  hello.py: {timeout: 10}\n", "  hello.py: {timeout: 10}\n  expected/hello.txt: {}\n"),),
         **same(2, f"{B}:16: 'expected/hello.txt' is a golden output (in expected/), not a snippet")),
    Case("directive-metadata", "pattern-snippet directive", "a pattern-snippet block names bundle.yml (ran as Python)",
         (directive("bundle.yml"),),
         **same(2, f"{A}:{D}: 'bundle.yml' is the bundle's metadata, not a snippet")),
    # ------------------------------------------------------------------ issue 23: hostile values
    Case("yaml-alias-text-bomb", "malformed YAML", "a 100 KB anchor aliased 2,000 times (205 MB of text)",
         (append(B, f'x-note: &note "{"y" * 100_000}"\nrelated:\n' + "  - {pattern: p, note: *note}\n" * 2000),),
         **same(2, f"{B}:21: metadata expands to more than 2 MiB of text: the YAML anchor on line 21 is "
                   "repeated through aliases (*name) under the key on line 22")),
    Case("yaml-nested-deep", "malformed YAML", "a value nested 100 levels deep",
         (append(B, "tags: " + "[" * 100 + "]" * 100 + "\n"),),
         **same(2, f"{B}:21: metadata is nested more than 64 levels deep")),
    Case("yaml-nested-beyond-libyaml", "malformed YAML", "a value nested 2,000 levels deep (beyond libyaml's limit)",
         (append(B, "related:\n  - {pattern: x, note: " + "[" * 2000 + "]" * 2000 + "}\n"),),
         **same(2, f"{B}:22: metadata is nested more than 64 levels deep")),
    Case("yaml-integer-key", "unknown keys", "a top-level key YAML reads as a number",
         (append(B, "1: one\n"),),
         **same(2, f"{B}:21: (top level): a key is not a name (YAML read it as true/false or a number)")),
    Case("type-timeout-huge", "wrong types", "a snippet timeout of 1e300 seconds",
         (replace(B, "{timeout: 10}", "{timeout: 1e300}"),),
         **same(2, f"{B}:15: snippets.hello.py.timeout: Input should be less than or equal to 86400")),
    Case("type-timeout-inf", "wrong types", "a snippet timeout of .inf",
         (replace(B, "{timeout: 10}", "{timeout: .inf}"),),
         **same(2, f"{B}:15: snippets.hello.py.timeout: Input should be a finite number")),
    Case("inputs-absolute", "path traversal, absolute path, symlink (code refs)",
         "a snippet declares /etc/passwd as an input",
         (replace(B, "{timeout: 10}", "{timeout: 10, inputs: [/etc/passwd]}"),),
         **same(2, f"{B}:15: snippets.hello.py.inputs.0: input '/etc/passwd' is absolute; "
                   "it must be a pattern relative to the bundle folder")),
    Case("inputs-traversal", "path traversal, absolute path, symlink (code refs)",
         "a snippet declares ../../* as an input",
         (replace(B, "{timeout: 10}", "{timeout: 10, inputs: ['../../*']}"),),
         **same(2, f"{B}:15: snippets.hello.py.inputs.0: input '../../*' leaves the bundle folder ('..')")),
    Case("env-name-equals", "wrong types", "a scenario's environment variable name holds '='",
         (replace(B, "  hello.py: {timeout: 10}\n",
                  "  hello.py:\n    timeout: 10\n    scenarios:\n      a:\n        env: {'A=B': x}\n"),),
         **same(2, f"{B}:19: snippets.hello.py.scenarios.a.env.A=B: 'A=B' cannot be an environment variable name")),
    Case("env-value-nul", "wrong types", "a scenario's environment value holds a NUL character",
         (replace(B, "  hello.py: {timeout: 10}\n",
                  '  hello.py:\n    timeout: 10\n    scenarios:\n      a:\n        env: {A: "x\\0y"}\n'),),
         **same(2, f"{B}:19: snippets.hello.py.scenarios.a.env.A: 'x\\x00y' holds a NUL character")),
    Case("run-output-over-limit", "snippet runs", "the snippet prints 2 MiB, over output_limit",
         snippet('print("hello")\nprint("x" * (2 << 20))\n'),
         **same(1, f"{H}:1: snippets/demo/hello.py::hello failed: printed more than 1 MiB; "
                   "output cut there cannot be verified")),
    Case("normaliser-backtracks", "snippet runs", "a normaliser pattern backtracks for ever on a 36-character output",
         (write(H, 'print("a" * 35 + "!")\n'),
          replace(B, "  hello.py: {timeout: 10}\n",
                  '  hello.py:\n    timeout: 10\n    normalize:\n      - {pattern: "(a+)+$", replace: x}\n')),
         **same(1, f"{B}:18: snippets/demo/hello.py::hello error: normaliser {{pattern: (a+)+$}} took more than "
                   "5 s on the output and was stopped"), slow=True),
    Case("run-prints-controls", "snippet runs", "the snippet prints ESC sequences and a NUL",
         snippet('print("hello \\x1b[31mred\\x00 \\x1b]0;title\\x07")\n'),
         **same(1, "+hello ␛[31mred␀ ␛]0;title␇")),
    Case("settings-jobs-huge", "bad mkdocs.yml plugin settings", "jobs: 100000",
         (append(M, "      jobs: 100000\n"),),
         **same(2, f"{M}:5: setting 'jobs' must be a whole number, at most 256 (parallel runs; 0 means one per "
                   "core), not 100000", 4)),
    Case("settings-timeout-inf", "bad mkdocs.yml plugin settings", "timeout: .inf",
         (replace(M, "timeout: 10", "timeout: .inf"),),
         **same(2, f"{M}:4: setting 'timeout' must be a positive number of seconds, at most 86400 (a day), not inf",
                4)),
)


# --------------------------------------------------------------------------- the docs table

ADAPTERS = ("cli", "mkdocs", "pytest")
TABLE_START = "<!-- bad-input table: generated by tests/badinput, do not edit -->"
TABLE_END = "<!-- /bad-input table -->"


def _cell(expect: Expect) -> str:
    if expect.fragment is None:
        return f"{expect.code} (accepted)"
    return f"{expect.code}" + ("" if expect.ours else " (MkDocs/pytest message)")


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def markdown_table() -> str:
    """The generated part of docs/guide/bad-input.md: a summary per kind, then every case."""
    kinds = Counter(case.kind for case in CASES)
    rejected = {kind: 0 for kind in kinds}
    for case in CASES:
        if any(getattr(case, a).fragment is not None for a in ADAPTERS):
            rejected[case.kind] += 1
    expects = [getattr(case, a) for case in CASES for a in ADAPTERS]
    ours = sum(1 for e in expects if e.fragment is not None and e.ours)
    foreign = sum(1 for e in expects if e.fragment is not None and not e.ours)
    accepted = sum(1 for e in expects if e.fragment is None)
    lines = [
        TABLE_START,
        "",
        f"{len(CASES)} bad inputs, each tried in the 3 adapters: {len(expects)} runs. {ours} end in one "
        "message of ours naming the place (file and line, or the path given on the command line), with a "
        f"hint; {foreign} in MkDocs' or pytest's own message, given before pattern-articles runs; "
        f"{accepted} accept the input (see the notes). "
        "None shows a traceback of ours, none hangs.",
        "",
        "| Kind of input | Cases | Rejected with a message | CLI exit | `mkdocs build --strict` exit | pytest exit |",
        "| --- | ---: | ---: | --- | --- | --- |",
    ]
    for kind in kinds:
        cases = [c for c in CASES if c.kind == kind]
        codes = {a: ", ".join(sorted({str(getattr(c, a).code) for c in cases})) for a in ADAPTERS}
        lines.append(f"| {kind} | {kinds[kind]} | {rejected[kind]} | {codes['cli']} | {codes['mkdocs']} | "
                     f"{codes['pytest']} |")
    lines += [
        "",
        "Every case, with the message each adapter prints (paths are relative to the project, as the "
        "adapters print them):",
        "",
        "| Case | What is broken | Expected message | CLI | MkDocs | pytest |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for case in CASES:
        messages = [getattr(case, a).fragment for a in ADAPTERS if getattr(case, a).ours]
        message = next((m for m in messages if m), None) or next(
            (getattr(case, a).fragment for a in ADAPTERS if getattr(case, a).fragment), "")
        extra = f" *({case.note})*" if case.note else ""
        lines.append(
            f"| `{case.id}` | {_escape(case.broken)}{extra} | `{_escape(message or 'none: accepted')}` | "
            f"{_cell(case.cli)} | {_cell(case.mkdocs)} | {_cell(case.pytest)} |"
        )
    lines += ["", TABLE_END]
    return "\n".join(lines) + "\n"

