"""docs/architecture.md lists exactly the event contracts in shared/shared/events/."""

from pathlib import Path

from shared.events.catalog import markdown_table

DOC = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"
BEGIN, END = "<!-- event catalogue: begin -->\n", "<!-- event catalogue: end -->"


def test_the_architecture_document_shows_the_current_event_catalogue():
    text = DOC.read_text()
    shown = text[text.index(BEGIN) + len(BEGIN): text.index(END)]
    assert shown == markdown_table(), "regenerate it: python -m shared.events.catalog"
