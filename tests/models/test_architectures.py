import pytest
import torch

from digitrec.errors import ConfigError
from digitrec.models import ARCHITECTURES, ModelConfig, build_model, count_parameters, format_summary, summarize

# model.summary() totals of the Keras originals.
KERAS_PARAMS = {
    "mlp": 101_770,
    "cnn-adadelta": 872_714,
    "keras-mnist-cnn": 1_199_882,
    "deep-cnn-rmsprop": 370_026,
    "kaggle-cnn-augmented": 887_530,
}


READERS = ("crnn", "field-crnn", "field-resnet")
FINDERS = ("number-finder",)  # pages in, a map out: tests/layout
CLASSIFIERS = sorted(a for a in ARCHITECTURES if a not in READERS + FINDERS)


@pytest.mark.parametrize("arch", CLASSIFIERS)
def test_output_shape_is_ten_logits(arch):
    model = build_model(ModelConfig(arch)).eval()
    with torch.inference_mode():
        out = model(torch.rand(3, 1, 28, 28))
    assert out.shape == (3, 10)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    "arch, height", [("crnn", 32), ("field-crnn", 96), ("field-crnn", 64), ("field-resnet", 96), ("field-resnet", 48)]
)
@pytest.mark.parametrize("width", [8, 64, 132])
def test_a_reader_gives_blank_and_ten_digits_per_four_columns_of_any_width(arch, height, width):
    options = {"height": height} if arch.startswith("field-") else {}
    model = build_model(ModelConfig(arch, options)).eval()
    with torch.inference_mode():
        out = model(torch.rand(2, 1, height, width))
    assert out.shape == (2, -(-width // 4), 11)  # a field's stride-2 convolutions round up
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("box_features", [False, True])  # heads trained before 2026-12-03 read the LSTM alone
@pytest.mark.parametrize("arch", ["field-crnn", "field-resnet"])
def test_a_field_readers_box_head_adds_four_outputs_per_column_and_leaves_the_digits_alone(arch, box_features):
    plain = build_model(ModelConfig(arch, {"height": 64})).eval()
    boxed = build_model(ModelConfig(arch, {"height": 64, "boxes": True, "box_features": box_features})).eval()
    boxed.load_state_dict(plain.state_dict(), strict=False)
    x = torch.rand(2, 1, 64, 40)
    with torch.inference_mode():
        assert boxed(x).shape == (2, 10, 15)
        assert torch.equal(boxed(x)[..., :11], plain(x))


@pytest.mark.parametrize("arch, height", [("crnn", 32), ("field-resnet", 48)])
def test_the_reader_reads_each_strip_alone_whatever_its_batch(arch, height):
    """Batch norm in eval mode and a per-strip LSTM: a strip's columns do not depend on the others."""
    model = build_model(ModelConfig(arch, {"height": height} if arch != "crnn" else {})).eval()
    strips = torch.rand(3, 1, height, 48)
    with torch.inference_mode():
        together, alone = model(strips), model(strips[1:2])
    assert torch.allclose(together[1:2], alone, atol=1e-5)


@pytest.mark.parametrize("arch, expected", sorted(KERAS_PARAMS.items()))
def test_parameter_count_equals_keras(arch, expected):
    assert count_parameters(build_model(ModelConfig(arch))) == expected


@pytest.mark.parametrize("arch", sorted(KERAS_PARAMS))
def test_keras_initialisation(arch):
    """Glorot-uniform kernels (bounded by sqrt(6 / (fan_in + fan_out))) and zero biases."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch))
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            w = module.weight
            receptive = w[0, 0].numel() if w.ndim == 4 else 1
            bound = (6 / (w.shape[1] * receptive + w.shape[0] * receptive)) ** 0.5
            assert w.abs().max() <= bound + 1e-6
            assert w.abs().max() > 0.9 * bound  # uniform over the whole range, not a smaller one
            assert torch.count_nonzero(module.bias) == 0


def test_summary_lists_layers_with_shapes_and_totals():
    model = build_model(ModelConfig("keras-mnist-cnn"))
    rows = summarize(model)
    assert [r.output_shape for r in rows if r.kind == "Conv2d"] == [(32, 26, 26), (64, 24, 24)]
    assert sum(r.params for r in rows) == 1_199_882
    text = format_summary(rows, count_parameters(model))
    assert "Total params: 1,199,882" in text and "dense_1 (Linear)" in text


def test_summary_of_a_reader_shows_its_lstms_output():
    """An LSTM returns (output, (h, c)): the summary stopped there with an AttributeError."""
    model = build_model(ModelConfig("crnn", {"channels": [8, 16, 16, 32], "hidden": 16}))
    rows = {r.kind: r for r in summarize(model, (1, 32, 64))}
    assert rows["LSTM"].output_shape == (16, 32) and rows["Linear"].output_shape == (16, 11)


def test_unknown_architecture_and_bad_options():
    with pytest.raises(ConfigError, match="unknown architecture 'resnet9000'"):
        build_model(ModelConfig("resnet9000"))
    with pytest.raises(ConfigError, match="does not take these options"):
        build_model(ModelConfig("mlp", {"depth": 3}))
