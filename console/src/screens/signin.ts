// Sign-in: POST /auth/login, then GET /auth/me; a collector is refused with a clear message.
import { ApiError, signIn } from "../api";
import { field, h } from "../dom";
import { t } from "../i18n";
import { afterSignIn } from "../main";

export function signInScreen(main: HTMLElement): void {
  const expired = sessionStorage.getItem("fv.expired") === "1";
  const message = h("p", { id: "signin-message", role: "alert", class: expired ? "notice" : "error" },
    expired ? t("sessionEnded") : "");
  const username = h("input", { name: "username", autocomplete: "username", required: true, maxlength: 64 });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, t("signIn"));
  const form = h("form", { class: "signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, t("signIn")),
    field("username", t("username"), username),
    field("password", t("password"), password),
    submit, message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    message.className = "notice";
    message.textContent = t("signingIn");
    try {
      const me = await signIn(username.value.trim(), password.value);
      if (me.role === "collector") {
        message.className = "error";
        message.textContent = t("collectorRefused");
        password.value = "";
        return;
      }
      sessionStorage.removeItem("fv.expired");
      afterSignIn(me);
    } catch (error) {
      message.className = "error";
      message.textContent = error instanceof ApiError ? error.message : String(error);
    } finally {
      submit.disabled = false;
    }
  });
  main.append(form);
  username.focus();
}
