"""Every blueprint, registered in one place."""

from api.extensions import Api


def register_blueprints(api: Api) -> None:
    from api.resources import (
        admin,
        audit,
        auth,
        cases,
        evidence,
        field_records,
        imports,
        proposals,
        sync,
    )

    for module in (auth, admin, cases, imports, audit, sync, proposals, evidence, field_records):
        api.register_blueprint(module.blp)
