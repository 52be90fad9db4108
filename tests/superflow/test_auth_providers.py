"""The role mappings of auth providers (superflow.auth_providers) as an administrator writes
them in SUPERFLOW_OIDC_ROLES: refused at start with the variable and the bad entry named,
and matched first rule first."""

from __future__ import annotations

import pytest

from superflow.auth_providers import RoleRule
from superflow.auth_providers import map_role
from superflow.config import Config
from superflow.config import ConfigError


def test_the_mapping_is_read_from_the_environment_in_order():
    config = Config.from_env(
        {"SUPERFLOW_OIDC_ROLES": " Marketing admins = flow_admin ;Content team=content_editor; *=viewer;"}
    )

    assert config.oidc_roles == (
        RoleRule("Marketing admins", "flow_admin"),
        RoleRule("Content team", "content_editor"),
        RoleRule("*", "viewer"),
    )


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Marketing admins=flow_admin; Content team", "'Content team' is not of the form value=role"),
        ("Marketing admins=admin", "'Marketing admins=admin' names the role 'admin'"),
        ("=viewer", "'=viewer' is not of the form value=role"),
    ],
)
def test_a_bad_entry_is_refused_naming_the_variable_and_the_entry(text, named):
    with pytest.raises(ConfigError, match=f"SUPERFLOW_OIDC_ROLES: {named}"):
        Config.from_env({"SUPERFLOW_OIDC_ROLES": text})


def test_the_first_rule_the_person_matches_wins_and_says_why():
    rules = (RoleRule("Content team", "content_editor"), RoleRule("Marketing admins", "flow_admin"))

    assert map_role(["Marketing admins", "Content team"], rules, "group") == (
        "content_editor",
        "group 'Content team' → Content editor",
    )
    assert map_role(["Sales"], rules, "group") is None
    assert map_role(["content team"], rules, "group") is None


def test_loose_matching_ignores_case_spaces_and_punctuation():
    rules = (RoleRule("Flow administrator", "flow_admin"),)

    assert map_role(["flow-administrator"], rules, "functional right", exact=False) == (
        "flow_admin",
        "functional right 'flow-administrator' → Flow administrator",
    )
    assert map_role(["flow-admin"], rules, "functional right", exact=False) is None
