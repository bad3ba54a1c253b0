"""Builders for test stories: teams, users signed in on devices, and case files.

Rows are created through the real models and services; the identifiers are real vectors
from tests/data (see tests/data/README.md)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from itertools import count

from flask import Flask
from flask.testing import FlaskClient

from api.extensions import db
from api.models import (
    Address,
    AddressKind,
    Bucket,
    Case,
    Collateral,
    CollateralKind,
    Contact,
    ContactRole,
    CoordSource,
    Debtor,
    Instalment,
    Product,
    Relation,
    Role,
    Team,
    User,
)
from api.services.casefile.assignment import set_assignment
from api.services.compliance import authorisations
from api.services.identity import accounts

# Valid PRC resident IDs from tests/data/cn_ids.txt.
VALID_IDS = [
    "440308199901101512",
    "500154199804106120",
    "44040119580101000X",
    "140120197901010008",
    "362324198001010014",
    "362324198101010011",
    "362324198201010019",
    "430302199312194239",
    "321083197812162119",
    "150102198807303035",
    "33010219200403064X",
]
PASSWORD = "correct horse battery"


class World:
    """A small world of teams, people and cases for one test."""

    def __init__(self, app: Flask, client: FlaskClient):
        self.app, self.client = app, client
        self.cipher = app.extensions["fieldvisit.pii"]
        self._n = count(1)

    def team(self, code: str | None = None) -> Team:
        n = next(self._n)
        team = accounts.create_team(db.session, code or f"T{n}", f"Team {n}")
        db.session.commit()
        return team

    def user(
        self,
        role: Role | str,
        team: Team | None = None,
        username: str | None = None,
        password: str = PASSWORD,
        authorised: bool = True,
    ) -> User:
        """A user; a collector holds the standard authorisation (any lender in CN, no expiry)
        unless `authorised=False`."""
        role = Role(role)
        if team is None and role in (Role.COLLECTOR, Role.SUPERVISOR):
            team = self.team()
        user = accounts.create_user(
            db.session,
            username=username or f"{role.value}{next(self._n)}",
            full_name=f"{role.value.title()} {next(self._n)}",
            role=role,
            password=password,
            team_id=team.id if team else None,
        )
        if role is Role.COLLECTOR and authorised:
            self.authorise(user)
        db.session.commit()
        return user

    def authorise(self, user: User, **grant):
        """Grant `user` an authorisation: the standard one, changed by `grant`."""
        terms = {**authorisations.STANDARD, "valid_from": date(2000, 1, 1), **grant}
        row = authorisations.grant(
            db.session, user, certificate_no=terms.pop("certificate_no", f"CERT-{user.id}"),
            **terms)
        db.session.commit()
        return row

    def login(self, user: User, device_id: str | None = None, password: str = PASSWORD) -> dict:
        """Sign in through the API; returns request headers with the bearer token."""
        device_id = device_id or str(uuid.uuid4())
        response = self.client.post(
            "/auth/login",
            json={
                "username": user.username,
                "password": password,
                "device": {"id": device_id, "label": "test phone", "platform": "android-14"},
            },
        )
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        return {
            "Authorization": f"Bearer {body['access_token']}",
            "X-Refresh-Token": body["refresh_token"],
            "X-Device-Id": device_id,
        }

    def case(
        self,
        *,
        team: Team | None = None,
        collector: User | None = None,
        days_past_due: int = 45,
        bucket: Bucket = Bucket.M2,
        national_id: str | None = None,
        lat: float = 22.54554,
        lon: float = 114.0683,
        knows_of_loan: bool = False,
    ) -> Case:
        """A car-loan case with a debtor, two contacts, two addresses and a vehicle."""
        n = next(self._n)
        national_id = national_id or VALID_IDS[n % len(VALID_IDS)]
        debtor = Debtor(
            lender_ref=f"D{n}",
            name=f"Debtor {n}",
            national_id_cipher=self.cipher.encrypt(national_id),
            national_id_digest=self.cipher.digest(national_id + str(n)),
            national_id_last4=national_id[-4:],
            mobile_phone="13812345678",
            home_phone="0755-1234567",
            employer="Shenzhen Widget Co.",
        )
        debtor.contacts = [
            Contact(
                lender_ref="C1",
                name=f"Spouse {n}",
                relation=Relation.SPOUSE,
                role=ContactRole.GUARANTOR,
                phone="13987654321",
                knows_of_loan=True,
            ),
            Contact(
                lender_ref="C2",
                name=f"Friend {n}",
                relation=Relation.FRIEND,
                phone="13711112222",
                knows_of_loan=knows_of_loan,
            ),
        ]
        debtor.addresses = [
            Address(
                lender_ref="A1",
                kind=AddressKind.HOME,
                text=f"Home {n}, Futian, Shenzhen",
                lat=lat,
                lon=lon,
                coord_source=CoordSource.LENDER,
                source_datum="WGS84",
            ),
            Address(
                lender_ref="A2", kind=AddressKind.HOUSEHOLD_REGISTRATION, text=f"Village {n}, Hunan"
            ),
        ]
        start = date(2026, 1, 15)
        case = Case(
            contract_no=f"HT-{n:06d}",
            debtor=debtor,
            product=Product.CAR_LOAN,
            principal_fen=12_000_000,
            disbursed_on=start,
            days_past_due=days_past_due,
            bucket=bucket,
            overdue_fen=1_050_000,
            outstanding_fen=9_000_000,
            total_due_fen=12_600_000,
            instalments=[
                Instalment(
                    seq=i + 1,
                    due_on=start + timedelta(days=30 * (i + 1)),
                    amount_fen=1_050_000,
                    principal_fen=1_000_000,
                )
                for i in range(12)
            ],
            collateral=[
                Collateral(
                    lender_ref="V1",
                    kind=CollateralKind.CAR,
                    vin="LSJA24U62JG269225",
                    engine_no="G4FC1234567",
                    plate="京AD92035",
                    make="MG",
                    model="ZS",
                    colour="white",
                )
            ],
        )
        db.session.add(case)
        db.session.flush()
        team = team or (collector.team if collector else None)
        set_assignment(
            db.session,
            case,
            team_id=team.id if team else None,
            collector_id=collector.id if collector else None,
            assigned_by_id=None,
            reason="test setup",
        )
        db.session.commit()
        return case
