"""core.evaluation.explain: hidden activations, saliency, first-layer weights and 2-D embeddings."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from core.evaluation import explain
from core.evaluation.explain import activations, embed, first_layer_weights, saliency
from core.model.predict import predict_logits
from helpers.digits import make_tiny_data


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """(20, 28, 28) float32 tiny test digits in [0, 1]."""
    return make_tiny_data().x_test[:20].astype(np.float32) / 255.0


def logit_change(model, images: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(N,) logit of each target class at the image minus at a black digit."""
    rows = np.arange(len(images))
    black = predict_logits(model, np.zeros((1, 28, 28), np.float32))[0]  # (10,)
    return predict_logits(model, images)[rows, targets] - black[targets]


def log_probability(model, images: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """(N,) log-probability of each class, in float64: a confident model's float32
    probabilities round to exactly 1.0, which would hide how much removing pixels costs."""
    logits = predict_logits(model, images).astype(np.float64)  # (N, 10)
    top = logits.max(axis=1)
    return logits[np.arange(len(images)), classes] - top - np.log(np.exp(logits - top[:, None]).sum(axis=1))


def test_mlp_activations_are_the_tanh_layer(tiny_result, digits):
    model = tiny_result.model
    (name, hidden), = activations(model, digits)
    dense = model.get_layer("hidden1")
    expected = np.tanh(digits.reshape(-1, 784) @ np.asarray(dense.kernel) + np.asarray(dense.bias))  # (20, 64)
    assert name == "tanh1"
    assert hidden.shape == (20, 64)
    np.testing.assert_allclose(hidden, expected, atol=1e-5)


def test_cnn_activations_are_block_maps_then_dense(tiny_cnn_result, digits):
    model, config = tiny_cnn_result.model, tiny_cnn_result.config
    layers = activations(model, digits)
    expected = [(f"pool{block + 1}", (20, 28 // 2 ** (block + 1), 28 // 2 ** (block + 1), filters))
                for block, filters in enumerate(config.conv_filters)]
    expected += [(f"{config.activation}{index + 1}", (20, units)) for index, units in enumerate(config.hidden_units)]
    assert [(name, array.shape) for name, array in layers] == expected
    # The logits are the last hidden layer through the output layer: nothing is left out.
    logits = model.get_layer("logits")
    recomputed = layers[-1][1] @ np.asarray(logits.kernel) + np.asarray(logits.bias)  # (20, 10)
    np.testing.assert_allclose(recomputed, predict_logits(model, digits), atol=1e-4)


def test_activations_of_a_saved_model_match(saved_model, tiny_result, digits):
    from core.model.store import ModelStore

    loaded = ModelStore().load(saved_model)
    original, again = activations(tiny_result.model, digits), activations(loaded, digits)
    assert [name for name, _ in again] == [name for name, _ in original]
    for (_, before), (_, after) in zip(original, again):
        np.testing.assert_allclose(after, before, atol=1e-6)


def test_activations_take_one_digit_and_uint8(tiny_result):
    image = make_tiny_data().x_test[0]  # (28, 28) uint8
    (_, from_uint8), = activations(tiny_result.model, image)
    (_, from_floats), = activations(tiny_result.model, image[None].astype(np.float32) / 255.0)
    assert from_uint8.shape == (1, 64)
    np.testing.assert_allclose(from_uint8, from_floats, atol=1e-6)


def test_the_explainer_is_built_once_and_dies_with_its_model():
    from core.model.config import preset
    from core.model.network import build_model

    model = build_model(preset("lecture"))
    first = explain._explainer_for(model)
    assert explain._explainer_for(model) is first
    alive = weakref.ref(model)
    del model, first
    gc.collect()
    assert alive() is None


@pytest.mark.parametrize("result_fixture", ["tiny_result", "tiny_cnn_result"])
def test_saliency_adds_up_to_the_logit_change(result_fixture, request, digits):
    model = request.getfixturevalue(result_fixture).model
    images = digits[:10]
    predicted = predict_logits(model, images).argmax(axis=1)
    attributions = np.stack([saliency(model, image) for image in images])  # (10, 28, 28), default steps
    change = logit_change(model, images, predicted)
    np.testing.assert_array_less(np.abs(attributions.sum(axis=(1, 2)) - change), 0.05 * np.abs(change))


def test_saliency_for_a_chosen_class(tiny_result, digits):
    attributions = saliency(tiny_result.model, digits[0], target=3)
    assert attributions.shape == (28, 28) and attributions.dtype == np.float32
    change = logit_change(tiny_result.model, digits[:1], np.array([3]))[0]
    assert abs(attributions.sum() - change) <= 0.05 * abs(change)


def test_saliency_takes_one_class_per_digit(tiny_result, digits):
    classes = np.arange(4) * 3  # 0, 3, 6, 9
    batch = saliency(tiny_result.model, digits[:4], target=classes)
    one_by_one = np.stack([saliency(tiny_result.model, image, target=int(c)) for image, c in zip(digits, classes)])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-6)
    with pytest.raises(ValueError, match="target"):
        saliency(tiny_result.model, digits[:4], target=classes[:3])


def test_saliency_of_a_batch_matches_one_at_a_time(tiny_cnn_result, digits):
    model = tiny_cnn_result.model
    images = digits[:12]  # more digits than fit one compiled call at 32 steps
    batch = saliency(model, images)
    assert batch.shape == (12, 28, 28)
    np.testing.assert_allclose(batch, np.stack([saliency(model, image) for image in images]), atol=1e-5)
    np.testing.assert_allclose(saliency(model, (images[0] * 255).round().astype(np.uint8)),
                               saliency(model, np.round(images[0] * 255) / 255), atol=1e-5)


def test_saliency_is_zero_where_the_digit_is_black(tiny_result, digits):
    image = digits[0].copy()
    image[:, :5] = 0
    assert not saliency(tiny_result.model, image)[:, :5].any()


@pytest.mark.parametrize(("arguments", "parameter"), [
    ({"image": np.zeros((28, 27))}, "image"),
    ({"image": np.zeros((2, 3, 28, 28))}, "image"),
    ({"target": 10}, "target"),
    ({"target": -1}, "target"),
    ({"target": 2.5}, "target"),
    ({"target": True}, "target"),
    ({"steps": 0}, "steps"),
    ({"steps": 1.5}, "steps"),
])
def test_saliency_rejects_bad_input(tiny_result, digits, arguments, parameter):
    call = {"image": digits[0], **arguments}
    with pytest.raises(ValueError, match=parameter):
        saliency(tiny_result.model, **call)


def test_first_layer_weights_are_one_picture_per_unit(tiny_result, digits):
    model = tiny_result.model
    weights = first_layer_weights(model)
    assert weights.shape == (64, 28, 28) and weights.dtype == np.float32
    # Unit u's input is its picture laid over the digit, plus its bias.
    dense = model.get_layer("hidden1")
    (_, hidden), = activations(model, digits[:1])
    np.testing.assert_allclose(np.tanh((weights * digits[0]).sum(axis=(1, 2)) + np.asarray(dense.bias)),
                               hidden[0], atol=1e-5)


def test_first_layer_weights_refuse_a_cnn(tiny_cnn_result):
    with pytest.raises(ValueError, match="MLPs only"):
        first_layer_weights(tiny_cnn_result.model)


@pytest.mark.parametrize("result_fixture", ["tiny_result", "tiny_cnn_result"])
def test_pca_embedding_is_the_hidden_layers_main_directions(result_fixture, request):
    from sklearn.decomposition import PCA

    model = request.getfixturevalue(result_fixture).model
    images = make_tiny_data().x_test
    points = embed(model, images)
    hidden = activations(model, images)[-1][1]
    expected = PCA(n_components=2).fit_transform(hidden.astype(np.float64))
    assert points.shape == (len(images), 2) and points.dtype == np.float32
    np.testing.assert_allclose(np.abs(points), np.abs(expected), atol=1e-3)  # the same up to each axis' sign


def test_tsne_embedding_is_seeded_and_reports_progress(tiny_result):
    images = make_tiny_data().x_test[:60]
    calls = []
    points = embed(tiny_result.model, images, method="tsne", on_progress=lambda fraction, stage: calls.append(fraction))
    assert points.shape == (60, 2) and points.dtype == np.float32 and np.isfinite(points).all()
    assert calls == sorted(calls) and calls[0] == 0.0 and calls[-1] == 1.0 and len(calls) >= 3
    np.testing.assert_array_equal(embed(tiny_result.model, images, method="tsne"), points)


def test_embedding_keeps_the_classes_apart(tiny_result):
    data = make_tiny_data()
    points = embed(tiny_result.model, data.x_test, method="tsne")
    centres = np.stack([points[data.y_test == digit].mean(axis=0) for digit in range(10)])  # (10, 2)
    nearest = np.linalg.norm(points[:, None] - centres[None], axis=2).argmin(axis=1)
    assert np.mean(nearest == data.y_test) >= 0.9


@pytest.mark.parametrize(("arguments", "message"), [
    ({"method": "umap"}, "method must be one of 'pca', 'tsne'"),
    ({"images": np.zeros((1, 28, 28))}, "images must hold at least 2"),
    ({"images": np.zeros((5, 784))}, "images must be one digit shaped"),
    ({"images": np.zeros((0, 28, 28))}, "images must be one digit shaped"),
])
def test_embed_rejects_bad_input(tiny_result, arguments, message):
    call = {"images": make_tiny_data().x_test[:10], **arguments}
    with pytest.raises(ValueError, match=message):
        embed(tiny_result.model, **call)


@pytest.mark.slow
@pytest.mark.parametrize("result_fixture", ["full_lecture_result", "full_cnn_result"])
def test_saliency_on_real_digits_is_complete_and_faithful(result_fixture, request, full_mnist_data):
    """On 500 test digits: each saliency map adds up to its logit change within 5%, and removing the
    10% of ink it ranks highest hurts the predicted class more than removing 10% at random."""
    model = request.getfixturevalue(result_fixture).model
    images = full_mnist_data.x_test[:500].astype(np.float32) / 255.0  # (500, 28, 28)
    predicted = predict_logits(model, images).argmax(axis=1)
    attributions = saliency(model, images)  # (500, 28, 28), for the predicted classes
    change = logit_change(model, images, predicted)
    np.testing.assert_array_less(np.abs(attributions.sum(axis=(1, 2)) - change), 0.05 * np.abs(change))

    rng = np.random.default_rng(0)
    by_saliency, at_random = images.copy(), images.copy()
    for index, image in enumerate(images):
        ink = np.flatnonzero(image > 0)
        count = max(1, round(0.1 * len(ink)))
        by_saliency[index].flat[ink[np.argsort(attributions[index].flat[ink])[-count:]]] = 0
        at_random[index].flat[rng.choice(ink, count, replace=False)] = 0
    worse = log_probability(model, by_saliency, predicted) < log_probability(model, at_random, predicted)
    assert worse.mean() >= 0.9
