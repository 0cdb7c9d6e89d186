"""Errors users can act on: InputError names the field, the bad value and the fix; DuoError.fail hands its details
to fail_json."""

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError


class Module:
    def __init__(self):
        self.failed = None

    def fail_json(self, **result):
        self.failed = result


def test_input_error_names_field_value_problem_and_fix():
    error = InputError("published_port", 70000, "is not a TCP port", "use a number from 1 to 65535")
    assert str(error) == error.msg == "published_port=70000: is not a TCP port. Fix: use a number from 1 to 65535"
    assert error.details == {"field": "published_port"} and isinstance(error, DuoError)
    assert InputError("gitlab_url", "gitlab", "p", "f").msg.startswith("gitlab_url='gitlab': ")


def test_fail_passes_details_and_extra_keys():
    module = Module()
    DuoError("Cannot pull x. Fix: load it", status=500, logs=["a"]).fail(module, changed=True)
    assert module.failed == {"msg": "Cannot pull x. Fix: load it", "status": 500, "logs": ["a"], "changed": True}
