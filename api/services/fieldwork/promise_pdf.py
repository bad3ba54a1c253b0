"""A signed repayment promise (还款承诺书) rendered to PDF with fpdf2.

The same promise always renders to the same bytes (the PDF's dates come from the signing time),
so the SHA-256 kept with the record can be recomputed. Chinese text needs a CJK font: Noto Sans
SC from the `pylopdf-fonts-zh-cn` wheel (SIL OFL 1.1), else a Debian CJK font if installed.
"""

from __future__ import annotations

import importlib.util
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from api.services.casefile.identifiers import mask_national_id
from api.services.exceptions import InvalidInput

FONT = "cjk"
MAX_STROKE_POINTS = 20_000
_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_GROUP_UNITS = ("", "万", "亿", "万亿")
_DEBIAN_FONTS = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", None),
)

Point = Sequence[float]


@dataclass(frozen=True)
class Instalment:
    due_on: date
    amount_fen: int


@dataclass(frozen=True)
class PromiseDocument:
    """Everything printed on the promise. `signer_national_id` is printed masked (last 4)."""

    contract_no: str
    signer_name: str
    signer_national_id: str
    promised_total_fen: int
    plan: Sequence[Instalment]
    method: str
    signed_at: datetime
    place_text: str
    lat: float | None = None
    lon: float | None = None
    witness: str | None = None
    overdue_fen: int | None = None
    collectors: Sequence[str] = ()
    record_id: str | None = None
    timezone: str = "Asia/Shanghai"
    signature_png: bytes | None = None
    signature_strokes: Sequence[Sequence[Point]] | None = field(default=None)


def find_cjk_font() -> tuple[Path, int]:
    """(font file, face index) of a font that covers Simplified Chinese."""
    spec = importlib.util.find_spec("pylopdf_fonts_zh_cn")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            path = Path(location) / "NotoSansSC-Regular.otf"
            if path.is_file():
                return path, 0
    for name, family in _DEBIAN_FONTS:
        path = Path(name)
        if path.is_file():
            return path, _face_index(path, family)
    raise RuntimeError("no CJK font: install the Python package pylopdf-fonts-zh-cn")


def _face_index(path: Path, family: str | None) -> int:
    if family is None:
        return 0
    from fontTools.ttLib import TTCollection

    with TTCollection(str(path), lazy=True) as collection:
        for index, face in enumerate(collection.fonts):
            if face["name"].getDebugName(1) == family:
                return index
    return 0


