"""schemathesis hooks for scripts/schemathesis.sh.

Each attack the fuzzer manages to inject is recovered at once, and an
emergency stop is lifted at once, so that every following example meets a
server in its ordinary state (no fault left on the sandbox's loopback, no
stress workers piling up, applies not all refused with 409 Halted). The
recovery goes through the API like any client's, so a recovery that fails
is a failure of the run.

Stress attacks are sent with at most a few workers: the API takes up to
8192, and thousands of processes started on a CI machine (capped at 4096
in the sandbox) answer with the host's fork failure, or not within the
request timeout, which says nothing about the API's contract. Counts the
API refuses (above 8192, fractions) are sent as generated.
"""

import json
import os
import urllib.error
import urllib.request

import schemathesis

BASE = os.environ["TUMULT_URL"].rstrip("/")
TOKEN = os.environ.get("TUMULT_TOKEN", "")
FAILURES = os.environ.get("TUMULT_HOOK_FAILURES", "")


def _call(method, path):
    headers = {"Authorization": "Bearer " + TOKEN} if TOKEN else {}
    request = urllib.request.Request(BASE + path, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError as error:
        return str(error)


def _record(text):
    print("schemathesis_hooks: " + text, flush=True)
    if FAILURES:
        with open(FAILURES, "a", encoding="utf-8") as failures:
            failures.write(text + "\n")


MAX_STRESS_WORKERS = 4


@schemathesis.hook
def before_call(context, case, **kwargs):
    if case.path != "/api/attack/stress" or not isinstance(case.body, dict):
        return
    workers = case.body.get("workers")
    if isinstance(workers, (int, float)) and not isinstance(workers, bool) \
            and workers == int(workers) and MAX_STRESS_WORKERS < workers <= 8192:
        case.body["workers"] = MAX_STRESS_WORKERS


@schemathesis.hook
def after_call(context, case, response):
    if case.method.upper() != "POST" or response.status_code != 200:
        return
    if case.path.startswith("/api/attack/"):
        try:
            uid = json.loads(response.content).get("uid")
        except (ValueError, AttributeError):
            return  # the schema check reports the body
        if uid:
            status = _call("DELETE", "/api/attack/" + uid)
            if status != 200:
                _record("recovering attack %s (from POST %s) answered %s" % (uid, case.path, status))
    elif case.path == "/api/halt":
        status = _call("DELETE", "/api/halt")
        if status != 200:
            _record("DELETE /api/halt after a halt answered %s" % status)
