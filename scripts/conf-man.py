#!/usr/bin/python3
"""scripts/conf-man.py TEMPLATE CONFIGURATION_MD OUTPUT: writes warren.conf(5) from its roff
template (NAME, SYNOPSIS, FILES, SEE ALSO) and docs/configuration.md, so the manual page and the
documentation describe the same keys with the same defaults. The template's line `@BODY@` is
replaced by the Markdown after its title, converted: `##` headings become .SH, `###` .SS,
paragraphs .PP, bullets .IP, and each table row a tagged paragraph (first column bold, a
`default` column shown in parentheses). Inline `code` becomes bold, links keep their text."""
import re
import sys

ASCII = {"\u00b2": "^2", "\u00b3": "^3", "\u2076": "^6", "\u2079": "^9", "\u2264": "<=",
         "\u2265": ">=", "\u2014": "\\(em", "\u2013": "\\(en", "\u00d7": "x", "\u2192": "->"}


def inline(text):
    for k, v in ASCII.items():
        text = text.replace(k, v)
    if re.search(r"[^\x00-\x7f]", text):
        raise SystemExit("conf-man.py: non-ASCII text left: %r" % text)
    text = text.replace("\\", "\\e")
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)             # [text](link) -> text
    text = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", text)
    text = re.sub(r"`([^`]+)`", lambda m: "\\fB" + m.group(1).replace("-", "\\-") + "\\fR", text)
    return text


def line_out(out, text):
    text = inline(text)
    if text.startswith((".", "'")):
        text = "\\&" + text
    out.append(text)


def cells(row):
    """A table row's cells: split at the '|' outside `code` spans."""
    out, cur, code = [], "", False
    for ch in row.strip().strip("|"):
        if ch == "`":
            code = not code
        if ch == "|" and not code:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return out + [cur]


def table(out, rows):
    header = [c.strip().lower() for c in rows[0]]
    for row in rows[2:]:
        cells = [c.strip() for c in row]
        out.append(".TP")
        first = inline(cells[0]).replace("\\fB", "").replace("\\fR", "")
        out.append(".B " + first if " " not in first else '.B "' + first + '"')
        rest = []
        for name, cell in zip(header[1:], cells[1:]):
            if not cell:
                continue
            # \& ends the line: "(default: .*)" is not the end of a sentence
            rest.append(inline("(default: %s)" % cell) + "\\&" if name == "default" else inline(cell))
        out.extend(rest)


def convert(md):
    lines = md.split("\n")
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    out, para, rows, bullet = [], False, [], False
    for raw in lines + [""]:
        s = raw.rstrip()
        if rows and not s.startswith("|"):
            table(out, rows)
            rows = []
        if not s:
            para = bullet = False
            continue
        if s.startswith("|"):
            rows.append(cells(s))
            continue
        if s.startswith("### "):
            out.append(".SS " + inline(s[4:]))
            para = False
        elif s.startswith("## "):
            out.append(".SH " + inline(s[3:]).upper())
            para = False
        elif s.startswith("- "):
            out.append(".IP \\(bu 2")
            line_out(out, s[2:])
            bullet, para = True, True
        elif bullet and raw.startswith("  "):
            line_out(out, s.strip())
        else:
            if not para:
                out.append(".PP")
                para = True
            line_out(out, s.strip())
    return "\n".join(out)


def main():
    template, md, output = sys.argv[1:4]
    body = convert(open(md, encoding="utf-8").read())
    text = open(template).read().replace("@BODY@\n", body + "\n")
    with open(output, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
