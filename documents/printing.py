"""Letters and the apology slip as printable PDF files, laid out like an administrative
document (Decree 30/2020/NĐ-CP, Appendix I): the issuing body on the left and the national
heading on the right, the place and date line in italics, the title centred in bold, the body
justified, the signature block on the right with room for the signature and the seal.

fpdf2 writes the file; the font is DejaVu Serif, which covers Vietnamese and ships with
matplotlib (a dependency already), so nothing is fetched at run time. Pure: a `Document` in,
bytes out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from bot.messages import Attachment, Outgoing
from documents.letters import Document, national_heading

if TYPE_CHECKING:
    from fpdf import FPDF

PaperSize = Literal["A4", "A5"]
FONT = "DejaVuSerif"
PDF_NAMES = {"congratulation_marriage": "thu-chuc-mung.pdf",
             "congratulation_birth": "thu-chuc-mung.pdf", "condolence": "thu-chia-buon.pdf",
             "apology": "phieu-xin-loi-va-hen-lai.pdf"}
"""The file name a citizen sees, by letter."""


@dataclass(frozen=True)
class Layout:
    """Margins (mm) and font sizes (pt) of one paper size."""

    top: float
    bottom: float
    left: float
    right: float
    heading: float
    body: float
    title: float
    signature_gap: float


LAYOUTS: dict[str, Layout] = {
    # Decree 30: top and bottom 20-25 mm, left 30-35 mm, right 15-20 mm; body 13-14 pt
    "A4": Layout(top=20, bottom=20, left=30, right=15, heading=12, body=13, title=14,
                 signature_gap=28),
    "A5": Layout(top=12, bottom=12, left=18, right=10, heading=8.5, body=10, title=11,
                 signature_gap=18),
}


@cache
def font_files() -> dict[str, Path]:
    """The DejaVu Serif faces in matplotlib's data folder, by fpdf2 style."""
    import matplotlib  # here, as fpdf2 below: only a process that prints loads them

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    files = {"": folder / "DejaVuSerif.ttf", "B": folder / "DejaVuSerif-Bold.ttf",
             "I": folder / "DejaVuSerif-Italic.ttf"}
    missing = [str(path) for path in files.values() if not path.exists()]
    if missing:
        raise FileNotFoundError(f"the PDF font is missing: {', '.join(missing)}")
    return files


PAPER = {"A4": (210.0, 297.0), "A5": (148.0, 210.0)}


def document_pdf(doc: Document, size: PaperSize = "A4") -> bytes:
    """The document as a one- or two-page PDF of `size`."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    layout = LAYOUTS[size]
    pdf = FPDF(orientation="portrait", unit="mm", format=PAPER[size])
    pdf.set_margins(layout.left, layout.top, layout.right)
    pdf.set_auto_page_break(True, margin=layout.bottom)
    for style, path in font_files().items():
        pdf.add_font(FONT, style, str(path))
    pdf.set_title(doc.title)
    pdf.set_creator("motcua")
    pdf.add_page()
    width = pdf.w - layout.left - layout.right
    left_width = width * 0.4
    right_x = layout.left + left_width
    right_width = width - left_width
    line = layout.heading * 0.5

    # the heading: the issuing body (left) and the national heading (right), side by side
    top = pdf.get_y()
    for text in doc.agency:
        centred(pdf, text, layout.left, left_width, line, layout.heading)
    rule(pdf, layout.left + left_width * 0.3, layout.left + left_width * 0.7)
    left_bottom = pdf.get_y()
    pdf.set_y(top)
    for text in national_heading():
        centred(pdf, text, right_x, right_width, line, layout.heading)
    rule(pdf, right_x + right_width * 0.22, right_x + right_width * 0.78)
    pdf.set_y(max(left_bottom, pdf.get_y()) + line)

    # the place and date line, under the national heading
    pdf.set_font(FONT, "I", layout.body)
    pdf.set_x(right_x)
    pdf.multi_cell(right_width, line * 1.1, doc.dateline, align="C", new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)
    pdf.ln(line * 2)

    # the title, then the body
    pdf.set_font(FONT, "B", layout.title)
    pdf.multi_cell(width, layout.title * 0.5, doc.title, align="C", new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)
    pdf.ln(line * 1.5)
    pdf.set_font(FONT, "", layout.body)
    body_line = layout.body * 0.55
    for paragraph in doc.paragraphs:
        addressee = paragraph.startswith("Kính gửi")
        pdf.multi_cell(width, body_line, paragraph, align="C" if addressee else "J",
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(body_line * 0.6)

    # the signature block: who signs on whose behalf, room for the signature, the name
    pdf.ln(line)
    if pdf.will_page_break(layout.signature_gap + line * 4):
        pdf.add_page()
    pdf.set_font(FONT, "B", layout.heading + 0.5)
    for text in doc.signer:
        pdf.set_x(right_x)
        pdf.multi_cell(right_width, line * 1.1, text, align="C", new_x=XPos.LMARGIN,
                       new_y=YPos.NEXT)
    if doc.signer_name:
        pdf.ln(layout.signature_gap)
        pdf.set_x(right_x)
        pdf.multi_cell(right_width, line * 1.1, doc.signer_name, align="C",
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def centred(pdf: FPDF, text: str, x: float, width: float, height: float, size: float) -> None:
    """One bold heading line centred in its column, in a smaller size if it would wrap."""
    from fpdf.enums import XPos, YPos

    pdf.set_font(FONT, "B", size)
    while size > 6 and pdf.get_string_width(text) > width - 1:
        size -= 0.5
        pdf.set_font(FONT, "B", size)
    pdf.set_x(x)
    pdf.multi_cell(width, height, text, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def rule(pdf: FPDF, start: float, end: float) -> None:
    """The short line under a heading block."""
    y = pdf.get_y() + 1.2
    pdf.set_line_width(0.25)
    pdf.line(start, y, end, y)
    pdf.set_y(y + 0.6)


async def with_pdf(message: Outgoing, doc: Document, kind: str,
                   size: PaperSize = "A4") -> Outgoing:
    """`message` with the document as a PDF file (for channels in `FILE_CHANNELS`). The PDF
    is made in a worker thread: embedding the font takes a good part of a second."""
    data = await asyncio.to_thread(document_pdf, doc, size)
    return replace(message, document=Attachment("file", name=PDF_NAMES[kind], data=data))
