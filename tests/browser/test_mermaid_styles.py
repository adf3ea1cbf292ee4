"""Diagrams of every interaction style parse and render in the Mermaid the site ships.

The unit tests check the statements ``diagram_from_trace`` writes; only Mermaid itself can
say that a ``par`` block, an async arrow or a note about a lost reply is a diagram it draws
rather than the "Syntax error" bomb a reader would see. A deliberately unbalanced ``par``
is refused, so the check is not one that passes whatever it is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pattern_articles.content.model import Step
from pattern_articles.content.trace import diagram_from_flow, diagram_from_trace
from tests.conftest import REPO
from tests.core.test_trace_styles import CALLS, EVENTS, GATHER, PARTS, call, reply, steps

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

MERMAID = REPO / "plugin" / "pattern_articles" / "assets" / "mermaid.min.js"

RENDER = """async (text) => {
  try {
    await mermaid.parse(text);
    const { svg } = await mermaid.render("d" + Math.floor(Math.random() * 1e9), text);
    return svg.includes("<svg") ? "ok" : "no svg";
  } catch (error) {
    return "error: " + String(error.message || error);
  }
}"""


def diagrams() -> dict[str, str]:
    hostile: list[dict[str, Any]] = [
        call("orch", "end\nclick x", "Ask\nend", "c1", 1, group="g"),
        call("orch", "par", "Ask;#", "c2", 1, group="g"),
        reply("par", "orch", "Quote\n    end", "r2", "c2", 1),
        {"op": "send", "service": "a", "target": "b", "message": "end", "id": "x"},
        {"op": "drop", "service": "b", "message": "end", "id": "x"},
        call("orch", "pay", "X", "z", 1, **{"async": True}),
    ]
    flow = [*steps("first 2"), Step(actor="orch", action="gives up", on_timeout="AskQuote", emits=["GiveUp"])]
    return {
        "fan-out with a timeout": diagram_from_trace(GATHER, PARTS),
        "calls from several processes": diagram_from_trace(CALLS, [("client", "Client"), *PARTS]),
        "declared flow": diagram_from_flow(flow, PARTS, events=EVENTS),
        "hostile names": diagram_from_trace(hostile, [("orch", "Orchestrator")]),
    }


def test_every_style_renders_and_a_broken_block_does_not(chromium: Browser) -> None:
    page = chromium.new_page()
    try:
        page.set_content("<html><body></body></html>")
        page.add_script_tag(content=MERMAID.read_text("utf-8"))
        for name, text in diagrams().items():
            assert page.evaluate(RENDER, text) == "ok", f"{name}:\n{text}"
        assert page.evaluate(RENDER, "sequenceDiagram\n    par x\n    a->>b: y\n").startswith("error: ")
    finally:
        page.close()
