"""Each head maps a batch to (batch, num_classes) logits, for summary and frame-level inputs."""

import pytest
import torch

from genreclf.core.registry import RegistryError
from genreclf.models.classifier import aggregate_by_track
from genreclf.models.heads import HEADS as REGISTERED_HEADS
from genreclf.models.heads import CNNHead, DenseHead, LSTMHead
from tests.options import make

HEADS = [DenseHead, CNNHead, LSTMHead]


@pytest.mark.parametrize("head_cls", HEADS)
@pytest.mark.parametrize("input_shape", [(174,), (7,), (130, 20)])
@pytest.mark.parametrize("num_layers", [1, 3])
def test_output_shape(head_cls, input_shape, num_layers):
    head = make(
        head_cls, input_shape, num_classes=10, hidden_size=16, num_layers=num_layers, dropout=0.1
    )
    out = head(torch.randn(5, *input_shape))
    assert out.shape == (5, 10)
    out.sum().backward()  # gradients flow to every parameter
    assert all(p.grad is not None for p in head.parameters())


def test_lstm_reads_summary_vector_as_a_sequence():
    head = make(
        LSTMHead, (174,), num_classes=10, hidden_size=8, num_layers=1, dropout=0.0, step_size=6
    )
    assert head.lstm.input_size == 6  # 29 steps of 6 values, not one step of 174
    seen = []
    head.lstm.register_forward_hook(lambda m, args, out: seen.append(args[0].shape))
    head(torch.randn(2, 174))
    assert seen == [torch.Size([2, 29, 6])]


def test_lstm_default_reads_174_features_as_3_steps_of_58():
    head = make(LSTMHead, (174,), num_classes=10, hidden_size=8, num_layers=1)
    assert head.lstm.input_size == 58


def test_cnn_first_layer_reads_patches():
    head = make(CNNHead, (174,), num_classes=10, hidden_size=8, num_layers=1, patch_size=6)
    seen = []
    head.features[0].register_forward_hook(lambda m, args, out: seen.append(out.shape))
    head(torch.randn(2, 174))
    assert seen == [torch.Size([2, 8, 29])]  # 29 patches of 6 values
    padded = make(CNNHead, (10,), num_classes=3, hidden_size=4, num_layers=2, patch_size=4)
    assert padded(torch.randn(2, 10)).shape == (2, 3)  # 10 values: 3 patches, zero-padded


def test_dense_batch_norm_follows_each_hidden_layer():
    head = make(DenseHead, (10,), 3, hidden_size=8, num_layers=2, dropout=0.1, batch_norm=True)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in head.modules()) == 2
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in make(DenseHead, (10,), 3).modules())


@pytest.mark.parametrize(
    ("name", "knob"),
    [
        ("dense", {"hidden_size": 0}),
        ("dense", {"num_layers": -1}),
        ("cnn", {"num_layers": 0}),
        ("rnn", {"num_layers": 0}),
        ("dense", {"dropout": 1.0}),
        ("dense", {"dropout": float("nan")}),
        ("dense", {"hidden_size": 10**20}),
    ],
)
def test_bad_knobs_name_the_option(name, knob):
    """The declaration refuses them when a head is rebuilt by name (never in __init__)."""
    kwargs = {"hidden_size": 8, "num_layers": 1, "dropout": 0.1} | knob
    with pytest.raises(RegistryError, match=f"{next(iter(knob))}=.*: must be"):
        REGISTERED_HEADS.build(name, kwargs, input_shape=(10,), num_classes=3)


def test_linear_probe_is_one_linear_layer():
    """model=linear: a dense head with no hidden layer."""
    head = make(DenseHead, (2, 5), 3, hidden_size=8, num_layers=0)
    linears = [m for m in head.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(10, 3)]
    x = torch.randn(4, 2, 5)
    want = x.flatten(1) @ linears[0].weight.T + linears[0].bias
    torch.testing.assert_close(head(x), want)


