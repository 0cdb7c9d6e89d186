"""lab/traffic.py without the lab: where traffic may go, the bookkeeping of a poll, the check of a stream, and a
short poll against a loopback server."""

import socket

import pytest

from traffic import (
    Poller, Stream, Tally, TrafficRefused, allowed_network, check_stream, check_url, stream_url)

from ..helpers import Answer, LoopbackHTTP, closed_port


def resolver(*addresses):
    """A getaddrinfo answering ``addresses`` for any name."""
    def resolve(host, port, family, kind):
        return [(socket.AF_INET6 if ":" in address else socket.AF_INET, kind, 6, "", (address, port))
                for address in addresses]
    return resolve


@pytest.mark.parametrize("address, network", [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("10.213.0.11", "the fleet bridge"), ("172.17.0.2", "Docker's bridges"), ("172.31.255.254", "Docker's bridges"),
    ("10.213.1.1", None), ("172.32.0.1", None), ("192.168.1.10", None), ("8.8.8.8", None), ("fe80::1%eth0", None)])
def test_allowed_networks(address, network):
    assert allowed_network(address) == network


def test_lab_addresses_pass_and_are_returned():
    assert check_url("http://gateway.duo-lab.test:8443/x", resolve=resolver("127.0.0.1")) == ["127.0.0.1"]
    assert check_url("https://node03.duo-fleet.test/", resolve=resolver("10.213.0.13")) == ["10.213.0.13"]


def test_a_name_resolving_outside_the_lab_is_refused_with_the_reason():
    with pytest.raises(TrafficRefused) as refused:
        check_url("https://gitlab.example.com/monitoring/healthz", resolve=resolver("93.184.216.34"))
    assert "93.184.216.34" in str(refused.value) and "outside the lab's networks" in str(refused.value)


def test_one_address_outside_is_enough_to_refuse():
    """A name with a loopback and a public address: the connection could go to either."""
    with pytest.raises(TrafficRefused, match="203.0.113.5"):
        check_url("http://mixed.test/", resolve=resolver("127.0.0.1", "203.0.113.5"))


def test_the_real_resolver_is_used_by_default():
    assert check_url("http://127.0.0.1:1/") == ["127.0.0.1"]
    with pytest.raises(TrafficRefused, match="outside"):
        check_url("http://192.0.2.1/")


@pytest.mark.parametrize("url, reason", [
    ("ftp://127.0.0.1/", "only http"), ("127.0.0.1:5052", "only http"), ("http:///path", "only http"),
    ("http://no-such-name.invalid/", "cannot resolve")])
def test_urls_that_cannot_be_checked_are_refused(url, reason):
    with pytest.raises(TrafficRefused, match=reason):
        check_url(url)


@pytest.mark.parametrize("options, name", [
    ({"rate": 0}, "rate"), ({"rate": 1000}, "rate"), ({"max_seconds": 0}, "max_seconds"),
    ({"max_seconds": 10000}, "max_seconds"), ({"max_requests": 0}, "max_requests"), ({"rate": True}, "rate")])
def test_a_poller_refuses_unbounded_settings(options, name):
    with pytest.raises(TrafficRefused, match=name):
        Poller("http://127.0.0.1:1/", **options)


def test_a_poller_refuses_an_address_outside_the_lab_before_sending_anything():
    with pytest.raises(TrafficRefused, match="outside"):
        Poller("http://192.0.2.1/monitoring/healthz")


def test_tally_counts_failures_gaps_and_seconds():
    tally = Tally("http://127.0.0.1/")
    tally.record(0.05, status=200)
    tally.record(0.10, status=401)           # answered: the gateway's root without a token
    tally.record(0.20, error="ConnectionError: refused")
    tally.record(1.30, status=502)
    tally.record(2.10, status=200)
    result = tally.finish(2.2, "max_seconds")
    assert (result.sent, result.ok, result.failed) == (5, 3, 2)
    assert result.longest_gap == 2.0         # 0.10 -> 2.10
    assert result.statuses == {200: 2, 401: 1, 502: 1}
    assert result.errors == [{"at": 0.2, "error": "ConnectionError: refused"}, {"at": 1.3, "error": "HTTP 502"}]
    assert result.per_second == [{"second": 0, "sent": 3, "ok": 2, "failed": 1},
                                 {"second": 1, "sent": 1, "ok": 0, "failed": 1},
                                 {"second": 2, "sent": 1, "ok": 1, "failed": 0}]
    assert result.as_dict()["stopped_by"] == "max_seconds"


def test_tally_keeps_the_first_errors_only_and_no_gap_without_two_answers():
    tally = Tally("u")
    for at in range(8):
        tally.record(at / 10, error="Timeout {0}".format(at))
    tally.record(0.9, status=200)
    result = tally.finish(1.0, "stop")
    assert result.failed == 8 and [error["error"] for error in result.errors] == [
        "Timeout {0}".format(at) for at in range(5)]
    assert result.longest_gap is None


def lines(*items):
    return "".join(item + "\n" for item in items)


