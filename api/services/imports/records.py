"""A file's records as the importers hold them, and the loan figures they give a case."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from api.models import Bucket, CaseStatus
from api.models.cases import CLOSED_STATUSES
from api.services.casefile.loan_figures import (
    LoanFigures,
    PaymentRecord,
    ScheduledInstalment,
    compute_figures,
)
from api.services.imports.converters import MAX_FEN
from api.services.imports.merge import CASE_FIELDS

FIGURES = ("total_due_fen", "paid_fen", "overdue_fen", "outstanding_fen",
           "outstanding_principal_fen", "days_past_due", "periods_overdue", "reminder_class",
           "next_due_on")


@dataclass
class CaseRow:
    """A case record that passed its own checks."""

    row: int
    contract_no: str
    data: dict
    lines: dict | None
    digest: str
    holder: tuple[int | None, int | None, bool] | None  # team, collector, collector given
    record_digest: str = ""  # of the checked record as applied (`imports.digests`)


@dataclass
class FileItem:
    """A schedule line or payment from the file, shaped like the model for `loan_figures`."""

    seq: int = 0
    due_on: date | None = None
    amount_fen: int = 0
    principal_fen: int = 0
    ref: str = ""
    paid_on: date | None = None
    method: str | None = None


def loan_figures(schedule: Iterable, payments: Iterable, as_of: date) -> LoanFigures:
    return compute_figures(
        [ScheduledInstalment(i.seq, i.due_on, i.amount_fen, i.principal_fen) for i in schedule],
        [PaymentRecord(p.paid_on, p.amount_fen) for p in payments], as_of)


MONEY_FIGURES = ("total_due_fen", "paid_fen", "overdue_fen", "outstanding_fen",
                 "outstanding_principal_fen")


def oversized_figure(figures: LoanFigures) -> str | None:
    """Why the figures cannot be stored (each amount is bounded, not their sums), or None."""
    for name in MONEY_FIGURES:
        if getattr(figures, name) > MAX_FEN:
            return f"the amounts add up to a {name} above {MAX_FEN} fen"
    return None


def case_values(data: dict, figures: LoanFigures, as_of: date) -> dict[str, Any]:
    """A case's own columns as a checked record sets them: the file's, and its figures."""
    return {name: data[name] for name in CASE_FIELDS} | figure_columns(
        figures, data["status"], as_of)


def figure_columns(figures: LoanFigures, status: CaseStatus, as_of: date) -> dict[str, Any]:
    """Figures as Case attributes; a case the figures show settled is settled unless closed."""
    if figures.settled and status not in CLOSED_STATUSES:
        status = CaseStatus.SETTLED
    return {name: getattr(figures, name) for name in FIGURES} | {
        "bucket": Bucket(figures.bucket), "status": status, "figures_as_of": as_of}
