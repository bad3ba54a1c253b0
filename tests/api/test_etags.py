"""Two people editing the same thing: the case's assignment, a user, a field proposal. A read
gives an ETag; an update sent with that ETag as `If-Match` applies and answers a new one; one
sent with a tag that is no longer current is 412 and changes nothing. No `If-Match`: applies."""

from __future__ import annotations

from sqlalchemy import func, select

from api.extensions import db
from api.models import Assignment, Case, FieldProposal, User
from tests.sync.test_proposals import proposal
from tests.sync.test_protocol import push


def assert_stale(answer) -> None:
    assert answer.status_code == 412, answer.get_json()
    assert answer.get_json()["error"]["code"] == "precondition_failed"


def test_two_supervisors_reassign_a_case_and_the_second_is_told_it_changed(client, world):
    team = world.team()
    alice, bob = world.user("collector", team), world.user("collector", team)
    first, second = (world.login(world.user("supervisor", team)) for _ in range(2))
    case = world.case(team=team, collector=alice)
    case_id = case.id
    db.session.commit()

    read_by_first = client.get(f"/cases/{case_id}", headers=first)
    read_by_second = client.get(f"/cases/{case_id}", headers=second)
    etag = read_by_first.headers["ETag"]
    assert etag.startswith('W/"') and read_by_second.headers["ETag"] == etag

    moved = client.put(
        f"/cases/{case_id}/assignment",
        json={"collector_id": bob.id},
        headers={**first, "If-Match": etag},
    )
    assert moved.status_code == 200, moved.get_json()
    assert moved.headers["ETag"] not in (None, etag)
    assert client.get(f"/cases/{case_id}", headers=first).headers["ETag"] == moved.headers["ETag"]

    history = db.session.scalar(select(func.count(Assignment.id)))
    stale = client.put(
        f"/cases/{case_id}/assignment",
        json={"collector_id": alice.id, "reason": "back to Alice"},
        headers={**second, "If-Match": read_by_second.headers["ETag"]},
    )
    assert_stale(stale)
    db.session.expire_all()
    assert db.session.get(Case, case_id).collector_id == bob.id
    assert db.session.scalar(select(func.count(Assignment.id))) == history

    current = client.put(
        f"/cases/{case_id}/assignment",
        json={"collector_id": alice.id},
        headers={**second, "If-Match": moved.headers["ETag"]},
    )
    assert current.status_code == 200
    without = client.put(f"/cases/{case_id}/assignment", json={"collector_id": bob.id},
                         headers=second)  # no If-Match: existing clients keep working
    assert without.status_code == 200 and without.headers["ETag"] != current.headers["ETag"]


def test_an_administrators_change_to_a_user_another_just_changed_is_refused(client, world):
    admins = [world.login(world.user("admin")) for _ in range(2)]
    carol = world.user("collector")
    user_id = carol.id
    etag = client.get(f"/admin/users/{user_id}", headers=admins[0]).headers["ETag"]

    renamed = client.patch(f"/admin/users/{user_id}", json={"full_name": "Carol Chen"},
                           headers={**admins[0], "If-Match": etag})
    assert renamed.status_code == 200 and renamed.get_json()["full_name"] == "Carol Chen"
    assert renamed.headers["ETag"] != etag

    stale = client.patch(f"/admin/users/{user_id}", json={"full_name": "Carol Wong",
                                                         "is_active": False},
                         headers={**admins[1], "If-Match": etag})
    assert_stale(stale)
    db.session.expire_all()
    user = db.session.get(User, user_id)
    assert (user.full_name, user.is_active) == ("Carol Chen", True)

    fresh = client.patch(f"/admin/users/{user_id}", json={"is_active": False},
                         headers={**admins[1], "If-Match": renamed.headers["ETag"]})
    assert fresh.status_code == 200 and fresh.get_json()["is_active"] is False


def test_a_proposal_reviewed_meanwhile_is_412_for_the_second_reviewer(client, world):
    team = world.team()
    alice = world.user("collector", team)
    phone = world.login(alice)
    first, second = (world.login(world.user("supervisor", team)) for _ in range(2))
    case = world.case(collector=alice)
    pushed = push(client, phone, [proposal(1, case.id, "phone", {"phone": "+86 139 1234 5678"})])
    assert pushed.get_json()["results"][0]["status"] == "applied"
    proposal_id = db.session.scalar(select(FieldProposal.id))

    seen = client.get(f"/proposals/{proposal_id}", headers=second)
    assert seen.status_code == 200 and seen.get_json()["status"] == "pending"
    etag = seen.headers["ETag"]
    accepted = client.post(f"/proposals/{proposal_id}/review", json={"decision": "accept"},
                           headers={**first, "If-Match": etag})
    assert accepted.status_code == 200 and accepted.headers["ETag"] != etag

    stale = client.post(f"/proposals/{proposal_id}/review", json={"decision": "reject"},
                        headers={**second, "If-Match": etag})
    assert_stale(stale)
    db.session.expire_all()
    assert db.session.get(FieldProposal, proposal_id).status.value == "accepted"


def test_a_proposal_on_a_case_you_may_not_see_is_not_found(client, world):
    alice = world.user("collector")
    phone = world.login(alice)
    outsider = world.login(world.user("supervisor", world.team()))
    case = world.case(collector=alice)
    push(client, phone, [proposal(1, case.id, "phone", {"phone": "+86 139 1234 5678"})])
    proposal_id = db.session.scalar(select(FieldProposal.id))
    assert client.get(f"/proposals/{proposal_id}", headers=outsider).status_code == 404
    assert client.get("/proposals/nope", headers=outsider).status_code == 404
