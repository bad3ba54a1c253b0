// The console: a hash router over the screens, the top bar and the language switch.
import "./style.css";
import { current, leaveScreen, logOut, whenExpired, type Me } from "./api";
import { h } from "./dom";
import { lang, setLang, t, type Key } from "./i18n";
import { importScreen, importsScreen, usersScreen } from "./screens/admin";
import { exceptionsScreen } from "./screens/exceptions";
import { caseScreen, legalScreen } from "./screens/legal";
import { mapScreen } from "./screens/map";
import { queueScreen } from "./screens/queue";
import { signInScreen } from "./screens/signin";
import { targetsScreen } from "./screens/targets";
import { policiesScreen, teamsScreen } from "./screens/admin";
import { proposalsScreen } from "./screens/proposals";

export type Screen = (main: HTMLElement, me: Me, arg: string) => void | Promise<void>;

const SCREENS: Record<string, { screen: Screen; label?: Key; roles: string[] }> = {
  queue: { screen: queueScreen, label: "queue", roles: ["supervisor", "admin"] },
  map: { screen: mapScreen, label: "map", roles: ["supervisor", "admin"] },
  exceptions: { screen: exceptionsScreen, label: "exceptions", roles: ["supervisor", "admin", "legal"] },
  legal: { screen: legalScreen, label: "legal", roles: ["legal", "admin", "supervisor"] },
  case: { screen: caseScreen, roles: ["legal", "admin", "supervisor"] },
  targets: { screen: targetsScreen, label: "targets", roles: ["supervisor"] },
  users: { screen: usersScreen, label: "users", roles: ["admin"] },
  imports: { screen: importsScreen, label: "imports", roles: ["admin"] },
  import: { screen: importScreen, roles: ["admin"] },
  teams: { screen: teamsScreen, label: "teams", roles: ["admin"] },
  policies: { screen: policiesScreen, label: "policies", roles: ["admin", "legal", "supervisor"] },
  proposals: { screen: proposalsScreen, label: "proposals", roles: ["supervisor", "admin"] },
};

const RETURN_TO = "fv.returnTo";

export function home(me: Me): string {
  return me.role === "legal" ? "#/legal" : "#/queue";
}

/** After sign-in: where the user was when the session ended, else their home screen. */
export function afterSignIn(me: Me): void {
  const back = sessionStorage.getItem(RETURN_TO);
  sessionStorage.removeItem(RETURN_TO);
  const target = back ?? home(me);
  if (location.hash === target) void render();
  else location.hash = target;
}

function bar(me: Me | null, active: string): HTMLElement {
  const links = me
    ? Object.entries(SCREENS)
        .filter(([, s]) => s.label && s.roles.includes(me.role))
        .map(([name, s]) => h("a", { href: `#/${name}`, "aria-current": name === active ? "page" : null }, t(s.label!)))
    : [];
  const switchLang = h("button", {
    type: "button", class: "lang", "aria-label": t("languageName"),
    onclick: () => { setLang(lang() === "zh" ? "en" : "zh"); void render(); },
  }, t("language"));
  const out = me && h("button", {
    type: "button", onclick: async () => { await logOut(); location.hash = "#/signin"; },
  }, t("signOut"));
  return h("nav", { "aria-label": t("app") },
    h("span", { class: "brand" }, t("app")), ...links,
    h("span", { class: "spacer" }), me ? h("span", { class: "who" }, me.full_name || me.username) : null,
    switchLang, out);
}

async function render(): Promise<void> {
  const [name, arg = ""] = location.hash.replace(/^#\/?/, "").split("/");
  const main = document.getElementById("main")!;
  const header = document.getElementById("bar")!;
  const session = current();
  const route = SCREENS[name];
  leaveScreen();
  main.replaceChildren();
  if (!session || !route) {
    if (session && !route) { location.hash = home(session.me); return; }
    header.replaceChildren(bar(null, "signin"));
    signInScreen(main);
    return;
  }
  if (!route.roles.includes(session.me.role)) { location.hash = home(session.me); return; }
  header.replaceChildren(bar(session.me, name));
  // Each screen draws into its own box: what a screen left loading lands in a box no longer shown.
  const view = document.createElement("div");
  main.append(view);
  await route.screen(view, session.me, decodeURIComponent(arg));
}

whenExpired(() => {
  if (!location.hash.startsWith("#/signin")) sessionStorage.setItem(RETURN_TO, location.hash);
  sessionStorage.setItem("fv.expired", "1");
  location.hash = "#/signin";
});

// The skip link moves focus without touching the hash the router reads.
document.querySelector(".skip")?.addEventListener("click", (event) => {
  event.preventDefault();
  document.getElementById("main")?.focus();
});

setLang(lang());
window.addEventListener("hashchange", () => void render());
void render();
