"""Builders for the supervision stories: many cases at once, and what collectors recorded on
them (calls, visits, promises, proposals), written through the real models at chosen times."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

from api.extensions import db
from api.models import (
    Address,
    AddressKind,
    Bucket,
    Case,
    CaseStatus,
    Channel,
    ContactAttempt,
    ContactOutcome,
    CoordSource,
    Debtor,
    Device,
    FieldProposal,
    Geofence,
    NextStep,
    Product,
    PromiseStatus,
    ProposalKind,
    RepaymentPromise,
    Team,
    User,
    VisitOutcome,
    VisitReport,
)
from api.services.casefile.assignment import set_assignment
from api.services.casefile.loan_figures import bucket_for

SHANGHAI = ZoneInfo("Asia/Shanghai")
FUTIAN = (22.54554, 114.0683)  # the factories' home address, Shenzhen
_n = count(1)


def today_local() -> date:
    return datetime.now(SHANGHAI).date()


def now() -> datetime:
    return datetime.now(UTC)


def cases(
    world,
    n: int,
    *,
    team: Team,
    collector: User | None = None,
    days_past_due: int = 10,
    product: Product = Product.CAR_LOAN,
    status: CaseStatus = CaseStatus.ACTIVE,
    home: tuple[float, float] | None = FUTIAN,
    phones: bool = True,
    worksite: tuple[float, float] | None = None,
) -> list[Case]:
    """`n` cases in one transaction (one publish), each with its debtor and a located home."""
    made = []
    for _ in range(n):
        k = next(_n)
        debtor = Debtor(
            lender_ref=f"SV-D{k}", name=f"Borrower {k}",
            national_id_cipher=world.cipher.encrypt("440308199901101512"),
            national_id_digest=world.cipher.digest(f"supervision-{k}-{uuid.uuid4()}"),
            national_id_last4="1512", mobile_phone="13812345678" if phones else None,
        )
        if home is not None:
            debtor.addresses.append(Address(
                lender_ref="H", kind=AddressKind.HOME, text=f"Home {k}", lat=home[0],
                lon=home[1], coord_source=CoordSource.LENDER, source_datum="WGS84"))
        if worksite is not None:
            debtor.addresses.append(Address(
                lender_ref="W", kind=AddressKind.WORKSITE, text=f"Site {k}", lat=worksite[0],
                lon=worksite[1], coord_source=CoordSource.LENDER, source_datum="WGS84"))
        case = Case(
            contract_no=f"SV-{k:06d}", debtor=debtor, product=product, principal_fen=5_000_000,
            status=status, days_past_due=days_past_due,
            bucket=Bucket(bucket_for(days_past_due)), overdue_fen=100_000 + k,
            outstanding_fen=4_000_000, total_due_fen=5_000_000, figures_as_of=today_local(),
        )
        db.session.add(case)
        made.append(case)
    db.session.flush()
    for case in made:
        set_assignment(db.session, case, team_id=team.id,
                       collector_id=collector.id if collector else None, assigned_by_id=None,
                       reason="test setup")
    db.session.commit()
    return made


def device_of(user: User) -> str:
    device = Device(id=str(uuid.uuid4()), user_id=user.id, label="test", platform="test")
    db.session.add(device)
    db.session.commit()
    return device.id


def _record(case: Case, author: User, device_id: str) -> dict:
    return {"id": str(uuid.uuid4()), "case_id": case.id, "author_id": author.id,
            "device_id": device_id, "mutation_id": next(_n), "client_time": now()}


def call(case: Case, author: User, device_id: str, at: datetime,
         outcome: ContactOutcome = ContactOutcome.NO_ANSWER, contact_id: int | None = None):
    db.session.add(ContactAttempt(**_record(case, author, device_id), channel=Channel.CALL,
                                  outcome=outcome, occurred_at=at, contact_id=contact_id))
    db.session.commit()


def visit(case: Case, author: User, device_id: str, day: date):
    started = datetime.combine(day, datetime.min.time().replace(hour=10), SHANGHAI)
    db.session.add(VisitReport(
        **_record(case, author, device_id), started_at=started,
        ended_at=started + timedelta(minutes=30), local_day=day,
        collector_ids=json.dumps([author.id]), met="debtor", outcome=VisitOutcome.REFUSED,
        next_step=NextStep.REVISIT, geofence=Geofence.NO_FIX,
    ))
    db.session.commit()


def promise(case: Case, author: User, device_id: str, due_on: date,
            status: PromiseStatus = PromiseStatus.PENDING, amount_fen: int = 300_000,
            signed_days_ago: int = 40):
    db.session.add(RepaymentPromise(
        **_record(case, author, device_id), plan=json.dumps(
            [{"due_on": due_on.isoformat(), "amount_fen": amount_fen}]),
        total_fen=amount_fen, first_due_on=due_on, last_due_on=due_on, method="bank_transfer",
        signer_name="Borrower", signed_at=now() - timedelta(days=signed_days_ago), status=status,
    ))
    db.session.commit()


def address_proposal(case: Case, author: User, device_id: str):
    db.session.add(FieldProposal(
        **_record(case, author, device_id), kind=ProposalKind.ADDRESS,
        data=json.dumps({"kind": "home", "text": "Moved to Nanshan"}),
    ))
    db.session.commit()
