"""Who may do what: the flow administrator lists the admin's users, adds one and
changes roles (the same as ``superflow users create|list|set-role``)."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from superflow import users
from superflow.webapp.auth import role_required
from superflow.webapp.runtime import runtime

bp = Blueprint("accounts", __name__)


@bp.get("/users")
@role_required("flow_admin")
def index():
    return render_template("users.html", users=users.list_users(runtime().redis), roles=users.ROLES)


@bp.post("/users")
@role_required("flow_admin")
def create():
    form = request.form
    try:
        made = users.create(
            runtime().redis, form.get("username", ""), form.get("password", ""), form.get("role", "")
        )
        flash(f"{made['username']} can now sign in as {users.ROLES[made['role']].split(':')[0].lower()}.")
    except users.UserError as exc:
        flash(str(exc), "error")
    return redirect(url_for("accounts.index"))


@bp.post("/users/<username>/role")
@role_required("flow_admin")
def set_role(username: str):
    role = request.form.get("role", "")
    if username.lower() == g.user["username"].lower() and role != "flow_admin":
        flash("You cannot take away your own administrator role; ask another administrator.", "error")
        return redirect(url_for("accounts.index"))
    try:
        users.set_role(runtime().redis, username, role)
        flash(f"{username} is now {users.ROLES[role].split(':')[0].lower()}.")
    except users.UserError as exc:
        flash(str(exc), "error")
    return redirect(url_for("accounts.index"))
