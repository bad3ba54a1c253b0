// Compliance policies (GET /policies): each one's version in force and its settings, its
// versions; an administrator adds a version with the settings changed, in force from now or a
// later moment (POST /policies/{id}/versions), or a policy for a jurisdiction and lender
// (POST /policies). Other staff read them.
import { get, post, type Me } from "../api";
import { field, h } from "../dom";
import { lang, t, when } from "../i18n";
import { showError } from "./common";
import { type Page, table } from "./teams";

type Value = string | number | boolean | null;
interface Version { id: number; version: number; effective_from: string; note: string | null; rules: Record<string, Value> }
interface Policy { id: number; name: string; jurisdiction: string; lender: string; description: string | null; current: Version | null; versions: Version[] }

// Each setting's label [zh, en]; a setting not named here shows its API name.
const RULES: Record<string, [string, string]> = {
  visit_hours_start: ["外访开始时间", "Visits from"],
  visit_hours_end: ["外访结束时间", "Visits until"],
  contact_hours_start: ["联系开始时间", "Calls and messages from"],
  contact_hours_end: ["联系结束时间", "Calls and messages until"],
  min_collectors_per_visit: ["每次外访最少人数", "Collectors per visit (at least)"],
  co_presence_max_distance_m: ["同行判定距离（米）", "Co-presence within (m)"],
  co_presence_max_gap_s: ["同行判定间隔（秒）", "Co-presence within (s)"],
  geofence_radius_m: ["地理围栏半径（米）", "Geofence radius (m)"],
  max_clock_offset_s: ["允许时钟偏差（秒）", "Clock offset allowed (s)"],
  daily_attempt_cap: ["每日联系上限", "Attempts per day (cap)"],
  weekly_attempt_cap: ["每周联系上限", "Attempts per 7 days (cap)"],
  attempts_counted: ["计入上限的联系", "What counts as an attempt"],
  contacts_only_when_unreachable: ["仅在联系不上债务人时联系其联系人", "Contacts only when the debtor is unreachable"],
  collector_authorisation_required: ["外访员须持有授权", "Collectors need an authorisation"],
  block_dispatch_on_open_complaint: ["有未结投诉时禁止派案", "No dispatch while a complaint is open"],
  retention_days: ["结案后保留天数", "Records kept after closing (days)"],
  default_timezone: ["默认时区", "Default time zone"],
};
const CAPS = ["daily_attempt_cap", "weekly_attempt_cap"]; // empty: no cap
const JURISDICTIONS = ["CN", "US", "IN"]; // the presets a policy starts from
const COUNTED = ["connected_calls", "calls", "calls_and_visits"];

/** A version's settings in the order above (the API's is alphabetical), any other after. */
const ordered = (rules: Record<string, Value>) => Object.entries(rules).sort(([a], [b]) =>
  (a in RULES ? ORDER.indexOf(a) : ORDER.length) - (b in RULES ? ORDER.indexOf(b) : ORDER.length));
const ORDER = Object.keys(RULES);
const ruleLabel = (name: string) => RULES[name]?.[lang() === "zh" ? 0 : 1] ?? name;
const shown = (value: Value) =>
  value === null ? t("noCap") : typeof value === "boolean" ? t(value ? "yes" : "no") : `${value}`;

/** One setting's control, holding its value as in force; `read` gives the value it now holds. */
function control(name: string, value: Value): { el: HTMLElement; read: () => Value } {
  const id = `rule-${name}`;
  if (typeof value === "boolean") {
    const box = h("input", { type: "checkbox", name, checked: value });
    box.id = id;
    return { el: h("div", { class: "field check" }, box, h("label", { for: id }, ruleLabel(name))), read: () => box.checked };
  }
  if (name === "attempts_counted") {
    const select = h("select", { name }, ...COUNTED.map((v) => h("option", { value: v }, v)));
    select.value = String(value);
    return { el: field(id, ruleLabel(name), select), read: () => select.value };
  }
  const numeric = typeof value === "number" || CAPS.includes(name);
  const input = h("input", { name, type: numeric ? "number" : "text", step: numeric ? "any" : null,
    value: value === null ? "" : String(value), placeholder: CAPS.includes(name) ? t("noCap") : null });
  const read = (): Value => {
    const text = input.value.trim();
    if (!numeric) return text;
    return text === "" && CAPS.includes(name) ? null : Number(text);
  };
  return { el: field(id, ruleLabel(name), input), read };
}

