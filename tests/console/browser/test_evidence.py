"""Legal staff on a case's evidence (GET /cases/{id}/evidence): the gallery's thumbnail, capture
time and place on a map with no tiles, a photo's chain of custody; an original downloaded
through its signed link; the evidence pack built by a job (POST /cases/{id}/evidence-packs,
GET /jobs/{id}), downloaded and verified with the real `fieldvisit evidence verify`."""

from __future__ import annotations

import hashlib
import re
import subprocess
import zipfile

from playwright.sync_api import expect

from tests.console.browser.conftest import call, token
from tests.ops.test_serve import FIELDVISIT


def test_legal_staff_see_a_photo_with_its_custody_and_download_the_original_and_a_verified_pack(
        console, server, tmp_path):
    photo = server.photo
    console.open()
    console.sign_in(server.legal)
    page = console.page
    expect(page).to_have_url(re.compile(r"#/legal$"))
    console.open(f"#/case/{photo['case_id']}")

    figure = page.locator(f'figure.evidence[data-file-id="{photo["file_id"]}"]')
    expect(figure).to_be_visible()
    thumbnail = figure.locator("img")
    expect(thumbnail).to_have_attribute("src", re.compile(r"^/blobs/.*thumbnail"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=thumbnail.element_handle())
    expect(figure.locator("time.captured")).to_contain_text("Asia/Shanghai")  # the debtor's too
    expect(figure.locator(".place")).to_contain_text(re.compile(r"22\.\d{5}, 114\.\d{5} ±8 m"))
    expect(page.locator("#evidence-map path.evidence-point")).to_have_count(1)  # no tiles, a point

    figure.get_by_text("保管链").click()
    chain = figure.locator("details.custody")
    expect(chain).to_have_attribute("open", "")
    expect(chain).to_contain_text(photo["sha256"])
    expect(chain).to_contain_text("Alice Wang")  # the uploader
    console.shot("evidence-gallery")

    with page.expect_download() as original:
        figure.get_by_role("button", name="下载原件").click()
    saved = tmp_path / original.value.suggested_filename
    original.value.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == photo["sha256"]

    page.get_by_role("button", name="申请证据包").click()
    link = page.locator("#pack-download")
    expect(link).to_be_visible(timeout=30_000)
    expect(page.locator(".pack-ready")).to_contain_text("1 个文件")
    console.shot("evidence-pack")
    with page.expect_download() as pack:
        link.click()
    zip_path = tmp_path / pack.value.suggested_filename
    pack.value.save_as(zip_path)
    assert zip_path.suffix == ".zip"
    with zipfile.ZipFile(zip_path) as archive:
        assert "manifest.json" in archive.namelist()

    _, custody = call(server, "GET", f"/cases/{photo['case_id']}/evidence",
                      token=token(server, server.legal))
    [sealed] = [p["manifest_sha256"] for p in custody["packs"] if p["manifest_sha256"]]
    verified = subprocess.run(
        [FIELDVISIT, "evidence", "verify", str(zip_path), "--manifest-sha256", sealed],
        env=server.env, capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "pack verified: 1 files" in verified.stdout
    [file] = custody["files"]
    originals = [a for a in file["accesses"]
                 if a["action"] == "evidence.download" and a["variant"] == "original"]
    assert [a["actor"]["username"] for a in originals] == [server.legal]  # audited, once

    page.reload()  # the chain of custody now shows the download and the pack
    chain = page.locator(f'figure.evidence[data-file-id="{photo["file_id"]}"] details.custody')
    chain.locator("summary").click()
    downloads = chain.locator('li[data-action="evidence.download"]', has_text="(original)")
    expect(downloads).to_have_count(1)
    expect(page.locator("ul.pack-list li")).to_contain_text(sealed)
