"""Discovery of the course files and its error messages."""

import numpy as np
import pytest

from reference_solution.coursekit.course_files import EVENTS_FILE, GH_FILE, PV_FILE, find_course_files, mask_file


def _touch(folder, *names):
    for name in names:
        np.save(folder / name, np.zeros((1, 8, 8), np.float32))


def test_finds_all_files_and_optional_events(tmp_path):
    _touch(tmp_path, PV_FILE, GH_FILE, mask_file(8))
    files = find_course_files(tmp_path)
    assert files.mask.name == "mask_8.npy" and files.events is None and not files.has_ground_truth
    (tmp_path / EVENTS_FILE).write_text("date,ssw\n")
    assert find_course_files(tmp_path).has_ground_truth


def test_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_course_files(tmp_path / "nope")
    _touch(tmp_path, PV_FILE)
    with pytest.raises(FileNotFoundError, match=f"{GH_FILE}.*mask_<size>"):
        find_course_files(tmp_path)


def test_refuses_ambiguous_masks(tmp_path):
    _touch(tmp_path, PV_FILE, GH_FILE, mask_file(8), mask_file(16))
    with pytest.raises(ValueError, match="several masks"):
        find_course_files(tmp_path)
