// The exceptions feed (GET /exceptions): what needs a person, with what to do (in the viewer's
// language, from the item's action code and facts); filtered by kind, state and collector;
// acknowledge or resolve an item with a note (POST /exceptions/{id}/acknowledge | resolve); an
// administrator has a file the server failed to make made again (POST /admin/server-files/{id}/
// retry): the next scan resolves its item once it is made.
import { get, latest, post, type Me } from "../api";
import { field, h } from "../dom";
import { t, tv, when } from "../i18n";
import { actionText } from "./actions";
import { collectors, notice, showError } from "./common";

interface Item {
  id: number; kind: string; state: string; action: string; action_text: string; actor: string;
  subject_id: string;
  detail: Record<string, unknown>; occurred_at: string;
  case_id: number | null; contract_no: string | null; debtor_name: string | null;
  collector_name: string | null; detected_at: string; acknowledge_note: string | null;
}

const KINDS = ["far_from_address", "outside_visit_hours", "too_few_collectors", "missing_photos",
  "promise_broken", "promise_due_today", "device_silent", "proposal_unreviewed", "upload_stuck",
  "server_file_failed"];
const STATES = ["open", "acknowledged", "resolved"];

// The filters last applied, per signed-in user, for this tab: switching the language or coming
// back to the feed draws it again with them.
interface Filters { kind: string; states: string[]; collector: string }
const applied = new Map<number, Filters>();

export async function exceptionsScreen(main: HTMLElement, me: Me): Promise<void> {
  const list = h("div", { class: "exceptions", "aria-live": "polite" }, t("loading"));
  const outcome = h("div", { id: "exception-outcome", role: "status" });
  const chosen = applied.get(me.id) ?? { kind: "", states: ["open", "acknowledged"], collector: "" };
  const kind = h("select", { name: "kind" }, h("option", { value: "" }, t("any")),
    ...KINDS.map((k) => h("option", { value: k, selected: k === chosen.kind }, tv("exc", k))));
  const states = STATES.map((s) => {
    const box = h("input", { type: "checkbox", name: "state", value: s, checked: chosen.states.includes(s) });
    box.id = `exc-state-${s}`;
    return box;
  });
  const collector = h("select", { name: "collector_id" }, h("option", { value: "" }, t("anyCollector")));
  const filters = h("form", { class: "filters", "aria-label": t("apply") },
    field("exc-kind", t("kind"), kind),
    h("fieldset", { class: "states" }, h("legend", {}, t("state")),
      ...states.map((box) => h("span", { class: "field check" }, box, h("label", { for: box.id }, tv("state", box.value))))),
    me.role === "legal" ? null : field("exc-collector", t("collector"), collector),
    h("button", { type: "submit" }, t("apply")));
  main.append(h("h1", {}, t("exceptions")), filters, outcome, list);
  const mayResolve = me.role !== "collector";

  const fresh = latest();
  async function load(): Promise<void> {
    const now = { kind: kind.value, states: states.filter((box) => box.checked).map((box) => box.value),
      collector: collector.value };
    applied.set(me.id, now);
    try {
      const page = await get<{ items: Item[] }>("/exceptions", {
        state: now.states, kind: now.kind, collector_id: now.collector, page_size: 100 }, fresh());
      if (!page.items.length) { list.replaceChildren(h("p", {}, t("noExceptions"))); return; }
      list.replaceChildren(...page.items.map(card));
    } catch (error) { showError(list, error); }
  }

  function card(item: Item): HTMLElement {
    const note = h("input", { name: "note", maxlength: 400 });
    const act = (verb: "acknowledge" | "resolve") => async () => {
      if (verb === "resolve" && !note.value.trim()) { note.focus(); notice(outcome, t("noteNeeded")); return; }
      try {
        await post(`/exceptions/${item.id}/${verb}`, { note: note.value.trim() || null });
        notice(outcome, t(verb === "resolve" ? "resolvedOne" : "acknowledgedOne"));
        await load();
      } catch (error) { showError(outcome, error); }
    };
    const makeAgain = async () => {
      try {
        await post(`/admin/server-files/${encodeURIComponent(item.subject_id)}/retry`, {});
        notice(outcome, t("madeAgainQueued"));
        await load();
      } catch (error) { showError(outcome, error); }
    };
    const subject = [item.contract_no, item.debtor_name, item.collector_name].filter(Boolean).join(" · ");
    const open = item.state !== "resolved";
    return h("article", { class: `exception state-${item.state}`, "data-kind": item.kind, "data-action": item.action,
      "aria-labelledby": `exc-${item.id}` },
      h("h2", { id: `exc-${item.id}` }, actionText(item)),
      h("p", {},
        item.case_id ? h("a", { href: `#/case/${item.case_id}` }, subject) : subject,
        ` · ${tv("exc", item.kind)} · ${when(item.detected_at)} · `, h("span", { class: "state" }, tv("state", item.state))),
      item.acknowledge_note ? h("p", { class: "hint" }, item.acknowledge_note) : null,
      open ? h("div", { class: "filters" },
        field(`exc-note-${item.id}`, t("note"), note),
        item.state === "open" ? h("button", { type: "button", onclick: act("acknowledge") }, t("acknowledge")) : null,
        mayResolve ? h("button", { type: "button", onclick: act("resolve") }, t("resolve")) : null,
        item.kind === "server_file_failed" && me.role === "admin"
          ? h("button", { type: "button", onclick: makeAgain }, t("makeAgain")) : null) : null);
  }

  filters.addEventListener("submit", (event) => { event.preventDefault(); void load(); });
  if (me.role !== "legal") {
    try {
      for (const c of await collectors(me)) {
        collector.append(h("option", { value: String(c.id), selected: String(c.id) === chosen.collector }, c.name));
      }
    } catch (error) { showError(outcome, error); }
  }
  await load();
}
