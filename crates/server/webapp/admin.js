// Administration, for users whose token carries User.ReadWrite.All or Directory.ReadWrite.All
// (granted by an administrator to Rolo People for them): the directory's users, and creating
// one with Graph's POST /users. Shared mailboxes, delegates and apps stay with the CLI for now.

import { h, $, toast, collator } from "./dom.js";
import { api, all } from "./api.js";
import { tokenScopes } from "./auth.js";

export const isAdmin = () => tokenScopes().some((s) => /^(User|Directory)\.ReadWrite\.All$/i.test(s));

export async function renderAdmin() {
  const pane = $("#detail");
  const users = (await all("/users?$select=id,displayName,userPrincipalName,accountEnabled&$top=999"))
    .sort((a, b) => collator.compare(a.displayName || "", b.displayName || ""));
  const error = h("p.error", { role: "alert" });
  const field = (name, label, type = "text") => h("p", {}, h("label", { for: `admin-${name}` }, label),
    h("input", { id: `admin-${name}`, name, type, required: true, autocomplete: type === "password" ? "new-password" : "off" }));
  const form = h("form.edit", { "aria-labelledby": "new-user-title" },
    h("h3", { id: "new-user-title" }, "New user"), error,
    field("displayName", "Display name"), field("userPrincipalName", "User name (e-mail)", "email"),
    field("password", "Password", "password"),
    h("p.actions", {}, h("button.primary", { type: "submit" }, "Create user")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const d = Object.fromEntries(new FormData(form));
    try {
      const u = await api("/users", { method: "POST", body: {
        accountEnabled: true, displayName: d.displayName, userPrincipalName: d.userPrincipalName,
        mailNickname: d.userPrincipalName.split("@")[0], passwordProfile: { password: d.password },
      } });
      toast(`Created the user ${u.userPrincipalName}.`);
      await renderAdmin();
    } catch (err) { error.textContent = err.message; }
  });
  pane.replaceChildren(h("h2", {}, "Administration"),
    h("table.users", {}, h("caption", {}, `${users.length} users`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "User name"), h("th", { scope: "col" }, "Sign-in"))),
      h("tbody", {}, users.map((u) => h("tr", {}, h("td", {}, u.displayName || ""), h("td", {}, u.userPrincipalName),
        h("td", {}, u.accountEnabled === false ? "disabled" : "enabled"))))),
    form,
    h("p.meta", {}, "Shared mailboxes, delegates and apps: rolo users and rolo apps on the command line."));
}
