"""Every finding a report can name is explained in docs/troubleshooting.md: the reference there is the catalogue,
rendered. When the catalogue changes, rewrite the reference with
``python tests/unit/plugins/module_utils/_troubleshoot/test_catalogue.py`` (run from the checkout)."""

import os
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 5))
DOC = os.path.join(REPO, "docs", "troubleshooting.md")
BEGIN = "<!-- finding reference: generated from the catalogue, do not edit by hand -->"
END = "<!-- end of the finding reference -->"
GROUPS = (("gitlab", "GitLab side"), ("gateway", "Gateway side"), ("log", "Log patterns"),
          ("chat", "Duo Chat error codes"))


def catalogue():
    sys.path.insert(0, os.path.join(REPO, ".lab", "collections"))
    from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot import catalogue as module
    return module


def cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def reference_markdown():
    """The reference section: one table per group, one anchored row per finding."""
    lines = [BEGIN]
    entries = catalogue().CATALOGUE
    for prefix, heading in GROUPS:
        lines += ["", "### " + heading, "", "| finding | severity | what it means | remedy | check |",
                  "|---|---|---|---|---|"]
        for finding_id in sorted(key for key in entries if key.split(".")[0] == prefix):
            severity, title, cause, remedy, check = entries[finding_id]
            lines.append('| <a id="{0}"></a>`{0}` | {1} | {2}. {3} | {4} | {5} |'.format(
                finding_id, severity, cell(title), cell(cause), cell(remedy), cell(check)))
    lines.append(END)
    return "\n".join(lines) + "\n"


def current_reference():
    text = open(DOC, encoding="utf-8").read()
    return text, text[text.index(BEGIN):text.index(END) + len(END) + 1] if BEGIN in text and END in text else ""


def test_every_finding_has_its_row_and_the_reference_is_current():
    _text, section = current_reference()
    assert section == reference_markdown(), (
        "docs/troubleshooting.md's finding reference differs from the catalogue; rewrite it with: "
        "python tests/unit/plugins/module_utils/_troubleshoot/test_catalogue.py")


def test_doc_links_point_at_rows_that_exist():
    module = catalogue()
    _text, section = current_reference()
    for finding_id in module.CATALOGUE:
        link = module.finding(finding_id)["doc"]
        path, anchor = link.split("#")
        assert os.path.exists(os.path.join(REPO, path)) and '<a id="{0}"></a>'.format(anchor) in section, link


def _sources(*patterns):
    import glob
    texts = {}
    for pattern in patterns:
        for path in glob.glob(os.path.join(REPO, pattern), recursive=True):
            with open(path, encoding="utf-8") as handle:
                texts[os.path.relpath(path, REPO)] = handle.read()
    return texts


def emitted_ids():
    """Every finding id the code can emit: the literals passed by the checks, and the ids the data-driven rules
    produce (log rules, Duo Chat codes)."""
    import re
    sys.path.insert(0, os.path.join(REPO, ".lab", "collections"))
    from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot import log_rules
    code = _sources("plugins/module_utils/**/*.py")
    code.pop("plugins/module_utils/_troubleshoot/catalogue.py")
    ids = set()
    for text in code.values():
        ids |= set(re.findall(r"[\"']((?:gitlab|gateway|log|chat)\.[A-Za-z0-9_]+)[\"']", text))
    ids |= {finding_id for finding_id, _pattern in log_rules.GATEWAY_RULES + log_rules.GITLAB_RULES}
    ids |= {"chat." + code for code in log_rules.CHAT_CODES}
    return ids


def test_every_finding_is_emitted_by_code():
    missing = sorted(set(catalogue().CATALOGUE) - emitted_ids())
    assert not missing, "catalogue entries no check emits (emit them or remove them): {0}".format(missing)


def test_every_finding_is_planted_by_a_lab_test():
    labs = "\n".join(_sources("tests/lab/*.py").values())
    unplanted = sorted(finding_id for finding_id in catalogue().CATALOGUE
                       if '"{0}"'.format(finding_id) not in labs and "'{0}'".format(finding_id) not in labs
                       and not (finding_id.startswith("chat.") and '"{0}"'.format(finding_id[5:]) in labs))
    assert not unplanted, "catalogue entries no lab test plants and asserts: {0}".format(unplanted)


if __name__ == "__main__":
    TEXT, SECTION = current_reference()
    if SECTION:
        TEXT = TEXT.replace(SECTION, reference_markdown())
    else:
        TEXT = TEXT.rstrip("\n") + "\n\n## Finding reference\n\nEvery finding a report can name, with its remedy " \
            "and the check of GitLab's troubleshooting pages and support playbook it automates.\n\n" + reference_markdown()
    with open(DOC, "w", encoding="utf-8") as handle:
        handle.write(TEXT)
