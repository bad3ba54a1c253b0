"""Administrators: import runs with their counts and row errors (GET /imports,
GET /imports/{id}), a file uploaded from the browser as a dry run (POST /imports, multipart),
a running one's progress bar and its cancel (POST /imports/{id}/cancel);
the teams and users (GET /admin/teams, GET /admin/users) and a collector's devices, one revoked
from the console (POST /admin/devices/{id}/revoke) whose tokens then stop working; a user
created and edited (POST /admin/users, PATCH /admin/users/{id} with the ETag read, so another
administrator's change meanwhile is refused, not overwritten) and their password reset, shown
once (POST /admin/users/{id}/password), and a user locked out by wrong passwords let in again
(DELETE /admin/users/{id}/lockout); a collector's authorisation recorded and revoked
(/admin/users/{id}/authorisations); a team created and edited (POST /admin/teams,
PATCH /admin/teams/{id}); a policy version added (POST /policies/{id}/versions), which legal
staff then read but cannot change."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.conftest import ROOT
from tests.console.browser.conftest import call, token
from tests.factories import PASSWORD

INVALID_CASES = ROOT / "tests" / "data" / "imports" / "cases_invalid.csv"


def test_an_administrator_reads_an_import_run_and_its_row_errors(console, server):
    run = server.import_run
    console.open()
    console.sign_in(server.admin)
    page = console.page
    page.get_by_role("link", name="导入").click()
    row = page.locator(f'table.import-list tr[data-run-id="{run["id"]}"]')
    expect(row).to_contain_text("payments")
    expect(row.locator("td.state")).to_contain_text("已完成")
    expect(row.locator("td.error")).to_have_text(str(len(run["errors"])))
    console.shot("imports")

    row.get_by_role("link", name=f"#{run['id']}").click()
    expect(page).to_have_url(re.compile(rf"#/import/{run['id']}$"))
    errors = page.locator("table.row-errors tbody tr")
    expect(errors).to_have_count(len(run["errors"]))
    for n, (line, field, contract_no) in enumerate(run["errors"]):
        expect(errors.nth(n)).to_contain_text(str(line))
        expect(errors.nth(n)).to_contain_text(field)
        expect(errors.nth(n)).to_contain_text(contract_no)
    console.shot("import-run")


def test_an_administrator_uploads_a_lender_file_as_a_dry_run(console, server):
    """A cases file chosen in the browser goes up as a multipart form (POST /imports); its run
    opens, finishes and lists its row errors; as a dry run it saved nothing."""
    console.open()
    console.sign_in(server.admin)
    page = console.page
    page.get_by_role("link", name="导入").click()
    form = page.locator("form", has=page.get_by_role("heading", name="上传文件导入"))
    form.get_by_label("类型").select_option("cases")
    form.get_by_label("文件").set_input_files(str(INVALID_CASES))
    form.get_by_label("试运行").check()
    form.get_by_role("button", name="上传并导入").click()
    expect(page).to_have_url(re.compile(r"#/import/\d+$"))
    expect(page.locator("#import-state")).to_contain_text("已完成")
    run_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_role("heading", level=1)).to_have_text(f"导入 #{run_id} · cases")
    status, run = call(server, "GET", f"/imports/{run_id}", token=token(server, server.admin))
    assert status == 200
    assert (run["dry_run"], run["filename"], run["file_format"]) == (
        True, "cases_invalid.csv", "csv")
    assert (run["created"], len(run["errors"])) == (1, 9), run  # HT-C-1 would be created
    expect(page.locator("table.row-errors tbody tr")).to_have_count(len(run["errors"]))
    status, found = call(server, "GET", "/cases?q=HT-C-1", token=token(server, server.admin))
    assert status == 200 and found["items"] == [], found  # a dry run saves nothing
    console.shot("import-uploaded")


def test_an_administrator_revokes_a_collectors_phone_and_its_tokens_stop_working(console, server):
    phone = str(uuid.uuid4())
    status, pair = call(server, "POST", "/auth/login", {
        "username": server.collector, "password": PASSWORD,
        "device": {"id": phone, "label": "spare phone", "platform": "android-14"}})
    assert status == 200, pair
    assert call(server, "GET", "/auth/me", token=pair["access_token"])[0] == 200

    console.open()
    console.sign_in(server.admin)
    page = console.page
    page.get_by_role("link", name="用户").click()
    page.locator("form.filters").get_by_label("角色").select_option("collector")
    page.get_by_role("button", name="筛选").click()
    users = page.locator("table.user-list tbody tr")
    expect(users).to_have_count(len(server.collectors) + 2)  # and GZ-1's: Carol, Dan
    expect(users.filter(has_text="管理员")).to_have_count(0)
    expect(users.filter(has_text=server.collector).locator("td.team")).to_contain_text("SZ-1 · ")
    page.get_by_role("button", name=f"设备: {server.collector}").click()
    device = page.locator(f'table.device-list tr[data-device-id="{phone}"]')
    expect(device).to_contain_text("spare phone")
    expect(device.locator("td.state")).to_have_text("有效")
    console.shot("devices")

    device.get_by_role("button", name="吊销 spare phone").click()
    expect(device.locator("td.state")).to_contain_text("已吊销")
    expect(device.get_by_role("button")).to_have_count(0)
    console.shot("device-revoked")
    assert call(server, "GET", "/auth/me", token=pair["access_token"])[0] == 401
    assert call(server, "POST", "/auth/refresh", {"refresh_token": pair["refresh_token"]})[0] == 401


def test_an_administrator_follows_a_running_import_and_cancels_it(console, server):
    running = server.admin_seed["running_import"]
    console.open()
    console.sign_in(server.admin)
    page = console.page
    page.get_by_role("link", name="导入").click()
    row = page.locator(f'table.import-list tr[data-run-id="{running.id}"]')
    expect(row.locator("td.state")).to_contain_text("进行中")
    expect(row.locator("progress")).to_have_attribute("value", "40")
    row.get_by_role("link", name=f"#{running.id}").click()
    state = page.locator("#import-state")
    expect(state.get_by_role("progressbar", name=f"导入进度 #{running.id}")).to_have_attribute(
        "value", "40")
    expect(state).to_contain_text("已处理 2 / 5（40%）")
    console.shot("import-running")

    cancel = page.get_by_role("button", name="取消导入")
    cancel.focus()
    page.keyboard.press("Enter")
    expect(state).to_contain_text("已请求取消")
    expect(cancel).to_have_count(0)
    console.shot("import-cancel-requested")
    admin = token(server, server.admin)
    status, run = call(server, "GET", f"/imports/{running.id}", token=admin)
    assert status == 200 and run["cancel_requested"] and run["status"] == "running", run

    running.release()  # the job commits the chunk it is in, then stops
    expect(state).to_contain_text("已取消", timeout=15_000)
    expect(state.get_by_role("progressbar")).to_have_count(0)
    console.shot("import-cancelled")
    status, run = call(server, "GET", f"/imports/{running.id}", token=admin)
    assert (run["status"], run["done"], run["total"]) == ("cancelled", 4, 5), run


def test_an_administrator_creates_a_user_resets_their_password_and_deactivates_them(
        console, server):
    seed = server.admin_seed
    username = f"gz-dave-{server.engine}"
    console.open()
    console.sign_in(server.admin)
    page = console.page
    page.get_by_role("link", name="用户").click()
    new = page.locator("section.user-new")
    new.get_by_label("用户名").fill(username)
    new.get_by_label("姓名").fill("Dave Chen")
    new.get_by_label("角色").select_option("collector")
    new.get_by_label("团队").select_option(label=seed["team_label"])
    new.get_by_label("初始密码").fill("first password 1")
    new.get_by_role("button", name="创建用户").click()
    expect(page.locator("#user-created")).to_have_text("用户已创建。")
    row = page.locator("table.user-list tbody tr", has_text=username)
    expect(row.locator("td.team")).to_contain_text(f"{seed['team']} · ")
    expect(row.locator("td.state")).to_have_text("有效")
    before = login(server, username, "first password 1")
    assert before[0] == 200, before

    row.get_by_role("button", name=f"修改: {username}").click()
    edit = page.locator("section.user-edit")
    expect(edit.get_by_label("姓名")).to_be_focused()
    edit.get_by_role("button", name="重置密码").click()
    shown = edit.locator("code.password")
    expect(shown).to_be_visible()
    password = shown.inner_text()
    console.shot("password-reset")
    assert call(server, "GET", "/auth/me", token=before[1]["access_token"])[0] == 401
    assert login(server, username, "first password 1")[0] == 401
    after = login(server, username, password)
    assert after[0] == 200, after

    # Another administrator renames Dave meanwhile: this change is refused (If-Match), not
    # laid over theirs, and the editor shows Dave as he is now.
    dave = row.get_attribute("data-user-id")
    status, _ = call(server, "PATCH", f"/admin/users/{dave}", {"full_name": "Dave W. Chen"},
                     token=token(server, server.admin))
    assert status == 200
    console.expect(412, f"/admin/users/{dave}")
    edit.get_by_label("姓名").fill("Dave Chen (supervisor)")
    edit.get_by_role("button", name="保存").click()
    expect(page.locator("#user-outcome")).to_contain_text("另一位管理员刚修改了此用户")
    expect(edit.get_by_label("姓名")).to_have_value("Dave W. Chen")
    expect(row).to_contain_text("Dave W. Chen")

    edit.get_by_label("姓名").fill("Dave Chen (supervisor)")
    edit.get_by_label("角色").select_option("supervisor")
    edit.get_by_label("账户有效").uncheck()
    edit.get_by_role("button", name="保存").click()
    expect(page.locator("#user-outcome")).to_have_text("已保存。")
    expect(row.locator("td.state")).to_have_text("已停用")
    expect(row).to_contain_text("主管")
    expect(row).to_contain_text("Dave Chen (supervisor)")
    console.shot("user-edited")
    assert call(server, "GET", "/auth/me", token=after[1]["access_token"])[0] == 401
    status, refused = login(server, username, password)
    assert status == 401 and refused["error"]["code"] == "account_disabled", refused


def test_an_administrator_lifts_a_sign_in_lockout(console, server):
    """Ten wrong passwords lock a user out, the right one included (429); the administrator
    lifts the lockout from the user's editor and the right password works again."""
    username = f"legal-erin-{server.engine}"
    status, created = call(server, "POST", "/admin/users", {
        "username": username, "full_name": "Erin Xu", "role": "legal",
        "password": "right password 1"}, token=token(server, server.admin))
    assert status == 201, created
    for _ in range(10):
        assert login(server, username, "wrong password")[0] == 401
    status, refused = login(server, username, "right password 1")
    assert status == 429 and refused["error"]["code"] == "too_many_attempts", refused

    console.open()
    console.sign_in(server.admin)
    page = console.page
    page.get_by_role("link", name="用户").click()
    row = page.locator("table.user-list tbody tr", has_text=username)
    row.get_by_role("button", name=f"修改: {username}").click()
    edit = page.locator("section.user-edit")
    edit.get_by_role("button", name="解除登录锁定").click()
    expect(page.locator("#user-outcome")).to_have_text("已解除登录锁定：输错的密码次数已清零。")
    assert login(server, username, "right password 1")[0] == 200