export async function policiesScreen(main: HTMLElement, me: Me): Promise<void> {
  const list = h("div", { "aria-live": "polite" }, t("loading"));
  const detail = h("section", { class: "policy", "aria-live": "polite" });
  main.append(h("h1", {}, t("policies")), list, detail);

  function open(policy: Policy): void {
    const current = policy.current ?? policy.versions[policy.versions.length - 1];
    const versions = table([t("version"), t("since"), t("versionNote")], policy.versions.map((v) =>
      h("tr", { "data-version": v.version }, h("td", { class: "num" }, String(v.version)),
        h("td", {}, when(v.effective_from)), h("td", {}, v.note ?? t("none")))), "policy-versions");
    const heading = h("h2", { id: "policy-title" }, `${policy.name} · ${policy.jurisdiction} · ${policy.lender === "*" ? t("anyLender") : policy.lender}`);
    if (me.role !== "admin" || !current) {
      detail.replaceChildren(heading, current ? table([t("label"), t("inForce")],
        ordered(current.rules).map(([name, value]) => h("tr", {}, h("td", {}, ruleLabel(name)),
          h("td", {}, shown(value)))), "policy-rules") : h("p", {}, t("noVersionInForce")),
      h("h3", {}, t("versions")), versions);
      return;
    }
    const controls = ordered(current.rules).map(([name, value]) => ({ name, value, ...control(name, value) }));
    const from = h("input", { name: "effective_from", type: "datetime-local" });
    const note = h("input", { name: "note", maxlength: 400 });
    const outcome = h("div", { id: "policy-outcome", role: "status" });
    const form = h("form", { class: "bulk rules", "aria-labelledby": "policy-title" },
      heading, ...controls.map((c) => c.el),
      field("policy-from", t("effectiveFrom"), from), field("policy-note", t("versionNote"), note),
      h("button", { type: "submit" }, t("saveVersion")), outcome);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const rules = Object.fromEntries(controls.map((c) => [c.name, c.read()]).filter(([name, value]) =>
        value !== current.rules[name as string]));
      if (!Object.keys(rules).length) { outcome.className = "notice"; outcome.textContent = t("nothingChanged"); return; }
      try {
        const saved = await post<Version>(`/policies/${policy.id}/versions`, {
          rules, note: note.value.trim() || undefined,
          effective_from: from.value ? new Date(from.value).toISOString() : undefined });
        const next = await load(policy.id);
        if (next) open(next);
        const done = document.getElementById("policy-outcome")!;
        done.className = "notice";
        done.textContent = t("versionSaved", { version: saved.version, when: when(saved.effective_from) });
      } catch (error) { showError(outcome, error); }
    });
    detail.replaceChildren(form, h("h3", {}, t("versions")), versions);
  }

  /** An administrator's new policy: version 1 is the jurisdiction's preset, edited from here. */
  function creator(): HTMLElement {
    const name = h("input", { name: "name", required: true, pattern: "[a-z0-9][a-z0-9._\\-]{1,63}", autocomplete: "off" });
    const jurisdiction = h("select", { name: "jurisdiction" }, ...JURISDICTIONS.map((j) => h("option", { value: j }, j)));
    const lender = h("input", { name: "lender", maxlength: 64, placeholder: t("anyLender") });
    const description = h("input", { name: "description", maxlength: 400 });
    const outcome = h("div", { id: "policy-created", role: "status" });
    const form = h("form", { class: "bulk", "aria-labelledby": "policy-new-title" },
      h("h2", { id: "policy-new-title" }, t("newPolicy")),
      field("policy-new-name", t("policyName"), name), field("policy-new-jurisdiction", t("jurisdiction"), jurisdiction),
      field("policy-new-lender", t("lender"), lender), field("policy-new-description", t("description"), description),
      h("button", { type: "submit" }, t("createPolicy")), outcome);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const made = await post<Policy>("/policies", { name: name.value.trim(), jurisdiction: jurisdiction.value,
          lender: lender.value.trim() || "*", description: description.value.trim() || undefined });
        form.reset();
        outcome.className = "notice";
        outcome.textContent = t("policyCreated");
        open((await load(made.id)) ?? made);
      } catch (error) { showError(outcome, error); }
    });
    return form;
  }

  async function load(pick?: number): Promise<Policy | undefined> {
    try {
      const page = await get<Page<Policy>>("/policies", { page_size: 200 });
      list.replaceChildren(page.items.length ? table(
        [t("policyName"), t("jurisdiction"), t("lender"), t("inForce"), t("since"), ""],
        page.items.map((p) => h("tr", { "data-policy": p.name },
          h("td", {}, p.name), h("td", {}, p.jurisdiction), h("td", {}, p.lender === "*" ? t("anyLender") : p.lender),
          h("td", { class: "num" }, p.current ? String(p.current.version) : t("noVersionInForce")),
          h("td", {}, p.current ? when(p.current.effective_from) : t("none")),
          h("td", {}, h("button", { type: "button", "aria-label": `${me.role === "admin" ? t("edit") : t("show")}: ${p.name}`,
            onclick: () => open(p) }, me.role === "admin" ? t("edit") : t("show"))))), "policy-list")
        : h("p", {}, t("noPolicies")));
      return page.items.find((p) => p.id === pick);
    } catch (error) { showError(list, error); return undefined; }
  }
  if (me.role === "admin") main.append(creator());
  await load();
}
