// Administrators' users: by role, with their team (GET /admin/users, GET /admin/teams); a new
// user (POST /admin/users); a user's name, role, team and active flag changed
// (PATCH /admin/users/{id}) or their password reset to a generated one, shown once
// (POST /admin/users/{id}/password), their sign-in lockout lifted (DELETE /admin/users/{id}/
// lockout); a user's devices, revoked on the spot (GET /admin/devices?user_id,
// POST /admin/devices/{id}/revoke); a collector's authorisations (authorisations.ts).
import { ApiError, changeIfMatch, get, getTagged, latest, post, remove, type Me } from "../api";
import { field, h } from "../dom";
import { t, tv, when } from "../i18n";
import { showAuthorisations } from "./authorisations";
import { notice, showError } from "./common";
import { type Page, type Team, table, teamLabel } from "./teams";

interface User { id: number; username: string; full_name: string; role: string; team_id: number | null; is_active: boolean }
interface Device { id: string; label: string; platform: string; registered_at: string; last_seen_at: string | null; revoked_at: string | null; user_id: number }

export const ROLES = ["collector", "supervisor", "legal", "admin"];

const roleSelect = (name: string, withAny: boolean) => h("select", { name },
  withAny ? h("option", { value: "" }, t("any")) : null,
  ...ROLES.map((r) => h("option", { value: r }, tv("role", r))));

const teamSelect = (teams: Team[]) => h("select", { name: "team_id" }, // the teams known so far
  h("option", { value: "" }, t("noTeam")),
  ...teams.map((team) => h("option", { value: String(team.id) }, teamLabel(team))));

const teamOf = (value: string) => (value === "" ? null : Number(value));

