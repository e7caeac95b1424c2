"""An invoice as a PDF (fpdf2): issuer, customer, number, dates, lines and total. The core fonts
cover Latin-1; other characters of a name print as '?' rather than fail the invoice."""

from datetime import date

from fpdf import FPDF

from billing.domain.invoices import Line
from billing.domain.money import shown


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def render_invoice(*, number: str, issued_on: date, issuer_name: str, customer_name: str, currency: str,
                   lines: list[Line], total_minor: int) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(f"Invoice {number}")
    pdf.set_creator("licensing billing")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 12, _latin1(f"Invoice {number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    for label, value in (("Issued on", issued_on.isoformat()), ("From", issuer_name), ("Bill to", customer_name),
                         ("Currency", currency)):
        pdf.cell(0, 7, _latin1(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    widths = (70, 18, 30, 42, 30)
    pdf.set_font("Helvetica", "B", 10)
    for width, title in zip(widths, ("Description", "Qty", "Unit price", "Period (paused days)", "Amount"),
                            strict=True):
        pdf.cell(width, 8, title, border=1)
    pdf.ln()
    pdf.set_font("Helvetica", size=9)
    for line in lines:
        cells = (line.description[:48], str(line.quantity), shown(line.unit_price_minor, currency),
                 f"{line.period_start} - {line.period_end} ({line.paused_days})", shown(line.amount_minor, currency))
        for width, value in zip(widths, cells, strict=True):
            pdf.cell(width, 8, _latin1(value), border=1)
        pdf.ln()
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 10, _latin1(f"Total: {shown(total_minor, currency)}"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
