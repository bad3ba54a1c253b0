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
        filing,
        health,
        imports,
        proposals,
        sync,
        targets,
        timeline,
    )

    for module in (
        auth, admin, cases, timeline, imports, audit, sync, filing, field_records, proposals,
        evidence, health, targets,
    ):
        api.register_blueprint(module.blp)
