"""A debtor signs a repayment promise on the collector's phone; the server renders it to PDF."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from PIL import Image, ImageDraw

from api.services.exceptions import InvalidInput
from api.services.fieldwork.promise_pdf import (
    Instalment,
    PromiseDocument,
    amount_in_words,
    format_yuan,
    render_promise_pdf,
)

STROKES = [
    [[10, 40], [30, 10], [50, 45], [70, 12], [90, 40]],
    [[100, 30], [140, 30]],
    [[150, 20]],  # a dot
]
PROMISE = PromiseDocument(
    contract_no="粤HT-2026-000123",
    signer_name="张三",
    signer_national_id="44040119580101000X",
    promised_total_fen=1_234_567,
    plan=[Instalment(date(2026, 12, 1), 500_000), Instalment(date(2027, 1, 1), 734_567)],
    method="银行转账",
    signed_at=datetime(2026, 11, 22, 6, 30, tzinfo=UTC),
    place_text="广东省深圳市南山区科技园（借款人单位）",
    lat=22.540503,
    lon=113.934528,
    witness="李四",
    overdue_fen=1_534_500,
    collectors=("王五", "赵六"),
    record_id="6f1c2a9e-7d3b-4c1e-9a55-0b1f2c3d4e5f",
    signature_strokes=STROKES,
)


def _signature_png() -> bytes:
    image = Image.new("RGBA", (300, 120), (255, 255, 255, 0))
    ImageDraw.Draw(image).line([(10, 90), (80, 20), (150, 100), (290, 30)], fill="navy", width=5)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _text_of(pdf: bytes) -> str:
    """The text of an uncompressed fpdf2 PDF: its literal strings decoded through the font's
    ToUnicode map (two-byte glyph codes), the way a PDF text extractor does."""
    cmap = {
        int(code, 16): chr(int(uni, 16))
        for code, uni in re.findall(rb"<([0-9A-F]{4})> <([0-9A-F]{4})>", pdf)
    }
    unescape = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"(": b"(", b")": b")", b"\\": b"\\"}
    texts = []
    for raw in re.findall(rb"\(((?:\\.|[^\\)])*)\) ?Tj", pdf, re.S):
        data = re.sub(rb"\\(.)", lambda m: unescape.get(m.group(1), m.group(1)), raw, flags=re.S)
        codes = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data) - 1, 2)]
        texts.append("".join(cmap.get(c, "?") for c in codes))
    return "\n".join(texts)


def test_renders_a_pdf() -> None:
    pdf = render_promise_pdf(PROMISE)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/FontFile3" in pdf or b"/FontFile2" in pdf  # the CJK font is embedded


def test_the_same_promise_gives_the_same_bytes() -> None:
    first, second = render_promise_pdf(PROMISE), render_promise_pdf(PROMISE)
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    later = replace(PROMISE, signed_at=datetime(2026, 11, 22, 6, 31, tzinfo=UTC))
    assert render_promise_pdf(later) != first


def test_the_page_carries_the_contract_amounts_and_masked_id() -> None:
    text = _text_of(render_promise_pdf(PROMISE, compress=False))
    assert "合同编号：粤HT-2026-000123" in text
    assert "还款承诺书" in text
    assert "¥12,345.67（人民币壹万贰仟叁佰肆拾伍元陆角柒分）" in text
    assert "2026年12月1日" in text and "¥7,345.67" in text
    assert "**************000X" in text
    assert "44040119580101000X" not in text
    assert "2026年11月22日 14:30（Asia/Shanghai，UTC+08:00）" in text
    assert "GPS：22.540503, 113.934528（WGS-84）" in text


def test_a_png_signature_renders_too() -> None:
    promise = replace(PROMISE, signature_strokes=None, signature_png=_signature_png())
    pdf = render_promise_pdf(promise)
    assert pdf.startswith(b"%PDF-") and b"/Subtype /Image" in pdf
    assert render_promise_pdf(promise) == pdf


def test_a_broken_signature_image_is_refused() -> None:
    promise = replace(PROMISE, signature_strokes=None, signature_png=b"\x89PNG not really")
    with pytest.raises(InvalidInput) as caught:
        render_promise_pdf(promise)
    assert "signature_png" in caught.value.fields


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"plan": []}, "plan"),
        ({"promised_total_fen": 1}, "promised_total_fen"),
        ({"signed_at": datetime(2026, 11, 22, 14, 30)}, "signed_at"),
        ({"signature_strokes": None}, "signature"),
        ({"signature_strokes": [[[1, float("nan")]]]}, "signature"),
    ],
)
def test_an_incomplete_promise_is_refused(change: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        render_promise_pdf(replace(PROMISE, **change))
    assert field in caught.value.fields


@pytest.mark.parametrize(
    ("fen", "words"),
    [
        (0, "人民币零元整"),
        (5, "人民币伍分"),
        (1_050, "人民币壹拾元伍角整"),
        (10_007, "人民币壹佰元零柒分"),
        (1_000_500, "人民币壹万零伍元整"),
        (1_534_500, "人民币壹万伍仟叁佰肆拾伍元整"),
        (1_200_003_400, "人民币壹仟贰佰万零叁拾肆元整"),
        (1_000_100_000, "人民币壹仟万壹仟元整"),
        (10_001_000_000, "人民币壹亿零壹万元整"),
    ],
)
def test_amount_in_capital_numerals(fen: int, words: str) -> None:
    assert amount_in_words(fen) == words


def test_yuan_from_fen() -> None:
    assert format_yuan(1_234_567) == "¥12,345.67"
    assert format_yuan(5) == "¥0.05"
    assert format_yuan(-100) == "-¥1.00"