@pytest.mark.parametrize("text, expected", [
    (lines("chunk 1/3", "chunk 2/3", "chunk 3/3", "end of stream: 3 chunks"), (True, 3, True, True)),
    (lines("chunk 1/3", "chunk 2/3", "chunk 3/3"), (False, 3, True, False)),                  # cut before the end
    (lines("chunk 1/3", "chunk 3/3", "end of stream: 3 chunks"), (False, 2, False, True)),    # one lost
    (lines("chunk 2/3", "chunk 1/3", "chunk 3/3", "end of stream: 3 chunks"), (False, 3, False, True)),
    (lines("chunk 1/3", "chunk 2/3", "chunk 3/3", "end of stream: 3 chunks", "chunk 1/3"), (False, 4, False, False)),
    (lines("chunk 1/3", "chunk 2/3", "chunk 3/3", "end of stream: 4 chunks"), (False, 3, True, False)),
    (lines("chunk 1/2", "chunk 2/2", "end of stream: 2 chunks"), (False, 0, True, False)),    # another stream
    ('{"detail":"Not Found"}', (False, 0, True, False)),
    ("", (False, 0, True, False))])
def test_check_stream(text, expected):
    assert check_stream(text, 3) == expected


def test_stream_url_takes_a_base_url_or_the_endpoint():
    assert stream_url("http://127.0.0.1:5052", 20, 40) == \
        "http://127.0.0.1:5052/v1/chat/agent?standin_chunks=40&standin_seconds=20"
    assert stream_url("https://gateway.duo-lab.test:8443/", 2, 4).startswith("https://gateway.duo-lab.test:8443/v1/")
    assert stream_url("http://127.0.0.1:1/other/path?x=1", 1, 1) == \
        "http://127.0.0.1:1/other/path?standin_chunks=1&standin_seconds=1"


def test_stream_bounds_and_addresses():
    assert Stream("http://127.0.0.1:1", 20).chunks == 40
    assert Stream("http://127.0.0.1:1", 0).chunks == 1
    with pytest.raises(TrafficRefused, match="seconds"):
        Stream("http://127.0.0.1:1", 121)
    with pytest.raises(TrafficRefused, match="chunks"):
        Stream("http://127.0.0.1:1", 5, chunks=5000)
    with pytest.raises(TrafficRefused, match="outside"):
        Stream("http://192.0.2.1", 5)


def test_stream_against_a_server_that_does_not_stream_is_not_intact():
    with LoopbackHTTP({("POST", "/v1/chat/agent"): Answer(404, {"detail": "Not Found"})}) as server:
        result = Stream(server.url, 1, chunks=2).run()
    assert not result.intact and result.status == 404 and result.error == "HTTP 404"
    request = server.requests[0]
    assert request["path"] == "/v1/chat/agent?standin_chunks=2&standin_seconds=1"
    assert '"stream": true' in request["body"]


def test_a_poll_stops_by_itself_at_its_time_bound():
    with LoopbackHTTP({("GET", "/monitoring/healthz"): Answer(200, {"status": "ok"})}) as server:
        result = Poller(server.url + "/monitoring/healthz", rate=20, max_seconds=0.5).start().wait(5)
    assert result is not None and result.stopped_by == "max_seconds"
    assert 5 <= result.sent <= 11 and result.failed == 0 and result.ok == result.sent
    assert result.statuses == {200: result.sent} and result.longest_gap < 0.5


def test_a_poll_stops_at_its_request_bound_and_on_stop():
    with LoopbackHTTP({("GET", "/"): Answer(401, {"error": "No authorization header presented"})}) as server:
        counted = Poller(server.url + "/", rate=50, max_seconds=10, max_requests=3).start().wait(5)
        with Poller(server.url + "/", rate=50, max_seconds=10) as poller:
            pass
    assert counted.sent == 3 and counted.stopped_by == "max_requests" and counted.ok == 3
    assert poller.result.stopped_by == "stop"
    assert len(server.requests) == 3 + poller.result.sent


def test_a_poll_of_a_closed_port_counts_connection_errors():
    result = Poller("http://127.0.0.1:{0}/".format(closed_port()), rate=20, max_requests=4).start().wait(5)
    assert result.sent == result.failed == 4 and result.ok == 0
    assert result.errors[0]["error"].startswith("ConnectionError: ") and result.per_second[0]["failed"] == 4


def test_a_poll_ignores_proxy_variables_and_redirects(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://192.0.2.1:3128")
    monkeypatch.setenv("http_proxy", "http://192.0.2.1:3128")
    routes = {("GET", "/"): Answer(302, "", {"Location": "http://192.0.2.1/elsewhere"})}
    with LoopbackHTTP(routes) as server:
        result = Poller(server.url + "/", rate=20, max_requests=2).start().wait(5)
    assert result.statuses == {302: 2} and result.failed == 0


def test_a_poll_without_keep_alive_asks_for_a_new_connection_each_time():
    with LoopbackHTTP({("GET", "/"): Answer(200, "ok")}) as server:
        Poller(server.url + "/", rate=50, max_requests=2, keep_alive=False).start().wait(5)
        Poller(server.url + "/", rate=50, max_requests=1).start().wait(5)
    assert [request["headers"].get("Connection") for request in server.requests] == ["close", "close", "keep-alive"]