def test_an_administrator_records_and_revokes_a_collectors_authorisation(console, server):
    """Carol's certificates: one recorded (any lender, no expiry), then revoked at once; a revoke
    without its reason is not sent; the revoked one stays on file with the reason."""
    carol = server.admin_seed["collector"]
    console.open()
    console.sign_in(server.admin)
    page = console.page
    page.get_by_role("link", name="用户").click()
    page.get_by_role("button", name=f"上岗资质: {carol}").click()
    box = page.locator("section.authorisations")
    expect(box.get_by_role("heading", level=2)).to_have_text(f"上岗资质： {carol}")
    certificate = f"CBA-2026-{server.engine}"
    box.get_by_label("证书编号").fill(certificate)
    box.get_by_label("生效日").fill("2026-01-01")
    box.get_by_role("button", name="登记").click()
    expect(page.locator("#authorisation-outcome")).to_have_text("资质已登记。")
    row = box.locator("table.authorisation-list tbody tr", has_text=certificate)
    expect(row).to_contain_text("长期有效")
    expect(row.locator("td.state")).to_have_text("有效")

    row.get_by_role("button", name=f"吊销: {certificate}").click()
    expect(page.locator("#authorisation-outcome")).to_have_text("请填写吊销原因（至少 3 个字）。")
    row.get_by_label(f"吊销原因: {certificate}").fill("certificate withdrawn")
    row.get_by_role("button", name=f"吊销: {certificate}").click()
    expect(page.locator("#authorisation-outcome")).to_have_text("资质已吊销，记录保留。")
    expect(row.locator("td.state")).to_contain_text("已吊销")
    expect(row.locator("td.state")).to_contain_text("certificate withdrawn")
    console.shot("authorisations")

    admin = token(server, server.admin)
    status, users = call(server, "GET", "/admin/users?role=collector&page_size=200", token=admin)
    assert status == 200
    [carol_id] = [u["id"] for u in users["items"] if u["username"] == carol]
    status, listed = call(server, "GET", f"/admin/users/{carol_id}/authorisations", token=admin)
    assert status == 200
    [kept] = [a for a in listed["items"] if a["certificate_no"] == certificate]
    assert (kept["lender"], kept["jurisdiction"], kept["expires_on"]) == ("*", "CN", None)
    assert kept["revoked_at"] is not None and kept["revoke_reason"] == "certificate withdrawn"


