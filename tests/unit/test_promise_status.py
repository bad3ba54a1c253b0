from datetime import date

import pytest

from api.models import PromiseStatus
from api.services.fieldwork.promise_status import promise_status

PLAN = [(date(2026, 12, 1), 300_000), (date(2027, 1, 1), 200_000)]


@pytest.mark.parametrize(
    "paid, as_of, status",
    [
        (0, date(2026, 11, 25), PromiseStatus.PENDING),  # nothing due yet
        (0, date(2026, 12, 1), PromiseStatus.PENDING),  # due today: not late yet
        (0, date(2026, 12, 2), PromiseStatus.BROKEN),  # first date passed, nothing paid
        (100_000, date(2026, 12, 2), PromiseStatus.PARTLY_KEPT),
        (300_000, date(2026, 12, 2), PromiseStatus.PENDING),  # on track
        (300_000, date(2027, 1, 2), PromiseStatus.PARTLY_KEPT),
        (500_000, date(2026, 12, 2), PromiseStatus.KEPT),  # paid ahead
        (600_000, date(2027, 2, 1), PromiseStatus.KEPT),
    ],
)
def test_promise_status(paid, as_of, status):
    assert promise_status(PLAN, paid, as_of) is status
