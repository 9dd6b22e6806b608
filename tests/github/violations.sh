# What Prism logged as at odds with GitHub's schema since a byte offset of
# its violations log, but for the answers the fake breaks on purpose (the
# schema-drift owner, for the observe-failure trials): what a test's own
# requests and answers got wrong. Tests running beside it may add the
# deliberate ones. Source it after the stand-in's env.sh.
# shellcheck shell=bash
# new_violations START: print them, one JSON line each
new_violations() { tail -c +$(($1 + 1)) "$OSR_GITHUB_VIOLATIONS_LOG" | grep -v '"/repos/schema-drift/' || true; }