def test_an_administrator_creates_and_edits_a_team(console, server):
    code = f"HZ-{server.engine}"
    console.open()
    console.sign_in(server.admin)
    page = console.page
    page.get_by_role("link", name="团队").click()
    expect(page.locator("table.team-list")).to_contain_text("SZ-1")
    new = page.locator("form", has=page.get_by_role("heading", name="新建团队"))
    new.get_by_label("代码").fill(code)
    new.get_by_label("团队名称").fill("Hangzhou")
    new.get_by_role("button", name="创建团队").click()
    expect(page.locator("#team-created")).to_have_text("团队已创建。")
    row = page.locator("table.team-list tbody tr", has_text=code)
    expect(row.locator("td.zone")).to_have_text("Asia/Shanghai")

    row.get_by_role("button", name=f"修改: {code}").click()
    edit = page.locator("section.team-edit")
    expect(edit.get_by_label("团队名称")).to_be_focused()
    console.expect(422, "/admin/teams/")
    edit.get_by_label("时区").fill("Mars/Olympus")
    edit.get_by_role("button", name="保存").click()
    expect(page.locator("#team-outcome")).to_contain_text("timezone")
    edit.get_by_label("团队名称").fill("Hangzhou West")
    edit.get_by_label("时区").fill("Asia/Urumqi")
    edit.get_by_role("button", name="保存").click()
    expect(page.locator("#team-outcome")).to_have_text("已保存。")
    expect(row.locator("td.zone")).to_have_text("Asia/Urumqi")
    expect(row).to_contain_text("Hangzhou West")
    console.shot("team-edited")
    status, teams = call(server, "GET", "/admin/teams?page_size=200",
                         token=token(server, server.admin))
    assert status == 200, teams
    [team] = [t for t in teams["items"] if t["code"] == code]
    assert (team["name"], team["timezone"]) == ("Hangzhou West", "Asia/Urumqi")