def test_layer_weights_learn_a_softmax_sum_of_layers():
    """(layers, d) inputs: a learned convex combination of layers, then the probe."""
    head = make(DenseHead, (4, 6), 3, num_layers=0, layer_weights=True)
    weighting, linear = head.net[0], head.net[-1]
    assert linear.in_features == 6  # the probe sees one d-vector, not 4 x 6
    x = torch.randn(8, 4, 6)
    torch.testing.assert_close(head(x), x.mean(1) @ linear.weight.T + linear.bias)  # equal start
    loss = torch.nn.functional.cross_entropy(head(x), torch.randint(0, 3, (8,)))
    loss.backward()
    assert weighting.logits.grad is not None and weighting.logits.grad.abs().sum() > 0
    with torch.no_grad():
        weighting.logits.copy_(torch.tensor([0.0, 0.0, 50.0, 0.0]))  # all weight on layer 2
    torch.testing.assert_close(head(x), x[:, 2] @ linear.weight.T + linear.bias)


def test_layer_weights_need_a_layer_axis():
    with pytest.raises(ValueError, match=r"layer_weights=true needs \(layers, d\) inputs"):
        make(DenseHead, (10,), 3, layer_weights=True)


def test_aggregate_by_track_averages_segments():
    probs = torch.tensor([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.6, 0.4]])
    target = torch.tensor([0, 0, 1, 1])
    group = torch.tensor([5, 5, 2, 2])
    track_probs, track_target = aggregate_by_track(probs, target, group)
    assert torch.allclose(track_probs, torch.tensor([[0.4, 0.6], [0.6, 0.4]]))
    assert track_target.tolist() == [1, 0]


# ------------------------------------------------- the effective params (what can change)

DENSE_PATH = "genreclf.models.heads.DenseHead"


def test_every_registered_head_has_its_class_path_in_the_torch_free_rule():
    from genreclf.models.effective import HEAD_TARGETS

    for name in REGISTERED_HEADS.names():
        cls = REGISTERED_HEADS.get(name)
        assert HEAD_TARGETS[name] == f"{cls.__module__}.{cls.__qualname__}"


def _dense_output(**knobs) -> tuple[torch.Tensor, dict]:
    torch.manual_seed(0)
    head = make(DenseHead, (12,), num_classes=3, num_layers=0, **knobs).train()
    torch.manual_seed(1)
    return head(torch.randn(4, 12)), head.state_dict()


def test_a_dense_head_without_hidden_layer_ignores_width_dropout_and_batch_norm():
    out, state = _dense_output(hidden_size=8, dropout=0.1, batch_norm=False)
    for knobs in ({"hidden_size": 512}, {"dropout": 0.9}, {"batch_norm": True}):
        other, other_state = _dense_output(**({"hidden_size": 8, "dropout": 0.1} | knobs))
        assert torch.equal(out, other), knobs  # the same model, even training
        assert state.keys() == other_state.keys()
    params = {"num_layers": 0, "hidden_size": 8, "dropout": 0.1, "batch_norm": False}
    assert DenseHead.effective_params(params) == {"num_layers": 0}
    deep = params | {"num_layers": 1}
    assert DenseHead.effective_params(deep) == deep  # a hidden layer uses them all


def test_a_one_layer_lstm_keeps_its_dropout_which_acts_on_its_last_state():
    def output(dropout: float) -> torch.Tensor:
        torch.manual_seed(0)
        head = make(LSTMHead, (12,), num_classes=3, hidden_size=8, num_layers=1, dropout=dropout)
        torch.manual_seed(1)
        return head.train()(torch.randn(4, 12))

    assert not torch.equal(output(0.0), output(0.5))  # so dropout is not normalised away
    params = {"num_layers": 1, "hidden_size": 8, "dropout": 0.5, "step_size": 6}
    assert LSTMHead.effective_params(params) == params
    assert CNNHead.effective_params({"num_layers": 1, "dropout": 0.5}) == {
        "num_layers": 1,
        "dropout": 0.5,
    }


def test_model_name_is_what_was_built():
    from genreclf.models.heads import model_name

    assert model_name("dense", DENSE_PATH, {"num_layers": "0"}) == "linear"  # logged params
    assert model_name("dense", DENSE_PATH, {"num_layers": "2"}) == "dense"
    assert model_name(None, DENSE_PATH) == "dense"  # runs without the tag or params
    assert model_name("cnn", "genreclf.models.heads.CNNHead", {"num_layers": "0"}) == "cnn"
