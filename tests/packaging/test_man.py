#!/usr/bin/python3
"""Each manual page renders with `man -l` without a single groff warning, at the widths of a
narrow and a wide terminal, and lexgrog (what mandb indexes for apropos and whatis) finds its
NAME line. Usage: test_man.py PAGE..."""
import os
import subprocess
import sys
import unittest

PAGES = []
# MAN_KEEP_FORMATTING (any value) would keep the overstrikes in piped output
PLAIN_ENV = {k: v for k, v in os.environ.items() if k != "MAN_KEEP_FORMATTING"}


class ManPages(unittest.TestCase):
    def test_every_page_renders_without_warnings(self):
        for page in PAGES:
            for width in ("60", "80", "120"):
                r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", page],
                                   capture_output=True, text=True,
                                   env=dict(PLAIN_ENV, MANWIDTH=width))
                self.assertEqual((r.returncode, r.stderr), (0, ""), page + " at " + width)
                self.assertGreater(len(r.stdout.splitlines()), 20, page)
                self.assertIn("NAME", r.stdout)

    def test_lexgrog_finds_every_name_section(self):
        for page in PAGES:
            name = os.path.basename(page).rsplit(".", 1)[0]
            r = subprocess.run(["lexgrog", page], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertRegex(r.stdout, r': "%s - \S' % name.replace(".", r"\."))

    def test_no_page_has_an_unfilled_placeholder(self):
        for page in PAGES:
            with open(page) as f:
                text = f.read()
            self.assertNotRegex(text, r"@[A-Z_]+@", page)


if __name__ == "__main__":
    PAGES[:] = sys.argv[1:]
    del sys.argv[1:]
    unittest.main(verbosity=2)