def test_an_administrator_adds_a_policy_version(console, server):
    name = server.admin_seed["policy"]
    console.open()
    console.sign_in(server.admin)
    page = console.page
    page.get_by_role("link", name="合规政策").click()
    row = page.locator(f'table.policy-list tr[data-policy="{name}"]')
    expect(row).to_contain_text("console-lender")
    expect(row.locator("td.num")).to_have_text("1")
    row.get_by_role("button", name=f"修改: {name}").click()
    form = page.locator("form.rules")
    expect(form.get_by_label("外访结束时间")).to_have_value("20:00")
    console.shot("policy")
    form.get_by_role("button", name="保存新版本").click()
    expect(page.locator("#policy-outcome")).to_have_text("没有修改任何设置。")

    form.get_by_label("外访结束时间").fill("19:00")
    form.get_by_label("每日联系上限").fill("")
    form.get_by_label("外访员须持有授权").uncheck()
    form.get_by_label("版本说明").fill("Lender asked for earlier evenings")
    form.get_by_role("button", name="保存新版本").click()
    expect(page.locator("#policy-outcome")).to_contain_text("第 2 版已保存")
    expect(page.locator("table.policy-versions tbody tr")).to_have_count(2)
    expect(row.locator("td.num")).to_have_text("2")
    console.shot("policy-version-saved")
    status, policies = call(server, "GET", "/policies?lender=console-lender",
                            token=token(server, server.admin))
    assert status == 200, policies
    [policy] = policies["items"]
    rules = policy["current"]["rules"]
    assert policy["current"]["version"] == 2
    assert policy["current"]["note"] == "Lender asked for earlier evenings"
    assert (rules["visit_hours_end"], rules["daily_attempt_cap"]) == ("19:00", None)
    assert rules["collector_authorisation_required"] is False
    assert rules["visit_hours_start"] == policy["versions"][0]["rules"]["visit_hours_start"]


