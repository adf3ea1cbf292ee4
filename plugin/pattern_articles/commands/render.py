"""Write completed articles as Markdown for other generators (``pattern-articles render``).

Why this exists: MkDocs 1.x is frozen and Material for MkDocs has an end-of-life date, and the
seed article itself comes from a Jekyll (Chirpy) blog. An author must be able to take the
completed article anywhere, so ``render`` writes it as plain files: front matter filled,
sections filled, real outputs and diagrams in place.

Why flavours are a *transform over the rendered Markdown* rather than a second set of
templates: the fill (and every user template override) is written once, for the MkDocs
dialect (pymdown-extensions: admonitions, collapsible blocks, content tabs, fence titles), and
each flavour rewrites only those few constructs. Code fences are located with markdown-it-py,
so nothing inside a fence is ever mistaken for a construct; the pymdown containers themselves
are line-based (``!!! type "title"`` plus a body indented by four spaces, exactly how
pymdown-extensions reads them) and are converted recursively, innermost first.

Flavours:

``mkdocs``
    What the MkDocs plugin shows, as Markdown: builds with MkDocs or Zensical given the same
    ``markdown_extensions`` (no plugin needed).
``jekyll-chirpy``
    A post for a Jekyll blog with the Chirpy theme: the article's own front-matter keys are
    kept, the ``pattern:`` key is dropped, ``mermaid: true`` is added, admonitions become
    Chirpy prompts, tabs and collapsible blocks are flattened, fence titles become Chirpy's
    ``{: file="..." }`` and line-number options are dropped (Rouge cannot start elsewhere).
    Jekyll runs every post through Liquid before Markdown, so code (blocks and spans) holding
    ``{{`` or ``{%`` is wrapped in ``{% raw %}...{% endraw %}``: it reaches the reader as it
    ran, while the author's own Liquid in prose (``{{ site.url }}``) still works. A post
    whose front matter says ``render_with_liquid: false`` gets no wrapping (Liquid is off).
``plain``
    CommonMark/GFM for any other generator: admonitions become block quotes with a bold
    title, containers are flattened, fence options are dropped (a title becomes a line above).
"""

from __future__ import annotations

import os
import re
import stat
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import PatternError, Place

if TYPE_CHECKING:
    from markdown_it.token import Token

    from ..pages.fill import Rendered, SiteLinks
    from ..project import ArticleRef, Project

FLAVORS = ("mkdocs", "jekyll-chirpy", "plain")

#: Material admonition types -> the four Chirpy prompt types.
PROMPT_TYPES: dict[str, str] = {
    **dict.fromkeys(("tip", "hint", "important", "success", "check", "done"), "tip"),
    **dict.fromkeys(("warning", "caution", "attention"), "warning"),
    **dict.fromkeys(("danger", "error", "failure", "fail", "missing", "bug"), "danger"),
}

# pymdownx.admonition / pymdownx.details: `!!! type [classes] ["title"]`, `??? ...`, `???+ ...`
_CONTAINER = re.compile(
    r'^(?P<mark>!!!|\?\?\?\+?)[ \t]*(?P<type>[\w-]+)(?:[ \t]+[\w-]+)*(?:[ \t]+"(?P<title>.*)")?[ \t]*$'
)
# pymdownx.tabbed: `=== "Label"` (`===!` starts a new tab set, `===+` selects the tab)
_TAB = re.compile(r'^===[!+]{0,2}[ \t]+"(?P<title>.*)"[ \t]*$')
_ATTR = re.compile(r"""([\w-]+)=("[^"]*"|'[^']*'|\S+)""")
_DATED = re.compile(r"^\d{4}-\d{2}-\d{2}-")
_LIQUID = re.compile(r"\{\{|\{%")
# a tag that would end a {% raw %} block early; see _raw
_ENDRAW = re.compile(r"\{%-?\s*endraw\s*-?%\}")
# an inline code span (backtick runs of equal length), for _raw_spans
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
# fill.verified_mark: the line under a shown output, styled by the MkDocs plugin's stylesheet
_VERIFIED = re.compile(r'<span class="pa-verified" data-status="(?P<status>[\w-]+)"[^>]*>(?P<label>[^<]*)</span>')


