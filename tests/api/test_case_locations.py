"""`GET /cases?with=location`: each listed case carries the address a route plan would visit
by default (for the console's map), only when asked, only for cases one may see, and the
audit row of the list says the locations went out."""

from __future__ import annotations

import json

from sqlalchemy import select

from api.extensions import db
from api.models import Address, AddressKind, AuditEvent


def last_list_audit() -> dict:
    row = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case.list")
                             .order_by(AuditEvent.id.desc())).first()
    return json.loads(row.detail)


def test_the_list_gives_each_case_its_default_visit_address_when_asked(client, world):
    team, other = world.team("A"), world.team("B")
    boss = world.login(world.user("supervisor", team))
    at_home = world.case(team=team, lat=22.5, lon=114.05)
    work_only = world.case(team=team)
    nowhere = world.case(team=team)
    hidden = world.case(team=other, lat=23.1, lon=113.3)
    home = next(a for a in work_only.debtor.addresses if a.kind is AddressKind.HOME)
    home.lat = home.lon = None  # the home has no coordinates: the next own address that has
    db.session.add(Address(debtor_id=work_only.debtor_id, lender_ref="A3", kind=AddressKind.WORK,
                           text="Works here", lat=22.6, lon=114.1))
    for address in nowhere.debtor.addresses:
        address.lat = address.lon = None
    db.session.commit()
    work = db.session.scalar(select(Address).where(Address.debtor_id == work_only.debtor_id,
                                                   Address.lender_ref == "A3"))
    at_home_address = next(a for a in at_home.debtor.addresses if a.kind is AddressKind.HOME)

    plain = client.get("/cases", headers=boss, query_string={"sort": "id"})
    assert plain.status_code == 200
    assert all("location" not in item for item in plain.get_json()["items"])
    assert "with" not in last_list_audit()

    listed = client.get("/cases", headers=boss, query_string={"sort": "id", "with": "location"})
    assert listed.status_code == 200, listed.get_json()
    by_id = {item["id"]: item["location"] for item in listed.get_json()["items"]}
    assert hidden.id not in by_id
    assert by_id == {
        at_home.id: {"address_id": at_home_address.id, "kind": "home", "lat": 22.5, "lon": 114.05},
        work_only.id: {"address_id": work.id, "kind": "work", "lat": 22.6, "lon": 114.1},
        nowhere.id: None,
    }
    assert last_list_audit() == {"case_ids": [at_home.id, work_only.id, nowhere.id],
                                 "with": ["location"]}


def test_an_unknown_extra_is_a_422_naming_the_field(client, world):
    boss = world.login(world.user("supervisor", world.team("A")))
    response = client.get("/cases", headers=boss, query_string={"with": "phones"})
    assert response.status_code == 422
    assert "with" in json.dumps(response.get_json()["error"]["fields"])
