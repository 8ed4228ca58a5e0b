#!/usr/bin/python3
"""warren.conf.example (installed as /etc/warren/warren.conf) names every key of
docs/configuration.md, commented or not, and no other; its uncommented lines are the defaults
(tests/unit/broker/test_config.c loads it and compares). Usage: check_example.py SOURCE_ROOT"""
import re
import sys

root = sys.argv[1]
doc = open(root + "/docs/configuration.md").read()
keys_section = doc.split("\n## Keys", 1)[1].split("\n## ", 1)[0]
documented = set(re.findall(r"^\| `([A-Za-z0-9_.$]+)` \|", keys_section, re.M))
example = set()
for line in open(root + "/warren.conf.example"):
    m = re.match(r"^#? ?([a-z][a-z0-9_.]*) = ", line)
    if m:
        example.add(re.sub(r"^ssl_options\.versions\..*", "ssl_options.versions.N", m.group(1)))
missing, unknown = sorted(documented - example), sorted(example - documented)
for k in missing:
    print("warren.conf.example lacks %s (documented in docs/configuration.md)" % k)
for k in unknown:
    print("warren.conf.example has %s, which docs/configuration.md does not document" % k)
print("%d keys documented, %d in the example" % (len(documented), len(example)))
sys.exit(1 if missing or unknown else 0)