# -- writing files --------------------------------------------------------------------------
def atomic_write(path: Path, text: str, mode: int | None = None) -> None:
    """Write via a temporary file in the same folder and rename, so a reader never sees half a file.

    ``mode`` keeps an existing file's permissions (``mkstemp`` creates 0600 files).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), 0o644 if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None


# -- the command ----------------------------------------------------------------------------
@dataclass
class RenderedArticle:
    ref: ArticleRef
    rendered: Rendered
    text: str  # in the flavour asked for
    target: Path  # relative to the output folder


def render_article(project: Project, ref: ArticleRef, flavor: str = "mkdocs",
                   links: SiteLinks | None = None) -> RenderedArticle:
    """Fill one article (front matter included) and convert it to ``flavor``."""
    from ..content.article import parse

    if flavor not in FLAVORS:
        raise PatternError(f"unknown flavor '{flavor}'", hint=f"choose one of: {', '.join(FLAVORS)}")
    rendered = project.render_file(ref, links)
    text = transform(rendered.markdown, flavor, article_key=project.settings.article_key, path=ref.path)
    meta = parse(rendered.markdown, ref.path).front_matter
    return RenderedArticle(ref, rendered, text, output_path(ref.docs_path, meta, flavor))


def write_all(project: Project, out_dir: Path, flavor: str = "mkdocs", out: TextIO | None = None) -> int:
    """Render every article into ``out_dir``; 1 if anything was left unfinished (a warning)."""
    out = out or sys.stdout
    if flavor not in FLAVORS:
        raise PatternError(f"unknown flavor '{flavor}'", hint=f"choose one of: {', '.join(FLAVORS)}")
    refs = project.articles()
    if not refs:
        docs = project.settings.absolute(project.settings.docs_dir)
        print(f"no articles in {docs}: no page's front matter has a '{project.settings.article_key}:' key",
              file=out)
        return 1
    refuse_out_dir(project, out_dir)
    project.start([project.bundle(b, Place(r.path, r.line))
                   for b, r in sorted({r.bundle_id: r for r in refs}.items())])
    links = chirpy_links(refs) if flavor == "jekyll-chirpy" else None
    warnings = 0
    done_all = [render_article(project, ref, flavor, links) for ref in refs]
    # every target is known before the first write: a collision or a source in the way
    # stops the command with nothing written
    check_targets(project, out_dir, done_all)
    for done in done_all:
        for problem in done.rendered.problems:
            if problem.level == "warning":
                warnings += 1
            print(f"{done.ref.docs_path}: {problem.format()}", file=out)
        target = out_dir / done.target
        atomic_write(target, done.text)
        print(f"wrote {target}", file=out)
    return 1 if warnings else 0


OUT_HINT = "write the rendered articles to a folder of their own, e.g. --out rendered"


def refuse_out_dir(project: Project, out_dir: Path) -> None:
    """The author's files are sacred: ``--out`` inside ``docs_dir`` (``--out docs`` would put
    each completed article over its own source) or inside a snippet folder is refused."""
    real = Path(os.path.realpath(out_dir))
    settings = project.settings
    sources = [("docs_dir", settings.absolute(settings.docs_dir))]
    sources += [("the snippet folder", root) for root in settings.snippet_roots]
    for what, folder in sources:
        base = Path(os.path.realpath(folder))
        if real == base or real.is_relative_to(base):
            raise PatternError(
                f"refusing to render into {out_dir}: it is inside {what} {folder}, "
                "whose files are the author's sources", Place(out_dir), hint=OUT_HINT)


def check_targets(project: Project, out_dir: Path, rendered: list[RenderedArticle]) -> None:
    """Two articles must not share an output file (Chirpy keeps only the file name: ``docs/demo.md``
    and ``docs/a/demo.md`` are both ``_drafts/demo.md``), and no output file may be a source
    article (a symlink in the output folder, say)."""
    sources = {Path(os.path.realpath(r.ref.path)): r.ref for r in rendered}
    seen: dict[Path, RenderedArticle] = {}
    for done in rendered:
        target = out_dir / done.target
        real = Path(os.path.realpath(target))
        first = seen.get(real)
        if first is not None:
            raise PatternError(
                f"{first.ref.docs_path} and {done.ref.docs_path} would both be written to {target}",
                Place(done.ref.path, done.ref.line),
                hint="rename one of the two articles (or give one a 'date:' in its front matter) "
                     "so that each has its own output file")
        seen[real] = done
        source = sources.get(real)
        if source is not None:
            raise PatternError(
                f"refusing to write {target}: it is the source article {source.docs_path}",
                Place(source.path, source.line), hint=OUT_HINT)


def output_path(docs_path: str, meta: Mapping[str, Any], flavor: str) -> Path:
    """Where an article goes: its docs path, or ``_posts/<date>-<name>.md`` for Jekyll."""
    if flavor != "jekyll-chirpy":
        return Path(docs_path)
    stem = _DATED.sub("", Path(docs_path).stem)
    day = _date_of(meta.get("date"))
    return Path("_posts", f"{day}-{stem}.md") if day else Path("_drafts", f"{stem}.md")


def _date_of(value: Any) -> str:
    if isinstance(value, (date, datetime)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return value.strip()[:10]
    return ""


def chirpy_links(refs: list[ArticleRef]) -> SiteLinks:
    """Links between articles as Jekyll URLs: the article's ``permalink``, else Chirpy's ``/posts/<name>/``."""
    from ..content.article import parse_front_matter, split_front_matter
    from ..pages.fill import SiteLinks
    from ..project import read_article

    pages: dict[str, str] = {}
    for ref in refs:
        yaml_text, _, _ = split_front_matter(read_article(ref.path).lstrip("\ufeff"), ref.path)
        meta, _ = parse_front_matter(yaml_text, ref.path)
        permalink = meta.get("permalink")
        if isinstance(permalink, str) and permalink.strip():
            url = "/" + permalink.strip().strip("/") + "/"
        else:
            url = f"/posts/{_DATED.sub('', ref.path.stem)}/"
        pages.setdefault(ref.bundle_id, url)
    return SiteLinks(pages)


# -- the transform --------------------------------------------------------------------------
def transform(markdown: str, flavor: str, *, article_key: str = "pattern", path: Path | str = "<article>") -> str:
    """Convert completed MkDocs-dialect Markdown (front matter included) to ``flavor``."""
    from ..content.article import split_front_matter

    if flavor == "mkdocs":
        return markdown
    if flavor not in FLAVORS:
        raise PatternError(f"unknown flavor '{flavor}'", hint=f"choose one of: {', '.join(FLAVORS)}")
    bom = "\ufeff" if markdown.startswith("\ufeff") else ""
    text = markdown[len(bom):].replace("\r\n", "\n")
    yaml_text, body, body_start = split_front_matter(text, path)
    head = text[: len(text) - len(body)] if body_start else ""
    liquid = flavor == "jekyll-chirpy" and _liquid_on(yaml_text)
    converted = "\n".join(convert_body(body.split("\n"), flavor, liquid=liquid))
    if flavor == "jekyll-chirpy" and head:
        head = chirpy_front_matter(head, yaml_text, article_key, body=converted, path=path)
    return bom + head + converted


def chirpy_front_matter(head: str, yaml_text: str, article_key: str, *, body: str, path: Path | str) -> str:
    """Drop the linking key, add ``mermaid: true`` when the post has a diagram.

    Every other line is kept byte for byte, so the author's ``permalink``, ``image``, ``date``
    and the rest arrive exactly as written.
    """
    import yaml

    lines = head.split("\n")  # lines[0] is the opening '---'; the closing line is last-but-one
    close = max(i for i, line in enumerate(lines) if line.strip() in ("---", "..."))
    try:
        node = yaml.compose(yaml_text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:  # already parsed once by the fill; kept for a clear message
        raise PatternError(f"front matter is not valid YAML: {exc}", Place(path, 2)) from None
    keys: set[str] = set()
    drop: set[int] = set()
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            keys.add(str(key_node.value))
            if key_node.value == article_key:
                first = key_node.start_mark.line
                last = value_node.end_mark.line if value_node.end_mark.column else value_node.end_mark.line - 1
                drop.update(range(first + 1, max(first, last) + 2))  # +1: the '---' line
    added: list[str] = []
    if "mermaid" not in keys and re.search(r"^\s*(?:>\s*)*(`{3,}|~{3,})\s*mermaid\b", body, re.MULTILINE):
        added.append("mermaid: true")
    kept = [line for i, line in enumerate(lines[:close]) if i not in drop]
    return "\n".join([*kept, *added, *lines[close:]])


def _liquid_on(yaml_text: str) -> bool:
    """Whether Jekyll will run the post through Liquid: unless it says ``render_with_liquid: false``."""
    import yaml

    try:
        meta = yaml.safe_load(yaml_text) if yaml_text else None
    except yaml.YAMLError:
        return True  # chirpy_front_matter reports it, with the place
    return not (isinstance(meta, dict) and meta.get("render_with_liquid") is False)


def _raw(text: str) -> str:
    """``text`` for inside ``{% raw %}``: an ``{% endraw %}`` in it would end the block early,
    so it is closed there, Liquid prints the ``{%`` from a string, and the block reopens."""
    return _ENDRAW.sub(lambda m: "{% endraw %}{{ '{%' }}{% raw %}" + m.group(0)[2:], text)


def _raw_block(lines: list[str], prefix: str) -> list[str]:
    """A code block Liquid must not read, between ``{% raw %}`` lines (Liquid drops them; the
    blank lines they leave do not change what Markdown reads)."""
    if not any(_LIQUID.search(line) for line in lines):
        return lines
    return [f"{prefix}{{% raw %}}", *map(_raw, lines), f"{prefix}{{% endraw %}}"]


def _raw_spans(line: str) -> str:
    """Each inline code span holding Liquid markers, wrapped in ``{% raw %}``."""
    if not _LIQUID.search(line):
        return line
    return _CODE_SPAN.sub(
        lambda m: f"{{% raw %}}{_raw(m.group(0))}{{% endraw %}}" if _LIQUID.search(m.group(0)) else m.group(0), line)


def convert_body(lines: list[str], flavor: str, *, liquid: bool = False) -> list[str]:
    """Rewrite pymdown containers and fence options in ``lines`` (recursively, innermost first).

    ``liquid``: the output goes through Liquid (a Jekyll post), so code holding its markers
    is wrapped in ``{% raw %}``."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse("\n".join(lines))
    fences: dict[int, Token] = {}
    indented: dict[int, int] = {}  # an indented code block's first line -> its end
    opaque: set[int] = set()  # lines where a container marker is just text
    for token in tokens:
        if token.map is None:
            continue
        if token.type == "fence":
            fences[token.map[0]] = token
            opaque.update(range(*token.map))
        elif token.type in ("code_block", "html_block"):
            opaque.update(range(*token.map))
            if token.type == "code_block":
                indented[token.map[0]] = token.map[1]
    out: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if i in fences:
            token = fences[i]
            end = min(max(token.map[1], i + 1), n) if token.map else i + 1
            fence = convert_fence(lines[i:end], token, flavor)
            if liquid:
                opener = lines[i]
                fence = _raw_block(fence, opener[: len(opener) - len(opener.lstrip())])
            out.extend(fence)
            i = end
            continue
        match = None if i in opaque else (_CONTAINER.match(line) or _TAB.match(line))
        if match is None and liquid and i in indented:
            end = min(indented[i], n)
            out.extend(_raw_block(lines[i:end], ""))
            i = end
            continue
        if match is None:
            if i in opaque:
                out.append(line)
            else:
                line = _VERIFIED.sub(_verified_text, line)
                out.append(_raw_spans(line) if liquid else line)
            i += 1
            continue
        end = _body_end(lines, i + 1)
        inner = convert_body([_dedent(x) for x in lines[i + 1 : end]], flavor, liquid=liquid)
        while inner and not inner[-1].strip():
            inner.pop()
        while inner and not inner[0].strip():
            inner.pop(0)
        if out and out[-1].strip():
            out.append("")
        out.extend(_container(match, inner, flavor))
        if end < n and lines[end].strip():
            out.append("")
        i = end
    return out


def _verified_text(match: re.Match[str]) -> str:
    """Outside MkDocs there is no stylesheet for the mark: say it in words, without build details.

    "cached" and "ran in this build" are facts about one build; in an exported file both mean
    the same thing to a reader: this output was verified.
    """
    label = match.group("label").strip()
    if match.group("status") in ("passed", "cached"):
        label = label.split(" · ")[0]
    return f"*{label}*"


def _body_end(lines: list[str], start: int) -> int:
    """A container's body: the following blank or indented lines, without trailing blanks."""
    last = start - 1
    j = start
    while j < len(lines):
        line = lines[j]
        if not line.strip():
            j += 1
            continue
        if line.startswith(("    ", "\t")):
            last = j
            j += 1
            continue
        break
    return last + 1


def _dedent(line: str) -> str:
    if line.startswith("    "):
        return line[4:]
    if line.startswith("\t"):
        return line[1:]
    return line.lstrip(" ")


def _container(match: re.Match[str], inner: list[str], flavor: str) -> list[str]:
    groups = match.groupdict()
    title = groups.get("title") or ""
    mark = groups.get("mark")
    kind = (groups.get("type") or "").lower()
    if mark == "!!!":  # an admonition
        if flavor == "jekyll-chirpy":
            content = ([f"**{title}**", ""] if title else []) + inner
            quoted = [f"> {x}" if x.strip() else ">" for x in content]
            return [*quoted, f"{{: .prompt-{PROMPT_TYPES.get(kind, 'info')} }}"]
        heading = title or kind.replace("-", " ").capitalize()
        return [f"> {x}" if x.strip() else ">" for x in [f"**{heading}**", "", *inner]]
    # a collapsible block or a tab: a bold label line, then the content
    label = title or kind.replace("-", " ").capitalize()
    return [f"**{label}**", "", *inner]


def parse_info(info: str) -> tuple[str, dict[str, str]]:
    """``python title="a.py" linenums="3"`` or ``{ .python title="a.py" }`` -> language, options."""
    text = info.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    attrs = {key: value.strip("\"'") for key, value in _ATTR.findall(text)}
    rest = _ATTR.sub("", text).split()
    language = ""
    for word in rest:
        if word.startswith("."):
            language = language or word[1:]
        elif not language and not word.startswith(("#", "{")):
            language = word
    return language, attrs


def convert_fence(lines: list[str], token: Token, flavor: str) -> list[str]:
    """Keep the code; rewrite the opening line's options into what the flavour understands."""
    if flavor == "mkdocs" or not token.info.strip():
        return lines
    opener = lines[0]
    at = opener.find(token.markup)
    prefix = opener[:at] if at >= 0 else ""
    language, attrs = parse_info(token.info)
    title = attrs.get("title", "")
    closed = len(lines) > 1 and lines[-1].strip().startswith(token.markup) and not lines[-1].strip().strip(
        token.markup[0])
    head = [f"{prefix}{token.markup}{language}"]
    if flavor == "plain" and title:
        head.insert(0, f"{prefix}`{title}`" if "`" not in title else f"{prefix}*{title}*")
    tail: list[str] = []
    if flavor == "jekyll-chirpy" and title and closed:
        tail.append(f'{prefix}{{: file="{title.replace(chr(34), "&quot;")}" }}')
    return [*head, *lines[1:], *tail]
