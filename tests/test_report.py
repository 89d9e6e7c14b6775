import json

import nbformat
import pytest

from alignbook.report import MIME_TYPE, HiddenReportCopy, Report, Verdict, judge, read_report


def make_report():
    report = Report("survey", "smoke")
    report.claim("effect A", paper="0.90", ours="0.93", verdict=judge(holds=True))
    report.claim("effect <B> | pipes", paper="x", ours="y", verdict="partly", note="small & noisy")
    return report


def test_judge_orders_holds_then_partly_then_not():
    assert judge(True, True) is Verdict.HOLDS
    assert judge(False, True) is Verdict.PARTLY
    assert judge(False, False) is Verdict.NOT_AT_SCALE


def test_claims_are_validated():
    report = Report("c", "book")
    with pytest.raises(ValueError, match="valid verdicts are: 'holds', 'partly', 'not at this scale'"):
        report.claim("a", paper="1", ours="2", verdict="probably")
    with pytest.raises(TypeError, match="ours must be a string"):
        report.claim("a", paper="1", ours=0.5, verdict="holds")
    report.claim("a", paper="1", ours="2", verdict="holds")
    with pytest.raises(ValueError, match="already in the report"):
        report.claim("a", paper="1", ours="2", verdict="holds")
    with pytest.raises(ValueError, match="needs a name"):
        report.claim(" ", paper="1", ours="2", verdict="holds")


def test_empty_report_cannot_be_shown():
    with pytest.raises(ValueError, match="has no claims"):
        Report("c", "book").show()


def test_html_and_markdown_escape_their_cells():
    report = make_report()
    html = report.to_html()
    assert 'class="alignbook-report"' in html and "&lt;B&gt;" in html and "small &amp; noisy" in html
    assert html.count("<tr>") == 3
    markdown = report.to_markdown()
    assert "effect <B> \\| pipes" in markdown and "**partly**" in markdown
    assert len(markdown.splitlines()) == 4


def test_runner_reads_the_report_back_from_an_executed_notebook(tmp_path):
    report = make_report()
    bundle = report._repr_mimebundle_()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("ch.report.show()")
    cell.outputs = [nbformat.v4.new_output("display_data", data=bundle)]
    nb.cells.append(cell)
    path = tmp_path / "executed.ipynb"
    nbformat.write(nb, path)
    back = read_report(path)
    assert back == report.to_dict()
    assert back["claims"][1]["verdict"] == "partly"
    assert json.loads(path.read_text())["cells"][0]["outputs"][0]["data"][MIME_TYPE]["chapter"] == "survey"


def test_notebook_without_report_reads_as_none(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("1"))
    nbformat.write(nb, tmp_path / "n.ipynb")
    assert read_report(tmp_path / "n.ipynb") is None


def test_site_renders_the_json_copy_as_nothing_and_leaves_other_types_alone():
    class Data:
        def __init__(self, mime_type):
            self.mime_type = mime_type

    assert HiddenReportCopy.handle_mime(None, Data(MIME_TYPE), False) == []
    assert HiddenReportCopy.handle_mime(None, Data("text/html"), False) is None
