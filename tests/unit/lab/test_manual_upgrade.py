"""lab/manual_upgrade.py's reading of a container: the docker run options that recreate it as its user started
it, with what the old image carried left to the new image."""

from manual_upgrade import _docker_options, run_options

from ..helpers import FakeDocker

OLD = "127.0.0.1:5000/gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway:self-hosted-v18.2.1-ee"
IMAGE_ATTRS = {"Config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "STANDIN_GATEWAY_VERSION=self-hosted-v18.2.1-ee"],
                          "Labels": {"org.opencontainers.image.version": "self-hosted-v18.2.1-ee"},
                          "Cmd": None}}
# ``docker inspect`` of a gateway started with -e, -p, --network, -v, --mount, --label, --restart, --add-host.
ATTRS = {
    "Name": "/gitlab-aigw",
    "Image": "sha256:0123",
    "Config": {
        "Image": OLD,
        "Env": ["AIGW_GITLAB_URL=https://gitlab.example.com", "AIGW_GITLAB_API_URL=https://gitlab.example.com/api/v4/",
                "PATH=/usr/local/bin:/usr/bin:/bin", "STANDIN_GATEWAY_VERSION=self-hosted-v18.2.1-ee"],
        "Labels": {"org.opencontainers.image.version": "self-hosted-v18.2.1-ee", "gitlab_duo.test": "abc"},
        "Cmd": ["--log-level", "debug"],
    },
    "HostConfig": {
        "NetworkMode": "duo-test-abc",
        "PortBindings": {"5052/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18052"}],
                         "50052/tcp": [{"HostIp": "", "HostPort": ""}]},
        "Binds": ["/srv/aigw/keys:/home/aigateway/keys:ro"],
        "Mounts": [{"Type": "volume", "Source": "aigw-cache", "Target": "/home/aigateway/.hf"}],
        "RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0},
        "ExtraHosts": ["gitlab.example.com:10.213.0.20"],
    },
}
EXPECTED = {
    "name": "gitlab-aigw", "detach": True,
    "environment": ["AIGW_GITLAB_URL=https://gitlab.example.com", "AIGW_GITLAB_API_URL=https://gitlab.example.com/api/v4/"],
    "labels": {"gitlab_duo.test": "abc"},
    "network": "duo-test-abc",
    "ports": {"5052/tcp": [("127.0.0.1", 18052)], "50052/tcp": [("", None)]},
    "volumes": ["/srv/aigw/keys:/home/aigateway/keys:ro"],
    "mounts": [{"Target": "/home/aigateway/.hf", "Source": "aigw-cache", "Type": "volume", "ReadOnly": False}],
    "restart_policy": {"Name": "unless-stopped", "MaximumRetryCount": 0},
    "extra_hosts": ["gitlab.example.com:10.213.0.20"],
    "command": ["--log-level", "debug"],
}


def test_what_the_user_set_is_carried_and_what_the_old_image_set_is_not():
    assert run_options(ATTRS, IMAGE_ATTRS) == EXPECTED


def test_without_the_old_image_every_variable_and_label_is_carried():
    options = run_options(ATTRS)
    assert options["environment"] == ATTRS["Config"]["Env"] and options["labels"] == ATTRS["Config"]["Labels"]


def test_a_plain_docker_run_gives_plain_options():
    attrs = {"Name": "/gw", "Config": {"Env": IMAGE_ATTRS["Config"]["Env"], "Labels": None, "Cmd": None},
             "HostConfig": {"NetworkMode": "bridge", "PortBindings": {}, "Binds": None, "Mounts": None,
                            "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}}}
    assert run_options(attrs, IMAGE_ATTRS) == {"name": "gw", "detach": True}


def test_host_network_publishes_no_ports():
    attrs = dict(ATTRS, HostConfig=dict(ATTRS["HostConfig"], NetworkMode="host"))
    options = run_options(attrs, IMAGE_ATTRS)
    assert options["network_mode"] == "host" and "ports" not in options and "network" not in options


def test_the_options_go_through_the_sdk_and_read_back_the_same():
    """The SDK's own argument conversion (the fake engine uses it) turns the options into a container whose
    ``docker inspect`` gives the same options again: docker run with the same configuration."""
    engine = FakeDocker(local=[OLD])
    options = run_options(ATTRS, IMAGE_ATTRS)
    create = _docker_options(options)
    create.pop("detach")
    made = engine.containers.create(OLD, **create)
    assert run_options(made.attrs, engine.images.get(OLD).attrs) == options
