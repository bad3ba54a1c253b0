// Administrators: teams (GET /admin/teams), users (GET /admin/users) and each one's devices, revoked on the spot
// (GET /admin/devices?user_id, POST /admin/devices/{id}/revoke); import runs with their
// counts and row errors (GET /imports, GET /imports/{id}); a run not finished is shown as
// running and looked at again until it is.
import { get, latest, post, type Me } from "../api";
import { field, h } from "../dom";
import { t, when } from "../i18n";
import { showError } from "./common";

interface Team { id: number; code: string; name: string; timezone: string }
interface User { id: number; username: string; full_name: string; role: string; team_id: number | null; is_active: boolean }
interface Device { id: string; label: string; platform: string; registered_at: string; last_seen_at: string | null; revoked_at: string | null; user_id: number }
interface RowError { row: number | null; field: string; contract_no: string | null; message: string }
interface Run {
  id: number; kind: string; filename: string | null; file_format: string; dry_run: boolean; started_at: string;
  finished_at: string | null; rows: number; created: number; updated: number; unchanged: number;
  error_count: number; errors?: RowError[];
}
interface Page<T> { items: T[]; page: { page: number; pages: number; total: number } }

const ROLES = ["collector", "supervisor", "legal", "admin"];
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const table = (head: string[], rows: HTMLElement[], cls: string) => h("table", { class: `cases ${cls}` },
  h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, ...rows));

export async function usersScreen(main: HTMLElement, _me: Me): Promise<void> {
  const role = h("select", { name: "role" }, h("option", { value: "" }, t("any")),
    ...ROLES.map((r) => h("option", { value: r }, t(`role_${r}` as "role_admin"))));
  const form = h("form", { class: "filters" }, field("users-role", t("role"), role),
    h("button", { type: "submit" }, t("apply")));
  const list = h("div", { "aria-live": "polite" });
  const devices = h("section", { class: "devices", "aria-live": "polite" });
  const teams = h("section", { class: "teams" });
  main.append(h("h1", {}, t("users")), form, list, devices, teams);
  const teamNames = new Map<number, string>();
  try {
    const page = await get<Page<Team>>("/admin/teams", { page_size: 200 });
    for (const team of page.items) teamNames.set(team.id, `${team.code} · ${team.name}`);
    teams.replaceChildren(h("h2", {}, t("team")), table([t("code"), t("name"), t("timezone")],
      page.items.map((team) => h("tr", { "data-team-id": team.id },
        h("td", {}, team.code), h("td", {}, team.name), h("td", {}, team.timezone))), "team-list"));
  } catch (error) { showError(teams, error); }

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

  const fresh = latest();
  async function load(): Promise<void> {
    list.replaceChildren(t("loading"));
    try {
      const page = await get<Page<User>>("/admin/users", { role: role.value, page_size: 200 }, fresh());
      list.replaceChildren(table([t("username"), t("name"), t("role"), t("team"), t("status"), ""],
        page.items.map((u) => h("tr", { "data-user-id": u.id },
          h("td", {}, u.username), h("td", {}, u.full_name), h("td", {}, t(`role_${u.role}` as "role_admin")),
          h("td", { class: "team" }, u.team_id === null ? t("none") : teamNames.get(u.team_id) ?? `#${u.team_id}`), h("td", {}, u.is_active ? t("active") : t("inactive")),
          h("td", {}, h("button", { type: "button", "aria-label": `${t("devices")}: ${u.username}`,
            onclick: () => void showDevices(u) }, t("devices"))))), "user-list"));
    } catch (error) { showError(list, error); }
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); void load(); });
  await load();
}

function counts(run: Run): string {
  return t("importCounts", { rows: run.rows, created: run.created, updated: run.updated, unchanged: run.unchanged });
}

export async function importsScreen(main: HTMLElement): Promise<void> {
  const list = h("div", { "aria-live": "polite" }, t("loading"));
  main.append(h("h1", {}, t("imports")), list);
  try {
    for (;;) {
      const page = await get<Page<Run>>("/imports", { page_size: 50 });
      list.replaceChildren(page.items.length ? table(
        ["#", t("kind"), t("file"), t("started"), t("status"), t("counts"), t("rowErrors")],
        page.items.map((r) => h("tr", { "data-run-id": r.id },
          h("td", {}, h("a", { href: `#/import/${r.id}` }, `#${r.id}`)), h("td", {}, r.kind + (r.dry_run ? ` (${t("dryRun")})` : "")),
          h("td", {}, r.filename ?? r.file_format), h("td", {}, when(r.started_at)),
          h("td", { class: "state" }, r.finished_at ? `${t("finished")} ${when(r.finished_at)}` : t("running")),
          h("td", {}, counts(r)), h("td", { class: r.error_count ? "num error" : "num" }, String(r.error_count)))), "import-list")
        : h("p", {}, t("noImports")));
      if (!main.isConnected || page.items.every((r) => r.finished_at)) return;
      await sleep(2000);
    }
  } catch (error) { showError(list, error); }
}

export async function importScreen(main: HTMLElement, _me: Me, id: string): Promise<void> {
  const box = h("div", { "aria-live": "polite" }, t("loading"));
  main.append(h("p", {}, h("a", { href: "#/imports" }, t("back"))), box);
  try {
    for (;;) {
      const run = await get<Run>(`/imports/${encodeURIComponent(id)}`);
      const errors = run.errors ?? [];
      box.replaceChildren(h("h1", {}, `${t("importRun")} #${run.id} · ${run.kind}`),
        h("dl", { class: "facts" },
          h("dt", {}, t("file")), h("dd", {}, run.filename ?? run.file_format),
          h("dt", {}, t("started")), h("dd", {}, when(run.started_at)),
          h("dt", {}, t("status")), h("dd", { id: "import-state" }, run.finished_at ? `${t("finished")} ${when(run.finished_at)}` : t("running")),
          h("dt", {}, t("counts")), h("dd", {}, counts(run)),
          h("dt", {}, t("rowErrors")), h("dd", { id: "import-errors" }, String(run.error_count))),
        errors.length ? table([t("row"), t("fieldName"), t("contract"), t("message")],
          errors.map((e) => h("tr", {}, h("td", { class: "num" }, e.row === null ? t("none") : String(e.row)),
            h("td", {}, e.field), h("td", {}, e.contract_no ?? t("none")), h("td", {}, e.message))), "row-errors")
          : h("p", {}, t("noRowErrors")));
      if (run.finished_at || !main.isConnected) return;
      await sleep(2000);
    }
  } catch (error) { showError(box, error); }
}
