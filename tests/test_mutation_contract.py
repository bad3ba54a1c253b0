"""The push mutation contract in the spec: one component per mutation type behind a `oneOf`
discriminated by `type`, every closed vocabulary of every payload as an `enum` equal to the
Python one, the flags and the pull's reference data. A phone team can code against
`openapi.yaml` alone, and a sample of every type that the spec accepts is applied by push."""

from __future__ import annotations

import copy
import hashlib
import re
import uuid
from collections.abc import Iterator

import marshmallow as ma
import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate as validate_openapi

from api.config import Policy
from api.extensions import db
from api.models import Collateral
from api.models.vocabulary import FLAGS
from api.services.compliance.policies import preset_phone_policy, rules_of
from api.services.compliance.presets import PRESETS
from mobile_sync.reference import reference_data, reference_version
from mobile_sync.registry import MUTATIONS
from schemas.sync import PushSchema
from tests.conftest import DATA, ROOT
from tests.test_openapi import current_spec

PHONE_POLICIES = [preset_phone_policy(j) for j in PRESETS]

REF = "#/components/schemas/"
# Vocabularies a phone holds without the reference data (it picks them itself).


@pytest.fixture(scope="module")
def spec() -> dict:
    return current_spec()


def resolve(spec: dict, node: dict) -> dict:
    """A property with its `$ref` (or apispec's one-`allOf` wrapper) followed."""
    while True:
        if "$ref" in node:
            node = spec["components"]["schemas"][node["$ref"].removeprefix(REF)]
        elif len(node.get("allOf", ())) == 1:
            node = node["allOf"][0]
        else:
            return node


def push_items(spec: dict) -> dict:
    push = spec["components"]["schemas"]["Push"]
    return push["properties"]["mutations"]["items"]


def payload_component(spec: dict, type_name: str) -> dict:
    mutation = resolve(spec, {"$ref": push_items(spec)["discriminator"]["mapping"][type_name]})
    return resolve(spec, mutation["properties"]["payload"])


def allowed_values(field: ma.fields.Field) -> list | None:
    """The closed vocabulary a field accepts, as the marshmallow schema says (or None)."""
    if isinstance(field, ma.fields.Enum):
        return [m.value if field.by_value else m.name for m in field.enum]
    for validator in field.validators:
        if isinstance(validator, ma.validate.OneOf):
            return list(validator.choices)
    return None


def vocabularies(
    spec: dict, schema: ma.Schema, node: dict, path: str
) -> Iterator[tuple[str, ma.fields.Field, list, dict]]:
    """(path, field, its Python vocabulary, its spec property) for every enum-valued field of
    `schema`, nested schemas, lists and documented alternatives included."""
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        yield from _field_vocabularies(
            spec, field, resolve(spec, node["properties"][key]), f"{path}.{key}"
        )


def _field_vocabularies(spec, field, node, path):
    allowed = allowed_values(field)
    if allowed is not None:
        yield path, field, allowed, node
    if isinstance(field, ma.fields.Nested):
        yield from vocabularies(spec, field.schema, node, path)
    if isinstance(field, ma.fields.List):
        yield from _field_vocabularies(spec, field.inner, resolve(spec, node["items"]), f"{path}[]")
    for alternative, ref in zip(
        field.metadata.get("one_of", ()), node.get("oneOf", ()), strict=False
    ):
        yield from vocabularies(
            spec, alternative(), resolve(spec, ref), f"{path}<{alternative.__name__}>"
        )


def payload_vocabularies(spec: dict) -> Iterator[tuple[str, ma.fields.Field, list, dict]]:
    for type_name, kind in MUTATIONS.items():
        yield from vocabularies(spec, kind.schema(), payload_component(spec, type_name), type_name)


def mismatches(spec: dict) -> list[str]:
    """Enum-valued payload fields whose spec does not list exactly the Python vocabulary."""
    wrong = []
    for path, field, allowed, node in payload_vocabularies(spec):
        listed = node.get("enum")
        if listed is None or [v for v in listed if v is not None] != allowed:
            wrong.append(f"{path}: spec {listed}, python {allowed}")
        elif (None in listed) != field.allow_none:
            wrong.append(f"{path}: null in the spec's enum but allow_none={field.allow_none}")
    return wrong


def validator(spec: dict, component: str) -> OAS30Validator:
    document = {"$ref": REF + component, "components": spec["components"]}
    return OAS30Validator(document, format_checker=oas30_format_checker)


# --- the components -----------------------------------------------------------------------


