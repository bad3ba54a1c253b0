"""Demo data: a realistic lender book around real places, and a one-shot demo seed.

`book.generate_cases_file` writes a `fieldvisit.cases.v1` document (docs/import-format.md) whose
debtors live within a few km of the places in `api/data/places.csv` (GeoNames, CC BY 4.0).
Every identifier is valid (national ID check digit and region, ISO 3779 VIN check digit, plates
of the place's province, Chinese phones) and the schedules and payments are shaped so that the
buckets computed from them spread as a collection book does. Deterministic for a seed.
"""
