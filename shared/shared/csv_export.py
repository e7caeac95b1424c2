"""CSV exports that stream any size in constant memory and cannot run as spreadsheet formulas.

A cell that starts with `=`, `+`, `-`, `@`, a tab, a carriage return or NUL is one a spreadsheet
may evaluate; it is prefixed with a single quote (OWASP's advice), which the spreadsheet shows as
text. Every other cell is written unchanged.
"""

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime

from fastapi.responses import StreamingResponse

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralize(value: object) -> str:
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_line(cells: Iterable[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([neutralize(c) for c in cells])
    return buffer.getvalue()


async def _lines(header: Sequence[str], rows: AsyncIterable[Sequence[object]]) -> AsyncIterator[bytes]:
    yield ("\ufeff" + csv_line(header)).encode()  # the BOM makes spreadsheets read UTF-8
    chunk: list[str] = []
    async for row in rows:
        chunk.append(csv_line(row))
        if len(chunk) >= 500:
            yield "".join(chunk).encode()
            chunk = []
    if chunk:
        yield "".join(chunk).encode()


class CsvFile(StreamingResponse):
    """An export route's `response_class`, so the OpenAPI document says it answers a CSV file."""

    media_type = "text/csv"


def csv_response(name: str, header: Sequence[str], rows: AsyncIterable[Sequence[object]]) -> StreamingResponse:
    """`rows` should come from a server-side cursor (`session.stream(...)`), so memory stays flat."""
    filename = f"{name}-{datetime.now(UTC):%Y%m%d-%H%M%S}.csv"
    return CsvFile(
        _lines(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
