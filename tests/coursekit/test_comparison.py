"""Detector comparison metrics against scikit-learn (ties included) and hand-counted cases."""

import numpy as np
import pytest
from sklearn import metrics

from reference_solution.coursekit.comparison import (
    average_precision,
    compare_detectors,
    format_table,
    roc_auc,
    roc_curve,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_scikit_learn_with_ties(seed):
    rng = np.random.default_rng(seed)
    truth = rng.random(500) < 0.1
    scores = np.round(rng.random(500) + 0.5 * truth, 1)  # rounded: many ties
    assert roc_auc(truth, scores) == pytest.approx(metrics.roc_auc_score(truth, scores))
    assert average_precision(truth, scores) == pytest.approx(metrics.average_precision_score(truth, scores))
    fpr, tpr = roc_curve(truth, scores)
    ref_fpr, ref_tpr, _ = metrics.roc_curve(truth, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, ref_fpr)
    np.testing.assert_allclose(tpr, ref_tpr)


def test_known_cases_and_the_common_workload():
    truth = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1], bool)
    perfect = np.arange(10.0)
    inverted = -perfect
    r = compare_detectors({"perfect": perfect, "inverted": inverted}, truth, flag_rate=0.2)
    assert r["perfect"] == {"roc_auc": 1.0, "average_precision": 1.0, "flagged": 2, "hits": 2,
                            "precision": 1.0, "recall": 1.0}
    assert r["inverted"]["roc_auc"] == 0.0 and r["inverted"]["hits"] == 0
    assert roc_auc(truth, np.zeros(10)) == 0.5
    table = format_table(r)
    assert table.splitlines()[1].startswith("perfect") and "inverted" in table.splitlines()[2]
    with pytest.raises(ValueError, match="both positive and negative"):
        roc_auc(np.ones(3, bool), np.arange(3.0))
    with pytest.raises(ValueError, match="NaN"):
        average_precision(truth, np.r_[np.nan, perfect[1:]])
