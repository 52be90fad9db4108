"""Who may do what: the flow administrator lists the admin's users, adds one, changes
roles and passwords, disables, enables and deletes users (the same as ``superflow
users create|list|set-role|set-password|disable|enable|delete``).

Nobody disables, deletes or demotes themselves here (another administrator must), and
the last active flow administrator is never disabled or deleted (:mod:`superflow.users`
refuses it).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from superflow import users
from superflow.webapp.auth import role_required
from superflow.webapp.auth import start_session
from superflow.webapp.runtime import runtime

bp = Blueprint("accounts", __name__)


def _back() -> Any:
    return redirect(url_for("accounts.index"))


def _is_me(username: str) -> bool:
    return username.lower() == g.user["username"].lower()


def _existing(username: str) -> dict[str, Any]:
    user = users.get(runtime().redis, username)
    if user is None:
        abort(404, description=f"There is no user {username!r}.")
    return user


def _who(user: dict[str, Any]) -> str:
    """The user as the screen names them: a provider user by the name the provider gave."""
    return user.get("name") or user["username"]


def _role_words(role: str) -> str:
    return users.ROLES[role].split(":")[0].lower()


@bp.get("/users")
@role_required("flow_admin")
def index():
    conn = runtime().redis
    listed = users.list_users(conn)
    last_admins = {u["username"] for u in listed if users.is_last_active_admin(conn, u["username"])}
    return render_template(
        "admin/users.html",
        users=listed,
        roles=users.ROLES,
        role_names=users.ROLE_NAMES,
        last_admins=last_admins,
    )


@bp.post("/users")
@role_required("flow_admin")
def create():
    form = request.form
    try:
        made = users.create(
            runtime().redis, form.get("username", ""), form.get("password", ""), form.get("role", "")
        )
        flash(f"{made['username']} can now sign in as {_role_words(made['role'])}.")
    except users.UserError as exc:
        flash(str(exc), "error")
    return _back()


@bp.post("/users/<username>/role")
@role_required("flow_admin")
def set_role(username: str):
    role = request.form.get("role", "")
    if _is_me(username) and role != "flow_admin":
        flash("You cannot take away your own administrator role; ask another administrator.", "error")
        return _back()
    try:
        users.set_role(runtime().redis, username, role)
        flash(f"{username} is now {_role_words(role)}.")
    except users.UserError as exc:
        flash(str(exc), "error")
    return _back()


@bp.get("/users/<username>/password")
@role_required("flow_admin")
def password_form(username: str):
    return render_template("admin/user_password.html", user=_existing(username), me=_is_me(username))


@bp.post("/users/<username>/password")
@role_required("flow_admin")
def set_password(username: str):
    user = _existing(username)
    try:
        users.set_password(runtime().redis, user["username"], request.form.get("password", ""))
    except users.UserError as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.password_form", username=user["username"]))
    if _is_me(username):
        start_session(g.user["username"])
        flash(f"The password of {user['username']} was changed; your other sessions have ended.")
    else:
        flash(f"The password of {user['username']} was changed; their sessions have ended.")
    return _back()


@bp.post("/users/<username>/<any(disable, enable):action>")
@role_required("flow_admin")
def switch(username: str, action: str):
    user = _existing(username)
    if action == "disable" and _is_me(username):
        flash("You cannot disable yourself; ask another administrator.", "error")
        return _back()
    try:
        if action == "disable":
            users.disable(runtime().redis, user["username"])
            flash(f"{_who(user)} can no longer sign in; their sessions have ended.")
        else:
            users.enable(runtime().redis, user["username"])
            flash(f"{_who(user)} can sign in again.")
    except users.UserError as exc:
        flash(str(exc), "error")
    return _back()


@bp.get("/users/<username>/delete")
@role_required("flow_admin")
def confirm_delete(username: str):
    user = _existing(username)
    refusal = ""
    if _is_me(username):
        refusal = "You cannot delete yourself; ask another administrator."
    elif users.is_last_active_admin(runtime().redis, user["username"]):
        refusal = (
            f"{user['username']} is the last active flow administrator:"
            " make another user a flow administrator first."
        )
    return render_template("admin/user_delete.html", user=user, refusal=refusal)


@bp.post("/users/<username>/delete")
@role_required("flow_admin")
def delete(username: str):
    user = _existing(username)
    if _is_me(username):
        flash("You cannot delete yourself; ask another administrator.", "error")
        return _back()
    try:
        users.delete(runtime().redis, user["username"])
        flash(f"{_who(user)} was deleted; their sessions have ended.")
    except users.UserError as exc:
        flash(str(exc), "error")
    return _back()