def test_the_spec_is_valid_openapi(spec):
    validate_openapi(spec)


def test_every_mutation_type_has_its_component_in_the_push_body_one_of(spec):
    items = push_items(spec)
    mapping = items["discriminator"]["mapping"]
    assert items["discriminator"]["propertyName"] == "type"
    assert list(mapping) == list(MUTATIONS)
    assert [ref["$ref"] for ref in items["oneOf"]] == list(mapping.values())
    for type_name, kind in MUTATIONS.items():
        component = resolve(spec, {"$ref": mapping[type_name]})
        assert component["properties"]["type"]["enum"] == [type_name]
        assert set(component["required"]) == {"mutation_id", "type", "client_time", "payload"}
        payload = payload_component(spec, type_name)
        fields = kind.schema().load_fields
        assert set(payload["properties"]) == {f.data_key or n for n, f in fields.items()}
        assert set(payload.get("required", ())) == {n for n, f in fields.items() if f.required}


def test_the_components_docs_sync_md_names_exist(spec):
    section = (ROOT / "docs" / "sync.md").read_text().split("### The mutation contract")[1]
    named = set(re.findall(r"`([A-Z][A-Za-z]+)`", section))
    assert len(named) > len(MUTATIONS)
    assert named - set(spec["components"]["schemas"]) == set()


def test_the_request_schema_still_loads_any_type_and_payload():
    """The oneOf documents the contract; loading stays lenient so push answers per mutation."""
    body = PushSchema().load(
        {
            "device_id": str(uuid.uuid4()),
            "mutations": [
                {
                    "mutation_id": 1,
                    "type": "teleportation",
                    "client_time": "2026-11-20T10:00:00+08:00",
                    "payload": {"outcome": "nonsense"},
                }
            ],
        }
    )
    assert body["mutations"][0]["type"] == "teleportation"
    with pytest.raises(ma.ValidationError) as refused:
        PushSchema().load({"device_id": str(uuid.uuid4()), "mutations": [{"mutation_id": 1}]})
    assert set(refused.value.messages["mutations"][0]) == {"type", "client_time", "payload"}


# --- vocabularies -------------------------------------------------------------------------


def test_every_enum_valued_payload_field_lists_the_python_vocabulary(spec):
    assert mismatches(spec) == []
    found = {path for path, *_ in payload_vocabularies(spec)}
    assert {
        "contact_attempt.channel",
        "contact_attempt.outcome",
        "visit_report.met",
        "visit_report.outcome",
        "visit_report.reason",
        "visit_report.next_step",
        "visit_report.fixes[].provider",
        "visit_report.files[].kind",
        "visit_report.files[].mime",
        "visit_presence.datum",
        "field_proposal.kind",
        "field_proposal.data<ProposedPhoneSchema>.label",
        "field_proposal.data<ProposedAddressSchema>.kind",
        "field_proposal.data<ProposedContactSchema>.relation",
        "repayment_promise.method",
        "field_receipt.method",
        "notice_served.notice_type",
        "notice_served.served_to_role",
        "notice_served.method",
        "repossession.files[].kind",
        "reachability.reason",
    } <= found


def test_a_missing_or_stale_enum_is_found(spec):
    broken = copy.deepcopy(spec)
    schemas = broken["components"]["schemas"]
    del schemas["VisitReport"]["properties"]["met"]["enum"]
    schemas["Fix"]["properties"]["provider"]["enum"].pop()
    assert [m.split(":")[0] for m in mismatches(broken)] == [
        "visit_report.fixes[].provider",
        "visit_report.met",
    ]


def test_signature_strokes_are_documented_as_strokes_of_points(spec):
    strokes = payload_component(spec, "repayment_promise")["properties"]["signature_strokes"]
    point = strokes["items"]["items"]
    assert (point["minItems"], point["maxItems"], point["items"]["type"]) == (2, 2, "number")
    assert "[x, y]" in strokes["description"] and "y pointing down" in strokes["description"]
    validator(spec, "Promise").validate(
        {**promise_sample(1), "signature_strokes": strokes["example"]}
    )


def test_the_flags_of_a_push_answer_are_the_documented_vocabulary(spec):
    flags = spec["components"]["schemas"]["MutationResult"]["properties"]["flags"]
    assert flags["items"]["enum"] == list(FLAGS)
    for flag, meaning in FLAGS.items():
        assert f"`{flag}`: {meaning}" in flags["description"]


