"""The field's closed vocabularies that are not database enums: who was met, how money was
paid, which notices are served, and the flags a record may carry. One list each, used by the
payload schemas, the reference data phones carry, the record filters and the spec."""

from __future__ import annotations

MET = (
    "debtor",
    "spouse",
    "family",
    "guarantor",
    "colleague",
    "employer",
    "neighbour",
    "nobody",
    "other",
)
PROMISE_METHODS = ("cash", "bank_transfer", "alipay", "wechat", "other")
RECEIPT_METHODS = ("cash", "bank_transfer", "alipay", "wechat", "pos", "other")
NOTICE_TYPES = ("overdue_notice", "demand_letter", "lawyer_letter")
SERVED_TO_ROLES = ("debtor", "guarantor", "counter_guarantor", "family_member", "employer", "other")
SERVICE_METHODS = ("in_person", "left_at_address", "registered_mail", "ems")
FIX_PROVIDERS = ("gps", "network", "fused", "other")
PHONE_LABELS = ("mobile", "home", "work")
PHONE_OWNERS = ("debtor", "contact")  # whose phone a proposed number is
FILE_MIMES = ("image/jpeg", "image/heic", "image/heif", "image/png", "application/pdf")

# Reasons for delinquency and debtor attitudes, from the trade's training material (DOMAIN.md).
DELINQUENCY_REASONS = {
    "business_cash_flow": "经营资金周转困难 business cash-flow trouble",
    "market_change": "市场变化 market change",
    "family_divorce": "家庭变故：离婚 divorce",
    "family_illness": "家庭变故：疾病 illness",
    "family_schooling": "家庭变故：子女上学 schooling costs",
    "family_renovation": "家庭变故：装修 home renovation",
    "unemployment": "失业 / 收入下降 lost job or income",
    "malicious_gambling": "恶意：赌博 gambling",
    "malicious_fraud": "恶意：欺诈 fraud",
    "malicious_never_intended": "恶意：无还款意愿 never meant to pay",
    "other": "其他 other",
}

# Why a debtor is marked unreachable (the policy may then allow contacts and third parties).
UNREACHABLE_REASONS = {
    "phones_unanswered": "电话无人接听 every phone rings out, day after day",
    "phones_off": "关机 / 停机 every phone switched off or out of service",
    "numbers_invalid": "空号 / 错号 every number is wrong or disconnected",
    "moved_away": "搬离 not at any known address",
    "absconded": "失联 vanished on purpose",
    "detained": "羁押 in custody",
    "hospitalised": "住院 in hospital, cannot be reached",
    "other": "其他 other (say why in the note)",
}

# Every flag a field record can carry: push answers, stored records and `?flag=` filters use
# these names and no others. A flag never blocks a save; it surfaces an exception for review.
FLAGS = {
    "third_party_amount": "an amount was recorded with a third party, who may not be told of the "
    "debt",
    "outside_visit_hours": "started or ended outside the policy's visit hours, debtor-local",
    "too_few_collectors": "fewer verified collectors present than the policy requires",
    "unverified_co_collector": "a named co-collector's presence is not verified (no attestation, "
    "and no presence of theirs has paired yet)",
    "far_from_address": "the GPS fix is outside the geofence around the visited address",
    "location_uncertain": "the fix's accuracy circle straddles the geofence",
    "no_gps_fix": "the report carries no GPS fix",
    "address_not_located": "the visited address has no coordinates to compare with",
    "mock_location": "the phone reported a mock (simulated) location",
    "device_clock_offset": "the phone's clock was off by more than the policy allows",
    "outside_contact_hours": "a call or message outside the policy's contact hours, debtor-local",
    "in_blackout": "at a time or place the debtor declared off limits",
    "over_daily_attempt_cap": "more attempts that debtor-local day than the policy allows",
    "over_weekly_attempt_cap": "more attempts in 7 days than the policy allows",
    "vehicle_mismatch": "the VIN or engine number read on site differs from the file",
    "case_reassigned": "the case had left the author when the record arrived",
    "contact_while_reachable": "a contact or third party was contacted while the debtor was "
    "not marked unreachable",
}
