#!/usr/bin/python3
"""Read Prometheus text from stdin with Debian's prometheus_client parser and
print what it understood, one family per line and one sample per indented line
(labels sorted), so a test can compare. Exit 1 when it does not parse."""
import sys

from prometheus_client.parser import text_string_to_metric_families

try:
    for fam in text_string_to_metric_families(sys.stdin.read()):
        print(fam.name, fam.type, repr(fam.documentation))
        for s in fam.samples:
            print(" ", s.name, dict(sorted(s.labels.items())), s.value)
except Exception as e:  # any parse error fails the test
    print("prom_parse:", e, file=sys.stderr)
    sys.exit(1)
