import io

import pytest
import torch
from matplotlib.colors import to_hex
from PIL import Image

from digitrec.evaluation import figures
from digitrec.evaluation.metrics import result_from_probabilities
from digitrec.training.runs import EpochStats


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(png)) as im:
        im.verify()
        return im.size


def _probabilities(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    logits = torch.randn(n, 10, generator=g)
    logits[torch.arange(n), labels] += 2.0  # right most of the time, not always
    return logits.softmax(1), labels


def test_most_confident_errors_are_errors_sorted_by_margin_and_the_top_ones():
    probs, labels = _probabilities()
    errors = figures.most_confident_errors(probs, labels, k=10)
    predicted = probs.argmax(1)
    assert len(errors) == 10
    for e in errors:
        assert predicted[e.index] != labels[e.index] and e.true == labels[e.index] and e.predicted == predicted[e.index]
        assert e.p_predicted == pytest.approx(float(probs[e.index, e.predicted]))
        assert e.p_true == pytest.approx(float(probs[e.index, e.true]))
    margins = [e.margin for e in errors]
    assert margins == sorted(margins, reverse=True)
    all_wrong = torch.nonzero(predicted != labels).flatten()
    all_margins = sorted((float(probs[i, predicted[i]] - probs[i, labels[i]]) for i in all_wrong), reverse=True)
    assert margins == pytest.approx(all_margins[:10])


def test_no_errors_gives_an_empty_gallery_that_still_draws():
    labels = torch.arange(10)
    probs = torch.eye(10)
    assert figures.most_confident_errors(probs, labels) == []
    _png_size(
        figures.figure_png(figures.confident_errors_figure(torch.zeros(10, 28, 28, dtype=torch.uint8), [], "none"))
    )


def test_red_titles_are_exactly_the_wrong_predictions():
    probs, labels = _probabilities(120, seed=3)
    predictions = probs.argmax(1)
    images = torch.randint(0, 255, (120, 28, 28), dtype=torch.uint8)
    fig = figures.prediction_grid(images, labels, predictions, count=36, seed=5)
    chosen, wrong = figures.prediction_sample(labels, predictions, 36, seed=5)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(titled) == 36 and any(wrong) and not all(wrong)
    for ax, i, is_wrong in zip(titled, chosen, wrong):
        assert ax.get_title() == f"true {int(labels[i])} / pred {int(predictions[i])}"
        assert (to_hex(ax.title.get_color()) == figures.WRONG) == is_wrong == bool(predictions[i] != labels[i])
    assert f"{sum(wrong)} wrong" in fig._suptitle.get_text()


def test_confusion_matrix_cells_show_the_counts():
    probs, labels = _probabilities(300)
    result = result_from_probabilities(probs, labels)
    assert int(result.confusion.sum()) == 300
    fig = figures.confusion_matrix_figure(result.confusion)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 100
    assert sum(int(t) for t in texts) == 300
    normalized = figures.confusion_matrix_figure(result.confusion, normalize=True)
    assert "rate per true class" in normalized.axes[0].get_title()


def test_learning_curves_add_a_learning_rate_panel_only_when_it_changed():
    flat = [EpochStats(e, 1.0 / e, 0.9, 0.5, 0.95, 1e-3, 1.0) for e in (1, 2, 3)]
    changing = [EpochStats(e, 1.0 / e, 0.9, 0.5, 0.95, 1e-3 / e, 1.0) for e in (1, 2, 3)]
    assert len(figures.learning_curves(flat).axes) == 2
    fig = figures.learning_curves(changing)
    assert len(fig.axes) == 3 and "Learning rate" in fig.axes[2].get_title()
    assert [line.get_label() for line in fig.axes[0].lines] == ["training", "validation"]


def test_no_curve_figure_is_too_wide_for_a_phone():
    flat = [EpochStats(e, 1.0 / e, 0.9, 0.5, 0.95, 1e-3, 1.0) for e in (1, 2, 3)]
    changing = [EpochStats(e, 1.0 / e, 0.9, 0.5, 0.95, 1e-3 / e, 1.0) for e in (1, 2, 3)]
    for fig in (
        figures.learning_curves(flat),
        figures.learning_curves(changing),
        figures.overlaid_learning_curves([flat, changing]),
    ):
        width, height = fig.get_size_inches()
        assert width / height <= 1.5, "a row of panels too wide to read when a phone shrinks it"


def test_accuracy_axes_end_at_100_percent():
    history = [EpochStats(e, 1.0 / e, 0.5 + 0.1 * e, 0.5, 0.6 + 0.1 * e, 1e-3, 1.0) for e in (1, 2, 3)]
    assert figures.learning_curves(history).axes[1].get_ylim()[1] == 100
    assert figures.overlaid_learning_curves([history, history]).axes[1].get_ylim()[1] == 100


@pytest.mark.parametrize(
    "make",
    [
        lambda: figures.per_class_accuracy_figure(result_from_probabilities(*_probabilities()).confusion),
        lambda: figures.comparison_figure(
            [
                {"name": "a", "accuracy": 0.99, "loss": 0.03, "parameters": 1000, "train_seconds": 5.0},
                {"name": "b", "accuracy": None, "loss": None, "parameters": 50000, "train_seconds": 50.0},
            ]
        ),
    ],
)
def test_other_figures_are_valid_pngs_of_sensible_size(make):
    w, h = _png_size(figures.figure_png(make()))
    assert 400 <= w <= 3000 and 250 <= h <= 3000


def test_per_class_bars_are_each_classs_recall_with_its_label():
    confusion = result_from_probabilities(*_probabilities()).confusion
    ax = figures.per_class_accuracy_figure(confusion).axes[0]
    recall = [100 * float(confusion[c, c]) / float(confusion[c].sum()) for c in range(10)]
    assert [bar.get_height() for bar in ax.patches] == pytest.approx(recall)
    assert [t.get_text() for t in ax.texts] == [f"{r:.1f}" for r in recall]
    assert ax.get_ylim()[1] <= 105 and ax.get_ylim()[0] <= min(recall)


def test_comparison_bars_show_each_runs_figures_and_na_where_it_has_none():
    fig = figures.comparison_figure(
        [
            {"name": "a", "accuracy": 0.99, "loss": 0.03, "parameters": 1000, "train_seconds": 5.0},
            {"name": "b", "accuracy": None, "loss": None, "parameters": 50000, "train_seconds": 50.0},
        ]
    )
    panels = {ax.get_title(): ax for ax in fig.axes}
    widths = {title: [bar.get_width() for bar in ax.patches] for title, ax in panels.items()}
    assert widths["Accuracy (%)"] == pytest.approx([99.0, 0.0]) and widths["Parameters"] == [1000, 50000]
    assert [t.get_text() for t in panels["Accuracy (%)"].texts] == ["99.00", "n/a"]
    assert [t.get_text() for t in panels["Loss"].texts] == ["0.0300", "n/a"]
    assert [t.get_text() for t in panels["Training time (s)"].get_yticklabels()] == ["a", "b"]
