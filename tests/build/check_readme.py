#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The documentation tells the truth about the code it shows.

- Every code block of the README and of docs/*.md marked
  ``<!-- example: examples/<file>.cpp:<region> -->`` is, line for line, the
  region between ``// --8<-- [start:<region>]`` and ``// --8<-- [end:<region>]``
  of that example (dedented). The examples are built and run as tests, so
  the documentation's code compiles and runs.
- Every block marked ``<!-- output: <file> -->`` (a ```text block) is the
  file byte for byte: a command's output that a test compares with what
  the command really prints (tests/cli/expected/).
- No README, docs/ page or public header points at files that users of the
  repository do not have (``../shared/``, ``reference/*.md``).

Usage: check_readme.py <repository>; exit status 1 with the reasons on a mismatch.
"""
import pathlib
import re
import sys
import textwrap


def region(source: str, name: str):
    m = re.search(r"// --8<-- \[start:" + re.escape(name) + r"\][^\n]*\n(.*?)\n[^\n]*// --8<-- \[end:"
                  + re.escape(name) + r"\]", source, re.S)
    return textwrap.dedent(m.group(1)) + "\n" if m else None


def main(root: pathlib.Path) -> int:
    problems = []
    blocks = 0
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        name_of_page = page.relative_to(root)
        found = re.findall(r"<!-- example: ([^ :]+):([^ ]+) -->\n```cpp\n(.*?)```",
                           page.read_text(encoding="utf-8"), re.S)
        if not found and page.name == "README.md":
            problems.append("README.md has no <!-- example: ... --> block")
        blocks += len(found)
        for path, name, shown in found:
            file = root / path
            if not file.is_file():
                problems.append(f"{name_of_page} quotes {path}, which does not exist")
                continue
            code = region(file.read_text(encoding="utf-8"), name)
            if code is None:
                problems.append(f"{path} has no region '{name}'")
            elif code != shown:
                problems.append(f"{name_of_page} block {path}:{name} differs from the example:\n"
                                f"--- {name_of_page}\n{shown}--- {path}\n{code}")
        for path, shown in re.findall(r"<!-- output: ([^ ]+) -->\n```text\n(.*?)```",
                                      page.read_text(encoding="utf-8"), re.S):
            blocks += 1
            file = root / path
            if not file.is_file():
                problems.append(f"{name_of_page} quotes the output {path}, which does not exist")
            elif file.read_text(encoding="utf-8") != shown:
                problems.append(f"{name_of_page} output block {path} differs from the file")
    pattern = re.compile(r"\.\./shared|reference/(statistics|ecosystem|anchors|hot-path|seed-lesson)")
    pages = [root / "README.md", *sorted((root / "docs").rglob("*.md")), *sorted((root / "include").rglob("*.hpp"))]
    for page in pages:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                problems.append(f"{page.relative_to(root)}:{number}: points at files users do not have: {line.strip()}")
    if problems:
        print("check_readme:\n" + "\n".join(problems))
        return 1
    print(f"check_readme: {blocks} blocks of the README and docs/ match their examples; "
          "no links outside the repository")
    return 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1])))
