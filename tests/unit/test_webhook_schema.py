#!/usr/bin/python3
"""The webhook payloads the tests send are GitHub's: each fixture in
tests/fixtures/webhooks is checked against GitHub's own schema
(schema.json, from @octokit/openapi-webhooks) with Debian's jsonschema
(Draft 2020-12). The old in_progress example must fail on exactly the
four fields the schema now requires and the parser does not need: the
check can fail, and the parser's leniency is on purpose."""
import json
import os
import sys

import jsonschema

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "webhooks")
spec = json.load(open(os.path.join(HERE, "schema.json")))
cases = {
    "workflow_job_queued.json": "webhook-workflow-job-queued",
    "workflow_job_in_progress.json": "webhook-workflow-job-in-progress",
    "workflow_job_completed.json": "webhook-workflow-job-completed",
    "workflow_job_waiting.json": "webhook-workflow-job-waiting",
    "ping.json": "webhook-ping",
}
old_missing = {"run_attempt", "workflow_name", "head_branch", "created_at"}
fails = 0
for name, schema in cases.items():
    root = dict(spec, **{"$ref": "#/components/schemas/" + schema})
    errors = list(jsonschema.Draft202012Validator(root).iter_errors(json.load(open(os.path.join(HERE, name)))))
    if name == "workflow_job_in_progress.json":
        missing = set()
        for e in errors:
            for sub in [e] + list(e.context or []):
                if sub.validator == "required":
                    missing.update(k for k in sub.validator_value if k in old_missing and k in sub.message)
        ok = errors and missing == old_missing
        print("ok  " if ok else "FAIL", name, "fails on", sorted(missing))
    else:
        ok = not errors
        print("ok  " if ok else "FAIL", name, "valid" if ok else [e.message[:120] for e in errors][:3])
    fails += not ok
sys.exit(1 if fails else 0)
