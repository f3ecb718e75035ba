"""The command line: make-data writes the course files and reports events; errors exit 2."""

import numpy as np

from reference_solution.cli import build_parser, main
from reference_solution.coursekit.course_files import find_course_files


def test_make_data_writes_the_course_files_and_prints_the_event_summary(tmp_path, capsys):
    assert main(["make-data", "--out", str(tmp_path), "--winters", "2", "--size", "16",
                 "--seed", "3", "--quiet"]) == 0
    files = find_course_files(tmp_path)
    assert np.load(files.pv, mmap_mode="r").shape == (2 * 151, 16, 16)
    out = capsys.readouterr().out
    assert "302 days at 16 px" in out and "events_per_winter" in out


def test_bad_input_exits_with_a_message_not_a_traceback(tmp_path, capsys):
    assert main(["pipeline", "--out", str(tmp_path / "run"), "--data", str(tmp_path / "nope"),
                 "--quiet"]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["make-data", "--out", str(tmp_path), "--winters", "0", "--quiet"]) == 2


def test_pipeline_takes_a_seed_and_the_medium_preset():
    a = build_parser().parse_args(["pipeline", "--out", "x", "--preset", "medium", "--seed", "7"])
    assert a.preset == "medium" and a.seed == 7


def test_screenshots_of_a_missing_run_exit_with_a_message(tmp_path, capsys):
    assert main(["screenshots", "--run", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    assert "pipeline --out" in capsys.readouterr().err


def test_course_commands_act_on_the_course_of_the_working_directory(tmp_path, monkeypatch, capsys):
    from reference_solution import cli

    monkeypatch.chdir(tmp_path)
    assert main(["sync-support"]) == 2  # not inside a course: refuse, never the installed checkout
    assert "nbgrader_config.py" in capsys.readouterr().err
    (tmp_path / "nbgrader_config.py").write_text("")
    (tmp_path / "sub").mkdir()
    assert cli.course_root(tmp_path / "sub") == tmp_path.resolve()
    (tmp_path / "reference_solution").mkdir()  # another copy of the package: refuse to mix them
    assert main(["release", "--root", str(tmp_path)]) == 2
    assert "its own reference_solution" in capsys.readouterr().err
