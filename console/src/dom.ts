// A small DOM builder: text is always set as text, never parsed as HTML.
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  // A form of this page never navigates: a submit before its screen's handler is attached
  // (the screen still loading) would reload the page and lose what it holds.
  if (tag === "form") el.addEventListener("submit", (event) => event.preventDefault());
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

export function field(id: string, label: string, control: HTMLElement): HTMLElement {
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

/** Keep a form's named fields in localStorage as the user types (a draft survives a sign-in). */
export function keepDraft(form: HTMLFormElement, key: string): void {
  const storageKey = `fv.draft.${key}`;
  const saved = JSON.parse(localStorage.getItem(storageKey) ?? "{}") as Record<string, string>;
  for (const [name, value] of Object.entries(saved)) {
    const control = form.elements.namedItem(name);
    if (control instanceof HTMLInputElement || control instanceof HTMLSelectElement
        || control instanceof HTMLTextAreaElement) control.value = value;
  }
  form.addEventListener("input", () => {
    const values: Record<string, string> = {};
    for (const [name, value] of new FormData(form)) values[name] = String(value);
    localStorage.setItem(storageKey, JSON.stringify(values));
  });
}

export function dropDraft(key: string): void {
  localStorage.removeItem(`fv.draft.${key}`);
}
