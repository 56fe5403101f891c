import numpy as np
import pytest

from digitrec.data import describe_dataset, load_dataset
from digitrec.data.kaggle import read_kaggle_csv, write_submission
from digitrec.errors import DataError
from tests.helpers import synthetic_digits, write_kaggle_csv, write_kaggle_root

HEADER = ",".join(f"pixel{i}" for i in range(784))


def test_reads_train_and_test(tmp_path):
    images, labels = synthetic_digits(7)
    train = read_kaggle_csv(write_kaggle_csv(tmp_path / "train.csv", images, labels), labelled=True)
    assert train.images.shape == (7, 28, 28) and train.labels.tolist() == labels.tolist()
    np.testing.assert_array_equal(train.images.numpy(), images)
    test = read_kaggle_csv(write_kaggle_csv(tmp_path / "test.csv", images, None), labelled=False)
    assert test.labels is None and len(test) == 7


def test_load_dataset_reads_data_root(tmp_path):
    images, labels = synthetic_digits(5)
    write_kaggle_csv(tmp_path / "kaggle" / "train.csv", images, labels)
    assert len(load_dataset("kaggle", "train", tmp_path)) == 5


def test_describe_dataset_counts_each_splits_images_and_classes(tmp_path):
    root = write_kaggle_root(tmp_path, n_train=30, n_test=4)
    _, labels = synthetic_digits(30, seed=1)  # write_kaggle_root's training digits
    info = describe_dataset("kaggle", root)
    assert info["dataset"] == "kaggle" and list(info["splits"]) == ["train", "test"]
    train, test = info["splits"]["train"], info["splits"]["test"]
    assert (train["size"], train["image_shape"], train["labelled"]) == (30, [28, 28], True)
    assert train["class_counts"] == np.bincount(labels, minlength=10).tolist()
    assert (test["size"], test["labelled"], test["class_counts"]) == (4, False, [])


def test_kaggle_without_data_root_explains(monkeypatch):
    monkeypatch.delenv("DIGITREC_DATA", raising=False)
    with pytest.raises(DataError, match="cannot be downloaded without a Kaggle login"):
        load_dataset("kaggle", "train")


def test_header_of_the_other_file(tmp_path):
    images, _ = synthetic_digits(3)
    path = write_kaggle_csv(tmp_path / "test.csv", images, None)
    with pytest.raises(DataError, match="header of the other Kaggle file"):
        read_kaggle_csv(path, labelled=True)


def test_wrong_header_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("label," + HEADER.replace("pixel5,", "pixel_5,") + "\n")
    with pytest.raises(DataError, match="header column 7 is 'pixel_5', expected 'pixel5'"):
        read_kaggle_csv(path, labelled=True)


def test_wrong_column_count_in_row(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "\n" + ",".join(["0"] * 784) + "\n" + ",".join(["0"] * 783) + "\n")
    with pytest.raises(DataError, match="malformed row"):
        read_kaggle_csv(path, labelled=False)


def test_pixel_out_of_range_names_row(tmp_path):
    values = ["0"] * 784
    values[10] = "256"
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "\n" + ",".join(["0"] * 784) + "\n" + ",".join(values) + "\n")
    with pytest.raises(DataError, match="row 3 has pixel10 = 256, outside 0-255"):
        read_kaggle_csv(path, labelled=False)


def test_bad_label(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("label," + HEADER + "\n" + "12," + ",".join(["0"] * 784) + "\n")
    with pytest.raises(DataError, match="row 2 has label 12"):
        read_kaggle_csv(path, labelled=True)


def test_non_numeric_value(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "\n" + "abc," + ",".join(["0"] * 783) + "\n")
    with pytest.raises(DataError, match="malformed row"):
        read_kaggle_csv(path, labelled=False)


def test_a_binary_file_named_like_the_csv_is_named(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(b"label,pixel0\x00\xff\xfe\n1,2\n")  # was "unexpected UnicodeDecodeError"
    with pytest.raises(DataError, match=r"train.csv is not a text CSV \(byte \d+ is not UTF-8\)"):
        read_kaggle_csv(path, labelled=True)


def test_a_folder_named_like_the_csv_is_named(tmp_path):
    (tmp_path / "train.csv").mkdir()
    with pytest.raises(DataError, match=r"cannot read .*train.csv: Is a directory"):
        read_kaggle_csv(tmp_path / "train.csv", labelled=True)


def test_header_only(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "\n")
    with pytest.raises(DataError, match="no rows"):
        read_kaggle_csv(path, labelled=False)


def test_missing_file_points_to_kaggle(tmp_path):
    with pytest.raises(DataError, match=r"kaggle\.com/competitions/digit-recognizer"):
        read_kaggle_csv(tmp_path / "train.csv", labelled=True)


def test_submission_format(tmp_path):
    path = write_submission(tmp_path / "s.csv", np.array([3, 1, 4]))
    assert path.read_text() == "ImageId,Label\n1,3\n2,1\n3,4\n"
