"""Errors users can act on: InputError names the field, the bad value and the fix; DuoError.fail hands its details
to fail_json; respond() is a module's whole answer."""

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError, respond


class Module:
    """An AnsibleModule's two ways out; like the real ones, neither returns."""

    def __init__(self):
        self.failed = self.exited = None
        self.warned = []

    def warn(self, warning):
        self.warned.append(warning)

    def fail_json(self, **result):
        self.failed = result
        raise SystemExit(1)

    def exit_json(self, **result):
        self.exited = result
        raise SystemExit(0)


def test_input_error_names_field_value_problem_and_fix():
    error = InputError("published_port", 70000, "is not a TCP port", "use a number from 1 to 65535")
    assert str(error) == error.msg == "published_port=70000: is not a TCP port. Fix: use a number from 1 to 65535"
    assert error.details == {"field": "published_port"} and isinstance(error, DuoError)
    assert InputError("gitlab_url", "gitlab", "p", "f").msg.startswith("gitlab_url='gitlab': ")


def test_fail_passes_details_and_extra_keys():
    module = Module()
    with pytest.raises(SystemExit):
        DuoError("Cannot pull x. Fix: load it", status=500, logs=["a"]).fail(module, changed=True)
    assert module.failed == {"msg": "Cannot pull x. Fix: load it", "status": 500, "logs": ["a"], "changed": True}


def test_respond_exits_with_the_result_or_fails_with_the_error():
    module = Module()
    with pytest.raises(SystemExit):
        respond(module, lambda params, check_mode: dict(changed=check_mode, name=params["name"]), {"name": "gw"}, True)
    assert module.exited == {"changed": True, "name": "gw"} and module.failed is None

    def refuse(params):
        raise InputError("name", params["name"], "is taken", "choose another")

    module = Module()
    with pytest.raises(SystemExit):
        respond(module, refuse, {"name": "gw"})
    assert module.failed == {"msg": "name='gw': is taken. Fix: choose another", "field": "name"}
    assert module.exited is None


def test_respond_hands_warnings_to_module_warn():
    module = Module()
    with pytest.raises(SystemExit):
        respond(module, lambda: dict(changed=False, warnings=["notes.txt is not the build's"]))
    assert module.warned == ["notes.txt is not the build's"]
    assert module.exited == {"changed": False}
