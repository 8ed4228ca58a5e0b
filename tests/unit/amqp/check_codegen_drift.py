#!/usr/bin/python3
"""Regenerates amqp/methods_gen.[ch] into a scratch directory and compares them with the
committed copies. Usage: check_codegen_drift.py GEN_SCRIPT SPEC_DEF AMQP_DIR SCRATCH_DIR"""

import difflib
import os
import subprocess
import sys


def main(argv):
    gen, spec, amqp_dir, scratch = argv[1:5]
    os.makedirs(scratch, exist_ok=True)
    subprocess.run([sys.executable, gen, spec, scratch], check=True)
    drift = False
    for name in ("methods_gen.h", "methods_gen.c"):
        with open(os.path.join(amqp_dir, name), encoding="utf-8") as f:
            committed = f.readlines()
        with open(os.path.join(scratch, name), encoding="utf-8") as f:
            fresh = f.readlines()
        if committed != fresh:
            drift = True
            sys.stdout.writelines(difflib.unified_diff(committed, fresh, "committed/" + name,
                                                       "generated/" + name))
    if drift:
        print("amqp/methods_gen.* are stale: run `ninja amqp-codegen` and commit them")
        return 1
    print("methods_gen.[ch] match spec.def")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
