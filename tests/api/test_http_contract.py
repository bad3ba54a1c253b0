"""What every response promises a browser, a proxy and a client generator: personal data is
never stored by a cache, security headers everywhere, docs that load nothing from elsewhere,
`Allow` on 405, and one documented error body for every error response."""

from __future__ import annotations

import re

import pytest

from tests.test_openapi import current_spec

FIXED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"


def assert_private(response) -> None:
    for name, value in FIXED.items():
        assert response.headers[name] == value, name
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["Pragma"] == "no-cache"
    assert response.headers["Content-Security-Policy"] == JSON_POLICY


def test_personal_data_is_never_cached_and_every_answer_is_hardened(client, world):
    team = world.team()
    supervisor = world.user("supervisor", team)
    headers = world.login(supervisor)
    case = world.case(team=team)
    login = client.post("/auth/login", json={"username": "nobody", "password": "x" * 12})
    answers = [
        client.get(f"/cases/{case.id}", headers=headers),  # the case file
        client.get(f"/cases?q={case.contract_no}", headers=headers),  # a search
        client.get(f"/cases/{case.id}/timeline", headers=headers),
        client.get("/cases/999999", headers=headers),  # an error
        client.get("/cases"),  # no token
        login,  # token answers too
    ]
    assert [a.status_code for a in answers][:4] == [200, 200, 200, 404]
    for answer in answers:
        assert_private(answer)
    assert "Strict-Transport-Security" not in answers[0].headers  # plain HTTP


def test_over_https_the_browser_is_told_to_stay_on_https(client, world):
    team = world.team()
    headers = world.login(world.user("supervisor", team))
    answer = client.get("/cases", headers=headers, base_url="https://fieldvisit.example")
    assert answer.status_code == 200
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def referenced_urls(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', page) + re.findall(r'url: "([^"]+)"', page)


def test_the_docs_load_nothing_from_elsewhere(client):
    docs = client.get("/docs")
    assert docs.status_code == 200
    page = docs.get_data(as_text=True)
    urls = referenced_urls(page)
    assert len(urls) >= 4  # the stylesheet, two scripts and the OpenAPI document
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page), "an external asset"
    for url in urls:
        assert not re.match(r"(https?:)?//", url), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.content_length or asset.get_data(), url
    assert "swagger-ui-bundle.js" in page and '"validatorUrl": null' in page
    policy = docs.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", policy).group(1)
    assert "'unsafe-inline'" not in script_src and "'sha256-" in script_src
    assert "frame-ancestors 'none'" in policy
    assert docs.headers["X-Content-Type-Options"] == "nosniff"


def test_a_wrong_method_says_which_are_allowed(client, world):
    headers = world.login(world.user("admin"))
    answer = client.delete("/cases", headers=headers)
    assert answer.status_code == 405
    assert {m.strip() for m in answer.headers["Allow"].split(",")} >= {"GET", "HEAD", "OPTIONS"}
    assert "DELETE" not in answer.headers["Allow"]
    assert answer.get_json()["error"]["code"] == "method_not_allowed"
    assert answer.mimetype == "application/json"


@pytest.fixture(scope="module")
def spec() -> dict:
    return current_spec()


READINESS_503 = ("/readyz", "503")  # "not ready" names its checks (schema Readiness)


def error_responses(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                for code, response in op["responses"].items():
                    if not code.startswith("2") and (path, code) != READINESS_503:
                        yield f"{method.upper()} {path} {code}", response


def test_every_error_response_has_the_one_error_body(spec):
    responses = spec["components"]["responses"]
    checked = 0
    for where, response in error_responses(spec):
        if "$ref" in response:
            response = responses[response["$ref"].rsplit("/", 1)[-1]]
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        assert schema.get("$ref") == "#/components/schemas/Error", where
        checked += 1
    assert checked > 200  # every operation has several (401, 403, 404, 422, default...)


def test_behind_a_tls_proxy_a_setting_forces_the_hsts_header(app, client, world):
    headers = world.login(world.user("supervisor", world.team()))
    config = app.config["FIELDVISIT"]
    saved, config.force_hsts = config.force_hsts, True
    try:
        answer = client.get("/cases", headers=headers)  # plain HTTP from the proxy
    finally:
        config.force_hsts = saved
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")
