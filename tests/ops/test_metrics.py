"""GET /metrics: request latency by route rule, push outcomes by mutation type, pull sizes,
pending uploads; optionally closed to all but a token or a network."""

import dataclasses

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api import create_app
from tests.field.conftest import declaration
from tests.field.test_field_work import HOME, Phone, report
from tests.sync.test_protocol import attempt, pull, push


def samples(client, headers=None) -> dict:
    """{(sample name, sorted labels): value} from the exposition."""
    response = client.get("/metrics", headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def delta(before, after, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0) - before.get(key, 0)


@pytest.fixture
def phone(world):
    collector = world.user("collector")
    headers = world.login(collector)
    return {"headers": headers, "case": world.case(collector=collector)}


def test_push_and_pull_are_counted_by_type_outcome_and_size(client, phone):
    headers, case_id = phone["headers"], phone["case"].id
    before = samples(client)
    bootstrap = client.get("/sync/pull", headers=headers)  # the one case
    page = bootstrap.get_json()
    first = push(client, headers, [attempt(1, case_id), attempt(2, case_id)])
    assert [r["status"] for r in first.get_json()["results"]] == ["applied", "applied"]
    again = push(client, headers, [attempt(2, case_id), attempt(3, 999_999), attempt(5, case_id)])
    assert [r["status"] for r in again.get_json()["results"]] == ["duplicate", "rejected", "gap"]
    pull(client, headers, page["cursor"])  # delta: the case changed (two attempts)
    after = samples(client)

    counted = "fieldvisit_sync_push_mutations_total"
    for outcome, n in [("applied", 2), ("duplicate", 1), ("rejected", 1), ("gap", 1)]:
        assert delta(before, after, counted, type="contact_attempt", outcome=outcome) == n
    assert delta(before, after, "fieldvisit_sync_push_lag_seconds_count",
                 type="contact_attempt") == 2
    for page_kind in ("bootstrap", "delta"):
        assert delta(before, after, "fieldvisit_sync_pull_bytes_count", page=page_kind) == 1
        assert delta(before, after, "fieldvisit_sync_pull_changes_count", page=page_kind) == 1
    assert delta(before, after, "fieldvisit_sync_pull_changes_sum", page="bootstrap") == 1
    assert delta(before, after, "fieldvisit_sync_pull_bytes_sum", page="bootstrap") == len(
        bootstrap.get_data())
    latency = "fieldvisit_http_request_duration_seconds_count"
    assert delta(before, after, latency, method="POST", route="/sync/push", status="200") == 2
    assert delta(before, after, latency, method="GET", route="/sync/pull", status="200") == 2
    assert not any("metrics" in dict(labels).get("route", "") for _, labels in after)


def test_requests_are_labelled_by_route_rule_not_path(client, phone):
    before = samples(client)
    client.get(f"/cases/{phone['case'].id}", headers=phone["headers"])
    client.get("/cases/999999", headers=phone["headers"])
    client.get("/nowhere/13812345678")
    after = samples(client)
    latency = "fieldvisit_http_request_duration_seconds_count"
    rule = "/cases/<int:case_id>"
    assert delta(before, after, latency, method="GET", route=rule, status="200") == 1
    assert delta(before, after, latency, method="GET", route=rule, status="404") == 1
    assert delta(before, after, latency, method="GET", route="<unmatched>", status="404") == 1
    assert not any("13812345678" in str(key) for key in after)


def test_pending_uploads_are_counted_when_scraped(client, world):
    alice = world.user("collector")
    case = world.case(collector=alice, lat=HOME[0], lon=HOME[1])
    phone = Phone(client, world.login(alice))
    assert samples(client)[("fieldvisit_evidence_uploads_pending", ())] == 0
    files = [declaration("DSCN0010.jpg"), declaration("DSCN0010.jpg", "doorplate")]
    result = phone.send("visit_report", report(case.id, None, files=files))
    assert result["status"] == "applied", result
    after = samples(client)
    assert after[("fieldvisit_evidence_uploads_pending", ())] == 2
    assert after[("fieldvisit_evidence_oldest_pending_upload_age_seconds", ())] >= 0


def test_metrics_can_be_closed_to_a_token_or_a_network(app_config):
    token = "scrape-" + "x" * 30
    closed = create_app(dataclasses.replace(app_config, metrics_token=token,
                                            metrics_networks="10.0.0.0/8"))
    client = closed.test_client()
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    inside = client.get("/metrics", environ_overrides={"REMOTE_ADDR": "10.1.2.3"})
    assert inside.status_code == 200


def test_metrics_are_not_in_the_api_spec(client):
    assert "/metrics" not in client.get("/openapi.json").get_json()["paths"]


def test_a_made_up_method_cannot_add_series(client):
    before = samples(client)
    client.open("/cases", method="ZZZQQQ1")
    after = samples(client)
    latency = "fieldvisit_http_request_duration_seconds_count"
    assert not any("ZZZQQQ1" in str(key) for key in after)
    assert delta(before, after, latency, method="OTHER", route="<unmatched>", status="405") == 1