export async function usersScreen(main: HTMLElement, _me: Me): Promise<void> {
  const role = roleSelect("role", true);
  const form = h("form", { class: "filters" }, field("users-role", t("role"), role),
    h("button", { type: "submit" }, t("apply")));
  const list = h("div", { "aria-live": "polite" });
  const editor = h("section", { class: "user-edit", "aria-live": "polite" });
  const devices = h("section", { class: "devices", "aria-live": "polite" });
  const certificates = h("section", { class: "authorisations", "aria-live": "polite" });
  const creator = h("section", { class: "user-new" });
  main.append(h("h1", {}, t("users")), form, list, editor, devices, certificates, creator);
  const teams: Team[] = [];
  const teamNames = new Map<number, string>();
  // Asked for at once; the filter's submit is handled before anything is awaited.
  const teamsRead = get<Page<Team>>("/admin/teams", { page_size: 200 }).then((page) => {
    teams.push(...page.items);
    for (const team of teams) teamNames.set(team.id, teamLabel(team));
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); void load(); });

  const freshDevices = latest();
  async function showDevices(user: User): Promise<void> {
    devices.replaceChildren(t("loading"));
    try {
      const page = await get<Page<Device>>("/admin/devices", { user_id: user.id, page_size: 200 }, freshDevices());
      const rows = page.items.map((d) => {
        const state = h("td", { class: "state" }, d.revoked_at ? `${t("revoked")} ${when(d.revoked_at)}` : t("active"));
        const revoke = h("button", { type: "button", "aria-label": `${t("revoke")} ${d.label || d.id}` }, t("revoke"));
        revoke.addEventListener("click", async () => {
          revoke.disabled = true;
          try {
            const done = await post<Device>(`/admin/devices/${encodeURIComponent(d.id)}/revoke`, {});
            state.textContent = `${t("revoked")} ${when(done.revoked_at!)}`;
            revoke.remove();
          } catch (error) { revoke.disabled = false; showError(state, error); }
        });
        return h("tr", { "data-device-id": d.id }, h("td", {}, d.label || t("none")), h("td", {}, d.platform || t("none")),
          h("td", {}, d.id), h("td", {}, when(d.registered_at)), h("td", {}, d.last_seen_at ? when(d.last_seen_at) : t("none")),
          state, h("td", {}, d.revoked_at ? null : revoke));
      });
      devices.replaceChildren(h("h2", {}, `${t("devicesOf")} ${user.full_name || user.username}`),
        rows.length ? table([t("label"), t("platform"), "ID", t("registered"), t("lastSeen"), t("status"), ""], rows, "device-list")
          : h("p", {}, t("noDevices")));
    } catch (error) { showError(devices, error); }
  }

  /** The user as stored now (and its ETag), in the editor; `said`: why it was read again. */
  async function open(id: number, said?: string): Promise<void> {
    try {
      const { body, etag } = await getTagged<User>(`/admin/users/${id}`);
      edit(body, etag, said);
    } catch (error) { showError(editor, error); }
  }

  function edit(user: User, etag: string | null, said?: string): void {
    const name = h("input", { name: "full_name", required: true, maxlength: 120, value: user.full_name });
    const userRole = roleSelect("role", false);
    userRole.value = user.role;
    const team = teamSelect(teams);
    team.value = user.team_id === null ? "" : String(user.team_id);
    const active = h("input", { type: "checkbox", name: "is_active", checked: user.is_active });
    const outcome = h("div", { id: "user-outcome", role: "status" });
    const reset = h("button", { type: "button" }, t("resetPassword"));
    const unlock = h("button", { type: "button" }, t("liftLockout"));
    const save = h("button", { type: "submit" }, t("save"));
    const editForm = h("form", { class: "bulk", "aria-labelledby": "user-edit-title" },
      h("h2", { id: "user-edit-title" }, `${t("editOf")} ${user.username}`),
      field("user-edit-name", t("fullName"), name), field("user-edit-role", t("role"), userRole),
      field("user-edit-team", t("team"), team),
      h("div", { class: "field check" }, active, h("label", { for: "user-edit-active" }, t("activeAccount"))),
      save, reset, unlock, outcome);
    active.id = "user-edit-active";
    editForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      // Only what was changed here is sent: another administrator's change to the rest stays.
      const wanted: Partial<User> = { full_name: name.value.trim(), role: userRole.value,
        team_id: teamOf(team.value), is_active: active.checked };
      const changes = Object.fromEntries(Object.entries(wanted).filter(([key, value]) => user[key as keyof User] !== value));
      if (!Object.keys(changes).length) { notice(outcome, t("nothingChanged")); return; }
      save.disabled = true;
      try {
        // With the ETag read: another administrator's change since is refused (412), not lost.
        const changed = await changeIfMatch<User>("PATCH", `/admin/users/${user.id}`, changes, etag);
        Object.assign(user, changed.body);
        etag = changed.etag;
        notice(outcome, t("saved"));
        await load();
      } catch (error) {
        if (error instanceof ApiError && error.status === 412) {
          await load();
          await open(user.id, t("changedMeanwhile"));
          return;
        }
        showError(outcome, error);
      } finally { save.disabled = false; }
    });
    reset.addEventListener("click", async () => {
      reset.disabled = true;
      try {
        const { password } = await post<{ password: string }>(`/admin/users/${user.id}/password`, {});
        outcome.className = "notice";
        outcome.replaceChildren(t("newPassword"), " ", h("code", { class: "password" }, password));
        etag = (await getTagged<User>(`/admin/users/${user.id}`)).etag; // a new password moves it on
      } catch (error) { showError(outcome, error); } finally { reset.disabled = false; }
    });
    unlock.addEventListener("click", async () => {
      unlock.disabled = true;
      try {
        await remove(`/admin/users/${user.id}/lockout`);
        notice(outcome, t("lockoutLifted"));
      } catch (error) { showError(outcome, error); } finally { unlock.disabled = false; }
    });
    editor.replaceChildren(editForm);
    if (said) notice(outcome, said);
    name.focus();
  }

  const fresh = latest();
  async function load(): Promise<void> {
    list.replaceChildren(t("loading"));
    try {
      const page = await get<Page<User>>("/admin/users", { role: role.value, page_size: 200 }, fresh());
      list.replaceChildren(table([t("username"), t("name"), t("role"), t("team"), t("status"), ""],
        page.items.map((u) => h("tr", { "data-user-id": u.id },
          h("td", {}, u.username), h("td", {}, u.full_name), h("td", {}, tv("role", u.role)),
          h("td", { class: "team" }, u.team_id === null ? t("none") : teamNames.get(u.team_id) ?? `#${u.team_id}`),
          h("td", { class: "state" }, u.is_active ? t("active") : t("inactive")),
          h("td", {},
            h("button", { type: "button", "aria-label": `${t("edit")}: ${u.username}`, onclick: () => void open(u.id) }, t("edit")),
            " ",
            h("button", { type: "button", "aria-label": `${t("devices")}: ${u.username}`,
              onclick: () => void showDevices(u) }, t("devices")),
            u.role === "collector" ? [" ", h("button", { type: "button", "aria-label": `${t("authorisations")}: ${u.username}`,
              onclick: () => void showAuthorisations(certificates, u) }, t("authorisations"))] : null))), "user-list"));
    } catch (error) { showError(list, error); }
  }

  const username = h("input", { name: "username", required: true, pattern: "[A-Za-z0-9_.\\-]{3,64}", autocomplete: "off" });
  const fullName = h("input", { name: "full_name", required: true, maxlength: 120 });
  const newRole = roleSelect("role", false);
  const newTeam = teamSelect([]);
  const password = h("input", { name: "password", type: "password", required: true, minlength: 8, autocomplete: "new-password" });
  const created = h("div", { id: "user-created", role: "status" });
  const createForm = h("form", { class: "bulk", "aria-labelledby": "user-new-title" },
    h("h2", { id: "user-new-title" }, t("newUser")),
    field("user-new-username", t("username"), username), field("user-new-name", t("fullName"), fullName),
    field("user-new-role", t("role"), newRole), field("user-new-team", t("team"), newTeam),
    field("user-new-password", t("initialPassword"), password),
    h("button", { type: "submit" }, t("createUser")), created);
  createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await post<User>("/admin/users", { username: username.value.trim(), full_name: fullName.value.trim(),
        role: newRole.value, team_id: teamOf(newTeam.value), password: password.value });
      createForm.reset();
      notice(created, t("userCreated"));
      await load();
    } catch (error) { showError(created, error); }
  });
  creator.replaceChildren(createForm);
  try {
    await teamsRead;
  } catch (error) { showError(list, error); }
  newTeam.append(...teams.map((team) => h("option", { value: String(team.id) }, teamLabel(team))));
  await load();
}
