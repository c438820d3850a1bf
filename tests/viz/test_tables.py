"""The text tables printed by ``test``: accuracy per digit is over the images of that digit."""

import torch

from mnist_lit.viz.tables import digit_accuracy, format_confusion_matrix, format_digit_table


def lopsided_confusion() -> torch.Tensor:
    """Counts where digit 1 is answered for 8 images of 7, and nothing is ever answered 9."""
    confmat = torch.diag(torch.tensor([10, 20, 10, 10, 10, 10, 10, 12, 10, 0]))
    confmat[7, 1] = 8  # 20 images of 7, 12 right; digit 1 answered 28 times, 20 right
    confmat[4, 8] = 5  # 15 images of 4, 10 right
    return confmat


def test_digit_accuracy_is_per_true_digit_and_adds_up_to_the_overall_one() -> None:
    confmat = lopsided_confusion()
    per_digit, overall = digit_accuracy(confmat)
    assert per_digit[7] == 12 / 20 and per_digit[1] == 1.0 and per_digit[4] == 10 / 15
    assert torch.isnan(per_digit[9])  # no images of 9
    images = confmat.sum(dim=1)
    right = torch.nansum(per_digit * images)
    assert right == confmat.trace() == 102
    assert overall == 102 / 115


def test_digit_table_rows_and_total_agree() -> None:
    confmat = lopsided_confusion()
    per_digit, _ = digit_accuracy(confmat)
    per_digit = per_digit.nan_to_num(0.0)  # as the metric gives a digit without images
    lines = format_digit_table(per_digit, confmat.sum(dim=1)).splitlines()
    assert lines[2 + 7].split() == ["7", "60.00%", "20"]
    assert lines[2 + 1].split() == ["1", "100.00%", "20"]
    assert lines[-1].split() == ["all", "88.70%", "115"]
    matrix = format_confusion_matrix(confmat).splitlines()
    assert matrix[2 + 7].split() == ["7", "0", "8", "0", "0", "0", "0", "0", "12", "0", "0"]
