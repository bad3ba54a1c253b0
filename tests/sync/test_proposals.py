"""What a collector learns in the field is a proposal: reviewed, never an overwrite."""

import json
import uuid

from sqlalchemy import select

from api.extensions import db
from api.models import AuditEvent, Debtor
from tests.sync.test_protocol import pull_all, push


def proposal(mutation_id, case_id, kind, data):
    return {
        "mutation_id": mutation_id,
        "type": "field_proposal",
        "client_time": "2026-11-20T10:00:00+08:00",
        "payload": {"id": str(uuid.uuid4()), "case_id": case_id, "kind": kind, "data": data},
    }


def test_a_new_phone_waits_for_review_then_reaches_the_phone(client, world):
    team = world.team()
    alice = world.user("collector", team)
    phone, supervisor = world.login(alice), world.login(world.user("supervisor", team))
    case = world.case(collector=alice)
    _, cursor = pull_all(client, phone)
    body = push(
        client,
        phone,
        [
            proposal(1, case.id, "phone", {"phone": "+86 139 1234 5678", "label": "work"}),
            proposal(
                2,
                case.id,
                "address",
                {
                    "kind": "worksite",
                    "text": "东莞某工地",
                    "lat": 23.02067,
                    "lon": 113.75179,
                    "datum": "GCJ02",
                },
            ),
            proposal(3, case.id, "phone", {"phone": "12345"}),
        ],
    ).get_json()
    assert [r["status"] for r in body["results"]] == ["applied", "applied", "rejected"]
    assert "payload.data.phone" in body["results"][2]["fields"]
    debtor = db.session.get(Debtor, case.debtor_id)
    assert debtor.work_phone is None  # not overwritten by the field

    listed = client.get("/proposals?status=pending", headers=supervisor).get_json()
    assert listed["page"]["total"] == 2
    audited = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "proposal.list"))
    assert len(json.loads(audited.one().detail)["proposal_ids"]) == 2
    ids = {p["kind"]: p["id"] for p in listed["items"]}
    accepted = client.post(
        f"/proposals/{ids['phone']}/review", headers=supervisor, json={"decision": "accept"}
    )
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    again = client.post(
        f"/proposals/{ids['phone']}/review", headers=supervisor, json={"decision": "reject"}
    )
    assert again.status_code == 409
    client.post(
        f"/proposals/{ids['address']}/review", headers=supervisor, json={"decision": "accept"}
    )
    changes, _ = pull_all(client, phone, cursor)
    doc = changes[-1]["data"]
    assert doc["debtor"]["work_phone"] == "13912345678"
    worksite = next(a for a in doc["addresses"] if a["kind"] == "worksite")
    assert worksite["coord_source"] == "visit" and worksite["ref"].startswith("field:")
    # GCJ-02 from a Chinese map app is stored as WGS84 (a few hundred metres apart).
    assert abs(worksite["lat"] - 23.02067) > 1e-4


def test_collectors_cannot_review(client, world):
    team = world.team()
    alice = world.user("collector", team)
    phone = world.login(alice)
    case = world.case(collector=alice)
    result = push(
        client, phone, [proposal(1, case.id, "contact", {"name": "王五", "relation": "friend"})]
    ).get_json()["results"][0]
    response = client.post(
        f"/proposals/{result['record_id']}/review", headers=phone, json={"decision": "accept"}
    )
    assert response.status_code == 403
    outsider = world.login(world.user("supervisor"))
    response = client.post(
        f"/proposals/{result['record_id']}/review", headers=outsider, json={"decision": "accept"}
    )
    assert response.status_code == 404
