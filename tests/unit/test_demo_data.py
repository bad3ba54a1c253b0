"""The demo lender book: deterministic, valid identifiers, a realistic spread of buckets, and
debtors around the real places of api/data/places.csv."""

from collections import Counter
from datetime import date

import pytest

from api.models import AddressKind, Bucket, CaseStatus, CollateralKind, ContactRole, Product
from api.models import Relation as RelationEnum
from api.services.casefile.identifiers import (
    normalize_engine_number,
    normalize_national_id,
    normalize_phone,
    normalize_plate,
    normalize_vin,
    plate_kind,
)
from api.services.geo import geodesic_m, to_wgs84
from api.services.imports.demo.book import generate_cases_file, generate_payments_file
from api.services.imports.demo.loans import figures_of
from api.services.imports.demo.places import load_places

AS_OF = date(2026, 11, 21)


@pytest.fixture(scope="module")
def book() -> dict:
    return generate_cases_file(2000, seed=7, as_of=AS_OF)


def test_same_seed_same_book_other_seed_other_book(book):
    assert generate_cases_file(2000, seed=7, as_of=AS_OF) == book
    other = generate_cases_file(50, seed=8, as_of=AS_OF)
    assert other["cases"][0] != book["cases"][0]
    assert book["format"] == "fieldvisit.cases.v1" and book["as_of"] == "2026-11-21"


def test_every_identifier_passes_the_validators(book):
    regions = {code for p in load_places() for _, code in p.districts}
    ids_by_ref: dict[str, str] = {}
    plate_kinds: Counter[str] = Counter()
    for case in book["cases"]:
        debtor = case["debtor"]
        nid = debtor["national_id"]
        assert normalize_national_id(nid) == nid
        assert nid[:6] in regions
        assert ids_by_ref.setdefault(debtor["ref"], nid) == nid
        for phone in (debtor["mobile_phone"], debtor["home_phone"], debtor["work_phone"],
                      *(c["phone"] for c in case["contacts"])):
            if phone is not None:
                assert normalize_phone(phone) == phone
        provinces = {p.plate_prefix[0] for p in load_places()
                     if case["addresses"][0]["text"].startswith(p.city)}
        for item in case["collateral"]:
            assert normalize_engine_number(item["engine_no"]) == item["engine_no"]
            if item["vin"] is not None:
                assert item["vin"][0] == "L" and normalize_vin(item["vin"]) == item["vin"]
            if item["plate"] is not None:
                assert normalize_plate(item["plate"]) == item["plate"]
                assert item["plate"][0] in provinces
                plate_kinds[plate_kind(item["plate"])] += 1
    assert len(set(ids_by_ref.values())) == len(ids_by_ref), "one national ID per debtor"
    assert plate_kinds["ordinary"] > 300 and plate_kinds["new_energy_small"] > 50
    assert len({c["contract_no"] for c in book["cases"]}) == len(book["cases"])


def test_cases_follow_the_import_format(book):
    products = Counter(c["product"] for c in book["cases"])
    assert set(products) == {p.value for p in Product}
    guarantors = uninformed = 0
    for case in book["cases"]:
        assert case["status"] in {s.value for s in CaseStatus} - {"settled", "written_off"}
        assert case["lender_bucket"] in {b.value for b in Bucket}
        assert 1 <= len(case["contacts"]) <= 3 and 2 <= len(case["addresses"]) <= 3
        for contact in case["contacts"]:
            assert contact["relation"] in {r.value for r in RelationEnum}
            assert contact["role"] in {r.value for r in ContactRole}
            guarantors += contact["role"] == "guarantor"
            uninformed += not contact["knows_of_loan"]
            assert contact["knows_of_loan"] or contact["role"] == "reference"
        kinds = [a["kind"] for a in case["addresses"]]
        assert set(kinds) <= {k.value for k in AddressKind} and "home" in kinds
        # Machinery loans name the worksite (a repeat borrower's other loans may too).
        assert "worksite" in kinds or case["product"] != "machinery_finance"
        for item in case["collateral"]:
            assert item["kind"] in {k.value for k in CollateralKind}
        assert 6 <= len(case["schedule"]) <= 36
        assert sum(i["principal_fen"] for i in case["schedule"]) == case["principal_fen"]
        assert all(p["paid_on"] <= book["as_of"] for p in case["payments"])
    assert guarantors > 100 and uninformed > 300


def test_bucket_spread_is_realistic(book):
    buckets = Counter(figures_of(c, AS_OF).bucket for c in book["cases"])
    share = {b: n / len(book["cases"]) for b, n in buckets.items()}
    assert 0.38 <= share["current"] + share["M1"] <= 0.52
    assert 0.10 <= share["current"] <= 0.30
    assert 0.19 <= share["M2"] <= 0.31
    assert 0.10 <= share["M3"] <= 0.20
    assert 0.10 <= share["M3+"] <= 0.20
    # The lender's own bucket agrees with ours almost always.
    agree = sum(figures_of(c, AS_OF).bucket == c["lender_bucket"] for c in book["cases"])
    assert agree / len(book["cases"]) > 0.9


def test_coordinates_lie_within_20_km_of_a_real_place(book):
    places = [(p.lat, p.lon) for p in load_places()]
    datums: Counter[str] = Counter()
    points = [a for c in book["cases"] for a in c["addresses"] if a["lat"] is not None]
    points += [i["tracker"] for c in book["cases"] for i in c["collateral"] if "tracker" in i]
    for point in points:
        datums[point["datum"]] += 1
        lat, lon = to_wgs84(point["lat"], point["lon"], point["datum"])
        # Nearest place by a cheap planar measure, then the exact geodesic to it.
        near = min(places, key=lambda p: (p[0] - lat) ** 2 + (p[1] - lon) ** 2)
        assert geodesic_m(lat, lon, *near) < 20_000
    assert datums["WGS84"] > datums["GCJ02"] > datums["BD09"] > 0


def test_payments_file_pays_a_tenth_of_the_cases(book):
    doc = generate_payments_file(book, seed=7, as_of=date(2026, 11, 22))
    assert doc["format"] == "fieldvisit.payments.v1"
    contracts = {c["contract_no"] for c in book["cases"]}
    assert len(doc["payments"]) == 200 == len({p["contract_no"] for p in doc["payments"]})
    assert all(p["contract_no"] in contracts and p["amount_fen"] > 0 for p in doc["payments"])
    assert {b["contract_no"] for b in doc["balances"]} == {p["contract_no"]
                                                          for p in doc["payments"]}
    assert generate_payments_file(book, seed=7, as_of=date(2026, 11, 22)) == doc