def test_the_reference_data_is_described_by_the_spec(spec):
    data = reference_data(PHONE_POLICIES)
    reference = {"version": reference_version(data), **data}
    validator(spec, "ReferenceData").validate(reference)
    described = spec["components"]["schemas"]["ReferenceData"]["properties"]
    assert set(described) == set(reference)
    for key, node in described.items():
        if key == "policies":
            continue  # objects, checked below
        if node.get("type") == "array":
            assert node["items"]["enum"] == reference[key], key
        elif node.get("type") == "object":
            assert list(node["properties"]) == list(reference[key]), key
    version = resolve(spec, resolve(spec, described["policies"]["items"])["properties"][
        "versions"]["items"])
    rules = resolve(spec, version["properties"]["rules"])
    assert set(rules["properties"]) == set(rules_of(Policy()))
    assert reference["flags"] == FLAGS


def test_the_reference_data_carries_every_payload_vocabulary(spec):
    data = reference_data(PHONE_POLICIES)
    held = [list(v) for v in data.values() if isinstance(v, list | dict)]
    missing = [
        path
        for path, _, allowed, _ in payload_vocabularies(spec)
        if allowed not in held
    ]
    assert missing == []


# --- real mutations against the spec and the server ---------------------------------------


def photo(kind: str, name: str = "DSCN0010.jpg") -> dict:
    data = (DATA / "photos" / name).read_bytes()
    return {
        "id": str(uuid.uuid4()),
        "kind": kind,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "mime": "image/jpeg",
        "captured_at": "2026-11-20T10:05:00+08:00",
    }


def record(case_id: int, **fields) -> dict:
    return {"id": str(uuid.uuid4()), "case_id": case_id, **fields}


def promise_sample(case_id: int) -> dict:
    return record(
        case_id,
        plan=[
            {"due_on": "2026-12-01", "amount_fen": 300_000},
            {"due_on": "2027-01-01", "amount_fen": 200_000},
        ],
        method="bank_transfer",
        signer_name="张伟",
        signer_national_id="440308199901101512",
        signature_strokes=[[[0, 0], [10, 5], [20, 0]], [[5, 10]]],
        place_text="深圳市福田区",
        signed_at="2026-11-20T10:30:00+08:00",
    )


def samples(case_id: int, collateral_id: int) -> list[tuple[str, dict]]:
    """One real mutation of every type (and each kind of proposal), as a phone files them."""
    at = "2026-11-20T10:00:00+08:00"
    return [
        ("contact_attempt", record(case_id, channel="call", outcome="no_answer", occurred_at=at)),
        ("case_note", record(case_id, text="Neighbour says he works nights.")),
        (
            "field_proposal",
            record(case_id, kind="phone", data={"phone": "13912345678", "label": "work"}),
        ),
        (
            "field_proposal",
            record(case_id, kind="address", data={"kind": "work", "text": "福田区 88号"}),
        ),
        (
            "field_proposal",
            record(case_id, kind="contact", data={"name": "王芳", "relation": "sibling"}),
        ),
        (
            "visit_report",
            record(
                case_id,
                started_at=at,
                ended_at="2026-11-20T10:20:00+08:00",
                fixes=[
                    {
                        "lat": 22.54554,
                        "lon": 114.0683,
                        "accuracy_m": 10.0,
                        "provider": "gps",
                        "fix_time": at,
                        "datum": "WGS84",
                    }
                ],
                met="debtor",
                outcome="promise_to_pay",
                reason="business_cash_flow",
                next_step="revisit",
                files=[photo("doorplate")],
            ),
        ),
        (
            "visit_presence",
            record(
                case_id,
                recorded_at="2026-11-20T10:05:00+08:00",
                lat=22.54560,
                lon=114.0684,
                accuracy_m=12.0,
                datum="WGS84",
            ),
        ),
        ("repayment_promise", promise_sample(case_id)),
        (
            "field_receipt",
            record(
                case_id,
                receipt_no="R-000123",
                amount_fen=100_000,
                method="cash",
                payer_name="张伟",
                received_at="2026-11-20T10:40:00+08:00",
                files=[photo("receipt")],
            ),
        ),
        (
            "notice_served",
            record(
                case_id,
                notice_type="overdue_notice",
                served_to_name="张伟",
                served_to_role="debtor",
                method="in_person",
                served_at="2026-11-20T10:45:00+08:00",
                files=[photo("notice")],
            ),
        ),
        (
            "vehicle_sighting",
            record(
                case_id,
                collateral_id=collateral_id,
                vin_read="LSJA24U62JG269225",
                seen_at="2026-11-20T11:00:00+08:00",
                files=[photo("vehicle_vin_plate")],
            ),
        ),
        (
            "repossession",
            record(
                case_id,
                collateral_id=collateral_id,
                recovered_at="2026-11-21T03:10:00+08:00",
                files=[photo("vehicle", "DSCN0012.jpg")],
            ),
        ),
        (
            "reachability",
            record(case_id, unreachable=True, reason="phones_off",
                   since="2026-11-18T09:00:00+08:00"),
        ),
    ]


