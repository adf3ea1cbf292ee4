"""Golden files: diffs, normalisers, and the atomic update mode."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest

from pattern_articles.engine.expect import (
    BUILTIN_NORMALISERS,
    Mismatch,
    compare,
    compile_normalisers,
    golden_path,
    normalise,
    update,
)
from pattern_articles.errors import PatternError


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    path = tmp_path / "snippets" / "demo" / "expected" / "flow.happy-path.txt"
    path.parent.mkdir(parents=True)
    return path


def test_golden_path_names() -> None:
    bundle = Path("/p/snippets/demo")
    assert golden_path(bundle, bundle / "flow.py") == bundle / "expected" / "flow.txt"
    assert golden_path(bundle, bundle / "flow.py", "payment-declined") == (
        bundle / "expected" / "flow.payment-declined.txt")


def test_match_ignores_line_endings_and_trailing_newlines(golden: Path) -> None:
    golden.write_bytes(b"one\r\ntwo\r\n\r\n")
    assert compare("one\ntwo", golden) is None
    assert compare("one\ntwo\n", golden) is None


def test_mismatch_is_a_labelled_unified_diff(golden: Path) -> None:
    golden.write_text("order placed\npayment taken\nshipped\n")
    mismatch = compare("order placed\npayment declined\nshipped\n", golden)
    assert isinstance(mismatch, Mismatch)
    assert not mismatch.missing
    lines = mismatch.diff.splitlines()
    assert lines[0] == f"--- {golden}"
    assert lines[1] == "+++ actual output"
    assert "-payment taken" in lines and "+payment declined" in lines
    assert " order placed" in lines
    assert "update" in mismatch.hint
    assert str(golden) in mismatch.format()


def test_missing_golden_is_a_mismatch_with_a_hint(golden: Path) -> None:
    mismatch = compare("new output\n", golden)
    assert mismatch is not None and mismatch.missing
    assert "+new output" in mismatch.diff
    assert "--update" in mismatch.hint


@pytest.mark.parametrize(("name", "actual", "expected"), [
    ("timestamps", "at 2024-05-01T10:11:12.123456+00:00 ok", "at 2031-01-09T00:00:00Z ok"),
    ("timestamps", "at 2024-05-01 10:11:12 ok", "at 1999-12-31 23:59:59 ok"),
    ("timestamps", "10:11:12.5 start", "23:00:01.25 start"),
    ("timestamps", "Mon Jan  1 10:00:00 2024", "Tue Feb 13 11:22:33 2029"),
    ("uuids", f"id={uuid.uuid4()} hex={uuid.uuid4().hex}",
     f"id={uuid.uuid4()} hex={uuid.uuid4().hex}"),
    ("durations", "took 0.123s, then 12 ms, then 1.5 seconds (0:00:01.500000)",
     "took 9.9s, then 3 ms, then 2 seconds (0:00:02.250000)"),
    ("addresses", "<Order object at 0x7f3a2c1b9e40>", "<Order object at 0x7ffe00001234>"),
    ("tmp-paths", f"wrote {tempfile.gettempdir()}/pattern-articles-run-ab12/work/out.txt",
     f"wrote {tempfile.gettempdir()}/pattern-articles-run-zz99/work/out.txt"),
    ("tmp-paths", "cache in /tmp/tmpk2j3h4/data and /var/tmp/xyz",
     "cache in /tmp/tmpqqqqqq/data and /var/tmp/abc"),
    ("sort-lines", "inventory reserved\npayment taken\n", "payment taken\ninventory reserved\n"),
], ids=lambda value: value if value in BUILTIN_NORMALISERS else "")  # stable ids for xdist
def test_builtin_normalisers_mask_what_varies(golden: Path, name: str, actual: str,
                                              expected: str) -> None:
    golden.write_text(expected)
    assert compare(actual, golden) is not None  # without the normaliser they differ
    assert compare(actual, golden, [name]) is None


@pytest.mark.parametrize(("name", "actual", "expected"), [
    ("timestamps", "total 2024-05-01", "total 2024-05-01 extra"),
    ("uuids", "order 1001", "order 1002"),
    ("durations", "3 services", "4 services"),
    ("addresses", "code 0xFF", "code 0xFE"),
    ("tmp-paths", "/home/me/file", "/home/you/file"),
    ("sort-lines", "a\nb", "a\nc"),
], ids=lambda value: value if value in BUILTIN_NORMALISERS else "")
def test_builtin_normalisers_keep_real_differences(golden: Path, name: str, actual: str,
                                                   expected: str) -> None:
    golden.write_text(expected)
    assert compare(actual, golden, [name]) is not None


def test_masked_forms_are_readable() -> None:
    text = (f"{uuid.uuid4()} 2024-01-02T03:04:05Z 12ms 0xdeadbeef00 "
            f"{tempfile.gettempdir()}/tmpabc/x")
    assert normalise(text, ["uuids", "timestamps", "durations", "addresses", "tmp-paths"]) == (
        "<uuid> <timestamp> <duration> 0x<address> <tmp>/x")


def test_custom_normalisers_and_order(golden: Path) -> None:
    golden.write_text("order <n> took <t>\n")
    custom = [{"pattern": r"order-\d+", "replace": "order <n>"},
              {"pattern": r"took \S+$", "replace": "took <t>"}]
    assert compare("order-1001 took 5ms", golden, custom) is None

    class FromModel:  # what the metadata model hands over
        pattern = r"order-(\d)\d*"
        replace = r"order \1"

    assert normalise("order-1234", [FromModel()]) == "order 1"


def test_normaliser_mistakes_are_clear_errors() -> None:
    with pytest.raises(PatternError, match="unknown normaliser 'timestamp'") as info:
        compile_normalisers(["timestamp"])
    assert all(name in info.value.hint for name in BUILTIN_NORMALISERS)
    with pytest.raises(PatternError, match="not a valid regular expression"):
        compile_normalisers([{"pattern": "(unclosed", "replace": ""}])
    with pytest.raises(PatternError, match="replacement"):
        normalise("abc", [{"pattern": "b", "replace": r"\9"}])
    with pytest.raises(PatternError, match="takes 'pattern' and 'replace'"):
        compile_normalisers([{"pattern": "x", "with": "y"}])


def test_update_creates_a_missing_golden(golden: Path) -> None:
    diff = update(golden, "line one\nline two")
    assert golden.read_text() == "line one\nline two\n"
    assert diff.splitlines()[:2] == ["--- /dev/null", f"+++ {golden}"]
    assert "+line two" in diff
    assert compare("line one\nline two", golden) is None


def test_update_shows_what_changed_and_is_atomic(golden: Path) -> None:
    golden.write_text("a\nb\n")
    os.chmod(golden, 0o640)
    inode_before = golden.stat().st_ino
    diff = update(golden, "a\nc\n")
    assert "-b" in diff.splitlines() and "+c" in diff.splitlines()
    assert golden.read_text() == "a\nc\n"
    assert golden.stat().st_ino != inode_before  # replaced, not rewritten in place
    assert golden.stat().st_mode & 0o777 == 0o640  # permissions kept
    assert sorted(p.name for p in golden.parent.iterdir()) == [golden.name]  # no temp file


def test_update_leaves_a_matching_golden_untouched(golden: Path) -> None:
    golden.write_text("took 5 ms\n")
    before = golden.stat()
    assert update(golden, "took 5 ms\n") == ""
    assert update(golden, "took 7 ms\n", ["durations"]) == ""  # masked difference only
    after = golden.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert golden.read_text() == "took 5 ms\n"


def test_update_failure_is_a_pattern_error(tmp_path: Path) -> None:
    blocker = tmp_path / "expected"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(PatternError, match="cannot write"):
        update(blocker / "flow.txt", "x")


def test_compare_takes_the_golden_text_read_already(tmp_path: Path) -> None:
    # why: a build judges every run right after reading its golden; reading it twice was
    # a second open per snippet
    golden = tmp_path / "absent.txt"  # never read: the text is given
    assert compare("Order 7 placed\n", golden, (), "Order 7 placed\n") is None
    mismatch = compare("Order 8 placed\n", golden, (), "Order 7 placed\n")
    assert mismatch is not None and not mismatch.missing
    assert "-Order 7 placed" in mismatch.diff and "+Order 8 placed" in mismatch.diff


def test_a_backtracking_normaliser_is_stopped_and_the_next_one_works() -> None:
    # issue 23, item 11: ``(a+)+$`` on 36 characters hung the host process for ever
    import time

    from pattern_articles.engine import expect

    specs: list[object] = ["timestamps", {"pattern": "(a+)+$", "replace": "x"}]
    started = time.monotonic()
    with pytest.raises(expect.NormaliserOvertime) as info:
        normalise("a" * 35 + "!", specs)
    assert time.monotonic() - started < expect.NORMALISER_TIME_LIMIT + 10  # a bound, not a speed
    assert info.value.index == 1, "the second normaliser of the list"
    assert "{pattern: (a+)+$} took more than 5 s" in info.value.message
    assert "backtracks" in info.value.hint
    # the helper was replaced: the next custom normaliser runs, its groups intact
    assert normalise("id=12 ok", [{"pattern": r"id=(\d+)", "replace": r"id<\1>"}]) == "id<12> ok"


def test_custom_normalisers_see_multiline_anchors_through_the_helper() -> None:
    text = "a 1\nb 2\n" * 1000
    assert normalise(text, [{"pattern": r"^(\w) \d$", "replace": r"\1 N"}]) == ("a N\nb N\n" * 1000).rstrip("\n")
