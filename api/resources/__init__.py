"""Every blueprint, registered in one place."""

from api.extensions import Api


def register_blueprints(api: Api) -> None:
    from api.resources import (
        admin,
        assignments,
        audit,
        auth,
        blackouts,
        cases,
        complaints,
        evidence,
        exceptions_feed,
        field_records,
        filing,
        health,
        imports,
        jobs,
        legal_holds,
        policies,
        proposals,
        reachability,
        retention,
        routes,
        server_files,
        subject_requests,
        sync,
        targets,
        timeline,
    )

    for module in (
        auth, admin, cases, timeline, imports, audit, sync, filing, field_records, proposals,
        evidence, exceptions_feed, health, assignments, routes, targets, policies, blackouts,
        complaints, reachability, legal_holds, subject_requests, jobs, retention, server_files,
    ):
        api.register_blueprint(module.blp)
