"""GenreClassifier: training loss with label smoothing and mixup, and bad values."""

import pytest
import torch
from torch import nn

from genreclf.core.registry import conf_values
from genreclf.models.classifier import GenreClassifier
from genreclf.models.heads import DenseHead
from tests.options import make

NAMES = ["a", "b", "c"]


def classifier(**kwargs) -> GenreClassifier:
    torch.manual_seed(0)
    head = make(DenseHead, (4,), 3, hidden_size=8, num_layers=1, dropout=0.0, batch_norm=True)
    return make(GenreClassifier, head, lambda p: torch.optim.SGD(p, lr=0.1), NAMES, **kwargs)


def batch():
    torch.manual_seed(1)
    return torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2]), torch.arange(6)


def test_plain_training_loss_is_cross_entropy():
    module = classifier()
    x, y, group = batch()
    loss = module.training_step((x, y, group), 0)
    assert loss.item() == pytest.approx(nn.functional.cross_entropy(module(x), y).item())


def test_label_smoothing_changes_only_the_training_loss():
    module = classifier(label_smoothing=0.2)
    x, y, group = batch()
    loss = module.training_step((x, y, group), 0)
    expected = nn.functional.cross_entropy(module(x), y, label_smoothing=0.2)
    assert loss.item() == pytest.approx(expected.item())
    assert module.loss.label_smoothing == 0.0  # validation and test stay plain


def test_mixup_mixes_inputs_and_targets_with_one_beta_weight():
    module = classifier(mixup_alpha=0.4)
    x, y, group = batch()
    torch.manual_seed(5)
    loss = module.training_step((x, y, group), 0)
    torch.manual_seed(5)
    lam = float(torch.distributions.Beta(0.4, 0.4).sample())
    perm = torch.randperm(6)
    logits = module(lam * x + (1 - lam) * x[perm])
    ce = nn.functional.cross_entropy
    expected = lam * ce(logits, y) + (1 - lam) * ce(logits, y[perm])
    assert 0.0 < lam < 1.0
    assert loss.item() == pytest.approx(expected.item())


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"label_smoothing": 1.0}, "classifier.label_smoothing"),
        ({"mixup_alpha": -1}, "classifier.mixup_alpha"),
    ],
)
def test_bad_values_name_the_option(kwargs, option):
    """The classifier's declaration refuses them up front (its constructor does not)."""
    from genreclf.core.errors import ConfigError
    from genreclf.core.params import check_params

    supplied = ("head", "optimizer", "class_names")
    with pytest.raises(ConfigError, match=option):
        values = conf_values("classifier", "default") | kwargs
        check_params(GenreClassifier, values, prefix="classifier.", supplied=supplied)