def format_yuan(fen: int) -> str:
    """12345678 -> "¥123,456.78"."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"


def _group_in_words(n: int) -> str:
    out, zero, started = "", False, False
    for digit, unit in zip(f"{n:04d}", ("仟", "佰", "拾", ""), strict=True):
        if digit == "0":
            zero = zero or started
            continue
        out += ("零" if zero else "") + _DIGITS[int(digit)] + unit
        zero, started = False, True
    return out


def amount_in_words(fen: int) -> str:
    """The amount in capital numerals, as on Chinese financial documents:
    1000500 -> "人民币壹万零伍元整"."""
    if fen < 0:
        return "负" + amount_in_words(-fen)
    yuan, cents = divmod(fen, 100)
    jiao, fen_digit = divmod(cents, 10)
    groups = []
    while yuan:
        yuan, group = divmod(yuan, 10_000)
        groups.append(group)
    words, gap = "", False
    for power in range(len(groups) - 1, -1, -1):
        group = groups[power]
        if group == 0:
            gap = bool(words)
            continue
        if words and (gap or group < 1000):
            words += "零"
        words += _group_in_words(group) + _GROUP_UNITS[power]
        gap = False
    if words:
        words += "元"
    if jiao:
        words += _DIGITS[jiao] + "角"
    elif words and fen_digit:
        words += "零"
    if fen_digit:
        words += _DIGITS[fen_digit] + "分"
    else:
        words = (words or "零元") + "整"
    return "人民币" + words


def _check(doc: PromiseDocument) -> None:
    errors: dict[str, list[str]] = {}
    if not doc.plan:
        errors["plan"] = ["at least one payment"]
    elif any(not isinstance(i.amount_fen, int) or i.amount_fen <= 0 for i in doc.plan):
        errors["plan"] = ["every amount must be a positive number of fen"]
    elif sum(i.amount_fen for i in doc.plan) != doc.promised_total_fen:
        errors["promised_total_fen"] = ["must equal the sum of the plan"]
    if doc.signed_at.tzinfo is None:
        errors["signed_at"] = ["must carry a time zone"]
    if doc.signature_png is None and not doc.signature_strokes:
        errors["signature"] = ["a signature image or strokes are required"]
    if doc.signature_strokes:
        points = [p for stroke in doc.signature_strokes for p in stroke]
        if len(points) > MAX_STROKE_POINTS:
            errors["signature"] = [f"at most {MAX_STROKE_POINTS} points"]
        elif not all(
            len(p) == 2 and all(isinstance(v, int | float) and math.isfinite(v) for v in p)
            for p in points
        ):
            errors["signature"] = ["every point must be [x, y] with finite numbers"]
    if errors:
        raise InvalidInput("the promise cannot be rendered", fields=errors)


def render_promise_pdf(
    doc: PromiseDocument, *, compress: bool = True, font: tuple[Path, int] | None = None
) -> bytes:
    """The promise as PDF bytes; identical input gives identical bytes."""
    _check(doc)
    font_path, face = font or find_cjk_font()
    pdf = FPDF(format="A4", unit="mm")
    pdf.compress = compress
    pdf.set_creation_date(doc.signed_at)
    pdf.set_title(f"还款承诺书 {doc.contract_no}")
    pdf.set_creator("fieldvisit")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_font(FONT, "", str(font_path), collection_font_number=face)
    pdf.set_margins(20, 18, 20)
    pdf.add_page()
    _header(pdf, doc)
    _particulars(pdf, doc)
    _plan(pdf, doc)
    _circumstances(pdf, doc)
    _signature(pdf, doc)
    return bytes(pdf.output())


def _header(pdf: FPDF, doc: PromiseDocument) -> None:
    pdf.set_font(FONT, size=20)
    pdf.cell(0, 12, "还款承诺书", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=10)
    ref = f"合同编号：{doc.contract_no}"
    if doc.record_id:
        ref += f"    记录编号：{doc.record_id}"
    pdf.cell(0, 7, ref, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)


def _rows(pdf: FPDF, rows: Sequence[tuple[str, str]]) -> None:
    pdf.set_font(FONT, size=11)
    with pdf.table(col_widths=(32, 138), line_height=7, first_row_as_headings=False) as table:
        for label, value in rows:
            row = table.row()
            row.cell(label)
            row.cell(value)
    pdf.ln(3)


def _particulars(pdf: FPDF, doc: PromiseDocument) -> None:
    rows = [
        ("承诺人", doc.signer_name),
        ("身份证号", mask_national_id(doc.signer_national_id)),
    ]
    if doc.overdue_fen is not None:
        rows.append(
            ("逾期欠款", f"{format_yuan(doc.overdue_fen)}（{amount_in_words(doc.overdue_fen)}）")
        )
    total = doc.promised_total_fen
    rows += [
        ("承诺还款总额", f"{format_yuan(total)}（{amount_in_words(total)}）"),
        ("还款方式", doc.method),
    ]
    _rows(pdf, rows)


def _plan(pdf: FPDF, doc: PromiseDocument) -> None:
    pdf.set_font(FONT, size=11)
    pdf.multi_cell(
        0,
        7,
        "本人确认上述欠款属实，自愿按以下计划按时足额归还，逾期未还的，愿承担合同约定的责任：",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(1)
    heading = FontFace(emphasis="", fill_color=(235, 235, 235))
    with pdf.table(
        col_widths=(20, 75, 75), line_height=7, text_align="CENTER", headings_style=heading
    ) as table:
        table.row(["期次", "还款日期", "金额（元）"])
        for n, item in enumerate(doc.plan, start=1):
            table.row([str(n), _date_cn(item.due_on), format_yuan(item.amount_fen)])
    pdf.ln(3)


def _circumstances(pdf: FPDF, doc: PromiseDocument) -> None:
    local = doc.signed_at.astimezone(ZoneInfo(doc.timezone))
    offset = local.strftime("%z")
    when = f"{_date_cn(local.date())} {local:%H:%M}（{doc.timezone}，UTC{offset[:3]}:{offset[3:]}）"
    place = doc.place_text
    if doc.lat is not None and doc.lon is not None:
        place += f"\nGPS：{doc.lat:.6f}, {doc.lon:.6f}（WGS-84）"
    rows = [("签署地点", place), ("签署时间", when), ("见证人", doc.witness or "—")]
    if doc.collectors:
        rows.append(("外访人员", "、".join(doc.collectors)))
    _rows(pdf, rows)


def _signature(pdf: FPDF, doc: PromiseDocument) -> None:
    box_w, box_h = 80.0, 32.0
    if pdf.will_page_break(box_h + 14):
        pdf.add_page()
    pdf.set_font(FONT, size=11)
    pdf.cell(0, 8, "承诺人签名：", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    x, y = pdf.l_margin, pdf.get_y()
    with pdf.local_context(draw_color=(170, 170, 170), line_width=0.2):
        pdf.rect(x, y, box_w, box_h)
    if doc.signature_png is not None:
        try:
            pdf.image(
                io.BytesIO(doc.signature_png),
                x=x + 2,
                y=y + 2,
                w=box_w - 4,
                h=box_h - 4,
                keep_aspect_ratio=True,
            )
        except Exception as exc:  # fpdf2 raises a variety of errors for a bad image
            raise InvalidInput(
                "the signature image cannot be read",
                fields={"signature_png": [f"not a readable PNG ({type(exc).__name__})"]},
            ) from None
    else:
        _strokes(pdf, doc.signature_strokes or (), x + 3, y + 3, box_w - 6, box_h - 6)
    pdf.set_y(y + box_h + 4)
    pdf.set_font(FONT, size=8)
    pdf.multi_cell(
        0,
        5,
        "本承诺书由 fieldvisit 生成；原始签名数据与本文件的 SHA-256 随案件证据保存。",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )


def _strokes(
    pdf: FPDF, strokes: Sequence[Sequence[Point]], x: float, y: float, w: float, h: float
) -> None:
    """Draw pen strokes (device pixels, y down) scaled to fit the box, aspect kept."""
    points = [p for stroke in strokes for p in stroke]
    min_x, max_x = min(p[0] for p in points), max(p[0] for p in points)
    min_y, max_y = min(p[1] for p in points), max(p[1] for p in points)
    scale = min(w / max(max_x - min_x, 1e-9), h / max(max_y - min_y, 1e-9))
    off_x = x + (w - (max_x - min_x) * scale) / 2
    off_y = y + (h - (max_y - min_y) * scale) / 2

    def place(p: Point) -> tuple[float, float]:
        return off_x + (p[0] - min_x) * scale, off_y + (p[1] - min_y) * scale

    with pdf.local_context(line_width=0.5, stroke_cap_style="ROUND", stroke_join_style="ROUND"):
        for stroke in strokes:
            placed = [place(p) for p in stroke]
            if len(placed) == 1:
                pdf.circle(x=placed[0][0], y=placed[0][1], radius=0.25, style="F")
            elif placed:
                pdf.polyline(placed)


def _date_cn(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