def login(server, username: str, password: str) -> tuple[int, dict]:
    return call(server, "POST", "/auth/login", {
        "username": username, "password": password,
        "device": {"id": str(uuid.uuid4()), "label": "test", "platform": "test"}})


def test_an_administrator_creates_a_policy_for_a_lender(console, server):
    console.open()
    console.sign_in(server.admin)
    page = console.page
    page.get_by_role("link", name="合规政策").click()
    new = page.locator("form", has=page.get_by_role("heading", name="新建政策"))
    console.expect(409, "/policies")
    new.get_by_label("名称").fill("cn-console-again")
    new.get_by_label("司法辖区").select_option("CN")
    new.get_by_label("贷款方").fill("console-lender")  # it has one in CN already
    new.get_by_role("button", name="创建政策").click()
    expect(page.locator("#policy-created")).to_contain_text("lender")
    new.get_by_label("贷款方").fill("console-lender-2")
    new.get_by_label("说明").fill("A second lender's rules")
    new.get_by_role("button", name="创建政策").click()
    expect(page.locator("#policy-created")).to_contain_text("政策已创建")
    expect(page.locator("table.policy-list tr[data-policy='cn-console-again']")).to_contain_text(
        "console-lender-2")
    expect(page.locator("#policy-title")).to_contain_text(
        "cn-console-again · CN · console-lender-2")
    expect(page.locator("form.rules").get_by_label("外访结束时间")).to_have_value("22:00")  # preset
    expect(page.locator("table.policy-versions tbody tr")).to_have_count(1)
    console.shot("policy-created")


def test_legal_staff_read_the_policies_without_changing_them(console, server):
    name = server.admin_seed["policy"]
    console.open()
    console.sign_in(server.legal)
    page = console.page
    page.get_by_role("link", name="合规政策").click()
    page.locator(f'table.policy-list tr[data-policy="{name}"]').get_by_role(
        "button", name=f"显示: {name}").click()
    rules = page.locator("table.policy-rules")
    expect(rules.locator("tr", has_text="外访结束时间")).to_contain_text("19:00")  # version 2
    expect(rules.locator("tr", has_text="每日联系上限")).to_contain_text("不限")
    expect(page.locator("form.rules")).to_have_count(0)
    expect(page.locator("table.policy-versions tbody tr")).to_have_count(2)
    console.shot("policy-read")
