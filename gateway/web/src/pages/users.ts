/** Users: create with role and groups (a generated password shown once), delete with confirmation. */
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import type { CreateUserResponse, User } from "../../../../proto/api_types.ts";
import { api } from "../api.ts";
import { me } from "../session.ts";
import { Copyable, ErrorBox, Page, when } from "../ui.ts";

export function Users() {
  const [list, setList] = useState<User[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [created, setCreated] = useState<CreateUserResponse | undefined>(undefined);
  const refresh = () => api<User[]>("GET", "/api/users").then(setList, setError);
  useEffect(() => void refresh(), []);
  const create = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    setError(undefined);
    try {
      setCreated(
        await api<CreateUserResponse>("POST", "/api/users", {
          email: String(f.get("email")).trim(),
          role: f.get("role"),
          groups: String(f.get("groups") ?? "").split(",").map((g) => g.trim()).filter(Boolean),
        }),
      );
      form.reset();
      await refresh();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (u: User) => {
    if (!confirm(`Delete ${u.email}? Their tokens stop working and their live sessions end.`)) {
      return;
    }
    try {
      await api("DELETE", `/api/users/${encodeURIComponent(u.email)}`);
      await refresh();
    } catch (err) {
      setError(err);
    }
  };
  return html`<${Page} title="Users">
    <form class="inline" onSubmit=${create}>
      <div><label for="u-email">Email</label><input id="u-email" name="email" type="email" required /></div>
      <div><label for="u-role">Role</label><select id="u-role" name="role"><option>user</option><option>admin</option></select></div>
      <div><label for="u-groups">Groups</label><input id="u-groups" name="groups" placeholder="dba, oncall" /></div>
      <button type="submit">Create user</button>
    </form>
    <${ErrorBox} error=${error} />
    ${
    created
      ? html`<div class="notice" role="status">
      <p><strong>${created.user.email} created.</strong>${
        created.password ? " Their password is shown only now:" : ""
      }</p>
      ${created.password ? html`<${Copyable} text=${created.password} label="password" />` : null}
      <button type="button" class="secondary" onClick=${() => setCreated(undefined)}>Done</button>
    </div>`
      : null
  }
    ${
    !list ? html`<p aria-busy="true">Loading…</p>` : html`
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Groups</th>
              <th scope="col">Created</th>
              <th scope="col"><span class="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>${list.map((u) =>
            html`
              <tr data-user=${u.email}>
                <td>${u.email}</td>
                <td>${u.role}</td>
                <td>${u.groups.join(", ") || "-"}</td>
                <td>${when(u.created_at)}</td>
                <td>${u.id === me.value?.id
                  ? html`<span class="hint">you</span>`
                  : html`<button type="button" class="danger" onClick=${() =>
                    remove(u)} aria-label=${`Delete ${u.email}`}>Delete</button>`}</td>
              </tr>
            `
          )}</tbody>
        </table>
      </div>
    `
  }
  </${Page}>`;
}
