// The exceptions feed (GET /exceptions): what needs a person, with what to do; acknowledge or
// resolve an item with a note (POST /exceptions/{id}/acknowledge | resolve).
import { get, latest, post, type Me } from "../api";
import { field, h } from "../dom";
import { t, when } from "../i18n";
import { showError } from "./common";

interface Item {
  id: number; kind: string; state: string; action_text: string; actor: string;
  case_id: number | null; contract_no: string | null; debtor_name: string | null;
  collector_name: string | null; detected_at: string; acknowledge_note: string | null;
}

export async function exceptionsScreen(main: HTMLElement, me: Me): Promise<void> {
  const list = h("div", { class: "exceptions", "aria-live": "polite" }, t("loading"));
  const outcome = h("div", { id: "exception-outcome", role: "status" });
  main.append(h("h1", {}, t("exceptions")), outcome, list);
  const mayResolve = me.role !== "collector";

  const fresh = latest();
  async function load(): Promise<void> {
    try {
      const page = await get<{ items: Item[] }>("/exceptions", { state: ["open", "acknowledged"], page_size: 100 }, fresh());
      if (!page.items.length) { list.replaceChildren(h("p", {}, t("noExceptions"))); return; }
      list.replaceChildren(...page.items.map(card));
    } catch (error) { showError(list, error); }
  }

  function card(item: Item): HTMLElement {
    const note = h("input", { name: "note", maxlength: 400 });
    const act = (verb: "acknowledge" | "resolve") => async () => {
      if (verb === "resolve" && !note.value.trim()) { note.focus(); outcome.textContent = t("noteNeeded"); return; }
      try {
        await post(`/exceptions/${item.id}/${verb}`, { note: note.value.trim() || null });
        outcome.className = "notice";
        outcome.textContent = t(verb === "resolve" ? "resolvedOne" : "acknowledgedOne");
        await load();
      } catch (error) { showError(outcome, error); }
    };
    const subject = [item.contract_no, item.debtor_name, item.collector_name].filter(Boolean).join(" · ");
    return h("article", { class: `exception state-${item.state}`, "data-kind": item.kind, "aria-labelledby": `exc-${item.id}` },
      h("h2", { id: `exc-${item.id}` }, item.action_text),
      h("p", {},
        item.case_id ? h("a", { href: `#/case/${item.case_id}` }, subject) : subject,
        ` · ${item.kind} · ${when(item.detected_at)} · ${item.state}`),
      item.acknowledge_note ? h("p", { class: "hint" }, item.acknowledge_note) : null,
      h("div", { class: "filters" },
        field(`exc-note-${item.id}`, t("note"), note),
        item.state === "open" ? h("button", { type: "button", onclick: act("acknowledge") }, t("acknowledge")) : null,
        mayResolve ? h("button", { type: "button", onclick: act("resolve") }, t("resolve")) : null));
  }

  await load();
}