def enum_paths(schema: ma.Schema, data: dict, path: tuple = ()) -> Iterator[tuple]:
    """The paths of the enum-valued values present in `data`, e.g. ("files", 0, "kind")."""
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        if data.get(key) is not None:
            yield from _value_paths(field, data[key], (*path, key))


def _value_paths(field, value, path):
    if allowed_values(field) is not None:
        yield path
    if isinstance(field, ma.fields.Nested):
        yield from enum_paths(field.schema, value, path)
    if isinstance(field, ma.fields.List):
        for i, item in enumerate(value):
            yield from _value_paths(field.inner, item, (*path, i))
    for alternative in field.metadata.get("one_of", ()):
        if not alternative().validate(value):
            yield from enum_paths(alternative(), value, path)


def with_value(payload: dict, path: tuple, value) -> dict:
    changed = copy.deepcopy(payload)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def push_body(device_id: str, mutations: list[tuple[str, dict]], first_id: int = 1) -> dict:
    return {
        "device_id": device_id,
        "mutations": [
            {
                "mutation_id": first_id + i,
                "type": type_name,
                "client_time": "2026-11-20T10:00:00+08:00",
                "payload": payload,
            }
            for i, (type_name, payload) in enumerate(mutations)
        ],
    }


def test_the_spec_accepts_what_push_applies_and_refuses_a_wrong_enum_push_rejects(world, client):
    collector = world.user("collector")
    case = world.case(collector=collector)
    vehicle = db.session.query(Collateral).filter_by(case_id=case.id).one()
    headers = world.login(collector)
    device = headers["X-Device-Id"]
    spec = client.get("/openapi.json").get_json()
    push = validator(spec, "Push")

    good = samples(case.id, vehicle.id)
    assert {t for t, _ in good} == set(MUTATIONS)
    body = push_body(device, good)
    push.validate(body)
    answer = client.post("/sync/push", headers=headers, json=body)
    assert answer.status_code == 200, answer.get_json()
    assert [r["status"] for r in answer.get_json()["results"]] == ["applied"] * len(good)
    validator(spec, "PushResult").validate(answer.get_json())  # flags too: they are an enum
    assert {f for r in answer.get_json()["results"] for f in r["flags"]} >= {"too_few_collectors"}

    wrong, expected_fields = [], []
    for type_name, payload in good:
        for path in enum_paths(MUTATIONS[type_name].schema(), payload):
            changed = with_value(payload, path, "no_such_value")
            assert not push.is_valid(push_body(device, [(type_name, changed)])), path
            wrong.append((type_name, changed))
            expected_fields.append(".".join(["payload", *map(str, path)]))
    timed = {**promise_sample(case.id), "signature_strokes": [[[0, 0, 0], [10, 5, 16]]]}
    wrong.append(("repayment_promise", timed))  # a point is [x, y], not [x, y, t]
    expected_fields.append("payload.signature_strokes.0.0")
    assert not push.is_valid(push_body(device, wrong[-1:]))
    wrong.append(("teleportation", good[1][1]))
    assert not push.is_valid(push_body(device, wrong[-1:]))
    assert len(wrong) > 2 * len(MUTATIONS)

    answer = client.post(
        "/sync/push", headers=headers, json=push_body(device, wrong, first_id=len(good) + 1)
    )
    assert answer.status_code == 200, answer.get_json()
    results = answer.get_json()["results"]
    validator(spec, "PushResult").validate(answer.get_json())
    assert [r["status"] for r in results] == ["rejected"] * len(wrong)
    for result, field in zip(results, [*expected_fields, "type"], strict=True):
        assert field in result["fields"], (field, result)


def test_a_bootstrap_pull_carries_the_reference_data_the_spec_describes(world, client):
    collector = world.user("collector")
    world.case(collector=collector)
    headers = world.login(collector)
    spec = client.get("/openapi.json").get_json()
    page = client.get("/sync/pull", headers=headers)
    assert page.status_code == 200
    validator(spec, "PullPage").validate(page.get_json())
    assert page.get_json()["reference"]["flags"] == FLAGS
